//! Name and text rules shared by every object (reference §2).

use super::fault::Fault;

/// Name31-style names: letters, digits, `.`, `-` and `_` (real volume names carry `_`), not
/// starting with `-`, at most `max` characters.
pub(super) fn check_name(name: &str, max: usize) -> Result<(), Fault> {
    check_identifier(name, max, "name")
}

/// The same rule for another member that names something (a metadata `key`).
pub(super) fn check_identifier(name: &str, max: usize, member: &'static str) -> Result<(), Fault> {
    if name.is_empty() {
        return Err(Fault::empty_string().with_ref(member));
    }
    if name.chars().count() > max {
        return Err(Fault::exceeds_length().with_ref(member));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if !name.chars().all(allowed) || name.starts_with('-') {
        return Err(Fault::illegal_char().with_ref(member));
    }
    Ok(())
}

/// Free text (comments) up to `max` characters.
pub(super) fn check_text(text: &str, max: usize, member: &'static str) -> Result<(), Fault> {
    if text.chars().count() > max {
        return Err(Fault::exceeds_length().with_ref(member));
    }
    Ok(())
}

/// `expirationHours` and `retentionHours`: 1 to 43 800, turned into a time after `now`.
pub(super) fn hours_after(now: u64, hours: Option<u32>, member: &'static str) -> Result<Option<u64>, Fault> {
    match hours {
        None => Ok(None),
        Some(h) if (1..=super::topology::MAX_RETENTION_HOURS).contains(&h) => Ok(Some(now + u64::from(h) * 3600)),
        Some(_) => Err(Fault::exceeds_range().with_ref(member)),
    }
}

/// Rounds a size up to the 256 MiB granularity.
pub(super) fn round_up(mib: u64) -> u64 {
    mib.div_ceil(super::topology::GRANULARITY_MIB).saturating_mul(super::topology::GRANULARITY_MIB)
}
