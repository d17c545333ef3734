//! Alletra driver operations on one pool (a volume set), as LXD's alletra
//! driver does them (lxd-drivers.md §6.3).
//!
//! * Create: `POST /volumes` (thin, in `alletra.cpg`), then add it to the pool's
//!   volume set; a virtual machine's 256 MiB filesystem volume comes along.
//! * Delete: this host's vLUN first, out of the volume set, then
//!   `DELETE ?cascade=true` (the snapshot tree goes with it).
//! * Grow by the delta in MiB; shrinking is refused.
//! * Snapshots are virtual copies; restore promotes one and waits for its task.
//! * Copy: the destination created at the requested size, each source
//!   snapshot physically copied into it and snapshotted there (oldest first),
//!   then the volume itself.
//! * Attach: this host's entity (`<hostname>-nvme-tcp` or `<hostname>-iscsi`)
//!   created on first export, a vLUN, the connector's session, the device by
//!   the volume's `nguid` or `wwn`. Detach: the vLUN goes; with the host's last
//!   vLUN the session and the host entity go too.
//!
//! Every multi-step operation pushes undo actions on a [`Reverter`], so a
//! failure part-way leaves nothing it created behind. A creation whose
//! answer was lost (no answer, a 5xx) is never sent again: the volume,
//! snapshot, host entity or volume set is looked up by its name, the set
//! membership in the set, the vLUN among the volume's, the task (physical
//! copy, promote) among the tasks by its name; found, it is adopted. Undo
//! steps are registered before such a creation and find what they remove. Changes to this host's
//! exports run under [`host::lock_mappings`], as PowerFlex's do.

use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::client::types::{
    CreateVolume, Task, Volume as WireVolume, COPY_TYPE_VIRTUAL, LINK_READY, PROTOCOL_ISCSI, PROTOCOL_NVME,
};
use super::client::{Client, ClientError, WsapiCode, WsapiError};
use super::config::{check_size, Mode, PoolConfig};
use super::naming::{self, round_size, to_mib, AlletraName, MIN_SIZE};
use crate::connector::{Connector, Target, VolumeRef};
use crate::error::{Error, Result};
use crate::host::{self, HostIdentity};
use crate::naming::ContentType;
use crate::retry::{self, Transient};
use crate::revert::Reverter;
use crate::volume::{
    Attachment, CopyMethod, CopyReport, CopyRequest, CreateOptions, PoolUsage, Volume, VolumeInfo, DEVICE_TIMEOUT,
    GONE_TIMEOUT,
};

/// Size of a virtual machine's filesystem volume, as LXD makes it.
pub const VM_FILESYSTEM_SIZE: u64 = MIN_SIZE;
/// How often a task is polled (LXD: every 5 s).
pub const TASK_POLL: Duration = Duration::from_secs(5);
/// How long a task may run (LXD: 180 s).
pub const TASK_TIMEOUT: Duration = Duration::from_secs(180);

/// What the driver found about the pool; kept in local state for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    /// The pool's volume set.
    pub volume_set: String,
    /// The host protocol.
    pub mode: Mode,
    /// Target addresses (`alletra.target`, or the ready ports of the mode's protocol).
    pub target_addresses: Vec<IpAddr>,
    /// This host's entity on the array.
    pub host_name: String,
}

/// The driver for one Alletra pool; cheap to clone.
#[derive(Clone)]
pub struct Driver {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    client: Client,
    config: PoolConfig,
    discovery: Discovery,
    identity: HostIdentity,
    connector: Arc<dyn Connector>,
    lock_dir: Option<PathBuf>,
    device_timeout: Duration,
    gone_timeout: Duration,
    task_poll: Duration,
    task_timeout: Duration,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("alletra::Driver")
            .field("wsapi", &self.inner.client.base())
            .field("volume_set", &self.inner.discovery.volume_set)
            .finish()
    }
}

