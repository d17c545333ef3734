//! The static shape of a system: protection domains, storage pools, SDTs and SDCs.
//!
//! A topology file (JSON, see `fixtures/`) describes it; `DEFAULT_TOPOLOGY` is embedded so
//! `pflex-sim serve` needs no file. Ids are not in the file: they are derived from the seed.

use serde::Deserialize;

/// The embedded default topology (`fixtures/topology-default.json`).
pub const DEFAULT_TOPOLOGY: &str = include_str!("../../../fixtures/topology-default.json");

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Topology {
    #[serde(default = "default_system_name")]
    pub system_name: String,
    pub protection_domains: Vec<DomainSpec>,
    #[serde(default)]
    pub sdcs: Vec<SdcSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DomainSpec {
    pub name: String,
    pub storage_pools: Vec<PoolSpec>,
    #[serde(default)]
    pub sdts: Vec<SdtSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PoolSpec {
    pub name: String,
    /// Raw capacity of the pool's devices in GiB (both mirror copies count).
    pub capacity_gb: u64,
    #[serde(default = "default_media")]
    pub media_type: String,
    #[serde(default = "yes")]
    pub zero_padding: bool,
    #[serde(default = "default_spare")]
    pub spare_percentage: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SdtSpec {
    pub name: String,
    pub ips: Vec<String>,
    #[serde(default = "default_nvme_port")]
    pub nvme_port: u16,
    #[serde(default = "default_discovery_port")]
    pub discovery_port: u16,
    #[serde(default = "default_storage_port")]
    pub storage_port: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SdcSpec {
    pub name: Option<String>,
    pub guid: String,
    pub ip: String,
    /// Whether the SDC is connected to the MDM (a real SDC is, once its driver runs).
    #[serde(default = "yes")]
    pub connected: bool,
}

fn default_system_name() -> String {
    "pflex-sim".to_string()
}
fn default_media() -> String {
    "SSD".to_string()
}
fn yes() -> bool {
    true
}
fn default_spare() -> u64 {
    10
}
fn default_nvme_port() -> u16 {
    4420
}
fn default_discovery_port() -> u16 {
    8009
}
fn default_storage_port() -> u16 {
    12200
}

/// Why a topology cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("topology is not valid JSON for pflex-sim: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("topology: {0}")]
    Invalid(String),
}

impl Topology {
    pub fn parse(text: &str) -> Result<Topology, TopologyError> {
        let topology: Topology = serde_json::from_str(text)?;
        topology.validate()?;
        Ok(topology)
    }

    pub fn default_embedded() -> Topology {
        Topology::parse(DEFAULT_TOPOLOGY).expect("the embedded topology is valid")
    }

    fn validate(&self) -> Result<(), TopologyError> {
        let invalid = |m: String| Err(TopologyError::Invalid(m));
        if self.protection_domains.is_empty() {
            return invalid("at least one protection domain is needed".into());
        }
        let mut pool_names = std::collections::HashSet::new();
        let mut domain_names = std::collections::HashSet::new();
        for pd in &self.protection_domains {
            if !domain_names.insert(&pd.name) {
                return invalid(format!("protection domain {} appears twice", pd.name));
            }
            if pd.storage_pools.is_empty() {
                return invalid(format!("protection domain {} has no storage pool", pd.name));
            }
            for pool in &pd.storage_pools {
                if !pool_names.insert((&pd.name, &pool.name)) {
                    return invalid(format!("storage pool {} appears twice in {}", pool.name, pd.name));
                }
                // Whole pools of up to 1 EiB raw; the KiB figure must fit in 64 bits.
                if pool.capacity_gb == 0 || pool.capacity_gb > 1 << 30 {
                    return invalid(format!("storage pool {}: capacityGb must be 1 to 2^30", pool.name));
                }
                if pool.spare_percentage >= 100 {
                    return invalid(format!("storage pool {}: sparePercentage must be below 100", pool.name));
                }
            }
            for sdt in &pd.sdts {
                for ip in &sdt.ips {
                    let parsed: std::net::Ipv4Addr = ip.parse().map_err(|_| {
                        TopologyError::Invalid(format!("SDT {}: {ip} is not an IPv4 address", sdt.name))
                    })?;
                    if !parsed.is_loopback() {
                        return invalid(format!(
                            "SDT {}: {ip} is not a loopback address; the simulator only serves 127.0.0.0/8",
                            sdt.name
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_has_two_domains_and_loopback_sdts() {
        let t = Topology::default_embedded();
        assert_eq!(t.protection_domains.len(), 2);
        let ips: Vec<_> = t.protection_domains.iter().flat_map(|d| &d.sdts).flat_map(|s| &s.ips).collect();
        assert!(ips.iter().any(|ip| *ip == "127.0.0.2"));
        assert!(ips.iter().any(|ip| *ip == "127.0.0.3"));
    }

    #[test]
    fn non_loopback_sdt_is_refused() {
        let text = r#"{"protectionDomains":[{"name":"pd","storagePools":[{"name":"sp","capacityGb":100}],
            "sdts":[{"name":"s","ips":["10.0.0.1"]}]}]}"#;
        assert!(matches!(Topology::parse(text), Err(TopologyError::Invalid(_))));
    }
}
