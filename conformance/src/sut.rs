//! The system under test: a gateway reached through the driver.
//!
//! [`Harness`] is one run's connection: the recording proxy, the driver
//! (twice: `clone_copy` false and true), the raw client, two harness hosts
//! to map to, and the run's name tag. [`Sut`] is one case: it maps the
//! model's handles to gateway ids, performs each [`Op`] through the driver or
//! the raw client, and compares what comes back with the model.
//!
//! Everything the harness creates carries the marker `pfLx` and the run tag
//! in its name (driver names encode it in the UUID, whose base64 starts
//! `pfLx<tag>`), and the case instance after it, so a case only ever looks at
//! and removes its own volumes, and the run only its own hosts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use powerflex_driver::host::HostIdentity;
use powerflex_driver::naming::{ContentType, VolumeType};
use powerflex_driver::powerflex::client::types::Volume as WireVolume;
use powerflex_driver::powerflex::client::{ClientError, ErrorCode};
use powerflex_driver::powerflex::config::PoolConfig;
use powerflex_driver::powerflex::naming::{self, PowerFlexName};
use powerflex_driver::{Client, CopyMethod, CopyRequest, Driver, Error as DriverError, Volume};
use uuid::Uuid;

use crate::data::{self, DataMode};
use crate::gateway_calls::{Gw, GwError};
use crate::machine::Case;
use crate::model::{Ancestor, CopyWay, Expect, Model, Name, NameChoice, Op, H, HOSTS, SLOTS, T};
use crate::progress::Progress;
use crate::transcript::{self, Proxy};

/// The first three UUID bytes of every harness volume: base64 `pfLx`.
pub const MARKER: [u8; 3] = [0xa5, 0xf2, 0xf1];
/// The marker as text.
pub const MARKER_TEXT: &str = "pfLx";

/// Which pool to use.
#[derive(Debug, Clone)]
pub enum PoolSel {
    /// By ID.
    Id(String),
    /// By name inside a protection domain.
    Named {
        /// Pool name.
        pool: String,
        /// Domain name.
        domain: String,
    },
}

/// How to reach the gateway.
#[derive(Debug, Clone)]
pub struct Target {
    /// Gateway URL.
    pub gateway: String,
    /// User.
    pub user: String,
    /// Password.
    pub password: String,
    /// Extra CA (PEM).
    pub ca_pem: Option<Vec<u8>>,
    /// Skip certificate verification.
    pub insecure: bool,
    /// The pool.
    pub pool: PoolSel,
    /// The data connector.
    pub data: DataMode,
}

/// The panic message of a case stopped because the run was interrupted.
pub const INTERRUPTED: &str = "interrupted";

/// One run's connection to the gateway.
pub struct Harness {
    /// The runtime every call is driven on.
    pub rt: tokio::runtime::Handle,
    /// The recording proxy.
    pub proxy: Proxy,
    /// The raw client.
    pub gw: Gw,
    /// The driver with `clone_copy=false`.
    pub drv: Driver,
    /// The driver with `clone_copy=true`.
    pub drv_full: Driver,
    /// What the run was given.
    pub target: Target,
    /// The run tag bytes.
    pub tag_bytes: [u8; 3],
    /// The run tag as it appears in names.
    pub tag: String,
    /// Harness host ids (mapping targets).
    pub hosts: Vec<String>,
    instance: AtomicU32,
    /// Set when the run is interrupted.
    pub interrupted: AtomicBool,
    /// Where the run is, for the person watching.
    pub progress: Progress,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness").field("tag", &self.tag).finish()
    }
}

/// The UUID of a harness object.
pub fn harness_uuid(tag: [u8; 3], inst: u32, h: u32, kind: u8) -> Uuid {
    let mut b = [0u8; 16];
    b[..3].copy_from_slice(&MARKER);
    b[3..6].copy_from_slice(&tag);
    b[6..10].copy_from_slice(&inst.to_be_bytes());
    b[10..14].copy_from_slice(&h.to_be_bytes());
    b[14] = kind;
    Uuid::from_bytes(b)
}

/// The run tag's text, as base64 puts it in names.
pub fn tag_text(tag: [u8; 3]) -> String {
    let n = naming::volume_name(VolumeType::Custom, ContentType::Filesystem, harness_uuid(tag, 0, 0, 0), false);
    n[6..10].to_string()
}

/// Whose volume a name is: `Some((run tag text, instance))` for harness names.
pub fn owner(name: &str) -> Option<(String, u32)> {
    if let Some(p) = naming::parse_volume_name(name) {
        let b = p.uuid.as_bytes();
        if b[..3] == MARKER {
            let tag = tag_text([b[3], b[4], b[5]]);
            return Some((tag, u32::from_be_bytes([b[6], b[7], b[8], b[9]])));
        }
        return None;
    }
    let rest = name.strip_prefix(MARKER_TEXT)?;
    let tag = rest.get(..4)?.to_string();
    let inst = u32::from_str_radix(rest.get(4..12)?, 16).ok()?;
    Some((tag, inst))
}

