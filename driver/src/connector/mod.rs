//! Connectors: how a mapped volume becomes a block device on this host.
//!
//! The driver maps a volume to the host on the gateway, then asks a
//! [`Connector`] to reach it: establish the session to the targets
//! ([`Connector::connect`]), find and open the device ([`Connector::open`]),
//! and after unmapping wait for it to go ([`Connector::wait_gone`]) and tear
//! the session down when the last volume goes ([`Connector::disconnect`]).
//!
//! Whatever the connector, the result is a [`BlockDevice`]: a size,
//! positional reads and writes, flush and, when there is one, a kernel device
//! path. The block copy and every content check go through this trait, so a
//! connector that reads through a file, a loop device or an HTTPS data
//! surface slots in without touching the driver.
//!
//! Connectors know nothing about volume naming; the driver hands them a
//! [`Target`] and a [`VolumeRef`].
//!
//! # The three connectors
//!
//! | name   | reaches the bytes through                    | needs                                   | kernel path |
//! |--------|----------------------------------------------|-----------------------------------------|-------------|
//! | `nvme` | NVMe/TCP (nvme-cli, `/dev/disk/by-id/nvme-eui.*`) | root, `nvme_tcp`, a real array or the simulator's `nvmet` plane | `/dev/nvmeXnY` |
//! | `loop` | a loop device over the simulator's backing file  | root, `/dev/loop-control`, the simulator on this machine (`file` or `nvmet` plane) | `/dev/loopN` |
//! | `sim`  | the simulator's `/sim/volumes/{id}/data` over HTTPS | nothing (the simulator with the `file` or `nvmet` plane, anywhere reachable) | none |
//! | `sdc`  | the ScaleIO Data Client's `/dev/disk/by-id/emc-vol-*` devices | an SDC (Dell's, or `pflex-sdc`); `powerflex.mode=sdc` | the SDC's device |
//!
//! `loop` and `sim` only work against the simulator (`pflex-sim`): they use its
//! admin surface, which hands out a volume's backing file or bytes only to a
//! host the volume is mapped to, so the driver's map-then-attach flow is kept.
//! Pick one with [`ConnectorChoice`] and [`build`]: `pflex --connector
//! nvme|loop|sim|sdc` (or `PFLEX_CONNECTOR`), default `nvme`. `powerflex.mode`
//! keeps its meaning (the array's host protocol); the connector is how this
//! host reaches the bytes.

pub mod command;
pub mod file;
pub mod iscsi;
pub mod loopdev;
pub mod nvme;
pub mod sdc;
pub mod sim;

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::http::ClientOptions;
use crate::powerflex::client::ClientError;

pub use self::iscsi::IscsiConnector;
pub use self::loopdev::LoopConnector;
pub use self::nvme::NvmeConnector;
pub use self::sdc::SdcConnector;
pub use self::sim::SimConnector;
pub use file::FileDevice;

/// Which connector to build; see the module documentation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorChoice {
    /// NVMe/TCP through nvme-cli (the real data path).
    #[default]
    Nvme,
    /// A loop device over the simulator's backing file (root, same machine).
    Loop,
    /// The simulator's HTTPS data surface (no root).
    Sim,
    /// The ScaleIO Data Client's devices (`emc-vol-*`; powerflex.mode=sdc).
    Sdc,
}

impl ConnectorChoice {
    /// Every choice, in display order.
    pub const ALL: [ConnectorChoice; 4] =
        [ConnectorChoice::Nvme, ConnectorChoice::Loop, ConnectorChoice::Sim, ConnectorChoice::Sdc];

    /// The name used by `--connector` and `PFLEX_CONNECTOR`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorChoice::Nvme => "nvme",
            ConnectorChoice::Loop => "loop",
            ConnectorChoice::Sim => "sim",
            ConnectorChoice::Sdc => "sdc",
        }
    }
}

impl fmt::Display for ConnectorChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConnectorChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<ConnectorChoice, String> {
        ConnectorChoice::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("{s:?} is not a connector (expected nvme, loop, sim or sdc)"))
    }
}

/// Builds the chosen connector. `gateway` is how to reach the gateway (URL,
/// credentials, CA and TLS options, timeouts); `loop` and `sim` talk to the
/// simulator's admin surface with it, `nvme` ignores it.
pub fn build(choice: ConnectorChoice, gateway: &ClientOptions) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(match choice {
        ConnectorChoice::Nvme => Arc::new(NvmeConnector::new()),
        ConnectorChoice::Loop => Arc::new(LoopConnector::new(gateway)?),
        ConnectorChoice::Sim => Arc::new(SimConnector::new(gateway)?),
        ConnectorChoice::Sdc => Arc::new(SdcConnector::new()),
    })
}

