//! The inventory objects as the real gateway renders them.
//!
//! Field sets: goscaleio `types.Sds`, `types.Device`, `types.FaultSet`, `types.User`,
//! `types.MdmCluster`/`types.Mdm`, with values and link rels from the samples in Dell's Ansible
//! collection (`sds.py`, `device.py`, `mdm_cluster.py`, `info.py` RETURN blocks). Names the
//! Ansible modules add themselves (`protectionDomainName`, `sdsName`, ...) are not here.

use serde_json::{json, Value};

use super::render::{parent_link, rel_link, self_link};
use crate::model::inventory::{Device, FaultSet, Mdm, MdmCluster, Sds, User};
use crate::model::*;

fn window() -> Value {
    json!({ "shortWindow": null, "mediumWindow": null, "longWindow": null })
}

pub fn sds(s: &Sds) -> Value {
    let id = s.id;
    json!({
        "id": id.to_string(),
        "name": s.name,
        "protectionDomainId": s.protection_domain.to_string(),
        "faultSetId": s.fault_set.map(|f| f.to_string()),
        "ipList": s.ips.iter().map(|i| json!({ "ip": i.ip, "role": i.role.as_str() })).collect::<Vec<_>>(),
        "port": s.port,
        "sdsState": "Normal",
        "membershipState": "Joined",
        "mdmConnectionState": "Connected",
        "drlMode": s.drl_mode,
        "configuredDrlMode": s.drl_mode,
        "rmcacheEnabled": s.rmcache_enabled,
        "rmcacheSizeInKb": s.rmcache_size_kb,
        "rmcacheSizeInMb": s.rmcache_size_kb / 1024,
        "rmcacheFrozen": false,
        "rmcacheMemoryAllocationState": if s.rmcache_enabled { "AllocationPending" } else { "NotAllocated" },
        "onVmWare": false,
        "numOfIoBuffers": null,
        "perfProfile": s.perf_profile,
        "softwareVersionInfo": "R4_5.2100.0",
        "rfcacheEnabled": s.rfcache_enabled,
        "rfcacheErrorLowResources": false,
        "rfcacheErrorApiVersionMismatch": false,
        "rfcacheErrorInconsistentCacheConfiguration": false,
        "rfcacheErrorInconsistentSourceConfiguration": false,
        "rfcacheErrorInvalidDriverPath": false,
        "rfcacheErrorDeviceDoesNotExist": false,
        "maintenanceState": "NoMaintenance",
        "maintenanceType": "NoMaintenance",
        "authenticationError": "None",
        "fglNumConcurrentWrites": 1000,
        "fglMetadataCacheState": "Disabled",
        "fglMetadataCacheSize": 0,
        "numRestarts": 0,
        "lastUpgradeTime": 0,
        "sdsDecoupled": null,
        "sdsConfigurationFailure": null,
        "sdsReceiveBufferAllocationFailures": null,
        "raidControllers": null,
        "certificateInfo": null,
        "links": [
            self_link("Sds", id),
            rel_link("Sds", id, "Statistics"),
            rel_link("Sds", id, "SpSds"),
            rel_link("Sds", id, "Device"),
            parent_link("protectionDomainId", "ProtectionDomain", s.protection_domain),
        ],
    })
}