/// The block on `fut` with a message on error.
fn check<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

impl Harness {
    /// Connects: starts the proxy, discovers the pool, creates the two hosts.
    pub async fn connect(target: Target, seed: u64, progress: Progress) -> Result<Arc<Harness>, String> {
        let http = transcript::upstream_client(target.insecure, target.ca_pem.as_deref())?;
        let proxy = check(transcript::start(&target.gateway, http).await, "cannot start the recording proxy")?;
        let mut map = BTreeMap::new();
        map.insert("powerflex.gateway".to_string(), proxy.url.clone());
        map.insert("powerflex.user.name".into(), target.user.clone());
        map.insert("powerflex.user.password".into(), target.password.clone());
        // Through the SDC the driver runs as LXD's sdc mode does; otherwise NVMe/TCP's.
        let mode = if target.data == DataMode::Sdc { "sdc" } else { "nvme" };
        map.insert("powerflex.mode".into(), mode.into());
        map.insert("powerflex.clone_copy".into(), "false".into());
        match &target.pool {
            PoolSel::Id(id) => {
                map.insert("powerflex.pool".into(), id.clone());
            }
            PoolSel::Named { pool, domain } => {
                map.insert("powerflex.pool".into(), pool.clone());
                map.insert("powerflex.domain".into(), domain.clone());
            }
        }
        let config = check(PoolConfig::from_map(&map), "pool configuration")?;
        let mut full = config.clone();
        full.clone_copy = true;
        // A tag that differs between runs but is reproducible from the seed and the clock.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mix = (seed ^ nanos).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes();
        let tag_bytes = [mix[0], mix[1], mix[2]];
        let tag = tag_text(tag_bytes);
        let identity = HostIdentity {
            server_uuid: harness_uuid(tag_bytes, u32::MAX, 0, 0xd),
            hostname: format!("{MARKER_TEXT}{tag}-driver"),
        };
        let options = full.client_options();
        let connector = data::connector(target.data, &options)?;
        let drv =
            check(Driver::connect(config, options, identity.clone(), connector.clone()).await, "driver discovery")?;
        let drv_full = Driver::from_parts(drv.client().clone(), full, drv.discovery().clone(), identity, connector);
        let gw = Gw::new(&proxy.url, &target.user, &target.password);
        let mut hosts = Vec::new();
        for i in 0..HOSTS {
            let nqn = format!(
                "{}{}",
                powerflex_driver::host::NQN_PREFIX,
                harness_uuid(tag_bytes, u32::MAX, u32::from(i), 0xe)
            );
            let id = check(
                drv.client().create_host(&format!("{MARKER_TEXT}{tag}-host{i}"), &nqn).await,
                "creating a harness host",
            )?;
            hosts.push(id);
        }
        Ok(Arc::new(Harness {
            rt: tokio::runtime::Handle::current(),
            proxy,
            gw,
            drv,
            drv_full,
            target,
            tag_bytes,
            tag,
            hosts,
            instance: AtomicU32::new(0),
            interrupted: AtomicBool::new(false),
            progress,
        }))
    }

    /// The driver's gateway client.
    pub fn client(&self) -> &Client {
        self.drv.client()
    }

    /// The pool ID.
    pub fn pool_id(&self) -> &str {
        &self.drv.discovery().pool.id
    }

    /// The system ID.
    pub fn system_id(&self) -> &str {
        &self.drv.discovery().system.id
    }

