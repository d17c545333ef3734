//! An in-process simulator for tests of this and other crates: HTTPS with a fresh local CA,
//! the embedded default topology, state in a temporary directory.

use std::path::PathBuf;

use tokio::sync::oneshot;

use crate::dataplane::PlaneKind;
use crate::gateway::auth::AuthConfig;
use crate::model::topology::Topology;
use crate::server::{ServeConfig, Server, TlsSetting};

/// A running simulator; dropping it stops the server and removes its state.
pub struct TestGateway {
    /// `https://127.0.0.1:PORT`
    pub url: String,
    pub ca_cert_pem: String,
    pub ca_cert_path: PathBuf,
    pub user: String,
    pub password: String,
    pub state_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    options: Options,
    /// Removed with the gateway; `None` only while `restart` hands it on.
    _dir: Option<tempfile::TempDir>,
}

/// What a test may change about the server. The default is the `file` plane, everywhere:
/// a test that wants the kernel target asks for `PlaneKind::Nvmet` (or `Auto`).
#[derive(Debug, Clone)]
pub struct Options {
    pub topology: Topology,
    pub data_plane: PlaneKind,
    pub auth: AuthConfig,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            topology: Topology::default_embedded(),
            data_plane: PlaneKind::File,
            auth: AuthConfig::default(),
            seed: 1,
        }
    }
}

impl TestGateway {
    /// The embedded default topology on the `file` plane: volumes have bytes (in sparse files
    /// under `state_dir/volumes`), readable and writable through `/sim/volumes/{id}/data`,
    /// and no root or kernel target is needed.
    pub async fn start() -> TestGateway {
        TestGateway::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> TestGateway {
        TestGateway::start_in(tempfile::tempdir().expect("temporary directory"), options).await
    }

    /// Stops the server cleanly and starts a new one on the same state directory, as a
    /// restart of `pflex-sim serve` would (tokens are lost, the certificate is kept).
    pub async fn restart(mut self) -> TestGateway {
        let options = self.options.clone();
        let dir = self._dir.take().expect("a running gateway owns its directory");
        self.shutdown().await;
        TestGateway::start_in(dir, options).await
    }

    async fn start_in(dir: tempfile::TempDir, options: Options) -> TestGateway {
        let state_dir = dir.path().join("state");
        let config = ServeConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            topology: options.topology.clone(),
            state_dir: Some(state_dir.clone()),
            auth: options.auth.clone(),
            seed: Some(options.seed),
            tls: TlsSetting::SelfSigned(dir.path().join("tls")),
            data_plane: options.data_plane,
            fsync: false,
            broken: Default::default(),
        };
        let server = Server::bind(config).await.expect("simulator starts");
        let ca_cert_path = server.ca_cert.clone().expect("TLS is on");
        let (stop, stopped) = oneshot::channel::<()>();
        let url = server.url.clone();
        let task = tokio::spawn(async move {
            server
                .run(async {
                    stopped.await.ok();
                })
                .await
                .expect("simulator serves");
        });
        TestGateway {
            url,
            ca_cert_pem: std::fs::read_to_string(&ca_cert_path).expect("CA certificate"),
            ca_cert_path,
            user: options.auth.user.clone(),
            password: options.auth.password.clone(),
            state_dir,
            stop: Some(stop),
            task: Some(task),
            options,
            _dir: Some(dir),
        }
    }

    /// Stops the server and waits until it has saved its state.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        if let Some(task) = self.task.take() {
            task.await.ok();
        }
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
    }
}
