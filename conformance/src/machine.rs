//! The proptest state machine: [`Reference`] generates operation sequences
//! from the model alone; [`GatewayTest`] replays them against the gateway
//! (any array's, through [`Case`])
//! and compares after every step.
//!
//! The trait methods are synchronous and take no context, so the run's
//! [`Harness`] is installed in a thread-local for the duration of a run
//! ([`install`]); the system under test drives the async driver with the
//! harness's runtime handle.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, FileFailurePersistence, RngAlgorithm, TestError, TestRng, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};

use crate::areas::{self, Area};
use crate::faults::StepOutcome;
use crate::model::{Model, NameChoice, Op, RemoveMode, GIB, HOSTS, SLOTS};
use crate::progress::Progress;
use crate::report::ScenarioResult;
use crate::sut::{Harness, Sut, INTERRUPTED};
use crate::transcript::{Exchange, Proxy};

thread_local! {
    static HARNESS: RefCell<Option<Arc<Harness>>> = const { RefCell::new(None) };
}

type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Silences panic messages on the thread that created it while it lives:
/// there a failing step panics, `catch_unwind` turns the panic into the case's
/// failure and proptest shrinks it, so printing each one is noise. Panics on
/// other threads (tokio workers, blocking tasks) still reach the previous
/// hook. Dropping it restores the previous hook; when dropped while
/// unwinding (the hook cannot be changed then) it only stops being quiet, so
/// every panic reaches the previous hook again.
struct QuietCaseThread {
    previous: Option<Arc<PanicHook>>,
    active: Arc<AtomicBool>,
}

impl QuietCaseThread {
    fn install() -> QuietCaseThread {
        let previous: Arc<PanicHook> = Arc::new(std::panic::take_hook());
        let active = Arc::new(AtomicBool::new(true));
        let quiet = std::thread::current().id();
        let (fallback, on) = (previous.clone(), active.clone());
        std::panic::set_hook(Box::new(move |info| {
            if !(on.load(Ordering::SeqCst) && std::thread::current().id() == quiet) {
                fallback(info);
            }
        }));
        QuietCaseThread { previous: Some(previous), active }
    }
}

impl Drop for QuietCaseThread {
    fn drop(&mut self) {
        self.active.store(false, Ordering::SeqCst);
        if std::thread::panicking() {
            return;
        }
        // Dropping the quiet hook releases its reference to the previous one.
        drop(std::panic::take_hook());
        let previous = self.previous.take().expect("set at install");
        match Arc::try_unwrap(previous) {
            Ok(hook) => std::panic::set_hook(hook),
            Err(shared) => std::panic::set_hook(Box::new(move |info| shared(info))),
        }
    }
}

/// The harness installed for the state machine (see [`install`]).
pub fn installed() -> Arc<Harness> {
    HARNESS.with(|c| c.borrow().clone()).expect("the harness is installed (machine::install)")
}

/// The reference side.
pub struct Reference;

fn size_bytes() -> BoxedStrategy<u64> {
    prop_oneof![
        Just(1u64),
        1u64..=24 * GIB,
        (1u64..=3).prop_map(|n| n * 8 * GIB),
        (1u64..=3).prop_map(|n| n * 8 * GIB + 1),
    ]
    .boxed()
}

fn name_choice(hs: Vec<u32>) -> BoxedStrategy<NameChoice> {
    prop_oneof![
        4 => Just(NameChoice::Fresh),
        1 => Just(NameChoice::TooLong),
        1 => Just(NameChoice::Space),
        2 => select(hs).prop_map(NameChoice::Taken),
    ]
    .boxed()
}

