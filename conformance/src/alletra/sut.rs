//! The Alletra system under test: a WSAPI gateway reached through the
//! `alletra` driver (and, for what the driver never sends, [`Raw`]).
//!
//! [`Harness`] is one run: the recording proxy, the driver for the run's own
//! pool (a volume set it creates, named after the run tag), the raw client.
//! [`Sut`] is one case: it names the model's handles, performs each [`Op`],
//! and compares sizes, parents, snapshot lists, set membership, vLUNs, the
//! host entity and (with a data connector) the bytes with the model.
//!
//! Everything the harness creates carries the marker and the run tag: driver
//! names through the UUID (`a5f2f1` and the tag's hex, then the case
//! instance), raw names and the pool as `pfLx<tag hex>`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use powerflex_driver::alletra::client::types::CreateVolume;
use powerflex_driver::alletra::{self, naming, AlletraName, Client, ClientError, Mode, PoolConfig};
use powerflex_driver::connector::{IscsiConnector, SimConnector};
use powerflex_driver::host::HostIdentity;
use powerflex_driver::naming::{ContentType, VolumeType};
use powerflex_driver::{Connector, CopyRequest, CreateOptions, Error as DriverError, Volume};
use uuid::Uuid;

use super::model::{Expect, Model, Name, NameChoice, Op, H, MIB, SLOTS, TOO_LONG};
use super::wsapi::{Raw, RawError};
use crate::data::{self, DataMode, NullConnector};
use crate::machine::{Case, RunFrame};
use crate::progress::Progress;
use crate::sut::{harness_uuid, MARKER, MARKER_TEXT};
use crate::transcript::{self, Proxy};

/// Where each slot lives: inside the first 256 MiB, so in every volume.
pub fn slot_offset(slot: u8) -> u64 {
    [0, MIB + 4096, 100 * MIB + 12288, 256 * MIB - 8192][usize::from(slot % SLOTS)]
}

/// How to reach the WSAPI.
#[derive(Debug, Clone)]
pub struct Target {
    /// The WSAPI base URL (`https://host:port`).
    pub gateway: String,
    /// User.
    pub user: String,
    /// Password.
    pub password: String,
    /// Extra CA (PEM).
    pub ca_pem: Option<Vec<u8>>,
    /// Skip certificate verification.
    pub insecure: bool,
    /// The CPG volumes are created in (`alletra.cpg`).
    pub cpg: String,
    /// The data connector.
    pub data: DataMode,
}

/// One run's connection.
pub struct Harness {
    /// The runtime every call is driven on.
    pub rt: tokio::runtime::Handle,
    /// The recording proxy.
    pub proxy: Proxy,
    /// Raw calls.
    pub raw: Raw,
    /// The driver for the run's pool.
    pub drv: alletra::Driver,
    /// What the run was given.
    pub target: Target,
    /// The run tag bytes.
    pub tag_bytes: [u8; 3],
    /// The run tag as it appears in names (hex).
    pub tag: String,
    instance: AtomicU32,
    /// Set when the run is interrupted.
    pub interrupted: AtomicBool,
    /// Where the run is, for the person watching.
    pub progress: Progress,
}

impl RunFrame for Harness {
    fn proxy(&self) -> &Proxy {
        &self.proxy
    }
    fn progress(&self) -> &Progress {
        &self.progress
    }
    fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
    fn runtime(&self) -> &tokio::runtime::Handle {
        &self.rt
    }
}

fn check<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// The run tag as hex (Alletra names allow no base64 `+` or `/`).
pub fn tag_hex(tag: [u8; 3]) -> String {
    tag.iter().map(|b| format!("{b:02x}")).collect()
}

