//! The driver's data test (`support::data`, the same body as `tests/data.rs`)
//! through the real `nvme` connector: attach, write, snapshot, restore and both
//! kinds of copy, with the bytes checked on the kernel's NVMe/TCP devices.
//!
//! This needs root, the `nvme_fabrics`/`nvme_tcp` (host) and `nvmet`/`nvmet_tcp`
//! (target) kernel modules, nvme-cli, and the simulator's nvmet data plane.
//! On a machine without the modules the test says so loudly on stderr; set
//! `PFLEX_REQUIRE_NVME=1` (as the VM run does) to turn that into a failure.

mod support;

use std::io::Write;
use std::sync::Arc;

use powerflex_driver::connector::nvme::NvmeConnector;
use powerflex_driver::host::HostProbe;
use support::data::{run_data_test, Expect};

fn nvme_available() -> bool {
    let missing = HostProbe::default().missing_nvme_modules();
    if missing.is_empty() {
        return true;
    }
    let required = std::env::var("PFLEX_REQUIRE_NVME").is_ok_and(|v| v == "1");
    let banner = "!".repeat(78);
    // Written to stderr directly, not with eprintln!, so the test harness does not capture it.
    let _ = writeln!(
        std::io::stderr(),
        "\n{banner}\n!! NVMe/TCP DATA-PLANE TEST NOT RUN: kernel modules missing: {}\n\
         !! Run it where they load (as root: modprobe nvme_tcp nvmet_tcp), with\n\
         !! PFLEX_REQUIRE_NVME=1 cargo test -p powerflex-driver --test nvme\n{banner}\n",
        missing.join(", ")
    );
    assert!(!required, "PFLEX_REQUIRE_NVME=1 but the NVMe/TCP modules are missing: {missing:?}");
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_through_the_nvme_connector() {
    if !nvme_available() {
        return;
    }
    let gw = powerflex_sim::testing::TestGateway::start_with(powerflex_sim::testing::Options {
        data_plane: powerflex_sim::dataplane::PlaneKind::Nvmet,
        ..Default::default()
    })
    .await;
    let stats = run_data_test(&gw, Arc::new(NvmeConnector::new()), Expect::Nvme).await;
    // A clean stop withdraws the plane from the kernel; dropping the gateway alone would end
    // the test before that ran, leaving ports that a later simulator on the same addresses
    // cannot take.
    gw.stop().await;
    let left: Vec<String> = std::fs::read_dir("/sys/kernel/config/nvmet/subsystems")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("nqn.1988-11.com.dell:powerflex:"))
        .collect();
    assert!(left.is_empty(), "left in nvmet's configfs after the stop: {left:?}");
    let _ = writeln!(std::io::stderr(), "nvme host copy: {stats}");
}
