//! The `nvme` connector: NVMe/TCP through the real nvme-cli.
//!
//! After a volume is mapped: `nvme discover` against each target address on
//! the discovery port (8009) until one returns a TCP subsystem record, then
//! `nvme connect` to that subsystem on the I/O port (4420) for every address
//! not already connected. The device is the `/dev/disk/by-id/nvme-eui.*`
//! entry whose name holds the volume ID (partitions excluded); where no udev
//! runs, the fallback is the `/sys/block/nvme*n*` whose `wwid` is
//! `eui.<nguid>`, the NGUID being the volume ID, `64b94e` and the last ten
//! hex digits of the system ID. When the last volume goes: `nvme disconnect
//! --nqn`, only if a session to that subsystem exists.
//!
//! Commands go through a [`CommandRunner`] and paths are relative to
//! configurable roots, so the logic is testable without the kernel modules.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::command::{CommandOutput, CommandRunner, SystemRunner};
use super::{BlockDevice, Connector, ConnectorError, ConnectorKind, Target, VolumeRef};
use crate::host::HostProbe;

/// The NVMe/TCP discovery port.
pub const DISCOVERY_PORT: u16 = 8009;
/// The NVMe/TCP I/O port.
pub const TRANSPORT_PORT: u16 = 4420;
/// The PowerFlex IEEE OUI inside NGUIDs.
pub const POWERFLEX_OUI: &str = "64b94e";
/// How often device presence is polled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// The NVMe namespace GUID PowerFlex gives a volume.
pub fn nguid(volume_id: &str, system_id: &str) -> String {
    let sys = system_id.to_ascii_lowercase();
    let tail = &sys[sys.len().saturating_sub(10)..];
    format!("{}{POWERFLEX_OUI}{tail}", volume_id.to_ascii_lowercase())
}

#[derive(Debug, Deserialize)]
struct DiscoveryLog {
    #[serde(default)]
    records: Vec<DiscoveryRecord>,
}

#[derive(Debug, Deserialize)]
struct DiscoveryRecord {
    #[serde(default)]
    trtype: String,
    #[serde(default)]
    subtype: String,
    #[serde(default)]
    subnqn: String,
}

/// Picks the subsystem NQN from `nvme discover --output-format json` output.
pub fn parse_discovery(stdout: &str) -> Option<String> {
    if stdout.trim() == "No discovery log entries to fetch." {
        return None;
    }
    let log: DiscoveryLog = serde_json::from_str(stdout).ok()?;
    log.records
        .into_iter()
        .find(|r| r.subtype == "nvme subsystem" && r.trtype == "tcp" && !r.subnqn.is_empty())
        .map(|r| r.subnqn)
}

/// The NVMe/TCP connector.
pub struct NvmeConnector {
    runner: Arc<dyn CommandRunner>,
    probe: HostProbe,
    sys_root: PathBuf,
    dev_root: PathBuf,
    target_nqn: Mutex<Option<String>>,
}

impl std::fmt::Debug for NvmeConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NvmeConnector").field("sys_root", &self.sys_root).field("dev_root", &self.dev_root).finish()
    }
}

impl Default for NvmeConnector {
    fn default() -> Self {
        NvmeConnector::new()
    }
}

impl NvmeConnector {
    /// The connector for this host: real nvme-cli, `/sys` and `/dev`.
    pub fn new() -> NvmeConnector {
        NvmeConnector::with_parts(Arc::new(SystemRunner), HostProbe::default(), "/sys", "/dev")
    }

    /// A connector with its commands and roots replaced (for tests).
    pub fn with_parts(
        runner: Arc<dyn CommandRunner>,
        probe: HostProbe,
        sys_root: impl Into<PathBuf>,
        dev_root: impl Into<PathBuf>,
    ) -> NvmeConnector {
        NvmeConnector {
            runner,
            probe,
            sys_root: sys_root.into(),
            dev_root: dev_root.into(),
            target_nqn: Mutex::new(None),
        }
    }

