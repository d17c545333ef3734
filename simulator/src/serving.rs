//! What both emulators' servers share: TLS (a generated local CA or brought files), the
//! listener, the data plane chosen at start, serving until told to stop with a drain, and the
//! start-up banner. Each array's own start-up (its model, journal, router) builds on these:
//! `server` for PowerFlex, `alletra::server` for Alletra.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};

use crate::dataplane::iscsi::IscsiPlane;
use crate::dataplane::{lio, nvmet, DataPlane, FilePlane, FileStore, NonePlane, NvmetPlane, PlaneKind, Saved};
use crate::faults::sever::SeverAcceptor;
use crate::persist::PersistError;
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

/// A bound listener, with its TLS configuration, not yet serving.
pub struct Endpoint {
    listener: std::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    pub url: String,
    pub addr: SocketAddr,
    /// The certificate clients should trust, when TLS is on.
    pub ca_cert: Option<PathBuf>,
}

impl Endpoint {
    /// Makes or loads the certificate `setting` asks for and binds `listen`.
    pub fn bind(listen: SocketAddr, setting: &TlsSetting) -> Result<Endpoint, StartError> {
        let tls_files = match setting {
            TlsSetting::Off => None,
            TlsSetting::SelfSigned(dir) => Some(tls::ensure_self_signed(dir, listen.ip())?),
            TlsSetting::Files { cert, key } => {
                Some(TlsFiles { ca_cert: cert.clone(), cert: cert.clone(), key: key.clone() })
            }
        };
        let tls = tls_files.as_ref().map(tls::server_config).transpose()?;
        let bind_err = |source| StartError::Bind { addr: listen, source };
        let listener = std::net::TcpListener::bind(listen).map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        Ok(Endpoint { listener, tls, url: format!("{scheme}://{addr}"), addr, ca_cert: tls_files.map(|f| f.ca_cert) })
    }

    /// Serves `app` until `shutdown` completes, then lets running requests finish (at most
    /// ten seconds). The caller saves its state and withdraws its exports after.
    pub async fn serve(
        self,
        app: axum::Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let handle = axum_server::Handle::new();
        let stopper = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            stopper.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
        });
        let service = app.into_make_service();
        // Every connection gets its switch, under TLS when on, so a `drop` fault can close it
        // unanswered.
        let server = axum_server::from_tcp(self.listener).handle(handle);
        match self.tls {
            Some(config) => {
                let tls = RustlsAcceptor::new(RustlsConfig::from_config(config)).acceptor(SeverAcceptor);
                server.acceptor(tls).serve(service).await
            }
            None => server.acceptor(SeverAcceptor).serve(service).await,
        }
    }
}

/// Withdraws what the data plane set up in the kernel, off the async threads (clean stop).
pub async fn shut_down_plane(plane: Arc<dyn DataPlane>) {
    tokio::task::spawn_blocking(move || plane.shutdown()).await.ok();
}

/// What the start-up banner tells: how to reach the server, log in and trust it, where its
/// state is, and what runs.
pub struct Banner<'a> {
    pub url: String,
    pub user: &'a str,
    /// Shown only while it is the built-in default; a given one is a secret.
    pub password: Option<&'a str>,
    pub ca_cert: Option<&'a Path>,
    pub state_dir: Option<&'a Path>,
    pub restored: bool,
    pub seed: u64,
    pub plane_note: &'a str,
    /// Behaviours broken on purpose (`--break`).
    pub broken: Vec<String>,
    /// Fault rules in force from the start (`--fault`).
    pub faults: Vec<String>,
}

/// Prints `title`, then one aligned `name: value` row each.
fn print_banner(title: &str, banner: &Banner<'_>) {
    let mut rows = vec![
        ("url", banner.url.clone()),
        ("user", banner.user.to_string()),
        ("password", banner.password.unwrap_or("(as given)").to_string()),
    ];
    if let Some(ca) = banner.ca_cert {
        rows.push(("trust", ca.display().to_string()));
    }
    rows.push(("state", state_note(banner.state_dir, banner.restored)));
    rows.push(("seed", banner.seed.to_string()));
    rows.push(("data plane", banner.plane_note.to_string()));
    for rule in &banner.faults {
        rows.push(("fault", rule.clone()));
    }
    for b in &banner.broken {
        rows.push(("BROKEN ON PURPOSE", format!("{b} (for conformance mutation tests only)")));
    }
    println!("{title}");
    for (name, value) in rows {
        println!("  {:<11} {value}", format!("{name}:"));
    }
}

