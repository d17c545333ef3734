//! What the shared fault surface (`crate::faults`) needs of the PowerFlex gateway: its error
//! body and its tokens.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::Gateway;
use crate::faults::{FaultTarget, Faults};

impl FaultTarget for Gateway {
    fn faults(&self) -> &Faults {
        &self.faults
    }

    /// `{"message","httpStatusCode","errorCode"}`; without a code, 0 as the gateway's own
    /// (non-MDM) refusals carry, and the status's reason as the message.
    fn error_answer(&self, status: StatusCode, code: Option<u32>, message: Option<&str>) -> Response {
        let message = message.or(status.canonical_reason()).unwrap_or("Error");
        ApiError::new(status, code.unwrap_or(0), message).into_response()
    }

    fn revoke_session(&self, headers: &HeaderMap) -> bool {
        self.auth().revoke(headers)
    }

    fn body_limit(&self) -> usize {
        self.body_limit
    }
}