    async fn nvme(&self, args: Vec<String>) -> Result<CommandOutput, ConnectorError> {
        let command = format!("nvme {}", args.join(" "));
        tracing::debug!(%command, "running");
        self.runner.run("nvme", &args).await.map_err(|source| ConnectorError::Spawn { command, source })
    }

    fn host_args(target: &Target) -> Vec<String> {
        vec!["--hostnqn".into(), target.host_nqn.clone(), "--hostid".into(), target.host_id.clone()]
    }

    /// Runs discovery against each address until one yields a subsystem.
    pub async fn discover(&self, target: &Target) -> Result<String, ConnectorError> {
        for addr in &target.addresses {
            let mut args: Vec<String> = vec![
                "discover".into(),
                "--transport".into(),
                "tcp".into(),
                "--traddr".into(),
                addr.to_string(),
                "--trsvcid".into(),
                DISCOVERY_PORT.to_string(),
            ];
            args.extend(Self::host_args(target));
            args.extend(["--output-format".into(), "json".into()]);
            let out = self.nvme(args).await?;
            if !out.success {
                tracing::warn!(%addr, stderr = %out.stderr.trim(), "nvme discover failed; trying the next address");
                continue;
            }
            if let Some(nqn) = parse_discovery(&out.stdout) {
                return Ok(nqn);
            }
        }
        Err(ConnectorError::NoDiscoveryRecord { addresses: join_addrs(target) })
    }

    /// The subsystem directory (under `class/nvme-subsystem`) whose NQN contains `nqn`,
    /// and the addresses of its live controllers.
    pub fn find_session(&self, nqn: &str) -> Option<(PathBuf, Vec<String>)> {
        let subsystems = std::fs::read_dir(self.sys_root.join("class/nvme-subsystem")).ok()?;
        let subsystem = subsystems
            .flatten()
            .map(|e| e.path())
            .find(|p| std::fs::read_to_string(p.join("subsysnqn")).map(|s| s.trim().contains(nqn)).unwrap_or(false))?;
        let mut addrs = Vec::new();
        if let Ok(ctrls) = std::fs::read_dir(self.sys_root.join("class/nvme")) {
            for c in ctrls.flatten() {
                let p = c.path();
                let matches =
                    std::fs::read_to_string(p.join("subsysnqn")).map(|s| s.trim().contains(nqn)).unwrap_or(false);
                if !matches {
                    continue;
                }
                if let Ok(address) = std::fs::read_to_string(p.join("address")) {
                    for part in address.trim().split(',') {
                        if let Some(ip) = part.trim().strip_prefix("traddr=") {
                            addrs.push(ip.to_string());
                        }
                    }
                }
            }
        }
        Some((subsystem, addrs))
    }

    /// The device of `volume`, if present: by-id first, then sysfs `wwid`.
    pub fn lookup_device(&self, target: &Target, volume: &VolumeRef) -> Option<PathBuf> {
        let by_id = self.dev_root.join("disk/by-id");
        if let Ok(entries) = std::fs::read_dir(&by_id) {
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("nvme-eui.") && !n.contains("-part"))
                .filter(|n| match &volume.nguid {
                    Some(g) => n.ends_with(&g.to_ascii_lowercase()),
                    None => n.contains(&volume.id),
                })
                .collect();
            names.sort();
            if let Some(name) = names.first() {
                let link = by_id.join(name);
                return Some(std::fs::canonicalize(&link).unwrap_or(link));
            }
        }
        let wanted = match &volume.nguid {
            Some(g) => format!("eui.{}", g.to_ascii_lowercase()),
            None => format!("eui.{}", nguid(&volume.id, &target.system_id)),
        };
        let blocks = std::fs::read_dir(self.sys_root.join("block")).ok()?;
        let mut found: Vec<String> = blocks
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| is_nvme_namespace(n))
            .filter(|n| {
                std::fs::read_to_string(self.sys_root.join("block").join(n).join("wwid"))
                    .map(|w| w.trim() == wanted)
                    .unwrap_or(false)
            })
            .collect();
        found.sort();
        found.first().map(|n| self.dev_root.join(n))
    }

    async fn known_nqn(&self, target: &Target) -> Option<String> {
        if let Some(n) = self.target_nqn.lock().await.clone() {
            return Some(n);
        }
        if let Some(n) = &target.system_nqn {
            if self.find_session(n).is_some() {
                return Some(n.clone());
            }
        }
        if target.system_id.is_empty() {
            // No system ID to recognise the session by (Alletra): ask the targets again.
            return self.discover(target).await.ok();
        }
        // The subsystem NQN of a PowerFlex system contains its ID.
        self.find_session(&target.system_id)
            .and_then(|(dir, _)| std::fs::read_to_string(dir.join("subsysnqn")).ok().map(|s| s.trim().to_string()))
    }
}

