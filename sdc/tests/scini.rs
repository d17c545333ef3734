//! `pflex-sdc serve --scini`: the SDC's `/dev/scini` through the kernel's CUSE, asked by ioctl
//! as LXD and goscaleio (GUID query, a 32-byte buffer) and os-brick (GUID query in 24 bytes,
//! rescan in 8) ask a real SDC: the GUID with return code 65 and nothing written past it, a
//! rescan that returns only once a newly mapped volume's `emc-vol-` device is there, other
//! requests refused, a second device refused beside the first, and the device gone at stop.
//! Then the driver's attach round trip in powerflex.mode=sdc (create, map to the host found by
//! the GUID from `/dev/scini`, no `drv_cfg`, as LXD's `sdc` mode gets it; write, read back,
//! unmap, delete). The whole data test, with its full-volume copies through FUSE, is
//! `tests/driver_data.rs`, natively; in the emulated VM it would take most of an hour.
//!
//! Needs root, loop devices, `/dev/fuse` and the `cuse` module, which this project's machines
//! lack natively: stage `sdc` of `scripts/test-nvmet-e2e.sh` runs it in the VM with
//! `PFLEX_SDC_E2E=1`. Without that variable it says so loudly and does nothing. It runs the
//! `pflex-sdc` named by `PFLEX_SDC_BIN`, else the one on PATH.

#[path = "../../driver/tests/support/mod.rs"]
mod support;

use std::fs::OpenOptions;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pflex_sdc::control::{ask, socket_path, Request};
use pflex_sdc::scini::{QUERY_GUID, RC_OK, RESCAN};
use powerflex_driver::connector::SdcConnector;
use powerflex_driver::powerflex::client::types::CreateVolume;
use powerflex_driver::{Client, ClientOptions};
use powerflex_sim::testing::TestGateway;
use support::data::{run_attach_test, Expect};

const GUID: &str = "0C6F3A52-91D4-4E0B-8A7C-2B5E9F1D4A36";
const SCINI: &str = "/dev/scini";

/// `ioctl(/dev/scini, cmd, buf)` with a buffer of `len` bytes, filled with 0xAA first.
fn ioctl(cmd: u32, len: usize) -> std::io::Result<Vec<u8>> {
    let file = OpenOptions::new().read(true).open(SCINI)?;
    let mut buf = vec![0xAAu8; len];
    // SAFETY: the descriptor is open and the buffer outlives the call.
    if unsafe { libc::ioctl(file.as_raw_fd(), cmd as _, buf.as_mut_ptr()) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(buf)
}

/// The `pflex-sdc` to run: `PFLEX_SDC_BIN`, else the one on PATH. Not the build's own path
/// (`CARGO_BIN_EXE_*`): this test runs in the VM, where the checkout's path may not exist.
fn sdc_bin() -> String {
    std::env::var("PFLEX_SDC_BIN").unwrap_or_else(|_| "pflex-sdc".into())
}

fn serve(gw: &TestGateway, dir: &Path, name: &str, poll_ms: u64) -> Child {
    Command::new(sdc_bin())
        .args(["serve", "--scini", "--guid", GUID, "--gateway", &gw.url, "--user", &gw.user])
        .args(["--poll-ms", &poll_ms.to_string()])
        .arg("--ca")
        .arg(&gw.ca_cert_path)
        .arg("--run-dir")
        .arg(dir.join(name))
        .arg("--by-id")
        .arg(dir.join("by-id"))
        .env("PFLEX_SDC_PASSWORD", &gw.password)
        .env("PFLEX_SDC_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", sdc_bin()))
}

