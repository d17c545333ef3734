//! Alletra pool configuration: the `alletra.*` keys as LXD has them.
//!
//! `alletra.wsapi`, `alletra.user.name` and `alletra.user.password` are
//! mandatory (LXD refuses a pool without them), `alletra.wsapi.verify`
//! defaults to true, `alletra.mode` to `nvme` and cannot change once set,
//! `alletra.target` is a comma-separated list of addresses (discovered from
//! the ports when unset), and `volume.size` must be a multiple of 256 MiB
//! (default 10 GiB). The password is kept but never shown.
//!
//! This module does no I/O.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use crate::http::ClientOptions;
use crate::keys::{parse_base_url, parse_bool, ConfigError, KeySet, REDACTED};
use crate::naming::{parse_size, GIB};

use super::naming::ALLOCATION_UNIT;

/// The WSAPI URL, e.g. `https://array.example:443`.
pub const KEY_WSAPI: &str = "alletra.wsapi";
/// Whether the WSAPI's TLS certificate is verified (default `true`).
pub const KEY_WSAPI_VERIFY: &str = "alletra.wsapi.verify";
/// The array user (mandatory).
pub const KEY_USER_NAME: &str = "alletra.user.name";
/// The array password (mandatory, never shown).
pub const KEY_USER_PASSWORD: &str = "alletra.user.password";
/// The common provisioning group new volumes are created in.
pub const KEY_CPG: &str = "alletra.cpg";
/// Comma-separated target addresses; discovered from the ports when unset.
pub const KEY_TARGET: &str = "alletra.target";
/// `nvme` (default) or `iscsi`.
pub const KEY_MODE: &str = "alletra.mode";
/// The default size of new volumes (default `10GiB`, a multiple of 256 MiB).
pub const KEY_VOLUME_SIZE: &str = "volume.size";

/// Every key a pool accepts, in display order.
pub const KEYS: [&str; 8] =
    [KEY_WSAPI, KEY_WSAPI_VERIFY, KEY_USER_NAME, KEY_USER_PASSWORD, KEY_CPG, KEY_TARGET, KEY_MODE, KEY_VOLUME_SIZE];

/// The default volume size, as in LXD.
pub const DEFAULT_VOLUME_SIZE: u64 = 10 * GIB;

/// How the host reaches the volumes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// NVMe over TCP (nvme-cli).
    #[default]
    Nvme,
    /// iSCSI (open-iscsi's `iscsiadm`).
    Iscsi,
}

impl Mode {
    /// The key value.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Nvme => "nvme",
            Mode::Iscsi => "iscsi",
        }
    }

    /// The suffix of this host's entity on the array (`<hostname>-nvme-tcp`, `<hostname>-iscsi`).
    pub fn host_suffix(self) -> &'static str {
        match self {
            Mode::Nvme => "nvme-tcp",
            Mode::Iscsi => "iscsi",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated Alletra pool configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// The WSAPI base URL (without `/api/v1` and without a trailing `/`).
    pub wsapi: String,
    /// Whether TLS certificates are verified.
    pub verify_tls: bool,
    /// The array user.
    pub user: String,
    /// The array password.
    pub password: String,
    /// The CPG volumes are created in.
    pub cpg: String,
    /// Target addresses when the key is set; `None` means discover them from the ports.
    pub target: Option<Vec<IpAddr>>,
    /// The host protocol.
    pub mode: Mode,
    /// The default size of new volumes, in bytes.
    pub volume_size: u64,
    keys: KeySet,
}

impl fmt::Debug for PoolConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("alletra::PoolConfig")
            .field("wsapi", &self.wsapi)
            .field("verify_tls", &self.verify_tls)
            .field("user", &self.user)
            .field("password", &REDACTED)
            .field("cpg", &self.cpg)
            .field("target", &self.target)
            .field("mode", &self.mode)
            .field("volume_size", &self.volume_size)
            .finish()
    }
}

