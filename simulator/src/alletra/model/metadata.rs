//! Volume metadata, `objectKeyValues` (reference §1.2 "Metadata"): key/value pairs kept on the
//! volume itself, so they are journaled with it and go with it on delete.

use super::commands::Plan;
use super::effects::Effect;
use super::fault::Fault;
use super::names::{check_identifier, check_text};
use super::objects::{KeyValue, Volume};
use super::volumes::existing;
use super::Model;

/// The mock's key limit; python's test says only that some limit exists ("some backends have a
/// key limit of 31 characters").
const MAX_KEY_LENGTH: usize = 31;
/// Inferred: no source gives the value limit (Cinder's CHAP secrets are 16 characters).
const MAX_VALUE_LENGTH: usize = 255;

fn check_key(key: &str) -> Result<(), Fault> {
    check_identifier(key, MAX_KEY_LENGTH, "key")
}

fn changed(v: &Volume, change: impl FnOnce(&mut Volume)) -> Plan {
    let mut next = v.clone();
    change(&mut next);
    Plan::done(vec![Effect::VolumeChanged(Box::new(next))])
}

impl Model {
    /// A volume's key, with the real refusals for a bad or missing key.
    pub fn find_volume_key<'m>(&self, v: &'m Volume, key: &str) -> Result<&'m KeyValue, Fault> {
        check_key(key)?;
        v.metadata.get(key).ok_or_else(Fault::non_existent_object_key)
    }
}

pub(super) fn add(model: &Model, volume: &str, key: &str, value: &str, now: u64) -> Result<Plan, Fault> {
    let v = existing(model, volume)?;
    check_key(key)?;
    check_text(value, MAX_VALUE_LENGTH, "value")?;
    if v.metadata.contains_key(key) {
        return Err(Fault::existent_object_key());
    }
    let entry = KeyValue { value: value.to_string(), creation_time: now };
    Ok(changed(v, |next| {
        next.metadata.insert(key.to_string(), entry);
    }))
}

/// A new value for a key that exists; the key keeps its creation time.
pub(super) fn set(model: &Model, volume: &str, key: &str, value: &str) -> Result<Plan, Fault> {
    let v = existing(model, volume)?;
    let old = model.find_volume_key(v, key)?;
    check_text(value, MAX_VALUE_LENGTH, "value")?;
    let entry = KeyValue { value: value.to_string(), ..old.clone() };
    Ok(changed(v, |next| {
        next.metadata.insert(key.to_string(), entry);
    }))
}

pub(super) fn remove(model: &Model, volume: &str, key: &str) -> Result<Plan, Fault> {
    let v = existing(model, volume)?;
    model.find_volume_key(v, key)?;
    Ok(changed(v, |next| {
        next.metadata.remove(key);
    }))
}
