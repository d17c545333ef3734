//! The objects as the real gateway renders them: the full field set and `links`.
//!
//! Field sets follow the reference (`shared/reference/powerflex-api.md` §2); link `rel`s use
//! the singular `relationship` and `href`s the plural `relationships`, as real systems do.

use serde_json::{json, Value};

use crate::model::stats::{Stat, Stats};
use crate::model::*;

fn link(rel: &str, href: String) -> Value {
    json!({ "rel": rel, "href": href })
}

pub(super) fn self_link(ty: &str, id: Id) -> Value {
    link("self", format!("/api/instances/{ty}::{id}"))
}

pub(super) fn rel_link(ty: &str, id: Id, rel: &str) -> Value {
    link(&format!("/api/{ty}/relationship/{rel}"), format!("/api/instances/{ty}::{id}/relationships/{rel}"))
}

pub(super) fn parent_link(field: &str, ty: &str, id: Id) -> Value {
    link(&format!("/api/parent/relationship/{field}"), format!("/api/instances/{ty}::{id}"))
}

/// `GET /api/Configuration`: the gateway's own settings. CloudStack (4.21+) reads `systemId`,
/// `mdmPort` and `mdmAddresses`; the SNMP and security fields are the gateway's defaults.
pub fn configuration(model: &Model) -> Value {
    json!({
        "systemId": model.system().id.to_string(),
        "mdmAddresses": model.mdm_addresses(),
        "mdmPort": 6611,
        "snmpSamplingFrequency": 30,
        "snmpResendFrequency": 0,
        "snmpTrapsReceiverIps": [],
        "snmpPort": 162,
        "featuresEnableSnmp": false,
        "featuresEnableIM": true,
        "allowNonSecureCommunication": false,
        "bypassCertificateCheck": false,
    })
}

/// The System object. Its MDM cluster, MDM IP lists, performance profile and restricted SDC
/// mode are the inventory's (`render_inventory`).
pub fn system(model: &Model) -> Value {
    let s = model.system();
    let id = s.id;
    let c = model.mdm_cluster();
    let access = &model.inventory().sdc_access;
    json!({
        "id": id.to_string(),
        "name": s.name,
        "systemVersionName": "DellEMC PowerFlex Version: R4_5.2100.0",
        "installId": s.install_id.to_string(),
        "mdmCluster": super::render_inventory::mdm_cluster(c, id),
        "mdmManagementPort": 8611,
        "mdmExternalPort": 7611,
        "capacityAlertHighThresholdPercent": 80,
        "capacityAlertCriticalThresholdPercent": 90,
        "remoteReadOnlyLimitState": false,
        "restrictedSdcModeEnabled": access.mode != inventory::RestrictedSdcMode::None,
        "restrictedSdcMode": access.mode.as_str(),
        "enterpriseFeaturesEnabled": true,
        "isInitialLicense": true,
        "defaultIsVolumeObfuscated": false,
        "cliPasswordAllowed": true,
        "managementClientSecureCommunicationEnabled": true,
        "showGuid": true,
        "defragmentationEnabled": true,
        "swid": "",
        "daysInstalled": 1,
        "maxCapacityInGb": "Unlimited",
        "capacityTimeLeftInDays": "Unlimited",
        "perfProfile": c.perf_profile,
        "tlsVersion": "TLSv1.2",
        "authenticationMethod": "Native",
        "mdmSecurityPolicy": "None",
        "upgradeState": "NoUpgrade",
        "systemNqn": s.system_nqn,
        "primaryMdmActorIpList": c.ips_of(&[c.primary]),
        "secondaryMdmActorIpList": c.ips_of(&c.secondaries),
        "tiebreakerMdmIpList": c.ips_of(&c.tiebreakers),
        "mdmManagementIPList": model.mdm_addresses(),
        "lastUpgradeTime": 0,
        "realignNetPathInterval": 0,
        "lastRealignNetPathTime": 0,
        "links": [
            self_link("System", id),
            rel_link("System", id, "Statistics"),
            rel_link("System", id, "ProtectionDomain"),
            rel_link("System", id, "Sdc"),
            rel_link("System", id, "User"),
        ],
    })
}

fn counter_parameters() -> Value {
    json!({
        "shortWindow": { "threshold": 300, "windowSizeInSec": 60 },
        "mediumWindow": { "threshold": 500, "windowSizeInSec": 3600 },
        "longWindow": { "threshold": 700, "windowSizeInSec": 86400 },
    })
}

