//! The Alletra driver against the in-process `alletra-sim` over HTTPS (its CA
//! trusted, verification on): LXD's flows with the bytes checked through the
//! `sim` connector (the emulator's `/sim/volumes/{name}/data?host=`), and
//! every revert path made to fail by real means (a name already taken, the
//! pool's volume set missing, a connector that fails), each checked to leave
//! nothing behind on the array.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use powerflex_driver::alletra::client::types::CreateVolume;
use powerflex_driver::alletra::{ops, AlletraName, WsapiCode};
use powerflex_driver::array::{ArrayDriver, ArrayKind};
use powerflex_driver::keys::parse_key_values;
use powerflex_driver::naming::{ContentType, VolumeType};
use powerflex_driver::pool::{Pools, Settings};
use powerflex_driver::state::StateDir;
use powerflex_driver::{CopyMethod, CopyRequest, CreateOptions, Error, Volume};
use powerflex_sim::alletra::testing::TestArray;
use support::alletra::*;
use support::{pattern, ScratchConnector};
use uuid::Uuid;

#[tokio::test]
async fn lxds_flows_with_the_bytes_checked() {
    let a = TestArray::start().await;
    let d = driver(&a, "pool1", None).await;
    d.create_pool().await.unwrap();
    assert_eq!(d.discovery().target_addresses.len(), 2, "the two ready NVMe ports");
    assert!(d.host_name().ends_with("-nvme-tcp"));

    let vol = custom(ContentType::Block);
    let info = d.create_volume(&vol, &CreateOptions { size: 512 * MIB, thick: false }).await.unwrap();
    assert_eq!(info.name, format!("u-{}-b", vol.uuid.simple()));
    assert_eq!((info.size, info.provisioning.as_str()), (512 * MIB, "tpvv"));
    assert_eq!(info.parsed, Some(vol));
    assert_eq!(set_members(&d).await, vec![info.name.clone()]);

    // Attach makes the host entity and a vLUN; detach of the last one removes both.
    let att = d.attach_volume(&vol).await.unwrap();
    assert!(att.newly_mapped);
    assert!(d.client().hosts().await.unwrap().iter().any(|h| h.name == d.host_name()));
    assert_eq!(d.volume_info(&vol).await.unwrap().unwrap().mapped_hosts, vec![d.host_name().to_string()]);
    drop(att);
    d.detach_volume(&vol).await.unwrap();
    assert_no_host_leftovers(&d).await;

    // Snapshot, overwrite, restore (promote and wait for its task).
    write(&d, &vol, 1).await;
    let s1 = d.create_snapshot(&vol, Uuid::new_v4()).await.unwrap();
    assert_eq!(s1.alletra_name(), format!("su-{}-b", s1.uuid.simple()));
    write(&d, &vol, 2).await;
    assert_eq!(read(&d, &vol).await, pattern(2, MIB as usize));
    d.restore_volume(&vol, &s1).await.unwrap();
    assert_eq!(read(&d, &vol).await, pattern(1, MIB as usize));
    write(&d, &vol, 3).await;
    let s2 = d.create_snapshot(&vol, Uuid::new_v4()).await.unwrap();
    let snaps: Vec<String> = d.volume_snapshots(&vol).await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(snaps, vec![s1.alletra_name(), s2.alletra_name()]);

    // Restore refuses a volume attached here.
    let att = d.attach_volume(&vol).await.unwrap();
    assert!(matches!(d.restore_volume(&vol, &s1).await, Err(Error::Attached { .. })));
    drop(att);
    d.detach_volume(&vol).await.unwrap();

    // Grow by the delta; shrinking and sizes off 256 MiB are refused.
    assert_eq!(d.resize_volume(&vol, 1024 * MIB).await.unwrap(), 1024 * MIB);
    assert_eq!(size_of(&d, &vol).await, 1024 * MIB);
    assert!(matches!(d.resize_volume(&vol, 512 * MIB).await, Err(Error::ShrinkRefused { .. })));
    assert!(matches!(d.resize_volume(&vol, 1000 * MIB).await, Err(Error::Config(_))));

    // Copy with snapshots in LXD's order: each snapshot into the copy, snapshotted there, then the volume.
    let target = custom(ContentType::Block);
    let (t1, t2) = (target.snapshot(Uuid::new_v4()), target.snapshot(Uuid::new_v4()));
    let req = CopyRequest {
        source: vol,
        source_snapshots: vec![s1, s2],
        target,
        target_snapshots: vec![t1, t2],
        size: None,
        thick: false,
    };
    let report = d.copy_volume(&req).await.unwrap();
    assert_eq!((report.method, report.passes), (CopyMethod::PhysicalCopy, 3));
    let copies: Vec<String> = d.volume_snapshots(&target).await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(copies, vec![t1.alletra_name(), t2.alletra_name()]);
    assert_eq!(read(&d, &t1).await, pattern(1, MIB as usize), "the first snapshot's bytes");
    assert_eq!(read(&d, &t2).await, pattern(3, MIB as usize));
    assert_eq!(read(&d, &target).await, pattern(3, MIB as usize));
    assert_eq!(size_of(&d, &target).await, 1024 * MIB);

    // Delete: an export here goes first; cascade takes the snapshots along.
    let att = d.attach_volume(&target).await.unwrap();
    drop(att);
    d.delete_volume(&target).await.unwrap();
    for name in [target.alletra_name(), t1.alletra_name(), t2.alletra_name()] {
        assert!(!exists(&d, &name).await, "{name} left behind");
    }
    assert_no_host_leftovers(&d).await;
    d.delete_volume(&vol).await.unwrap();
    assert!(!exists(&d, &s1.alletra_name()).await);
    d.delete_volume(&vol).await.unwrap();
    assert!(set_members(&d).await.is_empty());
    d.delete_pool().await.unwrap();
    assert!(d.client().volume_set("pool1").await.is_err());
    d.delete_pool().await.unwrap();
}

