//! Driver operations against the in-process simulator over HTTPS, TLS
//! verification on with the simulator's certificate as the CA.

mod support;

use std::sync::Arc;

use powerflex_driver::host::HostProbe;
use powerflex_driver::naming::{ContentType, VolumeType, GIB};
use powerflex_driver::powerflex::client::{Client, ClientError, ErrorCode};
use powerflex_driver::powerflex::config::{Mode, PoolConfig, PoolRef};
use powerflex_driver::powerflex::discovery;
use powerflex_driver::powerflex::hosts::HostKey;
use powerflex_driver::powerflex::PowerFlexName;
use powerflex_driver::{ClientOptions, CopyMethod, CopyRequest, CreateOptions, Error, Volume};
use support::*;
use uuid::Uuid;

fn custom_block() -> Volume {
    Volume::new(VolumeType::Custom, ContentType::Block, Uuid::new_v4())
}

fn vm() -> Volume {
    Volume::new(VolumeType::VirtualMachine, ContentType::Block, Uuid::new_v4())
}

const SIZE_8: CreateOptions = CreateOptions { size: 8 * GIB, thick: false };

// ----- Transport, TLS and login ----------------------------------------------------------------

#[tokio::test]
async fn tls_is_verified_against_the_given_ca() {
    let gw = gateway().await;
    assert!(gw.url.starts_with("https://"));
    assert_eq!(client(&gw).version().await.unwrap(), "4.5");

    // Verification on and no CA: the self-signed chain is refused.
    let plain = Client::new(ClientOptions::new(&gw.url, &gw.user, &gw.password)).unwrap();
    let err = plain.version().await.unwrap_err();
    assert!(matches!(err, ClientError::Transport { .. }), "{err}");

    // powerflex.gateway.verify=false skips verification.
    let mut o = ClientOptions::new(&gw.url, &gw.user, &gw.password);
    o.verify_tls = false;
    assert_eq!(Client::new(o).unwrap().version().await.unwrap(), "4.5");

    // A CA file that holds no certificate is refused up front.
    let mut bad = options(&gw);
    bad.ca_pem = Some(b"not a certificate".to_vec());
    assert!(matches!(Client::new(bad), Err(ClientError::Setup(_))));
}

#[tokio::test]
async fn bad_credentials_are_unauthorized() {
    let gw = gateway().await;
    let mut o = options(&gw);
    o.password = "wrong".into();
    let err = Client::new(o).unwrap().version().await.unwrap_err();
    assert!(matches!(err, ClientError::Unauthorized { .. }), "{err}");
}

#[tokio::test]
async fn an_expired_token_earns_one_relogin() {
    let gw = gateway().await;
    let c = client(&gw);
    c.version().await.unwrap();
    assert_eq!(c.login_count().await, 1);
    // Expire every token through the admin surface.
    let admin = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(gw.ca_cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let resp = admin
        .post(format!("{}/sim/tokens/expire", gw.url))
        .basic_auth(&gw.user, Some(&gw.password))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(c.version().await.unwrap(), "4.5");
    assert_eq!(c.login_count().await, 2);
}

#[tokio::test]
async fn unreachable_gateway_fails_cleanly_with_timeouts() {
    let mut o = ClientOptions::new("https://127.0.0.1:1", "admin", "x");
    o.connect_timeout = std::time::Duration::from_secs(2);
    o.timeout = std::time::Duration::from_secs(3);
    o.max_connections = 1;
    let err = Client::new(o).unwrap().version().await.unwrap_err();
    assert!(matches!(err, ClientError::Transport { .. }), "{err}");
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}

#[tokio::test]
async fn concurrent_calls_share_one_login_under_a_connection_limit() {
    let gw = gateway().await;
    let mut o = options(&gw);
    o.max_connections = 2;
    let c = Client::new(o).unwrap();
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.version().await })
        })
        .collect();
    for t in calls {
        assert_eq!(t.await.unwrap().unwrap(), "4.5");
    }
    assert_eq!(c.login_count().await, 1);
}

// ----- Discovery -------------------------------------------------------------------------------

#[tokio::test]
async fn discovery_by_name_and_by_id() {
    let gw = gateway().await;
    let c = client(&gw);
    let by_name = discovery::discover(&c, &config(&gw, &[]), &HostProbe::default()).await.unwrap();
    assert_eq!(by_name.pool.name.as_deref(), Some("sp1"));
    assert!(by_name.pool.zero_padding_enabled);
    assert_eq!(by_name.domain.name.as_deref(), Some("pd1"));
    assert_eq!(by_name.system.id, by_name.domain.system_id);
    assert_eq!(by_name.mode, Mode::Nvme);
    let addrs: Vec<String> = by_name.sdt_addresses.iter().map(|a| a.to_string()).collect();
    assert_eq!(addrs, vec!["127.0.0.2", "127.0.0.3"]);
    assert_eq!(by_name.pool.id.len(), 16);

    // The same pool by ID alone.
    let mut keys = config(&gw, &[]).to_map();
    keys.remove("powerflex.domain");
    keys.insert("powerflex.pool".into(), by_name.pool.id.clone());
    let cfg = PoolConfig::from_map(&keys).unwrap();
    assert_eq!(cfg.pool, PoolRef::Id(by_name.pool.id.clone()));
    let by_id = discovery::discover(&c, &cfg, &HostProbe::default()).await.unwrap();
    assert_eq!(by_id, by_name);

    // A pool in the other domain, and powerflex.sdt overriding the SDTs.
    let other = config(&gw, &["powerflex.domain=pd2", "powerflex.pool=sp3", "powerflex.sdt=127.0.0.9"]);
    let d2 = discovery::discover(&c, &other, &HostProbe::default()).await.unwrap();
    assert_eq!(d2.domain.name.as_deref(), Some("pd2"));
    assert_eq!(d2.sdt_addresses, vec!["127.0.0.9".parse::<std::net::IpAddr>().unwrap()]);
}

