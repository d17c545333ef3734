//! The HPE Alletra (WSAPI v1) array as pure state: system, CPGs, volumes and their copies, sets,
//! hosts, VLUN templates, ports, tasks and QoS rules. No I/O, no HTTP, no JSON bodies, no clock.
//!
//! Shaped like the PowerFlex model (`crate::model`): `Model::plan` checks a `Command` against the
//! rules at `now` and returns the `Effect`s and the `Reply` without changing anything;
//! `Model::commit` applies effects and cannot fail. Effects are what the journal records, so
//! replaying them into a fresh model rebuilds the same state without re-checking rules. Copies
//! and promotes are tasks that finish with time: `Command::Tick` turns the passage of `now` into
//! journaled effects, so a replay never depends on a clock.
//!
//! Invariant: this module knows nothing about HTTP, JSON bodies, files or time; every fault
//! carries its HTTP status and WSAPI code so the HTTP layer only translates.

pub mod breakage;
mod commands;
mod copies;
mod cpgs;
mod effects;
pub mod fault;
mod hosts;
pub mod ids;
mod metadata;
mod names;
pub mod objects;
mod qos;
mod sets;
mod tune;

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
mod vluns;
mod volumes;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

pub use commands::{
    Command, Conversion, CopyMode, CpgChange, ExportTo, HostChange, MemberOp, NewCpg, NewHost, NewSnapshot, NewVlun,
    NewVolume, PathChange, Plan, QosSettings, Reply, SetChange, TuneCpg, VolumeChange, VolumeTune,
};
pub use effects::Effect;
pub use fault::Fault;
pub use objects::*;
use topology::{Limits, PortProtocol, Topology};

/// The next id per kind (ids count from 1, as the arrays' do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Sequences {
    /// Topology CPGs take the first ids; states saved before CPGs could be created lack it.
    #[serde(default)]
    cpg: u32,
    volume: u32,
    host: u32,
    volume_set: u32,
    host_set: u32,
    vlun: u32,
    task: u32,
    qos: u32,
}

/// The whole state of one simulated array.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    seed: u64,
    system: System,
    limits: Limits,
    cpgs: BTreeMap<u32, Cpg>,
    /// Few (a handful per node): a list.
    ports: Vec<Port>,
    volumes: BTreeMap<u32, Volume>,
    hosts: BTreeMap<u32, Host>,
    volume_sets: BTreeMap<u32, MemberSet>,
    host_sets: BTreeMap<u32, MemberSet>,
    vluns: BTreeMap<u32, Vlun>,
    tasks: BTreeMap<u32, Task>,
    /// QoS rules by the id of the volume set they apply to.
    qos: BTreeMap<u32, QosRule>,
    seq: Sequences,
    /// Deliberate faults (`--break`): configuration, not state, so never saved.
    #[serde(skip)]
    broken: BTreeSet<breakage::Breakage>,
    /// Lookup indexes and counters, rebuilt after loading rather than stored.
    #[serde(skip)]
    index: Index,
}

#[derive(Debug, Clone, Default)]
struct Index {
    cpg_by_name: HashMap<String, u32>,
    cpg_usage: HashMap<u32, CpgUsage>,
    volume_by_name: HashMap<String, u32>,
    children: HashMap<u32, BTreeSet<u32>>,
    /// Virtual copies in each snapshot tree, by base id.
    tree_copies: HashMap<u32, usize>,
    /// Volumes that expire, by time.
    expiring: BTreeSet<(u64, u32)>,
    host_by_name: HashMap<String, u32>,
    /// Every iSCSI name, WWN and NQN, to the host that owns it.
    host_by_path: HashMap<String, u32>,
    set_by_name: HashMap<(SetKind, String), u32>,
    /// The sets each volume or host is in.
    sets_of: HashMap<(SetKind, u32), BTreeSet<u32>>,
    vluns_of_volume: HashMap<u32, BTreeSet<u32>>,
    /// The VLUN templates of each export target, by LUN.
    vluns_of_target: HashMap<ExportTarget, BTreeMap<u32, BTreeSet<u32>>>,
    /// The active tasks each volume takes part in (a source may feed several copies).
    busy: HashMap<u32, BTreeSet<u32>>,
    /// Active tasks, by due time.
    due: BTreeSet<(u64, u32)>,
}