#[tokio::test]
async fn iscsi_mode_exports_to_an_iscsi_host_entity() {
    let a = TestArray::start().await;
    let d = driver_with(&a, "pool1", &["alletra.mode=iscsi"], None).await;
    d.create_pool().await.unwrap();
    let ips: Vec<String> = d.discovery().target_addresses.iter().map(|a| a.to_string()).collect();
    assert_eq!(ips, vec!["127.0.0.6", "127.0.0.7"], "the ready iSCSI ports' IPAddr");
    assert!(d.host_name().ends_with("-iscsi"));
    let vol = custom(ContentType::Block);
    d.create_volume(&vol, &CreateOptions { size: 256 * MIB, thick: false }).await.unwrap();
    let att = d.attach_volume(&vol).await.unwrap();
    let hosts = d.client().hosts().await.unwrap();
    let host = hosts.iter().find(|h| h.name == d.host_name()).expect("the host entity");
    assert_eq!(host.iscsi_paths.len(), 1, "{host:?}");
    assert!(host.iscsi_paths[0].name.as_deref().unwrap().starts_with("iqn."));
    drop(att);
    d.detach_volume(&vol).await.unwrap();
    write(&d, &vol, 7).await;
    assert_eq!(read(&d, &vol).await, pattern(7, MIB as usize));
    assert_no_host_leftovers(&d).await;
    // alletra.target replaces the ports.
    let t = driver_with(&a, "pool1", &["alletra.mode=iscsi", "alletra.target=127.0.0.7"], None).await;
    assert_eq!(t.discovery().target_addresses, vec![std::net::IpAddr::from([127, 0, 0, 7])]);
}