#[tokio::test]
async fn discovery_errors() {
    let gw = gateway().await;
    let c = client(&gw);
    let probe = HostProbe::default();
    let err = discovery::discover(&c, &config(&gw, &["powerflex.domain=nope"]), &probe).await.unwrap_err();
    assert!(matches!(err, Error::DomainNotFound { .. }), "{err}");
    assert!(err.to_string().contains("powerflex.domain"));

    let err = discovery::discover(&c, &config(&gw, &["powerflex.pool=sp3"]), &probe).await.unwrap_err();
    assert!(matches!(err, Error::PoolNotFound { .. }), "sp3 is in pd2, not pd1: {err}");

    let mut keys = config(&gw, &[]).to_map();
    keys.remove("powerflex.domain");
    keys.insert("powerflex.pool".into(), "00000000deadbeef".into());
    let err = discovery::discover(&c, &PoolConfig::from_map(&keys).unwrap(), &probe).await.unwrap_err();
    assert!(matches!(err, Error::PoolNotFound { .. } | Error::Gateway(_)), "{err}");

    // No mode key and a host with neither NVMe modules nor the SDC.
    let empty = tempfile::tempdir().unwrap();
    let mut keys = config(&gw, &[]).to_map();
    keys.remove("powerflex.mode");
    let err = discovery::discover(&c, &PoolConfig::from_map(&keys).unwrap(), &HostProbe::with_root(empty.path()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoModeDetected), "{err}");
    // With the modules present, the mode is nvme.
    for m in ["nvme_fabrics", "nvme_tcp"] {
        std::fs::create_dir_all(empty.path().join("sys/module").join(m)).unwrap();
    }
    let d = discovery::discover(&c, &PoolConfig::from_map(&keys).unwrap(), &HostProbe::with_root(empty.path()))
        .await
        .unwrap();
    assert_eq!(d.mode, Mode::Nvme);
}

// ----- Create, delete, resize -------------------------------------------------------------------

#[tokio::test]
async fn create_names_rounds_and_provisions() {
    let gw = gateway().await;
    let (d, _) = driver(&gw, &[]).await;
    let v = custom_block();
    let info = d.create_volume(&v, &CreateOptions { size: 10 * GIB, thick: false }).await.unwrap();
    assert_eq!(info.name, v.name());
    assert!(info.name.starts_with("u_") && info.name.ends_with("==.b"), "{}", info.name);
    assert_eq!(info.size, 16 * GIB);
    assert_eq!(info.provisioning, "ThinProvisioned");
    assert_eq!(info.parsed, Some(v));

    let thick = Volume::new(VolumeType::Custom, ContentType::Filesystem, Uuid::new_v4());
    let info = d.create_volume(&thick, &CreateOptions { size: 1, thick: true }).await.unwrap();
    assert_eq!(info.provisioning, "ThickProvisioned");
    assert_eq!(info.size, 8 * GIB);
    assert!(!info.name.contains('.'));

    // The same volume again: the gateway's name-in-use error, typed.
    let err = d.create_volume(&v, &SIZE_8).await.unwrap_err();
    assert_eq!(err.gateway_code(), Some(ErrorCode::NameInUse), "{err}");

    // A virtual machine is two volumes.
    let m = vm();
    d.create_volume(&m, &CreateOptions { size: 24 * GIB, thick: false }).await.unwrap();
    let names = volume_names(&d).await;
    assert!(names.contains(&m.name()) && names.contains(&m.companion().unwrap().name()), "{names:?}");
    assert_eq!(d.volume_info(&m).await.unwrap().unwrap().size, 24 * GIB);
    assert_eq!(d.volume_info(&m.companion().unwrap()).await.unwrap().unwrap().size, 8 * GIB);

    // Delete removes both, and a second delete is success.
    d.delete_volume(&m).await.unwrap();
    d.delete_volume(&m).await.unwrap();
    let names = volume_names(&d).await;
    assert!(!names.contains(&m.name()) && !names.contains(&m.companion().unwrap().name()));
}

