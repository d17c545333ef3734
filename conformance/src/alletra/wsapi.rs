//! Raw WSAPI calls the driver's client does not make: a `DELETE` without
//! `cascade`, whole collections (for cleanup) and `/system` (the version).
//! They go through the recording proxy like everything else.

use serde_json::Value;
use tokio::sync::Mutex;

/// A WSAPI error: HTTP status and `code`, or a transport problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawError {
    /// `{code, desc}` with this status.
    Api(u16, i64),
    /// Anything else.
    Other(String),
}

impl std::fmt::Display for RawError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawError::Api(s, c) => write!(f, "HTTP {s}, code {c}"),
            RawError::Other(e) => f.write_str(e),
        }
    }
}

/// A session on the WSAPI at `base` (the proxy).
pub struct Raw {
    http: reqwest::Client,
    base: String,
    user: String,
    password: String,
    key: Mutex<Option<String>>,
}

impl Raw {
    /// A client of plain HTTP (the recording proxy); it logs in at its first call.
    pub fn new(base: &str, user: &str, password: &str) -> Raw {
        Raw::with_client(reqwest::Client::new(), base, user, password)
    }

    /// A client over `http` (say, one trusting the gateway's CA).
    pub fn with_client(http: reqwest::Client, base: &str, user: &str, password: &str) -> Raw {
        Raw {
            http,
            base: format!("{}/api/v1", base.trim_end_matches('/')),
            user: user.into(),
            password: password.into(),
            key: Mutex::new(None),
        }
    }

    async fn login(&self) -> Result<String, RawError> {
        let body = serde_json::json!({"user": self.user, "password": self.password, "sessionType": 1});
        let (status, v) = self.send(reqwest::Method::POST, "/credentials", None, Some(&body)).await?;
        if status >= 400 {
            return Err(api_error(status, &v));
        }
        v["key"].as_str().map(str::to_string).ok_or_else(|| RawError::Other(format!("no session key in {v}")))
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value), RawError> {
        let mut rq = self.http.request(method, format!("{}{path}", self.base)).header("Accept", "application/json");
        if let Some(k) = key {
            rq = rq.header("X-HP3PAR-WSAPI-SessionKey", k);
        }
        if let Some(b) = body {
            rq = rq.json(b);
        }
        let rs = rq.send().await.map_err(|e| RawError::Other(e.to_string()))?;
        let status = rs.status().as_u16();
        let bytes = rs.bytes().await.map_err(|e| RawError::Other(e.to_string()))?;
        let v = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        Ok((status, v))
    }

    /// One call, logging in again once on code 6 (as LXD does).
    async fn call(&self, method: reqwest::Method, path: &str) -> Result<Value, RawError> {
        for _ in 0..2 {
            let key = {
                let mut k = self.key.lock().await;
                if k.is_none() {
                    *k = Some(self.login().await?);
                }
                k.clone().expect("logged in")
            };
            let (status, v) = self.send(method.clone(), path, Some(&key), None).await?;
            if status == 403 && v["code"] == 6 {
                *self.key.lock().await = None;
                continue;
            }
            if status >= 400 {
                return Err(api_error(status, &v));
            }
            return Ok(v);
        }
        Err(RawError::Other("the session key was refused twice".into()))
    }

    /// `DELETE /volumes/<name>`, without `cascade`.
    pub async fn delete_volume_plain(&self, name: &str) -> Result<(), RawError> {
        self.call(reqwest::Method::DELETE, &format!("/volumes/{name}")).await.map(drop)
    }

    /// `DELETE /hosts/<name>`.
    pub async fn delete_host(&self, name: &str) -> Result<(), RawError> {
        self.call(reqwest::Method::DELETE, &format!("/hosts/{name}")).await.map(drop)
    }

    /// The names of every member of a collection (`volumes`, `hosts`, `volumesets`).
    pub async fn member_names(&self, collection: &str) -> Result<Vec<String>, RawError> {
        let v = self.call(reqwest::Method::GET, &format!("/{collection}")).await?;
        Ok(v["members"].as_array().into_iter().flatten().filter_map(|m| m["name"].as_str().map(String::from)).collect())
    }

    /// The system's OS version, as `GET /system` gives it.
    pub async fn version(&self) -> Result<String, RawError> {
        let v = self.call(reqwest::Method::GET, "/system").await?;
        Ok(v["systemVersion"].as_str().unwrap_or("unknown").to_string())
    }
}

fn api_error(status: u16, v: &Value) -> RawError {
    match v["code"].as_i64() {
        Some(code) => RawError::Api(status, code),
        None => RawError::Other(format!("HTTP {status} without a WSAPI error body: {v}")),
    }
}