/// This host's entity name: `<hostname>-nvme-tcp` or `<hostname>-iscsi`.
pub fn host_name(identity: &HostIdentity, mode: Mode) -> String {
    format!("{}-{}", identity.hostname, mode.host_suffix())
}

/// Target addresses: `alletra.target`, else the ready ports of the mode's
/// protocol (NVMe: protocol 6, its `nodeWWN`; iSCSI: protocol 2, its `IPAddr`).
pub async fn target_addresses(client: &Client, config: &PoolConfig) -> Result<Vec<IpAddr>> {
    if let Some(t) = &config.target {
        return Ok(t.clone());
    }
    let (protocol, mode) = match config.mode {
        Mode::Nvme => (PROTOCOL_NVME, Mode::Nvme),
        Mode::Iscsi => (PROTOCOL_ISCSI, Mode::Iscsi),
    };
    let addrs: Vec<IpAddr> = client
        .ports()
        .await?
        .into_iter()
        .filter(|p| p.protocol == Some(protocol) && p.link_state == Some(LINK_READY))
        .filter_map(|p| match mode {
            Mode::Nvme => p.node_wwn,
            Mode::Iscsi => p.ip_addr,
        })
        .filter_map(|a| a.parse().ok())
        .collect();
    if addrs.is_empty() {
        return Err(Error::NoAlletraTargets { mode: config.mode.to_string() });
    }
    Ok(addrs)
}

/// Contacts the array (a session, the ports) and finds what the pool needs.
pub async fn discover(client: &Client, pool: &str, config: &PoolConfig, identity: &HostIdentity) -> Result<Discovery> {
    client.login().await?;
    Ok(Discovery {
        volume_set: pool.to_string(),
        mode: config.mode,
        target_addresses: target_addresses(client, config).await?,
        host_name: host_name(identity, config.mode),
    })
}

fn ok_if(r: std::result::Result<(), ClientError>, code: WsapiCode) -> Result<()> {
    match r {
        Err(e) if e.is(code) => Ok(()),
        other => other.map_err(Error::from),
    }
}

/// Takes a volume out of a volume set; not in it (`MEMBER_NOT_IN_SET`, or the set gone) is done.
async fn leave_set(client: &Client, set: &str, volume: &str) -> Result<()> {
    match client.remove_from_volume_set(set, volume).await {
        Err(ClientError::Api(e)) if e.status == 404 => {
            tracing::debug!(%volume, error = %e, "not in the volume set");
            Ok(())
        }
        other => Ok(other?),
    }
}

/// The size a volume gets: LXD rounds ISO images up and refuses other sizes
/// that are not multiples of 256 MiB.
fn volume_size(content: ContentType, bytes: u64) -> Result<u64> {
    match content {
        ContentType::Iso => Ok(round_size(bytes)),
        _ => Ok(check_size("size", bytes)?),
    }
}

impl VolumeInfo {
    fn from_alletra(v: WireVolume, mapped_hosts: Vec<String>) -> VolumeInfo {
        VolumeInfo {
            id: v.id.to_string(),
            size: v.size_bytes(),
            provisioning: v.provisioning().to_string(),
            vtree_id: None,
            ancestor_id: v.copy_of.clone(),
            created: v.creation_time_sec,
            mapped_hosts,
            parsed: naming::parse_volume_name(&v.name),
            name: v.name,
        }
    }
}

fn volume_ref(v: &WireVolume) -> VolumeRef {
    VolumeRef {
        id: v.name.clone(),
        name: v.name.clone(),
        size: v.size_bytes(),
        nguid: v.nguid.clone(),
        wwn: v.wwn.clone(),
    }
}

impl Driver {
    /// A driver from parts already at hand (see [`discover`]).
    pub fn from_parts(
        client: Client,
        config: PoolConfig,
        discovery: Discovery,
        identity: HostIdentity,
        connector: Arc<dyn Connector>,
    ) -> Driver {
        Driver {
            inner: Arc::new(Inner {
                client,
                config,
                discovery,
                identity,
                connector,
                lock_dir: None,
                device_timeout: DEVICE_TIMEOUT,
                gone_timeout: GONE_TIMEOUT,
                task_poll: TASK_POLL,
                task_timeout: TASK_TIMEOUT,
            }),
        }
    }

