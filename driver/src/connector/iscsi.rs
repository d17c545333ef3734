//! The `iscsi` connector: iSCSI through open-iscsi's `iscsiadm`, for Alletra
//! pools in `iscsi` mode.
//!
//! After a volume is exported: `iscsiadm --mode discovery --type sendtargets
//! --portal <ip>:3260 --op nonpersistent` against each target address until
//! one lists targets. Each address is logged in to the target discovery lists
//! at that address (arrays such as 3PAR and Alletra give every port its own
//! IQN, and a login to one port's IQN at another port's address is refused),
//! else to the first record's; for every address not logged in yet `--mode
//! node --targetname <iqn> --portal <ip>:3260 --op new` and `--login`; an existing session is rescanned (`--mode session
//! --rescan`) so a LUN exported since shows up. The device is the
//! `/dev/disk/by-id/scsi-*` entry ending in the volume's WWN (partitions
//! excluded), as LXD looks for it; where no udev runs, the `/sys/block/sd*`
//! whose `device/wwid` ends in it. Before the export goes the device is
//! deleted (`/sys/block/sdX/device/delete`), since the kernel keeps a SCSI
//! disk whose LUN vanished; with the host's last export, `--logout` and
//! `--op delete` of the node records.
//!
//! `iscsiadm` exit status 15 means the session exists already and 21 that
//! there is none (open-iscsi's ISCSI_ERR_SESS_EXISTS and
//! ISCSI_ERR_NO_OBJS_FOUND); both are what the connector wanted.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::command::{CommandOutput, CommandRunner, SystemRunner};
use super::nvme::POLL_INTERVAL;

/// How often a wait for a volume's disk rescans the sessions.
const RESCAN_INTERVAL: Duration = Duration::from_secs(2);
use super::{BlockDevice, Connector, ConnectorError, ConnectorKind, FileDevice, Target, VolumeRef};

/// The iSCSI port.
pub const ISCSI_PORT: u16 = 3260;
/// The kernel module the connector needs.
pub const ISCSI_MODULE: &str = "iscsi_tcp";

/// `iscsiadm`: a session exists already.
const EXIT_SESSION_EXISTS: &str = "exit status: 15";
/// `iscsiadm`: no such session or record.
const EXIT_NO_OBJECTS: &str = "exit status: 21";

/// The `(portal, target IQN)` records of `sendtargets` output
/// (`10.0.0.1:3260,1 iqn....`), the portal without its group tag.
pub fn parse_sendtargets(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let (portal, iqn) = l.trim().split_once(' ')?;
            let portal = portal.split(',').next()?;
            (portal.contains(':') && iqn.starts_with("iqn.")).then(|| (portal.to_string(), iqn.trim().to_string()))
        })
        .collect()
}

/// The portals (`ip:port`) logged in to `iqn`, from `iscsiadm --mode session`
/// (`tcp: [1] 10.0.0.1:3260,1 iqn.... (non-flash)`).
pub fn parse_sessions(stdout: &str, iqn: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let (_, _, portal, target) = (words.next()?, words.next()?, words.next()?, words.next()?);
            (target == iqn).then(|| portal.split(',').next().unwrap_or(portal).to_string())
        })
        .collect()
}

/// The iSCSI connector.
pub struct IscsiConnector {
    runner: Arc<dyn CommandRunner>,
    sys_root: PathBuf,
    dev_root: PathBuf,
    /// The `(portal, IQN)` pairs discovery gave, one per target address.
    logins: Mutex<Vec<(String, String)>>,
}

impl std::fmt::Debug for IscsiConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IscsiConnector").field("sys_root", &self.sys_root).field("dev_root", &self.dev_root).finish()
    }
}

impl Default for IscsiConnector {
    fn default() -> Self {
        IscsiConnector::new()
    }
}

