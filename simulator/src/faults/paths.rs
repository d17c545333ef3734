//! Path outages on demand: one SDT's (pflex-sim) or NVMe port's (alletra-sim) listeners taken
//! away and brought back at run time, so a host connected through several of them loses one
//! path and its multipathing fails over, as when an SDT process or a port goes down on a real
//! array.
//!
//! ```text
//! GET  /sim/faults/paths                      -> 200 {"dataPlane", "paths": [PATH, ...]}
//! POST /sim/faults/paths/{path} {"state": "down"|"up"}   -> 200 PATH
//! PATH = {"name", "id"?, "state": "up"|"down"|"partly down",
//!         "listeners": [{"address", "port", "state": "up"|"down"}, ...]}
//! ```
//!
//! `{path}` is a path's name or id. The data plane carries the outage out (`DataPlane::
//! take_down`, `bring_up`): only a plane hosts connect to has paths to lose. Like the rules,
//! an outage is configuration, not state: never journaled, kept by `/sim/reset` for the paths
//! that remain, gone at a restart (every path serves again).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::surface::answer;
use crate::dataplane::{DataPlane, Listener, PlaneError};
use crate::front::Front;

/// A way hosts reach the array: the listeners that go down together.
#[derive(Debug, Clone)]
pub struct HostPath {
    /// What the array calls it (an SDT's name, a port's position).
    pub name: String,
    /// Its id, where the array has one apart from the name.
    pub id: Option<String>,
    pub listeners: Vec<Listener>,
}

/// What path outages need of an array.
pub trait Paths: Front {
    fn plane(&self) -> &Arc<dyn DataPlane>;

    /// Every path the array serves hosts on by its configuration, in its own order.
    fn paths(&self) -> Vec<HostPath>;

    /// The refusal of a `{path}` segment that names no path, in the array's words.
    fn no_such_path(&self, segment: &str) -> String;
}

/// A path's listing, given the listeners that are down.
fn listing(path: &HostPath, down: &BTreeSet<Listener>) -> Value {
    let listeners: Vec<Value> = path
        .listeners
        .iter()
        .map(|l| {
            let state = if down.contains(l) { "down" } else { "up" };
            json!({ "address": l.traddr, "port": l.trsvcid, "state": state })
        })
        .collect();
    let downed = path.listeners.iter().filter(|l| down.contains(l)).count();
    let state = match downed {
        0 => "up",
        n if n == path.listeners.len() => "down",
        _ => "partly down",
    };
    let mut value = json!({ "name": path.name, "state": state, "listeners": listeners });
    if let Some(id) = &path.id {
        value["id"] = json!(id);
    }
    value
}

pub async fn list<T: Paths>(State(array): State<Arc<T>>) -> Response {
    let plane = array.plane().clone();
    let down = plane.down();
    let paths: Vec<Value> = array.paths().iter().map(|p| listing(p, &down)).collect();
    answer(StatusCode::OK, json!({ "dataPlane": plane.kind().to_string(), "paths": paths }))
}

/// Takes a path down or brings it up; answers its listing.
pub async fn set<T: Paths>(State(array): State<Arc<T>>, Path(segment): Path<String>, bytes: Bytes) -> Response {
    let refuse = |status: StatusCode, message: &str| array.error_answer(status, None, Some(message));
    let down = match serde_json::from_slice::<Value>(&bytes) {
        Ok(body) => match body.get("state").and_then(Value::as_str) {
            Some("down") => true,
            Some("up") => false,
            _ => {
                return refuse(StatusCode::BAD_REQUEST, "the body must be {\"state\": \"down\"} or {\"state\": \"up\"}")
            }
        },
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &format!("the body is not JSON: {e}")),
    };
    let Some(path) = array.paths().into_iter().find(|p| p.name == segment || p.id.as_deref() == Some(&segment)) else {
        return refuse(StatusCode::NOT_FOUND, &array.no_such_path(&segment));
    };
    if path.listeners.is_empty() {
        let message = format!("{} serves no hosts now (no host-facing listener to take down)", path.name);
        return refuse(StatusCode::CONFLICT, &message);
    }
    let plane = array.plane().clone();
    let listeners = path.listeners.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let change = |l: &Listener, down: bool| if down { plane.take_down(l) } else { plane.bring_up(l) };
        switch(change, &plane.down(), &listeners, down)
    })
    .await;
    match outcome {
        Ok(Ok(())) => {
            tracing::warn!("fault: path {} {}", path.name, if down { "down" } else { "up" });
            answer(StatusCode::OK, listing(&path, &array.plane().down()))
        }
        Ok(Err(e)) if e.is_unsupported() => refuse(StatusCode::CONFLICT, &e.to_string()),
        Ok(Err(e)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &format!("the data plane task failed: {e}")),
    }
}

/// Every listener down, or every one up, by `change(listener, down)`; a failure half-way puts
/// back the ones already switched (those not already as asked in `before`), so the path is
/// left as it was.
fn switch(
    change: impl Fn(&Listener, bool) -> Result<(), PlaneError>,
    before: &BTreeSet<Listener>,
    listeners: &[Listener],
    down: bool,
) -> Result<(), PlaneError> {
    for (done, listener) in listeners.iter().enumerate() {
        if let Err(e) = change(listener, down) {
            for back in listeners[..done].iter().filter(|l| before.contains(*l) != down) {
                if let Err(undo) = change(back, !down) {
                    tracing::error!("undoing a failed path change: {undo}");
                }
            }
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn listener(trsvcid: u16) -> Listener {
        Listener { traddr: "127.0.0.2".into(), trsvcid }
    }

    /// Switches listeners in `down`, failing for `broken`.
    fn switcher<'a>(
        down: &'a Mutex<BTreeSet<Listener>>,
        broken: &'a Listener,
    ) -> impl Fn(&Listener, bool) -> Result<(), PlaneError> + 'a {
        move |l, to_down| {
            if l == broken {
                return Err(PlaneError::new("nvmet", "switching", std::io::Error::other("busy")));
            }
            let mut down = down.lock().unwrap();
            if to_down {
                down.insert(l.clone());
            } else {
                down.remove(l);
            }
            Ok(())
        }
    }

    #[test]
    fn a_failed_switch_puts_back_what_it_switched_and_nothing_else() {
        let (down, broken) = (Mutex::new(BTreeSet::from([listener(2)])), listener(3));
        let now = || down.lock().unwrap().clone();
        let change = switcher(&down, &broken);
        let err = switch(&change, &now(), &[listener(1), listener(2), listener(3)], true).unwrap_err();
        assert!(!err.is_unsupported(), "a failure, not a refusal: {err}");
        assert_eq!(now(), BTreeSet::from([listener(2)]), "1 back up, 2 left down as it was");

        switch(&change, &now(), &[listener(1), listener(2)], true).unwrap();
        let path = HostPath { name: "sdt1".into(), id: None, listeners: vec![listener(1), listener(2), listener(4)] };
        let value = listing(&path, &now());
        assert_eq!(value["state"], "partly down");
        assert_eq!(value["listeners"][2], json!({"address": "127.0.0.2", "port": 4, "state": "up"}));
        assert!(value.get("id").is_none());
        switch(&change, &now(), &path.listeners[..2], false).unwrap();
        assert_eq!(listing(&path, &now())["state"], "up");
        let all = HostPath { listeners: vec![listener(1)], ..path };
        switch(&change, &now(), &all.listeners, true).unwrap();
        assert_eq!(listing(&all, &now())["state"], "down");
    }
}