    /// Connects to the array and discovers what pool `pool` needs.
    pub async fn connect(
        pool: &str,
        config: PoolConfig,
        identity: HostIdentity,
        connector: Arc<dyn Connector>,
    ) -> Result<Driver> {
        let client = Client::new(config.client_options())?;
        let discovery = discover(&client, pool, &config, &identity).await?;
        Ok(Driver::from_parts(client, config, discovery, identity, connector))
    }

    fn with(self, f: impl FnOnce(&mut Inner)) -> Driver {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|arc| (*arc).clone());
        f(&mut inner);
        Driver { inner: Arc::new(inner) }
    }

    /// The same driver with other device timeouts (appear, disappear).
    pub fn with_timeouts(self, device: Duration, gone: Duration) -> Driver {
        self.with(|i| {
            i.device_timeout = device;
            i.gone_timeout = gone;
        })
    }

    /// The same driver polling tasks every `poll` for at most `timeout`.
    pub fn with_task_timing(self, poll: Duration, timeout: Duration) -> Driver {
        self.with(|i| {
            i.task_poll = poll;
            i.task_timeout = timeout;
        })
    }

    /// The same driver, also serialising this host's export changes with other
    /// processes through a lock file in `dir` (the state directory).
    pub fn with_lock_dir(self, dir: impl Into<PathBuf>) -> Driver {
        let dir = dir.into();
        self.with(|i| i.lock_dir = Some(dir))
    }

    /// The WSAPI client.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The pool configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.inner.config
    }

    /// What discovery found.
    pub fn discovery(&self) -> &Discovery {
        &self.inner.discovery
    }

    /// This host's entity name on the array.
    pub fn host_name(&self) -> &str {
        &self.inner.discovery.host_name
    }

    /// The target description handed to the connector. Alletra has no system
    /// ID in its subsystem names, so the connector discovers the target's name.
    pub fn target(&self) -> Target {
        Target {
            addresses: self.inner.discovery.target_addresses.clone(),
            system_id: String::new(),
            system_nqn: None,
            host_nqn: self.inner.identity.nqn(),
            host_id: self.inner.identity.host_id(),
        }
    }

    async fn lock_mappings(&self) -> Result<host::MappingLock> {
        Ok(host::lock_mappings(&self.inner.identity, self.inner.lock_dir.as_deref()).await?)
    }

    async fn wire_volume(&self, vol: &Volume) -> Result<WireVolume> {
        let name = vol.alletra_name();
        self.inner.client.volume(&name).await?.ok_or(Error::VolumeNotFound { name })
    }

    /// Starts a task (a physical copy, named after its destination volume; a
    /// promote, after its base volume) and waits for it to end. Starting is
    /// not sent twice: when its answer is lost, the task is the one of that
    /// name newer than any before.
    async fn run_task(
        &self,
        name: &str,
        start: impl Future<Output = std::result::Result<i64, ClientError>>,
    ) -> Result<()> {
        let client = &self.inner.client;
        let newest =
            |tasks: Vec<Task>| tasks.into_iter().filter(|t| t.name.as_deref() == Some(name)).map(|t| t.id).max();
        let before = newest(client.tasks().await?).unwrap_or(0);
        let find = || async { Ok(newest(client.tasks().await?).filter(|id| *id > before)) };
        let id = retry::create_or_find(name, start, find).await?;
        Ok(client.wait_task(id, self.inner.task_poll, self.inner.task_timeout).await?)
    }

    // ----- The pool ------------------------------------------------------------------------------

    /// Creates the pool's volume set; when the answer is lost, the set is looked up.
    pub async fn create_pool(&self) -> Result<()> {
        let (client, set) = (&self.inner.client, &self.inner.discovery.volume_set);
        let find = || async {
            match client.volume_set(set).await {
                Ok(_) => Ok(Some(())),
                Err(e) if e.is(WsapiCode::NonExistentSet) => Ok(None),
                Err(e) => Err(e),
            }
        };
        Ok(retry::create_or_find(set, client.create_volume_set(set), find).await?)
    }

    /// Deletes the pool's volume set (already gone is success).
    pub async fn delete_pool(&self) -> Result<()> {
        ok_if(self.inner.client.delete_volume_set(&self.inner.discovery.volume_set).await, WsapiCode::NonExistentSet)
    }

    /// Pool capacity, as LXD computes it from the CPG's space report (the CPG
    /// may be shared, so this is the CPG's, not only the pool's).
    pub async fn pool_usage(&self) -> Result<PoolUsage> {
        let r = self.inner.client.space_report(&self.inner.config.cpg).await?;
        Ok(PoolUsage { total: (r.used_mib + r.free_mib) << 20, used: r.used_mib << 20 })
    }

    // ----- Queries -------------------------------------------------------------------------------

    /// The volume as the array reports it (with the hosts it is exported to), `None` when missing.
    pub async fn volume_info(&self, vol: &Volume) -> Result<Option<VolumeInfo>> {
        let Some(v) = self.inner.client.volume(&vol.alletra_name()).await? else { return Ok(None) };
        let hosts = self.inner.client.volume_vluns(&v.name).await?.into_iter().filter_map(|l| l.hostname).collect();
        Ok(Some(VolumeInfo::from_alletra(v, hosts)))
    }

    /// Every volume of the pool's volume set (LXD lists none; this lists the set's members).
    pub async fn list_volumes(&self) -> Result<Vec<VolumeInfo>> {
        let set = self.inner.client.volume_set(&self.inner.discovery.volume_set).await?;
        let mut out = Vec::new();
        for name in set.setmembers {
            if let Some(v) = self.inner.client.volume(&name).await? {
                out.push(VolumeInfo::from_alletra(v, Vec::new()));
            }
        }
        Ok(out)
    }

    /// The virtual copies of a volume (`copyOf`), oldest first.
    pub async fn volume_snapshots(&self, vol: &Volume) -> Result<Vec<VolumeInfo>> {
        let mut snaps: Vec<VolumeInfo> = self
            .inner
            .client
            .snapshots_of(&vol.alletra_name())
            .await?
            .into_iter()
            .filter(|s| s.copy_type == Some(COPY_TYPE_VIRTUAL))
            .map(|s| VolumeInfo::from_alletra(s, Vec::new()))
            .collect();
        snaps.sort_by_key(|s| s.created);
        Ok(snaps)
    }

    // ----- Create and delete ---------------------------------------------------------------------

    /// Runs the creation of the volume or snapshot `name` and registers its
    /// undo (delete, already gone is done), also when the answer was lost (a
    /// refusal made nothing, and the name may be someone else's). A creation
    /// is never sent twice: when its answer is lost, the volume is looked up by its name.
    async fn create_named(
        &self,
        r: &mut Reverter,
        what: &str,
        name: &str,
        create: impl Future<Output = std::result::Result<(), ClientError>>,
    ) -> Result<()> {
        let made = create.await;
        if made.as_ref().map_or_else(Transient::is_transient, |_| true) {
            let (c, n) = (self.inner.client.clone(), name.to_string());
            r.add(format!("delete {what} {name}"), move || {
                let (c, n) = (c.clone(), n.clone());
                async move { ok_if(c.delete_volume(&n).await, WsapiCode::NonExistentVolume) }
            });
        }
        let find = || async { Ok(self.inner.client.volume(name).await?.map(drop)) };
        Ok(retry::create_or_find(name, async { made }, find).await?)
    }

    /// Creates one volume in the CPG and adds it to the volume set (a lost
    /// answer to that is looked up in the set's members).
    async fn create_one(&self, r: &mut Reverter, vol: &Volume, size: u64) -> Result<()> {
        let client = &self.inner.client;
        let name = vol.alletra_name();
        let req =
            CreateVolume { name: name.clone(), cpg: self.inner.config.cpg.clone(), size_mib: to_mib(size), tpvv: true };
        self.create_named(r, "volume", &name, client.create_volume(&req)).await?;
        let set = self.inner.discovery.volume_set.clone();
        let (c, s, n) = (client.clone(), set.clone(), name.clone());
        r.add(format!("remove {name} from volume set {set}"), move || {
            let (c, s, n) = (c.clone(), s.clone(), n.clone());
            async move { leave_set(&c, &s, &n).await }
        });
        let find = || async { Ok(client.volume_set(&set).await?.setmembers.contains(&name).then_some(())) };
        retry::create_or_find(&name, client.add_to_volume_set(&set, &name), find).await?;
        Ok(())
    }

    /// Creates a volume (and a virtual machine's filesystem volume). The size
    /// must be a multiple of 256 MiB; ISO images are rounded up.
    pub async fn create_volume(&self, vol: &Volume, opts: &CreateOptions) -> Result<VolumeInfo> {
        if vol.snapshot {
            return Err(Error::Invalid("create_volume: use create_snapshot for snapshots".into()));
        }
        let size = volume_size(vol.content, opts.size)?;
        let mut r = Reverter::new();
        let result = async {
            self.create_one(&mut r, vol, size).await?;
            if let Some(fs) = vol.companion() {
                self.create_one(&mut r, &fs, VM_FILESYSTEM_SIZE).await?;
            }
            self.volume_info(vol).await?.ok_or_else(|| Error::VolumeNotFound { name: vol.alletra_name() })
        }
        .await;
        r.finish(result).await
    }

    async fn delete_one(&self, vol: &Volume) -> Result<()> {
        let client = &self.inner.client;
        let name = vol.alletra_name();
        let Some(v) = client.volume(&name).await? else { return Ok(()) };
        let luns = self.own_luns(&name).await?;
        if !luns.is_empty() {
            let vref = volume_ref(&v);
            self.inner.connector.release(&self.target(), &vref).await?;
            self.unexport(&name, &luns, self.host_name()).await?;
            self.after_unexport(&vref).await?;
        }
        if !vol.snapshot {
            leave_set(client, &self.inner.discovery.volume_set, &name).await?;
        }
        ok_if(client.delete_volume(&name).await, WsapiCode::NonExistentVolume)
    }

    /// Deletes a volume or snapshot: this host's export first, out of the
    /// volume set, then `cascade` (its snapshots go with it). Already gone is success.
    pub async fn delete_volume(&self, vol: &Volume) -> Result<()> {
        for part in vol.parts() {
            let _lock = self.lock_mappings().await?;
            self.delete_one(&part).await?;
        }
        Ok(())
    }

    // ----- Resize --------------------------------------------------------------------------------

    /// Grows a volume to `size` by the delta; shrinking is refused. Returns the new size.
    pub async fn resize_volume(&self, vol: &Volume, size: u64) -> Result<u64> {
        let v = self.wire_volume(vol).await?;
        let current = v.size_bytes();
        let wanted = volume_size(vol.content, size)?;
        if wanted == current {
            return Ok(current);
        }
        if wanted < current {
            return Err(Error::ShrinkRefused { name: v.name, current, requested: wanted });
        }
        self.inner.client.grow_volume(&v.name, to_mib(wanted - current)).await?;
        Ok(wanted)
    }

    // ----- Snapshots -----------------------------------------------------------------------------

    async fn snapshot_one(&self, r: &mut Reverter, source: &str, name: &str) -> Result<()> {
        self.create_named(r, "snapshot", name, self.inner.client.create_snapshot(source, name)).await
    }

    /// Takes a snapshot (both volumes of a virtual machine); returns its descriptor.
    pub async fn create_snapshot(&self, vol: &Volume, snapshot_uuid: Uuid) -> Result<Volume> {
        let snap = vol.snapshot(snapshot_uuid);
        let mut r = Reverter::new();
        let result = async {
            for (part, snap_part) in vol.parts().iter().zip(snap.parts()) {
                self.snapshot_one(&mut r, &part.alletra_name(), &snap_part.alletra_name()).await?;
            }
            Ok(snap)
        }
        .await;
        r.finish(result).await
    }

    /// Whether this host exports the volume.
    async fn exported_here(&self, name: &str) -> Result<bool> {
        let host = self.host_name();
        Ok(self.inner.client.volume_vluns(name).await?.iter().any(|l| l.hostname.as_deref() == Some(host)))
    }

    /// Restores a volume from one of its snapshots: promotes the virtual copy
    /// and waits for the task. The volume must not be attached to this host.
    pub async fn restore_volume(&self, vol: &Volume, snapshot: &Volume) -> Result<()> {
        for part in vol.parts() {
            let name = self.wire_volume(&part).await?.name;
            if self.exported_here(&name).await? {
                return Err(Error::Attached { name });
            }
        }
        for (part, snap_part) in vol.parts().iter().zip(snapshot.parts()) {
            let snap = self.wire_volume(&snap_part).await?;
            self.run_task(&part.alletra_name(), self.inner.client.promote_snapshot(&snap.name)).await?;
        }
        Ok(())
    }

    // ----- Copy ----------------------------------------------------------------------------------

    /// Copies a volume (both volumes of a virtual machine) the way LXD does:
    /// the destination created at the requested size (refused when the source
    /// is larger), each source snapshot physically copied into it and then
    /// snapshotted there, oldest first, and finally the volume itself.
    pub async fn copy_volume(&self, req: &CopyRequest) -> Result<CopyReport> {
        if req.target.snapshot {
            return Err(Error::Invalid("the copy target cannot be a snapshot".into()));
        }
        if req.source_snapshots.len() != req.target_snapshots.len() {
            return Err(Error::Invalid(format!(
                "copy: {} source snapshots but {} target snapshots",
                req.source_snapshots.len(),
                req.target_snapshots.len()
            )));
        }
        if req.source.companion().is_some() != req.target.companion().is_some() {
            return Err(Error::Invalid("copy: source and target must both be virtual machines, or neither".into()));
        }
        let mut r = Reverter::new();
        let result = self.copy_inner(&mut r, req).await;
        r.finish(result).await
    }

    async fn copy_inner(&self, r: &mut Reverter, req: &CopyRequest) -> Result<CopyReport> {
        let mut passes = 0;
        for (i, (src_part, dst_part)) in req.source.parts().into_iter().zip(req.target.parts()).enumerate() {
            let src = self.wire_volume(&src_part).await?;
            let size = match req.size {
                Some(s) if i == 0 => volume_size(dst_part.content, s)?,
                _ => src.size_bytes(),
            };
            if src.size_bytes() > size {
                return Err(Error::CopyTooSmall {
                    source_size: src.size_bytes(),
                    source_name: src.name,
                    target_size: size,
                });
            }
            let mut snaps = Vec::new();
            for ss in &req.source_snapshots {
                let snap = self.wire_volume(&ss.parts()[i]).await?;
                if snap.size_bytes() > size {
                    return Err(Error::SnapshotLargerThanCopy {
                        snapshot_size: snap.size_bytes(),
                        snapshot: snap.name,
                        target: dst_part.alletra_name(),
                        target_size: size,
                    });
                }
                snaps.push(snap.name);
            }
            self.create_one(r, &dst_part, size).await?;
            let dst = dst_part.alletra_name();
            for (snap, ts) in snaps.iter().zip(&req.target_snapshots) {
                self.run_task(&dst, self.inner.client.physical_copy(snap, &dst)).await?;
                passes += 1;
                self.snapshot_one(r, &dst, &ts.parts()[i].alletra_name()).await?;
            }
            self.run_task(&dst, self.inner.client.physical_copy(&src.name, &dst)).await?;
            passes += 1;
        }
        Ok(CopyReport { method: CopyMethod::PhysicalCopy, stats: Default::default(), passes })
    }

    // ----- Attach and detach ---------------------------------------------------------------------

    /// This host's entity, found by its NQN (NVMe) or IQN (iSCSI).
    async fn find_own_host(&self) -> Result<Option<String>> {
        let mode = self.inner.discovery.mode;
        let (nqn, iqn) = (self.inner.identity.nqn(), host::initiator_iqn(&self.inner.identity));
        let found = self.inner.client.hosts().await?.into_iter().find(|h| match mode {
            Mode::Nvme => h.nvme_paths.iter().any(|p| p.nqn.as_deref() == Some(nqn.as_str())),
            Mode::Iscsi => h.iscsi_paths.iter().any(|p| p.name.as_deref() == Some(iqn.as_str())),
        });
        Ok(found.map(|h| h.name))
    }

    /// Creates this host's entity; when the answer is lost, it is looked up.
    async fn create_host(&self) -> Result<String> {
        let client = &self.inner.client;
        let name = self.host_name().to_string();
        let (nqn, iqn) = (self.inner.identity.nqn(), host::initiator_iqn(&self.inner.identity));
        let create = async {
            match self.inner.discovery.mode {
                Mode::Nvme => client.create_nvme_host(&name, &nqn).await,
                Mode::Iscsi => client.create_iscsi_host(&name, &iqn).await,
            }
        };
        let find = || async { Ok(client.hosts().await?.into_iter().any(|h| h.name == name).then_some(())) };
        match retry::create_or_find(&name, create, find).await {
            // LXD treats a host of that name as this host's.
            Err(e) if e.is(WsapiCode::ExistentHost) => Ok(name),
            Err(e) => Err(e.into()),
            Ok(()) => {
                tracing::info!(host = %name, "created the host entity");
                Ok(name)
            }
        }
    }

    /// Deletes this host's entity if it exists and nothing is exported to it:
    /// the undo of a creation whose answer may have been lost.
    async fn delete_own_host_if_unused(&self) -> Result<()> {
        let Some(host) = self.find_own_host().await? else { return Ok(()) };
        if self.inner.client.host_vluns(&host).await?.is_empty() {
            ok_if(self.inner.client.delete_host(&host).await, WsapiCode::NonExistentHost)?;
        }
        Ok(())
    }

    /// Exports a volume to this host, connects, and opens its device.
    pub async fn attach_volume(&self, vol: &Volume) -> Result<Attachment> {
        let _lock = self.lock_mappings().await?;
        let mut r = Reverter::new();
        let result = self.attach_inner(&mut r, vol).await;
        r.finish(result).await
    }

    async fn attach_inner(&self, r: &mut Reverter, vol: &Volume) -> Result<Attachment> {
        let client = self.inner.client.clone();
        let connector = self.inner.connector.clone();
        let v = self.wire_volume(vol).await?;
        let host = match self.find_own_host().await? {
            Some(h) => h,
            None => {
                // Registered before the creation: its answer may be lost after the entity was made.
                let d = self.clone();
                r.add(format!("delete the host entity {}", self.host_name()), move || {
                    let d = d.clone();
                    async move { d.delete_own_host_if_unused().await }
                });
                self.create_host().await?
            }
        };
        let (c, h) = (client.clone(), host.clone());
        let new_session = host::undo_new_session(r, connector.clone(), self.target(), move || {
            let (c, h) = (c.clone(), h.clone());
            async move { Ok(!c.host_vluns(&h).await?.is_empty()) }
        });
        let vref = volume_ref(&v);
        let newly_mapped = self.luns_of(&v.name, &host).await?.is_empty();
        if newly_mapped {
            // Registered before the export, which may be made though its answer is lost;
            // it finds the LUNs then.
            let (d, vr, h) = (self.clone(), vref.clone(), host.clone());
            r.add(format!("unexport {}", v.name), move || {
                let (d, vr, h) = (d.clone(), vr.clone(), h.clone());
                async move {
                    d.inner.connector.release(&d.target(), &vr).await?;
                    let luns = d.luns_of(&vr.name, &h).await?;
                    d.unexport(&vr.name, &luns, &h).await
                }
            });
            match client.create_vlun(&host, &v.name).await {
                // Already exported: LXD's reading of code 29.
                Ok(_) | Err(ClientError::Api(WsapiError { code: WsapiCode::Other29, .. })) => {}
                // Lost: this host's vLUNs of the volume say whether it was made.
                Err(e) if e.is_transient() => {
                    if self.luns_of(&v.name, &host).await?.is_empty() {
                        return Err(e.into());
                    }
                    tracing::warn!(volume = %v.name, error = %e, "the answer to the export was lost; it was made");
                }
                Err(e) => return Err(e.into()),
            }
        }
        let target = self.target();
        new_session.store(connector.connect(&target).await?, Ordering::SeqCst);
        let device = connector.open(&target, &vref, self.inner.device_timeout).await?;
        Ok(Attachment { volume_id: v.name, device, newly_mapped })
    }

    /// The kernel device of an attached volume, if present.
    pub async fn device_path(&self, vol: &Volume) -> Result<Option<PathBuf>> {
        let v = self.wire_volume(vol).await?;
        Ok(self.inner.connector.device_path(&self.target(), &volume_ref(&v)).await?)
    }

    /// The LUNs this host sees a volume at (its vLUN templates and the active
    /// vLUNs derived from them share the LUN).
    async fn own_luns(&self, volume: &str) -> Result<Vec<i64>> {
        self.luns_of(volume, self.host_name()).await
    }

    /// The LUNs `host` sees a volume at.
    async fn luns_of(&self, volume: &str, host: &str) -> Result<Vec<i64>> {
        let mut luns: Vec<i64> = self
            .inner
            .client
            .volume_vluns(volume)
            .await?
            .into_iter()
            .filter(|l| l.hostname.as_deref() == Some(host))
            .map(|l| l.lun)
            .collect();
        luns.sort_unstable();
        luns.dedup();
        Ok(luns)
    }

    /// Deletes this host's exports of a volume. Deleting a template takes its
    /// active vLUNs along, so one already gone (code 19) is fine.
    async fn unexport(&self, volume: &str, luns: &[i64], host: &str) -> Result<()> {
        for lun in luns {
            ok_if(self.inner.client.delete_vlun(volume, *lun, host).await, WsapiCode::NonExistentVlun)?;
        }
        Ok(())
    }

    /// After this host's export of a volume went: wait for the device to go;
    /// with the host's last vLUN, disconnect and delete the host entity.
    async fn after_unexport(&self, vref: &VolumeRef) -> Result<()> {
        let target = self.target();
        self.inner.connector.wait_gone(&target, vref, self.inner.gone_timeout).await?;
        let host = self.host_name();
        if self.inner.client.host_vluns(host).await?.is_empty() {
            self.inner.connector.disconnect(&target).await?;
            ok_if(self.inner.client.delete_host(host).await, WsapiCode::NonExistentHost)?;
            tracing::info!(%host, "deleted the host entity");
        }
        Ok(())
    }

    /// Removes this host's export of a volume (after the connector released
    /// its device); with the last one, disconnects and deletes the host
    /// entity. Detaching something not attached is success.
    pub async fn detach_volume(&self, vol: &Volume) -> Result<()> {
        let _lock = self.lock_mappings().await?;
        let client = &self.inner.client;
        let Some(v) = client.volume(&vol.alletra_name()).await? else { return Ok(()) };
        let luns = self.own_luns(&v.name).await?;
        if luns.is_empty() {
            return Ok(());
        }
        let vref = volume_ref(&v);
        self.inner.connector.release(&self.target(), &vref).await?;
        self.unexport(&v.name, &luns, self.host_name()).await?;
        self.after_unexport(&vref).await
    }
}