pub fn protection_domain(pd: &ProtectionDomain, system: Id) -> Value {
    let id = pd.id;
    let mut links = vec![self_link("ProtectionDomain", id)];
    for rel in [
        "Statistics",
        "Sdr",
        "AccelerationPool",
        "StoragePool",
        "Sds",
        "ReplicationConsistencyGroup",
        "FaultSet",
        "Sdt",
    ] {
        links.push(rel_link("ProtectionDomain", id, rel));
    }
    links.push(parent_link("systemId", "System", system));
    let s = &pd.settings;
    json!({
        "id": id.to_string(),
        "name": pd.name,
        "systemId": system.to_string(),
        "protectionDomainState": if s.active { "Active" } else { "Inactive" },
        "rebuildNetworkThrottlingInKbps": s.rebuild_limit_kbps,
        "rebalanceNetworkThrottlingInKbps": s.rebalance_limit_kbps,
        "overallIoNetworkThrottlingInKbps": s.overall_limit_kbps,
        "vtreeMigrationNetworkThrottlingInKbps": s.vtree_migration_limit_kbps,
        "protectedMaintenanceModeNetworkThrottlingInKbps": null,
        "rebuildNetworkThrottlingEnabled": s.rebuild_limit_kbps.is_some(),
        "rebalanceNetworkThrottlingEnabled": s.rebalance_limit_kbps.is_some(),
        "overallIoNetworkThrottlingEnabled": s.overall_limit_kbps.is_some(),
        "vtreeMigrationNetworkThrottlingEnabled": s.vtree_migration_limit_kbps.is_some(),
        "protectedMaintenanceModeNetworkThrottlingEnabled": false,
        "fglDefaultNumConcurrentWrites": 1000,
        "fglMetadataCacheEnabled": false,
        "fglDefaultMetadataCacheSize": 0,
        "rfcacheEnabled": s.rfcache_enabled,
        "rfcacheAccpId": null,
        "rfcacheOpertionalMode": s.rfcache_mode,
        "rfcachePageSizeKb": s.rfcache_page_size_kb,
        "rfcacheMaxIoSizeKb": s.rfcache_max_io_size_kb,
        "sdrSdsConnectivityInfo": {
            "clientServerConnStatus": "CLIENT_SERVER_CONN_STATUS_ALL_CONNECTED",
            "disconnectedClientId": null, "disconnectedClientName": null,
            "disconnectedServerId": null, "disconnectedServerName": null, "disconnectedServerIp": null,
        },
        "sdsConfigurationFailureCounterParameters": counter_parameters(),
        "sdsDecoupledCounterParameters": counter_parameters(),
        "mdmSdsNetworkDisconnectionsCounterParameters": counter_parameters(),
        "sdsSdsNetworkDisconnectionsCounterParameters": counter_parameters(),
        "sdsReceiveBufferAllocationFailuresCounterParameters": counter_parameters(),
        "replicationCapacityMaxRatio": 0,
        "rplCapAlertLevel": "normal",
        "links": links,
    })
}

