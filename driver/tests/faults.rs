//! The driver survives: hundreds of operations of every kind through the state-backed facade
//! ([`Pools`], as `pflex` runs them) against both in-process emulators with about one request
//! in ten faulted (500, an ingress's 503 page, a change made whose answer is lost, a revoked
//! session, latency), seeded so that every run injects the same faults. Then, faults off, an
//! audit: what the array holds (volumes, snapshots, host entities, mappings or vLUNs, volume
//! sets) is exactly what local state says exists, and clean-up by the ordinary commands
//! leaves the array as it was. Every operation must end (no hang), none may panic, every
//! failure must be an error.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use powerflex_driver::alletra::{AlletraName, Mode as AlletraMode};
use powerflex_driver::array::ArrayKind;
use powerflex_driver::host::HostIdentity;
use powerflex_driver::naming::{ContentType, VolumeType, GIB};
use powerflex_driver::pool::{Pools, Settings};
use powerflex_driver::powerflex::PowerFlexName;
use powerflex_driver::retry::Policy;
use powerflex_driver::state::{StateDir, VolumeRecord};
use powerflex_driver::{ConnectorChoice, Volume};
use powerflex_sim::alletra::testing::TestArray;
use powerflex_sim::testing::TestGateway;
use serde_json::Value;

/// Operations per array.
const OPS: usize = 500;
/// Longer than any operation may take with the injected latencies.
const OP_TIMEOUT: Duration = Duration::from_secs(30);
/// About one request in ten: the kinds of the proxy, each with its own seed.
const RULES: [&str; 5] = [
    "* /** -> error 500 p=0.03 seed=11",
    "* /** -> error 503 html p=0.025 seed=12",
    "* /** -> drop p=0.025 seed=13",
    "* /** -> revoke p=0.01 seed=14",
    "* /** -> latency 20ms..80ms p=0.02 seed=15",
];
/// The default tries with shorter pauses: the emulator's faults pass at once.
const QUICK_RETRY: Policy =
    Policy { attempts: powerflex_driver::retry::ATTEMPTS, first_pause: Duration::from_millis(5) };
/// Volumes per pool before the run prefers deleting.
const MAX_VOLUMES: usize = 6;

/// A small deterministic generator (xorshift64*), so the sequence of operations repeats.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

/// The emulator's `/sim/faults`, with its credentials as HTTP Basic.
struct FaultSurface {
    http: reqwest::Client,
    url: String,
    user: String,
    password: String,
}

impl FaultSurface {
    fn new(url: &str, ca_pem: &str, user: &str, password: &str) -> FaultSurface {
        let mut o = powerflex_driver::ClientOptions::new(url, user, password);
        o.ca_pem = Some(ca_pem.as_bytes().to_vec());
        FaultSurface {
            http: powerflex_driver::http::http_client(&o).unwrap(),
            url: format!("{url}/sim/faults"),
            user: user.into(),
            password: password.into(),
        }
    }

    async fn add(&self, rule: &str) {
        let r = self.http.post(&self.url).basic_auth(&self.user, Some(&self.password));
        let resp = r.json(&serde_json::json!({ "rule": rule })).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 201, "{rule}: {}", resp.text().await.unwrap());
    }

    /// Removes every rule; returns how often each kind fired.
    async fn clear(&self) -> BTreeMap<String, u64> {
        let r = self.http.get(&self.url).basic_auth(&self.user, Some(&self.password));
        let listing: Value = r.send().await.unwrap().json().await.unwrap();
        let mut fired = BTreeMap::new();
        for rule in listing["rules"].as_array().unwrap() {
            let text = rule["rule"].as_str().unwrap();
            let kind = text.split("-> ").nth(1).unwrap().split(" p=").next().unwrap().to_string();
            *fired.entry(kind).or_default() += rule["fired"].as_u64().unwrap();
        }
        let r = self.http.delete(&self.url).basic_auth(&self.user, Some(&self.password));
        assert!(r.send().await.unwrap().status().is_success());
        fired
    }
}

/// What the run saw.
#[derive(Debug, Default)]
struct Figures {
    ops: usize,
    ok: usize,
    failed: usize,
    panics: usize,
    hangs: usize,
    by_kind: BTreeMap<&'static str, (usize, usize)>,
    /// Wall time per kind, milliseconds.
    time_ms: BTreeMap<&'static str, u128>,
    fired: BTreeMap<String, u64>,
    leaked: Vec<String>,
    missing: Vec<String>,
    cleanup_failures: Vec<String>,
    left_after_cleanup: Vec<String>,
}