impl Model {
    /// A fresh array built from `topology`, its identities derived from `seed`.
    pub fn new(topology: &Topology, seed: u64) -> Model {
        let spec = &topology.system;
        let serial_number = spec.serial_number.clone().unwrap_or_else(|| ids::serial(seed));
        let system = System {
            id: ids::system_id(seed),
            name: spec.name.clone(),
            serial_number,
            model: spec.model.clone(),
            os_version: spec.os_version.clone(),
            wsapi: spec.wsapi.unwrap_or_else(|| spec.family.wsapi()),
            uuid: ids::uuid(seed, ids::Stream::System, 0),
        };
        let cpgs = (0u32..)
            .zip(&topology.cpgs)
            .map(|(id, c)| {
                let uuid = ids::uuid(seed, ids::Stream::Cpg, id.into());
                let growth = CpgGrowth::default();
                (id, Cpg { id, name: c.name.clone(), uuid, capacity_mib: Some(c.capacity_mib), growth })
            })
            .collect();
        let ports = topology
            .ports
            .iter()
            .map(|p| {
                let pos = PortPos { node: p.node, slot: p.slot, card_port: p.card_port };
                let target_name = match p.protocol {
                    // 3PAR target IQNs: `iqn.2000-05.com.3pardata:2<n><s><p>0002ac<serial hex>`.
                    PortProtocol::Iscsi => format!(
                        "iqn.2000-05.com.3pardata:2{}{}{}0002ac{:06x}",
                        p.node,
                        p.slot,
                        p.card_port,
                        system.serial_number.parse::<u64>().unwrap_or(0) & 0xff_ffff
                    ),
                    PortProtocol::Nvme => "nqn.2014-08.org.nvmexpress.discovery".to_string(),
                };
                Port { pos, protocol: p.protocol, ip: p.ip.clone(), label: p.label.clone(), target_name }
            })
            .collect();
        let mut model = Model {
            seed,
            system,
            limits: Limits::of(topology),
            cpgs,
            ports,
            volumes: BTreeMap::new(),
            hosts: BTreeMap::new(),
            volume_sets: BTreeMap::new(),
            host_sets: BTreeMap::new(),
            vluns: BTreeMap::new(),
            tasks: BTreeMap::new(),
            qos: BTreeMap::new(),
            seq: Sequences { cpg: topology.cpgs.len() as u32, ..Sequences::default() },
            broken: BTreeSet::new(),
            index: Index::default(),
        };
        model.rebuild_index();
        model
    }

    /// Restores the lookup indexes and counters after deserialising.
    pub fn rebuild_index(&mut self) {
        self.index = Index::default();
        for cpg in self.cpgs.values() {
            self.index.cpg_by_name.insert(cpg.name.clone(), cpg.id);
            self.index.cpg_usage.insert(cpg.id, CpgUsage::default());
        }
        let volumes: Vec<Volume> = self.volumes.values().cloned().collect();
        for v in &volumes {
            effects::index_volume(self, v, true);
        }
        for h in self.hosts.values() {
            effects::index_host(&mut self.index, h, true);
        }
        for (kind, sets) in [(SetKind::Volume, &self.volume_sets), (SetKind::Host, &self.host_sets)] {
            for s in sets.values() {
                effects::index_set(&mut self.index, kind, s, true);
            }
        }
        for v in self.vluns.values() {
            effects::index_vlun(&mut self.index, v, true);
        }
        for t in self.tasks.values() {
            effects::index_task(&mut self.index, t, true);
        }
    }

    /// Checks `command` at `now` and returns what carrying it out would do. Never changes the model.
    pub fn plan(&self, command: &Command, now: u64) -> Result<Plan, Fault> {
        commands::plan(self, command, now)
    }

    /// Applies effects planned earlier (or read back from the journal).
    pub fn commit(&mut self, effects: &[Effect]) {
        for effect in effects {
            effects::apply(self, effect);
        }
    }

