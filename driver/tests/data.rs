//! The driver's data test (`support::data`) through the `sim` and `loop`
//! connectors, against the in-process simulator on its `file` data plane.
//!
//! `sim` needs nothing. `loop` needs root and `/dev/loop-control`; without
//! them the test fails and says why, unless `PFLEX_SKIP_LOOP=1` is set, in
//! which case it says loudly on stderr that it did not run.

mod support;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use powerflex_driver::array::ArrayKind;
use powerflex_driver::connector::{self, ConnectorChoice, ConnectorError, LoopConnector, SimConnector, VolumeRef};
use powerflex_driver::Connector;
use powerflex_sim::dataplane::PlaneKind;
use powerflex_sim::testing::{Options, TestGateway};
use support::data::{run_data_test, Expect};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_through_the_sim_connector() {
    let gw = file_gateway().await;
    let c = Arc::new(SimConnector::new(&options(&gw)).unwrap());
    let stats = run_data_test(&gw, c, Expect::Sim).await;
    eprintln!("sim host copy: {stats}");
}

fn loop_available() -> bool {
    let Some(reason) = connector::loopdev::unavailable_reason() else { return true };
    if std::env::var("PFLEX_SKIP_LOOP").is_ok_and(|v| v == "1") {
        let banner = "!".repeat(78);
        // Straight to stderr so the harness does not capture it.
        let _ = writeln!(
            std::io::stderr(),
            "\n{banner}\n!! LOOP CONNECTOR DATA TEST NOT RUN (PFLEX_SKIP_LOOP=1): {reason}\n{banner}\n"
        );
        return false;
    }
    panic!("the loop connector cannot run here: {reason} (set PFLEX_SKIP_LOOP=1 to skip this test on such machines)");
}

/// Detaches loop devices still bound to this simulator's files when the test
/// ends, failed or not (a passing run leaves none; a panic mid-way might).
struct LoopCleanup(std::path::PathBuf);

