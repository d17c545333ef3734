//! A small HTTPS client shared by the simulator's integration tests.
//!
//! TLS verification stays on: the client trusts only the CA the simulator generated. Calls
//! log in through `POST /rest/auth/login` and carry `Authorization: Bearer`, as 4.x clients
//! (LXD, PyPowerFlex 2.x) do. Every call answers `(status, content-type, json)`; a body that is
//! not JSON comes back as `Value::String` of its text, an empty body as `Value::Null`.
#![allow(dead_code)]

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

pub use powerflex_sim::testing::{Options, TestGateway};

pub mod wsapi;

/// `(HTTP status, Content-Type, body)`.
pub type Reply = (u16, String, Value);

pub const GIB_KB: u64 = 1024 * 1024;

/// A client that trusts only `ca_pem`.
pub fn http_client(ca_pem: &str) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("the simulator's CA parses");
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .build()
        .expect("HTTPS client")
}

/// Reads a response into a `Reply`.
pub async fn read(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().expect("ASCII content type").to_string())
        .unwrap_or_default();
    let text = response.text().await.expect("response body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, content_type, body)
}

/// An authenticated session against one simulator.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub url: String,
    pub token: String,
}

impl Api {
    /// Logs in with `POST /rest/auth/login`.
    pub async fn login(url: &str, ca_pem: &str, user: &str, password: &str) -> Api {
        let http = http_client(ca_pem);
        let reply = read(
            http.post(format!("{url}/rest/auth/login"))
                .json(&json!({ "username": user, "password": password }))
                .send()
                .await
                .expect("login request"),
        )
        .await;
        assert_eq!(reply.0, 200, "login: {reply:?}");
        let token = reply.2["access_token"].as_str().expect("access_token").to_string();
        Api { http, url: url.to_string(), token }
    }

    pub async fn connect(gw: &TestGateway) -> Api {
        Api::login(&gw.url, &gw.ca_cert_pem, &gw.user, &gw.password).await
    }

    /// A request with the session's Bearer token and `Accept: application/json`.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .header(ACCEPT, "application/json")
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
    }

    pub async fn send(&self, request: RequestBuilder) -> Reply {
        read(request.send().await.expect("request reaches the simulator")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request(Method::GET, path)).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        let request = self.request(Method::POST, path).header(CONTENT_TYPE, "application/json").body(body.to_string());
        self.send(request).await
    }

    /// POST with exactly these bytes (or none) and this Content-Type (or none).
    pub async fn post_raw(&self, path: &str, body: Option<Vec<u8>>, content_type: Option<&str>) -> Reply {
        let mut request = self.request(Method::POST, path);
        if let Some(ct) = content_type {
            request = request.header(CONTENT_TYPE, ct);
        }
        if let Some(bytes) = body {
            request = request.body(bytes);
        }
        self.send(request).await
    }

    /// GET that must succeed; the body.
    pub async fn get_ok(&self, path: &str) -> Value {
        ok(self.get(path).await)
    }

    /// POST that must succeed; the body.
    pub async fn post_ok(&self, path: &str, body: Value) -> Value {
        ok(self.post(path, body).await)
    }

    // The topology and common set-up steps.

    pub async fn system_id(&self) -> String {
        let systems = self.get_ok("/api/types/System/instances").await;
        systems[0]["id"].as_str().expect("system id").to_string()
    }

    pub async fn pd_id(&self, name: &str) -> String {
        let id =
            self.post_ok("/api/types/ProtectionDomain/instances/action/queryIdByKey", json!({ "name": name })).await;
        id.as_str().expect("quoted id").to_string()
    }

    pub async fn pool_id(&self, name: &str) -> String {
        let pools = self.get_ok("/api/types/StoragePool/instances").await;
        let pool = pools.as_array().expect("list").iter().find(|p| p["name"] == name).expect("pool in topology");
        pool["id"].as_str().expect("pool id").to_string()
    }

    /// Creates a thin volume of `gb` GiB; its id.
    pub async fn create_volume(&self, pool: &str, name: &str, gb: u64) -> String {
        self.create_volume_with(json!({ "storagePoolId": pool, "name": name, "volumeSizeInGb": gb.to_string() })).await
    }

    pub async fn create_thick_volume(&self, pool: &str, name: &str, gb: u64) -> String {
        self.create_volume_with(json!({
            "storagePoolId": pool, "name": name, "volumeSizeInGb": gb.to_string(), "volumeType": "ThickProvisioned",
        }))
        .await
    }

    pub async fn create_volume_with(&self, body: Value) -> String {
        let created = self.post_ok("/api/types/Volume/instances", body).await;
        created["id"].as_str().expect("created id").to_string()
    }

    pub async fn volume(&self, id: &str) -> Value {
        self.get_ok(&format!("/api/instances/Volume::{id}")).await
    }

    /// Snapshots one volume; the snapshot's id.
    pub async fn snapshot(&self, volume: &str, name: &str) -> String {
        let reply = self
            .post_ok(
                "/api/instances/System/action/snapshotVolumes",
                json!({ "snapshotDefs": [{ "volumeId": volume, "snapshotName": name }] }),
            )
            .await;
        reply["volumeIdList"][0].as_str().expect("snapshot id").to_string()
    }

    /// Creates an NVMe host; its id.
    pub async fn create_nvme_host(&self, name: &str, nqn: &str) -> String {
        let created = self.post_ok("/api/types/Host/instances", json!({ "name": name, "nqn": nqn })).await;
        created["id"].as_str().expect("host id").to_string()
    }

    pub async fn volume_action(&self, volume: &str, action: &str, body: Value) -> Reply {
        self.post(&format!("/api/instances/Volume::{volume}/action/{action}"), body).await
    }

    pub async fn map_host(&self, volume: &str, host: &str) {
        ok(self
            .volume_action(volume, "addMappedHost", json!({ "hostId": host, "allowMultipleMappings": "true" }))
            .await);
    }

    pub async fn pool_stats(&self, pool: &str) -> Value {
        self.get_ok(&format!("/api/instances/StoragePool::{pool}/relationships/Statistics")).await
    }
}

