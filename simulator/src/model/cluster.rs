//! Planning of MDM cluster commands (`switchClusterMode`, standby MDMs, ownership, names,
//! performance profile) and of the system's SDC access settings (`setRestrictedSdcMode`,
//! `approveSdc`, `setApprovedSdcIps`).
//!
//! A cluster is a primary, as many secondaries as tiebreakers (none, one or two: OneNode,
//! ThreeNodes, FiveNodes) and standbys. Switching mode promotes standbys into the cluster or
//! demotes members back to standby, as Ansible's `mdm_cluster` module expects.

use super::commands::{Plan, Reply};
use super::effects::Effect;
use super::fault::Fault;
use super::hosts::{check_host_name, free_host_id};
use super::ids::{self, Id, IdKind};
use super::inventory::{ClusterMode, InventoryEffect, Mdm, MdmCluster, MdmRole, RestrictedSdcMode};
use super::objects::{Host, HostKind};
use super::volumes::check_name_syntax;
use super::Model;

fn plan(effect: InventoryEffect, reply: Reply) -> Plan {
    Plan::new(vec![Effect::Inventory(effect)], reply)
}

fn set(cluster: MdmCluster) -> Plan {
    plan(InventoryEffect::ClusterSet(Box::new(cluster)), Reply::Empty)
}

pub(super) fn switch_mode(
    model: &Model,
    mode: ClusterMode,
    add_secondaries: &[Id],
    add_tiebreakers: &[Id],
    remove_secondaries: &[Id],
    remove_tiebreakers: &[Id],
) -> Result<Plan, Fault> {
    let mut c = model.mdm_cluster().clone();
    if mode == c.mode {
        return Err(Fault::already_in_this_cluster_mode());
    }
    for (ids, role) in [(add_secondaries, MdmRole::Manager), (add_tiebreakers, MdmRole::TieBreaker)] {
        for id in ids {
            let mdm = c.mdm(*id).filter(|_| c.standbys.contains(id)).ok_or_else(Fault::mdm_not_in_cluster)?;
            match (role, mdm.role) {
                (MdmRole::Manager, MdmRole::TieBreaker) => return Err(Fault::mdm_is_tb()),
                (MdmRole::TieBreaker, MdmRole::Manager) => return Err(Fault::tb_is_mdm()),
                _ => {}
            }
        }
    }
    for id in remove_secondaries {
        if !c.secondaries.contains(id) {
            return Err(if c.tiebreakers.contains(id) { Fault::mdm_is_tb() } else { Fault::mdm_not_in_cluster() });
        }
    }
    for id in remove_tiebreakers {
        if !c.tiebreakers.contains(id) {
            return Err(if c.secondaries.contains(id) { Fault::tb_is_mdm() } else { Fault::mdm_not_in_cluster() });
        }
    }
    c.secondaries.retain(|id| !remove_secondaries.contains(id));
    c.tiebreakers.retain(|id| !remove_tiebreakers.contains(id));
    c.standbys.retain(|id| !add_secondaries.contains(id) && !add_tiebreakers.contains(id));
    c.standbys.extend(remove_secondaries.iter().chain(remove_tiebreakers));
    c.secondaries.extend(add_secondaries);
    c.tiebreakers.extend(add_tiebreakers);
    if c.secondaries.len() != mode.members() || c.tiebreakers.len() != mode.members() {
        return Err(Fault::wrong_cmd_params());
    }
    c.mode = mode;
    Ok(set(c))
}

pub(super) fn add_standby(
    model: &Model,
    ips: &[String],
    role: MdmRole,
    management_ips: &[String],
    name: Option<&str>,
    port: Option<u16>,
    virtual_interfaces: &[String],
) -> Result<Plan, Fault> {
    let mut c = model.mdm_cluster().clone();
    if ips.is_empty() || ips.len() > 4 {
        return Err(Fault::invalid("ips: one to four IP addresses"));
    }
    for ip in ips.iter().chain(management_ips) {
        ip.parse::<std::net::Ipv4Addr>().map_err(|_| Fault::invalid(format!("{ip:?} is not an IPv4 address")))?;
    }
    if c.mdms.values().any(|m| m.ips.iter().any(|ip| ips.contains(ip))) {
        return Err(Fault::already_exists());
    }
    if let Some(name) = name {
        check_mdm_name(&c, name, None)?;
    }
    let id = ids::derive(model.seed, IdKind::Mdm, model.inventory.seq.mdm);
    c.mdms.insert(
        id,
        Mdm {
            id,
            name: name.map(str::to_string),
            ips: ips.to_vec(),
            management_ips: management_ips.to_vec(),
            port: port.unwrap_or(9011),
            role,
            virtual_interfaces: virtual_interfaces.to_vec(),
        },
    );
    c.standbys.push(id);
    Ok(plan(InventoryEffect::ClusterSet(Box::new(c)), Reply::Created(id)))
}

