//! The system inventory beside the volume core: SDSs with their devices, fault sets, users, the
//! MDM cluster and the system's SDC access settings.
//!
//! Field sets follow goscaleio `types/v1/types.go` (`Sds`, `Device`, `FaultSet`, `User`,
//! `MdmCluster`, `Mdm`) and the samples in Dell's Ansible collection (`sds`, `device`,
//! `mdm_cluster`, `info` modules). The rules live in `sds.rs`, `cluster.rs` and `users.rs`; this
//! file holds the objects, how they are seeded from the topology and how their effects apply.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::{self, Id, IdKind};
use super::objects::Host;
use super::topology::{MdmSpec, Topology};
use super::Model;

/// The raw size of a device added without `capacityLimitInKb` (the simulator has no disks to
/// measure): 1 TiB.
pub const DEFAULT_DEVICE_KB: u64 = 1024 * 1024 * 1024;
/// The SDS port when a client gives none (the Ansible sample's 7072).
pub const DEFAULT_SDS_PORT: u16 = 7072;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Inventory {
    pub sdss: BTreeMap<Id, Sds>,
    pub devices: BTreeMap<Id, Device>,
    pub fault_sets: BTreeMap<Id, FaultSet>,
    pub users: BTreeMap<Id, User>,
    pub cluster: MdmCluster,
    pub sdc_access: SdcAccess,
    pub seq: InventorySeq,
}

/// Next sequence number per inventory id kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InventorySeq {
    pub sds: u64,
    pub device: u64,
    pub fault_set: u64,
    pub user: u64,
    pub mdm: u64,
    pub sdc: u64,
}

/// The role an SDS IP serves: SDS-to-SDS traffic, SDC traffic, or both (PyPowerFlex
/// `SdsIpRoles`: `sdsOnly`, `sdcOnly`, `all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IpRole {
    SdsOnly,
    SdcOnly,
    All,
}