fn remove_mode() -> impl Strategy<Value = RemoveMode> {
    prop_oneof![
        Just(RemoveMode::OnlyMe),
        Just(RemoveMode::IncludingDescendants),
        Just(RemoveMode::DescendantsOnly),
        Just(RemoveMode::WholeVtree),
    ]
}

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        let data = installed().target.data.checks_content();
        Just(Model::new(data)).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Op> {
        let create = (size_bytes(), any::<bool>()).prop_map(|(size, thick)| Op::Create { size, thick });
        let hs: Vec<u32> = state.vols.keys().copied().collect();
        let raw_names = if hs.is_empty() {
            prop_oneof![Just(NameChoice::Fresh), Just(NameChoice::TooLong), Just(NameChoice::Space)].boxed()
        } else {
            name_choice(hs.clone())
        };
        let create_raw = (1u64..=24, any::<bool>(), raw_names).prop_map(|(size_gib, thick, name)| Op::CreateRaw {
            size_gib,
            thick,
            name,
        });
        if hs.is_empty() {
            return prop_oneof![3 => create, 2 => create_raw].boxed();
        }
        let vol = select(hs.clone());
        let host = 0..HOSTS;
        let mut ops = vec![
            (3, create.boxed()),
            (2, create_raw.boxed()),
            (4, vol.clone().prop_map(|vol| Op::Snapshot { vol }).boxed()),
            (1, vol.clone().prop_map(|vol| Op::Fill { vol }).boxed()),
            (
                4,
                (vol.clone(), any::<bool>(), any::<bool>(), proptest::option::of(size_bytes()))
                    .prop_map(|(src, clone_copy, with_snapshots, size)| Op::Copy {
                        src,
                        clone_copy,
                        with_snapshots,
                        size,
                    })
                    .boxed(),
            ),
            (3, (vol.clone(), vol.clone()).prop_map(|(vol, from)| Op::Restore { vol, from }).boxed()),
            (2, (vol.clone(), size_bytes()).prop_map(|(vol, size)| Op::Resize { vol, size }).boxed()),
            (2, (vol.clone(), 1u64..=32).prop_map(|(vol, size_gib)| Op::ResizeRaw { vol, size_gib }).boxed()),
            (2, vol.clone().prop_map(|vol| Op::Delete { vol }).boxed()),
            (3, (vol.clone(), remove_mode()).prop_map(|(vol, mode)| Op::Remove { vol, mode }).boxed()),
            (3, (vol.clone(), host.clone()).prop_map(|(vol, host)| Op::Map { vol, host }).boxed()),
            (2, (vol.clone(), host).prop_map(|(vol, host)| Op::Unmap { vol, host }).boxed()),
            (2, (vol.clone(), name_choice(hs.clone())).prop_map(|(vol, to)| Op::Rename { vol, to }).boxed()),
        ];
        if !state.removed.is_empty() {
            ops.push((1, select(state.removed.clone()).prop_map(|vol| Op::QueryGone { vol }).boxed()));
        }
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

/// One case against any array's gateway, as the generic [`GatewayTest`] drives it.
pub trait Case: Sized {
    /// The run it belongs to.
    type Harness: RunFrame;
    /// The model it is compared with (the state after each step).
    type Model;
    /// A step.
    type Op;
    /// The installed harness (the trait methods take no context).
    fn harness() -> Arc<Self::Harness>;
    /// A new case.
    fn new(hx: Arc<Self::Harness>) -> Self;
    /// Whether `--faults` may hit this step (not a harness macro whose many
    /// requests only set up the one under test).
    fn faultable(_op: &Self::Op) -> bool {
        true
    }
    /// Performs a step; `Err` says how its outcome differs from the model's
    /// (`m` is the model after the step).
    fn perform(&mut self, m: &Self::Model, op: &Self::Op) -> Result<(), String>;
    /// Takes in what the step made, as the model after it says (the ids and
    /// names of new volumes), and checks content where the step changed it.
    fn adopt(&mut self, m: &Self::Model, op: &Self::Op) -> Result<(), String>;
    /// Every difference between the gateway and the model, content included
    /// where the data mode reaches it (after a step whose outcome is unknown).
    fn differences(&mut self, m: &Self::Model) -> Vec<String>;
    /// Compares the gateway with the model (after every step).
    fn check(&self, m: &Self::Model);
    /// Audits for leaked objects (on the gateway, of the case, not in the
    /// model `m`), then removes what the case made.
    fn teardown(self, m: &Self::Model);
}

/// A case and the model the gateway is really at: the reference's own state
/// unless an injected fault left a step's outcome unknown and the gateway
/// showed it did not happen (then the steps after it act on this state).
pub struct Tracked<C, S> {
    case: C,
    state: S,
}

impl<C: Case> Tracked<C, C::Model>
where
    C::Model: Clone,
    C::Op: std::fmt::Debug,
{
    /// After a step that failed with `failure` while `hits` injected faults
    /// made its outcome unknown: the gateway must be exactly as if it had
    /// been made (`after`) or exactly as before it, never in between.
    fn settle_unknown(&mut self, after: C::Model, op: &C::Op, failure: &str, hits: u64) -> StepOutcome {
        let made = self.as_if(&after, op);
        if made.is_empty() {
            self.state = after;
            return StepOutcome::Made;
        }
        let before = self.state.clone();
        let not_made = self.as_if(&before, op);
        if not_made.is_empty() {
            return StepOutcome::NotMade;
        }
        panic!(
            "{failure}\nafter {hits} injected fault(s) in this step, the gateway is neither as if the step had been \
             made:\n  {}\nnor as if it had not:\n  {}",
            made.join("\n  "),
            not_made.join("\n  ")
        );
    }

    /// How the gateway differs from `m`, once the case has taken in what `m` says the step made.
    fn as_if(&mut self, m: &C::Model, op: &C::Op) -> Vec<String> {
        match self.case.adopt(m, op) {
            Ok(()) => self.case.differences(m),
            Err(why) => vec![why],
        }
    }
}

/// The system-under-test side: reference `R`, case `C`.
pub struct GatewayTest<R, C>(std::marker::PhantomData<(R, C)>);

impl<R, C> StateMachineTest for GatewayTest<R, C>
where
    R: ReferenceStateMachine,
    R::State: Clone,
    R::Transition: std::fmt::Debug,
    C: Case<Model = R::State, Op = R::Transition>,
{
    type SystemUnderTest = Tracked<C, R::State>;
    type Reference = R;

    fn init_test(ref_state: &R::State) -> Self::SystemUnderTest {
        let hx = C::harness();
        hx.proxy().recorder.clear();
        if hx.interrupted() {
            panic!("{INTERRUPTED}");
        }
        Tracked { case: C::new(hx), state: ref_state.clone() }
    }

    fn apply(mut sut: Self::SystemUnderTest, ref_state: &R::State, op: R::Transition) -> Self::SystemUnderTest {
        let hx = C::harness();
        let faults = hx.proxy().faults.clone();
        if !faults.enabled() {
            let done = sut.case.perform(ref_state, &op).and_then(|()| sut.case.adopt(ref_state, &op));
            if let Err(e) = done {
                panic!("{e}");
            }
            sut.state = ref_state.clone();
            return sut;
        }
        if !R::preconditions(&sut.state, &op) {
            faults.record(StepOutcome::Skipped);
            return sut;
        }
        let after = R::apply(sut.state.clone(), &op);
        let rt = hx.runtime();
        let armed = C::faultable(&op);
        if armed {
            if let Err(e) = rt.block_on(faults.arm()) {
                panic!("step {op:?}: {e}");
            }
        }
        let performed = sut.case.perform(&after, &op);
        let hits = if armed { rt.block_on(faults.disarm()).unwrap_or_else(|e| panic!("step {op:?}: {e}")) } else { 0 };
        match performed {
            Ok(()) => {
                if hits > 0 {
                    faults.record(StepOutcome::HitAndExpected);
                }
                if let Err(e) = sut.case.adopt(&after, &op) {
                    panic!("{e}");
                }
                sut.state = after;
            }
            Err(e) if hits == 0 => panic!("{e}"),
            Err(e) => faults.record(sut.settle_unknown(after, &op, &e, hits)),
        }
        sut
    }

    fn check_invariants(sut: &Self::SystemUnderTest, _ref_state: &R::State) {
        sut.case.check(&sut.state)
    }

    fn teardown(sut: Self::SystemUnderTest) {
        let Tracked { case, state } = sut;
        case.teardown(&state)
    }
}

/// The PowerFlex state machine.
pub type PowerFlexTest = GatewayTest<Reference, Sut>;

/// How to run the property.
#[derive(Debug, Clone)]
pub struct PropertyConfig {
    /// Cases.
    pub cases: u32,
    /// Steps per case, at most.
    pub max_steps: usize,
    /// Seed for the generator (the same seed replays the same cases).
    pub seed: u64,
    /// Shrink iterations allowed after a failure.
    pub max_shrink_iters: u32,
    /// Regression file to replay and extend.
    pub regressions: Option<String>,
}

/// The outcome of the property.
#[derive(Debug, Clone)]
pub struct PropertyOutcome {
    /// Cases that passed.
    pub passed: u32,
    /// The minimal failing sequence, its reason and transcript.
    pub failure: Option<PropertyFailure>,
}

/// A minimal failure.
#[derive(Debug, Clone)]
pub struct PropertyFailure {
    /// Why it failed.
    pub reason: String,
    /// The minimal sequence.
    pub steps: Vec<String>,
    /// The behaviour area of its last step, where it failed.
    pub area: Option<Area>,
    /// The gateway exchanges of the last replay of that sequence.
    pub transcript: Vec<Exchange>,
}

/// What a failed step panicked with.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut b = [0u8; 32];
    for (i, chunk) in b.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes());
    }
    b
}