/// Starts a simulator with the default topology, seed 1 and no data plane (these tests are about
/// the API; volume bytes are the data plane's tests' business), and logs in.
pub async fn start() -> (TestGateway, Api) {
    start_with(options()).await
}

/// The options `start` uses.
pub fn options() -> Options {
    Options { data_plane: powerflex_sim::dataplane::PlaneKind::None, ..Options::default() }
}

pub async fn start_with(options: Options) -> (TestGateway, Api) {
    let gw = TestGateway::start_with(options).await;
    let api = Api::connect(&gw).await;
    (gw, api)
}

/// Asserts a 200 JSON answer; its body.
#[track_caller]
pub fn ok(reply: Reply) -> Value {
    assert_eq!(reply.0, 200, "expected 200, got {reply:?}");
    assert_eq!(reply.1, "application/json", "content type of {reply:?}");
    reply.2
}

/// Asserts the gateway's error body exactly: status, `httpStatusCode`, `errorCode`, `message`.
#[track_caller]
pub fn assert_error(reply: &Reply, status: u16, error_code: u64, message: &str) {
    assert_eq!(reply.0, status, "status of {reply:?}");
    assert_eq!(reply.1, "application/json", "content type of {reply:?}");
    assert_eq!(reply.2, json!({ "message": message, "httpStatusCode": status, "errorCode": error_code }), "body");
}

/// Asserts an MDM refusal: HTTP 500 with this return code and message.
#[track_caller]
pub fn assert_fault(reply: &Reply, error_code: u64, message: &str) {
    assert_error(reply, 500, error_code, message);
}

/// Asserts a gateway-level refusal whose message starts with `prefix` (parser wording varies).
#[track_caller]
pub fn assert_error_prefix(reply: &Reply, status: u16, prefix: &str) {
    assert_eq!(reply.0, status, "status of {reply:?}");
    assert_eq!(reply.1, "application/json", "content type of {reply:?}");
    assert_eq!(reply.2["httpStatusCode"], json!(status), "httpStatusCode of {reply:?}");
    assert_eq!(reply.2["errorCode"], json!(0), "errorCode of {reply:?}");
    let message = reply.2["message"].as_str().expect("message is a string");
    assert!(message.starts_with(prefix), "message {message:?} should start with {prefix:?}");
    assert_eq!(reply.2.as_object().expect("object").len(), 3, "no other keys in {reply:?}");
}

/// Asserts the 4.x ingress answer to a missing, unknown or expired token: 401, HTML.
#[track_caller]
pub fn assert_html_401(reply: &Reply) {
    assert_eq!(reply.0, 401, "status of {reply:?}");
    assert_eq!(reply.1, "text/html", "content type of {reply:?}");
    let text = reply.2.as_str().expect("a non-JSON body");
    assert!(text.contains("401"), "body {text:?}");
}

/// True if `s` is a PowerFlex id: 16 lowercase hex digits.
pub fn is_id(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Ids of a JSON list of objects.
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array().expect("a list").iter().map(|o| o["id"].as_str().expect("id").to_string()).collect()
}

/// Asserts that `object` has every key in `fields`.
#[track_caller]
pub fn assert_fields(what: &str, object: &Value, fields: &[&str]) {
    let map = object.as_object().unwrap_or_else(|| panic!("{what} is an object: {object}"));
    let missing: Vec<_> = fields.iter().filter(|f| !map.contains_key(**f)).collect();
    assert!(missing.is_empty(), "{what} lacks reference fields {missing:?}");
}

/// The real binary, serving on an ephemeral port.
pub struct Process {
    pub child: std::process::Child,
    pub url: String,
}

/// Starts `pflex-sim serve` on an ephemeral port with `state` as its state directory and
/// `args` besides; waits until it prints its URL. The environment's `PFLEX_SIM_*` settings
/// are left out, so only the arguments count.
pub fn spawn_binary(state: &std::path::Path, args: &[&str]) -> Process {
    spawn_program(env!("CARGO_BIN_EXE_pflex-sim"), "PFLEX_SIM", state, args)
}

/// Starts one of the emulators (`binary serve`) as `spawn_binary` does, leaving out the
/// environment settings named `<env_prefix>_*`.
pub fn spawn_program(binary: &str, env_prefix: &str, state: &std::path::Path, args: &[&str]) -> Process {
    spawn_logging(binary, env_prefix, state, args, std::process::Stdio::null())
}

/// `spawn_program` with the emulator's log (stderr) going to `log`.
pub fn spawn_logging(
    binary: &str,
    env_prefix: &str,
    state: &std::path::Path,
    args: &[&str],
    log: impl Into<std::process::Stdio>,
) -> Process {
    use std::io::{BufRead, BufReader};
    let mut command = std::process::Command::new(binary);
    command.args(["serve", "--listen", "127.0.0.1:0"]).args(args).arg("--state-dir").arg(state);
    for setting in ["USER", "PASSWORD", "LISTEN", "STATE_DIR"] {
        command.env_remove(format!("{env_prefix}_{setting}"));
    }
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("{binary} starts: {e}"));
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("the emulator prints its url").unwrap();
        if let Some(url) = line.trim().strip_prefix("url:") {
            break url.trim().to_string();
        }
    };
    // Keep reading so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Process { child, url }
}
