//! What every emulated array's model offers the shared core (journal, snapshot, server).
//!
//! Both models (`model`, PowerFlex; `alletra::model`) are pure state with the same contract:
//! planning a command never changes the model and yields a `Plan`; committing a plan's
//! effects cannot fail, and the effects are what the journal records; lookup indexes are
//! not saved but rebuilt after loading.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A checked command: the effects that carry it out and the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<E, R> {
    pub effects: Vec<E>,
    pub reply: R,
}

impl<E, R> Plan<E, R> {
    pub fn new(effects: Vec<E>, reply: R) -> Plan<E, R> {
        Plan { effects, reply }
    }
}

/// A model the journal can keep: saved whole as a snapshot, changed by effects in between.
pub trait ArrayModel: Serialize + DeserializeOwned {
    /// One journaled change.
    type Effect: Serialize + DeserializeOwned;
    /// Applies effects planned earlier (or read back from the journal); cannot fail.
    fn commit(&mut self, effects: &[Self::Effect]);
    /// Restores the lookup indexes after deserialising.
    fn rebuild_index(&mut self);
}
