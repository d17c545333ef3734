//! The changes a plan is made of, and how they apply. Applying cannot fail: planning has checked
//! every rule, and the journal replays exactly what was committed. Each object kind has one
//! `index_*` function that adds or withdraws its entries, used by apply and by `rebuild_index`.

use serde::{Deserialize, Serialize};

use super::objects::*;
use super::{path_key, Index, Model};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// A CPG as it now is (created, renamed or with new growth settings).
    CpgPut(Box<Cpg>),
    CpgDeleted {
        cpg: u32,
    },
    /// A new base volume, virtual copy or online-copy destination. A virtual copy's data plane
    /// work is a clone of its parent.
    VolumeCreated(Box<Volume>),
    VolumeResized {
        volume: u32,
        size_mib: u64,
    },
    /// Name, comment, CPGs, type (a completed tune), times, metadata, tree position or copy state
    /// changed; no data is involved.
    VolumeChanged(Box<Volume>),
    VolumeDeleted {
        volume: u32,
    },
    /// The destination's data becomes the source's (copy or promote); the model keeps no data.
    ContentCopied {
        source: u32,
        destination: u32,
    },
    /// A finished copy's destination stands alone as a base volume.
    VolumeDetached {
        volume: u32,
    },
    TaskStarted(Box<Task>),
    TaskEnded {
        task: u32,
        status: TaskStatus,
        at: u64,
    },
    /// A host as it now is (created or changed).
    HostPut(Box<Host>),
    HostDeleted {
        host: u32,
    },
    SetPut {
        kind: SetKind,
        set: Box<MemberSet>,
    },
    SetDeleted {
        kind: SetKind,
        set: u32,
    },
    VlunCreated(Box<Vlun>),
    VlunDeleted {
        vlun: u32,
    },
    /// A QoS rule as it now is (created or changed).
    QosPut(Box<QosRule>),
    QosDeleted {
        set: u32,
    },
}

pub(super) fn apply(model: &mut Model, effect: &Effect) {
    match effect {
        Effect::CpgPut(c) => {
            model.seq.cpg = model.seq.cpg.max(c.id + 1);
            if let Some(old) = model.cpgs.insert(c.id, (**c).clone()) {
                model.index.cpg_by_name.remove(&old.name);
            }
            model.index.cpg_by_name.insert(c.name.clone(), c.id);
            model.index.cpg_usage.entry(c.id).or_default();
        }
        Effect::CpgDeleted { cpg } => {
            if let Some(old) = model.cpgs.remove(cpg) {
                model.index.cpg_by_name.remove(&old.name);
                model.index.cpg_usage.remove(cpg);
            }
        }
        Effect::VolumeCreated(v) => {
            model.seq.volume = model.seq.volume.max(v.id + 1);
            put_volume(model, v);
        }
        Effect::VolumeResized { volume, size_mib } => {
            if let Some(v) = model.volumes.get(volume) {
                put_volume(model, &Volume { size_mib: *size_mib, ..v.clone() });
            }
        }
        Effect::VolumeChanged(v) => put_volume(model, v),
        Effect::VolumeDetached { volume } => {
            if let Some(v) = model.volumes.get(volume) {
                put_volume(model, &Volume { origin: Origin::Base, base_id: v.id, ..v.clone() });
            }
        }
        Effect::VolumeDeleted { volume } => {
            if let Some(v) = model.volumes.remove(volume) {
                index_volume(model, &v, false);
            }
        }
        Effect::ContentCopied { .. } => {}
        Effect::TaskStarted(t) => {
            model.seq.task = model.seq.task.max(t.id + 1);
            index_task(&mut model.index, t, true);
            model.tasks.insert(t.id, (**t).clone());
        }
        Effect::TaskEnded { task, status, at } => {
            if let Some(t) = model.tasks.get_mut(task) {
                index_task(&mut model.index, t, false);
                t.status = *status;
                t.finish_time = Some(*at);
            }
        }
        Effect::HostPut(h) => {
            model.seq.host = model.seq.host.max(h.id + 1);
            if let Some(old) = model.hosts.insert(h.id, (**h).clone()) {
                index_host(&mut model.index, &old, false);
            }
            index_host(&mut model.index, h, true);
        }
        Effect::HostDeleted { host } => {
            if let Some(old) = model.hosts.remove(host) {
                index_host(&mut model.index, &old, false);
            }
        }
        Effect::SetPut { kind, set } => {
            let seq = match kind {
                SetKind::Volume => &mut model.seq.volume_set,
                SetKind::Host => &mut model.seq.host_set,
            };
            *seq = (*seq).max(set.id + 1);
            if let Some(old) = sets_mut(model, *kind).insert(set.id, (**set).clone()) {
                index_set(&mut model.index, *kind, &old, false);
            }
            index_set(&mut model.index, *kind, set, true);
        }
        Effect::SetDeleted { kind, set } => {
            if let Some(old) = sets_mut(model, *kind).remove(set) {
                index_set(&mut model.index, *kind, &old, false);
            }
        }
        Effect::VlunCreated(v) => {
            model.seq.vlun = model.seq.vlun.max(v.id + 1);
            index_vlun(&mut model.index, v, true);
            model.vluns.insert(v.id, (**v).clone());
        }
        Effect::VlunDeleted { vlun } => {
            if let Some(old) = model.vluns.remove(vlun) {
                index_vlun(&mut model.index, &old, false);
            }
        }
        Effect::QosPut(rule) => {
            model.seq.qos = model.seq.qos.max(rule.id + 1);
            model.qos.insert(rule.set, (**rule).clone());
        }
        Effect::QosDeleted { set } => {
            model.qos.remove(set);
        }
    }
}

