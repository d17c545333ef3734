//! The fault surface (`--fault`, `/sim/faults`) on both emulators through a real HTTPS
//! client: each fault kind, seeded draws, flags, reset and restart, refused rules, and the
//! `/sim/` surface left alone.

mod common;
mod raw;

use std::time::{Duration, Instant};

use common::wsapi::Wsapi;
use common::{assert_error, assert_html_401, http_client, ok, read, spawn_program, Api, Options, Reply, TestGateway};
use powerflex_sim::alletra::testing::{Options as ArrayOptions, TestArray};
use powerflex_sim::faults::Rule;
use reqwest::Method;
use serde_json::{json, Value};

/// `/sim/faults` of either emulator, with its credentials as HTTP Basic.
struct Sim {
    http: reqwest::Client,
    url: String,
    user: String,
    password: String,
}

impl Sim {
    fn new(url: &str, ca_pem: &str, user: &str, password: &str) -> Sim {
        Sim { http: http_client(ca_pem), url: url.into(), user: user.into(), password: password.into() }
    }

    fn of_gateway(gw: &TestGateway) -> Sim {
        Sim::new(&gw.url, &gw.ca_cert_pem, &gw.user, &gw.password)
    }

    fn of_array(array: &TestArray) -> Sim {
        Sim::new(&array.url, &array.ca_cert_pem, &array.options.sessions.user, &array.options.sessions.password)
    }

    async fn call(&self, method: Method, path: &str, body: Option<&str>) -> Reply {
        let mut request =
            self.http.request(method, format!("{}{path}", self.url)).basic_auth(&self.user, Some(&self.password));
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        read(request.send().await.expect("the admin surface answers")).await
    }

    /// Adds a rule; its listing.
    async fn add(&self, rule: &str) -> Value {
        let reply = self.call(Method::POST, "/sim/faults", Some(&json!({ "rule": rule }).to_string())).await;
        assert_eq!(reply.0, 201, "{reply:?}");
        reply.2
    }

    async fn rules(&self) -> Vec<Value> {
        let reply = self.call(Method::GET, "/sim/faults", None).await;
        assert_eq!(reply.0, 200, "{reply:?}");
        reply.2["rules"].as_array().expect("a list").clone()
    }
}

fn volume(name: &str) -> Value {
    json!({"name": name, "cpg": "SSD_r6", "sizeMiB": 256, "tpvv": true})
}

/// What the transport came to: an answer, or the error of a connection that gave none.
async fn outcome(request: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
    Ok(read(request.send().await?).await)
}

/// The client saw its connection close with no answer: not a status, not its own timeout.
#[track_caller]
fn unanswered(outcome: Result<Reply, reqwest::Error>) {
    match outcome {
        Ok(reply) => panic!("a dropped request was answered: {reply:?}"),
        Err(e) => assert!(!e.is_status() && !e.is_timeout() && e.is_request(), "a connection error: {e:?}"),
    }
}

/// Asserts a WSAPI refusal: status, exactly `application/json`, `code` and `desc`.
#[track_caller]
fn wsapi_refused(reply: &Reply, status: u16, code: u64, desc: &str) {
    assert_eq!((reply.0, reply.1.as_str()), (status, "application/json"), "{reply:?}");
    assert_eq!(reply.2, json!({"code": code, "desc": desc}), "{reply:?}");
}

#[track_caller]
fn ingress_page(reply: &Reply, title: &str) {
    assert_eq!((reply.0, reply.1.as_str()), (503, "text/html"), "{reply:?}");
    let text = reply.2.as_str().expect("a page");
    assert!(text.contains(&format!("<title>{title}</title>")) && text.contains("nginx"), "{text}");
}

async fn pflex() -> (TestGateway, Api, Sim) {
    let (gw, api) = common::start().await;
    let sim = Sim::of_gateway(&gw);
    (gw, api, sim)
}

async fn alletra() -> (TestArray, Wsapi, Sim) {
    let array = TestArray::start_with(ArrayOptions {
        data_plane: powerflex_sim::dataplane::PlaneKind::None,
        ..Default::default()
    })
    .await;
    let (api, sim) = (Wsapi::login(&array).await, Sim::of_array(&array));
    (array, api, sim)
}

