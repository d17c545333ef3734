//! The state-backed facade the `pflex` command line uses, against the simulator,
//! and the `pflex` binary itself for the error paths that need no gateway.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use powerflex_driver::array::{ArrayDriver, ArrayKind, PoolDiscovery};
use powerflex_driver::keys::parse_key_values;
use powerflex_driver::naming::{ContentType, VolumeType, GIB};
use powerflex_driver::pool::{Pools, Settings};
use powerflex_driver::state::{StateDir, StateError};
use powerflex_driver::Error;
use support::*;

fn keys(gw: &powerflex_sim::testing::TestGateway, extra: &[&str]) -> BTreeMap<String, String> {
    let mut k = vec![
        format!("powerflex.gateway={}", gw.url),
        format!("powerflex.user.password={}", gw.password),
        "powerflex.pool=sp1".to_string(),
        "powerflex.domain=pd1".to_string(),
        "powerflex.mode=nvme".to_string(),
    ];
    k.extend(extra.iter().map(|s| s.to_string()));
    parse_key_values(k).unwrap()
}

fn pools(gw: &powerflex_sim::testing::TestGateway, dir: &std::path::Path) -> (Pools, Arc<ScratchConnector>) {
    let scratch = Arc::new(ScratchConnector::new());
    let settings = Settings { ca_pem: Some(gw.ca_cert_pem.clone().into_bytes()), ..Settings::default() };
    (Pools::new(StateDir::open(dir).unwrap(), settings, scratch.clone()), scratch)
}

