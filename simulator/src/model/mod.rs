//! The PowerFlex MDM as pure state: objects, rules and limits, with no I/O.
//!
//! Every change goes through two steps. `Model::plan` checks a `Command` against the rules and
//! returns a `Plan`: the `Effect`s that would carry it out and the `Reply` the client gets.
//! Planning never changes the model. `Model::commit` then applies the effects, and cannot fail.
//! Between the two, the gateway asks the data plane to carry the effects out (create a backing
//! file, export a namespace), so a data-plane failure leaves the model untouched. The journal in
//! `persist` records effects, not commands: replaying them needs no rule checks and no ids.
//!
//! Invariant: this module knows nothing about HTTP, JSON bodies or files.

pub mod breakage;
mod cluster;
mod commands;
mod domains;
mod effects;
pub mod fault;
mod hosts;
pub mod ids;
pub mod inventory;
pub mod inventory_stats;
#[cfg(test)]
mod inventory_tests;
pub mod layout;
pub mod limits;
pub mod objects;
mod pools;
mod sds;
mod sdts;
mod secure;
pub mod settings;
pub mod snapshot_policies;
pub mod stats;

/// The journal and snapshot keep this model (`persist`).
impl crate::array::ArrayModel for Model {
    type Effect = Effect;
    fn commit(&mut self, effects: &[Effect]) {
        Model::commit(self, effects)
    }
    fn rebuild_index(&mut self) {
        Model::rebuild_index(self)
    }
}

#[cfg(test)]
mod tests;
pub mod topology;
mod users;
mod volumes;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

pub use commands::{Command, HostRef, MapTarget, Plan, RemoveMode, Reply};
pub use domains::DomainChange;
pub use effects::Effect;
pub use fault::Fault;
pub use ids::Id;
use ids::IdKind;
pub use objects::*;
pub use pools::{IoPriorityKind, NewPool, PoolChange, PoolConfig};
pub use sdts::{NewSdt, SdtChange};
pub use snapshot_policies::{AutoSnapshot, PolicyChange, PolicySettings, RemovalAction, SnapshotPolicy};
use topology::Topology;

/// Next sequence number per id kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Sequences {
    volume: u64,
    vtree: u64,
    host: u64,
    snapshot_group: u64,
    nsid: u32,
    #[serde(default)]
    domain: u64,
    #[serde(default)]
    pool: u64,
    #[serde(default)]
    sdt: u64,
    #[serde(default)]
    policy: u64,
}

/// The whole state of one simulated system.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    seed: u64,
    system: System,
    domains: BTreeMap<Id, ProtectionDomain>,
    pools: BTreeMap<Id, StoragePool>,
    sdts: BTreeMap<Id, Sdt>,
    volumes: BTreeMap<Id, Volume>,
    vtrees: BTreeMap<Id, VTree>,
    hosts: BTreeMap<Id, Host>,
    /// Members of each snapshot group (consistency group), for `removeConsistencyGroupSnapshots`.
    snapshot_groups: BTreeMap<Id, Vec<Id>>,
    /// SDSs, devices, fault sets, users, the MDM cluster and SDC access settings.
    #[serde(default)]
    inventory: inventory::Inventory,
    #[serde(default)]
    policies: BTreeMap<Id, snapshot_policies::SnapshotPolicy>,
    /// The volumes a snapshot policy took, and which run took them.
    #[serde(default)]
    auto_snapshots: BTreeMap<Id, snapshot_policies::AutoSnapshot>,
    seq: Sequences,
    /// Lookup indexes, rebuilt after loading rather than stored.
    #[serde(skip)]
    index: Index,
    /// Deliberate faults for the conformance harness's mutation test; configuration, not state.
    #[serde(skip)]
    broken: std::collections::BTreeSet<breakage::Breakage>,
}