impl IpRole {
    pub fn as_str(self) -> &'static str {
        match self {
            IpRole::SdsOnly => "sdsOnly",
            IpRole::SdcOnly => "sdcOnly",
            IpRole::All => "all",
        }
    }

    pub fn parse(s: &str) -> Option<IpRole> {
        match s.to_ascii_lowercase().as_str() {
            "sdsonly" => Some(IpRole::SdsOnly),
            "sdconly" => Some(IpRole::SdcOnly),
            "all" => Some(IpRole::All),
            _ => None,
        }
    }

    pub fn serves_sds(self) -> bool {
        self != IpRole::SdcOnly
    }

    pub fn serves_sdc(self) -> bool {
        self != IpRole::SdsOnly
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdsIp {
    pub ip: String,
    pub role: IpRole,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sds {
    pub id: Id,
    pub name: Option<String>,
    pub protection_domain: Id,
    pub fault_set: Option<Id>,
    pub ips: Vec<SdsIp>,
    pub port: u16,
    /// `HighPerformance` or `Compact`.
    pub perf_profile: String,
    pub rfcache_enabled: bool,
    pub rmcache_enabled: bool,
    pub rmcache_size_kb: u64,
    /// `Volatile` or `NonVolatile`.
    pub drl_mode: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: Id,
    pub name: Option<String>,
    pub sds: Id,
    pub pool: Id,
    pub path: String,
    pub media_type: String,
    /// The capacity the device gives its pool (raw, KiB): `capacityLimitInKb`.
    pub capacity_kb: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSet {
    pub id: Id,
    pub name: Option<String>,
    pub protection_domain: Id,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Id,
    pub name: String,
    pub role: String,
    /// New users must change the password at first login; the admin user need not.
    pub password_change_required: bool,
    /// The user the gateway's own credentials log in as: it may not change itself.
    pub is_self: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MdmRole {
    Manager,
    TieBreaker,
}

impl MdmRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MdmRole::Manager => "Manager",
            MdmRole::TieBreaker => "TieBreaker",
        }
    }

    pub fn parse(s: &str) -> Option<MdmRole> {
        match s.to_ascii_lowercase().as_str() {
            "manager" => Some(MdmRole::Manager),
            "tiebreaker" => Some(MdmRole::TieBreaker),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mdm {
    pub id: Id,
    pub name: Option<String>,
    pub ips: Vec<String>,
    pub management_ips: Vec<String>,
    pub port: u16,
    pub role: MdmRole,
    pub virtual_interfaces: Vec<String>,
}

/// The cluster modes of `switchClusterMode`: how many managers and tiebreakers take part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClusterMode {
    OneNode,
    ThreeNodes,
    FiveNodes,
}

impl ClusterMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterMode::OneNode => "OneNode",
            ClusterMode::ThreeNodes => "ThreeNodes",
            ClusterMode::FiveNodes => "FiveNodes",
        }
    }

    pub fn parse(s: &str) -> Option<ClusterMode> {
        match s.to_ascii_lowercase().as_str() {
            "onenode" => Some(ClusterMode::OneNode),
            "threenodes" => Some(ClusterMode::ThreeNodes),
            "fivenodes" => Some(ClusterMode::FiveNodes),
            _ => None,
        }
    }

    /// Secondaries and tiebreakers the mode takes beside the primary.
    pub fn members(self) -> usize {
        match self {
            ClusterMode::OneNode => 0,
            ClusterMode::ThreeNodes => 1,
            ClusterMode::FiveNodes => 2,
        }
    }

    pub fn for_members(n: usize) -> Option<ClusterMode> {
        [ClusterMode::OneNode, ClusterMode::ThreeNodes, ClusterMode::FiveNodes].into_iter().find(|m| m.members() == n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MdmCluster {
    pub mode: ClusterMode,
    pub mdms: BTreeMap<Id, Mdm>,
    pub primary: Id,
    pub secondaries: Vec<Id>,
    pub tiebreakers: Vec<Id>,
    pub standbys: Vec<Id>,
    /// `setMdmPerformanceParameters`; the System's `perfProfile`.
    pub perf_profile: String,
}

impl Default for MdmCluster {
    fn default() -> MdmCluster {
        MdmCluster {
            mode: ClusterMode::OneNode,
            mdms: BTreeMap::new(),
            primary: Id(0),
            secondaries: vec![],
            tiebreakers: vec![],
            standbys: vec![],
            perf_profile: "HighPerformance".into(),
        }
    }
}

impl MdmCluster {
    /// Every MDM with its place in the cluster.
    pub fn mdm(&self, id: Id) -> Option<&Mdm> {
        self.mdms.get(&id)
    }

    pub fn ips_of(&self, ids: &[Id]) -> Vec<String> {
        ids.iter().filter_map(|id| self.mdms.get(id)).flat_map(|m| m.ips.clone()).collect()
    }
}

/// `restrictedSdcMode`: which SDCs the MDM lets in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestrictedSdcMode {
    #[default]
    None,
    Guid,
    ApprovedIp,
}

impl RestrictedSdcMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RestrictedSdcMode::None => "None",
            RestrictedSdcMode::Guid => "Guid",
            RestrictedSdcMode::ApprovedIp => "ApprovedIp",
        }
    }

    pub fn parse(s: &str) -> Option<RestrictedSdcMode> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(RestrictedSdcMode::None),
            "guid" => Some(RestrictedSdcMode::Guid),
            "approvedip" => Some(RestrictedSdcMode::ApprovedIp),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdcAccess {
    pub mode: RestrictedSdcMode,
    /// `setApprovedSdcIps` (and `approveSdc`'s IPs), per SDC.
    pub approved_ips: BTreeMap<Id, Vec<String>>,
}

impl SdcAccess {
    /// Drops what is kept about a removed SDC.
    pub fn forget(&mut self, sdc: Id) {
        self.approved_ips.remove(&sdc);
    }
}

