//! The HTTPS surface: the PowerFlex REST API real clients use, and the `/sim/` admin surface.
//!
//! This layer only translates. Requests become typed model `Command`s (`actions`) or queries
//! (`objects`); model answers become the real gateway's JSON (`render`); failures become its
//! error bodies (`error`). `router` lists every route in one table.
//!
//! Invariant: only this module knows HTTP status codes, headers and JSON bodies.

mod actions;
mod admin;
pub mod auth;
mod body;
pub mod error;
mod front;
mod inventory;
mod lifecycle;
mod objects;
mod policies;
mod render;
mod render_inventory;
mod router;
mod statistics;
mod volume_data;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{SystemTime, UNIX_EPOCH};

pub use router::router;

use axum::body::Bytes;
use serde_json::Value;

use crate::dataplane::{self, DataPlane};
use crate::model::topology::Topology;
use crate::model::{Command, Model, Reply};
use crate::persist::{Pending, Store};
use auth::Auth;
use error::{ApiError, ApiResult};

/// Everything a request handler can reach.
pub struct Gateway {
    model: Arc<RwLock<Model>>,
    /// Serialises changes: plan, data plane, journal write and commit happen one change at a
    /// time, while reads go on against the committed model (which may hold changes whose
    /// journal entry is still being flushed, not yet acknowledged to their client).
    writer: tokio::sync::Mutex<Store>,
    plane: Arc<dyn DataPlane>,
    auth: Auth,
    topology: Topology,
    /// Seconds added to the wall clock (`POST /sim/clock/advance`), so tests need not wait
    /// for snapshot policies' cadences.
    clock_offset: std::sync::atomic::AtomicU64,
    /// The largest request body accepted.
    pub body_limit: usize,
    /// Counts changes to the model; bumped under its write lock, so a read that sees the
    /// same generation before and after rendering rendered exactly that model.
    generation: AtomicU64,
    /// Rendered single-object reads and the generation they were rendered at: polling
    /// clients (LXD, CSI drivers) read the same objects again and again between changes.
    rendered: RwLock<HashMap<String, (u64, Bytes)>>,
    /// The fault rules in force (configuration: never journaled, kept by a reset).
    faults: crate::faults::Faults,
}

/// The most rendered objects kept; past it the cache starts over.
const RENDERED_MAX: usize = 8192;

