//! Local state: pools, volume UUIDs and the server UUID.
//!
//! Everything lives in one directory (default `$XDG_STATE_HOME/pflex`, else
//! `~/.local/state/pflex`): `server.json` and `pools/<name>.json`. Every file
//! is written atomically: a temporary file in the same directory is written
//! and fsynced, renamed over the old one, and the directory is fsynced. A
//! crash leaves either the old or the new file, never a torn one. A write is
//! acknowledged only after the directory fsync, so it is durable then.
//!
//! Mutating commands hold an exclusive `flock` on `lock` so that concurrent
//! `pflex` invocations do not lose each other's updates. Files are created
//! with mode 0600 because pool files hold the gateway password.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::array::{ArrayKind, PoolDiscovery};
use crate::naming::{ContentType, VolumeType};

/// The state format version written by this build.
pub const FORMAT_VERSION: u32 = 1;

/// A local state failure.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// File system error.
    #[error("local state {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file does not parse.
    #[error("local state {} is corrupt: {source}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A pool of that name does not exist.
    #[error("pool {0:?} not found")]
    PoolNotFound(String),
    /// A pool of that name already exists.
    #[error("pool {0:?} already exists")]
    PoolExists(String),
    /// A name is not acceptable.
    #[error("invalid name {0:?}: use letters, digits, '-', '_' and '.', not starting with '.' or '-'")]
    BadName(String),
    /// A volume of that name does not exist in the pool.
    #[error("volume {volume:?} not found in pool {pool:?}")]
    VolumeNotFound {
        /// The pool.
        pool: String,
        /// The volume (`type/name`).
        volume: String,
    },
    /// A volume of that name already exists in the pool.
    #[error("volume {volume:?} already exists in pool {pool:?}")]
    VolumeExists {
        /// The pool.
        pool: String,
        /// The volume (`type/name`).
        volume: String,
    },
    /// A snapshot of that name does not exist.
    #[error("snapshot {snapshot:?} of volume {volume:?} not found")]
    SnapshotNotFound {
        /// The volume.
        volume: String,
        /// The snapshot.
        snapshot: String,
    },
    /// A snapshot of that name already exists.
    #[error("snapshot {snapshot:?} of volume {volume:?} already exists")]
    SnapshotExists {
        /// The volume.
        volume: String,
        /// The snapshot.
        snapshot: String,
    },
    /// The pool still has volumes.
    #[error("pool {pool:?} still has {count} volume(s); delete them first")]
    PoolInUse {
        /// The pool.
        pool: String,
        /// How many volumes.
        count: usize,
    },
    /// A file was written by a newer pflex.
    #[error("local state {} has format version {found}, newer than this pflex ({FORMAT_VERSION})", path.display())]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
}

/// `server.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerState {
    /// Format version.
    pub version: u32,
    /// The server UUID: the host NQN and nvme-cli `--hostid` derive from it.
    pub server_uuid: Uuid,
}

/// A snapshot known locally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    /// The user's name for it.
    pub name: String,
    /// Its own UUID (names the array volume).
    pub uuid: Uuid,
    /// Creation time, epoch seconds.
    pub created: u64,
    /// Parts of it may be missing on the array (see [`VolumeRecord::incomplete`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

/// A volume known locally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    /// The user's name for it.
    pub name: String,
    /// Its type.
    pub vtype: VolumeType,
    /// Its content.
    pub content: ContentType,
    /// Its UUID (names the array volume).
    pub uuid: Uuid,
    /// Requested size in bytes, before rounding.
    pub size: u64,
    /// Thick provisioning.
    #[serde(default)]
    pub thick: bool,
    /// Creation time, epoch seconds.
    pub created: u64,
    /// Snapshots, oldest first.
    #[serde(default)]
    pub snapshots: Vec<SnapshotRecord>,
    /// Parts of it may be missing on the array, others left: a delete was cut
    /// short, or a failed creation could not undo everything. Only delete
    /// (which finishes the job) and detach take it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

impl VolumeRecord {
    /// The key in [`PoolState::volumes`]: `type/name`.
    pub fn key(&self) -> String {
        volume_key(self.vtype, &self.name)
    }

    /// A snapshot by name.
    pub fn snapshot(&self, name: &str) -> Option<&SnapshotRecord> {
        self.snapshots.iter().find(|s| s.name == name)
    }
}

/// The key of a volume: `type/name`.
pub fn volume_key(vtype: VolumeType, name: &str) -> String {
    format!("{vtype}/{name}")
}