pub fn storage_pool(p: &StoragePool) -> Value {
    let id = p.id;
    let mut links = vec![self_link("StoragePool", id)];
    for rel in ["Statistics", "SpSds", "Volume", "Device", "VTree"] {
        links.push(rel_link("StoragePool", id, rel));
    }
    links.push(parent_link("protectionDomainId", "ProtectionDomain", p.protection_domain));
    let s = &p.settings;
    let mut v = json!({
        "id": id.to_string(),
        "name": p.name,
        "protectionDomainId": p.protection_domain.to_string(),
        "mediaType": p.media_type,
        "dataLayout": s.data_layout.as_str(),
        "zeroPaddingEnabled": p.zero_padding,
        "useRmcache": s.use_rmcache,
        "useRfcache": s.use_rfcache,
        "sparePercentage": p.spare_percentage,
        "rmcacheWriteHandlingMode": s.rmcache_write_handling_mode,
        "checksumEnabled": s.checksum_enabled,
        "rebuildEnabled": s.rebuild_enabled,
        "rebalanceEnabled": s.rebalance_enabled,
        "compressionMethod": s.compression_method.as_str(),
        "fragmentationEnabled": s.fragmentation_enabled,
        "numOfParallelRebuildRebalanceJobsPerDevice": s.parallel_rebuild_rebalance_jobs,
        "capacityAlertHighThreshold": s.capacity_alert_high_percent,
        "capacityAlertCriticalThreshold": s.capacity_alert_critical_percent,
        "capacityUsageState": "Normal",
        "capacityUsageType": "NetCapacity",
        "addressSpaceUsage": "Normal",
        "addressSpaceUsageType": "DeviceCapacityLimit",
        "externalAccelerationType": "None",
        "persistentChecksumState": "Protected",
        "persistentChecksumEnabled": s.persistent_checksum_enabled,
        "persistentChecksumBuilderLimitKb": s.persistent_checksum_builder_limit_kb,
        "persistentChecksumValidateOnRead": s.persistent_checksum_validate_on_read,
        "bgScannerCompareErrorAction": "ReportAndFix",
        "bgScannerReadErrorAction": "ReportAndFix",
        "backgroundScannerMode": "Disabled",
        "backgroundScannerBWLimitKBps": 3072,
        "replicationCapacityMaxRatio": s.replication_journal_capacity_max_ratio,
        "fglAccpId": null,
        "fglExtraCapacity": null,
        "fglOverProvisioningFactor": null,
        "fglWriteAtomicitySize": null,
        "fglMaxCompressionRatio": null,
        "fglPerfProfile": null,
        "fglMetadataSizeXx100": null,
        "fglNvdimmWriteCacheSizeInMb": null,
        "fglNvdimmMetadataAmortizationX100": null,
        "links": links,
    });
    for (kind, priority) in [
        ("rebuild", &s.rebuild_io_priority),
        ("rebalance", &s.rebalance_io_priority),
        ("vtreeMigration", &s.vtree_migration_io_priority),
        ("protectedMaintenanceMode", &s.protected_maintenance_mode_io_priority),
    ] {
        v[format!("{kind}IoPriorityPolicy")] = json!(priority.policy);
        v[format!("{kind}IoPriorityNumOfConcurrentIosPerDevice")] = json!(priority.concurrent_ios_per_device);
        v[format!("{kind}IoPriorityBwLimitPerDeviceInKbps")] = json!(priority.bw_limit_per_device_kbps);
        v[format!("{kind}IoPriorityAppIopsPerDeviceThreshold")] = Value::Null;
        v[format!("{kind}IoPriorityAppBwPerDeviceThresholdInKbps")] = Value::Null;
        v[format!("{kind}IoPriorityQuietPeriodInMsec")] = Value::Null;
    }
    v
}

pub fn sdt(s: &Sdt, system: Id) -> Value {
    let id = s.id;
    json!({
        "id": id.to_string(),
        "name": s.name,
        "sdtState": "Normal",
        "ipList": s.ips.iter().map(|ip| json!({ "role": s.role(ip).as_str(), "ip": ip })).collect::<Vec<_>>(),
        "systemId": system.to_string(),
        "protectionDomainId": s.protection_domain.to_string(),
        "storagePort": s.storage_port,
        "nvmePort": s.nvme_port,
        "discoveryPort": s.discovery_port,
        "certificateInfo": null,
        "mdmConnectionState": "Connected",
        "membershipState": "Joined",
        "faultSetId": null,
        "softwareVersionInfo": "R4_5.2100.0",
        "maintenanceState": if s.in_maintenance { "InMaintenance" } else { "NoMaintenance" },
        "authenticationError": "None",
        "persistentDiscoveryControllersNum": 0,
        "links": [
            self_link("Sdt", id),
            rel_link("Sdt", id, "Statistics"),
            parent_link("protectionDomainId", "ProtectionDomain", s.protection_domain),
        ],
    })
}

fn mapped_info(model: &Model, m: &Mapping) -> Value {
    let host = model.host(m.host);
    let (ip, nqn, host_type) = match host.map(|h| &h.kind) {
        Some(HostKind::Sdc { ip, .. }) => (json!(ip), Value::Null, "SdcHost"),
        Some(HostKind::Nvme { nqn, .. }) => (Value::Null, json!(nqn), "NVMeHost"),
        None => (Value::Null, Value::Null, "SdcHost"),
    };
    json!({
        "sdcId": m.host.to_string(),
        "sdcIp": ip,
        "sdcName": host.and_then(|h| h.name.clone()),
        "limitIops": m.limit_iops,
        "limitBwInMbps": m.limit_bw_mbps,
        "accessMode": m.access_mode.as_str(),
        "isDirectBufferMapping": false,
        "nqn": nqn,
        "hostType": host_type,
    })
}

