//! The PowerFlex host entity: an `NVMeHost` named after this machine with
//! its NQN, created at the first mapping and removed with the last one.

use crate::host::HostIdentity;
use crate::powerflex::client::types::Host;
use crate::powerflex::client::{Client, ClientError};

/// The NVMe host entity with this NQN, if any.
pub async fn find_host(client: &Client, nqn: &str) -> Result<Option<Host>, ClientError> {
    Ok(client
        .hosts()
        .await?
        .into_iter()
        .find(|h| h.host_type.as_deref() == Some("NVMeHost") && h.nqn.as_deref() == Some(nqn)))
}

/// The host entity's ID, creating it when missing; the flag says whether it was created.
pub async fn ensure_host(client: &Client, identity: &HostIdentity) -> Result<(String, bool), ClientError> {
    let nqn = identity.nqn();
    if let Some(h) = find_host(client, &nqn).await? {
        return Ok((h.id, false));
    }
    let id = client.create_host(&identity.hostname, &nqn).await?;
    tracing::info!(host = %id, %nqn, "created the host entity");
    Ok((id, true))
}

/// Removes the host entity if no volume is mapped to it; says whether it was removed.
pub async fn remove_host_if_unused(client: &Client, host_id: &str) -> Result<bool, ClientError> {
    if !client.host_volumes(host_id).await?.is_empty() {
        return Ok(false);
    }
    client.remove_host(host_id).await?;
    tracing::info!(host = %host_id, "removed the host entity");
    Ok(true)
}