/// A block device reached through some connector.
///
/// Reads and writes are positional and complete (`read_at` fills the whole
/// buffer). Optional capabilities have conservative defaults: no hole map,
/// zeroing by writing zeros, no kernel path.
pub trait BlockDevice: Send + Sync {
    /// The size in bytes.
    fn size(&self) -> io::Result<u64>;

    /// Reads exactly `buf.len()` bytes at `offset`.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;

    /// Writes all of `buf` at `offset`.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;

    /// Makes written data durable.
    fn flush(&self) -> io::Result<()>;

    /// The kernel device path, when the device is one (e.g. `/dev/nvme1n3`).
    fn path(&self) -> Option<&Path> {
        None
    }

    /// The ranges inside `range` that may hold data; everything else reads as
    /// zeros. `None` means the device cannot tell (treat all as data).
    fn data_ranges(&self, range: Range<u64>) -> io::Result<Option<Vec<Range<u64>>>> {
        let _ = range;
        Ok(None)
    }

    /// Makes `len` bytes at `offset` read as zeros.
    fn write_zeroes(&self, offset: u64, len: u64) -> io::Result<()> {
        write_zero_chunks(self, offset, len)
    }
}

/// Makes `len` bytes at `offset` read as zeros by writing zeros, a MiB at a time: what every
/// device can do, and the fallback when it cannot punch holes.
pub(crate) fn write_zero_chunks<D: BlockDevice + ?Sized>(device: &D, offset: u64, len: u64) -> io::Result<()> {
    const CHUNK: u64 = 1 << 20;
    let zeros = vec![0u8; CHUNK.min(len) as usize];
    let mut done = 0;
    while done < len {
        let n = CHUNK.min(len - done) as usize;
        device.write_at(&zeros[..n], offset + done)?;
        done += n as u64;
    }
    Ok(())
}

/// Deallocates `len` bytes at `offset` of an open file or device so they read as zeros.
/// False when the filesystem or device cannot (the caller then writes zeros).
pub(crate) fn punch_hole(fd: std::os::unix::io::RawFd, offset: u64, len: u64) -> io::Result<bool> {
    let invalid = |_| io::Error::from(io::ErrorKind::InvalidInput);
    let (o, l) = (libc::off_t::try_from(offset).map_err(invalid)?, libc::off_t::try_from(len).map_err(invalid)?);
    // SAFETY: fallocate on a descriptor the caller keeps open for the duration of the call.
    let r = unsafe { libc::fallocate(fd, libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE, o, l) };
    Ok(r == 0)
}

/// Which connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorKind {
    /// NVMe/TCP through the real nvme-cli.
    Nvme,
    /// A loop device over the simulator's backing file.
    Loop,
    /// The simulator's HTTPS data surface.
    Sim,
    /// The ScaleIO Data Client's `emc-vol-` devices.
    Sdc,
    /// Anything else (tests, harnesses).
    Other(&'static str),
}

/// Where the volumes are served from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Target addresses (bare IPs).
    pub addresses: Vec<IpAddr>,
    /// The system ID (part of the NGUID and of the subsystem NQN).
    pub system_id: String,
    /// The system's NVMe subsystem NQN, when the gateway reports one.
    pub system_nqn: Option<String>,
    /// This host's NQN.
    pub host_nqn: String,
    /// This host's ID for nvme-cli (`--hostid`), the server UUID.
    pub host_id: String,
}

/// The volume a connector is asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRef {
    /// The array's volume ID (PowerFlex: 16 hex characters; Alletra: the name,
    /// which is how the WSAPI addresses volumes).
    pub id: String,
    /// The array name.
    pub name: String,
    /// The size in bytes.
    pub size: u64,
    /// The NVMe namespace's NGUID when the array reports it (Alletra); PowerFlex's
    /// derives from the volume and system IDs.
    pub nguid: Option<String>,
    /// The SCSI WWN when the array reports it (Alletra, for iSCSI devices).
    pub wwn: Option<String>,
}