pub fn volume(model: &Model, v: &Volume) -> Value {
    let id = v.id;
    let mut links = vec![
        self_link("Volume", id),
        rel_link("Volume", id, "Statistics"),
        parent_link("vtreeId", "VTree", v.vtree),
        parent_link("storagePoolId", "StoragePool", v.pool),
    ];
    if let Some(a) = v.ancestor {
        links.push(parent_link("ancestorVolumeId", "Volume", a));
    }
    let volume_type = match (v.is_snapshot, v.provisioning) {
        (true, _) => "Snapshot",
        (false, Provisioning::Thin) => "ThinProvisioned",
        (false, Provisioning::Thick) => "ThickProvisioned",
    };
    let auto = model.auto_snapshot(id);
    let mapped = if v.mappings.is_empty() {
        Value::Null
    } else {
        Value::Array(v.mappings.iter().map(|m| mapped_info(model, m)).collect())
    };
    json!({
        "id": id.to_string(),
        "name": v.name,
        "sizeInKb": v.size_kb,
        "storagePoolId": v.pool.to_string(),
        "vtreeId": v.vtree.to_string(),
        "ancestorVolumeId": v.ancestor.map(|a| a.to_string()),
        "consistencyGroupId": v.consistency_group.map(|g| g.to_string()),
        "volumeType": volume_type,
        "dataLayout": model.pool(v.pool).map(|p| p.settings.data_layout.as_str()),
        "compressionMethod": model.pool(v.pool).map(|p| p.settings.compression_method.as_str()),
        "creationTime": v.creation_time,
        "mappedSdcInfo": mapped,
        "mappingToAllSdcsEnabled": false,
        "accessModeLimit": v.access_mode_limit.as_str(),
        "useRmcache": v.use_rmcache,
        "isObfuscated": false,
        "isVvol": false,
        "managedBy": "ScaleIO",
        "notGenuineSnapshot": false,
        "secureSnapshotExpTime": v.secure_snapshot_exp_time,
        "originalExpiryTime": v.original_expiry_time,
        "retentionLevels": [],
        "snplIdOfSourceVolume": model.policy_of_source(id).map(|p| p.to_string()),
        "snplIdOfAutoSnapshot": auto.map(|a| a.policy.to_string()),
        "autoSnapshotGroupId": auto.map(|a| a.group.to_string()),
        "lockedAutoSnapshot": false,
        "lockedAutoSnapshotMarkedForRemoval": false,
        "timeStampIsAccurate": false,
        "pairIds": null,
        "volumeReplicationState": "UnmarkedForReplication",
        "replicationJournalVolume": false,
        "replicationTimeStamp": 0,
        "volumeClass": "defaultclass",
        "nsid": v.nsid,
        "nguid": model.nguid(id),
        "links": links,
    })
}

pub fn vtree(model: &Model, t: &VTree) -> Value {
    let id = t.id;
    let roots = model.vtree_roots(id);
    // A VTree is named after its base volume (and follows its renames).
    let name = roots.first().and_then(|r| model.volume(*r)).and_then(|v| v.name.clone());
    json!({
        "id": id.to_string(),
        "name": name,
        "storagePoolId": t.pool.to_string(),
        "dataLayout": model.pool(t.pool).map(|p| p.settings.data_layout.as_str()),
        "compressionMethod": model.pool(t.pool).map(|p| p.settings.compression_method.as_str()),
        "inDeletion": false,
        "rootVolumes": roots.iter().map(Id::to_string).collect::<Vec<_>>(),
        "baseVolumeId": roots.first().map(Id::to_string),
        "vtreeMigrationInfo": {
            "sourceStoragePoolId": null, "destinationStoragePoolId": null,
            "migrationStatus": "NotInMigration", "migrationPauseReason": null,
            "migrationQueuePosition": 0, "thicknessConversionType": null,
        },
        "links": [
            self_link("VTree", id),
            rel_link("VTree", id, "Statistics"),
            rel_link("VTree", id, "Volume"),
            parent_link("storagePoolId", "StoragePool", t.pool),
        ],
    })
}