impl Drop for LoopCleanup {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir("/sys/block") else { return };
        for e in entries.flatten() {
            let bound = std::fs::read_to_string(e.path().join("loop/backing_file")).unwrap_or_default();
            if bound.starts_with(&*self.0.to_string_lossy()) {
                let dev = std::path::Path::new("/dev").join(e.file_name());
                if let Ok(ld) = loopdev::LoopDevice::open(&dev) {
                    let _ = ld.detach();
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_through_the_loop_connector() {
    if !loop_available() {
        return;
    }
    let gw = file_gateway().await;
    let _cleanup = LoopCleanup(gw.state_dir.clone());
    let c = Arc::new(LoopConnector::new(&options(&gw)).unwrap());
    let stats = run_data_test(&gw, c, Expect::Loop).await;
    eprintln!("loop host copy: {stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_are_built_by_name() {
    let gw = file_gateway().await;
    for choice in ConnectorChoice::ALL {
        assert_eq!(choice.as_str().parse::<ConnectorChoice>().unwrap(), choice);
        let c = connector::build(choice, &options(&gw)).unwrap();
        assert_eq!(format!("{:?}", c.kind()).to_lowercase(), choice.as_str());
    }
    assert!("iscsi".parse::<ConnectorChoice>().is_err());
    assert_eq!(ConnectorChoice::default(), ConnectorChoice::Nvme);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_surface_refuses_clearly() {
    // The `none` plane keeps no bytes: check says so and names the fix.
    let none = TestGateway::start_with(Options { data_plane: PlaneKind::None, ..Default::default() }).await;
    let err = SimConnector::new(&options(&none)).unwrap().check().await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unavailable { .. }), "{err}");
    assert!(err.to_string().contains("--data-plane file"), "{err}");

    // Wrong credentials are the gateway's refusal, not a hang or a panic.
    let gw = file_gateway().await;
    let mut bad = options(&gw);
    bad.password = "wrong".into();
    let err = SimConnector::new(&bad).unwrap().check().await.unwrap_err();
    assert!(matches!(err, ConnectorError::Admin { .. }), "{err}");

    // An unknown volume, and one not mapped to the host: the gateway's error, passed on.
    let sim = SimConnector::new(&options(&gw)).unwrap();
    sim.check().await.unwrap();
    let d = driver_with(&gw, &[], Arc::new(SimConnector::new(&options(&gw)).unwrap())).await;
    let target = d.target();
    let ghost =
        VolumeRef { id: "0123456789abcdef".into(), name: "ghost".into(), size: 8 << 30, nguid: None, wwn: None };
    let err = sim.open(&target, &ghost, Duration::from_secs(1)).await.err().expect("unknown volume");
    assert!(err.to_string().contains("0123456789abcdef"), "{err}");
    let v = powerflex_driver::Volume::new(
        powerflex_driver::naming::VolumeType::Custom,
        powerflex_driver::naming::ContentType::Block,
        uuid::Uuid::new_v4(),
    );
    let w = powerflex_driver::Volume { uuid: uuid::Uuid::new_v4(), ..v };
    let size = powerflex_driver::CreateOptions { size: 8 << 30, thick: false };
    d.create_volume(&v, &size).await.unwrap();
    d.create_volume(&w, &size).await.unwrap();
    let info = d.volume_info(&v).await.unwrap().unwrap();
    let vref = VolumeRef { id: info.id.clone(), name: info.name.clone(), size: info.size, nguid: None, wwn: None };
    // Before any mapping this host is unknown to the gateway.
    let err = sim.open(&target, &vref, Duration::from_secs(1)).await.err().expect("unknown host");
    assert!(err.to_string().contains("Could not find the host"), "{err}");
    // With w mapped the host exists, and v, not mapped to it, is refused with the reason.
    let att_w = d.attach_volume(&w).await.unwrap();
    let err = sim.open(&target, &vref, Duration::from_secs(1)).await.err().expect("not mapped");
    assert!(matches!(err, ConnectorError::Admin { .. }), "{err}");
    assert!(err.to_string().contains("is not mapped to host"), "{err}");
    // Mapped through the driver, v opens; unmapped again, refused again.
    let att = d.attach_volume(&v).await.unwrap();
    assert!(sim.open(&target, &vref, Duration::from_secs(1)).await.is_ok());
    drop(att);
    d.detach_volume(&v).await.unwrap();
    assert!(sim.open(&target, &vref, Duration::from_secs(1)).await.is_err());
    drop(att_w);
    d.detach_volume(&w).await.unwrap();
    d.delete_volume(&v).await.unwrap();
    d.delete_volume(&w).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pflex_pools_build_the_chosen_connector_per_pool() {
    use powerflex_driver::naming::{ContentType, VolumeType};
    use powerflex_driver::pool::{Pools, Settings};
    use powerflex_driver::state::StateDir;

    let gw = file_gateway().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings { ca_pem: Some(gw.ca_cert_pem.clone().into_bytes()), ..Settings::default() };
    let p = Pools::with_connector(StateDir::open(dir.path()).unwrap(), settings, ConnectorChoice::Sim);
    let keys = powerflex_driver::keys::parse_key_values([
        format!("powerflex.gateway={}", gw.url),
        format!("powerflex.user.password={}", gw.password),
        "powerflex.pool=sp1".to_string(),
        "powerflex.domain=pd1".to_string(),
        "powerflex.mode=nvme".to_string(),
    ])
    .unwrap();
    p.create("p1", ArrayKind::PowerFlex, &keys).await.unwrap();
    let none = std::collections::BTreeMap::new();
    p.volume_create("p1", VolumeType::Custom, "a", ContentType::Block, &none).await.unwrap();
    // Attached through the sim connector: mapped, no kernel device.
    assert_eq!(p.volume_attach("p1", VolumeType::Custom, "a").await.unwrap(), None);
    let shown = p.volume_show("p1", VolumeType::Custom, "a").await.unwrap();
    assert_eq!(shown.array.as_ref().unwrap().mapped_hosts.len(), 1);
    p.volume_detach("p1", VolumeType::Custom, "a").await.unwrap();
    // A host copy goes through it too.
    let report = p.volume_copy("p1", VolumeType::Custom, "a", VolumeType::Custom, "b", false, None).await.unwrap();
    assert_eq!(report.method, powerflex_driver::CopyMethod::HostCopy);
    assert_eq!(report.passes, 1);
    p.volume_delete("p1", VolumeType::Custom, "b").await.unwrap();
    p.volume_delete("p1", VolumeType::Custom, "a").await.unwrap();
}
