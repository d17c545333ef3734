//! The `sim` connector: a volume's bytes through the simulator's admin data
//! surface over HTTPS, no root and no kernel device.
//!
//! ```text
//! GET  /sim/info                                            -> which data plane runs
//! GET  /sim/volumes/{id}/data?nqn=<hostNqn>&offset=&length= -> the bytes (at most 16 MiB)
//! PUT  /sim/volumes/{id}/data?nqn=<hostNqn>&offset=         -> durable when answered
//! GET  /sim/volumes/{id}/extents?nqn=<hostNqn>&offset=&length= -> the data extents
//! ```
//!
//! `alletra-sim` serves the same surface with volumes by name and the host by
//! its entity's name (`/sim/volumes/{name}/data?host=<hostname>`):
//! [`SimConnector::for_alletra`].
//!
//! Requests authenticate with Basic user:password (the pool's gateway
//! credentials) and use the gateway client's TLS settings
//! ([`crate::http::http_client`]). The simulator serves a volume's bytes
//! only to a host the volume is mapped to, so attach still maps first; an
//! unmapped volume is refused with the gateway's error, which is passed on.
//!
//! [`AdminClient`] is also what the `loop` connector asks for backing files.
//! [`BlockDevice`] is synchronous and is called from blocking threads and from
//! async code alike, so the client runs its requests on a small runtime of its
//! own and the synchronous calls wait for them on a channel; no caller's
//! runtime is ever blocked inside or re-entered.
//!
//! [`SimDevice`] reads ahead up to 16 MiB on sequential reads and gathers
//! contiguous writes into requests of up to 16 MiB, sent at the latest by
//! [`BlockDevice::flush`] (or by a read, or on drop).
//!
//! The hole map, which keeps block copies proportional to the data, comes
//! from `GET /sim/volumes/{id}/extents` (refused unless mapped, like the
//! bytes): the simulator lists the data segments of the range, so the
//! simulator may run on another machine.

use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{BlockDevice, Connector, ConnectorError, ConnectorKind, Target, VolumeRef};
use crate::http::{http_client, snippet, ClientOptions};
use crate::powerflex::client::{ApiError, ClientError};

/// The most bytes one data request moves (the simulator's limit).
pub const MAX_CHUNK: usize = 16 << 20;
/// How far a sequential read fetches ahead.
pub const READ_AHEAD: usize = 16 << 20;

/// `GET /sim/info`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimInfo {
    /// `none`, `file` or `nvmet`.
    pub data_plane: String,
}

/// `GET /sim/volumes/{id}/backing`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backing {
    /// The backing file, on the simulator's machine.
    pub path: String,
    /// The volume size.
    pub size_in_bytes: u64,
    /// The data plane.
    pub data_plane: String,
}

/// `GET /sim/volumes/{id}/extents`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extents {
    /// Where the answer starts.
    pub offset: u64,
    /// How much of the volume it covers (shorter than asked when the list was cut).
    pub length: u64,
    /// The parts of it that may hold data, in order; the rest reads zeros.
    pub extents: Vec<Extent>,
}

/// One data extent.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Extent {
    /// Byte offset in the volume.
    pub offset: u64,
    /// Bytes.
    pub length: u64,
}

/// Owns the client's runtime; stops it without blocking, from any context.
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

struct AdminInner {
    base: String,
    /// The query parameter naming the host: `nqn` (pflex-sim) or `host` (alletra-sim).
    host_param: &'static str,
    user: String,
    password: String,
    http: reqwest::Client,
    handle: tokio::runtime::Handle,
    _runtime: Runtime,
}

/// A client for the simulator's `/sim/` admin surface; cheap to clone.
#[derive(Clone)]
pub struct AdminClient {
    inner: Arc<AdminInner>,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient").field("base", &self.inner.base).finish()
    }
}

