//! What clients ask the MDM to change, and what it answers.

use super::domains::DomainChange;
use super::effects::Effect;
use super::fault::Fault;
use super::ids::Id;
use super::objects::{AccessMode, PerfProfile, Provisioning};
use super::pools::{NewPool, PoolChange};
use super::sdts::{NewSdt, SdtChange};
use super::snapshot_policies::{PolicyChange, PolicySettings};
use super::{domains, hosts, pools, sdts, secure, snapshot_policies, volumes, Model};

/// How `removeVolume` treats the volume's relatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveMode {
    OnlyMe,
    IncludingDescendants,
    DescendantsOnly,
    WholeVtree,
}

impl RemoveMode {
    pub fn parse(s: &str) -> Option<RemoveMode> {
        match s.to_ascii_uppercase().as_str() {
            "ONLY_ME" => Some(RemoveMode::OnlyMe),
            "INCLUDING_DESCENDANTS" => Some(RemoveMode::IncludingDescendants),
            "DESCENDANTS_ONLY" => Some(RemoveMode::DescendantsOnly),
            "WHOLE_VTREE" => Some(RemoveMode::WholeVtree),
            _ => None,
        }
    }
}

/// How a mapping call names its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRef {
    Id(Id),
    Guid(String),
    Nqn(String),
}

/// Which mappings a removal call targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapTarget {
    One(HostRef),
    All,
}

/// A change a client asks for, with its arguments already typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    CreateVolume {
        pool: Id,
        domain: Option<Id>,
        name: Option<String>,
        size_kb: u64,
        provisioning: Provisioning,
        use_rmcache: bool,
    },
    SnapshotVolumes {
        defs: Vec<(Id, Option<String>)>,
        access_mode: AccessMode,
        /// `retentionPeriodInMin`: the snapshots are secure for this long (0: not secure).
        retention_min: Option<u64>,
    },
    RemoveConsistencyGroupSnapshots {
        group: Id,
    },
    RemoveVolume {
        volume: Id,
        mode: RemoveMode,
    },
    SetVolumeSize {
        volume: Id,
        size_gb: u64,
    },
    SetVolumeName {
        volume: Id,
        name: String,
    },
    /// `addMappedSdc` and `addMappedHost`. `host_api` says which: their errors differ.
    AddMapping {
        volume: Id,
        host: HostRef,
        allow_multiple: bool,
        /// Absent means the volume's own access mode limit.
        access_mode: Option<AccessMode>,
        host_api: bool,
    },
    RemoveMapping {
        volume: Id,
        target: MapTarget,
        host_api: bool,
    },
    SetMappedSdcLimits {
        volume: Id,
        host: HostRef,
        iops_limit: Option<u64>,
        bandwidth_limit_kbps: Option<u64>,
    },
    OverwriteVolumeContent {
        volume: Id,
        source: Id,
    },
    MigrateVTree {
        volume: Id,
        destination_pool: Id,
        conversion: Option<Provisioning>,
    },
    SetAccessModeLimit {
        volume: Id,
        mode: AccessMode,
    },
    SetUseRmcache {
        volume: Id,
        enabled: bool,
    },
    CreateNvmeHost {
        nqn: String,
        name: Option<String>,
        max_num_paths: Option<u32>,
        max_num_sys_ports: Option<u32>,
    },
    /// `setSdcName` on `Sdc::` or a rename on `Host::`; `host_api` picks the "not found" code.
    RenameHost {
        host: Id,
        name: String,
        host_api: bool,
    },
    RemoveHost {
        host: Id,
        host_api: bool,
    },
    SetHostMaxNumPaths {
        host: Id,
        value: u32,
    },
    SetHostMaxNumSysPorts {
        host: Id,
        value: u32,
    },
    /// SDSs, devices, fault sets, users, the MDM cluster, SDC access (`inventory`).
    Inventory(super::inventory::InventoryCommand),
    /// `setVolumeMappingAccessMode`: one mapping's access mode.
    SetMappingAccessMode {
        volume: Id,
        host: HostRef,
        mode: AccessMode,
    },
    /// `setSnapshotSecurity`: secure for `retention_min` minutes from now.
    SetSnapshotSecurity {
        volume: Id,
        retention_min: u64,
    },
    /// `setSdcPerformanceParameters`.
    SetSdcPerfProfile {
        host: Id,
        profile: PerfProfile,
    },
    CreateDomain {
        name: String,
    },
    ModifyDomain {
        domain: Id,
        change: DomainChange,
    },
    RemoveDomain {
        domain: Id,
    },
    CreatePool(Box<NewPool>),
    ModifyPool {
        pool: Id,
        change: PoolChange,
    },
    RemovePool {
        pool: Id,
    },
    CreateSdt(Box<NewSdt>),
    ModifySdt {
        sdt: Id,
        change: SdtChange,
    },
    RemoveSdt {
        sdt: Id,
    },
    CreatePolicy(Box<PolicySettings>),
    ModifyPolicy {
        policy: Id,
        change: PolicyChange,
    },
    RemovePolicy {
        policy: Id,
    },
    /// One scheduled run of a snapshot policy; nothing happens unless it is due at `now`.
    TakeAutoSnapshots {
        policy: Id,
    },
}

