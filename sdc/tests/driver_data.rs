//! The driver's data test (`driver/tests/support/data.rs`, one body for every connector) in
//! powerflex.mode=sdc through the `sdc` connector, with `pflex-sdc` as this host's SDC against
//! the in-process simulator on its `file` plane: the driver finds its host by the SDC's GUID
//! (from `drv_cfg --query_guid`), maps, finds the `emc-vol-` device, unmaps and leaves the SDC
//! in place. Needs what `tests/sdc.rs` needs (root, loop devices, `/dev/fuse`).

#[path = "../../driver/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pflex_sdc::control::{ask, socket_path, Request};
use powerflex_driver::connector::SdcConnector;
use support::data::{run_data_test, Expect};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_through_the_sdc_connector() {
    if unsafe { libc::geteuid() } != 0 && std::env::var("PFLEX_SKIP_SDC").is_ok_and(|v| v == "1") {
        eprintln!("\n!! SDC DRIVER DATA TEST NOT RUN (PFLEX_SKIP_SDC=1): not root\n");
        return;
    }
    let gw = support::file_gateway().await;
    let dir = tempfile::tempdir().unwrap();
    let (run_dir, by_id) = (dir.path().join("run"), dir.path().join("by-id"));
    let mut sdc = Command::new(env!("CARGO_BIN_EXE_pflex-sdc"))
        .args(["serve", "--gateway", &gw.url, "--user", &gw.user, "--poll-ms", "200"])
        .arg("--ca")
        .arg(&gw.ca_cert_path)
        .arg("--run-dir")
        .arg(&run_dir)
        .arg("--by-id")
        .arg(&by_id)
        .env("PFLEX_SDC_PASSWORD", &gw.password)
        .stdout(Stdio::null())
        .spawn()
        .expect("pflex-sdc starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ask(&socket_path(&run_dir), Request::Status).is_err() {
        assert!(
            sdc.try_wait().unwrap().is_none(),
            "pflex-sdc exited during start-up (root, loop and /dev/fuse needed)"
        );
        assert!(Instant::now() < deadline, "pflex-sdc did not answer within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // drv_cfg as an installed one finds its SDC: through the note `pflex-sdc install` leaves.
    let prefix = dir.path().join("prefix");
    let installed =
        pflex_sdc::install::install_drv_cfg(Path::new(env!("CARGO_BIN_EXE_drv_cfg")), &prefix, &run_dir).unwrap();
    let connector = SdcConnector::with_paths(by_id.clone(), dir.path().join("no-scini"), installed);
    let stats = run_data_test(&gw, Arc::new(connector), Expect::Sdc).await;
    eprintln!("sdc host copy: {stats}");
    unsafe { libc::kill(sdc.id() as i32, libc::SIGTERM) };
    assert!(sdc.wait().unwrap().success());
    assert_eq!(std::fs::read_dir(&by_id).unwrap().count(), 0, "no device left");
}