#[derive(Debug, Clone, Default)]
struct Index {
    volume_by_name: HashMap<String, Id>,
    host_by_name: HashMap<String, Id>,
    host_by_nqn: HashMap<String, Id>,
    nvme_hosts: usize,
    /// The policy each source volume belongs to.
    policy_by_source: HashMap<Id, Id>,
}

impl Model {
    /// A fresh system built from `topology`, its ids derived from `seed`.
    pub fn new(topology: &Topology, seed: u64) -> Model {
        let system_id = ids::derive(seed, IdKind::System, 0);
        let system = System {
            id: system_id,
            name: Some(topology.system_name.clone()),
            system_nqn: format!("nqn.1988-11.com.dell:powerflex:00:{system_id}"),
            version_info: "R4_5.2100.0".to_string(),
            install_id: ids::derive(seed, IdKind::System, 1),
        };
        let mut model = Model {
            seed,
            system,
            domains: BTreeMap::new(),
            pools: BTreeMap::new(),
            sdts: BTreeMap::new(),
            volumes: BTreeMap::new(),
            vtrees: BTreeMap::new(),
            hosts: BTreeMap::new(),
            snapshot_groups: BTreeMap::new(),
            inventory: Default::default(),
            policies: BTreeMap::new(),
            auto_snapshots: BTreeMap::new(),
            seq: Sequences::default(),
            index: Index::default(),
            broken: Default::default(),
        };
        let (mut pool_seq, mut sdt_seq) = (0, 0);
        for (pd_seq, pd_spec) in topology.protection_domains.iter().enumerate() {
            let pd_id = ids::derive(seed, IdKind::ProtectionDomain, pd_seq as u64);
            let mut pd = ProtectionDomain {
                id: pd_id,
                name: pd_spec.name.clone(),
                pools: Default::default(),
                sdts: Default::default(),
                volume_count: 0,
                settings: Default::default(),
            };
            for pool_spec in &pd_spec.storage_pools {
                let id = ids::derive(seed, IdKind::StoragePool, pool_seq);
                pool_seq += 1;
                pd.pools.insert(id);
                model.pools.insert(
                    id,
                    StoragePool {
                        id,
                        name: pool_spec.name.clone(),
                        protection_domain: pd_id,
                        media_type: pool_spec.media_type.clone(),
                        zero_padding: pool_spec.zero_padding,
                        max_capacity_kb: pool_spec.capacity_gb * 1024 * 1024,
                        spare_percentage: pool_spec.spare_percentage,
                        usage: PoolUsage::default(),
                        volumes: Default::default(),
                        settings: settings::PoolSettings {
                            data_layout: pool_spec.data_layout,
                            compression_method: pool_spec
                                .compression_method
                                .unwrap_or_else(|| layout::Compression::default_for(pool_spec.data_layout)),
                            ..Default::default()
                        },
                    },
                );
            }
            for sdt_spec in &pd_spec.sdts {
                let id = ids::derive(seed, IdKind::Sdt, sdt_seq);
                sdt_seq += 1;
                pd.sdts.insert(id);
                model.sdts.insert(
                    id,
                    Sdt {
                        id,
                        name: sdt_spec.name.clone(),
                        protection_domain: pd_id,
                        ips: sdt_spec.ips.clone(),
                        storage_port: sdt_spec.storage_port,
                        nvme_port: sdt_spec.nvme_port,
                        discovery_port: sdt_spec.discovery_port,
                        ip_roles: Default::default(),
                        in_maintenance: false,
                    },
                );
            }
            model.domains.insert(pd_id, pd);
        }
        model.seq.domain = topology.protection_domains.len() as u64;
        (model.seq.pool, model.seq.sdt) = (pool_seq, sdt_seq);
        for (n, sdc) in topology.sdcs.iter().enumerate() {
            let id = ids::derive(seed, IdKind::Sdc, n as u64);
            model.hosts.insert(
                id,
                Host {
                    id,
                    name: sdc.name.clone(),
                    kind: HostKind::Sdc {
                        guid: sdc.guid.clone(),
                        ip: sdc.ip.clone(),
                        connected: sdc.connected,
                        perf_profile: PerfProfile::default(),
                    },
                    volumes: Default::default(),
                },
            );
        }
        inventory::seed(&mut model, topology);
        model.rebuild_index();
        model
    }