/// Checks that a size is a positive multiple of 256 MiB, as LXD's
/// `IsMultipleOfUnit("256MiB")` does (it refuses, it does not round).
pub fn check_size(key: &'static str, bytes: u64) -> Result<u64, ConfigError> {
    if bytes == 0 || !bytes.is_multiple_of(ALLOCATION_UNIT) {
        return Err(ConfigError::Invalid { key, reason: format!("{bytes} bytes is not a multiple of 256MiB") });
    }
    Ok(bytes)
}

/// One `alletra.target` address. LXD also takes host names and ports; the
/// connectors here reach targets by IP on the protocol's port, so only bare
/// IPs are accepted (FIDELITY.md).
fn check_address(item: &str) -> Result<IpAddr, ConfigError> {
    item.parse().map_err(|_| ConfigError::Invalid {
        key: KEY_TARGET,
        reason: format!("{item:?} is not an IP address (a comma-separated list of bare addresses, no ports)"),
    })
}

impl PoolConfig {
    /// Validates a key map.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<PoolConfig, ConfigError> {
        let keys = KeySet::new(&KEYS, KEY_USER_PASSWORD, map)?;
        let get = |key: &str| keys.value(key);
        let wsapi = parse_base_url(KEY_WSAPI, get(KEY_WSAPI).ok_or(ConfigError::Missing { key: KEY_WSAPI })?)?;
        let verify_tls = get(KEY_WSAPI_VERIFY).map(|v| parse_bool(KEY_WSAPI_VERIFY, v)).transpose()?.unwrap_or(true);
        let user = get(KEY_USER_NAME).ok_or(ConfigError::Missing { key: KEY_USER_NAME })?.to_string();
        let password = keys.password()?;
        let cpg = get(KEY_CPG).ok_or(ConfigError::Missing { key: KEY_CPG })?.to_string();
        let target = get(KEY_TARGET)
            .map(|list| list.split(',').map(|s| check_address(s.trim())).collect::<Result<Vec<_>, _>>())
            .transpose()?;
        let mode = match get(KEY_MODE) {
            None | Some("nvme") | Some("nvme/tcp") => Mode::Nvme,
            Some("iscsi") => Mode::Iscsi,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: KEY_MODE,
                    reason: format!("{other:?} is not a mode (expected nvme or iscsi)"),
                })
            }
        };
        let volume_size = match get(KEY_VOLUME_SIZE) {
            Some(v) => check_size(
                KEY_VOLUME_SIZE,
                parse_size(v).map_err(|e| ConfigError::Invalid { key: KEY_VOLUME_SIZE, reason: e.to_string() })?,
            )?,
            None => DEFAULT_VOLUME_SIZE,
        };
        Ok(PoolConfig { wsapi, verify_tls, user, password, cpg, target, mode, volume_size, keys })
    }

    /// How to reach the WSAPI (URL, credentials, verification; default limits).
    pub fn client_options(&self) -> ClientOptions {
        let mut o = ClientOptions::new(&self.wsapi, &self.user, &self.password);
        o.verify_tls = self.verify_tls;
        o
    }

    /// The keys as given, password included: only for saving to local state.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.keys.to_map()
    }

    /// The keys as given, with the password redacted; for display.
    pub fn shown(&self) -> BTreeMap<String, String> {
        self.keys.shown()
    }

    /// One key's value for display (the password is redacted); `None` when unset.
    pub fn get(&self, key: &str) -> Result<Option<String>, ConfigError> {
        self.keys.get(key)
    }

    /// A new configuration with `changes` applied (an empty value unsets a
    /// key); `alletra.mode` cannot change once set, as in LXD.
    pub fn with_changes(&self, changes: &BTreeMap<String, String>) -> Result<PoolConfig, ConfigError> {
        if changes.get(KEY_MODE).is_some_and(|m| m != self.mode.as_str()) {
            return Err(ConfigError::Invalid { key: KEY_MODE, reason: "the mode cannot be changed".into() });
        }
        PoolConfig::from_map(&self.keys.changed(changes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::parse_key_values;

    fn base() -> BTreeMap<String, String> {
        parse_key_values([
            "alletra.wsapi=https://array.example:443/",
            "alletra.user.name=3paradm",
            "alletra.user.password=s3cret-pw",
            "alletra.cpg=SSD_r6",
        ])
        .unwrap()
    }

    fn with(extra: &[(&str, &str)]) -> Result<PoolConfig, ConfigError> {
        let mut m = base();
        for (k, v) in extra {
            m.insert(k.to_string(), v.to_string());
        }
        PoolConfig::from_map(&m)
    }

    #[test]
    fn defaults_and_every_key() {
        let c = PoolConfig::from_map(&base()).unwrap();
        assert_eq!(c.wsapi, "https://array.example:443");
        assert!(c.verify_tls);
        assert_eq!((c.user.as_str(), c.cpg.as_str(), c.mode), ("3paradm", "SSD_r6", Mode::Nvme));
        assert_eq!(c.target, None);
        assert_eq!(c.volume_size, 10 << 30);
        let c = with(&[
            (KEY_WSAPI_VERIFY, "false"),
            (KEY_TARGET, "10.0.0.1, 10.0.0.2"),
            (KEY_MODE, "iscsi"),
            (KEY_VOLUME_SIZE, "768MiB"),
        ])
        .unwrap();
        assert!(!c.verify_tls);
        assert_eq!(c.target.as_ref().map(Vec::len), Some(2));
        assert_eq!(c.mode, Mode::Iscsi);
        assert_eq!(c.volume_size, 768 << 20);
        assert_eq!(c.client_options().gateway, "https://array.example:443");
    }

    #[test]
    fn errors_name_their_key() {
        let without = |key: &str| {
            let mut m = base();
            m.remove(key);
            PoolConfig::from_map(&m)
        };
        let cases: Vec<(Result<PoolConfig, ConfigError>, &str)> = vec![
            (without(KEY_WSAPI), KEY_WSAPI),
            (without(KEY_USER_NAME), KEY_USER_NAME),
            (without(KEY_USER_PASSWORD), KEY_USER_PASSWORD),
            (without(KEY_CPG), KEY_CPG),
            (with(&[(KEY_WSAPI, "ftp://x")]), KEY_WSAPI),
            (with(&[(KEY_WSAPI_VERIFY, "maybe")]), KEY_WSAPI_VERIFY),
            (with(&[(KEY_MODE, "fc")]), KEY_MODE),
            (with(&[(KEY_TARGET, "10.0.0.1,not an/address")]), KEY_TARGET),
            (with(&[(KEY_TARGET, "10.0.0.1:3260")]), KEY_TARGET),
            (with(&[(KEY_VOLUME_SIZE, "1000MiB")]), KEY_VOLUME_SIZE),
            (with(&[(KEY_VOLUME_SIZE, "10GB")]), KEY_VOLUME_SIZE),
            (with(&[("powerflex.pool", "x")]), "powerflex.pool"),
        ];
        for (result, key) in cases {
            let err = result.expect_err(key);
            assert!(err.to_string().contains(key), "{err} should name {key}");
        }
    }

    #[test]
    fn password_is_never_shown_and_mode_is_immutable() {
        let c = PoolConfig::from_map(&base()).unwrap();
        let shown = format!("{:?} {:?} {:?}", c, c.shown(), c.get(KEY_USER_PASSWORD).unwrap());
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains(REDACTED));
        assert_eq!(c.to_map()[KEY_USER_PASSWORD], "s3cret-pw");
        assert!(c.with_changes(&parse_key_values(["alletra.mode=iscsi"]).unwrap()).is_err());
        assert!(c.with_changes(&parse_key_values(["alletra.mode=nvme"]).unwrap()).is_ok());
        let c2 = c.with_changes(&parse_key_values(["alletra.target=127.0.0.9"]).unwrap()).unwrap();
        assert_eq!(c2.target.unwrap(), vec![IpAddr::from([127, 0, 0, 9])]);
    }
}
