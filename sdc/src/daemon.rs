//! The SDC's life: join the MDM, mount the volumes' file system, follow the mappings (a poll
//! every `poll`, or at once when `drv_cfg --rescan` or the rescan ioctl asks), answer `drv_cfg`
//! and, where asked, `/dev/scini`, and on the stop signal take every device away, unmount and
//! leave the MDM.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use crate::control::{socket_path, Request, Status};
use crate::devices::{self, Device};
use crate::gateway::{Gateway, Identity, Joined};
use crate::scini::{Answers, Scini};
use crate::volumes::{Exposed, SharedExposed, VolumeFs};
use powerflex_driver::http::ClientOptions;

/// How `pflex-sdc serve` was asked to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub gateway: ClientOptions,
    pub identity: Identity,
    /// Holds the FUSE mount (`volumes/`), the control socket and the GUID file.
    pub run_dir: PathBuf,
    /// Where the `emc-vol-` links go (`/dev/disk/by-id`, where clients look).
    pub by_id: PathBuf,
    pub poll: Duration,
    /// Serve `/dev/scini` (CUSE) for the clients that ask the SDC by ioctl.
    pub scini: bool,
}

impl Config {
    pub fn mount_dir(&self) -> PathBuf {
        self.run_dir.join("volumes")
    }
}

/// One exposed volume.
struct Exposure {
    size: u64,
    device: Device,
}

struct Sdc {
    config: Config,
    gateway: Gateway,
    joined: Joined,
    exposed: SharedExposed,
    devices: BTreeMap<String, Exposure>,
}

type Asked = (Request, oneshot::Sender<Status>);

/// Runs the SDC until `stop` completes; `ready` is called once it has joined and serves.
pub async fn run(config: Config, stop: impl Future<Output = ()>, ready: impl FnOnce(&Status)) -> Result<(), String> {
    let mount = config.mount_dir();
    std::fs::create_dir_all(&mount).map_err(|e| format!("creating {}: {e}", mount.display()))?;
    unmount_stale(&mount);
    let swept = devices::sweep(&config.by_id, &mount);
    if swept > 0 {
        tracing::info!("removed {swept} device link(s) an earlier run left");
    }
    let gateway = Gateway::new(&config.gateway)?;
    let joined = gateway
        .join(&config.identity)
        .await
        .map_err(|e| format!("joining the MDM at {}: {e}", config.gateway.gateway))?;
    let exposed: SharedExposed = Arc::new(RwLock::new(Exposed::default()));
    let fs = VolumeFs::new(exposed.clone(), gateway.admin().clone(), joined.sdc_id.clone());
    let mut options = fuser::Config::default();
    options.mount_options =
        vec![fuser::MountOption::FSName("pflex-sdc".into()), fuser::MountOption::NoSuid, fuser::MountOption::NoDev];
    options.n_threads = Some(4);
    let session = match fuser::spawn_mount(fs, &mount, &options) {
        Ok(s) => s,
        Err(e) => {
            let _ = gateway.leave(&config.identity).await;
            return Err(format!("mounting the volumes' file system at {}: {e}", mount.display()));
        }
    };
    let socket = socket_path(&config.run_dir);
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket).map_err(|e| format!("binding {}: {e}", socket.display()));
    let mut sdc = Sdc { config, gateway, joined, exposed, devices: BTreeMap::new() };
    let listener = match listener {
        Ok(l) => l,
        Err(e) => {
            sdc.shut_down(session).await;
            return Err(e);
        }
    };
    let (ask, mut asked) = mpsc::channel::<Asked>(16);
    let scini = if sdc.config.scini {
        let (guid, ask) = (sdc.config.identity.guid.clone(), ask.clone());
        match tokio::task::spawn_blocking(move || serve_scini(&guid, ask)).await.map_err(|e| e.to_string()) {
            Ok(Ok(device)) => Some(device),
            Ok(Err(e)) | Err(e) => {
                let _ = std::fs::remove_file(&socket);
                sdc.shut_down(session).await;
                return Err(e);
            }
        }
    } else {
        None
    };
    sdc.follow().await;
    ready(&sdc.status());
    let mut tick = tokio::time::interval(sdc.config.poll);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => sdc.follow().await,
            Ok((stream, _)) = listener.accept() => {
                tokio::spawn(serve_one(stream, ask.clone()));
            }
            Some((request, answer)) = asked.recv() => {
                if request == Request::Rescan {
                    sdc.follow().await;
                }
                let _ = answer.send(sdc.status());
            }
        }
    }
    // The device goes first: a client must not find it while the volumes are going away. No
    // one answers requests now; dropping them lets a rescan in flight return.
    drop(asked);
    if let Some(device) = scini {
        tokio::task::spawn_blocking(move || drop(device)).await.ok();
    }
    let _ = std::fs::remove_file(&socket);
    sdc.shut_down(session).await;
    Ok(())
}

/// One `drv_cfg` connection: its request line, then the status.
async fn serve_one(stream: UnixStream, ask: mpsc::Sender<Asked>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    if BufReader::new(read).read_line(&mut line).await.is_err() {
        return;
    }
    let Some(request) = Request::parse(&line) else {
        let _ = write.write_all(b"{\"error\":\"unknown request\"}\n").await;
        return;
    };
    let (answer, answered) = oneshot::channel();
    if ask.send((request, answer)).await.is_err() {
        return;
    }
    if let Ok(status) = answered.await {
        let mut text = serde_json::to_string(&status).expect("status serialises");
        text.push('\n');
        let _ = write.write_all(text.as_bytes()).await;
    }
}

