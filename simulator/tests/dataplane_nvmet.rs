//! The `nvmet` data plane end to end, with the real kernel target and the real `nvme-cli`.
//!
//! Needs root, nvmet, nvmet-tcp, nvme-tcp and `pflex-sim` on PATH, so it runs where those
//! exist: `scripts/test-nvmet-e2e.sh` runs it inside a throwaway VM (`scripts/vm-run`) with
//! `PFLEX_NVMET_E2E=1`. Without that variable (a plain `cargo test` on a machine without a
//! kernel target) it says so and does nothing; with it, anything missing is a failure. The
//! script checks that the test really ran.

mod support;

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use support::nvme::{self, write_through, SimProcess};
use support::{pattern, Api};

const MIB: usize = 1 << 20;
const LISTEN: &str = "127.0.0.1:8443";
const SDT: &str = "127.0.0.2";
const OTHER_HOST: &str = "nqn.2014-08.org.nvmexpress:uuid:5e1f0000-0000-4000-8000-00000000b0b0";

fn read_through(dev: &Path, offset: u64, len: usize) -> Vec<u8> {
    let f = nvme::open_direct(dev, false);
    let mut buf = nvme::Aligned::new(len);
    f.read_exact_at(buf.as_mut_slice(), offset).unwrap();
    buf.as_slice().to_vec()
}

