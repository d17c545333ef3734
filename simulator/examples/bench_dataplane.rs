//! Data-plane benchmark (not a test); `scripts/bench-dataplane.sh` runs both parts in one go.
//!
//! ```text
//! bench_dataplane snapshots DIR   # snapshot time of an 8 GiB volume vs bytes written
//!                                 # (file plane, through the REST API, files under DIR)
//! bench_dataplane nvme [MIB]      # sequential write/read through NVMe/TCP (nvmet plane,
//!                                 # real nvme-cli) vs the same backing store read and
//!                                 # written directly; needs root and nvmet (the VM)
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use powerflex_sim::dataplane::{sparse, PlaneKind};
use powerflex_sim::gateway::auth::AuthConfig;
use powerflex_sim::model::topology::Topology;
use powerflex_sim::server::{ServeConfig, Server, TlsSetting};
use reqwest::Method;
use support::nvme::{self, SimProcess};
use support::{pattern, Api};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn mb_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / MIB as f64 / took.as_secs_f64()
}

async fn snapshots(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let probe = (dir.join("probe-a"), dir.join("probe-b"));
    let _ = std::fs::remove_file(&probe.1);
    std::fs::write(&probe.0, [1u8; 4096]).unwrap();
    let method = sparse::clone_or_copy(&probe.0, &probe.1).unwrap();
    let _ = (std::fs::remove_file(&probe.0), std::fs::remove_file(&probe.1));
    let state = tempfile::tempdir_in(dir).unwrap();
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        topology: Topology::default_embedded(),
        state_dir: Some(state.path().to_path_buf()),
        auth: AuthConfig::default(),
        seed: Some(3),
        tls: TlsSetting::Off,
        data_plane: PlaneKind::File,
        fsync: false,
        broken: Default::default(),
        faults: Vec::new(),
    };
    let server = Server::bind(config).await.expect("starts");
    let url = server.url.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(async {
                stopped.await.ok();
            })
            .await
            .unwrap()
    });
    let auth = AuthConfig::default();
    let api = Api::login(&url, None, &auth.user, &auth.password).await;
    let host = api.create_host("bench", "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000be7c4").await;
    let fs = std::process::Command::new("stat").args(["-f", "-c", "%T"]).arg(dir).output().ok();
    let fs = fs.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    println!("## Snapshot time, 8 GiB thin volume, file plane, {} ({fs}); copy method: {method:?}", dir.display());
    println!("| written | pieces | write time | snapshot (REST call) | snapshot allocated |");
    println!("|---|---|---|---|---|");
    let chunk = pattern(0x5a, MIB as usize);
    for (i, written) in [MIB, 16 * MIB, 128 * MIB, GIB].into_iter().enumerate() {
        let volume = api.create_volume(&format!("bench{i}"), 8, false).await;
        api.map(&volume, &host).await;
        // 1 MiB pieces spread evenly over the volume, so the data map has many extents.
        let pieces = written / MIB;
        let stride = 8 * GIB / pieces;
        let started = Instant::now();
        for p in 0..pieces {
            let (status, e) = api.write_data(&volume, &host, p * stride, chunk.clone()).await;
            assert!(status.is_success(), "{e}");
        }
        let write_took = started.elapsed();
        let mut times = Vec::new();
        let mut snap = String::new();
        for n in 0..3 {
            let started = Instant::now();
            snap = api.snapshot(&volume, &format!("b{i}s{n}")).await;
            times.push(started.elapsed());
        }
        times.sort();
        let allocated = api.allocated(&snap).await;
        println!(
            "| {} MiB | {pieces} | {:.2} s | {:.1} ms (median of 3; min {:.1}, max {:.1}) | {} MiB |",
            written / MIB,
            write_took.as_secs_f64(),
            times[1].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3,
            times[2].as_secs_f64() * 1e3,
            allocated / MIB
        );
        std::io::stdout().flush().ok();
    }
    stop.send(()).ok();
    task.await.ok();
}

