//! An in-process simulator for tests of this and other crates: HTTPS with a fresh local CA,
//! the embedded default topology, state in a temporary directory. `Running` is what both
//! arrays' test servers share (the directory, the server task, the stop); `TestGateway` is
//! PowerFlex's, `alletra::testing::TestArray` Alletra's.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

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
    running: Running,
    options: Options,
}

/// The future a test server serves until: it completes when the test stops the server.
pub type StopSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A test server running in a task, with its temporary directory (`state/` and `tls/`).
/// Dropping it stops the server and removes the directory.
pub struct Running {
    pub ca_cert_pem: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// Removed with the server; `None` only while a restart hands it on.
    dir: Option<tempfile::TempDir>,
}

impl Running {
    /// Where a test server in `dir` keeps its state.
    pub fn state_dir(dir: &Path) -> PathBuf {
        dir.join("state")
    }

    /// The generated certificate of a test server in `dir`.
    pub fn tls(dir: &Path) -> TlsSetting {
        TlsSetting::SelfSigned(dir.join("tls"))
    }

    /// Runs `serve` (a bound server's `run`) in a task until `shutdown` is called or the
    /// value is dropped.
    pub fn spawn<F>(dir: tempfile::TempDir, ca_cert_path: &Path, serve: impl FnOnce(StopSignal) -> F) -> Running
    where
        F: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = serve(Box::pin(async {
            stopped.await.ok();
        }));
        let task = tokio::spawn(async move { serving.await.expect("simulator serves") });
        Running {
            ca_cert_pem: std::fs::read_to_string(ca_cert_path).expect("CA certificate"),
            stop: Some(stop),
            task: Some(task),
            dir: Some(dir),
        }
    }

    /// Stops the server, waits until it has saved its state, and hands back its directory
    /// (for a restart on the same state).
    pub async fn shutdown(&mut self) -> Option<tempfile::TempDir> {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        if let Some(task) = self.task.take() {
            task.await.ok();
        }
        self.dir.take()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
    }
}

/// What a test may change about the server. The default is the `file` plane, everywhere:
/// a test that wants the kernel target asks for `PlaneKind::Nvmet` (or `Auto`).
#[derive(Debug, Clone)]
pub struct Options {
    pub topology: Topology,
    pub data_plane: PlaneKind,
    pub auth: AuthConfig,
    pub seed: u64,
    /// Fault rules as `--fault` gives them.
    pub faults: Vec<crate::faults::Rule>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            topology: Topology::default_embedded(),
            data_plane: PlaneKind::File,
            auth: AuthConfig::default(),
            seed: 1,
            faults: Vec::new(),
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
        let dir = self.running.shutdown().await.expect("a running gateway owns its directory");
        TestGateway::start_in(dir, options).await
    }

    async fn start_in(dir: tempfile::TempDir, options: Options) -> TestGateway {
        let state_dir = Running::state_dir(dir.path());
        let config = ServeConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            topology: options.topology.clone(),
            state_dir: Some(state_dir.clone()),
            auth: options.auth.clone(),
            seed: Some(options.seed),
            tls: Running::tls(dir.path()),
            data_plane: options.data_plane,
            fsync: false,
            broken: Default::default(),
            faults: options.faults.clone(),
        };
        let server = Server::bind(config).await.expect("simulator starts");
        let ca_cert_path = server.ca_cert.clone().expect("TLS is on");
        let url = server.url.clone();
        let running = Running::spawn(dir, &ca_cert_path, |stop| server.run(stop));
        TestGateway {
            url,
            ca_cert_pem: running.ca_cert_pem.clone(),
            ca_cert_path,
            user: options.auth.user.clone(),
            password: options.auth.password.clone(),
            state_dir,
            running,
            options,
        }
    }

    /// Stops the server and waits until it has saved its state.
    pub async fn stop(mut self) {
        self.running.shutdown().await;
    }
}
