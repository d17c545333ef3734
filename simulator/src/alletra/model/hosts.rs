//! Hosts: create, modify and delete, with their iSCSI names, FC WWNs or NVMe NQN (reference §1.6).

use std::collections::HashSet;

use super::commands::{HostChange, MemberOp, NewHost, Plan};
use super::effects::Effect;
use super::fault::Fault;
use super::names::check_name;
use super::objects::{ExportTarget, Host, SetKind, DEFAULT_PERSONA};
use super::topology::{MAX_PATHS_PER_HOST, MAX_PATH_NAME_LENGTH};
use super::Model;

pub(super) fn existing<'m>(model: &'m Model, name: &str) -> Result<&'m Host, Fault> {
    model.host_by_name(name).ok_or_else(Fault::non_existent_host)
}

fn check_host_name(model: &Model, name: &str, renaming: Option<u32>) -> Result<(), Fault> {
    check_name(name, model.limits.max_host_name_length)?;
    match model.host_by_name(name) {
        Some(h) if Some(h.id) != renaming => Err(Fault::existent_host()),
        _ => Ok(()),
    }
}

fn check_persona(persona: u8) -> Result<u8, Fault> {
    if (1..=11).contains(&persona) {
        Ok(persona)
    } else {
        Err(Fault::bad_enum_value().with_ref("persona"))
    }
}

/// An FC WWN: 16 hex digits, colons allowed; stored as 16 uppercase digits.
fn normalised_wwn(wwn: &str) -> Result<String, Fault> {
    let digits: String = wwn.chars().filter(|c| *c != ':').collect();
    if digits.len() != 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Fault::wrong_type().with_ref("FCWWNs"));
    }
    Ok(digits.to_ascii_uppercase())
}

fn check_path_name(name: &str, member: &'static str) -> Result<(), Fault> {
    if name.is_empty() {
        return Err(Fault::empty_string().with_ref(member));
    }
    if name.len() > MAX_PATH_NAME_LENGTH || !name.is_ascii() {
        return Err(Fault::exceeds_length().with_ref(member));
    }
    Ok(())
}

/// New paths for `host` (or a new host): well formed, not repeated, not owned by another host.
fn check_new_paths(model: &Model, host: Option<u32>, paths: &[String]) -> Result<(), Fault> {
    let mut seen = HashSet::new();
    for path in paths {
        if !seen.insert(path.to_ascii_lowercase()) {
            return Err(Fault::dup_path());
        }
        match model.host_by_path(path) {
            Some(owner) if Some(owner.id) == host => return Err(Fault::dup_path()),
            Some(_) => return Err(Fault::existent_path()),
            None => {}
        }
    }
    Ok(())
}

fn exported(model: &Model, host: u32) -> bool {
    model.target_vluns(ExportTarget::Host(host)).next().is_some()
}

pub(super) fn create(model: &Model, new: &NewHost) -> Result<Plan, Fault> {
    check_host_name(model, &new.name, None)?;
    let kinds = [!new.iscsi_names.is_empty(), !new.fc_wwns.is_empty(), new.nqn.is_some()];
    if kinds.iter().filter(|k| **k).count() > 1 {
        return Err(Fault::param_conflict());
    }
    if new.iscsi_names.len() + new.fc_wwns.len() > MAX_PATHS_PER_HOST {
        return Err(Fault::too_many_paths());
    }
    for name in &new.iscsi_names {
        check_path_name(name, "iSCSINames")?;
    }
    if let Some(nqn) = &new.nqn {
        check_path_name(nqn, "NQN")?;
    }
    let fc_wwns = new.fc_wwns.iter().map(|w| normalised_wwn(w)).collect::<Result<Vec<_>, _>>()?;
    let host = Host {
        id: model.seq.host.max(1),
        name: new.name.clone(),
        persona: check_persona(new.persona.unwrap_or(DEFAULT_PERSONA))?,
        iscsi_names: new.iscsi_names.clone(),
        fc_wwns,
        nqn: new.nqn.clone(),
        descriptors: new.descriptors.clone(),
    };
    check_new_paths(model, None, &host.paths().cloned().collect::<Vec<_>>())?;
    Ok(Plan::done(vec![Effect::HostPut(Box::new(host))]))
}

pub(super) fn modify(model: &Model, name: &str, change: &HostChange) -> Result<Plan, Fault> {
    let h = existing(model, name)?;
    if *change == HostChange::default() {
        return Err(Fault::one_required());
    }
    let mut next = h.clone();
    if let Some(new_name) = &change.new_name {
        check_host_name(model, new_name, Some(h.id))?;
        next.name = new_name.clone();
    }
    if let Some(persona) = change.persona {
        next.persona = check_persona(persona)?;
        if next.persona != h.persona && exported(model, h.id) {
            return Err(Fault::exported_vlun());
        }
    }
    if let Some(d) = &change.descriptors {
        next.descriptors = d.clone();
    }
    if let Some(paths) = &change.paths {
        for name in &paths.iscsi_names {
            check_path_name(name, "iSCSINames")?;
        }
        let wwns = paths.fc_wwns.iter().map(|w| normalised_wwn(w)).collect::<Result<Vec<_>, _>>()?;
        match paths.op {
            MemberOp::Add => {
                check_new_paths(model, Some(h.id), &[paths.iscsi_names.clone(), wwns.clone()].concat())?;
                next.iscsi_names.extend(paths.iscsi_names.iter().cloned());
                next.fc_wwns.extend(wwns);
                if next.iscsi_names.len() + next.fc_wwns.len() > MAX_PATHS_PER_HOST {
                    return Err(Fault::too_many_paths());
                }
            }
            MemberOp::Remove => {
                if exported(model, h.id) && !paths.force {
                    return Err(Fault::exported_vlun());
                }
                remove_paths(&mut next.iscsi_names, &paths.iscsi_names)?;
                remove_paths(&mut next.fc_wwns, &wwns)?;
            }
        }
    }
    Ok(Plan::done(vec![Effect::HostPut(Box::new(next))]))
}

fn remove_paths(owned: &mut Vec<String>, removing: &[String]) -> Result<(), Fault> {
    for path in removing {
        let at = owned.iter().position(|p| p.eq_ignore_ascii_case(path)).ok_or_else(Fault::non_existent_path)?;
        owned.remove(at);
    }
    Ok(())
}

pub(super) fn delete(model: &Model, name: &str) -> Result<Plan, Fault> {
    let h = existing(model, name)?;
    if model.sets_of(SetKind::Host, h.id).next().is_some() {
        return Err(Fault::host_in_set());
    }
    if exported(model, h.id) {
        return Err(Fault::exported_vlun());
    }
    Ok(Plan::done(vec![Effect::HostDeleted { host: h.id }]))
}
