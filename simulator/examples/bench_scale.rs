//! Scale benchmark (not a test): request latency on an empty system and on one filled to the
//! system limit (131,072 volumes), side by side in one run.
//!
//! ```text
//! cargo run --release -p powerflex-sim --example bench_scale
//! ```
//!
//! The system is filled through `Gateway::execute` (the same path HTTP requests take, minus
//! HTTP), then every timed request goes over HTTPS. Each figure is the median of many requests.
//! The ratio column is filled / empty: near 1 means the request does not grow with the number
//! of volumes. The resident memory (`VmRSS`, the whole process: server and the client timing
//! it) is read on the empty and on the filled system.
//!
//! On a shared machine one empty run and one filled run differ by more than the 10% this is
//! to show (a quiet moment or a busy one), so the benchmark alternates: `REPEATS` times it
//! resets to an empty system, measures, fills, measures; each figure is the median over the
//! repeats, so drift on the machine falls on both columns alike.

use std::time::{Duration, Instant};

use powerflex_sim::dataplane::PlaneKind;
use powerflex_sim::gateway::auth::AuthConfig;
use powerflex_sim::model::topology::Topology;
use powerflex_sim::model::{Command, Id, Provisioning, Reply};
use powerflex_sim::server::{ServeConfig, Server, TlsSetting};
use serde_json::{json, Value};

const GIB_KB: u64 = 1024 * 1024;
const ROUNDS: usize = 200;
const REPEATS: usize = 5;

struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.url)).bearer_auth(&self.token);
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

/// This process's resident memory in MiB (`VmRSS` of /proc/self/status).
fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb / 1024.0
}

/// The median time of `ROUNDS` runs of `f(i)`.
async fn median<F, Fut>(mut f: F) -> Duration
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let started = Instant::now();
        f(i).await;
        times.push(started.elapsed());
    }
    times.sort();
    times[ROUNDS / 2]
}