#[tokio::test]
async fn pools_and_volumes_by_name() {
    let gw = gateway().await;
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = pools(&gw, dir.path());

    let view = p.create("p1", ArrayKind::PowerFlex, &keys(&gw, &["volume.size=10GiB"])).await.unwrap();
    assert_eq!(view.config["powerflex.user.password"], "<redacted>");
    let Some(PoolDiscovery::PowerFlex(d)) = &view.discovery else { panic!("{:?}", view.discovery) };
    assert_eq!(d.pool.name.as_deref(), Some("sp1"));
    assert_eq!(view.driver, ArrayKind::PowerFlex);
    let shown = serde_json::to_string(&p.show("p1", true).await.unwrap()).unwrap();
    assert!(!shown.contains(&gw.password), "password shown: {shown}");
    assert!(shown.contains("usage"));
    assert_eq!(p.get("p1", "powerflex.user.password").unwrap().as_deref(), Some("<redacted>"));
    assert_eq!(p.get("p1", "powerflex.clone_copy").unwrap(), None);
    assert!(matches!(p.get("p1", "bogus"), Err(Error::Config(_))));
    assert!(matches!(
        p.create("p1", ArrayKind::PowerFlex, &keys(&gw, &[])).await,
        Err(Error::State(StateError::PoolExists(_)))
    ));

    // The password is kept locally, in a private file.
    let raw = std::fs::read_to_string(dir.path().join("pools/p1.json")).unwrap();
    assert!(raw.contains(&gw.password));

    // Volumes by name; the pool default size applies (10GiB → 16GiB on the array).
    let v = p.volume_create("p1", VolumeType::Custom, "data", ContentType::Block, &BTreeMap::new()).await.unwrap();
    assert_eq!(v.array.as_ref().unwrap().size, 16 * GIB);
    let thick = p
        .volume_create(
            "p1",
            VolumeType::Custom,
            "thick",
            ContentType::Filesystem,
            &parse_key_values(["block.type=thick", "size=1GiB"]).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(thick.array.unwrap().provisioning, "ThickProvisioned");
    let err = p
        .volume_create("p1", VolumeType::Custom, "x", ContentType::Block, &parse_key_values(["colour=red"]).unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("colour"), "{err}");
    let err =
        p.volume_create("p1", VolumeType::Custom, "data", ContentType::Block, &BTreeMap::new()).await.unwrap_err();
    assert!(matches!(err, Error::State(StateError::VolumeExists { .. })), "{err}");

    p.volume_snapshot("p1", VolumeType::Custom, "data", "snap0").await.unwrap();
    assert!(p.volume_snapshot("p1", VolumeType::Custom, "data", "snap0").await.is_err());
    p.volume_restore("p1", VolumeType::Custom, "data", "snap0").await.unwrap();
    assert_eq!(p.volume_resize("p1", VolumeType::Custom, "data", 20 * GIB).await.unwrap(), 24 * GIB);
    assert!(matches!(
        p.volume_resize("p1", VolumeType::Custom, "data", 8 * GIB).await,
        Err(Error::ShrinkRefused { .. })
    ));

    // A copy takes the snapshots along (host copy, clone_copy defaults to true).
    let report =
        p.volume_copy("p1", VolumeType::Custom, "data", VolumeType::Custom, "data2", false, None).await.unwrap();
    assert_eq!(report.passes, 2);
    let list = p.volume_list("p1").await.unwrap();
    let names: Vec<&str> = list.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, vec!["data", "data2", "thick"]);
    let copy = list.iter().find(|v| v.name == "data2").unwrap();
    assert_eq!(copy.snapshots.len(), 1);
    assert_eq!(copy.array.as_ref().unwrap().size, 24 * GIB);

    let dev = p.volume_attach("p1", VolumeType::Custom, "data/snap0").await.unwrap();
    assert!(dev.is_some());
    p.volume_detach("p1", VolumeType::Custom, "data/snap0").await.unwrap();

    // The pool cannot go while it has volumes.
    assert!(matches!(p.delete("p1").await, Err(Error::State(StateError::PoolInUse { .. }))));
    for name in ["data/snap0", "data", "data2", "thick"] {
        p.volume_delete("p1", VolumeType::Custom, name).await.unwrap();
    }
    assert!(p.volume_list("p1").await.unwrap().is_empty());
    let ArrayDriver::PowerFlex(d) = p.driver("p1").await.unwrap() else { panic!("a PowerFlex pool") };
    let left: Vec<String> = d.list_volumes().await.unwrap().into_iter().map(|v| v.name).collect();
    assert!(left.is_empty(), "volumes left on the array: {left:?}");
    assert_no_host_leftovers(&d).await;
    p.delete("p1").await.unwrap();
    assert!(p.list().unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_create_keeps_no_record_and_bad_pools_are_refused() {
    let gw = gateway().await;
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = pools(&gw, dir.path());
    // Unreachable gateway: pool creation fails and nothing is saved.
    let mut k = keys(&gw, &[]);
    k.insert("powerflex.gateway".into(), "https://127.0.0.1:1".into());
    assert!(p.create("dead", ArrayKind::PowerFlex, &k).await.is_err());
    assert!(p.list().unwrap().is_empty());
    // The same for an Alletra pool with LXD's placeholder configuration
    // (its storage_pools.sh "fails cleanly" case), and for alletra keys given to powerflex.
    let lxd = parse_key_values([
        "alletra.wsapi=https://127.0.0.1:1",
        "alletra.user.name=admin",
        "alletra.user.password=secret",
        "alletra.cpg=fakecpg",
        "alletra.mode=iscsi",
    ])
    .unwrap();
    assert!(p.create("dead-alletra", ArrayKind::Alletra, &lxd).await.is_err());
    assert!(p.list().unwrap().is_empty());
    let err = p.create("x", ArrayKind::PowerFlex, &lxd).await.unwrap_err();
    assert!(err.to_string().contains("alletra."), "{err}");
    // An unknown key, and an SDT in sdc mode, name their key.
    let mut k = keys(&gw, &[]);
    k.insert("powerflex.colour".into(), "red".into());
    assert!(p.create("x", ArrayKind::PowerFlex, &k).await.unwrap_err().to_string().contains("powerflex.colour"));
    let mut k = keys(&gw, &[]);
    k.insert("powerflex.mode".into(), "sdc".into());
    k.insert("powerflex.sdt".into(), "127.0.0.2".into());
    assert!(p.create("x", ArrayKind::PowerFlex, &k).await.unwrap_err().to_string().contains("powerflex.sdt"));

    p.create("p", ArrayKind::PowerFlex, &keys(&gw, &[])).await.unwrap();
    // A VM name clash on the array: the local record is removed again.
    let err = p
        .volume_create("p", VolumeType::VirtualMachine, "vm1", ContentType::Filesystem, &BTreeMap::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)));
    let err = p
        .volume_create(
            "p",
            VolumeType::Custom,
            "big",
            ContentType::Block,
            &parse_key_values(["size=99999999TiB"]).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("size"), "{err}");
    assert!(p.volume_list("p").await.unwrap().is_empty(), "no record kept");

    // Changing keys re-discovers; a bad change keeps the old configuration.
    p.set("p", &parse_key_values(["powerflex.sdt=127.0.0.3"]).unwrap()).await.unwrap();
    assert_eq!(p.get("p", "powerflex.sdt").unwrap().as_deref(), Some("127.0.0.3"));
    assert!(p.set("p", &parse_key_values(["powerflex.domain=nope"]).unwrap()).await.is_err());
    assert_eq!(p.get("p", "powerflex.domain").unwrap().as_deref(), Some("pd1"));
}

