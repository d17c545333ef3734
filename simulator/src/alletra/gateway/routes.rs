//! The routing table and the handlers: each parses its request into a model command or query
//! and renders the answer (reference §0.4 for the statuses and Location headers).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query as Params, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};

use super::error::{json_response, WsapiError, WsapiResult};
use super::query::Query;
use super::{render, Array};
use crate::alletra::model::*;
use crate::dataplane::alletra::key;

type Shared = State<Arc<Array>>;
type Answer = WsapiResult<Response>;

/// The session header; header names match without case, as python-3parclient needs.
pub(super) const SESSION_HEADER: &str = "x-hp3par-wsapi-sessionkey";
/// The largest request body accepted.
pub(super) const BODY_LIMIT: usize = 1024 * 1024;

pub fn router(array: Arc<Array>) -> Router {
    let api = Router::new()
        .route("/system", get(system))
        .route("/wsapiconfiguration", get(wsapi_configuration))
        .route("/capacity", get(capacity))
        .route("/cpgs", get(cpgs).post(create_cpg))
        .route("/cpgs/{name}", get(cpg).put(change_cpg).delete(delete_cpg))
        .route("/cpgs/{name}/availablespace", post(cpg_available_space))
        .route("/spacereporter", post(space_reporter))
        .route("/volumes", get(volumes).post(create_volume))
        .route("/volumes/{name}", get(volume).put(change_volume).post(copy_volume).delete(delete_volume))
        .route("/volumes/{name}/objectKeyValues", get(volume_keys).post(add_volume_key))
        .route("/volumes/{name}/objectKeyValues/{key}", get(volume_key).put(set_volume_key).delete(remove_volume_key))
        .route("/tasks", get(tasks))
        .route("/tasks/{id}", get(task).put(cancel_task))
        .route("/volumesets", get(volume_sets).post(create_volume_set))
        .route(
            "/volumesets/{name}",
            get(volume_set).put(change_volume_set).post(snapshot_volume_set).delete(delete_volume_set),
        )
        .route("/hostsets", get(host_sets).post(create_host_set))
        .route("/hostsets/{name}", get(host_set).put(change_host_set).delete(delete_host_set))
        .route("/hosts", get(hosts).post(create_host))
        .route("/hosts/{name}", get(host).put(change_host).delete(delete_host))
        .route("/vluns", get(vluns).post(create_vlun))
        .route("/vluns/{id}", axum::routing::delete(delete_vlun))
        .route("/ports", get(ports))
        .route("/qos", get(qos_rules).post(create_qos))
        .route("/qos/{target}", get(qos_rule).put(change_qos).delete(delete_qos))
        .layer(middleware::from_fn_with_state(array.clone(), with_session));
    let sim = Router::new()
        .route("/info", get(sim_info))
        .route("/state", get(sim_state))
        .route("/reset", post(sim_reset))
        .route("/sessions/expire", post(sim_expire_sessions))
        .merge(crate::volume_data::routes::<Array>())
        .merge(crate::faults::routes::<Array>())
        .layer(middleware::from_fn_with_state(array.clone(), with_admin));
    Router::new()
        .route("/api", get(api_version))
        .route("/api/v1/credentials", post(login))
        .route("/api/v1/credentials/{key}", axum::routing::delete(logout))
        // Readiness needs no credentials, as on pflex-sim: CI waits on it before it knows any.
        .route("/sim/health", get(|| async { json_response(StatusCode::OK, json!({"status": "ok"}).to_string()) }))
        .nest("/api/v1", api)
        .nest("/sim", sim)
        .fallback(|| async { WsapiError::no_such_uri() })
        .method_not_allowed_fallback(|| async { WsapiError::unsupported() })
        // Inside the array's headers, so the door's own answers (413, injected faults) get them.
        .layer(middleware::from_fn_with_state(array.clone(), crate::front::door::<Array>))
        // The door has read the body whole, within its limit: the extractors need none of their own.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(middleware::map_response(array_headers))
        .with_state(array)
}

/// Every answer carries the array's caching headers (reference §0.3).
async fn array_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::SERVER, HeaderValue::from_static("hp3par-wsapi"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A live session key is needed; due tasks end before the request is answered.
async fn with_session(State(array): Shared, request: Request, next: Next) -> Response {
    let key = request.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok());
    if !key.is_some_and(|k| array.sessions.touch(k)) {
        return WsapiError::bad_session().into_response();
    }
    if let Err(e) = array.catch_up().await {
        return e.into_response();
    }
    next.run(request).await
}

/// The admin surface takes the array's credentials as HTTP Basic, or a live session key.
async fn with_admin(State(array): Shared, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let by_session = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|k| array.sessions.touch(k));
    let by_basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .is_some_and(|pair| {
            let c = &array.sessions.config;
            pair == format!("{}:{}", c.user, c.password)
        });
    if !(by_session || by_basic) {
        return WsapiError::bad_credentials().into_response();
    }
    next.run(request).await
}

// ---- Bodies -------------------------------------------------------------------------------

fn body(bytes: &Bytes) -> WsapiResult<Value> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(WsapiError::json_syntax()),
    }
}

