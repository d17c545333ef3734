//! The static shape of an array: the system, its CPGs and its ports, plus the limits where
//! clients disagree (reference §2 and §5).
//!
//! A topology file (JSON) describes it; `DEFAULT_TOPOLOGY` is embedded so the emulator needs no
//! file. Ids, serial number, WWNs and UUIDs are not in the file unless given: they derive from
//! the seed.

use serde::Deserialize;

/// The embedded default: an Alletra 9000-class system, two CPGs, two NVMe/TCP and two iSCSI ports.
pub const DEFAULT_TOPOLOGY: &str = include_str!("topology-default.json");

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Topology {
    pub system: SystemSpec,
    pub cpgs: Vec<CpgSpec>,
    pub ports: Vec<PortSpec>,
    #[serde(default)]
    pub limits: LimitsSpec,
}

/// Which generation the array claims to be: it picks the version reported and the defaults of
/// the rules that differ between generations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Family {
    /// 3PAR OS 3.3: full volumes allowed, 31-character names.
    #[serde(rename = "3par")]
    ThreePar,
    /// Primera / Alletra 9000 (OS 4.x): thin or dedup-compressed volumes only.
    Alletra9000,
    /// Alletra MP (build 10.x): as Alletra 9000, with the build Cinder treats as Alletra MP.
    AlletraMp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SystemSpec {
    pub name: String,
    pub model: String,
    pub os_version: String,
    pub family: Family,
    /// Digits only; derived from the seed when absent.
    #[serde(default)]
    pub serial_number: Option<String>,
    /// What `GET /api` reports; the family's when absent.
    #[serde(default)]
    pub wsapi: Option<WsapiVersion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct WsapiVersion {
    pub major: u32,
    pub minor: u32,
    pub revision: u32,
    pub build: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpgSpec {
    pub name: String,
    #[serde(rename = "capacityMiB")]
    pub capacity_mib: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PortProtocol {
    /// WSAPI protocol 2.
    Iscsi,
    /// WSAPI protocol 6.
    Nvme,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortSpec {
    pub node: u8,
    pub slot: u8,
    pub card_port: u8,
    pub protocol: PortProtocol,
    pub ip: String,
    #[serde(default)]
    pub label: Option<String>,
}

/// Limits a topology may override; absent ones take the family's value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitsSpec {
    pub max_volume_name_length: Option<usize>,
    pub max_host_name_length: Option<usize>,
    #[serde(rename = "maxVolumeSizeMiB")]
    pub max_volume_size_mib: Option<u64>,
    /// The old tree rule: read-only copies only of read/write volumes and the reverse.
    pub snapshot_alternation: Option<bool>,
    /// How fast physical copies and promotes progress; 0 finishes them at the next request.
    #[serde(rename = "copyRateMiBPerSec")]
    pub copy_rate_mib_per_sec: Option<u64>,
    pub max_volumes: Option<usize>,
    pub max_virtual_copies_per_volume: Option<usize>,
}

/// Why a topology cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("topology is not valid JSON for alletra-sim: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("topology: {0}")]
    Invalid(String),
}

impl Family {
    /// Versions from Cinder's own test fakes (reference §0.9): 3PAR OS 3.3.1, Primera 4.6,
    /// Alletra MP 2025.
    pub fn wsapi(self) -> WsapiVersion {
        let (minor, build) = match self {
            Family::ThreePar => (6, 30_301_215),
            Family::Alletra9000 => (10, 40_600_052),
            Family::AlletraMp => (15, 100_500_031),
        };
        WsapiVersion { major: 1, minor, revision: 0, build }
    }

    /// Primera and later make only thin or dedup-compressed volumes (reference §1.2).
    pub fn allows_full_volumes(self) -> bool {
        self == Family::ThreePar
    }

    /// Name31 on 3PAR; LXD's 37-character names on the arrays its CI runs against (reference §2).
    fn volume_name_length(self) -> usize {
        match self {
            Family::ThreePar => 31,
            Family::Alletra9000 | Family::AlletraMp => 37,
        }
    }
}

impl Topology {
    pub fn parse(text: &str) -> Result<Topology, TopologyError> {
        let topology: Topology = serde_json::from_str(text)?;
        topology.validate().map(|()| topology)
    }

    pub fn default_embedded() -> Topology {
        Topology::parse(DEFAULT_TOPOLOGY).expect("the embedded topology is valid")
    }

    fn validate(&self) -> Result<(), TopologyError> {
        let invalid = |m: String| Err(TopologyError::Invalid(m));
        if self.cpgs.is_empty() {
            return invalid("at least one CPG is needed".into());
        }
        let mut names = std::collections::HashSet::new();
        for cpg in &self.cpgs {
            if !names.insert(&cpg.name) {
                return invalid(format!("CPG {} appears twice", cpg.name));
            }
            if cpg.capacity_mib == 0 {
                return invalid(format!("CPG {}: capacityMiB must be positive", cpg.name));
            }
        }
        if let Some(serial) = &self.system.serial_number {
            if serial.is_empty() || serial.len() > 10 || !serial.bytes().all(|b| b.is_ascii_digit()) {
                return invalid(format!("serialNumber {serial} must be 1 to 10 digits"));
            }
        }
        let mut positions = std::collections::HashSet::new();
        for port in &self.ports {
            let pos = (port.node, port.slot, port.card_port);
            if !positions.insert(pos) {
                return invalid(format!("port {}:{}:{} appears twice", pos.0, pos.1, pos.2));
            }
            let ip: std::net::Ipv4Addr = port
                .ip
                .parse()
                .map_err(|_| TopologyError::Invalid(format!("port {}: not an IPv4 address", port.ip)))?;
            if !ip.is_loopback() {
                return invalid(format!("port {ip} is not a loopback address; the emulator only serves 127.0.0.0/8"));
            }
        }
        Ok(())
    }
}

/// The limits in force: the topology's, else the family's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    pub max_volume_name_length: usize,
    pub max_host_name_length: usize,
    /// Name27 (reference §1.5).
    pub max_set_name_length: usize,
    pub min_volume_size_mib: u64,
    pub max_volume_size_mib: u64,
    pub snapshot_alternation: bool,
    pub copy_rate_mib_per_sec: u64,
    pub max_volumes: usize,
    pub max_virtual_copies_per_volume: usize,
    pub allows_full_volumes: bool,
}

/// Sizes round up to this (reference §2).
pub const GRANULARITY_MIB: u64 = 256;
/// The highest LUN (python's `getNextLunId`); NVMe LUNs are namespace ids 1 to 256.
pub const MAX_LUN: u32 = 16_383;
pub const MAX_NVME_LUN: u32 = 256;
pub const MAX_PATHS_PER_HOST: usize = 1024;
/// Name223 (iSCSI names; NQNs have the same limit in the NVMe specification).
pub const MAX_PATH_NAME_LENGTH: usize = 223;
pub const MAX_VOLUME_COMMENT_LENGTH: usize = 511;
pub const MAX_SET_COMMENT_LENGTH: usize = 255;
pub const MAX_RETENTION_HOURS: u32 = 43_800;

impl Limits {
    pub fn of(topology: &Topology) -> Limits {
        let family = topology.system.family;
        let l = &topology.limits;
        Limits {
            max_volume_name_length: l.max_volume_name_length.unwrap_or(family.volume_name_length()),
            max_host_name_length: l.max_host_name_length.unwrap_or(31),
            max_set_name_length: 27,
            min_volume_size_mib: GRANULARITY_MIB,
            // 16 TiB: the TPVV limit of 3.1.3 and the mock's architectural limit.
            max_volume_size_mib: l.max_volume_size_mib.unwrap_or(16 * 1024 * 1024),
            snapshot_alternation: l.snapshot_alternation.unwrap_or(false),
            copy_rate_mib_per_sec: l.copy_rate_mib_per_sec.unwrap_or(1024),
            max_volumes: l.max_volumes.unwrap_or(65_535),
            max_virtual_copies_per_volume: l.max_virtual_copies_per_volume.unwrap_or(500),
            allows_full_volumes: family.allows_full_volumes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_has_two_cpgs_and_both_port_protocols_on_loopback() {
        let t = Topology::default_embedded();
        assert!(t.cpgs.len() >= 2);
        assert!(t.ports.iter().any(|p| p.protocol == PortProtocol::Nvme));
        assert!(t.ports.iter().any(|p| p.protocol == PortProtocol::Iscsi));
        assert_eq!(Limits::of(&t).max_volume_name_length, 37);
    }

    #[test]
    fn non_loopback_ports_duplicate_cpgs_and_bad_serials_are_refused() {
        let base = r#"{"system":{"name":"a","model":"m","osVersion":"4.6.0","family":"3par"SERIAL},
            "cpgs":[CPGS],"ports":[{"node":0,"slot":1,"cardPort":1,"protocol":"iscsi","ip":"IP"}]}"#;
        let make = |serial: &str, cpgs: &str, ip: &str| {
            Topology::parse(&base.replace("SERIAL", serial).replace("CPGS", cpgs).replace("IP", ip))
        };
        let one = r#"{"name":"c","capacityMiB":1024}"#;
        let t = make("", one, "127.0.0.9").unwrap();
        assert_eq!(Limits::of(&t).max_volume_name_length, 31);
        assert!(matches!(make("", one, "10.0.0.1"), Err(TopologyError::Invalid(_))));
        assert!(matches!(make("", &format!("{one},{one}"), "127.0.0.9"), Err(TopologyError::Invalid(_))));
        assert!(matches!(make(r#","serialNumber":"12a""#, one, "127.0.0.9"), Err(TopologyError::Invalid(_))));
        assert!(matches!(make("", one, "127.0.0.9,"), Err(TopologyError::Invalid(_))));
    }
}
