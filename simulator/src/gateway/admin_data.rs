//! The admin surface's data endpoints: volume bytes by offset, the backing file, allocation.
//! Same authentication as the rest of `/sim/` (merged under its auth layer in `admin`).
//!
//! ```text
//! GET  /sim/volumes/{id}/data?host=<hostId>|nqn=<hostNqn>&offset=<bytes>&length=<bytes>
//!      -> 200 application/octet-stream, exactly `length` bytes
//! PUT  /sim/volumes/{id}/data?host=<hostId>|nqn=<hostNqn>&offset=<bytes>   (body: the bytes)
//!      -> 200 {"volumeId", "offset", "written"}; durable (synced) when answered
//! GET  /sim/volumes/{id}/backing?host=<hostId>|nqn=<hostNqn>
//!      -> 200 {"volumeId", "path", "sizeInBytes", "dataPlane"}
//! GET  /sim/volumes/{id}/allocation
//!      -> 200 {"volumeId", "sizeInBytes", "allocatedBytes", "dataPlane"}
//! GET  /sim/volumes/{id}/extents?host=<hostId>|nqn=<hostNqn>&offset=<bytes>&length=<bytes>
//!      -> 200 {"volumeId", "offset", "length", "extents": [{"offset", "length"}, ...], "dataPlane"}
//! ```
//!
//! `extents` lists, in order, the parts of the range that may hold data; the rest reads
//! zeros. `offset` defaults to 0 and `length` to the rest of the volume. At most
//! `MAX_EXTENTS` extents come back: when there are more, the answer's `length` is shorter
//! than asked (it ends with the last extent listed) and the caller asks again from there.
//! A plane that cannot tell lists the whole range (`DataPlane::data_segments`).
//!
//! Data and backing-file access act for a host, as a connector on that host would: the
//! volume must be mapped to it (`ReadOnly` mappings refuse writes, `NoAccess` both), the way
//! the array only lets a host see what it has mapped. One request moves at most
//! `MAX_CHUNK` bytes. Errors use the gateway's JSON error format. On the `none` plane, which
//! keeps no bytes, data and backing requests fail with a clear message.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::error::{ApiError, ApiResult};
use super::router::ok;
use super::Gateway;
use crate::front::intake::MAX_CHUNK;
use crate::model::{AccessMode, Fault, Id};

/// The most extents one extents request lists.
pub const MAX_EXTENTS: usize = 16 * 1024;

type Shared = State<Arc<Gateway>>;
type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

/// The data routes, relative to `/sim`. The caller applies the admin auth layer.
pub fn router() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/volumes/{id}/data", get(read).put(write))
        .route("/volumes/{id}/backing", get(backing))
        .route("/volumes/{id}/allocation", get(allocation))
        .route("/volumes/{id}/extents", get(extents))
}

fn params(q: Params) -> ApiResult<HashMap<String, String>> {
    q.map(|Query(m)| m).map_err(|e| ApiError::bad_request(format!("Request failed: bad query string: {e}")))
}

fn volume_id(id: &str) -> ApiResult<Id> {
    id.parse().map_err(|_| ApiError::malformed_id("Volume", id))
}

fn number(p: &HashMap<String, String>, name: &str) -> ApiResult<Option<u64>> {
    p.get(name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("Request failed: {name} must be a non-negative integer, not {v:?}"))
            })
        })
        .transpose()
}

fn no_bytes(gw: &Gateway) -> ApiResult<()> {
    if gw.plane().holds_bytes() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            0,
            format!(
                "Request failed: the {} data plane keeps no volume bytes; start the simulator with --data-plane file or nvmet",
                gw.plane().kind()
            ),
        ))
    }
}

/// Checks that `volume` exists and is mapped to the host the query names; returns the
/// mapping's access mode and the volume's size in bytes.
fn mapped_for(gw: &Gateway, volume: Id, p: &HashMap<String, String>) -> ApiResult<(AccessMode, u64)> {
    let model = gw.read();
    let v = model.volume(volume).ok_or_else(Fault::vol_not_found)?;
    let host = match (p.get("host"), p.get("nqn")) {
        (Some(id), _) => {
            let id: Id = id.parse().map_err(|_| ApiError::malformed_id("Host", id))?;
            model.host(id).ok_or_else(Fault::host_not_found)?
        }
        (None, Some(nqn)) => model.host_by_nqn(nqn).ok_or_else(Fault::host_not_found)?,
        (None, None) => {
            return Err(ApiError::bad_request(
                "Request failed: name the host the access is for: ?host=<hostId> or ?nqn=<hostNqn>",
            ))
        }
    };
    let mapping = v.mappings.iter().find(|m| m.host == host.id).ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            0,
            format!("Request failed: volume {volume} is not mapped to host {}; map it to the host first", host.id),
        )
    })?;
    Ok((mapping.access_mode, v.size_kb * 1024))
}