fn opt_str(v: &Value, name: &'static str) -> WsapiResult<Option<String>> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(WsapiError::wrong_type(name)),
    }
}

fn req_str(v: &Value, name: &'static str) -> WsapiResult<String> {
    opt_str(v, name)?.ok_or_else(|| WsapiError::missing(name))
}

fn opt_bool(v: &Value, name: &'static str) -> WsapiResult<Option<bool>> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(WsapiError::wrong_type(name)),
    }
}

fn opt_int(v: &Value, name: &'static str) -> WsapiResult<Option<i64>> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| WsapiError::wrong_type(name)),
        Some(_) => Err(WsapiError::wrong_type(name)),
    }
}

fn opt_u32(v: &Value, name: &'static str) -> WsapiResult<Option<u32>> {
    opt_int(v, name)?
        .map(|n| u32::try_from(n).map_err(|_| WsapiError(Fault::exceeds_range().with_ref(name))))
        .transpose()
}

fn strings(v: &Value, name: &'static str) -> WsapiResult<Vec<String>> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            items.iter().map(|i| i.as_str().map(str::to_string).ok_or_else(|| WsapiError::wrong_type(name))).collect()
        }
        Some(_) => Err(WsapiError::wrong_type(name)),
    }
}

fn port_pos(v: &Value, name: &'static str) -> WsapiResult<Option<PortPos>> {
    let Some(p) = v.get(name) else { return Ok(None) };
    let part = |n: &'static str| -> WsapiResult<u8> {
        opt_int(p, n)?.and_then(|x| u8::try_from(x).ok()).ok_or_else(|| WsapiError::wrong_type(name))
    };
    Ok(Some(PortPos { node: part("node")?, slot: part("slot")?, card_port: part("cardPort")? }))
}

/// `tpvv`, `tdvv`, `reduce` and `compression` as one provisioning (none of them: full).
fn provisioning(v: &Value) -> WsapiResult<(Provisioning, bool)> {
    let reduce = opt_bool(v, "reduce")?.unwrap_or(false);
    let compression = opt_bool(v, "compression")?.unwrap_or(false) || reduce;
    let kind = if reduce || opt_bool(v, "tdvv")?.unwrap_or(false) {
        Provisioning::Dedup
    } else if opt_bool(v, "tpvv")?.unwrap_or(false) {
        Provisioning::Thin
    } else {
        Provisioning::Full
    };
    Ok((kind, compression))
}

fn task_priority(v: &Value) -> WsapiResult<Option<TaskPriority>> {
    Ok(match opt_int(v, "priority")? {
        None => None,
        Some(1) => Some(TaskPriority::High),
        Some(2) => Some(TaskPriority::Medium),
        Some(3) => Some(TaskPriority::Low),
        Some(_) => return Err(WsapiError(Fault::bad_enum_value().with_ref("priority"))),
    })
}

// ---- Answers ------------------------------------------------------------------------------

fn ok(value: Value) -> Answer {
    Ok(json_response(StatusCode::OK, value.to_string()))
}

fn empty(status: StatusCode, location: Option<String>) -> Answer {
    let mut response = status.into_response();
    if let Some(location) = location {
        let value = HeaderValue::from_str(&location).map_err(|e| WsapiError::internal(e.to_string()))?;
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

fn with_location(mut response: Response, location: String) -> Answer {
    let value = HeaderValue::from_str(&location).map_err(|e| WsapiError::internal(e.to_string()))?;
    response.headers_mut().insert(header::LOCATION, value);
    Ok(response)
}

/// A list, filtered by `?query=` when given.
fn listed(params: &HashMap<String, String>, members: Vec<Value>) -> Answer {
    selected(query_of(params)?.as_ref(), members.into_iter())
}

/// The `query=` parameter, parsed, if there is one.
fn query_of(params: &HashMap<String, String>) -> WsapiResult<Option<Query>> {
    params.get("query").map(|q| Query::parse(q)).transpose()
}

/// The collection of the rendered `members` that `query` matches (all without one).
fn selected(query: Option<&Query>, members: impl Iterator<Item = Value>) -> Answer {
    let members = match query {
        Some(q) => members.filter(|m| q.matches(m)).collect(),
        None => members.collect(),
    };
    ok(render::collection(members))
}

fn task_reply(reply: Reply) -> WsapiResult<u32> {
    match reply {
        Reply::Task(id) => Ok(id),
        other => Err(WsapiError::internal(format!("expected a task, the model answered {other:?}"))),
    }
}

// ---- Sessions, version, system -------------------------------------------------------------

async fn api_version(State(array): Shared) -> Answer {
    ok(render::version(array.read().system()))
}

async fn login(State(array): Shared, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    let (user, password) = (req_str(&v, "user")?, req_str(&v, "password")?);
    let key = array.sessions.login(&user, &password).ok_or_else(WsapiError::bad_credentials)?;
    with_location(
        json_response(StatusCode::CREATED, json!({ "key": key }).to_string()),
        format!("/api/v1/credentials/{key}"),
    )
}

async fn logout(State(array): Shared, Path(key): Path<String>) -> Answer {
    if !array.sessions.logout(&key) {
        return Err(WsapiError::bad_session());
    }
    empty(StatusCode::OK, None)
}

async fn system(State(array): Shared) -> Answer {
    ok(render::system(&array.read()))
}

async fn wsapi_configuration(State(array): Shared) -> Answer {
    let w = array.read().system().wsapi;
    ok(json!({
        "httpState": "Disabled",
        "httpsState": "Enabled",
        "httpsPort": 443,
        "version": format!("{}.{}.{}", w.major, w.minor, w.revision),
        "sessionsInUse": array.sessions.count(),
        "systemResourceUsage": 144,
    }))
}

async fn capacity(State(array): Shared) -> Answer {
    ok(render::capacity(&array.read()))
}

// ---- CPGs ---------------------------------------------------------------------------------

fn find_cpg<'a>(model: &'a Model, name: &str) -> WsapiResult<&'a Cpg> {
    model.cpg_by_name(name).ok_or_else(|| Fault::non_existent_cpg().into())
}

