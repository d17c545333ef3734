//! `/sim/faults`: list (`GET`), add (`POST {"rule": "..."}`), clear all (`DELETE`) or one
//! (`DELETE /sim/faults/{id}`), and path outages under `/sim/faults/paths` (`paths`). Each array nests these among its own `/sim/` routes, behind
//! its admin credentials; refusals come in the array's own error body.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde_json::{json, Value};

use super::paths::{self, Paths};
use super::{Rule, Source};
use crate::front::Front;

pub fn routes<T: Paths>() -> Router<Arc<T>> {
    Router::new()
        .route("/faults", get(list::<T>).post(add::<T>).delete(clear::<T>))
        // Before `{id}`: added after it, `/faults/paths` is routed to `{id}` (axum 0.8.9).
        .route("/faults/paths", get(paths::list::<T>))
        .route("/faults/paths/{path}", post(paths::set::<T>))
        .route("/faults/{id}", delete(remove::<T>))
}

pub(super) fn answer(status: StatusCode, value: Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn list<T: Front>(State(target): State<Arc<T>>) -> Response {
    answer(StatusCode::OK, json!({ "rules": target.faults().list() }))
}

/// Adds one rule, in the syntax of `--fault`; answers its listing (201).
async fn add<T: Front>(State(target): State<Arc<T>>, bytes: Bytes) -> Response {
    let refuse = |message: String| target.error_answer(StatusCode::BAD_REQUEST, None, Some(&message));
    let text = match serde_json::from_slice::<Value>(&bytes) {
        Ok(body) => match body.get("rule") {
            Some(Value::String(text)) => text.clone(),
            _ => return refuse("the body must be {\"rule\": \"RULE\"} (see the fault rule syntax)".into()),
        },
        Err(e) => return refuse(format!("the body is not JSON: {e}")),
    };
    match Rule::parse(&text) {
        Ok(rule) => {
            let listing = target.faults().add(rule, Source::Api);
            tracing::info!("fault rule added: {}", listing["rule"]);
            answer(StatusCode::CREATED, listing)
        }
        Err(e) => refuse(e.to_string()),
    }
}

async fn clear<T: Front>(State(target): State<Arc<T>>) -> Response {
    let cleared = target.faults().clear();
    tracing::info!("fault rules cleared: {cleared}");
    answer(StatusCode::OK, json!({ "cleared": cleared }))
}

async fn remove<T: Front>(State(target): State<Arc<T>>, Path(id): Path<String>) -> Response {
    match id.parse::<u64>() {
        Ok(n) if target.faults().remove(n) => answer(StatusCode::OK, json!({ "cleared": 1 })),
        _ => target.error_answer(StatusCode::NOT_FOUND, None, Some(&format!("no fault rule {id}"))),
    }
}
