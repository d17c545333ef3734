//! Raw gateway calls the driver's `Client` does not offer yet.
//!
//! The driver's `Client` has one method per endpoint it needs and no generic
//! request method, so the calls below (rename, the other remove modes,
//! consistency-group snapshots, `setMappedSdcLimits`, `migrateVTree`,
//! statistics, limits, raw login/logout) go through this minimal client. It
//! logs in like the driver (`/rest/auth/login`, bearer token, one re-login on
//! a 401) and decodes errors with the driver's [`ApiError`], so both sides read
//! error bodies the same way. The integrator is meant to move these onto
//! `Client`; the report lists them.

use powerflex_driver::powerflex::client::ApiError;
use serde_json::{json, Value};
use tokio::sync::Mutex;

/// A raw answer: status and body (JSON when it parses, else a string).
#[derive(Debug, Clone, PartialEq)]
pub struct Raw {
    /// HTTP status.
    pub status: u16,
    /// Content-Type.
    pub content_type: Option<String>,
    /// Body as JSON (a JSON string when it was not JSON).
    pub body: Value,
}

/// A failed raw call.
#[derive(Debug, thiserror::Error)]
pub enum GwError {
    /// A PowerFlex error body.
    #[error("{0}")]
    Api(ApiError),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl GwError {
    /// The PowerFlex code, if any.
    pub fn code(&self) -> Option<i64> {
        match self {
            GwError::Api(e) => Some(e.code.code()),
            GwError::Other(_) => None,
        }
    }
}

/// The raw client.
#[derive(Debug)]
pub struct Gw {
    base: String,
    user: String,
    password: String,
    http: reqwest::Client,
    token: Mutex<Option<String>>,
}

impl Gw {
    /// A client for `base` (normally the recording proxy).
    pub fn new(base: &str, user: &str, password: &str) -> Gw {
        Gw {
            base: base.trim_end_matches('/').to_string(),
            user: user.into(),
            password: password.into(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(120))
                .build()
                .expect("a plain HTTP client builds"),
            token: Mutex::new(None),
        }
    }

    /// `POST /rest/auth/login` with the given credentials, as it is.
    pub async fn login_raw(&self, user: &str, password: &str) -> Result<Raw, GwError> {
        self.send(
            reqwest::Method::POST,
            "/rest/auth/login",
            Some(json!({"username": user, "password": password})),
            None,
        )
        .await
    }

    /// `POST /rest/auth/logout` with a refresh token (and the access token as bearer), as it is.
    pub async fn logout_raw(&self, refresh_token: &str, access_token: &str) -> Result<Raw, GwError> {
        self.send(
            reqwest::Method::POST,
            "/rest/auth/logout",
            Some(json!({"refresh_token": refresh_token})),
            Some(access_token),
        )
        .await
    }

