//! SDTs (NVMe/TCP storage data targets) through the API: create, change addresses, ports and
//! maintenance, remove. What hosts can connect to follows from these records: the data plane
//! listens on every host-facing address of every SDT not in maintenance (`dataplane::listeners`).

use std::net::Ipv4Addr;

use super::commands::{Plan, Reply};
use super::domains::{self, next_id};
use super::effects::{seq_of, Effect};
use super::fault::Fault;
use super::ids::{Id, IdKind};
use super::objects::Sdt;
use super::settings::IpRole;
use super::{volumes, Model};

/// The ipPerSdt, sdtsPerProtectionDomain and sdts limits (reference §2.9, §2.11).
const MAX_IPS: usize = 8;
const MAX_SDTS_PER_DOMAIN: usize = 128;
const MAX_SDTS: usize = 512;

/// `POST /api/types/Sdt/instances`; absent ports are the defaults (12200, 4420, 8009).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSdt {
    pub domain: Id,
    pub name: String,
    pub ips: Vec<(String, IpRole)>,
    pub storage_port: Option<u16>,
    pub nvme_port: Option<u16>,
    pub discovery_port: Option<u16>,
}

/// A change to an existing SDT, one per action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdtChange {
    Rename(String),
    AddIp { ip: String, role: IpRole },
    RemoveIp(String),
    ModifyIpRole { ip: String, role: IpRole },
    StoragePort(u16),
    NvmePort(u16),
    DiscoveryPort(u16),
    EnterMaintenance,
    ExitMaintenance,
}

pub(super) fn existing(model: &Model, id: Id) -> Result<&Sdt, Fault> {
    model.sdts.get(&id).ok_or_else(Fault::not_found)
}

fn check_name(model: &Model, name: &str, renaming: Option<Id>) -> Result<(), Fault> {
    volumes::check_name_syntax(name)?;
    if model.sdts.values().any(|s| s.name == name && Some(s.id) != renaming) {
        return Err(Fault::sdt_name_in_use());
    }
    Ok(())
}

/// An address an SDT may take: IPv4, on 127.0.0.0/8 (the simulator serves nothing else), and
/// not already taken by any SDT.
fn check_ip(model: &Model, ip: &str) -> Result<(), Fault> {
    let parsed: Ipv4Addr = ip.parse().map_err(|_| Fault::invalid(format!("{ip:?} is not an IPv4 address")))?;
    if !parsed.is_loopback() {
        return Err(Fault::invalid(format!("{ip} is not on 127.0.0.0/8, the only network pflex-sim serves")));
    }
    if model.sdts.values().any(|s| s.ips.iter().any(|i| i == ip)) {
        return Err(Fault::ip_already_exists());
    }
    Ok(())
}

/// The rules every SDT record must keep: 1 to 8 addresses, non-zero ports, and distinct NVMe
/// and discovery ports (each address listens on both).
fn check_record(sdt: &Sdt) -> Result<(), Fault> {
    if sdt.ips.is_empty() || sdt.ips.len() > MAX_IPS {
        return Err(Fault::invalid(format!("an SDT has 1 to {MAX_IPS} IP addresses")));
    }
    if [sdt.storage_port, sdt.nvme_port, sdt.discovery_port].contains(&0) {
        return Err(Fault::invalid("port 0"));
    }
    if sdt.nvme_port == sdt.discovery_port {
        return Err(Fault::invalid("the NVMe port and the discovery port must differ"));
    }
    Ok(())
}