/// What a successful command returns to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `{}`
    Empty,
    /// `{"id": ...}` from a create.
    Created(Id),
    /// `{"volumeIdList": [...], "snapshotGroupId": ...}`
    Snapshots { volumes: Vec<Id>, group: Id },
    /// `{"numberOfVolumes": n}`
    Removed(u64),
}

/// A checked command: the effects that carry it out and the reply.
pub type Plan = crate::array::Plan<Effect, Reply>;

pub(super) fn plan(model: &Model, command: &Command, now: u64) -> Result<Plan, Fault> {
    use Command::*;
    match command {
        CreateVolume { pool, domain, name, size_kb, provisioning, use_rmcache } => {
            volumes::create(model, *pool, *domain, name.as_deref(), *size_kb, *provisioning, *use_rmcache, now)
        }
        SnapshotVolumes { defs, access_mode, retention_min } => {
            volumes::snapshot(model, defs, *access_mode, *retention_min, now)
        }
        RemoveConsistencyGroupSnapshots { group } => volumes::remove_group(model, *group, now),
        RemoveVolume { volume, mode } => volumes::remove(model, *volume, *mode, now),
        SetVolumeSize { volume, size_gb } => volumes::resize(model, *volume, *size_gb),
        SetVolumeName { volume, name } => volumes::rename(model, *volume, name),
        AddMapping { volume, host, allow_multiple, access_mode, host_api } => {
            hosts::map(model, *volume, host, *allow_multiple, *access_mode, *host_api)
        }
        RemoveMapping { volume, target, host_api } => hosts::unmap(model, *volume, target, *host_api),
        SetMappedSdcLimits { volume, host, iops_limit, bandwidth_limit_kbps } => {
            hosts::set_limits(model, *volume, host, *iops_limit, *bandwidth_limit_kbps)
        }
        OverwriteVolumeContent { volume, source } => volumes::overwrite(model, *volume, *source),
        MigrateVTree { volume, destination_pool, conversion } => {
            volumes::migrate(model, *volume, *destination_pool, *conversion)
        }
        SetAccessModeLimit { volume, mode } => volumes::set_access_mode_limit(model, *volume, *mode),
        SetUseRmcache { volume, enabled } => {
            volumes::existing(model, *volume)?;
            Ok(Plan::new(vec![Effect::UseRmcacheSet { volume: *volume, enabled: *enabled }], Reply::Empty))
        }
        CreateNvmeHost { nqn, name, max_num_paths, max_num_sys_ports } => {
            hosts::create_nvme(model, nqn, name.as_deref(), *max_num_paths, *max_num_sys_ports)
        }
        RenameHost { host, name, host_api } => hosts::rename(model, *host, name, *host_api),
        RemoveHost { host, host_api } => hosts::remove(model, *host, *host_api),
        SetHostMaxNumPaths { host, value } => hosts::set_paths(model, *host, Some(*value), None),
        SetHostMaxNumSysPorts { host, value } => hosts::set_paths(model, *host, None, Some(*value)),
        Inventory(command) => super::inventory::plan(model, command),
        SetMappingAccessMode { volume, host, mode } => hosts::set_mapping_access_mode(model, *volume, host, *mode),
        SetSnapshotSecurity { volume, retention_min } => secure::set(model, *volume, *retention_min, now),
        SetSdcPerfProfile { host, profile } => hosts::set_perf_profile(model, *host, *profile),
        CreateDomain { name } => domains::create(model, name),
        ModifyDomain { domain, change } => domains::modify(model, *domain, change),
        RemoveDomain { domain } => domains::remove(model, *domain),
        CreatePool(new) => pools::create(model, new),
        ModifyPool { pool, change } => pools::modify(model, *pool, change),
        RemovePool { pool } => pools::remove(model, *pool),
        CreateSdt(new) => sdts::create(model, new),
        ModifySdt { sdt, change } => sdts::modify(model, *sdt, change),
        RemoveSdt { sdt } => sdts::remove(model, *sdt),
        CreatePolicy(new) => snapshot_policies::create(model, new, now),
        ModifyPolicy { policy, change } => snapshot_policies::modify(model, *policy, change, now),
        RemovePolicy { policy } => snapshot_policies::remove(model, *policy),
        TakeAutoSnapshots { policy } => snapshot_policies::take(model, *policy, now),
    }
}
