//! Volumes and virtual copies: create, modify, grow, delete and snapshot (reference §1.2, §1.3, §2).

use super::breakage::Breakage;
use super::commands::{NewSnapshot, NewVolume, Plan, VolumeChange};
use super::copies::busy_refusal;
use super::effects::Effect;
use super::fault::Fault;
use super::ids::{self, Stream};
use super::names::{check_name, check_text, hours_after, round_up};
use super::objects::{Origin, Provisioning, SetKind, Volume};
use super::topology::MAX_VOLUME_COMMENT_LENGTH;
use super::Model;

use std::collections::HashMap;

pub(super) fn existing<'m>(model: &'m Model, name: &str) -> Result<&'m Volume, Fault> {
    model.volume_by_name(name).ok_or_else(Fault::non_existent_vol)
}

pub(super) fn cpg_id(model: &Model, name: &str, member: &'static str) -> Result<u32, Fault> {
    model.cpg_by_name(name).map(|c| c.id).ok_or_else(|| Fault::non_existent_cpg().with_ref(member))
}

/// A name for a new volume: well formed and not taken.
pub(super) fn check_new_name(model: &Model, name: &str) -> Result<(), Fault> {
    check_name(name, model.limits.max_volume_name_length)?;
    if model.volume_by_name(name).is_some() {
        return Err(Fault::existent_vol());
    }
    Ok(())
}

fn check_volume_count(model: &Model) -> Result<(), Fault> {
    if model.volume_count() >= model.limits.max_volumes {
        return Err(Fault::vv_limit_reached());
    }
    Ok(())
}

/// The lowest unused id from the sequence on.
fn next_id(model: &Model) -> u32 {
    let mut id = model.seq.volume.max(1);
    while model.volumes.contains_key(&id) {
        id += 1;
    }
    id
}

/// A requested size: at least 256 MiB, at most the limit, rounded up to 256 MiB.
fn checked_size(model: &Model, size_mib: u64) -> Result<u64, Fault> {
    if size_mib < model.limits.min_volume_size_mib {
        return Err(Fault::exceeds_range().with_ref("sizeMiB"));
    }
    let rounded = if model.is_broken(Breakage::SkipGranularity) { size_mib } else { round_up(size_mib) };
    if rounded > model.limits.max_volume_size_mib {
        return Err(Fault::too_large().with_ref("sizeMiB"));
    }
    Ok(rounded)
}

/// What a new base volume needs, for `create` and for an online copy's destination.
pub(super) struct BaseSpec<'a> {
    pub name: &'a str,
    pub cpg: u32,
    pub snap_cpg: Option<u32>,
    pub size_mib: u64,
    pub provisioning: Provisioning,
    pub compression: bool,
    pub origin: Origin,
}

/// Checks a new base volume against the family's provisioning rule, the CPG's space and the
/// volume limit, and builds it.
pub(super) fn base_volume(model: &Model, spec: BaseSpec, id: Option<u32>, now: u64) -> Result<Volume, Fault> {
    check_new_name(model, spec.name)?;
    if spec.provisioning == Provisioning::Full && !model.limits.allows_full_volumes {
        return Err(Fault::tpvv_or_reduce_required());
    }
    let id = match id {
        Some(id) if model.volumes.contains_key(&id) => return Err(Fault::existent_id()),
        Some(id) => id,
        None => next_id(model),
    };
    check_volume_count(model)?;
    if spec.provisioning == Provisioning::Full {
        let cpg = model.cpg(spec.cpg).expect("checked CPG");
        if spec.size_mib > model.cpg_free_mib(cpg) {
            return Err(Fault::no_space());
        }
    }
    Ok(identified(
        model,
        Volume {
            id,
            name: spec.name.to_string(),
            uuid: String::new(),
            wwn: String::new(),
            nguid: String::new(),
            size_mib: spec.size_mib,
            provisioning: spec.provisioning,
            compression: spec.compression,
            origin: spec.origin,
            base_id: id,
            user_cpg: Some(spec.cpg),
            // Primera and later have no separate snapshot space, and Cinder (build ≥ 10) and LXD
            // send no snapCPG: copies use the user CPG then.
            snap_cpg: Some(spec.snap_cpg.unwrap_or(spec.cpg)),
            comment: None,
            creation_time: now,
            expiration_time: None,
            retention_time: None,
            metadata: Default::default(),
        },
    ))
}

