//! Planning of volume and snapshot commands: every rule of §3 of the reference lives here.

use super::breakage::Breakage;
use super::commands::{Plan, RemoveMode, Reply};
use super::effects::Effect;
use super::fault::Fault;
use super::ids::{self, Id, IdKind};
use super::limits;
use super::objects::{AccessMode, Provisioning, StoragePool, Volume};
use super::{secure, Model};

const GIB_KB: u64 = 1024 * 1024;

pub(super) fn existing(model: &Model, id: Id) -> Result<&Volume, Fault> {
    model.volume(id).ok_or_else(Fault::vol_not_found)
}

/// Names: at most 31 printable ASCII characters without spaces, unique among volumes.
pub(super) fn check_name(model: &Model, name: &str, renaming: Option<Id>) -> Result<(), Fault> {
    check_name_syntax(name)?;
    match model.volume_by_name(name) {
        Some(v) if Some(v.id) != renaming => Err(Fault::vol_name_in_use()),
        _ => Ok(()),
    }
}

pub(super) fn check_name_syntax(name: &str) -> Result<(), Fault> {
    if name.chars().count() > limits::MAX_NAME_LEN {
        return Err(Fault::long_name());
    }
    if name.is_empty() || !name.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(Fault::invalid_name());
    }
    Ok(())
}

fn volume_id(model: &Model, offset: u64) -> Id {
    ids::derive(model.seed, IdKind::Volume, model.seq.volume + offset)
}

fn nsid(model: &Model, offset: u64) -> u32 {
    model.seq.nsid + 1 + offset as u32
}

/// Net capacity a thick volume can still reserve in `pool`, KiB (one copy).
fn thick_room_kb(pool: &StoragePool) -> u64 {
    let usable = pool.max_capacity_kb / 100 * (100 - pool.spare_percentage) / 2;
    usable.saturating_sub(pool.usage.thick_allocated_kb)
}

fn check_room(pool: &StoragePool, provisioning: Provisioning, extra_kb: u64) -> Result<(), Fault> {
    let u = &pool.usage;
    let nominal = u.thin_allocated_kb + u.thick_allocated_kb + u.snapshot_allocated_kb;
    if nominal + extra_kb > limits::ALL_VOLUMES_IN_SP_SIZE_GB * GIB_KB {
        return Err(Fault::too_much_thin_capacity());
    }
    if provisioning == Provisioning::Thick && extra_kb > thick_room_kb(pool) {
        return Err(Fault::capacity_too_low());
    }
    Ok(())
}

fn check_counts(model: &Model, pool: &StoragePool, adding: u64) -> Result<(), Fault> {
    if model.volume_count() as u64 + adding > limits::VOLUMES {
        return Err(Fault::too_many_vols());
    }
    let pd = model.domain(pool.protection_domain).expect("pool's domain");
    if pd.volume_count + adding > limits::VOLUMES_PER_PROTECTION_DOMAIN {
        return Err(Fault::too_many_vols_in_fd());
    }
    Ok(())
}

