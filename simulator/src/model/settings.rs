//! The settings clients change on protection domains, storage pools and SDT addresses.
//!
//! They are plain data kept on the objects (`ProtectionDomain::settings`,
//! `StoragePool::settings`, `Sdt::ip_roles`); the rules that change them live in `domains`,
//! `pools` and `sdts`. Each defaults to what a freshly created object shows on a real 4.x system
//! (reference §2.2, §2.3), so a state saved before these settings existed loads unchanged.

use serde::{Deserialize, Serialize};

use super::layout::{Compression, DataLayout};

/// A protection domain's state and network throttling (`setSdsNetworkLimits`) and RF cache
/// parameters (`setRfcacheParameters`, `enable/disableSdsRfcache`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DomainSettings {
    /// `protectionDomainState`: Active, or Inactive after `inactivateProtectionDomain`.
    pub active: bool,
    /// KiB/s limits; `None` is "unlimited" (rendered `null`, `...ThrottlingEnabled` false).
    pub rebuild_limit_kbps: Option<u64>,
    pub rebalance_limit_kbps: Option<u64>,
    pub vtree_migration_limit_kbps: Option<u64>,
    pub overall_limit_kbps: Option<u64>,
    pub rfcache_enabled: bool,
    pub rfcache_page_size_kb: u64,
    pub rfcache_max_io_size_kb: u64,
    /// `rfcacheOpertionalMode` (sic on the wire).
    pub rfcache_mode: String,
}

impl Default for DomainSettings {
    fn default() -> DomainSettings {
        DomainSettings {
            active: true,
            rebuild_limit_kbps: None,
            rebalance_limit_kbps: None,
            vtree_migration_limit_kbps: None,
            overall_limit_kbps: None,
            rfcache_enabled: true,
            rfcache_page_size_kb: 64,
            rfcache_max_io_size_kb: 128,
            rfcache_mode: "WriteMiss".to_string(),
        }
    }
}

/// One I/O priority policy of a pool (`set...IoPriorityPolicy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoPriority {
    /// `unlimited`, `limitNumOfConcurrentIos` or `favorAppIos`.
    pub policy: String,
    pub concurrent_ios_per_device: u64,
    pub bw_limit_per_device_kbps: u64,
}

impl IoPriority {
    fn new(policy: &str) -> IoPriority {
        IoPriority { policy: policy.to_string(), concurrent_ios_per_device: 1, bw_limit_per_device_kbps: 10240 }
    }
}

/// A storage pool's settings beyond name, media type, zero padding and spare percentage
/// (which the pool has kept from the start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PoolSettings {
    /// Fixed at creation.
    pub data_layout: DataLayout,
    /// `Invalid` on medium-granularity pools; `None` or `Normal` on fine-granularity ones.
    pub compression_method: Compression,
    pub use_rmcache: bool,
    pub use_rfcache: bool,
    pub rmcache_write_handling_mode: String,
    pub checksum_enabled: bool,
    pub fragmentation_enabled: bool,
    pub rebuild_enabled: bool,
    pub rebalance_enabled: bool,
    /// `numOfParallelRebuildRebalanceJobsPerDevice`.
    pub parallel_rebuild_rebalance_jobs: u64,
    pub capacity_alert_high_percent: u64,
    pub capacity_alert_critical_percent: u64,
    pub replication_journal_capacity_max_ratio: u64,
    pub persistent_checksum_enabled: bool,
    pub persistent_checksum_validate_on_read: bool,
    pub persistent_checksum_builder_limit_kb: u64,
    pub rebuild_io_priority: IoPriority,
    pub rebalance_io_priority: IoPriority,
    pub vtree_migration_io_priority: IoPriority,
    pub protected_maintenance_mode_io_priority: IoPriority,
}

impl Default for PoolSettings {
    fn default() -> PoolSettings {
        PoolSettings {
            data_layout: DataLayout::MediumGranularity,
            compression_method: Compression::Invalid,
            use_rmcache: false,
            use_rfcache: false,
            rmcache_write_handling_mode: "Cached".to_string(),
            checksum_enabled: false,
            fragmentation_enabled: true,
            rebuild_enabled: true,
            rebalance_enabled: true,
            parallel_rebuild_rebalance_jobs: 2,
            capacity_alert_high_percent: 80,
            capacity_alert_critical_percent: 90,
            replication_journal_capacity_max_ratio: 0,
            persistent_checksum_enabled: true,
            persistent_checksum_validate_on_read: false,
            persistent_checksum_builder_limit_kb: 3072,
            rebuild_io_priority: IoPriority::new("limitNumOfConcurrentIos"),
            rebalance_io_priority: IoPriority::new("favorAppIos"),
            vtree_migration_io_priority: IoPriority::new("favorAppIos"),
            protected_maintenance_mode_io_priority: IoPriority::new("limitNumOfConcurrentIos"),
        }
    }
}

/// What an SDT address serves. Only host-facing addresses listen for NVMe/TCP hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IpRole {
    StorageOnly,
    HostOnly,
    StorageAndHost,
}

impl IpRole {
    pub fn as_str(self) -> &'static str {
        match self {
            IpRole::StorageOnly => "StorageOnly",
            IpRole::HostOnly => "HostOnly",
            IpRole::StorageAndHost => "StorageAndHost",
        }
    }

    pub fn parse(s: &str) -> Option<IpRole> {
        [IpRole::StorageOnly, IpRole::HostOnly, IpRole::StorageAndHost]
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
    }

    pub fn serves_hosts(self) -> bool {
        self != IpRole::StorageOnly
    }
}
