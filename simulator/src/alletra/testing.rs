//! An in-process Alletra array for tests: HTTPS with a fresh local CA, the embedded default
//! topology unless given another, state in a temporary directory (shared `testing::Running`).

use std::path::PathBuf;

use super::gateway::sessions::SessionConfig;
use super::model::topology::Topology;
use super::server::{ServeConfig, Server};
use crate::dataplane::PlaneKind;
use crate::testing::Running;

#[derive(Debug, Clone)]
pub struct Options {
    pub topology: Topology,
    pub data_plane: PlaneKind,
    pub sessions: SessionConfig,
    pub seed: u64,
    pub broken: std::collections::BTreeSet<super::model::breakage::Breakage>,
    /// Fault rules as `--fault` gives them.
    pub faults: Vec<crate::faults::Rule>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            topology: Topology::default_embedded(),
            data_plane: PlaneKind::File,
            sessions: SessionConfig::default(),
            seed: 1,
            broken: Default::default(),
            faults: Vec::new(),
        }
    }
}

/// A running array; dropping it stops the server and removes its state.
pub struct TestArray {
    /// `https://127.0.0.1:PORT`
    pub url: String,
    pub ca_cert_pem: String,
    pub state_dir: PathBuf,
    pub options: Options,
    running: Running,
}

impl TestArray {
    pub async fn start() -> TestArray {
        TestArray::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> TestArray {
        TestArray::start_in(tempfile::tempdir().expect("temporary directory"), options).await
    }

    /// Stops cleanly and starts again on the same state, as a restart of `alletra-sim` would
    /// (sessions are lost, the certificate is kept).
    pub async fn restart(mut self) -> TestArray {
        let dir = self.running.shutdown().await.expect("a running array owns its directory");
        TestArray::start_in(dir, self.options.clone()).await
    }

    /// Stops cleanly, as a stop of `alletra-sim` would: the kernel plane withdraws its exports.
    pub async fn stop(mut self) {
        self.running.shutdown().await;
    }

    async fn start_in(dir: tempfile::TempDir, options: Options) -> TestArray {
        let state_dir = Running::state_dir(dir.path());
        let config = ServeConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            topology: options.topology.clone(),
            state_dir: Some(state_dir.clone()),
            sessions: options.sessions.clone(),
            seed: Some(options.seed),
            tls: Running::tls(dir.path()),
            data_plane: options.data_plane,
            fsync: false,
            broken: options.broken.clone(),
            faults: options.faults.clone(),
        };
        let server = Server::bind(config).await.expect("alletra-sim starts");
        let ca_cert_path = server.ca_cert.clone().expect("TLS is on");
        let url = server.url.clone();
        let running = Running::spawn(dir, &ca_cert_path, |stop| server.run(stop));
        TestArray { url, ca_cert_pem: running.ca_cert_pem.clone(), state_dir, options, running }
    }
}
