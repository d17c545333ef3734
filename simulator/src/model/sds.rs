//! Planning of SDS, device and fault set commands.
//!
//! The MDM's rules as its return codes word them: SDS names unique in the system, each IP
//! owned by one SDS, at least one IP serving SDSs and one serving SDCs, devices unique by name
//! and path within their SDS, and a pool's raw capacity the sum of its devices'. A device (or
//! an SDS with its devices) leaves only if its pools keep room for what they reserve and, while
//! they hold volumes, devices on three SDSs.

use std::collections::BTreeSet;

use super::commands::{Plan, Reply};
use super::effects::Effect;
use super::fault::Fault;
use super::ids::{self, Id, IdKind};
use super::inventory::{Device, DeviceSpec, FaultSet, InventoryEffect, IpRole, IpSpec, Sds, SdsIp};
use super::volumes::check_name_syntax;
use super::Model;

/// SDSs per protection domain (PowerFlex 4.x limit).
const SDSS_PER_DOMAIN: usize = 512;
/// Devices per SDS.
const DEVICES_PER_SDS: usize = 64;
/// The smallest device PowerFlex accepts: 240 GiB.
const MIN_DEVICE_KB: u64 = 240 * 1024 * 1024;

fn inventory(effects: Vec<InventoryEffect>, reply: Reply) -> Plan {
    Plan::new(effects.into_iter().map(Effect::Inventory).collect(), reply)
}

fn existing(model: &Model, id: Id) -> Result<&Sds, Fault> {
    model.sds(id).ok_or_else(Fault::sds_not_found)
}

fn check_sds_name(model: &Model, name: &str, renaming: Option<Id>) -> Result<(), Fault> {
    check_name_syntax(name)?;
    match model.sdss().find(|s| s.name.as_deref() == Some(name)) {
        Some(s) if Some(s.id) != renaming => Err(Fault::sds_name_in_use()),
        _ => Ok(()),
    }
}

fn check_ip_syntax(ip: &str) -> Result<(), Fault> {
    ip.parse::<std::net::Ipv4Addr>().map(|_| ()).map_err(|_| Fault::invalid(format!("{ip:?} is not an IPv4 address")))
}

/// An IP may belong to one SDS only.
fn check_ip_free(model: &Model, ip: &str, sds: Option<Id>) -> Result<(), Fault> {
    match model.sdss().find(|s| s.ips.iter().any(|i| i.ip == ip)) {
        Some(owner) if Some(owner.id) == sds => Err(Fault::sds_ip_already_exists()),
        Some(_) => Err(Fault::ip_belongs_to_other_sds()),
        None => Ok(()),
    }
}

/// The roles an SDS's IPs must cover between them.
fn check_roles(ips: &[SdsIp]) -> Result<(), Fault> {
    if ips.is_empty() {
        return Err(Fault::last_ip());
    }
    if !ips.iter().any(|i| i.role.serves_sds()) {
        return Err(Fault::sds_needs_sds_ip());
    }
    if !ips.iter().any(|i| i.role.serves_sdc()) {
        return Err(Fault::sds_needs_sdc_ip());
    }
    Ok(())
}

fn check_port(port: u64) -> Result<u16, Fault> {
    u16::try_from(port).ok().filter(|p| *p >= 1024).ok_or_else(Fault::invalid_port)
}

fn check_perf_profile(profile: &str) -> Result<String, Fault> {
    ["HighPerformance", "Compact"]
        .into_iter()
        .find(|p| p.eq_ignore_ascii_case(profile))
        .map(str::to_string)
        .ok_or_else(|| Fault::invalid(format!("perfProfile {profile:?}: HighPerformance or Compact")))
}

