//! An SDT outage under I/O, with the real kernel target and the kernel's native NVMe
//! multipath: a host connected to one volume through two SDTs keeps writing while one SDT's
//! listeners are taken away (`POST /sim/faults/paths/sdt1 {"state":"down"}`) and brought
//! back; no write fails, the path goes to a non-live state and comes back live, and every
//! byte written is there afterwards, through the device and at the array. A change to the SDT
//! during the outage (its discovery port moved) leaves its NVMe listener down.
//!
//! Needs what `dataplane_nvmet.rs` needs (root, nvmet, nvmet-tcp, nvme-tcp, `pflex-sim` on
//! PATH) and `nvme_core.multipath=Y`; `scripts/test-nvmet-e2e.sh` runs it in its VM with
//! `PFLEX_NVMET_E2E=1`. Without that variable it says so and does nothing.

mod support;

use std::net::TcpStream;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::nvme::{self, SimProcess};
use support::Api;

const LISTEN: &str = "127.0.0.1:8443";
/// The two SDTs of the default topology's pd1; sdt1 goes down.
const DOWN: (&str, &str) = ("sdt1", "127.0.0.2");
const KEPT: &str = "127.0.0.3";
/// The host reconnects every second, and gives a path up only after a minute: an outage of
/// a few seconds never removes it.
const RECONNECT_DELAY: &str = "1";
const CTRL_LOSS_TMO: &str = "60";
const BLOCK: usize = 512 << 10;
/// The writer goes round this many blocks at the start of the volume.
const BLOCKS: u64 = 128;
const OUTAGE: Duration = Duration::from_secs(6);

/// The content of the `n`th write: its number, then bytes that depend on it and the offset.
fn block(n: u64) -> Vec<u8> {
    let mut b: Vec<u8> = (0..BLOCK).map(|i| (n.wrapping_mul(131) as usize + i * 7 + (i >> 12)) as u8).collect();
    b[..8].copy_from_slice(&n.to_le_bytes());
    b
}

/// What each block holds after `writes` writes round the region.
fn expected(b: u64, writes: u64) -> Vec<u8> {
    if b >= writes {
        return vec![0; BLOCK];
    }
    block(b + (writes - 1 - b) / BLOCKS * BLOCKS)
}

/// The writer's progress, shared with the test.
#[derive(Default)]
struct Progress {
    writes: AtomicU64,
    stop: AtomicBool,
    failure: Mutex<Option<String>>,
    slowest: Mutex<Duration>,
}

/// Writes block after block through the multipath device with O_DIRECT until told to stop
/// or a write fails.
fn write_continuously(dev: PathBuf, progress: Arc<Progress>) {
    let f = nvme::open_direct(&dev, true);
    let mut buf = nvme::Aligned::new(BLOCK);
    let mut n = 0u64;
    while !progress.stop.load(Ordering::Acquire) {
        buf.as_mut_slice().copy_from_slice(&block(n));
        let started = Instant::now();
        if let Err(e) = f.write_all_at(buf.as_slice(), (n % BLOCKS) * BLOCK as u64) {
            *progress.failure.lock().unwrap() = Some(format!("write {n}: {e}"));
            return;
        }
        let took = started.elapsed();
        let mut slowest = progress.slowest.lock().unwrap();
        *slowest = (*slowest).max(took);
        drop(slowest);
        n += 1;
        progress.writes.store(n, Ordering::Release);
    }
    if let Err(e) = f.sync_all() {
        *progress.failure.lock().unwrap() = Some(format!("sync: {e}"));
    }
}

fn read_sys(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_default().trim().to_string()
}

/// One path of the multipath device: the controller through one address.
struct PathCtrl {
    ctrl: String,
    disk: String,
}