    /// A new case instance number.
    pub fn next_instance(&self) -> u32 {
        self.instance.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// A harness name outside the property (scenarios): `pfLx<tag><inst>-<what>`.
    pub fn raw_name(&self, inst: u32, what: &str) -> String {
        format!("{MARKER_TEXT}{}{inst:08x}{what}", self.tag)
    }

    /// A driver descriptor for a harness volume.
    pub fn descriptor(&self, inst: u32, h: H, snap: bool, vtype: VolumeType, content: ContentType) -> Volume {
        let mut v = Volume::new(vtype, content, harness_uuid(self.tag_bytes, inst, h, 0));
        v.snapshot = snap;
        v
    }

    /// Every volume of the pool whose name says it belongs to this run (and `inst`, if given).
    pub async fn own_volumes(&self, pool: &str, inst: Option<u32>) -> Result<Vec<WireVolume>, ClientError> {
        Ok(self
            .client()
            .pool_volumes(pool)
            .await?
            .into_iter()
            .filter(|v| match owner(v.name()) {
                Some((tag, i)) => tag == self.tag && inst.is_none_or(|x| x == i),
                None => false,
            })
            .collect())
    }

    /// Unmaps and removes the given volumes of this run, descendants first,
    /// each with `ONLY_ME`; returns what failed. Other volumes in their VTrees
    /// are left alone, and reported when they are not this run's.
    pub async fn remove_all(&self, vols: &[WireVolume]) -> Vec<String> {
        let mut errors = Vec::new();
        for v in vols {
            for m in v.mappings() {
                if let Err(e) = self.client().remove_mapped_host(&v.id, &m.sdc_id).await {
                    errors.push(format!("unmap {} from {}: {e}", v.name(), m.sdc_id));
                }
            }
        }
        // Every member of these VTrees: their ancestry orders the removal, and
        // shows what is not ours.
        let mut ancestor: BTreeMap<String, Option<String>> =
            vols.iter().map(|v| (v.id.clone(), v.ancestor_volume_id.clone())).collect();
        let mut vtrees = BTreeSet::new();
        for vt in vols.iter().filter_map(|v| v.vtree_id.clone()) {
            if !vtrees.insert(vt.clone()) {
                continue;
            }
            match self.client().vtree_volumes(&vt).await {
                Ok(members) => {
                    for w in members {
                        if owner(w.name()).is_none_or(|(tag, _)| tag != self.tag) {
                            errors.push(format!(
                                "left alone: volume {} ({}) in the harness's VTree {vt} is not the harness's",
                                w.name(),
                                w.id
                            ));
                        }
                        ancestor.entry(w.id.clone()).or_insert(w.ancestor_volume_id.clone());
                    }
                }
                Err(e) => errors.push(format!("listing VTree {vt}: {e}")),
            }
        }
        let depth = |id: &str| {
            let mut d = 0;
            let mut cur = id;
            while let Some(Some(a)) = ancestor.get(cur) {
                d += 1;
                if d > ancestor.len() {
                    break; // a cycle: the gateway's problem, not the order's
                }
                cur = a;
            }
            d
        };
        let mut order: Vec<&WireVolume> = vols.iter().collect();
        order.sort_by_key(|v| std::cmp::Reverse(depth(&v.id)));
        for v in order {
            match self.gw.remove_volume(&v.id, "ONLY_ME").await {
                Ok(()) => {}
                Err(e) if e.code() == Some(79) => {}
                Err(e) => errors.push(format!("remove {}: {e}", v.name())),
            }
        }
        errors
    }

    /// The driver's own host entities of this run (named after the run, not
    /// the two harness hosts): none should outlive the exports they serve.
    pub async fn driver_hosts(&self) -> Result<Vec<(String, String)>, ClientError> {
        let prefix = format!("{MARKER_TEXT}{}", self.tag);
        Ok(self
            .client()
            .hosts()
            .await?
            .into_iter()
            .filter(|h| !self.hosts.contains(&h.id))
            .filter_map(|h| h.name.filter(|n| n.starts_with(&prefix)).map(|n| (h.id, n)))
            .collect())
    }

    /// Removes everything this run created: volumes in every pool of the
    /// domain, then the harness hosts and the driver's host entity.
    pub async fn cleanup_run(&self) -> Vec<String> {
        let mut errors = Vec::new();
        let domain = self.drv.discovery().domain.id.clone();
        let pools = match self.client().domain_pools(&domain).await {
            Ok(p) => p.into_iter().map(|p| p.id).collect(),
            Err(_) => vec![self.pool_id().to_string()],
        };
        for pool in pools {
            match self.own_volumes(&pool, None).await {
                Ok(vols) => errors.extend(self.remove_all(&vols).await),
                Err(e) => errors.push(format!("listing pool {pool}: {e}")),
            }
        }
        let prefix = format!("{MARKER_TEXT}{}", self.tag);
        match self.client().hosts().await {
            Ok(hosts) => {
                for h in hosts.iter().filter(|h| h.name.as_deref().is_some_and(|n| n.starts_with(&prefix))) {
                    if let Ok(vols) = self.client().host_volumes(&h.id).await {
                        for v in vols {
                            let _ = self.client().remove_mapped_host(&v.id, &h.id).await;
                        }
                    }
                    if let Err(e) = self.client().remove_host(&h.id).await {
                        errors.push(format!("remove host {}: {e}", h.id));
                    }
                }
            }
            Err(e) => errors.push(format!("listing hosts: {e}")),
        }
        errors
    }
}

/// What an operation returned, in the model's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actual {
    /// Success.
    Ok,
    /// A gateway error (HTTP 500) with this code.
    Code(i64),
    /// The driver refused a shrink itself.
    DriverShrinkRefused,
    /// The driver refused to copy a snapshot into a smaller target.
    DriverSnapshotLargerThanCopy,
    /// Anything else.
    Other(String),
}

