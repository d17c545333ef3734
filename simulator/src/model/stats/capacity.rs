//! Capacity statistics of pools, protection domains and the system, from the counters the
//! model keeps and what the data plane measured.
//!
//! PowerFlex mirrors every block, so "raw" figures count two copies and `net*` figures one
//! (reference §2.3: cinder and CloudStack both rely on raw = 2 × net). A domain's or the
//! system's figures are its pools' figures added up, then derived the same way.

use std::collections::BTreeSet;

use super::{provisioned_kb, Measure, Stat, Stats};
use crate::model::ids::Id;
use crate::model::limits::{self, GRANULARITY_KB};
use crate::model::objects::{Provisioning, StoragePool};
use crate::model::Model;

/// The figures every capacity statistic derives from. KiB are one copy unless named raw.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Capacity {
    raw_kb: u64,
    spare_kb: u64,
    net_max_kb: u64,
    thin_allocated_kb: u64,
    thick_allocated_kb: u64,
    snapshot_allocated_kb: u64,
    /// What the data plane holds for thin base volumes and for snapshots.
    thin_written_kb: u64,
    snapshot_written_kb: u64,
    volumes: u64,
    snapshots: u64,
    vtrees: u64,
    thin_base_volumes: u64,
    thick_base_volumes: u64,
    mapped_volumes: u64,
    devices: u64,
}

impl Capacity {
    /// O(1) from the pool's counters, plus O(volumes in the pool) when a data plane measures.
    pub(super) fn of_pool(model: &Model, pool: &StoragePool, measure: Option<Measure>) -> Capacity {
        let u = &pool.usage;
        let spare_kb = pool.max_capacity_kb / 100 * pool.spare_percentage;
        let mut c = Capacity {
            raw_kb: pool.max_capacity_kb,
            spare_kb,
            net_max_kb: (pool.max_capacity_kb - spare_kb) / 2,
            thin_allocated_kb: u.thin_allocated_kb,
            thick_allocated_kb: u.thick_allocated_kb,
            snapshot_allocated_kb: u.snapshot_allocated_kb,
            volumes: u.volumes,
            snapshots: u.snapshots,
            vtrees: u.vtrees,
            thin_base_volumes: u.thin_base_volumes,
            thick_base_volumes: u.thick_base_volumes,
            mapped_volumes: u.mapped_volumes,
            devices: model.pool_devices(pool.id).count() as u64,
            ..Capacity::default()
        };
        if let Some(measure) = measure {
            for v in model.pool_volumes(pool.id) {
                match (v.is_snapshot, v.provisioning) {
                    (true, _) => c.snapshot_written_kb += provisioned_kb(v, measure),
                    (false, Provisioning::Thin) => c.thin_written_kb += provisioned_kb(v, measure),
                    (false, Provisioning::Thick) => {}
                }
            }
        }
        c
    }

