//! Creating, changing and removing protection domains, storage pools and SDTs: request bodies
//! as PyPowerFlex (`gen1/protection_domain.py`, `gen1/storage_pool.py`, `common/sdt.py`) and
//! Dell's Ansible modules send them, parsed into model commands.

use std::sync::Arc;

use serde_json::Value;

use super::actions::run;
use super::body::Body;
use super::error::{ApiError, ApiResult};
use super::objects::unknown_action;
use super::Gateway;
use crate::model::settings::IpRole;
use crate::model::*;

fn missing(key: &str) -> ApiError {
    ApiError::bad_request(format!("Missing required parameter: {key}"))
}

fn required_bool(body: &Body, key: &str) -> ApiResult<bool> {
    body.boolean(key)?.ok_or_else(|| missing(key))
}

fn required_uint(body: &Body, key: &str) -> ApiResult<u64> {
    body.uint(key)?.ok_or_else(|| missing(key))
}

/// A TCP port: 1 to 65535, else the MDM's "out of range".
fn port(body: &Body, key: &str) -> ApiResult<Option<u16>> {
    match body.uint(key)? {
        None => Ok(None),
        Some(n) => u16::try_from(n)
            .ok()
            .filter(|p| *p > 0)
            .map(Some)
            .ok_or_else(|| Fault::invalid(format!("{key} {n}")).into()),
    }
}

fn required_port(body: &Body, key: &str) -> ApiResult<u16> {
    port(body, key)?.ok_or_else(|| missing(key))
}

fn parse_role(key: &str, role: &str) -> ApiResult<IpRole> {
    IpRole::parse(role).ok_or_else(|| Fault::invalid(format!("{key} {role:?}")).into())
}

/// An IP role; absent means `StorageAndHost`, the role every SDT address has by default.
fn role(body: &Body, key: &str) -> ApiResult<IpRole> {
    body.string(key)?.map_or(Ok(IpRole::StorageAndHost), |r| parse_role(key, &r))
}

/// `POST /api/types/{ProtectionDomain,StoragePool,Sdt}/instances`.
pub async fn create(gw: &Arc<Gateway>, ty: &str, body: &Body) -> ApiResult<Value> {
    let command = match ty {
        // {"name"}
        "ProtectionDomain" => Command::CreateDomain { name: body.required_string("name")? },
        // {"protectionDomainId", "name", "mediaType"?, "dataLayout"?, "compressionMethod"?,
        //  "zeroPaddingEnabled"?, "sparePercentage"?, "useRmcache"?, "useRfcache"?,
        //  "checksumEnabled"?, "rmcacheWriteHandlingMode"?, "externalAccelerationType"?, "fglAccpId"?}
        "StoragePool" => Command::CreatePool(Box::new(NewPool {
            domain: body.required_id("protectionDomainId", "ProtectionDomain")?,
            name: body.required_string("name")?,
            media_type: body.string("mediaType")?,
            data_layout: body.string("dataLayout")?,
            compression_method: body.string("compressionMethod")?,
            zero_padding: body.boolean("zeroPaddingEnabled")?,
            spare_percentage: body.uint("sparePercentage")?,
            use_rmcache: body.boolean("useRmcache")?,
            use_rfcache: body.boolean("useRfcache")?,
            checksum_enabled: body.boolean("checksumEnabled")?,
            rmcache_write_handling_mode: body.string("rmcacheWriteHandlingMode")?,
        })),
        // {"ips": [{"ip", "role"}], "storagePort"?, "nvmePort"?, "discoveryPort"?, "name",
        //  "protectionDomainId"}
        "Sdt" => {
            let ips = body
                .array("ips")?
                .ok_or_else(|| missing("ips"))?
                .iter()
                .map(|entry| {
                    let entry = Body::from_value(entry)?;
                    Ok((entry.required_string("ip")?, role(&entry, "role")?))
                })
                .collect::<ApiResult<Vec<_>>>()?;
            Command::CreateSdt(Box::new(NewSdt {
                domain: body.required_id("protectionDomainId", "ProtectionDomain")?,
                name: body.required_string("name")?,
                ips,
                storage_port: port(body, "storagePort")?,
                nvme_port: port(body, "nvmePort")?,
                discovery_port: port(body, "discoveryPort")?,
            }))
        }
        _ => return Err(ApiError::not_found_path()),
    };
    run(gw, command).await
}

