//! Pool configuration: the keys, their validation, and redaction.
//!
//! A pool is configured with string keys, as an LXD storage pool is. Parsing
//! turns the key map into a typed [`PoolConfig`]; every refusal names the key
//! it is about. The password is kept but never shown: [`PoolConfig::shown`]
//! and the `Debug` implementation both redact it.
//!
//! This module does no I/O.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use crate::http::ClientOptions;
use crate::keys::{parse_base_url, parse_bool, ConfigError, KeySet, REDACTED};
use crate::naming::{self, parse_size};

/// The gateway URL, e.g. `https://gateway.example:443`.
pub const KEY_GATEWAY: &str = "powerflex.gateway";
/// Whether the gateway's TLS certificate is verified (default `true`).
pub const KEY_GATEWAY_VERIFY: &str = "powerflex.gateway.verify";
/// The gateway user (default `admin`).
pub const KEY_USER_NAME: &str = "powerflex.user.name";
/// The gateway password (mandatory, never shown).
pub const KEY_USER_PASSWORD: &str = "powerflex.user.password";
/// The storage pool: an ID, or a name together with [`KEY_DOMAIN`].
pub const KEY_POOL: &str = "powerflex.pool";
/// The protection domain name, needed to look the pool up by name.
pub const KEY_DOMAIN: &str = "powerflex.domain";
/// `nvme` or `sdc`; discovered from the host when unset.
pub const KEY_MODE: &str = "powerflex.mode";
/// Comma-separated NVMe/TCP target addresses; discovered from the SDTs when unset.
pub const KEY_SDT: &str = "powerflex.sdt";
/// Whether copies are full copies (default `true`); `false` allows snapshot-based copies.
pub const KEY_CLONE_COPY: &str = "powerflex.clone_copy";
/// The default size of new volumes (default `8GiB`).
pub const KEY_VOLUME_SIZE: &str = "volume.size";

/// Every key a pool accepts, in display order.
pub const KEYS: [&str; 10] = [
    KEY_GATEWAY,
    KEY_GATEWAY_VERIFY,
    KEY_USER_NAME,
    KEY_USER_PASSWORD,
    KEY_POOL,
    KEY_DOMAIN,
    KEY_MODE,
    KEY_SDT,
    KEY_CLONE_COPY,
    KEY_VOLUME_SIZE,
];

/// The default volume size.
pub const DEFAULT_VOLUME_SIZE: u64 = 8 * naming::GIB;

/// How the host reaches the volumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// NVMe over TCP through the SDTs.
    Nvme,
    /// The ScaleIO data client: the host is the SDC known by its GUID.
    Sdc,
}

impl Mode {
    /// The key value.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Nvme => "nvme",
            Mode::Sdc => "sdc",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the pool is named on the array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolRef {
    /// A storage pool ID (16 hex characters), fetched directly.
    Id(String),
    /// A pool name or ID looked up inside a protection domain.
    InDomain {
        /// The pool name or ID.
        pool: String,
        /// The protection domain name.
        domain: String,
    },
}

/// A validated pool configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// The gateway base URL, without a trailing `/`.
    pub gateway: String,
    /// Whether TLS certificates are verified.
    pub verify_tls: bool,
    /// The gateway user.
    pub user: String,
    /// The gateway password.
    pub password: String,
    /// Which pool.
    pub pool: PoolRef,
    /// The mode when the key is set; `None` means discover it from the host.
    pub mode: Option<Mode>,
    /// Target addresses when the key is set; `None` means discover them from the SDTs.
    pub sdt: Option<Vec<IpAddr>>,
    /// Whether copies are always full copies.
    pub clone_copy: bool,
    /// The default size of new volumes, in bytes, as given (rounded at creation).
    pub volume_size: u64,
    /// The keys as given, kept so that `show` and `get` return what the user set.
    keys: KeySet,
}

impl fmt::Debug for PoolConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolConfig")
            .field("gateway", &self.gateway)
            .field("verify_tls", &self.verify_tls)
            .field("user", &self.user)
            .field("password", &REDACTED)
            .field("pool", &self.pool)
            .field("mode", &self.mode)
            .field("sdt", &self.sdt)
            .field("clone_copy", &self.clone_copy)
            .field("volume_size", &self.volume_size)
            .finish()
    }
}

