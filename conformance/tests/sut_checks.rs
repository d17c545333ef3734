//! The system under test's own checks and clean-up, against the real
//! `pflex-sim`: `check` compares without listing the pool yet still sees
//! volumes that should be gone and strangers in the harness's VTrees, and
//! clean-up removes only the harness's volumes.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use powerflex_conformance::data::DataMode;
use powerflex_conformance::machine::Case;
use powerflex_conformance::model::{Model, Op, RemoveMode};
use powerflex_conformance::progress::Progress;
use powerflex_conformance::sut::{Harness, PoolSel, Sut, Target};
use powerflex_driver::naming::{ContentType, VolumeType};
use powerflex_driver::powerflex::PowerFlexName;

fn connect(sim: &common::Sim, rt: &tokio::runtime::Runtime) -> Arc<Harness> {
    let target = Target {
        gateway: sim.url.clone(),
        user: "admin".into(),
        password: "Password123!".into(),
        ca_pem: Some(std::fs::read(&sim.ca).unwrap()),
        insecure: false,
        pool: PoolSel::Named { pool: "sp1".into(), domain: "pd1".into() },
        data: DataMode::None,
    };
    rt.block_on(Harness::connect(target, 7, Progress::silent())).expect("connect")
}

fn step(sut: &mut Sut, m: &mut Model, op: Op) {
    m.apply(&op);
    if let Err(e) = sut.perform(m, &op).and_then(|()| sut.adopt(m, &op)) {
        panic!("{e}");
    }
    sut.check(m);
}

fn panic_message(r: std::thread::Result<()>) -> String {
    let p = r.expect_err("expected a failure");
    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
}

#[test]
fn checks_skip_the_pool_listing_and_cleanup_leaves_strangers_alone() {
    let sim = common::start(&[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hx = connect(&sim, &rt);
    let mut sut = Sut::new(hx.clone());
    let mut m = Model::new(false);
    hx.proxy.recorder.clear();
    step(&mut sut, &mut m, Op::Create { size: 1, thick: false }); // 1
    step(&mut sut, &mut m, Op::Snapshot { vol: 1 }); // 2
    step(&mut sut, &mut m, Op::Snapshot { vol: 2 }); // 3
    step(&mut sut, &mut m, Op::Remove { vol: 3, mode: RemoveMode::OnlyMe });
    let pool_listings: Vec<String> = hx
        .proxy
        .recorder
        .snapshot()
        .into_iter()
        .filter(|e| e.path.contains("StoragePool::") && e.path.contains("relationships/Volume"))
        .map(|e| e.to_string())
        .collect();
    assert!(pool_listings.is_empty(), "the checks listed the pool: {pool_listings:?}");

    // Someone else's snapshot in the harness's VTree: the check names it.
    let base = hx.descriptor(sut.instance(), 1, false, VolumeType::Custom, ContentType::Block);
    let base_id = rt.block_on(hx.client().query_volume_id(&base.name())).unwrap();
    let stranger = rt.block_on(hx.client().snapshot_volume(hx.system_id(), &base_id, "someone-elses-snap")).unwrap();
    let msg = panic_message(catch_unwind(AssertUnwindSafe(|| sut.check(&m))));
    assert!(msg.contains("someone-elses-snap") && msg.contains("not this case's"), "{msg}");

    // Clean-up removes the case's volumes, reports the stranger and leaves it.
    let msg = panic_message(catch_unwind(AssertUnwindSafe(move || sut.teardown(&m))));
    assert!(msg.contains("left alone: volume someone-elses-snap"), "{msg}");
    let left = rt.block_on(hx.own_volumes(hx.pool_id(), None)).unwrap();
    assert!(left.is_empty(), "harness volumes left: {:?}", left.iter().map(|v| v.name()).collect::<Vec<_>>());
    let still = rt.block_on(hx.client().volume(&stranger)).expect("the stranger is still there");
    assert_eq!(still.name(), "someone-elses-snap");

    let removes: Vec<String> = hx
        .proxy
        .recorder
        .snapshot()
        .into_iter()
        .filter(|e| e.path.ends_with("/action/removeVolume"))
        .map(|e| e.request)
        .collect();
    assert!(removes.iter().all(|r| r.contains("ONLY_ME")), "{removes:?}");
    rt.block_on(hx.client().remove_volume(&stranger)).unwrap();
    assert!(rt.block_on(hx.cleanup_run()).is_empty());
}

#[test]
fn a_removed_volume_that_still_answers_is_caught() {
    let sim = common::start(&["keep-on-remove"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hx = connect(&sim, &rt);
    let mut sut = Sut::new(hx.clone());
    let mut m = Model::new(false);
    step(&mut sut, &mut m, Op::Create { size: 1, thick: false });
    let msg = panic_message(catch_unwind(AssertUnwindSafe(|| {
        step(&mut sut, &mut m, Op::Remove { vol: 1, mode: RemoveMode::OnlyMe })
    })));
    assert!(msg.contains("volume #1 was removed, but its id"), "{msg}");
}

#[test]
fn the_case_audit_catches_a_leaked_volume_and_a_leaked_host_entity() {
    let sim = common::start(&[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hx = connect(&sim, &rt);
    let mut sut = Sut::new(hx.clone());
    let mut m = Model::new(false);
    step(&mut sut, &mut m, Op::Create { size: 1, thick: false });
    // What a driver that lost a create's answer would leave: a volume of the
    // case the model never made, in a VTree of its own, so no step's check sees it.
    let leak = hx.descriptor(sut.instance(), 9, false, VolumeType::Custom, ContentType::Block);
    let opts = powerflex_driver::CreateOptions { size: 1, thick: false };
    rt.block_on(hx.drv.create_volume(&leak, &opts)).expect("create the leaked volume");
    sut.check(&m);
    // And a host entity of the driver that outlived its exports.
    let host = rt.block_on(hx.client().create_host(
        &format!("pfLx{}-driver-leak", hx.tag),
        "nqn.2014-08.org.nvmexpress:uuid:0badc0de-0000-4000-8000-000000000001",
    ));
    host.expect("create the leaked host entity");
    let msg = panic_message(catch_unwind(AssertUnwindSafe(move || sut.teardown(&m))));
    assert!(msg.contains("audit") && msg.contains(&leak.name()), "{msg}");
    assert!(msg.contains("host entity"), "{msg}");
    assert!(rt.block_on(hx.driver_hosts()).unwrap().is_empty(), "the audit removes what it found");
    assert!(rt.block_on(hx.own_volumes(hx.pool_id(), None)).unwrap().is_empty());
    assert!(rt.block_on(hx.cleanup_run()).is_empty());
}
