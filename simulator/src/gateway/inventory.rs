//! The inventory's routes: SDSs, devices, fault sets, users, the MDM cluster and the System's
//! SDC access actions. `objects` and `actions` hand these types over with one match arm each.
//!
//! Request bodies are the ones PyPowerFlex 2.0.1 (`gen1/sds.py`, `device.py`, `fault_set.py`,
//! `common/system.py`), goscaleio (`sds.go`, `device.go`, `fault_set.go`, `user.go`,
//! `system.go`, `sdc.go`) and Dell's Ansible collection send; each is documented where it is
//! parsed.

use std::sync::Arc;

use serde_json::{json, Value};

use super::actions::reply_json;
use super::body::Body;
use super::error::{ApiError, ApiResult};
use super::objects::unknown_action;
use super::{render_inventory as r, Gateway};
use crate::model::inventory::{
    ClusterMode, DeviceSpec, InventoryCommand as C, IpRole, IpSpec, MdmRole, RestrictedSdcMode,
};
use crate::model::*;

/// The inventory types, for lists and lookups.
pub const TYPES: &[&str] = &["Sds", "Device", "FaultSet", "User"];

pub fn list(model: &Model, ty: &str) -> Option<Vec<Value>> {
    let system = model.system().id;
    Some(match ty {
        "Sds" => model.sdss().map(r::sds).collect(),
        "Device" => model.devices().map(r::device).collect(),
        "FaultSet" => model.fault_sets().map(r::fault_set).collect(),
        "User" => model.users().map(|u| r::user(u, system)).collect(),
        _ => return None,
    })
}

/// One object, or its type's "not found".
pub fn get(model: &Model, ty: &str, id: Id) -> Option<ApiResult<Value>> {
    let system = model.system().id;
    Some(match ty {
        "Sds" => model.sds(id).map(r::sds).ok_or_else(|| Fault::sds_not_found().into()),
        "Device" => model.device(id).map(r::device).ok_or_else(|| Fault::device_not_found().into()),
        "FaultSet" => model.fault_set(id).map(r::fault_set).ok_or_else(|| Fault::fault_set_not_found().into()),
        "User" => model.user(id).map(|u| r::user(u, system)).ok_or_else(|| Fault::user_not_found().into()),
        _ => return None,
    })
}

/// Relationships of and to inventory objects. The object itself has been checked.
pub fn related(model: &Model, ty: &str, id: Id, rel: &str) -> Option<Value> {
    let system = model.system().id;
    let sdss = |it: &mut dyn Iterator<Item = &inventory::Sds>| Value::Array(it.map(r::sds).collect());
    let devices = |it: &mut dyn Iterator<Item = &inventory::Device>| Value::Array(it.map(r::device).collect());
    Some(match (ty, rel) {
        ("Sds", "Device") => devices(&mut model.sds_devices(id)),
        ("StoragePool", "Device") => devices(&mut model.pool_devices(id)),
        ("FaultSet", "Sds") => sdss(&mut model.fault_set_sdss(id)),
        ("ProtectionDomain", "Sds") => sdss(&mut model.sdss().filter(|s| s.protection_domain == id)),
        ("ProtectionDomain", "FaultSet") => {
            Value::Array(model.fault_sets().filter(|f| f.protection_domain == id).map(r::fault_set).collect())
        }
        ("System", "User") => Value::Array(model.users().map(|u| r::user(u, system)).collect()),
        _ => return None,
    })
}

async fn run(gw: &Arc<Gateway>, command: C) -> ApiResult<Value> {
    gw.execute(Command::Inventory(command)).await.map(reply_json)
}

fn required<T>(value: Option<T>, key: &str) -> ApiResult<T> {
    value.ok_or_else(|| ApiError::bad_request(format!("Missing required parameter: {key}")))
}

fn port(body: &Body, key: &str) -> ApiResult<Option<u16>> {
    body.uint(key)?.map(|p| u16::try_from(p).map_err(|_| Fault::invalid_port().into())).transpose()
}

fn ip_role(s: &str) -> ApiResult<IpRole> {
    IpRole::parse(s).ok_or_else(|| Fault::invalid(format!("role {s:?}: all, sdsOnly or sdcOnly")).into())
}