    /// Restores the lookup indexes after deserialising.
    pub fn rebuild_index(&mut self) {
        for pool in self.pools.values_mut() {
            pool.volumes.clear();
        }
        for v in self.volumes.values() {
            if let Some(pool) = self.pools.get_mut(&v.pool) {
                pool.volumes.insert(v.id);
            }
        }
        let mut index = Index::default();
        for v in self.volumes.values() {
            if let Some(name) = &v.name {
                index.volume_by_name.insert(name.clone(), v.id);
            }
        }
        for h in self.hosts.values() {
            if let Some(name) = &h.name {
                index.host_by_name.insert(name.clone(), h.id);
            }
            if let HostKind::Nvme { nqn, .. } = &h.kind {
                index.host_by_nqn.insert(nqn.clone(), h.id);
                index.nvme_hosts += 1;
            }
        }
        for p in self.policies.values() {
            index.policy_by_source.extend(p.sources.iter().map(|s| (*s, p.id)));
        }
        self.index = index;
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Turns deliberate faults on (see `breakage`).
    pub fn set_broken(&mut self, broken: std::collections::BTreeSet<breakage::Breakage>) {
        self.broken = broken;
    }

    pub fn broken(&self) -> &std::collections::BTreeSet<breakage::Breakage> {
        &self.broken
    }

    pub(crate) fn is_broken(&self, b: breakage::Breakage) -> bool {
        self.broken.contains(&b)
    }

    /// Checks `command` and returns what carrying it out would do. Never changes the model.
    pub fn plan(&self, command: &Command, now: u64) -> Result<Plan, Fault> {
        commands::plan(self, command, now)
    }

    /// Applies effects planned earlier (or read back from the journal).
    pub fn commit(&mut self, effects: &[Effect]) {
        for effect in effects {
            effects::apply(self, effect);
        }
    }

    // Queries. Lists come out in id order; single lookups are O(log n).

    pub fn system(&self) -> &System {
        &self.system
    }
    pub fn domains(&self) -> impl Iterator<Item = &ProtectionDomain> {
        self.domains.values()
    }
    pub fn domain(&self, id: Id) -> Option<&ProtectionDomain> {
        self.domains.get(&id)
    }
    pub fn domain_by_name(&self, name: &str) -> Option<&ProtectionDomain> {
        // Few domains (at most 256): a scan is cheap.
        self.domains.values().find(|d| d.name == name)
    }
    pub fn pools(&self) -> impl Iterator<Item = &StoragePool> {
        self.pools.values()
    }
    pub fn pool(&self, id: Id) -> Option<&StoragePool> {
        self.pools.get(&id)
    }
    pub fn sdts(&self) -> impl Iterator<Item = &Sdt> {
        self.sdts.values()
    }
    pub fn sdt(&self, id: Id) -> Option<&Sdt> {
        self.sdts.get(&id)
    }
    pub fn volumes(&self) -> impl Iterator<Item = &Volume> {
        self.volumes.values()
    }
    pub fn volume(&self, id: Id) -> Option<&Volume> {
        self.volumes.get(&id)
    }
    pub fn volume_count(&self) -> usize {
        self.volumes.len()
    }
    pub fn volume_by_name(&self, name: &str) -> Option<&Volume> {
        self.index.volume_by_name.get(name).and_then(|id| self.volumes.get(id))
    }
    pub fn vtrees(&self) -> impl Iterator<Item = &VTree> {
        self.vtrees.values()
    }
    pub fn vtree(&self, id: Id) -> Option<&VTree> {
        self.vtrees.get(&id)
    }
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values()
    }
    pub fn host(&self, id: Id) -> Option<&Host> {
        self.hosts.get(&id)
    }
    pub fn host_by_nqn(&self, nqn: &str) -> Option<&Host> {
        self.index.host_by_nqn.get(nqn).and_then(|id| self.hosts.get(id))
    }
    pub fn host_by_name(&self, name: &str) -> Option<&Host> {
        self.index.host_by_name.get(name).and_then(|id| self.hosts.get(id))
    }

