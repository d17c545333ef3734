//! The WSAPI v1 over HTTPS: sessions, routing, JSON bodies into model commands, the model's
//! objects and faults into the array's JSON, and the `/sim/` admin surface.
//!
//! This layer only translates. Changes run one at a time through `Array::change`: plan,
//! data-plane prepare, journal write, commit, wait for the disk, data-plane finish, the same
//! order (and the same shared pieces: `persist`, `dataplane`) as the PowerFlex gateway.
//! Time-driven work (tasks finishing, volumes expiring) is `Command::Tick`, planned before a
//! request whenever `Model::next_due` has passed, so it is journaled like any change.
//!
//! Invariant: only this module knows status codes, headers and JSON.

pub mod error;
mod front;
mod query;
mod render;
mod routes;
pub mod sessions;
mod volume_data;

use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{SystemTime, UNIX_EPOCH};

pub use routes::router;

use crate::alletra::model::topology::Topology;
use crate::alletra::model::{Command, Model, Reply};
use crate::dataplane::{self, DataPlane};
use crate::persist::Store;
use error::{WsapiError, WsapiResult};
use sessions::Sessions;

/// Everything a request handler can reach.
pub struct Array {
    model: Arc<RwLock<Model>>,
    /// Serialises changes; reads go on against the committed model.
    writer: tokio::sync::Mutex<Store>,
    plane: Arc<dyn DataPlane>,
    pub sessions: Sessions,
    topology: Topology,
    /// The fault rules in force (configuration: never journaled, kept by a reset).
    faults: crate::faults::Faults,
}

impl Array {
    pub fn new(
        model: Model,
        store: Store,
        plane: Arc<dyn DataPlane>,
        sessions: Sessions,
        topology: Topology,
        faults: crate::faults::Faults,
    ) -> Array {
        let (model, writer) = (Arc::new(RwLock::new(model)), tokio::sync::Mutex::new(store));
        Array { model, writer, plane, sessions, topology, faults }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Model> {
        self.model.read().expect("model lock poisoned")
    }

    pub fn plane(&self) -> &Arc<dyn DataPlane> {
        &self.plane
    }

    /// Seconds since the epoch.
    pub fn now(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }

    /// Carries out one change in its own task, so a client hanging up cannot drop it half-way.
    pub async fn execute(self: &Arc<Self>, command: Command) -> WsapiResult<Reply> {
        let this = self.clone();
        tokio::spawn(async move { this.change(command).await })
            .await
            .map_err(|e| WsapiError::internal(format!("the change failed: {e}")))?
    }

    /// Ends the tasks that are due and removes expired volumes, as journaled changes.
    pub async fn catch_up(self: &Arc<Self>) -> WsapiResult<()> {
        if self.read().next_due().is_some_and(|due| due <= self.now()) {
            self.execute(Command::Tick).await?;
        }
        Ok(())
    }

    async fn change(&self, command: Command) -> WsapiResult<Reply> {
        let mut store = self.writer.lock().await;
        let plan = self.read().plan(&command, self.now())?;
        if plan.effects.is_empty() {
            return Ok(plan.reply);
        }
        let (model, plane, effects) = (self.model.clone(), self.plane.clone(), plan.effects.clone());
        let (prepared, cleanups) = blocking(move || {
            let model = model.read().expect("model lock poisoned");
            dataplane::alletra::prepare(plane.as_ref(), &model, &effects)
        })
        .await??;
        let pending = match store.write(&plan.effects) {
            Ok(pending) => pending,
            Err(e) => {
                tracing::error!("journal write failed; the change is refused and taken back: {e}");
                let plane = self.plane.clone();
                blocking(move || prepared.undo(plane.as_ref())).await.ok();
                return Err(e.into());
            }
        };
        self.model.write().expect("model lock poisoned").commit(&plan.effects);
        // Destructive steps run only once the change is durable, still in turn.
        blocking(move || pending.wait()).await??;
        if !cleanups.is_empty() {
            let plane = self.plane.clone();
            blocking(move || dataplane::alletra::finish(plane.as_ref(), &cleanups)).await?;
        }
        drop(store);
        Ok(plan.reply)
    }

    /// Admin: back to the topology's initial state, with a new seed if given.
    pub async fn reset(&self, seed: Option<u64>) -> WsapiResult<u64> {
        let mut store = self.writer.lock().await;
        let seed = seed.unwrap_or_else(|| self.read().seed());
        let mut fresh = Model::new(&self.topology, seed);
        // Deliberate faults are configuration, not state: a reset keeps them.
        fresh.set_broken(self.read().broken().clone());
        let cleanups: Vec<_> = {
            let model = self.read();
            let volumes = model.volumes().map(|v| dataplane::alletra::Cleanup::Remove(dataplane::alletra::key(v.id)));
            let hosts = model.hosts().map(|h| dataplane::alletra::Cleanup::RemoveHost(dataplane::alletra::key(h.id)));
            volumes.chain(hosts).collect()
        };
        store.compact(&fresh)?;
        *self.model.write().expect("model lock poisoned") = fresh;
        let plane = self.plane.clone();
        blocking(move || dataplane::alletra::finish(plane.as_ref(), &cleanups)).await?;
        self.sessions.expire_all();
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
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> WsapiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| WsapiError::internal(format!("data plane task failed: {e}")))
}