pub(super) fn remove_standby(model: &Model, id: Id) -> Result<Plan, Fault> {
    let mut c = model.mdm_cluster().clone();
    c.mdm(id).ok_or_else(Fault::mdm_not_in_cluster)?;
    if !c.standbys.contains(&id) {
        // A member must leave the cluster (switchClusterMode) before it can be removed.
        return Err(Fault::wrong_cluster_state());
    }
    c.standbys.retain(|s| *s != id);
    c.mdms.remove(&id);
    Ok(set(c))
}

/// The secondary `id` becomes primary; the primary takes its place among the secondaries.
pub(super) fn change_ownership(model: &Model, id: Id) -> Result<Plan, Fault> {
    let mut c = model.mdm_cluster().clone();
    if c.tiebreakers.contains(&id) {
        return Err(Fault::illegal_cmd_for_tb());
    }
    if id == c.primary {
        return Ok(set(c));
    }
    let slot = c.secondaries.iter().position(|s| *s == id).ok_or_else(Fault::mdm_not_in_cluster)?;
    c.secondaries[slot] = c.primary;
    c.primary = id;
    Ok(set(c))
}

fn check_mdm_name(c: &MdmCluster, name: &str, renaming: Option<Id>) -> Result<(), Fault> {
    check_name_syntax(name)?;
    if c.mdms.values().any(|m| m.name.as_deref() == Some(name) && Some(m.id) != renaming) {
        return Err(Fault::already_exists());
    }
    Ok(())
}

pub(super) fn rename(model: &Model, id: Id, name: &str) -> Result<Plan, Fault> {
    let mut c = model.mdm_cluster().clone();
    c.mdm(id).ok_or_else(Fault::mdm_not_in_cluster)?;
    check_mdm_name(&c, name, Some(id))?;
    c.mdms.get_mut(&id).expect("checked").name = Some(name.to_string());
    Ok(set(c))
}

/// Virtual IP interfaces belong to managers: tiebreakers take none.
pub(super) fn set_virtual_interfaces(model: &Model, id: Id, interfaces: &[String]) -> Result<Plan, Fault> {
    let mut c = model.mdm_cluster().clone();
    let mdm = c.mdms.get_mut(&id).ok_or_else(Fault::mdm_not_in_cluster)?;
    if mdm.role == MdmRole::TieBreaker && !interfaces.is_empty() {
        return Err(Fault::virt_ip_intf_not_allowed_for_tb());
    }
    mdm.virtual_interfaces = interfaces.to_vec();
    Ok(set(c))
}

pub(super) fn set_perf_profile(model: &Model, profile: &str) -> Result<Plan, Fault> {
    let mut c = model.mdm_cluster().clone();
    c.perf_profile = ["HighPerformance", "Compact"]
        .into_iter()
        .find(|p| p.eq_ignore_ascii_case(profile))
        .ok_or_else(|| Fault::invalid(format!("perfProfile {profile:?}: HighPerformance or Compact")))?
        .to_string();
    Ok(set(c))
}

/// The IP an SDC connects from (`None` for one that never connected and gave none).
fn sdc_ip(host: &Host) -> Option<&str> {
    match &host.kind {
        HostKind::Sdc { ip, .. } if !ip.is_empty() => Some(ip),
        _ => None,
    }
}

/// `ApprovedIp` mode admits only SDCs whose IP is approved, so it can be set only when every
/// connected SDC's is.
pub(super) fn set_restricted_mode(model: &Model, mode: RestrictedSdcMode) -> Result<Plan, Fault> {
    if mode == RestrictedSdcMode::ApprovedIp {
        let approved = &model.inventory.sdc_access.approved_ips;
        let unapproved = model.hosts().filter(|h| model.sdc_connected(h.id)).any(|h| match sdc_ip(h) {
            Some(ip) => !approved.get(&h.id).is_some_and(|ips| ips.iter().any(|a| a == ip)),
            None => false,
        });
        if unapproved {
            return Err(Fault::cannot_restrict_unapproved_ips());
        }
    }
    Ok(plan(InventoryEffect::RestrictedSdcModeSet(mode), Reply::Empty))
}

/// Approving a GUID the MDM does not know yet registers an SDC that may connect later; every
/// known SDC is already approved.
pub(super) fn approve_sdc(model: &Model, guid: &str, ips: &[String], name: Option<&str>) -> Result<Plan, Fault> {
    check_guid_and_ips(guid, ips)?;
    if sdc_by_guid(model, guid).is_some() {
        return Err(Fault::sdc_already_approved());
    }
    let host = new_sdc(model, guid, ips.first().map_or("", String::as_str), name, false)?;
    let id = host.id;
    Ok(plan(InventoryEffect::SdcApproved { host: Box::new(host), approved_ips: ips.to_vec() }, Reply::Created(id)))
}