/// `pools/<name>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolState {
    /// Format version.
    pub version: u32,
    /// The pool's local name.
    pub name: String,
    /// Its driver; pools saved before there was a choice are PowerFlex pools.
    #[serde(default)]
    pub driver: ArrayKind,
    /// Its configuration keys, password included.
    pub config: BTreeMap<String, String>,
    /// What discovery found at creation or the last `set`.
    #[serde(default)]
    pub discovery: Option<PoolDiscovery>,
    /// Its volumes by `type/name`.
    #[serde(default)]
    pub volumes: BTreeMap<String, VolumeRecord>,
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// An exclusive lock on the state directory, released on drop.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// Opens (creating) `path` and takes an exclusive `flock` on it, blocking until
/// it is free. The lock is held until the returned file is closed. Separate
/// opens conflict even within one process.
pub(crate) fn flock_exclusive(path: &Path) -> Result<File, StateError> {
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(io_err(path))?;
    // SAFETY: flock on a descriptor we own; the lock lives as long as the file.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    if r != 0 {
        return Err(StateError::Io { path: path.to_path_buf(), source: io::Error::last_os_error() });
    }
    Ok(file)
}

/// Checks a pool, volume or snapshot name.
pub fn check_name(name: &str) -> Result<(), StateError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StateError::BadName(name.to_string()))
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.to_path_buf(), source }
}

