//! Statistics of SDSs, devices and fault sets, derived from the model.
//!
//! Neither PyPowerFlex 2.0.1 nor 1.14.1 lists default properties for these types (their
//! `query_selected_statistics` takes the caller's list), so the names are the capacity counters
//! every storage object reports (goscaleio `types.Statistics`) plus the object's id lists.
//! A device's share of its pool's reservations is proportional to its capacity; I/O rates are
//! not measured: the bandwidth counters are idle rates.

use super::ids::Id;
use super::inventory::Device;
use super::stats::{Stat, Stats};
use super::Model;

/// Raw KiB a device carries of its pool's thick reservations (both copies), by capacity share.
fn in_use_kb(model: &Model, d: &Device) -> u64 {
    let pool = model.pool(d.pool).expect("a device's pool exists");
    if pool.max_capacity_kb == 0 {
        return 0;
    }
    let raw = u128::from(pool.usage.thick_allocated_kb) * 2;
    (raw * u128::from(d.capacity_kb) / u128::from(pool.max_capacity_kb)) as u64
}

/// Capacity counters summed over `devices`.
fn capacity<'a>(model: &Model, devices: impl Iterator<Item = &'a Device>) -> Stats {
    use Stat::*;
    let (mut max, mut used, mut spare, mut n, mut ids) = (0, 0, 0, 0, Vec::new());
    for d in devices {
        let pool = model.pool(d.pool).expect("a device's pool exists");
        max += d.capacity_kb;
        used += in_use_kb(model, d);
        spare += d.capacity_kb / 100 * pool.spare_percentage;
        n += 1;
        ids.push(d.id);
    }
    vec![
        ("maxCapacityInKb", Int(max)),
        ("capacityLimitInKb", Int(max)),
        ("capacityInUseInKb", Int(used)),
        ("thickCapacityInUseInKb", Int(used)),
        ("thinCapacityInUseInKb", Int(0)),
        ("snapCapacityInUseInKb", Int(0)),
        ("snapCapacityInUseOccupiedInKb", Int(0)),
        ("unusedCapacityInKb", Int(max.saturating_sub(used + spare))),
        ("spareCapacityInKb", Int(spare)),
        ("failedCapacityInKb", Int(0)),
        ("degradedHealthyCapacityInKb", Int(0)),
        ("degradedFailedCapacityInKb", Int(0)),
        ("numOfDevices", Int(n)),
        ("deviceIds", Ids(ids)),
        ("totalReadBwc", Rate),
        ("totalWriteBwc", Rate),
        ("primaryReadBwc", Rate),
        ("primaryWriteBwc", Rate),
        ("secondaryReadBwc", Rate),
        ("secondaryWriteBwc", Rate),
    ]
}

pub fn sds(model: &Model, id: Id) -> Stats {
    use Stat::*;
    let mut stats = capacity(model, model.sds_devices(id));
    let mut pools: Vec<Id> = model.sds_devices(id).map(|d| d.pool).collect();
    pools.sort();
    pools.dedup();
    stats.push(("numOfStoragePools", Int(pools.len() as u64)));
    stats.push(("numOfRfcacheDevices", Int(0)));
    stats.push(("rfcacheDeviceIds", Ids(vec![])));
    stats
}

pub fn device(model: &Model, id: Id) -> Stats {
    let d = model.device(id).expect("caller checked");
    capacity(model, std::iter::once(d))
}

pub fn fault_set(model: &Model, id: Id) -> Stats {
    use Stat::*;
    let sdss: Vec<Id> = model.fault_set_sdss(id).map(|s| s.id).collect();
    let mut stats = capacity(model, model.devices().filter(|d| sdss.contains(&d.sds)));
    stats.push(("numOfSds", Int(sdss.len() as u64)));
    stats.push(("sdsIds", Ids(sdss)));
    stats
}