async fn volume_id(api: &Api, name: &str) -> Reply {
    api.post("/api/types/Volume/instances/action/queryIdByKey", json!({ "name": name })).await
}

// ---- PowerFlex ----------------------------------------------------------------------------

/// An error rule answers the gateway's own error body (or the ingress's page) instead of
/// serving the request: nothing is made; a spent rule lets the next one through.
#[tokio::test]
async fn pflex_error_rules_answer_instead_of_serving() {
    let (_gw, api, sim) = pflex().await;
    let pool = api.pool_id("sp1").await;
    sim.add("POST /api/types/Volume/instances body.name=hit* -> error 500 code=6 \"message=MDM switch-over\" next=1")
        .await;
    sim.add("GET /api/types/System/instances -> error 503 html next=1").await;
    let create = |name: &str| json!({ "storagePoolId": pool, "name": name, "volumeSizeInGb": "8" });

    let refused = api.post("/api/types/Volume/instances", create("hit-1")).await;
    assert_error(&refused, 500, 6, "MDM switch-over");
    assert_error(&volume_id(&api, "hit-1").await, 500, 79, "Could not find the volume");
    ok(api.post("/api/types/Volume/instances", create("miss")).await);
    ok(api.post("/api/types/Volume/instances", create("hit-2")).await);
    ingress_page(&api.get("/api/types/System/instances").await, "503 Service Unavailable");
    ok(api.get("/api/types/System/instances").await);

    let rules = sim.rules().await;
    assert_eq!((rules[0]["matched"].as_u64(), rules[0]["fired"].as_u64()), (Some(1), Some(1)), "miss did not match");
    assert_eq!(rules[0]["spent"], true);
    assert_eq!(rules[1]["fired"], 1);
}

/// A drop makes the change, journals it, and closes the connection without answering: the
/// client gets a connection error, the change is there afterwards and after a restart.
#[tokio::test]
async fn pflex_drop_makes_the_change_then_closes_the_connection() {
    let (gw, api, sim) = pflex().await;
    let pool = api.pool_id("sp1").await;
    let victim = api.create_volume(&pool, "victim", 8).await;
    sim.add("POST /api/types/Volume/instances -> drop next=1").await;
    sim.add("POST /api/instances/** action=removeVolume -> drop next=1").await;

    let create = json!({ "storagePoolId": pool, "name": "lost-answer", "volumeSizeInGb": "8" });
    unanswered(outcome(api.request(Method::POST, "/api/types/Volume/instances").json(&create)).await);
    let remove = format!("/api/instances/Volume::{victim}/action/removeVolume");
    unanswered(outcome(api.request(Method::POST, &remove).json(&json!({ "removeMode": "ONLY_ME" }))).await);

    let made = ok(volume_id(&api, "lost-answer").await);
    assert_error(&api.get(&format!("/api/instances/Volume::{victim}")).await, 500, 79, "Could not find the volume");
    let gw = gw.restart().await;
    let api = Api::connect(&gw).await;
    assert_eq!(ok(volume_id(&api, "lost-answer").await), made, "journaled before the drop");
    assert!(Sim::of_gateway(&gw).rules().await.is_empty(), "rules added at run time do not survive a restart");
}

/// Over HTTP/2 too, a drop closes the whole connection, not just the stream: the answer never
/// comes and the connection ends; the volume is made.
#[tokio::test]
async fn pflex_drop_closes_an_http2_connection() {
    let (gw, api, sim) = pflex().await;
    let pool = api.pool_id("sp1").await;
    sim.add("POST /api/types/Volume/instances -> drop next=1").await;
    let stream = raw::connect(&gw.url, &gw.ca_cert_pem, b"h2").await;
    let (client, connection) = h2::client::handshake(stream).await.expect("HTTP/2 handshake");
    let connection = tokio::spawn(connection);
    let body = json!({ "storagePoolId": pool, "name": "over-h2", "volumeSizeInGb": "8" }).to_string();
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("{}/api/types/Volume/instances", gw.url))
        .header("authorization", format!("Bearer {}", api.token))
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let mut client = client.ready().await.expect("stream slot");
    let (response, mut send) = client.send_request(request, false).expect("request");
    send.send_data(body.into_bytes().into(), true).expect("body queued");
    let answer = tokio::time::timeout(raw::PATIENCE, response).await.expect("the stream ends in time");
    assert!(answer.is_err(), "no answer on a dropped request: {answer:?}");
    let ended = tokio::time::timeout(raw::PATIENCE, connection).await.expect("the connection ends in time");
    assert!(ended.expect("connection task").is_err(), "the connection itself was cut");
    assert!(ok(volume_id(&api, "over-h2").await).is_string());
}

