//! The state-backed facade: named pools and volumes, as `pflex` sees them.
//!
//! [`Pools`] keeps each pool's driver, configuration and its volumes' UUIDs in
//! [`StateDir`], and runs [`ArrayDriver`] operations by name, whichever array
//! the pool is on. An Alletra pool's volume set is created with the pool and
//! deleted with it. Records are written
//! before the array is touched and removed if the operation fails, so a crash
//! never leaves an array volume that local state does not know about; a
//! record whose volume is missing on the array is shown as such and can be
//! deleted.
//!
//! A failure that may leave parts on the array (an undo that failed, a delete
//! cut short) keeps the record, marked incomplete: a delete finishes the job,
//! other commands refuse it with that advice instead of failing on a missing
//! part. A delete updates the record part by part (each snapshot as it goes),
//! and a part already gone from the array counts as deleted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

use crate::alletra;
use crate::array::{array_name, ArrayConfig, ArrayDriver, ArrayKind, PoolDiscovery};
use crate::blockcopy::Progress;
use crate::connector::{self, Connector, ConnectorChoice, ConnectorError, SimConnector};
use crate::error::{Error, Result};
use crate::host::{HostIdentity, HostProbe};
use crate::http::{ClientOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT};
use crate::keys::ConfigError;
use crate::naming::{parse_size, ContentType, VolumeType};
use crate::powerflex::{self, discovery};
use crate::retry::Transient;
use crate::state::{self, now, volume_key, PoolState, SnapshotRecord, StateDir, StateError, VolumeRecord};
use crate::volume::{
    CopyReport, CopyRequest, CreateOptions, PoolUsage, Volume, VolumeInfo, DEVICE_TIMEOUT, GONE_TIMEOUT,
};

/// Client settings that are not pool keys.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Extra trusted CA certificates, PEM.
    pub ca_pem: Option<Vec<u8>>,
    /// Time allowed for one request.
    pub timeout: Duration,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Concurrent requests allowed.
    pub max_connections: usize,
    /// Where the host's mode is detected.
    pub probe: HostProbe,
    /// Device appearance timeout.
    pub device_timeout: Duration,
    /// How often an Alletra task (promote, physical copy) is polled, and for how long.
    pub task_poll: Duration,
    /// How long an Alletra task may run.
    pub task_timeout: Duration,
    /// How calls safe to repeat are tried again when their outcome is unknown.
    pub retry: crate::retry::Policy,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ca_pem: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            probe: HostProbe::default(),
            device_timeout: DEVICE_TIMEOUT,
            task_poll: alletra::ops::TASK_POLL,
            task_timeout: alletra::ops::TASK_TIMEOUT,
            retry: crate::retry::Policy::default(),
        }
    }
}

/// Volume keys accepted at creation (`block.type` on PowerFlex only:
/// Alletra volumes are always thin, as LXD makes them).
pub const VOLUME_KEYS: [&str; 2] = ["size", "block.type"];

/// A pool for display: the password is redacted.
#[derive(Debug, Clone, Serialize)]
pub struct PoolView {
    /// Local name.
    pub name: String,
    /// Its driver.
    pub driver: ArrayKind,
    /// Keys as set, password redacted.
    pub config: BTreeMap<String, String>,
    /// What discovery found.
    pub discovery: Option<PoolDiscovery>,
    /// Number of volumes.
    pub volumes: usize,
    /// Capacity, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<PoolUsage>,
}

/// A snapshot for display.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotView {
    /// User name.
    pub name: String,
    /// UUID.
    pub uuid: Uuid,
    /// Array name.
    pub array_name: String,
    /// Creation time.
    pub created: u64,
    /// Parts of it may be missing on the array; delete it to finish.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

/// A volume for display.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeView {
    /// User name.
    pub name: String,
    /// Volume type.
    #[serde(rename = "type")]
    pub vtype: VolumeType,
    /// Content type.
    pub content: ContentType,
    /// UUID.
    pub uuid: Uuid,
    /// Array name.
    pub array_name: String,
    /// Requested size.
    pub requested_size: u64,
    /// Thick provisioning.
    pub thick: bool,
    /// Snapshots, oldest first.
    pub snapshots: Vec<SnapshotView>,
    /// Parts of it may be missing on the array; delete it to finish.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
    /// The array's view; `None` when the volume is missing there.
    pub array: Option<VolumeInfo>,
    /// The kernel device, when attached here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<PathBuf>,
}