pub(super) fn create(model: &Model, new: &NewSdt) -> Result<Plan, Fault> {
    let domain = domains::existing(model, new.domain)?;
    if domain.sdts.len() >= MAX_SDTS_PER_DOMAIN || model.sdts.len() >= MAX_SDTS {
        return Err(Fault::invalid("too many SDTs"));
    }
    check_name(model, &new.name, None)?;
    for (n, (ip, _)) in new.ips.iter().enumerate() {
        check_ip(model, ip)?;
        if new.ips[..n].iter().any(|(other, _)| other == ip) {
            return Err(Fault::ip_already_exists());
        }
    }
    let id = next_id(model, IdKind::Sdt, model.seq.sdt, model.sdts.keys());
    let sdt = Sdt {
        id,
        name: new.name.clone(),
        protection_domain: new.domain,
        ips: new.ips.iter().map(|(ip, _)| ip.clone()).collect(),
        storage_port: new.storage_port.unwrap_or(12200),
        nvme_port: new.nvme_port.unwrap_or(4420),
        discovery_port: new.discovery_port.unwrap_or(8009),
        ip_roles: new.ips.iter().filter(|(_, r)| *r != IpRole::StorageAndHost).cloned().collect(),
        in_maintenance: false,
    };
    check_record(&sdt)?;
    Ok(Plan::new(vec![Effect::SdtCreated(Box::new(sdt))], Reply::Created(id)))
}

fn set_role(sdt: &mut Sdt, ip: &str, role: IpRole) {
    if role == IpRole::StorageAndHost {
        sdt.ip_roles.remove(ip);
    } else {
        sdt.ip_roles.insert(ip.to_string(), role);
    }
}

fn known_ip(sdt: &Sdt, ip: &str) -> Result<(), Fault> {
    if !sdt.ips.iter().any(|i| i == ip) {
        return Err(Fault::invalid(format!("{ip} is not an address of SDT {}", sdt.id)));
    }
    Ok(())
}

pub(super) fn modify(model: &Model, id: Id, change: &SdtChange) -> Result<Plan, Fault> {
    let mut sdt = existing(model, id)?.clone();
    match change {
        SdtChange::Rename(name) => {
            check_name(model, name, Some(id))?;
            sdt.name = name.clone();
        }
        SdtChange::AddIp { ip, role } => {
            check_ip(model, ip)?;
            sdt.ips.push(ip.clone());
            set_role(&mut sdt, ip, *role);
        }
        SdtChange::RemoveIp(ip) => {
            known_ip(&sdt, ip)?;
            sdt.ips.retain(|i| i != ip);
            sdt.ip_roles.remove(ip);
        }
        SdtChange::ModifyIpRole { ip, role } => {
            known_ip(&sdt, ip)?;
            set_role(&mut sdt, ip, *role);
        }
        SdtChange::StoragePort(port) => sdt.storage_port = *port,
        SdtChange::NvmePort(port) => sdt.nvme_port = *port,
        SdtChange::DiscoveryPort(port) => sdt.discovery_port = *port,
        SdtChange::EnterMaintenance if sdt.in_maintenance => return Err(Fault::tgt_already_in_mm()),
        SdtChange::EnterMaintenance => sdt.in_maintenance = true,
        SdtChange::ExitMaintenance if !sdt.in_maintenance => return Err(Fault::tgt_not_in_mm()),
        SdtChange::ExitMaintenance => sdt.in_maintenance = false,
    }
    check_record(&sdt)?;
    Ok(Plan::new(vec![Effect::SdtConfigured(Box::new(sdt))], Reply::Empty))
}

pub(super) fn remove(model: &Model, id: Id) -> Result<Plan, Fault> {
    existing(model, id)?;
    Ok(Plan::new(vec![Effect::SdtRemoved { sdt: id }], Reply::Empty))
}

pub(super) fn apply_created(model: &mut Model, sdt: &Sdt) {
    model.seq.sdt = model.seq.sdt.max(seq_of(sdt.id) + 1);
    if let Some(d) = model.domains.get_mut(&sdt.protection_domain) {
        d.sdts.insert(sdt.id);
    }
    model.sdts.insert(sdt.id, sdt.clone());
}

pub(super) fn apply_configured(model: &mut Model, sdt: &Sdt) {
    model.sdts.insert(sdt.id, sdt.clone());
}

pub(super) fn apply_removed(model: &mut Model, id: Id) {
    if let Some(s) = model.sdts.remove(&id) {
        if let Some(d) = model.domains.get_mut(&s.protection_domain) {
            d.sdts.remove(&id);
        }
    }
}
