//! Alletra flows outside the state machine.

use std::sync::Mutex;
use std::time::Instant;

use powerflex_driver::alletra::WsapiCode;

use super::sut::Harness;
use crate::report::ScenarioResult;
use crate::sut::MARKER_TEXT;

/// LXD's pool create and delete: a volume set named after the pool, empty
/// when made, gone after (404, code 102 NON_EXISTENT_SET), and deleting it
/// again is what the driver treats as done.
async fn pool_volume_set(hx: &Harness) -> Result<(), String> {
    let c = hx.client();
    let name = format!("{MARKER_TEXT}{}-p2", hx.tag);
    c.create_volume_set(&name).await.map_err(|e| format!("create volume set {name}: {e}"))?;
    let set = c.volume_set(&name).await.map_err(|e| format!("read volume set {name}: {e}"))?;
    if set.name != name || !set.setmembers.is_empty() {
        let _ = c.delete_volume_set(&name).await;
        return Err(format!("new volume set: name {:?}, members {:?}", set.name, set.setmembers));
    }
    c.delete_volume_set(&name).await.map_err(|e| format!("delete volume set {name}: {e}"))?;
    match c.volume_set(&name).await {
        Err(e) if e.is(WsapiCode::NonExistentSet) => {}
        Err(e) => return Err(format!("the deleted set gave {e}, not code 102")),
        Ok(_) => return Err(format!("volume set {name} is still there after its delete")),
    }
    match c.delete_volume_set(&name).await {
        Err(e) if e.is(WsapiCode::NonExistentSet) => Ok(()),
        Err(e) => Err(format!("deleting the deleted set gave {e}, not code 102")),
        Ok(()) => Err("deleting a deleted volume set succeeded".into()),
    }
}

/// Every scenario, by name.
pub const ALL: [&str; 1] = ["lxd_alletra_pool_volume_set"];

/// Runs the scenarios whose names contain one of `only` (all when empty).
pub async fn run(hx: &Harness, only: &[String], out: &Mutex<Vec<ScenarioResult>>) {
    for name in ALL {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        hx.progress.begin(format!("scenario {name}"), 1);
        hx.proxy.recorder.clear();
        let started = Instant::now();
        let r = pool_volume_set(hx).await;
        out.lock().expect("results lock").push(ScenarioResult {
            name: name.to_string(),
            passed: r.is_ok(),
            transcript: if r.is_err() { hx.proxy.recorder.snapshot() } else { Vec::new() },
            message: r.err(),
            millis: started.elapsed().as_millis() as u64,
        });
    }
}