/// How [`Pools`] reaches volume bytes.
#[derive(Clone)]
pub enum ConnectorSource {
    /// This connector for every pool (tests, harnesses).
    Fixed(Arc<dyn Connector>),
    /// Built per pool from its gateway settings (the command line's `--connector`).
    Choice(ConnectorChoice),
}

/// The named pools of one state directory.
pub struct Pools {
    state: StateDir,
    settings: Settings,
    connector: ConnectorSource,
}

/// `name` or `name/snapshot`.
pub fn split_snapshot(name: &str) -> (&str, Option<&str>) {
    match name.split_once('/') {
        Some((v, s)) => (v, Some(s)),
        None => (name, None),
    }
}

fn record_volume(r: &VolumeRecord) -> Volume {
    Volume::new(r.vtype, r.content, r.uuid)
}

impl Pools {
    /// Pools kept in `state`, reaching volumes through `connector`.
    pub fn new(state: StateDir, settings: Settings, connector: Arc<dyn Connector>) -> Pools {
        Pools { state, settings, connector: ConnectorSource::Fixed(connector) }
    }

    /// Pools kept in `state`, reaching volumes through the chosen connector,
    /// built for each pool with its gateway URL, credentials and TLS settings.
    pub fn with_connector(state: StateDir, settings: Settings, choice: ConnectorChoice) -> Pools {
        Pools { state, settings, connector: ConnectorSource::Choice(choice) }
    }

    /// The state directory.
    pub fn state(&self) -> &StateDir {
        &self.state
    }

    fn client_options(&self, cfg: &ArrayConfig) -> ClientOptions {
        let mut o = cfg.client_options();
        o.ca_pem = self.settings.ca_pem.clone();
        o.timeout = self.settings.timeout;
        o.connect_timeout = self.settings.connect_timeout;
        o.max_connections = self.settings.max_connections;
        o.retry = self.settings.retry;
        o
    }

    fn config_of(p: &PoolState) -> Result<ArrayConfig> {
        Ok(ArrayConfig::from_map(p.driver, &p.config)?)
    }

    /// The connector for a pool: the fixed one, or the chosen one built for
    /// the pool's array (`nvme` is the array's kernel path: NVMe/TCP, or iSCSI
    /// for an Alletra pool in iscsi mode; `loop` serves pflex-sim only).
    fn connector_for(&self, cfg: &ArrayConfig, host_name: &str) -> Result<Arc<dyn Connector>> {
        let choice = match &self.connector {
            ConnectorSource::Fixed(c) => return Ok(c.clone()),
            ConnectorSource::Choice(choice) => *choice,
        };
        let options = self.client_options(cfg);
        Ok(match (cfg, choice) {
            // As LXD: in sdc mode the volumes come through the SDC.
            (ArrayConfig::PowerFlex(c), ConnectorChoice::Nvme) if c.mode == Some(powerflex::Mode::Sdc) => {
                Arc::new(connector::SdcConnector::new())
            }
            (ArrayConfig::PowerFlex(_), choice) => connector::build(choice, &options)?,
            (ArrayConfig::Alletra(c), ConnectorChoice::Nvme) if c.mode == alletra::Mode::Iscsi => {
                Arc::new(connector::IscsiConnector::new())
            }
            (ArrayConfig::Alletra(_), ConnectorChoice::Nvme) => connector::build(ConnectorChoice::Nvme, &options)?,
            (ArrayConfig::Alletra(_), ConnectorChoice::Sim) => {
                Arc::new(SimConnector::for_alletra(&options, host_name)?)
            }
            (ArrayConfig::Alletra(_), ConnectorChoice::Sdc) => {
                return Err(ConnectorError::Unavailable {
                    connector: "sdc",
                    reason: "the ScaleIO Data Client serves PowerFlex volumes only".into(),
                }
                .into())
            }
            (ArrayConfig::Alletra(_), ConnectorChoice::Loop) => {
                return Err(ConnectorError::Unavailable {
                    connector: "loop",
                    reason: "it uses pflex-sim's backing files; for an Alletra pool use --connector sim or nvme".into(),
                }
                .into())
            }
        })
    }

