//! Alletra start-up: state directory, model, data plane and the WSAPI router, on the shared
//! TLS listener (`serving`); then serving until told to stop, and a clean stop.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use super::gateway::sessions::{SessionConfig, Sessions};
use super::gateway::{router, Array};
use super::model::topology::Topology;
use super::model::Model;
use crate::dataplane::{self, PlaneKind};
use crate::faults::{Faults, Rule};
use crate::persist::Store;
use crate::serving::{choose_plane, shut_down_plane, Endpoint, StartError, TlsSetting};

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub topology: Topology,
    pub state_dir: Option<PathBuf>,
    pub sessions: SessionConfig,
    pub seed: Option<u64>,
    pub tls: TlsSetting,
    pub data_plane: PlaneKind,
    pub fsync: bool,
    /// Deliberate faults (`--break`), for a conformance harness's mutation tests only.
    pub broken: std::collections::BTreeSet<super::model::breakage::Breakage>,
    /// Fault rules in force from the start (`--fault`); a restart comes back to these.
    pub faults: Vec<Rule>,
}

/// A bound, ready server.
pub struct Server {
    array: Arc<Array>,
    endpoint: Endpoint,
    pub url: String,
    pub ca_cert: Option<PathBuf>,
    pub plane_note: String,
    pub restored: bool,
    pub seed: u64,
}

impl Server {
    pub async fn bind(config: ServeConfig) -> Result<Server, StartError> {
        let fresh_seed = config.seed.unwrap_or_else(rand::random);
        let fresh = || Model::new(&config.topology, fresh_seed);
        let (store, mut model, restored) = Store::open_or_memory(config.state_dir.as_deref(), config.fsync, fresh)?;
        model.set_broken(config.broken.clone());
        let seed = model.seed();
        let saved = dataplane::alletra::saved(&model);
        let (plane, plane_note) = choose_plane(config.data_plane, config.state_dir.as_deref(), &saved)?;
        let endpoint = Endpoint::bind(config.listen, &config.tls)?;
        let faults = Faults::new(seed, config.faults);
        let array = Arc::new(Array::new(model, store, plane, Sessions::new(config.sessions), config.topology, faults));
        Ok(Server {
            array,
            url: endpoint.url.clone(),
            ca_cert: endpoint.ca_cert.clone(),
            endpoint,
            plane_note,
            restored,
            seed,
        })
    }

    /// The array behind the server (benchmarks fill it without HTTP).
    pub fn array(&self) -> &Arc<Array> {
        &self.array
    }

    /// Serves until `shutdown` completes, then drains requests, saves state and withdraws
    /// the data plane's exports.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        self.endpoint.serve(router(self.array.clone()), shutdown).await?;
        self.array.flush().await;
        shut_down_plane(self.array.plane().clone()).await;
        Ok(())
    }
}
