//! The one place failures become WSAPI answers: the real status and `{"code","desc"[,"ref"]}`,
//! sent as exactly `application/json` (LXD refuses anything else, reference §0.3).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::alletra::model::Fault;
use crate::dataplane::PlaneError;
use crate::persist::PersistError;

/// A refusal as the client sees it.
#[derive(Debug, Clone)]
pub struct WsapiError(pub Fault);

pub type WsapiResult<T> = Result<T, WsapiError>;

fn fault(status: u16, code: u32, desc: impl Into<String>) -> WsapiError {
    WsapiError(Fault { status, code, desc: desc.into(), reference: None })
}

impl WsapiError {
    pub fn internal(desc: impl Into<String>) -> WsapiError {
        fault(500, 1, desc)
    }
    /// INV_USER_PASS (reference §0.2).
    pub fn bad_credentials() -> WsapiError {
        fault(403, 5, "invalid user or password")
    }
    /// INV_SESS_KEY: Cinder's logout matches "invalid session key".
    pub fn bad_session() -> WsapiError {
        fault(403, 6, "invalid session key")
    }
    /// URI_RES_NOT_FOUND.
    pub fn no_such_uri() -> WsapiError {
        fault(404, 11, "resource not found")
    }
    /// UNSUP_OP.
    pub fn unsupported() -> WsapiError {
        fault(501, 9, "the resource does not support the operation")
    }
    /// INPUT_TOO_LONG.
    pub fn too_long() -> WsapiError {
        fault(413, 4, "request too long")
    }
    /// INV_INPUT, naming the member.
    pub fn invalid(member: &'static str, desc: impl Into<String>) -> WsapiError {
        WsapiError(Fault { status: 400, code: 12, desc: desc.into(), reference: Some(member) })
    }
    /// A member that must be there is not (INV_INPUT_MISSING_REQUIRED, code 40).
    pub fn missing(member: &'static str) -> WsapiError {
        WsapiError(Fault::missing_required().with_ref(member))
    }
    /// A member of the wrong JSON type.
    pub fn wrong_type(member: &'static str) -> WsapiError {
        WsapiError(Fault::wrong_type().with_ref(member))
    }
    /// The body is not JSON (INV_INPUT_JSON_SYNTAX, doc131 p37).
    pub fn json_syntax() -> WsapiError {
        fault(400, 60, "JSON syntax error")
    }
    /// An answer of `status` with this `code` and `desc`, or else the WSAPI's generic code for
    /// that status (doc131 Table 5) in the guide's wording; injected faults answer this way.
    pub fn of_status(status: u16, code: Option<u32>, desc: Option<&str>) -> WsapiError {
        let (generic, wording) = match status {
            400 => (12, "invalid input"),
            403 => (13, "permission denied"),
            404 => (11, "resource not found"),
            408 => (7, "client too slow"),
            413 => (4, "request too long"),
            501 => (9, "the resource does not support the operation"),
            503 => (31, "service unavailable"),
            505 => (8, "unsupported HTTP version"),
            _ => (1, "internal server error"),
        };
        fault(status, code.unwrap_or(generic), desc.unwrap_or(wording))
    }
    /// INV_QUERY_STRING (reference §0.7); the number is inferred.
    pub fn bad_query(query: &str) -> WsapiError {
        fault(400, 116, format!("invalid query string: {query}"))
    }
}

impl From<Fault> for WsapiError {
    fn from(f: Fault) -> WsapiError {
        WsapiError(f)
    }
}

impl From<PlaneError> for WsapiError {
    fn from(e: PlaneError) -> WsapiError {
        WsapiError::internal(e.to_string())
    }
}

impl From<PersistError> for WsapiError {
    fn from(e: PersistError) -> WsapiError {
        WsapiError::internal(format!("the change could not be made durable: {e}"))
    }
}

impl IntoResponse for WsapiError {
    fn into_response(self) -> Response {
        let Fault { status, code, desc, reference } = self.0;
        let mut body = json!({ "code": code, "desc": desc });
        if let Some(member) = reference {
            body["ref"] = member.into();
        }
        json_response(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body.to_string())
    }
}

/// A JSON answer with the array's content type, exactly.
pub fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