pub fn device(d: &Device) -> Value {
    let id = d.id;
    json!({
        "id": id.to_string(),
        "name": d.name,
        "sdsId": d.sds.to_string(),
        "storagePoolId": d.pool.to_string(),
        "deviceCurrentPathName": d.path,
        "deviceOriginalPathName": d.path,
        "mediaType": d.media_type,
        "autoDetectMediaType": d.media_type,
        "capacityLimitInKb": d.capacity_kb,
        "maxCapacityInKb": d.capacity_kb,
        "capacity": 0,
        "deviceState": "Normal",
        "errorState": "None",
        "aggregatedState": "NeverFailed",
        "temperatureState": "NeverFailed",
        "ssdEndOfLifeState": "NeverFailed",
        "deviceType": "Unknown",
        "ledSetting": "Off",
        "persistentChecksumState": "Protected",
        "externalAccelerationType": "None",
        "accelerationPoolId": null,
        "accelerationProps": null,
        "rfcacheProps": null,
        "rfcacheErrorDeviceDoesNotExist": false,
        "storageProps": { "fglAccDeviceId": null, "fglNvdimmSizeMb": 0, "destFglAccDeviceId": null, "destFglNvdimmSizeMb": 0 },
        "longSuccessfulIos": window(),
        "fglNvdimmMetadataAmortizationX100": 150,
        "fglNvdimmWriteCacheSize": 16,
        "logicalSectorSizeInBytes": 512,
        "physicalSectorSizeInBytes": 512,
        "mediaFailing": false,
        "ataSecurityActive": false,
        "cacheLookAheadActive": false,
        "writeCacheActive": false,
        "modelName": null,
        "vendorName": null,
        "serialNumber": null,
        "firmwareVersion": null,
        "raidControllerSerialNumber": null,
        "slotNumber": null,
        "spSdsId": null,
        "links": [
            self_link("Device", id),
            rel_link("Device", id, "Statistics"),
            parent_link("sdsId", "Sds", d.sds),
            parent_link("storagePoolId", "StoragePool", d.pool),
        ],
    })
}

pub fn fault_set(f: &FaultSet) -> Value {
    let id = f.id;
    json!({
        "id": id.to_string(),
        "name": f.name,
        "protectionDomainId": f.protection_domain.to_string(),
        "links": [
            self_link("FaultSet", id),
            rel_link("FaultSet", id, "Statistics"),
            rel_link("FaultSet", id, "Sds"),
            parent_link("protectionDomainId", "ProtectionDomain", f.protection_domain),
        ],
    })
}

pub fn user(u: &User, system: Id) -> Value {
    json!({
        "id": u.id.to_string(),
        "name": u.name,
        "userRole": u.role,
        "passwordChangeRequired": u.password_change_required,
        "systemId": system.to_string(),
        "links": [self_link("User", u.id), parent_link("systemId", "System", system)],
    })
}

fn mdm(m: &Mdm) -> Value {
    json!({
        "id": m.id.to_string(),
        "name": m.name,
        "port": m.port,
        "ips": m.ips,
        "managementIPs": m.management_ips,
        "role": m.role.as_str(),
        "status": "Normal",
        "versionInfo": "R4_5.2100.0",
        "opensslVersion": if m.role == crate::model::inventory::MdmRole::Manager { "OpenSSL 1.0.2zg-fips  1 Aug 2023" } else { "N/A" },
        "virtualInterfaces": m.virtual_interfaces,
    })
}

/// `System.mdmCluster` and the answer to `queryMdmCluster`: one rendering, one source.
pub fn mdm_cluster(c: &MdmCluster, system: Id) -> Value {
    let list = |ids: &[Id]| ids.iter().filter_map(|id| c.mdm(*id)).map(mdm).collect::<Vec<_>>();
    let members = 1 + c.secondaries.len() + c.tiebreakers.len();
    json!({
        "id": system.to_string(),
        "clusterState": "ClusteredNormal",
        "clusterMode": c.mode.as_str(),
        "master": c.mdm(c.primary).map(mdm),
        "slaves": list(&c.secondaries),
        "tieBreakers": list(&c.tiebreakers),
        "standbyMDMs": list(&c.standbys),
        "goodNodesNum": members,
        "goodReplicasNum": 1 + c.secondaries.len(),
        "virtualIps": [],
    })
}

/// The SDC fields the inventory decides: approved IPs, and the connection state of SDCs known
/// only from `approveSdc`.
pub fn sdc_fields(model: &Model, id: Id, v: &mut Value) {
    if v["hostType"] != "SdcHost" {
        return;
    }
    let access = &model.inventory().sdc_access;
    if let Some(ips) = access.approved_ips.get(&id) {
        v["sdcApprovedIps"] = json!(ips);
    }
    if !model.sdc_connected(id) {
        v["mdmConnectionState"] = json!("Disconnected");
        v["sdcIp"] = json!("N/A");
        v["sdcIps"] = Value::Null;
    }
}
