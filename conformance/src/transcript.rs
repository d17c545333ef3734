//! A recording reverse proxy between the harness and the gateway.
//!
//! The driver's `Client` has no hook for observing its requests, so the
//! harness points the driver (and its own raw calls) at a plain-HTTP proxy on
//! `127.0.0.1`, which forwards every request to the real gateway over TLS and
//! keeps the last exchanges of the current case. Reports show that transcript
//! beside each failure.
//!
//! The proxy can also replace the bearer token of the next request with a
//! dead one, so the gateway itself answers 401 the way it does for an expired
//! token; the token-expiry scenario uses that to watch the client log in again.
//! And it injects the faults of a step ([`Faults`]) for a gateway that has no
//! fault surface of its own.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;

use crate::faults::{Faults, ProxyFault};

/// The most exchanges kept per case.
pub const KEEP: usize = 60;
/// Bodies are cut to this many characters in transcripts.
pub const BODY_CHARS: usize = 2000;
/// A bearer token no gateway accepts.
pub const DEAD_TOKEN: &str = "pflex-conformance-expired-token";

/// One request and its response.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Exchange {
    /// Sequence number within the run.
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Request body (passwords redacted), cut to [`BODY_CHARS`].
    pub request: String,
    /// Response status.
    pub status: u16,
    /// Response body, cut to [`BODY_CHARS`].
    pub response: String,
    /// Milliseconds taken.
    pub millis: u64,
}

impl std::fmt::Display for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{} {} {}", self.seq, self.method, self.path)?;
        if !self.request.is_empty() {
            write!(f, " {}", self.request)?;
        }
        write!(f, "\n    -> {} {}", self.status, self.response)
    }
}

/// The shared transcript.
#[derive(Debug, Default)]
pub struct Recorder {
    log: Mutex<(u64, VecDeque<Exchange>)>,
    expire_next: AtomicBool,
}

impl Recorder {
    fn push(&self, mut e: Exchange) {
        let mut log = self.log.lock().expect("transcript lock");
        log.0 += 1;
        e.seq = log.0;
        log.1.push_back(e);
        while log.1.len() > KEEP {
            log.1.pop_front();
        }
    }

    /// Forgets the exchanges so far (a case starts).
    pub fn clear(&self) {
        self.log.lock().expect("transcript lock").1.clear();
    }

    /// The exchanges kept.
    pub fn snapshot(&self) -> Vec<Exchange> {
        self.log.lock().expect("transcript lock").1.iter().cloned().collect()
    }

    /// How many exchanges the run has made.
    pub fn total(&self) -> u64 {
        self.log.lock().expect("transcript lock").0
    }

    /// The next `/api` request goes out with a dead token.
    pub fn expire_next_token(&self) {
        self.expire_next.store(true, Ordering::SeqCst);
    }
}

/// Where the proxy forwards to and how.
#[derive(Clone)]
struct Upstream {
    base: String,
    http: reqwest::Client,
    recorder: Arc<Recorder>,
    faults: Arc<Faults>,
}

/// A running proxy.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`, to give clients as the gateway URL.
    pub url: String,
    /// The transcript.
    pub recorder: Arc<Recorder>,
    /// Fault injection into the steps (off unless enabled).
    pub faults: Arc<Faults>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Builds the reqwest client used towards the real gateway.
pub fn upstream_client(insecure: bool, ca_pem: Option<&[u8]>) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(std::time::Duration::from_secs(120))
        .danger_accept_invalid_certs(insecure);
    if let Some(pem) = ca_pem {
        for cert in reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("invalid CA file: {e}"))? {
            b = b.add_root_certificate(cert);
        }
    }
    b.build().map_err(|e| e.to_string())
}

/// Starts the proxy in front of `gateway` on an ephemeral loopback port.
pub async fn start(gateway: &str, http: reqwest::Client) -> std::io::Result<Proxy> {
    let recorder = Arc::new(Recorder::default());
    let faults = Arc::new(Faults::default());
    let up = Upstream {
        base: gateway.trim_end_matches('/').to_string(),
        http,
        recorder: recorder.clone(),
        faults: faults.clone(),
    };
    let app = axum::Router::new().fallback(forward).with_state(up);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Proxy { url: format!("http://{addr}"), recorder, faults, task })
}

