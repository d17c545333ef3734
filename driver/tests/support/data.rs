//! The driver's data test, one body for every connector: attach, write
//! distinct patterns, snapshot, write again, restore (the snapshot's bytes
//! back), a snapshot copy (`clone_copy=false`: same VTree, same bytes), a host
//! copy (`clone_copy=true`: own VTree, block copy through the connector, same
//! bytes, independent of the source), detach, and nothing left behind.
//!
//! `tests/data.rs` runs it with the `sim` and `loop` connectors against the
//! simulator's `file` plane, `tests/nvme.rs` with `nvme` against `nvmet`, and
//! `sdc/tests/driver_data.rs` with `sdc` (powerflex.mode=sdc) through `pflex-sdc`.
//! Device I/O runs on blocking threads, as the driver's block copy does, so
//! the in-process simulator keeps serving while a device waits for it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use powerflex_driver::blockcopy::CopyStats;
use powerflex_driver::connector::{BlockDevice, Connector, ConnectorKind, VolumeRef};
use powerflex_driver::host::HostIdentity;
use powerflex_driver::host::HostProbe;
use powerflex_driver::naming::{ContentType, VolumeType, GIB};
use powerflex_driver::powerflex::discovery;
use powerflex_driver::powerflex::PowerFlexName;
use powerflex_driver::volume::Attachment;
use powerflex_driver::{CopyMethod, CopyRequest, CreateOptions, Driver, Volume};
use powerflex_sim::testing::TestGateway;
use uuid::Uuid;

use super::{assert_no_host_leftovers, client, config};

const MIB: u64 = 1 << 20;
/// Where the main pattern goes, and how long it is.
const AT: u64 = 4 * MIB;
const LEN: usize = MIB as usize;
/// A second region at the end of the volume.
const TAIL_LEN: usize = 64 * 1024;
const TAIL: u64 = 8 * GIB - TAIL_LEN as u64;
/// A region nothing writes: must read zeros everywhere.
const UNTOUCHED: u64 = 3 * GIB + 12345;

/// What the connector under test gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No kernel path; refusals come from the admin surface.
    Sim,
    /// `/dev/loopN`, detached with the volume; refusals from the admin surface.
    Loop,
    /// `/dev/nvme*`.
    Nvme,
    /// The SDC's device (`pflex-sdc`: a loop device), in powerflex.mode=sdc.
    Sdc,
}

impl Expect {
    /// Whether the connector reaches the bytes through pflex-sim's admin surface.
    fn through_admin_surface(self) -> bool {
        matches!(self, Expect::Sim | Expect::Loop)
    }
}

/// A recognisable pattern per seed (seeds below 128 differ in every byte); never zero.
fn pat(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (((i as u32).wrapping_mul(2_654_435_761) >> 13) as u8).wrapping_add(seed.wrapping_mul(37)) | 0x80)
        .collect()
}

/// Runs `f` on the device on a blocking thread; gives the attachment back.
async fn with_dev<T: Send + 'static>(
    att: Attachment,
    f: impl FnOnce(&dyn BlockDevice) -> T + Send + 'static,
) -> (Attachment, T) {
    tokio::task::spawn_blocking(move || {
        let t = f(att.device.as_ref());
        (att, t)
    })
    .await
    .expect("device task")
}

fn read(dev: &dyn BlockDevice, offset: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    dev.read_at(&mut b, offset).unwrap_or_else(|e| panic!("read {len} at {offset}: {e}"));
    b
}

/// What a volume should read at the checked places.
#[derive(Clone)]
struct Content {
    main: Vec<u8>,
    tail: Vec<u8>,
}

struct Run {
    /// `clone_copy=false`.
    snap: Driver,
    /// `clone_copy=true`.
    full: Driver,
    expect: Expect,
}

impl Run {
    async fn attach(&self, vol: &Volume) -> (Attachment, Option<PathBuf>) {
        let att = self.snap.attach_volume(vol).await.unwrap_or_else(|e| panic!("attach {}: {e}", vol.name()));
        let path = att.path();
        match self.expect {
            Expect::Sim => assert_eq!(path, None, "the sim connector has no kernel device"),
            Expect::Loop | Expect::Sdc => {
                assert!(path.as_ref().is_some_and(|p| p.to_string_lossy().starts_with("/dev/loop")), "{path:?}")
            }
            Expect::Nvme => {
                assert!(path.as_ref().is_some_and(|p| p.to_string_lossy().starts_with("/dev/nvme")), "{path:?}")
            }
        }
        (att, path)
    }

