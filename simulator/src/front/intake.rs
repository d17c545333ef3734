//! Every request body is read before routing, so every request gets its whole answer.
//!
//! A server that answers without reading the body (a rejected token, an oversized body, a
//! body on a GET) and then closes leaves unread bytes in the socket; the kernel answers them
//! with a reset, and the client loses the status and body it was sent, or, when the
//! connection stays open, finds the unread body taken for its next request. So this layer,
//! outside all routing (called by the front door), reads the body first:
//!
//! - up to the route's limit (`Front::body_limit`, or `MAX_CHUNK` for a `/sim/` data write)
//!   it is kept and handed on;
//! - beyond that, up to `DRAIN_MAX` more bytes within `DRAIN_TIME` are read and thrown away
//!   and the answer is the array's 413, on a connection that stays usable;
//! - a body announced larger than that, or not sent in time, gets the 413 with
//!   `Connection: close`, so the client knows not to reuse the connection.
//!
//! Requests without a body (most reads) pass through untouched.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::response::Response;

use super::Front;

/// The most bytes one `/sim/volumes/{volume}/data` read or write moves, on either array.
pub const MAX_CHUNK: usize = 16 * 1024 * 1024;

/// How much of an oversized body is read and discarded so that its 413 arrives.
const DRAIN_MAX: u64 = 64 * 1024 * 1024;
/// How long the discarding may take.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// What reading a body came to.
enum Intake {
    Whole(Vec<u8>),
    /// Over the limit; `drained` tells whether the rest was read to its end.
    TooLarge {
        drained: bool,
    },
    /// The client broke off or sent a malformed body.
    Broken,
}

/// `request` with its whole body, or the array's answer when the body is too large or broke off.
pub async fn read_whole_body<T: Front>(array: &T, request: Request) -> Result<Request, Response> {
    let (parts, body) = request.into_parts();
    if body.is_end_stream() {
        return Ok(Request::from_parts(parts, body));
    }
    let limit = limit(array, &parts.method, parts.uri.path());
    if body.size_hint().exact().is_some_and(|n| n > limit as u64 + DRAIN_MAX) {
        return Err(closing(array.too_large(limit)));
    }
    match intake(body, limit).await {
        Intake::Whole(bytes) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Intake::TooLarge { drained: true } => Err(array.too_large(limit)),
        Intake::TooLarge { drained: false } => Err(closing(array.too_large(limit))),
        Intake::Broken => Err(closing(array.unreadable())),
    }
}

/// The most bytes the route of `method path` takes: `/sim/` data writes move up to
/// `MAX_CHUNK`, every other request up to the array's limit.
fn limit<T: Front>(array: &T, method: &Method, path: &str) -> usize {
    let data_write = method == Method::PUT && path.starts_with("/sim/volumes/") && path.ends_with("/data");
    if data_write {
        MAX_CHUNK
    } else {
        array.body_limit()
    }
}

async fn intake(mut body: Body, limit: usize) -> Intake {
    let mut kept = Vec::new();
    loop {
        match next_data(&mut body).await {
            Ok(Some(chunk)) if kept.len() + chunk.len() <= limit => kept.extend_from_slice(&chunk),
            Ok(Some(_)) => break,
            Ok(None) => return Intake::Whole(kept),
            Err(()) => return Intake::Broken,
        }
    }
    drop(kept);
    let drain = async {
        let mut discarded = 0u64;
        while discarded <= DRAIN_MAX {
            match next_data(&mut body).await {
                Ok(Some(chunk)) => discarded += chunk.len() as u64,
                Ok(None) => return true,
                Err(()) => return false,
            }
        }
        false
    };
    Intake::TooLarge { drained: tokio::time::timeout(DRAIN_TIME, drain).await.unwrap_or(false) }
}

/// The next data chunk of `body` (trailers skipped), `None` at its end.
async fn next_data(body: &mut Body) -> Result<Option<axum::body::Bytes>, ()> {
    loop {
        match poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await {
            None => return Ok(None),
            Some(Err(_)) => return Err(()),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}

/// Tells an HTTP/1.1 client the connection ends after this answer (HTTP/2 drops the header
/// and resets only the stream).
fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
