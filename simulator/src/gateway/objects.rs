//! The read side: lists, single objects, relationships, statistics and id lookups.

use serde_json::{json, Map, Value};

use super::body::Body;
use super::error::{ApiError, ApiResult};
use super::render;
use super::router::ObjectPath;
use super::Gateway;
use crate::model::stats::{self, Stat, Stats, Written};
use crate::model::*;

/// Types real clients list that the simulator has no objects of: their lists are empty.
const EMPTY_TYPES: &[&str] = &[
    "Sds",
    "Device",
    "FaultSet",
    "ReplicationConsistencyGroup",
    "ReplicationPair",
    "AccelerationPool",
    "Sdr",
    "User",
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
    let items: Vec<Value> = match ty {
        "System" => vec![render::system(model.system())],
        "ProtectionDomain" => model.domains().map(|d| render::protection_domain(d, system)).collect(),
        "StoragePool" => model.pools().map(render::storage_pool).collect(),
        "Volume" => model.volumes().map(|v| render::volume(&model, v)).collect(),
        "VTree" => model.vtrees().map(|t| render::vtree(&model, t)).collect(),
        "Sdc" => model.hosts().map(|h| render::host(h, system)).collect(),
        "Host" => model.hosts().filter(|h| h.nqn().is_some()).map(|h| render::host(h, system)).collect(),
        "Sdt" => model.sdts().map(|s| render::sdt(s, system)).collect(),
        "SnapshotPolicy" => model.policies().map(|p| render::snapshot_policy(&model, p)).collect(),
        t if EMPTY_TYPES.contains(&t) => vec![],
        _ => return Err(ApiError::not_found_path()),
    };
    Ok(Value::Array(items))
}

fn need_id(object: &ObjectPath) -> ApiResult<Id> {
    object.id.ok_or_else(ApiError::not_found_path)
}

/// The object a path names, rendered, or the type's own "not found".
fn render_one(model: &Model, ty: &str, id: Id) -> ApiResult<Value> {
    let system = model.system().id;
    Ok(match ty {
        "System" if id == system => render::system(model.system()),
        "System" => return Err(Fault::not_found().into()),
        "ProtectionDomain" => render::protection_domain(model.domain(id).ok_or_else(Fault::fd_not_found)?, system),
        "StoragePool" => render::storage_pool(model.pool(id).ok_or_else(Fault::storage_pool_not_found)?),
        "Volume" => render::volume(model, model.volume(id).ok_or_else(Fault::vol_not_found)?),
        "VTree" => render::vtree(model, model.vtree(id).ok_or_else(Fault::vtree_not_found)?),
        "Sdc" => render::host(model.host(id).ok_or_else(Fault::ini_not_found)?, system),
        "Host" => render::host(model.host(id).filter(|h| h.nqn().is_some()).ok_or_else(Fault::host_not_found)?, system),
        "Sdt" => render::sdt(model.sdt(id).ok_or_else(Fault::not_found)?, system),
        "SnapshotPolicy" => render::snapshot_policy(model, model.policy(id).ok_or_else(Fault::snap_policy_not_found)?),
        _ => return Err(ApiError::not_found_path()),
    })
}

pub fn get(gw: &Gateway, object: &ObjectPath) -> ApiResult<Value> {
    render_one(&gw.read(), &object.ty, need_id(object)?)
}

/// Net KiB written to a pool's thin volumes and snapshots, as the data plane measures it.
fn written(gw: &Gateway, model: &Model, pool: Id) -> Written {
    let plane = gw.plane();
    let mut written = Written::default();
    if plane.kind() == crate::dataplane::PlaneKind::None {
        return written;
    }
    for v in model.pool_volumes(pool) {
        let kb = plane.allocated_kb(v.id).unwrap_or(0);
        match (v.is_snapshot, v.provisioning) {
            (true, _) => written.snapshot_kb += kb,
            (false, Provisioning::Thin) => written.thin_kb += kb,
            (false, Provisioning::Thick) => {}
        }
    }
    written
}

/// VTree statistics with the data plane's measure of what its volumes hold.
fn vtree_stats(gw: &Gateway, model: &Model, id: Id) -> Stats {
    let written_kb = model.vtree_volumes(id).filter_map(|v| gw.plane().allocated_kb(v.id)).sum();
    stats::vtree(model, id, written_kb)
}

