//! Acknowledged means durable, also under group commit: 32 clients create and remove volumes
//! against the real binary (file plane, fsync on) while it is killed with SIGKILL at a random
//! moment, again and again. After every restart each acknowledged creation whose removal was
//! not acknowledged is there, and each acknowledged removal is gone.
//!
//! `PFLEX_CRASH_CYCLES` sets the number of kill -9 cycles (3 by default, so the suite stays
//! quick; the figure is 100).

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{ids, spawn_binary, Api, Process};
use serde_json::json;

const CLIENTS: usize = 32;

fn cycles() -> usize {
    std::env::var("PFLEX_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(3)
}

/// What happened to a volume, as its client saw it.
enum Seen {
    /// Its creation was acknowledged.
    Created,
    /// Its removal was asked for: from here on, until acknowledged, it may or may not exist.
    Removing,
    /// Its removal was acknowledged.
    Removed,
}

type Acks = Arc<Mutex<Vec<(String, Seen)>>>;

async fn client(api: Api, pool: String, tag: String, acks: Acks) {
    for n in 0.. {
        let body = json!({ "storagePoolId": pool, "name": format!("{tag}-{n}"), "volumeSizeInGb": "8" });
        let Ok(response) = api.request(reqwest::Method::POST, "/api/types/Volume/instances").json(&body).send().await
        else {
            return;
        };
        if response.status() != 200 {
            return;
        }
        let Ok(created) = response.json::<serde_json::Value>().await else { return };
        let id = created["id"].as_str().expect("id").to_string();
        acks.lock().unwrap().push((id.clone(), Seen::Created));
        acks.lock().unwrap().push((id.clone(), Seen::Removing));
        let path = format!("/api/instances/Volume::{id}/action/removeVolume");
        let removed = api.request(reqwest::Method::POST, &path).json(&json!({ "removeMode": "ONLY_ME" })).send().await;
        match removed {
            Ok(r) if r.status() == 200 => acks.lock().unwrap().push((id, Seen::Removed)),
            _ => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_group_commits_loses_no_acknowledged_change() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (mut must_exist, mut must_be_gone) = (HashSet::new(), HashSet::new());
    let mut acknowledged = 0;
    for cycle in 0..=cycles() {
        let Process { mut child, url } = spawn_binary(&state, &["--seed", "7", "--data-plane", "file"]);
        let ca = std::fs::read_to_string(state.join("tls/ca.pem")).unwrap();
        let api = Api::login(&url, &ca, "admin", "Password123!").await;
        let listed: HashSet<String> = ids(&api.get_ok("/api/types/Volume/instances").await).into_iter().collect();
        let lost: Vec<_> = must_exist.difference(&listed).collect();
        assert!(lost.is_empty(), "cycle {cycle}: acknowledged creations lost: {lost:?}");
        let back: Vec<_> = must_be_gone.intersection(&listed).collect();
        assert!(back.is_empty(), "cycle {cycle}: acknowledged removals undone: {back:?}");
        if cycle == cycles() {
            child.kill().unwrap();
            child.wait().unwrap();
            break;
        }
        let pool = api.pool_id("sp1").await;
        let acks: Acks = Arc::default();
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|c| tokio::spawn(client(api.clone(), pool.clone(), format!("c{cycle}-{c}"), acks.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(150 + rand::random::<u64>() % 350)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        for task in tasks {
            task.await.unwrap();
        }
        for (id, seen) in acks.lock().unwrap().drain(..) {
            match seen {
                Seen::Created => {
                    acknowledged += 1;
                    must_exist.insert(id);
                }
                Seen::Removing => {
                    must_exist.remove(&id);
                }
                Seen::Removed => {
                    acknowledged += 1;
                    must_be_gone.insert(id);
                }
            }
        }
    }
    assert!(acknowledged >= cycles() * CLIENTS, "the clients made progress: {acknowledged} acknowledged changes");
    eprintln!("{} kill -9 cycles, {acknowledged} acknowledged changes, none lost", cycles());
}
