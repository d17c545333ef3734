//! The harness under faults (`run --faults RATE`): against the intact
//! emulators, with a share of each step's requests failed through the
//! emulator's own fault surface or through the harness's proxy, the run
//! passes: every step either gave the model's outcome or, where a fault made
//! its outcome unknown, left the gateway exactly as before it or exactly as
//! after it; every case ends with the audit (no leaked volume or host entity).
//! Each run must also show that faults really hit steps, so a harness that
//! injected nothing could not pass.

mod common;

use std::process::Command;

struct Run {
    passed: bool,
    tally: serde_json::Value,
    summary: String,
}

fn run(array: &str, via: &str, cases: &str, seed: &str) -> Run {
    let sim = if array == "alletra" { common::start_alletra(&[]) } else { common::start(&[]) };
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pflex-conformance"));
    cmd.args(["run", "--array", array, "--gateway", &sim.url]);
    if array == "alletra" {
        cmd.args(["--user", "3paradm", "--password", "3pardata", "--cpg", "SSD_r6"]);
    } else {
        cmd.args(["--password", "Password123!", "--pool", "sp1", "--domain", "pd1"]);
    }
    cmd.arg("--ca-cert")
        .arg(&sim.ca)
        .args(["--data", "sim", "--no-scenarios", "--cases", cases, "--seed", seed, "--max-shrink-iters", "8"])
        .args(["--faults", "0.1", "--faults-via", via])
        .arg("--report")
        .arg(&report);
    let out = cmd.output().expect("run pflex-conformance");
    let summary = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0) | Some(1)), "the harness could not run ({:?}):\n{summary}", out.status);
    let (json, _) = common::report_failures(&report);
    Run { passed: out.status.code() == Some(0), tally: json["faults"].clone(), summary }
}

fn assert_passes_under_faults(array: &str, via: &str, cases: &str, seed: &str) {
    let r = run(array, via, cases, seed);
    let line = r.summary.lines().find(|l| l.starts_with("faults:")).unwrap_or("(no faults line)");
    eprintln!("{array} via {via}: {line}");
    assert!(r.passed, "{array} under faults via {via} failed:\n{}", r.summary);
    assert_eq!(r.tally["via"], via, "injected through {via}: {}", r.tally);
    let decisive: u64 =
        ["error", "ingress", "drop", "revoke"].iter().filter_map(|k| r.tally["injected"][k].as_u64()).sum();
    assert!(decisive > 0, "no failing fault was injected: {}", r.tally);
    assert!(r.tally["steps_hit"].as_u64() > Some(0), "no step was hit: {}", r.tally);
}

#[test]
fn powerflex_passes_with_faults_through_its_fault_surface() {
    assert_passes_under_faults("powerflex", "surface", "16", "20261201");
}

#[test]
fn powerflex_passes_with_faults_through_the_harness_proxy() {
    assert_passes_under_faults("powerflex", "proxy", "12", "20261202");
}

#[test]
fn alletra_passes_with_faults_through_its_fault_surface() {
    assert_passes_under_faults("alletra", "surface", "8", "20261203");
}
