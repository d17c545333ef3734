//! The WSAPI v1 client: reqwest over rustls, one method per call LXD makes
//! (lxd-drivers.md §6.2).
//!
//! Every request sends `Accept: application/json`, and `Content-Type:
//! application/json` with a body. A session is opened lazily with `POST
//! /api/v1/credentials` and its key sent as `X-HP3PAR-WSAPI-SessionKey`; a
//! `403` with code 6 (invalid session key) drops it, logs in again and retries
//! the call once, as LXD does. Statuses of 400 and more are errors decoded by
//! `code` ([`WsapiError`]); a non-empty answer must be exactly
//! `application/json`, as LXD requires.

pub mod error;
pub mod types;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::json;

pub use error::{ClientError, WsapiCode, WsapiError};
use types::*;

use crate::http::{snippet, ClientOptions, Connection};
use crate::retry;

/// The session key header.
pub const SESSION_HEADER: &str = "X-HP3PAR-WSAPI-SessionKey";

/// The comment LXD puts on what it creates.
pub const COMMENT: &str = "Created and managed by LXD";

/// A WSAPI client; cheap to clone, clones share the session and the connection limit.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Connection>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("alletra::Client").field("wsapi", &self.inner.base).finish()
    }
}

/// Volume set actions (`PUT /volumesets/<name>`).
#[derive(Debug, Clone, Copy)]
enum SetAction {
    Add = 1,
    Remove = 2,
}

/// Percent-encodes everything but unreserved characters (names are
/// `[A-Za-z0-9._-]`, but a host name comes from the machine).
fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `query="field==value"`, as LXD writes it, percent-encoded.
fn query(field: &str, value: &str) -> String {
    format!("query={}", percent(&format!("\"{field}=={value}\"")))
}

impl Client {
    /// Builds a client for the WSAPI at `options.gateway` (scheme, host, port
    /// and any path in front of `/api/v1`); no request is made yet.
    pub fn new(options: ClientOptions) -> Result<Client, ClientError> {
        let base = format!("{}/api/v1", options.gateway.trim_end_matches('/'));
        Ok(Client { inner: Arc::new(Connection::new(options, base).map_err(ClientError::Setup)?) })
    }

    /// The WSAPI base URL (ending in `/api/v1`).
    pub fn base(&self) -> &str {
        &self.inner.base
    }

    /// How many sessions this client has opened.
    pub async fn login_count(&self) -> u64 {
        self.inner.session.logins().await
    }

    async fn login_raw(&self) -> Result<String, ClientError> {
        let url = format!("{}/credentials", self.inner.base);
        let body = json!({"user": self.inner.user, "password": self.inner.password, "sessionType": 1});
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
        if status >= 400 {
            let message = WsapiError::from_body(status, &bytes).map(|e| e.desc).unwrap_or_else(|| snippet(&bytes));
            // A 5xx is the server (or a proxy) failing, not a verdict on the password.
            return Err(if status >= 500 {
                ClientError::Unavailable { status, message }
            } else {
                ClientError::Unauthorized { status, message }
            });
        }
        let key: SessionKey = decode("/credentials", &bytes)?;
        if key.key.is_empty() {
            return Err(ClientError::Unauthorized { status, message: "the answer holds an empty session key".into() });
        }
        Ok(key.key)
    }

    /// Opens the session now (normally done by the first call).
    pub async fn login(&self) -> Result<(), ClientError> {
        self.inner.session.get_or_login(|| self.login_raw()).await.map(|_| ())
    }

    async fn call(&self, method: Method, path: &str, body: Option<&serde_json::Value>) -> Result<Vec<u8>, ClientError> {
        self.call_located(method, path, body).await.map(|(bytes, _)| bytes)
    }