fn portal(addr: &std::net::IpAddr) -> String {
    match addr {
        std::net::IpAddr::V6(a) => format!("[{a}]:{ISCSI_PORT}"),
        a => format!("{a}:{ISCSI_PORT}"),
    }
}

impl IscsiConnector {
    /// The connector for this host: real iscsiadm, `/sys` and `/dev`.
    pub fn new() -> IscsiConnector {
        IscsiConnector::with_parts(Arc::new(SystemRunner), "/sys", "/dev")
    }

    /// A connector with its commands and roots replaced (for tests).
    pub fn with_parts(
        runner: Arc<dyn CommandRunner>,
        sys_root: impl Into<PathBuf>,
        dev_root: impl Into<PathBuf>,
    ) -> IscsiConnector {
        IscsiConnector { runner, sys_root: sys_root.into(), dev_root: dev_root.into(), logins: Mutex::new(Vec::new()) }
    }

    async fn iscsiadm(&self, args: &[&str]) -> Result<CommandOutput, ConnectorError> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let command = format!("iscsiadm {}", args.join(" "));
        tracing::debug!(%command, "running");
        self.runner.run("iscsiadm", &args).await.map_err(|source| ConnectorError::Spawn { command, source })
    }

    /// Runs iscsiadm; a failure is an error unless its status is one of `fine`.
    async fn iscsiadm_ok(&self, args: &[&str], fine: &[&str]) -> Result<CommandOutput, ConnectorError> {
        let out = self.iscsiadm(args).await?;
        if out.success || fine.contains(&out.status.as_str()) {
            return Ok(out);
        }
        Err(ConnectorError::Command {
            command: format!("iscsiadm {}", args.join(" ")),
            status: out.status,
            stderr: out.stderr.trim().to_string(),
        })
    }

    /// Sendtargets discovery against each address until one lists a target; answers the
    /// `(portal, IQN)` to log in to for each address: the target listed at that address, else
    /// the first record's.
    pub async fn discover(&self, target: &Target) -> Result<Vec<(String, String)>, ConnectorError> {
        for addr in &target.addresses {
            let p = portal(addr);
            let out = self
                .iscsiadm(&["--mode", "discovery", "--type", "sendtargets", "--portal", &p, "--op", "nonpersistent"])
                .await?;
            if !out.success {
                tracing::warn!(portal = %p, stderr = %out.stderr.trim(), "iSCSI discovery failed; trying the next address");
                continue;
            }
            let records = parse_sendtargets(&out.stdout);
            let Some((_, first)) = records.first() else { continue };
            let iqn_at = |p: &str| records.iter().find(|(rp, _)| rp == p).map_or(first, |(_, iqn)| iqn).clone();
            return Ok(target.addresses.iter().map(|a| (portal(a), iqn_at(&portal(a)))).collect());
        }
        Err(ConnectorError::NoDiscoveryRecord { addresses: join_addrs(target) })
    }

    /// `(portal, IQN)` pairs with a session now, among `logins`.
    async fn sessions(&self, logins: &[(String, String)]) -> Result<Vec<(String, String)>, ConnectorError> {
        let out = self.iscsiadm_ok(&["--mode", "session"], &[EXIT_NO_OBJECTS]).await?;
        Ok(logins.iter().filter(|(p, iqn)| parse_sessions(&out.stdout, iqn).contains(p)).cloned().collect())
    }

    async fn known_logins(&self, target: &Target) -> Vec<(String, String)> {
        let known = self.logins.lock().await.clone();
        if !known.is_empty() {
            return known;
        }
        self.discover(target).await.unwrap_or_default()
    }

    /// The device of `volume`, if present: by-id first, then sysfs `device/wwid`.
    pub fn lookup_device(&self, volume: &VolumeRef) -> Option<PathBuf> {
        let wwn = volume.wwn.as_ref()?.to_ascii_lowercase();
        let by_id = self.dev_root.join("disk/by-id");
        if let Ok(entries) = std::fs::read_dir(&by_id) {
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("scsi-") && !n.contains("-part") && n.to_ascii_lowercase().ends_with(&wwn))
                .collect();
            names.sort();
            if let Some(name) = names.first() {
                let link = by_id.join(name);
                return Some(std::fs::canonicalize(&link).unwrap_or(link));
            }
        }
        self.disks(&wwn).first().map(|n| self.dev_root.join(n))
    }

    /// The volume's disks: those with its WWN in sysfs and the one its by-id link names.
    fn volume_disks(&self, volume: &VolumeRef) -> BTreeSet<String> {
        let Some(wwn) = volume.wwn.as_ref().map(|w| w.to_ascii_lowercase()) else { return BTreeSet::new() };
        let mut names: BTreeSet<String> = self.disks(&wwn).into_iter().collect();
        if let Some(name) = self.lookup_device(volume).and_then(|d| Some(d.file_name()?.to_string_lossy().into_owned()))
        {
            names.insert(name);
        }
        names
    }

    /// The SCSI disks (`sdX`) whose `device/wwid` ends in `wwn`, sorted: one per session
    /// when the target is logged in through several portals.
    fn disks(&self, wwn: &str) -> Vec<String> {
        let Ok(blocks) = std::fs::read_dir(self.sys_root.join("block")) else { return Vec::new() };
        let mut found: Vec<String> = blocks
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("sd") && n[2..].bytes().all(|b| b.is_ascii_lowercase()))
            .filter(|n| {
                std::fs::read_to_string(self.sys_root.join("block").join(n).join("device/wwid"))
                    .map(|w| w.trim().to_ascii_lowercase().ends_with(wwn))
                    .unwrap_or(false)
            })
            .collect();
        found.sort();
        found
    }
}