/// An SDS IP: `{"ip", "role"}`, or PyPowerFlex's and goscaleio's `{"SdsIp": {"ip", "role"}}`.
fn ip_spec(item: &Value) -> ApiResult<IpSpec> {
    let body = Body::from_value(item.get("SdsIp").unwrap_or(item))?;
    let role = body.string("role")?.map(|s| ip_role(&s)).transpose()?.unwrap_or(IpRole::All);
    Ok(IpSpec { ip: body.required_string("ip")?, role })
}

/// A device of `deviceInfoList` (`{"devicePath", "storagePoolId", "deviceName"?, "mediaType"?}`)
/// or of `POST /api/types/Device/instances`.
fn device_spec(body: &Body, path_key: &str, name_key: &str) -> ApiResult<DeviceSpec> {
    Ok(DeviceSpec {
        path: body.required_string(path_key)?,
        pool: body.required_id("storagePoolId", "StoragePool")?,
        name: body.string(name_key)?,
        media_type: body.string("mediaType")?,
        capacity_limit_kb: body.uint("capacityLimitInKb")?,
    })
}

fn strings(body: &Body, key: &str) -> ApiResult<Vec<String>> {
    Ok(body.strings(key)?.unwrap_or_default())
}

fn ids(body: &Body, key: &str) -> ApiResult<Vec<Id>> {
    Ok(body.ids(key, "Mdm")?.unwrap_or_default())
}

/// Runs a parsed command; `None` when the call is not the inventory's.
async fn run_parsed(gw: &Arc<Gateway>, parsed: ApiResult<Option<C>>) -> Option<ApiResult<Value>> {
    match parsed {
        Ok(None) => None,
        Ok(Some(c)) => Some(run(gw, c).await),
        Err(e) => Some(Err(e)),
    }
}

/// `POST /api/types/{Sds|Device|FaultSet|User}/instances`.
pub async fn create(gw: &Arc<Gateway>, ty: &str, body: &Body) -> Option<ApiResult<Value>> {
    run_parsed(gw, create_command(ty, body)).await
}

fn create_command(ty: &str, body: &Body) -> ApiResult<Option<C>> {
    Ok(Some(match ty {
        // {"protectionDomainId", "sdsIpList": [{"SdsIp": {"ip", "role"}}], "name"?, "sdsPort"?,
        //  "faultSetId"?, "deviceInfoList"?, "rmcacheEnabled"?, "rmcacheSizeInKb"?, "drlMode"?, ...}
        "Sds" => {
            let ips = required(body.array("sdsIpList")?, "sdsIpList")?.iter().map(ip_spec).collect::<ApiResult<_>>()?;
            let devices = body
                .array("deviceInfoList")?
                .map(|items| {
                    items
                        .iter()
                        .map(|d| device_spec(&Body::from_value(d)?, "devicePath", "deviceName"))
                        .collect::<ApiResult<Vec<_>>>()
                })
                .transpose()?
                .unwrap_or_default();
            C::CreateSds {
                domain: body.required_id("protectionDomainId", "ProtectionDomain")?,
                name: body.string("name")?,
                ips,
                port: port(body, "sdsPort")?,
                fault_set: body.id("faultSetId", "FaultSet")?,
                devices,
                rmcache_enabled: body.boolean("rmcacheEnabled")?,
                rmcache_size_kb: body.uint("rmcacheSizeInKb")?,
                drl_mode: body.string("drlMode")?,
            }
        }
        // {"deviceCurrentPathname", "sdsId", "storagePoolId", "name"?, "mediaType"?,
        //  "capacityLimitInKb"?, "externalAccelerationType"?, "forceDeviceTakeover"?}
        "Device" => C::CreateDevice {
            sds: body.required_id("sdsId", "Sds")?,
            device: device_spec(body, "deviceCurrentPathname", "name")?,
        },
        // {"protectionDomainId", "name"?}
        "FaultSet" => C::CreateFaultSet {
            domain: body.required_id("protectionDomainId", "ProtectionDomain")?,
            name: body.string("name")?,
        },
        // {"name", "userRole", "password"}; the password is required but not kept.
        "User" => {
            body.required_string("password")?;
            C::CreateUser { name: body.required_string("name")?, role: body.required_string("userRole")? }
        }
        _ => return Ok(None),
    }))
}