/// Fills in the identities derived from the seed, the id and the serial.
fn identified(model: &Model, v: Volume) -> Volume {
    let uuid = ids::uuid(model.seed, Stream::Volume, v.id.into());
    let serial = model.system.serial_number.parse().unwrap_or(0);
    Volume { wwn: ids::wwn(serial, v.id), nguid: ids::nguid(&uuid), uuid, ..v }
}

pub(super) fn create(model: &Model, new: &NewVolume, now: u64) -> Result<Plan, Fault> {
    let cpg = cpg_id(model, &new.cpg, "cpg")?;
    let snap_cpg = new.snap_cpg.as_deref().map(|c| cpg_id(model, c, "snapCPG")).transpose()?;
    if let Some(c) = &new.comment {
        check_text(c, MAX_VOLUME_COMMENT_LENGTH, "comment")?;
    }
    let size_mib = checked_size(model, new.size_mib)?;
    let spec = BaseSpec {
        name: &new.name,
        cpg,
        snap_cpg,
        size_mib,
        provisioning: new.provisioning,
        compression: new.compression,
        origin: Origin::Base,
    };
    let v = base_volume(model, spec, new.id, now)?;
    let v = Volume {
        comment: new.comment.clone(),
        expiration_time: hours_after(now, new.expiration_hours, "expirationHours")?,
        retention_time: hours_after(now, new.retention_hours, "retentionHours")?,
        ..v
    };
    Ok(Plan::done(vec![Effect::VolumeCreated(Box::new(v))]))
}

pub(super) fn modify(model: &Model, name: &str, change: &VolumeChange, now: u64) -> Result<Plan, Fault> {
    let v = existing(model, name)?;
    let mut next = v.clone();
    if let Some(new_name) = &change.new_name {
        if new_name != name {
            check_new_name(model, new_name)?;
        }
        next.name = new_name.clone();
    }
    if let Some(c) = &change.comment {
        check_text(c, MAX_VOLUME_COMMENT_LENGTH, "comment")?;
        next.comment = Some(c.clone());
    }
    if let Some(c) = &change.snap_cpg {
        next.snap_cpg = Some(cpg_id(model, c, "snapCPG")?);
    }
    if let Some(at) = hours_after(now, change.expiration_hours, "expirationHours")? {
        next.expiration_time = Some(at);
    }
    if let Some(at) = hours_after(now, change.retention_hours, "retentionHours")? {
        next.retention_time = Some(at);
    }
    let effects = if next == *v { vec![] } else { vec![Effect::VolumeChanged(Box::new(next))] };
    Ok(Plan::done(effects))
}

pub(super) fn grow(model: &Model, name: &str, delta_mib: i64) -> Result<Plan, Fault> {
    let v = existing(model, name)?;
    if delta_mib <= 0 {
        return Err(Fault::grow_size().with_ref("sizeMiB"));
    }
    if v.is_virtual_copy() {
        return Err(Fault::unsupported_vv_type());
    }
    if let Some(task) = model.busy_tasks(v.id).find(|t| t.destination == v.id) {
        return Err(busy_refusal(task, Fault::copy_in_progress));
    }
    let asked = delta_mib as u64;
    let delta = if model.is_broken(Breakage::SkipGranularity) { asked } else { round_up(asked) };
    let size_mib = v.size_mib.saturating_add(delta);
    if size_mib > model.limits.max_volume_size_mib {
        return Err(Fault::grow_exceeds_limit());
    }
    if v.provisioning == Provisioning::Full {
        // A CPG in use cannot be deleted, so it is there; were it not, there is no room.
        let free = v.user_cpg.and_then(|c| model.cpg(c)).map_or(0, |c| model.cpg_free_mib(c));
        if delta > free {
            return Err(Fault::no_space());
        }
    }
    Ok(Plan::done(vec![Effect::VolumeResized { volume: v.id, size_mib }]))
}

/// Why `v` cannot go now, if it cannot: retained, busy, in a set or exported.
pub(super) fn removable(model: &Model, v: &Volume, now: u64) -> Result<(), Fault> {
    if v.retention_time.is_some_and(|t| t > now) {
        return Err(Fault::retained());
    }
    if model.busy_tasks(v.id).next().is_some() {
        return Err(Fault::vv_busy());
    }
    if model.sets_of(SetKind::Volume, v.id).next().is_some() || model.volume_vluns(v.id).next().is_some() {
        return Err(Fault::in_use());
    }
    Ok(())
}