async fn cpgs(State(array): Shared, Params(p): Params<HashMap<String, String>>) -> Answer {
    let model = array.read();
    listed(&p, model.cpgs().map(|c| render::cpg(&model, c)).collect())
}

async fn cpg(State(array): Shared, Path(name): Path<String>) -> Answer {
    let model = array.read();
    ok(render::cpg(&model, find_cpg(&model, &name)?))
}

/// A MiB figure: a negative one is out of range.
fn opt_mib(v: &Value, name: &'static str) -> WsapiResult<Option<u64>> {
    opt_int(v, name)?
        .map(|n| u64::try_from(n).map_err(|_| WsapiError(Fault::exceeds_range().with_ref(name))))
        .transpose()
}

fn opt_enum(v: &Value, name: &'static str) -> WsapiResult<Option<u8>> {
    opt_int(v, name)?
        .map(|n| u8::try_from(n).map_err(|_| WsapiError(Fault::bad_enum_value().with_ref(name))))
        .transpose()
}

/// `LDLayout{RAIDType, setSize, HA, diskPatterns[{diskType}]}`; the model checks the ranges.
fn ld_layout(v: &Value) -> WsapiResult<Option<LdLayout>> {
    let Some(l) = v.get("LDLayout") else { return Ok(None) };
    if !l.is_object() {
        return Err(WsapiError::wrong_type("LDLayout"));
    }
    let disk_types = match l.get("diskPatterns") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(patterns)) => {
            patterns.iter().filter_map(|p| opt_enum(p, "diskType").transpose()).collect::<WsapiResult<Vec<u8>>>()?
        }
        Some(_) => return Err(WsapiError::wrong_type("diskPatterns")),
    };
    Ok(Some(LdLayout {
        raid_type: opt_enum(l, "RAIDType")?,
        set_size: opt_u32(l, "setSize")?,
        ha: opt_enum(l, "HA")?,
        disk_types,
    }))
}

async fn create_cpg(State(array): Shared, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    let new = NewCpg {
        name: req_str(&v, "name")?,
        domain: opt_str(&v, "domain")?,
        growth: CpgGrowth {
            increment_mib: opt_mib(&v, "growthIncrementMiB")?,
            limit_mib: opt_mib(&v, "growthLimitMiB")?,
            warning_mib: opt_mib(&v, "usedLDWarningAlertMiB")?,
            layout: ld_layout(&v)?.unwrap_or_default(),
        },
    };
    let name = new.name.clone();
    array.execute(Command::CreateCpg(new)).await?;
    empty(StatusCode::CREATED, Some(format!("/api/v1/cpgs/{name}")))
}

async fn change_cpg(State(array): Shared, Path(name): Path<String>, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    let change = CpgChange {
        new_name: opt_str(&v, "newName")?,
        increment_mib: opt_mib(&v, "growthIncrementMiB")?,
        limit_mib: opt_mib(&v, "growthLimitMiB")?,
        warning_mib: opt_mib(&v, "usedLDWarningAlertMiB")?,
        layout: ld_layout(&v)?,
        disable_auto_grow: opt_bool(&v, "disableAutoGrow")?.unwrap_or(false),
        rm_growth_limit: opt_bool(&v, "rmGrowthLimit")?.unwrap_or(false),
        rm_warning_alert: opt_bool(&v, "rmWarningAlert")?.unwrap_or(false),
    };
    array.execute(Command::ModifyCpg { name, change }).await?;
    empty(StatusCode::OK, None)
}

async fn delete_cpg(State(array): Shared, Path(name): Path<String>) -> Answer {
    array.execute(Command::DeleteCpg { name }).await?;
    empty(StatusCode::OK, None)
}

async fn cpg_available_space(State(array): Shared, Path(name): Path<String>) -> Answer {
    let model = array.read();
    ok(render::available_space(&model, find_cpg(&model, &name)?))
}

async fn space_reporter(State(array): Shared, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    let name = req_str(&v, "cpg")?;
    let model = array.read();
    ok(render::space_report(&model, find_cpg(&model, &name)?))
}

// ---- Volumes ------------------------------------------------------------------------------

