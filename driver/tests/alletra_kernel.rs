//! The Alletra driver's data test through the kernel: `alletra-sim` in process with its
//! kernel-target plane (NVMe ports through nvmet, iSCSI ports through LIO), and the driver
//! attaching with the real `nvme` connector (nvme-cli, found by NGUID) and the real `iscsi`
//! connector (iscsiadm, found by WWN). In each mode: write, snapshot, overwrite, restore by
//! promote, copy with a snapshot, every read checked through an attached device.
//!
//! Needs root, nvmet, nvme-tcp, LIO, iscsi_tcp, iscsid, nvme-cli and iscsiadm, so
//! `scripts/test-nvmet-e2e.sh` runs it in the VM with `PFLEX_ALLETRA_E2E=1`; without that
//! variable it says so and does nothing.

mod support;

use std::sync::Arc;

use powerflex_driver::connector::iscsi::IscsiConnector;
use powerflex_driver::connector::nvme::NvmeConnector;
use powerflex_driver::connector::Connector;
use powerflex_driver::naming::ContentType;
use powerflex_driver::{CopyMethod, CopyRequest, CreateOptions};
use powerflex_sim::alletra::testing::{Options, TestArray};
use powerflex_sim::dataplane::PlaneKind;
use support::alletra::*;
use support::pattern;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alletra_data_through_nvme_and_iscsi() {
    if std::env::var_os("PFLEX_ALLETRA_E2E").is_none() {
        eprintln!("alletra_data_through_nvme_and_iscsi: not run here; scripts/test-nvmet-e2e.sh runs it in a VM");
        return;
    }
    let a = TestArray::start_with(Options { data_plane: PlaneKind::Nvmet, ..Default::default() }).await;
    let connectors: [(&str, Arc<dyn Connector>); 2] =
        [("nvme", Arc::new(NvmeConnector::new())), ("iscsi", Arc::new(IscsiConnector::new()))];
    for (mode, connector) in connectors {
        let started = std::time::Instant::now();
        let mode_key = format!("alletra.mode={mode}");
        let d = driver_with(&a, &format!("pool-{mode}"), &[&mode_key], Some(connector)).await;
        d.create_pool().await.unwrap();
        let vol = custom(ContentType::Block);
        d.create_volume(&vol, &CreateOptions { size: 512 * MIB, thick: false }).await.unwrap();

        write(&d, &vol, 1).await;
        let s1 = d.create_snapshot(&vol, Uuid::new_v4()).await.unwrap();
        write(&d, &vol, 2).await;
        assert_eq!(read(&d, &vol).await, pattern(2, MIB as usize), "{mode}: the overwrite");
        assert_eq!(read(&d, &s1).await, pattern(1, MIB as usize), "{mode}: the snapshot keeps the first bytes");
        d.restore_volume(&vol, &s1).await.unwrap();
        assert_eq!(read(&d, &vol).await, pattern(1, MIB as usize), "{mode}: restored by promote");

        write(&d, &vol, 3).await;
        let target = custom(ContentType::Block);
        let t1 = target.snapshot(Uuid::new_v4());
        let req = CopyRequest {
            source: vol,
            source_snapshots: vec![s1],
            target,
            target_snapshots: vec![t1],
            size: None,
            thick: false,
        };
        let report = d.copy_volume(&req).await.unwrap();
        assert_eq!((report.method, report.passes), (CopyMethod::PhysicalCopy, 2));
        assert_eq!(read(&d, &t1).await, pattern(1, MIB as usize), "{mode}: the copy's snapshot");
        assert_eq!(read(&d, &target).await, pattern(3, MIB as usize), "{mode}: the copy");

        d.delete_volume(&target).await.unwrap();
        d.delete_volume(&vol).await.unwrap();
        d.delete_pool().await.unwrap();
        assert_no_host_leftovers(&d).await;
        println!("alletra {mode}: attach, write, snapshot, restore, copy checked in {:.1?}", started.elapsed());
    }
    a.stop().await;
    for dir in ["/sys/kernel/config/nvmet/subsystems", "/sys/kernel/config/target/iscsi"] {
        let left: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("nqn.2020-07.com.hpe:") || n.contains("3pardata"))
            .collect();
        assert!(left.is_empty(), "left in {dir} after the stop: {left:?}");
    }
    println!("ALLETRA-DRIVER-E2E-COMPLETE");
}
