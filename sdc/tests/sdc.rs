//! `pflex-sdc` against the in-process simulator on its `file` plane: it joins as a connected
//! SDC, every volume mapped to it becomes `emc-vol-<systemId>-<volumeId>` in its by-id
//! directory, linked to a loop device whose bytes are the ones `/sim/volumes/{id}/data` shows,
//! a resize reaches the device, an unmapping takes it away, `drv_cfg` answers in the real
//! formats, and a stop leaves nothing behind and the SDC disconnected.
//!
//! Needs root, `/dev/loop-control` and `/dev/fuse`; without them the test fails and says why,
//! unless `PFLEX_SKIP_SDC=1` is set, in which case it says loudly on stderr that it did not run.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pflex_sdc::control::{ask, socket_path, Request, Status};
use powerflex_driver::connector::sim::AdminClient;
use powerflex_driver::powerflex::client::types::CreateVolume;
use powerflex_driver::{Client, ClientOptions};
use powerflex_sim::dataplane::PlaneKind;
use powerflex_sim::testing::{Options, TestGateway};

const GUID: &str = "5D1C0A0E-7B4F-4C1D-9E2A-3F4B5C6D7E8F";
const GIB: u64 = 1 << 30;

fn available() -> bool {
    let reason = if unsafe { libc::geteuid() } != 0 {
        Some("pflex-sdc needs root (loop devices, a FUSE mount)".to_string())
    } else {
        powerflex_driver::connector::loopdev::unavailable_reason()
            .or_else(|| (!Path::new("/dev/fuse").exists()).then(|| "/dev/fuse does not exist".to_string()))
    };
    let Some(reason) = reason else { return true };
    if std::env::var("PFLEX_SKIP_SDC").is_ok_and(|v| v == "1") {
        let banner = "!".repeat(78);
        let _ = writeln!(
            std::io::stderr(),
            "\n{banner}\n!! PFLEX-SDC TEST NOT RUN (PFLEX_SKIP_SDC=1): {reason}\n{banner}\n"
        );
        return false;
    }
    panic!("pflex-sdc cannot run here: {reason} (set PFLEX_SKIP_SDC=1 to skip this test on such machines)");
}

/// The running `pflex-sdc`, stopped (SIGTERM) when dropped.
struct Sdc {
    child: Child,
    run_dir: PathBuf,
}

impl Sdc {
    fn start(gw: &TestGateway, dir: &Path) -> Sdc {
        let run_dir = dir.join("run");
        let child = Command::new(env!("CARGO_BIN_EXE_pflex-sdc"))
            .args(["serve", "--gateway", &gw.url, "--user", &gw.user, "--guid", GUID, "--ip", "127.0.0.31"])
            .args(["--name", "sdc-test", "--poll-ms", "300"])
            .arg("--ca")
            .arg(&gw.ca_cert_path)
            .arg("--run-dir")
            .arg(&run_dir)
            .arg("--by-id")
            .arg(dir.join("by-id"))
            .env("PFLEX_SDC_PASSWORD", &gw.password)
            .stdout(Stdio::null())
            .spawn()
            .expect("pflex-sdc starts");
        Sdc { child, run_dir }
    }

    /// Waits until it answers on its socket.
    fn status(&mut self) -> Status {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(s) = ask(&socket_path(&self.run_dir), Request::Status) {
                return s;
            }
            assert!(self.child.try_wait().unwrap().is_none(), "pflex-sdc exited during start-up");
            assert!(Instant::now() < deadline, "pflex-sdc did not answer within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn drv_cfg(&self, arg: &str) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_drv_cfg"))
            .arg(arg)
            .env("PFLEX_SDC_RUN_DIR", &self.run_dir)
            .output()
            .expect("drv_cfg runs");
        assert!(out.status.success(), "drv_cfg {arg}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn stop(&mut self) -> std::process::ExitStatus {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().unwrap()
    }
}

impl Drop for Sdc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

fn size_of(device: &Path) -> u64 {
    File::open(device).unwrap().seek(SeekFrom::End(0)).unwrap()
}