    /// Contacts the array and builds the pool's driver.
    async fn connect(&self, name: &str, cfg: ArrayConfig) -> Result<ArrayDriver> {
        let identity = HostIdentity::new(self.state.server_uuid()?);
        let options = self.client_options(&cfg);
        let s = &self.settings;
        Ok(match cfg {
            ArrayConfig::PowerFlex(c) => {
                let client = powerflex::Client::new(options)?;
                let d = discovery::discover(&client, &c, &s.probe).await?;
                // The discovered mode decides the default connector too.
                let mut discovered = c.clone();
                discovered.mode = Some(d.mode);
                let connector = self.connector_for(&ArrayConfig::PowerFlex(discovered), &identity.hostname)?;
                ArrayDriver::PowerFlex(
                    powerflex::Driver::from_parts(client, c, d, identity, connector)
                        .with_timeouts(s.device_timeout, GONE_TIMEOUT)
                        .with_lock_dir(self.state.root()),
                )
            }
            ArrayConfig::Alletra(c) => {
                let client = alletra::Client::new(options)?;
                let d = alletra::ops::discover(&client, name, &c, &identity).await?;
                let connector = self.connector_for(&ArrayConfig::Alletra(c.clone()), &d.host_name)?;
                ArrayDriver::Alletra(
                    alletra::Driver::from_parts(client, c, d, identity, connector)
                        .with_timeouts(s.device_timeout, GONE_TIMEOUT)
                        .with_task_timing(s.task_poll, s.task_timeout)
                        .with_lock_dir(self.state.root()),
                )
            }
        })
    }

    fn view(&self, p: &PoolState, usage: Option<PoolUsage>) -> Result<PoolView> {
        let cfg = Self::config_of(p)?;
        Ok(PoolView {
            name: p.name.clone(),
            driver: p.driver,
            config: cfg.shown(),
            discovery: p.discovery.clone(),
            volumes: p.volumes.len(),
            usage,
        })
    }

    /// Creates a pool on `driver`: validates the keys, contacts the array,
    /// discovers, creates what the array needs (Alletra: the volume set named
    /// after the pool), saves. A failed save removes what was created.
    pub async fn create(&self, name: &str, driver: ArrayKind, keys: &BTreeMap<String, String>) -> Result<PoolView> {
        state::check_name(name)?;
        if self.state.has_pool(name) {
            return Err(StateError::PoolExists(name.into()).into());
        }
        let cfg = ArrayConfig::from_map(driver, keys)?;
        let d = self.connect(name, cfg.clone()).await?;
        let p = PoolState {
            version: state::FORMAT_VERSION,
            name: name.to_string(),
            driver,
            config: cfg.to_map(),
            discovery: Some(d.discovery()),
            volumes: BTreeMap::new(),
        };
        if let ArrayDriver::Alletra(a) = &d {
            if let Err(e) = a.create_pool().await {
                // Not found out whether the set was made: take it away (deleting is safe to repeat).
                if e.is_transient() {
                    if let Err(undo) = a.delete_pool().await {
                        return Err(Error::RevertFailed {
                            error: Box::new(e),
                            undo_failures: vec![format!("delete volume set {name}: {undo}")],
                        });
                    }
                }
                return Err(e);
            }
        }
        let saved = (|| {
            let _lock = self.state.lock()?;
            if self.state.has_pool(name) {
                return Err(StateError::PoolExists(name.into()));
            }
            self.state.save_pool(&p)
        })();
        if let Err(e) = saved {
            if let ArrayDriver::Alletra(a) = &d {
                if let Err(undo) = a.delete_pool().await {
                    return Err(Error::RevertFailed {
                        error: Box::new(e.into()),
                        undo_failures: vec![format!("delete volume set {name}: {undo}")],
                    });
                }
            }
            return Err(e.into());
        }
        self.view(&p, None)
    }

    /// All pools.
    pub fn list(&self) -> Result<Vec<PoolView>> {
        let mut out = Vec::new();
        for n in self.state.pool_names()? {
            out.push(self.view(&self.state.pool(&n)?, None)?);
        }
        Ok(out)
    }

