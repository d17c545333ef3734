//! This machine on the MDM. In `nvme` mode: an `NVMeHost` named after the machine with its
//! NQN, created at the first mapping and removed with the last one. In `sdc` mode: the
//! `SdcHost` with the SDC's GUID, which the SDC itself registered when it connected; the
//! driver never creates or removes it (as LXD).

use crate::host::HostIdentity;
use crate::powerflex::client::types::Host;
use crate::powerflex::client::{Client, ClientError};

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

/// The host entity's ID, creating an NVMe host when missing; the flag says whether it was
/// created. An SDC the MDM does not know is an error: it has not connected.
pub async fn ensure_host(
    client: &Client,
    identity: &HostIdentity,
    key: &HostKey,
) -> Result<(String, bool), ClientError> {
    if let Some(h) = find_host(client, key).await? {
        return Ok((h.id, false));
    }
    match key {
        HostKey::Nqn(nqn) => {
            let id = client.create_host(&identity.hostname, nqn).await?;
            tracing::info!(host = %id, %nqn, "created the host entity");
            Ok((id, true))
        }
        HostKey::SdcGuid(guid) => Err(ClientError::Setup(format!(
            "the MDM knows no SDC with GUID {guid}: is this host's SDC installed and connected?"
        ))),
    }
}

/// Removes an NVMe host entity if no volume is mapped to it; says whether it was removed.
/// An SDC stays.
pub async fn remove_host_if_unused(client: &Client, host_id: &str, key: &HostKey) -> Result<bool, ClientError> {
    if matches!(key, HostKey::SdcGuid(_)) || !client.host_volumes(host_id).await?.is_empty() {
        return Ok(false);
    }
    client.remove_host(host_id).await?;
    tracing::info!(host = %host_id, "removed the host entity");
    Ok(true)
}