#[tokio::test]
async fn sizes_and_companions_as_lxd_makes_them() {
    let a = TestArray::start().await;
    let d = driver(&a, "pool1", None).await;
    d.create_pool().await.unwrap();
    let v = custom(ContentType::Filesystem);
    let err = d.create_volume(&v, &CreateOptions { size: 300 * MIB, thick: false }).await.unwrap_err();
    assert!(err.to_string().contains("multiple of 256MiB"), "{err}");
    assert!(!exists(&d, &v.alletra_name()).await);
    let iso = Volume::new(VolumeType::Image, ContentType::Iso, Uuid::new_v4());
    let info = d.create_volume(&iso, &CreateOptions { size: 300 * MIB, thick: false }).await.unwrap();
    assert_eq!((info.size, info.name.ends_with("-i"), info.name.starts_with("i-")), (512 * MIB, true, true));
    let m = vm();
    d.create_volume(&m, &CreateOptions { size: 1024 * MIB, thick: false }).await.unwrap();
    let fs = m.companion().unwrap();
    assert_eq!(size_of(&d, &fs).await, ops::VM_FILESYSTEM_SIZE);
    assert_eq!(fs.alletra_name(), format!("v-{}", m.uuid.simple()));
    let mut members = set_members(&d).await;
    members.sort();
    let mut expected = vec![info.name, m.alletra_name(), fs.alletra_name()];
    expected.sort();
    assert_eq!(members, expected);
}

#[tokio::test]
async fn failed_creates_and_snapshots_leave_nothing() {
    let a = TestArray::start().await;
    let d = driver(&a, "pool1", None).await;
    d.create_pool().await.unwrap();
    let taken = |name: String| CreateVolume { name, cpg: "SSD_r6".into(), size_mib: 256, tpvv: true };

    // The filesystem volume's name is taken: the block volume goes again.
    let m = vm();
    d.client().create_volume(&taken(m.companion().unwrap().alletra_name())).await.unwrap();
    let err = d.create_volume(&m, &CreateOptions { size: 512 * MIB, thick: false }).await.unwrap_err();
    assert_eq!(err.wsapi_code(), Some(WsapiCode::ExistentVolume), "{err}");
    assert!(!exists(&d, &m.alletra_name()).await);
    assert!(set_members(&d).await.is_empty(), "removed from the set too");

    // The pool's volume set is missing: the volume made before the failed add goes again.
    let orphan = driver(&a, "no-such-set", None).await;
    let v = custom(ContentType::Block);
    let err = orphan.create_volume(&v, &CreateOptions { size: 256 * MIB, thick: false }).await.unwrap_err();
    assert_eq!(err.wsapi_code(), Some(WsapiCode::NonExistentSet), "{err}");
    assert!(!exists(&d, &v.alletra_name()).await);

    // A virtual machine's snapshot whose second name is taken: the first snapshot goes again.
    let m = vm();
    d.create_volume(&m, &CreateOptions { size: 512 * MIB, thick: false }).await.unwrap();
    let snap = m.snapshot(Uuid::new_v4());
    d.client().create_volume(&taken(snap.companion().unwrap().alletra_name())).await.unwrap();
    let err = d.create_snapshot(&m, snap.uuid).await.unwrap_err();
    assert_eq!(err.wsapi_code(), Some(WsapiCode::ExistentVolume), "{err}");
    assert!(!exists(&d, &snap.alletra_name()).await);
    assert!(d.volume_snapshots(&m).await.unwrap().is_empty());
}

