//! The `sdc` connector: volumes through the ScaleIO Data Client, as LXD's sdc mode reaches them.
//! The SDC (Dell's `scini` module, or `pflex-sdc`) exposes every volume the MDM maps to it;
//! this connector only finds the device: the `/dev/disk/by-id` entry that starts with
//! `emc-vol-` and contains the volume ID (LXD's rule; the real name is
//! `emc-vol-<systemId>-<volumeId>`), skipping partitions. There is no session to make or
//! tear down, and unmapping takes the device away.
//!
//! The SDC's GUID, which names this host on the MDM, comes from the `scini` device as LXD and
//! os-brick ask it (`ioctl(/dev/scini, _IO('a', 14))`, return code 65 in the first byte, the
//! 16 GUID bytes after 8), or, where there is no such device (no CUSE on this machine), from
//! `drv_cfg --query_guid` as CloudStack asks it.
//!
//! Paths: `/dev/disk/by-id`, `/dev/scini`, `/opt/emc/scaleio/sdc/bin/drv_cfg`, or
//! `$PFLEX_SDC_BY_ID` and `$PFLEX_SDC_DRV_CFG` when set (an emulated SDC in a test directory).

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use super::{BlockDevice, Connector, ConnectorError, ConnectorKind, Target, VolumeRef};

/// The prefix of an SDC volume's by-id name.
pub const PREFIX: &str = "emc-vol-";
/// Where the real SDC installs `drv_cfg`.
pub const DRV_CFG: &str = "/opt/emc/scaleio/sdc/bin/drv_cfg";
/// The SDC's control device.
pub const SCINI: &str = "/dev/scini";
/// `_IO('a', 14)`: the GUID query.
const IOCTL_QUERY_GUID: libc::c_ulong = (b'a' as libc::c_ulong) << 8 | 14;
/// The return code of a query that worked.
const RC_OK: u8 = 65;
/// LXD's poll for a device.
const POLL: Duration = Duration::from_millis(500);

/// The `sdc` connector.
#[derive(Debug, Clone)]
pub struct SdcConnector {
    by_id: PathBuf,
    scini: PathBuf,
    drv_cfg: PathBuf,
}

impl Default for SdcConnector {
    fn default() -> SdcConnector {
        SdcConnector::new()
    }
}

impl SdcConnector {
    /// The real paths, or the `PFLEX_SDC_*` ones when set.
    pub fn new() -> SdcConnector {
        let env =
            |key: &str, default: &str| std::env::var_os(key).map_or_else(|| PathBuf::from(default), PathBuf::from);
        SdcConnector::with_paths(
            env("PFLEX_SDC_BY_ID", "/dev/disk/by-id"),
            SCINI.into(),
            env("PFLEX_SDC_DRV_CFG", DRV_CFG),
        )
    }

    pub fn with_paths(by_id: PathBuf, scini: PathBuf, drv_cfg: PathBuf) -> SdcConnector {
        SdcConnector { by_id, scini, drv_cfg }
    }

    /// The volume's device, if the SDC exposes it now.
    pub fn lookup_device(&self, volume: &VolumeRef) -> Option<PathBuf> {
        let mut names: Vec<String> = std::fs::read_dir(&self.by_id)
            .ok()?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(PREFIX) && !n.contains("-part") && n.contains(&volume.id))
            .collect();
        names.sort();
        let link = self.by_id.join(names.first()?);
        Some(std::fs::canonicalize(&link).unwrap_or(link))
    }

    /// The SDC's GUID, upper case.
    pub async fn guid(&self) -> Result<String, ConnectorError> {
        let scini = self.scini.clone();
        if scini.exists() {
            return tokio::task::spawn_blocking(move || query_guid_ioctl(&scini))
                .await
                .map_err(|e| ConnectorError::Other(format!("GUID query task failed: {e}")))?;
        }
        let command = format!("{} --query_guid", self.drv_cfg.display());
        let out = tokio::process::Command::new(&self.drv_cfg)
            .arg("--query_guid")
            .output()
            .await
            .map_err(|source| ConnectorError::Spawn { command: command.clone(), source })?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() || uuid::Uuid::parse_str(&text).is_err() {
            return Err(ConnectorError::Command {
                command,
                status: out.status.to_string(),
                stderr: format!("no GUID: {text}{}", String::from_utf8_lossy(&out.stderr).trim()),
            });
        }
        Ok(text.to_uppercase())
    }
}

