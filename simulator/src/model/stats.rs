//! Capacity statistics, derived from the counters the model keeps.
//!
//! PowerFlex mirrors every block, so "raw" figures count two copies and `net*` figures one
//! (reference §2.3: cinder and CloudStack both rely on raw = 2 × net). Statistics come out as
//! named values because clients ask for them by name (`querySelectedStatistics`).

use super::ids::Id;
use super::limits::{self, GRANULARITY_KB};
use super::objects::StoragePool;
use super::Model;

/// One statistic's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Stat {
    Int(u64),
    Float(f64),
    Text(&'static str),
    Ids(Vec<Id>),
}

pub type Stats = Vec<(&'static str, Stat)>;

/// Net KiB actually written to thin volumes and snapshots of each pool, as the data plane
/// measures it; zero without a data plane.
#[derive(Debug, Clone, Copy, Default)]
pub struct Written {
    pub thin_kb: u64,
    pub snapshot_kb: u64,
}

pub fn pool(model: &Model, pool: &StoragePool, written: Written, with_ids: bool) -> Stats {
    use Stat::*;
    let u = &pool.usage;
    let spare = pool.max_capacity_kb / 100 * pool.spare_percentage;
    let net_max = (pool.max_capacity_kb - spare) / 2;
    let net_in_use = (u.thick_allocated_kb + written.thin_kb + written.snapshot_kb).min(net_max);
    let net_unused = net_max - net_in_use;
    let address_space = u.thin_allocated_kb + u.thick_allocated_kb;
    let vac = address_space + u.snapshot_allocated_kb;
    let mut stats: Stats = vec![
        ("maxCapacityInKb", Int(pool.max_capacity_kb)),
        ("capacityLimitInKb", Int(pool.max_capacity_kb)),
        ("spareCapacityInKb", Int(spare)),
        ("capacityInUseInKb", Int(net_in_use * 2)),
        ("netCapacityInUseInKb", Int(net_in_use)),
        ("unusedCapacityInKb", Int(net_unused * 2)),
        ("netUnusedCapacityInKb", Int(net_unused)),
        ("maxUserDataCapacityInKb", Int(net_max * 2)),
        ("netMaxUserDataCapacityInKb", Int(net_max)),
        ("netUserDataCapacityInKb", Int(net_in_use)),
        ("capacityAvailableForVolumeAllocationInKb", Int(net_unused / GRANULARITY_KB * GRANULARITY_KB)),
        ("volumeAllocationLimitInKb", Int(limits::ALL_VOLUMES_IN_SP_SIZE_GB * 1024 * 1024)),
        ("thinCapacityAllocatedInKb", Int(u.thin_allocated_kb * 2)),
        ("thinCapacityAllocatedInKm", Int(u.thin_allocated_kb * 2)),
        ("thinCapacityInUseInKb", Int(written.thin_kb * 2)),
        ("thickCapacityInUseInKb", Int(u.thick_allocated_kb * 2)),
        ("snapCapacityInUseInKb", Int(written.snapshot_kb * 2)),
        ("snapCapacityInUseOccupiedInKb", Int(written.snapshot_kb * 2)),
        ("snapshotCapacityInKb", Int(written.snapshot_kb * 2)),
        ("volumeAddressSpaceInKb", Int(address_space)),
        ("vtreeAddresSpaceInKb", Int(address_space)),
        ("primaryVacInKb", Int(vac)),
        ("secondaryVacInKb", Int(vac)),
        ("inUseVacInKb", Int(vac * 2)),
        ("protectedVacInKb", Int(vac * 2)),
        ("failedCapacityInKb", Int(0)),
        ("degradedHealthyCapacityInKb", Int(0)),
        ("degradedFailedCapacityInKb", Int(0)),
        ("numOfVolumes", Int(u.volumes)),
        ("numOfSnapshots", Int(u.snapshots)),
        ("numOfVtrees", Int(u.vtrees)),
        ("numOfThinBaseVolumes", Int(u.thin_base_volumes)),
        ("numOfThickBaseVolumes", Int(u.thick_base_volumes)),
        ("numOfMappedToAllVolumes", Int(0)),
        ("numOfUnmappedVolumes", Int(u.volumes - u.mapped_volumes)),
        ("numOfVolumesInDeletion", Int(0)),
        ("numOfDevices", Int(3)),
        ("thinAndSnapshotRatio", Text("Infinity")),
        ("overallUsageRatio", Text("Infinity")),
        ("compressionRatio", Float(0.0)),
    ];
    if with_ids {
        // Lists cost O(volumes in the pool); only the full statistics object carries them.
        stats.push(("volumeIds", Ids(model.pool_volumes(pool.id).map(|v| v.id).collect())));
        let mut trees: Vec<Id> = model.vtrees().filter(|t| t.pool == pool.id).map(|t| t.id).collect();
        trees.sort();
        stats.push(("vtreeIds", Ids(trees)));
        // No SDS or device objects are modelled (their lists are empty too); the keys are
        // there because the reference's sample carries them.
        stats.push(("deviceIds", Ids(vec![])));
        stats.push(("spSdsIds", Ids(vec![])));
    }
    stats
}

/// Per-volume statistics: relatives and mappings.
pub fn volume(model: &Model, id: Id) -> Stats {
    use Stat::*;
    let v = model.volume(id).expect("caller checked");
    let children = model.children(id);
    let descendants = model.descendants(id);
    let hosts: Vec<Id> = v.mappings.iter().map(|m| m.host).collect();
    vec![
        ("numOfChildVolumes", Int(children.len() as u64)),
        ("childVolumeIds", Ids(children)),
        ("numOfDescendantVolumes", Int(descendants.len() as u64)),
        ("descendantVolumeIds", Ids(descendants)),
        ("numOfMappedSdcs", Int(hosts.len() as u64)),
        ("mappedSdcIds", Ids(hosts)),
        ("numOfMappedScsiInitiators", Int(0)),
    ]
}

/// Per-VTree statistics (cinder reads `numOfVolumes`; CloudStack `netProvisionedAddressesInKb`).
pub fn vtree(model: &Model, id: Id, written_kb: u64) -> Stats {
    use Stat::*;
    let members: Vec<Id> = model.vtree_volumes(id).map(|v| v.id).collect();
    let base_kb: u64 = model.vtree_volumes(id).filter(|v| !v.is_snapshot).map(|v| v.size_kb).sum();
    vec![
        ("numOfVolumes", Int(members.len() as u64)),
        ("volumeIds", Ids(members)),
        ("baseNetCapacityInUseInKb", Int(written_kb)),
        ("snapNetCapacityInUseInKb", Int(0)),
        ("netCapacityInUseInKb", Int(written_kb)),
        ("trimmedCapacityInKb", Int(0)),
        ("netProvisionedAddressesInKb", Int(base_kb)),
    ]
}