/// Latency holds the answer for the rule's time; the request is then served.
#[tokio::test]
async fn pflex_latency_delays_the_answer() {
    let (_gw, api, sim) = pflex().await;
    sim.add("GET /api/version -> latency 400ms next=1").await;
    let started = Instant::now();
    assert_eq!(ok(api.get("/api/version").await), json!("4.5"));
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());
}

/// A revoke serves the call, then ends its token: the next call gets the 4.x ingress's HTML
/// 401, and a new login works.
#[tokio::test]
async fn pflex_revoke_ends_the_session_after_the_answer() {
    let (gw, api, sim) = pflex().await;
    sim.add("GET /api/types/System/instances -> revoke next=1").await;
    ok(api.get("/api/types/System/instances").await);
    assert_html_401(&api.get("/api/version").await);
    let again = Api::connect(&gw).await;
    ok(again.get("/api/version").await);
}

/// The same seed fires on the same requests in two runs; another seed differs.
#[tokio::test]
async fn pflex_seeded_probability_repeats_across_runs() {
    async fn run(seed: u64) -> Vec<bool> {
        let (_gw, api, sim) = pflex().await;
        sim.add(&format!("GET /api/version -> error 500 p=0.4 seed={seed}")).await;
        let mut fired = Vec::new();
        for _ in 0..30 {
            fired.push(api.get("/api/version").await.0 == 500);
        }
        assert_eq!(sim.rules().await[0]["fired"], fired.iter().filter(|f| **f).count());
        fired
    }
    let first = run(42).await;
    assert!(first.contains(&true) && first.contains(&false), "{first:?}");
    assert_eq!(run(42).await, first);
    assert_ne!(run(43).await, first);
}

/// Flag rules are in force from the start and come back after a restart; rules added at run
/// time are kept by a reset and lost at a restart.
#[tokio::test]
async fn pflex_flag_rules_survive_restart_and_reset_keeps_all() {
    let flag = Rule::parse("GET /api/version -> error 503 next=1").unwrap();
    let (gw, api) = common::start_with(Options { faults: vec![flag], ..common::options() }).await;
    let sim = Sim::of_gateway(&gw);
    assert_error(&api.get("/api/version").await, 503, 0, "Service Unavailable");
    let journal = || std::fs::read_to_string(gw.state_dir.join("journal.jsonl")).unwrap_or_default();
    let before = journal();
    sim.add("GET /api/Configuration -> error 500").await;
    assert_eq!(journal(), before, "rules are configuration, never journaled");
    ok(sim.call(Method::POST, "/sim/reset", Some("{}")).await);
    let rules = sim.rules().await;
    assert_eq!(rules.iter().map(|r| r["source"].as_str().unwrap()).collect::<Vec<_>>(), ["flag", "api"]);
    assert_eq!(rules[0]["fired"], 1, "a reset leaves the counters");

    let gw = gw.restart().await;
    let rules = Sim::of_gateway(&gw).rules().await;
    assert_eq!(rules.len(), 1);
    assert_eq!((rules[0]["source"].as_str(), rules[0]["fired"].as_u64()), (Some("flag"), Some(0)));
}