impl Figures {
    fn report(&self, array: &str) {
        eprintln!("== {array}: {} operations, {} succeeded, {} failed with an error", self.ops, self.ok, self.failed);
        eprintln!("   panics {}, hangs {}", self.panics, self.hangs);
        eprintln!("   by kind (ok, failed): {:?}", self.by_kind);
        eprintln!("   wall time by kind (ms): {:?}", self.time_ms);
        eprintln!("   faults fired: {:?}", self.fired);
        eprintln!("   leaked: {} {:?}", self.leaked.len(), self.leaked);
        eprintln!("   missing: {} {:?}", self.missing.len(), self.missing);
        eprintln!(
            "   clean-up failures: {:?}; left after clean-up: {:?}",
            self.cleanup_failures, self.left_after_cleanup
        );
    }

    fn assert_survived(&self) {
        assert_eq!((self.panics, self.hangs), (0, 0), "panics, hangs");
        assert!(self.leaked.is_empty(), "leaked: {:?}", self.leaked);
        assert!(self.missing.is_empty(), "missing: {:?}", self.missing);
        assert!(self.cleanup_failures.is_empty(), "clean-up failed: {:?}", self.cleanup_failures);
        assert!(self.left_after_cleanup.is_empty(), "left after clean-up: {:?}", self.left_after_cleanup);
        assert!(self.ok * 3 > self.ops, "too few operations succeeded to mean anything: {}", self.ok);
        assert!(self.failed > 0, "no operation failed: the faults did not bite");
        for rule in RULES {
            let kind = rule.split("-> ").nth(1).unwrap().split(" p=").next().unwrap();
            assert!(self.fired.get(kind).copied().unwrap_or(0) > 0, "{kind} never fired: {:?}", self.fired);
        }
    }
}