/// What the property runner needs of a run, whatever the array.
pub trait RunFrame {
    /// The recording proxy (its transcript goes with a failure).
    fn proxy(&self) -> &Proxy;
    /// Where the run is, for the person watching.
    fn progress(&self) -> &Progress;
    /// Whether the run was interrupted.
    fn interrupted(&self) -> bool;
    /// The runtime the run's calls are driven on.
    fn runtime(&self) -> &tokio::runtime::Handle;
}

impl RunFrame for Harness {
    fn proxy(&self) -> &Proxy {
        &self.proxy
    }
    fn progress(&self) -> &Progress {
        &self.progress
    }
    fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
    fn runtime(&self) -> &tokio::runtime::Handle {
        &self.rt
    }
}

type RefOf<T> = <T as StateMachineTest>::Reference;
type StateOf<T> = <RefOf<T> as ReferenceStateMachine>::State;
type OpOf<T> = <RefOf<T> as ReferenceStateMachine>::Transition;

/// How one array's state machine is run: its test, how its harness is
/// installed for the trait methods, its initial model, and the area of a step.
pub struct Machine<'a, T: StateMachineTest, G> {
    /// The run.
    pub frame: &'a dyn RunFrame,
    /// Installs the array's harness for the state machine; uninstalled when the guard drops.
    pub install: &'a dyn Fn() -> G,
    /// The model at the start of a case.
    pub init: &'a dyn Fn() -> StateOf<T>,
    /// The behaviour area a step exercises.
    pub area: &'a dyn Fn(&OpOf<T>) -> Area,
    /// The test (a type only).
    pub test: std::marker::PhantomData<T>,
}

