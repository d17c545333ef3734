//! Starting the real emulator binaries for the harness's own tests.
//!
//! `pflex-sim` is found through `PFLEX_SIM_BIN`, `alletra-sim` through
//! `ALLETRA_SIM_BIN`, else `target/debug/<name>` in the workspace; tests
//! never build them themselves.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running simulator, stopped on drop.
pub struct Sim {
    child: Child,
    /// Its URL.
    pub url: String,
    /// The CA to trust.
    pub ca: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An emulator binary (`env` names its override), or a panic that says how to get one.
fn emulator_bin(name: &str, env: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug").join(name);
    assert!(
        p.exists(),
        "{name} not found at {}: build it first with `cargo build -p powerflex-sim --bin {name}` \
         (or set {env} to the binary)",
        p.display()
    );
    p
}

/// The PowerFlex simulator binary.
pub fn sim_bin() -> PathBuf {
    emulator_bin("pflex-sim", "PFLEX_SIM_BIN")
}

/// Starts the PowerFlex simulator (file data plane, seed 1) with `--break` switches.
pub fn start(breaks: &[&str]) -> Sim {
    spawn(sim_bin(), breaks)
}

/// Starts `alletra-sim` (file data plane, seed 1) with `--break` switches.
pub fn start_alletra(breaks: &[&str]) -> Sim {
    spawn(emulator_bin("alletra-sim", "ALLETRA_SIM_BIN"), breaks)
}

/// Starts an emulator and reads its banner's `url:` and `trust:` rows.
fn spawn(bin: PathBuf, breaks: &[&str]) -> Sim {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(&bin);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--seed", "1", "--no-fsync", "--data-plane", "file"])
        .arg("--state-dir")
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for b in breaks {
        cmd.args(["--break", b]);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut url, mut ca) = (None, None);
    for line in out.by_ref() {
        let line = line.expect("read the emulator's output");
        if let Some(u) = line.trim().strip_prefix("url:") {
            url = Some(u.trim().to_string());
        }
        if let Some(c) = line.trim().strip_prefix("trust:") {
            ca = Some(PathBuf::from(c.trim()));
        }
        if url.is_some() && ca.is_some() {
            break;
        }
    }
    // Keep draining its output: a closed pipe would kill it at its next line.
    std::thread::spawn(move || out.for_each(drop));
    Sim {
        child,
        url: url.expect("the emulator printed no url"),
        ca: ca.expect("the emulator printed no CA"),
        _dir: dir,
    }
}

/// A run's JSON report, and its failed parts: the names of the failed
/// scenarios, and `property` when the property failed.
pub fn report_failures(report: &std::path::Path) -> (serde_json::Value, Vec<String>) {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).expect("report written")).expect("report is JSON");
    let mut failed: Vec<String> = json["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .filter(|s| s["passed"] == false)
        .map(|s| s["name"].as_str().expect("a name").to_string())
        .collect();
    if !json["property"]["failure"].is_null() {
        failed.push("property".into());
    }
    (json, failed)
}
