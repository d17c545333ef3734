//! Snapshot policies: a cadence and per-level retention applied to source volumes.
//!
//! The model has no clock: `TakeAutoSnapshots` is planned with `now` like every command, and
//! takes one snapshot group of all the policy's sources when its next creation time has come.
//! Retention: level 1 keeps the last `n1` auto snapshots, level 2 keeps the last `n2` of every
//! `n1`-th, level 3 the last `n3` of every `n1*n2`-th, and so on (reference §2.10; the
//! multi-level scheme as Dell documents it). An auto snapshot no level keeps is removed in the
//! same plan, unless it is mapped (then it waits for a later run).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::commands::{Plan, Reply};
use super::domains::next_id;
use super::effects::{seq_of, Effect};
use super::fault::Fault;
use super::ids::{Id, IdKind};
use super::objects::AccessMode;
use super::{limits, volumes, Model};

const MAX_LEVELS: usize = 6;
/// Auto snapshots one policy may keep per source, all levels together (inferred).
const MAX_RETAINED: u64 = 60;
/// The shortest cadence, in minutes (inferred).
const MIN_CADENCE_MIN: u64 = 15;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotPolicy {
    pub id: Id,
    pub settings: PolicySettings,
    pub sources: BTreeSet<Id>,
    /// When the cadence counts from: creation, or the last run.
    pub anchor_time: u64,
    pub last_auto_snapshot_time: u64,
    /// How many runs have taken snapshots; numbers each run's group for retention.
    pub runs: u64,
    pub creation_failures: u64,
    pub last_failure_time: u64,
}

impl SnapshotPolicy {
    pub fn next_creation_time(&self) -> u64 {
        self.anchor_time + self.settings.cadence_min * 60
    }

    pub fn max_vtree_auto_snapshots(&self) -> u64 {
        self.settings.retained_per_level.iter().sum()
    }

    fn due(&self, now: u64) -> bool {
        !self.settings.paused && !self.sources.is_empty() && self.next_creation_time() <= now
    }
}

/// What marks a volume as an auto snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoSnapshot {
    pub policy: Id,
    /// `autoSnapshotGroupId`: the snapshot group of the run that took it.
    pub group: Id,
    /// The policy's run number, for retention.
    pub run: u64,
}

/// What a client sets on a policy, at creation (`POST /api/types/SnapshotPolicy/instances`)
/// and later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySettings {
    pub name: Option<String>,
    pub cadence_min: u64,
    pub retained_per_level: Vec<u64>,
    pub paused: bool,
    pub access_mode: AccessMode,
    pub secure: bool,
}

/// What `removeSourceVolumeFromSnapshotPolicy` does with the source's auto snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalAction {
    Remove,
    /// They stay, as ordinary snapshots.
    Detach,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyChange {
    Modify { cadence_min: Option<u64>, retained_per_level: Option<Vec<u64>> },
    Rename(String),
    Pause,
    Resume,
    AddSource(Id),
    RemoveSource { volume: Id, action: RemovalAction },
}

pub(super) fn existing(model: &Model, id: Id) -> Result<&SnapshotPolicy, Fault> {
    model.policies.get(&id).ok_or_else(Fault::snap_policy_not_found)
}

fn check_name(model: &Model, name: &str, renaming: Option<Id>) -> Result<(), Fault> {
    volumes::check_name_syntax(name)?;
    if model.policies.values().any(|p| p.settings.name.as_deref() == Some(name) && Some(p.id) != renaming) {
        return Err(Fault::snap_policy_name_already_exists());
    }
    Ok(())
}

fn check_schedule(cadence_min: u64, levels: &[u64]) -> Result<(), Fault> {
    if cadence_min < MIN_CADENCE_MIN {
        return Err(Fault::invalid(format!(
            "autoSnapshotCreationCadenceInMin {cadence_min} (at least {MIN_CADENCE_MIN})"
        )));
    }
    if levels.is_empty() || levels.len() > MAX_LEVELS {
        return Err(Fault::too_many_snap_policy_levels());
    }
    if levels.contains(&0) || levels.iter().sum::<u64>() > MAX_RETAINED {
        return Err(Fault::snap_policy_levels_out_of_range());
    }
    Ok(())
}