fn pool_stats(gw: &Gateway, model: &Model, pool: &StoragePool, with_ids: bool) -> Stats {
    stats::pool(model, pool, written(gw, model, pool.id), with_ids)
}

/// The back-end bandwidth counters goscaleio's `types.Statistics` decodes (reference §2.3),
/// on pools and the system. Idle: the simulator measures no I/O rates.
const BACKEND_BWCS: &[&str] = &[
    "primaryReadBwc",
    "primaryWriteBwc",
    "secondaryReadBwc",
    "secondaryWriteBwc",
    "totalReadBwc",
    "totalWriteBwc",
    "rebalanceReadBwc",
    "rebalanceWriteBwc",
    "fwdRebuildReadBwc",
    "fwdRebuildWriteBwc",
    "bckRebuildReadBwc",
    "bckRebuildWriteBwc",
    "normRebuildReadBwc",
    "normRebuildWriteBwc",
    "userDataReadBwc",
    "userDataWriteBwc",
];

/// Pool or system statistics as JSON: the counters plus the idle bandwidth counters.
fn stats_with_bwcs(stats: &Stats) -> Value {
    let mut v = render::stats(stats);
    for key in BACKEND_BWCS {
        v[*key] = render::idle_bwc();
    }
    v
}

/// System statistics: the pools' statistics summed.
fn system_stats(gw: &Gateway, model: &Model) -> Stats {
    let mut total: Stats = Vec::new();
    for pool in model.pools() {
        for (name, value) in pool_stats(gw, model, pool, false) {
            match (total.iter_mut().find(|(n, _)| *n == name), value) {
                (Some((_, Stat::Int(sum))), Stat::Int(n)) => *sum += n,
                (Some(_), _) => {}
                (None, v) => total.push((name, v)),
            }
        }
    }
    total.push(("numOfProtectionDomains", Stat::Int(model.domains().count() as u64)));
    total.push(("numOfStoragePools", Stat::Int(model.pools().count() as u64)));
    total.push(("numOfSdc", Stat::Int(model.hosts().count() as u64)));
    total
}

fn host_stats(host: &Host) -> Value {
    let ids: Vec<String> = host.volumes.iter().map(Id::to_string).collect();
    json!({
        "numOfMappedVolumes": ids.len(),
        "volumeIds": ids,
        "userDataReadBwc": render::idle_bwc(),
        "userDataWriteBwc": render::idle_bwc(),
        "userDataTrimBwc": render::idle_bwc(),
        "userDataSdcReadLatency": render::idle_bwc(),
        "userDataSdcWriteLatency": render::idle_bwc(),
        "userDataSdcTrimLatency": render::idle_bwc(),
    })
}

fn volume_stats_value(model: &Model, id: Id) -> Value {
    let mut v = render::stats(&stats::volume(model, id));
    for key in [
        "userDataReadBwc",
        "userDataWriteBwc",
        "userDataTrimBwc",
        "userDataSdcReadLatency",
        "userDataSdcWriteLatency",
        "userDataSdcTrimLatency",
    ] {
        v[key] = render::idle_bwc();
    }
    let extra = json!({
        "initiatorSdcId": null, "registrationKey": null, "registrationKeys": [],
        "reservationType": "NotReserved", "replicationState": "UnmarkedForReplication",
        "replicationJournalVolume": false, "rplTotalJournalCap": 0, "rplUsedJournalCap": 0,
    });
    for (k, val) in extra.as_object().expect("object") {
        v[k] = val.clone();
    }
    v
}