impl Gateway {
    pub fn new(
        model: Model,
        store: Store,
        plane: Arc<dyn DataPlane>,
        auth: Auth,
        topology: Topology,
        faults: crate::faults::Faults,
    ) -> Gateway {
        Gateway {
            model: Arc::new(RwLock::new(model)),
            writer: tokio::sync::Mutex::new(store),
            plane,
            auth,
            topology,
            clock_offset: Default::default(),
            body_limit: 1024 * 1024,
            generation: AtomicU64::new(0),
            rendered: RwLock::new(HashMap::new()),
            faults,
        }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Model> {
        self.model.read().expect("model lock poisoned")
    }

    /// The JSON of the object `key` names, rendered by `render` from the model, or as rendered
    /// before if the model has not changed since.
    pub(crate) fn rendered(&self, key: &str, render: impl FnOnce() -> ApiResult<Value>) -> ApiResult<Bytes> {
        let seen = self.generation.load(Ordering::Acquire);
        if let Some((generation, bytes)) = self.rendered.read().expect("cache lock").get(key) {
            if *generation == seen {
                return Ok(bytes.clone());
            }
        }
        let bytes = Bytes::from(render()?.to_string());
        if self.generation.load(Ordering::Acquire) == seen {
            let mut rendered = self.rendered.write().expect("cache lock");
            if rendered.len() >= RENDERED_MAX {
                rendered.clear();
            }
            rendered.insert(key.to_string(), (seen, bytes.clone()));
        }
        Ok(bytes)
    }

    /// Applies committed effects to the model, and moves the generation on while still
    /// holding the write lock (see `rendered`).
    fn apply(&self, change: impl FnOnce(&mut Model)) {
        let mut model = self.model.write().expect("model lock poisoned");
        change(&mut model);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    pub fn plane(&self) -> &Arc<dyn DataPlane> {
        &self.plane
    }

    /// Carries out one change: plan it, let the data plane prepare it, journal it, commit
    /// it, wait until the journal entry is durable, then let the data plane finish. Nothing is
    /// half-done if a step fails.
    ///
    /// The change runs in its own task, so a client that hangs up (or a shutdown that stops
    /// waiting) cannot drop it half-way with the writer lock released.
    pub async fn execute(self: &Arc<Self>, command: Command) -> ApiResult<Reply> {
        let this = self.clone();
        tokio::spawn(async move { this.change(command).await })
            .await
            .map_err(|e| ApiError::internal(format!("Error: the change failed: {e}")))?
    }

    /// The simulator's time in seconds since the epoch: the wall clock plus any advance.
    pub fn now(&self) -> u64 {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        wall + self.clock_offset.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Moves the simulator's clock forward (admin surface).
    pub fn advance_clock(&self, seconds: u64) {
        self.clock_offset.fetch_add(seconds, std::sync::atomic::Ordering::Relaxed);
    }

    /// Runs every snapshot policy that is due now, each as its own journaled change. Answers
    /// how many runs took place. Called by the scheduler tick and after a clock advance.
    pub async fn run_due_policies(self: &Arc<Self>) -> ApiResult<usize> {
        let due = self.read().policies_due(self.now());
        for policy in &due {
            self.execute(Command::TakeAutoSnapshots { policy: *policy }).await?;
        }
        Ok(due.len())
    }

    /// Group commit: plan, prepare, journal write and commit run one change at a time under
    /// the writer lock, so each change is planned against every earlier one; the wait for the
    /// disk happens after the lock is released, so changes arriving meanwhile share one
    /// `fdatasync` (`persist::Pending`). A change with destructive data-plane steps (removals,
    /// unmappings) waits for the disk under the lock and finishes there, so nothing is
    /// destroyed for a change that might not survive, and a later change cannot set up what a
    /// pending cleanup would then take away.
    async fn change(&self, command: Command) -> ApiResult<Reply> {
        let mut store = self.writer.lock().await;
        let now = self.now();
        let plan = self.read().plan(&command, now)?;
        if plan.effects.is_empty() {
            return Ok(plan.reply);
        }
        let prepared = if dataplane::powerflex::in_memory(self.plane.as_ref(), &plan.effects) {
            dataplane::powerflex::prepare(self.plane.as_ref(), &self.read(), &plan.effects)?
        } else {
            let (model, plane, effects) = (self.model.clone(), self.plane.clone(), plan.effects.clone());
            blocking_in_turn(move || {
                let model = model.read().expect("model lock poisoned");
                dataplane::powerflex::prepare(plane.as_ref(), &model, &effects)
            })
            .await??
        };
        let pending = match store.write(&plan.effects) {
            Ok(pending) => pending,
            Err(e) => {
                tracing::error!("journal write failed; the change is refused and taken back: {e}");
                let plane = self.plane.clone();
                blocking(move || prepared.undo(plane.as_ref())).await.ok();
                return Err(e.into());
            }
        };
        self.apply(|model| model.commit(&plan.effects));
        if !dataplane::powerflex::destroys(&plan.effects) {
            drop(store);
            return durable(pending).await.map(|()| plan.reply);
        }
        durable(pending).await?;
        let (model, plane, effects) = (self.model.clone(), self.plane.clone(), plan.effects);
        blocking(move || {
            let model = model.read().expect("model lock poisoned");
            dataplane::powerflex::finish(plane.as_ref(), &model, &effects)
        })
        .await?;
        drop(store);
        Ok(plan.reply)
    }

    /// Admin: back to the topology's initial state, with a new seed if given.
    pub async fn reset(&self, seed: Option<u64>) -> ApiResult<u64> {
        let mut store = self.writer.lock().await;
        let seed = seed.unwrap_or_else(|| self.read().seed());
        let mut fresh = Model::new(&self.topology, seed);
        // Deliberate faults are configuration, not state: a reset keeps them.
        fresh.set_broken(self.read().broken().clone());
        let (old_volumes, old_hosts): (Vec<_>, Vec<_>) = {
            let model = self.read();
            (model.volumes().map(|v| v.id).collect(), model.hosts().map(|h| h.id).collect())
        };
        store.compact(&fresh)?;
        self.apply(|model| *model = fresh);
        let (model, plane) = (self.model.clone(), self.plane.clone());
        blocking(move || {
            let model = model.read().expect("model lock poisoned");
            let effects: Vec<_> = old_volumes
                .into_iter()
                .map(|volume| crate::model::Effect::VolumeRemoved { volume })
                .chain(old_hosts.into_iter().map(|host| crate::model::Effect::HostRemoved { host }))
                .collect();
            dataplane::powerflex::finish(plane.as_ref(), &model, &effects);
            // SDTs made or changed through the API go back to the topology's.
            dataplane::powerflex::reconcile_listeners(plane.as_ref(), &model);
        })
        .await?;
        Ok(seed)
    }

    /// Writes a compact snapshot (clean shutdown).
    pub async fn flush(&self) {
        let mut store = self.writer.lock().await;
        if let Err(e) = store.compact(&*self.read()) {
            tracing::error!("saving state at shutdown: {e}");
        }
    }
}

/// Runs blocking work (file system, fsync) off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("Error: data plane task failed: {e}")))
}

/// Runs blocking work that every later change waits for (it holds the writer lock): on the
/// multi-threaded runtime in place, moving this worker's other tasks away instead of handing
/// the work to another thread and waiting to be woken, which under load adds a scheduling
/// delay to every change in the queue.
async fn blocking_in_turn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => Ok(tokio::task::block_in_place(f)),
        _ => blocking(f).await,
    }
}

/// Waits until a journaled change is on the disk. A failed flush refuses the change: the
/// model already holds it, but the store refuses every later change (see `persist`).
async fn durable(pending: Pending) -> ApiResult<()> {
    blocking(move || pending.wait()).await?.map_err(|e| {
        tracing::error!("journal flush failed; changes it covered are not acknowledged: {e}");
        e.into()
    })
}
