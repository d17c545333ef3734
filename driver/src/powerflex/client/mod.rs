//! The gateway client: reqwest over rustls, one method per endpoint.
//!
//! Every request sends `Accept: application/json`; requests with a body add
//! `Content-Type: application/json`; all `/api` calls carry the bearer token
//! (see [`auth`]). Any status other than 200 is an error, decoded into
//! [`ApiError`] by `errorCode` when the body is a PowerFlex error object.
//!
//! TLS certificates are verified unless the pool says otherwise; extra CA
//! certificates can be given. Timeouts and the number of concurrent
//! connections are options. The client knows nothing about volumes' meaning,
//! naming or local state.

mod auth;
pub mod error;
pub mod types;

use std::sync::Arc;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use error::{ApiError, ClientError, ErrorCode};
use types::*;

use crate::http::{snippet, ClientOptions, Connection};
use crate::retry;

/// A gateway client; cheap to clone, clones share the token and the connection limit.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Connection>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("gateway", &self.inner.base).finish()
    }
}

#[derive(Clone, Copy)]
enum Body<'a> {
    None,
    Json(&'a serde_json::Value),
}

impl Client {
    /// Builds a client; no request is made yet.
    pub fn new(options: ClientOptions) -> Result<Client, ClientError> {
        let base = options.gateway.trim_end_matches('/').to_string();
        Ok(Client { inner: Arc::new(Connection::new(options, base).map_err(ClientError::Setup)?) })
    }

    /// The gateway base URL.
    pub fn gateway(&self) -> &str {
        &self.inner.base
    }

    /// How many times this client has logged in.
    pub async fn login_count(&self) -> u64 {
        self.inner.session.logins().await
    }

