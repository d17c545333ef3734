//! Scale benchmark of `alletra-sim` (not a test), beside `bench_scale` for PowerFlex: request
//! latency on an empty array and on one filled to its volume limit (65,535 by default), side
//! by side in one run.
//!
//! ```text
//! cargo run --release -p powerflex-sim --example bench_scale_alletra
//! ```
//!
//! The array is filled through `Array::execute` (the path WSAPI requests take, minus HTTP), in
//! trees of a base volume and 255 virtual copies, then every timed request goes over HTTPS with
//! a session key. The ratio column is filled / empty: near 1 means the request does not grow
//! with the number of volumes. Memory and the alternating repeats as in `bench_scale`
//! (`common/scale.rs`).

#[path = "common/scale.rs"]
mod scale;

use std::sync::Arc;

use powerflex_sim::alletra::gateway::sessions::SessionConfig;
use powerflex_sim::alletra::gateway::Array;
use powerflex_sim::alletra::model::topology::Topology;
use powerflex_sim::alletra::model::{Command, NewSnapshot, NewVolume, Provisioning};
use powerflex_sim::alletra::server::{ServeConfig, Server};
use powerflex_sim::dataplane::PlaneKind;
use powerflex_sim::serving::TlsSetting;
use reqwest::Method;
use scale::{median, Figures, ROUNDS};
use serde_json::{json, Value};

/// The allocator `alletra-sim` runs with, so the memory figure is the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Virtual copies per tree when filling (the array allows 500).
const COPIES: usize = 255;

struct Api {
    http: reqwest::Client,
    url: String,
    /// A reset ends every session: the key is replaced after each.
    key: std::sync::Mutex<String>,
}

impl Api {
    async fn login(&self) {
        let credentials = json!({"user": "3paradm", "password": "3pardata"});
        let url = format!("{}/api/v1/credentials", self.url);
        let login: Value = self.http.post(url).json(&credentials).send().await.unwrap().json().await.unwrap();
        *self.key.lock().unwrap() = login["key"].as_str().expect("session key").to_string();
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let key = self.key.lock().unwrap().clone();
        let mut req =
            self.http.request(method, format!("{}/api/v1{path}", self.url)).header("X-HP3PAR-WSAPI-SessionKey", key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let value: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }
}

/// Times the request mix against the array as it stands. `tag` keeps names unique.
async fn measure(api: &Api, tag: &str) -> Figures {
    let probe = &format!("probe-{tag}");
    let volume = |name: &str| json!({"name": name, "cpg": "SSD_r6", "sizeMiB": 1024, "tpvv": true});
    api.call(Method::POST, "/volumes", Some(volume(probe))).await;
    api.call(Method::POST, &format!("/volumes/{probe}"), Some(snapshot(&format!("{probe}-s")))).await;
    let host = format!("h-{tag}");
    let nqn = format!("nqn.2014-08.org.nvmexpress:uuid:bench-{tag}");
    api.call(Method::POST, "/hosts", Some(json!({"name": host, "NQN": nqn, "transportType": 2}))).await;
    let copy_of = format!("/volumes?query=%22copyOf%20EQ%20{probe}%22");
    let mut out = Vec::new();
    out.push((
        "GET /volumes/{name}",
        median(|_| async {
            api.call(Method::GET, &format!("/volumes/{probe}"), None).await;
        })
        .await,
    ));
    out.push((
        "GET /volumes?query=\"copyOf EQ …\"",
        median(|_| async {
            api.call(Method::GET, &copy_of, None).await;
        })
        .await,
    ));
    out.push((
        "POST /volumes",
        median(|i| {
            let body = volume(&format!("c-{tag}-{i}"));
            async move {
                api.call(Method::POST, "/volumes", Some(body)).await;
            }
        })
        .await,
    ));
    out.push((
        "createSnapshot + DELETE",
        median(|i| async move {
            let name = format!("s-{tag}-{i}");
            api.call(Method::POST, &format!("/volumes/{probe}"), Some(snapshot(&name))).await;
            api.call(Method::DELETE, &format!("/volumes/{name}"), None).await;
        })
        .await,
    ));
    out.push((
        "POST /vluns + DELETE /vluns",
        median(|_| async {
            api.call(Method::POST, "/vluns", Some(json!({"volumeName": probe, "hostname": host, "lun": 1}))).await;
            api.call(Method::DELETE, &format!("/vluns/{probe},1,{host}"), None).await;
        })
        .await,
    ));
    out.push((
        "grow (PUT action 3)",
        median(|_| async {
            api.call(Method::PUT, &format!("/volumes/{probe}"), Some(json!({"action": 3, "sizeMiB": 256}))).await;
        })
        .await,
    ));
    out
}

fn snapshot(name: &str) -> Value {
    json!({"action": "createSnapshot", "parameters": {"name": name, "readOnly": false}})
}

/// Fills the array to its volume limit, less what the two `measure` runs of a repeat create,
/// in trees of a base volume and `COPIES` virtual copies.
async fn fill(array: &Arc<Array>) -> usize {
    let reserve = 2 * (ROUNDS + 4);
    let room = |array: &Arc<Array>| array.read().limits().max_volumes - array.read().volume_count() - reserve;
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
    array.read().volume_count()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::bind(ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        topology: Topology::default_embedded(),
        state_dir: None,
        sessions: SessionConfig::default(),
        seed: Some(1),
        tls: TlsSetting::SelfSigned(dir.path().join("tls")),
        data_plane: PlaneKind::None,
        fsync: false,
        broken: Default::default(),
        faults: Vec::new(),
    })
    .await
    .expect("server");
    let array = server.array().clone();
    let ca = std::fs::read(server.ca_cert.as_ref().unwrap()).unwrap();
    let url = server.url.clone();
    tokio::spawn(server.run(std::future::pending()));
    let http =
        reqwest::Client::builder().add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap()).build().unwrap();
    let api = Api { http, url, key: Default::default() };

    let outcome = scale::alternate(
        || async {
            array.reset(Some(1)).await.expect("reset");
            api.login().await;
        },
        |tag| {
            let api = &api;
            async move { measure(api, &tag).await }
        },
        || fill(&array),
    )
    .await;
    scale::print("alletra-sim scale benchmark", &outcome);
}