fn sets_mut(model: &mut Model, kind: SetKind) -> &mut std::collections::BTreeMap<u32, MemberSet> {
    match kind {
        SetKind::Volume => &mut model.volume_sets,
        SetKind::Host => &mut model.host_sets,
    }
}

/// Stores a volume as it now is, withdrawing the old version's index entries first.
fn put_volume(model: &mut Model, v: &Volume) {
    if let Some(old) = model.volumes.insert(v.id, v.clone()) {
        index_volume(model, &old, false);
    }
    index_volume(model, v, true);
}

/// Adds (`add`) or withdraws a volume's entries: name, tree, expiry and its CPGs' counters.
pub(super) fn index_volume(model: &mut Model, v: &Volume, add: bool) {
    let index = &mut model.index;
    toggle_map(&mut index.volume_by_name, v.name.clone(), v.id, add);
    // The snapshot tree (`copyOf`) holds virtual copies only; a physical copy's link is its task.
    if let Origin::VirtualCopy { parent, .. } = v.origin {
        toggle_set(index.children.entry(parent).or_default(), v.id, add);
    }
    if let Some(at) = v.expiration_time {
        toggle_set(&mut index.expiring, (at, v.id), add);
    }
    if v.is_virtual_copy() {
        let copies = index.tree_copies.entry(v.base_id).or_default();
        *copies = if add { *copies + 1 } else { copies.saturating_sub(1) };
        if let Some(cpg) = v.snap_cpg {
            count(&mut index.cpg_usage.entry(cpg).or_default().snapshots, 1, add);
        }
        return;
    }
    let Some(cpg) = v.user_cpg else { return };
    let usage = index.cpg_usage.entry(cpg).or_default();
    match v.provisioning {
        Provisioning::Full => {
            count(&mut usage.full_volumes, 1, add);
            count(&mut usage.full_mib, v.size_mib, add);
        }
        Provisioning::Thin | Provisioning::Dedup => {
            let n =
                if v.provisioning == Provisioning::Thin { &mut usage.thin_volumes } else { &mut usage.dedup_volumes };
            count(n, 1, add);
            count(&mut usage.thin_mib, v.size_mib, add);
        }
    }
}

pub(super) fn index_host(index: &mut Index, h: &Host, add: bool) {
    toggle_map(&mut index.host_by_name, h.name.clone(), h.id, add);
    for path in h.paths() {
        toggle_map(&mut index.host_by_path, path_key(path), h.id, add);
    }
}

pub(super) fn index_set(index: &mut Index, kind: SetKind, s: &MemberSet, add: bool) {
    toggle_map(&mut index.set_by_name, (kind, s.name.clone()), s.id, add);
    for member in &s.members {
        toggle_set(index.sets_of.entry((kind, *member)).or_default(), s.id, add);
    }
}

pub(super) fn index_vlun(index: &mut Index, v: &Vlun, add: bool) {
    toggle_set(index.vluns_of_volume.entry(v.volume).or_default(), v.id, add);
    let by_lun = index.vluns_of_target.entry(v.target).or_default();
    let at_lun = by_lun.entry(v.lun).or_default();
    toggle_set(at_lun, v.id, add);
    if at_lun.is_empty() {
        by_lun.remove(&v.lun);
    }
}

pub(super) fn index_task(index: &mut Index, t: &Task, add: bool) {
    if t.status != TaskStatus::Active {
        return;
    }
    toggle_set(&mut index.due, (t.due_time, t.id), add);
    for volume in [t.source, t.destination] {
        toggle_set(index.busy.entry(volume).or_default(), t.id, add);
    }
}

fn toggle_map<K: std::hash::Hash + Eq, V>(map: &mut std::collections::HashMap<K, V>, key: K, value: V, add: bool) {
    if add {
        map.insert(key, value);
    } else {
        map.remove(&key);
    }
}

fn toggle_set<T: Ord>(set: &mut std::collections::BTreeSet<T>, value: T, add: bool) {
    if add {
        set.insert(value);
    } else {
        set.remove(&value);
    }
}

fn count(counter: &mut u64, amount: u64, add: bool) {
    *counter = if add { *counter + amount } else { counter.saturating_sub(amount) };
}
