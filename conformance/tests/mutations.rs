//! Teeth: the harness passes against the intact simulator and fails against
//! each deliberately broken one (`pflex-sim serve --break ...`).
//!
//! Content is checked through the `sim` connector, so `restore-noop` is
//! visible. Cases are bounded (`PFLEX_CONFORMANCE_CASES`, default 12) so the
//! whole test takes a few minutes on two cores.

mod common;

use std::process::Command;
use std::time::Instant;

struct Outcome {
    passed: bool,
    failed_parts: Vec<String>,
    summary: String,
    secs: f64,
}

fn run_harness(breaks: &[&str], regressions: Option<&str>) -> Outcome {
    let sim = common::start(breaks);
    let cases = std::env::var("PFLEX_CONFORMANCE_CASES").unwrap_or_else(|_| "12".into());
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let started = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pflex-conformance"));
    cmd.args(["run", "--gateway", &sim.url, "--password", "Password123!", "--pool", "sp1", "--domain", "pd1"])
        .arg("--ca-cert")
        .arg(&sim.ca)
        .args(["--data", "sim", "--cases", &cases, "--seed", "20261122", "--max-shrink-iters", "16"])
        .arg("--report")
        .arg(&report);
    if let Some(r) = regressions {
        cmd.args(["--regressions", r]);
    }
    let out = cmd.output().expect("run pflex-conformance");
    let summary = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0) | Some(1)), "the harness could not run ({:?}):\n{summary}", out.status);
    let (_, failed_parts) = common::report_failures(&report);
    Outcome { passed: out.status.code() == Some(0), failed_parts, summary, secs: started.elapsed().as_secs_f64() }
}

#[test]
fn harness_passes_against_the_intact_simulator() {
    let regressions = concat!(env!("CARGO_MANIFEST_DIR"), "/proptest-regressions/machine.txt");
    let intact = run_harness(&[], Some(regressions));
    assert!(intact.passed, "the harness fails against the intact simulator:\n{}", intact.summary);
    eprintln!("intact: passed in {:.1} s", intact.secs);
}

/// Runs the harness against `pflex-sim --break b`; it must fail. Each switch is its own test,
/// so the test runner runs them side by side.
fn assert_caught(b: &str) {
    let o = run_harness(&[b], None);
    eprintln!(
        "--break {b:<20} {} in {:.1} s by {:?}",
        if o.passed { "NOT caught" } else { "caught" },
        o.secs,
        o.failed_parts
    );
    assert!(!o.passed, "--break {b} not caught:\n{}", o.summary);
    if b != "restore-noop" && !o.failed_parts.iter().any(|p| p == "property") {
        eprintln!("  (the property alone did not catch {b})");
    }
}

#[test]
fn catches_ignore_vtree_limit() {
    assert_caught("ignore-vtree-limit");
}

#[test]
fn catches_skip_size_rounding() {
    assert_caught("skip-size-rounding");
}

#[test]
fn catches_restore_noop() {
    assert_caught("restore-noop");
}

#[test]
fn catches_keep_on_remove() {
    assert_caught("keep-on-remove");
}

#[test]
fn catches_map_wrong_host() {
    assert_caught("map-wrong-host");
}

#[test]
fn catches_allow_shrink() {
    assert_caught("allow-shrink");
}