impl Harness {
    /// Connects: starts the proxy, discovers, creates the run's pool (volume set).
    pub async fn connect(target: Target, seed: u64, progress: Progress) -> Result<Arc<Harness>, String> {
        let http = transcript::upstream_client(target.insecure, target.ca_pem.as_deref())?;
        // The data surface (`/sim/`) sits beside `/api/v1`, so the proxy forwards from the root.
        let root = target.gateway.trim_end_matches('/').trim_end_matches("/api/v1");
        let proxy = check(transcript::start(root, http).await, "cannot start the recording proxy")?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mix = (seed ^ nanos).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes();
        let tag_bytes = [mix[0], mix[1], mix[2]];
        let tag = tag_hex(tag_bytes);
        let mut map = BTreeMap::new();
        map.insert("alletra.wsapi".to_string(), proxy.url.clone());
        map.insert("alletra.user.name".into(), target.user.clone());
        map.insert("alletra.user.password".into(), target.password.clone());
        map.insert("alletra.cpg".into(), target.cpg.clone());
        let mode = if target.data == DataMode::Iscsi { "iscsi" } else { "nvme" };
        map.insert("alletra.mode".into(), mode.into());
        let config = check(PoolConfig::from_map(&map), "pool configuration")?;
        let identity = HostIdentity {
            server_uuid: harness_uuid(tag_bytes, u32::MAX, 0, 0xd),
            hostname: format!("{MARKER_TEXT}{tag}-drv"),
        };
        let options = config.client_options();
        let connector: Arc<dyn Connector> = match target.data {
            DataMode::None => Arc::new(NullConnector),
            DataMode::Sim => Arc::new(check(
                SimConnector::for_alletra(&options, &alletra::ops::host_name(&identity, Mode::Nvme)),
                "the sim connector",
            )?),
            DataMode::Nvme => data::connector(DataMode::Nvme, &options)?,
            DataMode::Iscsi => Arc::new(IscsiConnector::new()),
            DataMode::Loop => {
                return Err("--data loop reaches PowerFlex backing files only; use sim, nvme or iscsi".into())
            }
            DataMode::Sdc => return Err("--data sdc reaches PowerFlex volumes only; use sim, nvme or iscsi".into()),
        };
        let client = check(Client::new(options), "WSAPI client")?;
        let pool = format!("{MARKER_TEXT}{tag}-pool");
        let discovery = check(alletra::ops::discover(&client, &pool, &config, &identity).await, "discovery")?;
        let drv = alletra::Driver::from_parts(client, config, discovery, identity, connector)
            .with_timeouts(Duration::from_secs(20), Duration::from_secs(20))
            .with_task_timing(Duration::from_millis(250), Duration::from_secs(180));
        check(drv.create_pool().await, "creating the run's pool (volume set)")?;
        Ok(Arc::new(Harness {
            rt: tokio::runtime::Handle::current(),
            raw: Raw::new(&proxy.url, &target.user, &target.password),
            proxy,
            drv,
            target,
            tag_bytes,
            tag,
            instance: AtomicU32::new(0),
            interrupted: AtomicBool::new(false),
            progress,
        }))
    }

    /// The WSAPI client.
    pub fn client(&self) -> &Client {
        self.drv.client()
    }

    /// The run's volume set.
    pub fn pool(&self) -> &str {
        &self.drv.discovery().volume_set
    }

