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
//! it, with the allocator `pflex-sim` uses) is read on the empty and on the filled system.
//! The alternating repeats and the table are `common/scale.rs`, shared with
//! `bench_scale_alletra`.

#[path = "common/scale.rs"]
mod scale;

use scale::{median, Figures, ROUNDS};

use powerflex_sim::dataplane::PlaneKind;
use powerflex_sim::gateway::auth::AuthConfig;
use powerflex_sim::model::topology::Topology;
use powerflex_sim::model::{Command, Id, Provisioning, Reply};
use powerflex_sim::server::{ServeConfig, Server, TlsSetting};
use serde_json::{json, Value};

const GIB_KB: u64 = 1024 * 1024;

/// The allocator `pflex-sim` runs with, so the memory figure is the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// Times the request mix against the server as it stands. `tag` keeps names unique.
async fn measure(api: &Api, pool: &str, system: &str, tag: &str) -> Figures {
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

    let outcome = scale::alternate(
        || async { gateway.reset(Some(1)).await.map(drop).expect("reset") },
        |tag| {
            let (api, pool, system) = (&api, &pool, &system);
            async move { measure(api, pool, system, &tag).await }
        },
        || async {
            fill(&gateway, &pools).await;
            gateway.read().volume_count()
        },
    )
    .await;
    scale::print("pflex-sim scale benchmark", &outcome);
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
