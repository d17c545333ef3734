//! The model's objects as the WSAPI's JSON (reference §1): field names as real clients read
//! them, enumerations from 1, and optional members left out rather than null.

use serde_json::{json, Map, Value};

use crate::alletra::model::topology::PortProtocol;
use crate::alletra::model::*;

/// `{"total": N, "members": [...]}`, `total` being the members returned.
pub fn collection(members: Vec<Value>) -> Value {
    json!({ "total": members.len(), "members": members })
}

fn put(object: &mut Value, key: &str, value: Option<Value>) {
    if let (Some(v), Some(map)) = (value, object.as_object_mut()) {
        map.insert(key.to_string(), v);
    }
}

pub fn version(system: &System) -> Value {
    let w = &system.wsapi;
    json!({ "major": w.major, "minor": w.minor, "revision": w.revision, "build": w.build })
}

pub fn system(model: &Model) -> Value {
    let s = model.system();
    let total = model.system_capacity_mib();
    let used: u64 = model.cpgs().map(|c| used_mib(model, c)).sum();
    let licenses: Vec<Value> =
        ["Priority Optimization", "Thin Provisioning (102400G)", "Virtual Copy", "System Reporter"]
            .into_iter()
            .map(|name| json!({ "name": name }))
            .collect();
    json!({
        "id": s.id,
        "name": s.name,
        "systemVersion": s.os_version,
        "model": s.model,
        "serialNumber": s.serial_number,
        "totalNodes": 2,
        "masterNode": 0,
        "onlineNodes": [0, 1],
        "clusterNodes": [0, 1],
        "totalCapacityMiB": total,
        "allocatedCapacityMiB": used,
        "freeCapacityMiB": total.saturating_sub(used),
        "failedCapacityMiB": 0,
        "licenseInfo": { "licenses": licenses },
        "parameters": { "sessionTimeout": 900 },
    })
}

fn used_mib(model: &Model, cpg: &Cpg) -> u64 {
    let u = model.cpg_usage(cpg.id);
    u.full_mib + u.thin_mib
}

/// `GET /capacity`: every CPG's space as one pool of the system's.
pub fn capacity(model: &Model) -> Value {
    let total = model.system_capacity_mib();
    let used: u64 = model.cpgs().map(|c| used_mib(model, c)).sum();
    let figures = json!({
        "totalMiB": total,
        "allocated": { "totalAllocatedMiB": used, "volumes": { "totalVolumesMiB": used }, "system": { "totalSystemMiB": 0 } },
        "freeMiB": total.saturating_sub(used),
        "freeInitializedMiB": total.saturating_sub(used),
        "freeUninitializedMiB": 0,
        "unavailableCapacityMiB": 0,
        "failedCapacityMiB": 0,
    });
    let none = json!({ "totalMiB": 0, "freeMiB": 0, "failedCapacityMiB": 0 });
    json!({ "allCapacity": figures, "FCCapacity": none, "NLCapacity": none, "SSDCapacity": figures })
}

pub fn cpg(model: &Model, cpg: &Cpg) -> Value {
    let u = model.cpg_usage(cpg.id);
    let used = used_mib(model, cpg);
    let capacity = model.cpg_capacity_mib(cpg);
    json!({
        "id": cpg.id,
        "uuid": cpg.uuid,
        "name": cpg.name,
        "numFPVVs": u.full_volumes,
        "numTPVVs": u.thin_volumes,
        "numTDVVs": u.dedup_volumes,
        "UsrUsage": { "totalMiB": capacity, "rawTotalMiB": capacity, "usedMiB": used, "rawUsedMiB": used },
        "SAUsage": { "totalMiB": 0, "usedMiB": 0 },
        "SDUsage": { "totalMiB": 0, "usedMiB": 0 },
        "SDGrowth": growth(&cpg.growth),
        "totalSpaceMiB": capacity,
        "freeSpaceMiB": capacity.saturating_sub(used),
        "state": 1,
    })
}