    /// A new case instance number.
    pub fn next_instance(&self) -> u32 {
        self.instance.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// A raw-created volume's name: `pfLx<tag><inst>r<h>`.
    pub fn raw_name(&self, inst: u32, h: H) -> String {
        format!("{MARKER_TEXT}{}{inst:08x}r{h}", self.tag)
    }

    /// Whether an array name is this run's (and case `inst`'s, if given).
    pub fn owns(&self, name: &str, inst: Option<u32>) -> bool {
        if let Some(v) = naming::parse_volume_name(name) {
            let b = v.uuid.as_bytes();
            let i = u32::from_be_bytes([b[6], b[7], b[8], b[9]]);
            return b[..3] == MARKER && b[3..6] == self.tag_bytes && inst.is_none_or(|x| x == i);
        }
        let prefix = match inst {
            Some(i) => format!("{MARKER_TEXT}{}{i:08x}r", self.tag),
            None => format!("{MARKER_TEXT}{}", self.tag),
        };
        name.starts_with(&prefix)
    }

    /// Removes the named volumes: their vLUNs, set membership, then with
    /// `cascade`, and this host's entity once it has no vLUN left; returns
    /// what failed.
    pub async fn remove_names(&self, names: &[String]) -> Vec<String> {
        let c = self.client();
        let mut errors = Vec::new();
        for name in names {
            match c.volume_vluns(name).await {
                Ok(vluns) => {
                    for l in vluns {
                        let host = l.hostname.unwrap_or_default();
                        if let Err(e) = c.delete_vlun(name, l.lun, &host).await {
                            if !e.is(alletra::WsapiCode::NonExistentVlun) {
                                errors.push(format!("unexport {name} from {host}: {e}"));
                            }
                        }
                    }
                }
                Err(e) => errors.push(format!("vLUNs of {name}: {e}")),
            }
            let _ = c.remove_from_volume_set(self.pool(), name).await;
            match c.delete_volume(name).await {
                Err(e) if !e.is(alletra::WsapiCode::NonExistentVolume) => errors.push(format!("delete {name}: {e}")),
                _ => {}
            }
        }
        // As the driver does with the host's last vLUN: the host entity goes.
        let host = self.drv.host_name();
        match c.host_vluns(host).await {
            Ok(left) if left.is_empty() => match c.delete_host(host).await {
                Err(e) if !e.is(alletra::WsapiCode::NonExistentHost) => errors.push(format!("delete host {host}: {e}")),
                _ => {}
            },
            Ok(_) => {}
            Err(e) => errors.push(format!("vLUNs of host {host}: {e}")),
        }
        errors
    }

    /// Every volume of this run (and case `inst`, if given).
    pub async fn own_names(&self, inst: Option<u32>) -> Result<Vec<String>, RawError> {
        Ok(self.raw.member_names("volumes").await?.into_iter().filter(|n| self.owns(n, inst)).collect())
    }

    /// The driver's host entities (`<hostname>-nvme-tcp`, `-iscsi`): none
    /// should outlive its last vLUN.
    pub async fn driver_hosts(&self) -> Result<Vec<String>, RawError> {
        let prefix = format!("{MARKER_TEXT}{}-drv", self.tag);
        Ok(self.raw.member_names("hosts").await?.into_iter().filter(|n| n.starts_with(&prefix)).collect())
    }

    /// Removes everything this run created: volumes, the host entity, the pool.
    pub async fn cleanup_run(&self) -> Vec<String> {
        let mut errors = match self.own_names(None).await {
            Ok(names) => self.remove_names(&names).await,
            Err(e) => vec![format!("listing volumes: {e}")],
        };
        if let Err(e) = self.drv.delete_pool().await {
            errors.push(format!("delete the volume set {}: {e}", self.pool()));
        }
        errors
    }
}

/// What a step gave, in the model's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actual {
    /// Success.
    Ok,
    /// A WSAPI error.
    Wsapi(u16, i64),
    /// The driver refused the size.
    DriverSizeRefused,
    /// The driver refused a shrink.
    DriverShrinkRefused,
    /// The driver refused a copy smaller than its source.
    DriverCopyTooSmall,
    /// The driver refused to restore an attached volume.
    DriverAttached,
    /// Anything else.
    Other(String),
}

impl Actual {
    fn matches(&self, e: Expect) -> bool {
        matches!(
            (self, e),
            (Actual::Ok, Expect::Ok)
                | (Actual::DriverSizeRefused, Expect::DriverSizeRefused)
                | (Actual::DriverShrinkRefused, Expect::DriverShrinkRefused)
                | (Actual::DriverCopyTooSmall, Expect::DriverCopyTooSmall)
                | (Actual::DriverAttached, Expect::DriverAttached)
        ) || matches!((self, e), (Actual::Wsapi(s, c), Expect::Wsapi(t, d)) if *s == t && *c == d)
    }
}