/// A connector failure.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// Kernel modules the connector needs are missing.
    #[error("the NVMe/TCP kernel modules are not loaded: {} (try: modprobe {})", .0.join(", "), .0.join(" "))]
    ModulesMissing(Vec<String>),
    /// A command could not be started.
    #[error("cannot run {command}: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        source: io::Error,
    },
    /// A command failed.
    #[error("{command} failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// Its standard error.
        stderr: String,
    },
    /// No target address gave a usable discovery log record.
    #[error("no NVMe/TCP discovery log record from any target address ({addresses})")]
    NoDiscoveryRecord {
        /// The addresses tried.
        addresses: String,
    },
    /// No connection to any target address succeeded.
    #[error("cannot connect to subsystem {nqn} at any of {addresses}: {last_error}")]
    ConnectFailed {
        /// The subsystem NQN.
        nqn: String,
        /// The addresses tried.
        addresses: String,
        /// The last failure.
        last_error: String,
    },
    /// The device did not appear in time.
    #[error("timeout after {waited:?} waiting for the device of volume {volume_id} to appear")]
    DeviceTimeout {
        /// The volume ID.
        volume_id: String,
        /// How long it waited.
        waited: Duration,
    },
    /// The device did not go away in time after unmapping.
    #[error("timeout after {waited:?} waiting for the device of volume {volume_id} to disappear")]
    StillPresent {
        /// The volume ID.
        volume_id: String,
        /// How long it waited.
        waited: Duration,
    },
    /// I/O on the device or sysfs.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// The simulator's admin surface refused or failed a request.
    #[error("simulator admin surface: {context}: {source}")]
    Admin {
        /// What was being done.
        context: String,
        /// The gateway's answer.
        source: ClientError,
    },
    /// The host cannot use this connector (not root, no loop support, wrong data plane).
    #[error("the {connector} connector cannot run here: {reason}")]
    Unavailable {
        /// The connector.
        connector: &'static str,
        /// Why, and what to do.
        reason: String,
    },
    /// Anything else a connector reports.
    #[error("{0}")]
    Other(String),
}

/// Polls `lookup` every `poll` until it finds the volume's device, then opens it; a
/// [`ConnectorError::DeviceTimeout`] after `timeout`. For connectors whose devices appear on
/// their own once mapped (`nvme`, `sdc`).
pub(crate) async fn open_when_present(
    lookup: impl Fn() -> Option<PathBuf>,
    volume_id: &str,
    timeout: Duration,
    poll: Duration,
) -> Result<Box<dyn BlockDevice>, ConnectorError> {
    let start = std::time::Instant::now();
    loop {
        if let Some(path) = lookup() {
            let dev = FileDevice::open(&path)
                .map_err(|source| ConnectorError::Io { context: format!("opening {}", path.display()), source })?;
            return Ok(Box::new(dev));
        }
        if start.elapsed() >= timeout {
            return Err(ConnectorError::DeviceTimeout { volume_id: volume_id.to_string(), waited: start.elapsed() });
        }
        tokio::time::sleep(poll.min(timeout)).await;
    }
}

/// Polls `lookup` every `poll` until the volume's device is gone; a
/// [`ConnectorError::StillPresent`] after `timeout`.
pub(crate) async fn wait_absent(
    lookup: impl Fn() -> Option<PathBuf>,
    volume_id: &str,
    timeout: Duration,
    poll: Duration,
) -> Result<(), ConnectorError> {
    let start = std::time::Instant::now();
    while lookup().is_some() {
        if start.elapsed() >= timeout {
            return Err(ConnectorError::StillPresent { volume_id: volume_id.to_string(), waited: start.elapsed() });
        }
        tokio::time::sleep(poll.min(timeout)).await;
    }
    Ok(())
}

/// Reaches mapped volumes from this host.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Which connector this is.
    fn kind(&self) -> ConnectorKind;

    /// Checks that the host can use this connector (modules, tools).
    async fn check(&self) -> Result<(), ConnectorError>;

    /// Establishes the session to the target after a volume was mapped.
    /// Returns `true` when a new session was made (so a revert should undo it).
    async fn connect(&self, target: &Target) -> Result<bool, ConnectorError>;

    /// Waits up to `timeout` for the volume's device and opens it.
    async fn open(
        &self,
        target: &Target,
        volume: &VolumeRef,
        timeout: Duration,
    ) -> Result<Box<dyn BlockDevice>, ConnectorError>;

    /// The kernel device of a volume, if it is present now (no waiting).
    async fn device_path(
        &self,
        target: &Target,
        volume: &VolumeRef,
    ) -> Result<Option<std::path::PathBuf>, ConnectorError>;

    /// Before the volume is unmapped from this host: lets go of what the
    /// connector set up for it on the host (the `loop` connector detaches its
    /// loop device). Open [`BlockDevice`]s of the volume must be dropped first.
    /// Default: nothing (NVMe namespaces go away with the mapping).
    async fn release(&self, target: &Target, volume: &VolumeRef) -> Result<(), ConnectorError> {
        let _ = (target, volume);
        Ok(())
    }

    /// After the volume was unmapped: waits up to `timeout` for its device to go.
    async fn wait_gone(&self, target: &Target, volume: &VolumeRef, timeout: Duration) -> Result<(), ConnectorError>;

    /// Tears the session down; called when the host has no mapping left.
    async fn disconnect(&self, target: &Target) -> Result<(), ConnectorError>;

    /// The ScaleIO Data Client's GUID when this connector goes through one (`sdc`): what
    /// names this host on the MDM in `powerflex.mode=sdc`. Default: none.
    async fn sdc_guid(&self) -> Result<Option<String>, ConnectorError> {
        Ok(None)
    }
}