/// The TCP ports nvmet has configured on `traddr`, sorted.
fn ports_on(traddr: &str) -> Vec<String> {
    let read = |port: &str, attr: &str| {
        std::fs::read_to_string(format!("{}/ports/{port}/{attr}", nvme::CONFIGFS))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let mut ports: Vec<String> = nvme::entries("ports")
        .iter()
        .filter(|p| read(p, "addr_traddr") == traddr)
        .map(|p| read(p, "addr_trsvcid"))
        .collect();
    ports.sort();
    ports
}

fn ours(prefix: &str, dir: &str) -> Vec<String> {
    nvme::entries(dir).into_iter().filter(|n| n.starts_with(prefix)).collect()
}

#[tokio::test]
async fn nvmet_end_to_end() {
    if std::env::var_os("PFLEX_NVMET_E2E").is_none() {
        eprintln!("nvmet_end_to_end: not run here; scripts/test-nvmet-e2e.sh runs it in a VM with nvmet");
        return;
    }
    assert!(Path::new(nvme::CONFIGFS).is_dir(), "PFLEX_NVMET_E2E is set but {} is missing", nvme::CONFIGFS);
    let scratch = std::env::var("PFLEX_SCRATCH").unwrap_or_else(|_| "/tmp".into());
    let state = tempfile::tempdir_in(&scratch).unwrap();
    let (hostnqn, hostid) = (nvme::host_nqn(), nvme::host_id());

    // Something that is not ours must survive every start and stop.
    let foreign_subsys = format!("{}/subsystems/nqn.2024-01.io.example:not-pflex", nvme::CONFIGFS);
    let foreign_port = format!("{}/ports/777", nvme::CONFIGFS);
    std::fs::create_dir(&foreign_subsys).unwrap();
    std::fs::create_dir(&foreign_port).unwrap();
    std::fs::write(format!("{foreign_port}/addr_trtype"), "tcp").unwrap();
    std::fs::write(format!("{foreign_port}/addr_traddr"), "127.0.0.9").unwrap();
    std::fs::write(format!("{foreign_port}/addr_trsvcid"), "4420").unwrap();

    // Start: auto picks nvmet here and says so.
    let sim = SimProcess::start(LISTEN, state.path(), &["--data-plane", "auto", "--seed", "11"]);
    let line = sim.plane_line();
    assert!(line.contains("nvmet (auto: root and kernel nvmet available)"), "{line}");
    let api = Api::login(&sim.url, None, "admin", "Password123!").await;
    let system = api.ok(Method::GET, "/api/types/System/instances", None).await;
    let system_nqn = system[0]["systemNqn"].as_str().unwrap().to_string();
    let prefix = format!("{system_nqn}:");
    assert_eq!(ours(&prefix, "subsystems"), vec![format!("{system_nqn}:ports")], "only the anchor before any mapping");
    assert!(nvme::discovered_subsystems(SDT, "8009", &hostnqn).is_empty(), "no mappings: discovery is empty");

    // Register this host, create a volume, map it.
    let host = api.create_host("e2e-host", &hostnqn).await;
    let other = api.create_host("other-host", OTHER_HOST).await;
    let volume = api.create_volume("e2e-vol", 8, false).await;
    let v = api.ok(Method::GET, &format!("/api/instances/Volume::{volume}"), None).await;
    let nguid = v["nguid"].as_str().unwrap().to_string();
    assert_eq!(nguid.len(), 32);
    assert!(nguid.starts_with(&volume) && nguid[16..22] == *"64b94e", "{nguid}");
    let (status, e) = api.map(&volume, &host).await;
    assert_eq!(status, StatusCode::OK, "{e}");
    let subnqn = format!("{system_nqn}:host:{host}");

    // Discovery on both the discovery port and the I/O port lists exactly this host's subsystem.
    assert_eq!(nvme::discovered_subsystems(SDT, "8009", &hostnqn), vec![subnqn.clone()]);
    assert_eq!(nvme::discovered_subsystems("127.0.0.3", "4420", &hostnqn), vec![subnqn.clone()]);
    // A second host sees none of the first host's volumes, and may not connect to them.
    assert!(nvme::discovered_subsystems(SDT, "8009", OTHER_HOST).is_empty());
    assert!(!nvme::connect(SDT, "4420", &subnqn, OTHER_HOST, &hostid), "another host connected");

    // Connect, find the namespace by its EUI, write a pattern, snapshot, write again.
    assert!(nvme::connect(SDT, "4420", &subnqn, &hostnqn, &hostid), "nvme connect");
    let dev = nvme::wait_for("the namespace", Duration::from_secs(30), || nvme::device_by_eui(&nguid));
    assert_eq!(nvme::device_size(&dev), 8 << 30);
    assert_eq!(read_through(&dev, 0, MIB), vec![0u8; MIB], "a new volume reads zeros");
    let a = pattern(0xa1, MIB);
    write_through(&dev, 0, &a);
    write_through(&dev, 6 << 30, &a);
    let snapshot = api.snapshot(&volume, "e2e-snap").await;
    let b = pattern(0xb2, MIB);
    write_through(&dev, 0, &b);
    // The admin surface reads the same bytes the host wrote.
    assert_eq!(api.read_data(&volume, &host, 0, MIB as u64).await.unwrap(), b);

    // Resize grows the device the host sees.
    api.resize_gb(&volume, 16).await;
    nvme::wait_for("the device to grow", Duration::from_secs(30), || {
        (nvme::device_size(&dev) == 16 << 30).then_some(())
    });

    // Disconnect, overwrite from the snapshot, reconnect: the snapshot's pattern is back.
    nvme::disconnect(&subnqn);
    nvme::wait_for("the device to go", Duration::from_secs(30), || nvme::device_by_eui(&nguid).is_none().then_some(()));
    api.overwrite(&volume, &snapshot).await;
    assert!(nvme::connect(SDT, "4420", &subnqn, &hostnqn, &hostid), "nvme reconnect");
    let dev = nvme::wait_for("the namespace again", Duration::from_secs(30), || nvme::device_by_eui(&nguid));
    assert_eq!(read_through(&dev, 0, MIB), a, "the snapshot's pattern");
    assert_eq!(read_through(&dev, 6 << 30, MIB), a);

    // Unmap while connected, as a host does before it disconnects: only the namespace goes.
    // The controller stays, so the host drops the block device on the namespace-change event
    // within moments (not after a reconnect timeout); the host no longer discovers the
    // subsystem and may not connect again, but the subsystem stays until the host is removed.
    let unmapped = Instant::now();
    api.unmap(&volume, &host).await;
    nvme::wait_for("the device to go after unmap", Duration::from_secs(5), || {
        nvme::device_by_eui(&nguid).is_none().then_some(())
    });
    println!("device gone {:?} after the unmap", unmapped.elapsed());
    assert_eq!(nvme::controller_state(&subnqn).as_deref(), Some("live"), "the controller survives the unmap");
    assert!(nvme::discovered_subsystems(SDT, "8009", &hostnqn).is_empty(), "discovery is empty after unmap");
    let mut expected = vec![format!("{system_nqn}:ports"), subnqn.clone()];
    expected.sort();
    assert_eq!(ours(&prefix, "subsystems"), expected, "the host's subsystem stays until the host goes");
    let allowed = format!("subsystems/{subnqn}/allowed_hosts");
    assert!(nvme::entries(&allowed).is_empty(), "a host without mappings is not allowed");
    nvme::disconnect(&subnqn);
    assert!(!nvme::connect(SDT, "4420", &subnqn, &hostnqn, &hostid), "connected without a mapping");

    // A failed export is a clear gateway error and leaves nothing behind.
    // A thin volume's file is made at its first export; a directory in its place makes that fail.
    let broken = api.create_volume("e2e-broken", 8, false).await;
    let in_the_way = state.path().join("volumes").join(format!("{broken}.img"));
    std::fs::create_dir(&in_the_way).unwrap();
    let (status, e) = api.map(&broken, &host).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{e}");
    assert!(e["message"].as_str().unwrap().contains("data plane (nvmet)"), "{e}");
    assert_eq!(ours(&prefix, "subsystems"), expected, "no half-made subsystem");
    assert!(nvme::entries(&allowed).is_empty(), "a failed export does not allow the host");
    let v = api.ok(Method::GET, &format!("/api/instances/Volume::{broken}"), None).await;
    assert!(v["mappedSdcInfo"].as_array().is_none_or(|m| m.is_empty()), "no mapping in the model: {v}");
    std::fs::remove_dir(&in_the_way).unwrap();
    api.remove_volume(&broken).await;

    // Map again, and give the other host a volume of its own; then a clean stop removes
    // every entry the simulator made.
    assert_eq!(api.map(&volume, &host).await.0, StatusCode::OK);
    assert_eq!(nvme::entries(&allowed), vec![hostnqn.clone()], "mapping again allows the host again");
    let other_volume = api.create_volume("e2e-other", 8, false).await;
    assert_eq!(api.map(&other_volume, &other).await.0, StatusCode::OK);
    let other_subnqn = format!("{system_nqn}:host:{other}");
    assert_eq!(nvme::discovered_subsystems(SDT, "8009", &hostnqn), vec![subnqn.clone()]);
    assert_eq!(nvme::discovered_subsystems(SDT, "8009", OTHER_HOST), vec![other_subnqn.clone()]);

    // An SDT made through the API listens at once, and a host with mappings discovers its
    // subsystem there; a changed port moves the listener; a removed SDT's ports go.
    let pd = api
        .post("/api/types/ProtectionDomain/instances/action/queryIdByKey", serde_json::json!({ "name": "pd1" }))
        .await;
    let new_sdt = serde_json::json!({ "name": "e2e-sdt", "protectionDomainId": pd, "ips": [{ "ip": "127.0.0.5", "role": "StorageAndHost" }] });
    let sdt = api.post("/api/types/Sdt/instances", new_sdt).await["id"].as_str().unwrap().to_string();
    assert_eq!(ports_on("127.0.0.5"), vec!["4420", "8009"]);
    assert_eq!(nvme::discovered_subsystems("127.0.0.5", "8009", &hostnqn), vec![subnqn.clone()]);
    api.post(
        &format!("/api/instances/Sdt::{sdt}/action/modifyDiscoveryPort"),
        serde_json::json!({ "newDiscoveryPort": 8010 }),
    )
    .await;
    assert_eq!(ports_on("127.0.0.5"), vec!["4420", "8010"]);
    assert_eq!(nvme::discovered_subsystems("127.0.0.5", "8010", &hostnqn), vec![subnqn.clone()]);
    api.post(&format!("/api/instances/Sdt::{sdt}/action/removeSdt"), serde_json::json!({})).await;
    assert!(ports_on("127.0.0.5").is_empty(), "a removed SDT's ports go");

    let port_count = nvme::entries("ports").len();
    assert_eq!(port_count, 1 + 3 * 2, "three SDT addresses on 4420 and 8009, plus the foreign port");
    sim.stop();
    assert!(ours(&prefix, "subsystems").is_empty(), "clean stop left subsystems");
    assert_eq!(nvme::entries("ports"), vec!["777".to_string()], "clean stop left ports");
    assert!(!nvme::entries("hosts").contains(&hostnqn), "clean stop left the host entry");

    // With --state-dir, data and exports come back after a restart.
    let sim = SimProcess::start(LISTEN, state.path(), &["--data-plane", "nvmet"]);
    assert!(sim.plane_line().contains("nvmet (as asked)"), "{}", sim.plane_line());
    assert_eq!(nvme::discovered_subsystems(SDT, "8009", &hostnqn), vec![subnqn.clone()]);
    assert_eq!(nvme::discovered_subsystems(SDT, "8009", OTHER_HOST), vec![other_subnqn.clone()]);
    let api = Api::login(&sim.url, None, "admin", "Password123!").await;
    assert_eq!(api.read_data(&volume, &host, 0, MIB as u64).await.unwrap(), a);

    // A crash leaves entries; the next start removes them (and nothing else) and re-exports.
    sim.kill();
    assert!(!ours(&prefix, "subsystems").is_empty(), "a crash leaves entries behind");
    let sim = SimProcess::start(LISTEN, state.path(), &["--data-plane", "nvmet"]);
    assert_eq!(nvme::entries("ports").len(), port_count, "stale ports were replaced, not added to");
    assert_eq!(nvme::discovered_subsystems(SDT, "8009", &hostnqn), vec![subnqn.clone()]);
    assert!(nvme::connect(SDT, "4420", &subnqn, &hostnqn, &hostid), "connect after a crash-restart");
    let dev = nvme::wait_for("the namespace after restart", Duration::from_secs(30), || nvme::device_by_eui(&nguid));
    assert_eq!(read_through(&dev, 0, MIB), a);
    nvme::disconnect(&subnqn);

    // Removing a host removes its subsystem (and the host entry).
    let api = Api::login(&sim.url, None, "admin", "Password123!").await;
    api.unmap(&volume, &host).await;
    api.unmap(&other_volume, &other).await;
    assert_eq!(ours(&prefix, "subsystems").len(), 3, "unmapped hosts keep their subsystems");
    api.remove_host(&host).await;
    assert!(!ours(&prefix, "subsystems").contains(&subnqn), "removeHost left the subsystem");
    assert!(!nvme::entries("hosts").contains(&hostnqn), "removeHost left the host entry");
    api.remove_host(&other).await;
    assert_eq!(ours(&prefix, "subsystems"), vec![format!("{system_nqn}:ports")], "only the anchor is left");
    sim.stop();
    assert!(ours(&prefix, "subsystems").is_empty());
    assert_eq!(nvme::entries("ports"), vec!["777".to_string()]);
    assert!(Path::new(&foreign_subsys).is_dir() && Path::new(&foreign_port).is_dir(), "foreign entries survive");
    std::fs::remove_dir(&foreign_port).unwrap();
    std::fs::remove_dir(&foreign_subsys).unwrap();
    println!("NVMET-E2E-COMPLETE");
}
