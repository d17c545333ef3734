//! VLUN templates: one export per host (or host set, or port) and LUN, with LUN auto-assignment
//! (reference §1.8).

use super::commands::{ExportTo, NewVlun, Plan, Reply};
use super::effects::Effect;
use super::fault::Fault;
use super::objects::{ExportTarget, PortPos, SetKind, TaskKind, Vlun};
use super::topology::{MAX_LUN, MAX_NVME_LUN};
use super::{hosts, sets, volumes, Model};

/// The target a `hostname` names (`set:<name>` for a host set) and whether it is an NVMe host.
fn target(model: &Model, to: Option<&ExportTo>) -> Result<(ExportTarget, bool), Fault> {
    Ok(match to {
        None => (ExportTarget::Port, false),
        Some(ExportTo::Host(name)) => {
            let h = hosts::existing(model, name)?;
            (ExportTarget::Host(h.id), h.nqn.is_some())
        }
        Some(ExportTo::HostSet(name)) => (ExportTarget::HostSet(sets::existing(model, SetKind::Host, name)?.id), false),
    })
}

/// Whether `lun` of `target` is taken by an export of another volume.
fn lun_taken(model: &Model, target: ExportTarget, lun: u32, volume: u32) -> bool {
    let at = model.index.vluns_of_target.get(&target).and_then(|m| m.get(&lun));
    at.into_iter().flatten().any(|id| model.vluns[id].volume != volume)
}

/// The lowest LUN in `first..=last` no export of `target` uses.
fn free_lun(model: &Model, target: ExportTarget, first: u32, last: u32) -> Option<u32> {
    if first > last {
        return None;
    }
    let mut candidate = first;
    if let Some(by_lun) = model.index.vluns_of_target.get(&target) {
        for lun in by_lun.range(first..=last).map(|(l, _)| *l) {
            if lun > candidate {
                break;
            }
            candidate = lun + 1;
        }
    }
    (candidate <= last).then_some(candidate)
}

pub(super) fn create(model: &Model, new: &NewVlun, now: u64) -> Result<Plan, Fault> {
    let v = volumes::existing(model, &new.volume)?;
    if new.to.is_none() && new.port.is_none() {
        return Err(Fault::missing_required().with_ref("hostname"));
    }
    if let Some(pos) = new.port {
        model.port(pos).ok_or_else(Fault::non_existent_port)?;
    }
    let (target, nvme) = target(model, new.to.as_ref())?;
    if model.busy_tasks(v.id).any(|t| t.kind == TaskKind::PhysicalCopy && t.destination == v.id) {
        return Err(Fault::vlun_pcopy_target());
    }
    // The same volume, target and port again: LXD takes code 29 for "already exported".
    if model.volume_vluns(v.id).any(|e| e.target == target && e.port == new.port) {
        return Err(Fault::already_exported());
    }
    // An NVMe LUN is the namespace id: 1 to 256, never 0.
    let (lowest, highest) = if nvme { (1, MAX_NVME_LUN) } else { (0, MAX_LUN) };
    let lun = if new.auto_lun {
        let last = if new.max_auto_lun == 0 { highest } else { new.max_auto_lun.min(highest) };
        free_lun(model, target, new.lun.max(lowest), last).ok_or_else(Fault::auto_lun_unavailable)?
    } else {
        if new.lun > MAX_LUN {
            return Err(Fault::too_large().with_ref("lun"));
        }
        if !(lowest..=highest).contains(&new.lun) {
            return Err(Fault::exceeds_range().with_ref("lun"));
        }
        if lun_taken(model, target, new.lun, v.id) {
            return Err(Fault::existent_lun());
        }
        new.lun
    };
    let vlun = Vlun { id: model.seq.vlun.max(1), volume: v.id, lun, target, port: new.port, creation_time: now };
    Ok(Plan::new(vec![Effect::VlunCreated(Box::new(vlun))], Reply::Vlun { lun }))
}

/// `DELETE /vluns/<vol>,<lun>,<host>[,<n:s:p>]`; an empty host part names a port VLUN.
pub(super) fn delete(
    model: &Model,
    volume: &str,
    lun: u32,
    host: Option<&str>,
    port: Option<PortPos>,
) -> Result<Plan, Fault> {
    let to = host.map(|h| match h.strip_prefix("set:") {
        Some(set) => ExportTo::HostSet(set.to_string()),
        None => ExportTo::Host(h.to_string()),
    });
    let (target, _) = target(model, to.as_ref())?;
    let v = volumes::existing(model, volume).map_err(|_| Fault::non_existent_vlun())?;
    let found = model.volume_vluns(v.id).find(|e| e.lun == lun && e.target == target && e.port == port);
    let vlun = found.ok_or_else(Fault::non_existent_vlun)?;
    Ok(Plan::done(vec![Effect::VlunDeleted { vlun: vlun.id }]))
}
