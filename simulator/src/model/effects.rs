//! The changes a plan is made of, and how they apply. Applying cannot fail: planning has
//! already checked every rule, and the journal replays exactly what was committed.

use serde::{Deserialize, Serialize};

use super::ids::Id;
use super::objects::{
    AccessMode, Host, HostKind, Mapping, PerfProfile, ProtectionDomain, Provisioning, Sdt, StoragePool, VTree, Volume,
};
use super::pools::PoolConfig;
use super::settings::DomainSettings;
use super::snapshot_policies::{AutoSnapshot, SnapshotPolicy};
use super::{domains, pools, sdts, snapshot_policies, Model};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// A new volume or snapshot; its VTree is created with it when new.
    VolumeCreated(Box<VolumeRecord>),
    VolumeRemoved {
        volume: Id,
    },
    /// A snapshot whose ancestor was removed with `ONLY_ME` moves up to its grandparent.
    VolumeReparented {
        volume: Id,
        ancestor: Option<Id>,
    },
    VolumeResized {
        volume: Id,
        size_kb: u64,
    },
    VolumeRenamed {
        volume: Id,
        name: Option<String>,
    },
    /// The target's content becomes the source's. The model keeps no content; the data plane
    /// copies.
    ContentOverwritten {
        volume: Id,
        source: Id,
    },
    MappingAdded {
        volume: Id,
        mapping: Mapping,
    },
    MappingRemoved {
        volume: Id,
        host: Id,
    },
    MappingLimitsSet {
        volume: Id,
        host: Id,
        iops: u64,
        bandwidth_mbps: u64,
    },
    AccessModeLimitSet {
        volume: Id,
        mode: AccessMode,
    },
    UseRmcacheSet {
        volume: Id,
        enabled: bool,
    },
    VTreeMigrated {
        vtree: Id,
        pool: Id,
        provisioning: Provisioning,
    },
    SnapshotGroupCreated {
        group: Id,
        volumes: Vec<Id>,
    },
    HostCreated {
        host: Box<HostRecord>,
        seq: u64,
    },
    HostRemoved {
        host: Id,
    },
    HostRenamed {
        host: Id,
        name: Option<String>,
    },
    HostPathsSet {
        host: Id,
        max_num_paths: Option<u32>,
        max_num_sys_ports: Option<u32>,
    },
    /// SDSs, devices, fault sets, users, the MDM cluster, SDC access (`inventory`).
    Inventory(super::inventory::InventoryEffect),
    MappingAccessModeSet {
        volume: Id,
        host: Id,
        mode: AccessMode,
    },
    /// The snapshot is secure until `exp_time`.
    SnapshotSecuritySet {
        volume: Id,
        exp_time: u64,
    },
    SdcPerfProfileSet {
        host: Id,
        profile: PerfProfile,
    },
    DomainCreated(Box<ProtectionDomain>),
    /// A domain's name and settings after a change.
    DomainConfigured {
        domain: Id,
        name: String,
        settings: Box<DomainSettings>,
    },
    DomainRemoved {
        domain: Id,
    },
    PoolCreated(Box<StoragePool>),
    PoolConfigured {
        pool: Id,
        config: Box<PoolConfig>,
    },
    PoolRemoved {
        pool: Id,
    },
    SdtCreated(Box<Sdt>),
    /// The whole SDT record after a change (the data plane compares its addresses and ports).
    SdtConfigured(Box<Sdt>),
    SdtRemoved {
        sdt: Id,
    },
    PolicyCreated(Box<SnapshotPolicy>),
    /// The whole policy record after a change or a run.
    PolicyConfigured(Box<SnapshotPolicy>),
    PolicyRemoved {
        policy: Id,
    },
    /// Marks a snapshot created in the same plan as a policy's auto snapshot.
    AutoSnapshotTaken {
        volume: Id,
        auto: AutoSnapshot,
    },
    /// The snapshot stays, as an ordinary one.
    AutoSnapshotDetached {
        volume: Id,
    },
}

/// A volume as created, serialisable for the journal.
pub type VolumeRecord = Volume;
/// A host as created, serialisable for the journal.
pub type HostRecord = Host;