    /// The figures of several pools together.
    pub(super) fn sum<'p>(
        model: &Model,
        pools: impl Iterator<Item = &'p StoragePool>,
        measure: Option<Measure>,
    ) -> Capacity {
        pools.map(|p| Capacity::of_pool(model, p, measure)).fold(Capacity::default(), |a, b| Capacity {
            raw_kb: a.raw_kb + b.raw_kb,
            spare_kb: a.spare_kb + b.spare_kb,
            net_max_kb: a.net_max_kb + b.net_max_kb,
            thin_allocated_kb: a.thin_allocated_kb + b.thin_allocated_kb,
            thick_allocated_kb: a.thick_allocated_kb + b.thick_allocated_kb,
            snapshot_allocated_kb: a.snapshot_allocated_kb + b.snapshot_allocated_kb,
            thin_written_kb: a.thin_written_kb + b.thin_written_kb,
            snapshot_written_kb: a.snapshot_written_kb + b.snapshot_written_kb,
            volumes: a.volumes + b.volumes,
            snapshots: a.snapshots + b.snapshots,
            vtrees: a.vtrees + b.vtrees,
            thin_base_volumes: a.thin_base_volumes + b.thin_base_volumes,
            thick_base_volumes: a.thick_base_volumes + b.thick_base_volumes,
            mapped_volumes: a.mapped_volumes + b.mapped_volumes,
            devices: a.devices + b.devices,
        })
    }

    /// Every capacity, count and ratio statistic, then the idle counters and rates.
    pub(super) fn stats(&self, pools: u64) -> Stats {
        use Stat::*;
        let c = self;
        // Net KiB whose addresses hold data: thick volumes all of theirs, thin volumes and
        // snapshots what was written.
        let provisioned = c.thick_allocated_kb + c.thin_written_kb + c.snapshot_written_kb;
        let in_use = provisioned.min(c.net_max_kb);
        let unused = c.net_max_kb - in_use;
        let address_space = c.thin_allocated_kb + c.thick_allocated_kb;
        let vac = address_space + c.snapshot_allocated_kb;
        let thin_written = c.thin_written_kb + c.snapshot_written_kb;
        let ratio = |allocated: u64, used: u64| {
            if used == 0 {
                Text("Infinity")
            } else {
                Float(allocated as f64 / used as f64)
            }
        };
        let mut stats: Stats = vec![
            ("maxCapacityInKb", Int(c.raw_kb)),
            ("capacityLimitInKb", Int(c.raw_kb)),
            ("spareCapacityInKb", Int(c.spare_kb)),
            ("maxUserDataCapacityInKb", Int(c.net_max_kb * 2)),
            ("netMaxUserDataCapacityInKb", Int(c.net_max_kb)),
            ("capacityInUseInKb", Int(in_use * 2)),
            ("netCapacityInUseInKb", Int(in_use)),
            ("capacityInUseNoOverheadInKb", Int(in_use * 2)),
            ("netCapacityInUseNoOverheadInKb", Int(in_use)),
            ("protectedCapacityInKb", Int(in_use * 2)),
            ("atRestCapacityInKb", Int(in_use * 2)),
            ("unusedCapacityInKb", Int(unused * 2)),
            ("netUnusedCapacityInKb", Int(unused)),
            ("capacityAvailableForVolumeAllocationInKb", Int(unused / GRANULARITY_KB * GRANULARITY_KB)),
            ("userDataCapacityInKb", Int(in_use * 2)),
            ("netUserDataCapacityInKb", Int(in_use)),
            ("userDataCapacityNoTrimInKb", Int(in_use * 2)),
            ("netUserDataCapacityNoTrimInKb", Int(in_use)),
            // Every pool is medium granularity: all user data is MG data.
            ("mgUserDdataCcapacityInKb", Int(in_use * 2)),
            ("netMgUserDataCapacityInKb", Int(in_use)),
            ("thinUserDataCapacityInKb", Int(c.thin_written_kb * 2)),
            ("netThinUserDataCapacityInKb", Int(c.thin_written_kb)),
            ("volumeAllocationLimitInKb", Int(limits::ALL_VOLUMES_IN_SP_SIZE_GB * 1024 * 1024 * pools)),
            ("thinCapacityAllocatedInKb", Int(c.thin_allocated_kb * 2)),
            ("thinCapacityAllocatedInKm", Int(c.thin_allocated_kb * 2)),
            ("thinCapacityInUseInKb", Int(c.thin_written_kb * 2)),
            ("thickCapacityInUseInKb", Int(c.thick_allocated_kb * 2)),
            ("snapCapacityInUseInKb", Int(c.snapshot_written_kb * 2)),
            ("snapCapacityInUseOccupiedInKb", Int(c.snapshot_written_kb * 2)),
            ("snapshotCapacityInKb", Int(c.snapshot_written_kb * 2)),
            ("netSnapshotCapacityInKb", Int(c.snapshot_written_kb)),
            ("volumeAddressSpaceInKb", Int(address_space)),
            ("vtreeAddresSpaceInKb", Int(address_space)),
            ("provisionedAddressesInKb", Int(provisioned * 2)),
            ("netProvisionedAddressesInKb", Int(provisioned)),
            ("primaryVacInKb", Int(vac)),
            ("secondaryVacInKb", Int(vac)),
            ("inUseVacInKb", Int(vac * 2)),
            ("protectedVacInKb", Int(vac * 2)),
            ("numOfVolumes", Int(c.volumes)),
            ("numOfSnapshots", Int(c.snapshots)),
            ("numOfVtrees", Int(c.vtrees)),
            ("numOfThinBaseVolumes", Int(c.thin_base_volumes)),
            ("numOfThickBaseVolumes", Int(c.thick_base_volumes)),
            ("numOfUnmappedVolumes", Int(c.volumes - c.mapped_volumes)),
            ("numOfDevices", Int(c.devices)),
            ("thinAndSnapshotRatio", ratio(c.thin_allocated_kb + c.snapshot_allocated_kb, thin_written)),
            ("overallUsageRatio", ratio(vac, provisioned)),
            ("compressionRatio", Float(0.0)),
            ("compressedDataCompressionRatio", Float(0.0)),
            ("aggregateCompressionLevel", Text("Uncompressed")),
            // No checksum is ever being built: the builder is done.
            ("persistentChecksumBuilderProgress", Float(100.0)),
            ("migratingVtreeIds", Ids(vec![])),
            ("migratingVolumeIds", Ids(vec![])),
        ];
        stats.extend(IDLE_COUNTERS.iter().map(|name| (*name, Int(0))));
        stats.extend(RATES.iter().map(|name| (*name, Rate)));
        stats
    }
}

