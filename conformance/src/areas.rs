//! Behaviour areas: how a report groups what was checked for a person
//! reading it (the HTML report's matrix).
//!
//! Each fixed scenario exercises some areas; each property step exercises
//! one. A failure marks the areas of the scenario, or of the failing step
//! (the last of the minimal sequence), as failed.

use serde::Serialize;

use crate::model::Op;
use crate::report::Report;

/// One behaviour area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    /// Login flows, tokens, re-login.
    Authentication,
    /// Creating, sizing (8 GiB units), shrinking refused, removing, content.
    VolumesAndSizes,
    /// Name rules and uniqueness.
    Names,
    /// The 127-volume VTree limit.
    VtreeLimit,
    /// Snapshots.
    Snapshots,
    /// Restoring from a snapshot.
    Restore,
    /// Copies, snapshot-based (`clone_copy=false`) or host-side.
    CopyAndCloneCopy,
    /// Alletra physical copies (with snapshots, in LXD's order).
    PhysicalCopies,
    /// Alletra: the pool's volume set.
    PoolVolumeSet,
    /// Mapping to hosts.
    Mappings,
    /// Error codes and bodies.
    Errors,
    /// CloudStack's flows.
    CloudStackFlows,
    /// LXD's flows.
    LxdFlows,
}

impl Area {
    /// A PowerFlex run's areas, in the order a report lists them.
    pub const POWERFLEX: [Area; 11] = [
        Area::Authentication,
        Area::VolumesAndSizes,
        Area::Names,
        Area::VtreeLimit,
        Area::Snapshots,
        Area::Restore,
        Area::CopyAndCloneCopy,
        Area::Mappings,
        Area::Errors,
        Area::CloudStackFlows,
        Area::LxdFlows,
    ];

    /// An Alletra run's areas, in the order a report lists them.
    pub const ALLETRA: [Area; 9] = [
        Area::PoolVolumeSet,
        Area::VolumesAndSizes,
        Area::Names,
        Area::Snapshots,
        Area::Restore,
        Area::PhysicalCopies,
        Area::Mappings,
        Area::Errors,
        Area::LxdFlows,
    ];

    /// Its name in a report.
    pub fn title(self) -> &'static str {
        match self {
            Area::Authentication => "Authentication",
            Area::VolumesAndSizes => "Volumes and sizes",
            Area::Names => "Names",
            Area::VtreeLimit => "VTree limit",
            Area::Snapshots => "Snapshots",
            Area::Restore => "Restore",
            Area::CopyAndCloneCopy => "Copy and clone_copy",
            Area::PhysicalCopies => "Physical copies",
            Area::PoolVolumeSet => "Pool volume set",
            Area::Mappings => "Mappings",
            Area::Errors => "Errors",
            Area::CloudStackFlows => "CloudStack flows",
            Area::LxdFlows => "LXD flows",
        }
    }
}

/// The area a property step exercises.
pub fn of_op(op: &Op) -> Area {
    match op {
        Op::Create { .. } | Op::Resize { .. } | Op::ResizeRaw { .. } | Op::Delete { .. } | Op::Remove { .. } => {
            Area::VolumesAndSizes
        }
        Op::Write { .. } => Area::VolumesAndSizes,
        Op::CreateRaw { .. } | Op::Rename { .. } => Area::Names,
        Op::Fill { .. } => Area::VtreeLimit,
        Op::Snapshot { .. } => Area::Snapshots,
        Op::Restore { .. } => Area::Restore,
        Op::Copy { .. } => Area::CopyAndCloneCopy,
        Op::Map { .. } | Op::Unmap { .. } => Area::Mappings,
        Op::QueryGone { .. } => Area::Errors,
    }
}

/// Whether the property's steps cover `area` (all but the fixed flows' areas;
/// `of_op` gives each step's).
pub fn covered_by_property(area: Area) -> bool {
    !matches!(area, Area::Authentication | Area::CloudStackFlows | Area::LxdFlows | Area::PoolVolumeSet)
}

