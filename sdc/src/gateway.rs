//! What the SDC asks of the gateway: joining and leaving the MDM (`/sim/sdcs`, where a real
//! SDC speaks the MDM's own protocol), the system it joined, and the volumes mapped to it
//! (`GET /api/instances/Sdc::{id}/relationships/Volume`, as a real SDC learns them from the MDM).

use std::collections::BTreeMap;

use powerflex_driver::connector::sim::AdminClient;
use powerflex_driver::http::ClientOptions;
use powerflex_driver::powerflex::client::{Client, ClientError};

/// Who this SDC is.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The SDC GUID, upper case, as the kernel module reports it.
    pub guid: String,
    /// The IP it connects from.
    pub ip: String,
    /// Its name on the MDM, if any.
    pub name: Option<String>,
}

/// The MDM as this SDC sees it once joined.
#[derive(Debug, Clone)]
pub struct Joined {
    pub sdc_id: String,
    pub system_id: String,
    pub install_id: String,
}

/// The gateway's two surfaces: REST for the system and mappings, `/sim/` for joining and bytes.
#[derive(Clone)]
pub struct Gateway {
    rest: Client,
    admin: AdminClient,
}

impl Gateway {
    pub fn new(options: &ClientOptions) -> Result<Gateway, String> {
        let rest = Client::new(options.clone()).map_err(|e| e.to_string())?;
        let admin = AdminClient::with_host_param(options, "host").map_err(|e| e.to_string())?;
        Ok(Gateway { rest, admin })
    }

    /// The data surface, with the host named by SDC id (`?host=`).
    pub fn admin(&self) -> &AdminClient {
        &self.admin
    }

    /// Joins the MDM: registers (or reconnects) this SDC and finds the system.
    pub async fn join(&self, me: &Identity) -> Result<Joined, ClientError> {
        let sdc_id = self.admin.connect_sdc(&me.guid, &me.ip, me.name.as_deref()).await?;
        let systems = self.rest.systems().await?;
        let system = systems.into_iter().next().ok_or_else(|| ClientError::Status {
            path: "/api/types/System/instances".into(),
            status: 200,
            body: "no system".into(),
        })?;
        let install_id = system.install_id.clone().unwrap_or_default();
        Ok(Joined { sdc_id, system_id: system.id, install_id })
    }

    /// Leaves the MDM.
    pub async fn leave(&self, me: &Identity) -> Result<(), ClientError> {
        self.admin.disconnect_sdc(&me.guid).await
    }

    /// The volumes mapped to this SDC, by id, with their sizes in bytes.
    pub async fn mapped(&self, sdc_id: &str) -> Result<BTreeMap<String, u64>, ClientError> {
        let volumes = self.rest.host_volumes(sdc_id).await?;
        Ok(volumes.into_iter().map(|v| (v.id, v.size_in_kb * 1024)).collect())
    }
}