/// `nvme0n1` yes; `nvme0n1p1`, `nvme0c1n1` and `nvme0` no.
fn is_nvme_namespace(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("nvme") else { return false };
    let Some((ctrl, ns)) = rest.split_once('n') else { return false };
    !ctrl.is_empty()
        && ctrl.bytes().all(|b| b.is_ascii_digit())
        && !ns.is_empty()
        && ns.bytes().all(|b| b.is_ascii_digit())
}

fn join_addrs(target: &Target) -> String {
    target.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
}

#[async_trait]
impl Connector for NvmeConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Nvme
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        let missing = self.probe.missing_nvme_modules();
        if !missing.is_empty() {
            return Err(ConnectorError::ModulesMissing(missing.into_iter().map(String::from).collect()));
        }
        let out = self.nvme(vec!["version".into()]).await?;
        if !out.success || !out.stdout.starts_with("nvme version ") {
            return Err(ConnectorError::Command {
                command: "nvme version".into(),
                status: out.status,
                stderr: format!("unexpected output: {}{}", out.stdout.trim(), out.stderr.trim()),
            });
        }
        Ok(())
    }

    async fn connect(&self, target: &Target) -> Result<bool, ConnectorError> {
        self.check().await?;
        // Discovered on every connect, as LXD does: the subsystem a host is offered can change
        // between attaches (an Alletra host entity deleted with its last vLUN and made again
        // gets a new id, and with it a new subsystem), so a remembered NQN may be stale.
        let previous = self.target_nqn.lock().await.clone();
        let nqn = match self.discover(target).await {
            Ok(n) => n,
            Err(e) => match previous.clone().or_else(|| target.system_nqn.clone()) {
                Some(n) => {
                    tracing::warn!(error = %e, nqn = %n, "discovery failed; using the subsystem known before");
                    n
                }
                None => return Err(e),
            },
        };
        if let Some(stale) = previous.filter(|p| *p != nqn) {
            // The subsystem this host used before is no longer offered to it: its controllers
            // would retry a gone target until the loss timeout.
            if self.find_session(&stale).is_some() {
                tracing::info!(%stale, current = %nqn, "disconnecting from a subsystem the target no longer offers");
                self.nvme(vec!["disconnect".into(), "--nqn".into(), stale]).await?;
            }
        }
        *self.target_nqn.lock().await = Some(nqn.clone());
        let (had_session, active) = match self.find_session(&nqn) {
            Some((_, active)) => (true, active),
            None => (false, Vec::new()),
        };
        let mut connected = 0;
        let mut last_error = String::new();
        for addr in &target.addresses {
            if active.iter().any(|a| a == &addr.to_string()) {
                connected += 1;
                continue;
            }
            let mut args: Vec<String> = vec![
                "connect".into(),
                "--transport".into(),
                "tcp".into(),
                "--traddr".into(),
                addr.to_string(),
                "--trsvcid".into(),
                TRANSPORT_PORT.to_string(),
                "--nqn".into(),
                nqn.clone(),
            ];
            args.extend(Self::host_args(target));
            let out = self.nvme(args).await?;
            // nvme-cli reports an existing connection as a failure; count it as connected.
            if out.success || out.stderr.contains("already connected") {
                connected += 1;
            } else {
                last_error = format!("{addr}: {}", out.stderr.trim());
                tracing::warn!(%addr, stderr = %out.stderr.trim(), "nvme connect failed");
            }
        }
        if connected == 0 {
            if !had_session {
                let _ = self.disconnect(target).await;
            }
            return Err(ConnectorError::ConnectFailed { nqn, addresses: join_addrs(target), last_error });
        }
        Ok(!had_session)
    }

    async fn open(
        &self,
        target: &Target,
        volume: &VolumeRef,
        timeout: Duration,
    ) -> Result<Box<dyn BlockDevice>, ConnectorError> {
        super::open_when_present(|| self.lookup_device(target, volume), &volume.id, timeout, POLL_INTERVAL).await
    }

    async fn device_path(&self, target: &Target, volume: &VolumeRef) -> Result<Option<PathBuf>, ConnectorError> {
        Ok(self.lookup_device(target, volume))
    }

    async fn wait_gone(&self, target: &Target, volume: &VolumeRef, timeout: Duration) -> Result<(), ConnectorError> {
        super::wait_absent(|| self.lookup_device(target, volume), &volume.id, timeout, POLL_INTERVAL).await
    }

    async fn disconnect(&self, target: &Target) -> Result<(), ConnectorError> {
        let Some(nqn) = self.known_nqn(target).await else {
            return Ok(());
        };
        if self.find_session(&nqn).is_some() {
            let out = self.nvme(vec!["disconnect".into(), "--nqn".into(), nqn.clone()]).await?;
            if !out.success {
                return Err(ConnectorError::Command {
                    command: format!("nvme disconnect --nqn {nqn}"),
                    status: out.status,
                    stderr: out.stderr.trim().to_string(),
                });
            }
        }
        *self.target_nqn.lock().await = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::path::Path;
    use std::sync::Mutex as StdMutex;

    #[derive(Default)]
    struct FakeRunner {
        calls: StdMutex<Vec<Vec<String>>>,
        discover_stdout: StdMutex<String>,
        fail_connect: bool,
    }

    #[async_trait]
    impl CommandRunner for FakeRunner {
        async fn run(&self, program: &str, args: &[String]) -> io::Result<CommandOutput> {
            assert_eq!(program, "nvme");
            self.calls.lock().unwrap().push(args.to_vec());
            let ok = |stdout: &str| CommandOutput {
                success: true,
                status: "exit status: 0".into(),
                stdout: stdout.into(),
                stderr: String::new(),
            };
            Ok(match args[0].as_str() {
                "version" => ok("nvme version 2.3\n"),
                "discover" => ok(&self.discover_stdout.lock().unwrap()),
                "connect" if self.fail_connect => CommandOutput {
                    success: false,
                    status: "exit status: 1".into(),
                    stdout: String::new(),
                    stderr: "could not add new controller".into(),
                },
                _ => ok(""),
            })
        }
    }

    fn target() -> Target {
        Target {
            addresses: vec!["127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap()],
            system_id: "1250de83018c2d0f".into(),
            system_nqn: None,
            host_nqn: "nqn.2014-08.org.nvmexpress:uuid:c470396a-2a3b-48ad-9c22-d3811fe1036d".into(),
            host_id: "c470396a-2a3b-48ad-9c22-d3811fe1036d".into(),
        }
    }

    fn volume() -> VolumeRef {
        VolumeRef { id: "694a2d140000000b".into(), name: "u_x".into(), size: 8 << 30, nguid: None, wwn: None }
    }

    fn fake_host(root: &Path) -> HostProbe {
        for m in ["nvme_fabrics", "nvme_tcp"] {
            std::fs::create_dir_all(root.join("host/sys/module").join(m)).unwrap();
        }
        HostProbe::with_root(root.join("host"))
    }

    const DISCOVERY: &str = r#"{"genctr":1,"records":[
        {"trtype":"tcp","adrfam":"ipv4","subtype":"discovery subsystem","treq":"none","portid":0,"trsvcid":"8009","subnqn":"nqn.2014-08.org.nvmexpress.discovery","traddr":"127.0.0.2"},
        {"trtype":"tcp","adrfam":"ipv4","subtype":"nvme subsystem","treq":"none","portid":1,"trsvcid":"4420","subnqn":"nqn.1988-11.com.dell:powerflex:00:1250de83018c2d0f","traddr":"127.0.0.2"}]}"#;

    #[test]
    fn nguid_layout() {
        let n = nguid("694a2d140000000b", "1250DE83018C2D0F");
        assert_eq!(n, "694a2d140000000b64b94e83018c2d0f");
        assert_eq!(n.len(), 32);
    }

    #[test]
    fn discovery_output_parsing() {
        assert_eq!(parse_discovery(DISCOVERY).as_deref(), Some("nqn.1988-11.com.dell:powerflex:00:1250de83018c2d0f"));
        assert_eq!(parse_discovery("No discovery log entries to fetch.\n"), None);
        assert_eq!(parse_discovery(r#"{"records":[{"trtype":"rdma","subtype":"nvme subsystem","subnqn":"x"}]}"#), None);
        assert_eq!(parse_discovery("garbage"), None);
    }

    #[test]
    fn namespace_names() {
        assert!(is_nvme_namespace("nvme0n1"));
        assert!(is_nvme_namespace("nvme12n345"));
        assert!(!is_nvme_namespace("nvme0n1p1"));
        assert!(!is_nvme_namespace("nvme0c1n1"));
        assert!(!is_nvme_namespace("nvme0"));
        assert!(!is_nvme_namespace("sda"));
    }

    #[tokio::test]
    async fn connect_runs_discover_then_connect_with_the_documented_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let runner = Arc::new(FakeRunner { discover_stdout: StdMutex::new(DISCOVERY.into()), ..Default::default() });
        let c = NvmeConnector::with_parts(
            runner.clone(),
            fake_host(dir.path()),
            dir.path().join("sys"),
            dir.path().join("dev"),
        );
        assert!(c.connect(&target()).await.unwrap(), "a new session");
        let calls = runner.calls.lock().unwrap().clone();
        let t = target();
        assert_eq!(calls[0], vec!["version"]);
        assert_eq!(
            calls[1],
            vec![
                "discover",
                "--transport",
                "tcp",
                "--traddr",
                "127.0.0.2",
                "--trsvcid",
                "8009",
                "--hostnqn",
                &t.host_nqn,
                "--hostid",
                &t.host_id,
                "--output-format",
                "json"
            ]
        );
        let nqn = "nqn.1988-11.com.dell:powerflex:00:1250de83018c2d0f";
        for (i, ip) in ["127.0.0.2", "127.0.0.3"].iter().enumerate() {
            assert_eq!(
                calls[2 + i],
                vec![
                    "connect",
                    "--transport",
                    "tcp",
                    "--traddr",
                    ip,
                    "--trsvcid",
                    "4420",
                    "--nqn",
                    nqn,
                    "--hostnqn",
                    &t.host_nqn,
                    "--hostid",
                    &t.host_id
                ]
            );
        }
    }

    #[tokio::test]
    async fn connect_fails_without_modules_or_discovery_records() {
        let dir = tempfile::tempdir().unwrap();
        let runner = Arc::new(FakeRunner { discover_stdout: StdMutex::new(DISCOVERY.into()), ..Default::default() });
        let c = NvmeConnector::with_parts(
            runner,
            HostProbe::with_root(dir.path()),
            dir.path().join("sys"),
            dir.path().join("dev"),
        );
        let err = c.connect(&target()).await.unwrap_err();
        assert!(matches!(err, ConnectorError::ModulesMissing(ref m) if m.len() == 2), "{err}");
        assert!(err.to_string().contains("nvme_tcp"));

        let runner = Arc::new(FakeRunner {
            discover_stdout: StdMutex::new("No discovery log entries to fetch.".into()),
            ..Default::default()
        });
        let c = NvmeConnector::with_parts(
            runner.clone(),
            fake_host(dir.path()),
            dir.path().join("sys"),
            dir.path().join("dev"),
        );
        let err = c.connect(&target()).await.unwrap_err();
        assert!(matches!(err, ConnectorError::NoDiscoveryRecord { .. }), "{err}");
        // Both addresses were tried.
        assert_eq!(runner.calls.lock().unwrap().iter().filter(|c| c[0] == "discover").count(), 2);
    }

    #[tokio::test]
    async fn failed_connects_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let runner = Arc::new(FakeRunner {
            discover_stdout: StdMutex::new(DISCOVERY.into()),
            fail_connect: true,
            ..Default::default()
        });
        let c =
            NvmeConnector::with_parts(runner, fake_host(dir.path()), dir.path().join("sys"), dir.path().join("dev"));
        let err = c.connect(&target()).await.unwrap_err();
        assert!(matches!(err, ConnectorError::ConnectFailed { .. }), "{err}");
    }

    #[tokio::test]
    async fn device_lookup_by_id_then_sysfs() {
        let dir = tempfile::tempdir().unwrap();
        let runner = Arc::new(FakeRunner::default());
        let sys = dir.path().join("sys");
        let dev = dir.path().join("dev");
        let c = NvmeConnector::with_parts(runner, fake_host(dir.path()), &sys, &dev);
        let (t, v) = (target(), volume());
        assert_eq!(c.lookup_device(&t, &v), None);
        let err = c.open(&t, &v, Duration::from_millis(50)).await.err().expect("no device yet");
        assert!(matches!(err, ConnectorError::DeviceTimeout { .. }), "{err}");

        // sysfs fallback: the wwid of nvme1n2 is the volume's NGUID.
        std::fs::create_dir_all(sys.join("block/nvme1n2")).unwrap();
        std::fs::create_dir_all(sys.join("block/nvme1n1")).unwrap();
        std::fs::write(sys.join("block/nvme1n1/wwid"), "eui.00000000000000000000000000000000\n").unwrap();
        std::fs::write(sys.join("block/nvme1n2/wwid"), format!("eui.{}\n", nguid(&v.id, &t.system_id))).unwrap();
        assert_eq!(c.lookup_device(&t, &v), Some(dev.join("nvme1n2")));

        // by-id wins; partitions and other volumes are skipped.
        let by_id = dev.join("disk/by-id");
        std::fs::create_dir_all(&by_id).unwrap();
        std::fs::write(dev.join("nvme3n1"), b"").unwrap();
        let ng = nguid(&v.id, &t.system_id);
        std::os::unix::fs::symlink(dev.join("nvme3n1"), by_id.join(format!("nvme-eui.{ng}"))).unwrap();
        std::os::unix::fs::symlink(dev.join("nvme3n1p1"), by_id.join(format!("nvme-eui.{ng}-part1"))).unwrap();
        std::os::unix::fs::symlink(dev.join("nvme9n9"), by_id.join("nvme-eui.ffffffffffffffff64b94e83018c2d0f"))
            .unwrap();
        let found = c.lookup_device(&t, &v).unwrap();
        assert_eq!(found, std::fs::canonicalize(dev.join("nvme3n1")).unwrap());
        let opened = c.open(&t, &v, Duration::from_millis(50)).await.unwrap();
        assert_eq!(opened.path(), Some(found.as_path()));

        // Gone: wait_gone times out while present, succeeds once removed.
        assert!(c.wait_gone(&t, &v, Duration::from_millis(10)).await.is_err());
        std::fs::remove_file(by_id.join(format!("nvme-eui.{ng}"))).unwrap();
        std::fs::remove_dir_all(sys.join("block/nvme1n2")).unwrap();
        c.wait_gone(&t, &v, Duration::from_millis(10)).await.unwrap();
    }

    /// A session to `nqn` from `addr`, as the kernel shows it in sysfs.
    fn fake_session(sys: &Path, n: u32, nqn: &str, addr: &str) {
        let subsys = sys.join(format!("class/nvme-subsystem/nvme-subsys{n}"));
        std::fs::create_dir_all(&subsys).unwrap();
        std::fs::write(subsys.join("subsysnqn"), format!("{nqn}\n")).unwrap();
        let ctrl = sys.join(format!("class/nvme/nvme{n}"));
        std::fs::create_dir_all(&ctrl).unwrap();
        std::fs::write(ctrl.join("subsysnqn"), format!("{nqn}\n")).unwrap();
        std::fs::write(ctrl.join("address"), format!("traddr={addr},trsvcid=4420,src_addr=127.0.0.1\n")).unwrap();
    }

    #[tokio::test]
    async fn a_subsystem_no_longer_offered_is_left_for_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let runner = Arc::new(FakeRunner { discover_stdout: StdMutex::new(DISCOVERY.into()), ..Default::default() });
        let sys = dir.path().join("sys");
        let c = NvmeConnector::with_parts(runner.clone(), fake_host(dir.path()), &sys, dir.path().join("dev"));
        let old = "nqn.1988-11.com.dell:powerflex:00:1250de83018c2d0f";
        c.connect(&target()).await.unwrap();
        fake_session(&sys, 1, old, "127.0.0.2");
        // The host entity was made again: the target now offers it another subsystem.
        let new = "nqn.2020-07.com.hpe:0d3b:host:0000000000000002";
        *runner.discover_stdout.lock().unwrap() = DISCOVERY.replace(old, new);
        runner.calls.lock().unwrap().clear();
        assert!(c.connect(&target()).await.unwrap(), "a new session");
        let calls = runner.calls.lock().unwrap().clone();
        let ran: Vec<(&str, Option<&str>)> = calls
            .iter()
            .map(|c| (c[0].as_str(), c.iter().position(|a| a == "--nqn").map(|i| c[i + 1].as_str())))
            .collect();
        assert_eq!(
            ran,
            vec![
                ("version", None),
                ("discover", None),
                ("disconnect", Some(old)),
                ("connect", Some(new)),
                ("connect", Some(new))
            ]
        );
    }

    #[tokio::test]
    async fn disconnect_only_with_a_session() {
        let dir = tempfile::tempdir().unwrap();
        let runner = Arc::new(FakeRunner::default());
        let sys = dir.path().join("sys");
        let c = NvmeConnector::with_parts(runner.clone(), fake_host(dir.path()), &sys, dir.path().join("dev"));
        c.disconnect(&target()).await.unwrap();
        assert!(runner.calls.lock().unwrap().is_empty());

        let nqn = "nqn.1988-11.com.dell:powerflex:00:1250de83018c2d0f";
        std::fs::create_dir_all(sys.join("class/nvme-subsystem/nvme-subsys1")).unwrap();
        std::fs::write(sys.join("class/nvme-subsystem/nvme-subsys1/subsysnqn"), format!("{nqn}\n")).unwrap();
        std::fs::create_dir_all(sys.join("class/nvme/nvme1")).unwrap();
        std::fs::write(sys.join("class/nvme/nvme1/subsysnqn"), format!("{nqn}\n")).unwrap();
        std::fs::write(sys.join("class/nvme/nvme1/address"), "traddr=127.0.0.2,trsvcid=4420,src_addr=127.0.0.1\n")
            .unwrap();
        let (_, active) = c.find_session(nqn).unwrap();
        assert_eq!(active, vec!["127.0.0.2"]);
        c.disconnect(&target()).await.unwrap();
        assert_eq!(runner.calls.lock().unwrap().clone(), vec![vec!["disconnect", "--nqn", nqn]]);
    }
}
