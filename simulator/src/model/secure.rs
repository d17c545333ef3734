//! Secure snapshots: a snapshot that cannot be removed before its expiry.
//!
//! `snapshotVolumes` with `retentionPeriodInMin` makes its snapshots secure from creation;
//! `setSnapshotSecurity` makes a snapshot secure or delays its expiry, never advances it
//! (PyPowerFlex `set_retention_period`: "it can be delayed but not advanced").

use super::commands::{Plan, Reply};
use super::effects::Effect;
use super::fault::Fault;
use super::ids::Id;
use super::objects::Volume;
use super::volumes::existing;
use super::Model;

/// The expiry (seconds) of a snapshot made secure at `now` for `minutes`.
pub(super) fn expiry(now: u64, minutes: u64) -> Result<u64, Fault> {
    if minutes == 0 {
        return Err(Fault::invalid("retentionPeriodInMin must be at least 1"));
    }
    minutes.checked_mul(60).and_then(|s| s.checked_add(now)).ok_or_else(|| Fault::invalid("retentionPeriodInMin"))
}

pub(super) fn set(model: &Model, volume: Id, minutes: u64, now: u64) -> Result<Plan, Fault> {
    let v = existing(model, volume)?;
    if !v.is_snapshot {
        return Err(Fault::vol_is_not_snapshot());
    }
    let exp_time = expiry(now, minutes)?;
    if exp_time < v.secure_snapshot_exp_time {
        return Err(Fault::secure_snapshot_expiry_advanced());
    }
    Ok(Plan::new(vec![Effect::SnapshotSecuritySet { volume, exp_time }], Reply::Empty))
}

/// Refuses the removal of a secure snapshot that has not expired at `now`.
pub(super) fn check_removable(v: &Volume, now: u64) -> Result<(), Fault> {
    if v.secure_snapshot_exp_time > now {
        return Err(Fault::secure_snapshot_not_expired());
    }
    Ok(())
}