/// `SDGrowth`: the settings given at create or modify; those never given are left out.
fn growth(g: &CpgGrowth) -> Value {
    let l = &g.layout;
    let mut layout = json!({});
    put(&mut layout, "RAIDType", l.raid_type.map(Value::from));
    put(&mut layout, "setSize", l.set_size.map(Value::from));
    put(&mut layout, "HA", l.ha.map(Value::from));
    if !l.disk_types.is_empty() {
        let patterns = l.disk_types.iter().map(|t| json!({ "diskType": t })).collect();
        put(&mut layout, "diskPatterns", Some(Value::Array(patterns)));
    }
    let mut out = json!({ "LDLayout": layout });
    put(&mut out, "incrementMiB", g.increment_mib.map(Value::from));
    put(&mut out, "limitMiB", g.limit_mib.map(Value::from));
    put(&mut out, "warningMiB", g.warning_mib.map(Value::from));
    out
}

/// `POST /cpgs/<name>/availablespace`-style figures, and the space reporter's (reference §1.1).
pub fn available_space(model: &Model, cpg: &Cpg) -> Value {
    let free = model.cpg_capacity_mib(cpg).saturating_sub(used_mib(model, cpg));
    json!({ "rawFreeMiB": free, "usableFreeMiB": free })
}

pub fn space_report(model: &Model, cpg: &Cpg) -> Value {
    let used = used_mib(model, cpg);
    let free = model.cpg_capacity_mib(cpg).saturating_sub(used);
    json!({
        "overprovisionedUsedMiB": used,
        "overProvisionedFreeMiB": free,
        "overprovisionedVirtualSizeMiB": used,
        "usableFreeMiB": free,
    })
}

pub fn volume(model: &Model, v: &Volume) -> Value {
    let provisioning = match (v.is_virtual_copy(), v.provisioning) {
        (true, _) => 3,
        (false, Provisioning::Full) => 1,
        (false, Provisioning::Thin) => 2,
        (false, Provisioning::Dedup) => 6,
    };
    let copy_type = match v.origin {
        Origin::Base => 1,
        Origin::PhysicalCopy { .. } => 2,
        Origin::VirtualCopy { .. } => 3,
    };
    let mut out = json!({
        "id": v.id,
        "name": v.name,
        "uuid": v.uuid,
        "wwn": v.wwn,
        "nguid": v.nguid,
        "sizeMiB": v.size_mib,
        "totalUsedMiB": if v.provisioning == Provisioning::Full && !v.is_virtual_copy() { v.size_mib } else { 0 },
        "provisioningType": provisioning,
        "copyType": copy_type,
        "baseId": v.base_id,
        "readOnly": v.read_only(),
        "state": 1,
        "compressionState": if v.compression { 1 } else { 2 },
        "creationTimeSec": v.creation_time,
        "links": [{ "href": format!("/api/v1/volumes/{}", v.name), "rel": "self" }],
    });
    if let Some(parent) = v.parent().and_then(|p| model.volume(p)) {
        put(&mut out, "copyOf", Some(parent.name.clone().into()));
        put(&mut out, "parentId", Some(parent.id.into()));
    }
    put(&mut out, "userCPG", v.user_cpg.and_then(|c| model.cpg(c)).map(|c| c.name.clone().into()));
    put(&mut out, "snapCPG", v.snap_cpg.and_then(|c| model.cpg(c)).map(|c| c.name.clone().into()));
    put(&mut out, "comment", v.comment.clone().map(Value::from));
    put(&mut out, "expirationTimeSec", v.expiration_time.map(Value::from));
    put(&mut out, "retentionTimeSec", v.retention_time.map(Value::from));
    out
}

pub fn host(model: &Model, h: &Host) -> Value {
    let mut out = json!({
        "id": h.id,
        "name": h.name,
        "persona": h.persona,
        "iSCSIPaths": h.iscsi_names.iter().map(|n| json!({ "name": n })).collect::<Vec<_>>(),
        "FCPaths": h.fc_wwns.iter().map(|w| json!({ "wwn": w })).collect::<Vec<_>>(),
        // LXD reads `nqn`, python-3parclient's `getHostByNqn` `NQN`: both are sent.
        "NVMETCPPaths": h.nqn.iter().map(|n| json!({ "nqn": n, "NQN": n })).collect::<Vec<_>>(),
    });
    let d = &h.descriptors;
    let mut descriptors = Map::new();
    for (key, value) in [
        ("location", &d.location),
        ("IPAddr", &d.ip_addr),
        ("os", &d.os),
        ("model", &d.model),
        ("contact", &d.contact),
        ("comment", &d.comment),
    ] {
        if let Some(v) = value {
            descriptors.insert(key.into(), v.clone().into());
        }
    }
    if !descriptors.is_empty() {
        put(&mut out, "descriptors", Some(Value::Object(descriptors)));
    }
    if h.nqn.is_some() {
        put(&mut out, "Subsystem_NQN", Some(model.subsystem_nqn(h.id).into()));
    }
    out
}