/// What `POST /api/types/Sds/instances` asks for.
pub(super) struct NewSds<'a> {
    pub domain: Id,
    pub name: Option<&'a str>,
    pub ips: &'a [IpSpec],
    pub port: Option<u16>,
    pub fault_set: Option<Id>,
    pub devices: &'a [DeviceSpec],
    pub rmcache_enabled: Option<bool>,
    pub rmcache_size_kb: Option<u64>,
    pub drl_mode: Option<&'a str>,
}

pub(super) fn create(model: &Model, new: NewSds<'_>) -> Result<Plan, Fault> {
    model.domain(new.domain).ok_or_else(Fault::fd_not_found)?;
    if let Some(name) = new.name {
        check_sds_name(model, name, None)?;
    }
    if model.sdss().filter(|s| s.protection_domain == new.domain).count() >= SDSS_PER_DOMAIN {
        return Err(Fault::too_many_sdss_in_fd());
    }
    let mut seen = BTreeSet::new();
    for ip in new.ips {
        check_ip_syntax(&ip.ip)?;
        check_ip_free(model, &ip.ip, None)?;
        if !seen.insert(&ip.ip) {
            return Err(Fault::sds_ip_already_exists());
        }
    }
    let ips: Vec<SdsIp> = new.ips.iter().map(|i| SdsIp { ip: i.ip.clone(), role: i.role }).collect();
    check_roles(&ips)?;
    let port = check_port(new.port.map_or(super::inventory::DEFAULT_SDS_PORT as u64, u64::from))?;
    if let Some(fs) = new.fault_set {
        let f = model.fault_set(fs).ok_or_else(Fault::fault_set_not_found)?;
        if f.protection_domain != new.domain {
            return Err(Fault::invalid("the fault set is in another protection domain"));
        }
    }
    let drl_mode = check_drl_mode(new.drl_mode.unwrap_or("Volatile"))?;
    let id = ids::derive(model.seed, IdKind::Sds, model.inventory.seq.sds);
    let sds = Sds {
        id,
        name: new.name.map(str::to_string),
        protection_domain: new.domain,
        fault_set: new.fault_set,
        ips,
        port,
        perf_profile: "HighPerformance".into(),
        rfcache_enabled: false,
        rmcache_enabled: new.rmcache_enabled.unwrap_or(false),
        rmcache_size_kb: new.rmcache_size_kb.unwrap_or(131_072),
        drl_mode,
    };
    let mut effects = vec![InventoryEffect::SdsCreated(Box::new(sds.clone()))];
    let mut taken: Vec<Device> = Vec::new();
    for (n, spec) in new.devices.iter().enumerate() {
        let device = new_device(model, &sds, spec, &taken, n as u64)?;
        taken.push(device.clone());
        effects.push(InventoryEffect::DeviceCreated(Box::new(device)));
    }
    Ok(inventory(effects, Reply::Created(id)))
}

/// The SDS's dirty-region-log mode: `Volatile` or `NonVolatile`.
fn check_drl_mode(mode: &str) -> Result<String, Fault> {
    ["Volatile", "NonVolatile"]
        .into_iter()
        .find(|m| m.eq_ignore_ascii_case(mode))
        .map(str::to_string)
        .ok_or_else(|| Fault::invalid(format!("drlMode {mode:?}: Volatile or NonVolatile")))
}

pub(super) fn set_drl_mode(model: &Model, id: Id, mode: &str) -> Result<Plan, Fault> {
    existing(model, id)?;
    let mode = check_drl_mode(mode)?;
    update(model, id, |s| s.drl_mode = mode)
}

/// Applies `change` to a copy of the SDS: for the settings with no rule beyond existence.
pub(super) fn update(model: &Model, id: Id, change: impl FnOnce(&mut Sds)) -> Result<Plan, Fault> {
    let mut sds = existing(model, id)?.clone();
    change(&mut sds);
    Ok(inventory(vec![InventoryEffect::SdsUpdated(Box::new(sds))], Reply::Empty))
}

