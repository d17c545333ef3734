//! Planning of host commands: NVMe hosts and SDCs, and the mappings between hosts and volumes.

use super::commands::{HostRef, MapTarget, Plan, Reply};
use super::effects::Effect;
use super::fault::Fault;
use super::ids::{self, Id, IdKind};
use super::limits;
use super::objects::{AccessMode, Host, HostKind, Mapping, PerfProfile};
use super::volumes::{check_name_syntax, existing};
use super::Model;

/// Finds the host a call names. `Sdc` endpoints and `Host` endpoints word "not found"
/// differently.
fn resolve<'m>(model: &'m Model, host: &HostRef, host_api: bool) -> Result<&'m Host, Fault> {
    let found = match host {
        HostRef::Id(id) => model.host(*id),
        HostRef::Nqn(nqn) => model.host_by_nqn(nqn),
        // SDC GUIDs compare case-insensitively (cinder looks them up that way). At most 2048.
        HostRef::Guid(guid) => {
            model.hosts().find(|h| matches!(&h.kind, HostKind::Sdc { guid: g, .. } if g.eq_ignore_ascii_case(guid)))
        }
    };
    found.ok_or_else(|| if host_api { Fault::host_not_found() } else { Fault::ini_not_found() })
}

pub(super) fn map(
    model: &Model,
    volume: Id,
    host: &HostRef,
    allow_multiple: bool,
    access_mode: Option<AccessMode>,
    host_api: bool,
) -> Result<Plan, Fault> {
    let v = existing(model, volume)?;
    let h = resolve(model, host, host_api)?;
    if v.mappings.iter().any(|m| m.host == h.id) {
        return Err(Fault::vol_already_mapped_to_this_ini());
    }
    if !v.mappings.is_empty() && !allow_multiple {
        return Err(Fault::not_allowed_more_than_one_mapping());
    }
    if h.volumes.len() >= limits::VOLUMES_PER_HOST {
        return Err(Fault::ini_mapped_to_too_many_vols());
    }
    let mode = access_mode.unwrap_or(v.access_mode_limit);
    check_within_limit(v.access_mode_limit, mode)?;
    let mut target = h.id;
    if model.is_broken(super::breakage::Breakage::MapWrongHost) {
        // Any other host; a made-up id when there is none.
        target = model.hosts().map(|o| o.id).find(|o| *o != h.id).unwrap_or(Id(h.id.0 ^ 1));
    }
    let mapping = Mapping { host: target, access_mode: mode, limit_iops: 0, limit_bw_mbps: 0 };
    Ok(Plan::new(vec![Effect::MappingAdded { volume, mapping }], Reply::Empty))
}

pub(super) fn unmap(model: &Model, volume: Id, target: &MapTarget, host_api: bool) -> Result<Plan, Fault> {
    let v = existing(model, volume)?;
    let effects = match target {
        MapTarget::All => v.mappings.iter().map(|m| Effect::MappingRemoved { volume, host: m.host }).collect(),
        MapTarget::One(host) => {
            let h = resolve(model, host, host_api)?;
            if !v.mappings.iter().any(|m| m.host == h.id) {
                return Err(if host_api { Fault::invalid_host_mapping() } else { Fault::vol_not_mapped_to_ini() });
            }
            vec![Effect::MappingRemoved { volume, host: h.id }]
        }
    };
    Ok(Plan::new(effects, Reply::Empty))
}

pub(super) fn set_limits(
    model: &Model,
    volume: Id,
    host: &HostRef,
    iops: Option<u64>,
    bandwidth_kbps: Option<u64>,
) -> Result<Plan, Fault> {
    let v = existing(model, volume)?;
    let h = resolve(model, host, false)?;
    let mapping = v.mappings.iter().find(|m| m.host == h.id).ok_or_else(Fault::vol_not_mapped_to_ini)?;
    if let Some(iops) = iops {
        if iops != 0 && iops <= 10 {
            return Err(Fault::invalid("iopsLimit must be 0 (unlimited) or greater than 10"));
        }
    }
    if let Some(kbps) = bandwidth_kbps {
        if kbps % 1024 != 0 {
            return Err(Fault::invalid("bandwidthLimitInKbps must be 0 (unlimited) or a multiple of 1024"));
        }
    }
    Ok(Plan::new(
        vec![Effect::MappingLimitsSet {
            volume,
            host: h.id,
            iops: iops.unwrap_or(mapping.limit_iops),
            bandwidth_mbps: bandwidth_kbps.map_or(mapping.limit_bw_mbps, |k| k / 1024),
        }],
        Reply::Empty,
    ))
}

pub(super) fn check_host_name(model: &Model, name: &str, renaming: Option<Id>) -> Result<(), Fault> {
    check_name_syntax(name)?;
    match model.host_by_name(name) {
        Some(h) if Some(h.id) != renaming => Err(Fault::dup_host_name()),
        _ => Ok(()),
    }
}