#[tokio::test]
async fn failed_copies_leave_nothing() {
    let a = TestArray::start().await;
    let d = driver(&a, "pool1", None).await;
    d.create_pool().await.unwrap();
    let vol = custom(ContentType::Block);
    d.create_volume(&vol, &CreateOptions { size: 512 * MIB, thick: false }).await.unwrap();
    let (s1, s2) = (vol.snapshot(Uuid::new_v4()), vol.snapshot(Uuid::new_v4()));
    d.create_snapshot(&vol, s1.uuid).await.unwrap();
    d.create_snapshot(&vol, s2.uuid).await.unwrap();

    // The second target snapshot's name is taken: the copy, its first snapshot and its set membership go.
    let target = custom(ContentType::Block);
    let (t1, t2) = (target.snapshot(Uuid::new_v4()), target.snapshot(Uuid::new_v4()));
    let taken = CreateVolume { name: t2.alletra_name(), cpg: "SSD_r6".into(), size_mib: 256, tpvv: true };
    d.client().create_volume(&taken).await.unwrap();
    let req = CopyRequest {
        source: vol,
        source_snapshots: vec![s1, s2],
        target,
        target_snapshots: vec![t1, t2],
        size: None,
        thick: false,
    };
    let err = d.copy_volume(&req).await.unwrap_err();
    assert_eq!(err.wsapi_code(), Some(WsapiCode::ExistentVolume), "{err}");
    assert!(!exists(&d, &target.alletra_name()).await);
    assert!(!exists(&d, &t1.alletra_name()).await);
    assert_eq!(set_members(&d).await, vec![vol.alletra_name()]);

    // A copy smaller than its source is refused before anything is made.
    let small = CopyRequest { size: Some(256 * MIB), source_snapshots: vec![], target_snapshots: vec![], ..req };
    assert!(matches!(d.copy_volume(&small).await, Err(Error::CopyTooSmall { .. })));
    assert!(!exists(&d, &target.alletra_name()).await);
}

/// A physical copy whose task ends CANCELLED (cancelled on the array by someone else, as an
/// administrator can): the copy fails naming the task, and the destination goes again.
#[tokio::test]
async fn a_copy_whose_task_is_cancelled_leaves_nothing() {
    // 1 MiB/s: the 4 MiB the source holds take four seconds to copy, time to cancel the task.
    let mut options = powerflex_sim::alletra::testing::Options::default();
    options.topology.limits.copy_rate_mib_per_sec = Some(1);
    let a = TestArray::start_with(options).await;
    let d = driver(&a, "pool1", None).await;
    d.create_pool().await.unwrap();
    let vol = custom(ContentType::Block);
    d.create_volume(&vol, &CreateOptions { size: 256 * MIB, thick: false }).await.unwrap();
    with_device(&d, &vol, |dev| dev.write_at(&pattern(7, 4 * MIB as usize), 0).unwrap()).await;

    let target = custom(ContentType::Block);
    let req = CopyRequest {
        source: vol,
        source_snapshots: vec![],
        target,
        target_snapshots: vec![],
        size: None,
        thick: false,
    };
    let copying = {
        let d = d.clone();
        tokio::spawn(async move { d.copy_volume(&req).await })
    };
    let admin = Wsapi::login(&a).await;
    let task = admin.first_active_task().await;
    let (status, body) = admin.put(&format!("/tasks/{task}"), serde_json::json!({"action": 1})).await;
    assert_eq!(status, 200, "cancel: {body}");

    let err = copying.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("was cancelled"), "{err}");
    assert!(!exists(&d, &target.alletra_name()).await, "the destination goes again");
    assert_eq!(set_members(&d).await, vec![vol.alletra_name()]);
}