/// The low 32 bits of an id: the sequence number it was drawn with.
pub(super) fn seq_of(id: Id) -> u64 {
    id.0 & 0xffff_ffff
}

pub(super) fn apply(model: &mut Model, effect: &Effect) {
    match effect {
        Effect::Inventory(e) => super::inventory::apply(model, e),
        Effect::VolumeCreated(v) => create_volume(model, v),
        Effect::VolumeRemoved { volume } => remove_volume(model, *volume),
        Effect::VolumeReparented { volume, ancestor } => {
            if let Some(v) = model.volumes.get_mut(volume) {
                v.ancestor = *ancestor;
            }
        }
        Effect::VolumeResized { volume, size_kb } => {
            if let Some(v) = model.volumes.get(volume).cloned() {
                usage(model, &v, -1);
                let v = model.volumes.get_mut(volume).expect("present");
                v.size_kb = *size_kb;
                let v = v.clone();
                usage(model, &v, 1);
            }
        }
        Effect::VolumeRenamed { volume, name } => {
            if let Some(v) = model.volumes.get_mut(volume) {
                if let Some(old) = v.name.take() {
                    model.index.volume_by_name.remove(&old);
                }
                v.name = name.clone();
                if let Some(new) = name {
                    model.index.volume_by_name.insert(new.clone(), *volume);
                }
            }
        }
        Effect::ContentOverwritten { .. } => {}
        Effect::MappingAdded { volume, mapping } => {
            if let Some(v) = model.volumes.get_mut(volume) {
                let first = v.mappings.is_empty();
                v.mappings.push(mapping.clone());
                let pool = v.pool;
                if first {
                    model.pools.get_mut(&pool).expect("pool").usage.mapped_volumes += 1;
                }
                if let Some(h) = model.hosts.get_mut(&mapping.host) {
                    h.volumes.insert(*volume);
                }
            }
        }
        Effect::MappingRemoved { volume, host } => {
            if let Some(v) = model.volumes.get_mut(volume) {
                v.mappings.retain(|m| m.host != *host);
                let pool = v.pool;
                if v.mappings.is_empty() {
                    let usage = &mut model.pools.get_mut(&pool).expect("pool").usage;
                    usage.mapped_volumes = usage.mapped_volumes.saturating_sub(1);
                }
            }
            if let Some(h) = model.hosts.get_mut(host) {
                h.volumes.remove(volume);
            }
        }
        Effect::MappingLimitsSet { volume, host, iops, bandwidth_mbps } => {
            if let Some(m) = model.volumes.get_mut(volume).and_then(|v| v.mappings.iter_mut().find(|m| m.host == *host))
            {
                m.limit_iops = *iops;
                m.limit_bw_mbps = *bandwidth_mbps;
            }
        }
        Effect::AccessModeLimitSet { volume, mode } => {
            if let Some(v) = model.volumes.get_mut(volume) {
                v.access_mode_limit = *mode;
            }
        }
        Effect::UseRmcacheSet { volume, enabled } => {
            if let Some(v) = model.volumes.get_mut(volume) {
                v.use_rmcache = *enabled;
            }
        }
        Effect::VTreeMigrated { vtree, pool, provisioning } => migrate(model, *vtree, *pool, *provisioning),
        Effect::SnapshotGroupCreated { group, volumes } => {
            model.seq.snapshot_group = model.seq.snapshot_group.max(seq_of(*group) + 1);
            model.snapshot_groups.insert(*group, volumes.clone());
        }
        Effect::HostCreated { host, seq } => {
            model.seq.host = model.seq.host.max(seq + 1);
            if let Some(name) = &host.name {
                model.index.host_by_name.insert(name.clone(), host.id);
            }
            if let HostKind::Nvme { nqn, .. } = &host.kind {
                model.index.host_by_nqn.insert(nqn.clone(), host.id);
                model.index.nvme_hosts += 1;
            }
            model.hosts.insert(host.id, (**host).clone());
        }
        Effect::HostRemoved { host } => {
            model.inventory.sdc_access.forget(*host);
            if let Some(h) = model.hosts.remove(host) {
                if let Some(name) = &h.name {
                    model.index.host_by_name.remove(name);
                }
                if let HostKind::Nvme { nqn, .. } = &h.kind {
                    model.index.host_by_nqn.remove(nqn);
                    model.index.nvme_hosts -= 1;
                }
            }
        }
        Effect::HostRenamed { host, name } => {
            if let Some(h) = model.hosts.get_mut(host) {
                if let Some(old) = h.name.take() {
                    model.index.host_by_name.remove(&old);
                }
                h.name = name.clone();
                if let Some(new) = name {
                    model.index.host_by_name.insert(new.clone(), *host);
                }
            }
        }
        Effect::HostPathsSet { host, max_num_paths, max_num_sys_ports } => {
            if let Some(HostKind::Nvme { max_num_paths: p, max_num_sys_ports: s, .. }) =
                model.hosts.get_mut(host).map(|h| &mut h.kind)
            {
                if let Some(v) = max_num_paths {
                    *p = *v;
                }
                if let Some(v) = max_num_sys_ports {
                    *s = *v;
                }
            }
        }
        Effect::MappingAccessModeSet { volume, host, mode } => {
            if let Some(m) = model.volumes.get_mut(volume).and_then(|v| v.mappings.iter_mut().find(|m| m.host == *host))
            {
                m.access_mode = *mode;
            }
        }
        Effect::SnapshotSecuritySet { volume, exp_time } => {
            if let Some(v) = model.volumes.get_mut(volume) {
                if v.original_expiry_time == 0 {
                    v.original_expiry_time = *exp_time;
                }
                v.secure_snapshot_exp_time = *exp_time;
            }
        }
        Effect::SdcPerfProfileSet { host, profile } => {
            if let Some(HostKind::Sdc { perf_profile, .. }) = model.hosts.get_mut(host).map(|h| &mut h.kind) {
                *perf_profile = *profile;
            }
        }
        Effect::DomainCreated(domain) => domains::apply_created(model, domain),
        Effect::DomainConfigured { domain, name, settings } => {
            domains::apply_configured(model, *domain, name, settings)
        }
        Effect::DomainRemoved { domain } => domains::apply_removed(model, *domain),
        Effect::PoolCreated(pool) => pools::apply_created(model, pool),
        Effect::PoolConfigured { pool, config } => pools::apply_configured(model, *pool, config),
        Effect::PoolRemoved { pool } => pools::apply_removed(model, *pool),
        Effect::SdtCreated(sdt) => sdts::apply_created(model, sdt),
        Effect::SdtConfigured(sdt) => sdts::apply_configured(model, sdt),
        Effect::SdtRemoved { sdt } => sdts::apply_removed(model, *sdt),
        Effect::PolicyCreated(policy) => snapshot_policies::apply_created(model, policy),
        Effect::PolicyConfigured(policy) => snapshot_policies::apply_configured(model, policy),
        Effect::PolicyRemoved { policy } => snapshot_policies::apply_removed(model, *policy),
        Effect::AutoSnapshotTaken { volume, auto } => {
            model.auto_snapshots.insert(*volume, auto.clone());
        }
        Effect::AutoSnapshotDetached { volume } => {
            model.auto_snapshots.remove(volume);
        }
    }
}