fn is_hex_id(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl PoolConfig {
    /// Validates a key map.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<PoolConfig, ConfigError> {
        let keys = KeySet::new(&KEYS, KEY_USER_PASSWORD, map)?;
        let get = |key: &str| keys.value(key);

        let gateway = get(KEY_GATEWAY).ok_or(ConfigError::Missing { key: KEY_GATEWAY })?;
        let gateway = parse_base_url(KEY_GATEWAY, gateway)?;

        let verify_tls = match get(KEY_GATEWAY_VERIFY) {
            Some(v) => parse_bool(KEY_GATEWAY_VERIFY, v)?,
            None => true,
        };
        let user = get(KEY_USER_NAME).unwrap_or("admin").to_string();
        let password = keys.password()?;

        let pool_value = get(KEY_POOL).ok_or(ConfigError::Missing { key: KEY_POOL })?;
        let pool = match get(KEY_DOMAIN) {
            Some(domain) => PoolRef::InDomain { pool: pool_value.to_string(), domain: domain.to_string() },
            None if is_hex_id(pool_value) => PoolRef::Id(pool_value.to_ascii_lowercase()),
            None => {
                return Err(ConfigError::Invalid {
                    key: KEY_POOL,
                    reason: format!(
                        "{pool_value:?} is not a pool ID (16 hex characters); \
                         to use a pool name, also set {KEY_DOMAIN}"
                    ),
                })
            }
        };

        let mode = match get(KEY_MODE) {
            None => None,
            Some("nvme") | Some("nvme/tcp") => Some(Mode::Nvme),
            Some("sdc") => Some(Mode::Sdc),
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: KEY_MODE,
                    reason: format!("{other:?} is not a mode (expected nvme or sdc)"),
                })
            }
        };

        let sdt = match get(KEY_SDT) {
            None => None,
            Some(list) => {
                let mut addrs = Vec::new();
                for item in list.split(',') {
                    let item = item.trim();
                    let addr: IpAddr = item.parse().map_err(|_| ConfigError::Invalid {
                        key: KEY_SDT,
                        reason: format!(
                            "{item:?} is not an IP address (a comma-separated list of bare addresses, no ports)"
                        ),
                    })?;
                    addrs.push(addr);
                }
                Some(addrs)
            }
        };

        // As LXD's ValidateSource: the SDC finds its own data path.
        if mode == Some(Mode::Sdc) && sdt.is_some() {
            return Err(ConfigError::Invalid {
                key: KEY_SDT,
                reason: "not used in sdc mode (the ScaleIO data client reaches the volumes itself)".into(),
            });
        }

        let clone_copy = match get(KEY_CLONE_COPY) {
            Some(v) => parse_bool(KEY_CLONE_COPY, v)?,
            None => true,
        };

        let volume_size = match get(KEY_VOLUME_SIZE) {
            Some(v) => {
                parse_size(v).map_err(|e| ConfigError::Invalid { key: KEY_VOLUME_SIZE, reason: e.to_string() })?
            }
            None => DEFAULT_VOLUME_SIZE,
        };

        Ok(PoolConfig { gateway, verify_tls, user, password, pool, mode, sdt, clone_copy, volume_size, keys })
    }

    /// How to reach the gateway (URL, credentials, verification; default limits).
    pub fn client_options(&self) -> ClientOptions {
        let mut o = ClientOptions::new(&self.gateway, &self.user, &self.password);
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

    /// A new configuration with `changes` applied (an empty value unsets a key).
    ///
    /// `powerflex.mode` cannot change once set, as in LXD.
    pub fn with_changes(&self, changes: &BTreeMap<String, String>) -> Result<PoolConfig, ConfigError> {
        if let Some(value) = changes.get(KEY_MODE) {
            if self.keys.value(KEY_MODE).is_some_and(|old| old != value) {
                return Err(ConfigError::Invalid {
                    key: KEY_MODE,
                    reason: "the mode cannot be changed once set".into(),
                });
            }
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
            "powerflex.gateway=https://gw.example:443/",
            "powerflex.user.password=s3cret-pw",
            "powerflex.pool=sp1",
            "powerflex.domain=pd1",
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

    fn without(key: &str) -> Result<PoolConfig, ConfigError> {
        let mut m = base();
        m.remove(key);
        PoolConfig::from_map(&m)
    }

    #[test]
    fn defaults() {
        let c = PoolConfig::from_map(&base()).unwrap();
        assert_eq!(c.gateway, "https://gw.example:443");
        assert!(c.verify_tls);
        assert_eq!(c.user, "admin");
        assert_eq!(c.password, "s3cret-pw");
        assert_eq!(c.pool, PoolRef::InDomain { pool: "sp1".into(), domain: "pd1".into() });
        assert_eq!(c.mode, None);
        assert_eq!(c.sdt, None);
        assert!(c.clone_copy);
        assert_eq!(c.volume_size, 8 << 30);
    }

    #[test]
    fn every_key_parses() {
        let c = with(&[
            ("powerflex.gateway.verify", "false"),
            ("powerflex.user.name", "operator"),
            ("powerflex.mode", "nvme"),
            ("powerflex.sdt", "10.0.0.1, 10.0.0.2"),
            ("powerflex.clone_copy", "off"),
            ("volume.size", "16GiB"),
        ])
        .unwrap();
        assert!(!c.verify_tls);
        assert_eq!(c.user, "operator");
        assert_eq!(c.mode, Some(Mode::Nvme));
        assert_eq!(c.sdt.unwrap().len(), 2);
        assert!(!c.clone_copy);
        assert_eq!(c.volume_size, 16 << 30);
    }

    #[test]
    fn pool_by_id_without_domain() {
        let mut m = base();
        m.remove(KEY_DOMAIN);
        m.insert(KEY_POOL.into(), "FA85EDFD00000000".into());
        let c = PoolConfig::from_map(&m).unwrap();
        assert_eq!(c.pool, PoolRef::Id("fa85edfd00000000".into()));
    }

    #[test]
    fn errors_name_their_key() {
        let cases: Vec<(Result<PoolConfig, ConfigError>, &str)> = vec![
            (without(KEY_GATEWAY), KEY_GATEWAY),
            (without(KEY_USER_PASSWORD), KEY_USER_PASSWORD),
            (without(KEY_POOL), KEY_POOL),
            (without(KEY_DOMAIN), KEY_POOL),
            (with(&[(KEY_GATEWAY, "not a url")]), KEY_GATEWAY),
            (with(&[(KEY_GATEWAY, "ftp://gw")]), KEY_GATEWAY),
            (with(&[(KEY_GATEWAY, "https://gw/?x=1")]), KEY_GATEWAY),
            (with(&[(KEY_GATEWAY_VERIFY, "maybe")]), KEY_GATEWAY_VERIFY),
            (with(&[(KEY_MODE, "iscsi")]), KEY_MODE),
            (with(&[(KEY_MODE, "sdc"), (KEY_SDT, "127.0.0.2")]), KEY_SDT),
            (with(&[(KEY_SDT, "10.0.0.1:4420")]), KEY_SDT),
            (with(&[(KEY_SDT, "host.example")]), KEY_SDT),
            (with(&[(KEY_CLONE_COPY, "2")]), KEY_CLONE_COPY),
            (with(&[(KEY_VOLUME_SIZE, "eight")]), KEY_VOLUME_SIZE),
            (with(&[(KEY_VOLUME_SIZE, "0")]), KEY_VOLUME_SIZE),
            (with(&[("powerflex.snapshot_copy", "true")]), "powerflex.snapshot_copy"),
            (with(&[("", "x")]), "\"\""),
        ];
        for (result, key) in cases {
            let err = result.expect_err(key);
            assert!(err.to_string().contains(key), "{err} should name {key}");
        }
    }

    #[test]
    fn sdc_mode_takes_no_sdt() {
        assert_eq!(with(&[(KEY_MODE, "sdc")]).unwrap().mode, Some(Mode::Sdc));
        let err = with(&[(KEY_MODE, "sdc"), (KEY_SDT, "127.0.0.2")]).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { key: KEY_SDT, .. }), "{err:?}");
    }

    #[test]
    fn empty_password_is_missing() {
        let err = with(&[(KEY_USER_PASSWORD, "")]).unwrap_err();
        assert_eq!(err, ConfigError::Missing { key: KEY_USER_PASSWORD });
    }

    #[test]
    fn password_is_never_shown() {
        let c = PoolConfig::from_map(&base()).unwrap();
        let shown = format!("{:?} {:?} {:?}", c, c.shown(), c.get(KEY_USER_PASSWORD).unwrap());
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains(REDACTED));
        assert_eq!(c.to_map()[KEY_USER_PASSWORD], "s3cret-pw");
    }

    #[test]
    fn changes_are_validated_and_mode_is_immutable() {
        let c = with(&[(KEY_MODE, "nvme")]).unwrap();
        let c2 = c.with_changes(&parse_key_values(["volume.size=24GiB", "powerflex.sdt=127.0.0.2"]).unwrap()).unwrap();
        assert_eq!(c2.volume_size, 24 << 30);
        let unset = c2.with_changes(&parse_key_values(["powerflex.sdt="]).unwrap()).unwrap();
        assert_eq!(unset.sdt, None);
        assert!(c.with_changes(&parse_key_values(["bogus=1"]).unwrap()).is_err());
        let err = c.with_changes(&parse_key_values(["powerflex.mode=sdc"]).unwrap()).unwrap_err();
        assert!(err.to_string().contains(KEY_MODE));
        assert!(parse_key_values(["novalue"]).is_err());
    }

    #[test]
    fn key_values_refuse_duplicates_and_empty_keys() {
        let err = parse_key_values(["powerflex.pool=sp1", "volume.size=16GiB", " powerflex.pool =sp2"]).unwrap_err();
        assert_eq!(err, ConfigError::Duplicate { key: "powerflex.pool".into() });
        assert!(err.to_string().contains("\"powerflex.pool\" given more than once"), "{err}");
        // Even with the same value: a repeated key is a mistake on the command line.
        assert!(parse_key_values(["size=8GiB", "size=8GiB"]).is_err());
        assert_eq!(parse_key_values(["=x"]).unwrap_err(), ConfigError::NotKeyValue("=x".into()));
        // An empty value is kept (it unsets a key in `with_changes`); unknown keys are the caller's to refuse.
        let m = parse_key_values(["powerflex.sdt=", "colour=red"]).unwrap();
        assert_eq!(m["powerflex.sdt"], "");
        assert!(PoolConfig::from_map(&m).is_err());
    }
}
