//! Storage pools through the API: create, the settings clients change, remove.

use serde::{Deserialize, Serialize};

use super::commands::{Plan, Reply};
use super::domains::{self, next_id};
use super::effects::{seq_of, Effect};
use super::fault::Fault;
use super::ids::{Id, IdKind};
use super::layout::{Compression, DataLayout};
use super::objects::{PoolUsage, StoragePool};
use super::settings::{IoPriority, PoolSettings};
use super::{volumes, Model};

/// The storagePoolsPerProtectionDomain and storagePools limits of `querySystemLimits`.
const MAX_POOLS_PER_DOMAIN: usize = 64;
const MAX_POOLS: usize = 1024;

/// `POST /api/types/StoragePool/instances`; absent settings take a new pool's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPool {
    pub domain: Id,
    pub name: String,
    pub media_type: Option<String>,
    pub data_layout: Option<String>,
    pub compression_method: Option<String>,
    pub zero_padding: Option<bool>,
    pub spare_percentage: Option<u64>,
    pub use_rmcache: Option<bool>,
    pub use_rfcache: Option<bool>,
    pub checksum_enabled: Option<bool>,
    pub rmcache_write_handling_mode: Option<String>,
}

/// Which of a pool's I/O priority policies a `set...IoPriorityPolicy` call sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoPriorityKind {
    Rebuild,
    Rebalance,
    VTreeMigration,
    ProtectedMaintenanceMode,
}

/// A change to an existing pool, one per action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolChange {
    Rename(String),
    ZeroPadding(bool),
    SparePercentage(u64),
    RebuildEnabled(bool),
    RebalanceEnabled(bool),
    RebuildRebalanceParallelism(u64),
    UseRmcache(bool),
    UseRfcache(bool),
    ChecksumEnabled(bool),
    FragmentationEnabled(bool),
    MediaType(String),
    RmcacheWriteHandlingMode(String),
    CapacityAlertThresholds {
        high: Option<u64>,
        critical: Option<u64>,
    },
    IoPriority {
        kind: IoPriorityKind,
        policy: String,
        concurrent_ios: Option<u64>,
        bw_limit_kbps: Option<u64>,
    },
    ReplicationJournalCapacity(u64),
    CompressionMethod(String),
    /// `enablePersistentChecksum` / `modifyPersistentChecksum` (`enabled` absent: modify) and
    /// `disablePersistentChecksum`; absent values keep theirs.
    PersistentChecksum {
        enabled: Option<bool>,
        validate_on_read: Option<bool>,
        builder_limit_kb: Option<u64>,
    },
}

/// What `PoolConfigured` sets: everything about a pool a client can change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolConfig {
    pub name: String,
    pub media_type: String,
    pub zero_padding: bool,
    pub spare_percentage: u64,
    pub settings: PoolSettings,
}

pub(super) fn existing(model: &Model, id: Id) -> Result<&StoragePool, Fault> {
    model.pools.get(&id).ok_or_else(Fault::storage_pool_not_found)
}

/// Whether the pool has SDS devices. Pools come with their devices' capacity from the topology;
/// a pool created through the API has none until devices are added.
fn has_devices(model: &Model, pool: &StoragePool) -> bool {
    model.pool_devices(pool.id).next().is_some()
}

/// `value` spelled as one of `known`, matched without regard to case.
fn one_of(key: &str, value: &str, known: &[&str]) -> Result<String, Fault> {
    known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(value))
        .map(|k| k.to_string())
        .ok_or_else(|| Fault::invalid(format!("{key} {value:?}")))
}

fn media_type(value: &str) -> Result<String, Fault> {
    one_of("mediaType", value, &["HDD", "SSD", "Transitional"])
}

fn check_name(model: &Model, domain: Id, name: &str, renaming: Option<Id>) -> Result<(), Fault> {
    volumes::check_name_syntax(name)?;
    let clash = model.domains[&domain]
        .pools
        .iter()
        .filter_map(|p| model.pools.get(p))
        .any(|p| p.name == name && Some(p.id) != renaming);
    if clash {
        return Err(Fault::storage_pool_name_already_exists());
    }
    Ok(())
}

fn check_spare(percent: u64) -> Result<u64, Fault> {
    if percent > 99 {
        return Err(Fault::invalid_spare_percentage());
    }
    Ok(percent)
}

/// Medium-granularity pools have no compression (`Invalid`); fine-granularity ones `None` or
/// `Normal`.
fn compression(layout: DataLayout, value: Option<&str>) -> Result<Compression, Fault> {
    let asked = value
        .map(|v| Compression::parse(v).ok_or_else(|| Fault::invalid(format!("compressionMethod {v:?}"))))
        .transpose()?;
    match (layout, asked) {
        (DataLayout::MediumGranularity, None | Some(Compression::Invalid | Compression::None)) => {
            Ok(Compression::Invalid)
        }
        (DataLayout::MediumGranularity, Some(Compression::Normal)) => {
            Err(Fault::compression_only_for_fine_granularity())
        }
        (DataLayout::FineGranularity, None) => Ok(Compression::None),
        (DataLayout::FineGranularity, Some(Compression::Invalid)) => {
            Err(Fault::invalid(format!("compressionMethod {:?}", value.unwrap_or_default())))
        }
        (DataLayout::FineGranularity, Some(c)) => Ok(c),
    }
}

