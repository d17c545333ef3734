//! Scale benchmark (not a test): request latency on an empty system and on one filled to the
//! system limit (131,072 volumes), side by side in one run.
//!
//! ```text
//! cargo run --release -p powerflex-sim --example bench_scale
//! ```
//!
//! Two servers run in this process: one stays empty, the other is filled through
//! `Gateway::execute` (the same path HTTP requests take, minus HTTP). Every timed request goes
//! over HTTPS, to both servers in turn (`common/scale.rs`); each figure is the median of many.
//! The ratio column is filled / empty: near 1 means the request does not grow with the number
//! of volumes. Requests that create also remove, so the filled server stays at its limit. The
//! resident memory (`VmRSS`, the whole process: both servers and the client timing them, with
//! the allocator `pflex-sim` uses) is read before and after the fill.

#[path = "common/scale.rs"]
mod scale;

use std::sync::Arc;
use std::time::Instant;

use powerflex_sim::dataplane::PlaneKind;
use powerflex_sim::gateway::auth::AuthConfig;
use powerflex_sim::gateway::Gateway;
use powerflex_sim::model::topology::Topology;
use powerflex_sim::model::{Command, Id, Provisioning, Reply};
use powerflex_sim::server::{ServeConfig, Server, TlsSetting};
use reqwest::Method;
use scale::{paired, Outcome, EMPTY, FILLED};
use serde_json::{json, Value};

const GIB_KB: u64 = 1024 * 1024;

/// The system limit the filled server is filled to, less the probe and what a timed request
/// creates before it removes it.
const VOLUME_LIMIT: usize = 131_072;
const HEADROOM: usize = 4;

/// The allocator `pflex-sim` runs with, so the memory figure is the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One server and what the timed requests use on it.
struct Side {
    gateway: Arc<Gateway>,
    http: reqwest::Client,
    url: String,
    token: String,
    pools: Vec<Id>,
    system: String,
    probe: String,
    host: String,
}

