//! Tuning a volume (action 6, reference §1.2 "Actions", §2 "Copies are tasks"): moving its user
//! or snapshot space to another CPG and converting its provisioning, as a task.
//!
//! The request is checked and the task started at once; the volume keeps what it is while the
//! task runs (busy, like a copy's volumes) and takes its new CPG, type and compression when the
//! task completes (`Tick`); a cancelled tune leaves it as it was. Converting a volume with
//! snapshots needs `keepVV`: the original, with its snapshots, is kept under that name as a new
//! volume (its own id and WWN, as the concepts guide says), made when the tune starts.

use super::commands::{Conversion, Plan, Reply, TuneCpg, VolumeTune};
use super::copies::{busy_refusal, start_task};
use super::effects::Effect;
use super::fault::Fault;
use super::objects::{Origin, Provisioning, TaskKind, TuneTarget, Volume};
use super::volumes::{base_volume, cpg_id, existing, BaseSpec};
use super::Model;

pub(super) fn tune(model: &Model, name: &str, tune: &VolumeTune, data_mib: u64, now: u64) -> Result<Plan, Fault> {
    let v = existing(model, name)?;
    if let Some(task) = model.busy_tasks(v.id).next() {
        return Err(busy_refusal(task, Fault::pcopy_in_progress));
    }
    if v.is_virtual_copy() {
        return Err(Fault::tune_non_base());
    }
    let target = target(model, v, tune)?;
    let mut effects = Vec::new();
    match &tune.keep_vv {
        Some(_) if !target.converts => return Err(Fault::param_conflict().with_ref("keepVV")),
        Some(keep) => effects.extend(kept(model, v, keep, now)?),
        None if target.converts && model.children(v.id).next().is_some() => {
            return Err(Fault::keep_vv_required().with_ref("keepVV"));
        }
        None => {}
    }
    let task = start_task(model, TaskKind::Tune(target), name, v, v.id, data_mib, None, now);
    let id = task.id;
    effects.push(Effect::TaskStarted(Box::new(task)));
    Ok(Plan::new(effects, Reply::Task(id)))
}

/// What the volume becomes, checked against the family, its current type and the space.
fn target(model: &Model, v: &Volume, tune: &VolumeTune) -> Result<TuneTarget, Fault> {
    let mut target = TuneTarget {
        user_cpg: v.user_cpg,
        snap_cpg: v.snap_cpg,
        provisioning: v.provisioning,
        compression: v.compression,
        converts: false,
    };
    match &tune.cpg {
        TuneCpg::User(c) => target.user_cpg = Some(cpg_id(model, c, "userCPG")?),
        // A conversion is of the user space: it has no meaning for a snapshot-space move.
        TuneCpg::Snap(_) if tune.conversion.is_some() || tune.compression.is_some() => {
            return Err(Fault::param_conflict().with_ref("conversionOperation"));
        }
        TuneCpg::Snap(c) => target.snap_cpg = Some(cpg_id(model, c, "snapCPG")?),
    }
    let (provisioning, compression) = match tune.conversion {
        None => (v.provisioning, tune.compression.unwrap_or(v.compression)),
        Some(Conversion::Full) => (Provisioning::Full, tune.compression.unwrap_or(false)),
        Some(Conversion::Thin) => (Provisioning::Thin, tune.compression.unwrap_or(false)),
        Some(Conversion::Dedup) => (Provisioning::Dedup, tune.compression.unwrap_or(false)),
        Some(Conversion::Deco) => (Provisioning::Dedup, true),
    };
    if provisioning == Provisioning::Full && compression {
        return Err(Fault::fpvv_compression());
    }
    if provisioning == Provisioning::Full && !model.limits.allows_full_volumes {
        return Err(Fault::bad_enum_value().with_ref("conversionOperation"));
    }
    if tune.conversion.is_some() && (provisioning, compression) == (v.provisioning, v.compression) {
        return Err(match provisioning {
            Provisioning::Full => Fault::vv_is_fpvv(),
            Provisioning::Thin => Fault::vv_is_tpvv(),
            Provisioning::Dedup => Fault::vv_is_tdvv(),
        });
    }
    target.provisioning = provisioning;
    target.compression = compression;
    target.converts = (provisioning, compression) != (v.provisioning, v.compression);
    // A full volume reserves its size in its user CPG: the new one must have the room.
    let moves_space = v.provisioning != Provisioning::Full || target.user_cpg != v.user_cpg;
    if provisioning == Provisioning::Full && moves_space {
        let free = target.user_cpg.and_then(|c| model.cpg(c)).map_or(0, |c| model.cpg_free_mib(c));
        if v.size_mib > free {
            return Err(Fault::no_space());
        }
    }
    Ok(target)
}

/// `keepVV`: a new base volume with the original's data, type and CPGs, and the original's
/// snapshots moved under it.
fn kept(model: &Model, v: &Volume, name: &str, now: u64) -> Result<Vec<Effect>, Fault> {
    let cpg = v.user_cpg.expect("a base volume has a user CPG");
    let spec = BaseSpec {
        name,
        cpg,
        snap_cpg: v.snap_cpg,
        size_mib: v.size_mib,
        provisioning: v.provisioning,
        compression: v.compression,
        origin: Origin::Base,
    };
    let keep = base_volume(model, spec, None, now)?;
    let mut effects = vec![Effect::ContentCopied { source: v.id, destination: keep.id }];
    for id in model.descendants(v.id) {
        let mut d = model.volume(id).expect("tree member").clone();
        if let Origin::VirtualCopy { parent, read_only } = d.origin {
            if parent == v.id {
                d.origin = Origin::VirtualCopy { parent: keep.id, read_only };
            }
        }
        d.base_id = keep.id;
        effects.push(Effect::VolumeChanged(Box::new(d)));
    }
    // The data plane makes the volume before it copies into it.
    effects.insert(0, Effect::VolumeCreated(Box::new(keep)));
    Ok(effects)
}

/// A completed tune: the volume as it is now, in its new CPGs and type.
pub(super) fn completed(model: &Model, volume: u32, target: TuneTarget) -> Option<Effect> {
    let v = model.volume(volume)?;
    let TuneTarget { user_cpg, snap_cpg, provisioning, compression, .. } = target;
    Some(Effect::VolumeChanged(Box::new(Volume { user_cpg, snap_cpg, provisioning, compression, ..v.clone() })))
}