fn create_volume(model: &mut Model, v: &Volume) {
    model.seq.volume = model.seq.volume.max(seq_of(v.id) + 1);
    model.seq.nsid = model.seq.nsid.max(v.nsid);
    let pool = model.pools.get_mut(&v.pool).expect("planned pool exists");
    pool.volumes.insert(v.id);
    let pd = pool.protection_domain;
    let tree = model.vtrees.entry(v.vtree).or_insert_with(|| {
        pool.usage.vtrees += 1;
        VTree { id: v.vtree, pool: v.pool, provisioning: v.provisioning, members: Default::default() }
    });
    tree.members.insert(v.id);
    model.seq.vtree = model.seq.vtree.max(seq_of(v.vtree) + 1);
    if let Some(name) = &v.name {
        model.index.volume_by_name.insert(name.clone(), v.id);
    }
    model.domains.get_mut(&pd).expect("pool's domain").volume_count += 1;
    model.volumes.insert(v.id, v.clone());
    usage(model, v, 1);
}

fn remove_volume(model: &mut Model, id: Id) {
    let Some(v) = model.volumes.remove(&id) else { return };
    snapshot_policies::forget_volume(model, id);
    usage(model, &v, -1);
    if let Some(name) = &v.name {
        model.index.volume_by_name.remove(name);
    }
    let pool = model.pools.get_mut(&v.pool).expect("pool");
    pool.volumes.remove(&id);
    let pd = pool.protection_domain;
    if let Some(tree) = model.vtrees.get_mut(&v.vtree) {
        tree.members.remove(&id);
        if tree.members.is_empty() {
            model.vtrees.remove(&v.vtree);
            pool.usage.vtrees -= 1;
        }
    }
    model.domains.get_mut(&pd).expect("domain").volume_count -= 1;
    if let Some(group) = v.consistency_group {
        if let Some(members) = model.snapshot_groups.get_mut(&group) {
            members.retain(|m| *m != id);
            if members.is_empty() {
                model.snapshot_groups.remove(&group);
            }
        }
    }
}

