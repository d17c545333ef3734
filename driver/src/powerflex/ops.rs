//! Driver operations on one pool: create, delete, resize, snapshot, restore,
//! copy, attach and detach.
//!
//! Volumes are addressed by [`Volume`] (type, content, UUID, snapshot flag),
//! from which the array name derives ([`PowerFlexName`]); the driver keeps no state of its own
//! besides the host identity. A virtual machine's block volume brings its
//! filesystem volume along in every operation but resize and attach.
//!
//! Every multi-step operation pushes undo actions on a [`Reverter`], so a
//! failure part-way leaves no volume, snapshot, mapping, host entity or NVMe
//! session behind. A creation whose answer was lost (no answer, a 5xx) is
//! never sent again: the volume, snapshot or host entity is looked up by its
//! name (the mapping in the volume's mappings) and, found, adopted; its undo
//! is registered before the lookup, and finds it by name too.
//!
//! Attach (with its revert), detach and delete change this host's mappings,
//! its host entity and its session, which all users of the host share; they
//! run under [`host::lock_mappings`] (per host NQN in the process, and a file
//! lock in the state directory given with [`Driver::with_lock_dir`]).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::blockcopy::{self, CopyOptions, CopyStats, NoProgress, Progress};
use crate::connector::{Connector, Target, VolumeRef};
use crate::error::{Error, Result};
use crate::host::{self, HostIdentity, HostProbe};
use crate::http::ClientOptions;
use crate::naming::{VolumeType, GIB};
use crate::powerflex::client::types::{CreateVolume, Volume as WireVolume};
use crate::powerflex::client::{Client, ClientError, ErrorCode};
use crate::powerflex::config::{Mode, PoolConfig};
use crate::powerflex::discovery::{self, Discovery};
use crate::powerflex::hosts::{self, HostKey};
use crate::powerflex::naming::{self, round_size, PowerFlexName};
use crate::retry::{self, Transient};
use crate::revert::Reverter;
use crate::volume::{
    Attachment, CopyMethod, CopyReport, CopyRequest, CreateOptions, PoolUsage, Volume, VolumeInfo, DEVICE_TIMEOUT,
    GONE_TIMEOUT,
};

/// Size of a virtual machine's filesystem volume.
pub const VM_FILESYSTEM_SIZE: u64 = 8 * GIB;
impl From<WireVolume> for VolumeInfo {
    fn from(v: WireVolume) -> VolumeInfo {
        let name = v.name().to_string();
        VolumeInfo {
            size: v.size_bytes(),
            mapped_hosts: v.mappings().iter().map(|m| m.sdc_id.clone()).collect(),
            provisioning: v.volume_type.clone().unwrap_or_default(),
            vtree_id: v.vtree_id.clone(),
            ancestor_id: v.ancestor_volume_id.clone(),
            created: v.creation_time,
            parsed: naming::parse_volume_name(&name).map(Volume::from),
            id: v.id,
            name,
        }
    }
}

/// The driver for one pool; cheap to clone.
#[derive(Clone)]
pub struct Driver {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    config: PoolConfig,
    discovery: Discovery,
    identity: HostIdentity,
    connector: Arc<dyn Connector>,
    /// Where the cross-process mapping lock lives (the state directory), if anywhere.
    lock_dir: Option<PathBuf>,
    device_timeout: Duration,
    gone_timeout: Duration,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("gateway", &self.inner.client.gateway())
            .field("pool", &self.inner.discovery.pool.id)
            .finish()
    }
}

/// What the connector is told about a volume: PowerFlex NGUIDs derive from the IDs.
fn volume_ref(v: &WireVolume) -> VolumeRef {
    VolumeRef { id: v.id.clone(), name: v.name().to_string(), size: v.size_bytes(), nguid: None, wwn: None }
}

fn not_found_ok(r: Result<(), ClientError>, code: ErrorCode) -> Result<(), ClientError> {
    match r {
        Err(e) if e.is(code) => Ok(()),
        other => other,
    }
}