    pub fn policies(&self) -> impl Iterator<Item = &SnapshotPolicy> {
        self.policies.values()
    }
    pub fn policy(&self, id: Id) -> Option<&SnapshotPolicy> {
        self.policies.get(&id)
    }
    /// The policy a volume is the source of.
    pub fn policy_of_source(&self, volume: Id) -> Option<Id> {
        self.index.policy_by_source.get(&volume).copied()
    }
    /// Whether (and by which policy run) a volume was taken as an auto snapshot.
    pub fn auto_snapshot(&self, volume: Id) -> Option<&AutoSnapshot> {
        self.auto_snapshots.get(&volume)
    }
    /// The auto snapshots a policy keeps, in id order.
    pub fn policy_auto_snapshots(&self, policy: Id) -> impl Iterator<Item = Id> + '_ {
        self.auto_snapshots.iter().filter(move |(_, a)| a.policy == policy).map(|(id, _)| *id)
    }
    /// The policies whose auto snapshot is due at `now` (the gateway's scheduler asks).
    pub fn policies_due(&self, now: u64) -> Vec<Id> {
        snapshot_policies::due(self, now)
    }

    /// The volumes of a pool, in id order.
    pub fn pool_volumes(&self, pool: Id) -> impl Iterator<Item = &Volume> {
        let set = self.pools.get(&pool).map(|p| &p.volumes);
        set.into_iter().flatten().filter_map(|id| self.volumes.get(id))
    }

    /// The volumes of a VTree, in id order.
    pub fn vtree_volumes(&self, vtree: Id) -> impl Iterator<Item = &Volume> {
        let members = self.vtrees.get(&vtree).map(|t| &t.members);
        members.into_iter().flatten().filter_map(|id| self.volumes.get(id))
    }

    /// The volumes mapped to a host, in id order.
    pub fn host_volumes(&self, host: Id) -> impl Iterator<Item = &Volume> {
        let set = self.hosts.get(&host).map(|h| &h.volumes);
        set.into_iter().flatten().filter_map(|id| self.volumes.get(id))
    }

    /// Direct children (snapshots) of a volume. Bounded by the VTree size (127).
    pub fn children(&self, id: Id) -> Vec<Id> {
        let Some(v) = self.volumes.get(&id) else { return vec![] };
        self.vtree_volumes(v.vtree).filter(|c| c.ancestor == Some(id)).map(|c| c.id).collect()
    }

    /// All descendants of a volume, nearest first.
    pub fn descendants(&self, id: Id) -> Vec<Id> {
        let mut out = Vec::new();
        let mut frontier = vec![id];
        while let Some(next) = frontier.pop() {
            for child in self.children(next) {
                out.push(child);
                frontier.push(child);
            }
        }
        out
    }

    /// The base (root) volumes of a VTree: members without an ancestor in the tree.
    pub fn vtree_roots(&self, vtree: Id) -> Vec<Id> {
        self.vtree_volumes(vtree).filter(|v| v.ancestor.is_none()).map(|v| v.id).collect()
    }

    /// The NVMe NGUID of a volume: its id, Dell's IEEE OUI `64b94e`, and the last ten hex
    /// digits of the system id (as cinder and LXD compute it).
    pub fn nguid(&self, volume: Id) -> String {
        let system = self.system.id.to_string();
        format!("{volume}64b94e{}", &system[6..])
    }
}