    /// A request with an explicit bearer token (or none), as it is.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Result<Raw, GwError> {
        let mut req = self.http.request(method, format!("{}{}", self.base, path)).header("Accept", "application/json");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| GwError::Other(format!("{path}: {e}")))?;
        let status = resp.status().as_u16();
        let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
        let bytes = resp.bytes().await.map_err(|e| GwError::Other(format!("{path}: {e}")))?;
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok(Raw { status, content_type, body })
    }

    async fn token(&self, fresh: bool) -> Result<String, GwError> {
        let mut t = self.token.lock().await;
        if fresh {
            *t = None;
        }
        if let Some(t) = &*t {
            return Ok(t.clone());
        }
        let r = self.login_raw(&self.user, &self.password).await?;
        let access = r
            .body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| GwError::Other(format!("login failed: HTTP {} {}", r.status, r.body)))?
            .to_string();
        *t = Some(access.clone());
        Ok(access)
    }

    /// An authenticated call; a non-200 answer is an error.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, GwError> {
        let mut fresh = false;
        loop {
            let token = self.token(fresh).await?;
            let r = self.send(method.clone(), path, body.clone(), Some(&token)).await?;
            if r.status == 401 && !fresh {
                fresh = true;
                continue;
            }
            if r.status == 200 {
                return Ok(r.body);
            }
            let bytes = serde_json::to_vec(&r.body).unwrap_or_default();
            return Err(match ApiError::from_body(r.status, &bytes) {
                Some(e) => GwError::Api(e),
                None => GwError::Other(format!("HTTP {} from {path}: {}", r.status, r.body)),
            });
        }
    }

    /// An authenticated GET.
    pub async fn get(&self, path: &str) -> Result<Value, GwError> {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// An authenticated POST.
    pub async fn post(&self, path: &str, body: Value) -> Result<Value, GwError> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// An authenticated call answered as it is (status and body), for error shapes.
    pub async fn call_raw(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Raw, GwError> {
        let token = self.token(false).await?;
        self.send(method, path, body, Some(&token)).await
    }

    // ----- Calls the driver's Client lacks ----------------------------------------------------

    /// `setVolumeName`.
    pub async fn set_volume_name(&self, id: &str, name: &str) -> Result<(), GwError> {
        self.post(&format!("/api/instances/Volume::{id}/action/setVolumeName"), json!({"newName": name}))
            .await
            .map(drop)
    }

    /// `removeVolume` with a mode.
    pub async fn remove_volume(&self, id: &str, mode: &str) -> Result<(), GwError> {
        self.post(&format!("/api/instances/Volume::{id}/action/removeVolume"), json!({"removeMode": mode}))
            .await
            .map(drop)
    }

    /// `snapshotVolumes` of several volumes (a consistency group): `(ids, group)`.
    pub async fn snapshot_volumes(
        &self,
        system: &str,
        defs: &[(String, String)],
    ) -> Result<(Vec<String>, String), GwError> {
        let defs: Vec<Value> = defs.iter().map(|(id, name)| json!({"volumeId": id, "snapshotName": name})).collect();
        let v = self
            .post(
                &format!("/api/instances/System::{system}/action/snapshotVolumes"),
                json!({"snapshotDefs": defs, "accessModeLimit": "ReadWrite"}),
            )
            .await?;
        let ids = v["volumeIdList"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let group = v["snapshotGroupId"].as_str().unwrap_or_default().to_string();
        Ok((ids, group))
    }

    /// `removeConsistencyGroupSnapshots`: the number of volumes removed.
    pub async fn remove_cg_snapshots(&self, system: &str, group: &str) -> Result<u64, GwError> {
        let v = self
            .post(
                &format!("/api/instances/System::{system}/action/removeConsistencyGroupSnapshots"),
                json!({"snapGroupId": group}),
            )
            .await?;
        Ok(v["numberOfVolumes"].as_u64().unwrap_or(0))
    }

    /// `setMappedSdcLimits` (strings, as CloudStack sends them).
    pub async fn set_mapped_sdc_limits(&self, vol: &str, host: &str, bw_kbps: u64, iops: u64) -> Result<(), GwError> {
        self.post(
            &format!("/api/instances/Volume::{vol}/action/setMappedSdcLimits"),
            json!({"sdcId": host, "bandwidthLimitInKbps": bw_kbps.to_string(), "iopsLimit": iops.to_string()}),
        )
        .await
        .map(drop)
    }

    /// `migrateVTree` of the VTree of `vol` to pool `dest`.
    pub async fn migrate_vtree(&self, vol: &str, dest: &str) -> Result<(), GwError> {
        self.post(&format!("/api/instances/Volume::{vol}/action/migrateVTree"), json!({"destSPId": dest}))
            .await
            .map(drop)
    }

    /// `GET /api/instances/VTree::{id}`.
    pub async fn vtree(&self, id: &str) -> Result<Value, GwError> {
        self.get(&format!("/api/instances/VTree::{id}")).await
    }

    /// `GET /api/instances/{Type}::{id}/relationships/Statistics`.
    pub async fn statistics(&self, ty: &str, id: &str) -> Result<Value, GwError> {
        self.get(&format!("/api/instances/{ty}::{id}/relationships/Statistics")).await
    }

    /// `GET /api/instances/Volume::{id}` as raw JSON.
    pub async fn volume(&self, id: &str) -> Result<Value, GwError> {
        self.get(&format!("/api/instances/Volume::{id}")).await
    }

    /// `querySystemLimits`.
    pub async fn system_limits(&self) -> Result<Value, GwError> {
        self.post("/api/instances/System/action/querySystemLimits", json!({})).await
    }
}