/// `POST /api/instances/{ProtectionDomain,StoragePool,Sdt}::{id}/action/{action}`.
pub async fn instance_action(gw: &Arc<Gateway>, ty: &str, id: Id, action: &str, body: &Body) -> ApiResult<Value> {
    let command = match ty {
        "ProtectionDomain" => domain_command(id, action, body)?,
        "StoragePool" => pool_command(id, action, body)?,
        _ => sdt_command(id, action, body)?,
    };
    run(gw, command).await
}

fn domain_command(domain: Id, action: &str, body: &Body) -> ApiResult<Command> {
    let change = match action {
        "removeProtectionDomain" => return Ok(Command::RemoveDomain { domain }),
        // {"name"}
        "setProtectionDomainName" => DomainChange::Rename(match body.string("name")? {
            Some(name) => name,
            None => body.required_string("newName")?,
        }),
        // {"forceActivate"?}
        "activateProtectionDomain" => DomainChange::Activate,
        // {"forceShutdown"?}
        "inactivateProtectionDomain" => DomainChange::Inactivate,
        // {"rebuildLimitInKbps"?, "rebalanceLimitInKbps"?, "vtreeMigrationLimitInKbps"?,
        //  "overallLimitInKbps"?}
        "setSdsNetworkLimits" => DomainChange::NetworkLimits {
            rebuild_kbps: body.uint("rebuildLimitInKbps")?,
            rebalance_kbps: body.uint("rebalanceLimitInKbps")?,
            vtree_migration_kbps: body.uint("vtreeMigrationLimitInKbps")?,
            overall_kbps: body.uint("overallLimitInKbps")?,
        },
        "enableSdsRfcache" => DomainChange::RfcacheEnabled(true),
        "disableSdsRfcache" => DomainChange::RfcacheEnabled(false),
        // {"pageSizeKb"?, "maxIOSizeKb"?, "rfcacheOperationMode"?}
        "setRfcacheParameters" => DomainChange::RfcacheParameters {
            page_size_kb: body.uint("pageSizeKb")?,
            max_io_size_kb: body.uint("maxIOSizeKb")?,
            mode: body.string("rfcacheOperationMode")?,
        },
        _ => return Err(unknown_action("ProtectionDomain", action)),
    };
    Ok(Command::ModifyDomain { domain, change })
}

/// `{"policy", "numOfConcurrentIosPerDevice"?, "bwLimitPerDeviceInKbps"?}`
fn io_priority(kind: IoPriorityKind, body: &Body) -> ApiResult<PoolChange> {
    Ok(PoolChange::IoPriority {
        kind,
        policy: body.required_string("policy")?,
        concurrent_ios: body.uint("numOfConcurrentIosPerDevice")?,
        bw_limit_kbps: body.uint("bwLimitPerDeviceInKbps")?,
    })
}

