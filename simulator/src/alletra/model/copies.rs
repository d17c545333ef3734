//! Physical copies, online copies and promotes as tasks (tunes are `tune.rs`'s), and the passage of time (reference §1.4,
//! §1.10, §2 "Copies are tasks").
//!
//! A task's data work (`ContentCopied`) is an effect of the command that starts it, so the data
//! plane copies a point-in-time image at once; the task then reads ACTIVE until its due time,
//! proportional to the data and the configured rate, and `Tick` ends it. While it runs, the
//! volumes involved are busy.

use super::commands::{CopyMode, Plan, Reply};
use super::effects::Effect;
use super::fault::Fault;
use super::objects::{Origin, Task, TaskKind, TaskPriority, TaskStatus, Volume};
use super::volumes::{base_volume, cpg_id, existing, removable, BaseSpec};
use super::Model;

/// Task ids the WSAPI accepts: 1 to 65535 (the mock's bound).
const MAX_TASK_ID: i64 = 65_535;

#[allow(clippy::too_many_arguments)]
pub(super) fn start_task(
    model: &Model,
    kind: TaskKind,
    name: &str,
    source: &Volume,
    destination: u32,
    data_mib: u64,
    priority: Option<TaskPriority>,
    now: u64,
) -> Task {
    let total_mib = data_mib.min(source.size_mib);
    let rate = model.limits.copy_rate_mib_per_sec;
    // At least a second, so a client's first poll sees it ACTIVE; rate 0 ends it at the next request.
    let duration = if rate == 0 { 0 } else { total_mib.div_ceil(rate).max(1) };
    Task {
        id: model.seq.task.max(1),
        kind,
        name: name.to_string(),
        source: source.id,
        destination,
        status: TaskStatus::Active,
        priority,
        start_time: now,
        due_time: now + duration,
        finish_time: None,
        total_mib,
    }
}

fn started(mut effects: Vec<Effect>, task: Task) -> Plan {
    let id = task.id;
    effects.push(Effect::TaskStarted(Box::new(task)));
    Plan::new(effects, Reply::Task(id))
}

pub(super) fn copy(
    model: &Model,
    source: &str,
    destination: &str,
    mode: &CopyMode,
    data_mib: u64,
    now: u64,
) -> Result<Plan, Fault> {
    let src = existing(model, source)?;
    if source == destination {
        return Err(Fault::copy_to_self());
    }
    let origin = Origin::PhysicalCopy { parent: src.id };
    match mode {
        CopyMode::Offline { priority } => {
            let dst = existing(model, destination)?;
            if model.busy_tasks(dst.id).next().is_some() {
                return Err(Fault::copy_in_progress());
            }
            if dst.origin != Origin::Base {
                return Err(Fault::non_base_volume());
            }
            if model.volume_vluns(dst.id).next().is_some() {
                return Err(Fault::vv_exported());
            }
            if dst.size_mib < src.size_mib {
                return Err(Fault::copy_parent_too_big());
            }
            let task = start_task(model, TaskKind::PhysicalCopy, destination, src, dst.id, data_mib, *priority, now);
            let effects = vec![
                Effect::VolumeChanged(Box::new(Volume { origin, ..dst.clone() })),
                Effect::ContentCopied { source: src.id, destination: dst.id },
            ];
            Ok(started(effects, task))
        }
        CopyMode::Online { cpg, provisioning, compression, snap_cpg } => {
            let spec = BaseSpec {
                name: destination,
                cpg: cpg_id(model, cpg, "destCPG")?,
                snap_cpg: snap_cpg.as_deref().map(|c| cpg_id(model, c, "snapCPG")).transpose()?,
                size_mib: src.size_mib,
                provisioning: *provisioning,
                compression: *compression,
                origin,
            };
            let dst = base_volume(model, spec, None, now)?;
            let task = start_task(model, TaskKind::OnlineCopy, destination, src, dst.id, data_mib, None, now);
            // The destination exists before the data plane copies into it.
            let copied = Effect::ContentCopied { source: src.id, destination: dst.id };
            Ok(started(vec![Effect::VolumeCreated(Box::new(dst)), copied], task))
        }
    }
}

