//! CPGs: create, modify and delete (reference §1.1). Volumes refer to their CPGs by id, so a
//! rename carries them along.

use super::commands::{CpgChange, NewCpg, Plan};
use super::effects::Effect;
use super::fault::Fault;
use super::names::check_name;
use super::objects::{Cpg, CpgGrowth, LdLayout, Task, TaskKind, TaskStatus};
use super::{ids, Model};

/// CPG names are name31 whatever the family (reference §2).
const MAX_CPG_NAME_LENGTH: usize = 31;

pub(super) fn existing<'m>(model: &'m Model, name: &str) -> Result<&'m Cpg, Fault> {
    model.cpg_by_name(name).ok_or_else(Fault::non_existent_cpg)
}

fn check_cpg_name(model: &Model, name: &str, renaming: Option<u32>) -> Result<(), Fault> {
    check_name(name, MAX_CPG_NAME_LENGTH)?;
    match model.cpg_by_name(name) {
        Some(c) if Some(c.id) != renaming => Err(Fault::existent_cpg()),
        _ => Ok(()),
    }
}

fn check_enum(value: Option<u8>, range: std::ops::RangeInclusive<u8>, member: &'static str) -> Result<(), Fault> {
    match value {
        Some(v) if !range.contains(&v) => Err(Fault::bad_enum_value().with_ref(member)),
        _ => Ok(()),
    }
}

fn check_layout(layout: &LdLayout) -> Result<(), Fault> {
    check_enum(layout.raid_type, 1..=4, "RAIDType")?;
    check_enum(layout.ha, 1..=3, "HA")?;
    if layout.set_size == Some(0) {
        return Err(Fault::exceeds_range().with_ref("setSize"));
    }
    for disk_type in &layout.disk_types {
        check_enum(Some(*disk_type), 1..=3, "diskType")?;
    }
    Ok(())
}

pub(super) fn create(model: &Model, new: &NewCpg) -> Result<Plan, Fault> {
    check_cpg_name(model, &new.name, None)?;
    if new.domain.is_some() {
        return Err(Fault::non_existent_domain().with_ref("domain"));
    }
    check_layout(&new.growth.layout)?;
    let id = model.cpgs.keys().next_back().map_or(0, |last| last + 1).max(model.seq.cpg);
    let cpg = Cpg {
        id,
        name: new.name.clone(),
        uuid: ids::uuid(model.seed, ids::Stream::Cpg, id.into()),
        capacity_mib: None,
        growth: new.growth.clone(),
    };
    Ok(Plan::done(vec![Effect::CpgPut(Box::new(cpg))]))
}

pub(super) fn modify(model: &Model, name: &str, change: &CpgChange) -> Result<Plan, Fault> {
    let c = existing(model, name)?;
    if *change == CpgChange::default() {
        return Err(Fault::one_required());
    }
    if change.rm_growth_limit && change.limit_mib.is_some() {
        return Err(Fault::param_conflict().with_ref("rmGrowthLimit"));
    }
    if change.rm_warning_alert && change.warning_mib.is_some() {
        return Err(Fault::param_conflict().with_ref("rmWarningAlert"));
    }
    if change.disable_auto_grow && change.increment_mib.is_some() {
        return Err(Fault::param_conflict().with_ref("disableAutoGrow"));
    }
    let mut next = c.clone();
    if let Some(new_name) = &change.new_name {
        check_cpg_name(model, new_name, Some(c.id))?;
        next.name = new_name.clone();
    }
    if let Some(layout) = &change.layout {
        check_layout(layout)?;
        next.growth.layout = layout.clone();
    }
    let g: &mut CpgGrowth = &mut next.growth;
    if change.disable_auto_grow {
        g.increment_mib = Some(0);
    }
    g.increment_mib = change.increment_mib.or(g.increment_mib);
    g.limit_mib = if change.rm_growth_limit { None } else { change.limit_mib.or(g.limit_mib) };
    g.warning_mib = if change.rm_warning_alert { None } else { change.warning_mib.or(g.warning_mib) };
    Ok(Plan::done(vec![Effect::CpgPut(Box::new(next))]))
}

pub(super) fn delete(model: &Model, name: &str) -> Result<Plan, Fault> {
    let c = existing(model, name)?;
    // Base volumes name a snapshot CPG the usage counters do not count, so look at every volume.
    if model.volumes().any(|v| v.user_cpg == Some(c.id) || v.snap_cpg == Some(c.id)) {
        return Err(Fault::cpg_in_use());
    }
    // Nor while a tune is moving a volume into it.
    let tuned_into = |t: &Task| match t.kind {
        TaskKind::Tune(to) => {
            t.status == TaskStatus::Active && (to.user_cpg == Some(c.id) || to.snap_cpg == Some(c.id))
        }
        _ => false,
    };
    if model.tasks().any(tuned_into) {
        return Err(Fault::cpg_in_use());
    }
    Ok(Plan::done(vec![Effect::CpgDeleted { cpg: c.id }]))
}
