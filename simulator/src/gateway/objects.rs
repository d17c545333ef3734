//! The read side: lists, single objects, relationships, statistics and id lookups.

use serde_json::{json, Value};

use super::body::Body;
use super::error::{ApiError, ApiResult};
use super::router::ObjectPath;
use super::Gateway;
use super::{render, statistics};
use crate::model::*;

/// Types real clients list that the simulator has no objects of: their lists are empty.
const EMPTY_TYPES: &[&str] = &[
    "ReplicationConsistencyGroup",
    "ReplicationPair",
    "AccelerationPool",
    "Sdr",
    "SpSds",
    "NvmeController",
    "PeerMdm",
    "Dgwt",
    "StorageNode",
];

fn empty() -> Value {
    json!([])
}

pub fn list(gw: &Gateway, ty: &str) -> ApiResult<Value> {
    let model = gw.read();
    let system = model.system().id;
    if let Some(items) = super::inventory::list(&model, ty) {
        return Ok(Value::Array(items));
    }
    let items: Vec<Value> = match ty {
        "System" => vec![render::system(&model)],
        "ProtectionDomain" => model.domains().map(|d| render::protection_domain(d, system)).collect(),
        "StoragePool" => model.pools().map(render::storage_pool).collect(),
        "Volume" => model.volumes().map(|v| render::volume(&model, v)).collect(),
        "VTree" => model.vtrees().map(|t| render::vtree(&model, t)).collect(),
        "Sdc" => model.hosts().map(|h| host_json(&model, h)).collect(),
        "Host" => model.hosts().filter(|h| h.nqn().is_some()).map(|h| render::host(h, system)).collect(),
        "Sdt" => model.sdts().map(|s| render::sdt(s, system)).collect(),
        "SnapshotPolicy" => model.policies().map(|p| render::snapshot_policy(&model, p)).collect(),
        t if EMPTY_TYPES.contains(&t) => vec![],
        _ => return Err(ApiError::not_found_path()),
    };
    Ok(Value::Array(items))
}

/// A host with the SDC fields the inventory decides.
fn host_json(model: &Model, h: &Host) -> Value {
    let mut v = render::host(h, model.system().id);
    super::render_inventory::sdc_fields(model, h.id, &mut v);
    v
}

fn need_id(object: &ObjectPath) -> ApiResult<Id> {
    object.id.ok_or_else(ApiError::not_found_path)
}

/// The object a path names, rendered, or the type's own "not found".
fn render_one(model: &Model, ty: &str, id: Id) -> ApiResult<Value> {
    let system = model.system().id;
    if let Some(found) = super::inventory::get(model, ty, id) {
        return found;
    }
    Ok(match ty {
        "System" if id == system => render::system(model),
        "System" => return Err(Fault::not_found().into()),
        "ProtectionDomain" => render::protection_domain(model.domain(id).ok_or_else(Fault::fd_not_found)?, system),
        "StoragePool" => render::storage_pool(model.pool(id).ok_or_else(Fault::storage_pool_not_found)?),
        "Volume" => render::volume(model, model.volume(id).ok_or_else(Fault::vol_not_found)?),
        "VTree" => render::vtree(model, model.vtree(id).ok_or_else(Fault::vtree_not_found)?),
        "Sdc" => host_json(model, model.host(id).ok_or_else(Fault::ini_not_found)?),
        "Host" => render::host(model.host(id).filter(|h| h.nqn().is_some()).ok_or_else(Fault::host_not_found)?, system),
        "Sdt" => render::sdt(model.sdt(id).ok_or_else(Fault::not_found)?, system),
        "SnapshotPolicy" => render::snapshot_policy(model, model.policy(id).ok_or_else(Fault::snap_policy_not_found)?),
        _ => return Err(ApiError::not_found_path()),
    })
}

pub fn get(gw: &Gateway, object: &ObjectPath) -> ApiResult<Value> {
    render_one(&gw.read(), &object.ty, need_id(object)?)
}

pub fn related(gw: &Gateway, object: &ObjectPath, rel: &str) -> ApiResult<Value> {
    let id = need_id(object)?;
    let model = gw.read();
    // The object itself must exist, with its type's "not found".
    render_one(&model, &object.ty, id)?;
    let system = model.system().id;
    let volumes = |it: &mut dyn Iterator<Item = &Volume>| Value::Array(it.map(|v| render::volume(&model, v)).collect());
    if rel == "Statistics" {
        if let Some(stats) = statistics::of(gw, &model, &object.ty, id) {
            return Ok(stats);
        }
    }
    if let Some(found) = super::inventory::related(&model, &object.ty, id, rel) {
        return Ok(found);
    }
    Ok(match (object.ty.as_str(), rel) {
        ("System", "ProtectionDomain") => {
            Value::Array(model.domains().map(|d| render::protection_domain(d, system)).collect())
        }
        ("System", "Sdc") => Value::Array(model.hosts().map(|h| host_json(&model, h)).collect()),
        ("ProtectionDomain", "StoragePool") => {
            let pd = model.domain(id).expect("checked");
            Value::Array(pd.pools.iter().filter_map(|p| model.pool(*p)).map(render::storage_pool).collect())
        }
        ("ProtectionDomain", "Sdt") => {
            let pd = model.domain(id).expect("checked");
            Value::Array(pd.sdts.iter().filter_map(|s| model.sdt(*s)).map(|s| render::sdt(s, system)).collect())
        }
        ("StoragePool", "Volume") => volumes(&mut model.pool_volumes(id)),
        ("StoragePool", "VTree") => {
            Value::Array(model.vtrees().filter(|t| t.pool == id).map(|t| render::vtree(&model, t)).collect())
        }
        ("VTree", "Volume") => volumes(&mut model.vtree_volumes(id)),
        ("Sdc" | "Host", "Volume") => volumes(&mut model.host_volumes(id)),
        ("Host", "NvmeController") => empty(),
        ("SnapshotPolicy", "SourceVolume") => {
            let sources = &model.policy(id).expect("checked").sources;
            volumes(&mut sources.iter().filter_map(|v| model.volume(*v)))
        }
        ("SnapshotPolicy", "AutoSnapshotVolume") => {
            volumes(&mut model.policy_auto_snapshots(id).filter_map(|v| model.volume(v)))
        }
        (_, r) if EMPTY_TYPES.contains(&r) => empty(),
        _ => return Err(ApiError::not_found_path()),
    })
}

