//! The front door of both arrays' HTTP layers: the one middleware every request passes before
//! routing. It writes the request's log line, reads its whole body (`intake`), and applies the
//! fault rules (`crate::faults`), in that order, as calls rather than three layers: each
//! `from_fn` layer boxes the request's future and the rest of the stack again, on every GET.
//!
//! `Front` is what the door needs of an array: its error answers and body limit, its fault
//! table and sessions. Each array implements it in its own `front.rs`.

pub mod intake;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::faults::Faults;

/// What the front door needs of the array behind it.
pub trait Front: Send + Sync + 'static {
    fn faults(&self) -> &Faults;

    /// The array's own error answer for `status`: its error body, with `code` and `message`
    /// when given, else the array's code and wording for that status.
    fn error_answer(&self, status: StatusCode, code: Option<u32>, message: Option<&str>) -> Response;

    /// The array's answer to a body over `limit` bytes.
    fn too_large(&self, limit: usize) -> Response;

    /// The array's answer to a body that broke off or could not be read.
    fn unreadable(&self) -> Response;

    /// Ends the session these request headers present, so its next use gets the array's
    /// session error; whether they presented a live one.
    fn revoke_session(&self, headers: &HeaderMap) -> bool;

    /// The largest body an API request may have (the `/sim/` data writes have their own).
    fn body_limit(&self) -> usize;
}

/// One log line per request: method, path, status, time. Never headers or bodies, so tokens
/// and passwords cannot reach the log.
pub async fn door<T: Front>(State(array): State<Arc<T>>, request: Request, next: Next) -> Response {
    // The URI is shared bytes: keeping it costs no copy of the path.
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let started = std::time::Instant::now();
    let response = match intake::read_whole_body(&*array, request).await {
        Ok(request) => crate::faults::inject(&*array, request, next).await,
        Err(refused) => refused,
    };
    let status = response.status();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status.is_client_error() || status.is_server_error() {
        tracing::info!("{method} {} -> {} ({ms:.1} ms)", uri.path(), status.as_u16());
    } else {
        tracing::debug!("{method} {} -> {} ({ms:.1} ms)", uri.path(), status.as_u16());
    }
    response
}
