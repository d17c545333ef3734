//! The one place where failures become HTTP responses, in the real gateway's error format:
//! `{"message", "httpStatusCode", "errorCode"}`, plus `details` for the "Error with details"
//! envelope. MDM faults are HTTP 500 with the MDM code, as on real systems.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::dataplane::PlaneError;
use crate::model::Fault;
use crate::persist::PersistError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub error_code: u32,
    pub message: String,
    /// `(rc, name, message)` for the "Error with details" envelope.
    pub detail: Option<(u32, &'static str, String)>,
    /// 4.x answers an expired or unknown token with an HTML 401 from its ingress; clients
    /// (goscaleio, LXD) re-login only on a non-JSON 401.
    pub html: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, error_code: u32, message: impl Into<String>) -> ApiError {
        ApiError { status, error_code, message: message.into(), detail: None, html: false }
    }

    /// Bad credentials on a login endpoint.
    pub fn bad_credentials() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, 0, "Unauthorized")
    }

    /// A missing, unknown or expired token on an API call (4.x: HTML body).
    pub fn token_rejected(html: bool) -> ApiError {
        ApiError { html, ..ApiError::new(StatusCode::UNAUTHORIZED, 0, "Unauthorized") }
    }

    pub fn not_found_path() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 0, "Not found")
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, 0, "Method not allowed")
    }

    /// An id that is not hexadecimal (csi-powerflex matches "must be a hexadecimal number").
    pub fn malformed_id(what: &str, id: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            0,
            format!("Request failed: {what} id {id:?} must be a hexadecimal number"),
        )
    }

    /// A body that is not JSON, or a field of the wrong type.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, 0, message)
    }

    /// A value outside a parameter's fixed set, worded as the gateway's enum check words it
    /// (goscaleio's tests carry it for `perfProfile`, `accessMode`, `userRole`).
    pub fn not_one_of(key: &str, allowed: &[&str], value: &str) -> ApiError {
        ApiError::bad_request(format!(
            "{key} should get one of the following values: {}, but its value is {value}",
            allowed.join(", ")
        ))
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, 0, format!("Request body exceeds {limit} bytes"))
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 0, message)
    }
}

impl From<Fault> for ApiError {
    fn from(f: Fault) -> ApiError {
        if f.detailed {
            ApiError {
                detail: Some((f.rc, f.name, f.message)),
                ..ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 0, "Error with details")
            }
        } else {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, f.rc, f.message)
        }
    }
}

impl From<PlaneError> for ApiError {
    fn from(e: PlaneError) -> ApiError {
        // Real systems answer I/O-side failures with a generic MDM error (rc 1, "Error").
        // What failed where names files on the server: that goes to the log, the client
        // gets the plane and the system's reason.
        tracing::error!("{e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 1, format!("Error: data plane ({}): {}", e.plane, e.source))
    }
}

impl From<PersistError> for ApiError {
    fn from(e: PersistError) -> ApiError {
        ApiError::internal(format!("Error: the change could not be made durable: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.html {
            let body = "<html><head><title>401 Authorization Required</title></head>\
                        <body><center><h1>401 Authorization Required</h1></center></body></html>";
            let mut response = (self.status, body).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            return response;
        }
        let mut body = json!({
            "message": self.message,
            "httpStatusCode": self.status.as_u16(),
            "errorCode": self.error_code,
        });
        if let Some((rc, name, message)) = self.detail {
            body["details"] = json!([{ "rc": rc, "error": name, "errorMessage": message }]);
        }
        let mut response = (self.status, body.to_string()).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Restricted\""));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
