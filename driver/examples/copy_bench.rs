//! Block copy throughput per connector, against `cp --sparse=always` of the
//! backing file, in one run.
//!
//! Starts the simulator in-process (HTTPS, `file` plane; `nvmet` when `nvme`
//! is asked for), creates an 8 GiB volume holding `--data-mib` MiB of data in
//! 16 extents spread over it, then for each connector makes a host copy
//! (`powerflex.clone_copy=true`: a new volume filled by the driver's block
//! copy through two attached devices) and checks the copy's bytes. The
//! baseline is `cp --sparse=always` of the source's backing file plus an
//! `fsync` of the result (the block copy flushes its target too). The page
//! cache is dropped before each measurement when this runs as root.
//!
//! ```text
//! cargo run --release -p powerflex-driver --example copy_bench -- [--data-mib 256] [--connectors sim,loop[,nvme]]
//! ```
//!
//! `sim` gets its hole map from the simulator's extents endpoint (so it would
//! work against a remote simulator too) and moves the bytes over HTTPS.
//! `nvme` needs root and the NVMe/TCP modules; where they do not load, build
//! the example (`cargo build --release -p powerflex-driver --example copy_bench`)
//! and run it in the VM:
//! `scripts/vm-run --share target/release/examples -- /share/examples/copy_bench --connectors nvme,sim,loop`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use powerflex_driver::blockcopy::CopyStats;
use powerflex_driver::connector::{
    self, BlockDevice, Connector, ConnectorChoice, LoopConnector, NvmeConnector, SimConnector,
};
use powerflex_driver::host::HostIdentity;
use powerflex_driver::host::HostProbe;
use powerflex_driver::keys::parse_key_values;
use powerflex_driver::naming::{ContentType, VolumeType, GIB};
use powerflex_driver::powerflex::config::PoolConfig;
use powerflex_driver::powerflex::discovery;
use powerflex_driver::{ClientOptions, CopyMethod, CopyRequest, CreateOptions, Driver, Volume};
use powerflex_sim::dataplane::PlaneKind;
use powerflex_sim::testing::{Options, TestGateway};
use uuid::Uuid;

const MIB: u64 = 1 << 20;
const EXTENTS: u64 = 16;
const VOLUME: u64 = 8 * GIB;

struct Args {
    data_mib: u64,
    connectors: Vec<String>,
}

fn args() -> Args {
    let mut a = Args { data_mib: 256, connectors: vec!["sim".into(), "loop".into()] };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--data-mib" => a.data_mib = it.next().and_then(|v| v.parse().ok()).expect("--data-mib N"),
            "--connectors" => {
                a.connectors = it.next().expect("--connectors a,b").split(',').map(str::to_string).collect()
            }
            other => panic!("unknown argument {other:?} (use --data-mib N, --connectors sim,loop,nvme)"),
        }
    }
    assert!(a.data_mib >= EXTENTS && a.data_mib * MIB <= VOLUME / 2, "--data-mib between 16 and 4096");
    a
}

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Where extent `i` starts: spread evenly, off 1 MiB alignment by 4 KiB steps.
fn extent_offset(i: u64) -> u64 {
    i * (VOLUME / EXTENTS) + (i % 4) * 4096
}

fn options(gw: &TestGateway) -> ClientOptions {
    let mut o = ClientOptions::new(&gw.url, &gw.user, &gw.password);
    o.ca_pem = Some(gw.ca_cert_pem.clone().into_bytes());
    o
}

async fn driver(gw: &TestGateway, identity: &HostIdentity, c: Arc<dyn Connector>) -> Driver {
    let keys = vec![
        format!("powerflex.gateway={}", gw.url),
        format!("powerflex.user.name={}", gw.user),
        format!("powerflex.user.password={}", gw.password),
        "powerflex.pool=sp1".into(),
        "powerflex.domain=pd1".into(),
        "powerflex.mode=nvme".into(),
        "powerflex.clone_copy=true".into(),
    ];
    let cfg = PoolConfig::from_map(&parse_key_values(keys).unwrap()).unwrap();
    let client = powerflex_driver::Client::new(options(gw)).unwrap();
    let d = discovery::discover(&client, &cfg, &HostProbe::default()).await.unwrap();
    Driver::from_parts(client, cfg, d, identity.clone(), c)
        .with_timeouts(Duration::from_secs(30), Duration::from_secs(10))
}

fn drop_caches() -> bool {
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

async fn on_device<T: Send + 'static>(
    d: &Driver,
    vol: &Volume,
    f: impl FnOnce(&dyn BlockDevice) -> T + Send + 'static,
) -> T {
    let att = d.attach_volume(vol).await.expect("attach");
    let (att, t) = tokio::task::spawn_blocking(move || {
        let t = f(att.device.as_ref());
        (att, t)
    })
    .await
    .unwrap();
    drop(att);
    d.detach_volume(vol).await.expect("detach");
    t
}

struct Row {
    name: String,
    secs: f64,
    written: u64,
    note: String,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let with_nvme = a.connectors.iter().any(|c| c == "nvme");
    let plane = if with_nvme { PlaneKind::Nvmet } else { PlaneKind::File };
    let gw = TestGateway::start_with(Options { data_plane: plane, ..Default::default() }).await;
    let identity = HostIdentity::new(Uuid::new_v4());
    let opts = options(&gw);
    let sim: Arc<dyn Connector> = Arc::new(SimConnector::new(&opts).unwrap());
    let setup = driver(&gw, &identity, sim.clone()).await;