/// `pflex-sim serve --fault RULE` (repeatable) from the command line; a bad rule stops it
/// at start with the reason.
#[tokio::test]
async fn pflex_fault_flags_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let log = dir.path().join("stderr.log");
    let mut process = common::spawn_logging(
        env!("CARGO_BIN_EXE_pflex-sim"),
        "PFLEX_SIM",
        &state,
        &[
            "--data-plane",
            "none",
            "--fault",
            "GET /api/version -> error 500 next=1",
            "--fault",
            "GET /api/version -> latency 1ms",
        ],
        std::fs::File::create(&log).unwrap(),
    );
    let ca = std::fs::read_to_string(state.join("tls/ca.pem")).unwrap();
    let api = Api::login(&process.url, &ca, "admin", "Password123!").await;
    assert_error(&api.get("/api/version").await, 500, 0, "Internal Server Error");
    ok(api.get("/api/version").await);
    let rules = Sim::new(&process.url, &ca, "admin", "Password123!").rules().await;
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[1]["rule"], "GET /api/version -> latency 1ms");
    assert_eq!(rules[1]["fired"], 1, "the error ended the first call's consultation before the latency rule");
    process.child.kill().unwrap();
    process.child.wait().unwrap();
    let logged = std::fs::read_to_string(&log).unwrap();
    let injected: Vec<_> = logged.lines().filter(|l| l.contains("fault injected")).collect();
    assert_eq!(injected.len(), 2, "one line per injected fault: {logged}");
    assert!(
        injected[0].contains("rule=1") && injected[0].contains("fault injected: error 500 on GET /api/version"),
        "{}",
        injected[0]
    );
    assert!(
        injected[1].contains("rule=2") && injected[1].contains("fault injected: latency 1 ms on GET /api/version"),
        "{}",
        injected[1]
    );

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_pflex-sim"))
        .args(["serve", "--listen", "127.0.0.1:0", "--fault", "GET /api/version -> explode"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("unknown fault \"explode\""), "{stderr}");
}