impl Side {
    /// Starts a server (state in `dir`), logs in, and makes the probe volume and host.
    async fn start(dir: &std::path::Path) -> Side {
        let server = Server::bind(ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            // 131,072 volumes need four protection domains (32,768 each).
            topology: Topology::parse(
                r#"{"protectionDomains": [
                    {"name": "pd1", "storagePools": [{"name": "sp1", "capacityGb": 65536}]},
                    {"name": "pd2", "storagePools": [{"name": "sp2", "capacityGb": 65536}]},
                    {"name": "pd3", "storagePools": [{"name": "sp3", "capacityGb": 65536}]},
                    {"name": "pd4", "storagePools": [{"name": "sp4", "capacityGb": 65536}]}]}"#,
            )
            .expect("topology"),
            state_dir: None,
            auth: AuthConfig::default(),
            seed: Some(1),
            tls: TlsSetting::SelfSigned(dir.join("tls")),
            data_plane: PlaneKind::None,
            fsync: false,
            broken: Default::default(),
            faults: Vec::new(),
        })
        .await
        .expect("server");
        let gateway = server.gateway().clone();
        let http = scale::client_trusting(server.ca_cert.as_ref().expect("TLS is on"));
        let url = server.url.clone();
        tokio::spawn(server.run(std::future::pending()));
        let login: Value = http
            .post(format!("{url}/rest/auth/login"))
            .json(&json!({"username": "admin", "password": "Password123!"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["access_token"].as_str().unwrap().to_string();
        let (pools, system) = {
            let model = gateway.read();
            (model.pools().map(|p| p.id).collect::<Vec<_>>(), model.system().id.to_string())
        };
        assert_eq!(pools.len(), 4, "one pool per domain");
        let mut side = Side { gateway, http, url, token, pools, system, probe: String::new(), host: String::new() };
        let body = json!({"storagePoolId": side.pool(), "name": "probe", "volumeSizeInGb": "8"});
        side.probe = side.call(Method::POST, "/api/types/Volume/instances", Some(body)).await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let body = json!({"nqn": "nqn.2014-08.org.nvmexpress:uuid:bench"});
        side.host = side.call(Method::POST, "/api/types/Host/instances", Some(body)).await["id"]
            .as_str()
            .expect("id")
            .to_string();
        side
    }

    /// The pool the timed requests use.
    fn pool(&self) -> String {
        self.pools[0].to_string()
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        scale::send(self.http.request(method, format!("{}{path}", self.url)).bearer_auth(&self.token), path, body).await
    }

    async fn remove(&self, id: &str) {
        let path = format!("/api/instances/Volume::{id}/action/removeVolume");
        self.call(Method::POST, &path, Some(json!({"removeMode": "ONLY_ME"}))).await;
    }
}

/// Times the request mix on both servers.
async fn measure(sides: [&Side; 2]) -> Vec<scale::Figure> {
    vec![
        paired("GET Volume::{id}", sides, |s, _| async move {
            s.call(Method::GET, &format!("/api/instances/Volume::{}", s.probe), None).await;
        })
        .await,
        paired("queryIdByKey (volume name)", sides, |s, _| async move {
            let path = "/api/types/Volume/instances/action/queryIdByKey";
            s.call(Method::POST, path, Some(json!({"name": "probe"}))).await;
        })
        .await,
        paired("create volume + removeVolume", sides, |s, i| async move {
            let body = json!({"storagePoolId": s.pool(), "name": format!("c-{i}"), "volumeSizeInGb": "8"});
            let created = s.call(Method::POST, "/api/types/Volume/instances", Some(body)).await;
            s.remove(created["id"].as_str().expect("id")).await;
        })
        .await,
        paired("snapshotVolumes + removeVolume", sides, |s, _| async move {
            let path = format!("/api/instances/System::{}/action/snapshotVolumes", s.system);
            let snap = s.call(Method::POST, &path, Some(json!({"snapshotDefs": [{"volumeId": s.probe}]}))).await;
            s.remove(snap["volumeIdList"][0].as_str().expect("id")).await;
        })
        .await,
        paired("addMappedHost + removeMappedHost", sides, |s, _| async move {
            let path = format!("/api/instances/Volume::{}/action/", s.probe);
            s.call(Method::POST, &format!("{path}addMappedHost"), Some(json!({"hostId": s.host}))).await;
            s.call(Method::POST, &format!("{path}removeMappedHost"), Some(json!({"hostId": s.host}))).await;
        })
        .await,
        paired("setVolumeSize", sides, |s, i| async move {
            let path = format!("/api/instances/Volume::{}/action/setVolumeSize", s.probe);
            s.call(Method::POST, &path, Some(json!({"sizeInGB": (16 + 8 * i).to_string()}))).await;
        })
        .await,
    ]
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sides = [Side::start(&dir.path().join("empty")).await, Side::start(&dir.path().join("filled")).await];
    let empty_rss = scale::resident_mib();
    let started = Instant::now();
    fill(&sides[FILLED]).await;
    let fill_time = started.elapsed();
    let filled_rss = scale::resident_mib();
    let figures = measure([&sides[EMPTY], &sides[FILLED]]).await;
    let volumes = sides[FILLED].gateway.read().volume_count();
    scale::print("pflex-sim scale benchmark", &Outcome { figures, empty_rss, filled_rss, fill_time, volumes });
}

/// Fills every domain to its 32,768 volumes (the measured pool's domain less the headroom, the
/// probe among it), in VTrees of a base volume and up to 126 snapshots.
async fn fill(side: &Side) {
    let per_domain = VOLUME_LIMIT / side.pools.len();
    for (n, pool) in side.pools.iter().enumerate() {
        let mut room = per_domain - if n == 0 { HEADROOM } else { 0 };
        while room > 0 {
            let reply = side
                .gateway
                .execute(Command::CreateVolume {
                    pool: *pool,
                    domain: None,
                    name: None,
                    size_kb: 8 * GIB_KB,
                    provisioning: Provisioning::Thin,
                    use_rmcache: false,
                })
                .await
                .expect("fill");
            let Reply::Created(base) = reply else { unreachable!() };
            let snaps = 126.min(room - 1);
            if snaps > 0 {
                side.gateway
                    .execute(Command::SnapshotVolumes {
                        defs: (0..snaps).map(|_| (base, None)).collect(),
                        access_mode: powerflex_sim::model::AccessMode::ReadWrite,
                        retention_min: None,
                    })
                    .await
                    .expect("fill snapshots");
            }
            room -= 1 + snaps;
        }
    }
}