    /// A call whose answer's `Location` header matters (`POST /vluns` names the LUN there).
    async fn call_located(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(Vec<u8>, Option<String>), ClientError> {
        let _permit = self.inner.permit().await.ok_or_else(|| ClientError::Setup("client closed".into()))?;
        let url = format!("{}{}", self.inner.base, path);
        let mut attempt = 0;
        loop {
            let key = self.inner.session.get_or_login(|| self.login_raw()).await?;
            let mut req = self
                .inner
                .http
                .request(method.clone(), &url)
                .header(ACCEPT, "application/json")
                .header(SESSION_HEADER, &key.value);
            if let Some(v) = body {
                req = req.json(v);
            }
            tracing::debug!(%method, path, attempt, "WSAPI request");
            let resp = req.send().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
            let status = resp.status().as_u16();
            let header = |name| {
                resp.headers()
                    .get(name)
                    .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                    .map(str::to_string)
            };
            let (content_type, location) = (header(CONTENT_TYPE), header(LOCATION));
            let bytes = resp.bytes().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
            if !bytes.is_empty() && content_type.as_deref() != Some("application/json") {
                return Err(ClientError::ContentType { path: path.to_string(), status, content_type });
            }
            if status < 400 {
                return Ok((bytes.to_vec(), location));
            }
            let Some(e) = WsapiError::from_body(status, &bytes) else {
                return Err(ClientError::Status { path: path.to_string(), status, body: snippet(&bytes) });
            };
            if status == 403 && e.code == WsapiCode::InvalidSessionKey && attempt == 0 {
                tracing::debug!(path, "session key refused; logging in again");
                self.inner.session.invalidate(key.generation).await;
                attempt += 1;
                continue;
            }
            return Err(e.into());
        }
    }

    /// A call that is safe to repeat (a read, a delete, a removal from a set),
    /// tried again while its outcome is unknown ([`crate::retry`]).
    async fn call_safe(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, ClientError> {
        retry::idempotent(&self.inner.retry, path, || self.call(method.clone(), path, body)).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let bytes = self.call_safe(Method::GET, path, None).await?;
        decode(path, &bytes)
    }

    async fn send(&self, method: Method, path: &str, body: serde_json::Value) -> Result<Vec<u8>, ClientError> {
        self.call(method, path, Some(&body)).await
    }

    // ----- Volume sets (the pool) ------------------------------------------------------------

    /// `POST /volumesets`: the pool's volume set.
    pub async fn create_volume_set(&self, name: &str) -> Result<(), ClientError> {
        self.send(Method::POST, "/volumesets", json!({"name": name, "comment": COMMENT})).await.map(drop)
    }

    /// `DELETE /volumesets/<name>`.
    pub async fn delete_volume_set(&self, name: &str) -> Result<(), ClientError> {
        self.call_safe(Method::DELETE, &format!("/volumesets/{}", percent(name)), None).await.map(drop)
    }

    /// `GET /volumesets/<name>`.
    pub async fn volume_set(&self, name: &str) -> Result<VolumeSet, ClientError> {
        self.get(&format!("/volumesets/{}", percent(name))).await
    }

    async fn set_members(&self, set: &str, action: SetAction, volume: &str) -> Result<(), ClientError> {
        let body = json!({"action": action as i64, "setmembers": [volume]});
        let path = format!("/volumesets/{}", percent(set));
        match action {
            // Adding twice is refused, so a lost answer is looked up by the caller.
            SetAction::Add => self.send(Method::PUT, &path, body).await.map(drop),
            SetAction::Remove => self.call_safe(Method::PUT, &path, Some(&body)).await.map(drop),
        }
    }

    /// Adds a volume to a volume set.
    pub async fn add_to_volume_set(&self, set: &str, volume: &str) -> Result<(), ClientError> {
        self.set_members(set, SetAction::Add, volume).await
    }

    /// Removes a volume from a volume set.
    pub async fn remove_from_volume_set(&self, set: &str, volume: &str) -> Result<(), ClientError> {
        self.set_members(set, SetAction::Remove, volume).await
    }

    // ----- Volumes ---------------------------------------------------------------------------

    /// `POST /volumes`.
    pub async fn create_volume(&self, req: &CreateVolume) -> Result<(), ClientError> {
        self.send(Method::POST, "/volumes", serde_json::to_value(req).expect("serializable")).await.map(drop)
    }

    /// `GET /volumes/<name>`; `None` for code 23.
    pub async fn volume(&self, name: &str) -> Result<Option<Volume>, ClientError> {
        match self.get(&format!("/volumes/{}", percent(name))).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is(WsapiCode::NonExistentVolume) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `DELETE /volumes/<name>?cascade=true`: the volume and its snapshot tree.
    pub async fn delete_volume(&self, name: &str) -> Result<(), ClientError> {
        self.call_safe(Method::DELETE, &format!("/volumes/{}?cascade=true", percent(name)), None).await.map(drop)
    }

    /// `PUT /volumes/<name> {"action":3}`: grows by `delta_mib`.
    pub async fn grow_volume(&self, name: &str, delta_mib: u64) -> Result<(), ClientError> {
        let body = json!({"action": 3, "sizeMiB": delta_mib});
        self.send(Method::PUT, &format!("/volumes/{}", percent(name)), body).await.map(drop)
    }

    /// `POST /volumes/<name> {"action":"createSnapshot"}`.
    pub async fn create_snapshot(&self, volume: &str, snapshot: &str) -> Result<(), ClientError> {
        let body = json!({"action": "createSnapshot", "parameters": {"name": snapshot}});
        self.send(Method::POST, &format!("/volumes/{}", percent(volume)), body).await.map(drop)
    }

    /// `GET /volumes?query="copyOf==<name>"`: the direct virtual copies.
    pub async fn snapshots_of(&self, volume: &str) -> Result<Vec<Volume>, ClientError> {
        let list: Collection<Volume> = self.get(&format!("/volumes?{}", query("copyOf", volume))).await?;
        Ok(list.members)
    }

    /// `PUT /volumes/<snapshot> {"action":4}`: promotes a virtual copy onto its parent.
    pub async fn promote_snapshot(&self, snapshot: &str) -> Result<i64, ClientError> {
        let path = format!("/volumes/{}", percent(snapshot));
        let bytes = self.send(Method::PUT, &path, json!({"action": 4})).await?;
        Ok(decode::<TaskRef>(&path, &bytes)?.taskid)
    }

    /// `POST /volumes/<src> {"action":"createPhysicalCopy"}` into an existing volume.
    pub async fn physical_copy(&self, source: &str, destination: &str) -> Result<i64, ClientError> {
        let path = format!("/volumes/{}", percent(source));
        let body = json!({"action": "createPhysicalCopy",
            "parameters": {"destVolume": destination, "saveSnapshot": false, "priority": 1}});
        let bytes = self.send(Method::POST, &path, body).await?;
        Ok(decode::<TaskRef>(&path, &bytes)?.taskid)
    }

    /// `GET /tasks`: every task the array keeps.
    pub async fn tasks(&self) -> Result<Vec<Task>, ClientError> {
        Ok(self.get::<Collection<Task>>("/tasks").await?.members)
    }

    /// `GET /tasks/<id>?view=excludeDetail`.
    pub async fn task(&self, id: i64) -> Result<Task, ClientError> {
        self.get(&format!("/tasks/{id}?view=excludeDetail")).await
    }

    /// Polls a task every `poll` until it is done; an error when it fails, is
    /// cancelled or is still active after `timeout`.
    pub async fn wait_task(&self, id: i64, poll: Duration, timeout: Duration) -> Result<(), ClientError> {
        let start = Instant::now();
        loop {
            let t = self.task(id).await?;
            match t.status {
                task_status::DONE => return Ok(()),
                task_status::ACTIVE if start.elapsed() < timeout => tokio::time::sleep(poll).await,
                task_status::ACTIVE => {
                    return Err(ClientError::Task { id, state: format!("still active after {timeout:?}") })
                }
                task_status::CANCELLED => return Err(ClientError::Task { id, state: "was cancelled".into() }),
                task_status::FAILED => return Err(ClientError::Task { id, state: "failed".into() }),
                other => return Err(ClientError::Task { id, state: format!("has unknown status {other}") }),
            }
        }
    }

    // ----- Hosts, vLUNs, ports ---------------------------------------------------------------

    /// `GET /hosts`.
    pub async fn hosts(&self) -> Result<Vec<Host>, ClientError> {
        Ok(self.get::<Collection<Host>>("/hosts").await?.members)
    }

    /// `POST /hosts` with an NVMe/TCP NQN (`transportType` 2).
    pub async fn create_nvme_host(&self, name: &str, nqn: &str) -> Result<(), ClientError> {
        let body = json!({"name": name, "descriptors": {"comment": COMMENT}, "NQN": nqn, "transportType": 2});
        self.send(Method::POST, "/hosts", body).await.map(drop)
    }

    /// `POST /hosts` with an iSCSI initiator name.
    pub async fn create_iscsi_host(&self, name: &str, iqn: &str) -> Result<(), ClientError> {
        let body = json!({"name": name, "descriptors": {"comment": COMMENT}, "iSCSINames": [iqn]});
        self.send(Method::POST, "/hosts", body).await.map(drop)
    }

    /// `DELETE /hosts/<name>`.
    pub async fn delete_host(&self, name: &str) -> Result<(), ClientError> {
        self.call_safe(Method::DELETE, &format!("/hosts/{}", percent(name)), None).await.map(drop)
    }

    /// `GET /vluns?query="volumeName==<name>"`.
    pub async fn volume_vluns(&self, volume: &str) -> Result<Vec<Vlun>, ClientError> {
        Ok(self.get::<Collection<Vlun>>(&format!("/vluns?{}", query("volumeName", volume))).await?.members)
    }

    /// `GET /vluns?query="hostname==<name>"`.
    pub async fn host_vluns(&self, host: &str) -> Result<Vec<Vlun>, ClientError> {
        Ok(self.get::<Collection<Vlun>>(&format!("/vluns?{}", query("hostname", host))).await?.members)
    }

    /// `POST /vluns` with `autoLun`; the LUN the array chose, from the
    /// `Location` it answers (`/api/v1/vluns/<volume>,<lun>,<host>`).
    pub async fn create_vlun(&self, host: &str, volume: &str) -> Result<Option<i64>, ClientError> {
        let req = CreateVlun { hostname: host.into(), volume_name: volume.into(), lun: 0, auto_lun: true };
        let body = serde_json::to_value(req).expect("serializable");
        let (_, location) = self.call_located(Method::POST, "/vluns", Some(&body)).await?;
        Ok(location.as_deref().and_then(lun_of_location))
    }

    /// `DELETE /vluns/<volume>,<lun>,<host>`.
    pub async fn delete_vlun(&self, volume: &str, lun: i64, host: &str) -> Result<(), ClientError> {
        let path = format!("/vluns/{},{lun},{}", percent(volume), percent(host));
        self.call_safe(Method::DELETE, &path, None).await.map(drop)
    }

    /// `GET /ports`.
    pub async fn ports(&self) -> Result<Vec<Port>, ClientError> {
        Ok(self.get::<Collection<Port>>("/ports").await?.members)
    }

    /// `POST /spacereporter {"cpg"}`.
    pub async fn space_report(&self, cpg: &str) -> Result<SpaceReport, ClientError> {
        let bytes = self.call_safe(Method::POST, "/spacereporter", Some(&json!({"cpg": cpg}))).await?;
        decode("/spacereporter", &bytes)
    }
}

/// The LUN in a vLUN's `Location`.
fn lun_of_location(location: &str) -> Option<i64> {
    location.rsplit('/').next()?.split(',').nth(1)?.parse().ok()
}

fn decode<T: DeserializeOwned>(path: &str, bytes: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(bytes).map_err(|source| ClientError::Decode { path: path.to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_path_segments_are_encoded() {
        assert_eq!(query("copyOf", "u-ab12"), "query=%22copyOf%3D%3Du-ab12%22");
        assert_eq!(percent("u-ab12_x.y"), "u-ab12_x.y");
        assert_eq!(percent("a b/c"), "a%20b%2Fc");
    }

    /// One scripted answer: status, Content-Type, body.
    type Answer = (u16, &'static str, &'static str);

    /// A loopback HTTP server answering each request (one per connection) with
    /// the next scripted answer; returns its URL and what it was sent
    /// (request line and session key header).
    async fn scripted(answers: Vec<Answer>) -> (String, std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            for (status, content_type, body) in answers {
                let (mut sock, _) = listener.accept().await.unwrap();
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                }
                let key = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .starts_with("x-hp3par-wsapi-sessionkey:")
                            .then(|| l[27..].trim().to_string())
                    })
                    .unwrap_or_default();
                log.lock().unwrap().push((head.lines().next().unwrap().to_string(), key));
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                sock.write_all(reply.as_bytes()).await.unwrap();
            }
        });
        (url, seen)
    }

