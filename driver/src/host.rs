//! Host identity: the server UUID, the host NQN and the mapping lock.
//!
//! The server UUID is created once and kept in local state (see
//! [`crate::state`]); the host NQN is `nqn.2014-08.org.nvmexpress:uuid:<uuid>`
//! and the same UUID is the nvme-cli `--hostid`. Each array's host entity
//! (`powerflex::hosts`, the Alletra driver's `<hostname>-nvme-tcp` or
//! `<hostname>-iscsi`) is created at the first mapping and removed with the last one.
//!
//! That entity and the NVMe session are shared by everything that maps volumes
//! to this host, so changes to this host's mappings are serialised with
//! [`lock_mappings`]: per host NQN within the process, and with a file lock in
//! the state directory across processes (`pflex` invocations sharing it).
//! [`undo_new_session`] is the undo both drivers' attaches register for the
//! session they may make.

use std::collections::HashMap;
use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use uuid::Uuid;

use crate::connector::{Connector, Target};
use crate::error::Error;
use crate::revert::Reverter;
use crate::state::{self, StateError};

/// The fixed prefix of the host NQN.
pub const NQN_PREFIX: &str = "nqn.2014-08.org.nvmexpress:uuid:";

/// The longest host name the gateway accepts.
const MAX_HOST_NAME: usize = 31;

/// Who this host is to the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIdentity {
    /// The server UUID, kept in local state.
    pub server_uuid: Uuid,
    /// The host entity's name (the machine's host name, at most 31 characters).
    pub hostname: String,
}

impl HostIdentity {
    /// An identity with the machine's host name.
    pub fn new(server_uuid: Uuid) -> HostIdentity {
        HostIdentity { server_uuid, hostname: local_hostname() }
    }

    /// The host NQN.
    pub fn nqn(&self) -> String {
        format!("{NQN_PREFIX}{}", self.server_uuid)
    }

    /// The host ID given to nvme-cli (`--hostid`).
    pub fn host_id(&self) -> String {
        self.server_uuid.to_string()
    }
}

/// Where open-iscsi keeps this host's initiator name (`InitiatorName=<iqn>`).
pub const INITIATOR_NAME_FILE: &str = "/etc/iscsi/initiatorname.iscsi";

/// This host's iSCSI initiator name: open-iscsi's when it is installed, so
/// that `iscsiadm` logs in with the IQN the array's host entity carries;
/// otherwise one derived from the server UUID (for connectors without a
/// kernel initiator, such as `sim`).
pub fn initiator_iqn(identity: &HostIdentity) -> String {
    std::fs::read_to_string(INITIATOR_NAME_FILE)
        .ok()
        .and_then(|text| parse_initiator_name(&text))
        .unwrap_or_else(|| format!("iqn.2004-10.com.pflex:{}", identity.server_uuid.simple()))
}

/// The IQN in an `initiatorname.iscsi` file (comments and blank lines skipped).
pub fn parse_initiator_name(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix("InitiatorName="))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The machine's host name, cut to what the gateway accepts.
pub fn local_hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "pflex-host".to_string());
    name.chars().take(MAX_HOST_NAME).collect()
}

/// Looks at what the host offers (kernel modules, clients); the root is configurable for tests.
#[derive(Debug, Clone)]
pub struct HostProbe {
    root: PathBuf,
}

impl Default for HostProbe {
    fn default() -> Self {
        HostProbe { root: PathBuf::from("/") }
    }
}

/// The kernel modules NVMe/TCP needs.
pub const NVME_MODULES: [&str; 2] = ["nvme_fabrics", "nvme_tcp"];

impl HostProbe {
    /// A probe that looks under `root` instead of `/`.
    pub fn with_root(root: impl Into<PathBuf>) -> HostProbe {
        HostProbe { root: root.into() }
    }

    /// The NVMe/TCP modules that are not loaded (empty when all are).
    pub fn missing_nvme_modules(&self) -> Vec<&'static str> {
        NVME_MODULES.into_iter().filter(|m| !self.root.join("sys/module").join(m).exists()).collect()
    }

    /// Whether the ScaleIO data client is installed.
    pub fn has_sdc(&self) -> bool {
        self.root.join("dev/scini").exists() || self.root.join("opt/emc/scaleio/sdc").exists()
    }
}

/// Serialises changes to one host's mappings; released on drop.
#[derive(Debug)]
pub struct MappingLock {
    // Field order is drop order: the file lock goes before the in-process one.
    _file: Option<File>,
    _local: tokio::sync::OwnedMutexGuard<()>,
}

