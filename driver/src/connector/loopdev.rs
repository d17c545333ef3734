//! The `loop` connector: a loop device over the simulator's backing file of a
//! volume, for a simulator on this machine with the `file` or `nvmet` plane.
//!
//! Attach asks the admin surface for the backing file
//! (`GET /sim/volumes/{id}/backing?nqn=<hostNqn>`, refused unless the volume is
//! mapped to this host) and binds it read-write to a free loop device with the
//! `loopdev` crate, or reuses the loop device already bound to it (a second
//! attach, or one from an earlier `pflex volume attach`). The loop device
//! outlives the [`BlockDevice`] handle, as an NVMe namespace does;
//! [`Connector::release`], which the driver calls before unmapping, detaches
//! it. Needs root and `/dev/loop-control`; [`Connector::check`] says which is
//! missing.
//!
//! Flush is `fsync` of the loop device, which the loop driver passes to the
//! backing file. The hole map is the backing file's (`SEEK_DATA`/`SEEK_HOLE`,
//! after a flush so the file holds what was written), so block copies from
//! a loop device stay proportional to the data. Zeroing punches holes through
//! the loop device (`fallocate`), falling back to writing zeros.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ::loopdev::{LoopControl, LoopDevice};
use async_trait::async_trait;

use super::sim::AdminClient;
use super::{BlockDevice, Connector, ConnectorError, ConnectorKind, FileDevice, Target, VolumeRef};
use crate::http::ClientOptions;
use crate::powerflex::client::ClientError;

/// The loop control device.
pub const LOOP_CONTROL: &str = "/dev/loop-control";
/// How often a detached loop device is polled while it goes.
const POLL: Duration = Duration::from_millis(50);

/// Why this host cannot attach loop devices, or `None` when it can.
pub fn unavailable_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("attaching loop devices needs root; use --connector sim without root".into());
    }
    if !Path::new(LOOP_CONTROL).exists() {
        return Some(format!(
            "{LOOP_CONTROL} does not exist (no loop driver: modprobe loop, or a container without loop devices); use --connector sim"
        ));
    }
    if let Err(e) = LoopControl::open() {
        return Some(format!("cannot open {LOOP_CONTROL}: {e}; use --connector sim"));
    }
    None
}

/// The loop devices (`/dev/loopN`) bound to `backing`, from sysfs.
pub fn loops_of(backing: &Path) -> Vec<PathBuf> {
    let want = std::fs::canonicalize(backing).unwrap_or_else(|_| backing.to_path_buf());
    let Ok(entries) = std::fs::read_dir("/sys/block") else { return Vec::new() };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("loop") {
                return None;
            }
            let bound = std::fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
            (Path::new(bound.trim_end_matches('\n')) == want).then(|| PathBuf::from("/dev").join(name))
        })
        .collect();
    found.sort();
    found
}

