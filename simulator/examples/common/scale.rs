//! What both arrays' scale benchmarks share (`bench_scale`, `bench_scale_alletra`): timing a
//! request on an empty and a filled server side by side, the resident memory, and the table
//! they print.
//!
//! On a shared machine the latency of the same request drifts by more than the 10% a scale
//! benchmark is to show, within seconds (a neighbour's burst, a frequency step). Both servers
//! therefore run in one process the whole time, and every timed request on the empty one is
//! paired with the same request on the filled one, sent right after or right before it (the
//! order alternates, so neither side always meets a warm cache): drift falls on both columns
//! alike, and the medians compare like with like.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Timed requests per side and figure.
pub const ROUNDS: usize = 1000;

/// Which server a request goes to.
pub const EMPTY: usize = 0;
pub const FILLED: usize = 1;

/// One request's name and its median time on the empty and on the filled server.
pub type Figure = (&'static str, [Duration; 2]);

/// An HTTPS client that trusts the server's generated CA (`ca_cert`).
pub fn client_trusting(ca_cert: &Path) -> reqwest::Client {
    let ca = std::fs::read(ca_cert).expect("CA certificate");
    let ca = reqwest::Certificate::from_pem(&ca).expect("CA certificate");
    reqwest::Client::builder().add_root_certificate(ca).build().expect("client")
}

/// Sends `req` (to `path`) with `body` as JSON, asserts a success status, and returns the
/// answer's JSON (null when it has none).
pub async fn send(mut req: reqwest::RequestBuilder, path: &str, body: Option<Value>) -> Value {
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let value: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {value}");
    value
}

/// This process's resident memory in MiB (`VmRSS` of /proc/self/status).
pub fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb / 1024.0
}

/// The median times of `ROUNDS` runs of `f(side, i)` on each of `sides` (`[empty, filled]`),
/// the two runs of each `i` back to back.
pub async fn paired<'s, S, F, Fut>(name: &'static str, sides: [&'s S; 2], mut f: F) -> Figure
where
    F: FnMut(&'s S, usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut times = [Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS)];
    for i in 0..ROUNDS {
        let order = if i % 2 == 0 { [EMPTY, FILLED] } else { [FILLED, EMPTY] };
        for side in order {
            let started = Instant::now();
            f(sides[side], i).await;
            times[side].push(started.elapsed());
        }
    }
    (
        name,
        times.map(|mut t| {
            t.sort();
            t[ROUNDS / 2]
        }),
    )
}

/// What a benchmark measured.
pub struct Outcome {
    pub figures: Vec<Figure>,
    /// The process with both servers empty, and with one of them filled.
    pub empty_rss: f64,
    pub filled_rss: f64,
    pub fill_time: Duration,
    /// On the filled server, while measuring.
    pub volumes: usize,
}

/// Prints the outcome under `title`: memory, then each request's empty and filled medians
/// and their ratio (near 1: the request does not grow with the number of volumes).
pub fn print(title: &str, o: &Outcome) {
    println!(
        "{title}: median of {ROUNDS} HTTPS requests per server, each paired with the same request on the other \
         (release build, none plane)"
    );
    println!("filled to {} volumes in {:.1} s", o.volumes, o.fill_time.as_secs_f64());
    println!(
        "resident memory (the process, both servers): {:.0} MiB both empty, {:.0} MiB with one at {} volumes",
        o.empty_rss, o.filled_rss, o.volumes
    );
    println!("{:<36} {:>12} {:>14} {:>7}", "request", "empty (µs)", "filled (µs)", "ratio");
    for (name, [e, f]) in &o.figures {
        let (e, f) = (e.as_secs_f64() * 1e6, f.as_secs_f64() * 1e6);
        println!("{name:<36} {e:>12.0} {f:>14.0} {:>7.2}", f / e);
    }
}