/// The changes to the inventory, journaled like every other effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InventoryEffect {
    SdsCreated(Box<Sds>),
    /// The SDS changed in place (name, IPs, port, profile, caches).
    SdsUpdated(Box<Sds>),
    SdsRemoved {
        sds: Id,
    },
    /// A new device; its capacity joins its pool's.
    DeviceCreated(Box<Device>),
    DeviceUpdated(Box<Device>),
    /// The device leaves; its capacity leaves its pool.
    DeviceRemoved {
        device: Id,
    },
    FaultSetCreated(FaultSet),
    FaultSetRenamed {
        fault_set: Id,
        name: String,
    },
    FaultSetRemoved {
        fault_set: Id,
    },
    UserCreated(User),
    UserRoleSet {
        user: Id,
        role: String,
    },
    UserRemoved {
        user: Id,
    },
    /// The cluster after `switchClusterMode`, `addStandbyMdm`, `renameMdm`, ...
    ClusterSet(Box<MdmCluster>),
    /// A new SDC: from `approveSdc` (approved, not connected) or from an unknown SDC joining
    /// (connected).
    SdcApproved {
        host: Box<Host>,
        approved_ips: Vec<String>,
    },
    ApprovedSdcIpsSet {
        sdc: Id,
        ips: Vec<String>,
    },
    RestrictedSdcModeSet(RestrictedSdcMode),
    /// A known SDC connected (from `ip`) or disconnected.
    SdcConnectionSet {
        sdc: Id,
        ip: String,
        connected: bool,
    },
}

/// The low 32 bits of an id: the sequence number it was drawn with.
fn seq_of(id: Id) -> u64 {
    id.0 & 0xffff_ffff
}

pub(super) fn apply(model: &mut Model, effect: &InventoryEffect) {
    let inv = &mut model.inventory;
    match effect {
        InventoryEffect::SdsCreated(s) => {
            inv.seq.sds = inv.seq.sds.max(seq_of(s.id) + 1);
            inv.sdss.insert(s.id, (**s).clone());
        }
        InventoryEffect::SdsUpdated(s) => {
            inv.sdss.insert(s.id, (**s).clone());
        }
        InventoryEffect::SdsRemoved { sds } => {
            inv.sdss.remove(sds);
        }
        InventoryEffect::DeviceCreated(d) => {
            inv.seq.device = inv.seq.device.max(seq_of(d.id) + 1);
            inv.devices.insert(d.id, (**d).clone());
            if let Some(pool) = model.pools.get_mut(&d.pool) {
                pool.max_capacity_kb += d.capacity_kb;
            }
        }
        InventoryEffect::DeviceUpdated(d) => {
            // A new capacity limit moves the pool's capacity by the difference.
            let old = inv.devices.insert(d.id, (**d).clone()).map_or(d.capacity_kb, |o| o.capacity_kb);
            if let Some(pool) = model.pools.get_mut(&d.pool) {
                pool.max_capacity_kb = (pool.max_capacity_kb + d.capacity_kb).saturating_sub(old);
            }
        }
        InventoryEffect::DeviceRemoved { device } => {
            if let Some(d) = inv.devices.remove(device) {
                if let Some(pool) = model.pools.get_mut(&d.pool) {
                    pool.max_capacity_kb = pool.max_capacity_kb.saturating_sub(d.capacity_kb);
                }
            }
        }
        InventoryEffect::FaultSetCreated(f) => {
            inv.seq.fault_set = inv.seq.fault_set.max(seq_of(f.id) + 1);
            inv.fault_sets.insert(f.id, f.clone());
        }
        InventoryEffect::FaultSetRenamed { fault_set, name } => {
            if let Some(f) = inv.fault_sets.get_mut(fault_set) {
                f.name = Some(name.clone());
            }
        }
        InventoryEffect::FaultSetRemoved { fault_set } => {
            inv.fault_sets.remove(fault_set);
        }
        InventoryEffect::UserCreated(u) => {
            inv.seq.user = inv.seq.user.max(seq_of(u.id) + 1);
            inv.users.insert(u.id, u.clone());
        }
        InventoryEffect::UserRoleSet { user, role } => {
            if let Some(u) = inv.users.get_mut(user) {
                u.role = role.clone();
            }
        }
        InventoryEffect::UserRemoved { user } => {
            inv.users.remove(user);
        }
        InventoryEffect::ClusterSet(cluster) => {
            let top = cluster.mdms.keys().map(|id| seq_of(*id) + 1).max().unwrap_or(0);
            inv.seq.mdm = inv.seq.mdm.max(top);
            inv.cluster = (**cluster).clone();
        }
        InventoryEffect::SdcApproved { host, approved_ips } => {
            inv.seq.sdc = inv.seq.sdc.max(seq_of(host.id) + 1);
            if !approved_ips.is_empty() {
                inv.sdc_access.approved_ips.insert(host.id, approved_ips.clone());
            }
            if let Some(name) = &host.name {
                model.index.host_by_name.insert(name.clone(), host.id);
            }
            model.hosts.insert(host.id, (**host).clone());
        }
        InventoryEffect::ApprovedSdcIpsSet { sdc, ips } => {
            inv.sdc_access.approved_ips.insert(*sdc, ips.clone());
        }
        InventoryEffect::RestrictedSdcModeSet(mode) => inv.sdc_access.mode = *mode,
        InventoryEffect::SdcConnectionSet { sdc, ip: new_ip, connected: now } => {
            if let Some(super::HostKind::Sdc { ip, connected, .. }) = model.hosts.get_mut(sdc).map(|h| &mut h.kind) {
                (*ip, *connected) = (new_ip.clone(), *now);
            }
        }
    }
}