/// SDCs and NVMe hosts share one id space and one shape; unused fields are null.
pub fn host(h: &Host, system: Id) -> Value {
    let id = h.id;
    let common = json!({ "id": id.to_string(), "name": h.name, "systemId": system.to_string() });
    let mut v = match &h.kind {
        HostKind::Sdc { guid, ip, connected, perf_profile } => json!({
            "sdcGuid": guid, "sdcIp": ip, "sdcIps": [ip], "sdcApproved": true, "sdcApprovedIps": null,
            "mdmConnectionState": if *connected { "Connected" } else { "Disconnected" },
            "osType": "Linux", "perfProfile": perf_profile.as_str(),
            "sdcType": "AppSdc", "hostType": "SdcHost", "hostOsFullType": null,
            "softwareVersionInfo": "R4_5.2100.0", "versionInfo": "R4_5.2100.0",
            "installedSoftwareVersionInfo": "R4_5.2100.0", "kernelVersion": "6.1.0", "kernelBuildNumber": null,
            "sdcAgentActive": false, "mdmIpAddressesCurrent": false, "peerMdmId": null, "sdtId": null,
            "sdrId": null, "socketAllocationFailure": null, "memoryAllocationFailure": null,
            "nqn": null, "maxNumPaths": null, "maxNumSysPorts": null,
            "links": [
                self_link("Sdc", id), rel_link("Sdc", id, "Statistics"), rel_link("Sdc", id, "Volume"),
                parent_link("systemId", "System", system),
            ],
        }),
        HostKind::Nvme { nqn, max_num_paths, max_num_sys_ports } => json!({
            "hostType": "NVMeHost", "hostOsFullType": "Generic", "nqn": nqn,
            "maxNumPaths": max_num_paths, "maxNumSysPorts": max_num_sys_ports,
            "sdcIps": null, "osType": null, "sdcApproved": null, "sdcAgentActive": null,
            "mdmIpAddressesCurrent": null, "sdcIp": null, "perfProfile": null, "peerMdmId": null,
            "sdtId": null, "mdmConnectionState": null, "softwareVersionInfo": null,
            "socketAllocationFailure": null, "memoryAllocationFailure": null, "versionInfo": null,
            "sdcType": null, "sdcGuid": null, "installedSoftwareVersionInfo": null,
            "kernelVersion": null, "kernelBuildNumber": null, "sdcApprovedIps": null, "sdrId": null,
            "links": [
                self_link("Host", id), rel_link("Host", id, "Volume"), rel_link("Host", id, "NvmeController"),
                parent_link("systemId", "System", system),
            ],
        }),
    };
    for (k, val) in common.as_object().expect("object") {
        v[k] = val.clone();
    }
    v
}

pub fn stat(value: &Stat) -> Value {
    match value {
        Stat::Int(n) => json!(n),
        Stat::Float(f) => json!(f),
        Stat::Text(t) => json!(t),
        Stat::Bool(b) => json!(b),
        Stat::Ids(ids) => json!(ids.iter().map(Id::to_string).collect::<Vec<_>>()),
        Stat::Null => Value::Null,
        Stat::Rate => idle_bwc(),
    }
}

pub fn stats(stats: &Stats) -> Value {
    Value::Object(stats.iter().map(|(k, v)| (k.to_string(), stat(v))).collect())
}

/// Bandwidth counters (`{totalWeightInKb, numOccured, numSeconds}`) that clients decode.
fn idle_bwc() -> Value {
    json!({ "totalWeightInKb": 0, "numOccured": 0, "numSeconds": 0 })
}

/// A snapshot policy (goscaleio `types.SnapshotPolicy`; the Ansible module's sample).
pub fn snapshot_policy(model: &Model, p: &SnapshotPolicy) -> Value {
    let (id, system, s) = (p.id, model.system().id, &p.settings);
    json!({
        "id": id.to_string(),
        "name": s.name,
        "systemId": system.to_string(),
        "snapshotPolicyState": if s.paused { "Paused" } else { "Active" },
        "autoSnapshotCreationCadenceInMin": s.cadence_min,
        "numOfRetainedSnapshotsPerLevel": s.retained_per_level,
        "maxVTreeAutoSnapshots": p.max_vtree_auto_snapshots(),
        "snapshotAccessMode": s.access_mode.as_str(),
        "secureSnapshots": s.secure,
        "numOfSourceVolumes": p.sources.len(),
        "numOfAutoSnapshots": model.policy_auto_snapshots(id).count(),
        "numOfLockedSnapshots": 0,
        "numOfExpiredButLockedSnapshots": 0,
        "timeOfLastAutoSnapshot": p.last_auto_snapshot_time,
        "nextAutoSnapshotCreationTime": p.next_creation_time(),
        "numOfCreationFailures": p.creation_failures,
        "timeOfLastAutoSnapshotCreationFailure": p.last_failure_time,
        "lastAutoSnapshotCreationFailureReason": "NR",
        "lastAutoSnapshotFailureInFirstLevel": false,
        "links": [
            self_link("SnapshotPolicy", id),
            rel_link("SnapshotPolicy", id, "Statistics"),
            rel_link("SnapshotPolicy", id, "SourceVolume"),
            rel_link("SnapshotPolicy", id, "AutoSnapshotVolume"),
            parent_link("systemId", "System", system),
        ],
    })
}