/// `POST /api/instances/{Sds|Device|FaultSet|User}::{id}/action/{action}`; the caller has checked
/// that `ty` is one of `TYPES`.
pub async fn instance_action(gw: &Arc<Gateway>, ty: &str, id: Id, action: &str, body: &Body) -> ApiResult<Value> {
    let command = match (ty, action) {
        ("Sds", _) => sds_command(id, action, body),
        ("Device", _) => device_command(id, action, body),
        ("FaultSet", _) => fault_set_command(gw, id, action, body),
        ("User", "removeUser") => Ok(Some(C::RemoveUser { user: id })),
        // {"userRole"}
        ("User", "setUserRole") => body.required_string("userRole").map(|role| Some(C::SetUserRole { user: id, role })),
        _ => Err(unknown_action(ty, action)),
    };
    match command? {
        // An action that changes nothing (`clearFaultSet`).
        None => Ok(json!({})),
        Some(c) => run(gw, c).await,
    }
}

fn sds_command(sds: Id, action: &str, body: &Body) -> ApiResult<Option<C>> {
    Ok(Some(match action {
        // {"name"}
        "setSdsName" => C::RenameSds { sds, name: body.required_string("name")? },
        // {"ip", "role"}
        "addSdsIp" => C::AddSdsIp {
            sds,
            ip: ip_spec(&json!({ "ip": body.required_string("ip")?, "role": body.string("role")? }))?,
        },
        // {"ip"}
        "removeSdsIp" => C::RemoveSdsIp { sds, ip: body.required_string("ip")? },
        // {"sdsIpToSet", "newRole", "forceRoleModification"?}
        "setSdsIpRole" => C::SetSdsIpRole {
            sds,
            ip: body.required_string("sdsIpToSet")?,
            role: ip_role(&body.required_string("newRole")?)?,
        },
        // {"sdsPort"}
        "setSdsPort" => C::SetSdsPort { sds, port: required(body.uint("sdsPort")?, "sdsPort")? },
        // {"perfProfile"}
        "setSdsPerformanceParameters" => C::SetSdsPerfProfile { sds, profile: body.required_string("perfProfile")? },
        // {"drlMode": Volatile | NonVolatile} (goscaleio `SetDrlMode`)
        "setDrlMode" => C::SetSdsDrlMode { sds, mode: body.required_string("drlMode")? },
        "enableRfcache" => C::SetSdsRfcache { sds, enabled: true },
        "disableRfcache" => C::SetSdsRfcache { sds, enabled: false },
        // {"rmcacheEnabled"}
        "setSdsRmcacheEnabled" => {
            C::SetSdsRmcache { sds, enabled: required(body.boolean("rmcacheEnabled")?, "rmcacheEnabled")? }
        }
        // {"rmcacheSizeInMB"}
        "setSdsRmcacheSize" => {
            C::SetSdsRmcacheSize { sds, size_mb: required(body.uint("rmcacheSizeInMB")?, "rmcacheSizeInMB")? }
        }
        // {"force"?}: the devices go with the SDS either way (see `model::sds::remove`).
        "removeSds" => C::RemoveSds { sds },
        _ => return Err(unknown_action("Sds", action)),
    }))
}

fn device_command(device: Id, action: &str, body: &Body) -> ApiResult<Option<C>> {
    Ok(Some(match action {
        // {"newName"}
        "setDeviceName" => C::RenameDevice { device, name: body.required_string("newName")? },
        // {"mediaType"}
        "setMediaType" => C::SetDeviceMediaType { device, media_type: body.required_string("mediaType")? },
        // {"capacityLimitInGB"} (goscaleio `SetDeviceCapacityLimit`)
        "setDeviceCapacityLimit" => {
            let gb = required(body.uint("capacityLimitInGB")?, "capacityLimitInGB")?;
            C::SetDeviceCapacityLimit { device, capacity_kb: gb.saturating_mul(1024 * 1024) }
        }
        // {"forceRemove"?}
        "removeDevice" => C::RemoveDevice { device },
        _ => return Err(unknown_action("Device", action)),
    }))
}

fn fault_set_command(gw: &Gateway, fault_set: Id, action: &str, body: &Body) -> ApiResult<Option<C>> {
    Ok(Some(match action {
        // {"newName"}
        "setFaultSetName" => C::RenameFaultSet { fault_set, name: body.required_string("newName")? },
        "removeFaultSet" => C::RemoveFaultSet { fault_set },
        // Clears error states; none are modelled, so it only checks the fault set exists.
        "clearFaultSet" => {
            gw.read().fault_set(fault_set).ok_or_else(Fault::fault_set_not_found)?;
            return Ok(None);
        }
        _ => return Err(unknown_action("FaultSet", action)),
    }))
}