fn of_client(r: Result<(), ClientError>) -> Actual {
    match r {
        Ok(()) => Actual::Ok,
        Err(ClientError::Api(e)) => Actual::Wsapi(e.status, e.code.code()),
        Err(e) => Actual::Other(e.to_string()),
    }
}

fn of_driver<T>(r: Result<T, DriverError>) -> Actual {
    match r {
        Ok(_) => Actual::Ok,
        Err(DriverError::Config(_)) => Actual::DriverSizeRefused,
        Err(DriverError::ShrinkRefused { .. }) => Actual::DriverShrinkRefused,
        Err(DriverError::CopyTooSmall { .. }) => Actual::DriverCopyTooSmall,
        Err(DriverError::Attached { .. }) => Actual::DriverAttached,
        Err(DriverError::Wsapi(e)) => of_client(Err(e)),
        Err(e) => Actual::Other(e.to_string()),
    }
}

/// One case against the gateway.
pub struct Sut {
    hx: Arc<Harness>,
    inst: u32,
    /// Array names of every handle made so far.
    names: BTreeMap<H, String>,
    done: bool,
}

impl Drop for Sut {
    fn drop(&mut self) {
        if !self.done {
            let hx = self.hx.clone();
            let inst = self.inst;
            hx.rt.block_on(async {
                if let Ok(names) = hx.own_names(Some(inst)).await {
                    hx.remove_names(&names).await;
                }
            });
        }
    }
}

impl Case for Sut {
    type Harness = Harness;
    type Model = Model;
    type Op = Op;

    fn harness() -> Arc<Harness> {
        super::machine::installed()
    }

    /// A new case.
    fn new(hx: Arc<Harness>) -> Sut {
        let inst = hx.next_instance();
        Sut { hx, inst, names: BTreeMap::new(), done: false }
    }

    /// Performs `op` (the model `m` is the state after it) and compares its outcome.
    fn perform(&mut self, m: &Model, op: &Op) -> Result<(), String> {
        let hx = self.hx.clone();
        if hx.interrupted.load(Ordering::SeqCst) {
            panic!("{}", crate::sut::INTERRUPTED);
        }
        hx.progress.step(&format!("{op:?}"));
        let actual = hx.rt.block_on(self.exec(m, op));
        if !actual.matches(m.expect) {
            return Err(format!("step {op:?}: the model expects {:?}, the gateway/driver gave {actual:?}", m.expect));
        }
        Ok(())
    }

    /// Names what the step created (names follow from handles).
    fn adopt(&mut self, m: &Model, _op: &Op) -> Result<(), String> {
        for &h in &m.created {
            let name = match m.vols[&h].name {
                Name::Driver => self.desc(m, h).alletra_name(),
                Name::Raw => self.hx.raw_name(self.inst, h),
            };
            self.names.insert(h, name);
        }
        Ok(())
    }

    fn differences(&mut self, m: &Model) -> Vec<String> {
        self.compare(m)
    }

    /// Compares the gateway with the model; panics with every difference.
    fn check(&self, m: &Model) {
        let problems = self.compare(m);
        if !problems.is_empty() {
            panic!("the gateway differs from the model:\n  {}", problems.join("\n  "));
        }
    }