fn migrate(model: &mut Model, vtree: Id, pool: Id, provisioning: Provisioning) {
    let members: Vec<Id> = model.vtrees.get(&vtree).map(|t| t.members.iter().copied().collect()).unwrap_or_default();
    let Some(old_pool) = model.vtrees.get(&vtree).map(|t| t.pool) else { return };
    let old_pd = model.pools[&old_pool].protection_domain;
    let new_pd = model.pools[&pool].protection_domain;
    for id in &members {
        let v = model.volumes[id].clone();
        usage(model, &v, -1);
        model.pools.get_mut(&old_pool).expect("pool").volumes.remove(id);
        model.pools.get_mut(&pool).expect("pool").volumes.insert(*id);
        let v = model.volumes.get_mut(id).expect("member");
        v.pool = pool;
        v.provisioning = provisioning;
        let v = v.clone();
        usage(model, &v, 1);
        if !v.mappings.is_empty() {
            model.pools.get_mut(&old_pool).expect("pool").usage.mapped_volumes -= 1;
            model.pools.get_mut(&pool).expect("pool").usage.mapped_volumes += 1;
        }
    }
    model.pools.get_mut(&old_pool).expect("pool").usage.vtrees -= 1;
    model.pools.get_mut(&pool).expect("pool").usage.vtrees += 1;
    model.domains.get_mut(&old_pd).expect("domain").volume_count -= members.len() as u64;
    model.domains.get_mut(&new_pd).expect("domain").volume_count += members.len() as u64;
    let tree = model.vtrees.get_mut(&vtree).expect("vtree");
    tree.pool = pool;
    tree.provisioning = provisioning;
}

/// Adds (`sign` 1) or removes (`sign` -1) a volume's share of its pool's counters.
fn usage(model: &mut Model, v: &Volume, sign: i64) {
    let usage = &mut model.pools.get_mut(&v.pool).expect("pool").usage;
    let add = |counter: &mut u64, amount: u64| {
        *counter = if sign > 0 { *counter + amount } else { counter.saturating_sub(amount) };
    };
    add(&mut usage.volumes, 1);
    // Snapshots are thin on medium-granularity pools whatever their tree's provisioning;
    // only a thick base volume reserves its full size.
    if v.is_snapshot {
        add(&mut usage.snapshots, 1);
        add(&mut usage.snapshot_allocated_kb, v.size_kb);
        return;
    }
    match v.provisioning {
        Provisioning::Thin => {
            add(&mut usage.thin_base_volumes, 1);
            add(&mut usage.thin_allocated_kb, v.size_kb);
        }
        Provisioning::Thick => {
            add(&mut usage.thick_base_volumes, 1);
            add(&mut usage.thick_allocated_kb, v.size_kb);
        }
    }
}
