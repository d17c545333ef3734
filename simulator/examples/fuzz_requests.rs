//! Fuzz run (not a test): many malformed and oversized requests against an in-process
//! simulator over raw TLS, each on its own connection; counts the requests that got a whole
//! answer (a status line and the full body) and lists those that did not.
//!
//! ```text
//! cargo run --release -p powerflex-sim --example fuzz_requests -- [REQUESTS, default 2000] [SEED]
//! ```
//!
//! A client that stops mid-request-head and hangs up is not in the mix: it sent no request,
//! and servers close such connections silently.

#[path = "../tests/raw/mod.rs"]
mod raw;

use std::collections::BTreeMap;

use powerflex_sim::testing::TestGateway;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use raw::Conn;

const MIB: usize = 1024 * 1024;
const PATHS: &[&str] = &[
    "/api/types/Volume/instances",
    "/api/instances/Volume::0000000000000001",
    "/api/instances/Volume::zz/action/removeVolume",
    "/api/instances/System/action/snapshotVolumes",
    "/sim/volumes/0000000000000001/data?host=1&offset=0",
    "/rest/auth/login",
    "/api/login",
    "/no/such/path",
];

/// One malformed or oversized request: a name for the tally, the bytes, and whether the
/// client ends its sending side after them (to announce more body than it sends).
fn request(rng: &mut StdRng, token: &str) -> (&'static str, Vec<u8>, bool) {
    let path = PATHS[rng.random_range(0..PATHS.len())];
    let method = ["GET", "POST", "PUT", "DELETE", "PATCH"][rng.random_range(0..5)];
    let auth = if rng.random_bool(0.5) { format!("Bearer {token}") } else { "Bearer expired".into() };
    let head =
        |extra: &str| format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n{extra}\r\n");
    let with_body = |len: usize, byte: u8| {
        let mut bytes = head(&format!("Content-Length: {len}\r\n")).into_bytes();
        bytes.resize(bytes.len() + len, byte);
        bytes
    };
    match rng.random_range(0..12) {
        0 => ("garbage bytes", (0..rng.random_range(1..4096)).map(|_| rng.random()).collect(), false),
        1 => ("bad request line", b"GET\x01/ HTTP/1.1 extra\r\nHost: x\r\n\r\n".to_vec(), false),
        2 => ("unknown HTTP version", format!("GET {path} HTTP/7.3\r\nHost: x\r\n\r\n").into_bytes(), false),
        3 => ("header line without colon", head("this is not a header\r\n").into_bytes(), false),
        4 => (
            "huge header",
            head(&format!("X-Big: {}\r\n", "a".repeat(rng.random_range(64..1024) * 1024))).into_bytes(),
            false,
        ),
        5 => ("non-numeric Content-Length", head("Content-Length: twelve\r\n").into_bytes(), false),
        6 => (
            "bad chunk size",
            head("Transfer-Encoding: chunked\r\n")
                .into_bytes()
                .into_iter()
                .chain(*b"zz\r\nhello\r\n0\r\n\r\n")
                .collect(),
            false,
        ),
        7 => {
            let sent = rng.random_range(1..1000);
            let mut bytes = head(&format!("Content-Length: {}\r\n", sent + 100)).into_bytes();
            bytes.resize(bytes.len() + sent, b'{');
            ("body shorter than announced, then EOF", bytes, true)
        }
        8 => ("oversized body", with_body(rng.random_range(MIB + 1..20 * MIB), b' '), false),
        9 => ("invalid JSON body", with_body(rng.random_range(1..2000), b'{'), false),
        10 => (
            "body on a GET",
            {
                let mut bytes =
                    format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: 100\r\n\r\n")
                        .into_bytes();
                bytes.extend([b'x'; 100]);
                bytes
            },
            false,
        ),
        _ => (
            "very long path",
            format!("GET /api/{} HTTP/1.1\r\nHost: x\r\n\r\n", "v".repeat(rng.random_range(1..64) * 1024)).into_bytes(),
            false,
        ),
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().map_or(2000, |n| n.parse().expect("REQUESTS"));
    let seed: u64 = args.next().map_or(1, |n| n.parse().expect("SEED"));
    let gw = TestGateway::start().await;
    let token = {
        let mut conn = Conn::open(&gw.url, &gw.ca_cert_pem).await;
        let body = format!("{{\"username\":\"{}\",\"password\":\"{}\"}}", gw.user, gw.password);
        let head = format!("POST /rest/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        conn.send_raw(head.as_bytes()).await.expect("login");
        conn.answer().await.json()["access_token"].as_str().expect("token").to_string()
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for n in 0..requests {
        let (kind, bytes, hang_up) = request(&mut rng, &token);
        let mut conn = Conn::open(&gw.url, &gw.ca_cert_pem).await;
        let outcome = async {
            conn.send_raw(&bytes).await?;
            if hang_up {
                conn.finish_sending().await;
            }
            conn.try_answer().await
        }
        .await;
        let entry = tally.entry(kind).or_default();
        entry.0 += 1;
        match outcome {
            Ok(answer) => {
                entry.1 += 1;
                *statuses.entry(answer.status).or_default() += 1;
            }
            Err(e) => failures.push(format!("#{n} {kind}: {e}")),
        }
    }
    println!("# fuzz run: {requests} malformed or oversized requests, seed {seed}\n");
    println!("| request | sent | answered |\n|---|---|---|");
    for (kind, (sent, answered)) in &tally {
        println!("| {kind} | {sent} | {answered} |");
    }
    println!("\nstatuses: {statuses:?}");
    println!("unanswered: {}", failures.len());
    for f in failures.iter().take(20) {
        println!("  {f}");
    }
    gw.stop().await;
    if !failures.is_empty() {
        std::process::exit(1);
    }
}
