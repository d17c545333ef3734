//! Volumes as every array's driver addresses them, and what operations on
//! them take and give back.
//!
//! A [`Volume`] is a type, a content type, a UUID and a snapshot flag; each
//! array derives its own name from it (`powerflex::naming::PowerFlexName`,
//! `alletra::naming::AlletraName`). A virtual machine's block volume brings
//! its filesystem volume (its companion) along.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::blockcopy::CopyStats;
use crate::connector::BlockDevice;
use crate::naming::{ContentType, VolumeType};

/// Default wait for a device to appear after mapping.
pub const DEVICE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default wait for a device to disappear after unmapping.
pub const GONE_TIMEOUT: Duration = Duration::from_secs(10);

/// A volume or snapshot as the driver addresses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Volume {
    /// What it belongs to.
    pub vtype: VolumeType,
    /// What it holds.
    pub content: ContentType,
    /// Its UUID (a snapshot has its own).
    pub uuid: Uuid,
    /// Whether it is a snapshot.
    pub snapshot: bool,
}

impl Volume {
    /// A volume.
    pub fn new(vtype: VolumeType, content: ContentType, uuid: Uuid) -> Volume {
        Volume { vtype, content, uuid, snapshot: false }
    }

    /// A snapshot of this volume with its own UUID.
    pub fn snapshot(&self, uuid: Uuid) -> Volume {
        Volume { uuid, snapshot: true, ..*self }
    }

    /// A virtual machine's filesystem volume, for its block volume.
    pub fn companion(&self) -> Option<Volume> {
        (self.vtype == VolumeType::VirtualMachine && self.content == ContentType::Block)
            .then_some(Volume { content: ContentType::Filesystem, ..*self })
    }

    /// The volume and its companion, in that order.
    pub fn parts(&self) -> Vec<Volume> {
        std::iter::once(*self).chain(self.companion()).collect()
    }
}

/// How to create a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateOptions {
    /// Requested size in bytes (each array rounds or checks it its way).
    pub size: u64,
    /// Thick provisioning (`block.type=thick`); thin otherwise.
    pub thick: bool,
}

/// A volume as the array reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeInfo {
    /// The array's ID (PowerFlex: 16 hex characters; Alletra: its number).
    pub id: String,
    /// Array name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// PowerFlex: `ThinProvisioned`, `ThickProvisioned` or `Snapshot`; Alletra:
    /// `tpvv`, `full` or `snapshot`.
    pub provisioning: String,
    /// VTree ID (PowerFlex).
    pub vtree_id: Option<String>,
    /// The volume this is a snapshot of.
    pub ancestor_id: Option<String>,
    /// Creation time, epoch seconds.
    pub created: Option<i64>,
    /// The hosts it is mapped to (PowerFlex host IDs, Alletra host names).
    pub mapped_hosts: Vec<String>,
    /// What the name says, for names this driver made.
    pub parsed: Option<Volume>,
}

/// Pool capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolUsage {
    /// Total bytes.
    pub total: u64,
    /// Used bytes.
    pub used: u64,
}

/// A volume attached to this host.
pub struct Attachment {
    /// The array's volume ID (PowerFlex) or name (Alletra).
    pub volume_id: String,
    /// The device.
    pub device: Box<dyn BlockDevice>,
    /// Whether this attach created the mapping (false: it was already mapped).
    pub newly_mapped: bool,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("volume_id", &self.volume_id)
            .field("path", &self.device.path())
            .field("newly_mapped", &self.newly_mapped)
            .finish()
    }
}

impl Attachment {
    /// The kernel device path, if the connector gives one.
    pub fn path(&self) -> Option<PathBuf> {
        self.device.path().map(|p| p.to_path_buf())
    }
}

/// What to copy.
#[derive(Debug, Clone)]
pub struct CopyRequest {
    /// The source volume (may itself be a snapshot).
    pub source: Volume,
    /// Source snapshots to copy along, oldest first.
    pub source_snapshots: Vec<Volume>,
    /// The new volume.
    pub target: Volume,
    /// The new volume's snapshots, one per source snapshot, same order.
    pub target_snapshots: Vec<Volume>,
    /// Requested size; the copy is at least as large as the source.
    pub size: Option<u64>,
    /// Thick provisioning for a host copy.
    pub thick: bool,
}

/// How a copy was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CopyMethod {
    /// A PowerFlex snapshot in the source's VTree.
    Snapshot,
    /// A new volume filled by a host-side block copy.
    HostCopy,
    /// A new volume filled by the array (Alletra `createPhysicalCopy` tasks).
    PhysicalCopy,
}

/// The outcome of a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// How it was made.
    pub method: CopyMethod,
    /// Block copy figures, summed over passes (zero for snapshot copies).
    pub stats: CopyStats,
    /// How many block copy passes ran.
    pub passes: usize,
}