/// Runs one operation as its own task: a panic and a hang are told apart from an error.
async fn run_op<F>(fig: &mut Figures, kind: &'static str, op: F) -> bool
where
    F: Future<Output = powerflex_driver::Result<()>> + Send + 'static,
{
    fig.ops += 1;
    let start = std::time::Instant::now();
    let outcome = tokio::time::timeout(OP_TIMEOUT, tokio::spawn(op)).await;
    *fig.time_ms.entry(kind).or_default() += start.elapsed().as_millis();
    let entry = fig.by_kind.entry(kind).or_default();
    match outcome {
        Err(_) => {
            fig.hangs += 1;
            false
        }
        Ok(Err(join)) => {
            assert!(join.is_panic());
            fig.panics += 1;
            false
        }
        Ok(Ok(Ok(()))) => {
            entry.0 += 1;
            fig.ok += 1;
            true
        }
        Ok(Ok(Err(e))) => {
            let text = e.to_string();
            assert!(!text.is_empty());
            tracing::debug!(kind, error = %text, "operation failed");
            entry.1 += 1;
            fig.failed += 1;
            false
        }
    }
}

/// The array names local state knows: all of them, and those it says exist whole (not
/// those of an incomplete volume or snapshot, which a failure left partly on the array).
fn expected_names(kind: ArrayKind, state: &StateDir) -> (BTreeSet<String>, BTreeSet<String>) {
    let name = |v: &Volume| match kind {
        ArrayKind::PowerFlex => v.name(),
        ArrayKind::Alletra => v.alletra_name(),
    };
    let (mut known, mut whole) = (BTreeSet::new(), BTreeSet::new());
    for pool in state.pool_names().unwrap() {
        for rec in state.pool(&pool).unwrap().volumes.values() {
            let vol = Volume::new(rec.vtype, rec.content, rec.uuid);
            let mut parts = vec![(vol, rec.incomplete)];
            parts.extend(rec.snapshots.iter().map(|s| (vol.snapshot(s.uuid), rec.incomplete || s.incomplete)));
            for (v, incomplete) in parts {
                known.extend(v.parts().iter().map(name));
                if !incomplete {
                    whole.extend(v.parts().iter().map(name));
                }
            }
        }
    }
    (known, whole)
}

/// What the array holds of this test, as an administrator sees it: its volumes (by name),
/// this host's entity and its mappings, the pools' volume sets.
#[derive(Debug, Default, PartialEq, Eq)]
struct OnArray {
    volumes: BTreeSet<String>,
    host: bool,
    mapped: BTreeSet<String>,
    sets: BTreeSet<String>,
}

async fn powerflex_holds(gw: &TestGateway, nqn: &str) -> OnArray {
    let c = support::client(gw);
    let host = c.hosts().await.unwrap().into_iter().find(|h| h.nqn.as_deref() == Some(nqn));
    let mut out = OnArray { host: host.is_some(), ..Default::default() };
    for pool in c.domain_pools(&c.query_domain_id("pd1").await.unwrap()).await.unwrap() {
        for v in c.pool_volumes(&pool.id).await.unwrap() {
            if host.as_ref().is_some_and(|h| v.mappings().iter().any(|m| m.sdc_id == h.id)) {
                out.mapped.insert(v.name().to_string());
            }
            out.volumes.insert(v.name().to_string());
        }
    }
    out
}

async fn alletra_holds(a: &TestArray, host: &str) -> OnArray {
    let w = support::alletra::Wsapi::login(a).await;
    let names = |v: &Value, field: &str| -> BTreeSet<String> {
        v["members"].as_array().unwrap().iter().map(|m| m[field].as_str().unwrap().to_string()).collect()
    };
    let hosts = names(&w.get("/hosts").await, "name");
    let vluns = w.get("/vluns").await;
    OnArray {
        volumes: names(&w.get("/volumes").await, "name"),
        host: hosts.contains(host),
        mapped: vluns["members"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["hostname"].as_str() == Some(host))
            .map(|l| l["volumeName"].as_str().unwrap().to_string())
            .collect(),
        sets: names(&w.get("/volumesets").await, "name"),
    }
}

/// One array under test.
struct Subject {
    kind: ArrayKind,
    pools: Arc<Pools>,
    /// Pool name → keys; the first pools stay, the last is created and deleted by the run.
    pool_keys: Vec<(&'static str, BTreeMap<String, String>)>,
    faults: FaultSurface,
}

fn records(pools: &Pools, pool: &str) -> Vec<VolumeRecord> {
    pools.state().pool(pool).map(|p| p.volumes.into_values().collect()).unwrap_or_default()
}

/// One operation chosen by `draw` among what local state holds; false when none fits.
async fn one_op(s: &Subject, draw: &mut Draw, fig: &mut Figures, serial: usize) -> bool {
    let scratch = s.pool_keys.last().unwrap().0;
    let have_scratch = s.pools.state().has_pool(scratch);
    let pool_names: Vec<&'static str> =
        s.pool_keys.iter().map(|(n, _)| *n).filter(|n| *n != scratch || have_scratch).collect();
    let pool = *draw.pick(&pool_names).unwrap();
    let recs = records(&s.pools, pool);
    let pools = s.pools.clone();
    let rec = draw.pick(&recs).cloned();
    let choice = if recs.len() >= MAX_VOLUMES { 1 + draw.below(11) } else { draw.below(12) };
    let name = format!("v{serial}");
    match (choice, rec) {
        (0, _) => {
            let (vtype, content) = *draw
                .pick(&[
                    (VolumeType::Custom, ContentType::Block),
                    (VolumeType::Custom, ContentType::Filesystem),
                    (VolumeType::VirtualMachine, ContentType::Block),
                ])
                .unwrap();
            let size = format!("size={}", if s.kind == ArrayKind::PowerFlex { "8GiB" } else { "256MiB" });
            let keys = powerflex_driver::keys::parse_key_values([size]).unwrap();
            run_op(
                fig,
                "create",
                async move { pools.volume_create(pool, vtype, &name, content, &keys).await.map(drop) },
            )
            .await
        }
        (1 | 2, Some(r)) => {
            run_op(fig, "delete", async move { pools.volume_delete(pool, r.vtype, &r.name).await }).await
        }
        (3, Some(r)) => {
            let grow = r.size + if s.kind == ArrayKind::PowerFlex { 8 * GIB } else { 256 << 20 };
            run_op(fig, "grow", async move { pools.volume_resize(pool, r.vtype, &r.name, grow).await.map(drop) }).await
        }
        (4 | 5, Some(r)) => {
            run_op(fig, "snapshot", async move { pools.volume_snapshot(pool, r.vtype, &r.name, &name).await.map(drop) })
                .await
        }
        (6, Some(r)) if !r.snapshots.is_empty() => {
            let snap = draw.pick(&r.snapshots).unwrap().name.clone();
            run_op(fig, "delete snapshot", async move {
                pools.volume_delete(pool, r.vtype, &format!("{}/{snap}", r.name)).await
            })
            .await
        }
        (7, Some(r)) if !r.snapshots.is_empty() => {
            let snap = draw.pick(&r.snapshots).unwrap().name.clone();
            run_op(fig, "restore", async move { pools.volume_restore(pool, r.vtype, &r.name, &snap).await }).await
        }
        (8 | 9, Some(r)) => {
            let volume_only = draw.below(2) == 0;
            let kind = if volume_only { "copy (volume only)" } else { "copy (with snapshots)" };
            run_op(fig, kind, async move {
                pools.volume_copy(pool, r.vtype, &r.name, r.vtype, &name, volume_only, None).await.map(drop)
            })
            .await
        }
        (10, Some(r)) => {
            run_op(fig, "attach", async move { pools.volume_attach(pool, r.vtype, &r.name).await.map(drop) }).await
        }
        (11, Some(r)) => run_op(fig, "detach", async move { pools.volume_detach(pool, r.vtype, &r.name).await }).await,
        (_, None) if draw.below(4) == 0 => {
            let keys = s.pool_keys.last().unwrap().1.clone();
            let kind = s.kind;
            if have_scratch && records(&s.pools, scratch).is_empty() {
                run_op(fig, "pool delete", async move { pools.delete(scratch).await }).await
            } else if !have_scratch {
                run_op(fig, "pool create", async move { pools.create(scratch, kind, &keys).await.map(drop) }).await
            } else {
                return false;
            }
        }
        _ => return false,
    };
    true
}

/// The whole run for one array: pools made without faults, the faulted run, the audit,
/// and clean-up with the ordinary commands.
async fn survive(s: Subject, holds: impl AsyncFn(&HostIdentity) -> OnArray) -> Figures {
    let mut fig = Figures::default();
    let identity = HostIdentity::new(s.pools.state().server_uuid().unwrap());
    let before = holds(&identity).await;
    for (name, keys) in &s.pool_keys[..s.pool_keys.len() - 1] {
        s.pools.create(name, s.kind, keys).await.unwrap();
    }
    for rule in RULES {
        s.faults.add(rule).await;
    }
    let mut draw = Draw(0x5eed_f00d);
    let mut serial = 0;
    while fig.ops < OPS {
        serial += 1;
        one_op(&s, &mut draw, &mut fig, serial).await;
    }
    fig.fired = s.faults.clear().await;

    // The audit: the array against local state.
    let now = holds(&identity).await;
    let (known, whole) = expected_names(s.kind, s.pools.state());
    let ours: BTreeSet<String> = now.volumes.difference(&before.volumes).cloned().collect();
    fig.leaked.extend(ours.difference(&known).map(|n| format!("volume {n}")));
    fig.missing.extend(whole.difference(&now.volumes).map(|n| format!("volume {n}")));
    if s.kind == ArrayKind::Alletra {
        let pools: BTreeSet<String> = s.pools.state().pool_names().unwrap().into_iter().collect();
        let sets: BTreeSet<String> = now.sets.difference(&before.sets).cloned().collect();
        fig.leaked.extend(sets.difference(&pools).map(|n| format!("volume set {n}")));
        fig.missing.extend(pools.difference(&now.sets).map(|n| format!("volume set {n}")));
    }
    if now.host && now.mapped.is_empty() {
        fig.leaked.push("host entity without mappings".into());
    }
    if !now.host && !now.mapped.is_empty() {
        fig.missing.push("host entity of the mappings".into());
    }

    // Clean-up as a user would do it, faults off: detach and delete everything, then the pools.
    for pool in s.pools.state().pool_names().unwrap() {
        for r in records(&s.pools, &pool) {
            if let Err(e) = s.pools.volume_detach(&pool, r.vtype, &r.name).await {
                fig.cleanup_failures.push(format!("detach {pool}/{}: {e}", r.name));
            }
            if let Err(e) = s.pools.volume_delete(&pool, r.vtype, &r.name).await {
                fig.cleanup_failures.push(format!("delete {pool}/{}: {e}", r.name));
            }
        }
        if let Err(e) = s.pools.delete(&pool).await {
            fig.cleanup_failures.push(format!("delete pool {pool}: {e}"));
        }
    }
    let after = holds(&identity).await;
    if after != before {
        let gone = |a: &BTreeSet<String>, b: &BTreeSet<String>| a.difference(b).cloned().collect::<Vec<_>>();
        fig.left_after_cleanup.extend(gone(&after.volumes, &before.volumes));
        fig.left_after_cleanup.extend(gone(&after.sets, &before.sets).into_iter().map(|n| format!("set {n}")));
        fig.left_after_cleanup.extend(after.mapped.iter().map(|n| format!("mapping of {n}")));
        if after.host {
            fig.left_after_cleanup.push("host entity".into());
        }
    }
    fig
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn powerflex_survives_injected_faults() {
    let gw = support::file_gateway().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        ca_pem: Some(gw.ca_cert_pem.clone().into_bytes()),
        device_timeout: Duration::from_secs(2),
        retry: QUICK_RETRY,
        ..Settings::default()
    };
    let pools = Arc::new(Pools::with_connector(StateDir::open(dir.path()).unwrap(), settings, ConnectorChoice::Sim));
    let keys = |extra: &str| {
        let mut k = support::config(&gw, &[]).to_map();
        k.extend(powerflex_driver::keys::parse_key_values([extra]).unwrap());
        k
    };
    let s = Subject {
        kind: ArrayKind::PowerFlex,
        pools,
        pool_keys: vec![
            ("snap", keys("powerflex.clone_copy=false")),
            ("clone", keys("powerflex.clone_copy=true")),
            ("scratch", keys("powerflex.clone_copy=false")),
        ],
        faults: FaultSurface::new(&gw.url, &gw.ca_cert_pem, &gw.user, &gw.password),
    };
    let fig = survive(s, async |id: &HostIdentity| powerflex_holds(&gw, &id.nqn()).await).await;
    fig.report("powerflex");
    fig.assert_survived();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alletra_survives_injected_faults() {
    // Copy and promote tasks end at the next request instead of taking a second each: the
    // run stays short, and a lost answer still has to find its task by name.
    let mut topology = powerflex_sim::alletra::model::topology::Topology::default_embedded();
    topology.limits.copy_rate_mib_per_sec = Some(0);
    let a = TestArray::start_with(powerflex_sim::alletra::testing::Options { topology, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        ca_pem: Some(a.ca_cert_pem.clone().into_bytes()),
        device_timeout: Duration::from_secs(2),
        task_poll: Duration::from_millis(20),
        task_timeout: Duration::from_secs(20),
        retry: QUICK_RETRY,
        ..Settings::default()
    };
    let pools = Arc::new(Pools::with_connector(StateDir::open(dir.path()).unwrap(), settings, ConnectorChoice::Sim));
    let s = Subject {
        kind: ArrayKind::Alletra,
        pools,
        pool_keys: vec![("pool1", support::alletra::keys(&a, &[])), ("scratch", support::alletra::keys(&a, &[]))],
        faults: FaultSurface::new(&a.url, &a.ca_cert_pem, support::alletra::USER, support::alletra::PASSWORD),
    };
    let fig = survive(s, async |id: &HostIdentity| {
        alletra_holds(&a, &powerflex_driver::alletra::ops::host_name(id, AlletraMode::Nvme)).await
    })
    .await;
    fig.report("alletra");
    fig.assert_survived();
}

/// Pools for `gw` with the quick retries, in `dir`.
fn powerflex_pools(gw: &TestGateway, dir: &std::path::Path) -> Pools {
    let settings =
        Settings { ca_pem: Some(gw.ca_cert_pem.clone().into_bytes()), retry: QUICK_RETRY, ..Settings::default() };
    Pools::with_connector(StateDir::open(dir).unwrap(), settings, ConnectorChoice::Sim)
}

#[tokio::test]
async fn a_delete_cut_short_keeps_what_is_left_and_a_second_delete_finishes() {
    let gw = support::file_gateway().await;
    let dir = tempfile::tempdir().unwrap();
    let pools = powerflex_pools(&gw, dir.path());
    pools.create("p", ArrayKind::PowerFlex, &support::config(&gw, &[]).to_map()).await.unwrap();
    let none = BTreeMap::new();
    pools.volume_create("p", VolumeType::Custom, "v", ContentType::Block, &none).await.unwrap();
    for s in ["s1", "s2"] {
        pools.volume_snapshot("p", VolumeType::Custom, "v", s).await.unwrap();
    }
    // The volume itself cannot be removed (its snapshots can): the gateway keeps failing.
    let id = pools.volume_show("p", VolumeType::Custom, "v").await.unwrap().array.unwrap().id;
    let faults = FaultSurface::new(&gw.url, &gw.ca_cert_pem, &gw.user, &gw.password);
    faults.add(&format!("POST /api/instances/Volume::{id}/action/removeVolume -> error 500")).await;
    pools.volume_delete("p", VolumeType::Custom, "v").await.unwrap_err();

    let rec = pools.state().pool("p").unwrap().volumes["custom/v"].clone();
    assert!(rec.incomplete, "kept, marked incomplete: {rec:?}");
    assert!(rec.snapshots.is_empty(), "the snapshots deleted are gone from local state: {rec:?}");
    let err = pools.volume_snapshot("p", VolumeType::Custom, "v", "s3").await.unwrap_err();
    assert!(err.to_string().contains("incomplete") && err.to_string().contains("delete it"), "{err}");

    faults.clear().await;
    pools.volume_delete("p", VolumeType::Custom, "v").await.unwrap();
    assert!(pools.state().pool("p").unwrap().volumes.is_empty());
    let ours = powerflex_holds(&gw, "none").await.volumes;
    assert!(!ours.iter().any(|n| n.starts_with('u') || n.starts_with("su")), "left on the array: {ours:?}");
}

#[tokio::test]
async fn a_login_the_gateway_cannot_serve_is_not_a_password_problem() {
    let gw = support::file_gateway().await;
    let faults = FaultSurface::new(&gw.url, &gw.ca_cert_pem, &gw.user, &gw.password);
    faults.add("POST /rest/auth/login -> error 503 html").await;
    let mut o = support::options(&gw);
    o.retry = QUICK_RETRY;
    let err = powerflex_driver::Client::new(o.clone()).unwrap().login().await.unwrap_err().to_string();
    assert!(err.contains("unavailable") && err.contains("503") && !err.contains("refused"), "{err}");
    faults.clear().await;
    o.password = "wrong".into();
    let err = powerflex_driver::Client::new(o).unwrap().login().await.unwrap_err().to_string();
    assert!(err.contains("refused the credentials"), "{err}");

    let a = TestArray::start().await;
    let faults = FaultSurface::new(&a.url, &a.ca_cert_pem, support::alletra::USER, support::alletra::PASSWORD);
    faults.add("POST /api/v1/credentials -> error 500").await;
    let client = powerflex_driver::alletra::Client::new(support::alletra::options(&a)).unwrap();
    let err = client.login().await.unwrap_err().to_string();
    assert!(err.contains("unavailable") && err.contains("500") && !err.contains("refused"), "{err}");
}

/// A virtual machine's block volume made though its answer was lost (found by its name and
/// adopted), then its filesystem volume refused: the revert removes the block volume too.
#[tokio::test]
async fn a_create_whose_answer_was_lost_is_undone_when_a_later_step_fails() {
    let vm = || Volume::new(VolumeType::VirtualMachine, ContentType::Block, uuid::Uuid::new_v4());
    let opts = |size| powerflex_driver::CreateOptions { size, thick: false };

    let gw = support::file_gateway().await;
    let (d, _) = support::driver(&gw, &[]).await;
    let before = support::volume_names(&d).await;
    let faults = FaultSurface::new(&gw.url, &gw.ca_cert_pem, &gw.user, &gw.password);
    faults.add("POST /api/types/Volume/instances -> drop next=1").await;
    faults.add("POST /api/types/Volume/instances -> error 400 message=refused").await;
    let err = d.create_volume(&vm(), &opts(8 * GIB)).await.unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    faults.clear().await;
    assert_eq!(support::volume_names(&d).await, before, "the block volume made without an answer was removed");

    let a = TestArray::start().await;
    let d = support::alletra::driver(&a, "p", None).await;
    d.create_pool().await.unwrap();
    let before = alletra_holds(&a, d.host_name()).await;
    let faults = FaultSurface::new(&a.url, &a.ca_cert_pem, support::alletra::USER, support::alletra::PASSWORD);
    faults.add("POST /api/v1/volumes -> drop next=1").await;
    faults.add("POST /api/v1/volumes -> error 400 message=refused").await;
    let err = d.create_volume(&vm(), &opts(256 << 20)).await.unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    faults.clear().await;
    assert_eq!(alletra_holds(&a, d.host_name()).await, before, "the block volume made without an answer was removed");
    assert!(support::alletra::set_members(&d).await.is_empty());
}
