//! Teeth for Alletra: the harness passes against the intact `alletra-sim`
//! and fails against each deliberately broken one (`alletra-sim serve
//! --break ...`), each caught by a named check.
//!
//! Content is checked through the `sim` connector, so `promote-noop` is
//! visible. Cases are bounded (`PFLEX_CONFORMANCE_CASES`, default 6, for the
//! intact run; each broken one runs 3 and shrinks little, as its flow catches
//! it anyway), so the test takes a few minutes on two cores.

mod common;

use std::process::Command;
use std::time::Instant;

struct Outcome {
    passed: bool,
    failed_parts: Vec<String>,
    summary: String,
    secs: f64,
}

fn run_harness(breaks: &[&str]) -> Outcome {
    let sim = common::start_alletra(breaks);
    let (cases, shrink) = if breaks.is_empty() {
        (std::env::var("PFLEX_CONFORMANCE_CASES").unwrap_or_else(|_| "6".into()), "8")
    } else {
        ("3".into(), "4")
    };
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_pflex-conformance"))
        .args(["run", "--array", "alletra", "--gateway", &sim.url, "--user", "3paradm", "--password", "3pardata"])
        .args(["--cpg", "SSD_r6", "--ca-cert"])
        .arg(&sim.ca)
        .args(["--data", "sim", "--cases", &cases, "--seed", "20261201", "--max-shrink-iters", shrink])
        .arg("--report")
        .arg(&report)
        .output()
        .expect("run pflex-conformance");
    let summary = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0) | Some(1)), "the harness could not run ({:?}):\n{summary}", out.status);
    let (json, failed_parts) = common::report_failures(&report);
    assert_eq!(json["array"], "alletra", "the report names the array");
    Outcome { passed: out.status.code() == Some(0), failed_parts, summary, secs: started.elapsed().as_secs_f64() }
}

#[test]
fn harness_passes_against_the_intact_alletra_sim() {
    let intact = run_harness(&[]);
    assert!(intact.passed, "the harness fails against the intact alletra-sim:\n{}", intact.summary);
    eprintln!("intact: passed in {:.1} s", intact.secs);
}

/// Runs the harness against `alletra-sim --break b`; the fixed flow `check` must catch it.
/// Each switch is its own test, so the test runner runs them side by side.
fn assert_caught_by(b: &str, check: &str) {
    let o = run_harness(&[b]);
    eprintln!(
        "--break {b:<20} {} in {:.1} s by {:?}",
        if o.passed { "NOT caught" } else { "caught" },
        o.secs,
        o.failed_parts
    );
    assert!(o.failed_parts.iter().any(|p| p == check), "--break {b} not caught by {check}:\n{}", o.summary);
}

#[test]
fn skip_granularity_is_caught_by_the_create_flow() {
    assert_caught_by("skip-granularity", "lxd_alletra_create_volume_and_sizes");
}

#[test]
fn promote_noop_is_caught_by_the_restore_flow() {
    assert_caught_by("promote-noop", "lxd_alletra_snapshot_and_restore");
}

#[test]
fn delete_with_children_is_caught_by_the_delete_flow() {
    assert_caught_by("delete-with-children", "lxd_alletra_delete_with_snapshots");
}
