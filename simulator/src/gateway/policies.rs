//! Snapshot policies: request bodies as PyPowerFlex (`gen1/snapshot_policy.py`) and Dell's
//! Ansible `snapshot_policy` module send them, parsed into model commands.

use std::sync::Arc;

use serde_json::Value;

use super::actions::run;
use super::body::Body;
use super::error::{ApiError, ApiResult};
use super::objects::unknown_action;
use super::Gateway;
use crate::model::*;

fn missing(key: &str) -> ApiError {
    ApiError::bad_request(format!("Missing required parameter: {key}"))
}

/// `numOfRetainedSnapshotsPerLevel`: numbers, or decimal strings.
fn levels(body: &Body) -> ApiResult<Option<Vec<u64>>> {
    let key = "numOfRetainedSnapshotsPerLevel";
    let Some(items) = body.array(key)? else { return Ok(None) };
    items
        .iter()
        .map(|item| {
            let text = match item {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.trim().to_string(),
                _ => String::new(),
            };
            text.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("Invalid value for {key}: expected an array of numbers")))
        })
        .collect::<ApiResult<Vec<u64>>>()
        .map(Some)
}

fn access_mode(body: &Body) -> ApiResult<AccessMode> {
    match body.string("snapshotAccessMode")? {
        None => Ok(AccessMode::ReadWrite),
        Some(m) => AccessMode::parse(&m).ok_or_else(|| Fault::invalid(format!("snapshotAccessMode {m:?}")).into()),
    }
}

/// `POST /api/types/SnapshotPolicy/instances` `{"autoSnapshotCreationCadenceInMin",
/// "numOfRetainedSnapshotsPerLevel", "name"?, "paused"?, "snapshotAccessMode"?, "secureSnapshots"?}`
pub async fn create(gw: &Arc<Gateway>, body: &Body) -> ApiResult<Value> {
    let cadence = "autoSnapshotCreationCadenceInMin";
    let new = PolicySettings {
        name: body.string("name")?,
        cadence_min: body.uint(cadence)?.ok_or_else(|| missing(cadence))?,
        retained_per_level: levels(body)?.ok_or_else(|| missing("numOfRetainedSnapshotsPerLevel"))?,
        paused: body.boolean("paused")?.unwrap_or(false),
        access_mode: access_mode(body)?,
        secure: body.boolean("secureSnapshots")?.unwrap_or(false),
    };
    run(gw, Command::CreatePolicy(Box::new(new))).await
}

/// `POST /api/instances/SnapshotPolicy::{id}/action/{action}`.
pub async fn instance_action(gw: &Arc<Gateway>, policy: Id, action: &str, body: &Body) -> ApiResult<Value> {
    let source = || body.required_id("sourceVolumeId", "Volume");
    let change = match action {
        "removeSnapshotPolicy" => return run(gw, Command::RemovePolicy { policy }).await,
        // {"autoSnapshotCreationCadenceInMin"?, "numOfRetainedSnapshotsPerLevel"?}
        "modifySnapshotPolicy" => PolicyChange::Modify {
            cadence_min: body.uint("autoSnapshotCreationCadenceInMin")?,
            retained_per_level: levels(body)?,
        },
        "renameSnapshotPolicy" => PolicyChange::Rename(body.required_string("newName")?),
        "pauseSnapshotPolicy" => PolicyChange::Pause,
        "resumeSnapshotPolicy" => PolicyChange::Resume,
        "addSourceVolumeToSnapshotPolicy" => PolicyChange::AddSource(source()?),
        // {"sourceVolumeId", "autoSnapshotRemovalAction": Remove | Detach, "detachLockedAutoSnapshots"?}
        "removeSourceVolumeFromSnapshotPolicy" => {
            let key = "autoSnapshotRemovalAction";
            let given = body.required_string(key)?;
            let action = match given.to_ascii_lowercase().as_str() {
                "remove" => RemovalAction::Remove,
                "detach" => RemovalAction::Detach,
                _ => return Err(Fault::invalid(format!("{key} {given:?}")).into()),
            };
            PolicyChange::RemoveSource { volume: source()?, action }
        }
        _ => return Err(unknown_action("SnapshotPolicy", action)),
    };
    run(gw, Command::ModifyPolicy { policy, change }).await
}