/// An SDC joining the MDM from `ip`: a GUID the MDM knows reconnects (in `ApprovedIp` mode only
/// from an approved IP); an unknown one is added connected, as a real MDM adds an SDC the first
/// time it connects, unless a restricted mode admits approved SDCs only.
pub(super) fn connect_sdc(model: &Model, guid: &str, ip: &str, name: Option<&str>) -> Result<Plan, Fault> {
    check_guid_and_ips(guid, &[ip.to_string()])?;
    let mode = model.inventory.sdc_access.mode;
    let Some(known) = sdc_by_guid(model, guid) else {
        if mode != RestrictedSdcMode::None {
            return Err(Fault::invalid(format!(
                "restrictedSdcMode is {}: the MDM admits only approved SDCs, and {guid} is not one",
                mode.as_str()
            )));
        }
        let host = new_sdc(model, guid, ip, name, true)?;
        let id = host.id;
        return Ok(plan(
            InventoryEffect::SdcApproved { host: Box::new(host), approved_ips: vec![] },
            Reply::Created(id),
        ));
    };
    let approved = model.inventory.sdc_access.approved_ips.get(&known.id);
    if mode == RestrictedSdcMode::ApprovedIp && !approved.is_some_and(|ips| ips.iter().any(|a| a == ip)) {
        return Err(Fault::unapproved_sdc_ips());
    }
    let effect = InventoryEffect::SdcConnectionSet { sdc: known.id, ip: ip.to_string(), connected: true };
    Ok(plan(effect, Reply::Created(known.id)))
}

/// The SDC with this GUID leaves the MDM; it keeps its IP and its mappings, as a real one does
/// while its host is down.
pub(super) fn disconnect_sdc(model: &Model, guid: &str) -> Result<Plan, Fault> {
    let host = sdc_by_guid(model, guid).ok_or_else(Fault::ini_not_found)?;
    let ip = sdc_ip(host).unwrap_or_default().to_string();
    Ok(plan(InventoryEffect::SdcConnectionSet { sdc: host.id, ip, connected: false }, Reply::Empty))
}

fn sdc_by_guid<'m>(model: &'m Model, guid: &str) -> Option<&'m Host> {
    model.hosts().find(|h| matches!(&h.kind, HostKind::Sdc { guid: g, .. } if g.eq_ignore_ascii_case(guid)))
}

fn check_guid_and_ips(guid: &str, ips: &[String]) -> Result<(), Fault> {
    if !is_guid(guid) {
        return Err(Fault::invalid(format!("sdcGuid {guid:?} is not a GUID")));
    }
    for ip in ips {
        ip.parse::<std::net::Ipv4Addr>().map_err(|_| Fault::invalid(format!("{ip:?} is not an IPv4 address")))?;
    }
    Ok(())
}

/// A new SDC host with its id drawn, within the system's SDC limit.
fn new_sdc(model: &Model, guid: &str, ip: &str, name: Option<&str>, connected: bool) -> Result<Host, Fault> {
    if let Some(name) = name {
        check_host_name(model, name, None)?;
    }
    if model.hosts().filter(|h| h.nqn().is_none()).count() >= super::limits::SDCS {
        return Err(Fault::invalid("the system has its maximum of 2048 SDCs"));
    }
    let (id, _) = free_host_id(model, IdKind::Sdc, model.inventory.seq.sdc);
    Ok(Host {
        id,
        name: name.map(str::to_string),
        kind: HostKind::Sdc {
            guid: guid.to_uppercase(),
            ip: ip.to_string(),
            connected,
            perf_profile: Default::default(),
        },
        volumes: Default::default(),
    })
}

/// 8-4-4-4-12 hex digits.
fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub(super) fn set_approved_ips(model: &Model, sdc: Id, ips: &[String]) -> Result<Plan, Fault> {
    let host = model.host(sdc).filter(|h| h.nqn().is_none()).ok_or_else(Fault::ini_not_found)?;
    for ip in ips {
        ip.parse::<std::net::Ipv4Addr>().map_err(|_| Fault::invalid(format!("{ip:?} is not an IPv4 address")))?;
    }
    if model.inventory.sdc_access.mode == RestrictedSdcMode::ApprovedIp && model.sdc_connected(sdc) {
        if let Some(ip) = sdc_ip(host) {
            if !ips.iter().any(|a| a == ip) {
                return Err(Fault::unapproved_sdc_ips());
            }
        }
    }
    Ok(plan(InventoryEffect::ApprovedSdcIpsSet { sdc, ips: ips.to_vec() }, Reply::Empty))
}