/// Reads through the device bypassing its page cache, so the bytes come from the gateway now.
fn read_direct(device: &Path, offset: u64, len: usize) -> Vec<u8> {
    let file = OpenOptions::new().read(true).custom_flags(libc::O_DIRECT).open(device).unwrap();
    let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
    // SAFETY: a non-zero, aligned layout; the buffer is freed below.
    let buf = unsafe { std::alloc::alloc_zeroed(layout) };
    let slice = unsafe { std::slice::from_raw_parts_mut(buf, len) };
    file.read_exact_at(slice, offset).unwrap();
    let out = slice.to_vec();
    unsafe { std::alloc::dealloc(buf, layout) };
    out
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapped_volumes_become_emc_vol_devices_with_the_gateways_bytes() {
    if !available() {
        return;
    }
    let gw = TestGateway::start_with(Options { data_plane: PlaneKind::File, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let by_id = dir.path().join("by-id");
    let mut options = ClientOptions::new(&gw.url, &gw.user, &gw.password);
    options.ca_pem = Some(gw.ca_cert_pem.clone().into_bytes());
    let api = Client::new(options.clone()).unwrap();
    let admin = AdminClient::with_host_param(&options, "host").unwrap();

    let mut sdc = Sdc::start(&gw, dir.path());
    let status = sdc.status();
    let host = api.hosts().await.unwrap().into_iter().find(|h| h.id == status.sdc_id).expect("the SDC is listed");
    assert_eq!((host.sdc_guid.as_deref(), host.host_type.as_deref()), (Some(GUID), Some("SdcHost")));
    let system = api.systems().await.unwrap().remove(0).id;
    assert_eq!(status.system_id, system);
    assert_eq!(sdc.drv_cfg("--query_guid"), format!("{GUID}\n"));
    let mdms = sdc.drv_cfg("--query_mdms");
    assert!(mdms.contains(&format!("MDM-ID {system} SDC ID {} INSTALLATION ID ", status.sdc_id)), "{mdms}");

    let domain = api.query_domain_id("pd1").await.unwrap();
    let pool =
        api.domain_pools(&domain).await.unwrap().into_iter().find(|p| p.name.as_deref() == Some("sp1")).unwrap().id;
    let create = |name: &str| CreateVolume {
        name: name.into(),
        volume_size_in_gb: "8".into(),
        volume_type: "ThinProvisioned".into(),
        storage_pool_id: pool.clone(),
    };
    let vol = api.create_volume(&create("sdc-a")).await.unwrap();
    let other = api.create_volume(&create("sdc-b")).await.unwrap();
    api.add_mapped_host(&vol, &status.sdc_id).await.unwrap();
    // drv_cfg --rescan answers after a poll that began after it asked: the device is there.
    assert_eq!(sdc.drv_cfg("--rescan"), "");
    let link = by_id.join(format!("emc-vol-{system}-{vol}"));
    let device = std::fs::read_link(&link).unwrap_or_else(|e| panic!("{}: {e}", link.display()));
    assert!(device.to_string_lossy().starts_with("/dev/loop"), "{}", device.display());
    assert_eq!(size_of(&link), 8 * GIB);
    assert_eq!(sdc.drv_cfg("--query_vols"), format!("Retrieved 1 volume(s)\nVOL-ID {vol} MDM-ID {system}\n"));

    // Bytes written through the device are the gateway's, and the other way round.
    let written = pattern(7, 1 << 20);
    {
        let f = OpenOptions::new().write(true).open(&link).unwrap();
        f.write_all_at(&written, 3 * GIB).unwrap();
        f.sync_all().unwrap();
    }
    let sdc_id = status.sdc_id.clone();
    let seen = {
        let (admin, vol, sdc_id) = (admin.clone(), vol.clone(), sdc_id.clone());
        tokio::task::spawn_blocking(move || admin.read_blocking(&vol, &sdc_id, 3 * GIB, 1 << 20))
            .await
            .unwrap()
            .unwrap()
    };
    assert!(seen == written, "the gateway shows what was written through the device");
    let from_gateway = pattern(99, 64 << 10);
    {
        let (admin, vol, sdc_id, data) = (admin.clone(), vol.clone(), sdc_id.clone(), from_gateway.clone());
        tokio::task::spawn_blocking(move || admin.write_blocking(&vol, &sdc_id, 5 * GIB, data)).await.unwrap().unwrap();
    }
    let link2 = link.clone();
    let read = tokio::task::spawn_blocking(move || read_direct(&link2, 5 * GIB, 64 << 10)).await.unwrap();
    assert!(read == from_gateway, "the device shows what the gateway holds");

    // A resize reaches the device at the next poll.
    api.set_volume_size(&vol, 16).await.unwrap();
    sdc.drv_cfg("--rescan");
    assert_eq!(size_of(&link), 16 * GIB);

    // Only volumes mapped to this SDC appear; an unmapped one goes, loop device and all.
    api.add_mapped_host(&other, &status.sdc_id).await.unwrap();
    sdc.drv_cfg("--rescan");
    let vols = sdc.drv_cfg("--query_vols");
    assert!(vols.starts_with("Retrieved 2 volume(s)\n") && vols.contains(&other), "{vols}");
    api.remove_mapped_host(&vol, &status.sdc_id).await.unwrap();
    sdc.drv_cfg("--rescan");
    assert!(!link.exists(), "the unmapped volume's link is gone");
    let loop_name = device.file_name().unwrap().to_str().unwrap().to_string();
    let backing = std::fs::read_to_string(format!("/sys/block/{loop_name}/loop/backing_file")).unwrap_or_default();
    assert!(!backing.contains(&vol), "{loop_name} is no longer bound to {vol}: {backing}");
    let other_link = by_id.join(format!("emc-vol-{system}-{other}"));
    assert!(other_link.exists());

    // Stopping takes every device away, unmounts and leaves the MDM.
    assert!(sdc.stop().success());
    assert!(!other_link.exists(), "no link left after a stop");
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(!mounts.contains(&*sdc.run_dir.to_string_lossy()), "the FUSE mount is gone");
    let hosts = api.hosts().await.unwrap();
    assert!(hosts.iter().any(|h| h.id == status.sdc_id), "the SDC stays known to the MDM");
}