/// The GUID query LXD and os-brick send to the `scini` device.
fn query_guid_ioctl(scini: &Path) -> Result<String, ConnectorError> {
    use std::os::unix::io::AsRawFd;
    let io = |source| ConnectorError::Io { context: format!("querying the SDC GUID from {}", scini.display()), source };
    let file = std::fs::OpenOptions::new().read(true).write(true).open(scini).map_err(io)?;
    let mut buf = [0u8; 24];
    // SAFETY: the descriptor is open for the call; the driver writes at most the 24 bytes
    // (return code and GUID) both LXD's and os-brick's buffers hold.
    if unsafe { libc::ioctl(file.as_raw_fd(), IOCTL_QUERY_GUID as _, buf.as_mut_ptr()) } < 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    if buf[0] != RC_OK {
        return Err(ConnectorError::Other(format!("{}: the GUID query answered rc {}", scini.display(), buf[0])));
    }
    let guid = uuid::Uuid::from_slice(&buf[8..24]).map_err(|e| ConnectorError::Other(e.to_string()))?;
    Ok(guid.to_string().to_uppercase())
}

#[async_trait]
impl Connector for SdcConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Sdc
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.guid().await.map(|_| ())
    }

    async fn connect(&self, _target: &Target) -> Result<bool, ConnectorError> {
        Ok(false)
    }

    async fn open(
        &self,
        _target: &Target,
        volume: &VolumeRef,
        timeout: Duration,
    ) -> Result<Box<dyn BlockDevice>, ConnectorError> {
        super::open_when_present(|| self.lookup_device(volume), &volume.id, timeout, POLL).await
    }

    async fn device_path(&self, _target: &Target, volume: &VolumeRef) -> Result<Option<PathBuf>, ConnectorError> {
        Ok(self.lookup_device(volume))
    }

    async fn wait_gone(&self, _target: &Target, volume: &VolumeRef, timeout: Duration) -> Result<(), ConnectorError> {
        super::wait_absent(|| self.lookup_device(volume), &volume.id, timeout, POLL).await
    }

    async fn disconnect(&self, _target: &Target) -> Result<(), ConnectorError> {
        Ok(())
    }

    async fn sdc_guid(&self) -> Result<Option<String>, ConnectorError> {
        self.guid().await.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(id: &str) -> VolumeRef {
        VolumeRef { id: id.into(), name: "v".into(), size: 8 << 30, nguid: None, wwn: None }
    }

    #[test]
    fn the_device_is_the_emc_vol_entry_containing_the_volume_id() {
        let dir = tempfile::tempdir().unwrap();
        let c = SdcConnector::with_paths(dir.path().into(), dir.path().join("scini"), dir.path().join("drv_cfg"));
        assert_eq!(c.lookup_device(&volume("694a2d140000000b")), None);
        for name in [
            "emc-vol-1250de83018c2d0f-694a2d140000000b-part1",
            "nvme-eui.694a2d140000000b",
            "emc-vol-1250de83018c2d0f-0000000000000001",
        ] {
            std::os::unix::fs::symlink("/dev/null", dir.path().join(name)).unwrap();
        }
        assert_eq!(c.lookup_device(&volume("694a2d140000000b")), None, "partitions and other volumes are skipped");
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("emc-vol-1250de83018c2d0f-694a2d140000000b")).unwrap();
        assert_eq!(c.lookup_device(&volume("694a2d140000000b")), Some(PathBuf::from("/dev/zero")));
    }

    #[tokio::test]
    async fn the_guid_comes_from_drv_cfg_without_a_scini_device() {
        let dir = tempfile::tempdir().unwrap();
        let drv_cfg = dir.path().join("drv_cfg");
        std::fs::write(&drv_cfg, "#!/bin/sh\necho b0e3bfb8-c20b-43bf-93c8-13339e85aa50\n").unwrap();
        std::fs::set_permissions(&drv_cfg, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let c = SdcConnector::with_paths(dir.path().into(), dir.path().join("scini"), drv_cfg.clone());
        assert_eq!(c.guid().await.unwrap(), "B0E3BFB8-C20B-43BF-93C8-13339E85AA50");
        std::fs::write(&drv_cfg, "#!/bin/sh\necho 'Failed to open kernel device' >&2\nexit 1\n").unwrap();
        assert!(matches!(c.guid().await, Err(ConnectorError::Command { .. })));
    }
}
