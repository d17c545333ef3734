//! What clients ask the array to change, already typed (the HTTP layer parses JSON into these),
//! and what it answers. Objects are named as WSAPI URLs name them: by name.

use super::effects::Effect;
use super::fault::Fault;
use super::objects::{CpgGrowth, Descriptors, LdLayout, PortPos, Provisioning, QosPriority, SetKind, TaskPriority};
use super::{copies, cpgs, hosts, metadata, qos, sets, tune, vluns, volumes, Model};

/// `POST /cpgs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCpg {
    pub name: String,
    pub domain: Option<String>,
    pub growth: CpgGrowth,
}

/// `PUT /cpgs/<name>`; `None` and `false` leave a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpgChange {
    pub new_name: Option<String>,
    pub increment_mib: Option<u64>,
    pub limit_mib: Option<u64>,
    pub warning_mib: Option<u64>,
    pub layout: Option<LdLayout>,
    pub disable_auto_grow: bool,
    pub rm_growth_limit: bool,
    pub rm_warning_alert: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVolume {
    pub name: String,
    pub cpg: String,
    pub size_mib: u64,
    pub provisioning: Provisioning,
    pub compression: bool,
    pub snap_cpg: Option<String>,
    pub comment: Option<String>,
    /// An id the client chooses; the next free one otherwise.
    pub id: Option<u32>,
    pub expiration_hours: Option<u32>,
    pub retention_hours: Option<u32>,
}

impl NewVolume {
    /// A volume of `size_mib` in `cpg` with every optional member left out, as most clients
    /// send it.
    pub fn plain(name: &str, cpg: &str, size_mib: u64, provisioning: Provisioning) -> NewVolume {
        NewVolume {
            name: name.into(),
            cpg: cpg.into(),
            size_mib,
            provisioning,
            compression: false,
            snap_cpg: None,
            comment: None,
            id: None,
            expiration_hours: None,
            retention_hours: None,
        }
    }
}