    /// Audits for volumes of the case the model does not have (leaked),
    /// removes the case's volumes and checks none is left.
    fn teardown(mut self, m: &Model) {
        self.done = true;
        let hx = self.hx.clone();
        let inst = self.inst;
        let expected: BTreeSet<&String> = m.vols.keys().filter_map(|h| self.names.get(h)).collect();
        let mut leaked = Vec::new();
        let leftover = hx.rt.block_on(async {
            let names = hx.own_names(Some(inst)).await.map_err(|e| e.to_string())?;
            leaked.extend(names.iter().filter(|n| !expected.contains(n)).cloned());
            let errors = hx.remove_names(&names).await;
            if !errors.is_empty() {
                return Err(errors.join("; "));
            }
            let left = hx.own_names(Some(inst)).await.map_err(|e| e.to_string())?;
            // The case's vLUNs are gone with its volumes; so must the driver's host entity be.
            for name in hx.driver_hosts().await.map_err(|e| e.to_string())? {
                leaked.push(format!("host entity {name}"));
                hx.raw.delete_host(&name).await.map_err(|e| format!("remove host {name}: {e}"))?;
            }
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("left after the case's cleanup: {left:?}"))
            }
        });
        if !leaked.is_empty() {
            panic!("audit: the gateway holds objects of this case that the model does not (leaked; removed now): {leaked:?}");
        }
        if let Err(e) = leftover {
            panic!("teardown: {e}");
        }
    }
}

impl Sut {
    /// Every difference between the gateway and the model, content included.
    fn compare(&self, m: &Model) -> Vec<String> {
        let hx = self.hx.clone();
        let mut problems = hx.rt.block_on(self.observe(m));
        if problems.is_empty() && m.data {
            if let Err(e) = hx.rt.block_on(self.verify_content(m)) {
                problems.push(e);
            }
        }
        problems
    }

    fn uuid(&self, h: H) -> Uuid {
        harness_uuid(self.hx.tag_bytes, self.inst, h, 0)
    }

    /// The driver's descriptor of handle `h` (a snapshot when the model says so).
    fn desc(&self, m: &Model, h: H) -> Volume {
        let mut v = Volume::new(VolumeType::Custom, ContentType::Block, self.uuid(h));
        v.snapshot = m.vols.get(&h).is_some_and(|v| v.parent.is_some());
        v
    }

    fn name(&self, h: H) -> String {
        self.names.get(&h).cloned().unwrap_or_else(|| format!("unknown-handle-{h}"))
    }

    fn raw_choice(&self, m: &Model, choice: NameChoice) -> String {
        match choice {
            NameChoice::Fresh => self.hx.raw_name(self.inst, m.created.first().copied().unwrap_or(m.next)),
            NameChoice::Taken(o) => self.name(o),
            NameChoice::TooLong => {
                let mut s = self.hx.raw_name(self.inst, m.next);
                while s.len() < TOO_LONG {
                    s.push('L');
                }
                s
            }
            NameChoice::IllegalChar => format!("{}!x", self.hx.raw_name(self.inst, m.next)),
        }
    }

