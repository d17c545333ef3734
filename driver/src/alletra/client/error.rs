//! WSAPI errors, typed by their `code`.
//!
//! A failed call answers an HTTP status of 400 or more with
//! `{"code": int, "desc": text, "ref": member}` (`ref` optional). The number is
//! the contract; `desc` may change, so the driver branches on [`WsapiCode`]
//! and keeps `desc` for messages.

use serde::Deserialize;

/// A WSAPI error code the driver acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsapiCode {
    /// 5 INV_USER_PASS: bad user or password (login, 403).
    InvalidUserPassword,
    /// 6 INV_SESS_KEY: invalid or expired session key (403); earns one re-login.
    InvalidSessionKey,
    /// 16 EXISTENT_HOST: the host name is taken (409); LXD treats it as done.
    ExistentHost,
    /// 17 NON_EXISTENT_HOST (404).
    NonExistentHost,
    /// 19 NON_EXISTENT_VLUN (404).
    NonExistentVlun,
    /// 22 EXISTENT_VOL (409).
    ExistentVolume,
    /// 23 NON_EXISTENT_VOL (404).
    NonExistentVolume,
    /// 29 a CLI failure; on vLUN creation, "already exported" (LXD treats it as done).
    Other29,
    /// 101 EXISTENT_SET (409).
    ExistentSet,
    /// 102 NON_EXISTENT_SET (404).
    NonExistentSet,
    /// 145 NON_EXISTENT_TASK (404).
    NonExistentTask,
    /// 151: the volume is busy with a background task (409), a physical copy or promote into or from it.
    VolumeBusy,
    /// Any other code.
    Other(i64),
}

impl WsapiCode {
    /// Maps a numeric code.
    pub fn from_code(code: i64) -> WsapiCode {
        match code {
            5 => WsapiCode::InvalidUserPassword,
            6 => WsapiCode::InvalidSessionKey,
            16 => WsapiCode::ExistentHost,
            17 => WsapiCode::NonExistentHost,
            19 => WsapiCode::NonExistentVlun,
            22 => WsapiCode::ExistentVolume,
            23 => WsapiCode::NonExistentVolume,
            29 => WsapiCode::Other29,
            101 => WsapiCode::ExistentSet,
            102 => WsapiCode::NonExistentSet,
            145 => WsapiCode::NonExistentTask,
            151 => WsapiCode::VolumeBusy,
            other => WsapiCode::Other(other),
        }
    }

    /// The numeric code.
    pub fn code(self) -> i64 {
        match self {
            WsapiCode::InvalidUserPassword => 5,
            WsapiCode::InvalidSessionKey => 6,
            WsapiCode::ExistentHost => 16,
            WsapiCode::NonExistentHost => 17,
            WsapiCode::NonExistentVlun => 19,
            WsapiCode::ExistentVolume => 22,
            WsapiCode::NonExistentVolume => 23,
            WsapiCode::Other29 => 29,
            WsapiCode::ExistentSet => 101,
            WsapiCode::NonExistentSet => 102,
            WsapiCode::NonExistentTask => 145,
            WsapiCode::VolumeBusy => 151,
            WsapiCode::Other(c) => c,
        }
    }
}

/// An error body from the WSAPI, with the HTTP status it came with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("WSAPI error {} (HTTP {status}): {desc}{}", code.code(), reference.as_ref().map(|r| format!(" (ref {r})")).unwrap_or_default())]
pub struct WsapiError {
    /// The HTTP status.
    pub status: u16,
    /// The code.
    pub code: WsapiCode,
    /// The text.
    pub desc: String,
    /// The JSON member concerned, when the array names one.
    pub reference: Option<String>,
}

#[derive(Deserialize)]
struct Body {
    code: i64,
    #[serde(default)]
    desc: String,
    #[serde(default, rename = "ref")]
    reference: Option<String>,
}

