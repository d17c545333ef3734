//! Host identity: the server UUID, the host NQN and the host entity.
//!
//! The server UUID is created once and kept in local state (see
//! [`crate::state`]); the host NQN is `nqn.2014-08.org.nvmexpress:uuid:<uuid>`
//! and the same UUID is the nvme-cli `--hostid`. The gateway's host entity is
//! created at the first mapping and removed with the last one.

use uuid::Uuid;

use crate::client::types::Host;
use crate::client::{Client, ClientError};

/// The fixed prefix of the host NQN.
pub const NQN_PREFIX: &str = "nqn.2014-08.org.nvmexpress:uuid:";

/// The longest host name the gateway accepts.
const MAX_HOST_NAME: usize = 31;

/// Who this host is to the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIdentity {
    /// The server UUID, kept in local state.
    pub server_uuid: Uuid,
    /// The host entity's name (the machine's host name, at most 31 characters).
    pub hostname: String,
}

impl HostIdentity {
    /// An identity with the machine's host name.
    pub fn new(server_uuid: Uuid) -> HostIdentity {
        HostIdentity { server_uuid, hostname: local_hostname() }
    }

    /// The host NQN.
    pub fn nqn(&self) -> String {
        format!("{NQN_PREFIX}{}", self.server_uuid)
    }

    /// The host ID given to nvme-cli (`--hostid`).
    pub fn host_id(&self) -> String {
        self.server_uuid.to_string()
    }
}

/// The machine's host name, cut to what the gateway accepts.
pub fn local_hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "pflex-host".to_string());
    name.chars().take(MAX_HOST_NAME).collect()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nqn_uses_the_server_uuid() {
        let u = Uuid::parse_str("c470396a-2a3b-48ad-9c22-d3811fe1036d").unwrap();
        let id = HostIdentity { server_uuid: u, hostname: "h".into() };
        assert_eq!(id.nqn(), "nqn.2014-08.org.nvmexpress:uuid:c470396a-2a3b-48ad-9c22-d3811fe1036d");
        assert_eq!(id.host_id(), "c470396a-2a3b-48ad-9c22-d3811fe1036d");
        assert!(local_hostname().len() <= 31);
    }
}