/// Read-only type-level actions: `queryIdByKey`, `queryBySelectedIds`,
/// `querySelectedStatistics`.
pub fn type_action(gw: &Gateway, ty: &str, action: &str, body: &Body) -> ApiResult<Value> {
    match action {
        "queryIdByKey" => query_id_by_key(gw, ty, body),
        "queryBySelectedIds" => {
            let ids = body.ids("ids", ty)?.unwrap_or_default();
            let model = gw.read();
            ids.into_iter().map(|id| render_one(&model, ty, id)).collect::<ApiResult<Vec<_>>>().map(Value::Array)
        }
        "querySelectedStatistics" => {
            statistics::query_selected(gw, ty, body, |model, id| render_one(model, ty, id).map(drop))
        }
        _ => Err(unknown_action(ty, action)),
    }
}

pub fn unknown_action(ty: &str, action: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        0,
        format!("Request failed: unknown action {action:?} for type {ty}"),
    )
}

fn query_id_by_key(gw: &Gateway, ty: &str, body: &Body) -> ApiResult<Value> {
    let model = gw.read();
    let id = match ty {
        "Volume" => {
            let name = body.required_string("name")?;
            model.volume_by_name(&name).map(|v| v.id).ok_or_else(Fault::vol_not_found)?
        }
        "ProtectionDomain" => {
            let name = body.required_string("name")?;
            model.domain_by_name(&name).map(|d| d.id).ok_or_else(Fault::fd_not_found)?
        }
        "StoragePool" => {
            let name = body.required_string("name")?;
            let domain =
                match (body.id("protectionDomainId", "ProtectionDomain")?, body.string("protectionDomainName")?) {
                    (Some(id), _) => Some(id),
                    (None, Some(pd_name)) => {
                        Some(model.domain_by_name(&pd_name).map(|d| d.id).ok_or_else(Fault::fd_not_found)?)
                    }
                    (None, None) => None,
                };
            model
                .pools()
                .find(|p| p.name == name && domain.is_none_or(|d| p.protection_domain == d))
                .map(|p| p.id)
                .ok_or_else(Fault::storage_pool_not_found)?
        }
        "SnapshotPolicy" => {
            let name = body.required_string("name")?;
            let found = model.policies().find(|p| p.settings.name.as_deref() == Some(name.as_str()));
            found.map(|p| p.id).ok_or_else(Fault::snap_policy_not_found)?
        }
        "Sdt" => {
            let name = body.required_string("name")?;
            model.sdts().find(|s| s.name == name).map(|s| s.id).ok_or_else(Fault::not_found)?
        }
        "Sdc" | "Host" => {
            let found = if let Some(ip) = body.string("ip")? {
                model.hosts().find(|h| matches!(&h.kind, HostKind::Sdc { ip: i, .. } if *i == ip))
            } else if let Some(guid) = body.string("guid")? {
                model
                    .hosts()
                    .find(|h| matches!(&h.kind, HostKind::Sdc { guid: g, .. } if g.eq_ignore_ascii_case(&guid)))
            } else if let Some(nqn) = body.string("nqn")? {
                model.host_by_nqn(&nqn)
            } else {
                model.host_by_name(&body.required_string("name")?)
            };
            found.map(|h| h.id).ok_or_else(Fault::ini_not_found)?
        }
        _ => return Err(unknown_action(ty, "queryIdByKey")),
    };
    Ok(json!(id.to_string()))
}

/// Legacy `GET /api/types/{Type}/instances/getByName::{name}` (cinder, siolib).
pub fn get_by_name(gw: &Gateway, ty: &str, lookup: &str) -> ApiResult<Value> {
    let Some(raw) = lookup.strip_prefix("getByName::") else { return Err(ApiError::not_found_path()) };
    // Clients double-encode the name; axum has decoded it once.
    let name = percent_encoding::percent_decode_str(raw).decode_utf8_lossy().into_owned();
    let model = gw.read();
    let id = match ty {
        "Volume" => model.volume_by_name(&name).map(|v| v.id).ok_or_else(Fault::vol_not_found)?,
        "Domain" | "ProtectionDomain" => model.domain_by_name(&name).map(|d| d.id).ok_or_else(Fault::fd_not_found)?,
        "Pool" | "StoragePool" => {
            let (pd, pool) = name.split_once(',').ok_or_else(Fault::storage_pool_not_found)?;
            let pd: Id = pd.parse().map_err(|_| ApiError::malformed_id("ProtectionDomain", pd))?;
            model
                .pools()
                .find(|p| p.protection_domain == pd && p.name == pool)
                .map(|p| p.id)
                .ok_or_else(Fault::storage_pool_not_found)?
        }
        _ => return Err(ApiError::not_found_path()),
    };
    Ok(json!(id.to_string()))
}