/// A storage pool's statistics (every property PyPowerFlex 1.14 and 2.0 ask by default).
/// O(volumes in the pool), for the id lists.
pub fn pool(model: &Model, pool: &StoragePool, measure: Option<Measure>) -> Stats {
    let mut stats = Capacity::of_pool(model, pool, measure).stats(1);
    let volumes: Vec<Id> = model.pool_volumes(pool.id).map(|v| v.id).collect();
    let vtrees: BTreeSet<Id> = model.pool_volumes(pool.id).map(|v| v.vtree).collect();
    stats.push(("volumeIds", Stat::Ids(volumes)));
    stats.push(("vtreeIds", Stat::Ids(vtrees.into_iter().collect())));
    stats.push(("deviceIds", Stat::Ids(model.pool_devices(pool.id).map(|d| d.id).collect())));
    // Per-pool SDS memberships (`SpSds`) are not modelled; their relationship is empty too.
    stats.push(("spSdsIds", Stat::Ids(vec![])));
    stats
}

/// A protection domain's statistics: its pools' figures together, and its pools and SDTs.
pub fn domain(model: &Model, pd: Id, measure: Option<Measure>) -> Stats {
    let Some(d) = model.domain(pd) else { return vec![] };
    let pools = d.pools.iter().filter_map(|p| model.pool(*p));
    let mut stats = Capacity::sum(model, pools, measure).stats(d.pools.len() as u64);
    stats.push(("numOfStoragePools", Stat::Int(d.pools.len() as u64)));
    stats.push(("storagePoolIds", Stat::Ids(d.pools.iter().copied().collect())));
    stats.push(("numOfSdt", Stat::Int(d.sdts.len() as u64)));
    stats.push(("sdtIds", Stat::Ids(d.sdts.iter().copied().collect())));
    let sdss: Vec<Id> = model.sdss().filter(|s| s.protection_domain == pd).map(|s| s.id).collect();
    stats.push(("numOfSds", Stat::Int(sdss.len() as u64)));
    stats.push(("sdsIds", Stat::Ids(sdss)));
    let fault_sets: Vec<Id> = model.fault_sets().filter(|f| f.protection_domain == pd).map(|f| f.id).collect();
    stats.push(("numOfFaultSets", Stat::Int(fault_sets.len() as u64)));
    stats.push(("faultSetIds", Stat::Ids(fault_sets)));
    stats
}