pub(super) fn rename(model: &Model, id: Id, name: &str) -> Result<Plan, Fault> {
    existing(model, id)?;
    check_sds_name(model, name, Some(id))?;
    update(model, id, |s| s.name = Some(name.to_string()))
}

pub(super) fn add_ip(model: &Model, id: Id, ip: &IpSpec) -> Result<Plan, Fault> {
    existing(model, id)?;
    check_ip_syntax(&ip.ip)?;
    check_ip_free(model, &ip.ip, Some(id))?;
    update(model, id, |s| s.ips.push(SdsIp { ip: ip.ip.clone(), role: ip.role }))
}

pub(super) fn remove_ip(model: &Model, id: Id, ip: &str) -> Result<Plan, Fault> {
    let mut ips = existing(model, id)?.ips.clone();
    let before = ips.len();
    ips.retain(|i| i.ip != ip);
    if ips.len() == before {
        return Err(Fault::sds_ip_not_found());
    }
    check_roles(&ips)?;
    update(model, id, |s| s.ips = ips)
}

pub(super) fn set_ip_role(model: &Model, id: Id, ip: &str, role: IpRole) -> Result<Plan, Fault> {
    let mut ips = existing(model, id)?.ips.clone();
    let entry = ips.iter_mut().find(|i| i.ip == ip).ok_or_else(Fault::sds_ip_not_found)?;
    if entry.role == role {
        return Err(Fault::role_already_set());
    }
    entry.role = role;
    check_roles(&ips)?;
    update(model, id, |s| s.ips = ips)
}

pub(super) fn set_port(model: &Model, id: Id, port: u64) -> Result<Plan, Fault> {
    existing(model, id)?;
    let port = check_port(port)?;
    update(model, id, |s| s.port = port)
}

pub(super) fn set_perf_profile(model: &Model, id: Id, profile: &str) -> Result<Plan, Fault> {
    existing(model, id)?;
    let profile = check_perf_profile(profile)?;
    update(model, id, |s| s.perf_profile = profile)
}

pub(super) fn set_rmcache_size(model: &Model, id: Id, size_mb: u64) -> Result<Plan, Fault> {
    existing(model, id)?;
    // PowerFlex takes 128 MiB to 300 GiB of RAM cache per SDS.
    if !(128..=300 * 1024).contains(&size_mb) {
        return Err(Fault::invalid("rmcacheSizeInMB must be 128 to 307200"));
    }
    update(model, id, |s| s.rmcache_size_kb = size_mb * 1024)
}

/// Removing an SDS removes its devices, as the MDM does once it has moved their data away.
pub(super) fn remove(model: &Model, id: Id) -> Result<Plan, Fault> {
    existing(model, id)?;
    let leaving: Vec<&Device> = model.sds_devices(id).collect();
    check_capacity_after(model, &leaving)?;
    let mut effects: Vec<InventoryEffect> =
        leaving.iter().map(|d| InventoryEffect::DeviceRemoved { device: d.id }).collect();
    effects.push(InventoryEffect::SdsRemoved { sds: id });
    Ok(inventory(effects, Reply::Empty))
}

/// A device for `sds` from `spec`; `pending` are devices the same call adds before it.
fn new_device(model: &Model, sds: &Sds, spec: &DeviceSpec, pending: &[Device], offset: u64) -> Result<Device, Fault> {
    let pool = model.pool(spec.pool).ok_or_else(Fault::storage_pool_not_found)?;
    if pool.protection_domain != sds.protection_domain {
        return Err(Fault::fd_and_sp_mismatch());
    }
    if !spec.path.starts_with('/') || spec.path.len() < 2 || spec.path.chars().any(char::is_whitespace) {
        return Err(Fault::invalid_device_path());
    }
    if let Some(name) = &spec.name {
        check_name_syntax(name)?;
    }
    let siblings: Vec<&Device> = model.sds_devices(sds.id).chain(pending).collect();
    if siblings.len() >= DEVICES_PER_SDS {
        return Err(Fault::too_many_devices());
    }
    if siblings.iter().any(|d| d.path == spec.path || (spec.name.is_some() && d.name == spec.name)) {
        return Err(Fault::device_name_exists());
    }
    let capacity_kb = check_device_size(spec.capacity_limit_kb.unwrap_or(super::inventory::DEFAULT_DEVICE_KB))?;
    let media_type = match spec.media_type.as_deref() {
        None => pool.media_type.clone(),
        Some(m) => check_media_type(m)?,
    };
    Ok(Device {
        id: ids::derive(model.seed, IdKind::Device, model.inventory.seq.device + offset),
        name: spec.name.clone(),
        sds: sds.id,
        pool: spec.pool,
        path: spec.path.clone(),
        media_type,
        capacity_kb,
    })
}

