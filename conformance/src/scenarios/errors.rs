//! Error shapes: the exact bodies the gateway sends for the conditions the
//! model predicts, compared with `powerflex-api.md` §2.12 and §3.5.
//!
//! [`collect`] provokes each error and returns `(case, status, body)`;
//! [`error_shapes`] checks them against the reference, and
//! `tests/error_shapes.rs` pins them with insta snapshots.

use reqwest::Method;
use serde_json::{json, Value};

use super::{ensure, raw_volume};
use crate::model::MAX_VTREE_VOLUMES;
use crate::sut::Harness;

/// What the reference says each error looks like (a subset of the body).
pub fn expected() -> Vec<(&'static str, Value)> {
    vec![
        ("unknown_volume", json!({"message": "Could not find the volume", "httpStatusCode": 500, "errorCode": 79})),
        (
            "name_too_long",
            json!({"message": "The given name exceeds the allowed length of 31 characters.", "httpStatusCode": 500, "errorCode": 226}),
        ),
        ("name_with_space", json!({"httpStatusCode": 500, "errorCode": 227})),
        (
            "name_in_use",
            json!({"message": "Volume name already in use. Please use a different name.", "httpStatusCode": 500, "errorCode": 99}),
        ),
        (
            "shrink",
            json!({"message": "Volume capacity can only be increased", "httpStatusCode": 500, "errorCode": 133}),
        ),
        ("map_twice", json!({"httpStatusCode": 500, "errorCode": 81})),
        ("unmap_not_mapped", json!({"httpStatusCode": 500, "errorCode": 4039})),
        ("remove_mapped", json!({"message": "Volume is mapped", "httpStatusCode": 500, "errorCode": 104})),
        ("descendants_only_without_any", json!({"httpStatusCode": 500, "errorCode": 183})),
        (
            "overwrite_across_vtrees",
            json!({"message": "To overwrite the content of a volume, the source and target volumes must be from the same V-Tree.", "httpStatusCode": 500, "errorCode": 198}),
        ),
        (
            "snapshot_127",
            json!({"errorCode": 0, "httpStatusCode": 500, "message": "Error with details",
                   "details": [{"rc": 182, "error": "TOO_MANY_SNAPS_IN_VTREE", "errorMessage": "There are too many snapshots in the VTree"}]}),
        ),
    ]
}

/// Whether `want` is contained in `got` (objects by key, arrays by position).
pub fn contains(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => w.iter().all(|(k, wv)| g.get(k).is_some_and(|gv| contains(gv, wv))),
        (Value::Array(g), Value::Array(w)) => w.len() <= g.len() && w.iter().zip(g).all(|(wv, gv)| contains(gv, wv)),
        _ => got == want,
    }
}

/// Provokes every error; returns `(case, HTTP status, body)` in [`expected`] order.
pub async fn collect(hx: &Harness, inst: u32) -> Result<Vec<(String, u16, Value)>, String> {
    let gw = &hx.gw;
    let mut out = Vec::new();
    let mut push =
        |case: &str, r: Result<crate::gateway_calls::Raw, crate::gateway_calls::GwError>| -> Result<(), String> {
            let r = r.map_err(|e| format!("{case}: {e}"))?;
            out.push((case.to_string(), r.status, r.body));
            Ok(())
        };
    let create = |name: String, gib: u64| json!({"name": name, "volumeSizeInGb": gib.to_string(), "volumeType": "ThinProvisioned", "storagePoolId": hx.pool_id()});
    let a_name = hx.raw_name(inst, "eA");
    let a = raw_volume(hx, &a_name, 16, false).await?;
    let b = raw_volume(hx, &hx.raw_name(inst, "eB"), 8, false).await?;
    let gone = raw_volume(hx, &hx.raw_name(inst, "eGone"), 8, false).await?;
    gw.remove_volume(&gone, "ONLY_ME").await.map_err(|e| format!("remove: {e}"))?;
    let post = |path: String, body: Value| async move { gw.call_raw(Method::POST, &path, Some(body)).await };
    let vol_action = |id: &str, action: &str| format!("/api/instances/Volume::{id}/action/{action}");

    push("unknown_volume", gw.call_raw(Method::GET, &format!("/api/instances/Volume::{gone}"), None).await)?;
    let mut long = hx.raw_name(inst, "-");
    while long.len() < 32 {
        long.push('L');
    }
    push("name_too_long", post("/api/types/Volume/instances".into(), create(long, 8)).await)?;
    push("name_with_space", post("/api/types/Volume/instances".into(), create(hx.raw_name(inst, " x"), 8)).await)?;
    push("name_in_use", post("/api/types/Volume/instances".into(), create(a_name, 8)).await)?;
    push("shrink", post(vol_action(&a, "setVolumeSize"), json!({"sizeInGB": "8"})).await)?;
    let host = &hx.hosts[0];
    hx.client().add_mapped_host(&a, host).await.map_err(|e| format!("map: {e}"))?;
    push(
        "map_twice",
        post(vol_action(&a, "addMappedHost"), json!({"hostId": host, "allowMultipleMappings": "true"})).await,
    )?;
    push("unmap_not_mapped", post(vol_action(&b, "removeMappedHost"), json!({"hostId": host})).await)?;
    push("remove_mapped", post(vol_action(&a, "removeVolume"), json!({"removeMode": "ONLY_ME"})).await)?;
    hx.client().remove_mapped_host(&a, host).await.map_err(|e| format!("unmap: {e}"))?;
    push(
        "descendants_only_without_any",
        post(vol_action(&b, "removeVolume"), json!({"removeMode": "DESCENDANTS_ONLY"})).await,
    )?;
    push("overwrite_across_vtrees", post(vol_action(&a, "overwriteVolumeContent"), json!({"srcVolumeId": b})).await)?;
    // Fill b's VTree: the base and 126 snapshots; the next one is refused.
    for i in 1..MAX_VTREE_VOLUMES {
        hx.client()
            .snapshot_volume(hx.system_id(), &b, &hx.raw_name(inst, &format!("s{i}")))
            .await
            .map_err(|e| format!("snapshot {i} of {}: {e}", MAX_VTREE_VOLUMES - 1))?;
    }
    push(
        "snapshot_127",
        post(
            format!("/api/instances/System::{}/action/snapshotVolumes", hx.system_id()),
            json!({"snapshotDefs": [{"volumeId": b, "snapshotName": hx.raw_name(inst, "s127")}], "accessModeLimit": "ReadWrite"}),
        )
        .await,
    )?;
    Ok(out)
}

/// The scenario: every body contains what the reference documents, with HTTP 500.
pub async fn error_shapes(hx: &Harness, inst: u32) -> Result<(), String> {
    let got = collect(hx, inst).await?;
    let mut problems = Vec::new();
    for ((case, status, body), (ecase, want)) in got.iter().zip(expected()) {
        debug_assert_eq!(case, ecase);
        if *status != 500 || !contains(body, &want) {
            problems.push(format!("{case}: HTTP {status} {body}\n    expected HTTP 500 with {want}"));
        }
    }
    ensure(problems.is_empty(), || problems.join("\n  "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containment() {
        assert!(contains(&json!({"a": 1, "b": [{"c": 2, "d": 3}]}), &json!({"b": [{"c": 2}]})));
        assert!(!contains(&json!({"a": 1}), &json!({"a": 2})));
        assert!(!contains(&json!({"a": 1}), &json!({"b": 1})));
    }
}