    const JSON: &str = "application/json";
    const VOLUME: &str = r#"{"id":1,"name":"u-x","sizeMiB":256,"nguid":"00000000000000000000000000000001"}"#;
    const EXPIRED: &str = r#"{"code":6,"desc":"invalid session key"}"#;

    #[tokio::test]
    async fn an_invalid_session_key_earns_one_login_and_one_retry() {
        let (url, seen) = scripted(vec![
            (201, JSON, r#"{"key":"k1"}"#),
            (403, JSON, EXPIRED),
            (201, JSON, r#"{"key":"k2"}"#),
            (200, JSON, VOLUME),
        ])
        .await;
        let c = Client::new(ClientOptions::new(&url, "3paradm", "pw")).unwrap();
        let v = c.volume("u-x").await.unwrap().unwrap();
        assert_eq!(v.size_bytes(), 256 << 20);
        assert_eq!(c.login_count().await, 2);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen[0].0, "POST /api/v1/credentials HTTP/1.1");
        assert_eq!(seen[1], ("GET /api/v1/volumes/u-x HTTP/1.1".to_string(), "k1".to_string()));
        assert_eq!(seen[3].1, "k2", "the retry uses the new key");
    }

    #[tokio::test]
    async fn a_second_refusal_is_the_error_and_other_403s_are_not_retried() {
        let (url, seen) = scripted(vec![
            (201, JSON, r#"{"key":"k1"}"#),
            (403, JSON, EXPIRED),
            (201, JSON, r#"{"key":"k2"}"#),
            (403, JSON, EXPIRED),
        ])
        .await;
        let c = Client::new(ClientOptions::new(&url, "u", "p")).unwrap();
        let err = c.volume("u-x").await.unwrap_err();
        assert!(err.is(WsapiCode::InvalidSessionKey), "{err}");
        assert_eq!(seen.lock().unwrap().len(), 4);

        let (url, seen) = scripted(vec![
            (201, JSON, r#"{"key":"k1"}"#),
            (403, JSON, r#"{"code":150,"desc":"cannot grow this type of volume"}"#),
        ])
        .await;
        let c = Client::new(ClientOptions::new(&url, "u", "p")).unwrap();
        let err = c.grow_volume("su-x", 256).await.unwrap_err();
        assert_eq!(err.code(), Some(WsapiCode::Other(150)));
        assert_eq!(seen.lock().unwrap().len(), 2, "no re-login for a 403 that is not code 6");
    }

    #[tokio::test]
    async fn bad_logins_missing_volumes_and_non_json_answers() {
        let (url, _) = scripted(vec![(403, JSON, r#"{"code":5,"desc":"invalid user or password"}"#)]).await;
        let err = Client::new(ClientOptions::new(&url, "u", "bad")).unwrap().login().await.unwrap_err();
        assert!(
            matches!(&err, ClientError::Unauthorized { status: 403, message } if message == "invalid user or password"),
            "{err}"
        );

        let (url, _) = scripted(vec![
            (201, JSON, r#"{"key":"k"}"#),
            (404, JSON, r#"{"code":23,"desc":"volume does not exist"}"#),
            (200, "text/html", "<html>"),
            (200, "application/json;charset=utf-8", VOLUME),
        ])
        .await;
        let c = Client::new(ClientOptions::new(&url, "u", "p")).unwrap();
        assert_eq!(c.volume("u-x").await.unwrap(), None, "code 23 is not found");
        assert!(matches!(c.volume("u-x").await.unwrap_err(), ClientError::ContentType { .. }));
        let err = c.volume("u-x").await.unwrap_err();
        assert!(
            matches!(&err, ClientError::ContentType { content_type: Some(t), .. } if t.contains("charset")),
            "{err}"
        );
    }

    #[test]
    fn vlun_locations_name_the_lun() {
        assert_eq!(lun_of_location("/api/v1/vluns/u-ab,3,h-nvme-tcp"), Some(3));
        assert_eq!(lun_of_location("/api/v1/vluns/u-ab,0,,1:2:3"), Some(0));
        assert_eq!(lun_of_location("/api/v1/vluns/u-ab"), None);
    }

    #[test]
    fn the_base_url_ends_in_api_v1() {
        let c = Client::new(ClientOptions::new("https://127.0.0.1:8443/", "u", "p")).unwrap();
        assert_eq!(c.base(), "https://127.0.0.1:8443/api/v1");
    }
}