    async fn detach(&self, vol: &Volume, att: Attachment, path: Option<PathBuf>) {
        drop(att);
        self.snap.detach_volume(vol).await.unwrap_or_else(|e| panic!("detach {}: {e}", vol.name()));
        if self.expect == Expect::Loop {
            let name = path.unwrap().file_name().unwrap().to_string_lossy().into_owned();
            let bound = std::fs::read_to_string(format!("/sys/block/{name}/loop/backing_file")).unwrap_or_default();
            assert!(!bound.contains(".img"), "/dev/{name} still bound after detach: {bound}");
        }
    }

    async fn write(&self, vol: &Volume, c: &Content) {
        let (att, path) = self.attach(vol).await;
        let c2 = c.clone();
        let (att, ()) = with_dev(att, move |d| {
            assert_eq!(d.size().unwrap(), 8 * GIB);
            d.write_at(&c2.main, AT).unwrap();
            d.write_at(&c2.tail, TAIL).unwrap();
            d.flush().unwrap();
            // Read back through the same device.
            assert!(read(d, AT, LEN) == c2.main, "read back after write");
        })
        .await;
        self.detach(vol, att, path).await;
    }

    async fn check(&self, vol: &Volume, want: &Content, what: &str) {
        let (att, path) = self.attach(vol).await;
        let want = want.clone();
        let what2 = what.to_string();
        let (att, ()) = with_dev(att, move |d| {
            assert!(read(d, AT, LEN) == want.main, "{what2}: main region");
            assert!(read(d, TAIL, TAIL_LEN) == want.tail, "{what2}: tail region");
            assert!(read(d, UNTOUCHED, 8192).iter().all(|&b| b == 0), "{what2}: untouched region not zero");
            assert!(read(d, AT - 4096, 4096).iter().all(|&b| b == 0), "{what2}: bytes before the main region");
        })
        .await;
        self.detach(vol, att, path).await;
    }
}

fn content(seed: u8) -> Content {
    Content { main: pat(seed, LEN), tail: pat(seed.wrapping_add(100), TAIL_LEN) }
}

async fn driver(gw: &TestGateway, extra: &[&str], identity: &HostIdentity, c: Arc<dyn Connector>) -> Driver {
    let cfg = config(gw, extra);
    let client = client(gw);
    let d = discovery::discover(&client, &cfg, &HostProbe::default()).await.unwrap();
    Driver::from_parts(client, cfg, d, identity.clone(), c)
        .with_timeouts(Duration::from_secs(30), Duration::from_secs(10))
}

/// The attach round trip alone, where whole-volume copies would be too slow (an emulated VM):
/// create, attach and write, attach again and read it back, delete, nothing left behind.
pub async fn run_attach_test(gw: &TestGateway, connector: Arc<dyn Connector>, expect: Expect) {
    let identity = HostIdentity::new(Uuid::new_v4());
    let mode = if expect == Expect::Sdc { "powerflex.mode=sdc" } else { "powerflex.mode=nvme" };
    let snap = driver(gw, &[mode], &identity, connector.clone()).await;
    let run = Run { full: snap.clone(), snap, expect };
    let v = Volume::new(VolumeType::Custom, ContentType::Block, Uuid::new_v4());
    run.snap.create_volume(&v, &CreateOptions { size: 8 * GIB, thick: false }).await.unwrap();
    let a = content(1);
    run.write(&v, &a).await;
    run.check(&v, &a, "the volume after writing A").await;
    run.snap.delete_volume(&v).await.unwrap();
    assert_no_host_leftovers(&run.snap).await;
}