pub fn related(gw: &Gateway, object: &ObjectPath, rel: &str) -> ApiResult<Value> {
    let id = need_id(object)?;
    let model = gw.read();
    // The object itself must exist, with its type's "not found".
    render_one(&model, &object.ty, id)?;
    let system = model.system().id;
    let volumes = |it: &mut dyn Iterator<Item = &Volume>| Value::Array(it.map(|v| render::volume(&model, v)).collect());
    Ok(match (object.ty.as_str(), rel) {
        ("System", "Statistics") => stats_with_bwcs(&system_stats(gw, &model)),
        ("System", "ProtectionDomain") => {
            Value::Array(model.domains().map(|d| render::protection_domain(d, system)).collect())
        }
        ("System", "Sdc") => Value::Array(model.hosts().map(|h| render::host(h, system)).collect()),
        ("System", "User") => empty(),
        ("ProtectionDomain", "StoragePool") => {
            let pd = model.domain(id).expect("checked");
            Value::Array(pd.pools.iter().filter_map(|p| model.pool(*p)).map(render::storage_pool).collect())
        }
        ("ProtectionDomain", "Sdt") => {
            let pd = model.domain(id).expect("checked");
            Value::Array(pd.sdts.iter().filter_map(|s| model.sdt(*s)).map(|s| render::sdt(s, system)).collect())
        }
        ("ProtectionDomain", "Statistics") => {
            let pd = model.domain(id).expect("checked");
            json!({
                "numOfStoragePools": pd.pools.len(),
                "numOfSdt": pd.sdts.len(),
                "numOfVolumes": pd.volume_count,
            })
        }
        ("StoragePool", "Statistics") => {
            stats_with_bwcs(&pool_stats(gw, &model, model.pool(id).expect("checked"), true))
        }
        ("StoragePool", "Volume") => volumes(&mut model.pool_volumes(id)),
        ("StoragePool", "VTree") => {
            Value::Array(model.vtrees().filter(|t| t.pool == id).map(|t| render::vtree(&model, t)).collect())
        }
        ("Volume", "Statistics") => volume_stats_value(&model, id),
        ("VTree", "Volume") => volumes(&mut model.vtree_volumes(id)),
        ("VTree", "Statistics") => render::stats(&vtree_stats(gw, &model, id)),
        ("Sdc" | "Host", "Volume") => volumes(&mut model.host_volumes(id)),
        ("Sdc" | "Host", "Statistics") => host_stats(model.host(id).expect("checked")),
        ("Host", "NvmeController") => empty(),
        ("Sdt", "Statistics") => json!({ "numOfConnectedHosts": 0 }),
        ("SnapshotPolicy", "Statistics") => render::snapshot_policy_stats(&model, id),
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
        "querySelectedStatistics" => query_selected_statistics(gw, ty, body),
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

fn query_selected_statistics(gw: &Gateway, ty: &str, body: &Body) -> ApiResult<Value> {
    let properties = body.strings("properties")?.unwrap_or_default();
    let model = gw.read();
    let all = body.has("allIds");
    let ids: Vec<Id> = match body.ids("ids", ty)? {
        Some(ids) => ids,
        None if all => match ty {
            "StoragePool" => model.pools().map(|p| p.id).collect(),
            "Volume" => model.volumes().map(|v| v.id).collect(),
            "ProtectionDomain" => model.domains().map(|d| d.id).collect(),
            "Sdc" => model.hosts().map(|h| h.id).collect(),
            "VTree" => model.vtrees().map(|t| t.id).collect(),
            "System" => vec![model.system().id],
            "SnapshotPolicy" => model.policies().map(|p| p.id).collect(),
            _ => vec![],
        },
        None => return Err(ApiError::bad_request("Missing required parameter: ids or allIds")),
    };
    let mut out = Map::new();
    for id in ids {
        render_one(&model, ty, id)?;
        let full: Value = match ty {
            "StoragePool" => stats_with_bwcs(&pool_stats(gw, &model, model.pool(id).expect("checked"), false)),
            "System" => stats_with_bwcs(&system_stats(gw, &model)),
            "Volume" => volume_stats_value(&model, id),
            "VTree" => render::stats(&vtree_stats(gw, &model, id)),
            "Sdc" => host_stats(model.host(id).expect("checked")),
            "SnapshotPolicy" => render::snapshot_policy_stats(&model, id),
            _ => json!({}),
        };
        let mut selected = Map::new();
        for p in &properties {
            let value = full.get(p).cloned().ok_or_else(|| {
                ApiError::bad_request(format!("Request failed: unknown statistics property {p:?} for {ty}"))
            })?;
            selected.insert(p.clone(), value);
        }
        out.insert(id.to_string(), Value::Object(selected));
    }
    Ok(Value::Object(out))
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
