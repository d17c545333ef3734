//! The floor for `scripts/bench-gateway.sh`: a server on the simulator's own serving code
//! (`serving::Endpoint`: the listener, rustls with ring, the same certificate setup, the
//! per-connection switch, the graceful stop) that answers every GET with one constant body
//! and does nothing else. What the simulator costs beyond it is its gateway's.
//!
//! ```text
//! cargo run --release -p powerflex-sim --example floor_server -- 127.0.0.1:9443 DIR BODY_FILE
//! ```
//!
//! `DIR` holds the certificates (made on first use, as `pflex-sim --state-dir` does);
//! `BODY_FILE` is the body to answer with, e.g. a Volume as the simulator renders it.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use powerflex_sim::serving::{Endpoint, TlsSetting};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: floor_server LISTEN CERT_DIR BODY_FILE";
    let listen: std::net::SocketAddr = args.next().expect(usage).parse().expect("listen address");
    let dir = std::path::PathBuf::from(args.next().expect(usage));
    let body: &'static str =
        Box::leak(std::fs::read_to_string(args.next().expect(usage)).expect("body").into_boxed_str());
    let answer = move || async move {
        let mut response: Response = body.into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    };
    let app = Router::new().fallback(get(answer));
    println!("floor: https://{listen}");
    let endpoint = Endpoint::bind(listen, &TlsSetting::SelfSigned(dir)).expect("listener and certificates");
    endpoint.serve(app, std::future::pending()).await.expect("serving");
}

/// mimalloc rather than glibc malloc: the request path allocates and frees small buffers on
/// both worker threads, which glibc's arenas made a tenth of a GET's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
