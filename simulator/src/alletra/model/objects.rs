//! The objects the array keeps: plain data. Serde is derived only for the state directory and
//! the journal; the WSAPI field names and enums are the HTTP layer's business.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::topology::{PortProtocol, WsapiVersion};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct System {
    pub id: u32,
    pub name: String,
    pub serial_number: String,
    pub model: String,
    pub os_version: String,
    pub wsapi: WsapiVersion,
    /// For the NVMe subsystem NQNs.
    pub uuid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpg {
    pub id: u32,
    pub name: String,
    pub uuid: String,
    /// The space the topology gives it; `None` for a CPG created through `POST /cpgs`, which
    /// draws from the system's free space instead (`Model::cpg_capacity_mib`, FIDELITY.md).
    pub capacity_mib: Option<u64>,
    /// How the CPG grows (`SDGrowth`); topology CPGs have none set.
    #[serde(default)]
    pub growth: CpgGrowth,
}

/// A CPG's growth settings and logical-disk layout, as `POST /cpgs` gives them (reference §1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpgGrowth {
    /// `growthIncrementMiB`; `disableAutoGrow` sets it to 0.
    pub increment_mib: Option<u64>,
    pub limit_mib: Option<u64>,
    /// `usedLDWarningAlertMiB`.
    pub warning_mib: Option<u64>,
    pub layout: LdLayout,
}

/// `LDLayout`: the enumerations as the WSAPI numbers them (RAIDType 1-4, HA 1-3, diskType 1-3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LdLayout {
    pub raid_type: Option<u8>,
    pub set_size: Option<u32>,
    pub ha: Option<u8>,
    pub disk_types: Vec<u8>,
}

/// Space a CPG's volumes take, kept up to date on every change (not stored: rebuilt on load).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpgUsage {
    pub full_volumes: u64,
    pub thin_volumes: u64,
    pub dedup_volumes: u64,
    /// Reserved by full volumes.
    pub full_mib: u64,
    /// The virtual size of thin and dedup volumes (over-provisioned space).
    pub thin_mib: u64,
    /// Virtual copies whose snapshot CPG this is.
    pub snapshots: u64,
}

/// How a base volume's space is allocated (WSAPI `provisioningType` 1, 2 and 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Provisioning {
    Full,
    Thin,
    /// Deduplicated (TDVV); with `compression` this is Primera's "reduce" (DECO).
    Dedup,
}

/// Where a volume comes from (WSAPI `copyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    Base,
    /// The destination of a physical or online copy while its task runs.
    PhysicalCopy {
        parent: u32,
    },
    /// A snapshot: `copyOf` is the parent's name, `provisioningType` 3.
    VirtualCopy {
        parent: u32,
        read_only: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub id: u32,
    pub name: String,
    pub uuid: String,
    /// 32 hex digits: `60002AC`, zeros, the volume id and the system serial (the real layout).
    pub wwn: String,
    /// 32 hex digits; the NVMe namespace identifier LXD finds the device by.
    pub nguid: String,
    pub size_mib: u64,
    /// A virtual copy keeps the size its parent had when it was taken (copies cannot grow), which
    /// is what promote's "parent has grown" rule compares with.
    pub provisioning: Provisioning,
    pub compression: bool,
    pub origin: Origin,
    /// The root of the snapshot tree (`baseId`); its own id for a base volume.
    pub base_id: u32,
    /// `userCPG`; virtual copies have none.
    pub user_cpg: Option<u32>,
    pub snap_cpg: Option<u32>,
    pub comment: Option<String>,
    pub creation_time: u64,
    /// When the array removes the volume by itself.
    pub expiration_time: Option<u64>,
    /// Before this, deleting is refused (RETAINED).
    pub retention_time: Option<u64>,
    /// `objectKeyValues`: the volume's own key/value pairs (Cinder keeps CHAP secrets there),
    /// by key. Copies start without any. States saved before metadata existed lack it.
    #[serde(default)]
    pub metadata: BTreeMap<String, KeyValue>,
}

/// One `objectKeyValues` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub value: String,
    /// When the key was added (a new value keeps it).
    pub creation_time: u64,
}

impl Volume {
    pub fn parent(&self) -> Option<u32> {
        match self.origin {
            Origin::Base => None,
            Origin::PhysicalCopy { parent } | Origin::VirtualCopy { parent, .. } => Some(parent),
        }
    }

    pub fn is_virtual_copy(&self) -> bool {
        matches!(self.origin, Origin::VirtualCopy { .. })
    }

    pub fn read_only(&self) -> bool {
        matches!(self.origin, Origin::VirtualCopy { read_only: true, .. })
    }
}

/// Volume sets and host sets share one shape and one set of rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SetKind {
    Volume,
    Host,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSet {
    pub id: u32,
    pub name: String,
    pub uuid: String,
    pub comment: Option<String>,
    /// Volume or host ids, by kind.
    pub members: BTreeSet<u32>,
}

/// Host personas 1 to 11; 2 (Generic-ALUA) is the default.
pub const DEFAULT_PERSONA: u8 = 2;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptors {
    pub location: Option<String>,
    pub ip_addr: Option<String>,
    pub os: Option<String>,
    pub model: Option<String>,
    pub contact: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    pub id: u32,
    pub name: String,
    pub persona: u8,
    pub iscsi_names: Vec<String>,
    pub fc_wwns: Vec<String>,
    /// One NQN per NVMe host.
    pub nqn: Option<String>,
    pub descriptors: Descriptors,
}