    /// One pool; with `live`, discovery is refreshed and capacity read from the array.
    pub async fn show(&self, name: &str, live: bool) -> Result<PoolView> {
        let p = self.state.pool(name)?;
        if !live {
            return self.view(&p, None);
        }
        let driver = self.driver_for(&p).await?;
        let usage = driver.pool_usage().await?;
        let mut v = self.view(&p, Some(usage))?;
        v.discovery = Some(driver.discovery());
        Ok(v)
    }

    /// One key (password redacted); `None` when unset.
    pub fn get(&self, name: &str, key: &str) -> Result<Option<String>> {
        let p = self.state.pool(name)?;
        Ok(Self::config_of(&p)?.get(key)?)
    }

    /// Changes keys (an empty value unsets), rediscovers, saves.
    pub async fn set(&self, name: &str, changes: &BTreeMap<String, String>) -> Result<PoolView> {
        let p = self.state.pool(name)?;
        let cfg = Self::config_of(&p)?.with_changes(changes)?;
        let d = self.connect(name, cfg.clone()).await?.discovery();
        let p = self.state.update_pool(name, |p| {
            p.config = cfg.to_map();
            p.discovery = Some(d);
            Ok(p.clone())
        })?;
        self.view(&p, None)
    }

    /// Deletes a pool (an Alletra pool's volume set with it); refused while it has volumes.
    pub async fn delete(&self, name: &str) -> Result<()> {
        let p = self.state.pool(name)?;
        if !p.volumes.is_empty() {
            return Err(StateError::PoolInUse { pool: name.into(), count: p.volumes.len() }.into());
        }
        if let ArrayDriver::Alletra(a) = self.driver_for(&p).await? {
            a.delete_pool().await?;
        }
        let _lock = self.state.lock()?;
        let p = self.state.pool(name)?;
        if !p.volumes.is_empty() {
            return Err(StateError::PoolInUse { pool: name.into(), count: p.volumes.len() }.into());
        }
        Ok(self.state.remove_pool(name)?)
    }

    async fn driver_for(&self, p: &PoolState) -> Result<ArrayDriver> {
        self.connect(&p.name, Self::config_of(p)?).await
    }

    /// A driver for a named pool.
    pub async fn driver(&self, name: &str) -> Result<ArrayDriver> {
        let p = self.state.pool(name)?;
        self.driver_for(&p).await
    }

    fn record(&self, pool: &str, vtype: VolumeType, name: &str) -> Result<VolumeRecord> {
        let p = self.state.pool(pool)?;
        let key = volume_key(vtype, name);
        p.volumes.get(&key).cloned().ok_or_else(|| StateError::VolumeNotFound { pool: pool.into(), volume: key }.into())
    }

    fn resolve(&self, pool: &str, vtype: VolumeType, name: &str) -> Result<(VolumeRecord, Volume)> {
        let (vol_name, snap) = split_snapshot(name);
        let rec = self.record(pool, vtype, vol_name)?;
        let vol = record_volume(&rec);
        match snap {
            None => Ok((rec, vol)),
            Some(s) => {
                let snap = rec
                    .snapshot(s)
                    .ok_or_else(|| StateError::SnapshotNotFound { volume: rec.key(), snapshot: s.into() })?;
                let sv = vol.snapshot(snap.uuid);
                Ok((rec, sv))
            }
        }
    }