type Query = Vec<(&'static str, String)>;

impl AdminClient {
    /// A client for `pflex-sim` with the gateway's URL, credentials and TLS
    /// options; hosts are named by NQN (`?nqn=`).
    pub fn new(options: &ClientOptions) -> Result<AdminClient, ConnectorError> {
        AdminClient::with_host_param(options, "nqn")
    }

    /// A client whose requests name the host with `host_param` (`alletra-sim`: `host`).
    pub fn with_host_param(options: &ClientOptions, host_param: &'static str) -> Result<AdminClient, ConnectorError> {
        let setup =
            |source: ClientError| ConnectorError::Admin { context: "setting up the HTTPS client".into(), source };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("pflex-sim-io")
            .enable_all()
            .build()
            .map_err(|e| setup(ClientError::Setup(format!("cannot start the I/O runtime: {e}"))))?;
        let http = {
            let _guard = runtime.enter();
            http_client(options).map_err(|e| setup(ClientError::Setup(e)))?
        };
        Ok(AdminClient {
            inner: Arc::new(AdminInner {
                base: options.gateway.trim_end_matches('/').to_string(),
                host_param,
                user: options.user.clone(),
                password: options.password.clone(),
                http,
                handle: runtime.handle().clone(),
                _runtime: Runtime(Some(runtime)),
            }),
        })
    }

    /// The gateway base URL.
    pub fn base(&self) -> &str {
        &self.inner.base
    }

    /// One request, as a `'static` future for the client's runtime.
    fn send(
        &self,
        method: Method,
        path: String,
        query: Query,
        body: Option<Vec<u8>>,
    ) -> impl std::future::Future<Output = Result<Vec<u8>, ClientError>> + Send + 'static {
        let inner = self.inner.clone();
        async move {
            let url = format!("{}{}", inner.base, path);
            let mut req = inner
                .http
                .request(method, &url)
                .query(&query)
                .basic_auth(&inner.user, Some(&inner.password))
                .header(reqwest::header::ACCEPT, "application/json, application/octet-stream");
            if let Some(body) = body {
                req = req.header(reqwest::header::CONTENT_TYPE, "application/octet-stream").body(body);
            }
            let resp = req.send().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
            if status == 200 {
                return Ok(bytes.to_vec());
            }
            Err(match ApiError::from_body(status, &bytes) {
                Some(e) if status == 401 => ClientError::Unauthorized { status, message: e.message },
                Some(e) => ClientError::Api(e),
                None => ClientError::Status { path, status, body: snippet(&bytes) },
            })
        }
    }

    async fn call(
        &self,
        method: Method,
        path: String,
        query: Query,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, ClientError> {
        let fut = self.send(method, path, query, body);
        self.inner.handle.spawn(fut).await.map_err(|e| ClientError::Setup(format!("admin request task failed: {e}")))?
    }

    /// Runs a request on the client's runtime and waits for it on this thread.
    fn call_blocking(
        &self,
        method: Method,
        path: String,
        query: Query,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, ClientError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let fut = self.send(method, path, query, body);
        self.inner.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| ClientError::Setup("the admin I/O runtime stopped".into()))?
    }

    fn decode<T: DeserializeOwned>(path: &str, bytes: &[u8]) -> Result<T, ClientError> {
        serde_json::from_slice(bytes).map_err(|source| ClientError::Decode { path: path.to_string(), source })
    }

    /// `GET /sim/info`.
    pub async fn info(&self) -> Result<SimInfo, ClientError> {
        let bytes = self.call(Method::GET, "/sim/info".into(), Vec::new(), None).await?;
        Self::decode("/sim/info", &bytes)
    }

    /// `GET /sim/volumes/{id}/backing?nqn=`: refused unless mapped to `host`.
    pub async fn backing(&self, volume_id: &str, host: &str) -> Result<Backing, ClientError> {
        let path = format!("/sim/volumes/{volume_id}/backing");
        let bytes = self.call(Method::GET, path.clone(), vec![(self.inner.host_param, host.to_string())], None).await?;
        Self::decode(&path, &bytes)
    }

    /// `GET /sim/volumes/{id}/extents?nqn=`: the data extents in `len` bytes at `offset`,
    /// waiting on this thread. Refused unless mapped to `host`.
    pub fn extents_blocking(&self, volume_id: &str, host: &str, offset: u64, len: u64) -> Result<Extents, ClientError> {
        let path = format!("/sim/volumes/{volume_id}/extents");
        let query = vec![
            (self.inner.host_param, host.to_string()),
            ("offset", offset.to_string()),
            ("length", len.to_string()),
        ];
        let bytes = self.call_blocking(Method::GET, path.clone(), query, None)?;
        Self::decode(&path, &bytes)
    }

    /// `GET /sim/volumes/{id}/data`: `len` (at most [`MAX_CHUNK`]) bytes at `offset`.
    pub fn read_blocking(&self, volume_id: &str, host: &str, offset: u64, len: usize) -> Result<Vec<u8>, ClientError> {
        let query = vec![
            (self.inner.host_param, host.to_string()),
            ("offset", offset.to_string()),
            ("length", len.to_string()),
        ];
        self.call_blocking(Method::GET, format!("/sim/volumes/{volume_id}/data"), query, None)
    }

    /// `GET /sim/volumes/{id}/data` with length 0: whether `host` may read the volume.
    pub async fn probe(&self, volume_id: &str, host: &str) -> Result<(), ClientError> {
        let query = vec![(self.inner.host_param, host.to_string()), ("offset", "0".into()), ("length", "0".into())];
        self.call(Method::GET, format!("/sim/volumes/{volume_id}/data"), query, None).await.map(|_| ())
    }

    /// `PUT /sim/volumes/{id}/data`: at most [`MAX_CHUNK`] bytes at `offset`, durable when it returns.
    pub fn write_blocking(&self, volume_id: &str, host: &str, offset: u64, data: Vec<u8>) -> Result<(), ClientError> {
        let query = vec![(self.inner.host_param, host.to_string()), ("offset", offset.to_string())];
        self.call_blocking(Method::PUT, format!("/sim/volumes/{volume_id}/data"), query, Some(data)).map(|_| ())
    }

    /// `POST /sim/sdcs`: an SDC with this GUID joins the MDM from `ip` (what `pflex-sdc` does
    /// where a real SDC speaks the MDM's own protocol); its SDC id.
    pub async fn connect_sdc(&self, guid: &str, ip: &str, name: Option<&str>) -> Result<String, ClientError> {
        let body = serde_json::json!({ "guid": guid, "ip": ip, "name": name });
        let bytes =
            self.call(Method::POST, "/sim/sdcs".into(), Vec::new(), Some(body.to_string().into_bytes())).await?;
        let created: serde_json::Value = Self::decode("/sim/sdcs", &bytes)?;
        created["id"].as_str().map(str::to_string).ok_or_else(|| ClientError::Status {
            path: "/sim/sdcs".into(),
            status: 200,
            body: snippet(&bytes),
        })
    }

    /// `POST /sim/sdcs/{guid}/disconnect`: the SDC leaves the MDM.
    pub async fn disconnect_sdc(&self, guid: &str) -> Result<(), ClientError> {
        self.call(Method::POST, format!("/sim/sdcs/{guid}/disconnect"), Vec::new(), None).await.map(|_| ())
    }

    /// Checks that the admin surface answers these credentials and that the
    /// simulator keeps volume bytes (`file` or `nvmet` plane).
    pub async fn check_plane(&self, connector: &'static str) -> Result<SimInfo, ConnectorError> {
        let info = self.info().await.map_err(|source| ConnectorError::Admin {
            context: format!(
                "GET {}/sim/info (the {connector} connector needs pflex-sim's admin surface, reachable with the pool's user and password)",
                self.base()
            ),
            source,
        })?;
        if !matches!(info.data_plane.as_str(), "file" | "nvmet") {
            return Err(ConnectorError::Unavailable {
                connector,
                reason: format!(
                    "the simulator runs the {:?} data plane, which keeps no volume bytes; start pflex-sim with --data-plane file (or nvmet)",
                    info.data_plane
                ),
            });
        }
        Ok(info)
    }
}

