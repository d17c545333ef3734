//! Start-up: state directory, data plane, TLS and the listener; then serving until told to
//! stop, and a clean stop.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;

use crate::dataplane::{nvmet, DataPlane, FilePlane, FileStore, NonePlane, NvmetPlane, PlaneKind};
use crate::gateway::auth::{Auth, AuthConfig};
use crate::gateway::{router, Gateway};
use crate::model::topology::Topology;
use crate::model::Model;
use crate::persist::{PersistError, Store};
use crate::tls::{self, TlsError, TlsFiles};

/// How the server speaks TLS.
#[derive(Debug, Clone)]
pub enum TlsSetting {
    /// A local CA and server certificate kept in this directory.
    SelfSigned(PathBuf),
    /// A certificate chain and key the user brings.
    Files { cert: PathBuf, key: PathBuf },
    /// Plain HTTP (clients such as LXD accept an `http://` gateway).
    Off,
}

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
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Persist(#[from] PersistError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("data plane {0}: {1}")]
    Plane(PlaneKind, String),
}

/// A bound, ready server.
pub struct Server {
    gateway: Arc<Gateway>,
    listener: std::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    pub url: String,
    pub addr: SocketAddr,
    /// The certificate clients should trust, when TLS is on.
    pub ca_cert: Option<PathBuf>,
    /// Which data plane runs, and why it was chosen.
    pub plane_note: String,
    pub restored: bool,
    pub seed: u64,
}

/// Opens the data plane `kind` names; `auto` takes the best this machine allows. Returns the
/// plane and a note for the start-up log saying which one runs and why.
///
/// - `nvmet` needs root and the kernel target (`nvmet`, `nvmet-tcp`, configfs; `modprobe` and
///   mounting configfs are tried).
/// - `file` works everywhere; without `--state-dir` its files live in a temporary directory
///   that a clean stop removes.
/// - `auto` is `nvmet` when it can start, else `file`, else `none`.
fn choose_plane(
    kind: PlaneKind,
    state_dir: Option<&Path>,
    model: &Model,
) -> Result<(Arc<dyn DataPlane>, String), StartError> {
    let where_files = |store: &FileStore| match state_dir {
        Some(_) => format!("sparse files in {}", store.dir().display()),
        None => format!(
            "sparse files in the temporary {} (removed at stop; use --state-dir to keep them)",
            store.dir().display()
        ),
    };
    let open_nvmet = || -> Result<(NvmetPlane, String), String> {
        let root = nvmet::probe()?;
        let store = FileStore::open(state_dir, model, "nvmet").map_err(|e| e.to_string())?;
        let files = where_files(&store);
        let plane = NvmetPlane::open(root, store, model).map_err(|e| e.to_string())?;
        let ports: Vec<String> = plane.ports().into_iter().map(|(_, a, p)| format!("{a}:{p}")).collect();
        Ok((
            plane,
            format!(
                "NVMe/TCP on {} (subsystems {}:host:<hostId>), {files}",
                ports.join(" "),
                model.system().system_nqn
            ),
        ))
    };
    let open_file = || -> Result<(FilePlane, String), String> {
        let plane = FilePlane::open(state_dir, model).map_err(|e| e.to_string())?;
        let note = format!(
            "{}; no kernel target, mapping is metadata, bytes through /sim/volumes/<id>/data",
            where_files(plane.store())
        );
        Ok((plane, note))
    };
    match kind {
        PlaneKind::None => Ok((Arc::new(NonePlane), "none (as asked): metadata only, volumes hold no bytes".into())),
        PlaneKind::Nvmet => {
            let (plane, note) = open_nvmet().map_err(|e| StartError::Plane(kind, e))?;
            Ok((Arc::new(plane), format!("nvmet (as asked): {note}")))
        }
        PlaneKind::File => {
            let (plane, note) = open_file().map_err(|e| StartError::Plane(kind, e))?;
            Ok((Arc::new(plane), format!("file (as asked): {note}")))
        }
        PlaneKind::Auto => {
            let why_not_nvmet = match open_nvmet() {
                Ok((plane, note)) => {
                    return Ok((Arc::new(plane), format!("nvmet (auto: root and kernel nvmet available): {note}")))
                }
                Err(e) => e,
            };
            match open_file() {
                Ok((plane, note)) => {
                    Ok((Arc::new(plane), format!("file (auto: nvmet unavailable: {why_not_nvmet}): {note}")))
                }
                Err(e) => Ok((
                    Arc::new(NonePlane),
                    format!("none (auto: nvmet unavailable: {why_not_nvmet}; file unavailable: {e}): metadata only"),
                )),
            }
        }
    }
}

impl Server {
    pub async fn bind(mut config: ServeConfig) -> Result<Server, StartError> {
        // The admin user the inventory lists is the one these credentials log in as.
        config.topology.admin_user = config.auth.user.clone();
        let fresh_seed = config.seed.unwrap_or_else(rand::random);
        let topology = config.topology.clone();
        let fresh = || Model::new(&topology, fresh_seed);
        let (store, model, restored) = match &config.state_dir {
            Some(dir) => {
                let opened = Store::open(dir, config.fsync, fresh)?;
                (opened.store, opened.model, opened.restored)
            }
            None => (Store::Memory, fresh(), false),
        };
        let mut model = model;
        model.set_broken(config.broken.clone());
        let seed = model.seed();
        let (plane, plane_note) = choose_plane(config.data_plane, config.state_dir.as_deref(), &model)?;
        let tls_files = match &config.tls {
            TlsSetting::Off => None,
            TlsSetting::SelfSigned(dir) => Some(tls::ensure_self_signed(dir, config.listen.ip())?),
            TlsSetting::Files { cert, key } => {
                Some(TlsFiles { ca_cert: cert.clone(), cert: cert.clone(), key: key.clone() })
            }
        };
        let tls = tls_files.as_ref().map(tls::server_config).transpose()?;
        let listener = std::net::TcpListener::bind(config.listen)
            .map_err(|source| StartError::Bind { addr: config.listen, source })?;
        listener.set_nonblocking(true).map_err(|source| StartError::Bind { addr: config.listen, source })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let gateway = Arc::new(Gateway::new(model, store, plane, Auth::new(config.auth.clone()), config.topology));
        Ok(Server {
            gateway,
            listener,
            tls,
            url: format!("{scheme}://{addr}"),
            addr,
            ca_cert: tls_files.map(|f| f.ca_cert),
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
        let handle = axum_server::Handle::new();
        let stopper = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            stopper.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
        });
        let service = app.into_make_service();
        match self.tls {
            Some(config) => {
                axum_server::from_tcp_rustls(self.listener, RustlsConfig::from_config(config))
                    .handle(handle)
                    .serve(service)
                    .await?
            }
            None => axum_server::from_tcp(self.listener).handle(handle).serve(service).await?,
        }
        scheduler.abort();
        self.gateway.flush().await;
        let plane = self.gateway.plane().clone();
        tokio::task::spawn_blocking(move || plane.shutdown()).await.ok();
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
