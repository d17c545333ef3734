//! Start-up: state directory, data plane, TLS and the listener; then serving until told to
//! stop, and a clean stop.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;

use crate::dataplane::{DataPlane, NonePlane, PlaneKind};
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

fn choose_plane(kind: PlaneKind) -> Result<(Arc<dyn DataPlane>, String), StartError> {
    match kind {
        PlaneKind::None => Ok((Arc::new(NonePlane), "none (as asked): metadata only, volumes hold no bytes".into())),
        PlaneKind::Auto => {
            Ok((Arc::new(NonePlane), "none (auto): no data plane with bytes is built into this binary yet".into()))
        }
        other => Err(StartError::Plane(other, "not available in this build".into())),
    }
}

impl Server {
    pub async fn bind(config: ServeConfig) -> Result<Server, StartError> {
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
        let (plane, plane_note) = choose_plane(config.data_plane)?;
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
        self.gateway.flush().await;
        let plane = self.gateway.plane().clone();
        tokio::task::spawn_blocking(move || plane.shutdown()).await.ok();
        Ok(())
    }
}