    // The source: `data_mib` MiB in 16 extents over 8 GiB.
    let src = Volume::new(VolumeType::Custom, ContentType::Block, Uuid::new_v4());
    setup.create_volume(&src, &CreateOptions { size: VOLUME, thick: false }).await.unwrap();
    let extent = a.data_mib * MIB / EXTENTS;
    on_device(&setup, &src, move |dev| {
        for i in 0..EXTENTS {
            dev.write_at(&pattern(i + 1, extent as usize), extent_offset(i)).unwrap();
        }
        dev.flush().unwrap();
    })
    .await;
    let src_id = setup.volume_info(&src).await.unwrap().unwrap().id;
    let backing = gw.state_dir.join("volumes").join(format!("{src_id}.img"));
    assert!(backing.exists(), "backing file {} not found", backing.display());
    let data = a.data_mib * MIB;
    println!(
        "copy_bench: {} MiB of data in {EXTENTS} extents of an {} GiB volume, simulator {plane} plane, backing files on {}",
        a.data_mib,
        VOLUME / GIB,
        backing.parent().unwrap().display()
    );
    let cold = drop_caches();
    println!("page cache dropped before each run: {}", if cold { "yes" } else { "no (not root)" });

    let mut rows = Vec::new();

    // Baseline: cp --sparse=always of the backing file, then fsync (GNU cp; busybox's, as in
    // the VM, has no --sparse: then there is no baseline row).
    let out: PathBuf = gw.state_dir.join("cp-baseline.img");
    drop_caches();
    let t = Instant::now();
    let cp = std::process::Command::new("cp")
        .arg("--sparse=always")
        .arg(&backing)
        .arg(&out)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    if cp.success() {
        std::fs::File::open(&out).unwrap().sync_all().unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(std::fs::metadata(&out).unwrap().len(), VOLUME);
        std::fs::remove_file(&out).unwrap();
        rows.push(Row {
            name: "cp --sparse=always".into(),
            secs,
            written: data,
            note: "backing file to file, + fsync".into(),
        });
    } else {
        let _ = std::fs::remove_file(&out);
        println!("cp --sparse=always: not supported by this cp; no baseline row");
    }

    for name in &a.connectors {
        let (connector, note): (Arc<dyn Connector>, &str) = match name.as_str() {
            "sim" => (Arc::new(SimConnector::new(&opts).unwrap()), "HTTPS data surface, hole map from /extents"),
            "loop" => {
                if let Some(why) = connector::loopdev::unavailable_reason() {
                    println!("loop: skipped: {why}");
                    continue;
                }
                (Arc::new(LoopConnector::new(&opts).unwrap()), "loop devices, hole map from the backing file")
            }
            "nvme" => (Arc::new(NvmeConnector::new()), "NVMe/TCP (nvmet), no hole map: reads all 8 GiB"),
            other => {
                let c: ConnectorChoice = other.parse().unwrap_or_else(|e| panic!("{e}"));
                (connector::build(c, &opts).unwrap(), "")
            }
        };
        let d = driver(&gw, &identity, connector).await;
        let dst = Volume::new(VolumeType::Custom, ContentType::Block, Uuid::new_v4());
        let req = CopyRequest {
            source: src,
            source_snapshots: vec![],
            target: dst,
            target_snapshots: vec![],
            size: None,
            thick: false,
        };
        drop_caches();
        let report = d.copy_volume(&req, None).await.unwrap_or_else(|e| panic!("{name}: copy: {e}"));
        assert_eq!(report.method, CopyMethod::HostCopy);
        let stats: CopyStats = report.stats;
        // The copy holds the source's extents, and zeros around them.
        let ok = on_device(&d, &dst, move |dev| {
            (0..EXTENTS).all(|i| {
                let mut b = vec![0u8; extent as usize];
                dev.read_at(&mut b, extent_offset(i)).unwrap();
                let mut z = vec![1u8; 4096];
                dev.read_at(&mut z, extent_offset(i) + extent).unwrap();
                b == pattern(i + 1, extent as usize) && z.iter().all(|&x| x == 0)
            })
        })
        .await;
        assert!(ok, "{name}: the copy's bytes differ from the source");
        d.delete_volume(&dst).await.unwrap();
        rows.push(Row {
            name: name.clone(),
            secs: stats.elapsed_ms as f64 / 1000.0,
            written: stats.bytes_written,
            note: format!("{note}; read {} MiB", stats.bytes_read >> 20),
        });
    }
    setup.delete_volume(&src).await.unwrap();

    println!();
    println!(
        "{:<20} {:>9} {:>14} {:>17} {:>12}  how",
        "copy", "seconds", "data MiB/s", "8 GiB-equiv MiB/s", "written MiB"
    );
    for r in &rows {
        let secs = r.secs.max(0.001);
        println!(
            "{:<20} {:>9.3} {:>14.1} {:>17.1} {:>12}  {}",
            r.name,
            r.secs,
            data as f64 / MIB as f64 / secs,
            VOLUME as f64 / MIB as f64 / secs,
            r.written >> 20,
            r.note
        );
    }
    gw.stop().await;
}