    async fn login_raw(&self) -> Result<String, ClientError> {
        let url = format!("{}/rest/auth/login", self.inner.base);
        let body = serde_json::json!({"username": self.inner.user, "password": self.inner.password});
        let resp = self
            .inner
            .http
            .post(&url)
            .header(ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        if status != 200 {
            let message = ApiError::from_body(status, &bytes).map(|e| e.message).unwrap_or_else(|| snippet(&bytes));
            // A 5xx is the gateway (or its ingress) failing, not a verdict on the password.
            return Err(if status >= 500 {
                ClientError::Unavailable { status, message }
            } else {
                ClientError::Unauthorized { status, message }
            });
        }
        let login: LoginResponse = serde_json::from_slice(&bytes)
            .map_err(|source| ClientError::Decode { path: "/rest/auth/login".into(), source })?;
        login.access_token.filter(|t| !t.is_empty()).ok_or(ClientError::NoToken)
    }

    /// Logs in now (normally done lazily by the first call).
    pub async fn login(&self) -> Result<(), ClientError> {
        self.inner.session.get_or_login(|| self.login_raw()).await.map(|_| ())
    }

    async fn call(&self, method: Method, path: &str, body: Body<'_>) -> Result<Vec<u8>, ClientError> {
        let _permit = self.inner.permit().await.ok_or_else(|| ClientError::Setup("client closed".into()))?;
        let url = format!("{}{}", self.inner.base, path);
        for attempt in 0..2 {
            let token = self.inner.session.get_or_login(|| self.login_raw()).await?;
            let mut req = self
                .inner
                .http
                .request(method.clone(), &url)
                .header(ACCEPT, "application/json")
                .bearer_auth(&token.value);
            if let Body::Json(v) = &body {
                req = req.json(v);
            }
            tracing::debug!(%method, path, attempt, "gateway request");
            let resp = req.send().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
            let status = resp.status().as_u16();
            let content_type = resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
            let bytes = resp.bytes().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
            if auth::is_expired_token(status, content_type.as_deref()) {
                self.inner.session.invalidate(token.generation).await;
                if attempt == 0 {
                    tracing::debug!(path, "token expired; logging in again");
                    continue;
                }
                return Err(ClientError::Unauthorized {
                    status,
                    message: "token refused again after a fresh login".into(),
                });
            }
            if status == 200 {
                return Ok(bytes.to_vec());
            }
            return Err(match ApiError::from_body(status, &bytes) {
                Some(e) => ClientError::Api(e),
                None => ClientError::Status { path: path.to_string(), status, body: snippet(&bytes) },
            });
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// A call that is safe to repeat (a read, a removal, an absolute setting),
    /// tried again while its outcome is unknown ([`crate::retry`]).
    async fn call_safe(&self, method: Method, path: &str, body: Body<'_>) -> Result<Vec<u8>, ClientError> {
        retry::idempotent(&self.inner.retry, path, || self.call(method.clone(), path, body)).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let bytes = self.call_safe(Method::GET, path, Body::None).await?;
        decode(path, &bytes)
    }

    /// A `queryIdByKey` look-up: a read, so tried again while its outcome is unknown.
    async fn query_id(&self, path: &str, name: &str) -> Result<String, ClientError> {
        let body = serde_json::json!({ "name": name });
        let bytes = self.call_safe(Method::POST, path, Body::Json(&body)).await?;
        decode(path, &bytes)
    }

    /// An action that is safe to repeat, tried again while its outcome is unknown.
    async fn post_safe_action(&self, path: &str, body: &serde_json::Value) -> Result<(), ClientError> {
        self.call_safe(Method::POST, path, Body::Json(body)).await.map(|_| ())
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, ClientError> {
        let value = serde_json::to_value(body).expect("request bodies serialize");
        let bytes = self.call(Method::POST, path, Body::Json(&value)).await?;
        decode(path, &bytes)
    }

    async fn post_action(&self, path: &str, body: &serde_json::Value) -> Result<(), ClientError> {
        self.call(Method::POST, path, Body::Json(body)).await.map(|_| ())
    }

    // ----- System, protection domain, pool, SDT -------------------------------------------

    /// `GET /api/version`: the gateway version, e.g. `4.5`.
    pub async fn version(&self) -> Result<String, ClientError> {
        let v: String = self.get("/api/version").await?;
        Ok(v.trim_matches('"').to_string())
    }

    /// `GET /api/types/System/instances`: the one system a gateway serves.
    pub async fn systems(&self) -> Result<Vec<SystemIdentity>, ClientError> {
        self.get("/api/types/System/instances").await
    }

    /// `GET /api/instances/System::{id}`.
    pub async fn system(&self, id: &str) -> Result<System, ClientError> {
        self.get(&format!("/api/instances/System::{id}")).await
    }

    /// `POST /api/types/ProtectionDomain/instances/action/queryIdByKey`: 142 when unknown.
    pub async fn query_domain_id(&self, name: &str) -> Result<String, ClientError> {
        self.query_id("/api/types/ProtectionDomain/instances/action/queryIdByKey", name).await
    }

    /// `GET /api/instances/ProtectionDomain::{id}`.
    pub async fn domain(&self, id: &str) -> Result<ProtectionDomain, ClientError> {
        self.get(&format!("/api/instances/ProtectionDomain::{id}")).await
    }

    /// `GET /api/instances/ProtectionDomain::{id}/relationships/StoragePool`.
    pub async fn domain_pools(&self, id: &str) -> Result<Vec<StoragePool>, ClientError> {
        self.get(&format!("/api/instances/ProtectionDomain::{id}/relationships/StoragePool")).await
    }

    /// `GET /api/instances/ProtectionDomain::{id}/relationships/Sdt`.
    pub async fn domain_sdts(&self, id: &str) -> Result<Vec<Sdt>, ClientError> {
        self.get(&format!("/api/instances/ProtectionDomain::{id}/relationships/Sdt")).await
    }

    /// `GET /api/instances/StoragePool::{id}`.
    pub async fn storage_pool(&self, id: &str) -> Result<StoragePool, ClientError> {
        self.get(&format!("/api/instances/StoragePool::{id}")).await
    }

    /// `GET /api/instances/StoragePool::{id}/relationships/Statistics`.
    pub async fn storage_pool_statistics(&self, id: &str) -> Result<StoragePoolStatistics, ClientError> {
        self.get(&format!("/api/instances/StoragePool::{id}/relationships/Statistics")).await
    }

    /// `GET /api/instances/StoragePool::{id}/relationships/Volume`.
    pub async fn pool_volumes(&self, id: &str) -> Result<Vec<Volume>, ClientError> {
        self.get(&format!("/api/instances/StoragePool::{id}/relationships/Volume")).await
    }

    // ----- Volumes -------------------------------------------------------------------------

    /// `POST /api/types/Volume/instances/action/queryIdByKey`: 79 when unknown.
    pub async fn query_volume_id(&self, name: &str) -> Result<String, ClientError> {
        self.query_id("/api/types/Volume/instances/action/queryIdByKey", name).await
    }

    /// The volume ID for `name`, or `None` when the gateway says 79.
    pub async fn find_volume_id(&self, name: &str) -> Result<Option<String>, ClientError> {
        match self.query_volume_id(name).await {
            Ok(id) => Ok(Some(id)),
            Err(e) if e.is(ErrorCode::VolumeNotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/instances/Volume::{id}`.
    pub async fn volume(&self, id: &str) -> Result<Volume, ClientError> {
        self.get(&format!("/api/instances/Volume::{id}")).await
    }

    /// `POST /api/types/Volume/instances`: returns the new ID.
    pub async fn create_volume(&self, req: &CreateVolume) -> Result<String, ClientError> {
        let created: Created = self.post("/api/types/Volume/instances", req).await?;
        Ok(created.id)
    }

    /// `setVolumeSize` with a size in GiB.
    pub async fn set_volume_size(&self, id: &str, size_gib: u64) -> Result<(), ClientError> {
        self.post_safe_action(
            &format!("/api/instances/Volume::{id}/action/setVolumeSize"),
            &serde_json::json!({ "sizeInGB": size_gib.to_string() }),
        )
        .await
    }

    /// `overwriteVolumeContent` of `id` from `src_id` (same VTree).
    pub async fn overwrite_volume_content(&self, id: &str, src_id: &str) -> Result<(), ClientError> {
        self.post_safe_action(
            &format!("/api/instances/Volume::{id}/action/overwriteVolumeContent"),
            &serde_json::json!({ "srcVolumeId": src_id }),
        )
        .await
    }

    /// `removeVolume` with `ONLY_ME`.
    pub async fn remove_volume(&self, id: &str) -> Result<(), ClientError> {
        self.post_safe_action(
            &format!("/api/instances/Volume::{id}/action/removeVolume"),
            &serde_json::json!({ "removeMode": "ONLY_ME" }),
        )
        .await
    }

    /// `snapshotVolumes` of one volume (PowerFlex 4.x, `ReadWrite`); returns the new ID.
    pub async fn snapshot_volume(&self, system_id: &str, volume_id: &str, name: &str) -> Result<String, ClientError> {
        let path = format!("/api/instances/System::{system_id}/action/snapshotVolumes");
        let req = SnapshotVolumes {
            snapshot_defs: vec![SnapshotDef { volume_id: volume_id.to_string(), snapshot_name: name.to_string() }],
            access_mode_limit: "ReadWrite".into(),
        };
        let resp: SnapshotVolumesResponse = self.post(&path, &req).await?;
        resp.volume_id_list
            .into_iter()
            .next()
            .ok_or(ClientError::Protocol { path, reason: "empty volumeIdList".into() })
    }

    /// `GET /api/instances/VTree::{id}/relationships/Volume`.
    pub async fn vtree_volumes(&self, vtree_id: &str) -> Result<Vec<Volume>, ClientError> {
        self.get(&format!("/api/instances/VTree::{vtree_id}/relationships/Volume")).await
    }

    // ----- Hosts and mappings ----------------------------------------------------------------

    /// `GET /api/types/Sdc/instances`: SDCs and NVMe hosts.
    pub async fn hosts(&self) -> Result<Vec<Host>, ClientError> {
        self.get("/api/types/Sdc/instances").await
    }

    /// `POST /api/types/Host/instances`: creates an NVMe host, returns its ID.
    pub async fn create_host(&self, name: &str, nqn: &str) -> Result<String, ClientError> {
        let created: Created =
            self.post("/api/types/Host/instances", &serde_json::json!({ "name": name, "nqn": nqn })).await?;
        Ok(created.id)
    }

    /// `removeSdc` (no body, as LXD sends it).
    pub async fn remove_host(&self, id: &str) -> Result<(), ClientError> {
        self.call_safe(Method::POST, &format!("/api/instances/Sdc::{id}/action/removeSdc"), Body::None)
            .await
            .map(|_| ())
    }

    /// `GET /api/instances/Sdc::{id}/relationships/Volume`: volumes mapped to a host.
    pub async fn host_volumes(&self, id: &str) -> Result<Vec<Volume>, ClientError> {
        self.get(&format!("/api/instances/Sdc::{id}/relationships/Volume")).await
    }

    /// `addMappedHost` with `allowMultipleMappings`.
    pub async fn add_mapped_host(&self, volume_id: &str, host_id: &str) -> Result<(), ClientError> {
        self.post_action(
            &format!("/api/instances/Volume::{volume_id}/action/addMappedHost"),
            &serde_json::json!({ "hostId": host_id, "allowMultipleMappings": "true" }),
        )
        .await
    }

    /// `removeMappedHost`: 4039 when there is no such mapping.
    pub async fn remove_mapped_host(&self, volume_id: &str, host_id: &str) -> Result<(), ClientError> {
        self.post_safe_action(
            &format!("/api/instances/Volume::{volume_id}/action/removeMappedHost"),
            &serde_json::json!({ "hostId": host_id }),
        )
        .await
    }
}

fn decode<T: DeserializeOwned>(path: &str, bytes: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(bytes).map_err(|source| ClientError::Decode { path: path.to_string(), source })
}
