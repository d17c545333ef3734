//! Statistics, derived from the counters the model keeps and, where bytes exist, from what
//! the data plane measured (passed in as a `Measure`, so the model still does no I/O).
//!
//! Statistics come out as named values because clients ask for them by name
//! (`querySelectedStatistics`); the names are PowerFlex's own, typos included. Rendering them
//! is the gateway's job. Each object type with statistics has one function here.

mod capacity;

pub use capacity::{domain, pool, system};

use super::ids::Id;
use super::objects::{Provisioning, Volume};
use super::Model;

/// One statistic's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Stat {
    Int(u64),
    Float(f64),
    Text(&'static str),
    Bool(bool),
    Ids(Vec<Id>),
    /// A value the real system leaves null here (no reservation holder, say).
    Null,
    /// An I/O rate counter; idle, since the simulator measures no I/O rates.
    Rate,
}

pub type Stats = Vec<(&'static str, Stat)>;

/// Net KiB the data plane holds for a volume; `None` where it keeps no bytes for it.
pub type Measure<'a> = &'a dyn Fn(Id) -> Option<u64>;

/// Net KiB of a volume's addresses that hold data: a thick base volume reserves all of its
/// size; a thin volume or snapshot holds what the data plane allocated (nothing without one).
fn provisioned_kb(v: &Volume, measure: Measure) -> u64 {
    if !v.is_snapshot && v.provisioning == Provisioning::Thick {
        return v.size_kb;
    }
    measure(v.id).unwrap_or(0).min(v.size_kb)
}

/// Without a data plane nothing is written.
fn no_bytes(_: Id) -> Option<u64> {
    None
}

/// The rate counters of a volume and of an SDC (goscaleio `VolumeStatistics`, `SdcStatistics`).
const USER_DATA_RATES: [&str; 6] = [
    "userDataReadBwc",
    "userDataWriteBwc",
    "userDataTrimBwc",
    "userDataSdcReadLatency",
    "userDataSdcWriteLatency",
    "userDataSdcTrimLatency",
];

/// A volume's statistics: relatives, mappings, its address space and what it holds
/// (CloudStack reads `netProvisionedAddressesInKb` as the volume's physical size).
/// O(members of its VTree).
pub fn volume(model: &Model, id: Id, measure: Option<Measure>) -> Stats {
    use Stat::*;
    let Some(v) = model.volume(id) else { return vec![] };
    let children = model.children(id);
    let descendants = model.descendants(id);
    let hosts: Vec<Id> = v.mappings.iter().map(|m| m.host).collect();
    let mut stats = vec![
        ("numOfChildVolumes", Int(children.len() as u64)),
        ("childVolumeIds", Ids(children)),
        ("numOfDescendantVolumes", Int(descendants.len() as u64)),
        ("descendantVolumeIds", Ids(descendants)),
        ("numOfMappedSdcs", Int(hosts.len() as u64)),
        ("mappedSdcIds", Ids(hosts)),
        ("numOfMappedScsiInitiators", Int(0)),
        ("volumeAddressSpaceInKb", Int(v.size_kb)),
        ("netProvisionedAddressesInKb", Int(provisioned_kb(v, measure.unwrap_or(&no_bytes)))),
        // No SCSI reservations and no replication are modelled.
        ("initiatorSdcId", Null),
        ("registrationKey", Null),
        ("registrationKeys", Ids(vec![])),
        ("reservationType", Text("NotReserved")),
        ("replicationState", Text("UnmarkedForReplication")),
        ("replicationJournalVolume", Bool(false)),
        ("rplTotalJournalCap", Int(0)),
        ("rplUsedJournalCap", Int(0)),
    ];
    stats.extend(USER_DATA_RATES.iter().map(|name| (*name, Rate)));
    stats
}

/// A VTree's statistics (cinder reads `numOfVolumes`; CloudStack `netProvisionedAddressesInKb`
/// as the physical size of the tree's volume). O(members).
pub fn vtree(model: &Model, id: Id, measure: Option<Measure>) -> Stats {
    use Stat::*;
    let measure = measure.unwrap_or(&no_bytes);
    let (mut base_kb, mut base_held, mut snap_held) = (0, 0, 0);
    let members: Vec<Id> = model.vtree_volumes(id).map(|v| v.id).collect();
    for v in model.vtree_volumes(id) {
        if v.is_snapshot {
            snap_held += provisioned_kb(v, measure);
        } else {
            base_kb += v.size_kb;
            base_held += provisioned_kb(v, measure);
        }
    }
    vec![
        ("numOfVolumes", Int(members.len() as u64)),
        ("volumeIds", Ids(members)),
        ("baseNetCapacityInUseInKb", Int(base_held)),
        ("snapNetCapacityInUseInKb", Int(snap_held)),
        ("netCapacityInUseInKb", Int(base_held + snap_held)),
        ("trimmedCapacityInKb", Int(0)),
        ("volumeAddressSpaceInKb", Int(base_kb)),
        ("netProvisionedAddressesInKb", Int(base_held + snap_held)),
    ]
}

/// An SDC's or NVMe host's statistics (goscaleio `SdcStatistics`). O(its mappings).
pub fn host(model: &Model, id: Id) -> Stats {
    let Some(h) = model.host(id) else { return vec![] };
    let mut stats = vec![
        ("numOfMappedVolumes", Stat::Int(h.volumes.len() as u64)),
        ("volumeIds", Stat::Ids(h.volumes.iter().copied().collect())),
    ];
    stats.extend(USER_DATA_RATES.iter().map(|name| (*name, Stat::Rate)));
    stats
}

/// An SDT's statistics. No NVMe/TCP connections are counted.
pub fn sdt(_model: &Model, _id: Id) -> Stats {
    vec![("numOfConnectedHosts", Stat::Int(0))]
}

/// A snapshot policy's statistics: its source volumes and the auto snapshots it took.
pub fn snapshot_policy(model: &Model, id: Id) -> Stats {
    use Stat::*;
    let sources: Vec<Id> = model.policy(id).map(|p| p.sources.iter().copied().collect()).unwrap_or_default();
    let autos: Vec<Id> = model.policy_auto_snapshots(id).collect();
    vec![
        ("numOfSrcVols", Int(sources.len() as u64)),
        ("srcVolIds", Ids(sources)),
        ("numOfAutoSnapshots", Int(autos.len() as u64)),
        ("autoSnapshotVolIds", Ids(autos)),
        // Locked auto snapshots are not modelled.
        ("numOfExpiredButLockedSnapshots", Int(0)),
        ("expiredButLockedSnapshotsIds", Ids(vec![])),
    ]
}
