//! What the shared fault surface (`crate::faults`) needs of the WSAPI: its error body and its
//! session keys.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::WsapiError;
use super::routes::{BODY_LIMIT, SESSION_HEADER};
use super::Array;
use crate::faults::{FaultTarget, Faults};

impl FaultTarget for Array {
    fn faults(&self) -> &Faults {
        &self.faults
    }

    /// `{"code","desc"}`, the WSAPI's generic code for the status unless one is given.
    fn error_answer(&self, status: StatusCode, code: Option<u32>, message: Option<&str>) -> Response {
        WsapiError::of_status(status.as_u16(), code, message).into_response()
    }

    fn revoke_session(&self, headers: &HeaderMap) -> bool {
        headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|key| self.sessions.logout(key))
    }

    fn body_limit(&self) -> usize {
        BODY_LIMIT
    }
}