pub(super) fn create(model: &Model, new: &PolicySettings, now: u64) -> Result<Plan, Fault> {
    if let Some(name) = &new.name {
        check_name(model, name, None)?;
    }
    check_schedule(new.cadence_min, &new.retained_per_level)?;
    if new.access_mode == AccessMode::NoAccess {
        return Err(Fault::invalid("snapshotAccessMode must be ReadWrite or ReadOnly"));
    }
    let id = next_id(model, IdKind::SnapshotPolicy, model.seq.policy, model.policies.keys());
    let policy = SnapshotPolicy {
        id,
        settings: new.clone(),
        sources: BTreeSet::new(),
        anchor_time: now,
        last_auto_snapshot_time: 0,
        runs: 0,
        creation_failures: 0,
        last_failure_time: 0,
    };
    Ok(Plan::new(vec![Effect::PolicyCreated(Box::new(policy))], Reply::Created(id)))
}

fn auto_snapshots_of(model: &Model, source: Id) -> Vec<Id> {
    let Some(vtree) = model.volume(source).map(|v| v.vtree) else { return vec![] };
    model.vtree_volumes(vtree).filter(|v| model.auto_snapshots.contains_key(&v.id)).map(|v| v.id).collect()
}

pub(super) fn modify(model: &Model, id: Id, change: &PolicyChange, now: u64) -> Result<Plan, Fault> {
    let mut policy = existing(model, id)?.clone();
    let mut effects = Vec::new();
    match change {
        PolicyChange::Modify { cadence_min, retained_per_level } => {
            let settings = &mut policy.settings;
            settings.cadence_min = cadence_min.unwrap_or(settings.cadence_min);
            if let Some(levels) = retained_per_level {
                settings.retained_per_level = levels.clone();
            }
            check_schedule(settings.cadence_min, &settings.retained_per_level)?;
        }
        PolicyChange::Rename(name) => {
            check_name(model, name, Some(id))?;
            policy.settings.name = Some(name.clone());
        }
        PolicyChange::Pause => policy.settings.paused = true,
        PolicyChange::Resume => policy.settings.paused = false,
        PolicyChange::AddSource(volume) => {
            let v = volumes::existing(model, *volume)?;
            if model.auto_snapshots.contains_key(volume) {
                return Err(Fault::source_vol_cant_be_auto_snapshot());
            }
            if model.index.policy_by_source.contains_key(volume) {
                return Err(Fault::source_vol_already_in_snap_policy());
            }
            if model.vtree_volumes(v.vtree).any(|m| model.index.policy_by_source.contains_key(&m.id)) {
                return Err(Fault::two_snap_policy_src_vols_of_same_vtree());
            }
            let members = model.vtree(v.vtree).map_or(0, |t| t.members.len() as u64);
            if members + policy.max_vtree_auto_snapshots() > limits::VOLUMES_PER_VTREE as u64 {
                return Err(Fault::add_src_vol_will_cause_too_many_vols_in_vtree());
            }
            policy.sources.insert(*volume);
        }
        PolicyChange::RemoveSource { volume, action } => {
            volumes::existing(model, *volume)?;
            if !policy.sources.remove(volume) {
                return Err(Fault::source_vol_not_in_snap_policy());
            }
            let autos = auto_snapshots_of(model, *volume);
            effects.extend(autos.iter().map(|a| Effect::AutoSnapshotDetached { volume: *a }));
            if *action == RemovalAction::Remove {
                effects.extend(volumes::removal(model, &autos, true, now)?);
            }
        }
    }
    effects.insert(0, Effect::PolicyConfigured(Box::new(policy)));
    Ok(Plan::new(effects, Reply::Empty))
}

pub(super) fn remove(model: &Model, id: Id) -> Result<Plan, Fault> {
    if !existing(model, id)?.sources.is_empty() {
        return Err(Fault::snap_policy_has_source_volumes());
    }
    Ok(Plan::new(vec![Effect::PolicyRemoved { policy: id }], Reply::Empty))
}

