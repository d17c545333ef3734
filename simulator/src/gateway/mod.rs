//! The HTTPS surface: the PowerFlex REST API real clients use, and the `/sim/` admin surface.
//!
//! This layer only translates. Requests become typed model `Command`s (`actions`) or queries
//! (`objects`); model answers become the real gateway's JSON (`render`); failures become its
//! error bodies (`error`). `router` lists every route in one table.
//!
//! Invariant: only this module knows HTTP status codes, headers and JSON bodies.

mod actions;
mod admin;
mod admin_data;
pub mod auth;
mod body;
pub mod error;
mod inventory;
mod lifecycle;
mod objects;
mod policies;
mod render;
mod render_inventory;
mod router;
mod statistics;

use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{SystemTime, UNIX_EPOCH};

pub use router::router;

use crate::dataplane::{self, DataPlane};
use crate::model::topology::Topology;
use crate::model::{Command, Model, Reply};
use crate::persist::Store;
use auth::Auth;
use error::{ApiError, ApiResult};

/// Everything a request handler can reach.
pub struct Gateway {
    model: Arc<RwLock<Model>>,
    /// Serialises changes: plan, data plane, journal and commit happen one change at a time,
    /// while reads go on against the committed model.
    writer: tokio::sync::Mutex<Store>,
    plane: Arc<dyn DataPlane>,
    auth: Auth,
    topology: Topology,
    /// Seconds added to the wall clock (`POST /sim/clock/advance`), so tests need not wait
    /// for snapshot policies' cadences.
    clock_offset: std::sync::atomic::AtomicU64,
    /// The largest request body accepted.
    pub body_limit: usize,
}

impl Gateway {
    pub fn new(model: Model, store: Store, plane: Arc<dyn DataPlane>, auth: Auth, topology: Topology) -> Gateway {
        Gateway {
            model: Arc::new(RwLock::new(model)),
            writer: tokio::sync::Mutex::new(store),
            plane,
            auth,
            topology,
            clock_offset: Default::default(),
            body_limit: 1024 * 1024,
        }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Model> {
        self.model.read().expect("model lock poisoned")
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    pub fn plane(&self) -> &Arc<dyn DataPlane> {
        &self.plane
    }

    /// Carries out one change: plan it, let the data plane prepare it, journal it, commit
    /// it, then let the data plane finish. Nothing is half-done if a step fails.
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

    async fn change(&self, command: Command) -> ApiResult<Reply> {
        let mut store = self.writer.lock().await;
        let now = self.now();
        let plan = self.read().plan(&command, now)?;
        if plan.effects.is_empty() {
            return Ok(plan.reply);
        }
        let (model, plane, effects) = (self.model.clone(), self.plane.clone(), plan.effects.clone());
        let prepared = tokio::task::spawn_blocking(move || {
            let model = model.read().expect("model lock poisoned");
            dataplane::prepare(plane.as_ref(), &model, &effects)
        })
        .await
        .map_err(|e| ApiError::internal(format!("Error: data plane task failed: {e}")))??;
        if let Err(e) = store.append(&plan.effects) {
            tracing::error!("journal write failed; the change is refused and taken back: {e}");
            let plane = self.plane.clone();
            tokio::task::spawn_blocking(move || prepared.undo(plane.as_ref())).await.ok();
            return Err(e.into());
        }
        self.model.write().expect("model lock poisoned").commit(&plan.effects);
        let (model, plane, effects) = (self.model.clone(), self.plane.clone(), plan.effects);
        tokio::task::spawn_blocking(move || {
            let model = model.read().expect("model lock poisoned");
            dataplane::finish(plane.as_ref(), &model, &effects)
        })
        .await
        .map_err(|e| ApiError::internal(format!("Error: data plane task failed: {e}")))?;
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
        *self.model.write().expect("model lock poisoned") = fresh;
        let (model, plane) = (self.model.clone(), self.plane.clone());
        tokio::task::spawn_blocking(move || {
            let model = model.read().expect("model lock poisoned");
            let effects: Vec<_> = old_volumes
                .into_iter()
                .map(|volume| crate::model::Effect::VolumeRemoved { volume })
                .chain(old_hosts.into_iter().map(|host| crate::model::Effect::HostRemoved { host }))
                .collect();
            dataplane::finish(plane.as_ref(), &model, &effects);
            // SDTs made or changed through the API go back to the topology's.
            dataplane::reconcile_listeners(plane.as_ref(), &model);
        })
        .await
        .map_err(|e| ApiError::internal(format!("Error: data plane task failed: {e}")))?;
        Ok(seed)
    }

    /// Writes a compact snapshot (clean shutdown).
    pub async fn flush(&self) {
        let mut store = self.writer.lock().await;
        if let Err(e) = store.compact(&self.read()) {
            tracing::error!("saving state at shutdown: {e}");
        }
    }
}