/// Runs the state machine property; blocks the calling thread, which must
/// not be inside the runtime.
pub fn run_machine<T, G>(mx: &Machine<'_, T, G>, cfg: &PropertyConfig) -> PropertyOutcome
where
    T: StateMachineTest,
    StateOf<T>: Clone + std::fmt::Debug,
    OpOf<T>: Clone + std::fmt::Debug,
{
    let frame = mx.frame;
    let config = Config {
        cases: cfg.cases,
        max_shrink_iters: cfg.max_shrink_iters,
        failure_persistence: cfg
            .regressions
            .clone()
            .map(|p| Box::new(FileFailurePersistence::Direct(Box::leak(p.into_boxed_str()))) as _),
        verbose: 0,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(cfg.seed));
    let mut runner = TestRunner::new_with_rng(config.clone(), rng);
    let passed = std::sync::atomic::AtomicU32::new(0);
    let strategy = RefOf::<T>::sequential_strategy(1..=cfg.max_steps);
    let last_transcript = std::sync::Mutex::new(Vec::new());
    let quiet = QuietCaseThread::install();
    let (runs, shrinking) = (std::sync::atomic::AtomicU32::new(0), AtomicBool::new(false));
    let installed = (mx.install)();
    #[allow(clippy::result_large_err)] // proptest's own error type
    let result = runner.run(&strategy, |(init, steps, seen)| {
        if frame.interrupted() {
            // Fail at once, so proptest's shrinking runs nothing more.
            return Err(TestCaseError::fail(INTERRUPTED));
        }
        let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
        let label = if shrinking.load(Ordering::SeqCst) {
            format!("property: shrinking a failure (run {run})")
        } else {
            format!("property case {run}/{}", cfg.cases)
        };
        frame.progress().begin(label, steps.len());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            T::test_sequential(config.clone(), init, steps, seen)
        }));
        match r {
            Ok(()) => {
                passed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }
            Err(p) => {
                shrinking.store(true, Ordering::SeqCst);
                *last_transcript.lock().expect("lock") = frame.proxy().recorder.snapshot();
                Err(TestCaseError::fail(panic_message(p.as_ref())))
            }
        }
    });
    drop(quiet);
    let failure = match result {
        Ok(()) => None,
        // Stopped by a signal: no failure of the gateway, and nothing to replay.
        Err(_) if frame.interrupted() => None,
        Err(TestError::Abort(reason)) => Some(PropertyFailure {
            reason: format!("aborted: {reason}"),
            steps: Vec::new(),
            area: None,
            transcript: Vec::new(),
        }),
        Err(TestError::Fail(reason, (_, steps, _))) => {
            // Replay the minimal sequence once more, so the transcript is its own.
            let replay = {
                let _quiet = QuietCaseThread::install();
                let init = (mx.init)();
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    T::test_sequential(config.clone(), init, steps.clone(), None)
                }));
                r.is_err()
            };
            let transcript =
                if replay { frame.proxy().recorder.snapshot() } else { last_transcript.lock().expect("lock").clone() };
            Some(PropertyFailure {
                reason: reason.to_string(),
                steps: steps.iter().map(|s| format!("{s:?}")).collect(),
                area: steps.last().map(|s| (mx.area)(s)),
                transcript,
            })
        }
    };
    drop(installed);
    PropertyOutcome { passed: passed.into_inner(), failure }
}

