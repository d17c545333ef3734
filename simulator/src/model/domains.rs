//! Protection domains through the API: create, rename, activate, inactivate, throttle, remove.

use super::commands::{Plan, Reply};
use super::effects::{seq_of, Effect};
use super::fault::Fault;
use super::ids::{self, Id, IdKind};
use super::inventory::InventoryEffect;
use super::objects::ProtectionDomain;
use super::settings::DomainSettings;
use super::{volumes, Model};

/// The protectionDomains limit of `querySystemLimits`.
const MAX_DOMAINS: usize = 256;

/// A change to an existing protection domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainChange {
    Rename(String),
    Activate,
    Inactivate,
    /// `setSdsNetworkLimits`: absent fields keep their value, 0 means unlimited.
    NetworkLimits {
        rebuild_kbps: Option<u64>,
        rebalance_kbps: Option<u64>,
        vtree_migration_kbps: Option<u64>,
        overall_kbps: Option<u64>,
    },
    RfcacheEnabled(bool),
    /// `setRfcacheParameters`: absent fields keep their value.
    RfcacheParameters {
        page_size_kb: Option<u64>,
        max_io_size_kb: Option<u64>,
        mode: Option<String>,
    },
}

pub(super) fn existing(model: &Model, id: Id) -> Result<&ProtectionDomain, Fault> {
    model.domains.get(&id).ok_or_else(Fault::fd_not_found)
}

fn check_name(model: &Model, name: &str, renaming: Option<Id>) -> Result<(), Fault> {
    volumes::check_name_syntax(name)?;
    match model.domain_by_name(name) {
        Some(d) if Some(d.id) != renaming => Err(Fault::fd_name_in_use()),
        _ => Ok(()),
    }
}

/// The next id of `kind`: its sequence, never below one past an id already in use (a state
/// saved before the sequence was kept starts it at zero).
pub(super) fn next_id<'a>(model: &Model, kind: IdKind, seq: u64, taken: impl Iterator<Item = &'a Id>) -> Id {
    let floor = taken.map(|id| seq_of(*id) + 1).max().unwrap_or(0);
    ids::derive(model.seed, kind, seq.max(floor))
}

pub(super) fn create(model: &Model, name: &str) -> Result<Plan, Fault> {
    if model.domains.len() >= MAX_DOMAINS {
        return Err(Fault::too_many_fds());
    }
    check_name(model, name, None)?;
    let id = next_id(model, IdKind::ProtectionDomain, model.seq.domain, model.domains.keys());
    let domain = ProtectionDomain {
        id,
        name: name.to_string(),
        pools: Default::default(),
        sdts: Default::default(),
        volume_count: 0,
        settings: DomainSettings::default(),
    };
    Ok(Plan::new(vec![Effect::DomainCreated(Box::new(domain))], Reply::Created(id)))
}

/// Powers of two in `[low, high]` KiB, as RF cache sizes must be (reference code table).
fn power_of_two_within(value: u64, low: u64, high: u64) -> bool {
    value.is_power_of_two() && (low..=high).contains(&value)
}

pub(super) fn modify(model: &Model, id: Id, change: &DomainChange) -> Result<Plan, Fault> {
    let domain = existing(model, id)?;
    let (mut name, mut settings) = (domain.name.clone(), domain.settings.clone());
    match change {
        DomainChange::Rename(new) => {
            check_name(model, new, Some(id))?;
            name = new.clone();
        }
        DomainChange::Activate => settings.active = true,
        DomainChange::Inactivate => settings.active = false,
        DomainChange::NetworkLimits { rebuild_kbps, rebalance_kbps, vtree_migration_kbps, overall_kbps } => {
            for (slot, value) in [
                (&mut settings.rebuild_limit_kbps, rebuild_kbps),
                (&mut settings.rebalance_limit_kbps, rebalance_kbps),
                (&mut settings.vtree_migration_limit_kbps, vtree_migration_kbps),
                (&mut settings.overall_limit_kbps, overall_kbps),
            ] {
                if let Some(kbps) = value {
                    *slot = (*kbps > 0).then_some(*kbps);
                }
            }
        }
        DomainChange::RfcacheEnabled(on) => settings.rfcache_enabled = *on,
        DomainChange::RfcacheParameters { page_size_kb, max_io_size_kb, mode } => {
            if let Some(kb) = page_size_kb {
                if !power_of_two_within(*kb, 4, 64) {
                    return Err(Fault::invalid_rfcache_page_size());
                }
                settings.rfcache_page_size_kb = *kb;
            }
            if let Some(kb) = max_io_size_kb {
                if !power_of_two_within(*kb, 32, 256) {
                    return Err(Fault::invalid_rfcache_max_io_size());
                }
                settings.rfcache_max_io_size_kb = *kb;
            }
            if let Some(mode) = mode {
                let known = ["Read", "Write", "ReadAndWrite", "WriteMiss"];
                settings.rfcache_mode = known
                    .iter()
                    .find(|m| m.eq_ignore_ascii_case(mode))
                    .ok_or_else(|| Fault::invalid(format!("rfcacheOperationMode {mode:?}")))?
                    .to_string();
            }
        }
    }
    let effect = Effect::DomainConfigured { domain: id, name, settings: Box::new(settings) };
    Ok(Plan::new(vec![effect], Reply::Empty))
}

/// A domain goes only when it is empty: no pools, no SDTs.
pub(super) fn remove(model: &Model, id: Id) -> Result<Plan, Fault> {
    let domain = existing(model, id)?;
    if !domain.pools.is_empty() {
        return Err(Fault::fd_has_storage_pools());
    }
    if !domain.sdts.is_empty() || model.sdss().any(|s| s.protection_domain == id) {
        return Err(Fault::fd_has_tgts());
    }
    // Its fault sets hold no SDSs now (checked above) and go with it.
    let mut effects: Vec<Effect> = model
        .fault_sets()
        .filter(|f| f.protection_domain == id)
        .map(|f| Effect::Inventory(InventoryEffect::FaultSetRemoved { fault_set: f.id }))
        .collect();
    effects.push(Effect::DomainRemoved { domain: id });
    Ok(Plan::new(effects, Reply::Empty))
}

/// Refuses work in a domain that `inactivateProtectionDomain` shut down.
pub(super) fn check_active(model: &Model, id: Id) -> Result<(), Fault> {
    match model.domains.get(&id) {
        Some(d) if !d.settings.active => Err(Fault::fd_not_active()),
        _ => Ok(()),
    }
}

pub(super) fn apply_created(model: &mut Model, domain: &ProtectionDomain) {
    model.seq.domain = model.seq.domain.max(seq_of(domain.id) + 1);
    model.domains.insert(domain.id, domain.clone());
}

pub(super) fn apply_configured(model: &mut Model, id: Id, name: &str, settings: &DomainSettings) {
    if let Some(d) = model.domains.get_mut(&id) {
        d.name = name.to_string();
        d.settings = settings.clone();
    }
}

pub(super) fn apply_removed(model: &mut Model, id: Id) {
    model.domains.remove(&id);
}