/// One async mutex per host NQN, for the whole process.
static LOCAL_LOCKS: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = LazyLock::new(Default::default);

/// The file [`lock_mappings`] locks in `dir` for this identity.
pub fn mapping_lock_path(dir: &Path, identity: &HostIdentity) -> PathBuf {
    dir.join(format!("host-{}.lock", identity.host_id()))
}

/// Waits until no other task of this process, and no other process using the
/// same `dir` (the state directory, when there is one), is changing this
/// host's mappings, and holds that until the guard is dropped.
pub async fn lock_mappings(identity: &HostIdentity, dir: Option<&Path>) -> Result<MappingLock, StateError> {
    let local = {
        let mut locks = LOCAL_LOCKS.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(identity.nqn()).or_default().clone()
    };
    let local = local.lock_owned().await;
    let file = match dir {
        None => None,
        Some(dir) => {
            let path = mapping_lock_path(dir, identity);
            let file = tokio::task::spawn_blocking(move || state::flock_exclusive(&path))
                .await
                .map_err(|e| StateError::Io { path: dir.to_path_buf(), source: std::io::Error::other(e) })??;
            Some(file)
        }
    };
    Ok(MappingLock { _file: file, _local: local })
}

/// Registers the undo of the session an attach may make; the attach sets the
/// flag returned when the connector says it made one. Reverting, the session
/// is torn down only then, and only when nothing of this host stays mapped
/// (`still_mapped` asks the array). Registered before the mapping, so that,
/// reverting newest first, it runs after the unmap.
pub fn undo_new_session<F, Fut>(
    r: &mut Reverter,
    connector: Arc<dyn Connector>,
    target: Target,
    still_mapped: F,
) -> Arc<AtomicBool>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<bool, Error>> + Send + 'static,
{
    let made = Arc::new(AtomicBool::new(false));
    let (flag, still_mapped) = (made.clone(), Arc::new(still_mapped));
    r.add("disconnect the session", move || {
        let (conn, t, flag, still_mapped) = (connector.clone(), target.clone(), flag.clone(), still_mapped.clone());
        async move {
            if flag.load(Ordering::SeqCst) && !still_mapped().await? {
                conn.disconnect(&t).await?;
            }
            Ok(())
        }
    });
    made
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nqn_uses_the_server_uuid() {
        let u = Uuid::parse_str("c470396a-2a3b-48ad-9c22-d3811fe1036d").unwrap();
        let id = HostIdentity { server_uuid: u, hostname: "h".into() };
        assert_eq!(id.nqn(), "nqn.2014-08.org.nvmexpress:uuid:c470396a-2a3b-48ad-9c22-d3811fe1036d");
        assert_eq!(id.host_id(), "c470396a-2a3b-48ad-9c22-d3811fe1036d");
        assert!(local_hostname().len() <= 31);
    }

    #[test]
    fn initiator_names_are_read_from_open_iscsis_file() {
        let text = "## DO NOT EDIT\n#InitiatorName=iqn.old\nInitiatorName=iqn.1993-08.org.debian:01:abc\n";
        assert_eq!(parse_initiator_name(text).as_deref(), Some("iqn.1993-08.org.debian:01:abc"));
        assert_eq!(parse_initiator_name("# nothing\n"), None);
        assert_eq!(parse_initiator_name("InitiatorName=\n"), None);
    }

    fn flock_free(path: &Path) -> bool {
        use std::os::unix::io::AsRawFd;
        let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        // SAFETY: a non-blocking flock on a descriptor owned here; closing it releases the lock.
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    }

    #[tokio::test]
    async fn mapping_locks_are_per_host_in_the_process_and_in_the_state_directory() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (HostIdentity::new(Uuid::new_v4()), HostIdentity::new(Uuid::new_v4()));
        let held = lock_mappings(&a, Some(dir.path())).await.unwrap();
        // Another process (here: another open of the file) cannot take it.
        let path = mapping_lock_path(dir.path(), &a);
        assert!(!flock_free(&path));
        // The same host waits, even without a state directory; another host does not.
        let same = tokio::time::timeout(std::time::Duration::from_millis(100), lock_mappings(&a, None)).await;
        assert!(same.is_err(), "a second lock on the same host was granted");
        drop(lock_mappings(&b, Some(dir.path())).await.unwrap());
        drop(held);
        assert!(flock_free(&path));
        drop(lock_mappings(&a, None).await.unwrap());
    }
}