/// The areas a fixed scenario (or fixed sequence) exercises, by its name.
pub fn of_scenario(name: &str) -> Vec<Area> {
    let mut out = Vec::new();
    let has = |w: &str| name.contains(w);
    if has("lxd") {
        out.push(Area::LxdFlows);
    }
    if has("cloudstack") {
        out.push(Area::CloudStackFlows);
    }
    if has("token") {
        out.push(Area::Authentication);
    }
    if has("error") {
        out.push(Area::Errors);
    }
    if has("basics") {
        out.extend([Area::VolumesAndSizes, Area::Mappings, Area::Restore]);
    }
    if has("snapshot") {
        out.push(Area::Snapshots);
    }
    if has("alletra") {
        if has("copy") {
            out.push(Area::PhysicalCopies);
        }
        if has("pool") {
            out.push(Area::PoolVolumeSet);
        }
        if has("sizes") || has("grow") || has("delete") {
            out.push(Area::VolumesAndSizes);
        }
        if has("create") {
            out.extend([Area::Names, Area::Errors]);
        }
        if has("restore") {
            out.push(Area::Restore);
        }
        if has("export") {
            out.push(Area::Mappings);
        }
    } else if has("copy") || has("image") {
        out.push(Area::CopyAndCloneCopy);
    }
    if has("vm") || has("capacity") {
        out.push(Area::VolumesAndSizes);
    }
    out
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// It failed.
    Fail,
    /// Nothing ran (skipped, or the run was interrupted first).
    NotRun,
    /// It passed.
    Pass,
}

impl Status {
    /// Its word in a report.
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::NotRun => "not run",
        }
    }
}

/// One row of the matrix: an area, its outcome and what checked it.
#[derive(Debug, Clone)]
pub struct Row {
    /// The area.
    pub area: Area,
    /// Failed if any check failed; passed if one passed and none failed.
    pub status: Status,
    /// The checks and their outcomes.
    pub checks: Vec<(String, Status)>,
}

/// The matrix of a run: every area, what checked it and how it went.
pub fn matrix(report: &Report) -> Vec<Row> {
    report
        .array
        .areas()
        .iter()
        .map(|&area| {
            let mut checks: Vec<(String, Status)> = report
                .scenarios
                .iter()
                .filter(|s| of_scenario(&s.name).contains(&area))
                .map(|s| (s.name.clone(), if s.passed { Status::Pass } else { Status::Fail }))
                .collect();
            if covered_by_property(area) {
                let status = match &report.property {
                    None => Status::NotRun,
                    Some(p) => match &p.failure {
                        Some(f) if f.area == Some(area) => Status::Fail,
                        _ if p.passed_runs == 0 => Status::NotRun,
                        _ => Status::Pass,
                    },
                };
                checks.push(("property state machine".into(), status));
            }
            let status = if checks.iter().any(|c| c.1 == Status::Fail) {
                Status::Fail
            } else if checks.iter().any(|c| c.1 == Status::Pass) {
                Status::Pass
            } else {
                Status::NotRun
            };
            Row { area, status, checks }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixed_scenario_and_sequence_belongs_to_an_area() {
        let names = crate::scenarios::all()
            .into_iter()
            .map(|(n, _)| n)
            .chain(crate::machine::fixed_sequences().into_iter().map(|(n, _)| n));
        for name in names {
            assert!(!of_scenario(name).is_empty(), "{name} is in no area");
        }
        // Each area is checked by something.
        for area in Area::POWERFLEX {
            let by_scenario = crate::scenarios::all().iter().any(|(n, _)| of_scenario(n).contains(&area));
            assert!(by_scenario || covered_by_property(area), "{area:?} is checked by nothing");
        }
    }

    #[test]
    fn every_alletra_flow_belongs_to_an_area_and_every_area_is_checked() {
        let names: Vec<&str> = crate::alletra::scenarios::ALL
            .into_iter()
            .chain(crate::alletra::machine::fixed_sequences(true).into_iter().map(|(n, _)| n))
            .collect();
        for name in &names {
            assert!(!of_scenario(name).is_empty(), "{name} is in no area");
        }
        for area in Area::ALLETRA {
            let by_flow = names.iter().any(|n| of_scenario(n).contains(&area));
            assert!(by_flow || covered_by_property(area), "{area:?} is checked by nothing");
        }
    }
}