fn find_volume<'a>(model: &'a Model, name: &str) -> WsapiResult<&'a Volume> {
    model.volume_by_name(name).ok_or_else(|| Fault::non_existent_vol().into())
}

async fn volumes(State(array): Shared, Params(p): Params<HashMap<String, String>>) -> Answer {
    let model = array.read();
    let query = query_of(&p)?;
    // LXD lists a volume's snapshots with `copyOf EQ <name>`: the snapshot tree's index answers
    // that without rendering every volume (the query still decides, on the candidates). A
    // parent the index does not know by that exact name falls back to the whole list.
    let parents = query
        .as_ref()
        .and_then(|q| q.values_of("copyOf"))
        .and_then(|names| names.iter().map(|n| model.volume_by_name(n).map(|v| v.id)).collect::<Option<Vec<u32>>>());
    let candidates: Vec<&Volume> = match parents {
        Some(ids) => {
            let mut children: Vec<&Volume> = ids.into_iter().flat_map(|id| model.children(id)).collect();
            children.sort_by_key(|v| v.id);
            children.dedup_by_key(|v| v.id);
            children
        }
        None => model.volumes().collect(),
    };
    selected(query.as_ref(), candidates.into_iter().map(|v| render::volume(&model, v)))
}

async fn volume(State(array): Shared, Path(name): Path<String>) -> Answer {
    let model = array.read();
    ok(render::volume(&model, find_volume(&model, &name)?))
}

async fn create_volume(State(array): Shared, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    let (provisioning, compression) = provisioning(&v)?;
    let size_mib = opt_int(&v, "sizeMiB")?.ok_or_else(|| WsapiError::missing("sizeMiB"))?;
    let new = NewVolume {
        name: req_str(&v, "name")?,
        cpg: req_str(&v, "cpg")?,
        size_mib: u64::try_from(size_mib).map_err(|_| WsapiError(Fault::below_range().with_ref("sizeMiB")))?,
        provisioning,
        compression,
        snap_cpg: opt_str(&v, "snapCPG")?,
        comment: opt_str(&v, "comment")?,
        id: opt_u32(&v, "id")?,
        expiration_hours: opt_u32(&v, "expirationHours")?,
        retention_hours: opt_u32(&v, "retentionHours")?,
    };
    let name = new.name.clone();
    array.execute(Command::CreateVolume(new)).await?;
    empty(StatusCode::CREATED, Some(format!("/api/v1/volumes/{name}")))
}

/// MiB a copy of `volume` moves: what the data plane holds, else the whole size.
fn data_mib(array: &Array, volume: &Volume) -> u64 {
    array.plane().allocated_bytes(key(volume.id)).map_or(volume.size_mib, |b| b.div_ceil(1 << 20))
}

/// Action 6's members: `tuneOperation` 1 needs `userCPG`, 2 `snapCPG`.
fn volume_tune(v: &Value) -> WsapiResult<VolumeTune> {
    let cpg = match opt_int(v, "tuneOperation")? {
        None => return Err(WsapiError::missing("tuneOperation")),
        Some(1) => TuneCpg::User(req_str(v, "userCPG")?),
        Some(2) => TuneCpg::Snap(req_str(v, "snapCPG")?),
        Some(_) => return Err(WsapiError(Fault::bad_enum_value().with_ref("tuneOperation"))),
    };
    let conversion = match opt_int(v, "conversionOperation")? {
        None => None,
        Some(1) => Some(Conversion::Thin),
        Some(2) => Some(Conversion::Full),
        Some(3) => Some(Conversion::Dedup),
        Some(4) => Some(Conversion::Deco),
        Some(_) => return Err(WsapiError(Fault::bad_enum_value().with_ref("conversionOperation"))),
    };
    Ok(VolumeTune { cpg, conversion, compression: opt_bool(v, "compression")?, keep_vv: opt_str(v, "keepVV")? })
}

/// `PUT /volumes/<name>`: grow (action 3), promote (4), stop promote (5), tune (6), or modify.
async fn change_volume(State(array): Shared, Path(name): Path<String>, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    match opt_int(&v, "action")? {
        Some(3) => {
            let delta_mib = opt_int(&v, "sizeMiB")?.ok_or_else(|| WsapiError::missing("sizeMiB"))?;
            array.execute(Command::GrowVolume { name: name.clone(), delta_mib }).await?;
            empty(StatusCode::OK, Some(format!("/api/v1/volumes/{name}")))
        }
        Some(4) => {
            let data = {
                let model = array.read();
                let snap = find_volume(&model, &name)?;
                data_mib(&array, snap)
            };
            let command = Command::PromoteVirtualCopy {
                snapshot: name.clone(),
                online: opt_bool(&v, "online")?.unwrap_or(false),
                priority: task_priority(&v)?,
                data_mib: data,
            };
            let task = task_reply(array.execute(command).await?)?;
            ok(json!({ "taskid": task, "links": [{ "href": format!("/api/v1/tasks/{task}"), "rel": "self" }] }))
        }
        Some(5) => {
            array.execute(Command::StopPromoteVirtualCopy { snapshot: name }).await?;
            empty(StatusCode::OK, None)
        }
        Some(6) => {
            let tune = volume_tune(&v)?;
            let data = {
                let model = array.read();
                data_mib(&array, find_volume(&model, &name)?)
            };
            let task = task_reply(array.execute(Command::TuneVolume { name, tune, data_mib: data }).await?)?;
            ok(json!({ "taskid": task }))
        }
        Some(_) => Err(WsapiError(Fault::bad_enum_value().with_ref("action"))),
        None => {
            let change = VolumeChange {
                new_name: opt_str(&v, "newName")?,
                comment: opt_str(&v, "comment")?,
                snap_cpg: opt_str(&v, "snapCPG")?,
                expiration_hours: opt_u32(&v, "expirationHours")?,
                retention_hours: opt_u32(&v, "retentionHours")?,
            };
            let now_named = change.new_name.clone().unwrap_or_else(|| name.clone());
            array.execute(Command::ModifyVolume { name, change }).await?;
            empty(StatusCode::OK, Some(format!("/api/v1/volumes/{now_named}")))
        }
    }
}