/// The policies whose next auto snapshot is due at `now`.
pub(super) fn due(model: &Model, now: u64) -> Vec<Id> {
    model.policies.values().filter(|p| p.due(now)).map(|p| p.id).collect()
}

/// Whether the auto snapshot of run `run` is still kept once run `latest` has been taken.
fn retained(levels: &[u64], run: u64, latest: u64) -> bool {
    let mut every = 1u64;
    for keep in levels {
        if run.is_multiple_of(every) && run + keep * every > latest {
            return true;
        }
        every = every.saturating_mul(*keep);
    }
    false
}

/// One run of a due policy: a snapshot group of all its sources, and the retention pruning.
/// A run the MDM refuses (a full VTree, say) is counted as a creation failure instead.
pub(super) fn take(model: &Model, id: Id, now: u64) -> Result<Plan, Fault> {
    let policy = existing(model, id)?;
    if !policy.due(now) {
        return Ok(Plan::new(vec![], Reply::Empty));
    }
    let mut after = policy.clone();
    // The cadence keeps its phase: the next run is one cadence after the last slot passed.
    let cadence = policy.settings.cadence_min * 60;
    after.anchor_time = now - (now - policy.anchor_time) % cadence;
    let defs: Vec<(Id, Option<String>)> = policy.sources.iter().map(|s| (*s, None)).collect();
    let snapshot = match volumes::snapshot(model, &defs, policy.settings.access_mode, None, now) {
        Ok(plan) => plan,
        Err(_) => {
            after.creation_failures += 1;
            after.last_failure_time = now;
            return Ok(Plan::new(vec![Effect::PolicyConfigured(Box::new(after))], Reply::Empty));
        }
    };
    let Reply::Snapshots { volumes: taken, group } = snapshot.reply else { unreachable!("snapshot replies") };
    after.runs += 1;
    after.last_auto_snapshot_time = now;
    let mut effects = snapshot.effects;
    effects.extend(
        taken.iter().map(|v| Effect::AutoSnapshotTaken {
            volume: *v,
            auto: AutoSnapshot { policy: id, group, run: after.runs },
        }),
    );
    let expired: Vec<Id> = policy
        .sources
        .iter()
        .flat_map(|s| auto_snapshots_of(model, *s))
        .filter(|a| !retained(&policy.settings.retained_per_level, model.auto_snapshots[a].run, after.runs))
        .filter(|a| model.volume(*a).is_some_and(|v| v.mappings.is_empty()))
        .collect();
    effects.extend(volumes::removal(model, &expired, true, now)?);
    effects.push(Effect::PolicyConfigured(Box::new(after)));
    Ok(Plan::new(effects, Reply::Empty))
}

pub(super) fn apply_created(model: &mut Model, policy: &SnapshotPolicy) {
    model.seq.policy = model.seq.policy.max(seq_of(policy.id) + 1);
    apply_configured(model, policy);
}

pub(super) fn apply_configured(model: &mut Model, policy: &SnapshotPolicy) {
    if let Some(old) = model.policies.get(&policy.id) {
        for source in &old.sources {
            model.index.policy_by_source.remove(source);
        }
    }
    for source in &policy.sources {
        model.index.policy_by_source.insert(*source, policy.id);
    }
    model.policies.insert(policy.id, policy.clone());
}

pub(super) fn apply_removed(model: &mut Model, id: Id) {
    model.policies.remove(&id);
}

