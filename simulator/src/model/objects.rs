//! The objects the MDM keeps: plain data, no behaviour beyond small helpers.
//!
//! These derive serde only so that `persist` can write them to the state directory; the
//! gateway's wire shapes live in `gateway::render`, not here.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::ids::Id;
use super::settings::{DomainSettings, IpRole, PoolSettings};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct System {
    pub id: Id,
    pub name: Option<String>,
    /// The NVMe subsystem NQN clients see for this system.
    pub system_nqn: String,
    pub version_info: String,
    pub install_id: Id,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProtectionDomain {
    pub id: Id,
    pub name: String,
    pub pools: BTreeSet<Id>,
    pub sdts: BTreeSet<Id>,
    /// Volumes (snapshots included) in all pools of this domain, for the per-PD limit.
    pub volume_count: u64,
    #[serde(default)]
    pub settings: DomainSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoragePool {
    pub id: Id,
    pub name: String,
    pub protection_domain: Id,
    pub media_type: String,
    pub zero_padding: bool,
    /// Raw capacity of the pool's devices (both mirror copies), KiB.
    pub max_capacity_kb: u64,
    pub spare_percentage: u64,
    pub usage: PoolUsage,
    /// The pool's volumes and snapshots, so listing one pool does not scan the system.
    #[serde(default)]
    pub volumes: BTreeSet<Id>,
    #[serde(default)]
    pub settings: PoolSettings,
}

/// Counters kept up to date on every change, so statistics cost O(1).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PoolUsage {
    pub volumes: u64,
    pub snapshots: u64,
    pub vtrees: u64,
    pub thin_base_volumes: u64,
    pub thick_base_volumes: u64,
    /// Nominal size of thin volumes and their snapshots (one copy), KiB.
    pub thin_allocated_kb: u64,
    /// Nominal size of thick volumes and their snapshots (one copy), KiB.
    pub thick_allocated_kb: u64,
    pub snapshot_allocated_kb: u64,
    pub mapped_volumes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sdt {
    pub id: Id,
    pub name: String,
    pub protection_domain: Id,
    pub ips: Vec<String>,
    pub storage_port: u16,
    pub nvme_port: u16,
    pub discovery_port: u16,
    /// Roles of the addresses that are not `StorageAndHost` (the default role).
    #[serde(default)]
    pub ip_roles: std::collections::BTreeMap<String, IpRole>,
    #[serde(default)]
    pub in_maintenance: bool,
}

impl Sdt {
    pub fn role(&self, ip: &str) -> IpRole {
        self.ip_roles.get(ip).copied().unwrap_or(IpRole::StorageAndHost)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Provisioning {
    Thin,
    Thick,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessMode {
    ReadWrite,
    ReadOnly,
    NoAccess,
}

impl AccessMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessMode::ReadWrite => "ReadWrite",
            AccessMode::ReadOnly => "ReadOnly",
            AccessMode::NoAccess => "NoAccess",
        }
    }

    pub const ALL: [AccessMode; 3] = [AccessMode::ReadWrite, AccessMode::ReadOnly, AccessMode::NoAccess];

    /// Exact names only, as the gateway's enum check takes them.
    pub fn parse_exact(s: &str) -> Option<AccessMode> {
        AccessMode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn parse(s: &str) -> Option<AccessMode> {
        match s.to_ascii_lowercase().as_str() {
            "readwrite" => Some(AccessMode::ReadWrite),
            "readonly" => Some(AccessMode::ReadOnly),
            "noaccess" => Some(AccessMode::NoAccess),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub id: Id,
    pub name: Option<String>,
    pub size_kb: u64,
    pub pool: Id,
    pub vtree: Id,
    /// The volume this one is a snapshot of; `None` for a base volume.
    pub ancestor: Option<Id>,
    /// The snapshot group (`snapshotGroupId`) that created this snapshot.
    pub consistency_group: Option<Id>,
    pub is_snapshot: bool,
    pub provisioning: Provisioning,
    pub creation_time: u64,
    pub access_mode_limit: AccessMode,
    pub use_rmcache: bool,
    /// The NVMe namespace id this volume takes in every host's subsystem.
    pub nsid: u32,
    pub mappings: Vec<Mapping>,
    /// A secure snapshot cannot be removed before this time (seconds); 0: not secure.
    #[serde(default)]
    pub secure_snapshot_exp_time: u64,
    /// The expiry set when the snapshot was made secure, before any delay.
    #[serde(default)]
    pub original_expiry_time: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub host: Id,
    pub access_mode: AccessMode,
    pub limit_iops: u64,
    pub limit_bw_mbps: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VTree {
    pub id: Id,
    pub pool: Id,
    pub provisioning: Provisioning,
    /// Every volume of the tree, the base volume and all snapshots.
    pub members: BTreeSet<Id>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostKind {
    /// A ScaleIO Data Client, known by GUID and IP.
    Sdc {
        guid: String,
        ip: String,
        /// Whether the SDC is connected to the MDM; a connected SDC cannot be removed.
        #[serde(default = "connected")]
        connected: bool,
        #[serde(default)]
        perf_profile: PerfProfile,
    },
    /// An NVMe/TCP host, known by its NQN.
    Nvme { nqn: String, max_num_paths: u32, max_num_sys_ports: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    pub id: Id,
    pub name: Option<String>,
    pub kind: HostKind,
    pub volumes: BTreeSet<Id>,
}

fn connected() -> bool {
    true
}

/// An SDC's performance profile (`setSdcPerformanceParameters`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PerfProfile {
    #[default]
    HighPerformance,
    Compact,
}

impl PerfProfile {
    pub const ALL: [PerfProfile; 2] = [PerfProfile::Compact, PerfProfile::HighPerformance];

    pub fn as_str(self) -> &'static str {
        match self {
            PerfProfile::HighPerformance => "HighPerformance",
            PerfProfile::Compact => "Compact",
        }
    }

    /// Exact names only, as the gateway's enum check takes them.
    pub fn parse(s: &str) -> Option<PerfProfile> {
        PerfProfile::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl Host {
    pub fn nqn(&self) -> Option<&str> {
        match &self.kind {
            HostKind::Nvme { nqn, .. } => Some(nqn),
            HostKind::Sdc { .. } => None,
        }
    }
}
