//! The write side: creates and instance actions, parsed into model commands.
//!
//! Each action's request body is documented where it is parsed; fields real clients send
//! that change nothing here (`allowOnExtManagedVol`, `volumeClass`, `compressionMethod` on
//! medium-granularity pools, ...) are accepted and ignored.

use std::sync::Arc;

use serde_json::{json, Value};

use super::body::Body;
use super::error::{ApiError, ApiResult};
use super::lifecycle;
use super::objects::unknown_action;
use super::policies;
use super::router::ObjectPath;
use super::Gateway;
use crate::model::limits::SYSTEM_LIMITS;
use crate::model::*;

const GIB_KB: u64 = 1024 * 1024;

pub(super) fn reply_json(reply: Reply) -> Value {
    match reply {
        Reply::Empty => json!({}),
        Reply::Created(id) => json!({ "id": id.to_string() }),
        Reply::Snapshots { volumes, group } => json!({
            "volumeIdList": volumes.iter().map(Id::to_string).collect::<Vec<_>>(),
            "snapshotGroupId": group.to_string(),
        }),
        Reply::Removed(n) => json!({ "numberOfVolumes": n }),
    }
}

pub(super) async fn run(gw: &Arc<Gateway>, command: Command) -> ApiResult<Value> {
    gw.execute(command).await.map(reply_json)
}

/// `POST /api/types/{Type}/instances`.
pub async fn create(gw: &Arc<Gateway>, ty: &str, body: &Body) -> ApiResult<Value> {
    if let Some(answer) = super::inventory::create(gw, ty, body).await {
        return answer;
    }
    match ty {
        // {"storagePoolId", "protectionDomainId"?, "name"?, "volumeSizeInKb" | "volumeSizeInGb",
        //  "volumeType"?, "useRmcache"?, "compressionMethod"?, "volumeClass"?}
        "Volume" => {
            let size_kb = match (body.uint("volumeSizeInKb")?, body.uint("volumeSizeInGb")?) {
                (Some(kb), _) => kb,
                (None, Some(gb)) => gb.checked_mul(GIB_KB).ok_or_else(Fault::vol_size_too_large)?,
                (None, None) => 0,
            };
            let provisioning = match body.string("volumeType")?.as_deref() {
                None => Provisioning::Thin,
                Some(t) if t.eq_ignore_ascii_case("ThinProvisioned") => Provisioning::Thin,
                Some(t) if t.eq_ignore_ascii_case("ThickProvisioned") => Provisioning::Thick,
                Some(t) => return Err(Fault::invalid(format!("volumeType {t:?}")).into()),
            };
            run(
                gw,
                Command::CreateVolume {
                    pool: body.required_id("storagePoolId", "StoragePool")?,
                    domain: body.id("protectionDomainId", "ProtectionDomain")?,
                    name: body.string("name")?,
                    size_kb,
                    provisioning,
                    use_rmcache: body.boolean("useRmcache")?.unwrap_or(false),
                },
            )
            .await
        }
        // {"nqn", "name"?, "maxNumPaths"?, "maxNumSysPorts"?}
        "Host" => {
            let small = |key: &str| -> ApiResult<Option<u32>> {
                body.uint(key)?.map(|n| u32::try_from(n).map_err(|_| Fault::invalid(key).into())).transpose()
            };
            run(
                gw,
                Command::CreateNvmeHost {
                    nqn: body.required_string("nqn")?,
                    name: body.string("name")?,
                    max_num_paths: small("maxNumPaths")?,
                    max_num_sys_ports: small("maxNumSysPorts")?,
                },
            )
            .await
        }
        "ProtectionDomain" | "StoragePool" | "Sdt" => lifecycle::create(gw, ty, body).await,
        "SnapshotPolicy" => policies::create(gw, body).await,
        "System" | "Sdc" => Err(ApiError::bad_request(format!(
            "pflex-sim: {ty} objects come from the topology file and cannot be created through the API"
        ))),
        _ => Err(ApiError::not_found_path()),
    }
}

fn host_ref(body: &Body, id_key: &str) -> ApiResult<Option<HostRef>> {
    if let Some(id) = body.id(id_key, "Sdc")? {
        return Ok(Some(HostRef::Id(id)));
    }
    if let Some(guid) = body.string("guid")? {
        return Ok(Some(HostRef::Guid(guid)));
    }
    Ok(body.string("nqn")?.map(HostRef::Nqn))
}

fn access_mode(body: &Body, key: &str) -> ApiResult<Option<AccessMode>> {
    match body.string(key)? {
        None => Ok(None),
        Some(s) => AccessMode::parse(&s).map(Some).ok_or_else(|| Fault::invalid(format!("{key} {s:?}")).into()),
    }
}

