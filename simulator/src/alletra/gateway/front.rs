//! What the shared front door (`crate::front`: body intake, faults) needs of the WSAPI: its
//! error bodies, body limit and session keys; and what path outages (`crate::faults::paths`)
//! need: its NVMe ports, named by position (`0:3:1`).

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::WsapiError;
use super::routes::{BODY_LIMIT, SESSION_HEADER};
use super::Array;
use std::sync::Arc;

use crate::alletra::model::topology::PortProtocol;
use crate::dataplane::alletra::port_listeners;
use crate::dataplane::DataPlane;
use crate::faults::paths::{HostPath, Paths};
use crate::faults::Faults;
use crate::front::Front;

impl Front for Array {
    fn faults(&self) -> &Faults {
        &self.faults
    }

    /// `{"code","desc"}`, the WSAPI's generic code for the status unless one is given.
    fn error_answer(&self, status: StatusCode, code: Option<u32>, message: Option<&str>) -> Response {
        WsapiError::of_status(status.as_u16(), code, message).into_response()
    }

    /// INPUT_TOO_LONG, whatever the limit.
    fn too_large(&self, _limit: usize) -> Response {
        WsapiError::too_long().into_response()
    }

    /// The generic invalid-input answer (a body cut off cannot be parsed either).
    fn unreadable(&self) -> Response {
        WsapiError::of_status(400, None, Some("the request body could not be read")).into_response()
    }

    fn revoke_session(&self, headers: &HeaderMap) -> bool {
        headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|key| self.sessions.logout(key))
    }

    fn body_limit(&self) -> usize {
        BODY_LIMIT
    }
}

/// The NVMe ports; an iSCSI port's portal is not taken down (LIO would need its portal group
/// disabled, and no test needs it yet).
impl Paths for Array {
    fn plane(&self) -> &Arc<dyn DataPlane> {
        &self.plane
    }

    fn paths(&self) -> Vec<HostPath> {
        let model = self.read();
        model
            .ports()
            .filter(|p| p.protocol == PortProtocol::Nvme)
            .map(|p| HostPath { name: p.pos.to_string(), id: None, listeners: port_listeners(p) })
            .collect()
    }

    fn no_such_path(&self, segment: &str) -> String {
        let iscsi = self.read().ports().any(|p| p.protocol == PortProtocol::Iscsi && p.pos.to_string() == segment);
        if iscsi {
            format!("port {segment} is an iSCSI port: only NVMe ports are taken down")
        } else {
            format!("no NVMe port {segment} (ports are named N:S:P; GET /sim/faults/paths lists them)")
        }
    }
}