/// `POST /volumes/<name>`: `createSnapshot` or `createPhysicalCopy`.
/// The `parameters` of a `createSnapshot` action, on a volume or a volume set.
fn new_snapshot(p: &Value) -> WsapiResult<NewSnapshot> {
    Ok(NewSnapshot {
        name: req_str(p, "name")?,
        read_only: opt_bool(p, "readOnly")?.unwrap_or(false),
        comment: opt_str(p, "comment")?,
        expiration_hours: opt_u32(p, "expirationHours")?,
        retention_hours: opt_u32(p, "retentionHours")?,
    })
}

async fn copy_volume(State(array): Shared, Path(name): Path<String>, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    let action = req_str(&v, "action")?;
    let none = json!({});
    let p = v.get("parameters").unwrap_or(&none);
    match action.as_str() {
        "createSnapshot" => {
            let snapshot = new_snapshot(p)?;
            let location = format!("/api/v1/volumes/{}", snapshot.name);
            array.execute(Command::CreateSnapshot { parent: name, snapshot }).await?;
            empty(StatusCode::OK, Some(location))
        }
        "createPhysicalCopy" => {
            let destination = req_str(p, "destVolume")?;
            let mode = if opt_bool(p, "online")?.unwrap_or(false) {
                let (provisioning, compression) = provisioning(p)?;
                CopyMode::Online {
                    cpg: req_str(p, "destCPG")?,
                    provisioning,
                    compression,
                    snap_cpg: opt_str(p, "snapCPG")?,
                }
            } else {
                CopyMode::Offline { priority: task_priority(p)? }
            };
            let data = {
                let model = array.read();
                data_mib(&array, find_volume(&model, &name)?)
            };
            let location = format!("/api/v1/volumes/{destination}");
            let command = Command::CopyVolume { source: name, destination, mode, data_mib: data };
            let task = task_reply(array.execute(command).await?)?;
            with_location(json_response(StatusCode::OK, json!({ "taskid": task }).to_string()), location)
        }
        _ => Err(WsapiError(Fault::bad_enum_value().with_ref("action"))),
    }
}

async fn delete_volume(
    State(array): Shared,
    Path(name): Path<String>,
    Params(p): Params<HashMap<String, String>>,
) -> Answer {
    let cascade = p.get("cascade").is_some_and(|c| c.eq_ignore_ascii_case("true"));
    array.execute(Command::DeleteVolume { name, cascade }).await?;
    empty(StatusCode::OK, None)
}

// ---- Volume metadata (objectKeyValues) ------------------------------------------------------

async fn volume_keys(State(array): Shared, Path(name): Path<String>) -> Answer {
    let model = array.read();
    let v = find_volume(&model, &name)?;
    ok(render::collection(v.metadata.iter().map(|(k, kv)| render::key_value(k, kv)).collect()))
}

async fn volume_key(State(array): Shared, Path((name, key)): Path<(String, String)>) -> Answer {
    let model = array.read();
    let v = find_volume(&model, &name)?;
    ok(render::key_value(&key, model.find_volume_key(v, &key)?))
}

async fn add_volume_key(State(array): Shared, Path(volume): Path<String>, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    let (key, value) = (req_str(&v, "key")?, req_str(&v, "value")?);
    let location = format!("/api/v1/volumes/{volume}/objectKeyValues/{key}");
    array.execute(Command::AddVolumeKey { volume, key, value }).await?;
    empty(StatusCode::CREATED, Some(location))
}

async fn set_volume_key(State(array): Shared, Path((volume, key)): Path<(String, String)>, bytes: Bytes) -> Answer {
    let value = req_str(&body(&bytes)?, "value")?;
    array.execute(Command::SetVolumeKey { volume, key, value }).await?;
    empty(StatusCode::OK, None)
}

async fn remove_volume_key(State(array): Shared, Path((volume, key)): Path<(String, String)>) -> Answer {
    array.execute(Command::RemoveVolumeKey { volume, key }).await?;
    empty(StatusCode::OK, None)
}

// ---- Tasks --------------------------------------------------------------------------------

async fn tasks(State(array): Shared, Params(p): Params<HashMap<String, String>>) -> Answer {
    let now = array.now();
    listed(&p, array.read().tasks().map(|t| render::task(t, now)).collect())
}