impl Actual {
    fn matches(&self, e: Expect) -> bool {
        match (self, e) {
            (Actual::Ok, Expect::Ok) => true,
            (Actual::Code(a), Expect::Code(b)) => *a == b,
            (Actual::DriverShrinkRefused, Expect::DriverShrinkRefused) => true,
            (Actual::DriverSnapshotLargerThanCopy, Expect::DriverSnapshotLargerThanCopy) => true,
            _ => false,
        }
    }
}

fn of_client(r: Result<(), ClientError>) -> Actual {
    match r {
        Ok(()) => Actual::Ok,
        Err(ClientError::Api(a)) if a.http_status == 500 => Actual::Code(a.code.code()),
        Err(e) => Actual::Other(e.to_string()),
    }
}

fn of_gw(r: Result<(), GwError>) -> Actual {
    match r {
        Ok(()) => Actual::Ok,
        Err(GwError::Api(a)) if a.http_status == 500 => Actual::Code(a.code.code()),
        Err(e) => Actual::Other(e.to_string()),
    }
}

fn of_driver<T>(r: Result<T, DriverError>) -> Actual {
    match r {
        Ok(_) => Actual::Ok,
        Err(DriverError::ShrinkRefused { .. }) => Actual::DriverShrinkRefused,
        Err(DriverError::SnapshotLargerThanCopy { .. }) => Actual::DriverSnapshotLargerThanCopy,
        Err(DriverError::Gateway(e)) => of_client(Err(e)),
        Err(e) => Actual::Other(e.to_string()),
    }
}

/// One case against the gateway.
pub struct Sut {
    hx: Arc<Harness>,
    inst: u32,
    ids: BTreeMap<H, String>,
    names: BTreeMap<H, Name>,
    vtrees: std::cell::RefCell<BTreeMap<T, String>>,
    /// Names the last step asked the gateway to create.
    asked: Vec<String>,
    /// How many of the model's removed volumes were seen gone.
    gone_checked: std::cell::Cell<usize>,
    done: bool,
}

impl std::fmt::Debug for Sut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sut").field("inst", &self.inst).field("ids", &self.ids).finish()
    }
}

