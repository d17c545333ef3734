//! What every array's pool configuration shares: `key=value` parsing, the
//! configuration error (whose message always names the key), booleans and
//! base URLs the way LXD reads them, and the password redaction.
//!
//! This module does no I/O.

use std::collections::BTreeMap;

use reqwest::Url;

/// What replaces the password whenever configuration is shown.
pub const REDACTED: &str = "<redacted>";

/// A configuration error; its message always names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The key is not a pool key.
    #[error("unknown configuration key {key:?}")]
    UnknownKey {
        /// The key given.
        key: String,
    },
    /// A mandatory key is absent or empty.
    #[error("missing mandatory configuration key {key:?}")]
    Missing {
        /// The key that is needed.
        key: &'static str,
    },
    /// A value does not parse or is not allowed.
    #[error("invalid value for {key:?}: {reason}")]
    Invalid {
        /// The key concerned.
        key: &'static str,
        /// Why the value is refused.
        reason: String,
    },
    /// A key given as `key=value` on a command line lacks the `=`.
    #[error("expected key=value, got {0:?}")]
    NotKeyValue(String),
    /// The same key was given twice in one command.
    #[error("configuration key {key:?} given more than once")]
    Duplicate {
        /// The key given twice.
        key: String,
    },
}

/// Parses `key=value` arguments into a map, refusing an argument without `=`,
/// an empty key and a key given twice.
///
/// Pool keys and volume keys share this syntax, so whether a key is known is
/// up to the caller: each array's `PoolConfig::from_map` and `with_changes`
/// refuse unknown pool keys, [`crate::pool::Pools::volume_create`] unknown volume keys.
pub fn parse_key_values<I, S>(args: I) -> Result<BTreeMap<String, String>, ConfigError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut map = BTreeMap::new();
    for arg in args {
        let arg = arg.as_ref();
        let (key, value) = arg.split_once('=').ok_or_else(|| ConfigError::NotKeyValue(arg.to_string()))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError::NotKeyValue(arg.to_string()));
        }
        if map.insert(key.to_string(), value.to_string()).is_some() {
            return Err(ConfigError::Duplicate { key: key.to_string() });
        }
    }
    Ok(map)
}

/// Parses a boolean the way LXD does.
pub fn parse_bool(key: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Invalid { key, reason: format!("{value:?} is not a boolean (use true or false)") }),
    }
}

/// Checks a gateway base URL (`https://host[:port][/path]`, no query or
/// fragment) and returns it without a trailing `/`.
pub fn parse_base_url(key: &'static str, value: &str) -> Result<String, ConfigError> {
    let url =
        Url::parse(value).map_err(|e| ConfigError::Invalid { key, reason: format!("{value:?} is not a URL: {e}") })?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(ConfigError::Invalid {
            key,
            reason: format!("{value:?} must be an https:// (or http://) URL with a host"),
        });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::Invalid { key, reason: "the URL must not have a query or a fragment".into() });
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// A pool's keys as the user gave them, checked against the array's list:
/// saved whole, shown with the password redacted, changed key by key. No
/// `Debug`: it holds the password.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySet {
    known: &'static [&'static str],
    password_key: &'static str,
    raw: BTreeMap<String, String>,
}

impl KeySet {
    /// The keys of `map`, refusing any not in `known`; `password_key` is the one never shown.
    pub fn new(
        known: &'static [&'static str],
        password_key: &'static str,
        map: &BTreeMap<String, String>,
    ) -> Result<KeySet, ConfigError> {
        if let Some(key) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(ConfigError::UnknownKey { key: key.clone() });
        }
        Ok(KeySet { known, password_key, raw: map.clone() })
    }

    fn check_known(&self, key: &str) -> Result<(), ConfigError> {
        if self.known.contains(&key) {
            Ok(())
        } else {
            Err(ConfigError::UnknownKey { key: key.to_string() })
        }
    }

    /// A key's value, trimmed; `None` when unset or empty.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.raw.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// The password as given (not trimmed: it may begin or end with a space).
    pub fn password(&self) -> Result<String, ConfigError> {
        self.raw
            .get(self.password_key)
            .filter(|v| !v.is_empty())
            .cloned()
            .ok_or(ConfigError::Missing { key: self.password_key })
    }

    /// The keys as given, password included: only for saving to local state.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.raw.clone()
    }

    /// The keys as given, with the password redacted; for display.
    pub fn shown(&self) -> BTreeMap<String, String> {
        let mut shown = self.raw.clone();
        if let Some(v) = shown.get_mut(self.password_key) {
            *v = REDACTED.to_string();
        }
        shown
    }

    /// One key's value for display (the password redacted); `None` when unset.
    pub fn get(&self, key: &str) -> Result<Option<String>, ConfigError> {
        self.check_known(key)?;
        Ok(self.shown().get(key).cloned())
    }

    /// The keys with `changes` applied (an empty value unsets a key), for the
    /// array's configuration to validate again.
    pub fn changed(&self, changes: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, ConfigError> {
        let mut map = self.raw.clone();
        for (key, value) in changes {
            self.check_known(key)?;
            if value.is_empty() {
                map.remove(key);
            } else {
                map.insert(key.clone(), value.clone());
            }
        }
        Ok(map)
    }
}
