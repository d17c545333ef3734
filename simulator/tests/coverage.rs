//! The coverage table: every PowerFlex type and action the studied clients call
//! (`coverage/clients.json`), probed through HTTPS against an in-process simulator and written
//! as `COVERAGE.md` at the repository root, so the table cannot drift from the router.
//!
//! An entry is "served" unless the answer is the router's own refusal: an unknown path
//! (404 "Not found"), an unknown action, a method the route lacks (405), or a type the
//! simulator takes from its topology only ("pflex-sim: ..."). A list or relationship that
//! answers `[]` although the probe system holds one object of every modelled type is
//! "empty": the route exists, the objects do not. Run with `UPDATE_COVERAGE=1` to rewrite the
//! committed table after a change, like insta's review.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write;

use common::*;
use powerflex_sim::model::topology::{SdcSpec, Topology};
use reqwest::Method;
use serde_json::{json, Value};

/// An id no object has: actions on it are refused by the object's own "not found" when the
/// action is served, by the router when it is not.
const NO_SUCH_ID: &str = "00000000000000ff";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Coverage {
    Served,
    Empty,
    NotServed,
}

impl Coverage {
    fn label(self) -> &'static str {
        match self {
            Coverage::Served => "served",
            Coverage::Empty => "empty",
            Coverage::NotServed => "**not served**",
        }
    }
}

fn classify(method: &str, reply: &Reply) -> Coverage {
    let (status, body) = (reply.0, &reply.2);
    let message = body["message"].as_str().unwrap_or_default();
    let refused = (status == 404 && message == "Not found" && body["errorCode"] == 0)
        || status == 405
        || (status == 400 && message.starts_with("Request failed: unknown action"))
        || (status == 400 && message.starts_with("pflex-sim:"));
    if refused {
        Coverage::NotServed
    } else if method == "GET" && *body == json!([]) {
        Coverage::Empty
    } else {
        Coverage::Served
    }
}

/// One object of every modelled type, and the ids and names probes use.
struct ProbeSystem {
    ids: BTreeMap<&'static str, String>,
    names: BTreeMap<&'static str, String>,
}

async fn probe_system() -> (TestGateway, Api, ProbeSystem) {
    let mut topology = Topology::default_embedded();
    topology.sdcs.push(SdcSpec {
        name: Some("probe_sdc".into()),
        guid: "5d1c0a2e-7b3f-4c6d-9e8f-0a1b2c3d4e5f".into(),
        ip: "127.0.0.31".into(),
        connected: true,
    });
    let (gw, api) = start_with(Options { topology, ..options() }).await;
    let pool = api.pool_id("sp1").await;
    let pd = api.pd_id("pd1").await;
    let volume = api.create_volume(&pool, "probe_vol", 8).await;
    api.snapshot(&volume, "probe_snap").await;
    let host = api
        .create_nvme_host("probe_host", "nqn.2014-08.org.nvmexpress:uuid:2c7e5b1a-8d3f-4e6a-b9c0-1d2e3f4a5b6c")
        .await;
    let sdc = api
        .get_ok("/api/types/Sdc/instances")
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "probe_sdc")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(api.volume_action(&volume, "addMappedSdc", json!({ "sdcId": sdc })).await);
    let vtree = api.volume(&volume).await["vtreeId"].as_str().unwrap().to_string();
    let sdt = api.get_ok("/api/types/Sdt/instances").await[0]["id"].as_str().unwrap().to_string();
    let mut ids = BTreeMap::new();
    ids.insert("System", api.system_id().await);
    ids.insert("ProtectionDomain", pd.clone());
    ids.insert("StoragePool", pool);
    ids.insert("Volume", volume);
    ids.insert("VTree", vtree);
    ids.insert("Sdc", sdc);
    ids.insert("Host", host);
    ids.insert("Sdt", sdt);
    let names = BTreeMap::from([
        ("Domain", "pd1".to_string()),
        ("Pool", format!("{pd},sp1")),
        ("Volume", "probe_vol".to_string()),
    ]);
    (gw, api, ProbeSystem { ids, names })
}