/// `/dev/scini` (blocking: it waits for the kernel), whose rescan ioctl asks the main loop for
/// a poll and waits for it.
fn serve_scini(guid: &str, ask: mpsc::Sender<Asked>) -> Result<Scini, String> {
    let guid = uuid::Uuid::parse_str(guid).map_err(|e| format!("the GUID {guid:?}: {e}"))?;
    let rescan = move || {
        let (answer, answered) = oneshot::channel();
        if ask.blocking_send((Request::Rescan, answer)).is_ok() {
            let _ = answered.blocking_recv();
        }
    };
    Scini::create(Answers { name: "scini".into(), guid, rescan: Box::new(rescan) })
        .map_err(|e| format!("serving /dev/scini: {e}"))
}

/// A FUSE mount left by a killed run answers nothing; detach it so a new one can take its place.
fn unmount_stale(mount: &Path) {
    if let Ok(c) = std::ffi::CString::new(mount.as_os_str().as_encoded_bytes()) {
        // SAFETY: a valid C string; failure (nothing mounted) is expected and ignored.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

impl Sdc {
    fn status(&self) -> Status {
        let host = self.config.gateway.gateway.split("://").nth(1).unwrap_or(&self.config.gateway.gateway);
        let host = host.split('/').next().unwrap_or(host);
        let ip = host.rsplit_once(':').map_or(host, |(h, _)| h).trim_matches(['[', ']']);
        Status {
            guid: self.config.identity.guid.clone(),
            sdc_id: self.joined.sdc_id.clone(),
            system_id: self.joined.system_id.clone(),
            install_id: self.joined.install_id.clone(),
            mdm_ips: vec![ip.to_string()],
            volumes: self.devices.keys().cloned().collect(),
        }
    }

    fn file_of(&self, volume: &str) -> PathBuf {
        self.config.mount_dir().join(volume)
    }

    fn exposed(&self) -> std::sync::RwLockWriteGuard<'_, Exposed> {
        self.exposed.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the devices what the MDM maps to this SDC: new mappings get a device, removed
    /// ones lose theirs, resized ones are told their size. A failed poll changes nothing.
    async fn follow(&mut self) {
        let wanted = match self.gateway.mapped(&self.joined.sdc_id).await {
            Ok(w) => w,
            Err(e) => return tracing::warn!("polling the mappings: {e}"),
        };
        let gone: Vec<String> = self.devices.keys().filter(|v| !wanted.contains_key(*v)).cloned().collect();
        for volume in gone {
            self.withdraw(&volume).await;
        }
        for (volume, size) in wanted {
            match self.devices.get(&volume).map(|e| e.size) {
                Some(had) if had == size => {}
                Some(_) => self.resize(&volume, size).await,
                None => self.expose(&volume, size).await,
            }
        }
    }

    async fn expose(&mut self, volume: &str, size: u64) {
        self.exposed().put(volume, size);
        let file = self.file_of(volume);
        let link = self.config.by_id.join(devices::link_name(&self.joined.system_id, volume));
        match tokio::task::spawn_blocking(move || devices::expose(&file, &link)).await {
            Ok(Ok(device)) => {
                tracing::info!(volume, device = %device.loop_device.display(), link = %device.link.display(), "exposed");
                self.devices.insert(volume.to_string(), Exposure { size, device });
            }
            failed => {
                self.exposed().remove(volume);
                tracing::warn!(volume, "exposing the volume failed (next poll tries again): {failed:?}");
            }
        }
    }

    async fn resize(&mut self, volume: &str, size: u64) {
        self.exposed().put(volume, size);
        let file = self.file_of(volume);
        let Some(exposure) = self.devices.get_mut(volume) else { return };
        let device = exposure.device.clone();
        match tokio::task::spawn_blocking(move || devices::resize(&device, &file)).await {
            Ok(Ok(())) => exposure.size = size,
            failed => tracing::warn!(volume, "telling the device its new size failed: {failed:?}"),
        }
    }

    async fn withdraw(&mut self, volume: &str) {
        let Some(exposure) = self.devices.remove(volume) else { return };
        let device = exposure.device.clone();
        match tokio::task::spawn_blocking(move || devices::withdraw(&device)).await {
            Ok(Ok(())) => tracing::info!(volume, "withdrawn"),
            failed => tracing::warn!(volume, "withdrawing the device: {failed:?}"),
        }
        self.exposed().remove(volume);
    }

    async fn shut_down(mut self, session: fuser::BackgroundSession) {
        let volumes: Vec<String> = self.devices.keys().cloned().collect();
        for volume in volumes {
            self.withdraw(&volume).await;
        }
        if let Err(e) = tokio::task::spawn_blocking(move || session.umount_and_join()).await {
            tracing::warn!("unmounting the volumes' file system: {e}");
        }
        if let Err(e) = self.gateway.leave(&self.config.identity).await {
            tracing::warn!("leaving the MDM: {e}");
        }
    }
}