fn pool_command(pool: Id, action: &str, body: &Body) -> ApiResult<Command> {
    let change = match action {
        "removeStoragePool" => return Ok(Command::RemovePool { pool }),
        "setStoragePoolName" => PoolChange::Rename(body.required_string("name")?),
        "setZeroPaddingPolicy" => PoolChange::ZeroPadding(required_bool(body, "zeroPadEnabled")?),
        "setSparePercentage" => PoolChange::SparePercentage(required_uint(body, "sparePercentage")?),
        "setRebuildEnabled" => PoolChange::RebuildEnabled(required_bool(body, "rebuildEnabled")?),
        "setRebalanceEnabled" => PoolChange::RebalanceEnabled(required_bool(body, "rebalanceEnabled")?),
        "setRebuildRebalanceParallelism" => PoolChange::RebuildRebalanceParallelism(required_uint(body, "limit")?),
        "setUseRmcache" => PoolChange::UseRmcache(required_bool(body, "useRmcache")?),
        "setUseRfcache" => PoolChange::UseRfcache(required_bool(body, "useRfcache")?),
        "enableRfcache" => PoolChange::UseRfcache(true),
        "disableRfcache" => PoolChange::UseRfcache(false),
        "setChecksumEnabled" => PoolChange::ChecksumEnabled(required_bool(body, "checksumEnabled")?),
        "enableFragmentation" => PoolChange::FragmentationEnabled(true),
        "disableFragmentation" => PoolChange::FragmentationEnabled(false),
        // {"mediaType", "overrideDeviceConfiguration"?}
        "setMediaType" => PoolChange::MediaType(body.required_string("mediaType")?),
        "setRmcacheWriteHandlingMode" => {
            PoolChange::RmcacheWriteHandlingMode(body.required_string("rmcacheWriteHandlingMode")?)
        }
        "setCapacityAlertThresholds" => PoolChange::CapacityAlertThresholds {
            high: body.uint("capacityAlertHighThresholdPercent")?,
            critical: body.uint("capacityAlertCriticalThresholdPercent")?,
        },
        "setRebuildIoPriorityPolicy" => io_priority(IoPriorityKind::Rebuild, body)?,
        "setRebalanceIoPriorityPolicy" => io_priority(IoPriorityKind::Rebalance, body)?,
        "setVTreeMigrationIoPriorityPolicy" => io_priority(IoPriorityKind::VTreeMigration, body)?,
        "setProtectedMaintenanceModeIoPriorityPolicy" => io_priority(IoPriorityKind::ProtectedMaintenanceMode, body)?,
        "setReplicationJournalCapacity" => {
            PoolChange::ReplicationJournalCapacity(required_uint(body, "replicationJournalCapacityMaxRatio")?)
        }
        // {"validateOnRead"?, "builderLimitInKb"?}
        "enablePersistentChecksum" | "modifyPersistentChecksum" | "disablePersistentChecksum" => {
            PoolChange::PersistentChecksum {
                enabled: match action {
                    "enablePersistentChecksum" => Some(true),
                    "disablePersistentChecksum" => Some(false),
                    _ => None,
                },
                validate_on_read: body.boolean("validateOnRead")?,
                builder_limit_kb: body.uint("builderLimitInKb")?,
            }
        }
        "modifyCompressionMethod" => PoolChange::CompressionMethod(body.required_string("compressionMethod")?),
        _ => return Err(unknown_action("StoragePool", action)),
    };
    Ok(Command::ModifyPool { pool, change })
}

fn sdt_command(sdt: Id, action: &str, body: &Body) -> ApiResult<Command> {
    let change = match action {
        // {"force"?}
        "removeSdt" => return Ok(Command::RemoveSdt { sdt }),
        "renameSdt" => SdtChange::Rename(body.required_string("newName")?),
        "addIp" => SdtChange::AddIp { ip: body.required_string("ip")?, role: role(body, "role")? },
        "removeIp" => SdtChange::RemoveIp(body.required_string("ip")?),
        "modifyIpRole" => SdtChange::ModifyIpRole {
            ip: body.required_string("ip")?,
            role: parse_role("newRole", &body.required_string("newRole")?)?,
        },
        "modifyStoragePort" => SdtChange::StoragePort(required_port(body, "newStoragePort")?),
        "modifyNvmePort" => SdtChange::NvmePort(required_port(body, "newNvmePort")?),
        "modifyDiscoveryPort" => SdtChange::DiscoveryPort(required_port(body, "newDiscoveryPort")?),
        "enterMaintenanceMode" => SdtChange::EnterMaintenance,
        "exitMaintenanceMode" => SdtChange::ExitMaintenance,
        _ => return Err(unknown_action("Sdt", action)),
    };
    Ok(Command::ModifySdt { sdt, change })
}