impl PathCtrl {
    fn state(&self) -> String {
        read_sys(format!("/sys/class/nvme/{}/state", self.ctrl))
    }
    fn ana(&self) -> String {
        read_sys(format!("/sys/block/{}/ana_state", self.disk))
    }
    /// Writes completed through this path (the first field of `stat` is reads, the fifth writes).
    fn writes(&self) -> u64 {
        read_sys(format!("/sys/block/{}/stat", self.disk))
            .split_whitespace()
            .nth(4)
            .and_then(|w| w.parse().ok())
            .unwrap_or(0)
    }
    fn describe(&self) -> String {
        format!("{} ({}): {} ana={} writes={}", self.ctrl, self.disk, self.state(), self.ana(), self.writes())
    }
}

/// The path disk of the multipath head `nvme<S>n<N>` through the controller connected to
/// `traddr`: the hidden disk `nvme<S>c<C>n<N>` of controller `nvme<C>` (6.1 has no
/// `multipath/` directory under the head, so the path disks are found by name).
fn path_to(head: &str, traddr: &str) -> Option<PathCtrl> {
    let (subsys, ns) = head.strip_prefix("nvme")?.split_once('n')?;
    let want = format!("traddr={traddr},");
    std::fs::read_dir("/sys/block").ok()?.flatten().find_map(|e| {
        let disk = e.file_name().to_string_lossy().into_owned();
        let (c, n) = disk.strip_prefix(&format!("nvme{subsys}c"))?.split_once('n')?;
        let ctrl = format!("nvme{c}");
        let ours = n == ns && read_sys(format!("/sys/class/nvme/{ctrl}/address")).starts_with(&want);
        ours.then_some(PathCtrl { ctrl, disk })
    })
}

fn connect(traddr: &str, subnqn: &str, hostnqn: &str, hostid: &str) {
    let (ok, out, err) = nvme::run(
        "nvme",
        &[
            "connect",
            "-t",
            "tcp",
            "-a",
            traddr,
            "-s",
            "4420",
            "-n",
            subnqn,
            "-q",
            hostnqn,
            "-I",
            hostid,
            "--reconnect-delay",
            RECONNECT_DELAY,
            "--ctrl-loss-tmo",
            CTRL_LOSS_TMO,
        ],
    );
    assert!(ok, "nvme connect {traddr}: {out}{err}");
}

fn refused(traddr: &str) -> bool {
    TcpStream::connect_timeout(&format!("{traddr}:4420").parse().unwrap(), Duration::from_secs(2)).is_err()
}

