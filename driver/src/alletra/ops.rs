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
//! failure part-way leaves nothing it created behind. Changes to this host's
//! exports run under [`host::lock_mappings`], as PowerFlex's do.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::client::types::{
    CreateVolume, Volume as WireVolume, COPY_TYPE_VIRTUAL, LINK_READY, PROTOCOL_ISCSI, PROTOCOL_NVME,
};
use super::client::{Client, ClientError, WsapiCode, WsapiError};
use super::config::{check_size, Mode, PoolConfig};
use super::naming::{self, round_size, to_mib, AlletraName, MIN_SIZE};
use crate::connector::{Connector, Target, VolumeRef};
use crate::error::{Error, Result};
use crate::host::{self, HostIdentity};
use crate::naming::ContentType;
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

    async fn wait_task(&self, id: i64) -> Result<()> {
        Ok(self.inner.client.wait_task(id, self.inner.task_poll, self.inner.task_timeout).await?)
    }

    // ----- The pool ------------------------------------------------------------------------------

    /// Creates the pool's volume set.
    pub async fn create_pool(&self) -> Result<()> {
        Ok(self.inner.client.create_volume_set(&self.inner.discovery.volume_set).await?)
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

    /// Creates one volume in the CPG and adds it to the volume set.
    async fn create_one(&self, r: &mut Reverter, vol: &Volume, size: u64) -> Result<()> {
        let client = self.inner.client.clone();
        let name = vol.alletra_name();
        let req =
            CreateVolume { name: name.clone(), cpg: self.inner.config.cpg.clone(), size_mib: to_mib(size), tpvv: true };
        client.create_volume(&req).await?;
        let (c, n) = (client.clone(), name.clone());
        r.add(format!("delete volume {name}"), move || async move {
            ok_if(c.delete_volume(&n).await, WsapiCode::NonExistentVolume)
        });
        let set = self.inner.discovery.volume_set.clone();
        client.add_to_volume_set(&set, &name).await?;
        let (c, n) = (client, name.clone());
        r.add(format!("remove {name} from volume set {set}"), move || async move {
            Ok(c.remove_from_volume_set(&set, &n).await?)
        });
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
            self.unexport(&name, &luns).await?;
            self.after_unexport(&vref).await?;
        }
        if !vol.snapshot {
            let set = &self.inner.discovery.volume_set;
            match client.remove_from_volume_set(set, &name).await {
                // MEMBER_NOT_IN_SET (or the set gone): nothing to take out.
                Err(ClientError::Api(e)) if e.status == 404 => {
                    tracing::debug!(volume = %name, error = %e, "not in the volume set");
                }
                other => other?,
            }
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
        self.inner.client.create_snapshot(source, name).await?;
        let (c, n) = (self.inner.client.clone(), name.to_string());
        r.add(format!("delete snapshot {name}"), move || async move {
            ok_if(c.delete_volume(&n).await, WsapiCode::NonExistentVolume)
        });
        Ok(())
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
        for snap_part in snapshot.parts() {
            let snap = self.wire_volume(&snap_part).await?;
            let task = self.inner.client.promote_snapshot(&snap.name).await?;
            self.wait_task(task).await?;
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
                let task = self.inner.client.physical_copy(snap, &dst).await?;
                self.wait_task(task).await?;
                passes += 1;
                self.snapshot_one(r, &dst, &ts.parts()[i].alletra_name()).await?;
            }
            let task = self.inner.client.physical_copy(&src.name, &dst).await?;
            self.wait_task(task).await?;
            passes += 1;
        }
        Ok(CopyReport { method: CopyMethod::PhysicalCopy, stats: Default::default(), passes })
    }

    // ----- Attach and detach ---------------------------------------------------------------------

    /// This host's entity: found by its NQN (NVMe) or IQN (iSCSI), else created.
    /// The flag says whether this call created it.
    async fn ensure_host(&self) -> Result<(String, bool)> {
        let client = &self.inner.client;
        let (mode, name) = (self.inner.discovery.mode, self.host_name().to_string());
        let (nqn, iqn) = (self.inner.identity.nqn(), host::initiator_iqn(&self.inner.identity));
        let found = client.hosts().await?.into_iter().find(|h| match mode {
            Mode::Nvme => h.nvme_paths.iter().any(|p| p.nqn.as_deref() == Some(nqn.as_str())),
            Mode::Iscsi => h.iscsi_paths.iter().any(|p| p.name.as_deref() == Some(iqn.as_str())),
        });
        if let Some(h) = found {
            return Ok((h.name, false));
        }
        let created = match mode {
            Mode::Nvme => client.create_nvme_host(&name, &nqn).await,
            Mode::Iscsi => client.create_iscsi_host(&name, &iqn).await,
        };
        match created {
            // LXD treats a host of that name as this host's.
            Err(e) if e.is(WsapiCode::ExistentHost) => Ok((name, false)),
            Err(e) => Err(e.into()),
            Ok(()) => {
                tracing::info!(host = %name, "created the host entity");
                Ok((name, true))
            }
        }
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
        let (host, created) = self.ensure_host().await?;
        if created {
            let (c, h) = (client.clone(), host.clone());
            r.add(format!("delete the host entity {host}"), move || async move { Ok(c.delete_host(&h).await?) });
        }
        // Registered before the export so that, reverting newest first, it runs
        // after the vLUN went: disconnect only a session this attach made, and
        // only when nothing stays exported to this host.
        let new_session = Arc::new(AtomicBool::new(false));
        {
            let (c, conn, t, h, flag) =
                (client.clone(), connector.clone(), self.target(), host.clone(), new_session.clone());
            r.add("disconnect the session", move || async move {
                if flag.load(Ordering::SeqCst) && c.host_vluns(&h).await?.is_empty() {
                    conn.disconnect(&t).await?;
                }
                Ok(())
            });
        }
        let vref = volume_ref(&v);
        let exported =
            client.volume_vluns(&v.name).await?.into_iter().any(|l| l.hostname.as_deref() == Some(host.as_str()));
        let newly_mapped = !exported;
        if newly_mapped {
            let lun = match client.create_vlun(&host, &v.name).await {
                Ok(Some(lun)) => Some(lun),
                // Already exported (LXD's reading of code 29), or no Location: look it up.
                Ok(None) | Err(ClientError::Api(WsapiError { code: WsapiCode::Other29, .. })) => client
                    .volume_vluns(&v.name)
                    .await?
                    .into_iter()
                    .find(|l| l.hostname.as_deref() == Some(host.as_str()))
                    .map(|l| l.lun),
                Err(e) => return Err(e.into()),
            };
            let (c, conn, t, vr, h) = (client.clone(), connector.clone(), self.target(), vref.clone(), host.clone());
            r.add(format!("unexport {}", v.name), move || async move {
                conn.release(&t, &vr).await?;
                match lun {
                    Some(lun) => ok_if(c.delete_vlun(&vr.name, lun, &h).await, WsapiCode::NonExistentVlun),
                    None => Ok(()),
                }
            });
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
        let host = self.host_name();
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
    async fn unexport(&self, volume: &str, luns: &[i64]) -> Result<()> {
        for lun in luns {
            ok_if(self.inner.client.delete_vlun(volume, *lun, self.host_name()).await, WsapiCode::NonExistentVlun)?;
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
        self.unexport(&v.name, &luns).await?;
        self.after_unexport(&vref).await
    }
}