impl WsapiError {
    /// Decodes an error body; `None` when it is not one.
    pub fn from_body(status: u16, bytes: &[u8]) -> Option<WsapiError> {
        let b: Body = serde_json::from_slice(bytes).ok()?;
        Some(WsapiError { status, code: WsapiCode::from_code(b.code), desc: b.desc, reference: b.reference })
    }
}

/// A WSAPI client failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The HTTPS client could not be built.
    #[error("WSAPI client setup: {0}")]
    Setup(String),
    /// The request did not get an answer.
    #[error("WSAPI request to {url} failed: {source}")]
    Transport {
        /// The URL.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// Login was refused.
    #[error("WSAPI login refused (HTTP {status}): {message}")]
    Unauthorized {
        /// The HTTP status.
        status: u16,
        /// The array's text.
        message: String,
    },
    /// Login was answered with a 5xx: the WSAPI server is failing (the
    /// credentials were not checked).
    #[error(
        "WSAPI unavailable at login (HTTP {status}): {message}; the credentials were not checked, try again later"
    )]
    Unavailable {
        /// The HTTP status.
        status: u16,
        /// The array's text, or the body's start.
        message: String,
    },
    /// The array answered with an error body.
    #[error(transparent)]
    Api(#[from] WsapiError),
    /// A failure status without an error body.
    #[error("WSAPI {path}: HTTP {status}: {body}")]
    Status {
        /// The path.
        path: String,
        /// The status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A non-empty body that is not `application/json` (LXD refuses these too).
    #[error("WSAPI {path}: HTTP {status}, the answer's Content-Type is {content_type:?}, not application/json")]
    ContentType {
        /// The path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// What came.
        content_type: Option<String>,
    },
    /// A body that does not decode.
    #[error("WSAPI {path}: cannot decode the answer: {source}")]
    Decode {
        /// The path.
        path: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A task ended in another state than done, or did not end in time.
    #[error("WSAPI task {id} {state}")]
    Task {
        /// The task ID.
        id: i64,
        /// What happened to it.
        state: String,
    },
}

impl ClientError {
    /// The WSAPI code, when the array answered with an error body.
    pub fn code(&self) -> Option<WsapiCode> {
        match self {
            ClientError::Api(e) => Some(e.code),
            _ => None,
        }
    }

    /// Whether this is the given WSAPI code.
    pub fn is(&self, code: WsapiCode) -> bool {
        self.code() == Some(code)
    }
}

/// A lost answer, a 5xx (with the array's body or a proxy's page) and a login
/// the array could not serve are worth another try; a 4xx is a verdict.
impl crate::retry::Transient for ClientError {
    fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport { .. } | ClientError::Unavailable { .. } => true,
            ClientError::Status { status, .. } | ClientError::ContentType { status, .. } => *status >= 500,
            ClientError::Api(e) => e.status >= 500,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_decode_with_and_without_ref() {
        let e = WsapiError::from_body(400, br#"{"code":60,"desc":"JSON syntax error","ref":"name"}"#).unwrap();
        assert_eq!(e.code, WsapiCode::Other(60));
        assert_eq!(e.reference.as_deref(), Some("name"));
        assert_eq!(e.to_string(), "WSAPI error 60 (HTTP 400): JSON syntax error (ref name)");
        let e = WsapiError::from_body(403, br#"{"code":6,"desc":"invalid session key"}"#).unwrap();
        assert_eq!(e.code, WsapiCode::InvalidSessionKey);
        assert_eq!(e.reference, None);
        assert!(WsapiError::from_body(500, b"<html>").is_none());
        assert!(WsapiError::from_body(500, br#"{"message":"x"}"#).is_none());
    }

    #[test]
    fn codes_round_trip() {
        for c in [5, 6, 16, 17, 19, 22, 23, 29, 101, 102, 145, 151, 32, 34] {
            assert_eq!(WsapiCode::from_code(c).code(), c);
        }
    }
}