/// Builds the inventory a topology describes: its SDSs (three per protection domain when the
/// topology names none), one device per SDS in every pool of its domain with the pool's raw
/// capacity shared among them, its fault sets, the MDM cluster and the admin user.
pub(super) fn seed(model: &mut Model, topology: &Topology) {
    let seed = model.seed;
    let mut inv = Inventory::default();
    for (n, pd_spec) in topology.protection_domains.iter().enumerate() {
        let domain = model.domain_by_name(&pd_spec.name).expect("seeded from this topology");
        let pd = domain.id;
        // Pools in the topology's order, so device paths follow it.
        let pools: Vec<Id> = pd_spec
            .storage_pools
            .iter()
            .filter_map(|spec| model.pools().find(|p| p.protection_domain == pd && p.name == spec.name).map(|p| p.id))
            .collect();
        let mut fault_set_ids = BTreeMap::new();
        for name in &pd_spec.fault_sets {
            let id = ids::derive(seed, IdKind::FaultSet, inv.seq.fault_set);
            inv.seq.fault_set += 1;
            fault_set_ids.insert(name.clone(), id);
            inv.fault_sets.insert(id, FaultSet { id, name: Some(name.clone()), protection_domain: pd });
        }
        let specs = pd_spec.sds_specs_at(n);
        let mut sds_ids = Vec::new();
        for spec in &specs {
            let id = ids::derive(seed, IdKind::Sds, inv.seq.sds);
            inv.seq.sds += 1;
            sds_ids.push(id);
            inv.sdss.insert(
                id,
                Sds {
                    id,
                    name: Some(spec.name.clone()),
                    protection_domain: pd,
                    fault_set: spec.fault_set.as_ref().and_then(|n| fault_set_ids.get(n).copied()),
                    ips: spec.ips.iter().map(|ip| SdsIp { ip: ip.clone(), role: IpRole::All }).collect(),
                    port: spec.port,
                    perf_profile: "HighPerformance".into(),
                    rfcache_enabled: false,
                    rmcache_enabled: false,
                    rmcache_size_kb: 131_072,
                    drl_mode: "Volatile".into(),
                },
            );
        }
        for (n, pool_id) in pools.iter().enumerate() {
            let pool = &model.pools[pool_id];
            let share = pool.max_capacity_kb / sds_ids.len() as u64;
            let last_share = pool.max_capacity_kb - share * (sds_ids.len() as u64 - 1);
            for (i, sds) in sds_ids.iter().enumerate() {
                let id = ids::derive(seed, IdKind::Device, inv.seq.device);
                inv.seq.device += 1;
                let letter = (b'b' + (n % 25) as u8) as char;
                inv.devices.insert(
                    id,
                    Device {
                        id,
                        name: Some(format!("sd{letter}")),
                        sds: *sds,
                        pool: *pool_id,
                        path: format!("/dev/sd{letter}"),
                        media_type: pool.media_type.clone(),
                        capacity_kb: if i + 1 == sds_ids.len() { last_share } else { share },
                    },
                );
            }
        }
    }
    inv.cluster = cluster_from(seed, &mut inv.seq, &topology.mdm_cluster());
    let admin = ids::derive(seed, IdKind::User, 0);
    inv.seq.user = 1;
    inv.users.insert(
        admin,
        User {
            id: admin,
            name: topology.admin_user.clone(),
            role: "SuperUser".into(),
            password_change_required: false,
            is_self: true,
        },
    );
    inv.seq.sdc = topology.sdcs.len() as u64;
    model.inventory = inv;
}