/// A device's capacity: at least 240 GiB, at most the (simulated) disk's 1 TiB.
fn check_device_size(capacity_kb: u64) -> Result<u64, Fault> {
    if capacity_kb < MIN_DEVICE_KB {
        return Err(Fault::device_too_small());
    }
    if capacity_kb > super::inventory::DEFAULT_DEVICE_KB {
        return Err(Fault::device_too_large());
    }
    Ok(capacity_kb)
}

fn check_media_type(m: &str) -> Result<String, Fault> {
    ["HDD", "SSD", "NVDIMM"]
        .into_iter()
        .find(|t| t.eq_ignore_ascii_case(m))
        .map(str::to_string)
        .ok_or_else(|| Fault::invalid(format!("mediaType {m:?}: HDD, SSD or NVDIMM")))
}

pub(super) fn add_device(model: &Model, sds: Id, spec: &DeviceSpec) -> Result<Plan, Fault> {
    let device = new_device(model, existing(model, sds)?, spec, &[], 0)?;
    let id = device.id;
    Ok(inventory(vec![InventoryEffect::DeviceCreated(Box::new(device))], Reply::Created(id)))
}

fn existing_device(model: &Model, id: Id) -> Result<&Device, Fault> {
    model.device(id).ok_or_else(Fault::device_not_found)
}

pub(super) fn rename_device(model: &Model, id: Id, name: &str) -> Result<Plan, Fault> {
    let device = existing_device(model, id)?;
    check_name_syntax(name)?;
    if model.sds_devices(device.sds).any(|d| d.id != id && d.name.as_deref() == Some(name)) {
        return Err(Fault::device_name_exists());
    }
    let renamed = Device { name: Some(name.to_string()), ..device.clone() };
    Ok(inventory(vec![InventoryEffect::DeviceUpdated(Box::new(renamed))], Reply::Empty))
}

pub(super) fn set_media_type(model: &Model, id: Id, media_type: &str) -> Result<Plan, Fault> {
    let device = existing_device(model, id)?;
    let changed = Device { media_type: check_media_type(media_type)?, ..device.clone() };
    Ok(inventory(vec![InventoryEffect::DeviceUpdated(Box::new(changed))], Reply::Empty))
}

/// `setDeviceCapacityLimit`: the pool grows or shrinks with the device, and may shrink only as
/// far as its reservations allow.
pub(super) fn set_capacity_limit(model: &Model, id: Id, capacity_kb: u64) -> Result<Plan, Fault> {
    let device = existing_device(model, id)?;
    let capacity_kb = check_device_size(capacity_kb)?;
    check_pool_after(model, device.pool, device.capacity_kb.saturating_sub(capacity_kb), &[])?;
    let changed = Device { capacity_kb, ..device.clone() };
    Ok(inventory(vec![InventoryEffect::DeviceUpdated(Box::new(changed))], Reply::Empty))
}

pub(super) fn remove_device(model: &Model, id: Id) -> Result<Plan, Fault> {
    let device = existing_device(model, id)?;
    check_capacity_after(model, &[device])?;
    Ok(inventory(vec![InventoryEffect::DeviceRemoved { device: id }], Reply::Empty))
}