pub(super) fn create(model: &Model, new: &NewPool) -> Result<Plan, Fault> {
    let domain = domains::existing(model, new.domain)?;
    domains::check_active(model, new.domain)?;
    if domain.pools.len() >= MAX_POOLS_PER_DOMAIN {
        return Err(Fault::too_many_storage_pools_in_fd());
    }
    if model.pools.len() >= MAX_POOLS {
        return Err(Fault::too_many_storage_pools());
    }
    check_name(model, new.domain, &new.name, None)?;
    let mut settings = PoolSettings::default();
    if let Some(layout) = &new.data_layout {
        settings.data_layout =
            DataLayout::parse(layout).ok_or_else(|| Fault::invalid(format!("dataLayout {layout:?}")))?;
    }
    settings.compression_method = compression(settings.data_layout, new.compression_method.as_deref())?;
    // Fine-granularity pools always zero-pad.
    let fine = settings.data_layout == DataLayout::FineGranularity;
    let zero_padding = match (fine, new.zero_padding) {
        (true, Some(false)) => return Err(Fault::zero_padding_fixed_for_fine_granularity()),
        (true, _) => true,
        (false, zero) => zero.unwrap_or(true),
    };
    settings.use_rmcache = new.use_rmcache.unwrap_or(settings.use_rmcache);
    settings.use_rfcache = new.use_rfcache.unwrap_or(settings.use_rfcache);
    settings.checksum_enabled = new.checksum_enabled.unwrap_or(settings.checksum_enabled);
    if let Some(mode) = &new.rmcache_write_handling_mode {
        settings.rmcache_write_handling_mode = one_of("rmcacheWriteHandlingMode", mode, &["Cached", "Passthrough"])?;
    }
    let id = next_id(model, IdKind::StoragePool, model.seq.pool, model.pools.keys());
    let pool = StoragePool {
        id,
        name: new.name.clone(),
        protection_domain: new.domain,
        media_type: media_type(new.media_type.as_deref().unwrap_or("HDD"))?,
        zero_padding,
        max_capacity_kb: 0,
        spare_percentage: check_spare(new.spare_percentage.unwrap_or(10))?,
        usage: PoolUsage::default(),
        volumes: Default::default(),
        settings,
    };
    Ok(Plan::new(vec![Effect::PoolCreated(Box::new(pool))], Reply::Created(id)))
}

fn io_priority(
    kind: IoPriorityKind,
    current: &IoPriority,
    policy: &str,
    ios: Option<u64>,
    bw: Option<u64>,
) -> Result<IoPriority, Fault> {
    // Rebuilds cannot favour application I/O (PyPowerFlex offers no such choice for them).
    let known: &[&str] = match kind {
        IoPriorityKind::Rebuild => &["unlimited", "limitNumOfConcurrentIos"],
        _ => &["unlimited", "limitNumOfConcurrentIos", "favorAppIos"],
    };
    let policy = known.iter().find(|k| k.eq_ignore_ascii_case(policy)).ok_or_else(Fault::invalid_policy)?;
    let ios = ios.unwrap_or(current.concurrent_ios_per_device);
    if !(1..=20).contains(&ios) {
        return Err(Fault::invalid(format!("numOfConcurrentIosPerDevice {ios} (1 to 20)")));
    }
    let bw = bw.unwrap_or(current.bw_limit_per_device_kbps);
    if bw == 0 {
        return Err(Fault::invalid("bwLimitPerDeviceInKbps 0"));
    }
    Ok(IoPriority { policy: policy.to_string(), concurrent_ios_per_device: ios, bw_limit_per_device_kbps: bw })
}