fn cluster_from(seed: u64, seq: &mut InventorySeq, spec: &MdmSpec) -> MdmCluster {
    let mut cluster = MdmCluster::default();
    let mut add = |name: &str, ips: &[String], role: MdmRole| {
        let id = ids::derive(seed, IdKind::Mdm, seq.mdm);
        seq.mdm += 1;
        let mdm = Mdm {
            id,
            name: Some(name.to_string()),
            ips: ips.to_vec(),
            management_ips: if role == MdmRole::Manager { ips.to_vec() } else { vec![] },
            port: 9011,
            role,
            virtual_interfaces: vec![],
        };
        cluster.mdms.insert(id, mdm);
        id
    };
    let primary = add(&spec.primary.name, &spec.primary.ips, MdmRole::Manager);
    let secondaries: Vec<Id> = spec.secondaries.iter().map(|m| add(&m.name, &m.ips, MdmRole::Manager)).collect();
    let tiebreakers: Vec<Id> = spec.tie_breakers.iter().map(|m| add(&m.name, &m.ips, MdmRole::TieBreaker)).collect();
    cluster.primary = primary;
    cluster.mode = ClusterMode::for_members(secondaries.len()).unwrap_or(ClusterMode::OneNode);
    cluster.secondaries = secondaries;
    cluster.tiebreakers = tiebreakers;
    cluster
}

// Queries. Lists come out in id order; the inventory is small (at most 512 SDSs per domain).
impl Model {
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }
    pub fn sdss(&self) -> impl Iterator<Item = &Sds> {
        self.inventory.sdss.values()
    }
    pub fn sds(&self, id: Id) -> Option<&Sds> {
        self.inventory.sdss.get(&id)
    }
    pub fn devices(&self) -> impl Iterator<Item = &Device> {
        self.inventory.devices.values()
    }
    pub fn device(&self, id: Id) -> Option<&Device> {
        self.inventory.devices.get(&id)
    }
    pub fn sds_devices(&self, sds: Id) -> impl Iterator<Item = &Device> {
        self.devices().filter(move |d| d.sds == sds)
    }
    pub fn pool_devices(&self, pool: Id) -> impl Iterator<Item = &Device> {
        self.devices().filter(move |d| d.pool == pool)
    }
    pub fn fault_sets(&self) -> impl Iterator<Item = &FaultSet> {
        self.inventory.fault_sets.values()
    }
    pub fn fault_set(&self, id: Id) -> Option<&FaultSet> {
        self.inventory.fault_sets.get(&id)
    }
    pub fn fault_set_sdss(&self, fault_set: Id) -> impl Iterator<Item = &Sds> {
        self.sdss().filter(move |s| s.fault_set == Some(fault_set))
    }
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.inventory.users.values()
    }
    pub fn user(&self, id: Id) -> Option<&User> {
        self.inventory.users.get(&id)
    }
    pub fn mdm_cluster(&self) -> &MdmCluster {
        &self.inventory.cluster
    }

    /// The manager MDMs' IPs, primary first: what `System.mdmCluster` lists as master and
    /// slaves and what `GET /api/Configuration` answers as `mdmAddresses`.
    pub fn mdm_addresses(&self) -> Vec<String> {
        let c = &self.inventory.cluster;
        let mut ids = vec![c.primary];
        ids.extend(&c.secondaries);
        c.ips_of(&ids)
    }

    /// Whether an SDC is connected to the MDM. SDCs from the topology are unless their spec
    /// says otherwise; SDCs known only from `approveSdc` are not.
    pub fn sdc_connected(&self, sdc: Id) -> bool {
        self.host(sdc).is_some_and(|h| matches!(h.kind, super::HostKind::Sdc { connected: true, .. }))
    }
}