/// The path an entry is probed at. Reads use real objects; actions use an id no object has
/// (so nothing changes), except on the System, whose actions check the id first.
fn probe_path(system: &ProbeSystem, ty: &str, method: &str, path: &str) -> String {
    let id = match (method, system.ids.get(ty)) {
        ("GET", Some(id)) => id.as_str(),
        (_, Some(id)) if ty == "System" => id.as_str(),
        _ => NO_SUCH_ID,
    };
    let name = system.names.get(ty).map_or("probe", String::as_str);
    path.replace("{id}", id).replace("{name}", name)
}

#[tokio::test]
async fn coverage_table_matches_the_router() {
    let data: Value = serde_json::from_str(include_str!("../coverage/clients.json")).unwrap();
    let entries = data["entries"].as_array().unwrap();
    let (gw, api, system) = probe_system().await;
    let mut rows = Rows::new();
    let mut per_client: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for e in entries {
        let (ty, method, path) =
            (e["type"].as_str().unwrap(), e["method"].as_str().unwrap(), e["path"].as_str().unwrap());
        let clients: Vec<String> =
            e["clients"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
        let url = probe_path(&system, ty, method, path);
        // Logging out ends the session it uses: give it its own.
        let session = if path.ends_with("logout") { Api::connect(&gw).await } else { api.clone() };
        let request = session.request(Method::from_bytes(method.as_bytes()).unwrap(), &url);
        let request = if method == "GET" { request } else { request.json(&json!({})) };
        let coverage = classify(method, &session.send(request).await);
        for c in &clients {
            let counts = per_client.entry(c.clone()).or_default();
            counts.1 += 1;
            if coverage != Coverage::NotServed {
                counts.0 += 1;
            }
        }
        rows.entry(ty.to_string()).or_default().push(Row {
            method: method.to_string(),
            path: path.to_string(),
            coverage,
            clients,
        });
    }
    let markdown = render(&rows, &per_client);
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../COVERAGE.md");
    if std::env::var_os("UPDATE_COVERAGE").is_some() {
        std::fs::write(&file, &markdown).unwrap();
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == markdown,
        "COVERAGE.md is out of date with the router; run `UPDATE_COVERAGE=1 cargo test -p powerflex-sim --test coverage` and review the diff"
    );
}

/// One probed entry.
struct Row {
    method: String,
    path: String,
    coverage: Coverage,
    clients: Vec<String>,
}

/// The entries by type.
type Rows = BTreeMap<String, Vec<Row>>;

fn render(rows: &Rows, per_client: &BTreeMap<String, (usize, usize)>) -> String {
    let mut md = String::new();
    md.push_str("# PowerFlex API coverage\n\n");
    md.push_str(
        "Generated by `simulator/tests/coverage.rs` from `simulator/coverage/clients.json`; do not edit by hand.\n",
    );
    md.push_str(
        "Each entry is probed through HTTPS against `pflex-sim`. **served**: the route answers (reads from a\n",
    );
    md.push_str(
        "system holding one object of each modelled type, actions on an id no object has, so a served action\n",
    );
    md.push_str(
        "answers with its own validation or \"not found\"); **empty**: the route answers `[]` because the simulator\n",
    );
    md.push_str(
        "has no objects of that kind; **not served**: the router's unknown path, unknown action or topology-only\n",
    );
    md.push_str("refusal. Regenerate with `UPDATE_COVERAGE=1 cargo test -p powerflex-sim --test coverage`.\n\n");
    md.push_str("| client | served or empty | entries |\n|---|---|---|\n");
    for (client, (served, total)) in per_client {
        let _ = writeln!(md, "| {client} | {served} | {total} |");
    }
    for (ty, entries) in rows {
        let _ = writeln!(md, "\n## {ty}\n\n| method | path | coverage | clients |\n|---|---|---|---|");
        for Row { method, path, coverage, clients } in entries {
            let _ = writeln!(md, "| {method} | `{path}` | {} | {} |", coverage.label(), clients.join(", "));
        }
    }
    md
}