/// Waits for the device and the control socket.
async fn up(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !Path::new(SCINI).exists() || ask(&socket_path(&dir.join("run")), Request::Status).is_err() {
        assert!(Instant::now() < deadline, "pflex-sdc --scini did not come up within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn stop(mut sdc: Child) {
    unsafe { libc::kill(sdc.id() as i32, libc::SIGTERM) };
    assert!(sdc.wait().unwrap().success(), "pflex-sdc stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scini_answers_the_ioctls_clients_send() {
    if std::env::var("PFLEX_SDC_E2E").as_deref() != Ok("1") {
        let banner = "!".repeat(78);
        eprintln!(
            "\n{banner}\n!! /dev/scini (CUSE) TEST NOT RUN: set PFLEX_SDC_E2E=1 where root, /dev/fuse, loop devices"
        );
        eprintln!("!! and the cuse module exist (scripts/test-nvmet-e2e.sh runs it in its VM, stage sdc)\n{banner}\n");
        return;
    }
    assert!(Path::new("/dev/cuse").exists(), "no /dev/cuse: load the cuse module");
    assert!(!Path::new(SCINI).exists(), "{SCINI} exists before the test: a real SDC?");
    let gw = support::file_gateway().await;
    let dir = tempfile::tempdir().unwrap();
    let by_id = dir.path().join("by-id");
    // Polls far apart: a device that appears at once came from the rescan ioctl.
    let sdc = serve(&gw, dir.path(), "run", 600_000);
    up(dir.path()).await;

    // goscaleio's buffer (LXD's driver uses it): rc, GUID, then 8 bytes the module leaves alone.
    let answer = ioctl(QUERY_GUID, 32).expect("the GUID query");
    assert_eq!(u64::from_le_bytes(answer[..8].try_into().unwrap()), RC_OK);
    assert_eq!(uuid::Uuid::from_slice(&answer[8..24]).unwrap().to_string().to_uppercase(), GUID);
    assert_eq!(&answer[24..], &[0xAA; 8], "nothing written past the GUID");
    // The driver's (and os-brick's) 24-byte query.
    let connector = SdcConnector::with_paths(by_id.clone(), SCINI.into(), dir.path().join("no-drv_cfg"));
    assert_eq!(connector.guid().await.unwrap(), GUID);
    let unknown = ioctl((b'a' as u32) << 8 | 99, 32).unwrap_err();
    assert_eq!(unknown.raw_os_error(), Some(libc::ENOTTY), "{unknown}");

    // A second SDC's device is refused beside the first.
    let refused = serve(&gw, dir.path(), "second", 1000).wait().unwrap();
    let why = std::fs::read_to_string(dir.path().join("second.log")).unwrap();
    assert!(!refused.success() && why.contains("/dev/scini exists"), "{refused}: {why}");

    // os-brick's rescan: it returns once the new mapping's device is there.
    let mut options = ClientOptions::new(&gw.url, &gw.user, &gw.password);
    options.ca_pem = Some(gw.ca_cert_pem.clone().into_bytes());
    let api = Client::new(options).unwrap();
    let me = api.hosts().await.unwrap().into_iter().find(|h| h.sdc_guid.as_deref() == Some(GUID)).unwrap().id;
    let domain = api.query_domain_id("pd1").await.unwrap();
    let pool =
        api.domain_pools(&domain).await.unwrap().into_iter().find(|p| p.name.as_deref() == Some("sp1")).unwrap().id;
    let create = CreateVolume {
        name: "scini-rescan".into(),
        volume_size_in_gb: "8".into(),
        volume_type: "ThinProvisioned".into(),
        storage_pool_id: pool,
    };
    let vol = api.create_volume(&create).await.unwrap();
    api.add_mapped_host(&vol, &me).await.unwrap();
    let system = api.systems().await.unwrap().remove(0).id;
    let link = by_id.join(format!("emc-vol-{system}-{vol}"));
    assert!(!link.exists(), "not before the rescan");
    let answer = tokio::task::spawn_blocking(|| ioctl(RESCAN, 8)).await.unwrap().expect("the rescan");
    assert_eq!(u64::from_le_bytes(answer[..8].try_into().unwrap()), RC_OK);
    assert!(link.exists(), "the rescan returned with the device there");
    api.remove_mapped_host(&vol, &me).await.unwrap();
    tokio::task::spawn_blocking(|| ioctl(RESCAN, 8)).await.unwrap().unwrap();
    assert!(!link.exists(), "and without it once unmapped");
    api.remove_volume(&vol).await.unwrap();

    stop(sdc);
    assert!(!Path::new(SCINI).exists(), "the device goes with the SDC");

    // LXD's sdc mode: the driver attaches through the host the GUID from /dev/scini names,
    // against the SDC started again (polling as usual: the driver waits for devices, as LXD does).
    let sdc = serve(&gw, dir.path(), "run", 200);
    up(dir.path()).await;
    run_attach_test(&gw, Arc::new(connector), Expect::Sdc).await;
    stop(sdc);
    assert!(!Path::new(SCINI).exists(), "the device goes with the SDC");
    assert_eq!(std::fs::read_dir(&by_id).unwrap().count(), 0, "no device left");
    println!("SCINI-E2E-COMPLETE");
}
