//! `relationships/Statistics` and `querySelectedStatistics`: the model's statistics, rendered.
//!
//! `SOURCES` has one entry per type with statistics: how to list its ids (for `allIds`) and
//! its statistics function in `model::stats`. Adding a type's statistics is that function
//! and one entry here.

use serde_json::{Map, Value};

use super::body::Body;
use super::error::{ApiError, ApiResult};
use super::objects::unknown_action;
use super::render;
use super::Gateway;
use crate::model::inventory_stats;
use crate::model::stats::{self, Measure, Stats};
use crate::model::{Id, Model};

/// Where one type's statistics come from.
struct Source {
    ty: &'static str,
    /// The one object of its type (the System): asked without ids, it answers its
    /// statistics unkeyed (PyPowerFlex `system.query_selected_statistics` sends only
    /// `properties`, and its tests expect `{property: value}`).
    singleton: bool,
    ids: fn(&Model) -> Vec<Id>,
    stats: fn(&Model, Id, Option<Measure>) -> Stats,
}

const SOURCES: &[Source] = &[
    Source {
        ty: "System",
        singleton: true,
        ids: |m| vec![m.system().id],
        stats: |m, _, measure| stats::system(m, measure),
    },
    Source {
        ty: "ProtectionDomain",
        singleton: false,
        ids: |m| m.domains().map(|d| d.id).collect(),
        stats: stats::domain,
    },
    Source {
        ty: "StoragePool",
        singleton: false,
        ids: |m| m.pools().map(|p| p.id).collect(),
        stats: |m, id, measure| m.pool(id).map(|p| stats::pool(m, p, measure)).unwrap_or_default(),
    },
    Source { ty: "Volume", singleton: false, ids: |m| m.volumes().map(|v| v.id).collect(), stats: stats::volume },
    Source { ty: "VTree", singleton: false, ids: |m| m.vtrees().map(|t| t.id).collect(), stats: stats::vtree },
    Source {
        ty: "Sdc",
        singleton: false,
        ids: |m| m.hosts().map(|h| h.id).collect(),
        stats: |m, id, _| stats::host(m, id),
    },
    Source {
        ty: "Host",
        singleton: false,
        ids: |m| m.hosts().filter(|h| h.nqn().is_some()).map(|h| h.id).collect(),
        stats: |m, id, _| stats::host(m, id),
    },
    Source {
        ty: "Sdt",
        singleton: false,
        ids: |m| m.sdts().map(|s| s.id).collect(),
        stats: |m, id, _| stats::sdt(m, id),
    },
    Source {
        ty: "Sds",
        singleton: false,
        ids: |m| m.sdss().map(|s| s.id).collect(),
        stats: |m, id, _| inventory_stats::sds(m, id),
    },
    Source {
        ty: "Device",
        singleton: false,
        ids: |m| m.devices().map(|d| d.id).collect(),
        stats: |m, id, _| inventory_stats::device(m, id),
    },
    Source {
        ty: "FaultSet",
        singleton: false,
        ids: |m| m.fault_sets().map(|f| f.id).collect(),
        stats: |m, id, _| inventory_stats::fault_set(m, id),
    },
    Source {
        ty: "SnapshotPolicy",
        singleton: false,
        ids: |m| m.policies().map(|p| p.id).collect(),
        stats: |m, id, _| stats::snapshot_policy(m, id),
    },
];

fn source(ty: &str) -> Option<&'static Source> {
    SOURCES.iter().find(|s| s.ty == ty)
}

/// One object's statistics as JSON. The caller has checked that the object exists.
pub fn of(gw: &Gateway, model: &Model, ty: &str, id: Id) -> Option<Value> {
    let source = source(ty)?;
    let plane = gw.plane();
    let allocated = |volume: Id| plane.allocated_kb(volume.into());
    let measure: Option<Measure> = if plane.holds_bytes() { Some(&allocated) } else { None };
    Some(render::stats(&(source.stats)(model, id, measure)))
}

/// `POST /api/types/{Type}/instances/action/querySelectedStatistics`
/// `{"ids": [...] | "allIds": "", "properties": [...]}` → `{id: {property: value}}`.
/// A property the type does not have fails the whole call, as on real systems (cinder probes
/// `thinCapacityAllocatedInKb` this way).
pub fn query_selected(
    gw: &Gateway,
    ty: &str,
    body: &Body,
    exists: impl Fn(&Model, Id) -> ApiResult<()>,
) -> ApiResult<Value> {
    let source = source(ty).ok_or_else(|| unknown_action(ty, "querySelectedStatistics"))?;
    let properties = body.strings("properties")?.unwrap_or_default();
    let model = gw.read();
    let select = |id: Id| -> ApiResult<Value> {
        exists(&model, id)?;
        let all = of(gw, &model, ty, id).unwrap_or_default();
        let mut selected = Map::new();
        for p in &properties {
            let value = all.get(p).cloned().ok_or_else(|| {
                ApiError::bad_request(format!("Request failed: unknown statistics property {p:?} for {ty}"))
            })?;
            selected.insert(p.clone(), value);
        }
        Ok(Value::Object(selected))
    };
    let ids: Vec<Id> = match body.ids("ids", ty)? {
        Some(ids) => ids,
        None if body.has("allIds") => (source.ids)(&model),
        None if source.singleton => return (source.ids)(&model).into_iter().next().map_or(Ok(Value::Null), select),
        None => return Err(ApiError::bad_request("Missing required parameter: ids or allIds")),
    };
    let mut out = Map::new();
    for id in ids {
        out.insert(id.to_string(), select(id)?);
    }
    Ok(Value::Object(out))
}
