//! Discovery: from gateway, user and password to everything else.
//!
//! The pool is found by ID, or by name (or ID) inside `powerflex.domain`;
//! then its protection domain and system, and the NVMe/TCP target addresses
//! (`powerflex.sdt`, or every address of every SDT of the domain). The mode
//! comes from `powerflex.mode` or, when unset, from the host: `nvme` when the
//! `nvme_fabrics` and `nvme_tcp` modules are present, `sdc` when the ScaleIO
//! client is installed, an error otherwise. In `sdc` mode there are no SDT
//! addresses to find: the SDC reaches the volumes itself.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::host::HostProbe;
use crate::powerflex::client::types::{ProtectionDomain, StoragePool, System};
use crate::powerflex::client::{Client, ErrorCode};
use crate::powerflex::config::{Mode, PoolConfig, PoolRef};

/// What discovery found; cached in local state for display, re-read when needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    /// `GET /api/version`.
    pub version: String,
    /// The storage pool.
    pub pool: StoragePool,
    /// Its protection domain.
    pub domain: ProtectionDomain,
    /// The system.
    pub system: System,
    /// NVMe/TCP target addresses.
    pub sdt_addresses: Vec<IpAddr>,
    /// The mode in use.
    pub mode: Mode,
}

/// The mode this host supports.
pub fn detect_mode(probe: &HostProbe) -> Result<Mode> {
    if probe.missing_nvme_modules().is_empty() {
        Ok(Mode::Nvme)
    } else if probe.has_sdc() {
        Ok(Mode::Sdc)
    } else {
        Err(Error::NoModeDetected)
    }
}

/// Finds the pool the configuration names.
pub async fn resolve_pool(client: &Client, config: &PoolConfig) -> Result<StoragePool> {
    match &config.pool {
        PoolRef::Id(id) => match client.storage_pool(id).await {
            Ok(pool) => Ok(pool),
            Err(e)
                if e.is(ErrorCode::StoragePoolNotFound)
                    || matches!(&e, crate::powerflex::client::ClientError::Api(a) if a.http_status == 404) =>
            {
                Err(Error::PoolNotFound { pool: id.clone(), domain: None })
            }
            Err(e) => Err(e.into()),
        },
        PoolRef::InDomain { pool, domain } => {
            let domain_id = match client.query_domain_id(domain).await {
                Ok(id) => id,
                Err(e) if e.is(ErrorCode::DomainNotFound) => {
                    return Err(Error::DomainNotFound { domain: domain.clone() })
                }
                Err(e) => return Err(e.into()),
            };
            let pools = client.domain_pools(&domain_id).await?;
            let found = pools
                .iter()
                .find(|p| p.name.as_deref() == Some(pool.as_str()) || p.id == *pool)
                .ok_or_else(|| Error::PoolNotFound { pool: pool.clone(), domain: Some(domain.clone()) })?;
            Ok(client.storage_pool(&found.id).await?)
        }
    }
}

/// The NVMe/TCP target addresses: the key, or every SDT address of the domain.
pub async fn target_addresses(client: &Client, config: &PoolConfig, domain_id: &str) -> Result<Vec<IpAddr>> {
    if let Some(list) = &config.sdt {
        return Ok(list.clone());
    }
    let mut out = Vec::new();
    for sdt in client.domain_sdts(domain_id).await? {
        for ip in sdt.ip_list {
            match ip.ip.parse::<IpAddr>() {
                Ok(addr) if !out.contains(&addr) => out.push(addr),
                Ok(_) => {}
                Err(_) => tracing::warn!(sdt = %sdt.id, ip = %ip.ip, "ignoring an SDT address that is not an IP"),
            }
        }
    }
    if out.is_empty() {
        return Err(Error::NoTargetAddresses);
    }
    Ok(out)
}

/// Runs the whole discovery.
pub async fn discover(client: &Client, config: &PoolConfig, probe: &HostProbe) -> Result<Discovery> {
    let version = client.version().await?;
    let pool = resolve_pool(client, config).await?;
    let domain_id = pool
        .protection_domain_id
        .clone()
        .ok_or_else(|| Error::Invalid(format!("storage pool {} has no protectionDomainId", pool.id)))?;
    let domain = client.domain(&domain_id).await?;
    let system = client.system(&domain.system_id).await?;
    let mode = match config.mode {
        Some(mode) => mode,
        None => detect_mode(probe)?,
    };
    let sdt_addresses = match mode {
        Mode::Nvme => target_addresses(client, config, &domain.id).await?,
        Mode::Sdc => Vec::new(),
    };
    Ok(Discovery { version, pool, domain, system, sdt_addresses, mode })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_comes_from_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let probe = HostProbe::with_root(dir.path());
        assert!(matches!(detect_mode(&probe), Err(Error::NoModeDetected)));
        assert_eq!(probe.missing_nvme_modules(), vec!["nvme_fabrics", "nvme_tcp"]);

        std::fs::create_dir_all(dir.path().join("dev")).unwrap();
        std::fs::write(dir.path().join("dev/scini"), b"").unwrap();
        assert_eq!(detect_mode(&probe).unwrap(), Mode::Sdc);

        std::fs::create_dir_all(dir.path().join("sys/module/nvme_fabrics")).unwrap();
        assert_eq!(detect_mode(&probe).unwrap(), Mode::Sdc, "NVMe/TCP needs both modules");
        std::fs::create_dir_all(dir.path().join("sys/module/nvme_tcp")).unwrap();
        assert_eq!(detect_mode(&probe).unwrap(), Mode::Nvme);
        assert!(probe.missing_nvme_modules().is_empty());
    }
}