/// Binds `backing` read-write to a free loop device (autoclear off, so the device outlives
/// its opener); the device's path. Also used by `pflex-sdc`.
pub fn attach_new(backing: &Path) -> io::Result<PathBuf> {
    let control = LoopControl::open()?;
    let mut last = None;
    // Another process may take the free device between asking and binding.
    for _ in 0..8 {
        let dev = control.next_free()?;
        match dev.with().read_only(false).autoclear(false).attach(backing) {
            Ok(()) => {
                return dev.path().ok_or_else(|| io::Error::other("the attached loop device has no path"));
            }
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free loop device")))
}

/// The `loop` connector.
#[derive(Debug)]
pub struct LoopConnector {
    admin: AdminClient,
    checked: AtomicBool,
    /// Backing files seen per volume ID, so `wait_gone` can check after unmapping.
    backing: Mutex<HashMap<String, PathBuf>>,
}

impl LoopConnector {
    /// A connector for the simulator at `gateway` (URL, credentials, TLS options).
    pub fn new(gateway: &ClientOptions) -> Result<LoopConnector, ConnectorError> {
        Ok(LoopConnector {
            admin: AdminClient::new(gateway)?,
            checked: AtomicBool::new(false),
            backing: Mutex::new(HashMap::new()),
        })
    }

    /// The backing file of a volume mapped to this host; `Ok(None)` when the
    /// simulator refuses because it is not mapped (any more).
    async fn backing_file(&self, target: &Target, volume: &VolumeRef) -> Result<Option<PathBuf>, ConnectorError> {
        match self.admin.backing(&volume.id, &target.host_nqn).await {
            Ok(b) => {
                let path = PathBuf::from(&b.path);
                if !path.exists() {
                    return Err(ConnectorError::Unavailable {
                        connector: "loop",
                        reason: format!(
                            "the backing file {} of volume {} is not on this machine; the loop connector needs the simulator on the same machine (use --connector sim)",
                            b.path, volume.id
                        ),
                    });
                }
                self.backing.lock().expect("backing lock").insert(volume.id.clone(), path.clone());
                Ok(Some(path))
            }
            Err(ClientError::Api(e)) if e.http_status == 403 => Ok(None),
            Err(source) => Err(ConnectorError::Admin {
                context: format!("backing file of volume {} ({}) for host {}", volume.id, volume.name, target.host_nqn),
                source,
            }),
        }
    }
}

#[async_trait]
impl Connector for LoopConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Loop
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        if self.checked.load(Ordering::SeqCst) {
            return Ok(());
        }
        if let Some(reason) = unavailable_reason() {
            return Err(ConnectorError::Unavailable { connector: "loop", reason });
        }
        self.admin.check_plane("loop").await?;
        self.checked.store(true, Ordering::SeqCst);
        Ok(())
    }

    async fn connect(&self, _target: &Target) -> Result<bool, ConnectorError> {
        self.check().await?;
        Ok(false)
    }

    async fn open(
        &self,
        target: &Target,
        volume: &VolumeRef,
        _timeout: Duration,
    ) -> Result<Box<dyn BlockDevice>, ConnectorError> {
        self.check().await?;
        let backing = match self.backing_file(target, volume).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                // Refused: ask again for the gateway's own message.
                let source = self.admin.backing(&volume.id, &target.host_nqn).await.err().unwrap_or_else(|| {
                    ClientError::Setup("the simulator refused the backing file, then allowed it".into())
                });
                return Err(ConnectorError::Admin {
                    context: format!("backing file of volume {} for host {}", volume.id, target.host_nqn),
                    source,
                });
            }
            Err(e) => return Err(e),
        };
        let device = tokio::task::spawn_blocking(move || -> Result<LoopBlockDevice, ConnectorError> {
            let io = |context: String| move |source: io::Error| ConnectorError::Io { context, source };
            let path = match loops_of(&backing).into_iter().next() {
                Some(p) => {
                    // Already bound (attached before): pick up a size change.
                    let ld = LoopDevice::open(&p).map_err(io(format!("opening {}", p.display())))?;
                    ld.set_capacity().map_err(io(format!("refreshing the size of {}", p.display())))?;
                    p
                }
                None => {
                    attach_new(&backing).map_err(io(format!("attaching {} to a loop device", backing.display())))?
                }
            };
            LoopBlockDevice::open(&path, &backing).map_err(io(format!("opening {}", path.display())))
        })
        .await
        .map_err(|e| ConnectorError::Other(format!("loop attach task failed: {e}")))??;
        Ok(Box::new(device))
    }

    async fn device_path(&self, target: &Target, volume: &VolumeRef) -> Result<Option<PathBuf>, ConnectorError> {
        Ok(match self.backing_file(target, volume).await? {
            Some(b) => loops_of(&b).into_iter().next(),
            None => None,
        })
    }

    async fn release(&self, target: &Target, volume: &VolumeRef) -> Result<(), ConnectorError> {
        let Some(backing) = self.backing_file(target, volume).await? else { return Ok(()) };
        for dev in loops_of(&backing) {
            let ld = LoopDevice::open(&dev)
                .map_err(|source| ConnectorError::Io { context: format!("opening {}", dev.display()), source })?;
            match ld.detach() {
                Ok(()) => tracing::debug!(device = %dev.display(), volume = %volume.id, "detached the loop device"),
                // Already unbound by someone else.
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {}
                Err(source) => {
                    return Err(ConnectorError::Io { context: format!("detaching {}", dev.display()), source })
                }
            }
        }
        Ok(())
    }

    async fn wait_gone(&self, _target: &Target, volume: &VolumeRef, timeout: Duration) -> Result<(), ConnectorError> {
        let Some(backing) = self.backing.lock().expect("backing lock").get(&volume.id).cloned() else {
            return Ok(());
        };
        // A detach with the device still open completes when the last opener closes it.
        let start = Instant::now();
        while !loops_of(&backing).is_empty() {
            if start.elapsed() >= timeout {
                return Err(ConnectorError::StillPresent { volume_id: volume.id.clone(), waited: start.elapsed() });
            }
            tokio::time::sleep(POLL).await;
        }
        self.backing.lock().expect("backing lock").remove(&volume.id);
        Ok(())
    }

    async fn disconnect(&self, _target: &Target) -> Result<(), ConnectorError> {
        Ok(())
    }
}

/// A volume through its loop device.
#[derive(Debug)]
pub struct LoopBlockDevice {
    dev: File,
    path: PathBuf,
    backing: FileDevice,
}

impl LoopBlockDevice {
    /// Opens loop device `path` (bound to `backing`) read-write.
    pub fn open(path: &Path, backing: &Path) -> io::Result<LoopBlockDevice> {
        let dev = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(LoopBlockDevice { dev, path: path.to_path_buf(), backing: FileDevice::open_read_only(backing)? })
    }
}

impl BlockDevice for LoopBlockDevice {
    fn size(&self) -> io::Result<u64> {
        let mut f = &self.dev;
        f.seek(SeekFrom::End(0))
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.dev.read_exact_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.dev.write_all_at(buf, offset)
    }

    fn flush(&self) -> io::Result<()> {
        self.dev.sync_all()
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn data_ranges(&self, range: Range<u64>) -> io::Result<Option<Vec<Range<u64>>>> {
        // Written blocks may still sit in the loop device's cache; the backing
        // file's map is right once they reached it.
        self.dev.sync_all()?;
        self.backing.data_ranges(range)
    }

    fn write_zeroes(&self, offset: u64, len: u64) -> io::Result<()> {
        if super::punch_hole(self.dev.as_raw_fd(), offset, len)? {
            return Ok(());
        }
        super::write_zero_chunks(self, offset, len)
    }
}