async fn task(State(array): Shared, Path(id): Path<String>) -> Answer {
    let id: i64 = id.parse().map_err(|_| WsapiError(Fault::non_existent_task()))?;
    let now = array.now();
    let model = array.read();
    ok(render::task(model.find_task(id)?, now))
}

async fn cancel_task(State(array): Shared, Path(id): Path<String>, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    if opt_int(&v, "action")? != Some(1) {
        return Err(WsapiError(Fault::bad_enum_value().with_ref("action")));
    }
    let task: i64 = id.parse().map_err(|_| WsapiError(Fault::non_existent_task()))?;
    array.execute(Command::CancelTask { task }).await?;
    empty(StatusCode::OK, None)
}

// ---- Volume sets and host sets ------------------------------------------------------------

fn set_path(kind: SetKind) -> &'static str {
    match kind {
        SetKind::Volume => "volumesets",
        SetKind::Host => "hostsets",
    }
}

fn list_sets(array: &Array, kind: SetKind, p: &HashMap<String, String>) -> Answer {
    let model = array.read();
    listed(p, model.set_list(kind).map(|s| render::set(&model, kind, s)).collect())
}

fn get_set(array: &Array, kind: SetKind, name: &str) -> Answer {
    let model = array.read();
    let set = model.set_by_name(kind, name).ok_or_else(|| WsapiError(Fault::non_existent_set()))?;
    ok(render::set(&model, kind, set))
}

async fn create_set(array: &Arc<Array>, kind: SetKind, bytes: &Bytes) -> Answer {
    let v = body(bytes)?;
    let name = req_str(&v, "name")?;
    let command = Command::CreateSet {
        kind,
        name: name.clone(),
        comment: opt_str(&v, "comment")?,
        members: strings(&v, "setmembers")?,
    };
    array.execute(command).await?;
    empty(StatusCode::CREATED, Some(format!("/api/v1/{}/{name}", set_path(kind))))
}

async fn change_set(array: &Arc<Array>, kind: SetKind, name: String, bytes: &Bytes) -> Answer {
    let v = body(bytes)?;
    let members = match opt_int(&v, "action")? {
        None => None,
        Some(1) => Some((MemberOp::Add, strings(&v, "setmembers")?)),
        Some(2) => Some((MemberOp::Remove, strings(&v, "setmembers")?)),
        Some(_) => return Err(WsapiError(Fault::bad_enum_value().with_ref("action"))),
    };
    let change = SetChange { new_name: opt_str(&v, "newName")?, comment: opt_str(&v, "comment")?, members };
    let now_named = change.new_name.clone().unwrap_or_else(|| name.clone());
    array.execute(Command::ModifySet { kind, name, change }).await?;
    empty(StatusCode::OK, Some(format!("/api/v1/{}/{now_named}", set_path(kind))))
}

async fn delete_set(array: &Arc<Array>, kind: SetKind, name: String) -> Answer {
    array.execute(Command::DeleteSet { kind, name }).await?;
    empty(StatusCode::OK, None)
}

async fn volume_sets(State(a): Shared, Params(p): Params<HashMap<String, String>>) -> Answer {
    list_sets(&a, SetKind::Volume, &p)
}
async fn volume_set(State(a): Shared, Path(name): Path<String>) -> Answer {
    get_set(&a, SetKind::Volume, &name)
}
async fn create_volume_set(State(a): Shared, bytes: Bytes) -> Answer {
    create_set(&a, SetKind::Volume, &bytes).await
}
async fn change_volume_set(State(a): Shared, Path(name): Path<String>, bytes: Bytes) -> Answer {
    change_set(&a, SetKind::Volume, name, &bytes).await
}
/// `POST /volumesets/<name>`: only `createSnapshot` (Cinder's group snapshots); 201 with the
/// set's Location (reference §0.4).
async fn snapshot_volume_set(State(array): Shared, Path(name): Path<String>, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    match req_str(&v, "action")?.as_str() {
        "createSnapshot" => {
            let snapshot = new_snapshot(v.get("parameters").unwrap_or(&json!({})))?;
            let location = format!("/api/v1/volumesets/{name}");
            array.execute(Command::CreateSetSnapshot { set: name, snapshot }).await?;
            empty(StatusCode::CREATED, Some(location))
        }
        _ => Err(WsapiError(Fault::bad_enum_value().with_ref("action"))),
    }
}
async fn delete_volume_set(State(a): Shared, Path(name): Path<String>) -> Answer {
    delete_set(&a, SetKind::Volume, name).await
}
async fn host_sets(State(a): Shared, Params(p): Params<HashMap<String, String>>) -> Answer {
    list_sets(&a, SetKind::Host, &p)
}
async fn host_set(State(a): Shared, Path(name): Path<String>) -> Answer {
    get_set(&a, SetKind::Host, &name)
}
async fn create_host_set(State(a): Shared, bytes: Bytes) -> Answer {
    create_set(&a, SetKind::Host, &bytes).await
}
async fn change_host_set(State(a): Shared, Path(name): Path<String>, bytes: Bytes) -> Answer {
    change_set(&a, SetKind::Host, name, &bytes).await
}
async fn delete_host_set(State(a): Shared, Path(name): Path<String>) -> Answer {
    delete_set(&a, SetKind::Host, name).await
}

