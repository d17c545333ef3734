//! The static shape of a system: protection domains, storage pools, SDTs and SDCs.
//!
//! A topology file (JSON, see `fixtures/`) describes it; `DEFAULT_TOPOLOGY` is embedded so
//! `pflex-sim serve` needs no file. Ids are not in the file: they are derived from the seed.

use serde::Deserialize;

use super::inventory::DEFAULT_SDS_PORT;
use super::layout::{Compression, DataLayout};

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
    /// The MDM cluster; a three-node cluster on 127.0.0.5 to .7 when absent.
    #[serde(default)]
    pub mdm_cluster: Option<MdmSpec>,
    /// The admin user, the one the gateway's credentials log in as: the serve command's
    /// `--user`, not a topology setting.
    #[serde(skip, default = "default_admin_user")]
    pub admin_user: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DomainSpec {
    pub name: String,
    pub storage_pools: Vec<PoolSpec>,
    #[serde(default)]
    pub sdts: Vec<SdtSpec>,
    /// The domain's SDSs; three are made up (`<domain>-sds1` ...) when the list is empty.
    #[serde(default)]
    pub sdss: Vec<SdsSpec>,
    #[serde(default)]
    pub fault_sets: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SdsSpec {
    pub name: String,
    pub ips: Vec<String>,
    #[serde(default)]
    pub fault_set: Option<String>,
    #[serde(default = "default_sds_port")]
    pub port: u16,
}

/// One MDM of the topology's cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MdmNodeSpec {
    pub name: String,
    pub ips: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MdmSpec {
    pub primary: MdmNodeSpec,
    #[serde(default)]
    pub secondaries: Vec<MdmNodeSpec>,
    #[serde(default)]
    pub tie_breakers: Vec<MdmNodeSpec>,
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
    #[serde(default)]
    pub data_layout: DataLayout,
    /// Defaults to what the layout reports (`Invalid` on MG, `None` on FG).
    #[serde(default)]
    pub compression_method: Option<Compression>,
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
fn default_sds_port() -> u16 {
    DEFAULT_SDS_PORT
}
fn default_admin_user() -> String {
    "admin".to_string()
}

impl DomainSpec {
    /// The SDSs this domain has: the listed ones, or three made-up ones on
    /// 127.0.<100 + n>.1 to .3 for the domain's position `n`.
    pub fn sds_specs_at(&self, n: usize) -> Vec<SdsSpec> {
        if !self.sdss.is_empty() {
            return self.sdss.clone();
        }
        (1..=3)
            .map(|i| SdsSpec {
                name: format!("{}-sds{i}", self.name),
                ips: vec![format!("127.0.{}.{i}", 100 + n)],
                fault_set: None,
                port: DEFAULT_SDS_PORT,
            })
            .collect()
    }
}

impl Topology {
    /// The MDM cluster: the topology's, or three nodes on 127.0.0.5 to .7.
    pub fn mdm_cluster(&self) -> MdmSpec {
        self.mdm_cluster.clone().unwrap_or_else(|| {
            let node = |name: &str, ip: &str| MdmNodeSpec { name: name.into(), ips: vec![ip.into()] };
            MdmSpec {
                primary: node("mdm1", "127.0.0.5"),
                secondaries: vec![node("mdm2", "127.0.0.6")],
                tie_breakers: vec![node("tb1", "127.0.0.7")],
            }
        })
    }
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

    /// A domain's SDSs and fault sets: unique names, IPv4 loopback addresses used once.
    fn validate_inventory_of(&self, pd: &DomainSpec) -> Result<(), TopologyError> {
        let n = self.protection_domains.iter().position(|d| std::ptr::eq(d, pd)).unwrap_or(0);
        let mut names = std::collections::HashSet::new();
        for sds in pd.sds_specs_at(n) {
            if !names.insert(sds.name.clone()) {
                return Err(TopologyError::Invalid(format!("SDS {} appears twice in {}", sds.name, pd.name)));
            }
            if sds.ips.is_empty() {
                return Err(TopologyError::Invalid(format!("SDS {} has no IP", sds.name)));
            }
            for ip in &sds.ips {
                loopback(&format!("SDS {}", sds.name), ip)?;
            }
            if let Some(fs) = &sds.fault_set {
                if !pd.fault_sets.contains(fs) {
                    return Err(TopologyError::Invalid(format!(
                        "SDS {}: fault set {fs} is not in {}",
                        sds.name, pd.name
                    )));
                }
            }
        }
        Ok(())
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
                if pool.compression_method.is_some_and(|c| !c.fits(pool.data_layout)) {
                    return invalid(format!(
                        "storage pool {}: compressionMethod Invalid is for MediumGranularity pools only, None and Normal for FineGranularity",
                        pool.name
                    ));
                }
            }
            self.validate_inventory_of(pd)?;
            for sdt in &pd.sdts {
                for ip in &sdt.ips {
                    loopback(&format!("SDT {}", sdt.name), ip)?;
                }
            }
        }
        let cluster = self.mdm_cluster();
        if cluster.secondaries.len() != cluster.tie_breakers.len() || cluster.secondaries.len() > 2 {
            return invalid("mdmCluster: one or two secondaries with as many tieBreakers, or neither".into());
        }
        for node in std::iter::once(&cluster.primary).chain(&cluster.secondaries).chain(&cluster.tie_breakers) {
            for ip in &node.ips {
                loopback(&format!("MDM {}", node.name), ip)?;
            }
        }
        Ok(())
    }
}

/// `ip` must be an IPv4 loopback address: the simulator only serves 127.0.0.0/8.
fn loopback(what: &str, ip: &str) -> Result<(), TopologyError> {
    let parsed: std::net::Ipv4Addr =
        ip.parse().map_err(|_| TopologyError::Invalid(format!("{what}: {ip} is not an IPv4 address")))?;
    if !parsed.is_loopback() {
        return Err(TopologyError::Invalid(format!(
            "{what}: {ip} is not a loopback address; the simulator only serves 127.0.0.0/8"
        )));
    }
    Ok(())
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

    const FINE_GRANULARITY_FIXTURE: &str = include_str!("../../../fixtures/topology-fine-granularity.json");

    #[test]
    fn every_fixture_parses() {
        for (name, text) in [
            ("topology-default.json", DEFAULT_TOPOLOGY),
            ("topology-small.json", include_str!("../../../fixtures/topology-small.json")),
            ("topology-fine-granularity.json", FINE_GRANULARITY_FIXTURE),
        ] {
            if let Err(e) = Topology::parse(text) {
                panic!("{name}: {e:?}");
            }
        }
    }

    #[test]
    fn the_fine_granularity_fixture_sets_layout_and_compression() {
        let t = Topology::parse(FINE_GRANULARITY_FIXTURE).unwrap();
        let pools = &t.protection_domains[0].storage_pools;
        assert_eq!(
            (pools[0].data_layout, pools[0].compression_method),
            (DataLayout::FineGranularity, Some(Compression::Normal))
        );
        assert_eq!((pools[1].data_layout, pools[1].compression_method), (DataLayout::FineGranularity, None));
        assert_eq!(pools[2].data_layout, DataLayout::MediumGranularity);
    }

    #[test]
    fn non_loopback_sdt_is_refused() {
        let text = r#"{"protectionDomains":[{"name":"pd","storagePools":[{"name":"sp","capacityGb":100}],
            "sdts":[{"name":"s","ips":["10.0.0.1"]}]}]}"#;
        assert!(matches!(Topology::parse(text), Err(TopologyError::Invalid(_))));
    }
}