/// Deletes a volume; with `cascade` (LXD sends it) its whole subtree of copies goes too.
pub(super) fn delete(model: &Model, name: &str, cascade: bool, now: u64) -> Result<Plan, Fault> {
    let v = existing(model, name)?;
    let mut targets = Vec::new();
    if cascade {
        targets = model.descendants(v.id);
    } else if let Some(child) = model.children(v.id).min_by_key(|c| !c.read_only()) {
        if !model.is_broken(Breakage::DeleteWithChildren) {
            return Err(if child.read_only() { Fault::has_ro_child() } else { Fault::has_child() });
        }
    }
    targets.insert(0, v.id);
    for id in &targets {
        removable(model, model.volume(*id).expect("tree member"), now)?;
    }
    // Children before parents.
    Ok(Plan::done(targets.iter().rev().map(|id| Effect::VolumeDeleted { volume: *id }).collect()))
}

pub(super) fn snapshot(model: &Model, parent: &str, new: &NewSnapshot, now: u64) -> Result<Plan, Fault> {
    let p = existing(model, parent)?;
    check_volume_count(model)?;
    let v = virtual_copy(model, p, new, next_id(model), 0, now)?;
    Ok(Plan::done(vec![Effect::VolumeCreated(Box::new(v))]))
}

/// `POST /volumesets/<set> createSnapshot`: a virtual copy of every member, all or none, named
/// by `new.name` with `@count@` replaced by 0, 1, 2… in member order (Cinder's consistency
/// group snapshots send `oss-<id>-@count@`).
pub(super) fn snapshot_set(model: &Model, set: &str, new: &NewSnapshot, now: u64) -> Result<Plan, Fault> {
    const COUNT: &str = "@count@";
    let s = model.set_by_name(SetKind::Volume, set).ok_or_else(Fault::non_existent_set)?;
    if s.members.is_empty() {
        return Err(Fault::empty_set());
    }
    if s.members.len() > 1 && !new.name.contains(COUNT) {
        return Err(Fault::invalid_vv_pattern().with_ref("name"));
    }
    if model.volume_count() + s.members.len() > model.limits.max_volumes {
        return Err(Fault::vv_limit_reached());
    }
    let mut ids = (model.seq.volume.max(1)..).filter(|id| !model.volumes.contains_key(id));
    let mut effects = Vec::with_capacity(s.members.len());
    // Members of one snapshot tree share its copy limit: count the copies this plan adds.
    let mut added: HashMap<u32, usize> = HashMap::new();
    for (count, member) in s.members.iter().enumerate() {
        let parent = model.volume(*member).ok_or_else(Fault::non_existent_vol)?;
        let name = new.name.replace(COUNT, &count.to_string());
        let planned = added.entry(parent.base_id).or_default();
        let id = ids.next().expect("volume ids are unbounded");
        let copy = virtual_copy(model, parent, &NewSnapshot { name, ..new.clone() }, id, *planned, now)?;
        *planned += 1;
        effects.push(Effect::VolumeCreated(Box::new(copy)));
    }
    Ok(Plan::done(effects))
}

/// A virtual copy of `p` with id `id`, checked against the snapshot rules; `planned` copies of
/// the same tree are already in the plan being made.
fn virtual_copy(
    model: &Model,
    p: &Volume,
    new: &NewSnapshot,
    id: u32,
    planned: usize,
    now: u64,
) -> Result<Volume, Fault> {
    check_new_name(model, &new.name)?;
    if let Some(c) = &new.comment {
        check_text(c, MAX_VOLUME_COMMENT_LENGTH, "comment")?;
    }
    if p.read_only() && new.read_only {
        return Err(Fault::readonly_to_readonly_snap());
    }
    if model.limits.snapshot_alternation && !p.read_only() && !new.read_only {
        return Err(Fault::readwrite_to_readwrite_snap());
    }
    let copies = model.index.tree_copies.get(&p.base_id).copied().unwrap_or(0) + planned;
    if copies >= model.limits.max_virtual_copies_per_volume {
        return Err(Fault::snapshot_limit_reached());
    }
    Ok(identified(
        model,
        Volume {
            id,
            name: new.name.clone(),
            origin: Origin::VirtualCopy { parent: p.id, read_only: new.read_only },
            user_cpg: None,
            comment: new.comment.clone(),
            creation_time: now,
            expiration_time: hours_after(now, new.expiration_hours, "expirationHours")?,
            retention_time: hours_after(now, new.retention_hours, "retentionHours")?,
            // Object keys are the volume's own (inferred: no source shows a copy with them).
            metadata: Default::default(),
            ..p.clone()
        },
    ))
}
