//! Snapshot policies through a real HTTPS client: create, modify, rename, pause, resume, source
//! volumes, auto snapshots taken on the simulator's clock with retention, and the exact refusals
//! (reference `powerflex-api.md` §2.10; codes inferred from goscaleio's table, FIDELITY.md).

mod common;

use common::*;
use serde_json::{json, Value};

const CADENCE_MIN: u64 = 60;

impl Api {
    async fn create_policy(&self, body: Value) -> Reply {
        self.post("/api/types/SnapshotPolicy/instances", body).await
    }

    async fn policy(&self, id: &str) -> Value {
        self.get_ok(&format!("/api/instances/SnapshotPolicy::{id}")).await
    }

    async fn policy_action(&self, id: &str, action: &str, body: Value) -> Reply {
        self.post(&format!("/api/instances/SnapshotPolicy::{id}/action/{action}"), body).await
    }

    /// Moves the simulator's clock on; how many policy runs that caused.
    async fn advance(&self, seconds: u64) -> u64 {
        let reply = self.post_ok("/sim/clock/advance", json!({ "seconds": seconds })).await;
        reply["policyRuns"].as_u64().expect("policyRuns")
    }

    /// The auto snapshots of a policy, as volumes.
    async fn auto_snapshots(&self, id: &str) -> Vec<Value> {
        let list = self.get_ok(&format!("/api/instances/SnapshotPolicy::{id}/relationships/AutoSnapshotVolume")).await;
        list.as_array().expect("list").clone()
    }
}

