//! Starting the real `pflex-sim` binary for the harness's own tests.
//!
//! The binary is found through `PFLEX_SIM_BIN`, else `target/debug/pflex-sim`
//! in the workspace; tests never build it themselves.

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

/// The simulator binary, or a panic that says how to get one.
pub fn sim_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PFLEX_SIM_BIN") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/pflex-sim");
    assert!(
        p.exists(),
        "pflex-sim not found at {}: build it first with `cargo build -p powerflex-sim` \
         (or set PFLEX_SIM_BIN to the binary)",
        p.display()
    );
    p
}

/// Starts the simulator (file data plane, seed 1) with `--break` switches.
pub fn start(breaks: &[&str]) -> Sim {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(sim_bin());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--seed", "1", "--no-fsync", "--data-plane", "file"])
        .arg("--state-dir")
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for b in breaks {
        cmd.args(["--break", b]);
    }
    let mut child = cmd.spawn().expect("start pflex-sim");
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut url, mut ca) = (None, None);
    for line in out.by_ref() {
        let line = line.expect("read pflex-sim output");
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
    Sim { child, url: url.expect("pflex-sim printed no url"), ca: ca.expect("pflex-sim printed no CA"), _dir: dir }
}