impl Driver {
    /// Connects to the gateway and discovers the pool.
    pub async fn connect(
        config: PoolConfig,
        options: ClientOptions,
        identity: HostIdentity,
        connector: Arc<dyn Connector>,
    ) -> Result<Driver> {
        let client = Client::new(options)?;
        let discovery = discovery::discover(&client, &config, &HostProbe::default()).await?;
        Ok(Driver::from_parts(client, config, discovery, identity, connector))
    }

    /// A driver from parts already at hand.
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
            }),
        }
    }

    fn into_inner(self) -> Inner {
        Arc::try_unwrap(self.inner).unwrap_or_else(|arc| Inner {
            client: arc.client.clone(),
            config: arc.config.clone(),
            discovery: arc.discovery.clone(),
            identity: arc.identity.clone(),
            connector: arc.connector.clone(),
            lock_dir: arc.lock_dir.clone(),
            device_timeout: arc.device_timeout,
            gone_timeout: arc.gone_timeout,
        })
    }

    /// The same driver with other device timeouts (appear, disappear).
    pub fn with_timeouts(self, device: Duration, gone: Duration) -> Driver {
        let inner = self.into_inner();
        Driver { inner: Arc::new(Inner { device_timeout: device, gone_timeout: gone, ..inner }) }
    }

    /// The same driver, also serialising this host's mapping changes with other
    /// processes through a lock file in `dir` (the state directory). Within one
    /// process they are serialised per host NQN in any case.
    pub fn with_lock_dir(self, dir: impl Into<PathBuf>) -> Driver {
        let inner = self.into_inner();
        Driver { inner: Arc::new(Inner { lock_dir: Some(dir.into()), ..inner }) }
    }

    /// Holds off every other change to this host's mappings (and its host
    /// entity and session) until dropped; see [`host::lock_mappings`].
    async fn lock_mappings(&self) -> Result<host::MappingLock> {
        Ok(host::lock_mappings(&self.inner.identity, self.inner.lock_dir.as_deref()).await?)
    }

    /// The gateway client.
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

    /// This host's identity.
    pub fn identity(&self) -> &HostIdentity {
        &self.inner.identity
    }

    /// How the MDM knows this host: by NQN, or in `sdc` mode by the SDC's GUID, which the
    /// connector (the SDC's) reports.
    async fn host_key(&self) -> Result<HostKey> {
        match self.inner.discovery.mode {
            Mode::Nvme => Ok(HostKey::Nqn(self.inner.identity.nqn())),
            Mode::Sdc => match self.inner.connector.sdc_guid().await? {
                Some(guid) => Ok(HostKey::SdcGuid(guid)),
                None => Err(Error::Invalid(format!(
                    "powerflex.mode=sdc needs the sdc connector (this one is {:?})",
                    self.inner.connector.kind()
                ))),
            },
        }
    }

    /// The target description handed to the connector.
    pub fn target(&self) -> Target {
        let d = &self.inner.discovery;
        Target {
            addresses: d.sdt_addresses.clone(),
            system_id: d.system.id.clone(),
            system_nqn: d.system.system_nqn.clone(),
            host_nqn: self.inner.identity.nqn(),
            host_id: self.inner.identity.host_id(),
        }
    }

    async fn volume_id(&self, vol: &Volume) -> Result<String> {
        let name = vol.name();
        self.inner.client.find_volume_id(&name).await?.ok_or(Error::VolumeNotFound { name })
    }

    async fn wire_volume(&self, vol: &Volume) -> Result<WireVolume> {
        let id = self.volume_id(vol).await?;
        Ok(self.inner.client.volume(&id).await?)
    }

    // ----- Queries ---------------------------------------------------------------------------

    /// The volume as the gateway reports it, `None` when it does not exist.
    pub async fn volume_info(&self, vol: &Volume) -> Result<Option<VolumeInfo>> {
        match self.inner.client.find_volume_id(&vol.name()).await? {
            None => Ok(None),
            Some(id) => Ok(Some(self.inner.client.volume(&id).await?.into())),
        }
    }

    /// The snapshots of a volume on the array: VTree members whose ancestor it is
    /// and whose name has the snapshot prefix; ordered by creation time (one-second
    /// resolution, ties in the gateway's order). Callers that need the exact order
    /// keep it themselves, as [`crate::pool::Pools`] does.
    pub async fn volume_snapshots(&self, vol: &Volume) -> Result<Vec<VolumeInfo>> {
        let v = self.wire_volume(vol).await?;
        let Some(vtree) = &v.vtree_id else { return Ok(Vec::new()) };
        let mut snaps: Vec<VolumeInfo> = self
            .inner
            .client
            .vtree_volumes(vtree)
            .await?
            .into_iter()
            .filter(|s| s.ancestor_volume_id.as_deref() == Some(v.id.as_str()) && s.name().starts_with('s'))
            .map(VolumeInfo::from)
            .collect();
        // Stable: equal creation times keep the gateway's (creation) order.
        snaps.sort_by_key(|s| s.created);
        Ok(snaps)
    }

    /// Every volume of the pool.
    pub async fn list_volumes(&self) -> Result<Vec<VolumeInfo>> {
        Ok(self
            .inner
            .client
            .pool_volumes(&self.inner.discovery.pool.id)
            .await?
            .into_iter()
            .map(VolumeInfo::from)
            .collect())
    }

    /// Pool capacity, as LXD computes it.
    pub async fn pool_usage(&self) -> Result<PoolUsage> {
        let s = self.inner.client.storage_pool_statistics(&self.inner.discovery.pool.id).await?;
        Ok(PoolUsage {
            total: (s.net_unused_capacity_in_kb + s.net_capacity_in_use_in_kb) * 1024,
            used: s.net_capacity_in_use_in_kb * 1024,
        })
    }

    // ----- Create and delete -------------------------------------------------------------------

    /// Creates one empty volume. Refused on a pool without zero padding, as LXD
    /// refuses it: the host copy (which creates its target here) skips holes and
    /// zero blocks, so it relies on a fresh volume reading as zeros.
    async fn create_one(&self, r: &mut Reverter, vol: &Volume, size: u64, thick: bool) -> Result<String> {
        let pool = &self.inner.discovery.pool;
        if !pool.zero_padding_enabled {
            return Err(Error::ZeroPaddingDisabled { pool: pool.name.clone().unwrap_or_else(|| pool.id.clone()) });
        }
        let req = CreateVolume {
            name: vol.name(),
            volume_size_in_gb: (round_size(size) / GIB).to_string(),
            volume_type: if thick { "ThickProvisioned" } else { "ThinProvisioned" }.into(),
            storage_pool_id: self.inner.discovery.pool.id.clone(),
        };
        let id = self.create_named(r, "volume", &req.name, self.inner.client.create_volume(&req)).await?;
        Ok(id)
    }

    /// Registers the removal of the volume or snapshot `name`, looked up by
    /// its name when the undo runs (so that one whose creation answer was
    /// lost goes too); already gone is done.
    fn undo_by_name(&self, r: &mut Reverter, what: &str, name: &str) {
        let (client, name) = (self.inner.client.clone(), name.to_string());
        r.add(format!("remove {what} {name}"), move || {
            let (client, name) = (client.clone(), name.clone());
            async move {
                let Some(id) = client.find_volume_id(&name).await? else { return Ok(()) };
                not_found_ok(client.remove_volume(&id).await, ErrorCode::VolumeNotFound).map_err(Error::from)
            }
        });
    }

    /// Runs the creation of the volume or snapshot `name` and registers its
    /// undo, also when the answer was lost (a refusal made nothing, and the
    /// name may be someone else's). A creation is never sent twice: when its
    /// answer is lost, the volume is looked up by its name and, found, adopted.
    async fn create_named(
        &self,
        r: &mut Reverter,
        what: &str,
        name: &str,
        create: impl std::future::Future<Output = Result<String, ClientError>>,
    ) -> Result<String> {
        let made = create.await;
        if made.as_ref().map_or_else(Transient::is_transient, |_| true) {
            self.undo_by_name(r, what, name);
        }
        Ok(retry::create_or_find(name, async { made }, || self.inner.client.find_volume_id(name)).await?)
    }

    /// Creates a volume (and a virtual machine's filesystem volume).
    pub async fn create_volume(&self, vol: &Volume, opts: &CreateOptions) -> Result<VolumeInfo> {
        if vol.snapshot {
            return Err(Error::Invalid("create_volume: use create_snapshot for snapshots".into()));
        }
        let mut r = Reverter::new();
        let result = async {
            let id = self.create_one(&mut r, vol, opts.size, opts.thick).await?;
            if let Some(fs) = vol.companion() {
                self.create_one(&mut r, &fs, VM_FILESYSTEM_SIZE, opts.thick).await?;
            }
            Ok(self.inner.client.volume(&id).await?.into())
        }
        .await;
        r.finish(result).await
    }

    async fn delete_one(&self, vol: &Volume) -> Result<()> {
        let client = &self.inner.client;
        let Some(id) = client.find_volume_id(&vol.name()).await? else {
            return Ok(());
        };
        let v = match client.volume(&id).await {
            Ok(v) => v,
            Err(e) if e.is(ErrorCode::VolumeNotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let own = hosts::find_host(client, &self.host_key().await?).await?;
        let vref = volume_ref(&v);
        let mut unmapped_own = false;
        for m in v.mappings() {
            let is_own = own.as_ref().is_some_and(|h| h.id == m.sdc_id);
            if is_own {
                self.inner.connector.release(&self.target(), &vref).await?;
            }
            not_found_ok(client.remove_mapped_host(&id, &m.sdc_id).await, ErrorCode::MappingMissing)?;
            unmapped_own |= is_own;
        }
        if unmapped_own {
            self.after_unmap(&vref, &own.expect("own host").id).await?;
        }
        not_found_ok(client.remove_volume(&id).await, ErrorCode::VolumeNotFound)?;
        Ok(())
    }

    /// Deletes a volume or snapshot: unmaps it from every host, then removes it
    /// with `ONLY_ME`. A volume already gone is success.
    pub async fn delete_volume(&self, vol: &Volume) -> Result<()> {
        for part in vol.parts() {
            let _lock = self.lock_mappings().await?;
            self.delete_one(&part).await?;
        }
        Ok(())
    }

    // ----- Resize ------------------------------------------------------------------------------

    /// Grows a volume to `size` (rounded up to 8 GiB); shrinking is refused.
    /// Returns the new size in bytes.
    pub async fn resize_volume(&self, vol: &Volume, size: u64) -> Result<u64> {
        let v = self.wire_volume(vol).await?;
        let current = v.size_bytes();
        let wanted = round_size(size);
        if wanted.abs_diff(current) <= 512 {
            return Ok(current);
        }
        let shrink = || Error::ShrinkRefused { name: vol.name(), current, requested: wanted };
        if wanted < current {
            return Err(shrink());
        }
        match self.inner.client.set_volume_size(&v.id, wanted / GIB).await {
            Ok(()) => Ok(wanted),
            Err(e) if e.is(ErrorCode::ShrinkNotSupported) => Err(shrink()),
            Err(e) => Err(e.into()),
        }
    }

    // ----- Snapshots ---------------------------------------------------------------------------

    async fn snapshot_one(&self, r: &mut Reverter, source: &Volume, name: &str) -> Result<String> {
        let src_id = self.volume_id(source).await?;
        let system = &self.inner.discovery.system.id;
        self.create_named(r, "snapshot", name, self.inner.client.snapshot_volume(system, &src_id, name)).await
    }

    /// Takes a snapshot (both volumes of a virtual machine); returns its descriptor.
    pub async fn create_snapshot(&self, vol: &Volume, snapshot_uuid: Uuid) -> Result<Volume> {
        let snap = vol.snapshot(snapshot_uuid);
        let mut r = Reverter::new();
        let result = async {
            for (part, snap_part) in vol.parts().iter().zip(snap.parts()) {
                self.snapshot_one(&mut r, part, &snap_part.name()).await?;
            }
            Ok(snap)
        }
        .await;
        r.finish(result).await
    }

    /// Restores a volume from one of its snapshots (`overwriteVolumeContent`).
    /// The volume must not be attached to this host.
    pub async fn restore_volume(&self, vol: &Volume, snapshot: &Volume) -> Result<()> {
        let own = hosts::find_host(&self.inner.client, &self.host_key().await?).await?;
        let mut pairs = Vec::new();
        for (part, snap_part) in vol.parts().iter().zip(snapshot.parts()) {
            let v = self.wire_volume(part).await?;
            if let Some(h) = &own {
                if v.mappings().iter().any(|m| m.sdc_id == h.id) {
                    return Err(Error::Attached { name: part.name() });
                }
            }
            let snap_id = self.volume_id(&snap_part).await?;
            pairs.push((v.id, snap_id));
        }
        for (id, snap_id) in pairs {
            self.inner.client.overwrite_volume_content(&id, &snap_id).await?;
        }
        Ok(())
    }

    // ----- Attach and detach ----------------------------------------------------------------

    /// Maps a volume to this host, connects, and opens its device.
    pub async fn attach_volume(&self, vol: &Volume) -> Result<Attachment> {
        // Held until a failed attach is reverted too: its undo steps unmap,
        // disconnect and remove the host entity, which another attach may be using.
        let _lock = self.lock_mappings().await?;
        let mut r = Reverter::new();
        let result = self.attach_inner(&mut r, vol).await;
        r.finish(result).await
    }

    async fn attach_inner(&self, r: &mut Reverter, vol: &Volume) -> Result<Attachment> {
        let client = self.inner.client.clone();
        let connector = self.inner.connector.clone();
        let v = self.wire_volume(vol).await?;
        let key = self.host_key().await?;
        let host_id = match hosts::find_host(&client, &key).await? {
            Some(h) => h.id,
            None => {
                // Registered before the creation: its answer may be lost after the entity was made.
                let (c, k) = (client.clone(), key.clone());
                r.add("remove the host entity", move || {
                    let (c, k) = (c.clone(), k.clone());
                    async move { Ok(hosts::remove_own_host_if_unused(&c, &k).await?) }
                });
                hosts::create_host(&client, &self.inner.identity, &key).await?
            }
        };
        let (c, h) = (client.clone(), host_id.clone());
        let new_session = host::undo_new_session(r, connector.clone(), self.target(), move || {
            let (c, h) = (c.clone(), h.clone());
            async move { Ok(!c.host_volumes(&h).await?.is_empty()) }
        });
        let newly_mapped = !v.mappings().iter().any(|m| m.sdc_id == host_id);
        let vref = volume_ref(&v);
        if newly_mapped {
            // Registered before the mapping, which may be made though its answer is lost.
            let (c, conn, t, vr, h) = (client.clone(), connector.clone(), self.target(), vref.clone(), host_id.clone());
            r.add(format!("unmap {}", v.name()), move || {
                let (c, conn, t, vr, h) = (c.clone(), conn.clone(), t.clone(), vr.clone(), h.clone());
                async move {
                    conn.release(&t, &vr).await?;
                    not_found_ok(c.remove_mapped_host(&vr.id, &h).await, ErrorCode::MappingMissing).map_err(Error::from)
                }
            });
            match client.add_mapped_host(&v.id, &host_id).await {
                Ok(()) => {}
                // Lost: the volume's mappings say whether it was made.
                Err(e) if e.is_transient() => {
                    if !client.volume(&v.id).await?.mappings().iter().any(|m| m.sdc_id == host_id) {
                        return Err(e.into());
                    }
                    tracing::warn!(volume = %v.name(), error = %e, "the answer to the mapping was lost; it was made");
                }
                Err(e) => return Err(e.into()),
            }
        }
        let target = self.target();
        new_session.store(connector.connect(&target).await?, Ordering::SeqCst);
        let device = connector.open(&target, &vref, self.inner.device_timeout).await?;
        Ok(Attachment { volume_id: v.id, device, newly_mapped })
    }

    /// The kernel device of an attached volume, if present.
    pub async fn device_path(&self, vol: &Volume) -> Result<Option<PathBuf>> {
        let v = self.wire_volume(vol).await?;
        let vref = volume_ref(&v);
        Ok(self.inner.connector.device_path(&self.target(), &vref).await?)
    }

    /// After this host's mapping of a volume went: wait for the device to go;
    /// when the host has no mapping left, disconnect and remove the host entity.
    async fn after_unmap(&self, vref: &VolumeRef, host_id: &str) -> Result<()> {
        let target = self.target();
        self.inner.connector.wait_gone(&target, vref, self.inner.gone_timeout).await?;
        if self.inner.client.host_volumes(host_id).await?.is_empty() {
            self.inner.connector.disconnect(&target).await?;
            hosts::remove_host_if_unused(&self.inner.client, host_id, &self.host_key().await?).await?;
        }
        Ok(())
    }

    /// Unmaps a volume from this host (after the connector released its device,
    /// e.g. the `loop` connector's loop device); disconnects and removes the
    /// host entity with the last mapping. Detaching something not attached is success.
    pub async fn detach_volume(&self, vol: &Volume) -> Result<()> {
        let client = &self.inner.client;
        let _lock = self.lock_mappings().await?;
        let Some(h) = hosts::find_host(client, &self.host_key().await?).await? else {
            return Ok(());
        };
        let Some(id) = client.find_volume_id(&vol.name()).await? else {
            return Ok(());
        };
        let v = client.volume(&id).await?;
        let vref = volume_ref(&v);
        if v.mappings().iter().any(|m| m.sdc_id == h.id) {
            self.inner.connector.release(&self.target(), &vref).await?;
            not_found_ok(client.remove_mapped_host(&id, &h.id).await, ErrorCode::MappingMissing)?;
        }
        self.after_unmap(&vref, &h.id).await
    }

    // ----- Copy --------------------------------------------------------------------------------

    /// Whether a copy would be a PowerFlex snapshot rather than a host copy.
    pub async fn copy_method(&self, req: &CopyRequest) -> Result<CopyMethod> {
        let image_to_instance = req.source.vtype == VolumeType::Image && req.target.vtype.is_instance();
        if self.inner.config.clone_copy
            || image_to_instance
            || !req.target_snapshots.is_empty()
            || !req.source_snapshots.is_empty()
        {
            return Ok(CopyMethod::HostCopy);
        }
        if self.volume_snapshots(&req.source).await?.is_empty() {
            Ok(CopyMethod::Snapshot)
        } else {
            Ok(CopyMethod::HostCopy)
        }
    }

    /// Copies a volume (both volumes of a virtual machine).
    ///
    /// A PowerFlex snapshot in the source's VTree is used only when the source
    /// has no snapshots, the copy takes none, `powerflex.clone_copy` is false
    /// and the copy is not an instance made from an image. Otherwise a new
    /// volume in its own VTree is filled by a host-side block copy through both
    /// mapped devices: snapshots oldest first (taking the target's snapshot
    /// after each), then the volume itself.
    pub async fn copy_volume(&self, req: &CopyRequest, progress: Option<Arc<dyn Progress>>) -> Result<CopyReport> {
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
        let method = self.copy_method(req).await?;
        let mut r = Reverter::new();
        let result = match method {
            CopyMethod::Snapshot => self.copy_by_snapshot(&mut r, req).await,
            CopyMethod::HostCopy => self.copy_by_host(&mut r, req, progress).await,
            CopyMethod::PhysicalCopy => Err(Error::Invalid("PowerFlex makes no array-side physical copies".into())),
        };
        r.finish(result).await
    }

    async fn copy_by_snapshot(&self, r: &mut Reverter, req: &CopyRequest) -> Result<CopyReport> {
        for (src, dst) in req.source.parts().iter().zip(req.target.parts()) {
            self.snapshot_one(r, src, &dst.name()).await?;
        }
        if let Some(size) = req.size {
            let v = self.wire_volume(&req.target).await?;
            if round_size(size) > v.size_bytes() {
                self.resize_volume(&req.target, size).await?;
            }
        }
        Ok(CopyReport { method: CopyMethod::Snapshot, stats: CopyStats::default(), passes: 0 })
    }

    async fn copy_by_host(
        &self,
        r: &mut Reverter,
        req: &CopyRequest,
        progress: Option<Arc<dyn Progress>>,
    ) -> Result<CopyReport> {
        let progress: Arc<dyn Progress> = progress.unwrap_or_else(|| Arc::new(NoProgress));
        let mut total = CopyStats::default();
        let mut passes = 0;
        for (i, (src_part, dst_part)) in req.source.parts().into_iter().zip(req.target.parts()).enumerate() {
            let src = self.wire_volume(&src_part).await?;
            let mut size = src.size_bytes();
            if i == 0 {
                size = size.max(req.size.map(round_size).unwrap_or(0));
            }
            for ss in &req.source_snapshots {
                let snap = self.wire_volume(&ss.parts()[i]).await?;
                if snap.size_bytes() > size {
                    return Err(Error::SnapshotLargerThanCopy {
                        snapshot: snap.name().to_string(),
                        snapshot_size: snap.size_bytes(),
                        target: dst_part.name(),
                        target_size: size,
                    });
                }
            }
            self.create_one(r, &dst_part, size, req.thick).await?;
            // Fresh on a zero-padded pool (create_one insists), so the first
            // pass may skip holes and zero blocks.
            let mut first = true;
            for (ss, ts) in req.source_snapshots.iter().zip(&req.target_snapshots) {
                let ss_part = ss.parts()[i];
                let ts_part = ts.parts()[i];
                let stats = self.copy_pass(r, &ss_part, &dst_part, first, progress.clone()).await?;
                total.add(&stats);
                passes += 1;
                first = false;
                self.snapshot_one(r, &dst_part, &ts_part.name()).await?;
            }
            let stats = self.copy_pass(r, &src_part, &dst_part, first, progress.clone()).await?;
            total.add(&stats);
            passes += 1;
        }
        Ok(CopyReport { method: CopyMethod::HostCopy, stats: total, passes })
    }

    /// Attaches both volumes, copies, detaches what this pass attached.
    async fn copy_pass(
        &self,
        r: &mut Reverter,
        src: &Volume,
        dst: &Volume,
        target_zeroed: bool,
        progress: Arc<dyn Progress>,
    ) -> Result<CopyStats> {
        let src_att = self.attach_tracked(r, src).await?;
        let dst_att = self.attach_tracked(r, dst).await?;
        let options = CopyOptions { target_zeroed, ..Default::default() };
        let (stats, src_att, dst_att) = tokio::task::spawn_blocking(move || {
            let stats = blockcopy::copy(src_att.device.as_ref(), dst_att.device.as_ref(), options, progress.as_ref());
            (stats, src_att, dst_att)
        })
        .await
        .map_err(|e| Error::Invalid(format!("block copy task failed: {e}")))?;
        let stats = stats?;
        let (src_new, dst_new) = (src_att.newly_mapped, dst_att.newly_mapped);
        drop(src_att);
        drop(dst_att);
        if dst_new {
            self.detach_volume(dst).await?;
        }
        if src_new {
            self.detach_volume(src).await?;
        }
        Ok(stats)
    }

    /// Attaches and, when this created the mapping, registers the detach as an undo step.
    async fn attach_tracked(&self, r: &mut Reverter, vol: &Volume) -> Result<Attachment> {
        let att = self.attach_volume(vol).await?;
        if att.newly_mapped {
            let (d, v) = (self.clone(), *vol);
            r.add(format!("detach {}", vol.name()), move || {
                let d = d.clone();
                async move { d.detach_volume(&v).await }
            });
        }
        Ok(att)
    }
}
