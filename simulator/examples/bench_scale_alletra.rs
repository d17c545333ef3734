//! Scale benchmark of `alletra-sim` (not a test), beside `bench_scale` for PowerFlex: request
//! latency on an empty array and on one filled to its volume limit (65,535 by default), side
//! by side in one run.
//!
//! ```text
//! cargo run --release -p powerflex-sim --example bench_scale_alletra
//! ```
//!
//! Two arrays run in this process: one stays empty, the other is filled through
//! `Array::execute` (the path WSAPI requests take, minus HTTP), in trees of a base volume and
//! 255 virtual copies. Every timed request goes over HTTPS with a session key, to both arrays
//! in turn (`common/scale.rs`). The ratio column is filled / empty: near 1 means the request
//! does not grow with the number of volumes. Requests that create also delete, so the filled
//! array stays at its limit. Memory as in `bench_scale`.

#[path = "common/scale.rs"]
mod scale;

use std::sync::Arc;
use std::time::Instant;

use powerflex_sim::alletra::gateway::sessions::SessionConfig;
use powerflex_sim::alletra::gateway::Array;
use powerflex_sim::alletra::model::topology::Topology;
use powerflex_sim::alletra::model::{Command, NewSnapshot, NewVolume, Provisioning};
use powerflex_sim::alletra::server::{ServeConfig, Server};
use powerflex_sim::dataplane::PlaneKind;
use powerflex_sim::serving::TlsSetting;
use reqwest::Method;
use scale::{paired, Outcome, EMPTY, FILLED};
use serde_json::{json, Value};

/// The allocator `alletra-sim` runs with, so the memory figure is the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Virtual copies per tree when filling (the array allows 500).
const COPIES: usize = 255;
/// What a timed request creates before it deletes it: room the fill leaves.
const HEADROOM: usize = 2;
const PROBE: &str = "probe";
const HOST: &str = "bench-host";

/// One array and what the timed requests use on it.
struct Side {
    array: Arc<Array>,
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Side {
    /// Starts an array (its certificate in `dir`), logs in, and makes the probe volume, a
    /// virtual copy of it, and a host.
    async fn start(dir: &std::path::Path) -> Side {
        let server = Server::bind(ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            topology: Topology::default_embedded(),
            state_dir: None,
            sessions: SessionConfig::default(),
            seed: Some(1),
            tls: TlsSetting::SelfSigned(dir.join("tls")),
            data_plane: PlaneKind::None,
            fsync: false,
            broken: Default::default(),
            faults: Vec::new(),
        })
        .await
        .expect("server");
        let array = server.array().clone();
        let http = scale::client_trusting(server.ca_cert.as_ref().expect("TLS is on"));
        let url = server.url.clone();
        tokio::spawn(server.run(std::future::pending()));
        let credentials = json!({"user": "3paradm", "password": "3pardata"});
        let login: Value = http
            .post(format!("{url}/api/v1/credentials"))
            .json(&credentials)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let key = login["key"].as_str().expect("session key").to_string();
        let side = Side { array, http, url, key };
        side.call(Method::POST, "/volumes", Some(volume(PROBE))).await;
        side.call(Method::POST, &format!("/volumes/{PROBE}"), Some(snapshot(&format!("{PROBE}-s")))).await;
        let nqn = "nqn.2014-08.org.nvmexpress:uuid:bench";
        side.call(Method::POST, "/hosts", Some(json!({"name": HOST, "NQN": nqn, "transportType": 2}))).await;
        side
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/api/v1{path}", self.url);
        scale::send(self.http.request(method, url).header("X-HP3PAR-WSAPI-SessionKey", &self.key), path, body).await
    }
}

/// Times the request mix on both arrays.
async fn measure(sides: [&Side; 2]) -> Vec<scale::Figure> {
    let copy_of = format!("/volumes?query=%22copyOf%20EQ%20{PROBE}%22");
    vec![
        paired("GET /volumes/{name}", sides, |s, _| async move {
            s.call(Method::GET, &format!("/volumes/{PROBE}"), None).await;
        })
        .await,
        paired("GET /volumes?query=\"copyOf EQ …\"", sides, |s, _| {
            let copy_of = &copy_of;
            async move {
                s.call(Method::GET, copy_of, None).await;
            }
        })
        .await,
        paired("POST /volumes + DELETE", sides, |s, i| async move {
            let name = format!("c-{i}");
            s.call(Method::POST, "/volumes", Some(volume(&name))).await;
            s.call(Method::DELETE, &format!("/volumes/{name}"), None).await;
        })
        .await,
        paired("createSnapshot + DELETE", sides, |s, i| async move {
            let name = format!("s-{i}");
            s.call(Method::POST, &format!("/volumes/{PROBE}"), Some(snapshot(&name))).await;
            s.call(Method::DELETE, &format!("/volumes/{name}"), None).await;
        })
        .await,
        paired("POST /vluns + DELETE /vluns", sides, |s, _| async move {
            s.call(Method::POST, "/vluns", Some(json!({"volumeName": PROBE, "hostname": HOST, "lun": 1}))).await;
            s.call(Method::DELETE, &format!("/vluns/{PROBE},1,{HOST}"), None).await;
        })
        .await,
        paired("grow (PUT action 3)", sides, |s, _| async move {
            s.call(Method::PUT, &format!("/volumes/{PROBE}"), Some(json!({"action": 3, "sizeMiB": 256}))).await;
        })
        .await,
    ]
}

fn volume(name: &str) -> Value {
    json!({"name": name, "cpg": "SSD_r6", "sizeMiB": 1024, "tpvv": true})
}

fn snapshot(name: &str) -> Value {
    json!({"action": "createSnapshot", "parameters": {"name": name, "readOnly": false}})
}

/// Fills the array to its volume limit, less the headroom, in trees of a base volume and
/// `COPIES` virtual copies.
async fn fill(array: &Arc<Array>) {
    let room = |array: &Arc<Array>| array.read().limits().max_volumes - array.read().volume_count() - HEADROOM;
    let mut tree = 0;
    while room(array) > 0 {
        let base = format!("f{tree}");
        let new = NewVolume::plain(&base, "SSD_r6", 1024, Provisioning::Thin);
        array.execute(Command::CreateVolume(new)).await.expect("fill");
        for copy in 0..COPIES.min(room(array)) {
            let snapshot = NewSnapshot { name: format!("f{tree}-{copy}"), read_only: false, ..Default::default() };
            array.execute(Command::CreateSnapshot { parent: base.clone(), snapshot }).await.expect("fill copies");
        }
        tree += 1;
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sides = [Side::start(&dir.path().join("empty")).await, Side::start(&dir.path().join("filled")).await];
    let empty_rss = scale::resident_mib();
    let started = Instant::now();
    fill(&sides[FILLED].array).await;
    let fill_time = started.elapsed();
    let filled_rss = scale::resident_mib();
    let figures = measure([&sides[EMPTY], &sides[FILLED]]).await;
    let volumes = sides[FILLED].array.read().volume_count();
    scale::print("alletra-sim scale benchmark", &Outcome { figures, empty_rss, filled_rss, fill_time, volumes });
}