/// Removes a SCSI disk from the kernel (`/sys/block/sdX/device/delete`).
fn delete_disk(sys_root: &std::path::Path, name: &str) -> Result<(), ConnectorError> {
    let delete = sys_root.join("block").join(name).join("device/delete");
    std::fs::write(&delete, b"1")
        .map_err(|source| ConnectorError::Io { context: format!("deleting SCSI device {name}"), source })
}

fn join_addrs(target: &Target) -> String {
    target.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
}

#[async_trait]
impl Connector for IscsiConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Other("iscsi")
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        if !self.sys_root.join("module").join(ISCSI_MODULE).exists() {
            return Err(ConnectorError::Unavailable {
                connector: "iscsi",
                reason: format!("the {ISCSI_MODULE} kernel module is not loaded (try: modprobe {ISCSI_MODULE})"),
            });
        }
        let out = self.iscsiadm(&["--version"]).await?;
        if !out.success || !out.stdout.starts_with("iscsiadm version ") {
            return Err(ConnectorError::Command {
                command: "iscsiadm --version".into(),
                status: out.status,
                stderr: format!("unexpected output: {}{}", out.stdout.trim(), out.stderr.trim()),
            });
        }
        Ok(())
    }

    async fn connect(&self, target: &Target) -> Result<bool, ConnectorError> {
        self.check().await?;
        let mut logins = self.logins.lock().await.clone();
        if logins.is_empty() {
            logins = self.discover(target).await?;
            *self.logins.lock().await = logins.clone();
        }
        let logged_in = self.sessions(&logins).await?;
        let had_session = !logged_in.is_empty();
        let mut connected = 0;
        let mut last_error = String::new();
        for (p, iqn) in &logins {
            if logged_in.contains(&(p.clone(), iqn.clone())) {
                connected += 1;
                continue;
            }
            let node = ["--mode", "node", "--targetname", iqn.as_str(), "--portal", p.as_str()];
            let created = self.iscsiadm_ok(&[&node[..], &["--op", "new"]].concat(), &[]).await;
            let login = match created {
                Ok(_) => self.iscsiadm_ok(&[&node[..], &["--login"]].concat(), &[EXIT_SESSION_EXISTS]).await,
                Err(e) => Err(e),
            };
            match login {
                Ok(_) => connected += 1,
                Err(e) => {
                    tracing::warn!(portal = %p, error = %e, "iSCSI login failed");
                    last_error = format!("{p}: {e}");
                }
            }
        }
        if connected == 0 {
            if !had_session {
                let _ = self.disconnect(target).await;
            }
            let iqns: Vec<&str> = logins.iter().map(|(_, iqn)| iqn.as_str()).collect();
            return Err(ConnectorError::ConnectFailed {
                nqn: iqns.join(", "),
                addresses: join_addrs(target),
                last_error,
            });
        }
        if had_session {
            // A LUN exported to an existing session appears only after a rescan.
            self.iscsiadm_ok(&["--mode", "session", "--rescan"], &[]).await?;
        }
        Ok(!had_session)
    }

    async fn open(
        &self,
        _target: &Target,
        volume: &VolumeRef,
        timeout: Duration,
    ) -> Result<Box<dyn BlockDevice>, ConnectorError> {
        if volume.wwn.is_none() {
            return Err(ConnectorError::Other(format!("volume {} has no WWN to find its SCSI device by", volume.name)));
        }
        let start = Instant::now();
        let mut rescanned = start;
        loop {
            if let Some(path) = self.lookup_device(volume) {
                let dev = FileDevice::open(&path)
                    .map_err(|source| ConnectorError::Io { context: format!("opening {}", path.display()), source })?;
                return Ok(Box::new(dev));
            }
            if start.elapsed() >= timeout {
                return Err(ConnectorError::DeviceTimeout { volume_id: volume.id.clone(), waited: start.elapsed() });
            }
            tokio::time::sleep(POLL_INTERVAL.min(timeout)).await;
            if rescanned.elapsed() >= RESCAN_INTERVAL {
                // The rescan at connect finds nothing while a session is still recovering (its
                // host entity was deleted and made again, which drops and restores the ACL), and
                // a disk left at the same LUN keeps the identity of the volume exported there
                // before; a rescan once the session is back reads the LUNs and their WWNs again.
                // Failing (no session yet) only means the next one may find it.
                let _ = self.iscsiadm(&["--mode", "session", "--rescan"]).await;
                rescanned = Instant::now();
            }
        }
    }

    async fn device_path(&self, _target: &Target, volume: &VolumeRef) -> Result<Option<PathBuf>, ConnectorError> {
        Ok(self.lookup_device(volume))
    }

    /// Deletes every SCSI disk of the volume (one per portal logged in), and the by-id
    /// link's disk where udev made one.
    async fn release(&self, _target: &Target, volume: &VolumeRef) -> Result<(), ConnectorError> {
        for name in self.volume_disks(volume) {
            delete_disk(&self.sys_root, &name)?;
        }
        Ok(())
    }

    /// Once the export is gone, any disk with the volume's WWN is stale: a session whose scan
    /// finished after [`Connector::release`] (a second portal's, or a login's asynchronous
    /// first scan) adds one, and the kernel never removes a disk whose LUN vanished. So the
    /// wait deletes what it finds rather than only watching for it to go.
    async fn wait_gone(&self, _target: &Target, volume: &VolumeRef, timeout: Duration) -> Result<(), ConnectorError> {
        let start = Instant::now();
        loop {
            let stale = self.volume_disks(volume);
            if stale.is_empty() {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(ConnectorError::StillPresent { volume_id: volume.id.clone(), waited: start.elapsed() });
            }
            for name in stale {
                tracing::info!(volume = %volume.id, disk = %name, "deleting a disk that appeared after the release");
                match delete_disk(&self.sys_root, &name) {
                    // Gone between the listing and the write.
                    Err(ConnectorError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
                    other => other?,
                }
            }
            tokio::time::sleep(POLL_INTERVAL.min(timeout)).await;
        }
    }

    async fn disconnect(&self, target: &Target) -> Result<(), ConnectorError> {
        let iqns: BTreeSet<String> = self.known_logins(target).await.into_iter().map(|(_, iqn)| iqn).collect();
        for iqn in &iqns {
            let node = ["--mode", "node", "--targetname", iqn.as_str()];
            self.iscsiadm_ok(&[&node[..], &["--logout"]].concat(), &[EXIT_NO_OBJECTS]).await?;
            self.iscsiadm_ok(&[&node[..], &["--op", "delete"]].concat(), &[EXIT_NO_OBJECTS]).await?;
        }
        self.logins.lock().await.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::Mutex as StdMutex;

    const IQN: &str = "iqn.2000-05.com.3pardata:20210002ac01b2c3";

    #[test]
    fn sendtargets_and_sessions_parse() {
        let st = format!("127.0.0.5:3260,1 {IQN}\n127.0.0.6:3260,2 {IQN}\n");
        let records =
            vec![("127.0.0.5:3260".to_string(), IQN.to_string()), ("127.0.0.6:3260".to_string(), IQN.to_string())];
        assert_eq!(parse_sendtargets(&st), records);
        assert!(parse_sendtargets("iscsiadm: No portals found\n").is_empty());
        let sessions =
            format!("tcp: [1] 127.0.0.5:3260,1 {IQN} (non-flash)\ntcp: [2] 10.0.0.9:3260,1 iqn.other (non-flash)\n");
        assert_eq!(parse_sessions(&sessions, IQN), vec!["127.0.0.5:3260"]);
        assert!(parse_sessions("", IQN).is_empty());
    }

    /// Answers iscsiadm like open-iscsi does, recording every call.
    #[derive(Default)]
    struct FakeIscsiadm {
        calls: StdMutex<Vec<String>>,
        /// `(portal, IQN)` of each session.
        logged_in: StdMutex<Vec<(String, String)>>,
        fail_login: bool,
        /// What discovery lists; one record, `127.0.0.5:3260` with `IQN`, when empty.
        records: Vec<(String, String)>,
    }

    fn out(success: bool, status: &str, stdout: String) -> io::Result<CommandOutput> {
        Ok(CommandOutput { success, status: status.into(), stdout, stderr: String::new() })
    }

    #[async_trait]
    impl CommandRunner for FakeIscsiadm {
        async fn run(&self, program: &str, args: &[String]) -> io::Result<CommandOutput> {
            assert_eq!(program, "iscsiadm");
            let line = args.join(" ");
            self.calls.lock().unwrap().push(line.clone());
            let portal = args.iter().position(|a| a == "--portal").map(|i| args[i + 1].clone());
            let iqn = args.iter().position(|a| a == "--targetname").map(|i| args[i + 1].clone());
            match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
                ["--version"] => out(true, "exit status: 0", "iscsiadm version 2.1.9\n".into()),
                ["--mode", "discovery", ..] if self.records.is_empty() => {
                    out(true, "exit status: 0", format!("{}:3260,1 {IQN}\n", "127.0.0.5"))
                }
                ["--mode", "discovery", ..] => {
                    out(true, "exit status: 0", self.records.iter().map(|(p, i)| format!("{p},1 {i}\n")).collect())
                }
                ["--mode", "session"] => {
                    let l = self.logged_in.lock().unwrap();
                    if l.is_empty() {
                        return out(false, EXIT_NO_OBJECTS, String::new());
                    }
                    let text =
                        l.iter().enumerate().map(|(n, (p, i))| format!("tcp: [{n}] {p},1 {i} (non-flash)\n")).collect();
                    out(true, "exit status: 0", text)
                }
                [.., "--login"] if self.fail_login => out(false, "exit status: 8", String::new()),
                [.., "--login"] => {
                    self.logged_in.lock().unwrap().push((portal.unwrap(), iqn.unwrap()));
                    out(true, "exit status: 0", String::new())
                }
                [.., "--logout"] => {
                    let mut l = self.logged_in.lock().unwrap();
                    let before = l.len();
                    l.retain(|(_, i)| Some(i) != iqn.as_ref());
                    let had = l.len() < before;
                    out(had, if had { "exit status: 0" } else { EXIT_NO_OBJECTS }, String::new())
                }
                _ => out(true, "exit status: 0", String::new()),
            }
        }
    }

    fn target() -> Target {
        Target {
            addresses: vec!["127.0.0.5".parse().unwrap()],
            system_id: String::new(),
            system_nqn: None,
            host_nqn: String::new(),
            host_id: String::new(),
        }
    }

    fn connector(dir: &std::path::Path, runner: Arc<FakeIscsiadm>) -> IscsiConnector {
        std::fs::create_dir_all(dir.join("sys/module/iscsi_tcp")).unwrap();
        IscsiConnector::with_parts(runner, dir.join("sys"), dir.join("dev"))
    }

    #[tokio::test]
    async fn connect_discovers_logs_in_once_and_rescans_an_existing_session() {
        let dir = tempfile::tempdir().unwrap();
        let runner = Arc::new(FakeIscsiadm::default());
        let c = connector(dir.path(), runner.clone());
        assert!(c.connect(&target()).await.unwrap(), "a new session");
        assert!(!c.connect(&target()).await.unwrap(), "the session is reused");
        let calls = runner.calls.lock().unwrap().clone();
        let p = "127.0.0.5:3260";
        assert!(calls.contains(&format!("--mode discovery --type sendtargets --portal {p} --op nonpersistent")));
        assert!(calls.contains(&format!("--mode node --targetname {IQN} --portal {p} --op new")));
        assert_eq!(calls.iter().filter(|c| c.ends_with("--login")).count(), 1, "{calls:?}");
        assert!(calls.contains(&"--mode session --rescan".to_string()), "{calls:?}");
        c.disconnect(&target()).await.unwrap();
        assert!(runner.logged_in.lock().unwrap().is_empty());
        // Disconnecting with nothing logged in is fine (status 21).
        c.disconnect(&target()).await.unwrap();
    }

    #[tokio::test]
    async fn each_address_logs_in_to_the_target_discovery_lists_there() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = ("iqn.2000-05.com.3pardata:20310002ac01b2c3", "iqn.2000-05.com.3pardata:21310002ac01b2c3");
        let records =
            vec![("127.0.0.6:3260".to_string(), a.to_string()), ("127.0.0.7:3260".to_string(), b.to_string())];
        let runner = Arc::new(FakeIscsiadm { records: records.clone(), ..Default::default() });
        let c = connector(dir.path(), runner.clone());
        let two = Target { addresses: vec!["127.0.0.7".parse().unwrap(), "127.0.0.6".parse().unwrap()], ..target() };
        assert!(c.connect(&two).await.unwrap());
        let mut sessions = runner.logged_in.lock().unwrap().clone();
        sessions.sort();
        assert_eq!(sessions, records, "one session per port, each to its own target");
        assert!(!c.connect(&two).await.unwrap(), "both sessions are reused");
        c.disconnect(&two).await.unwrap();
        assert!(runner.logged_in.lock().unwrap().is_empty(), "both targets logged out");
    }

    #[tokio::test]
    async fn failed_logins_are_an_error_and_leave_no_session() {
        let dir = tempfile::tempdir().unwrap();
        let runner = Arc::new(FakeIscsiadm { fail_login: true, ..Default::default() });
        let err = connector(dir.path(), runner.clone()).connect(&target()).await.unwrap_err();
        assert!(matches!(err, ConnectorError::ConnectFailed { .. }), "{err}");
        assert!(runner.logged_in.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn devices_are_found_by_wwn_and_deleted_on_release() {
        let dir = tempfile::tempdir().unwrap();
        let c = connector(dir.path(), Arc::new(FakeIscsiadm::default()));
        let wwn = "60002AC000000000000001500000B69E";
        let vol = VolumeRef { id: "u-x".into(), name: "u-x".into(), size: 1 << 28, nguid: None, wwn: Some(wwn.into()) };
        assert_eq!(c.lookup_device(&vol), None);
        let sys = dir.path().join("sys/block");
        for (dev, id) in
            [("sda", "naa.60002ac0000000000000000000000000"), ("sdb", &format!("naa.{}", wwn.to_lowercase()))]
        {
            std::fs::create_dir_all(sys.join(dev).join("device")).unwrap();
            std::fs::write(sys.join(dev).join("device/wwid"), format!("{id}\n")).unwrap();
        }
        assert_eq!(c.lookup_device(&vol), Some(dir.path().join("dev/sdb")));
        // udev's by-id link wins when present.
        let by_id = dir.path().join("dev/disk/by-id");
        std::fs::create_dir_all(&by_id).unwrap();
        std::fs::write(dir.path().join("dev/sdc"), b"").unwrap();
        std::os::unix::fs::symlink(dir.path().join("dev/sdc"), by_id.join(format!("scsi-3{}", wwn.to_lowercase())))
            .unwrap();
        assert_eq!(c.lookup_device(&vol), Some(std::fs::canonicalize(dir.path().join("dev/sdc")).unwrap()));
        std::fs::remove_file(by_id.join(format!("scsi-3{}", wwn.to_lowercase()))).unwrap();
        // A second session's disk of the same LUN goes too.
        std::fs::create_dir_all(sys.join("sdd/device")).unwrap();
        std::fs::write(sys.join("sdd/device/wwid"), format!("naa.{}\n", wwn.to_lowercase())).unwrap();
        c.release(&target(), &vol).await.unwrap();
        assert_eq!(std::fs::read_to_string(sys.join("sdb/device/delete")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(sys.join("sdd/device/delete")).unwrap(), "1");
        assert!(!sys.join("sda/device/delete").exists(), "another volume's disk stays");
        let no_wwn = VolumeRef { wwn: None, ..vol };
        assert!(c.open(&target(), &no_wwn, Duration::from_millis(1)).await.is_err());
    }

    #[tokio::test]
    async fn the_wait_after_the_unexport_deletes_disks_that_appeared_since_the_release() {
        let dir = tempfile::tempdir().unwrap();
        let c = connector(dir.path(), Arc::new(FakeIscsiadm::default()));
        let wwn = "60002AC000000000000001500000B69E";
        let vol = VolumeRef { id: "u-x".into(), name: "u-x".into(), size: 1 << 28, nguid: None, wwn: Some(wwn.into()) };
        let sys = dir.path().join("sys/block");
        let late = sys.join("sde/device");
        std::fs::create_dir_all(&late).unwrap();
        std::fs::write(late.join("wwid"), format!("naa.{}\n", wwn.to_lowercase())).unwrap();
        // The kernel's part: a disk whose delete was written goes.
        let kernel = {
            let disk = sys.join("sde");
            tokio::spawn(async move {
                while !disk.join("device/delete").exists() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                std::fs::remove_dir_all(&disk).unwrap();
            })
        };
        c.wait_gone(&target(), &vol, Duration::from_secs(5)).await.unwrap();
        kernel.await.unwrap();
        // One the kernel keeps is still there at the deadline, and said so.
        std::fs::create_dir_all(sys.join("sdf/device")).unwrap();
        std::fs::write(sys.join("sdf/device/wwid"), format!("naa.{}\n", wwn.to_lowercase())).unwrap();
        let err = c.wait_gone(&target(), &vol, Duration::from_millis(50)).await.unwrap_err();
        assert!(matches!(err, ConnectorError::StillPresent { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(sys.join("sdf/device/delete")).unwrap(), "1", "its delete was asked");
    }
}