pub fn set(model: &Model, kind: SetKind, s: &MemberSet) -> Value {
    let mut out = json!({ "id": s.id, "name": s.name, "uuid": s.uuid });
    let names: Vec<Value> = s
        .members
        .iter()
        .filter_map(|m| match kind {
            SetKind::Volume => model.volume(*m).map(|v| v.name.clone().into()),
            SetKind::Host => model.host(*m).map(|h| h.name.clone().into()),
        })
        .collect();
    // An empty set has no `setmembers` (python tests for the key).
    if !names.is_empty() {
        put(&mut out, "setmembers", Some(names.into()));
    }
    put(&mut out, "comment", s.comment.clone().map(Value::from));
    if kind == SetKind::Volume {
        put(&mut out, "qosEnabled", Some(model.qos_of_set(s.id).is_some_and(|q| q.enabled).into()));
    }
    out
}

pub fn target_name(model: &Model, target: ExportTarget) -> Option<String> {
    match target {
        ExportTarget::Host(h) => model.host(h).map(|h| h.name.clone()),
        ExportTarget::HostSet(s) => model.set(SetKind::Host, s).map(|s| format!("set:{}", s.name)),
        ExportTarget::Port => None,
    }
}

pub fn port_pos(pos: PortPos) -> Value {
    json!({ "node": pos.node, "slot": pos.slot, "cardPort": pos.card_port })
}

pub fn vlun(model: &Model, t: &Vlun) -> Value {
    let volume = model.volume(t.volume);
    let mut out = json!({
        "lun": t.lun,
        "volumeName": volume.map(|v| v.name.clone()),
        "type": t.wsapi_type(),
        // Templates, not the active VLUNs of logged-in paths: python's `remove_vlun_nvme`
        // deletes the inactive ones.
        "active": false,
        "serial": model.system().serial_number,
    });
    put(&mut out, "volumeWWN", volume.map(|v| v.wwn.clone().into()));
    put(&mut out, "hostname", target_name(model, t.target).map(Value::from));
    put(&mut out, "portPos", t.port.map(port_pos));
    if let ExportTarget::Host(h) = t.target {
        if model.host(h).is_some_and(|h| h.nqn.is_some()) {
            put(&mut out, "Subsystem_NQN", Some(model.subsystem_nqn(h).into()));
        }
    }
    out
}

/// The Location of a VLUN: `/api/v1/vluns/<vol>,<lun>,<host>[,<n:s:p>]`.
pub fn vlun_location(model: &Model, t: &Vlun) -> String {
    let volume = model.volume(t.volume).map_or_else(String::new, |v| v.name.clone());
    let host = target_name(model, t.target).unwrap_or_default();
    let mut location = format!("/api/v1/vluns/{volume},{},{host}", t.lun);
    if let Some(pos) = t.port {
        location.push_str(&format!(",{pos}"));
    }
    location
}

pub fn port(p: &Port) -> Value {
    let mut out = json!({
        "portPos": port_pos(p.pos),
        "mode": 2,
        "linkState": 4,
        "type": 8,
        "protocol": match p.protocol { PortProtocol::Iscsi => 2, PortProtocol::Nvme => 6 },
    });
    match p.protocol {
        PortProtocol::Iscsi => {
            put(&mut out, "IPAddr", Some(p.ip.clone().into()));
            put(&mut out, "iSCSIName", Some(p.target_name.clone().into()));
            put(&mut out, "HWAddr", Some(Value::from("00:00:00:00:00:00")));
        }
        // LXD takes an NVMe port's address from `nodeWWN` (lxd-drivers.md §6.2).
        PortProtocol::Nvme => {
            put(&mut out, "IPAddr", Some(p.ip.clone().into()));
            put(&mut out, "nodeWWN", Some(p.ip.clone().into()));
        }
    }
    put(&mut out, "label", p.label.clone().map(Value::from));
    out
}