/// A removed volume leaves its policy (as a source) and the auto snapshot records.
pub(super) fn forget_volume(model: &mut Model, volume: Id) {
    model.auto_snapshots.remove(&volume);
    if let Some(policy) = model.index.policy_by_source.remove(&volume) {
        if let Some(p) = model.policies.get_mut(&policy) {
            p.sources.remove(&volume);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::retained;
    use crate::model::settings::IpRole;
    use crate::model::topology::Topology;
    use crate::model::*;

    #[test]
    fn retention_keeps_the_last_of_each_level() {
        // Level 1 keeps 3, level 2 keeps 2 of every 3rd: after run 10, runs 8, 9, 10 (level 1)
        // and 6, 9 (level 2) stay.
        let kept: Vec<u64> = (1..=10).filter(|r| retained(&[3, 2], *r, 10)).collect();
        assert_eq!(kept, vec![6, 8, 9, 10]);
        let kept: Vec<u64> = (1..=5).filter(|r| retained(&[2], *r, 5)).collect();
        assert_eq!(kept, vec![4, 5]);
    }

    /// Replaying the journal (effects as JSON) rebuilds the same state as committing them did,
    /// for every kind of object this issue added.
    #[test]
    fn journaled_effects_replay_to_the_same_state() {
        let topology = Topology::default_embedded();
        let mut live = Model::new(&topology, 3);
        let mut journal: Vec<String> = Vec::new();
        let mut run = |model: &mut Model, command: Command, now: u64| -> Reply {
            let plan = model.plan(&command, now).expect("allowed");
            journal.extend(plan.effects.iter().map(|e| serde_json::to_string(e).expect("effect serialises")));
            model.commit(&plan.effects);
            plan.reply
        };
        let Reply::Created(pd) = run(&mut live, Command::CreateDomain { name: "pd-j".into() }, 0) else { panic!() };
        run(&mut live, Command::ModifyDomain { domain: pd, change: DomainChange::Inactivate }, 0);
        let new_pool = NewPool {
            domain: live.domain_by_name("pd1").unwrap().id,
            name: "sp-j".into(),
            media_type: Some("SSD".into()),
            data_layout: None,
            compression_method: None,
            zero_padding: None,
            spare_percentage: None,
            use_rmcache: Some(true),
            use_rfcache: None,
            checksum_enabled: None,
            rmcache_write_handling_mode: None,
        };
        let Reply::Created(pool) = run(&mut live, Command::CreatePool(Box::new(new_pool)), 0) else { panic!() };
        run(&mut live, Command::ModifyPool { pool, change: PoolChange::SparePercentage(30) }, 0);
        let sdt = NewSdt {
            domain: pd,
            name: "sdt-j".into(),
            ips: vec![("127.0.0.70".into(), IpRole::HostOnly)],
            storage_port: None,
            nvme_port: None,
            discovery_port: None,
        };
        run(&mut live, Command::CreateSdt(Box::new(sdt)), 0);
        let sp1 = live.pools().find(|p| p.name == "sp1").unwrap().id;
        let create = Command::CreateVolume {
            pool: sp1,
            domain: None,
            name: Some("v-j".into()),
            size_kb: 8 << 20,
            provisioning: Provisioning::Thin,
            use_rmcache: false,
        };
        let Reply::Created(volume) = run(&mut live, create, 0) else { panic!() };
        let settings = PolicySettings {
            name: Some("pol-j".into()),
            cadence_min: 15,
            retained_per_level: vec![1],
            paused: false,
            access_mode: AccessMode::ReadOnly,
            secure: false,
        };
        let Reply::Created(policy) = run(&mut live, Command::CreatePolicy(Box::new(settings)), 0) else { panic!() };
        run(&mut live, Command::ModifyPolicy { policy, change: PolicyChange::AddSource(volume) }, 0);
        for minute in [15, 30] {
            run(&mut live, Command::TakeAutoSnapshots { policy }, minute * 60);
        }
        assert_eq!(live.policy_auto_snapshots(policy).count(), 1, "retention kept one of two runs");

        let mut replayed = Model::new(&topology, 3);
        let effects: Vec<Effect> =
            journal.iter().map(|line| serde_json::from_str(line).expect("effect parses")).collect();
        replayed.commit(&effects);
        let state = |m: &Model| serde_json::to_value(m).expect("model serialises");
        assert_eq!(state(&replayed), state(&live));
        assert_eq!(replayed.policy_of_source(volume), Some(policy));
        // And a saved state loads with its indexes.
        let mut loaded: Model = serde_json::from_value(state(&live)).expect("state loads");
        loaded.rebuild_index();
        assert_eq!(loaded.policy_of_source(volume), Some(policy));
    }
}
