//! A small PowerFlex REST client for the data-plane tests and the benchmark: the calls the
//! issue's flows need, plus the `/sim/` data endpoints.
#![allow(dead_code)]

pub mod nvme;

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

pub struct Api {
    pub client: Client,
    pub url: String,
    user: String,
    password: String,
    token: String,
}

impl Api {
    /// Logs in to the gateway at `url` (http or https; `ca_pem` for the latter).
    pub async fn login(url: &str, ca_pem: Option<&str>, user: &str, password: &str) -> Api {
        let mut builder = Client::builder();
        if let Some(pem) = ca_pem {
            builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).expect("CA"));
        }
        let client = builder.build().expect("client");
        let response =
            client.get(format!("{url}/api/login")).basic_auth(user, Some(password)).send().await.expect("login");
        assert_eq!(response.status(), StatusCode::OK, "login");
        let token: String = response.json().await.expect("token");
        Api { client, url: url.to_string(), user: user.into(), password: password.into(), token }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.url)).basic_auth(&self.user, Some(&self.token))
    }

    /// Sends and returns status and JSON body (Null when empty or not JSON).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A call that must succeed; returns its JSON.
    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {value}");
        value
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.ok(Method::POST, path, Some(body)).await
    }

    pub async fn first_pool(&self) -> String {
        let pools = self.ok(Method::GET, "/api/types/StoragePool/instances", None).await;
        pools[0]["id"].as_str().expect("pool id").to_string()
    }

    pub async fn create_volume(&self, name: &str, size_gb: u64, thick: bool) -> String {
        let pool = self.first_pool().await;
        let kind = if thick { "ThickProvisioned" } else { "ThinProvisioned" };
        let created = self
            .post(
                "/api/types/Volume/instances",
                json!({ "storagePoolId": pool, "name": name, "volumeSizeInGb": size_gb.to_string(), "volumeType": kind }),
            )
            .await;
        created["id"].as_str().expect("volume id").to_string()
    }

    pub async fn create_host(&self, name: &str, nqn: &str) -> String {
        let created = self.post("/api/types/Host/instances", json!({ "name": name, "nqn": nqn })).await;
        created["id"].as_str().expect("host id").to_string()
    }

    pub async fn map(&self, volume: &str, host: &str) -> (StatusCode, Value) {
        let path = format!("/api/instances/Volume::{volume}/action/addMappedHost");
        self.call(Method::POST, &path, Some(json!({ "hostId": host }))).await
    }

    pub async fn unmap(&self, volume: &str, host: &str) {
        let path = format!("/api/instances/Volume::{volume}/action/removeMappedHost");
        self.post(&path, json!({ "hostId": host })).await;
    }

    pub async fn snapshot(&self, volume: &str, name: &str) -> String {
        let reply = self
            .post(
                "/api/instances/System/action/snapshotVolumes",
                json!({ "snapshotDefs": [{ "volumeId": volume, "snapshotName": name }] }),
            )
            .await;
        reply["volumeIdList"][0].as_str().expect("snapshot id").to_string()
    }

    pub async fn overwrite(&self, target: &str, source: &str) {
        let path = format!("/api/instances/Volume::{target}/action/overwriteVolumeContent");
        self.post(&path, json!({ "srcVolumeId": source })).await;
    }

    pub async fn resize_gb(&self, volume: &str, size_gb: u64) {
        let path = format!("/api/instances/Volume::{volume}/action/setVolumeSize");
        self.post(&path, json!({ "sizeInGB": size_gb.to_string() })).await;
    }

    pub async fn remove_volume(&self, volume: &str) {
        let path = format!("/api/instances/Volume::{volume}/action/removeVolume");
        self.post(&path, json!({ "removeMode": "ONLY_ME" })).await;
    }

    pub async fn remove_host(&self, host: &str) {
        self.post(&format!("/api/instances/Host::{host}/action/removeHost"), json!({})).await;
    }

    /// `GET /sim/volumes/{id}/data` as `host`.
    pub async fn read_data(
        &self,
        volume: &str,
        host: &str,
        offset: u64,
        length: u64,
    ) -> Result<Vec<u8>, (StatusCode, Value)> {
        let path = format!("/sim/volumes/{volume}/data?host={host}&offset={offset}&length={length}");
        let response = self.request(Method::GET, &path).send().await.expect("read");
        let status = response.status();
        let bytes = response.bytes().await.expect("body");
        if status == StatusCode::OK {
            Ok(bytes.to_vec())
        } else {
            Err((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
        }
    }

    /// `PUT /sim/volumes/{id}/data` as `host`.
    pub async fn write_data(&self, volume: &str, host: &str, offset: u64, data: Vec<u8>) -> (StatusCode, Value) {
        let path = format!("/sim/volumes/{volume}/data?host={host}&offset={offset}");
        let response = self.request(Method::PUT, &path).body(data).send().await.expect("write");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn allocated(&self, volume: &str) -> u64 {
        let v = self.ok(Method::GET, &format!("/sim/volumes/{volume}/allocation"), None).await;
        v["allocatedBytes"].as_u64().expect("allocatedBytes")
    }
}

/// A recognisable block: `seed` repeated with its offset mixed in, so misplaced blocks show.
pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seed ^ (i as u8).wrapping_mul(31) ^ ((i >> 9) as u8)).collect()
}
