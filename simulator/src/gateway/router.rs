//! Every route, in one table, and the thin handlers that parse paths and hand over.
//!
//! PowerFlex paths name objects as `Type::id` inside one segment
//! (`/api/instances/Volume::694a2d140000000b/action/removeVolume`); `ObjectPath` splits them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tower_http::validate_request::{ValidateRequest, ValidateRequestHeaderLayer};

use super::body::Body;
use super::error::{ApiError, ApiResult};
use super::{actions, admin, objects, Gateway};
use crate::model::{Fault, Id};

type Shared = State<Arc<Gateway>>;

pub fn router(gateway: Arc<Gateway>) -> Router {
    let api = Router::new()
        .route("/api/version", get(version))
        .route("/api/logout", get(api_logout))
        .route("/api/types/{ty}/instances", get(list).post(create))
        .route("/api/types/{ty}/instances/action/{action}", post(type_action))
        .route("/api/types/{ty}/instances/{lookup}", get(get_by_name))
        .route("/api/instances/{object}", get(instance))
        .route("/api/instances/{object}/relationships/{related}", get(related))
        .route("/api/instances/{object}/action/{action}", post(instance_action))
        .route("/api/instances/{object}/queryMdmCluster", post(query_mdm_cluster))
        .route("/api/v1/corelcm/status", get(lcm_status))
        .route("/api/Configuration", get(configuration))
        .route_layer(ValidateRequestHeaderLayer::custom(RequireToken(gateway.clone())));
    Router::new()
        .route("/api/login", get(api_login))
        .route("/rest/auth/login", post(rest_login))
        .route("/rest/auth/logout", post(rest_logout))
        .merge(api)
        .nest("/sim", admin::router(gateway.clone()))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(gateway.clone(), crate::front::door::<Gateway>))
        .with_state(gateway)
}

/// The bearer token check in front of `/api`: a plain tower layer (tower-http's request
/// validation) rather than `from_fn`, which would box every request's future once more.
#[derive(Clone)]
struct RequireToken(Arc<Gateway>);

impl<B> ValidateRequest<B> for RequireToken {
    type ResponseBody = axum::body::Body;

    fn validate(&mut self, request: &mut axum::http::Request<B>) -> Result<(), Response> {
        self.0.auth().check(request.headers()).map_err(IntoResponse::into_response)
    }
}

async fn fallback() -> ApiError {
    ApiError::not_found_path()
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// A successful answer: JSON, status 200.
pub(super) fn ok(value: Value) -> Response {
    ok_rendered(value.to_string().into())
}

/// A successful answer from JSON already rendered.
fn ok_rendered(json: Bytes) -> Response {
    let mut response = (StatusCode::OK, json).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn api_login(State(gw): Shared, headers: HeaderMap) -> ApiResult<Response> {
    Ok(ok(json!(gw.auth().api_login(&headers)?)))
}

async fn api_logout(State(gw): Shared, headers: HeaderMap) -> ApiResult<Response> {
    gw.auth().api_logout(&headers)?;
    Ok(ok(json!({})))
}

async fn rest_login(State(gw): Shared, bytes: Bytes) -> ApiResult<Response> {
    let body = Body::parse(&bytes)?;
    let user = body.string("username")?.unwrap_or_default();
    let password = body.string("password")?.unwrap_or_default();
    let grant = gw.auth().rest_login(&user, &password)?;
    Ok(ok(json!({
        "access_token": grant.access_token,
        "expires_in": grant.expires_in,
        "refresh_expires_in": grant.expires_in * 6,
        "refresh_token": grant.refresh_token,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "session_state": uuid_like(),
        "scope": "profile email",
    })))
}

fn uuid_like() -> String {
    let n: u128 = rand::random();
    let h = format!("{n:032x}");
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

async fn rest_logout(State(gw): Shared, headers: HeaderMap, bytes: Bytes) -> ApiResult<Response> {
    let body = Body::parse(&bytes)?;
    gw.auth().rest_logout(&headers, body.string("refresh_token")?.as_deref())?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn version() -> Response {
    ok(json!("4.5"))
}

async fn lcm_status() -> Response {
    ok(json!({ "lcmStatus": "READY", "clusterVersion": "4.5.2.0", "clusterBuild": "1262" }))
}

/// The gateway's configuration (CloudStack 4.21+ reads it when a pool is added).
async fn configuration(State(gw): Shared) -> Response {
    ok(super::render::configuration(&gw.read()))
}

/// The object a path names: `Volume::0123456789abcdef`, or a bare type (`System`).
pub(super) struct ObjectPath {
    pub ty: String,
    pub id: Option<Id>,
}

impl ObjectPath {
    fn parse(segment: &str) -> ApiResult<ObjectPath> {
        match segment.split_once("::") {
            None => Ok(ObjectPath { ty: segment.to_string(), id: None }),
            Some((ty, id)) => {
                let id = id.parse().map_err(|_| ApiError::malformed_id(ty, id))?;
                Ok(ObjectPath { ty: ty.to_string(), id: Some(id) })
            }
        }
    }
}

async fn list(State(gw): Shared, Path(ty): Path<String>) -> ApiResult<Response> {
    objects::list(&gw, &ty).map(ok)
}

async fn create(State(gw): Shared, Path(ty): Path<String>, bytes: Bytes) -> ApiResult<Response> {
    let body = Body::parse(&bytes)?;
    actions::create(&gw, &ty, &body).await.map(ok)
}

async fn type_action(
    State(gw): Shared,
    Path((ty, action)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let body = Body::parse(&bytes)?;
    objects::type_action(&gw, &ty, &action, &body).map(ok)
}

async fn get_by_name(State(gw): Shared, Path((ty, lookup)): Path<(String, String)>) -> ApiResult<Response> {
    objects::get_by_name(&gw, &ty, &lookup).map(ok)
}

/// One object; `objects::get` renders it from the model alone, so the rendering is kept until
/// the model changes (`Gateway::rendered`).
async fn instance(State(gw): Shared, Path(segment): Path<String>) -> ApiResult<Response> {
    let object = ObjectPath::parse(&segment)?;
    gw.rendered(&segment, || objects::get(&gw, &object)).map(ok_rendered)
}

async fn related(State(gw): Shared, Path((object, rel)): Path<(String, String)>) -> ApiResult<Response> {
    let object = ObjectPath::parse(&object)?;
    objects::related(&gw, &object, &rel).map(ok)
}

/// PyPowerFlex's and goscaleio's `queryMdmCluster` path (no `/action/`).
async fn query_mdm_cluster(State(gw): Shared, Path(object): Path<String>) -> ApiResult<Response> {
    match ObjectPath::parse(&object)? {
        ObjectPath { ty, id } if ty == "System" && id.is_none_or(|id| id == gw.read().system().id) => {
            Ok(ok(super::inventory::query_mdm_cluster(&gw)))
        }
        ObjectPath { ty, .. } if ty == "System" => Err(Fault::not_found().into()),
        _ => Err(ApiError::not_found_path()),
    }
}

async fn instance_action(
    State(gw): Shared,
    Path((object, action)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let object = ObjectPath::parse(&object)?;
    let body = Body::parse(&bytes)?;
    actions::instance_action(&gw, &object, &action, &body).await.map(ok)
}
