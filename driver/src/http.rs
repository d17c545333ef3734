//! HTTPS as every array's client uses it: the connection options, the
//! reqwest client built from them (rustls, timeouts, verification, extra CAs),
//! and the [`Connection`] a client's clones share.

use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::retry::Policy;
use crate::session::TokenCell;

/// Default time allowed for one request, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time allowed to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit of concurrent requests (and so of connections).
pub const DEFAULT_MAX_CONNECTIONS: usize = 8;

/// How to reach an array's gateway (PowerFlex REST, Alletra WSAPI): its
/// URL, credentials, TLS and limits.
#[derive(Clone)]
pub struct ClientOptions {
    /// Gateway base URL; paths are appended to it.
    pub gateway: String,
    /// User to log in as.
    pub user: String,
    /// Password to log in with.
    pub password: String,
    /// Verify the gateway's certificate (default true).
    pub verify_tls: bool,
    /// Extra trusted CA certificates, PEM.
    pub ca_pem: Option<Vec<u8>>,
    /// Time allowed for one request.
    pub timeout: Duration,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Concurrent requests allowed (at least 1).
    pub max_connections: usize,
    /// How calls that are safe to repeat are tried again when their outcome is unknown.
    pub retry: Policy,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("gateway", &self.gateway)
            .field("user", &self.user)
            .field("password", &crate::keys::REDACTED)
            .field("verify_tls", &self.verify_tls)
            .field("ca_pem", &self.ca_pem.as_ref().map(|p| p.len()))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_connections", &self.max_connections)
            .field("retry", &self.retry)
            .finish()
    }
}

impl ClientOptions {
    /// Options with the defaults: verification on, default timeouts.
    pub fn new(gateway: &str, user: &str, password: &str) -> ClientOptions {
        ClientOptions {
            gateway: gateway.trim_end_matches('/').to_string(),
            user: user.to_string(),
            password: password.to_string(),
            verify_tls: true,
            ca_pem: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            retry: Policy::default(),
        }
    }
}

/// The HTTPS client every gateway connection uses (an error says why it could not be built): rustls, the options'
/// timeouts, certificate verification unless turned off, extra CA certificates.
/// The `sim` and `loop` connectors build theirs here too, so they trust exactly
/// what the gateway client trusts.
pub fn http_client(options: &ClientOptions) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(options.timeout)
        .connect_timeout(options.connect_timeout)
        .pool_max_idle_per_host(options.max_connections.max(1))
        .danger_accept_invalid_certs(!options.verify_tls);
    if let Some(pem) = &options.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("invalid CA certificate: {e}"))?;
        if certs.is_empty() {
            return Err("the CA file holds no certificate".into());
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| e.to_string())
}

/// What an array client holds, shared by all its clones: where the API is, who
/// logs in, the HTTPS client, the login's secret and the limit of concurrent
/// requests. The clients add only their protocol (paths, headers, errors).
pub struct Connection {
    /// The URL paths are appended to.
    pub base: String,
    pub user: String,
    pub password: String,
    pub http: reqwest::Client,
    pub session: TokenCell,
    /// How safe calls are tried again.
    pub retry: Policy,
    limit: Semaphore,
}

impl Connection {
    /// A connection to `base` with `options`' credentials, TLS and limits; no
    /// request is made yet.
    pub fn new(options: ClientOptions, base: String) -> Result<Connection, String> {
        Ok(Connection {
            base,
            http: http_client(&options)?,
            limit: Semaphore::new(options.max_connections.max(1)),
            user: options.user,
            password: options.password,
            retry: options.retry,
            session: TokenCell::default(),
        })
    }

    /// A turn to send a request, within the limit; `None` once the client is closed.
    pub async fn permit(&self) -> Option<SemaphorePermit<'_>> {
        self.limit.acquire().await.ok()
    }
}

/// The start of a response body, for error messages.
pub fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut s: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        s.push('…');
    }
    s
}