/// Turns an admin failure into an I/O error for [`BlockDevice`] callers.
fn io_error(context: String, source: ClientError) -> io::Error {
    let kind = match &source {
        ClientError::Api(e) if e.http_status == 403 => io::ErrorKind::PermissionDenied,
        ClientError::Api(e) if e.http_status == 404 => io::ErrorKind::NotFound,
        ClientError::Unauthorized { .. } => io::ErrorKind::PermissionDenied,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, ConnectorError::Admin { context, source })
}

/// The `sim` connector.
#[derive(Debug)]
pub struct SimConnector {
    admin: AdminClient,
    /// The host entity's name when the surface is `alletra-sim`'s.
    alletra_host: Option<String>,
    checked: AtomicBool,
}

impl SimConnector {
    /// A connector for `pflex-sim` at `gateway` (URL, credentials, TLS options):
    /// volumes by ID, this host by its NQN.
    pub fn new(gateway: &ClientOptions) -> Result<SimConnector, ConnectorError> {
        Ok(SimConnector { admin: AdminClient::new(gateway)?, alletra_host: None, checked: AtomicBool::new(false) })
    }

    /// A connector for `alletra-sim` at `wsapi`: volumes by name, this host by
    /// its entity's name (`?host=<name>`), as that emulator's data surface asks.
    pub fn for_alletra(wsapi: &ClientOptions, host: &str) -> Result<SimConnector, ConnectorError> {
        let admin = AdminClient::with_host_param(wsapi, "host")?;
        Ok(SimConnector { admin, alletra_host: Some(host.to_string()), checked: AtomicBool::new(false) })
    }