#[tokio::test]
async fn a_failed_vm_create_leaves_nothing() {
    let gw = gateway().await;
    let (d, _) = driver(&gw, &[]).await;
    let m = vm();
    // Take the filesystem volume's name first, so the second step fails.
    let squatter = m.companion().unwrap();
    d.create_volume(&squatter, &SIZE_8).await.unwrap();
    let before = volume_names(&d).await;
    let err = d.create_volume(&m, &SIZE_8).await.unwrap_err();
    assert_eq!(err.gateway_code(), Some(ErrorCode::NameInUse), "{err}");
    assert_eq!(volume_names(&d).await, before, "the block volume was reverted");
}

#[tokio::test]
async fn resize_grows_in_8gib_steps_and_refuses_to_shrink() {
    let gw = gateway().await;
    let (d, _) = driver(&gw, &[]).await;
    let v = custom_block();
    d.create_volume(&v, &SIZE_8).await.unwrap();
    assert_eq!(d.resize_volume(&v, 8 * GIB).await.unwrap(), 8 * GIB);
    assert_eq!(d.resize_volume(&v, 17 * GIB).await.unwrap(), 24 * GIB);
    assert_eq!(d.volume_info(&v).await.unwrap().unwrap().size, 24 * GIB);
    let err = d.resize_volume(&v, 8 * GIB).await.unwrap_err();
    assert!(
        matches!(err, Error::ShrinkRefused { current, requested, .. } if current == 24 * GIB && requested == 8 * GIB),
        "{err}"
    );
    assert_eq!(d.volume_info(&v).await.unwrap().unwrap().size, 24 * GIB);

    // The gateway's own refusal (133) is the same typed error.
    let id = d.client().query_volume_id(&v.name()).await.unwrap();
    let err = d.client().set_volume_size(&id, 8).await.unwrap_err();
    assert!(err.is(ErrorCode::ShrinkNotSupported), "{err}");

    let missing = custom_block();
    assert!(matches!(d.resize_volume(&missing, 16 * GIB).await, Err(Error::VolumeNotFound { .. })));
}

#[tokio::test]
async fn gateway_errors_are_typed() {
    let gw = gateway().await;
    let c = client(&gw);
    let err = c.query_volume_id("u_nothing").await.unwrap_err();
    assert!(err.is(ErrorCode::VolumeNotFound), "{err}");
    assert_eq!(c.find_volume_id("u_nothing").await.unwrap(), None);
    let err = c.query_domain_id("nope").await.unwrap_err();
    assert!(err.is(ErrorCode::DomainNotFound), "{err}");
    let d = discovery::discover(&c, &config(&gw, &[]), &HostProbe::default()).await.unwrap();
    let req = powerflex_driver::powerflex::client::types::CreateVolume {
        name: "x".repeat(32),
        volume_size_in_gb: "8".into(),
        volume_type: "ThinProvisioned".into(),
        storage_pool_id: d.pool.id.clone(),
    };
    let err = c.create_volume(&req).await.unwrap_err();
    assert!(err.is(ErrorCode::NameTooLong), "{err}");
    let vid = c
        .create_volume(&powerflex_driver::powerflex::client::types::CreateVolume { name: "plain".into(), ..req })
        .await
        .unwrap();
    let host =
        c.create_host("other", "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001").await.unwrap();
    let err = c.remove_mapped_host(&vid, &host).await.unwrap_err();
    assert!(err.is(ErrorCode::MappingMissing), "{err}");
}

// ----- Snapshots and restore ---------------------------------------------------------------------

#[tokio::test]
async fn snapshot_list_restore_and_delete() {
    let gw = gateway().await;
    let (d, _) = driver(&gw, &[]).await;
    let v = custom_block();
    d.create_volume(&v, &SIZE_8).await.unwrap();
    let s1 = d.create_snapshot(&v, Uuid::new_v4()).await.unwrap();
    let s2 = d.create_snapshot(&v, Uuid::new_v4()).await.unwrap();
    assert!(s1.name().starts_with("su_") && s1.snapshot);
    let snaps = d.volume_snapshots(&v).await.unwrap();
    // Creation times have one-second resolution, so compare as a set.
    let names: std::collections::BTreeSet<String> = snaps.iter().map(|s| s.name.clone()).collect();
    assert_eq!(names, [s1.name(), s2.name()].into_iter().collect());
    let vinfo = d.volume_info(&v).await.unwrap().unwrap();
    for s in &snaps {
        assert_eq!(s.ancestor_id.as_deref(), Some(vinfo.id.as_str()));
        assert_eq!(s.vtree_id, vinfo.vtree_id);
    }
    d.restore_volume(&v, &s1).await.unwrap();
    d.delete_volume(&s1).await.unwrap();
    assert_eq!(d.volume_snapshots(&v).await.unwrap().len(), 1);
    let err = d.restore_volume(&v, &s1).await.unwrap_err();
    assert!(matches!(err, Error::VolumeNotFound { .. }), "{err}");
    let err = d.create_snapshot(&custom_block(), Uuid::new_v4()).await.unwrap_err();
    assert!(matches!(err, Error::VolumeNotFound { .. }), "{err}");
}