pub fn task(t: &Task, now: u64) -> Value {
    let mut out = json!({
        "id": t.id,
        "type": t.kind.wsapi_type(),
        "name": t.name,
        "status": t.status.wsapi(),
        "completedPhases": if t.status == TaskStatus::Done { 1 } else { 0 },
        "totalPhases": 1,
        "completedSteps": t.copied_mib(now),
        "totalSteps": t.total_mib,
        "startTime": task_time(t.start_time),
        // Present while the task runs too: python's `_findTask` (`isOnlinePhysicalCopy`, which
        // Cinder's delete calls on 151) reads `finishTime` of an active task without a default.
        "finishTime": t.finish_time.map_or_else(|| "-".to_string(), task_time),
        "user": "3paradm",
    });
    put(
        &mut out,
        "priority",
        t.priority.map(|p| match p {
            TaskPriority::High => 1.into(),
            TaskPriority::Medium => 2.into(),
            TaskPriority::Low => 3.into(),
        }),
    );
    out
}

pub fn qos(model: &Model, q: &QosRule) -> Value {
    let mut out = json!({
        "id": q.id,
        "name": model.set(SetKind::Volume, q.set).map(|s| s.name.clone()),
        "type": 1,
        "enabled": q.enabled,
        "priority": match q.priority { QosPriority::Low => 1, QosPriority::Normal => 2, QosPriority::High => 3 },
    });
    put(&mut out, "bwMinGoalKB", q.bw_min_goal_kb.map(Value::from));
    put(&mut out, "bwMaxLimitKB", q.bw_max_limit_kb.map(Value::from));
    put(&mut out, "ioMinGoal", q.io_min_goal.map(Value::from));
    put(&mut out, "ioMaxLimit", q.io_max_limit.map(Value::from));
    put(&mut out, "latencyGoaluSecs", q.latency_goal_usecs.map(Value::from));
    out
}

/// One `objectKeyValues` entry (python's `getVolumeMetaData` docstring shows the members).
pub fn key_value(key: &str, kv: &KeyValue) -> Value {
    json!({
        "key": key,
        "value": kv.value,
        "creationTimeSec": kv.creation_time,
        "creationTime8601": iso8601(kv.creation_time),
        "date_added": date_added(kv.creation_time),
    })
}

/// Epoch seconds as the civil date and time in UTC: (year, month, day, hour, minute, second,
/// weekday with 0 = Sunday). Days to dates by the proleptic Gregorian calendar (Hinnant).
fn civil(secs: u64) -> (i64, u32, u32, u64, u64, u64, usize) {
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let weekday = ((days + 4) % 7) as usize;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rest / 3600, rest % 3600 / 60, rest % 60, weekday)
}

/// `2014-07-22T17:10:22+00:00`: the array's ISO 8601 form, in UTC (the simulated array's zone).
fn iso8601(secs: u64) -> String {
    let (y, mo, d, h, mi, s, _) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+00:00")
}

/// `2017-08-02 02:07:00 UTC`: a task's times, as the real sample has them (in its zone).
fn task_time(secs: u64) -> String {
    let (y, mo, d, h, mi, s, _) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

/// `Mon Jul 14 16:09:36 UTC 2014`: the form of python's docstring sample, in UTC.
fn date_added(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (y, mo, d, h, mi, s, wd) = civil(secs);
    format!("{} {} {d:02} {h:02}:{mi:02}:{s:02} UTC {y}", DAYS[wd], MONTHS[mo as usize - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_render_as_the_arrays_strings() {
        // 2014-07-22T17:10:22-07:00, python's docstring sample, is 1406074222.
        assert_eq!(iso8601(1_406_074_222), "2014-07-23T00:10:22+00:00");
        assert_eq!(date_added(1_406_074_222), "Wed Jul 23 00:10:22 UTC 2014");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00+00:00");
        assert_eq!(date_added(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(task_time(1_501_664_820), "2017-08-02 09:07:00 UTC");
    }
}