/// Bad rules are refused with a 400 in the gateway's error body; `/sim/` itself is never hit.
#[tokio::test]
async fn pflex_bad_rules_are_refused_and_sim_is_never_faulted() {
    let (_gw, api, sim) = pflex().await;
    let add = |body: &'static str| sim.call(Method::POST, "/sim/faults", Some(body));
    let refused = add(r#"{"rule": "GET /api/version -> error 200"}"#).await;
    assert_error(
        &refused,
        400,
        0,
        "invalid fault rule \"GET /api/version -> error 200\": error status \"200\" is not an HTTP error status (400 to 599)",
    );
    let refused = add(r#"{"rule": "POST /sim/reset -> drop"}"#).await;
    assert!(refused.2["message"].as_str().unwrap().ends_with("the /sim/ surface is never subject to faults"));
    assert_eq!(add("not json").await.0, 400);
    assert_eq!(add(r#"{"rules": []}"#).await.0, 400);
    assert_error(&sim.call(Method::DELETE, "/sim/faults/7", None).await, 404, 0, "no fault rule 7");
    assert!(sim.rules().await.is_empty());

    sim.add("/** -> error 500").await;
    assert_eq!(api.get("/api/version").await.0, 500);
    let health = read(sim.http.get(format!("{}/sim/health", sim.url)).send().await.unwrap()).await;
    assert_eq!(health.0, 200);
    ok(sim.call(Method::GET, "/sim/info", None).await);
    assert_eq!(ok(sim.call(Method::DELETE, "/sim/faults", None).await), json!({"cleared": 1}));
    ok(api.get("/api/version").await);
}

/// `/sim/faults/paths` on pflex-sim: every SDT with its host-facing listeners; a plane with
/// no network side refuses an outage; unknown SDTs, bad bodies and SDTs that serve no hosts
/// are refused in the gateway's error body. (The outage itself needs the kernel target:
/// `tests/path_failover.rs`, in the VM.)
#[tokio::test]
async fn pflex_paths_are_listed_and_refused_where_they_cannot_go_down() {
    let (_gw, api, sim) = pflex().await;
    let listed = ok(sim.call(Method::GET, "/sim/faults/paths", None).await);
    assert_eq!(listed["dataPlane"], "none");
    let paths = listed["paths"].as_array().unwrap();
    let names: Vec<&str> = paths.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["sdt1", "sdt2", "sdt3"]);
    assert_eq!(paths[0]["state"], "up");
    let listener = |port: u16| json!({"address": "127.0.0.2", "port": port, "state": "up"});
    assert_eq!(paths[0]["listeners"], json!([listener(4420), listener(8009)]));
    let sdt1 = paths[0]["id"].as_str().unwrap().to_string();
    let id = ok(api.post("/api/types/Sdt/instances/action/queryIdByKey", json!({"name": "sdt1"})).await);
    assert_eq!(id, json!(sdt1), "a path's id is its SDT's");

    let down = Some(r#"{"state": "down"}"#);
    let no_network = "data plane (none): taking down tcp 127.0.0.2:4420: this data plane has no network side for \
                      hosts to lose (serve with --data-plane nvmet)";
    assert_error(&sim.call(Method::POST, "/sim/faults/paths/sdt1", down).await, 409, 0, no_network);
    assert_error(&sim.call(Method::POST, &format!("/sim/faults/paths/{sdt1}"), down).await, 409, 0, no_network);
    assert_error(
        &sim.call(Method::POST, "/sim/faults/paths/sdt9", down).await,
        404,
        0,
        "no SDT named \"sdt9\" or with that id (GET /sim/faults/paths lists them)",
    );
    let bad_body = "the body must be {\"state\": \"down\"} or {\"state\": \"up\"}";
    for body in [r#"{"state": "off"}"#, r#"{}"#, r#"{"state": 0}"#] {
        assert_error(&sim.call(Method::POST, "/sim/faults/paths/sdt1", Some(body)).await, 400, 0, bad_body);
    }
    let not_json = sim.call(Method::POST, "/sim/faults/paths/sdt1", Some("down")).await;
    assert_eq!(not_json.0, 400, "{not_json:?}");
    assert!(not_json.2["message"].as_str().unwrap().starts_with("the body is not JSON"), "{not_json:?}");

    // An SDT whose only address is storage-only has no listener to lose.
    let pd = ok(api.post("/api/types/ProtectionDomain/instances/action/queryIdByKey", json!({"name": "pd1"})).await);
    let storage_only =
        json!({"name": "sdt-s", "protectionDomainId": pd, "ips": [{"ip": "127.0.0.9", "role": "StorageOnly"}]});
    ok(api.post("/api/types/Sdt/instances", storage_only).await);
    let listed = ok(sim.call(Method::GET, "/sim/faults/paths", None).await);
    let sdt_s = listed["paths"].as_array().unwrap().iter().find(|p| p["name"] == "sdt-s").unwrap().clone();
    assert_eq!((sdt_s["state"].clone(), sdt_s["listeners"].clone()), (json!("up"), json!([])));
    assert_error(
        &sim.call(Method::POST, "/sim/faults/paths/sdt-s", down).await,
        409,
        0,
        "sdt-s serves no hosts now (no host-facing listener to take down)",
    );
    // The rules are another list: path outages are not rules.
    assert!(sim.rules().await.is_empty());
}

// ---- Alletra ------------------------------------------------------------------------------

/// As on PowerFlex: a reset keeps every rule, a restart only the flags'.
#[tokio::test]
async fn alletra_flag_rules_survive_restart_and_reset_keeps_all() {
    let flag = Rule::parse("GET /api/v1/system -> latency 1ms").unwrap();
    let array = TestArray::start_with(ArrayOptions { faults: vec![flag], ..Default::default() }).await;
    let sim = Sim::of_array(&array);
    sim.add("GET /api/v1/cpgs -> error 503").await;
    assert_eq!(sim.call(Method::POST, "/sim/reset", Some("{}")).await.0, 200);
    let sources: Vec<_> = sim.rules().await.iter().map(|r| r["source"].as_str().unwrap().to_string()).collect();
    assert_eq!(sources, ["flag", "api"]);
    let array = array.restart().await;
    let rules = Sim::of_array(&array).rules().await;
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["rule"], "GET /api/v1/system -> latency 1ms");
    let api = Wsapi::login(&array).await;
    assert_eq!(api.get("/cpgs").await.0, 200, "the run-time rule is gone");
    assert_eq!(api.get("/system").await.0, 200);
    assert_eq!(Sim::of_array(&array).rules().await[0]["fired"], 1, "the flag rule is in force");
}

/// An error rule answers the WSAPI's `{"code","desc"}` (the generic code for the status, or
/// the rule's) or an ingress's page, with the array's headers; nothing is made.
#[tokio::test]
async fn alletra_error_rules_answer_instead_of_serving() {
    let (_array, api, sim) = alletra().await;
    sim.add("POST /api/v1/volumes -> error 503 next=1").await;
    sim.add("POST /api/v1/volumes body.name=coded -> error 409 code=22 \"message=volume exists\"").await;
    sim.add("GET /api/v1/cpgs -> error 503 html next=1").await;

    wsapi_refused(&api.call(Method::POST, "/volumes", Some(volume("v1"))).await, 503, 31, "service unavailable");
    wsapi_refused(&api.call(Method::GET, "/volumes/v1", None).await, 404, 23, "volume does not exist");
    wsapi_refused(&api.call(Method::POST, "/volumes", Some(volume("coded"))).await, 409, 22, "volume exists");
    assert_eq!(api.call(Method::POST, "/volumes", Some(volume("v1"))).await.0, 201);
    ingress_page(&api.call(Method::GET, "/cpgs", None).await, "503 Service Unavailable");
    assert_eq!(api.call(Method::GET, "/cpgs", None).await.0, 200);
}

/// A drop creates the volume (journaled: it is there after a restart) and the client sees
/// only a closed connection.
#[tokio::test]
async fn alletra_drop_makes_the_change_then_closes_the_connection() {
    let (array, api, sim) = alletra().await;
    sim.add("POST /api/v1/volumes body.name=lost-* -> drop").await;
    unanswered(api.try_call(Method::POST, "/volumes", Some(volume("lost-1"))).await);
    assert_eq!(api.call(Method::GET, "/volumes/lost-1", None).await.0, 200);
    assert_eq!(api.call(Method::POST, "/volumes", Some(volume("kept"))).await.0, 201, "other names are answered");
    sim.add("DELETE /api/v1/volumes/kept -> drop").await;
    unanswered(api.try_call(Method::DELETE, "/volumes/kept", None).await);
    wsapi_refused(&api.call(Method::GET, "/volumes/kept", None).await, 404, 23, "volume does not exist");

    let array = array.restart().await;
    let api = Wsapi::login(&array).await;
    assert_eq!(api.call(Method::GET, "/volumes/lost-1", None).await.0, 200);
    assert!(Sim::of_array(&array).rules().await.is_empty());
}

#[tokio::test]
async fn alletra_latency_delays_the_answer() {
    let (_array, api, sim) = alletra().await;
    sim.add("GET /api/v1/system -> latency 300ms..400ms").await;
    let started = Instant::now();
    assert_eq!(api.call(Method::GET, "/system", None).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
}

/// A revoke serves the call, then ends the key: the next call gets 403 code 6.
#[tokio::test]
async fn alletra_revoke_ends_the_session_after_the_answer() {
    let (array, api, sim) = alletra().await;
    sim.add("GET /api/v1/system -> revoke next=1").await;
    assert_eq!(api.call(Method::GET, "/system", None).await.0, 200);
    wsapi_refused(&api.call(Method::GET, "/cpgs", None).await, 403, 6, "invalid session key");
    let again = Wsapi::login(&array).await;
    assert_eq!(again.call(Method::GET, "/cpgs", None).await.0, 200);
}

#[tokio::test]
async fn alletra_seeded_probability_repeats_across_runs() {
    async fn run(rule: &str) -> Vec<bool> {
        let (_array, api, sim) = alletra().await;
        sim.add(rule).await;
        let mut fired = Vec::new();
        for _ in 0..30 {
            fired.push(api.call(Method::GET, "/system", None).await.0 == 503);
        }
        fired
    }
    let first = run("GET /api/v1/system -> error 503 p=0.5 seed=9").await;
    assert!(first.contains(&true) && first.contains(&false), "{first:?}");
    assert_eq!(run("GET /api/v1/system -> error 503 p=0.5 seed=9").await, first);
}

/// `alletra-sim serve --fault RULE`; bad rules refused with a WSAPI 400 at run time.
#[tokio::test]
async fn alletra_fault_flags_and_bad_rules() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut process = spawn_program(
        env!("CARGO_BIN_EXE_alletra-sim"),
        "ALLETRA_SIM",
        &state,
        &["--data-plane", "none", "--fault", "GET /api/v1/system -> error 500 next=1"],
    );
    let url = process.url.strip_suffix("/api/v1").expect("the banner shows the WSAPI url").to_string();
    let ca = std::fs::read_to_string(state.join("tls/ca.pem")).unwrap();
    let http = http_client(&ca);
    let login =
        http.post(format!("{url}/api/v1/credentials")).json(&json!({"user": "3paradm", "password": "3pardata"}));
    let key = read(login.send().await.unwrap()).await.2["key"].as_str().unwrap().to_string();
    let system = || http.get(format!("{url}/api/v1/system")).header("X-HP3PAR-WSAPI-SessionKey", &key).send();
    wsapi_refused(&read(system().await.unwrap()).await, 500, 1, "internal server error");
    assert_eq!(read(system().await.unwrap()).await.0, 200);

    let sim = Sim::new(&url, &ca, "3paradm", "3pardata");
    assert_eq!(sim.rules().await[0]["source"], "flag");
    let refused = sim.call(Method::POST, "/sim/faults", Some(r#"{"rule": "GET /api/v1/system -> latency 5"}"#)).await;
    wsapi_refused(
        &refused,
        400,
        12,
        "invalid fault rule \"GET /api/v1/system -> latency 5\": duration \"5\" needs a unit: ms or s (e.g. 250ms, 1.5s)",
    );
    assert_eq!(sim.call(Method::DELETE, "/sim/faults", None).await.2, json!({"cleared": 1}));
    process.child.kill().unwrap();
    process.child.wait().unwrap();
}

/// `/sim/faults/paths` on alletra-sim: the NVMe ports by position; an iSCSI port or an
/// unknown one is refused, as is an outage on a plane with no network side, in the WSAPI's
/// error body.
#[tokio::test]
async fn alletra_paths_are_the_nvme_ports() {
    let (_array, _api, sim) = alletra().await;
    let listed = ok(sim.call(Method::GET, "/sim/faults/paths", None).await);
    let port = |ip: &str| {
        let listener = |port: u16| json!({"address": ip, "port": port, "state": "up"});
        json!([listener(4420), listener(8009)])
    };
    assert_eq!(
        listed,
        json!({"dataPlane": "none", "paths": [
            {"name": "0:4:1", "state": "up", "listeners": port("127.0.0.4")},
            {"name": "1:4:1", "state": "up", "listeners": port("127.0.0.5")},
        ]})
    );
    let down = Some(r#"{"state": "down"}"#);
    wsapi_refused(
        &sim.call(Method::POST, "/sim/faults/paths/0:4:1", down).await,
        409,
        1,
        "data plane (none): taking down tcp 127.0.0.4:4420: this data plane has no network side for hosts to lose \
         (serve with --data-plane nvmet)",
    );
    wsapi_refused(
        &sim.call(Method::POST, "/sim/faults/paths/0:3:1", down).await,
        404,
        11,
        "port 0:3:1 is an iSCSI port: only NVMe ports are taken down",
    );
    wsapi_refused(
        &sim.call(Method::POST, "/sim/faults/paths/2:1:1", down).await,
        404,
        11,
        "no NVMe port 2:1:1 (ports are named N:S:P; GET /sim/faults/paths lists them)",
    );
    wsapi_refused(
        &sim.call(Method::POST, "/sim/faults/paths/0:4:1", Some(r#"{"state": "sideways"}"#)).await,
        400,
        12,
        "the body must be {\"state\": \"down\"} or {\"state\": \"up\"}",
    );
}