#[test]
fn the_cli_reports_errors_and_never_shows_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let pflex = env!("CARGO_BIN_EXE_pflex");
    let run = |args: &[&str]| {
        std::process::Command::new(pflex)
            .args(["--state-dir", dir.path().to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "pool",
        "create",
        "p",
        "powerflex.gateway=https://127.0.0.1:1",
        "powerflex.user.password=hunter2",
        "powerflex.pool=sp1",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("powerflex.pool"), "{err}");
    assert!(!err.contains("hunter2"));
    let out = run(&[
        "pool",
        "create",
        "p",
        "powerflex.gateway=https://127.0.0.1:1",
        "powerflex.user.password=hunter2",
        "powerflex.pool=sp1",
        "powerflex.domain=pd1",
        "powerflex.mode=nvme",
        "--connect-timeout",
        "1",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the gateway"), "{err}");
    assert!(!err.contains("hunter2"));
    let out = run(&["--format", "json", "pool", "list"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
    let out = run(&["volume", "list", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("pool \"nope\" not found"));
}

#[tokio::test]
async fn the_cli_drives_the_simulator() {
    let gw = gateway().await;
    let dir = tempfile::tempdir().unwrap();
    let pflex = env!("CARGO_BIN_EXE_pflex");
    let ca = gw.ca_cert_path.to_str().unwrap().to_string();
    let state = dir.path().to_str().unwrap().to_string();
    let run = |args: Vec<String>| {
        let state = state.clone();
        let ca = ca.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(pflex)
                    .args(["--state-dir", &state, "--ca-file", &ca])
                    .args(&args)
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let out = run(s(&[
        "pool",
        "create",
        "demo",
        &format!("powerflex.gateway={}", gw.url),
        &format!("powerflex.user.password={}", gw.password),
        "powerflex.pool=sp1",
        "powerflex.domain=pd1",
        "powerflex.mode=nvme",
    ]))
    .await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(s(&["pool", "show", "demo", "--resources"])).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("sp1") && !text.contains(&gw.password), "{text}");
    let out = run(s(&["volume", "create", "demo", "vol1", "--type", "block", "size=10GiB"])).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(s(&["volume", "snapshot", "demo", "vol1", "snap0"])).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(s(&["--format", "json", "volume", "list", "demo"])).await;
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["name"], "vol1");
    assert_eq!(list[0]["array"]["size"], 16 * GIB);
    assert_eq!(list[0]["snapshots"][0]["name"], "snap0");
    let out = run(s(&["volume", "list", "demo"])).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("16GiB"));
    let out = run(s(&["volume", "resize", "demo", "vol1", "8GiB"])).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only be increased"));
    let out = run(s(&["volume", "delete", "demo", "vol1"])).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(s(&["pool", "delete", "demo"])).await;
    assert!(out.status.success());
}