    /// Creates a volume. `keys` may hold `size` and `block.type` (`thin` or `thick`).
    pub async fn volume_create(
        &self,
        pool: &str,
        vtype: VolumeType,
        name: &str,
        content: ContentType,
        keys: &BTreeMap<String, String>,
    ) -> Result<VolumeView> {
        state::check_name(name)?;
        if vtype == VolumeType::VirtualMachine && content != ContentType::Block {
            return Err(Error::Invalid(
                "virtual-machine volumes are block volumes (their filesystem volume comes along)".into(),
            ));
        }
        let p = self.state.pool(pool)?;
        let mut size = Self::config_of(&p)?.volume_size();
        let mut thick = false;
        for (k, v) in keys {
            match k.as_str() {
                "size" => {
                    size = parse_size(v).map_err(|e| ConfigError::Invalid { key: "size", reason: e.to_string() })?
                }
                "block.type" if p.driver == ArrayKind::PowerFlex => {
                    thick = match v.as_str() {
                        "thin" => false,
                        "thick" => true,
                        other => {
                            return Err(ConfigError::Invalid {
                                key: "block.type",
                                reason: format!("{other:?} is not thin or thick"),
                            }
                            .into())
                        }
                    }
                }
                other => return Err(ConfigError::UnknownKey { key: other.into() }.into()),
            }
        }
        let rec = VolumeRecord {
            name: name.into(),
            vtype,
            content,
            uuid: Uuid::new_v4(),
            size,
            thick,
            created: now(),
            snapshots: Vec::new(),
            incomplete: false,
        };
        self.insert_record(pool, &rec)?;
        let result = async {
            let driver = self.driver_for(&p).await?;
            driver.create_volume(&record_volume(&rec), &CreateOptions { size, thick }).await
        }
        .await;
        match result {
            Ok(info) => Ok(self.volume_view(p.driver, &rec, Some(info), None)),
            Err(e) => {
                self.forget_failed(pool, &rec.key(), &e)?;
                Err(e)
            }
        }
    }

    /// After a failed create or copy: the record goes, unless undoing failed
    /// and parts may be left on the array; then it stays, incomplete, for a
    /// delete to finish.
    fn forget_failed(&self, pool: &str, key: &str, e: &Error) -> Result<()> {
        let left = matches!(e, Error::RevertFailed { .. });
        Ok(self.state.update_pool(pool, |p| {
            if left {
                if let Some(r) = p.volumes.get_mut(key) {
                    r.incomplete = true;
                }
            } else {
                p.volumes.remove(key);
            }
            Ok(())
        })?)
    }

    /// Marks a volume (or, with `snapshot`, one of its snapshots) incomplete,
    /// or drops the snapshot's record once it is gone.
    fn mark(&self, pool: &str, key: &str, snapshot: Option<Uuid>, gone: bool) -> Result<()> {
        Ok(self.state.update_pool(pool, |p| {
            let Some(r) = p.volumes.get_mut(key) else { return Ok(()) };
            match snapshot {
                Some(uuid) if gone => r.snapshots.retain(|s| s.uuid != uuid),
                Some(uuid) => r.snapshots.iter_mut().filter(|s| s.uuid == uuid).for_each(|s| s.incomplete = true),
                None => r.incomplete = true,
            }
            Ok(())
        })?)
    }

    fn insert_record(&self, pool: &str, rec: &VolumeRecord) -> Result<()> {
        Ok(self.state.update_pool(pool, |p| {
            let key = rec.key();
            if p.volumes.contains_key(&key) {
                return Err(StateError::VolumeExists { pool: p.name.clone(), volume: key });
            }
            p.volumes.insert(key, rec.clone());
            Ok(())
        })?)
    }

    fn remove_record(&self, pool: &str, key: &str) -> Result<()> {
        Ok(self.state.update_pool(pool, |p| {
            p.volumes.remove(key);
            Ok(())
        })?)
    }

    /// [`Pools::resolve`] for commands that need all of the volume (or
    /// snapshot) on the array: an incomplete one is refused with the advice to delete it.
    fn resolve_whole(&self, pool: &str, vtype: VolumeType, name: &str) -> Result<(VolumeRecord, Volume)> {
        let (rec, vol) = self.resolve(pool, vtype, name)?;
        let snap_incomplete = split_snapshot(name).1.and_then(|s| rec.snapshot(s)).is_some_and(|s| s.incomplete);
        if rec.incomplete || snap_incomplete {
            return Err(Error::Invalid(format!(
                "{} {name:?} is incomplete (a failure left only some of its parts on the array); delete it to finish",
                if snap_incomplete { "snapshot" } else { "volume" }
            )));
        }
        Ok((rec, vol))
    }

    fn volume_view(
        &self,
        kind: ArrayKind,
        rec: &VolumeRecord,
        array: Option<VolumeInfo>,
        device: Option<PathBuf>,
    ) -> VolumeView {
        let vol = record_volume(rec);
        VolumeView {
            name: rec.name.clone(),
            vtype: rec.vtype,
            content: rec.content,
            uuid: rec.uuid,
            array_name: array_name(kind, &vol),
            requested_size: rec.size,
            thick: rec.thick,
            snapshots: rec
                .snapshots
                .iter()
                .map(|s| SnapshotView {
                    name: s.name.clone(),
                    uuid: s.uuid,
                    array_name: array_name(kind, &vol.snapshot(s.uuid)),
                    created: s.created,
                    incomplete: s.incomplete,
                })
                .collect(),
            incomplete: rec.incomplete,
            array,
            device,
        }
    }