#[tokio::test]
async fn failed_attaches_leave_no_vlun_host_or_session() {
    let a = TestArray::start().await;
    let scratch = Arc::new(ScratchConnector::new());
    let d = driver(&a, "pool1", Some(scratch.clone())).await;
    d.create_pool().await.unwrap();
    let vol = custom(ContentType::Block);
    d.create_volume(&vol, &CreateOptions { size: 256 * MIB, thick: false }).await.unwrap();

    scratch.fail_connect.store(true, Ordering::SeqCst);
    assert!(d.attach_volume(&vol).await.is_err());
    assert_no_host_leftovers(&d).await;

    scratch.fail_connect.store(false, Ordering::SeqCst);
    *scratch.fail_open_after.lock().unwrap() = Some(0);
    assert!(d.attach_volume(&vol).await.is_err());
    assert_no_host_leftovers(&d).await;
    assert!(!scratch.is_connected(), "the session this attach made is gone: {:?}", scratch.events());

    // A second volume failing while the first stays attached keeps the first's export and session.
    *scratch.fail_open_after.lock().unwrap() = None;
    let first = d.attach_volume(&vol).await.unwrap();
    let other = custom(ContentType::Block);
    d.create_volume(&other, &CreateOptions { size: 256 * MIB, thick: false }).await.unwrap();
    *scratch.fail_open_after.lock().unwrap() = Some(1);
    assert!(d.attach_volume(&other).await.is_err());
    let exported: Vec<String> =
        d.client().host_vluns(d.host_name()).await.unwrap().into_iter().map(|l| l.volume_name).collect();
    assert_eq!(exported, vec![vol.alletra_name()]);
    assert!(scratch.is_connected());
    drop(first);
    d.detach_volume(&vol).await.unwrap();
    assert_no_host_leftovers(&d).await;
    assert!(!scratch.is_connected());
}

#[tokio::test]
async fn pools_of_both_drivers_by_name() {
    let a = TestArray::start().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        ca_pem: Some(a.ca_cert_pem.clone().into_bytes()),
        task_poll: Duration::from_millis(20),
        ..Settings::default()
    };
    let p =
        Pools::with_connector(StateDir::open(dir.path()).unwrap(), settings, powerflex_driver::ConnectorChoice::Sim);
    let view = p.create("arr", ArrayKind::Alletra, &keys(&a, &["alletra.mode=nvme"])).await.unwrap();
    assert_eq!(view.driver, ArrayKind::Alletra);
    assert_eq!(view.config["alletra.user.password"], "<redacted>");
    let ArrayDriver::Alletra(d) = p.driver("arr").await.unwrap() else { panic!("an Alletra pool") };
    assert!(set_members(&d).await.is_empty(), "the volume set exists");

    let v = p
        .volume_create(
            "arr",
            VolumeType::Custom,
            "data",
            ContentType::Block,
            &parse_key_values(["size=512MiB"]).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(v.array_name, format!("u-{}-b", v.uuid.simple()));
    assert!(
        p.volume_create(
            "arr",
            VolumeType::Custom,
            "thick",
            ContentType::Block,
            &parse_key_values(["block.type=thick"]).unwrap()
        )
        .await
        .is_err(),
        "Alletra volumes are thin"
    );
    p.volume_snapshot("arr", VolumeType::Custom, "data", "snap0").await.unwrap();
    p.volume_copy("arr", VolumeType::Custom, "data", VolumeType::Custom, "data2", false, None).await.unwrap();
    let shown = p.volume_show("arr", VolumeType::Custom, "data2").await.unwrap();
    assert_eq!(shown.snapshots.len(), 1);
    assert_eq!(shown.array.unwrap().size, 512 * MIB);
    assert!(p.volume_attach("arr", VolumeType::Custom, "data").await.unwrap().is_none(), "sim: no kernel path");
    p.volume_detach("arr", VolumeType::Custom, "data").await.unwrap();
    p.volume_restore("arr", VolumeType::Custom, "data", "snap0").await.unwrap();
    assert_eq!(p.volume_resize("arr", VolumeType::Custom, "data", 768 * MIB).await.unwrap(), 768 * MIB);
    assert_eq!(p.volume_list("arr").await.unwrap().len(), 2);
    for name in ["data/snap0", "data", "data2"] {
        p.volume_delete("arr", VolumeType::Custom, name).await.unwrap();
    }
    p.delete("arr").await.unwrap();
    assert!(d.client().volume_set("arr").await.is_err(), "the volume set went with the pool");
    assert!(p.list().unwrap().is_empty());
    assert_no_host_leftovers(&d).await;
}
