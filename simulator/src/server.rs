//! PowerFlex start-up: state directory, model, data plane and gateway, on the shared TLS
//! listener (`serving`); then serving until told to stop, and a clean stop.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::dataplane::{self, PlaneKind};
use crate::faults::{Faults, Rule};
use crate::gateway::auth::{Auth, AuthConfig};
use crate::gateway::{router, Gateway};
use crate::model::topology::Topology;
use crate::model::Model;
use crate::persist::Store;
use crate::serving::{choose_plane, shut_down_plane, Endpoint};
pub use crate::serving::{StartError, TlsSetting};

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub topology: Topology,
    pub state_dir: Option<PathBuf>,
    pub auth: AuthConfig,
    pub seed: Option<u64>,
    pub tls: TlsSetting,
    pub data_plane: PlaneKind,
    pub fsync: bool,
    /// Deliberate faults (`--break`), for the conformance harness's mutation test only.
    pub broken: std::collections::BTreeSet<crate::model::breakage::Breakage>,
    /// Fault rules in force from the start (`--fault`); a restart comes back to these.
    pub faults: Vec<Rule>,
}

/// A bound, ready server.
pub struct Server {
    gateway: Arc<Gateway>,
    endpoint: Endpoint,
    pub url: String,
    pub addr: SocketAddr,
    /// The certificate clients should trust, when TLS is on.
    pub ca_cert: Option<PathBuf>,
    /// Which data plane runs, and why it was chosen.
    pub plane_note: String,
    pub restored: bool,
    pub seed: u64,
}

impl Server {
    pub async fn bind(mut config: ServeConfig) -> Result<Server, StartError> {
        // The admin user the inventory lists is the one these credentials log in as.
        config.topology.admin_user = config.auth.user.clone();
        let fresh_seed = config.seed.unwrap_or_else(rand::random);
        let topology = config.topology.clone();
        let fresh = || Model::new(&topology, fresh_seed);
        let (store, mut model, restored) = Store::open_or_memory(config.state_dir.as_deref(), config.fsync, fresh)?;
        model.set_broken(config.broken.clone());
        let seed = model.seed();
        let (plane, plane_note) =
            choose_plane(config.data_plane, config.state_dir.as_deref(), &dataplane::powerflex::saved(&model))?;
        let endpoint = Endpoint::bind(config.listen, &config.tls)?;
        let faults = Faults::new(seed, config.faults);
        let gateway = Arc::new(Gateway::new(model, store, plane, Auth::new(config.auth), config.topology, faults));
        Ok(Server {
            gateway,
            url: endpoint.url.clone(),
            addr: endpoint.addr,
            ca_cert: endpoint.ca_cert.clone(),
            endpoint,
            plane_note,
            restored,
            seed,
        })
    }

    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// Serves until `shutdown` completes, then drains requests, saves state and withdraws
    /// the data plane's exports.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let app = router(self.gateway.clone());
        let scheduler = tokio::spawn(schedule_policies(self.gateway.clone()));
        self.endpoint.serve(app, shutdown).await?;
        scheduler.abort();
        self.gateway.flush().await;
        shut_down_plane(self.gateway.plane().clone()).await;
        Ok(())
    }
}

/// How often the scheduler looks for due snapshot policies. Cadences are whole minutes (at
/// least 15), so a run starts at most this late.
const POLICY_TICK: std::time::Duration = std::time::Duration::from_secs(20);

/// Takes snapshot policies' auto snapshots on time, for as long as the server runs.
async fn schedule_policies(gateway: Arc<Gateway>) {
    let mut tick = tokio::time::interval(POLICY_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = gateway.run_due_policies().await {
            tracing::warn!("snapshot policy run failed: {}", e.message);
        }
    }
}