    /// How the data surface names the volume and this host.
    fn address<'a>(&'a self, target: &'a Target, volume: &'a VolumeRef) -> (&'a str, &'a str) {
        match &self.alletra_host {
            Some(host) => (&volume.name, host),
            None => (&volume.id, &target.host_nqn),
        }
    }

    /// The admin client it uses.
    pub fn admin(&self) -> &AdminClient {
        &self.admin
    }
}

#[async_trait]
impl Connector for SimConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Sim
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        if !self.checked.load(Ordering::SeqCst) {
            self.admin.check_plane("sim").await?;
            self.checked.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    async fn connect(&self, _target: &Target) -> Result<bool, ConnectorError> {
        self.check().await?;
        Ok(false)
    }

    async fn open(
        &self,
        target: &Target,
        volume: &VolumeRef,
        _timeout: Duration,
    ) -> Result<Box<dyn BlockDevice>, ConnectorError> {
        // The mapping is in place when the gateway answered; a refusal here is final.
        let (id, host) = self.address(target, volume);
        self.admin.probe(id, host).await.map_err(|source| ConnectorError::Admin {
            context: format!("opening volume {id} ({}) for host {host}", volume.name),
            source,
        })?;
        Ok(Box::new(SimDevice::new(self.admin.clone(), id, host, volume.size)))
    }

    async fn device_path(
        &self,
        _target: &Target,
        _volume: &VolumeRef,
    ) -> Result<Option<std::path::PathBuf>, ConnectorError> {
        Ok(None)
    }

    async fn wait_gone(&self, _target: &Target, _volume: &VolumeRef, _timeout: Duration) -> Result<(), ConnectorError> {
        Ok(())
    }

    async fn disconnect(&self, _target: &Target) -> Result<(), ConnectorError> {
        Ok(())
    }
}

#[derive(Default)]
struct Buffers {
    /// Bytes read ahead: (offset, data).
    ahead: Option<(u64, Vec<u8>)>,
    /// Contiguous writes not sent yet: (offset, data).
    pending: Option<(u64, Vec<u8>)>,
}

/// A volume reached through the admin data surface.
pub struct SimDevice {
    admin: AdminClient,
    volume_id: String,
    host: String,
    size: u64,
    buffers: Mutex<Buffers>,
}

impl std::fmt::Debug for SimDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDevice").field("volume_id", &self.volume_id).field("size", &self.size).finish()
    }
}

impl SimDevice {
    /// The device of `volume_id` as `host` (its NQN or, on alletra-sim, its name) sees it.
    pub fn new(admin: AdminClient, volume_id: &str, host: &str, size: u64) -> SimDevice {
        SimDevice {
            admin,
            volume_id: volume_id.to_string(),
            host: host.to_string(),
            size,
            buffers: Mutex::new(Buffers::default()),
        }
    }

