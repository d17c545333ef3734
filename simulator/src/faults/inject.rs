//! Applying the rules to a request: called by the front door (`crate::front`) after the body
//! intake, so a rule can read the body; never for `/sim/`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::sever::Sever;
use super::{Hit, Injected, Seen};
use crate::front::Front;

/// Whether a path is the admin surface, which faults never touch: tests and harnesses must
/// be able to see and clear faults, and check health, whatever the rules say.
fn exempt(path: &str) -> bool {
    path == "/sim" || path.starts_with("/sim/")
}

/// Applies the rules to `request` (its body already read whole by the front door), then
/// passes it on unless a rule answers instead.
pub async fn inject<T: Front>(target: &T, request: Request, next: Next) -> Response {
    let faults = target.faults();
    if faults.is_empty() || exempt(request.uri().path()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let (body, json) = if faults.needs_body(&parts.method, parts.uri.path()) {
        match axum::body::to_bytes(body, target.body_limit()).await {
            Ok(bytes) => {
                let json = serde_json::from_slice::<Value>(&bytes).ok();
                (Body::from(bytes), json)
            }
            // Too large (or broken off): the answer the array gives such a body anyway.
            Err(_) => return target.error_answer(StatusCode::PAYLOAD_TOO_LARGE, None, None),
        }
    } else {
        (body, None)
    };
    let hits = faults.decide(&Seen { method: &parts.method, path: parts.uri.path(), body: json.as_ref() });
    for hit in &hits {
        log(hit, &parts);
    }
    let delay: Duration =
        hits.iter().filter_map(|h| if let Injected::Delay(d) = h.injected { Some(d) } else { None }).sum();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let last = hits.into_iter().last().map(|h| h.injected);
    match last {
        None | Some(Injected::Delay(_)) => next.run(Request::from_parts(parts, body)).await,
        Some(Injected::Error { status, html, code, message }) => {
            let status = StatusCode::from_u16(status).expect("rules hold valid statuses");
            if html {
                ingress_page(status)
            } else {
                target.error_answer(status, code, message.as_deref())
            }
        }
        Some(Injected::Drop) => {
            let sever = parts.extensions.get::<Sever>().cloned();
            let response = next.run(Request::from_parts(parts, body)).await;
            match sever {
                Some(sever) => sever.sever(),
                None => tracing::error!("fault: no connection switch on this request; the answer is sent"),
            }
            response
        }
        Some(Injected::Revoke) => {
            let headers = parts.headers.clone();
            let response = next.run(Request::from_parts(parts, body)).await;
            if !target.revoke_session(&headers) {
                tracing::warn!("fault: the request presented no live session to revoke");
            }
            response
        }
    }
}

/// One line per injected fault, with the request it hit (method and path; never headers or
/// bodies, which carry credentials).
fn log(hit: &Hit, request: &axum::http::request::Parts) {
    let what = match &hit.injected {
        Injected::Delay(d) => format!("latency {} ms", d.as_millis()),
        Injected::Error { status, html: true, .. } => format!("error {status} (html)"),
        Injected::Error { status, .. } => format!("error {status}"),
        Injected::Drop => "drop after the change (no answer)".into(),
        Injected::Revoke => "revoke the session after the answer".into(),
    };
    tracing::warn!(rule = hit.rule, "fault injected: {what} on {} {}", request.method, request.uri.path());
}

/// What an ingress (nginx, as in front of PowerFlex 4.x) answers itself when the service
/// behind it fails or is away.
fn ingress_page(status: StatusCode) -> Response {
    let title = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("Error"));
    let body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n\
         <hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}