/// `queryMdmCluster` (PyPowerFlex and goscaleio post to `/api/instances/System/queryMdmCluster`).
pub fn query_mdm_cluster(gw: &Gateway) -> Value {
    let model = gw.read();
    r::mdm_cluster(model.mdm_cluster(), model.system().id)
}

/// The System actions of the inventory; `None` for the others.
pub async fn system_action(gw: &Arc<Gateway>, action: &str, body: &Body) -> Option<ApiResult<Value>> {
    if action == "queryMdmCluster" {
        return Some(Ok(query_mdm_cluster(gw)));
    }
    run_parsed(gw, system_command(action, body)).await
}

fn system_command(action: &str, body: &Body) -> ApiResult<Option<C>> {
    Ok(Some(match action {
        // {"mode", "addSlaveMdmIdList"?, "addTBIdList"?, "removeSlaveMdmIdList"?, "removeTBIdList"?}
        "switchClusterMode" => {
            let mode = body.required_string("mode")?;
            C::SwitchClusterMode {
                mode: ClusterMode::parse(&mode)
                    .ok_or_else(|| Fault::invalid(format!("mode {mode:?}: OneNode, ThreeNodes or FiveNodes")))?,
                add_secondaries: ids(body, "addSlaveMdmIdList")?,
                add_tiebreakers: ids(body, "addTBIdList")?,
                remove_secondaries: ids(body, "removeSlaveMdmIdList")?,
                remove_tiebreakers: ids(body, "removeTBIdList")?,
            }
        }
        // {"ips", "role", "managementIps"?, "name"?, "port"?, "allowAsymmetricIps"?,
        //  "forceClean"?, "virtIpIntfs"?}
        "addStandbyMdm" => {
            let role = body.required_string("role")?;
            C::AddStandbyMdm {
                ips: strings(body, "ips")?,
                role: MdmRole::parse(&role)
                    .ok_or_else(|| Fault::invalid(format!("role {role:?}: Manager or TieBreaker")))?,
                management_ips: strings(body, "managementIps")?,
                name: body.string("name")?,
                port: port(body, "port")?,
                virtual_interfaces: strings(body, "virtIpIntfs")?,
            }
        }
        // {"id"}
        "removeStandbyMdm" => C::RemoveStandbyMdm { mdm: body.required_id("id", "Mdm")? },
        // {"id"}
        "changeMdmOwnership" => C::ChangeMdmOwnership { mdm: body.required_id("id", "Mdm")? },
        // {"id", "newName"}
        "renameMdm" => C::RenameMdm { mdm: body.required_id("id", "Mdm")?, name: body.required_string("newName")? },
        // {"id", "virtIpIntfs"} or {"id", "clear": true} (PyPowerFlex `modify_virtual_ip_interface`)
        "modifyVirtualIpInterfaces" => C::SetMdmVirtualInterfaces {
            mdm: body.required_id("id", "Mdm")?,
            interfaces: if body.boolean("clear")?.unwrap_or(false) { vec![] } else { strings(body, "virtIpIntfs")? },
        },
        // {"perfProfile"}
        "setMdmPerformanceParameters" => C::SetMdmPerfProfile { profile: body.required_string("perfProfile")? },
        // {"restrictedSdcMode": None | Guid | ApprovedIp}
        "setRestrictedSdcMode" => {
            let mode = body.required_string("restrictedSdcMode")?;
            C::SetRestrictedSdcMode {
                mode: RestrictedSdcMode::parse(&mode)
                    .ok_or_else(|| Fault::invalid(format!("restrictedSdcMode {mode:?}: None, Guid or ApprovedIp")))?,
            }
        }
        // {"sdcGuid", "sdcIp"?, "sdcIps"?, "name"?}
        "approveSdc" => {
            let mut ips = strings(body, "sdcIps")?;
            if let Some(ip) = body.string("sdcIp")? {
                if !ips.contains(&ip) {
                    ips.insert(0, ip);
                }
            }
            C::ApproveSdc { guid: body.required_string("sdcGuid")?, ips, name: body.string("name")? }
        }
        // {"sdcId", "sdcApprovedIps"}
        "setApprovedSdcIps" => C::SetApprovedSdcIps {
            sdc: body.required_id("sdcId", "Sdc")?,
            ips: required(body.strings("sdcApprovedIps")?, "sdcApprovedIps")?,
        },
        _ => return Ok(None),
    }))
}