    fn check_range(&self, offset: u64, len: usize) -> io::Result<()> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("range {offset}+{len} is beyond the volume's {} bytes", self.size),
            )),
        }
    }

    fn fetch(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let data = self
            .admin
            .read_blocking(&self.volume_id, &self.host, offset, len)
            .map_err(|e| io_error(format!("reading volume {} at {offset}", self.volume_id), e))?;
        if data.len() != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("volume {}: asked for {len} bytes at {offset}, got {}", self.volume_id, data.len()),
            ));
        }
        Ok(data)
    }

    fn put(&self, offset: u64, data: Vec<u8>) -> io::Result<()> {
        self.admin
            .write_blocking(&self.volume_id, &self.host, offset, data)
            .map_err(|e| io_error(format!("writing volume {} at {offset}", self.volume_id), e))
    }

    fn send_pending(&self, b: &mut Buffers) -> io::Result<()> {
        match b.pending.take() {
            Some((offset, data)) => self.put(offset, data),
            None => Ok(()),
        }
    }
}

impl BlockDevice for SimDevice {
    fn size(&self) -> io::Result<u64> {
        Ok(self.size)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.check_range(offset, buf.len())?;
        let mut b = self.buffers.lock().expect("buffers lock");
        self.send_pending(&mut b)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let want = buf.len() - done;
            if let Some((start, data)) = &b.ahead {
                let end = start + data.len() as u64;
                if pos >= *start && pos < end {
                    let from = (pos - start) as usize;
                    let n = want.min(data.len() - from);
                    buf[done..done + n].copy_from_slice(&data[from..from + n]);
                    done += n;
                    continue;
                }
            }
            if want >= READ_AHEAD {
                let n = want.min(MAX_CHUNK);
                let data = self.fetch(pos, n)?;
                buf[done..done + n].copy_from_slice(&data);
                done += n;
            } else {
                let n = (READ_AHEAD as u64).min(self.size - pos) as usize;
                b.ahead = Some((pos, self.fetch(pos, n)?));
            }
        }
        Ok(())
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.check_range(offset, buf.len())?;
        let mut b = self.buffers.lock().expect("buffers lock");
        b.ahead = None;
        if let Some((start, data)) = &mut b.pending {
            if *start + data.len() as u64 == offset && data.len() + buf.len() <= MAX_CHUNK {
                data.extend_from_slice(buf);
                return Ok(());
            }
        }
        self.send_pending(&mut b)?;
        if buf.len() >= MAX_CHUNK {
            for (i, chunk) in buf.chunks(MAX_CHUNK).enumerate() {
                self.put(offset + (i * MAX_CHUNK) as u64, chunk.to_vec())?;
            }
        } else if !buf.is_empty() {
            b.pending = Some((offset, buf.to_vec()));
        }
        Ok(())
    }

    fn flush(&self) -> io::Result<()> {
        let mut b = self.buffers.lock().expect("buffers lock");
        self.send_pending(&mut b)
    }

    /// The simulator's extent list for the range (asked again where it was cut short).
    fn data_ranges(&self, range: Range<u64>) -> io::Result<Option<Vec<Range<u64>>>> {
        self.flush()?;
        let mut out: Vec<Range<u64>> = Vec::new();
        let mut pos = range.start;
        while pos < range.end {
            let answer = self
                .admin
                .extents_blocking(&self.volume_id, &self.host, pos, range.end - pos)
                .map_err(|e| io_error(format!("data extents of volume {} at {pos}", self.volume_id), e))?;
            if answer.offset != pos || answer.length == 0 || answer.length > range.end - pos {
                return Err(io::Error::other(format!(
                    "volume {}: extents asked for {pos}+{}, answered for {}+{}",
                    self.volume_id,
                    range.end - pos,
                    answer.offset,
                    answer.length
                )));
            }
            let end = pos + answer.length;
            for e in answer.extents {
                let r = e.offset.max(pos)..(e.offset.saturating_add(e.length)).min(end);
                if r.is_empty() {
                    continue;
                }
                match out.last_mut() {
                    Some(last) if last.end >= r.start => last.end = last.end.max(r.end),
                    _ => out.push(r),
                }
            }
            pos = end;
        }
        Ok(Some(out))
    }
}

impl Drop for SimDevice {
    fn drop(&mut self) {
        let b = self.buffers.get_mut().map(|b| b.pending.take());
        if let Ok(Some((offset, data))) = b {
            if let Err(e) = self.put(offset, data) {
                tracing::error!(volume = %self.volume_id, "unflushed writes lost when the device was dropped: {e}");
            }
        }
    }
}