/// The data test; see the module comment. Returns the host copy's figures.
pub async fn run_data_test(gw: &TestGateway, connector: Arc<dyn Connector>, expect: Expect) -> CopyStats {
    let kind = connector.kind();
    assert_eq!(
        kind,
        match expect {
            Expect::Sim => ConnectorKind::Sim,
            Expect::Loop => ConnectorKind::Loop,
            Expect::Nvme => ConnectorKind::Nvme,
            Expect::Sdc => ConnectorKind::Sdc,
        }
    );
    let identity = HostIdentity::new(Uuid::new_v4());
    let mode = if expect == Expect::Sdc { "powerflex.mode=sdc" } else { "powerflex.mode=nvme" };
    let run = Run {
        snap: driver(gw, &[mode, "powerflex.clone_copy=false"], &identity, connector.clone()).await,
        full: driver(gw, &[mode, "powerflex.clone_copy=true"], &identity, connector.clone()).await,
        expect,
    };
    let new_volume = || Volume::new(VolumeType::Custom, ContentType::Block, Uuid::new_v4());
    let size = CreateOptions { size: 8 * GIB, thick: false };
    let (a, b, c, d) = (content(1), content(2), content(3), content(4));
    assert!(a.main != b.main && b.main != c.main && c.main != d.main && a.tail != b.tail);

    // Attach, write A; a fresh volume reads zeros where nothing was written.
    let v = new_volume();
    run.snap.create_volume(&v, &size).await.unwrap();
    run.write(&v, &a).await;
    run.check(&v, &a, "v after writing A").await;

    // Unmapped, the admin surface refuses the bytes to this host; the SDC shows no device.
    if expect == Expect::Sdc {
        let info = run.snap.volume_info(&v).await.unwrap().unwrap();
        let vref = VolumeRef { id: info.id.clone(), name: info.name.clone(), size: info.size, nguid: None, wwn: None };
        let err = connector.open(&run.snap.target(), &vref, Duration::from_secs(1)).await.err().expect("no device");
        assert!(matches!(err, powerflex_driver::connector::ConnectorError::DeviceTimeout { .. }), "unmapped: {err}");
    }
    if expect.through_admin_surface() {
        let info = run.snap.volume_info(&v).await.unwrap().unwrap();
        let vref = VolumeRef { id: info.id.clone(), name: info.name.clone(), size: info.size, nguid: None, wwn: None };
        let err = connector.open(&run.snap.target(), &vref, Duration::from_secs(1)).await.err().expect("refused");
        let msg = err.to_string();
        // No mapping left, so no host entity either: the gateway's "Could not find the host".
        assert!(msg.contains("not mapped to host") || msg.contains("Could not find the host"), "unmapped: {msg}");
    }

    // Snapshot, write B, restore: A again.
    let s1 = run.snap.create_snapshot(&v, Uuid::new_v4()).await.unwrap();
    run.write(&v, &b).await;
    run.check(&v, &b, "v after writing B").await;
    run.check(&s1, &a, "snapshot s1").await;
    run.snap.restore_volume(&v, &s1).await.unwrap();
    run.check(&v, &a, "v restored from s1").await;
    run.write(&v, &b).await;

    // Snapshot copy (clone_copy=false, a source without snapshots): same VTree, same bytes.
    let plain = new_volume();
    run.snap.create_volume(&plain, &size).await.unwrap();
    run.write(&plain, &c).await;
    let sc = new_volume();
    let req = |source, target, ss: Vec<Volume>, ts: Vec<Volume>| CopyRequest {
        source,
        source_snapshots: ss,
        target,
        target_snapshots: ts,
        size: None,
        thick: false,
    };
    let report = run.snap.copy_volume(&req(plain, sc, vec![], vec![]), None).await.unwrap();
    assert_eq!(report.method, CopyMethod::Snapshot);
    let (pi, si) =
        (run.snap.volume_info(&plain).await.unwrap().unwrap(), run.snap.volume_info(&sc).await.unwrap().unwrap());
    assert!(pi.vtree_id.is_some() && pi.vtree_id == si.vtree_id, "snapshot copy in the source's VTree: {pi:?} {si:?}");
    run.check(&sc, &c, "snapshot copy").await;

    // Host copy (clone_copy=true) of v with its snapshot: own VTree, block copy.
    let hc = new_volume();
    let hcs = hc.snapshot(Uuid::new_v4());
    let report = run.full.copy_volume(&req(v, hc, vec![s1], vec![hcs]), None).await.unwrap();
    assert_eq!(report.method, CopyMethod::HostCopy);
    assert_eq!(report.passes, 2);
    let stats = report.stats;
    assert_eq!(stats.bytes_total, 16 * GIB, "{stats:?}");
    // Only what holds data is written: two regions per pass, at 1 MiB granularity.
    assert!(stats.bytes_written <= 2 * 3 * MIB, "not sparse: {stats:?}");
    assert!(stats.throughput() > 0.0);
    if expect.through_admin_surface() {
        // The sim connector's hole map comes from the simulator's extents endpoint, the loop
        // connector's from the backing file: only the data is read. (A block device has no
        // hole map: the nvme connector reads everything and skips zeros.)
        assert!(stats.bytes_read <= 64 * MIB && stats.bytes_holes >= 16 * GIB - 64 * MIB, "holes read: {stats:?}");
    }
    let (vi, hi) =
        (run.snap.volume_info(&v).await.unwrap().unwrap(), run.snap.volume_info(&hc).await.unwrap().unwrap());
    assert!(hi.vtree_id.is_some() && hi.vtree_id != vi.vtree_id, "host copy in its own VTree: {vi:?} {hi:?}");
    run.check(&hc, &b, "host copy").await;
    run.check(&hcs, &a, "host copy's snapshot").await;

    // Independence: writing the copy leaves the source alone, and the other way round.
    run.write(&hc, &d).await;
    run.check(&v, &b, "source after writing the copy").await;
    run.check(&hc, &d, "copy after writing it").await;
    run.write(&v, &c).await;
    run.check(&hc, &d, "copy after writing the source").await;

    for x in [hcs, hc, sc, plain, s1, v] {
        run.snap.delete_volume(&x).await.unwrap_or_else(|e| panic!("delete {}: {e}", x.name()));
    }
    assert_no_host_leftovers(&run.snap).await;
    stats
}
