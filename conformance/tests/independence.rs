//! The reference model must be independent of the emulator: this package may
//! not depend on `powerflex-sim`, directly or through another package (dev
//! dependencies of dependencies do not count, as Cargo does not build them).

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

#[test]
fn conformance_does_not_depend_on_the_simulator() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let name_of: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: HashMap<&str, &serde_json::Value> =
        meta["resolve"]["nodes"].as_array().unwrap().iter().map(|n| (n["id"].as_str().unwrap(), n)).collect();
    let root = name_of.iter().find(|(_, n)| **n == "powerflex-conformance").map(|(id, _)| *id).unwrap();
    let mut seen = BTreeSet::new();
    let mut stack = vec![(root, true)];
    while let Some((id, is_root)) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"] != "dev");
            if is_root || normal {
                stack.push((dep["pkg"].as_str().unwrap(), false));
            }
        }
    }
    let names: BTreeSet<&str> = seen.iter().map(|id| name_of[id]).collect();
    assert!(names.contains("powerflex-driver"), "the harness should go through the driver");
    assert!(!names.contains("powerflex-sim"), "powerflex-conformance depends on powerflex-sim: {names:?}");
}