async fn through_nvme(mib: u64) {
    let scratch = std::env::var("PFLEX_SCRATCH").unwrap_or_else(|_| "/tmp".into());
    let state = tempfile::tempdir_in(&scratch).unwrap();
    let sim = SimProcess::start("127.0.0.1:8443", state.path(), &["--data-plane", "nvmet", "--seed", "4"]);
    let api = Api::login(&sim.url, None, "admin", "Password123!").await;
    let (hostnqn, hostid) = (nvme::host_nqn(), nvme::host_id());
    let host = api.create_host("bench", &hostnqn).await;
    let volume = api.create_volume("bench", 8, false).await;
    api.map(&volume, &host).await;
    let nguid = api.ok(Method::GET, &format!("/api/instances/Volume::{volume}"), None).await["nguid"]
        .as_str()
        .unwrap()
        .to_string();
    let system = api.ok(Method::GET, "/api/types/System/instances", None).await;
    let subnqn = format!("{}:host:{host}", system[0]["systemNqn"].as_str().unwrap());
    assert!(nvme::connect("127.0.0.2", "4420", &subnqn, &hostnqn, &hostid));
    let dev = nvme::wait_for("namespace", Duration::from_secs(30), || nvme::device_by_eui(&nguid));
    let backing = api.ok(Method::GET, &format!("/sim/volumes/{volume}/backing?host={host}"), None).await;
    let backing = std::path::PathBuf::from(backing["path"].as_str().unwrap());

    let block = MIB as usize;
    let total = mib * MIB;
    let mut buf = nvme::Aligned::new(block);
    buf.as_mut_slice().copy_from_slice(&pattern(0x77, block));
    let dev_file = nvme::open_direct(&dev, true);
    let started = Instant::now();
    for off in (0..total).step_by(block) {
        dev_file.write_all_at(buf.as_slice(), off).unwrap();
    }
    dev_file.sync_all().unwrap();
    let nvme_write = started.elapsed();
    let started = Instant::now();
    for off in (0..total).step_by(block) {
        dev_file.read_exact_at(buf.as_mut_slice(), off).unwrap();
    }
    let nvme_read = started.elapsed();
    nvme::disconnect(&subnqn);

    // The same backing store, directly: read the volume's file, write a sibling file.
    let _ = std::fs::write("/proc/sys/vm/drop_caches", "3");
    let file = std::fs::File::open(&backing).unwrap();
    let mut plain = vec![0u8; block];
    let started = Instant::now();
    for off in (0..total).step_by(block) {
        file.read_exact_at(&mut plain, off).unwrap();
    }
    let direct_read = started.elapsed();
    let sibling = backing.with_file_name("bench-direct.bin");
    let out = std::fs::File::create(&sibling).unwrap();
    let started = Instant::now();
    for off in (0..total).step_by(block) {
        out.write_all_at(&plain, off).unwrap();
    }
    out.sync_all().unwrap();
    let direct_write = started.elapsed();
    std::fs::remove_file(&sibling).ok();
    sim.stop();

    println!(
        "## Sequential throughput, {mib} MiB in 1 MiB blocks, backing store {}",
        backing.parent().unwrap().display()
    );
    println!("| path | write | read |");
    println!("|---|---|---|");
    println!(
        "| NVMe/TCP (nvme-tcp -> nvmet file backend, O_DIRECT on the host) | {:.0} MiB/s | {:.0} MiB/s |",
        mb_s(total, nvme_write),
        mb_s(total, nvme_read)
    );
    println!(
        "| backing store directly (pread/pwrite on the same filesystem) | {:.0} MiB/s | {:.0} MiB/s |",
        mb_s(total, direct_write),
        mb_s(total, direct_read)
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("snapshots") => snapshots(Path::new(args.get(2).map_or("target/bench-dataplane", String::as_str))).await,
        Some("nvme") => through_nvme(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(512)).await,
        _ => {
            eprintln!("usage: bench_dataplane snapshots DIR | nvme [MIB]");
            std::process::exit(2);
        }
    }
}