/// Times the request mix against the server as it stands. `tag` keeps names unique.
async fn measure(api: &Api, pool: &str, system: &str, tag: &str) -> Vec<(&'static str, Duration)> {
    let probe: Value = api
        .call(
            reqwest::Method::POST,
            "/api/types/Volume/instances",
            Some(json!({"storagePoolId": pool, "name": format!("probe-{tag}"), "volumeSizeInGb": "8"})),
        )
        .await;
    let probe = probe["id"].as_str().expect("id").to_string();
    let host: Value = api
        .call(
            reqwest::Method::POST,
            "/api/types/Host/instances",
            Some(json!({"nqn": format!("nqn.2014-08.org.nvmexpress:uuid:bench-{tag}")})),
        )
        .await;
    let host = host["id"].as_str().expect("id").to_string();
    let mut out = Vec::new();
    out.push((
        "GET Volume::{id}",
        median(|_| async {
            api.call(reqwest::Method::GET, &format!("/api/instances/Volume::{probe}"), None).await;
        })
        .await,
    ));
    out.push((
        "queryIdByKey (volume name)",
        median(|_| async {
            api.call(
                reqwest::Method::POST,
                "/api/types/Volume/instances/action/queryIdByKey",
                Some(json!({"name": format!("probe-{tag}")})),
            )
            .await;
        })
        .await,
    ));
    out.push((
        "create volume",
        median(|i| {
            let body = json!({"storagePoolId": pool, "name": format!("c-{tag}-{i}"), "volumeSizeInGb": "8"});
            async move {
                api.call(reqwest::Method::POST, "/api/types/Volume/instances", Some(body)).await;
            }
        })
        .await,
    ));
    out.push((
        "snapshotVolumes + removeVolume",
        median(|_| async {
            let snap = api
                .call(
                    reqwest::Method::POST,
                    &format!("/api/instances/System::{system}/action/snapshotVolumes"),
                    Some(json!({"snapshotDefs": [{"volumeId": probe}]})),
                )
                .await;
            let id = snap["volumeIdList"][0].as_str().expect("id").to_string();
            api.call(
                reqwest::Method::POST,
                &format!("/api/instances/Volume::{id}/action/removeVolume"),
                Some(json!({"removeMode": "ONLY_ME"})),
            )
            .await;
        })
        .await,
    ));
    out.push((
        "addMappedHost + removeMappedHost",
        median(|_| async {
            let path = format!("/api/instances/Volume::{probe}/action/");
            api.call(reqwest::Method::POST, &format!("{path}addMappedHost"), Some(json!({"hostId": host}))).await;
            api.call(reqwest::Method::POST, &format!("{path}removeMappedHost"), Some(json!({"hostId": host}))).await;
        })
        .await,
    ));
    out.push((
        "setVolumeSize",
        median(|i| {
            let path = format!("/api/instances/Volume::{probe}/action/setVolumeSize");
            async move {
                let size = 16 + 8 * i;
                api.call(reqwest::Method::POST, &path, Some(json!({"sizeInGB": size.to_string()}))).await;
            }
        })
        .await,
    ));
    out
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
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
        tls: TlsSetting::SelfSigned(dir.path().join("tls")),
        data_plane: PlaneKind::None,
        fsync: false,
        broken: Default::default(),
        faults: Vec::new(),
    })
    .await
    .expect("server");
    let gateway = server.gateway().clone();
    let ca = std::fs::read(server.ca_cert.as_ref().unwrap()).unwrap();
    let url = server.url.clone();
    tokio::spawn(server.run(std::future::pending()));
    let http =
        reqwest::Client::builder().add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap()).build().unwrap();
    let login: Value = http
        .post(format!("{url}/rest/auth/login"))
        .json(&json!({"username": "admin", "password": "Password123!"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let api = Api { http, url, token: login["access_token"].as_str().unwrap().to_string() };
    let (pools, system) = {
        let model = gateway.read();
        let pools: Vec<_> = model.pools().map(|p| (p.id, p.protection_domain)).collect();
        (pools, model.system().id.to_string())
    };
    let pool = pools[0].0.to_string();
    assert_eq!(pools.len(), 4, "one pool per domain");

    let (mut empty, mut filled) = (Vec::new(), Vec::new());
    let (mut empty_rss, mut filled_rss, mut fill_time, mut volumes) = (0.0, 0.0, Duration::ZERO, 0);
    for repeat in 0..REPEATS {
        gateway.reset(Some(1)).await.expect("reset");
        let empty_rss_now = resident_mib();
        empty.push(measure(&api, &pool, &system, &format!("empty{repeat}")).await);
        let started = Instant::now();
        fill(&gateway, &pools).await;
        fill_time = started.elapsed();
        volumes = gateway.read().volume_count();
        // Memory is read in the first repeat: later ones also hold what the allocator kept
        // from the system the reset dropped.
        if repeat == 0 {
            (empty_rss, filled_rss) = (empty_rss_now, resident_mib());
        }
        filled.push(measure(&api, &pool, &system, &format!("filled{repeat}")).await);
    }

    println!("pflex-sim scale benchmark: median of {ROUNDS} HTTPS requests each, median over {REPEATS} alternating empty/filled repeats (release build, none plane)");
    println!("filled to {volumes} volumes in {:.1} s", fill_time.as_secs_f64());
    println!("resident memory: {empty_rss:.0} MiB empty, {filled_rss:.0} MiB at {volumes} volumes");
    println!("{:<36} {:>12} {:>14} {:>7}", "request", "empty (µs)", "filled (µs)", "ratio");
    for (n, (name, _)) in empty[0].iter().enumerate() {
        let (e, f) = (across(&empty, n), across(&filled, n));
        println!("{name:<36} {e:>12.0} {f:>14.0} {:>7.2}", f / e);
    }
}

/// The median, in µs, of request `n`'s figure over the repeats.
fn across(runs: &[Vec<(&'static str, Duration)>], n: usize) -> f64 {
    let mut figures: Vec<f64> = runs.iter().map(|run| run[n].1.as_secs_f64() * 1e6).collect();
    figures.sort_by(f64::total_cmp);
    figures[figures.len() / 2]
}

/// Fills every domain to its 32,768 volumes (the measured pool's domain less what the two
/// `measure` runs of a repeat create), in VTrees of a base volume and up to 126 snapshots.
async fn fill(gateway: &std::sync::Arc<powerflex_sim::gateway::Gateway>, pools: &[(Id, Id)]) {
    let reserve = 2 * (ROUNDS + 4);
    for (n, (pool, _)) in pools.iter().enumerate() {
        let mut room = 32_768 - if n == 0 { reserve } else { 0 };
        while room > 0 {
            let reply = gateway
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
                gateway
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