async fn policy_with(api: &Api, name: &str, levels: Value) -> String {
    let body = json!({ "name": name, "autoSnapshotCreationCadenceInMin": CADENCE_MIN,
                       "numOfRetainedSnapshotsPerLevel": levels, "paused": false });
    ok(api.create_policy(body).await)["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn policy_create_modify_rename_pause_resume_and_remove() {
    let (_gw, api) = start().await;
    let id = policy_with(&api, "policy-a", json!([4])).await;
    let p = api.policy(&id).await;
    assert_eq!(
        (p["name"].clone(), p["snapshotPolicyState"].clone(), p["autoSnapshotCreationCadenceInMin"].clone()),
        (json!("policy-a"), json!("Active"), json!(CADENCE_MIN))
    );
    assert_eq!(
        (p["numOfRetainedSnapshotsPerLevel"].clone(), p["maxVTreeAutoSnapshots"].clone()),
        (json!([4]), json!(4))
    );
    assert_eq!(p["snapshotAccessMode"], json!("ReadWrite"));
    let found =
        api.post_ok("/api/types/SnapshotPolicy/instances/action/queryIdByKey", json!({ "name": "policy-a" })).await;
    assert_eq!(found, json!(id));
    assert_eq!(ids(&api.get_ok("/api/types/SnapshotPolicy/instances").await), vec![id.clone()]);

    let modify = json!({ "autoSnapshotCreationCadenceInMin": "120", "numOfRetainedSnapshotsPerLevel": [3, 2] });
    assert_eq!(ok(api.policy_action(&id, "modifySnapshotPolicy", modify).await), json!({}));
    let p = api.policy(&id).await;
    assert_eq!(
        (p["autoSnapshotCreationCadenceInMin"].clone(), p["numOfRetainedSnapshotsPerLevel"].clone()),
        (json!(120), json!([3, 2]))
    );
    ok(api.policy_action(&id, "renameSnapshotPolicy", json!({ "newName": "policy-b" })).await);
    assert_eq!(api.policy(&id).await["name"], json!("policy-b"));
    ok(api.policy_action(&id, "pauseSnapshotPolicy", json!({})).await);
    assert_eq!(api.policy(&id).await["snapshotPolicyState"], json!("Paused"));
    ok(api.policy_action(&id, "resumeSnapshotPolicy", json!({})).await);
    assert_eq!(api.policy(&id).await["snapshotPolicyState"], json!("Active"));

    ok(api.policy_action(&id, "removeSnapshotPolicy", json!({})).await);
    assert_fault(
        &api.get(&format!("/api/instances/SnapshotPolicy::{id}")).await,
        917,
        "The snapshot policy was not found",
    );
}

#[tokio::test]
async fn policy_refusals() {
    let (_gw, api) = start().await;
    let id = policy_with(&api, "taken", json!([2])).await;
    let body = |name: &str, cadence: u64, levels: Value| json!({ "name": name, "autoSnapshotCreationCadenceInMin": cadence, "numOfRetainedSnapshotsPerLevel": levels });
    assert_fault(&api.create_policy(body("taken", 60, json!([2]))).await, 913, "Snapshot policy name already exists");
    assert_fault(
        &api.create_policy(body("p", 60, json!([1, 1, 1, 1, 1, 1, 1]))).await,
        915,
        "Too many snapshot policy levels",
    );
    assert_fault(&api.create_policy(body("p", 60, json!([]))).await, 915, "Too many snapshot policy levels");
    assert_fault(
        &api.create_policy(body("p", 60, json!([40, 21]))).await,
        911,
        "The total number of snapshots for the policy exceeds the allowed maximum",
    );
    assert_fault(
        &api.create_policy(body("p", 5, json!([2]))).await,
        64,
        "Parameter out of range: autoSnapshotCreationCadenceInMin 5 (at least 15)",
    );
    assert_fault(
        &api.create_policy(body("has space", 60, json!([2]))).await,
        227,
        "The given name contains invalid characters. Use alphanumeric and punctuation characters only. Spaces are not allowed.",
    );
    assert_error(
        &api.create_policy(json!({ "name": "p", "numOfRetainedSnapshotsPerLevel": [2] })).await,
        400,
        0,
        "Missing required parameter: autoSnapshotCreationCadenceInMin",
    );
    assert_eq!(api.get_ok("/api/types/SnapshotPolicy/instances").await.as_array().unwrap().len(), 1, "nothing created");

    let sp1 = api.pool_id("sp1").await;
    let volume = api.create_volume(&sp1, "src", 8).await;
    let add = json!({ "sourceVolumeId": volume });
    ok(api.policy_action(&id, "addSourceVolumeToSnapshotPolicy", add.clone()).await);
    assert_fault(
        &api.policy_action(&id, "addSourceVolumeToSnapshotPolicy", add.clone()).await,
        918,
        "The source volume is already associated with a Snapshot Policy",
    );
    let snap = api.snapshot(&volume, "src-snap").await;
    let other = policy_with(&api, "other", json!([2])).await;
    assert_fault(
        &api.policy_action(&other, "addSourceVolumeToSnapshotPolicy", json!({ "sourceVolumeId": snap })).await,
        920,
        "A single VTree cannot contain more than one Snapshot Policy source-volume",
    );
    assert_fault(
        &api.policy_action(&other, "addSourceVolumeToSnapshotPolicy", json!({ "sourceVolumeId": "0123456789abcdef" }))
            .await,
        79,
        "Could not find the volume",
    );
    assert_fault(
        &api.policy_action(&id, "removeSnapshotPolicy", json!({})).await,
        921,
        "The operation cannot be completed because the Snapshot Policy has source volumes associated with it",
    );
    let remove = json!({ "sourceVolumeId": volume, "autoSnapshotRemovalAction": "Remove" });
    assert_fault(
        &api.policy_action(&other, "removeSourceVolumeFromSnapshotPolicy", remove.clone()).await,
        922,
        "The source volume is not associated with the Snapshot Policy",
    );
    assert_error(
        &api.policy_action(&id, "removeSourceVolumeFromSnapshotPolicy", json!({ "sourceVolumeId": volume })).await,
        400,
        0,
        "Missing required parameter: autoSnapshotRemovalAction",
    );
    assert_fault(
        &api.policy_action(&id, "modifySnapshotPolicy", json!({ "numOfRetainedSnapshotsPerLevel": [61] })).await,
        911,
        "The total number of snapshots for the policy exceeds the allowed maximum",
    );
    assert_fault(
        &api.policy_action(&other, "renameSnapshotPolicy", json!({ "newName": "taken" })).await,
        913,
        "Snapshot policy name already exists",
    );
    assert_fault(
        &api.policy_action("0123456789abcdef", "pauseSnapshotPolicy", json!({})).await,
        917,
        "The snapshot policy was not found",
    );
    // A VTree that cannot hold the policy's auto snapshots besides its volumes.
    let big = policy_with(&api, "big", json!([60])).await;
    let crowded = api.create_volume(&sp1, "crowded", 8).await;
    for n in 0..67 {
        api.snapshot(&crowded, &format!("crowded-{n}")).await;
    }
    assert_fault(
        &api.policy_action(&big, "addSourceVolumeToSnapshotPolicy", json!({ "sourceVolumeId": crowded })).await,
        350,
        "Adding the source volume to the snapshot policy will cause there to be too many volumes in the VTree",
    );
}

#[tokio::test]
async fn auto_snapshots_follow_the_cadence_and_retention() {
    let (_gw, api) = start().await;
    let id = policy_with(&api, "hourly", json!([2, 2])).await;
    let sp1 = api.pool_id("sp1").await;
    let a = api.create_volume(&sp1, "src-a", 8).await;
    let b = api.create_volume(&sp1, "src-b", 8).await;
    for v in [&a, &b] {
        ok(api.policy_action(&id, "addSourceVolumeToSnapshotPolicy", json!({ "sourceVolumeId": v })).await);
        assert_eq!(api.volume(v).await["snplIdOfSourceVolume"], json!(id));
    }
    let sources = api.get_ok(&format!("/api/instances/SnapshotPolicy::{id}/relationships/SourceVolume")).await;
    assert_eq!(ids(&sources), vec![a.clone(), b.clone()]);

    // Not due yet: nothing happens.
    assert_eq!(api.advance(CADENCE_MIN * 60 - 120).await, 0);
    assert!(api.auto_snapshots(&id).await.is_empty());

    // Due: one group with a snapshot of each source.
    assert_eq!(api.advance(180).await, 1);
    let first = api.auto_snapshots(&id).await;
    assert_eq!(first.len(), 2);
    let group = first[0]["autoSnapshotGroupId"].clone();
    assert!(group.as_str().is_some_and(is_id), "{group}");
    for snap in &first {
        assert_eq!(snap["snplIdOfAutoSnapshot"], json!(id));
        assert_eq!(snap["autoSnapshotGroupId"], group);
        assert_eq!(snap["consistencyGroupId"], group);
        assert_eq!(snap["volumeType"], json!("Snapshot"));
    }
    let ancestors: Vec<Value> = first.iter().map(|s| s["ancestorVolumeId"].clone()).collect();
    assert_eq!(ancestors, vec![json!(a), json!(b)]);
    let p = api.policy(&id).await;
    assert_eq!(p["numOfAutoSnapshots"], json!(2));
    assert!(p["timeOfLastAutoSnapshot"].as_u64().unwrap() > 0);

    // Runs 2..=5. Levels [2, 2]: after run 5, runs 4 and 5 (level 1) and 2 and 4 (level 2).
    for _ in 2..=5 {
        assert_eq!(api.advance(CADENCE_MIN * 60).await, 1);
    }
    let kept: std::collections::BTreeSet<String> =
        api.auto_snapshots(&id).await.iter().map(|s| s["autoSnapshotGroupId"].as_str().unwrap().to_string()).collect();
    assert_eq!(kept.len(), 3, "three runs' groups are kept: {kept:?}");
    assert_eq!(api.auto_snapshots(&id).await.len(), 6);
    assert!(!kept.contains(group.as_str().unwrap()), "run 1 was pruned");
    assert_fault(
        &api.get(&format!("/api/instances/Volume::{}", first[0]["id"].as_str().unwrap())).await,
        79,
        "Could not find the volume",
    );
    let stats = api.get_ok(&format!("/api/instances/SnapshotPolicy::{id}/relationships/Statistics")).await;
    assert_eq!((stats["numOfSrcVols"].clone(), stats["numOfAutoSnapshots"].clone()), (json!(2), json!(6)));
    // The auto snapshots count in their VTree (base + 3).
    let vtree = api.volume(&a).await["vtreeId"].as_str().unwrap().to_string();
    let vstats = api.get_ok(&format!("/api/instances/VTree::{vtree}/relationships/Statistics")).await;
    assert_eq!(vstats["numOfVolumes"], json!(4));

    // Paused: no runs.
    ok(api.policy_action(&id, "pauseSnapshotPolicy", json!({})).await);
    assert_eq!(api.advance(CADENCE_MIN * 60 * 3).await, 0);
    ok(api.policy_action(&id, "resumeSnapshotPolicy", json!({})).await);
    assert_eq!(api.advance(1).await, 1, "overdue after the pause: one run, not three");
    assert_eq!(api.advance(1).await, 0);

    // Detach keeps a source's auto snapshots as ordinary snapshots; Remove removes them.
    let detach =
        json!({ "sourceVolumeId": a, "autoSnapshotRemovalAction": "Detach", "detachLockedAutoSnapshots": true });
    ok(api.policy_action(&id, "removeSourceVolumeFromSnapshotPolicy", detach).await);
    assert_eq!(api.volume(&a).await["snplIdOfSourceVolume"], Value::Null);
    let tree_a = api.get_ok(&format!("/api/instances/VTree::{vtree}/relationships/Volume")).await;
    assert_eq!(tree_a.as_array().unwrap().len(), 4, "detached snapshots stay");
    assert!(tree_a.as_array().unwrap().iter().all(|v| v["snplIdOfAutoSnapshot"].is_null()));
    let remove = json!({ "sourceVolumeId": b, "autoSnapshotRemovalAction": "Remove" });
    ok(api.policy_action(&id, "removeSourceVolumeFromSnapshotPolicy", remove).await);
    assert!(api.auto_snapshots(&id).await.is_empty());
    let vtree_b = api.volume(&b).await["vtreeId"].as_str().unwrap().to_string();
    let tree_b = api.get_ok(&format!("/api/instances/VTree::{vtree_b}/relationships/Volume")).await;
    assert_eq!(ids(&tree_b), vec![b.clone()], "removed with their source's policy link");
    ok(api.policy_action(&id, "removeSnapshotPolicy", json!({})).await);
}

#[tokio::test]
async fn a_full_vtree_counts_a_creation_failure() {
    let (_gw, api) = start().await;
    let id = policy_with(&api, "full", json!([1])).await;
    let sp1 = api.pool_id("sp1").await;
    let v = api.create_volume(&sp1, "nearly-full", 8).await;
    ok(api.policy_action(&id, "addSourceVolumeToSnapshotPolicy", json!({ "sourceVolumeId": v })).await);
    // Fill the VTree by hand to its 127 volumes after the policy took the source.
    for n in 0..126 {
        api.snapshot(&v, &format!("fill-{n}")).await;
    }
    assert_eq!(api.advance(CADENCE_MIN * 60).await, 1);
    let p = api.policy(&id).await;
    assert_eq!((p["numOfCreationFailures"].clone(), p["numOfAutoSnapshots"].clone()), (json!(1), json!(0)));
    assert!(p["timeOfLastAutoSnapshotCreationFailure"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn policies_and_auto_snapshots_survive_a_restart() {
    let (gw, api) = start().await;
    let id = policy_with(&api, "durable", json!([3])).await;
    let sp1 = api.pool_id("sp1").await;
    let v = api.create_volume(&sp1, "durable-src", 8).await;
    ok(api.policy_action(&id, "addSourceVolumeToSnapshotPolicy", json!({ "sourceVolumeId": v })).await);
    assert_eq!(api.advance(CADENCE_MIN * 60).await, 1);
    let before = (api.policy(&id).await, api.auto_snapshots(&id).await, api.volume(&v).await);

    let gw = gw.restart().await;
    let api = Api::connect(&gw).await;
    let after = (api.policy(&id).await, api.auto_snapshots(&id).await, api.volume(&v).await);
    assert_eq!(after, before);
}
