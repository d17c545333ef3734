//! The Alletra state machine: [`Reference`] generates steps from the model
//! alone, [`GatewayTest`] replays them through the driver and compares after
//! every step (the shared [`GatewayTest`] over this [`Case`]); run by the shared [`crate::machine::run_machine`]. The fixed
//! sequences are LXD's alletra flows.

use std::cell::RefCell;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::select;
use proptest_state_machine::ReferenceStateMachine;

use super::model::{Model, NameChoice, Op, SLOTS};
use super::sut::{Harness, Sut};
use crate::areas::Area;
use crate::machine::{self, GatewayTest, Machine, PropertyConfig, PropertyOutcome};
use crate::report::ScenarioResult;

thread_local! {
    static HARNESS: RefCell<Option<Arc<Harness>>> = const { RefCell::new(None) };
}

/// The harness installed for the state machine (see [`install`]).
pub fn installed() -> Arc<Harness> {
    HARNESS.with(|c| c.borrow().clone()).expect("the Alletra harness is installed")
}

/// Uninstalls the Alletra harness when dropped.
pub struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        HARNESS.with(|c| *c.borrow_mut() = None);
    }
}

fn install(hx: Arc<Harness>) -> Installed {
    HARNESS.with(|c| *c.borrow_mut() = Some(hx));
    Installed
}

/// Sizes around the 256 MiB unit: multiples, and sizes between them.
fn size_mib() -> BoxedStrategy<u64> {
    prop_oneof![3 => (1u64..=4).prop_map(|n| n * 256), 1 => 1u64..=1100].boxed()
}

/// The reference side.
pub struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::new(installed().target.data.checks_content())).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Op> {
        let create = size_mib().prop_map(|size_mib| Op::Create { size_mib });
        let hs: Vec<u32> = state.vols.keys().copied().collect();
        let mut names = vec![
            (4, Just(NameChoice::Fresh).boxed()),
            (1, Just(NameChoice::TooLong).boxed()),
            (1, Just(NameChoice::IllegalChar).boxed()),
        ];
        if !hs.is_empty() {
            names.push((2, select(hs.clone()).prop_map(NameChoice::Taken).boxed()));
        }
        let create_raw = (257u64..=1100, proptest::strategy::Union::new_weighted(names))
            .prop_map(|(size_mib, name)| Op::CreateRaw { size_mib, name });
        if hs.is_empty() {
            return prop_oneof![3 => create, 1 => create_raw].boxed();
        }
        let vol = select(hs.clone());
        let mut ops = vec![
            (3, create.boxed()),
            (1, create_raw.boxed()),
            (4, vol.clone().prop_map(|vol| Op::Snapshot { vol }).boxed()),
            (3, (vol.clone(), vol.clone()).prop_map(|(vol, snap)| Op::Restore { vol, snap }).boxed()),
            (2, (vol.clone(), size_mib()).prop_map(|(vol, size_mib)| Op::Grow { vol, size_mib }).boxed()),
            (
                3,
                (vol.clone(), any::<bool>(), proptest::option::of(size_mib()))
                    .prop_map(|(src, with_snapshots, size_mib)| Op::Copy { src, with_snapshots, size_mib })
                    .boxed(),
            ),
            (2, vol.clone().prop_map(|vol| Op::Delete { vol }).boxed()),
            (2, vol.clone().prop_map(|vol| Op::DeleteNoCascade { vol }).boxed()),
            (2, vol.clone().prop_map(|vol| Op::Export { vol }).boxed()),
            (1, vol.clone().prop_map(|vol| Op::Unexport { vol }).boxed()),
        ];
        if state.data {
            ops.push((
                5,
                (vol, 0..SLOTS, 1u32..1000).prop_map(|(vol, slot, tag)| Op::Write { vol, slot, tag }).boxed(),
            ));
        }
        proptest::strategy::Union::new_weighted(ops).boxed()
    }

    fn preconditions(state: &Model, op: &Op) -> bool {
        state.precondition(op)
    }

    fn apply(mut state: Model, op: &Op) -> Model {
        state.apply(op);
        state
    }
}

/// The Alletra state machine.
pub type AlletraTest = GatewayTest<Reference, Sut>;

/// The behaviour area a step exercises.
pub fn area_of(op: &Op) -> Area {
    match op {
        Op::Create { .. } | Op::Grow { .. } | Op::Write { .. } | Op::Delete { .. } | Op::DeleteNoCascade { .. } => {
            Area::VolumesAndSizes
        }
        Op::CreateRaw { .. } => Area::Names,
        Op::Snapshot { .. } => Area::Snapshots,
        Op::Restore { .. } => Area::Restore,
        Op::Copy { .. } => Area::PhysicalCopies,
        Op::Export { .. } | Op::Unexport { .. } => Area::Mappings,
    }
}