// ---- Hosts --------------------------------------------------------------------------------

fn descriptors(v: &Value) -> WsapiResult<Option<Descriptors>> {
    let Some(d) = v.get("descriptors") else { return Ok(None) };
    Ok(Some(Descriptors {
        location: opt_str(d, "location")?,
        ip_addr: opt_str(d, "IPAddr")?,
        os: opt_str(d, "os")?,
        model: opt_str(d, "model")?,
        contact: opt_str(d, "contact")?,
        comment: opt_str(d, "comment")?,
    }))
}

async fn hosts(State(array): Shared, Params(p): Params<HashMap<String, String>>) -> Answer {
    let model = array.read();
    listed(&p, model.hosts().map(|h| render::host(&model, h)).collect())
}

async fn host(State(array): Shared, Path(name): Path<String>) -> Answer {
    let model = array.read();
    let host = model.host_by_name(&name).ok_or_else(|| WsapiError(Fault::non_existent_host()))?;
    ok(render::host(&model, host))
}

async fn create_host(State(array): Shared, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    let persona = opt_int(&v, "persona")?
        .map(|p| u8::try_from(p).map_err(|_| WsapiError(Fault::bad_enum_value().with_ref("persona"))));
    let new = NewHost {
        name: req_str(&v, "name")?,
        persona: persona.transpose()?,
        iscsi_names: strings(&v, "iSCSINames")?,
        // python-3parclient sends `FCWWNs`; the guide spells it `FCWwns`.
        fc_wwns: if v.get("FCWWNs").is_some() { strings(&v, "FCWWNs")? } else { strings(&v, "FCWwns")? },
        nqn: opt_str(&v, "NQN")?,
        descriptors: descriptors(&v)?.unwrap_or_default(),
    };
    let name = new.name.clone();
    array.execute(Command::CreateHost(new)).await?;
    empty(StatusCode::CREATED, Some(format!("/api/v1/hosts/{name}")))
}

async fn change_host(State(array): Shared, Path(name): Path<String>, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    let paths = match opt_int(&v, "pathOperation")? {
        None => None,
        Some(op @ (1 | 2)) => Some(PathChange {
            op: if op == 1 { MemberOp::Add } else { MemberOp::Remove },
            iscsi_names: strings(&v, "iSCSINames")?,
            fc_wwns: strings(&v, "FCWWNs")?,
            force: opt_bool(&v, "forcePathRemoval")?.unwrap_or(false),
        }),
        Some(_) => return Err(WsapiError(Fault::bad_enum_value().with_ref("pathOperation"))),
    };
    let persona = opt_int(&v, "persona")?
        .map(|p| u8::try_from(p).map_err(|_| WsapiError(Fault::bad_enum_value().with_ref("persona"))));
    let change = HostChange {
        new_name: opt_str(&v, "newName")?,
        persona: persona.transpose()?,
        descriptors: descriptors(&v)?,
        paths,
    };
    let now_named = change.new_name.clone().unwrap_or_else(|| name.clone());
    array.execute(Command::ModifyHost { name, change }).await?;
    let model = array.read();
    let host = model.host_by_name(&now_named).ok_or_else(|| WsapiError(Fault::non_existent_host()))?;
    ok(render::host(&model, host))
}

async fn delete_host(State(array): Shared, Path(name): Path<String>) -> Answer {
    array.execute(Command::DeleteHost { name }).await?;
    empty(StatusCode::OK, None)
}

// ---- VLUNs and ports ----------------------------------------------------------------------

async fn vluns(State(array): Shared, Params(p): Params<HashMap<String, String>>) -> Answer {
    let model = array.read();
    listed(&p, model.vluns().map(|t| render::vlun(&model, t)).collect())
}

async fn create_vlun(State(array): Shared, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    let to = opt_str(&v, "hostname")?.map(|h| match h.strip_prefix("set:") {
        Some(set) => ExportTo::HostSet(set.to_string()),
        None => ExportTo::Host(h),
    });
    let new = NewVlun {
        volume: req_str(&v, "volumeName")?,
        lun: opt_u32(&v, "lun")?.unwrap_or(0),
        auto_lun: opt_bool(&v, "autoLun")?.unwrap_or(false),
        max_auto_lun: opt_u32(&v, "maxAutoLun")?.unwrap_or(0),
        to,
        port: port_pos(&v, "portPos")?,
    };
    let volume = new.volume.clone();
    let lun = match array.execute(Command::CreateVlun(new)).await? {
        Reply::Vlun { lun } => lun,
        other => return Err(WsapiError::internal(format!("expected a VLUN, the model answered {other:?}"))),
    };
    let location = {
        let model = array.read();
        let made = model.volume_by_name(&volume).and_then(|v| model.volume_vluns(v.id).find(|t| t.lun == lun));
        made.map(|t| render::vlun_location(&model, t)).ok_or_else(|| WsapiError(Fault::non_existent_vlun()))?
    };
    empty(StatusCode::CREATED, Some(location))
}

