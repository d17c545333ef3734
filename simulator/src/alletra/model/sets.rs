//! Volume sets and host sets: one shape, one set of rules (reference §1.5, §1.7, §2).

use super::commands::{MemberOp, Plan, SetChange};
use super::effects::Effect;
use super::fault::Fault;
use super::ids::{self, Stream};
use super::names::{check_name, check_text};
use super::objects::{ExportTarget, MemberSet, SetKind};
use super::topology::MAX_SET_COMMENT_LENGTH;
use super::{hosts, volumes, Model};

pub(super) fn existing<'m>(model: &'m Model, kind: SetKind, name: &str) -> Result<&'m MemberSet, Fault> {
    model.set_by_name(kind, name).ok_or_else(Fault::non_existent_set)
}

fn check_set_name(model: &Model, kind: SetKind, name: &str) -> Result<(), Fault> {
    check_name(name, model.limits.max_set_name_length)?;
    if model.set_by_name(kind, name).is_some() {
        return Err(Fault::existent_set());
    }
    Ok(())
}

/// The id of the volume or host a member name names.
fn member_id(model: &Model, kind: SetKind, name: &str) -> Result<u32, Fault> {
    match kind {
        SetKind::Volume => volumes::existing(model, name).map(|v| v.id),
        SetKind::Host => hosts::existing(model, name).map(|h| h.id),
    }
}

fn next_id(model: &Model, kind: SetKind) -> u32 {
    match kind {
        SetKind::Volume => model.seq.volume_set.max(1),
        SetKind::Host => model.seq.host_set.max(1),
    }
}

pub(super) fn create(
    model: &Model,
    kind: SetKind,
    name: &str,
    comment: Option<&str>,
    members: &[String],
) -> Result<Plan, Fault> {
    check_set_name(model, kind, name)?;
    if let Some(c) = comment {
        check_text(c, MAX_SET_COMMENT_LENGTH, "comment")?;
    }
    let members = members.iter().map(|m| member_id(model, kind, m)).collect::<Result<_, _>>()?;
    let id = next_id(model, kind);
    let stream = if kind == SetKind::Volume { Stream::VolumeSet } else { Stream::HostSet };
    let set = MemberSet {
        id,
        name: name.to_string(),
        uuid: ids::uuid(model.seed, stream, id.into()),
        comment: comment.map(str::to_string),
        members,
    };
    Ok(Plan::done(vec![Effect::SetPut { kind, set: Box::new(set) }]))
}

pub(super) fn modify(model: &Model, kind: SetKind, name: &str, change: &SetChange) -> Result<Plan, Fault> {
    let set = existing(model, kind, name)?;
    if *change == SetChange::default() {
        return Err(Fault::one_required());
    }
    if change.new_name.is_some() && change.members.is_some() {
        return Err(Fault::param_conflict());
    }
    let mut next = set.clone();
    if let Some(new_name) = &change.new_name {
        if new_name != name {
            check_set_name(model, kind, new_name)?;
        }
        next.name = new_name.clone();
    }
    if let Some(c) = &change.comment {
        check_text(c, MAX_SET_COMMENT_LENGTH, "comment")?;
        next.comment = Some(c.clone());
    }
    if let Some((op, members)) = &change.members {
        for m in members {
            let id = member_id(model, kind, m)?;
            let changed = match op {
                MemberOp::Add => next.members.insert(id),
                MemberOp::Remove => next.members.remove(&id),
            };
            if !changed {
                return Err(if *op == MemberOp::Add { Fault::member_in_set() } else { Fault::member_not_in_set() });
            }
        }
    }
    Ok(Plan::done(vec![Effect::SetPut { kind, set: Box::new(next) }]))
}

/// A set with members can go (python's live-capable test); an exported host set or a volume
/// set a QoS rule targets cannot.
pub(super) fn delete(model: &Model, kind: SetKind, name: &str) -> Result<Plan, Fault> {
    let set = existing(model, kind, name)?;
    match kind {
        SetKind::Host if model.target_vluns(ExportTarget::HostSet(set.id)).next().is_some() => {
            return Err(Fault::exported_vlun())
        }
        SetKind::Volume if model.qos_of_set(set.id).is_some() => return Err(Fault::vvset_qos_target()),
        _ => {}
    }
    Ok(Plan::done(vec![Effect::SetDeleted { kind, set: set.id }]))
}