/// An SDS IP as a create or `addSdsIp` call gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSpec {
    pub ip: String,
    pub role: IpRole,
}

/// A device as `POST /api/types/Device/instances` (or an SDS's `deviceInfoList`) gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    pub path: String,
    pub pool: Id,
    pub name: Option<String>,
    pub media_type: Option<String>,
    pub capacity_limit_kb: Option<u64>,
}

/// The inventory changes clients ask for, arguments typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InventoryCommand {
    CreateSds {
        domain: Id,
        name: Option<String>,
        ips: Vec<IpSpec>,
        port: Option<u16>,
        fault_set: Option<Id>,
        devices: Vec<DeviceSpec>,
        rmcache_enabled: Option<bool>,
        rmcache_size_kb: Option<u64>,
        drl_mode: Option<String>,
    },
    RenameSds {
        sds: Id,
        name: String,
    },
    AddSdsIp {
        sds: Id,
        ip: IpSpec,
    },
    RemoveSdsIp {
        sds: Id,
        ip: String,
    },
    SetSdsIpRole {
        sds: Id,
        ip: String,
        role: IpRole,
    },
    SetSdsPort {
        sds: Id,
        port: u64,
    },
    SetSdsPerfProfile {
        sds: Id,
        profile: String,
    },
    SetSdsRfcache {
        sds: Id,
        enabled: bool,
    },
    SetSdsRmcache {
        sds: Id,
        enabled: bool,
    },
    SetSdsRmcacheSize {
        sds: Id,
        size_mb: u64,
    },
    RemoveSds {
        sds: Id,
    },
    CreateDevice {
        sds: Id,
        device: DeviceSpec,
    },
    RenameDevice {
        device: Id,
        name: String,
    },
    SetDeviceCapacityLimit {
        device: Id,
        capacity_kb: u64,
    },
    SetSdsDrlMode {
        sds: Id,
        mode: String,
    },
    SetDeviceMediaType {
        device: Id,
        media_type: String,
    },
    RemoveDevice {
        device: Id,
    },
    CreateFaultSet {
        domain: Id,
        name: Option<String>,
    },
    RenameFaultSet {
        fault_set: Id,
        name: String,
    },
    RemoveFaultSet {
        fault_set: Id,
    },
    CreateUser {
        name: String,
        role: String,
    },
    SetUserRole {
        user: Id,
        role: String,
    },
    RemoveUser {
        user: Id,
    },
    SwitchClusterMode {
        mode: ClusterMode,
        add_secondaries: Vec<Id>,
        add_tiebreakers: Vec<Id>,
        remove_secondaries: Vec<Id>,
        remove_tiebreakers: Vec<Id>,
    },
    AddStandbyMdm {
        ips: Vec<String>,
        role: MdmRole,
        management_ips: Vec<String>,
        name: Option<String>,
        port: Option<u16>,
        virtual_interfaces: Vec<String>,
    },
    RemoveStandbyMdm {
        mdm: Id,
    },
    ChangeMdmOwnership {
        mdm: Id,
    },
    RenameMdm {
        mdm: Id,
        name: String,
    },
    /// `modifyVirtualIpInterfaces`: the interfaces, or none with `clear`.
    SetMdmVirtualInterfaces {
        mdm: Id,
        interfaces: Vec<String>,
    },
    SetMdmPerfProfile {
        profile: String,
    },
    SetRestrictedSdcMode {
        mode: RestrictedSdcMode,
    },
    ApproveSdc {
        guid: String,
        ips: Vec<String>,
        name: Option<String>,
    },
    SetApprovedSdcIps {
        sdc: Id,
        ips: Vec<String>,
    },
    /// An SDC joins the MDM (the `/sim/sdcs` surface: a real SDC uses the MDM's own protocol).
    ConnectSdc {
        guid: String,
        ip: String,
        name: Option<String>,
    },
    /// The SDC with this GUID leaves the MDM (its service stopped).
    DisconnectSdc {
        guid: String,
    },
}