async fn set_path(api: &Api, path: &str, state: &str) -> Value {
    let (status, answer) =
        api.call(Method::POST, &format!("/sim/faults/paths/{path}"), Some(json!({ "state": state }))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["state"], state, "{answer}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdt_outage_fails_over_under_io() {
    if std::env::var_os("PFLEX_NVMET_E2E").is_none() {
        eprintln!("sdt_outage_fails_over_under_io: not run here; scripts/test-nvmet-e2e.sh runs it in a VM with nvmet");
        return;
    }
    let multipath = read_sys("/sys/module/nvme_core/parameters/multipath");
    assert_eq!(multipath, "Y", "native NVMe multipath (nvme_core.multipath) is off");
    let scratch = std::env::var("PFLEX_SCRATCH").unwrap_or_else(|_| "/tmp".into());
    let state = tempfile::tempdir_in(&scratch).unwrap();
    let (hostnqn, hostid) = (nvme::host_nqn(), nvme::host_id());

    let sim = SimProcess::start(LISTEN, state.path(), &["--data-plane", "nvmet", "--seed", "14"]);
    let api = Api::login(&sim.url, None, "admin", "Password123!").await;
    let system = api.ok(Method::GET, "/api/types/System/instances", None).await;
    let subnqn = |host: &str| format!("{}:host:{host}", system[0]["systemNqn"].as_str().unwrap());
    let listed = api.ok(Method::GET, "/sim/faults/paths", None).await;
    println!("paths: {listed}");
    assert_eq!(listed["dataPlane"], "nvmet");
    assert!(listed["paths"].as_array().unwrap().iter().all(|p| p["state"] == "up"), "{listed}");
    assert_eq!(listed["paths"][0]["name"], DOWN.0);

    let host = api.create_host("failover-host", &hostnqn).await;
    let volume = api.create_volume("failover-vol", 8, false).await;
    assert_eq!(api.map(&volume, &host).await.0, StatusCode::OK);
    let v = api.ok(Method::GET, &format!("/api/instances/Volume::{volume}"), None).await;
    let nguid = v["nguid"].as_str().unwrap().to_string();
    let subnqn = subnqn(&host);

    // One multipath device with a path through each SDT, both live and optimised; I/O goes
    // round-robin over them, so the outage hits I/O in flight whichever path it was on.
    connect(DOWN.1, &subnqn, &hostnqn, &hostid);
    connect(KEPT, &subnqn, &hostnqn, &hostid);
    let dev = nvme::wait_for("the multipath device", Duration::from_secs(30), || nvme::device_by_eui(&nguid));
    let head = dev.file_name().unwrap().to_string_lossy().into_owned();
    let (down, kept) =
        nvme::wait_for("two paths", Duration::from_secs(30), || Some((path_to(&head, DOWN.1)?, path_to(&head, KEPT)?)));
    nvme::wait_for("both paths live", Duration::from_secs(30), || {
        (down.state() == "live" && kept.state() == "live").then_some(())
    });
    assert_eq!((down.ana().as_str(), kept.ana().as_str()), ("optimized", "optimized"));
    let subsys = read_sys(format!("/sys/block/{head}/device/subsysnqn"));
    assert_eq!(subsys, subnqn, "the head belongs to the host's subsystem");
    let iopolicy = PathBuf::from(format!("/sys/block/{head}/device/iopolicy"));
    std::fs::write(&iopolicy, "round-robin").unwrap();
    nvme::run("nvme", &["list-subsys"]);
    println!("{head}: {} / {}", down.describe(), kept.describe());

    let progress = Arc::new(Progress::default());
    let writer = std::thread::spawn({
        let (dev, progress) = (dev.clone(), progress.clone());
        move || write_continuously(dev, progress)
    });
    let writes = || progress.writes.load(Ordering::Acquire);
    let healthy = || assert!(progress.failure.lock().unwrap().is_none(), "{:?}", progress.failure.lock().unwrap());
    let running = Instant::now();
    nvme::wait_for("I/O under way", Duration::from_secs(60), || {
        healthy();
        (writes() >= 2 * BLOCKS).then_some(())
    });
    // Which path carried each write, where the path disks count their I/O (`stat`).
    let counted = down.writes() + kept.writes() > 0;
    if counted {
        assert!(
            down.writes() > 0 && kept.writes() > 0,
            "round-robin used one path: {} / {}",
            down.describe(),
            kept.describe()
        );
    } else {
        println!("the path disks count no I/O on this kernel: per-path figures are not checked");
    }
    let before = (writes(), down.writes(), kept.writes());
    println!(
        "before the outage: {} writes in {:?}; {} / {}",
        before.0,
        running.elapsed(),
        down.describe(),
        kept.describe()
    );

    // The outage: sdt1's ports go, the host loses that path and keeps writing on the other.
    let cut = Instant::now();
    let answer = set_path(&api, DOWN.0, "down").await;
    assert!(answer["listeners"].as_array().unwrap().iter().all(|l| l["state"] == "down"), "{answer}");
    assert!(refused(DOWN.1), "{} still accepts connections", DOWN.1);
    let lost = nvme::wait_for("the path to leave live", Duration::from_secs(30), || {
        healthy();
        (down.state() != "live").then(|| down.state())
    });
    let noticed = cut.elapsed();
    println!("path state {lost:?} {noticed:?} after the outage began");
    let at_loss = (writes(), down.writes(), kept.writes());
    // The outage is not undone by a change to the SDT: its moved discovery port listens, its
    // NVMe port stays down.
    let sdt1 = listed["paths"][0]["id"].as_str().unwrap().to_string();
    api.post(&format!("/api/instances/Sdt::{sdt1}/action/modifyDiscoveryPort"), json!({ "newDiscoveryPort": 8010 }))
        .await;
    let listed_now = api.ok(Method::GET, "/sim/faults/paths", None).await;
    let moved = &listed_now["paths"][0];
    assert_eq!(moved["state"], "partly down", "{moved}");
    let states: Vec<(u64, &str)> = moved["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["port"].as_u64().unwrap(), l["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [(4420, "down"), (8010, "up")], "{moved}");
    assert!(refused(DOWN.1), "the SDT change opened {}:4420 again", DOWN.1);
    while cut.elapsed() < OUTAGE {
        healthy();
        assert_ne!(down.state(), "live", "the path came back during the outage");
        assert_eq!(kept.state(), "live", "the other path left live");
        assert!(nvme::device_by_eui(&nguid).is_some(), "the multipath device went during the outage");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let during = (writes(), down.writes(), kept.writes());
    nvme::run("nvme", &["list-subsys"]);
    println!(
        "during the outage ({:?}): {} writes, {} through {}, {} through {}; slowest write {:?}; {}",
        cut.elapsed(),
        during.0 - at_loss.0,
        during.1 - at_loss.1,
        DOWN.1,
        during.2 - at_loss.2,
        KEPT,
        progress.slowest.lock().unwrap(),
        down.describe(),
    );
    assert!(during.0 - at_loss.0 >= 8, "I/O stalled during the outage: {at_loss:?} -> {during:?}");
    if counted {
        assert_eq!(during.1, at_loss.1, "writes went through the path that was down");
        assert!(during.2 > at_loss.2, "the other path carried no writes");
    }

    // Back: the host reconnects within its reconnect delay and uses both paths again.
    let restored = Instant::now();
    set_path(&api, &sdt1, "up").await;
    assert!(!refused(DOWN.1), "{} does not accept connections again", DOWN.1);
    nvme::wait_for("the path to come back live", Duration::from_secs(30), || {
        healthy();
        (down.state() == "live").then_some(())
    });
    let back = restored.elapsed();
    let at_back = (writes(), down.writes());
    nvme::wait_for("writes through the restored path", Duration::from_secs(30), || {
        healthy();
        ((!counted || down.writes() > at_back.1) && writes() >= at_back.0 + BLOCKS).then_some(())
    });
    progress.stop.store(true, Ordering::Release);
    writer.join().unwrap();
    healthy();
    let total = writes();
    let elapsed = running.elapsed();
    nvme::run("nvme", &["list-subsys"]);
    println!(
        "path live again {back:?} after the listeners came back; {total} writes of {} KiB ({} MiB) in {elapsed:?}, \
         {:.1} MiB/s, none failed; slowest write {:?}; {} / {}",
        BLOCK >> 10,
        (total * BLOCK as u64) >> 20,
        (total * BLOCK as u64) as f64 / (1u64 << 20) as f64 / elapsed.as_secs_f64(),
        progress.slowest.lock().unwrap(),
        down.describe(),
        kept.describe(),
    );

    // Every block holds its last write, read through the device and at the array.
    let f = nvme::open_direct(&dev, false);
    let mut buf = nvme::Aligned::new(BLOCK);
    for b in 0..BLOCKS {
        f.read_exact_at(buf.as_mut_slice(), b * BLOCK as u64).unwrap();
        assert!(buf.as_slice() == expected(b, total), "block {b} read through {head} is not its last write");
    }
    let chunk = 16u64 << 20;
    for start in (0..BLOCKS * BLOCK as u64).step_by(chunk as usize) {
        let bytes = api.read_data(&volume, &host, start, chunk).await.unwrap();
        for (i, got) in bytes.chunks(BLOCK).enumerate() {
            let b = start / BLOCK as u64 + i as u64;
            assert!(got == expected(b, total).as_slice(), "block {b} at the array is not its last write");
        }
    }
    println!("all {BLOCKS} blocks ({} MiB) verified through {head} and at the array", (BLOCKS * BLOCK as u64) >> 20);

    nvme::disconnect(&subnqn);
    sim.stop();
    println!("FAILOVER-E2E-COMPLETE");
}