/// `PUT /volumes/<name>` without an action: only what is `Some` changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeChange {
    pub new_name: Option<String>,
    pub comment: Option<String>,
    pub snap_cpg: Option<String>,
    pub expiration_hours: Option<u32>,
    pub retention_hours: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewSnapshot {
    pub name: String,
    pub read_only: bool,
    pub comment: Option<String>,
    pub expiration_hours: Option<u32>,
    pub retention_hours: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyMode {
    /// Into an existing base volume at least as large.
    Offline { priority: Option<TaskPriority> },
    /// Into a volume the array creates in `cpg`, usable while the copy runs.
    Online { cpg: String, provisioning: Provisioning, compression: bool, snap_cpg: Option<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberOp {
    Add,
    Remove,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewHost {
    pub name: String,
    pub persona: Option<u8>,
    pub iscsi_names: Vec<String>,
    pub fc_wwns: Vec<String>,
    pub nqn: Option<String>,
    pub descriptors: Descriptors,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathChange {
    pub op: MemberOp,
    pub iscsi_names: Vec<String>,
    pub fc_wwns: Vec<String>,
    /// `forcePathRemoval`: remove a path even while the host has exports.
    pub force: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostChange {
    pub new_name: Option<String>,
    pub persona: Option<u8>,
    pub descriptors: Option<Descriptors>,
    pub paths: Option<PathChange>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetChange {
    pub new_name: Option<String>,
    pub comment: Option<String>,
    pub members: Option<(MemberOp, Vec<String>)>,
}

/// `tuneOperation` 1 (USR_CPG) or 2 (SNP_CPG), with the CPG it moves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TuneCpg {
    User(String),
    Snap(String),
}

/// `conversionOperation` 1-4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    Thin,
    Full,
    Dedup,
    /// CONVERT_TO_DECO: deduplicated and compressed (Primera's "reduce").
    Deco,
}

/// `PUT /volumes/<name> {"action":6,…}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeTune {
    pub cpg: TuneCpg,
    pub conversion: Option<Conversion>,
    pub compression: Option<bool>,
    /// The name the original volume (and its snapshots) is kept under when converting.
    pub keep_vv: Option<String>,
}

/// `hostname` of `POST /vluns`: a host, or `set:<host set>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTo {
    Host(String),
    HostSet(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVlun {
    pub volume: String,
    pub lun: u32,
    pub auto_lun: bool,
    /// 0: no maximum.
    pub max_auto_lun: u32,
    pub to: Option<ExportTo>,
    pub port: Option<PortPos>,
}

/// QoS settings; on modify, `None` leaves a value as it is. A limit of `Some(None)` is "no limit".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QosSettings {
    pub enabled: Option<bool>,
    pub priority: Option<QosPriority>,
    pub bw_min_goal_kb: Option<Option<u64>>,
    pub bw_max_limit_kb: Option<Option<u64>>,
    pub io_min_goal: Option<Option<u64>>,
    pub io_max_limit: Option<Option<u64>>,
    pub latency_goal_usecs: Option<Option<u64>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    CreateCpg(NewCpg),
    ModifyCpg {
        name: String,
        change: CpgChange,
    },
    /// Refused while any volume uses the CPG as its user or snapshot CPG.
    DeleteCpg {
        name: String,
    },
    CreateVolume(NewVolume),
    ModifyVolume {
        name: String,
        change: VolumeChange,
    },
    /// Action 3: `delta_mib` is what to add (clients send the difference).
    GrowVolume {
        name: String,
        delta_mib: i64,
    },
    DeleteVolume {
        name: String,
        cascade: bool,
    },
    CreateSnapshot {
        parent: String,
        snapshot: NewSnapshot,
    },
    /// `POST /volumesets/<set>` createSnapshot: one virtual copy per member, `@count@` in the
    /// name numbering them.
    CreateSetSnapshot {
        set: String,
        snapshot: NewSnapshot,
    },
    /// `data_mib`: how much data the copy moves (the data plane's allocated MiB, or the size);
    /// the task's duration is proportional to it.
    CopyVolume {
        source: String,
        destination: String,
        mode: CopyMode,
        data_mib: u64,
    },
    /// Action 4, sent to the snapshot: its data replaces its base volume's.
    PromoteVirtualCopy {
        snapshot: String,
        online: bool,
        priority: Option<TaskPriority>,
        data_mib: u64,
    },
    /// Action 5.
    StopPromoteVirtualCopy {
        snapshot: String,
    },
    CancelTask {
        task: i64,
    },
    /// Action 6: a task that moves the volume's space, `data_mib` of it, to another CPG or type.
    TuneVolume {
        name: String,
        tune: VolumeTune,
        data_mib: u64,
    },
    /// `POST /volumes/<name>/objectKeyValues`: a new key only.
    AddVolumeKey {
        volume: String,
        key: String,
        value: String,
    },
    /// `PUT /volumes/<name>/objectKeyValues/<key>`: an existing key only.
    SetVolumeKey {
        volume: String,
        key: String,
        value: String,
    },
    RemoveVolumeKey {
        volume: String,
        key: String,
    },
    /// Completes the tasks due by `now` and removes expired volumes; the HTTP layer plans it
    /// before a request whenever `Model::next_due` has passed, so completion is journaled.
    Tick,
    CreateHost(NewHost),
    ModifyHost {
        name: String,
        change: HostChange,
    },
    DeleteHost {
        name: String,
    },
    CreateSet {
        kind: SetKind,
        name: String,
        comment: Option<String>,
        members: Vec<String>,
    },
    ModifySet {
        kind: SetKind,
        name: String,
        change: SetChange,
    },
    DeleteSet {
        kind: SetKind,
        name: String,
    },
    CreateVlun(NewVlun),
    DeleteVlun {
        volume: String,
        lun: u32,
        host: Option<String>,
        port: Option<PortPos>,
    },
    CreateQos {
        set: String,
        settings: QosSettings,
    },
    ModifyQos {
        set: String,
        settings: QosSettings,
    },
    DeleteQos {
        set: String,
    },
}

/// What a successful command returns; the HTTP layer adds Location headers from the names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Done,
    /// `{"taskid": N}`.
    Task(u32),
    /// The LUN a VLUN got (the Location `/api/v1/vluns/<vol>,<lun>,<host>` carries it).
    Vlun {
        lun: u32,
    },
}

/// A checked command: the effects that carry it out and the reply.
pub type Plan = crate::array::Plan<Effect, Reply>;

impl Plan {
    pub(super) fn done(effects: Vec<Effect>) -> Plan {
        Plan { effects, reply: Reply::Done }
    }
}

pub(super) fn plan(model: &Model, command: &Command, now: u64) -> Result<Plan, Fault> {
    use Command::*;
    match command {
        CreateCpg(new) => cpgs::create(model, new),
        ModifyCpg { name, change } => cpgs::modify(model, name, change),
        DeleteCpg { name } => cpgs::delete(model, name),
        CreateVolume(new) => volumes::create(model, new, now),
        ModifyVolume { name, change } => volumes::modify(model, name, change, now),
        GrowVolume { name, delta_mib } => volumes::grow(model, name, *delta_mib),
        DeleteVolume { name, cascade } => volumes::delete(model, name, *cascade, now),
        CreateSnapshot { parent, snapshot } => volumes::snapshot(model, parent, snapshot, now),
        CreateSetSnapshot { set, snapshot } => volumes::snapshot_set(model, set, snapshot, now),
        CopyVolume { source, destination, mode, data_mib } => {
            copies::copy(model, source, destination, mode, *data_mib, now)
        }
        PromoteVirtualCopy { snapshot, online, priority, data_mib } => {
            copies::promote(model, snapshot, *online, *priority, *data_mib, now)
        }
        StopPromoteVirtualCopy { snapshot } => copies::stop_promote(model, snapshot, now),
        CancelTask { task } => copies::cancel(model, *task, now),
        TuneVolume { name, tune, data_mib } => tune::tune(model, name, tune, *data_mib, now),
        AddVolumeKey { volume, key, value } => metadata::add(model, volume, key, value, now),
        SetVolumeKey { volume, key, value } => metadata::set(model, volume, key, value),
        RemoveVolumeKey { volume, key } => metadata::remove(model, volume, key),
        Tick => copies::tick(model, now),
        CreateHost(new) => hosts::create(model, new),
        ModifyHost { name, change } => hosts::modify(model, name, change),
        DeleteHost { name } => hosts::delete(model, name),
        CreateSet { kind, name, comment, members } => sets::create(model, *kind, name, comment.as_deref(), members),
        ModifySet { kind, name, change } => sets::modify(model, *kind, name, change),
        DeleteSet { kind, name } => sets::delete(model, *kind, name),
        CreateVlun(new) => vluns::create(model, new, now),
        DeleteVlun { volume, lun, host, port } => vluns::delete(model, volume, *lun, host.as_deref(), *port),
        CreateQos { set, settings } => qos::create(model, set, settings),
        ModifyQos { set, settings } => qos::modify(model, set, settings),
        DeleteQos { set } => qos::delete(model, set),
    }
}