impl StateDir {
    /// The default directory: `$XDG_STATE_HOME/pflex`, else `~/.local/state/pflex`.
    pub fn default_path() -> PathBuf {
        if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(x).join("pflex");
        }
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
        home.join(".local/state/pflex")
    }

    /// Opens (creating) a state directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<StateDir, StateError> {
        let root = root.into();
        fs::create_dir_all(root.join("pools")).map_err(io_err(&root))?;
        Ok(StateDir { root })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the exclusive lock (blocks until it is free).
    pub fn lock(&self) -> Result<StateLock, StateError> {
        Ok(StateLock { _file: flock_exclusive(&self.root.join("lock"))? })
    }

    fn read<T: DeserializeOwned>(&self, path: &Path) -> Result<Option<T>, StateError> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(path)(e)),
        };
        let version: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|source| StateError::Corrupt { path: path.to_path_buf(), source })?;
        if let Some(v) = version.get("version").and_then(|v| v.as_u64()) {
            if v > u64::from(FORMAT_VERSION) {
                return Err(StateError::TooNew { path: path.to_path_buf(), found: v as u32 });
            }
        }
        serde_json::from_value(version)
            .map(Some)
            .map_err(|source| StateError::Corrupt { path: path.to_path_buf(), source })
    }

    /// Writes `value` to `path` atomically and durably.
    pub fn write_atomic<T: Serialize>(&self, path: &Path, value: &T) -> Result<(), StateError> {
        let dir = path.parent().unwrap_or(&self.root);
        let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir).map_err(io_err(dir))?;
        let mut bytes = serde_json::to_vec_pretty(value).expect("state serializes");
        bytes.push(b'\n');
        tmp.write_all(&bytes).map_err(io_err(tmp.path()))?;
        tmp.as_file().sync_all().map_err(io_err(path))?;
        tmp.persist(path).map_err(|e| io_err(path)(e.error))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
        Ok(())
    }

    /// The server UUID, created and saved on first use.
    pub fn server_uuid(&self) -> Result<Uuid, StateError> {
        let path = self.root.join("server.json");
        if let Some(s) = self.read::<ServerState>(&path)? {
            return Ok(s.server_uuid);
        }
        let _lock = self.lock()?;
        // Another process may have created it while we waited for the lock.
        if let Some(s) = self.read::<ServerState>(&path)? {
            return Ok(s.server_uuid);
        }
        let state = ServerState { version: FORMAT_VERSION, server_uuid: Uuid::new_v4() };
        self.write_atomic(&path, &state)?;
        Ok(state.server_uuid)
    }

    fn pool_path(&self, name: &str) -> PathBuf {
        self.root.join("pools").join(format!("{name}.json"))
    }

    /// The names of all pools.
    pub fn pool_names(&self) -> Result<Vec<String>, StateError> {
        let dir = self.root.join("pools");
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(n) = name.strip_suffix(".json") {
                if !n.starts_with('.') {
                    names.push(n.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// A pool's state.
    pub fn pool(&self, name: &str) -> Result<PoolState, StateError> {
        check_name(name)?;
        self.read(&self.pool_path(name))?.ok_or_else(|| StateError::PoolNotFound(name.to_string()))
    }

    /// Whether a pool exists.
    pub fn has_pool(&self, name: &str) -> bool {
        self.pool_path(name).exists()
    }

    /// Saves a pool's state.
    pub fn save_pool(&self, pool: &PoolState) -> Result<(), StateError> {
        check_name(&pool.name)?;
        self.write_atomic(&self.pool_path(&pool.name), pool)
    }

    /// Removes a pool's state.
    pub fn remove_pool(&self, name: &str) -> Result<(), StateError> {
        check_name(name)?;
        let path = self.pool_path(name);
        fs::remove_file(&path).map_err(io_err(&path))?;
        File::open(self.root.join("pools")).and_then(|d| d.sync_all()).map_err(io_err(&self.root))
    }

    /// Loads a pool, applies `f` and saves it, under the lock.
    pub fn update_pool<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut PoolState) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let _lock = self.lock()?;
        let mut pool = self.pool(name)?;
        let out = f(&mut pool)?;
        self.save_pool(&pool)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn pool(name: &str) -> PoolState {
        PoolState {
            version: FORMAT_VERSION,
            name: name.into(),
            driver: ArrayKind::PowerFlex,
            config: BTreeMap::from([("powerflex.user.password".to_string(), "pw".to_string())]),
            discovery: None,
            volumes: BTreeMap::new(),
        }
    }

    #[test]
    fn server_uuid_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::open(dir.path()).unwrap();
        let a = s.server_uuid().unwrap();
        let b = StateDir::open(dir.path()).unwrap().server_uuid().unwrap();
        assert_eq!(a, b);
        let mode = fs::metadata(dir.path().join("server.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "private file");
    }

    #[test]
    fn pools_round_trip_and_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::open(dir.path()).unwrap();
        s.save_pool(&pool("p1")).unwrap();
        s.save_pool(&pool("p2")).unwrap();
        assert_eq!(s.pool_names().unwrap(), vec!["p1", "p2"]);
        assert_eq!(s.pool("p1").unwrap(), pool("p1"));
        let mode = fs::metadata(dir.path().join("pools/p1.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0);
        assert!(matches!(s.pool("nope"), Err(StateError::PoolNotFound(_))));
        assert!(matches!(s.pool("../etc"), Err(StateError::BadName(_))));
        s.remove_pool("p1").unwrap();
        assert_eq!(s.pool_names().unwrap(), vec!["p2"]);
    }

    #[test]
    fn an_interrupted_write_leaves_the_old_file_intact() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::open(dir.path()).unwrap();
        let mut p = pool("p");
        s.save_pool(&p).unwrap();
        // A crash after the temporary file was written but before the rename:
        // a stray temporary file, the real file untouched.
        fs::write(dir.path().join("pools/.tmp-crash"), b"{\"version\":1,\"na").unwrap();
        assert_eq!(s.pool("p").unwrap(), p);
        assert_eq!(s.pool_names().unwrap(), vec!["p"], "temporary files are not pools");
        // The next write replaces the file whole.
        p.config.insert("volume.size".into(), "16GiB".into());
        s.save_pool(&p).unwrap();
        assert_eq!(s.pool("p").unwrap(), p);
        // No temporary file of ours is left behind.
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("pools"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".tmp-") && n != ".tmp-crash")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn pools_saved_before_drivers_existed_are_powerflex_pools() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::open(dir.path()).unwrap();
        fs::write(dir.path().join("pools/old.json"), br#"{"version":1,"name":"old","config":{}}"#).unwrap();
        assert_eq!(s.pool("old").unwrap().driver, ArrayKind::PowerFlex);
        let mut p = pool("new");
        p.driver = ArrayKind::Alletra;
        s.save_pool(&p).unwrap();
        assert_eq!(s.pool("new").unwrap(), p);
    }

    #[test]
    fn corrupt_and_newer_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::open(dir.path()).unwrap();
        fs::write(dir.path().join("pools/bad.json"), b"{not json").unwrap();
        assert!(matches!(s.pool("bad"), Err(StateError::Corrupt { .. })));
        fs::write(dir.path().join("pools/new.json"), b"{\"version\":99}").unwrap();
        assert!(matches!(s.pool("new"), Err(StateError::TooNew { found: 99, .. })));
    }

    #[test]
    fn concurrent_updates_are_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::open(dir.path()).unwrap();
        s.save_pool(&pool("p")).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for j in 0..10 {
                        s.update_pool("p", |p| {
                            p.config.insert(format!("k{i}-{j}"), "v".into());
                            Ok(())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(s.pool("p").unwrap().config.len(), 81);
    }

    #[test]
    fn names_are_checked() {
        for ok in ["p", "pool-1", "a.b_c"] {
            check_name(ok).unwrap();
        }
        for bad in ["", ".hidden", "-x", "a/b", "a b", "ü"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
