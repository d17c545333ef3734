//! Stopping an Alletra run with SIGTERM: it stops between steps, removes
//! what it created (volumes, the host entity, its volume set) and reports
//! what ran, through the frame it shares with PowerFlex runs.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use powerflex_conformance::alletra::wsapi::Raw;
use powerflex_conformance::transcript::upstream_client;

/// What is left on the array: every volume, host and volume set (the
/// emulator starts empty, so all of them are the harness's).
fn leftovers(sim: &common::Sim) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = upstream_client(false, Some(&std::fs::read(&sim.ca).unwrap())).unwrap();
        let raw = Raw::with_client(http, sim.url.trim_end_matches("/api/v1"), "3paradm", "3pardata");
        let mut left = Vec::new();
        for collection in ["volumes", "hosts", "volumesets"] {
            left.extend(raw.member_names(collection).await.unwrap().into_iter().map(|n| format!("{collection}/{n}")));
        }
        left
    })
}

#[test]
fn sigterm_mid_alletra_run_cleans_up_and_reports_what_ran() {
    let sim = common::start_alletra(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pflex-conformance"))
        .args(["run", "--array", "alletra", "--gateway", &sim.url, "--user", "3paradm", "--password", "3pardata"])
        .args(["--cpg", "SSD_r6", "--ca-cert"])
        .arg(&sim.ca)
        .args(["--data", "sim", "--no-scenarios", "--seed", "5", "--cases", "1000"])
        .arg("--report")
        .arg(dir.path().join("report.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let started = Instant::now();
    loop {
        let line = rx.recv_timeout(Duration::from_secs(300)).expect("progress lines until case 2");
        if line.contains("property case 2/1000") {
            break;
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let until = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < until, "pflex-conformance did not exit within 60 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert_eq!(status.code(), Some(143), "128 + SIGTERM\n{out}");
    assert!(started.elapsed() < Duration::from_secs(400));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).expect("JSON report")).unwrap();
    assert_eq!((json["array"].as_str(), json["interrupted"].as_str()), (Some("alletra"), Some("SIGTERM")));
    assert!(json["cleanup_errors"].as_array().unwrap().is_empty(), "{json}");
    let fixed = json["scenarios"].as_array().unwrap();
    assert!(fixed.iter().all(|s| s["passed"] == true) && !fixed.is_empty(), "the fixed sequences ran first: {json}");
    assert_eq!(leftovers(&sim), Vec::<String>::new(), "the harness removed what it created");
}