fn with_machine<R>(hx: &Arc<Harness>, f: impl FnOnce(&Machine<'_, AlletraTest, Installed>) -> R) -> R {
    let data = hx.target.data.checks_content();
    let install = || install(hx.clone());
    let init = move || Model::new(data);
    let mx =
        Machine { frame: hx.as_ref(), install: &install, init: &init, area: &area_of, test: std::marker::PhantomData };
    f(&mx)
}

/// Runs the property.
pub fn run_property(hx: Arc<Harness>, cfg: &PropertyConfig) -> PropertyOutcome {
    with_machine(&hx, |mx| machine::run_machine(mx, cfg))
}

/// LXD's alletra flows (lxd-drivers.md §6.3) as fixed sequences; `data`
/// says whether the bytes are checked (the writes need it).
pub fn fixed_sequences(data: bool) -> Vec<(&'static str, Vec<Op>)> {
    let write = |vol, slot, tag| data.then_some(Op::Write { vol, slot, tag });
    let seq = |ops: Vec<Option<Op>>| ops.into_iter().flatten().collect::<Vec<_>>();
    vec![
        (
            "lxd_alletra_create_volume_and_sizes",
            seq(vec![
                Some(Op::Create { size_mib: 10 * 1024 }),
                Some(Op::Create { size_mib: 300 }),
                Some(Op::CreateRaw { size_mib: 300, name: NameChoice::Fresh }),
                Some(Op::CreateRaw { size_mib: 256, name: NameChoice::Taken(1) }),
                Some(Op::CreateRaw { size_mib: 256, name: NameChoice::TooLong }),
                Some(Op::CreateRaw { size_mib: 256, name: NameChoice::IllegalChar }),
            ]),
        ),
        (
            "lxd_alletra_snapshot_and_restore",
            seq(vec![
                Some(Op::Create { size_mib: 512 }),
                write(1, 0, 11),
                Some(Op::Snapshot { vol: 1 }),
                write(1, 0, 12),
                write(1, 3, 13),
                Some(Op::Snapshot { vol: 1 }),
                write(1, 1, 14),
                Some(Op::Restore { vol: 1, snap: 2 }),
                Some(Op::Restore { vol: 1, snap: 3 }),
            ]),
        ),
        (
            "lxd_alletra_copy_with_snapshots",
            seq(vec![
                Some(Op::Create { size_mib: 256 }),
                write(1, 0, 21),
                Some(Op::Snapshot { vol: 1 }),
                write(1, 2, 22),
                Some(Op::Snapshot { vol: 1 }),
                write(1, 0, 23),
                Some(Op::Copy { src: 1, with_snapshots: true, size_mib: Some(512) }),
                Some(Op::Copy { src: 1, with_snapshots: false, size_mib: None }),
            ]),
        ),
        (
            "lxd_alletra_grow_and_shrink_refused",
            seq(vec![
                Some(Op::Create { size_mib: 256 }),
                write(1, 3, 31),
                Some(Op::Grow { vol: 1, size_mib: 768 }),
                Some(Op::Grow { vol: 1, size_mib: 512 }),
                Some(Op::Grow { vol: 1, size_mib: 1000 }),
                Some(Op::Copy { src: 1, with_snapshots: false, size_mib: Some(512) }),
            ]),
        ),
        (
            "lxd_alletra_delete_with_snapshots",
            seq(vec![
                Some(Op::Create { size_mib: 256 }),
                Some(Op::Snapshot { vol: 1 }),
                Some(Op::Snapshot { vol: 1 }),
                Some(Op::DeleteNoCascade { vol: 1 }),
                Some(Op::Delete { vol: 2 }),
                Some(Op::Export { vol: 1 }),
                Some(Op::Delete { vol: 1 }),
                Some(Op::Create { size_mib: 256 }),
                Some(Op::DeleteNoCascade { vol: 4 }),
            ]),
        ),
        (
            "lxd_alletra_export_and_unexport",
            seq(vec![
                Some(Op::Create { size_mib: 256 }),
                Some(Op::Create { size_mib: 256 }),
                Some(Op::Export { vol: 1 }),
                Some(Op::Export { vol: 1 }),
                Some(Op::Export { vol: 2 }),
                write(1, 1, 41),
                Some(Op::Snapshot { vol: 1 }),
                Some(Op::Restore { vol: 1, snap: 3 }),
                Some(Op::Unexport { vol: 1 }),
                Some(Op::Restore { vol: 1, snap: 3 }),
                Some(Op::Unexport { vol: 2 }),
                Some(Op::Unexport { vol: 2 }),
            ]),
        ),
    ]
}

/// Replays one fixed sequence.
pub fn run_fixed(hx: Arc<Harness>, name: &str, steps: Vec<Op>) -> ScenarioResult {
    with_machine(&hx, |mx| {
        machine::run_fixed_machine(mx, name, steps, |m, op| {
            let ok = m.precondition(op);
            m.apply(op);
            ok
        })
    })
}