/// `POST /api/instances/{Type}[::{id}]/action/{action}`.
pub async fn instance_action(gw: &Arc<Gateway>, object: &ObjectPath, action: &str, body: &Body) -> ApiResult<Value> {
    match (object.ty.as_str(), object.id) {
        ("Volume", Some(id)) => volume_action(gw, id, action, body).await,
        ("System", id) => {
            if let Some(id) = id {
                if id != gw.read().system().id {
                    return Err(Fault::not_found().into());
                }
            }
            system_action(gw, action, body).await
        }
        ("Sdc" | "Host", Some(id)) => host_action(gw, &object.ty, id, action, body).await,
        ("ProtectionDomain" | "StoragePool" | "Sdt", Some(id)) => {
            lifecycle::instance_action(gw, &object.ty, id, action, body).await
        }
        ("SnapshotPolicy", Some(id)) => policies::instance_action(gw, id, action, body).await,
        (ty, Some(id)) if super::inventory::TYPES.contains(&ty) => {
            super::inventory::instance_action(gw, ty, id, action, body).await
        }
        ("Volume" | "Sdc" | "Host", None) => Err(ApiError::not_found_path()),
        (ty, _) => Err(unknown_action(ty, action)),
    }
}

async fn volume_action(gw: &Arc<Gateway>, volume: Id, action: &str, body: &Body) -> ApiResult<Value> {
    let missing_host = || ApiError::bad_request("Missing required parameter: sdcId, hostId, guid or nqn");
    let command = match action {
        // {"sizeInGB"}
        "setVolumeSize" => {
            let size_gb = match body.uint("sizeInGB")? {
                Some(n) => n,
                None => body
                    .uint("sizeInGb")?
                    .ok_or_else(|| ApiError::bad_request("Missing required parameter: sizeInGB"))?,
            };
            Command::SetVolumeSize { volume, size_gb }
        }
        // {"newName"}
        "setVolumeName" => Command::SetVolumeName { volume, name: body.required_string("newName")? },
        // {"removeMode"}: ONLY_ME (default), INCLUDING_DESCENDANTS, DESCENDANTS_ONLY, WHOLE_VTREE
        "removeVolume" => {
            let mode = match body.string("removeMode")? {
                None => RemoveMode::OnlyMe,
                Some(m) => RemoveMode::parse(&m).ok_or_else(|| Fault::invalid(format!("removeMode {m:?}")))?,
            };
            Command::RemoveVolume { volume, mode }
        }
        // {"sdcId" | "guid", "allowMultipleMappings"?, "accessMode"?}
        "addMappedSdc" | "addMappedHost" => {
            let host_api = action == "addMappedHost";
            let key = if host_api { "hostId" } else { "sdcId" };
            Command::AddMapping {
                volume,
                host: host_ref(body, key)?.ok_or_else(missing_host)?,
                allow_multiple: body.boolean("allowMultipleMappings")?.unwrap_or(false),
                access_mode: access_mode(body, "accessMode")?,
                host_api,
            }
        }
        // {"sdcId" | "guid" | "allSdcs": ""} / {"hostId" | "nqn" | "allHosts": ""}
        "removeMappedSdc" | "removeMappedHost" => {
            let host_api = action == "removeMappedHost";
            let (key, all) = if host_api { ("hostId", "allHosts") } else { ("sdcId", "allSdcs") };
            let target = if body.has(all) {
                MapTarget::All
            } else {
                MapTarget::One(host_ref(body, key)?.ok_or_else(missing_host)?)
            };
            Command::RemoveMapping { volume, target, host_api }
        }
        // {"sdcId" | "guid", "bandwidthLimitInKbps"?, "iopsLimit"?}
        "setMappedSdcLimits" => Command::SetMappedSdcLimits {
            volume,
            host: host_ref(body, "sdcId")?.ok_or_else(missing_host)?,
            iops_limit: body.uint("iopsLimit")?,
            bandwidth_limit_kbps: body.uint("bandwidthLimitInKbps")?,
        },
        // {"srcVolumeId"}
        "overwriteVolumeContent" => {
            Command::OverwriteVolumeContent { volume, source: body.required_id("srcVolumeId", "Volume")? }
        }
        // {"destSPId", "volTypeConversion"?: NoConversion | ThickToThin | ThinToThick}
        "migrateVTree" => {
            let conversion = match body.string("volTypeConversion")?.as_deref() {
                None | Some("NoConversion") => None,
                Some("ThickToThin") => Some(Provisioning::Thin),
                Some("ThinToThick") => Some(Provisioning::Thick),
                Some(other) => return Err(Fault::invalid(format!("volTypeConversion {other:?}")).into()),
            };
            Command::MigrateVTree { volume, destination_pool: body.required_id("destSPId", "StoragePool")?, conversion }
        }
        // {"accessModeLimit": ReadWrite | ReadOnly}
        "setVolumeAccessModeLimit" => Command::SetAccessModeLimit {
            volume,
            mode: access_mode(body, "accessModeLimit")?
                .ok_or_else(|| ApiError::bad_request("Missing required parameter: accessModeLimit"))?,
        },
        // {"useRmcache"}
        "setVolumeUseRmcache" => {
            Command::SetUseRmcache { volume, enabled: body.boolean("useRmcache")?.unwrap_or(false) }
        }
        // {"accessMode", "sdcId" | "hostId" | "guid"} (goscaleio, PyPowerFlex send sdcId)
        "setVolumeMappingAccessMode" => {
            let host = match body.id("hostId", "Host")? {
                Some(id) => HostRef::Id(id),
                None => host_ref(body, "sdcId")?.ok_or_else(missing_host)?,
            };
            let raw = body.required_string("accessMode")?;
            let mode = AccessMode::parse_exact(&raw)
                .ok_or_else(|| ApiError::not_one_of("accessMode", &AccessMode::ALL.map(AccessMode::as_str), &raw))?;
            Command::SetMappingAccessMode { volume, host, mode }
        }
        // {"retentionPeriodInMin"}
        "setSnapshotSecurity" => Command::SetSnapshotSecurity {
            volume,
            retention_min: body
                .uint("retentionPeriodInMin")?
                .ok_or_else(|| ApiError::bad_request("Missing required parameter: retentionPeriodInMin"))?,
        },
        _ => return Err(unknown_action("Volume", action)),
    };
    run(gw, command).await
}