pub(super) fn promote(
    model: &Model,
    snapshot: &str,
    online: bool,
    priority: Option<TaskPriority>,
    data_mib: u64,
    now: u64,
) -> Result<Plan, Fault> {
    let snap = existing(model, snapshot)?;
    if !snap.is_virtual_copy() {
        return Err(Fault::vv_base_volume());
    }
    if online && priority.is_some() {
        return Err(Fault::operation_param_conflict());
    }
    let base = model.volume(snap.base_id).expect("a copy's base exists while the copy does");
    if let Some(task) = model.busy_tasks(base.id).next() {
        return Err(busy_refusal(task, Fault::pcopy_in_progress));
    }
    if base.size_mib > snap.size_mib {
        return Err(Fault::parent_size_increased());
    }
    let task = start_task(model, TaskKind::Promote, &base.name, snap, base.id, data_mib, priority, now);
    let data = match model.is_broken(super::breakage::Breakage::PromoteNoop) {
        true => vec![],
        false => vec![Effect::ContentCopied { source: snap.id, destination: base.id }],
    };
    Ok(started(data, task))
}

/// Why a volume that `task` keeps busy refuses a grow, a promote onto it or a tune; a copy's
/// refusal depends on what was asked (`copying`).
pub(super) fn busy_refusal(task: &Task, copying: fn() -> Fault) -> Fault {
    match task.kind {
        TaskKind::Promote => Fault::promote_in_progress(),
        TaskKind::Tune(_) => Fault::tune_in_progress(),
        TaskKind::PhysicalCopy | TaskKind::OnlineCopy => copying(),
    }
}

/// How a task ends: promotes leave the volumes as they were; a copy's destination stands alone;
/// a tune that completes gives its volume the new CPGs and type, a cancelled one leaves it be.
fn ended(model: &Model, task: &Task, status: TaskStatus, at: u64) -> Vec<Effect> {
    let mut effects = vec![Effect::TaskEnded { task: task.id, status, at }];
    match task.kind {
        TaskKind::Promote => {}
        TaskKind::Tune(target) if status == TaskStatus::Done => {
            effects.extend(super::tune::completed(model, task.destination, target));
        }
        TaskKind::Tune(_) => {}
        TaskKind::PhysicalCopy | TaskKind::OnlineCopy => {
            effects.push(Effect::VolumeDetached { volume: task.destination })
        }
    }
    effects
}

pub(super) fn stop_promote(model: &Model, snapshot: &str, now: u64) -> Result<Plan, Fault> {
    let snap = existing(model, snapshot)?;
    let task = model.busy_tasks(snap.id).find(|t| t.kind == TaskKind::Promote && t.source == snap.id);
    let task = task.ok_or_else(Fault::promote_not_in_progress)?;
    Ok(Plan::done(ended(model, task, TaskStatus::Cancelled, now)))
}

impl Model {
    /// The task a WSAPI task id names, with the real refusals for ids out of range.
    pub fn find_task(&self, id: i64) -> Result<&Task, Fault> {
        if id <= 0 {
            return Err(Fault::below_range().with_ref("id"));
        }
        if id > MAX_TASK_ID {
            return Err(Fault::exceeds_range().with_ref("id"));
        }
        self.task(id as u32).ok_or_else(Fault::non_existent_task)
    }
}

pub(super) fn cancel(model: &Model, id: i64, now: u64) -> Result<Plan, Fault> {
    let task = model.find_task(id)?;
    if task.status != TaskStatus::Active {
        return Err(Fault::task_not_active());
    }
    Ok(Plan::done(ended(model, task, TaskStatus::Cancelled, now)))
}

/// Ends the tasks due by `now` (at their due time) and removes expired volumes that nothing
/// holds; a held one waits for a later tick.
pub(super) fn tick(model: &Model, now: u64) -> Result<Plan, Fault> {
    let mut effects = Vec::new();
    for (due, id) in model.index.due.range(..=(now, u32::MAX)) {
        effects.extend(ended(model, &model.tasks[id], TaskStatus::Done, *due));
    }
    for (_, id) in model.index.expiring.range(..=(now, u32::MAX)) {
        let v = &model.volumes[id];
        let free = model.children(v.id).next().is_none() && removable(model, v, now).is_ok();
        if free {
            effects.push(Effect::VolumeDeleted { volume: v.id });
        }
    }
    Ok(Plan::done(effects))
}