pub(super) fn plan(model: &Model, command: &InventoryCommand) -> Result<super::Plan, super::Fault> {
    use super::{cluster, sds, users};
    use InventoryCommand::*;
    match command {
        CreateSds { domain, name, ips, port, fault_set, devices, rmcache_enabled, rmcache_size_kb, drl_mode } => {
            sds::create(
                model,
                sds::NewSds {
                    domain: *domain,
                    name: name.as_deref(),
                    ips,
                    port: *port,
                    fault_set: *fault_set,
                    devices,
                    rmcache_enabled: *rmcache_enabled,
                    rmcache_size_kb: *rmcache_size_kb,
                    drl_mode: drl_mode.as_deref(),
                },
            )
        }
        RenameSds { sds: id, name } => sds::rename(model, *id, name),
        AddSdsIp { sds: id, ip } => sds::add_ip(model, *id, ip),
        RemoveSdsIp { sds: id, ip } => sds::remove_ip(model, *id, ip),
        SetSdsIpRole { sds: id, ip, role } => sds::set_ip_role(model, *id, ip, *role),
        SetSdsPort { sds: id, port } => sds::set_port(model, *id, *port),
        SetSdsPerfProfile { sds: id, profile } => sds::set_perf_profile(model, *id, profile),
        SetSdsRfcache { sds: id, enabled } => sds::update(model, *id, |s| s.rfcache_enabled = *enabled),
        SetSdsRmcache { sds: id, enabled } => sds::update(model, *id, |s| s.rmcache_enabled = *enabled),
        SetSdsRmcacheSize { sds: id, size_mb } => sds::set_rmcache_size(model, *id, *size_mb),
        RemoveSds { sds: id } => sds::remove(model, *id),
        CreateDevice { sds: id, device } => sds::add_device(model, *id, device),
        RenameDevice { device, name } => sds::rename_device(model, *device, name),
        SetDeviceMediaType { device, media_type } => sds::set_media_type(model, *device, media_type),
        RemoveDevice { device } => sds::remove_device(model, *device),
        SetDeviceCapacityLimit { device, capacity_kb } => sds::set_capacity_limit(model, *device, *capacity_kb),
        SetSdsDrlMode { sds: id, mode } => sds::set_drl_mode(model, *id, mode),
        CreateFaultSet { domain, name } => sds::create_fault_set(model, *domain, name.as_deref()),
        RenameFaultSet { fault_set, name } => sds::rename_fault_set(model, *fault_set, name),
        RemoveFaultSet { fault_set } => sds::remove_fault_set(model, *fault_set),
        CreateUser { name, role } => users::create(model, name, role),
        SetUserRole { user, role } => users::set_role(model, *user, role),
        RemoveUser { user } => users::remove(model, *user),
        SwitchClusterMode { mode, add_secondaries, add_tiebreakers, remove_secondaries, remove_tiebreakers } => {
            cluster::switch_mode(model, *mode, add_secondaries, add_tiebreakers, remove_secondaries, remove_tiebreakers)
        }
        AddStandbyMdm { ips, role, management_ips, name, port, virtual_interfaces } => {
            cluster::add_standby(model, ips, *role, management_ips, name.as_deref(), *port, virtual_interfaces)
        }
        RemoveStandbyMdm { mdm } => cluster::remove_standby(model, *mdm),
        ChangeMdmOwnership { mdm } => cluster::change_ownership(model, *mdm),
        RenameMdm { mdm, name } => cluster::rename(model, *mdm, name),
        SetMdmVirtualInterfaces { mdm, interfaces } => cluster::set_virtual_interfaces(model, *mdm, interfaces),
        SetMdmPerfProfile { profile } => cluster::set_perf_profile(model, profile),
        SetRestrictedSdcMode { mode } => cluster::set_restricted_mode(model, *mode),
        ApproveSdc { guid, ips, name } => cluster::approve_sdc(model, guid, ips, name.as_deref()),
        SetApprovedSdcIps { sdc, ips } => cluster::set_approved_ips(model, *sdc, ips),
        ConnectSdc { guid, ip, name } => cluster::connect_sdc(model, guid, ip, name.as_deref()),
        DisconnectSdc { guid } => cluster::disconnect_sdc(model, guid),
    }
}