    /// Deletes a volume with its snapshots, or (`name/snap`) one snapshot.
    pub async fn volume_delete(&self, pool: &str, vtype: VolumeType, name: &str) -> Result<()> {
        let (vol_name, snap) = split_snapshot(name);
        let (rec, target) = self.resolve(pool, vtype, name)?;
        let driver = self.driver(pool).await?;
        let key = volume_key(vtype, vol_name);
        match snap {
            Some(s) => {
                let uuid = rec.snapshot(s).expect("resolved").uuid;
                self.mark(pool, &key, Some(uuid), false)?;
                driver.delete_volume(&target).await?;
                self.mark(pool, &key, Some(uuid), true)?;
            }
            None => {
                let vol = record_volume(&rec);
                self.mark(pool, &key, None, false)?;
                for s in rec.snapshots.iter().rev() {
                    driver.delete_volume(&vol.snapshot(s.uuid)).await?;
                    self.mark(pool, &key, Some(s.uuid), true)?;
                }
                driver.delete_volume(&vol).await?;
                self.remove_record(pool, &rec.key())?;
            }
        }
        Ok(())
    }

    /// Grows a volume; returns the new size.
    pub async fn volume_resize(&self, pool: &str, vtype: VolumeType, name: &str, size: u64) -> Result<u64> {
        let (rec, vol) = self.resolve_whole(pool, vtype, name)?;
        if vol.snapshot {
            return Err(Error::Invalid("snapshots cannot be resized".into()));
        }
        let driver = self.driver(pool).await?;
        let new = driver.resize_volume(&vol, size).await?;
        self.state.update_pool(pool, |p| {
            if let Some(r) = p.volumes.get_mut(&rec.key()) {
                r.size = size;
            }
            Ok(())
        })?;
        Ok(new)
    }

    /// Takes a snapshot named `snapshot`.
    pub async fn volume_snapshot(
        &self,
        pool: &str,
        vtype: VolumeType,
        name: &str,
        snapshot: &str,
    ) -> Result<SnapshotView> {
        state::check_name(snapshot)?;
        let (rec, vol) = self.resolve_whole(pool, vtype, name)?;
        if vol.snapshot {
            return Err(Error::Invalid("cannot snapshot a snapshot".into()));
        }
        let srec = SnapshotRecord { name: snapshot.into(), uuid: Uuid::new_v4(), created: now(), incomplete: false };
        self.state.update_pool(pool, |p| {
            let r = p
                .volumes
                .get_mut(&rec.key())
                .ok_or_else(|| StateError::VolumeNotFound { pool: pool.into(), volume: rec.key() })?;
            if r.snapshot(snapshot).is_some() {
                return Err(StateError::SnapshotExists { volume: rec.key(), snapshot: snapshot.into() });
            }
            r.snapshots.push(srec.clone());
            Ok(())
        })?;
        let result = async { self.driver(pool).await?.create_snapshot(&vol, srec.uuid).await }.await;
        if let Err(e) = result {
            // Kept, incomplete, when undoing failed and parts may be left.
            let left = matches!(e, Error::RevertFailed { .. });
            self.mark(pool, &rec.key(), Some(srec.uuid), !left)?;
            return Err(e);
        }
        Ok(SnapshotView {
            name: srec.name,
            uuid: srec.uuid,
            array_name: array_name(self.state.pool(pool)?.driver, &vol.snapshot(srec.uuid)),
            created: srec.created,
            incomplete: false,
        })
    }

    /// Restores a volume from its snapshot.
    pub async fn volume_restore(&self, pool: &str, vtype: VolumeType, name: &str, snapshot: &str) -> Result<()> {
        let (_, vol) = self.resolve_whole(pool, vtype, name)?;
        let (_, snap) = self.resolve_whole(pool, vtype, &format!("{name}/{snapshot}"))?;
        self.driver(pool).await?.restore_volume(&vol, &snap).await
    }

