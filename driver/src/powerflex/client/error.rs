//! Gateway errors, decoded into types by PowerFlex `errorCode`.
//!
//! The gateway reports failures as a JSON body carrying `httpStatusCode` and
//! `errorCode` (the MDM return code). Some failures, such as the VTree
//! snapshot limit, arrive in an "Error with details" envelope whose real code
//! is `details[0].rc`. [`ApiError::from_body`] handles both shapes.

use serde::Deserialize;

/// A PowerFlex return code the driver acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 79 `VOL_NOT_FOUND`: "Could not find the volume".
    VolumeNotFound,
    /// 81 `VOL_ALREADY_MAPPED_TO_THIS_INI`.
    AlreadyMapped,
    /// 99 `VOL_NAME_IN_USE`: the name is taken.
    NameInUse,
    /// 104 `VOL_MAPPED`: a mapped volume cannot be removed.
    VolumeMapped,
    /// 133 `VOL_DECREASE_NOT_SUPPORTED`: "Volume capacity can only be increased".
    ShrinkNotSupported,
    /// 142 `FD_NOT_FOUND`: "Could not find Protection Domain".
    DomainNotFound,
    /// 171 `STORAGE_POOL_NOT_FOUND`.
    StoragePoolNotFound,
    /// 182 `TOO_MANY_SNAPS_IN_VTREE` (arrives in a details envelope).
    TooManySnapshots,
    /// 198 `VTREE_ID_MISMATCH`: overwrite across VTrees.
    VtreeMismatch,
    /// 226 `LONG_NAME`: more than 31 characters.
    NameTooLong,
    /// 4039: `removeMappedHost` for a mapping that does not exist.
    MappingMissing,
    /// Any other code (0 for gateway-level errors).
    Other(i64),
}

impl ErrorCode {
    /// Maps a numeric code.
    pub fn from_code(code: i64) -> ErrorCode {
        match code {
            79 => ErrorCode::VolumeNotFound,
            81 => ErrorCode::AlreadyMapped,
            99 => ErrorCode::NameInUse,
            104 => ErrorCode::VolumeMapped,
            133 => ErrorCode::ShrinkNotSupported,
            142 => ErrorCode::DomainNotFound,
            171 => ErrorCode::StoragePoolNotFound,
            182 => ErrorCode::TooManySnapshots,
            198 => ErrorCode::VtreeMismatch,
            226 => ErrorCode::NameTooLong,
            4039 => ErrorCode::MappingMissing,
            other => ErrorCode::Other(other),
        }
    }

    /// The numeric code.
    pub fn code(self) -> i64 {
        match self {
            ErrorCode::VolumeNotFound => 79,
            ErrorCode::AlreadyMapped => 81,
            ErrorCode::NameInUse => 99,
            ErrorCode::VolumeMapped => 104,
            ErrorCode::ShrinkNotSupported => 133,
            ErrorCode::DomainNotFound => 142,
            ErrorCode::StoragePoolNotFound => 171,
            ErrorCode::TooManySnapshots => 182,
            ErrorCode::VtreeMismatch => 198,
            ErrorCode::NameTooLong => 226,
            ErrorCode::MappingMissing => 4039,
            ErrorCode::Other(c) => c,
        }
    }
}

/// An error body from the gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("PowerFlex error {} (HTTP {http_status}): {message}", code.code())]
pub struct ApiError {
    /// The HTTP status of the response.
    pub http_status: u16,
    /// The decoded return code (from `details[0].rc` for "Error with details").
    pub code: ErrorCode,
    /// The message (from `details[0].errorMessage` for "Error with details").
    pub message: String,
    /// The RC name from the details envelope, e.g. `TOO_MANY_SNAPS_IN_VTREE`.
    pub rc_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    http_status_code: Option<i64>,
    #[serde(default)]
    error_code: Option<i64>,
    #[serde(default)]
    details: Option<Vec<Detail>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    #[serde(default)]
    rc: Option<i64>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

impl ApiError {
    /// Decodes an error body; `None` when it is not a PowerFlex error object.
    pub fn from_body(http_status: u16, body: &[u8]) -> Option<ApiError> {
        let body: Body = serde_json::from_slice(body).ok()?;
        if body.error_code.is_none() && body.http_status_code.is_none() && body.message.is_none() {
            return None;
        }
        let mut code = body.error_code.unwrap_or(0);
        let mut message = body.message.unwrap_or_default();
        let mut rc_name = None;
        if let Some(first) = body.details.as_ref().and_then(|d| d.first()) {
            if code == 0 {
                if let Some(rc) = first.rc {
                    code = rc;
                }
            }
            if let Some(m) = &first.error_message {
                message = m.clone();
            }
            rc_name = first.error.clone();
        }
        let http_status = body.http_status_code.and_then(|c| u16::try_from(c).ok()).unwrap_or(http_status);
        Some(ApiError { http_status, code: ErrorCode::from_code(code), message, rc_name })
    }
}

/// A failed gateway call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The gateway answered with a PowerFlex error.
    #[error("{0}")]
    Api(#[from] ApiError),
    /// Login was refused (bad credentials) or the token stayed invalid after one re-login.
    #[error("gateway refused the credentials (HTTP {status}): {message}")]
    Unauthorized {
        /// The HTTP status.
        status: u16,
        /// The message from the body, or the status line.
        message: String,
    },
    /// Login was answered with a 5xx: the gateway or its ingress is failing (the
    /// credentials were not checked).
    #[error(
        "gateway unavailable at login (HTTP {status}): {message}; the credentials were not checked, try again later"
    )]
    Unavailable {
        /// The HTTP status.
        status: u16,
        /// The message from the body, or its start.
        message: String,
    },
    /// Login succeeded but gave no `access_token`.
    #[error("gateway login returned no access_token")]
    NoToken,
    /// The gateway answered with a status and a body that is not a PowerFlex error.
    #[error("unexpected HTTP {status} from {path}: {body}")]
    Status {
        /// The request path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A 200 body did not decode into the expected shape.
    #[error("cannot decode the response of {path}: {source}")]
    Decode {
        /// The request path.
        path: String,
        /// The decoding error.
        source: serde_json::Error,
    },
    /// Transport failure: connection, TLS, timeout.
    #[error("cannot reach the gateway at {url}: {}", source_chain(.source))]
    Transport {
        /// The request URL.
        url: String,
        /// The underlying error.
        source: reqwest::Error,
    },
    /// The client could not be built (bad CA file, TLS setup).
    #[error("gateway client setup: {0}")]
    Setup(String),
    /// The gateway returned something impossible (e.g. an empty ID list).
    #[error("unexpected gateway response from {path}: {reason}")]
    Protocol {
        /// The request path.
        path: String,
        /// What was wrong.
        reason: String,
    },
}

fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        text.push_str(": ");
        text.push_str(&s.to_string());
        cur = s.source();
    }
    text
}

impl ClientError {
    /// The PowerFlex code, when this is a PowerFlex error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api(e) => Some(e.code),
            _ => None,
        }
    }

    /// Whether this is the PowerFlex error `code`.
    pub fn is(&self, code: ErrorCode) -> bool {
        self.code() == Some(code)
    }
}

/// The gateway's own failures carry return code 0 (no MDM verdict): a 5xx of
/// that kind, a 5xx that is not a PowerFlex body (an ingress's page), a login
/// the gateway could not serve and a lost answer are worth another try.
impl crate::retry::Transient for ClientError {
    fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport { .. } | ClientError::Unavailable { .. } => true,
            ClientError::Status { status, .. } => *status >= 500,
            ClientError::Api(e) => e.http_status >= 500 && e.code == ErrorCode::Other(0),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_error_bodies_decode_by_code() {
        let cases = [
            (79, ErrorCode::VolumeNotFound),
            (142, ErrorCode::DomainNotFound),
            (226, ErrorCode::NameTooLong),
            (4039, ErrorCode::MappingMissing),
            (99, ErrorCode::NameInUse),
            (133, ErrorCode::ShrinkNotSupported),
            (182, ErrorCode::TooManySnapshots),
            (12345, ErrorCode::Other(12345)),
        ];
        for (num, code) in cases {
            let body = format!(r#"{{"message":"m{num}","httpStatusCode":500,"errorCode":{num}}}"#);
            let e = ApiError::from_body(500, body.as_bytes()).unwrap();
            assert_eq!(e.code, code);
            assert_eq!(e.code.code(), num);
            assert_eq!(e.http_status, 500);
            assert_eq!(e.message, format!("m{num}"));
        }
    }

    #[test]
    fn details_envelope_carries_the_real_code() {
        let body = br#"{"errorCode":0,"httpStatusCode":500,"message":"Error with details","details":[{"rc":182,"error":"TOO_MANY_SNAPS_IN_VTREE","errorMessage":"There are too many snapshots in the VTree"}]}"#;
        let e = ApiError::from_body(500, body).unwrap();
        assert_eq!(e.code, ErrorCode::TooManySnapshots);
        assert_eq!(e.message, "There are too many snapshots in the VTree");
        assert_eq!(e.rc_name.as_deref(), Some("TOO_MANY_SNAPS_IN_VTREE"));
        let err = ClientError::from(e);
        assert!(err.is(ErrorCode::TooManySnapshots));
        assert!(err.to_string().contains("182"));
    }

    #[test]
    fn only_gateway_level_failures_are_transient() {
        use crate::retry::Transient;
        let api = |status, code| {
            ClientError::Api(
                ApiError::from_body(
                    status,
                    format!(r#"{{"message":"m","httpStatusCode":{status},"errorCode":{code}}}"#).as_bytes(),
                )
                .unwrap(),
            )
        };
        assert!(api(500, 0).is_transient(), "an MDM switch-over's 500");
        assert!(!api(500, 182).is_transient(), "a real refusal arrives as 500 too");
        assert!(!api(400, 0).is_transient());
        let page = ClientError::Status { path: "/api".into(), status: 503, body: "<html>".into() };
        assert!(page.is_transient());
        assert!(ClientError::Unavailable { status: 503, message: String::new() }.is_transient());
        assert!(!ClientError::Unauthorized { status: 401, message: String::new() }.is_transient());
    }

    #[test]
    fn non_error_bodies_are_not_decoded() {
        assert_eq!(ApiError::from_body(500, b"<html>oops</html>"), None);
        assert_eq!(ApiError::from_body(500, b"{}"), None);
        assert_eq!(ApiError::from_body(500, b"\"text\""), None);
    }
}