/// Replays one fixed sequence through the model and the gateway, as a
/// scenario result (its transcript kept on failure). `allowed` says whether
/// a step holds in the model (after the steps before it) and applies it, so
/// a sequence is checked to be what it says.
pub fn run_fixed_machine<T, G>(
    mx: &Machine<'_, T, G>,
    name: &str,
    steps: Vec<OpOf<T>>,
    allowed: impl Fn(&mut StateOf<T>, &OpOf<T>) -> bool,
) -> ScenarioResult
where
    T: StateMachineTest,
    StateOf<T>: Clone + std::fmt::Debug,
    OpOf<T>: Clone + std::fmt::Debug,
{
    let started = std::time::Instant::now();
    mx.frame.progress().begin(format!("fixed sequence {name}"), steps.len());
    let init = (mx.init)();
    let mut m = init.clone();
    for (i, op) in steps.iter().enumerate() {
        assert!(allowed(&mut m, op), "fixed sequence {name}: step {} ({op:?}) is not allowed", i + 1);
    }
    let config = Config { cases: 1, failure_persistence: None, ..Config::default() };
    let result = {
        let _installed = (mx.install)();
        let _quiet = QuietCaseThread::install();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| T::test_sequential(config, init, steps, None)))
    };
    let message = result.err().map(|p| panic_message(p.as_ref()));
    ScenarioResult {
        name: name.to_string(),
        passed: message.is_none(),
        transcript: if message.is_some() { mx.frame.proxy().recorder.snapshot() } else { Vec::new() },
        message,
        millis: started.elapsed().as_millis() as u64,
    }
}

/// Installs `hx` for the PowerFlex state machine until the guard drops.
pub fn install(hx: Arc<Harness>) -> Installed {
    HARNESS.with(|c| *c.borrow_mut() = Some(hx));
    Installed
}

/// Uninstalls the PowerFlex harness when dropped.
pub struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        HARNESS.with(|c| *c.borrow_mut() = None);
    }
}