    async fn exec(&self, m: &Model, op: &Op) -> Actual {
        let hx = self.hx.clone();
        let (drv, c) = (&hx.drv, hx.client());
        let new = m.created.first().copied().unwrap_or(m.next);
        match *op {
            Op::Create { size_mib } => {
                let opts = CreateOptions { size: size_mib * MIB, thick: false };
                of_driver(drv.create_volume(&self.desc(m, new), &opts).await)
            }
            Op::CreateRaw { size_mib, name } => {
                let req =
                    CreateVolume { name: self.raw_choice(m, name), cpg: hx.target.cpg.clone(), size_mib, tpvv: true };
                of_client(c.create_volume(&req).await)
            }
            Op::Write { vol, slot, tag } => {
                let desc = self.desc(m, vol);
                let keep = m.vols[&vol].exported;
                let r = async {
                    let dev = drv.attach_volume(&desc).await?.device;
                    let bytes = data::pattern(tag, slot);
                    let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                        dev.write_at(&bytes, slot_offset(slot))?;
                        dev.flush()
                    })
                    .await;
                    let detached = if keep { Ok(()) } else { drv.detach_volume(&desc).await };
                    written
                        .map_err(|e| DriverError::Invalid(e.to_string()))?
                        .map_err(|e| DriverError::Invalid(format!("write: {e}")))?;
                    detached
                }
                .await;
                of_driver(r)
            }
            Op::Snapshot { vol } => of_driver(drv.create_snapshot(&self.desc(m, vol), self.uuid(new)).await),
            Op::Restore { vol, snap } => of_driver(drv.restore_volume(&self.desc(m, vol), &self.desc(m, snap)).await),
            Op::Grow { vol, size_mib } => of_driver(drv.resize_volume(&self.desc(m, vol), size_mib * MIB).await),
            Op::Copy { src, with_snapshots, size_mib } => {
                let source_snapshots: Vec<Volume> = match (with_snapshots, m.vols.get(&src)) {
                    (true, Some(v)) => v.snaps.iter().map(|s| self.desc(m, *s)).collect(),
                    _ => Vec::new(),
                };
                let base = Volume::new(VolumeType::Custom, ContentType::Block, self.uuid(new));
                let target_snapshots = (0..source_snapshots.len() as u32)
                    .map(|i| base.snapshot(self.uuid(m.created.get(1 + i as usize).copied().unwrap_or(new + 1 + i))))
                    .collect();
                let req = CopyRequest {
                    source: self.desc(m, src),
                    source_snapshots,
                    target: base,
                    target_snapshots,
                    size: size_mib.map(|s| s * MIB),
                    thick: false,
                };
                of_driver(drv.copy_volume(&req).await)
            }
            Op::Delete { vol } => {
                let mut desc = Volume::new(VolumeType::Custom, ContentType::Block, self.uuid(vol));
                desc.snapshot = self.name(vol).starts_with('s');
                of_driver(drv.delete_volume(&desc).await)
            }
            Op::DeleteNoCascade { vol } => {
                let name = self.name(vol);
                // Not a member (a raw volume, or taken out before): 404, as expected.
                let _ = c.remove_from_volume_set(hx.pool(), &name).await;
                match hx.raw.delete_volume_plain(&name).await {
                    Ok(()) => Actual::Ok,
                    Err(RawError::Api(s, code)) => Actual::Wsapi(s, code),
                    Err(RawError::Other(e)) => Actual::Other(e),
                }
            }
            Op::Export { vol } => of_driver(drv.attach_volume(&self.desc(m, vol)).await),
            Op::Unexport { vol } => of_driver(drv.detach_volume(&self.desc(m, vol)).await),
        }
    }

    async fn observe(&self, m: &Model) -> Vec<String> {
        let hx = self.hx.clone();
        let (drv, c) = (&hx.drv, hx.client());
        let mut problems = Vec::new();
        for (&h, v) in &m.vols {
            let name = self.name(h);
            let got = match c.volume(&name).await {
                Ok(Some(g)) => g,
                Ok(None) => {
                    problems.push(format!("#{h} {name}: missing (404, code 23)"));
                    continue;
                }
                Err(e) => {
                    problems.push(format!("#{h} {name}: {e}"));
                    continue;
                }
            };
            if got.size_mib != v.size_mib {
                problems.push(format!("#{h} {name}: sizeMiB {} but the model says {}", got.size_mib, v.size_mib));
            }
            let parent = v.parent.map(|p| self.name(p));
            if got.copy_of != parent {
                problems.push(format!("#{h} {name}: copyOf {:?} but the model says {parent:?}", got.copy_of));
            }
            if got.nguid.as_ref().is_none_or(|n| n.len() != 32) {
                problems.push(format!("#{h} {name}: nguid {:?} is not 32 characters (LXD needs it)", got.nguid));
            }
            if v.name == Name::Driver && v.parent.is_none() {
                match drv.volume_snapshots(&self.desc(m, h)).await {
                    Ok(snaps) => {
                        let got: BTreeSet<String> = snaps.into_iter().map(|s| s.name).collect();
                        let want: BTreeSet<String> = v.snaps.iter().map(|s| self.name(*s)).collect();
                        if got != want {
                            problems.push(format!("#{h} {name}: snapshots {got:?} but the model says {want:?}"));
                        }
                    }
                    Err(e) => problems.push(format!("#{h} {name}: listing snapshots: {e}")),
                }
            }
            match c.volume_vluns(&name).await {
                Ok(vluns) => {
                    let luns: BTreeSet<i64> = vluns
                        .iter()
                        .filter(|l| l.hostname.as_deref() == Some(drv.host_name()))
                        .map(|l| l.lun)
                        .collect();
                    if luns.len() != usize::from(v.exported) {
                        problems.push(format!(
                            "#{h} {name}: exported to this host at LUNs {luns:?}, the model says {}",
                            if v.exported { "once" } else { "not exported" }
                        ));
                    }
                }
                Err(e) => problems.push(format!("#{h} {name}: vLUNs: {e}")),
            }
        }
        for &h in &m.removed {
            let name = self.name(h);
            match c.volume(&name).await {
                Ok(None) => {}
                Ok(Some(_)) => problems.push(format!("#{h} {name}: still there after it was deleted")),
                Err(e) => problems.push(format!("#{h} {name}: {e}")),
            }
        }
        match c.volume_set(hx.pool()).await {
            Ok(set) => {
                let mine: BTreeSet<&String> = self.names.values().collect();
                let got: BTreeSet<String> = set.setmembers.into_iter().filter(|n| mine.contains(n)).collect();
                let want: BTreeSet<String> =
                    m.vols.iter().filter(|(_, v)| v.in_set).map(|(h, _)| self.name(*h)).collect();
                if got != want {
                    problems.push(format!("volume set {}: members {got:?} but the model says {want:?}", hx.pool()));
                }
            }
            Err(e) => problems.push(format!("volume set {}: {e}", hx.pool())),
        }
        let exported = m.vols.values().any(|v| v.exported);
        match c.hosts().await {
            Ok(hosts) => {
                let present = hosts.iter().any(|h| h.name == drv.host_name());
                if present != exported {
                    problems.push(format!(
                        "host entity {}: {} but {} of this case's volumes is exported",
                        drv.host_name(),
                        if present { "present" } else { "absent" },
                        if exported { "one" } else { "none" }
                    ));
                }
            }
            Err(e) => problems.push(format!("hosts: {e}")),
        }
        problems
    }

    /// Reads every slot of the newest eight driver volumes and snapshots.
    async fn verify_content(&self, m: &Model) -> Result<(), String> {
        let hx = self.hx.clone();
        let hs: Vec<H> = m.vols.keys().rev().copied().filter(|h| m.driver_addressable(*h)).take(8).collect();
        let mut problems = Vec::new();
        for h in hs {
            let desc = self.desc(m, h);
            let name = self.name(h);
            let dev = hx.drv.attach_volume(&desc).await.map_err(|e| format!("attach {name}: {e}"))?.device;
            let found = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<Vec<u8>>> {
                (0..SLOTS)
                    .map(|s| {
                        let mut buf = vec![0u8; data::SLOT_LEN];
                        dev.read_at(&mut buf, slot_offset(s))?;
                        Ok(buf)
                    })
                    .collect()
            })
            .await;
            if !m.vols[&h].exported {
                hx.drv.detach_volume(&desc).await.map_err(|e| format!("detach {name}: {e}"))?;
            }
            let found = found.map_err(|e| e.to_string())?.map_err(|e| format!("read {name}: {e}"))?;
            for s in 0..SLOTS {
                let want = m.vols[&h].content.get(&s).map(|t| data::pattern(*t, s)).unwrap_or(vec![0; data::SLOT_LEN]);
                if found[usize::from(s)] != want {
                    problems.push(format!(
                        "#{h} {name} slot {s}: expected {}, read {}",
                        data::describe(&want),
                        data::describe(&found[usize::from(s)])
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("content differs:\n  {}", problems.join("\n  ")))
        }
    }
}
