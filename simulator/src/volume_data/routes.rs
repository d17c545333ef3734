//! The handlers: parameters, the checks every array makes, the plane's work off the async
//! threads, and the answers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::{Access, Mode, Refusal, VolumeData, MAX_EXTENTS};
use crate::front::intake::MAX_CHUNK;

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;
type Answer<T> = Result<Response, <T as VolumeData>::Error>;

/// The data routes, relative to `/sim`; the caller applies its admin auth layer.
pub fn routes<T: VolumeData>() -> Router<Arc<T>> {
    Router::new()
        .route("/volumes/{volume}/data", get(read::<T>).put(write::<T>))
        .route("/volumes/{volume}/backing", get(backing::<T>))
        .route("/volumes/{volume}/allocation", get(allocation::<T>))
        .route("/volumes/{volume}/extents", get(extents::<T>))
}

fn params(q: Params) -> Result<HashMap<String, String>, Refusal> {
    q.map(|Query(m)| m).map_err(|e| Refusal::BadQuery(e.to_string()))
}

fn number(p: &HashMap<String, String>, name: &'static str) -> Result<Option<u64>, Refusal> {
    p.get(name).map(|v| v.parse::<u64>().map_err(|_| Refusal::BadNumber { name, value: v.clone() })).transpose()
}

fn holds_bytes<T: VolumeData>(array: &T) -> Result<(), Refusal> {
    if array.plane().holds_bytes() {
        Ok(())
    } else {
        Err(Refusal::NoBytes { plane: array.plane().kind() })
    }
}

fn in_range(offset: u64, length: u64, size: u64) -> Result<(), Refusal> {
    match offset.checked_add(length) {
        Some(end) if end <= size => Ok(()),
        _ => Err(Refusal::OutOfRange { offset, length, size }),
    }
}

/// `access`, if it lets the host read.
fn readable(access: Access) -> Result<Access, Refusal> {
    match access.mode {
        Mode::NoAccess => Err(Refusal::NoAccess { volume: access.volume.name }),
        _ => Ok(access),
    }
}

/// Runs the plane's work (file I/O, fsync) off the async threads.
async fn blocking<T: VolumeData, R: Send + 'static>(
    f: impl FnOnce() -> Result<R, crate::dataplane::PlaneError> + Send + 'static,
) -> Result<R, T::Error> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(T::Error::from),
        Err(e) => Err(Refusal::TaskFailed(e.to_string()).into()),
    }
}

fn answer(value: Value) -> Response {
    let mut response = (StatusCode::OK, value.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `value` with the array's member naming the volume first.
fn named<T: VolumeData>(name: &str, value: Value) -> Response {
    let mut body = serde_json::Map::new();
    body.insert(T::VOLUME_MEMBER.into(), name.into());
    if let Value::Object(members) = value {
        body.extend(members);
    }
    answer(Value::Object(body))
}

async fn read<T: VolumeData>(State(array): State<Arc<T>>, Path(segment): Path<String>, q: Params) -> Answer<T> {
    let p = params(q)?;
    let volume = array.volume(&segment)?;
    holds_bytes(&*array)?;
    let access = readable(array.access(&volume, &p)?)?;
    let offset = number(&p, "offset")?.unwrap_or(0);
    let length = number(&p, "length")?.ok_or(Refusal::LengthRequired)?;
    if length > MAX_CHUNK as u64 {
        return Err(Refusal::TooLong { length }.into());
    }
    in_range(offset, length, access.volume.size)?;
    let (plane, key) = (array.plane().clone(), access.volume.key);
    let bytes = blocking::<T, _>(move || plane.read_at(key, offset, length as usize)).await?;
    let mut response = (StatusCode::OK, bytes).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    Ok(response)
}

async fn write<T: VolumeData>(
    State(array): State<Arc<T>>,
    Path(segment): Path<String>,
    q: Params,
    body: Body,
) -> Answer<T> {
    let p = params(q)?;
    let volume = array.volume(&segment)?;
    holds_bytes(&*array)?;
    let access = array.access(&volume, &p)?;
    if access.mode != Mode::ReadWrite {
        return Err(Refusal::NotWritable { volume: access.volume.name, mode: access.mode }.into());
    }
    let offset = number(&p, "offset")?.unwrap_or(0);
    let data = axum::body::to_bytes(body, MAX_CHUNK).await.map_err(|_| Refusal::BodyTooLarge)?;
    in_range(offset, data.len() as u64, access.volume.size)?;
    let written = data.len();
    let (plane, key) = (array.plane().clone(), access.volume.key);
    blocking::<T, _>(move || plane.write_at(key, offset, &data)).await?;
    Ok(named::<T>(&access.volume.name, json!({ "offset": offset, "written": written })))
}

async fn backing<T: VolumeData>(State(array): State<Arc<T>>, Path(segment): Path<String>, q: Params) -> Answer<T> {
    let p = params(q)?;
    let volume = array.volume(&segment)?;
    holds_bytes(&*array)?;
    let access = array.access(&volume, &p)?;
    let path = array.plane().backing_path(access.volume.key).ok_or(Refusal::NoBacking)?;
    Ok(named::<T>(
        &access.volume.name,
        json!({
            "path": path.to_string_lossy(),
            "sizeInBytes": access.volume.size,
            "dataPlane": array.plane().kind().to_string(),
        }),
    ))
}

async fn allocation<T: VolumeData>(State(array): State<Arc<T>>, Path(segment): Path<String>) -> Answer<T> {
    let volume = array.stored(&array.volume(&segment)?)?;
    let (plane, key) = (array.plane().clone(), volume.key);
    let allocated = blocking::<T, _>(move || Ok(plane.allocated_bytes(key))).await?;
    Ok(named::<T>(
        &volume.name,
        json!({
            "sizeInBytes": volume.size,
            "allocatedBytes": allocated.unwrap_or(0),
            "dataPlane": array.plane().kind().to_string(),
        }),
    ))
}

async fn extents<T: VolumeData>(State(array): State<Arc<T>>, Path(segment): Path<String>, q: Params) -> Answer<T> {
    let p = params(q)?;
    let volume = array.volume(&segment)?;
    holds_bytes(&*array)?;
    let access = readable(array.access(&volume, &p)?)?;
    let size = access.volume.size;
    let offset = number(&p, "offset")?.unwrap_or(0);
    let length = number(&p, "length")?.unwrap_or(size.saturating_sub(offset));
    in_range(offset, length, size)?;
    let (plane, key) = (array.plane().clone(), access.volume.key);
    let mut segments = blocking::<T, _>(move || plane.data_segments(key, offset, length)).await?;
    let mut covered = length;
    if segments.len() > MAX_EXTENTS {
        segments.truncate(MAX_EXTENTS);
        covered = segments.last().map_or(0, |(_, end)| end - offset);
    }
    let list: Vec<_> = segments.iter().map(|(s, e)| json!({ "offset": s, "length": e - s })).collect();
    Ok(named::<T>(
        &access.volume.name,
        json!({
            "offset": offset,
            "length": covered,
            "extents": list,
            "dataPlane": array.plane().kind().to_string(),
        }),
    ))
}