fn powerflex_machine<R>(hx: &Arc<Harness>, f: impl FnOnce(&Machine<'_, PowerFlexTest, Installed>) -> R) -> R {
    let data = hx.target.data.checks_content();
    let install = || install(hx.clone());
    let init = move || Model::new(data);
    let mx = Machine {
        frame: hx.as_ref(),
        install: &install,
        init: &init,
        area: &areas::of_op,
        test: std::marker::PhantomData,
    };
    f(&mx)
}

/// Runs the PowerFlex state machine property.
pub fn run_property(hx: Arc<Harness>, cfg: &PropertyConfig) -> PropertyOutcome {
    powerflex_machine(&hx, |mx| run_machine(mx, cfg))
}

/// Sequences found once and kept, each replayed as written on every run
/// (proptest's own regression seeds replay only through the generator, which
/// changes whenever the strategies do).
pub fn fixed_sequences() -> Vec<(&'static str, Vec<Op>)> {
    use crate::model::GIB;
    vec![(
        // Seed 7, 48 cases: the model expected this copy to succeed, the
        // driver refused it; LXD's copy fails too (lxd-drivers.md §5.5).
        "regression_copy_with_a_snapshot_larger_than_the_copy",
        vec![
            Op::Create { size: 1, thick: false },
            Op::Copy { src: 1, clone_copy: false, with_snapshots: false, size: None },
            Op::Snapshot { vol: 1 },
            Op::Resize { vol: 3, size: 12 * GIB },
            Op::Copy { src: 1, clone_copy: false, with_snapshots: true, size: Some(11) },
        ],
    )]
}

/// Replays one fixed PowerFlex sequence.
pub fn run_fixed(hx: Arc<Harness>, name: &str, steps: Vec<Op>) -> ScenarioResult {
    powerflex_machine(&hx, |mx| {
        run_fixed_machine(mx, name, steps, |m, op| {
            let ok = m.precondition(op);
            m.apply(op);
            ok
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static SEEN: AtomicUsize = AtomicUsize::new(0);
    /// Held by the tests here that panic: the hook test counts every panic.
    static PANICS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// A gateway that is one number, for the settling of unknown outcomes.
    struct OneNumber(i32);

    impl Case for OneNumber {
        type Harness = Harness;
        type Model = i32;
        type Op = i32;
        fn harness() -> Arc<Harness> {
            unreachable!("settling needs no harness")
        }
        fn new(_: Arc<Harness>) -> Self {
            unreachable!("made by the test")
        }
        fn perform(&mut self, _: &i32, _: &i32) -> Result<(), String> {
            unreachable!("settling performs nothing")
        }
        fn adopt(&mut self, _: &i32, _: &i32) -> Result<(), String> {
            Ok(())
        }
        fn differences(&mut self, m: &i32) -> Vec<String> {
            if *m == self.0 {
                Vec::new()
            } else {
                vec![format!("the gateway is at {}, the model at {m}", self.0)]
            }
        }
        fn check(&self, _: &i32) {}
        fn teardown(self, _: &i32) {}
    }

    #[test]
    fn an_unknown_outcome_settles_on_made_or_not_made_and_nothing_between() {
        let mut made = Tracked { case: OneNumber(2), state: 1 };
        assert_eq!(made.settle_unknown(2, &0, "lost", 1), StepOutcome::Made);
        assert_eq!(made.state, 2, "the case goes on from the state after the step");
        let mut not_made = Tracked { case: OneNumber(1), state: 1 };
        assert_eq!(not_made.settle_unknown(2, &0, "lost", 1), StepOutcome::NotMade);
        assert_eq!(not_made.state, 1, "the case goes on from the state before the step");
        let _alone = PANICS.lock().unwrap_or_else(|e| e.into_inner());
        let mut half = Tracked { case: OneNumber(5), state: 1 };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| half.settle_unknown(2, &0, "lost", 1)));
        let msg = panic_message(r.expect_err("half made fails").as_ref());
        assert!(msg.contains("neither as if the step had been made") && msg.contains("at 5, the model at 1"), "{msg}");
    }

    #[test]
    fn only_the_case_thread_is_quiet_and_the_hook_comes_back() {
        // The only test in this binary that touches the process-wide hook.
        let _alone = PANICS.lock().unwrap_or_else(|e| e.into_inner());
        let original = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {
            SEEN.fetch_add(1, Ordering::SeqCst);
        }));
        let r = std::panic::catch_unwind(|| {
            let _quiet = QuietCaseThread::install();
            let _ = std::panic::catch_unwind(|| panic!("a failing step"));
            assert_eq!(SEEN.load(Ordering::SeqCst), 0, "the case thread's panic is quiet");
            let _ = std::thread::spawn(|| panic!("a worker")).join();
            assert_eq!(SEEN.load(Ordering::SeqCst), 1, "another thread's panic is reported");
            panic!("the run itself panics");
        });
        assert!(r.is_err());
        assert_eq!(SEEN.load(Ordering::SeqCst), 1, "the run's own panic is the case thread's");
        let _ = std::panic::catch_unwind(|| panic!("after the run"));
        assert_eq!(SEEN.load(Ordering::SeqCst), 2, "not quiet any more after unwinding out of the run");
        // Dropped normally, the previous hook itself is back.
        drop(QuietCaseThread::install());
        let _ = std::panic::catch_unwind(|| panic!("after a normal end"));
        assert_eq!(SEEN.load(Ordering::SeqCst), 3, "the previous hook is back");
        std::panic::set_hook(original);
    }
}