pub(super) fn modify(model: &Model, id: Id, change: &PoolChange) -> Result<Plan, Fault> {
    let pool = existing(model, id)?;
    let mut c = PoolConfig {
        name: pool.name.clone(),
        media_type: pool.media_type.clone(),
        zero_padding: pool.zero_padding,
        spare_percentage: pool.spare_percentage,
        settings: pool.settings.clone(),
    };
    let fine = c.settings.data_layout == DataLayout::FineGranularity;
    let s = &mut c.settings;
    match change {
        PoolChange::Rename(name) => {
            check_name(model, pool.protection_domain, name, Some(id))?;
            c.name = name.clone();
        }
        // The padding policy is fixed once the pool has devices (an unchanged value is no change).
        PoolChange::ZeroPadding(on) if *on != c.zero_padding => {
            if fine {
                return Err(Fault::zero_padding_fixed_for_fine_granularity());
            }
            if has_devices(model, pool) {
                return Err(Fault::storage_pool_has_devs());
            }
            c.zero_padding = *on;
        }
        PoolChange::ZeroPadding(_) => {}
        PoolChange::SparePercentage(p) => c.spare_percentage = check_spare(*p)?,
        PoolChange::RebuildEnabled(on) => s.rebuild_enabled = *on,
        PoolChange::RebalanceEnabled(on) => s.rebalance_enabled = *on,
        PoolChange::RebuildRebalanceParallelism(n) => {
            if !(1..=10).contains(n) {
                return Err(Fault::invalid(format!("limit {n} (1 to 10)")));
            }
            s.parallel_rebuild_rebalance_jobs = *n;
        }
        PoolChange::UseRmcache(on) => s.use_rmcache = *on,
        PoolChange::UseRfcache(on) => s.use_rfcache = *on,
        PoolChange::ChecksumEnabled(on) => s.checksum_enabled = *on,
        PoolChange::FragmentationEnabled(on) => s.fragmentation_enabled = *on,
        PoolChange::MediaType(m) => c.media_type = media_type(m)?,
        PoolChange::RmcacheWriteHandlingMode(m) => {
            s.rmcache_write_handling_mode = one_of("rmcacheWriteHandlingMode", m, &["Cached", "Passthrough"])?;
        }
        PoolChange::CapacityAlertThresholds { high, critical } => {
            let high = high.unwrap_or(s.capacity_alert_high_percent);
            let critical = critical.unwrap_or(s.capacity_alert_critical_percent);
            if high == 0 || critical > 99 || high >= critical {
                return Err(Fault::invalid(format!(
                    "capacity alert thresholds {high}/{critical} (need 0 < high < critical < 100)"
                )));
            }
            (s.capacity_alert_high_percent, s.capacity_alert_critical_percent) = (high, critical);
        }
        PoolChange::IoPriority { kind, policy, concurrent_ios, bw_limit_kbps } => {
            let slot = match kind {
                IoPriorityKind::Rebuild => &mut s.rebuild_io_priority,
                IoPriorityKind::Rebalance => &mut s.rebalance_io_priority,
                IoPriorityKind::VTreeMigration => &mut s.vtree_migration_io_priority,
                IoPriorityKind::ProtectedMaintenanceMode => &mut s.protected_maintenance_mode_io_priority,
            };
            *slot = io_priority(*kind, slot, policy, *concurrent_ios, *bw_limit_kbps)?;
        }
        PoolChange::ReplicationJournalCapacity(ratio) => {
            if *ratio > 100 {
                return Err(Fault::invalid(format!("replicationJournalCapacityMaxRatio {ratio} (0 to 100)")));
            }
            s.replication_journal_capacity_max_ratio = *ratio;
        }
        PoolChange::PersistentChecksum { enabled, validate_on_read, builder_limit_kb } => {
            s.persistent_checksum_enabled = enabled.unwrap_or(s.persistent_checksum_enabled);
            s.persistent_checksum_validate_on_read = validate_on_read.unwrap_or(s.persistent_checksum_validate_on_read);
            let limit = builder_limit_kb.unwrap_or(s.persistent_checksum_builder_limit_kb);
            if !(1024..=10240).contains(&limit) {
                return Err(Fault::invalid(format!("builderLimitInKb {limit} (1024 to 10240)")));
            }
            s.persistent_checksum_builder_limit_kb = limit;
        }
        PoolChange::CompressionMethod(m) => {
            if !fine {
                return Err(Fault::compression_only_for_fine_granularity());
            }
            s.compression_method = compression(DataLayout::FineGranularity, Some(m))?;
        }
    }
    Ok(Plan::new(vec![Effect::PoolConfigured { pool: id, config: Box::new(c) }], Reply::Empty))
}

/// A pool goes only when it holds no volumes and no devices.
pub(super) fn remove(model: &Model, id: Id) -> Result<Plan, Fault> {
    let pool = existing(model, id)?;
    if !pool.volumes.is_empty() {
        return Err(Fault::storage_pool_has_vols());
    }
    if has_devices(model, pool) {
        return Err(Fault::storage_pool_has_devs());
    }
    Ok(Plan::new(vec![Effect::PoolRemoved { pool: id }], Reply::Empty))
}

pub(super) fn apply_created(model: &mut Model, pool: &StoragePool) {
    model.seq.pool = model.seq.pool.max(seq_of(pool.id) + 1);
    if let Some(d) = model.domains.get_mut(&pool.protection_domain) {
        d.pools.insert(pool.id);
    }
    model.pools.insert(pool.id, pool.clone());
}

pub(super) fn apply_configured(model: &mut Model, id: Id, config: &PoolConfig) {
    if let Some(p) = model.pools.get_mut(&id) {
        p.name = config.name.clone();
        p.media_type = config.media_type.clone();
        p.zero_padding = config.zero_padding;
        p.spare_percentage = config.spare_percentage;
        p.settings = config.settings.clone();
    }
}

pub(super) fn apply_removed(model: &mut Model, id: Id) {
    if let Some(p) = model.pools.remove(&id) {
        if let Some(d) = model.domains.get_mut(&p.protection_domain) {
            d.pools.remove(&id);
        }
    }
}