/// A requested size in KiB, rounded up to 8 GiB and checked against the limits.
fn rounded_size(model: &Model, size_kb: u64) -> Result<u64, Fault> {
    if size_kb == 0 {
        return Err(Fault::vol_size_illegal());
    }
    let rounded = if model.is_broken(Breakage::SkipSizeRounding) { size_kb } else { limits::round_up_kb(size_kb) };
    if rounded / GIB_KB > limits::MAX_VOLUME_GB {
        return Err(Fault::vol_size_too_large());
    }
    Ok(rounded)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn create(
    model: &Model,
    pool_id: Id,
    domain: Option<Id>,
    name: Option<&str>,
    size_kb: u64,
    provisioning: Provisioning,
    use_rmcache: bool,
    now: u64,
) -> Result<Plan, Fault> {
    let pool = model.pool(pool_id).ok_or_else(Fault::storage_pool_not_found)?;
    if let Some(pd) = domain {
        model.domain(pd).ok_or_else(Fault::fd_not_found)?;
        if pd != pool.protection_domain {
            return Err(Fault::fd_and_sp_mismatch());
        }
    }
    super::domains::check_active(model, pool.protection_domain)?;
    if let Some(name) = name {
        check_name(model, name, None)?;
    }
    let size_kb = rounded_size(model, size_kb)?;
    check_counts(model, pool, 1)?;
    check_room(pool, provisioning, size_kb)?;
    let id = volume_id(model, 0);
    let volume = Volume {
        id,
        name: name.map(str::to_string),
        size_kb,
        pool: pool_id,
        vtree: ids::derive(model.seed, IdKind::VTree, model.seq.vtree),
        ancestor: None,
        consistency_group: None,
        is_snapshot: false,
        provisioning,
        creation_time: now,
        access_mode_limit: AccessMode::ReadWrite,
        use_rmcache,
        nsid: nsid(model, 0),
        mappings: vec![],
        secure_snapshot_exp_time: 0,
        original_expiry_time: 0,
    };
    Ok(Plan::new(vec![Effect::VolumeCreated(Box::new(volume))], Reply::Created(id)))
}

pub(super) fn snapshot(
    model: &Model,
    defs: &[(Id, Option<String>)],
    access_mode: AccessMode,
    retention_min: Option<u64>,
    now: u64,
) -> Result<Plan, Fault> {
    // 0 asks for no retention: Dell's Ansible `snapshot` module sends `retentionPeriodInMin: 0`
    // on every create without `desired_retention`, and it works against real arrays.
    let secure_until =
        retention_min.filter(|&min| min > 0).map(|min| secure::expiry(now, min)).transpose()?.unwrap_or(0);
    if defs.is_empty() {
        return Err(Fault::invalid("snapshotDefs must name at least one volume"));
    }
    if access_mode == AccessMode::NoAccess {
        return Err(Fault::invalid("accessModeLimit must be ReadWrite or ReadOnly"));
    }
    let group = ids::derive(model.seed, IdKind::SnapshotGroup, model.seq.snapshot_group);
    let mut effects = Vec::with_capacity(defs.len() + 1);
    let mut created = Vec::with_capacity(defs.len());
    let mut new_names = std::collections::HashSet::new();
    let mut per_tree: std::collections::HashMap<Id, usize> = Default::default();
    let mut per_pool_kb: std::collections::HashMap<Id, u64> = Default::default();
    for (n, (source_id, name)) in defs.iter().enumerate() {
        let source = existing(model, *source_id)?;
        if let Some(name) = name {
            check_name(model, name, None)?;
            if !new_names.insert(name.as_str()) {
                return Err(Fault::vol_name_in_use());
            }
        }
        let in_tree = per_tree.entry(source.vtree).or_insert(0);
        *in_tree += 1;
        let members = model.vtree(source.vtree).map_or(0, |t| t.members.len());
        if members + *in_tree > limits::VOLUMES_PER_VTREE && !model.is_broken(Breakage::IgnoreVtreeLimit) {
            return Err(Fault::too_many_snaps_in_vtree());
        }
        let pool = model.pool(source.pool).expect("volume's pool");
        check_counts(model, pool, (n + 1) as u64)?;
        *per_pool_kb.entry(source.pool).or_insert(0) += source.size_kb;
        check_room(pool, Provisioning::Thin, per_pool_kb[&source.pool])?;
        let id = volume_id(model, n as u64);
        created.push(id);
        effects.push(Effect::VolumeCreated(Box::new(Volume {
            id,
            name: name.clone(),
            size_kb: source.size_kb,
            pool: source.pool,
            vtree: source.vtree,
            ancestor: Some(source.id),
            consistency_group: Some(group),
            is_snapshot: true,
            provisioning: source.provisioning,
            creation_time: now,
            access_mode_limit: access_mode,
            use_rmcache: source.use_rmcache,
            nsid: nsid(model, n as u64),
            mappings: vec![],
            secure_snapshot_exp_time: secure_until,
            original_expiry_time: secure_until,
        })));
    }
    effects.push(Effect::SnapshotGroupCreated { group, volumes: created.clone() });
    Ok(Plan::new(effects, Reply::Snapshots { volumes: created, group }))
}

/// The effects that remove `targets`, refusing if any is mapped or a secure snapshot that has
/// not expired. With `reparent`, children that stay behind move up to the removed volume's
/// ancestor.
pub(super) fn removal(model: &Model, targets: &[Id], reparent: bool, now: u64) -> Result<Vec<Effect>, Fault> {
    let mut effects = Vec::new();
    for id in targets {
        let v = existing(model, *id)?;
        if !v.mappings.is_empty() {
            return Err(Fault::vol_mapped());
        }
        secure::check_removable(v, now)?;
    }
    for id in targets {
        if reparent {
            let ancestor = model.volume(*id).and_then(|v| v.ancestor);
            for child in model.children(*id) {
                if !targets.contains(&child) {
                    effects.push(Effect::VolumeReparented { volume: child, ancestor });
                }
            }
        }
        effects.push(Effect::VolumeRemoved { volume: *id });
    }
    Ok(effects)
}

pub(super) fn remove(model: &Model, id: Id, mode: RemoveMode, now: u64) -> Result<Plan, Fault> {
    let v = existing(model, id)?;
    let targets: Vec<Id> = match mode {
        RemoveMode::OnlyMe => vec![id],
        RemoveMode::IncludingDescendants => {
            let mut all = model.descendants(id);
            all.insert(0, id);
            all
        }
        RemoveMode::DescendantsOnly => {
            let all = model.descendants(id);
            if all.is_empty() {
                return Err(Fault::nothing_to_do());
            }
            all
        }
        RemoveMode::WholeVtree => model.vtree_volumes(v.vtree).map(|m| m.id).collect(),
    };
    let effects = removal(model, &targets, mode == RemoveMode::OnlyMe, now)?;
    if model.is_broken(Breakage::KeepOnRemove) {
        return Ok(Plan::new(vec![], Reply::Empty));
    }
    Ok(Plan::new(effects, Reply::Empty))
}

pub(super) fn remove_group(model: &Model, group: Id, now: u64) -> Result<Plan, Fault> {
    let members = model.snapshot_groups.get(&group).ok_or_else(Fault::vol_not_found_for_snap_group)?;
    let effects = removal(model, members, true, now)?;
    Ok(Plan::new(effects, Reply::Removed(members.len() as u64)))
}

pub(super) fn resize(model: &Model, id: Id, size_gb: u64) -> Result<Plan, Fault> {
    let v = existing(model, id)?;
    let size_kb = rounded_size(model, size_gb.saturating_mul(GIB_KB))?;
    if size_kb < v.size_kb && !model.is_broken(Breakage::AllowShrink) {
        return Err(Fault::vol_decrease_not_supported());
    }
    if size_kb == v.size_kb {
        return Ok(Plan::new(vec![], Reply::Empty));
    }
    let pool = model.pool(v.pool).expect("volume's pool");
    let provisioning = if v.is_snapshot { Provisioning::Thin } else { v.provisioning };
    // Only growth needs room (a shrink gets here only with `--break allow-shrink`).
    check_room(pool, provisioning, size_kb.saturating_sub(v.size_kb))?;
    Ok(Plan::new(vec![Effect::VolumeResized { volume: id, size_kb }], Reply::Empty))
}

pub(super) fn rename(model: &Model, id: Id, name: &str) -> Result<Plan, Fault> {
    existing(model, id)?;
    check_name(model, name, Some(id))?;
    Ok(Plan::new(vec![Effect::VolumeRenamed { volume: id, name: Some(name.to_string()) }], Reply::Empty))
}

pub(super) fn overwrite(model: &Model, id: Id, source: Id) -> Result<Plan, Fault> {
    let target = existing(model, id)?;
    let src = existing(model, source)?;
    if id == source {
        return Err(Fault::volume_and_snapshot_match());
    }
    if target.vtree != src.vtree {
        return Err(Fault::vtree_id_mismatch());
    }
    let mut effects = Vec::new();
    // A source larger than the target (a snapshot grown after it was taken) grows the target:
    // it must hold all of the source's content.
    if src.size_kb > target.size_kb {
        let pool = model.pool(target.pool).expect("volume's pool");
        let provisioning = if target.is_snapshot { Provisioning::Thin } else { target.provisioning };
        check_room(pool, provisioning, src.size_kb - target.size_kb)?;
        effects.push(Effect::VolumeResized { volume: id, size_kb: src.size_kb });
    }
    effects.push(Effect::ContentOverwritten { volume: id, source });
    if model.is_broken(Breakage::RestoreNoop) {
        return Ok(Plan::new(vec![], Reply::Empty));
    }
    Ok(Plan::new(effects, Reply::Empty))
}

pub(super) fn migrate(model: &Model, id: Id, destination: Id, conversion: Option<Provisioning>) -> Result<Plan, Fault> {
    let v = existing(model, id)?;
    let tree = model.vtree(v.vtree).expect("volume's vtree");
    let dest = model.pool(destination).ok_or_else(Fault::storage_pool_not_found)?;
    if tree.pool == destination {
        return Err(Fault::vtree_migrate_same_sp());
    }
    let provisioning = conversion.unwrap_or(tree.provisioning);
    let dest_pd = model.domain(dest.protection_domain).expect("pool's domain");
    let moving = tree.members.len() as u64;
    if dest.protection_domain != model.pool(tree.pool).expect("pool").protection_domain
        && dest_pd.volume_count + moving > limits::VOLUMES_PER_PROTECTION_DOMAIN
    {
        return Err(Fault::too_many_vols_in_fd());
    }
    // Thick room is for the base volumes; the nominal-size limit counts every member.
    let base_kb: u64 = model.vtree_volumes(tree.id).filter(|m| !m.is_snapshot).map(|m| m.size_kb).sum();
    let snapshot_kb: u64 = model.vtree_volumes(tree.id).filter(|m| m.is_snapshot).map(|m| m.size_kb).sum();
    check_room(dest, provisioning, base_kb)?;
    check_room(dest, Provisioning::Thin, base_kb + snapshot_kb)?;
    Ok(Plan::new(vec![Effect::VTreeMigrated { vtree: tree.id, pool: destination, provisioning }], Reply::Empty))
}

pub(super) fn set_access_mode_limit(model: &Model, id: Id, mode: AccessMode) -> Result<Plan, Fault> {
    existing(model, id)?;
    if mode == AccessMode::NoAccess {
        return Err(Fault::invalid("accessModeLimit must be ReadWrite or ReadOnly"));
    }
    Ok(Plan::new(vec![Effect::AccessModeLimitSet { volume: id, mode }], Reply::Empty))
}
