//! The data plane through the real `nvme` connector: attach, write, snapshot,
//! restore and both kinds of copy, with the bytes checked on the kernel's
//! NVMe/TCP devices.
//!
//! This needs root, the `nvme_fabrics`/`nvme_tcp` (host) and `nvmet`/`nvmet_tcp`
//! (target) kernel modules, nvme-cli, and the simulator's nvmet data plane.
//! On a machine without the modules the test says so loudly on stderr; set
//! `PFLEX_REQUIRE_NVME=1` (as the VM run does) to turn that into a failure.

mod support;

use std::io::Write;
use std::sync::Arc;

use powerflex_driver::connector::nvme::NvmeConnector;
use powerflex_driver::discovery::HostProbe;
use powerflex_driver::naming::{ContentType, VolumeType, GIB};
use powerflex_driver::{CopyMethod, CopyRequest, CreateOptions, Volume};
use support::*;
use uuid::Uuid;

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

fn read(dev: &dyn powerflex_driver::BlockDevice, offset: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    dev.read_at(&mut b, offset).unwrap();
    b
}

#[tokio::test]
async fn attach_write_snapshot_restore_and_copy_over_nvme_tcp() {
    if !nvme_available() {
        return;
    }
    let gw = powerflex_sim::testing::TestGateway::start_with(powerflex_sim::testing::Options {
        data_plane: powerflex_sim::dataplane::PlaneKind::Nvmet,
        ..Default::default()
    })
    .await;
    let d = driver_with(&gw, &["powerflex.clone_copy=false"], Arc::new(NvmeConnector::new())).await;
    let d = d.with_timeouts(std::time::Duration::from_secs(30), std::time::Duration::from_secs(10));
    let v = Volume::new(VolumeType::Custom, ContentType::Block, Uuid::new_v4());
    d.create_volume(&v, &CreateOptions { size: 8 * GIB, thick: false }).await.unwrap();

    // Attach and write A.
    let a = pattern(1, 1 << 20);
    let att = d.attach_volume(&v).await.unwrap();
    let path = att.path().expect("a kernel device");
    assert!(path.to_string_lossy().starts_with("/dev/nvme"), "{path:?}");
    assert_eq!(att.device.size().unwrap(), 8 * GIB);
    att.device.write_at(&a, 4 << 20).unwrap();
    att.device.flush().unwrap();
    drop(att);
    d.detach_volume(&v).await.unwrap();

    // Snapshot, then overwrite with B, then restore: A again.
    let snap = d.create_snapshot(&v, Uuid::new_v4()).await.unwrap();
    let b = pattern(2, 1 << 20);
    let att = d.attach_volume(&v).await.unwrap();
    att.device.write_at(&b, 4 << 20).unwrap();
    att.device.flush().unwrap();
    drop(att);
    d.detach_volume(&v).await.unwrap();
    d.restore_volume(&v, &snap).await.unwrap();
    let att = d.attach_volume(&v).await.unwrap();
    assert!(read(att.device.as_ref(), 4 << 20, a.len()) == a, "restored to A");
    att.device.write_at(&b, 4 << 20).unwrap();
    att.device.flush().unwrap();
    drop(att);
    d.detach_volume(&v).await.unwrap();

    // Host copy with the snapshot: the copy reads B, its snapshot reads A.
    let c = Volume::new(VolumeType::Custom, ContentType::Block, Uuid::new_v4());
    let cs = c.snapshot(Uuid::new_v4());
    let req = CopyRequest {
        source: v,
        source_snapshots: vec![snap],
        target: c,
        target_snapshots: vec![cs],
        size: None,
        thick: false,
    };
    let report = d.copy_volume(&req, None).await.unwrap();
    assert_eq!(report.method, CopyMethod::HostCopy);
    for (vol, want) in [(c, &b), (cs, &a)] {
        let att = d.attach_volume(&vol).await.unwrap();
        assert!(read(att.device.as_ref(), 4 << 20, want.len()) == *want, "{}", vol.name());
        drop(att);
        d.detach_volume(&vol).await.unwrap();
    }

    // Snapshot copy (clone_copy=false, no snapshots taken along): the copy reads B.
    let plain = Volume::new(VolumeType::Custom, ContentType::Block, Uuid::new_v4());
    d.create_volume(&plain, &CreateOptions { size: 8 * GIB, thick: false }).await.unwrap();
    let att = d.attach_volume(&plain).await.unwrap();
    att.device.write_at(&b, 0).unwrap();
    att.device.flush().unwrap();
    drop(att);
    d.detach_volume(&plain).await.unwrap();
    let sc = Volume::new(VolumeType::Custom, ContentType::Block, Uuid::new_v4());
    let req = CopyRequest {
        source: plain,
        source_snapshots: vec![],
        target: sc,
        target_snapshots: vec![],
        size: None,
        thick: false,
    };
    assert_eq!(d.copy_volume(&req, None).await.unwrap().method, CopyMethod::Snapshot);
    let att = d.attach_volume(&sc).await.unwrap();
    assert!(read(att.device.as_ref(), 0, b.len()) == b);
    drop(att);
    d.detach_volume(&sc).await.unwrap();

    for x in [cs, c, sc, plain, snap, v] {
        d.delete_volume(&x).await.unwrap();
    }
    assert_no_host_leftovers(&d).await;
}