    /// The earliest time a `Tick` has something to do: a task due or a volume expiring.
    pub fn next_due(&self) -> Option<u64> {
        let task = self.index.due.first().map(|(t, _)| *t);
        let expiry = self.index.expiring.first().map(|(t, _)| *t);
        task.into_iter().chain(expiry).min()
    }

    /// Turns on deliberate faults (`--break`); the conformance harness's mutation tests only.
    pub fn set_broken(&mut self, broken: BTreeSet<breakage::Breakage>) {
        self.broken = broken;
    }
    pub fn broken(&self) -> &BTreeSet<breakage::Breakage> {
        &self.broken
    }
    pub(crate) fn is_broken(&self, b: breakage::Breakage) -> bool {
        self.broken.contains(&b)
    }

    // Queries. Lists come out in id order; single lookups are O(1) or O(log n).

    pub fn seed(&self) -> u64 {
        self.seed
    }
    pub fn system(&self) -> &System {
        &self.system
    }
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    pub fn cpgs(&self) -> impl Iterator<Item = &Cpg> {
        self.cpgs.values()
    }
    pub fn cpg_by_name(&self, name: &str) -> Option<&Cpg> {
        self.index.cpg_by_name.get(name).and_then(|id| self.cpgs.get(id))
    }
    pub fn cpg(&self, id: u32) -> Option<&Cpg> {
        self.cpgs.get(&id)
    }
    pub fn cpg_usage(&self, id: u32) -> CpgUsage {
        self.index.cpg_usage.get(&id).copied().unwrap_or_default()
    }
    /// The space a CPG can hold: the topology's, or for a created CPG what it has reserved plus
    /// the system's free space, within its growth limit.
    pub fn cpg_capacity_mib(&self, cpg: &Cpg) -> u64 {
        match cpg.capacity_mib {
            Some(own) => own,
            None => {
                let reachable = self.cpg_usage(cpg.id).full_mib + self.system_free_mib();
                cpg.growth.limit_mib.map_or(reachable, |limit| limit.min(reachable))
            }
        }
    }
    /// What a new full volume in `cpg` could still reserve: within its capacity, and within the
    /// system's free space, which created CPGs' reservations take from too.
    pub fn cpg_free_mib(&self, cpg: &Cpg) -> u64 {
        let own = self.cpg_capacity_mib(cpg).saturating_sub(self.cpg_usage(cpg.id).full_mib);
        own.min(self.system_free_mib())
    }
    /// The system's space: the topology CPGs' together (created CPGs draw from it).
    pub fn system_capacity_mib(&self) -> u64 {
        self.cpgs.values().filter_map(|c| c.capacity_mib).sum()
    }
    /// The system's space not reserved by any CPG's full volumes.
    pub fn system_free_mib(&self) -> u64 {
        let reserved: u64 = self.cpgs.keys().map(|id| self.cpg_usage(*id).full_mib).sum();
        self.system_capacity_mib().saturating_sub(reserved)
    }
    pub fn ports(&self) -> impl Iterator<Item = &Port> {
        self.ports.iter()
    }
    pub fn port(&self, pos: PortPos) -> Option<&Port> {
        self.ports.iter().find(|p| p.pos == pos)
    }
    pub fn volumes(&self) -> impl Iterator<Item = &Volume> {
        self.volumes.values()
    }
    pub fn volume_count(&self) -> usize {
        self.volumes.len()
    }
    pub fn volume(&self, id: u32) -> Option<&Volume> {
        self.volumes.get(&id)
    }
    pub fn volume_by_name(&self, name: &str) -> Option<&Volume> {
        self.index.volume_by_name.get(name).and_then(|id| self.volumes.get(id))
    }
    /// Direct children (`copyOf == name`), in id order.
    pub fn children(&self, id: u32) -> impl Iterator<Item = &Volume> {
        self.index.children.get(&id).into_iter().flatten().filter_map(|c| self.volumes.get(c))
    }
    /// All descendants, children before their own children.
    pub fn descendants(&self, id: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut frontier = vec![id];
        while let Some(next) = frontier.pop() {
            for child in self.index.children.get(&next).into_iter().flatten() {
                out.push(*child);
                frontier.push(*child);
            }
        }
        out
    }
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values()
    }
    pub fn host(&self, id: u32) -> Option<&Host> {
        self.hosts.get(&id)
    }
    pub fn host_by_name(&self, name: &str) -> Option<&Host> {
        self.index.host_by_name.get(name).and_then(|id| self.hosts.get(id))
    }
    /// The host owning an iSCSI name, WWN or NQN (`queryHost`, `getHostByNqn`).
    pub fn host_by_path(&self, path: &str) -> Option<&Host> {
        self.index.host_by_path.get(&path_key(path)).and_then(|id| self.hosts.get(id))
    }
    /// The NQN the array's NVMe subsystems are named under.
    pub fn system_nqn(&self) -> String {
        format!("nqn.2020-07.com.hpe:{}", self.system.uuid)
    }
    /// The NVMe subsystem a host's namespaces are in (`Subsystem_NQN`, one per host; inferred),
    /// named as the `nvmet` data plane names the subsystem it exports them in.
    pub fn subsystem_nqn(&self, host: u32) -> String {
        format!("{}:host:{host:016x}", self.system_nqn())
    }
    fn sets(&self, kind: SetKind) -> &BTreeMap<u32, MemberSet> {
        match kind {
            SetKind::Volume => &self.volume_sets,
            SetKind::Host => &self.host_sets,
        }
    }
    pub fn set_list(&self, kind: SetKind) -> impl Iterator<Item = &MemberSet> {
        self.sets(kind).values()
    }
    pub fn set(&self, kind: SetKind, id: u32) -> Option<&MemberSet> {
        self.sets(kind).get(&id)
    }
    pub fn set_by_name(&self, kind: SetKind, name: &str) -> Option<&MemberSet> {
        self.index.set_by_name.get(&(kind, name.to_string())).and_then(|id| self.sets(kind).get(id))
    }
    /// The sets a volume or host is in, in id order.
    pub fn sets_of(&self, kind: SetKind, member: u32) -> impl Iterator<Item = &MemberSet> {
        let sets = self.sets(kind);
        self.index.sets_of.get(&(kind, member)).into_iter().flatten().filter_map(move |id| sets.get(id))
    }
    pub fn vluns(&self) -> impl Iterator<Item = &Vlun> {
        self.vluns.values()
    }
    pub fn vlun(&self, id: u32) -> Option<&Vlun> {
        self.vluns.get(&id)
    }
    /// The templates exporting a volume (`volumeName EQ`), in id order.
    pub fn volume_vluns(&self, volume: u32) -> impl Iterator<Item = &Vlun> {
        self.index.vluns_of_volume.get(&volume).into_iter().flatten().filter_map(|id| self.vluns.get(id))
    }
    /// The templates of a host or host set (`hostname EQ`), in LUN order.
    pub fn target_vluns(&self, target: ExportTarget) -> impl Iterator<Item = &Vlun> {
        let by_lun = self.index.vluns_of_target.get(&target);
        by_lun.into_iter().flat_map(|m| m.values().flatten()).filter_map(|id| self.vluns.get(id))
    }
    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values()
    }
    pub fn task(&self, id: u32) -> Option<&Task> {
        self.tasks.get(&id)
    }
    /// The active tasks a volume takes part in, in id order.
    pub fn busy_tasks(&self, volume: u32) -> impl Iterator<Item = &Task> {
        self.index.busy.get(&volume).into_iter().flatten().filter_map(|id| self.tasks.get(id))
    }
    pub fn qos_rules(&self) -> impl Iterator<Item = &QosRule> {
        self.qos.values()
    }
    pub fn qos_of_set(&self, set: u32) -> Option<&QosRule> {
        self.qos.get(&set)
    }
}

/// Initiator names compare without case (IQNs are case-insensitive; WWNs are stored normalised).
fn path_key(path: &str) -> String {
    path.to_ascii_lowercase()
}
