//! What the shared front door (`crate::front`: body intake, faults) needs of the PowerFlex
//! gateway: its error bodies, body limit and tokens; and what path outages
//! (`crate::faults::paths`) need: its SDTs, by name or id.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use std::sync::Arc;

use super::error::ApiError;
use super::Gateway;
use crate::dataplane::powerflex::sdt_listeners;
use crate::dataplane::DataPlane;
use crate::faults::paths::{HostPath, Paths};
use crate::faults::Faults;
use crate::front::Front;

impl Front for Gateway {
    fn faults(&self) -> &Faults {
        &self.faults
    }

    /// `{"message","httpStatusCode","errorCode"}`; without a code, 0 as the gateway's own
    /// (non-MDM) refusals carry, and the status's reason as the message.
    fn error_answer(&self, status: StatusCode, code: Option<u32>, message: Option<&str>) -> Response {
        let message = message.or(status.canonical_reason()).unwrap_or("Error");
        ApiError::new(status, code.unwrap_or(0), message).into_response()
    }

    fn too_large(&self, limit: usize) -> Response {
        ApiError::too_large(limit).into_response()
    }

    fn unreadable(&self) -> Response {
        ApiError::bad_request("Request failed: the request body could not be read").into_response()
    }

    fn revoke_session(&self, headers: &HeaderMap) -> bool {
        self.auth().revoke(headers)
    }

    fn body_limit(&self) -> usize {
        self.body_limit
    }
}

/// Each SDT, with the listeners of its host-facing addresses (none while in maintenance).
impl Paths for Gateway {
    fn plane(&self) -> &Arc<dyn DataPlane> {
        Gateway::plane(self)
    }

    fn paths(&self) -> Vec<HostPath> {
        let model = self.read();
        model
            .sdts()
            .map(|s| HostPath {
                name: s.name.clone(),
                id: Some(s.id.to_string()),
                listeners: sdt_listeners(s).collect(),
            })
            .collect()
    }

    fn no_such_path(&self, segment: &str) -> String {
        format!("no SDT named {segment:?} or with that id (GET /sim/faults/paths lists them)")
    }
}