/// The topology `serve --topology FILE` names, parsed by `parse`, or the embedded `default`.
pub fn topology_from<T, E: std::fmt::Display>(
    path: Option<&Path>,
    parse: impl FnOnce(&str) -> Result<T, E>,
    default: impl FnOnce() -> T,
) -> Result<T, String> {
    let Some(path) = path else { return Ok(default()) };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The certificate `serve` flags ask for: none (`--no-tls`), the given files, or one
/// generated in the state directory (or `program`'s default directory without one).
pub fn tls_setting(
    no_tls: bool,
    files: Option<(PathBuf, PathBuf)>,
    state_dir: Option<&Path>,
    program: &str,
) -> TlsSetting {
    match (no_tls, files) {
        (true, _) => TlsSetting::Off,
        (false, Some((cert, key))) => TlsSetting::Files { cert, key },
        (false, None) => TlsSetting::SelfSigned(state_dir.map_or_else(|| default_tls_dir(program), |d| d.join("tls"))),
    }
}

/// Prints the start-up banner under `title`, and logs where the server listens.
pub fn announce(title: &str, banner: &Banner<'_>) {
    print_banner(title, banner);
    tracing::info!(url = %banner.url, "serving");
}

/// Serves (`run`, handed the stop signal) until Ctrl-C or SIGTERM, and says it stopped
/// cleanly.
pub async fn serve_until_stopped<F>(
    program: &str,
    run: impl FnOnce(Pin<Box<dyn Future<Output = ()> + Send>>) -> F,
) -> Result<(), String>
where
    F: Future<Output = std::io::Result<()>>,
{
    run(Box::pin(stop_signal())).await.map_err(|e| e.to_string())?;
    println!("{program}: stopped cleanly");
    Ok(())
}

/// Where a program keeps its generated certificate without `--state-dir`:
/// `$XDG_STATE_HOME/<program>/tls`, else `~/.local/state/<program>/tls`.
fn default_tls_dir(program: &str) -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join(program).join("tls")
}

/// Logs to stderr at `RUST_LOG` (default `info`), coloured only for a person at a terminal,
/// not in CI logs or files.
pub fn init_logging() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// A program's exit: success, or its error on stderr and a failure code.
pub fn exit_code(program: &str, result: Result<(), String>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The banner's `state` row.
fn state_note(state_dir: Option<&Path>, restored: bool) -> String {
    match state_dir {
        Some(dir) => format!("{} ({})", dir.display(), if restored { "restored" } else { "new" }),
        None => "in memory (use --state-dir to keep it)".into(),
    }
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM (service managers, `kill`): both stop cleanly, with
/// state saved and kernel exports withdrawn.
async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Opens the data plane `kind` names; `auto` takes the best this machine allows. Returns the
/// plane and a note for the start-up log saying which one runs and why.
///
/// - `nvmet` needs root and the kernel target (`nvmet`, `nvmet-tcp`, configfs; `modprobe` and
///   mounting configfs are tried).
/// - `file` works everywhere; without `--state-dir` its files live in a temporary directory
///   that a clean stop removes.
/// - `auto` is `nvmet` when it can start, else `file`, else `none`.
///
/// An array with iSCSI ports (`Saved::iscsi`) has them served by LIO over the chosen plane's
/// files: required with `nvmet` (the kernel targets as asked), tried with `auto`, never with
/// `file` or `none`.
pub fn choose_plane(
    kind: PlaneKind,
    state_dir: Option<&Path>,
    saved: &Saved,
) -> Result<(Arc<dyn DataPlane>, String), StartError> {
    let (plane, note) = choose_block_plane(kind, state_dir, saved)?;
    let Some(ports) = saved.iscsi.as_ref().filter(|_| matches!(kind, PlaneKind::Nvmet | PlaneKind::Auto)) else {
        return Ok((plane, note));
    };
    if plane.kind() == PlaneKind::None {
        return Ok((plane, note));
    }
    let portals: Vec<String> = ports.portals.iter().map(|p| format!("{}:{}", p.addr, p.port)).collect();
    let opened =
        lio::probe().and_then(|root| IscsiPlane::open(plane.clone(), root, ports, saved).map_err(|e| e.to_string()));
    match opened {
        Ok(iscsi) => Ok((Arc::new(iscsi), format!("{note}; iSCSI through LIO on {}", portals.join(" ")))),
        Err(e) if kind == PlaneKind::Nvmet => {
            plane.shutdown();
            Err(StartError::Plane(kind, format!("iSCSI ports through LIO: {e}")))
        }
        Err(e) => Ok((plane, format!("{note}; iSCSI ports metadata only (LIO unavailable: {e})"))),
    }
}

/// The plane for the bytes and the NVMe/TCP ports, as `choose_plane` describes.
fn choose_block_plane(
    kind: PlaneKind,
    state_dir: Option<&Path>,
    saved: &Saved,
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
        let store = FileStore::open(state_dir, &saved.volumes, "nvmet").map_err(|e| e.to_string())?;
        let files = where_files(&store);
        let plane = NvmetPlane::open(root, store, saved).map_err(|e| e.to_string())?;
        let ports: Vec<String> = plane.ports().into_iter().map(|(_, a, p)| format!("{a}:{p}")).collect();
        Ok((plane, format!("NVMe/TCP on {} (subsystems {}:host:<hostId>), {files}", ports.join(" "), saved.system_nqn)))
    };
    let open_file = || -> Result<(FilePlane, String), String> {
        let plane = FilePlane::open(state_dir, &saved.volumes).map_err(|e| e.to_string())?;
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