/// `DELETE /vluns/<vol>,<lun>,<host>[,<n:s:p>]`.
async fn delete_vlun(State(array): Shared, Path(id): Path<String>) -> Answer {
    let parts: Vec<&str> = id.split(',').collect();
    let (volume, lun) = match parts.as_slice() {
        [volume, lun, ..] => {
            (volume.to_string(), lun.parse::<u32>().map_err(|_| WsapiError(Fault::non_existent_vlun()))?)
        }
        _ => return Err(WsapiError(Fault::non_existent_vlun())),
    };
    let host = parts.get(2).filter(|h| !h.is_empty()).map(|h| h.to_string());
    let port = match parts.get(3) {
        None => None,
        Some(pos) => {
            let n: Vec<u8> = pos.split(':').filter_map(|x| x.parse().ok()).collect();
            match n.as_slice() {
                [node, slot, card_port] => Some(PortPos { node: *node, slot: *slot, card_port: *card_port }),
                _ => return Err(WsapiError(Fault::non_existent_port())),
            }
        }
    };
    array.execute(Command::DeleteVlun { volume, lun, host, port }).await?;
    empty(StatusCode::OK, None)
}

async fn ports(State(array): Shared, Params(p): Params<HashMap<String, String>>) -> Answer {
    listed(&p, array.read().ports().map(render::port).collect())
}

// ---- QoS ----------------------------------------------------------------------------------

fn limit(v: &Value, name: &'static str) -> WsapiResult<Option<Option<u64>>> {
    Ok(opt_int(v, name)?.map(|n| u64::try_from(n).ok().filter(|n| *n > 0)))
}

fn qos_settings(v: &Value) -> WsapiResult<QosSettings> {
    let priority = match opt_int(v, "priority")? {
        None => None,
        Some(1) => Some(QosPriority::Low),
        Some(2) => Some(QosPriority::Normal),
        Some(3) => Some(QosPriority::High),
        Some(_) => return Err(WsapiError(Fault::bad_enum_value().with_ref("priority"))),
    };
    Ok(QosSettings {
        enabled: opt_bool(v, "enable")?,
        priority,
        bw_min_goal_kb: limit(v, "bwMinGoalKB")?,
        bw_max_limit_kb: limit(v, "bwMaxLimitKB")?,
        io_min_goal: limit(v, "ioMinGoal")?,
        io_max_limit: limit(v, "ioMaxLimit")?,
        latency_goal_usecs: limit(v, "latencyGoaluSecs")?,
    })
}

/// `vvset:<name>` in QoS URLs.
fn qos_target(target: &str) -> WsapiResult<String> {
    target.strip_prefix("vvset:").map(str::to_string).ok_or_else(|| WsapiError(Fault::qos_target_object()))
}

async fn qos_rules(State(array): Shared, Params(p): Params<HashMap<String, String>>) -> Answer {
    let model = array.read();
    listed(&p, model.qos_rules().map(|q| render::qos(&model, q)).collect())
}

async fn qos_rule(State(array): Shared, Path(target): Path<String>) -> Answer {
    let set = qos_target(&target)?;
    let model = array.read();
    let rule = model
        .set_by_name(SetKind::Volume, &set)
        .and_then(|s| model.qos_of_set(s.id))
        .ok_or_else(|| WsapiError(Fault::non_existent_qos_rule()))?;
    ok(render::qos(&model, rule))
}

async fn create_qos(State(array): Shared, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    let set = req_str(&v, "name")?;
    array.execute(Command::CreateQos { set: set.clone(), settings: qos_settings(&v)? }).await?;
    empty(StatusCode::CREATED, Some(format!("/api/v1/qos/vvset:{set}")))
}

async fn change_qos(State(array): Shared, Path(target): Path<String>, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    array.execute(Command::ModifyQos { set: qos_target(&target)?, settings: qos_settings(&v)? }).await?;
    empty(StatusCode::OK, None)
}

async fn delete_qos(State(array): Shared, Path(target): Path<String>) -> Answer {
    array.execute(Command::DeleteQos { set: qos_target(&target)? }).await?;
    empty(StatusCode::OK, None)
}

// ---- /sim/ --------------------------------------------------------------------------------

async fn sim_info(State(array): Shared) -> Answer {
    let model = array.read();
    ok(json!({
        "array": "alletra",
        "system": model.system().name,
        "seed": model.seed(),
        "dataPlane": array.plane().kind().to_string(),
        "sessions": array.sessions.count(),
        "volumes": model.volume_count(),
    }))
}

async fn sim_state(State(array): Shared) -> Answer {
    let model = array.read();
    let value = serde_json::to_value(&*model).map_err(|e| WsapiError::internal(e.to_string()))?;
    ok(value)
}

async fn sim_reset(State(array): Shared, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    let seed = opt_int(&v, "seed")?.map(|s| s as u64);
    let seed = array.reset(seed).await?;
    ok(json!({ "seed": seed }))
}

async fn sim_expire_sessions(State(array): Shared) -> Answer {
    ok(json!({ "expired": array.sessions.expire_all() }))
}
