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
//! Connectors know nothing about the gateway client or volume naming; the
//! driver hands them a [`Target`] and a [`VolumeRef`].

pub mod file;
pub mod nvme;

use std::io;
use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;

pub use file::FileDevice;

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
        const CHUNK: u64 = 1 << 20;
        let zeros = vec![0u8; CHUNK.min(len) as usize];
        let mut done = 0;
        while done < len {
            let n = CHUNK.min(len - done) as usize;
            self.write_at(&zeros[..n], offset + done)?;
            done += n as u64;
        }
        Ok(())
    }
}

/// Which connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorKind {
    /// NVMe/TCP through the real nvme-cli.
    Nvme,
    /// Anything else (loop devices, the emulator's data surface, tests).
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
    /// The gateway volume ID (16 hex characters).
    pub id: String,
    /// The array name.
    pub name: String,
    /// The size in bytes.
    pub size: u64,
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
    /// Anything else a connector reports.
    #[error("{0}")]
    Other(String),
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

    /// After the volume was unmapped: waits up to `timeout` for its device to go.
    async fn wait_gone(&self, target: &Target, volume: &VolumeRef, timeout: Duration) -> Result<(), ConnectorError>;

    /// Tears the session down; called when the host has no mapping left.
    async fn disconnect(&self, target: &Target) -> Result<(), ConnectorError>;
}