/// Cuts text to [`BODY_CHARS`] characters.
pub fn cut(text: &str) -> String {
    let mut s: String = text.chars().take(BODY_CHARS).collect();
    if text.chars().count() > BODY_CHARS {
        s.push('…');
    }
    s
}

fn redact(path: &str, body: &str) -> String {
    // PowerFlex logs in at /api/login; the WSAPI at /api/v1/credentials.
    if path.contains("login") || path.contains("/credentials") {
        if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(body) {
            if let Some(p) = v.get_mut("password") {
                *p = serde_json::Value::String("<redacted>".into());
            }
            return v.to_string();
        }
    }
    body.to_string()
}

type Answer = (u16, Option<HeaderValue>, Option<HeaderValue>, Bytes);

/// An injected failure's answer: an ingress's page, or a 500 in the array's
/// error body (the WSAPI's under `/api/v1`, PowerFlex's elsewhere).
fn injected_answer(path: &str, status: u16, html: bool) -> Answer {
    let reason = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
    let (ctype, text) = if html {
        let page = format!(
            "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        );
        ("text/html", page)
    } else if path.starts_with("/api/v1/") {
        ("application/json", serde_json::json!({ "code": 1, "desc": reason }).to_string())
    } else {
        (
            "application/json",
            serde_json::json!({ "message": reason, "httpStatusCode": status, "errorCode": 0 }).to_string(),
        )
    };
    (status, Some(HeaderValue::from_static(ctype)), None, Bytes::from(text))
}

async fn forward(State(up): State<Upstream>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
    let url = format!("{}{}", up.base, path);
    let started = Instant::now();
    let mut req = up.http.request(method.clone(), &url).body(body.clone());
    // The WSAPI's session key travels in its own header.
    for name in ["authorization", "content-type", "accept", "x-hp3par-wsapi-sessionkey"] {
        if let Some(v) = headers.get(name) {
            let mut v = v.clone();
            if name == "authorization"
                && path.starts_with("/api/")
                && up.recorder.expire_next.swap(false, Ordering::SeqCst)
            {
                v = HeaderValue::from_str(&format!("Bearer {DEAD_TOKEN}")).expect("ascii");
            }
            req = req.header(name, v);
        }
    }
    let request_text = redact(&path, &String::from_utf8_lossy(&body));
    let fault = up.faults.draw();
    if let Some(ProxyFault::Delay(d)) = fault {
        tokio::time::sleep(d).await;
    }
    let sent = match fault {
        Some(ProxyFault::Answer { status, html }) => Err(injected_answer(&path, status, html)),
        _ => Ok(req.send().await),
    };
    let mut lost = None;
    let (status, ctype, location, bytes) = match sent {
        Err(answer) => answer,
        Ok(_) if fault == Some(ProxyFault::LoseAnswer) => injected_answer(&path, 502, true),
        Ok(Ok(resp)) => {
            let status = resp.status().as_u16();
            let ctype = resp.headers().get("content-type").cloned();
            // The WSAPI names a new vLUN's LUN in `Location`.
            let location = resp.headers().get("location").cloned();
            let bytes = resp.bytes().await.unwrap_or_default();
            (status, ctype, location, bytes)
        }
        // The gateway closed the connection unanswered (or could not be
        // reached): the client gets what an ingress answers then, the
        // transcript says what happened.
        Ok(Err(e)) => {
            lost = Some(format!("(no answer: the harness's proxy answered 502) {e}"));
            injected_answer(&path, 502, true)
        }
    };
    up.recorder.push(Exchange {
        seq: 0,
        method: method.to_string(),
        path,
        request: cut(&request_text),
        status,
        response: cut(&lost.unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned())),
        millis: started.elapsed().as_millis() as u64,
    });
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    if let Some(ct) = ctype {
        resp.headers_mut().insert("content-type", ct);
    }
    if let Some(l) = location {
        resp.headers_mut().insert("location", l);
    }
    resp
}
