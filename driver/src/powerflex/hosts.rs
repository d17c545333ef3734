//! This machine on the MDM. In `nvme` mode: an `NVMeHost` named after the machine with its
//! NQN, created at the first mapping and removed with the last one. In `sdc` mode: the
//! `SdcHost` with the SDC's GUID, which the SDC itself registered when it connected; the
//! driver never creates or removes it (as LXD).
//!
//! The NVMe host's changes find out what happened when their answer was lost: the entity
//! is looked up by its NQN rather than created twice, and a removal is done when the
//! entity is gone.

use crate::host::HostIdentity;
use crate::powerflex::client::types::Host;
use crate::powerflex::client::{Client, ClientError};
use crate::retry;

/// How the MDM knows this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKey {
    /// An NVMe host, by NQN.
    Nqn(String),
    /// An SDC, by GUID (compared without regard to case, as cinder does).
    SdcGuid(String),
}

impl HostKey {
    fn matches(&self, h: &Host) -> bool {
        match self {
            HostKey::Nqn(nqn) => h.host_type.as_deref() == Some("NVMeHost") && h.nqn.as_deref() == Some(nqn),
            HostKey::SdcGuid(guid) => {
                h.host_type.as_deref() == Some("SdcHost")
                    && h.sdc_guid.as_deref().is_some_and(|g| g.eq_ignore_ascii_case(guid))
            }
        }
    }
}

/// The host entity this key names, if any.
pub async fn find_host(client: &Client, key: &HostKey) -> Result<Option<Host>, ClientError> {
    Ok(client.hosts().await?.into_iter().find(|h| key.matches(h)))
}

/// Creates this host's entity for `key` and returns its ID. When the answer is lost, the
/// entity is looked up by its NQN: found, it is the one just made. An SDC the MDM does not
/// know is an error: the driver never creates one, it has not connected.
pub async fn create_host(client: &Client, identity: &HostIdentity, key: &HostKey) -> Result<String, ClientError> {
    let nqn = match key {
        HostKey::Nqn(nqn) => nqn,
        HostKey::SdcGuid(guid) => {
            return Err(ClientError::Setup(format!(
                "the MDM knows no SDC with GUID {guid}: is this host's SDC installed and connected?"
            )))
        }
    };
    let id = retry::create_or_find("the host entity", client.create_host(&identity.hostname, nqn), || async {
        Ok(find_host(client, key).await?.map(|h| h.id))
    })
    .await?;
    tracing::info!(host = %id, %nqn, "created the host entity");
    Ok(id)
}

/// Removes an NVMe host entity if no volume is mapped to it; says whether it is gone. A
/// removal that failed but left no entity behind is done. An SDC stays.
pub async fn remove_host_if_unused(client: &Client, host_id: &str, key: &HostKey) -> Result<bool, ClientError> {
    if matches!(key, HostKey::SdcGuid(_)) || !client.host_volumes(host_id).await?.is_empty() {
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

/// Removes this host's entity, found by its key, if it exists and nothing is mapped to
/// it: the undo of a creation whose answer may have been lost.
pub async fn remove_own_host_if_unused(client: &Client, key: &HostKey) -> Result<(), ClientError> {
    if let Some(h) = find_host(client, key).await? {
        remove_host_if_unused(client, &h.id, key).await?;
    }
    Ok(())
}