/// The system's statistics: every pool's figures together, and the object counts.
pub fn system(model: &Model, measure: Option<Measure>) -> Stats {
    let pools = model.pools().count() as u64;
    let mut stats = Capacity::sum(model, model.pools(), measure).stats(pools);
    stats.push(("numOfProtectionDomains", Stat::Int(model.domains().count() as u64)));
    stats.push(("protectionDomainIds", Stat::Ids(model.domains().map(|d| d.id).collect())));
    stats.push(("numOfStoragePools", Stat::Int(pools)));
    stats.push(("numOfSdc", Stat::Int(model.hosts().count() as u64)));
    stats.push(("numOfSdt", Stat::Int(model.sdts().count() as u64)));
    stats.push(("numOfSds", Stat::Int(model.sdss().count() as u64)));
    stats.push(("numOfFaultSets", Stat::Int(model.fault_sets().count() as u64)));
    stats
}

/// I/O rate counters (`{totalWeightInKb, numOccured, numSeconds}` objects): idle, the
/// simulator measures no I/O.
const RATES: &[&str] = &[
    "bckRebuildReadBwc",
    "bckRebuildWriteBwc",
    "enterProtectedMaintenanceModeReadBwc",
    "enterProtectedMaintenanceModeWriteBwc",
    "exitProtectedMaintenanceModeReadBwc",
    "exitProtectedMaintenanceModeWriteBwc",
    "fwdRebuildReadBwc",
    "fwdRebuildWriteBwc",
    "normRebuildReadBwc",
    "normRebuildWriteBwc",
    "primaryReadBwc",
    "primaryReadFromDevBwc",
    "primaryReadFromRmcacheBwc",
    "primaryWriteBwc",
    "rebalanceReadBwc",
    "rebalanceWriteBwc",
    "secondaryReadBwc",
    "secondaryReadFromDevBwc",
    "secondaryReadFromRmcacheBwc",
    "secondaryWriteBwc",
    "targetOtherLatency",
    "targetReadLatency",
    "targetWriteLatency",
    "totalReadBwc",
    "totalWriteBwc",
    "userDataReadBwc",
    "userDataSdcReadLatency",
    "userDataSdcTrimLatency",
    "userDataSdcWriteLatency",
    "userDataTrimBwc",
    "userDataWriteBwc",
    "volMigrationReadBwc",
    "volMigrationWriteBwc",
];
/// Counters of activity the simulator never has: rebuild, rebalance and maintenance jobs and
/// their capacities, failed or degraded capacity, RAM and flash caches, the background scanner,
/// replication journals, fine-granularity data (pools are medium granularity), migrations
/// (`migrateVTree` completes at once) and removals in progress. All zero.
const IDLE_COUNTERS: &[&str] = &[
    "BackgroundScannedInMB",
    "activeBckRebuildCapacityInKb",
    "activeEnterProtectedMaintenanceModeCapacityInKb",
    "activeExitProtectedMaintenanceModeCapacityInKb",
    "activeFwdRebuildCapacityInKb",
    "activeMovingCapacityInKb",
    "activeMovingInBckRebuildJobs",
    "activeMovingInEnterProtectedMaintenanceModeJobs",
    "activeMovingInExitProtectedMaintenanceModeJobs",
    "activeMovingInFwdRebuildJobs",
    "activeMovingInNormRebuildJobs",
    "activeMovingInRebalanceJobs",
    "activeMovingOutBckRebuildJobs",
    "activeMovingOutEnterProtectedMaintenanceModeJobs",
    "activeMovingOutExitProtectedMaintenanceModeJobs",
    "activeMovingOutFwdRebuildJobs",
    "activeMovingOutNormRebuildJobs",
    "activeMovingRebalanceJobs",
    "activeNormRebuildCapacityInKb",
    "activeRebalanceCapacityInKb",
    "backgroundScanCompareErrorCount",
    "backgroundScanFixedCompareErrorCount",
    "backgroundScanFixedReadErrorCount",
    "backgroundScanReadErrorCount",
    "bckRebuildCapacityInKb",
    "currentFglMigrationSizeInKb",
    "degradedFailedCapacityInKb",
    "degradedFailedVacInKb",
    "degradedHealthyCapacityInKb",
    "degradedHealthyVacInKb",
    "enterProtectedMaintenanceModeCapacityInKb",
    "exposedCapacityInKb",
    "failedCapacityInKb",
    "failedVacInKb",
    "fglCompressedDataSizeInKb",
    "fglSparesInKb",
    "fglUncompressedDataSizeInKb",
    "fglUserDataCapacityInKb",
    "fwdRebuildCapacityInKb",
    "inMaintenanceCapacityInKb",
    "inMaintenanceVacInKb",
    "inaccessibleCapacityInKb",
    "logWrittenBlocksInKb",
    "metadataOverheadInKb",
    "movingCapacityInKb",
    "netFglCompressedDataSizeInKb",
    "netFglSparesInKb",
    "netFglUncompressedDataSizeInKb",
    "netFglUserDataCapacityInKb",
    "netMetadataOverheadInKb",
    "netTrimmedUserDataCapacityInKb",
    "normRebuildCapacityInKb",
    "numOfDeviceAtFaultRebuilds",
    "numOfIncomingVtreeMigrations",
    "numOfMappedToAllVolumes",
    "numOfMarkedVolumesForReplication",
    "numOfMigratingVolumes",
    "numOfMigratingVtrees",
    "numOfOutgoingMigrations",
    "numOfReplicationJournalVolumes",
    "numOfVolumesInDeletion",
    "pendingBckRebuildCapacityInKb",
    "pendingEnterProtectedMaintenanceModeCapacityInKb",
    "pendingExitProtectedMaintenanceModeCapacityInKb",
    "pendingFwdRebuildCapacityInKb",
    "pendingMovingCapacityInKb",
    "pendingMovingInBckRebuildJobs",
    "pendingMovingInEnterProtectedMaintenanceModeJobs",
    "pendingMovingInExitProtectedMaintenanceModeJobs",
    "pendingMovingInFwdRebuildJobs",
    "pendingMovingInNormRebuildJobs",
    "pendingMovingInRebalanceJobs",
    "pendingMovingOutBckRebuildJobs",
    "pendingMovingOutEnterProtectedMaintenanceModeJobs",
    "pendingMovingOutExitProtectedMaintenanceModeJobs",
    "pendingMovingOutFwdRebuildJobs",
    "pendingMovingOutNormrebuildJobs",
    "pendingMovingRebalanceJobs",
    "pendingNormRebuildCapacityInKb",
    "pendingRebalanceCapacityInKb",
    "persistentChecksumCapacityInKb",
    "rebalanceCapacityInKb",
    "rfacheReadHit",
    "rfacheWriteHit",
    "rfcacheAvgReadTime",
    "rfcacheAvgWriteTime",
    "rfcacheIoErrors",
    "rfcacheIosOutstanding",
    "rfcacheIosSkipped",
    "rfcacheReadMiss",
    "rfcacheReadsFromCache",
    "rfcacheReadsPending",
    "rfcacheReadsReceived",
    "rfcacheReadsSkipped",
    "rfcacheReadsSkippedAlignedSizeTooLarge",
    "rfcacheReadsSkippedHeavyLoad",
    "rfcacheReadsSkippedInternalError",
    "rfcacheReadsSkippedLockIos",
    "rfcacheReadsSkippedLowResources",
    "rfcacheReadsSkippedMaxIoSize",
    "rfcacheReadsSkippedStuckIo",
    "rfcacheSkippedUnlinedWrite",
    "rfcacheSourceDeviceReads",
    "rfcacheSourceDeviceWrites",
    "rfcacheWriteMiss",
    "rfcacheWritePending",
    "rfcacheWritesReceived",
    "rfcacheWritesSkippedCacheMiss",
    "rfcacheWritesSkippedHeavyLoad",
    "rfcacheWritesSkippedInternalError",
    "rfcacheWritesSkippedLowResources",
    "rfcacheWritesSkippedMaxIoSize",
    "rfcacheWritesSkippedStuckIo",
    "rmPendingAllocatedInKb",
    "rmPendingThickInKb",
    "rplJournalCapAllowed",
    "rplTotalJournalCap",
    "rplUsedJournalCap",
    "semiProtectedCapacityInKb",
    "semiProtectedVacInKb",
    "tempCapacityInKb",
    "tempCapacityVacInKb",
    "totalFglMigrationSizeInKb",
    "trimmedUserDataCapacityInKb",
    "unreachableUnusedCapacityInKb",
];