impl Host {
    /// Every initiator name the host owns; each belongs to one host only.
    pub fn paths(&self) -> impl Iterator<Item = &String> {
        self.iscsi_names.iter().chain(&self.fc_wwns).chain(&self.nqn)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortPos {
    pub node: u8,
    pub slot: u8,
    pub card_port: u8,
}

impl std::fmt::Display for PortPos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.node, self.slot, self.card_port)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    pub pos: PortPos,
    pub protocol: PortProtocol,
    pub ip: String,
    pub label: Option<String>,
    /// The target name: an IQN on iSCSI ports, the discovery subsystem's NQN on NVMe ports.
    pub target_name: String,
}

/// Who a VLUN template exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ExportTarget {
    Host(u32),
    HostSet(u32),
    /// Port-present: every host that logs in to the port.
    Port,
}

/// A VLUN template: the export rule clients create and delete. Active VLUNs (one per logged-in
/// path) are derived from it by whoever knows the sessions, not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vlun {
    pub id: u32,
    pub volume: u32,
    pub lun: u32,
    pub target: ExportTarget,
    pub port: Option<PortPos>,
    pub creation_time: u64,
}

impl Vlun {
    /// WSAPI VLUN type: 2 port-present, 3 host-sees, 4 matched set, 5 host set.
    pub fn wsapi_type(&self) -> u8 {
        match (self.target, self.port) {
            (ExportTarget::Port, _) => 2,
            (ExportTarget::Host(_), None) => 3,
            (ExportTarget::Host(_), Some(_)) => 4,
            (ExportTarget::HostSet(_), _) => 5,
        }
    }
}

/// WSAPI task types the model starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskKind {
    /// 1 VV_COPY: an offline physical copy into an existing volume.
    PhysicalCopy,
    /// 4 PROMOTE_SV: a virtual copy's data replaces its base volume's.
    Promote,
    /// 18 ONLINE_COPY: a copy into a volume the array creates, usable at once.
    OnlineCopy,
    /// Action 6, tune: the volume moves to `target` when the task completes. 19 CONVERT_VV
    /// when it converts, else 3 MOVE_REGIONS (a CPG move; inferred).
    Tune(TuneTarget),
}

/// What a tune makes of its volume on completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TuneTarget {
    pub user_cpg: Option<u32>,
    pub snap_cpg: Option<u32>,
    pub provisioning: Provisioning,
    pub compression: bool,
    /// A `conversionOperation` was given (the provisioning or compression changes).
    pub converts: bool,
}

impl TaskKind {
    pub fn wsapi_type(self) -> u8 {
        match self {
            TaskKind::PhysicalCopy => 1,
            TaskKind::Promote => 4,
            TaskKind::OnlineCopy => 18,
            TaskKind::Tune(t) if t.converts => 19,
            TaskKind::Tune(_) => 3,
        }
    }
}

/// WSAPI task status: 1 DONE, 2 ACTIVE, 3 CANCELLED, 4 FAILED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskStatus {
    Done,
    Active,
    Cancelled,
    Failed,
}

impl TaskStatus {
    pub fn wsapi(self) -> u8 {
        match self {
            TaskStatus::Done => 1,
            TaskStatus::Active => 2,
            TaskStatus::Cancelled => 3,
            TaskStatus::Failed => 4,
        }
    }
}

/// Task priority: 1 HIGH, 2 MED, 3 LOW (the opposite order of QoS priority).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskPriority {
    High,
    Medium,
    Low,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: u32,
    pub kind: TaskKind,
    /// The destination volume's name (python finds online copies by it); the base volume's for
    /// a promote.
    pub name: String,
    pub source: u32,
    pub destination: u32,
    pub status: TaskStatus,
    pub priority: Option<TaskPriority>,
    pub start_time: u64,
    /// When it completes, from the data to copy and the copy rate.
    pub due_time: u64,
    pub finish_time: Option<u64>,
    pub total_mib: u64,
}

impl Task {
    /// MiB copied by `now`, for `completedSteps`: linear between start and due.
    pub fn copied_mib(&self, now: u64) -> u64 {
        match self.status {
            TaskStatus::Done => self.total_mib,
            TaskStatus::Active if self.due_time > self.start_time => {
                let elapsed = now.clamp(self.start_time, self.due_time) - self.start_time;
                self.total_mib * elapsed / (self.due_time - self.start_time)
            }
            TaskStatus::Active => 0,
            // Where it stopped.
            TaskStatus::Cancelled | TaskStatus::Failed => {
                let end = self.finish_time.unwrap_or(self.start_time);
                Task { status: TaskStatus::Active, ..self.clone() }.copied_mib(end)
            }
        }
    }
}

/// QoS priority: 1 LOW, 2 NORMAL, 3 HIGH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QosPriority {
    Low,
    Normal,
    High,
}

/// A QoS rule on a volume set. `None` means no goal or no limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QosRule {
    pub id: u32,
    pub set: u32,
    pub enabled: bool,
    pub priority: QosPriority,
    pub bw_min_goal_kb: Option<u64>,
    pub bw_max_limit_kb: Option<u64>,
    pub io_min_goal: Option<u64>,
    pub io_max_limit: Option<u64>,
    pub latency_goal_usecs: Option<u64>,
}