    /// Copies `source` (or `source/snap`) to a new volume `target`, with the
    /// source's snapshots unless `volume_only`.
    #[allow(clippy::too_many_arguments)]
    pub async fn volume_copy(
        &self,
        pool: &str,
        source_type: VolumeType,
        source: &str,
        target_type: VolumeType,
        target: &str,
        volume_only: bool,
        progress: Option<Arc<dyn Progress>>,
    ) -> Result<CopyReport> {
        state::check_name(target)?;
        let (src_rec, src_vol) = self.resolve_whole(pool, source_type, source)?;
        if (source_type == VolumeType::VirtualMachine) != (target_type == VolumeType::VirtualMachine) {
            return Err(Error::Invalid("a virtual-machine volume copies only to a virtual-machine volume".into()));
        }
        let with_snaps = !volume_only && !src_vol.snapshot;
        let target_snaps: Vec<SnapshotRecord> = if with_snaps {
            src_rec
                .snapshots
                .iter()
                .map(|s| SnapshotRecord {
                    name: s.name.clone(),
                    uuid: Uuid::new_v4(),
                    created: now(),
                    incomplete: false,
                })
                .collect()
        } else {
            Vec::new()
        };
        let rec = VolumeRecord {
            name: target.into(),
            vtype: target_type,
            content: src_rec.content,
            uuid: Uuid::new_v4(),
            size: src_rec.size,
            thick: src_rec.thick,
            created: now(),
            snapshots: target_snaps.clone(),
            incomplete: false,
        };
        let tvol = record_volume(&rec);
        let req = CopyRequest {
            source: src_vol,
            source_snapshots: if with_snaps {
                src_rec.snapshots.iter().map(|s| src_vol.snapshot(s.uuid)).collect()
            } else {
                Vec::new()
            },
            target: tvol,
            target_snapshots: target_snaps.iter().map(|s| tvol.snapshot(s.uuid)).collect(),
            size: None,
            thick: src_rec.thick,
        };
        self.insert_record(pool, &rec)?;
        let result = async { self.driver(pool).await?.copy_volume(&req, progress).await }.await;
        if let Err(e) = &result {
            self.forget_failed(pool, &rec.key(), e)?;
        }
        result
    }

    /// Attaches a volume or snapshot to this host; returns the device path.
    pub async fn volume_attach(&self, pool: &str, vtype: VolumeType, name: &str) -> Result<Option<PathBuf>> {
        let (_, vol) = self.resolve_whole(pool, vtype, name)?;
        let att = self.driver(pool).await?.attach_volume(&vol).await?;
        Ok(att.path())
    }

    /// Detaches a volume or snapshot from this host.
    pub async fn volume_detach(&self, pool: &str, vtype: VolumeType, name: &str) -> Result<()> {
        let (_, vol) = self.resolve(pool, vtype, name)?;
        self.driver(pool).await?.detach_volume(&vol).await
    }

    /// The pool's volumes with their array state.
    pub async fn volume_list(&self, pool: &str) -> Result<Vec<VolumeView>> {
        let p = self.state.pool(pool)?;
        let driver = self.driver_for(&p).await?;
        let on_array: BTreeMap<String, VolumeInfo> =
            driver.list_volumes().await?.into_iter().map(|v| (v.name.clone(), v)).collect();
        Ok(p.volumes
            .values()
            .map(|r| {
                let info = on_array.get(&driver.array_name(&record_volume(r))).cloned();
                self.volume_view(p.driver, r, info, None)
            })
            .collect())
    }

    /// One volume with its array state and device.
    pub async fn volume_show(&self, pool: &str, vtype: VolumeType, name: &str) -> Result<VolumeView> {
        let (rec, vol) = self.resolve(pool, vtype, name)?;
        let driver = self.driver(pool).await?;
        let info = driver.volume_info(&vol).await?;
        let device = match &info {
            Some(i) if !i.mapped_hosts.is_empty() => driver.device_path(&vol).await.ok().flatten(),
            _ => None,
        };
        let mut view = self.volume_view(driver.kind(), &rec, info, device);
        if vol.snapshot {
            view.array_name = driver.array_name(&vol);
        }
        Ok(view)
    }
}
