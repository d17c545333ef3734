//! The PowerFlex host entity: an `NVMeHost` named after this machine with
//! its NQN, created at the first mapping and removed with the last one.
//!
//! Both changes find out what happened when their answer was lost: the
//! entity is looked up by its NQN rather than created twice, and a removal
//! is done when the entity is gone.

use crate::host::HostIdentity;
use crate::powerflex::client::types::Host;
use crate::powerflex::client::{Client, ClientError};
use crate::retry;

/// The NVMe host entity with this NQN, if any.
pub async fn find_host(client: &Client, nqn: &str) -> Result<Option<Host>, ClientError> {
    Ok(client
        .hosts()
        .await?
        .into_iter()
        .find(|h| h.host_type.as_deref() == Some("NVMeHost") && h.nqn.as_deref() == Some(nqn)))
}

/// Creates this host's entity and returns its ID. When the answer is lost,
/// the entity is looked up by its NQN: found, it is the one just made.
pub async fn create_host(client: &Client, identity: &HostIdentity) -> Result<String, ClientError> {
    let nqn = identity.nqn();
    let id = retry::create_or_find("the host entity", client.create_host(&identity.hostname, &nqn), || async {
        Ok(find_host(client, &nqn).await?.map(|h| h.id))
    })
    .await?;
    tracing::info!(host = %id, %nqn, "created the host entity");
    Ok(id)
}

/// Removes the host entity if no volume is mapped to it; says whether it is
/// gone. A removal that failed but left no entity behind is done.
pub async fn remove_host_if_unused(client: &Client, host_id: &str) -> Result<bool, ClientError> {
    if !client.host_volumes(host_id).await?.is_empty() {
        return Ok(false);
    }
    if let Err(e) = client.remove_host(host_id).await {
        if client.hosts().await?.iter().any(|h| h.id == host_id) {
            return Err(e);
        }
    }
    tracing::info!(host = %host_id, "removed the host entity");
    Ok(true)
}

/// Removes this host's entity, found by its NQN, if it exists and nothing is
/// mapped to it: the undo of a creation whose answer may have been lost.
pub async fn remove_own_host_if_unused(client: &Client, nqn: &str) -> Result<(), ClientError> {
    if let Some(h) = find_host(client, nqn).await? {
        remove_host_if_unused(client, &h.id).await?;
    }
    Ok(())
}