pub(super) fn create_nvme(
    model: &Model,
    nqn: &str,
    name: Option<&str>,
    max_num_paths: Option<u32>,
    max_num_sys_ports: Option<u32>,
) -> Result<Plan, Fault> {
    // NVMe base specification: an NQN starts with "nqn." and is at most 223 bytes.
    if !nqn.starts_with("nqn.") || nqn.len() > 223 || nqn.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Fault::invalid("nqn is not a valid NVMe qualified name"));
    }
    if model.host_by_nqn(nqn).is_some() {
        return Err(Fault::dup_nqn());
    }
    if let Some(name) = name {
        check_host_name(model, name, None)?;
    }
    if model.index.nvme_hosts >= limits::NVME_HOSTS {
        return Err(Fault::too_many_hosts());
    }
    let paths = max_num_paths.unwrap_or(4);
    let ports = max_num_sys_ports.unwrap_or(10);
    if !(1..=limits::PATHS_PER_VOLUME as u32).contains(&paths) || !(1..=64).contains(&ports) {
        return Err(Fault::invalid("maxNumPaths must be 1 to 8 and maxNumSysPorts 1 to 64"));
    }
    let (id, seq) = free_host_id(model, IdKind::NvmeHost, model.seq.host);
    let host = Host {
        id,
        name: name.map(str::to_string),
        kind: HostKind::Nvme { nqn: nqn.to_string(), max_num_paths: paths, max_num_sys_ports: ports },
        volumes: Default::default(),
    };
    Ok(Plan::new(vec![Effect::HostCreated { host: Box::new(host), seq }], Reply::Created(id)))
}

/// The first host id of `kind` from sequence number `seq` on that no host has, and its number.
/// NVMe host ids' low 16 bits wrap after 65536 hosts created, so a drawn id may be in use.
pub(super) fn free_host_id(model: &Model, kind: IdKind, mut seq: u64) -> (Id, u64) {
    let mut id = ids::derive(model.seed, kind, seq);
    while model.host(id).is_some() {
        seq += 1;
        id = ids::derive(model.seed, kind, seq);
    }
    (id, seq)
}

pub(super) fn rename(model: &Model, host: Id, name: &str, host_api: bool) -> Result<Plan, Fault> {
    resolve(model, &HostRef::Id(host), host_api)?;
    check_host_name(model, name, Some(host))?;
    Ok(Plan::new(vec![Effect::HostRenamed { host, name: Some(name.to_string()) }], Reply::Empty))
}

pub(super) fn remove(model: &Model, host: Id, host_api: bool) -> Result<Plan, Fault> {
    let h = resolve(model, &HostRef::Id(host), host_api)?;
    if matches!(h.kind, HostKind::Sdc { connected: true, .. }) {
        return Err(Fault::ini_must_be_disconnected());
    }
    if !h.volumes.is_empty() {
        return Err(Fault::ini_has_mappings());
    }
    Ok(Plan::new(vec![Effect::HostRemoved { host }], Reply::Empty))
}

pub(super) fn set_paths(model: &Model, host: Id, paths: Option<u32>, ports: Option<u32>) -> Result<Plan, Fault> {
    let h = model.host(host).ok_or_else(Fault::host_not_found)?;
    if h.nqn().is_none() {
        return Err(Fault::invalid("only NVMe hosts have paths and system ports"));
    }
    if paths.is_some_and(|p| !(1..=limits::PATHS_PER_VOLUME as u32).contains(&p))
        || ports.is_some_and(|p| !(1..=64).contains(&p))
    {
        return Err(Fault::invalid("maxNumPaths must be 1 to 8 and maxNumSysPorts 1 to 64"));
    }
    Ok(Plan::new(vec![Effect::HostPathsSet { host, max_num_paths: paths, max_num_sys_ports: ports }], Reply::Empty))
}

/// A mapping cannot give more access than the volume's `accessModeLimit`.
fn check_within_limit(limit: AccessMode, mode: AccessMode) -> Result<(), Fault> {
    if limit == AccessMode::ReadOnly && mode == AccessMode::ReadWrite {
        return Err(Fault::invalid("the volume's access mode limit is ReadOnly"));
    }
    Ok(())
}

pub(super) fn set_mapping_access_mode(
    model: &Model,
    volume: Id,
    host: &HostRef,
    mode: AccessMode,
) -> Result<Plan, Fault> {
    let v = existing(model, volume)?;
    let h = resolve(model, host, false)?;
    if !v.mappings.iter().any(|m| m.host == h.id) {
        return Err(Fault::vol_not_mapped_to_ini());
    }
    check_within_limit(v.access_mode_limit, mode)?;
    Ok(Plan::new(vec![Effect::MappingAccessModeSet { volume, host: h.id, mode }], Reply::Empty))
}

pub(super) fn set_perf_profile(model: &Model, host: Id, profile: PerfProfile) -> Result<Plan, Fault> {
    let h = model.host(host).ok_or_else(Fault::ini_not_found)?;
    if h.nqn().is_some() {
        return Err(Fault::invalid("only SDCs have a performance profile"));
    }
    Ok(Plan::new(vec![Effect::SdcPerfProfileSet { host, profile }], Reply::Empty))
}