/// Whether every pool can lose `leaving`: what remains must hold the pool's reservations
/// (thick volumes, mirrored, beside the spare), and a pool with volumes keeps devices on at
/// least three SDSs so both copies of every block still have a home after a failure.
fn check_capacity_after(model: &Model, leaving: &[&Device]) -> Result<(), Fault> {
    let pools: BTreeSet<Id> = leaving.iter().map(|d| d.pool).collect();
    for pool in pools {
        let in_pool: Vec<&&Device> = leaving.iter().filter(|d| d.pool == pool).collect();
        let gone = in_pool.iter().map(|d| d.capacity_kb).sum();
        check_pool_after(model, pool, gone, &in_pool.iter().map(|d| d.id).collect::<Vec<_>>())?;
    }
    Ok(())
}

/// Whether `pool_id` can lose `gone_kb` of raw capacity and the devices `removed`.
fn check_pool_after(model: &Model, pool_id: Id, gone_kb: u64, removed: &[Id]) -> Result<(), Fault> {
    let pool = model.pool(pool_id).expect("a device's pool exists");
    let remaining = pool.max_capacity_kb.saturating_sub(gone_kb);
    let net_after = (remaining - remaining / 100 * pool.spare_percentage) / 2;
    if net_after < pool.usage.thick_allocated_kb {
        return Err(Fault::not_enough_devices_for_removal());
    }
    if pool.usage.volumes > 0 {
        let sdss: BTreeSet<Id> =
            model.pool_devices(pool_id).filter(|d| !removed.contains(&d.id)).map(|d| d.sds).collect();
        if sdss.len() < 3 {
            return Err(Fault::not_enough_sdss_in_pool());
        }
    }
    Ok(())
}

fn existing_fault_set(model: &Model, id: Id) -> Result<&FaultSet, Fault> {
    model.fault_set(id).ok_or_else(Fault::fault_set_not_found)
}

/// Fault set names are unique within their protection domain.
fn check_fault_set_name(model: &Model, domain: Id, name: &str, renaming: Option<Id>) -> Result<(), Fault> {
    check_name_syntax(name)?;
    let clash = model
        .fault_sets()
        .any(|f| f.protection_domain == domain && f.name.as_deref() == Some(name) && Some(f.id) != renaming);
    if clash {
        return Err(Fault::fault_set_name_exists());
    }
    Ok(())
}

pub(super) fn create_fault_set(model: &Model, domain: Id, name: Option<&str>) -> Result<Plan, Fault> {
    model.domain(domain).ok_or_else(Fault::fd_not_found)?;
    if let Some(name) = name {
        check_fault_set_name(model, domain, name, None)?;
    }
    let id = ids::derive(model.seed, IdKind::FaultSet, model.inventory.seq.fault_set);
    let fault_set = FaultSet { id, name: name.map(str::to_string), protection_domain: domain };
    Ok(inventory(vec![InventoryEffect::FaultSetCreated(fault_set)], Reply::Created(id)))
}

pub(super) fn rename_fault_set(model: &Model, id: Id, name: &str) -> Result<Plan, Fault> {
    let fs = existing_fault_set(model, id)?;
    check_fault_set_name(model, fs.protection_domain, name, Some(id))?;
    Ok(inventory(vec![InventoryEffect::FaultSetRenamed { fault_set: id, name: name.to_string() }], Reply::Empty))
}

pub(super) fn remove_fault_set(model: &Model, id: Id) -> Result<Plan, Fault> {
    existing_fault_set(model, id)?;
    if model.fault_set_sdss(id).next().is_some() {
        return Err(Fault::fault_set_has_sdss());
    }
    Ok(inventory(vec![InventoryEffect::FaultSetRemoved { fault_set: id }], Reply::Empty))
}