impl Drop for Sut {
    fn drop(&mut self) {
        if !self.done {
            let hx = self.hx.clone();
            let inst = self.inst;
            hx.rt.block_on(async {
                if let Ok(vols) = hx.own_volumes(hx.pool_id(), Some(inst)).await {
                    hx.remove_all(&vols).await;
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
        crate::machine::installed()
    }

    /// A new case.
    fn new(hx: Arc<Harness>) -> Sut {
        let inst = hx.next_instance();
        Sut {
            hx,
            inst,
            ids: BTreeMap::new(),
            names: BTreeMap::new(),
            vtrees: Default::default(),
            asked: Vec::new(),
            gone_checked: Default::default(),
            done: false,
        }
    }

    /// Fill makes 125 snapshots to test the 126th: only that one is the step.
    fn faultable(op: &Op) -> bool {
        !matches!(op, Op::Fill { .. })
    }

    /// Performs `op` (the model `m` is the state after it) and compares its outcome.
    fn perform(&mut self, m: &Model, op: &Op) -> Result<(), String> {
        let hx = self.hx.clone();
        // Stop between steps once interrupted; the run removes what was made.
        if hx.interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            panic!("{INTERRUPTED}");
        }
        hx.progress.step(&format!("{op:?}"));
        let actual = hx.rt.block_on(self.exec(m, op));
        if !actual.matches(m.expect) {
            return Err(format!("step {op:?}: the model expects {:?}, the gateway/driver gave {actual:?}", m.expect));
        }
        Ok(())
    }

    /// Learns the ids of what was created, by name, and checks content after
    /// a step that changes it.
    fn adopt(&mut self, m: &Model, op: &Op) -> Result<(), String> {
        let hx = self.hx.clone();
        for h in m.created.clone() {
            let name = self.spell(m.vols[&h].name);
            match hx.rt.block_on(hx.client().query_volume_id(&name)) {
                Ok(id) => {
                    self.ids.insert(h, id);
                }
                Err(e) => return Err(format!("step {op:?}: created volume {name} cannot be found: {e}")),
            }
        }
        self.names = m.vols.iter().map(|(h, v)| (*h, v.name)).collect::<BTreeMap<_, _>>();
        if m.data && matches!(op, Op::Write { .. } | Op::Restore { .. } | Op::Copy { .. } | Op::Snapshot { .. }) {
            hx.rt.block_on(self.verify_content(m)).map_err(|e| format!("after {op:?}: {e}"))?;
        }
        Ok(())
    }

    fn differences(&mut self, m: &Model) -> Vec<String> {
        let mut problems = self.structure_differences(m);
        if problems.is_empty() && m.data {
            if let Err(e) = self.hx.rt.block_on(self.verify_content(m)) {
                problems.push(e);
            }
        }
        problems
    }

    fn check(&self, m: &Model) {
        let problems = self.structure_differences(m);
        if !problems.is_empty() {
            panic!("the gateway differs from the model:\n  {}", problems.join("\n  "));
        }
    }

    /// Audits the pool for volumes of the case the model does not have
    /// (leaked), removes the case's volumes and checks that none is left.
    fn teardown(mut self, m: &Model) {
        let hx = self.hx.clone();
        let inst = self.inst;
        self.done = true;
        let expected: BTreeSet<String> = m.vols.values().map(|v| self.spell(v.name)).collect();
        let mut leaked = Vec::new();
        let leftover = hx.rt.block_on(async {
            let vols = hx.own_volumes(hx.pool_id(), Some(inst)).await.map_err(|e| e.to_string())?;
            leaked.extend(vols.iter().map(|v| v.name().to_string()).filter(|n| !expected.contains(n)));
            let errors = hx.remove_all(&vols).await;
            if !errors.is_empty() {
                return Err(errors.join("; "));
            }
            let left = hx.own_volumes(hx.pool_id(), Some(inst)).await.map_err(|e| e.to_string())?;
            // The case's exports are gone with its volumes; so must the driver's host entity be.
            for (id, name) in hx.driver_hosts().await.map_err(|e| e.to_string())? {
                leaked.push(format!("host entity {name}"));
                hx.client().remove_host(&id).await.map_err(|e| format!("remove host {name}: {e}"))?;
            }
            Ok::<_, String>(left.into_iter().map(|v| v.name().to_string()).collect::<Vec<_>>())
        });
        if !leaked.is_empty() {
            panic!("audit: the gateway holds objects of this case that the model does not (leaked; removed now): {leaked:?}");
        }
        match leftover {
            Ok(left) if left.is_empty() => {}
            Ok(left) => panic!("teardown: removed the case's volumes but these remain: {left:?}"),
            Err(e) => panic!("teardown failed: {e}"),
        }
    }
}

impl Sut {
    /// Compares the gateway with the model: the model's volumes and VTrees,
    /// nothing else in those VTrees, removed volumes gone. It costs a request
    /// per VTree and per volume removed or asked for, never a pool listing.
    fn structure_differences(&self, m: &Model) -> Vec<String> {
        let hx = self.hx.clone();
        let expected: BTreeMap<String, H> = m.vols.iter().map(|(h, v)| (self.spell(v.name), *h)).collect();
        let mut problems = Vec::new();
        let listed = hx.rt.block_on(self.observe(m, &expected, &mut problems));
        let by_name: BTreeMap<String, &WireVolume> = listed.iter().map(|v| (v.name().to_string(), v)).collect();
        for (name, w) in &by_name {
            if expected.contains_key(name) {
                continue;
            }
            match owner(name) {
                Some((tag, inst)) if tag == hx.tag && inst == self.inst => {
                    problems.push(format!("the gateway has {name}, which the model says does not exist"))
                }
                _ => problems.push(format!(
                    "the harness's VTree {:?} holds {name} ({}), which is not this case's",
                    w.vtree_id, w.id
                )),
            }
        }
        let host_index: BTreeMap<&str, u8> =
            hx.hosts.iter().enumerate().map(|(i, id)| (id.as_str(), i as u8)).collect();
        let handle_of: BTreeMap<&str, H> = self.ids.iter().map(|(h, id)| (id.as_str(), *h)).collect();
        let mut vtrees = self.vtrees.borrow_mut();
        let mut seen_vtrees: BTreeMap<String, T> = vtrees.iter().map(|(t, id)| (id.clone(), *t)).collect();
        for (name, h) in &expected {
            let v = &m.vols[h];
            let Some(w) = by_name.get(name) else {
                problems.push(format!("volume #{h} {name} is missing on the gateway"));
                continue;
            };
            if self.ids.get(h).is_some_and(|id| *id != w.id) {
                problems.push(format!("volume #{h} {name} has id {} but was {}", w.id, self.id(*h)));
            }
            if w.size_in_kb != v.size_gib * 1024 * 1024 {
                problems.push(format!(
                    "volume #{h} {name}: sizeInKb {} but the model says {} GiB ({} KiB)",
                    w.size_in_kb,
                    v.size_gib,
                    v.size_gib * 1024 * 1024
                ));
            }
            if w.volume_type.as_deref() != Some(v.kind.wire()) {
                problems.push(format!(
                    "volume #{h} {name}: volumeType {:?}, expected {}",
                    w.volume_type,
                    v.kind.wire()
                ));
            }
            match v.ancestor {
                Ancestor::Unknown => {}
                Ancestor::None if w.ancestor_volume_id.is_some() => problems
                    .push(format!("volume #{h} {name}: ancestorVolumeId {:?}, expected null", w.ancestor_volume_id)),
                Ancestor::Of(a) if w.ancestor_volume_id.as_deref() != Some(self.id(a).as_str()) => {
                    problems.push(format!(
                        "volume #{h} {name}: ancestorVolumeId {:?} ({:?}), expected #{a} ({})",
                        w.ancestor_volume_id,
                        w.ancestor_volume_id.as_deref().and_then(|id| handle_of.get(id)),
                        self.id(a)
                    ))
                }
                _ => {}
            }
            let mapped: BTreeSet<String> = w
                .mappings()
                .iter()
                .map(|mh| match host_index.get(mh.sdc_id.as_str()) {
                    Some(i) => format!("host{i}"),
                    None => format!("foreign host {}", mh.sdc_id),
                })
                .collect();
            let want: BTreeSet<String> = v.mapped.iter().map(|i| format!("host{i}")).collect();
            if mapped != want {
                problems.push(format!("volume #{h} {name}: mapped to {mapped:?}, expected {want:?}"));
            }
            let Some(vt) = w.vtree_id.clone() else {
                problems.push(format!("volume #{h} {name} has no vtreeId"));
                continue;
            };
            match (vtrees.get(&v.vtree), seen_vtrees.get(&vt)) {
                (Some(known), _) if *known != vt => problems
                    .push(format!("volume #{h} {name} is in VTree {vt}, but the model's VTree {} is {known}", v.vtree)),
                (None, Some(other)) if *other != v.vtree => problems.push(format!(
                    "volume #{h} {name} is in VTree {vt}, which holds the model's VTree {other}, not {}",
                    v.vtree
                )),
                (None, _) => {
                    vtrees.insert(v.vtree, vt.clone());
                    seen_vtrees.insert(vt, v.vtree);
                }
                _ => {}
            }
        }
        problems
    }

    /// The case's instance number (in its volumes' names).
    pub fn instance(&self) -> u32 {
        self.inst
    }

    fn spell(&self, n: Name) -> String {
        match n {
            Name::Driver { h, snap } => self.desc(h, snap).name(),
            Name::Raw(label) => self.hx.raw_name(self.inst, &format!("r{label}")),
        }
    }

    fn desc(&self, h: H, snap: bool) -> Volume {
        self.hx.descriptor(self.inst, h, snap, VolumeType::Custom, ContentType::Block)
    }

    /// The driver descriptor of a volume by its name before this step.
    fn desc_of(&self, h: H) -> Volume {
        match self.names.get(&h) {
            Some(Name::Driver { h, snap }) => self.desc(*h, *snap),
            _ => self.desc(h, false),
        }
    }

    fn id(&self, h: H) -> String {
        self.ids.get(&h).cloned().unwrap_or_else(|| format!("unknown-handle-{h}"))
    }

    fn choice_name(&self, m: &Model, choice: NameChoice, made: Option<H>) -> String {
        match choice {
            NameChoice::Fresh => match made {
                Some(h) => self.spell(m.vols[&h].name),
                None => self.hx.raw_name(self.inst, "fresh"),
            },
            NameChoice::Taken(o) => self.spell(self.names.get(&o).copied().unwrap_or(Name::Raw(0))),
            NameChoice::TooLong => {
                let mut s = self.hx.raw_name(self.inst, "-");
                while s.len() < 32 {
                    s.push('L');
                }
                s
            }
            NameChoice::Space => self.hx.raw_name(self.inst, " x"),
        }
    }

    async fn exec(&mut self, m: &Model, op: &Op) -> Actual {
        let hx = self.hx.clone();
        let fresh_h = m.created.first().copied().unwrap_or(m.next_h + 1);
        self.asked.clear();
        match *op {
            Op::Create { size, thick } => {
                let opts = powerflex_driver::CreateOptions { size, thick };
                self.asked.push(self.desc(fresh_h, false).name());
                of_driver(hx.drv.create_volume(&self.desc(fresh_h, false), &opts).await)
            }
            Op::CreateRaw { size_gib, thick, name } => {
                let name = self.choice_name(m, name, m.created.first().copied());
                self.asked.push(name.clone());
                let req = powerflex_driver::powerflex::client::types::CreateVolume {
                    name,
                    volume_size_in_gb: size_gib.to_string(),
                    volume_type: if thick { "ThickProvisioned" } else { "ThinProvisioned" }.into(),
                    storage_pool_id: hx.pool_id().to_string(),
                };
                of_client(hx.client().create_volume(&req).await.map(drop))
            }
            Op::Snapshot { vol } => {
                let uuid = harness_uuid(hx.tag_bytes, self.inst, fresh_h, 0);
                self.asked.push(self.desc(fresh_h, true).name());
                of_driver(hx.drv.create_snapshot(&self.desc_of(vol), uuid).await)
            }
            Op::Fill { vol } => {
                let src = self.id(vol);
                for (i, h) in m.created.iter().enumerate() {
                    let name = self.spell(m.vols[h].name);
                    if let Err(e) = hx.client().snapshot_volume(hx.system_id(), &src, &name).await {
                        return Actual::Other(format!("fill: snapshot {} of {} refused: {e}", i + 1, m.created.len()));
                    }
                }
                let one_more = self.spell(Name::Raw(m.next_label));
                self.asked.push(one_more.clone());
                of_client(hx.client().snapshot_volume(hx.system_id(), &src, &one_more).await.map(drop))
            }
            Op::Copy { src, clone_copy, with_snapshots, size } => {
                let source_snapshots: Vec<Volume> = if with_snapshots {
                    m.driver_snapshots(src).iter().map(|h| self.desc_of(*h)).collect()
                } else {
                    Vec::new()
                };
                // The model numbers the target's snapshots right after the target,
                // also when it expects the copy to fail and so created none.
                let target_snapshots: Vec<Volume> =
                    (1..=source_snapshots.len() as H).map(|k| self.desc(fresh_h + k, true)).collect();
                self.asked.push(self.desc(fresh_h, false).name());
                self.asked.extend(target_snapshots.iter().map(|v| v.name()));
                let req = CopyRequest {
                    source: self.desc_of(src),
                    source_snapshots,
                    target: self.desc(fresh_h, false),
                    target_snapshots,
                    size,
                    thick: false,
                };
                let drv = if clone_copy { &hx.drv_full } else { &hx.drv };
                match drv.copy_volume(&req, None).await {
                    Ok(report) => {
                        let way = match report.method {
                            CopyMethod::Snapshot => CopyWay::Snapshot,
                            CopyMethod::HostCopy => CopyWay::HostCopy,
                            CopyMethod::PhysicalCopy => {
                                return Actual::Other("an array-side physical copy, which PowerFlex has not".into())
                            }
                        };
                        if Some(way) != m.copy_way {
                            return Actual::Other(format!("the copy was made by {way:?}, expected {:?}", m.copy_way));
                        }
                        Actual::Ok
                    }
                    Err(e) => of_driver::<()>(Err(e)),
                }
            }
            Op::Restore { vol, from } => {
                of_driver(hx.drv.restore_volume(&self.desc_of(vol), &self.desc_of(from)).await)
            }
            Op::Resize { vol, size } => of_driver(hx.drv.resize_volume(&self.desc_of(vol), size).await),
            Op::ResizeRaw { vol, size_gib } => of_client(hx.client().set_volume_size(&self.id(vol), size_gib).await),
            Op::Delete { vol } => of_driver(hx.drv.delete_volume(&self.desc_of(vol)).await),
            Op::Remove { vol, mode } => of_gw(hx.gw.remove_volume(&self.id(vol), mode.wire()).await),
            Op::Map { vol, host } => {
                of_client(hx.client().add_mapped_host(&self.id(vol), &hx.hosts[usize::from(host)]).await)
            }
            Op::Unmap { vol, host } => {
                of_client(hx.client().remove_mapped_host(&self.id(vol), &hx.hosts[usize::from(host)]).await)
            }
            Op::Rename { vol, to } => {
                let name = match to {
                    NameChoice::Fresh => self.spell(m.vols[&vol].name),
                    other => self.choice_name(m, other, None),
                };
                self.asked.push(name.clone());
                of_gw(hx.gw.set_volume_name(&self.id(vol), &name).await)
            }
            Op::QueryGone { vol } => {
                let by_id = of_client(hx.client().volume(&self.id(vol)).await.map(drop));
                let name = self.spell(self.names.get(&vol).copied().unwrap_or(Name::Raw(0)));
                let by_name = of_client(hx.client().query_volume_id(&name).await.map(drop));
                if by_id != by_name {
                    return Actual::Other(format!("GET by id gave {by_id:?} but queryIdByKey gave {by_name:?}"));
                }
                by_id
            }
            Op::Write { vol, slot, tag } => {
                let desc = self.desc_of(vol);
                let r = async {
                    let att = hx.drv.attach_volume(&desc).await?;
                    let dev = att.device;
                    let bytes = data::pattern(tag, slot);
                    let off = data::slot_offset(slot);
                    // The device goes with the task; detach whatever the write did.
                    let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                        dev.write_at(&bytes, off)?;
                        dev.flush()
                    })
                    .await;
                    let detached = hx.drv.detach_volume(&desc).await;
                    written
                        .map_err(|e| DriverError::Invalid(e.to_string()))?
                        .map_err(|e| DriverError::Invalid(format!("write: {e}")))?;
                    detached
                }
                .await;
                of_driver(r)
            }
        }
    }

    /// Reads every slot of the driver-addressable volumes (newest first, at
    /// most eight) and compares with the model.
    async fn verify_content(&self, m: &Model) -> Result<(), String> {
        let hx = self.hx.clone();
        let hs: Vec<H> = m.vols.keys().rev().copied().filter(|h| m.driver_addressable(*h)).take(8).collect();
        let mut problems = Vec::new();
        for h in hs {
            let vol = self.desc_of(h);
            let att = hx.drv.attach_volume(&vol).await.map_err(|e| format!("attach {}: {e}", vol.name()))?;
            let dev = att.device;
            let want = m.vols[&h].content.clone();
            // The device goes with the task; detach whatever the read did.
            let found = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<Vec<u8>>> {
                (0..SLOTS)
                    .map(|s| {
                        let mut buf = vec![0u8; data::SLOT_LEN];
                        dev.read_at(&mut buf, data::slot_offset(s))?;
                        Ok(buf)
                    })
                    .collect()
            })
            .await;
            let detached = hx.drv.detach_volume(&vol).await;
            let found = found.map_err(|e| e.to_string())?.map_err(|e| format!("read {}: {e}", vol.name()))?;
            detached.map_err(|e| format!("detach {}: {e}", vol.name()))?;
            for s in 0..SLOTS {
                let expected = want.get(&s).map(|t| data::pattern(*t, s)).unwrap_or_else(|| vec![0; data::SLOT_LEN]);
                if found[usize::from(s)] != expected {
                    problems.push(format!(
                        "volume #{h} slot {s}: expected {}, read {}",
                        data::describe(&expected),
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

    /// A model volume by its id; `None` when the gateway does not know the id.
    async fn get_volume(&self, h: H, problems: &mut Vec<String>) -> Option<WireVolume> {
        match self.hx.client().volume(&self.id(h)).await {
            Ok(w) => Some(w),
            Err(e) if e.is(ErrorCode::VolumeNotFound) => None,
            Err(e) => {
                problems.push(format!("GET volume #{h} ({}): {e}", self.id(h)));
                None
            }
        }
    }

    /// What the gateway holds of this case, found without listing the pool:
    /// every member of the model's VTrees (one listing per VTree), and any
    /// model volume found elsewhere by its id; keyed by id. Notes in
    /// `problems` removed volumes whose ids still answer and names this step
    /// asked for that exist though the model says they do not.
    async fn observe(&self, m: &Model, expected: &BTreeMap<String, H>, problems: &mut Vec<String>) -> Vec<WireVolume> {
        let hx = self.hx.clone();
        let mut found: BTreeMap<String, WireVolume> = BTreeMap::new();
        let mut members: BTreeMap<T, Vec<H>> = BTreeMap::new();
        for (h, v) in &m.vols {
            members.entry(v.vtree).or_default().push(*h);
        }
        let known = self.vtrees.borrow().clone();
        let mut listed = BTreeSet::new();
        for (t, hs) in &members {
            let mut vt = known.get(t).cloned();
            for h in hs {
                if vt.is_some() {
                    break;
                }
                if let Some(w) = self.get_volume(*h, problems).await {
                    vt = w.vtree_id.clone();
                    found.insert(w.id.clone(), w);
                }
            }
            let Some(vt) = vt else { continue };
            if !listed.insert(vt.clone()) {
                continue;
            }
            match hx.client().vtree_volumes(&vt).await {
                Ok(vs) => found.extend(vs.into_iter().map(|w| (w.id.clone(), w))),
                Err(e) => problems.push(format!("listing VTree {vt} (the model's VTree {t}): {e}")),
            }
        }
        for h in m.vols.keys() {
            if !found.contains_key(&self.id(*h)) {
                if let Some(w) = self.get_volume(*h, problems).await {
                    found.insert(w.id.clone(), w);
                }
            }
        }
        // Removed since the last check: the id must be unknown now.
        for h in &m.removed[self.gone_checked.get().min(m.removed.len())..] {
            let id = self.id(*h);
            match hx.client().volume(&id).await {
                Err(e) if e.is(ErrorCode::VolumeNotFound) => {}
                Ok(w) => problems.push(format!(
                    "volume #{h} was removed, but its id {id} still answers (as {} in VTree {:?})",
                    w.name(),
                    w.vtree_id
                )),
                Err(e) => problems.push(format!("GET removed volume #{h} ({id}): {e}")),
            }
        }
        self.gone_checked.set(m.removed.len());
        // A name this step asked for that the model says was not made (it
        // would be in a VTree of its own, so not listed above).
        for name in self.asked.iter().filter(|n| !expected.contains_key(*n)) {
            // Any refusal (79, or an invalid name's code) means there is no such volume.
            if let Ok(id) = hx.client().query_volume_id(name).await {
                if !found.contains_key(&id) {
                    problems.push(format!("the gateway has {name} ({id}), which the model says does not exist"));
                }
            }
        }
        found.into_values().collect()
    }
}