#[tokio::test]
async fn a_failed_vm_snapshot_leaves_nothing() {
    let gw = gateway().await;
    let (d, _) = driver(&gw, &[]).await;
    let m = vm();
    d.create_volume(&m, &SIZE_8).await.unwrap();
    let snap_uuid = Uuid::new_v4();
    // Take the filesystem snapshot's name first.
    let squat = m.snapshot(snap_uuid).companion().unwrap();
    let squatter = Volume::new(VolumeType::Custom, ContentType::Filesystem, Uuid::new_v4());
    d.create_volume(&squatter, &SIZE_8).await.unwrap();
    let sid = d.client().query_volume_id(&squatter.name()).await.unwrap();
    d.client().snapshot_volume(&d.discovery().system.id, &sid, &squat.name()).await.unwrap();
    let before = volume_names(&d).await;
    let err = d.create_snapshot(&m, snap_uuid).await.unwrap_err();
    assert_eq!(err.gateway_code(), Some(ErrorCode::NameInUse), "{err}");
    assert_eq!(volume_names(&d).await, before, "the block snapshot was reverted");
    assert!(d.volume_snapshots(&m).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_vtree_snapshot_limit_is_typed() {
    let gw = gateway().await;
    let (d, _) = driver(&gw, &[]).await;
    let v = custom_block();
    d.create_volume(&v, &SIZE_8).await.unwrap();
    let mut last = None;
    for _ in 0..130 {
        if let Err(e) = d.create_snapshot(&v, Uuid::new_v4()).await {
            last = Some(e);
            break;
        }
    }
    let err = last.expect("the snapshot limit was reached");
    assert_eq!(err.gateway_code(), Some(ErrorCode::TooManySnapshots), "{err}");
    assert_eq!(d.volume_snapshots(&v).await.unwrap().len(), 126);
}

// ----- Attach, detach, delete of mapped volumes -----------------------------------------------------

#[tokio::test]
async fn attach_creates_the_host_and_detach_removes_it_with_the_last_mapping() {
    let gw = gateway().await;
    let (d, scratch) = driver(&gw, &[]).await;
    let (a, b) = (custom_block(), custom_block());
    d.create_volume(&a, &SIZE_8).await.unwrap();
    d.create_volume(&b, &SIZE_8).await.unwrap();
    let att = d.attach_volume(&a).await.unwrap();
    assert!(att.newly_mapped);
    assert_eq!(att.device.size().unwrap(), 8 * GIB);
    let host = powerflex_driver::powerflex::hosts::find_host(d.client(), &HostKey::Nqn(d.identity().nqn()))
        .await
        .unwrap()
        .expect("host entity");
    assert_eq!(host.nqn.as_deref(), Some(d.identity().nqn().as_str()));
    assert!(host.nqn.unwrap().starts_with("nqn.2014-08.org.nvmexpress:uuid:"));
    assert_eq!(d.volume_info(&a).await.unwrap().unwrap().mapped_hosts, vec![host.id.clone()]);
    // Attaching again keeps the mapping.
    assert!(!d.attach_volume(&a).await.unwrap().newly_mapped);
    d.attach_volume(&b).await.unwrap();
    assert!(scratch.is_connected());

    d.detach_volume(&a).await.unwrap();
    assert!(scratch.is_connected(), "b is still mapped");
    assert!(powerflex_driver::powerflex::hosts::find_host(d.client(), &HostKey::Nqn(d.identity().nqn()))
        .await
        .unwrap()
        .is_some());
    d.detach_volume(&b).await.unwrap();
    assert!(!scratch.is_connected(), "disconnected with the last volume");
    assert_no_host_leftovers(&d).await;
    // Detaching again is success.
    d.detach_volume(&b).await.unwrap();
    let ev = scratch.events();
    assert_eq!(ev.iter().filter(|e| *e == "disconnect").count(), 1, "{ev:?}");
}

#[tokio::test]
async fn a_failed_attach_leaves_no_mapping_host_or_session() {
    let gw = gateway().await;
    let (d, scratch) = driver(&gw, &[]).await;
    let v = custom_block();
    d.create_volume(&v, &SIZE_8).await.unwrap();
    *scratch.fail_open_after.lock().unwrap() = Some(0);
    let err = d.attach_volume(&v).await.unwrap_err();
    assert!(matches!(err, Error::Connector(_)), "{err}");
    assert_no_host_leftovers(&d).await;
    assert!(!scratch.is_connected(), "the new session was disconnected");

    *scratch.fail_open_after.lock().unwrap() = None;
    scratch.fail_connect.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(d.attach_volume(&v).await.is_err());
    assert_no_host_leftovers(&d).await;
}

#[tokio::test]
async fn delete_unmaps_every_host() {
    let gw = gateway().await;
    let (d, scratch) = driver(&gw, &[]).await;
    let v = custom_block();
    d.create_volume(&v, &SIZE_8).await.unwrap();
    d.attach_volume(&v).await.unwrap();
    let other = d
        .client()
        .create_host("other-host", "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555")
        .await
        .unwrap();
    let id = d.client().query_volume_id(&v.name()).await.unwrap();
    d.client().add_mapped_host(&id, &other).await.unwrap();
    assert_eq!(d.volume_info(&v).await.unwrap().unwrap().mapped_hosts.len(), 2);
    d.delete_volume(&v).await.unwrap();
    assert_eq!(d.volume_info(&v).await.unwrap(), None);
    // Our host went with its last mapping; the other host stays.
    assert_no_host_leftovers(&d).await;
    assert!(!scratch.is_connected());
    assert!(d.client().hosts().await.unwrap().iter().any(|h| h.id == other));
}

#[tokio::test]
async fn restore_refuses_an_attached_volume() {
    let gw = gateway().await;
    let (d, _) = driver(&gw, &[]).await;
    let v = custom_block();
    d.create_volume(&v, &SIZE_8).await.unwrap();
    let s = d.create_snapshot(&v, Uuid::new_v4()).await.unwrap();
    d.attach_volume(&v).await.unwrap();
    assert!(matches!(d.restore_volume(&v, &s).await, Err(Error::Attached { .. })));
    d.detach_volume(&v).await.unwrap();
    d.restore_volume(&v, &s).await.unwrap();
}

// ----- Copy -----------------------------------------------------------------------------------------

fn copy_req(source: Volume, target: Volume) -> CopyRequest {
    CopyRequest { source, source_snapshots: vec![], target, target_snapshots: vec![], size: None, thick: false }
}

#[tokio::test]
async fn copy_is_a_snapshot_only_when_clone_copy_is_false_and_there_are_no_snapshots() {
    let gw = gateway().await;
    let (d, _) = driver(&gw, &["powerflex.clone_copy=false"]).await;
    let src = custom_block();
    d.create_volume(&src, &SIZE_8).await.unwrap();
    let dst = custom_block();
    let report = d.copy_volume(&copy_req(src, dst), None).await.unwrap();
    assert_eq!(report.method, CopyMethod::Snapshot);
    let (si, di) = (d.volume_info(&src).await.unwrap().unwrap(), d.volume_info(&dst).await.unwrap().unwrap());
    assert_eq!(di.vtree_id, si.vtree_id, "a snapshot in the source's VTree");
    assert_eq!(di.ancestor_id.as_deref(), Some(si.id.as_str()));
    assert!(!di.name.starts_with('s'), "named like a volume");
    // It is not listed as one of the source's snapshots.
    assert!(d.volume_snapshots(&src).await.unwrap().is_empty());

    // A VM copies both volumes the same way.
    let m = vm();
    d.create_volume(&m, &SIZE_8).await.unwrap();
    let m2 = vm();
    assert_eq!(d.copy_volume(&copy_req(m, m2), None).await.unwrap().method, CopyMethod::Snapshot);
    assert!(d.volume_info(&m2.companion().unwrap()).await.unwrap().is_some());

    // With snapshots on the source, or an image to an instance, it is a host copy.
    d.create_snapshot(&src, Uuid::new_v4()).await.unwrap();
    assert_eq!(d.copy_method(&copy_req(src, custom_block())).await.unwrap(), CopyMethod::HostCopy);
    let img = Volume::new(VolumeType::Image, ContentType::Block, Uuid::new_v4());
    d.create_volume(&img, &SIZE_8).await.unwrap();
    let inst = Volume::new(VolumeType::Container, ContentType::Block, Uuid::new_v4());
    assert_eq!(d.copy_method(&copy_req(img, inst)).await.unwrap(), CopyMethod::HostCopy);
    let custom = custom_block();
    assert_eq!(d.copy_method(&copy_req(img, custom)).await.unwrap(), CopyMethod::Snapshot);

    // clone_copy=true (the default) always copies on the host.
    let (d2, _) = driver(&gw, &[]).await;
    let plain = custom_block();
    d2.create_volume(&plain, &SIZE_8).await.unwrap();
    assert_eq!(d2.copy_method(&copy_req(plain, custom_block())).await.unwrap(), CopyMethod::HostCopy);
}

#[tokio::test]
async fn host_copy_moves_the_bytes_through_both_devices() {
    let gw = gateway().await;
    let (d, scratch) = driver(&gw, &[]).await;
    let src = custom_block();
    d.create_volume(&src, &SIZE_8).await.unwrap();
    let att = d.attach_volume(&src).await.unwrap();
    let data = pattern(5, 3 << 20);
    att.device.write_at(&data, 1 << 30).unwrap();
    att.device.write_at(&data[..4096], 8 * GIB - 4096).unwrap();
    att.device.flush().unwrap();
    drop(att);
    d.detach_volume(&src).await.unwrap();

    let dst = custom_block();
    let report = d.copy_volume(&copy_req(src, dst), None).await.unwrap();
    assert_eq!(report.method, CopyMethod::HostCopy);
    assert_eq!(report.passes, 1);
    assert_eq!(report.stats.bytes_total, 8 * GIB);
    assert!(report.stats.bytes_written <= 5 << 20, "{:?}", report.stats);
    assert!(report.stats.throughput() > 0.0);
    let (si, di) = (d.volume_info(&src).await.unwrap().unwrap(), d.volume_info(&dst).await.unwrap().unwrap());
    assert_ne!(si.vtree_id, di.vtree_id, "its own VTree");
    assert_eq!(di.ancestor_id, None);

    let att = d.attach_volume(&dst).await.unwrap();
    let mut buf = vec![0u8; data.len()];
    att.device.read_at(&mut buf, 1 << 30).unwrap();
    assert!(buf == data, "bytes copied");
    let mut tail = vec![0u8; 4096];
    att.device.read_at(&mut tail, 8 * GIB - 4096).unwrap();
    assert_eq!(tail, data[..4096]);
    drop(att);
    d.detach_volume(&dst).await.unwrap();
    assert_no_host_leftovers(&d).await;
    let _ = scratch;
}

#[tokio::test]
async fn host_copy_with_snapshots_copies_oldest_first_then_the_volume() {
    let gw = gateway().await;
    let (d, scratch) = driver(&gw, &["powerflex.clone_copy=false"]).await;
    let src = custom_block();
    d.create_volume(&src, &SIZE_8).await.unwrap();
    let s1 = d.create_snapshot(&src, Uuid::new_v4()).await.unwrap();
    let s2 = d.create_snapshot(&src, Uuid::new_v4()).await.unwrap();
    let dst = custom_block();
    let (t1, t2) = (dst.snapshot(Uuid::new_v4()), dst.snapshot(Uuid::new_v4()));
    let req = CopyRequest {
        source: src,
        source_snapshots: vec![s1, s2],
        target: dst,
        target_snapshots: vec![t1, t2],
        size: Some(16 * GIB),
        thick: false,
    };
    let report = d.copy_volume(&req, None).await.unwrap();
    assert_eq!(report.method, CopyMethod::HostCopy);
    assert_eq!(report.passes, 3);
    let names: std::collections::BTreeSet<String> =
        d.volume_snapshots(&dst).await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names, [t1.name(), t2.name()].into_iter().collect());
    assert_eq!(d.volume_info(&dst).await.unwrap().unwrap().size, 16 * GIB);
    // The passes opened s1, then s2, then the source, each with the target.
    let ids: Vec<String> = {
        let mut v = Vec::new();
        for x in [s1, s2, src] {
            v.push(d.client().query_volume_id(&x.name()).await.unwrap());
        }
        v
    };
    let opens: Vec<String> =
        scratch.events().into_iter().filter_map(|e| e.strip_prefix("open ").map(String::from)).collect();
    let order: Vec<usize> = opens.iter().filter_map(|o| ids.iter().position(|i| i == o)).collect();
    assert_eq!(order, vec![0, 1, 2], "{opens:?}");
    assert_no_host_leftovers(&d).await;
}

#[tokio::test]
async fn a_failed_host_copy_leaves_nothing() {
    let gw = gateway().await;
    let (d, scratch) = driver(&gw, &[]).await;
    let src = custom_block();
    d.create_volume(&src, &SIZE_8).await.unwrap();
    let s1 = d.create_snapshot(&src, Uuid::new_v4()).await.unwrap();
    let before = volume_names(&d).await;
    for fail_after in [0usize, 1, 2, 3] {
        *scratch.fail_open_after.lock().unwrap() = None;
        // Count opens from zero for each attempt.
        let scratch2 = Arc::new(ScratchConnector::new());
        *scratch2.fail_open_after.lock().unwrap() = Some(fail_after);
        let d2 = driver_with(&gw, &[], scratch2.clone()).await;
        let dst = custom_block();
        let req = CopyRequest {
            source: src,
            source_snapshots: vec![s1],
            target: dst,
            target_snapshots: vec![dst.snapshot(Uuid::new_v4())],
            size: None,
            thick: false,
        };
        let err = d2.copy_volume(&req, None).await.unwrap_err();
        assert!(matches!(err, Error::Connector(_)), "{err}");
        assert_eq!(volume_names(&d2).await, before, "fail after {fail_after} opens");
        assert_no_host_leftovers(&d2).await;
        assert!(!scratch2.is_connected());
    }
}

/// Found by the conformance harness (seed 7): a snapshot grown on the array
/// past the copy's size. LXD's generic copy `dd`s it into the smaller target
/// and fails for want of space; the driver refuses before creating anything.
#[tokio::test]
async fn a_host_copy_refuses_a_snapshot_larger_than_the_target() {
    let gw = gateway().await;
    let (d, scratch) = driver(&gw, &["powerflex.clone_copy=false"]).await;
    let src = custom_block();
    d.create_volume(&src, &SIZE_8).await.unwrap();
    let s1 = d.create_snapshot(&src, Uuid::new_v4()).await.unwrap();
    d.resize_volume(&s1, 12 * GIB).await.unwrap();
    let before = volume_names(&d).await;
    let dst = custom_block();
    let mut req = CopyRequest {
        source: src,
        source_snapshots: vec![s1],
        target: dst,
        target_snapshots: vec![dst.snapshot(Uuid::new_v4())],
        size: Some(11),
        thick: false,
    };
    let err = d.copy_volume(&req, None).await.unwrap_err();
    match &err {
        Error::SnapshotLargerThanCopy { snapshot_size, target_size, .. } => {
            assert_eq!((*snapshot_size, *target_size), (16 * GIB, 8 * GIB), "{err}")
        }
        other => panic!("expected SnapshotLargerThanCopy, got {other}"),
    }
    assert_eq!(volume_names(&d).await, before, "nothing created");
    assert!(scratch.events().iter().all(|e| !e.starts_with("open ")), "nothing attached");
    assert_no_host_leftovers(&d).await;

    // Asking for the snapshot's size makes the same copy work.
    req.size = Some(16 * GIB);
    d.copy_volume(&req, None).await.unwrap();
    assert_eq!(d.volume_info(&dst).await.unwrap().unwrap().size, 16 * GIB);
    assert_eq!(d.volume_snapshots(&dst).await.unwrap().len(), 1);
}

#[tokio::test]
async fn copy_requests_are_checked() {
    let gw = gateway().await;
    let (d, _) = driver(&gw, &[]).await;
    let src = custom_block();
    d.create_volume(&src, &SIZE_8).await.unwrap();
    let mut req = copy_req(src, custom_block());
    req.source_snapshots = vec![src.snapshot(Uuid::new_v4())];
    assert!(matches!(d.copy_volume(&req, None).await, Err(Error::Invalid(_))));
    assert!(matches!(d.copy_volume(&copy_req(src, vm()), None).await, Err(Error::Invalid(_))));
    let missing = copy_req(custom_block(), custom_block());
    assert!(d.copy_volume(&missing, None).await.is_err());
}

#[tokio::test]
async fn zero_padding_is_required() {
    // Checked from discovery, so a pool reported without zero padding is refused.
    let gw = gateway().await;
    let (d, scratch) = driver(&gw, &[]).await;
    let mut disc = d.discovery().clone();
    disc.pool.zero_padding_enabled = false;
    let d2 = powerflex_driver::Driver::from_parts(
        d.client().clone(),
        d.config().clone(),
        disc,
        d.identity().clone(),
        scratch,
    );
    let err = d2.create_volume(&custom_block(), &SIZE_8).await.unwrap_err();
    assert!(matches!(err, Error::ZeroPaddingDisabled { .. }), "{err}");
}

#[tokio::test]
async fn a_host_copy_is_refused_on_a_pool_without_zero_padding() {
    // The host copy skips holes and zero blocks of the source, so its target
    // must read as zeros: LXD creates it like any volume, which it refuses on
    // such a pool. A snapshot copy creates no volume and is left alone.
    let topology = powerflex_sim::model::topology::Topology::parse(include_str!("../../fixtures/topology-small.json"))
        .expect("topology-small.json");
    let gw = powerflex_sim::testing::TestGateway::start_with(powerflex_sim::testing::Options {
        topology,
        ..Default::default()
    })
    .await;
    let scratch = Arc::new(ScratchConnector::new());
    let drivers = async |clone_copy| {
        let clone_copy = format!("powerflex.clone_copy={clone_copy}");
        let cfg = config(&gw, &["powerflex.pool=nopad", "powerflex.domain=domain1", &clone_copy]);
        let disc = discovery::discover(&client(&gw), &cfg, &HostProbe::default()).await.unwrap();
        assert!(!disc.pool.zero_padding_enabled);
        powerflex_driver::Driver::from_parts(
            client(&gw),
            cfg,
            disc,
            powerflex_driver::host::HostIdentity::new(Uuid::new_v4()),
            scratch.clone(),
        )
    };
    let (full, snap) = (drivers("true").await, drivers("false").await);

    // A volume made there by someone else, since the driver refuses to create one.
    let src = custom_block();
    full.client()
        .create_volume(&powerflex_driver::powerflex::client::types::CreateVolume {
            name: src.name(),
            volume_size_in_gb: "8".into(),
            volume_type: "ThinProvisioned".into(),
            storage_pool_id: full.discovery().pool.id.clone(),
        })
        .await
        .unwrap();
    assert!(matches!(full.create_volume(&custom_block(), &SIZE_8).await, Err(Error::ZeroPaddingDisabled { .. })));

    let before = volume_names(&full).await;
    let dst = custom_block();
    assert_eq!(full.copy_method(&copy_req(src, dst)).await.unwrap(), CopyMethod::HostCopy);
    let err = full.copy_volume(&copy_req(src, dst), None).await.unwrap_err();
    assert!(matches!(err, Error::ZeroPaddingDisabled { .. }), "{err}");
    assert_eq!(volume_names(&full).await, before, "nothing created");
    assert!(scratch.events().is_empty(), "nothing attached: {:?}", scratch.events());
    assert_no_host_leftovers(&full).await;

    assert_eq!(snap.copy_volume(&copy_req(src, dst), None).await.unwrap().method, CopyMethod::Snapshot);
}

/// A connector for one host shared by two drivers: the first open fails, and
/// the undo of that failed attach (its first `release`) waits up to
/// `RACE_WAIT` for another attach to open its device.
struct RaceConnector {
    inner: Arc<ScratchConnector>,
    opens: std::sync::atomic::AtomicUsize,
    releases: std::sync::atomic::AtomicUsize,
    first_open: tokio::sync::Notify,
    other_opened: tokio::sync::Notify,
}

const RACE_WAIT: std::time::Duration = std::time::Duration::from_millis(1500);

#[async_trait::async_trait]
impl powerflex_driver::Connector for RaceConnector {
    fn kind(&self) -> powerflex_driver::connector::ConnectorKind {
        self.inner.kind()
    }
    async fn check(&self) -> Result<(), powerflex_driver::connector::ConnectorError> {
        self.inner.check().await
    }
    async fn connect(
        &self,
        t: &powerflex_driver::connector::Target,
    ) -> Result<bool, powerflex_driver::connector::ConnectorError> {
        self.inner.connect(t).await
    }
    async fn open(
        &self,
        t: &powerflex_driver::connector::Target,
        v: &powerflex_driver::connector::VolumeRef,
        timeout: std::time::Duration,
    ) -> Result<Box<dyn powerflex_driver::BlockDevice>, powerflex_driver::connector::ConnectorError> {
        use std::sync::atomic::Ordering;
        if self.opens.fetch_add(1, Ordering::SeqCst) == 0 {
            self.first_open.notify_one();
            return Err(powerflex_driver::connector::ConnectorError::Other("injected open failure".into()));
        }
        let dev = self.inner.open(t, v, timeout).await;
        self.other_opened.notify_one();
        dev
    }
    async fn device_path(
        &self,
        t: &powerflex_driver::connector::Target,
        v: &powerflex_driver::connector::VolumeRef,
    ) -> Result<Option<std::path::PathBuf>, powerflex_driver::connector::ConnectorError> {
        self.inner.device_path(t, v).await
    }
    async fn release(
        &self,
        t: &powerflex_driver::connector::Target,
        v: &powerflex_driver::connector::VolumeRef,
    ) -> Result<(), powerflex_driver::connector::ConnectorError> {
        if self.releases.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            let _ = tokio::time::timeout(RACE_WAIT, self.other_opened.notified()).await;
        }
        self.inner.release(t, v).await
    }
    async fn wait_gone(
        &self,
        t: &powerflex_driver::connector::Target,
        v: &powerflex_driver::connector::VolumeRef,
        timeout: std::time::Duration,
    ) -> Result<(), powerflex_driver::connector::ConnectorError> {
        self.inner.wait_gone(t, v, timeout).await
    }
    async fn disconnect(
        &self,
        t: &powerflex_driver::connector::Target,
    ) -> Result<(), powerflex_driver::connector::ConnectorError> {
        self.inner.disconnect(t).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attach_reverts_before_another_driver_of_the_host_attaches() {
    // Two drivers (as two pools, or two processes, of one host) attach the same
    // volume. A's open fails; B starts while A fails. Were A's undo (unmap,
    // disconnect, remove the host entity) to run after B found A's mapping,
    // B would report an attachment whose mapping A then removes.
    let gw = gateway().await;
    let scratch = Arc::new(ScratchConnector::new());
    let race = Arc::new(RaceConnector {
        inner: scratch.clone(),
        opens: Default::default(),
        releases: Default::default(),
        first_open: Default::default(),
        other_opened: Default::default(),
    });
    let a = driver_with(&gw, &[], race.clone()).await;
    let b = powerflex_driver::Driver::from_parts(
        a.client().clone(),
        a.config().clone(),
        a.discovery().clone(),
        a.identity().clone(),
        race.clone(),
    );
    let v = custom_block();
    a.create_volume(&v, &SIZE_8).await.unwrap();

    let attach_a = {
        let (a, v) = (a.clone(), v);
        tokio::spawn(async move { a.attach_volume(&v).await })
    };
    race.first_open.notified().await;
    let attach_b = b.attach_volume(&v).await;
    let err = attach_a.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Connector(_)), "A fails with its own error: {err}");
    let att = attach_b.expect("B attaches");

    let host =
        powerflex_driver::powerflex::hosts::find_host(b.client(), &HostKey::Nqn(b.identity().nqn())).await.unwrap();
    let host = host.expect("the host entity B uses is still there");
    assert_eq!(b.volume_info(&v).await.unwrap().unwrap().mapped_hosts, vec![host.id], "B's mapping is still there");
    assert!(att.newly_mapped, "B mapped the volume itself, after A's revert");
    assert!(scratch.is_connected(), "B's session is still up");
    drop(att);
    b.detach_volume(&v).await.unwrap();
    assert_no_host_leftovers(&b).await;
}