async fn system_action(gw: &Arc<Gateway>, action: &str, body: &Body) -> ApiResult<Value> {
    if let Some(answer) = super::inventory::system_action(gw, action, body).await {
        return answer;
    }
    match action {
        // {"snapshotDefs": [{"volumeId", "snapshotName"?}], "accessModeLimit"?, "retentionPeriodInMin"?}
        "snapshotVolumes" => {
            let defs = body
                .array("snapshotDefs")?
                .ok_or_else(|| ApiError::bad_request("Missing required parameter: snapshotDefs"))?
                .iter()
                .map(|def| {
                    let def = Body::from_value(def)?;
                    Ok((def.required_id("volumeId", "Volume")?, def.string("snapshotName")?))
                })
                .collect::<ApiResult<Vec<_>>>()?;
            let access_mode = access_mode(body, "accessModeLimit")?.unwrap_or(AccessMode::ReadWrite);
            let retention_min = body.uint("retentionPeriodInMin")?;
            run(gw, Command::SnapshotVolumes { defs, access_mode, retention_min }).await
        }
        // {"snapGroupId"}
        "removeConsistencyGroupSnapshots" => {
            let group = body.required_id("snapGroupId", "SnapshotGroup")?;
            run(gw, Command::RemoveConsistencyGroupSnapshots { group }).await
        }
        "querySystemLimits" => {
            let entries: Vec<Value> = SYSTEM_LIMITS
                .iter()
                .map(|l| {
                    let mut e = json!({ "type": l.kind, "description": l.description, "maxVal": l.max.to_string() });
                    if let Some(min) = l.min {
                        e["minVal"] = json!(min.to_string());
                    }
                    e
                })
                .collect();
            Ok(json!({ "systemLimitEntryList": entries }))
        }
        _ => Err(unknown_action("System", action)),
    }
}

async fn host_action(gw: &Arc<Gateway>, ty: &str, host: Id, action: &str, body: &Body) -> ApiResult<Value> {
    let host_api = ty == "Host";
    let command = match action {
        // {"sdcName"}
        "setSdcName" => Command::RenameHost { host, name: body.required_string("sdcName")?, host_api },
        // {"name"} on Host (PyPowerFlex rename)
        "setHostName" | "renameHost" => Command::RenameHost {
            host,
            host_api,
            name: match body.string("name")? {
                Some(n) => n,
                None => body.required_string("newName")?,
            },
        },
        // No body (LXD sends none at all).
        "removeSdc" | "removeHost" => Command::RemoveHost { host, host_api },
        // {"newMaxNumPaths"}
        "modifyMaxNumPaths" => Command::SetHostMaxNumPaths { host, value: small(body, "newMaxNumPaths")? },
        // {"newMaxNumSysPorts"}
        "modifyMaxNumSysPorts" => Command::SetHostMaxNumSysPorts { host, value: small(body, "newMaxNumSysPorts")? },
        // {"perfProfile": Compact | HighPerformance}
        "setSdcPerformanceParameters" => {
            let raw = body.required_string("perfProfile")?;
            let profile = PerfProfile::parse(&raw)
                .ok_or_else(|| ApiError::not_one_of("perfProfile", &PerfProfile::ALL.map(PerfProfile::as_str), &raw))?;
            Command::SetSdcPerfProfile { host, profile }
        }
        _ => return Err(unknown_action(ty, action)),
    };
    run(gw, command).await
}

fn small(body: &Body, key: &str) -> ApiResult<u32> {
    let n = body.uint(key)?.ok_or_else(|| ApiError::bad_request(format!("Missing required parameter: {key}")))?;
    u32::try_from(n).map_err(|_| Fault::invalid(key).into())
}