/// The volume's size, if the host may read it (mapped, and not with `NoAccess`).
fn readable_for(gw: &Gateway, volume: Id, p: &HashMap<String, String>) -> ApiResult<u64> {
    let (mode, size) = mapped_for(gw, volume, p)?;
    if mode == AccessMode::NoAccess {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            0,
            format!("Request failed: volume {volume} is mapped with NoAccess"),
        ));
    }
    Ok(size)
}

fn range_check(offset: u64, length: u64, size: u64) -> ApiResult<()> {
    if offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(ApiError::bad_request(format!(
            "Request failed: range offset {offset} length {length} is beyond the volume's {size} bytes"
        )));
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> ApiResult<T> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("Error: data plane task failed: {e}")))?
}

async fn read(State(gw): Shared, Path(id): Path<String>, q: Params) -> ApiResult<Response> {
    let p = params(q)?;
    let volume = volume_id(&id)?;
    no_bytes(&gw)?;
    let size = readable_for(&gw, volume, &p)?;
    let offset = number(&p, "offset")?.unwrap_or(0);
    let length = match number(&p, "length")? {
        Some(n) => n,
        None => return Err(ApiError::bad_request(format!("Request failed: length is required (at most {MAX_CHUNK})"))),
    };
    if length > MAX_CHUNK as u64 {
        return Err(ApiError::bad_request(format!(
            "Request failed: length {length} exceeds the {MAX_CHUNK}-byte limit per request"
        )));
    }
    range_check(offset, length, size)?;
    let plane = gw.plane().clone();
    let bytes = blocking(move || plane.read_at(volume.into(), offset, length as usize).map_err(ApiError::from)).await?;
    let mut response = (StatusCode::OK, bytes).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    Ok(response)
}

async fn write(State(gw): Shared, Path(id): Path<String>, q: Params, body: axum::body::Body) -> ApiResult<Response> {
    let p = params(q)?;
    let volume = volume_id(&id)?;
    no_bytes(&gw)?;
    let (mode, size) = mapped_for(&gw, volume, &p)?;
    if mode != AccessMode::ReadWrite {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            0,
            format!("Request failed: volume {volume} is mapped {} to this host; writes need ReadWrite", mode.as_str()),
        ));
    }
    let offset = number(&p, "offset")?.unwrap_or(0);
    let data = axum::body::to_bytes(body, MAX_CHUNK).await.map_err(|_| ApiError::too_large(MAX_CHUNK))?;
    range_check(offset, data.len() as u64, size)?;
    let written = data.len();
    let plane = gw.plane().clone();
    blocking(move || plane.write_at(volume.into(), offset, &data).map_err(ApiError::from)).await?;
    Ok(ok(json!({ "volumeId": volume.to_string(), "offset": offset, "written": written })))
}

async fn backing(State(gw): Shared, Path(id): Path<String>, q: Params) -> ApiResult<Response> {
    let p = params(q)?;
    let volume = volume_id(&id)?;
    no_bytes(&gw)?;
    let (_, size) = mapped_for(&gw, volume, &p)?;
    let path = gw.plane().backing_path(volume.into()).ok_or_else(|| {
        ApiError::new(StatusCode::CONFLICT, 0, "Request failed: this data plane has no backing files")
    })?;
    Ok(ok(json!({
        "volumeId": volume.to_string(),
        "path": path.to_string_lossy(),
        "sizeInBytes": size,
        "dataPlane": gw.plane().kind().to_string(),
    })))
}

async fn allocation(State(gw): Shared, Path(id): Path<String>) -> ApiResult<Response> {
    let volume = volume_id(&id)?;
    let size = gw.read().volume(volume).ok_or_else(Fault::vol_not_found)?.size_kb * 1024;
    let plane = gw.plane().clone();
    let allocated = blocking(move || Ok(plane.allocated_bytes(volume.into()))).await?;
    Ok(ok(json!({
        "volumeId": volume.to_string(),
        "sizeInBytes": size,
        "allocatedBytes": allocated.unwrap_or(0),
        "dataPlane": gw.plane().kind().to_string(),
    })))
}

async fn extents(State(gw): Shared, Path(id): Path<String>, q: Params) -> ApiResult<Response> {
    let p = params(q)?;
    let volume = volume_id(&id)?;
    no_bytes(&gw)?;
    let size = readable_for(&gw, volume, &p)?;
    let offset = number(&p, "offset")?.unwrap_or(0);
    let length = match number(&p, "length")? {
        Some(n) => n,
        None => size.saturating_sub(offset),
    };
    range_check(offset, length, size)?;
    let plane = gw.plane().clone();
    let mut segments =
        blocking(move || plane.data_segments(volume.into(), offset, length).map_err(ApiError::from)).await?;
    let mut covered = length;
    if segments.len() > MAX_EXTENTS {
        segments.truncate(MAX_EXTENTS);
        covered = segments.last().map_or(0, |(_, end)| end - offset);
    }
    let list: Vec<_> = segments.iter().map(|(s, e)| json!({ "offset": s, "length": e - s })).collect();
    Ok(ok(json!({
        "volumeId": volume.to_string(),
        "offset": offset,
        "length": covered,
        "extents": list,
        "dataPlane": gw.plane().kind().to_string(),
    })))
}
