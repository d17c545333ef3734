//! The `/sim/` admin surface: reset, seed, dump, token expiry, SDCs joining and leaving, volume data (`crate::volume_data`) and fault rules (`faults`). Kept apart from the
//! PowerFlex API; it needs the configured user and password (Basic) or a live token,
//! except `/sim/health`, which readiness checks call before they have credentials.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use super::body::Body;
use super::error::ApiResult;
use super::router::ok;
use super::Gateway;
use crate::model::inventory::InventoryCommand;
use crate::model::{Command, Reply};

type Shared = State<Arc<Gateway>>;

pub fn router(gateway: Arc<Gateway>) -> Router<Arc<Gateway>> {
    Router::new()
        .route("/info", get(info))
        .route("/state", get(state))
        .route("/reset", post(reset))
        .route("/tokens/expire", post(expire_tokens))
        .route("/clock/advance", post(advance_clock))
        .route("/sdcs", post(connect_sdc))
        .route("/sdcs/{guid}/disconnect", post(disconnect_sdc))
        .merge(crate::volume_data::routes::<Gateway>())
        .merge(crate::faults::routes::<Gateway>())
        .route_layer(middleware::from_fn_with_state(gateway, require_admin))
        // After the layer, so it applies to the routes above only.
        .route("/health", get(health))
}

/// `GET /sim/health`: 200 once the gateway serves; says nothing about its contents.
async fn health() -> Response {
    ok(json!({ "status": "ok", "emulator": "pflex-sim", "version": env!("CARGO_PKG_VERSION") }))
}

async fn require_admin(State(gw): Shared, request: Request, next: Next) -> Response {
    match gw.auth().check_admin(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// `GET /sim/info`: what runs, and how much it holds.
async fn info(State(gw): Shared) -> Response {
    let model = gw.read();
    ok(json!({
        "dataPlane": gw.plane().kind().to_string(),
        "seed": model.seed(),
        "systemId": model.system().id.to_string(),
        "volumes": model.volume_count(),
        "hosts": model.hosts().count(),
    }))
}

/// `GET /sim/state`: the whole model, as saved in the state directory.
async fn state(State(gw): Shared) -> Response {
    let model = gw.read();
    ok(serde_json::to_value(&*model).expect("model serialises"))
}

/// `POST /sim/reset` `{"seed"?}`: back to the topology's initial state (a new seed gives new
/// ids). Volume data and exports go too.
async fn reset(State(gw): Shared, bytes: Bytes) -> ApiResult<Response> {
    let body = Body::parse(&bytes)?;
    let seed = gw.reset(body.uint("seed")?).await?;
    Ok(ok(json!({ "seed": seed })))
}

/// `POST /sim/tokens/expire`: every token dies, so clients must log in again.
async fn expire_tokens(State(gw): Shared) -> Response {
    ok(json!({ "expired": gw.auth().expire_all() }))
}

/// `POST /sim/clock/advance` `{"seconds"}`: moves the simulator's clock forward and runs the
/// snapshot policies that became due, as the scheduler would have; answers the new time and
/// how many policy runs took place.
async fn advance_clock(State(gw): Shared, bytes: Bytes) -> ApiResult<Response> {
    let body = Body::parse(&bytes)?;
    let seconds = body
        .uint("seconds")?
        .ok_or_else(|| super::error::ApiError::bad_request("Missing required parameter: seconds"))?;
    gw.advance_clock(seconds);
    let runs = gw.run_due_policies().await?;
    Ok(ok(json!({ "now": gw.now(), "policyRuns": runs })))
}

/// `POST /sim/sdcs` `{"guid", "ip", "name"?}`: an SDC joins the MDM, as a real one does over the
/// MDM's own protocol when its service starts (`pflex-sdc` calls this); answers its `{"id"}`.
async fn connect_sdc(State(gw): Shared, bytes: Bytes) -> ApiResult<Response> {
    let body = Body::parse(&bytes)?;
    let command = InventoryCommand::ConnectSdc {
        guid: body.required_string("guid")?,
        ip: body.required_string("ip")?,
        name: body.string("name")?,
    };
    created(gw.execute(Command::Inventory(command)).await?)
}

/// `POST /sim/sdcs/{guid}/disconnect`: the SDC leaves the MDM (its service stopped).
async fn disconnect_sdc(State(gw): Shared, Path(guid): Path<String>) -> ApiResult<Response> {
    gw.execute(Command::Inventory(InventoryCommand::DisconnectSdc { guid })).await?;
    Ok(ok(json!({})))
}

fn created(reply: Reply) -> ApiResult<Response> {
    Ok(ok(super::actions::reply_json(reply)))
}
