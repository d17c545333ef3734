//! Protection domains, storage pools and SDTs created, changed and removed through the API,
//! through a real HTTPS client: every action's effect as clients read it back, and the exact
//! status, `errorCode` and message of every refusal (reference `powerflex-api.md` §2.2, §2.3,
//! §2.9, §3.5).

mod common;

use common::*;
use serde_json::{json, Value};

const OUT_OF_RANGE: &str = "Parameter out of range";

fn out_of_range(reason: &str) -> String {
    format!("{OUT_OF_RANGE}: {reason}")
}

impl Api {
    async fn create(&self, ty: &str, body: Value) -> Reply {
        self.post(&format!("/api/types/{ty}/instances"), body).await
    }

    async fn create_ok(&self, ty: &str, body: Value) -> String {
        let reply = ok(self.create(ty, body).await);
        let id = reply["id"].as_str().expect("created id").to_string();
        assert!(is_id(&id), "{id}");
        id
    }

    async fn act(&self, object: &str, action: &str, body: Value) -> Reply {
        self.post(&format!("/api/instances/{object}/action/{action}"), body).await
    }

    async fn act_ok(&self, object: &str, action: &str, body: Value) {
        assert_eq!(ok(self.act(object, action, body).await), json!({}), "{object} {action}");
    }

    async fn object(&self, object: &str) -> Value {
        self.get_ok(&format!("/api/instances/{object}")).await
    }
}

// ---------------------------------------------------------------------------------------------
// Protection domains
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn protection_domain_create_rename_and_remove() {
    let (_gw, api) = start().await;
    let id = api.create_ok("ProtectionDomain", json!({ "name": "pd-new" })).await;
    let pd = api.object(&format!("ProtectionDomain::{id}")).await;
    assert_eq!((pd["name"].clone(), pd["protectionDomainState"].clone()), (json!("pd-new"), json!("Active")));
    assert_eq!(pd["systemId"], json!(api.system_id().await));
    assert_eq!(api.pd_id("pd-new").await, id);
    assert!(ids(&api.get_ok("/api/types/ProtectionDomain/instances").await).contains(&id));

    let object = format!("ProtectionDomain::{id}");
    api.act_ok(&object, "setProtectionDomainName", json!({ "name": "pd-renamed" })).await;
    assert_eq!(api.object(&object).await["name"], json!("pd-renamed"));
    // Renaming to its own name is no clash.
    api.act_ok(&object, "setProtectionDomainName", json!({ "name": "pd-renamed" })).await;

    api.act_ok(&object, "removeProtectionDomain", json!({})).await;
    assert_fault(&api.get(&format!("/api/instances/{object}")).await, 142, "Could not find Protection Domain");
    assert_fault(&api.act(&object, "removeProtectionDomain", json!({})).await, 142, "Could not find Protection Domain");
}

#[tokio::test]
async fn protection_domain_names_follow_the_rules() {
    let (_gw, api) = start().await;
    let in_use = "Protection Domain name already in use. Please try a different name.";
    assert_fault(&api.create("ProtectionDomain", json!({ "name": "pd1" })).await, 141, in_use);
    assert_fault(
        &api.create("ProtectionDomain", json!({ "name": "x".repeat(32) })).await,
        226,
        "The given name exceeds the allowed length of 31 characters.",
    );
    assert_fault(
        &api.create("ProtectionDomain", json!({ "name": "has space" })).await,
        227,
        "The given name contains invalid characters. Use alphanumeric and punctuation characters only. Spaces are not allowed.",
    );
    assert_error(&api.create("ProtectionDomain", json!({})).await, 400, 0, "Missing required parameter: name");
    let pd2 = api.pd_id("pd2").await;
    let reply = api.act(&format!("ProtectionDomain::{pd2}"), "setProtectionDomainName", json!({ "name": "pd1" })).await;
    assert_fault(&reply, 141, in_use);
}

#[tokio::test]
async fn protection_domain_removal_waits_for_its_pools_and_sdts() {
    let (_gw, api) = start().await;
    let pd1 = api.pd_id("pd1").await;
    let reply = api.act(&format!("ProtectionDomain::{pd1}"), "removeProtectionDomain", json!({})).await;
    assert_fault(&reply, 176, "Protection Domain has Storage Pools");

    let pd = api.create_ok("ProtectionDomain", json!({ "name": "pd-sdt" })).await;
    let sdt = api
        .create_ok("Sdt", json!({ "name": "sdt-x", "protectionDomainId": pd, "ips": [{ "ip": "127.0.0.20" }] }))
        .await;
    let object = format!("ProtectionDomain::{pd}");
    assert_fault(&api.act(&object, "removeProtectionDomain", json!({})).await, 143, "Protection Domain has SDSs");
    api.act_ok(&format!("Sdt::{sdt}"), "removeSdt", json!({})).await;
    api.act_ok(&object, "removeProtectionDomain", json!({})).await;
}

#[tokio::test]
async fn inactive_protection_domain_refuses_new_volumes_until_activated() {
    let (_gw, api) = start().await;
    let pd2 = format!("ProtectionDomain::{}", api.pd_id("pd2").await);
    let sp3 = api.pool_id("sp3").await;
    api.act_ok(&pd2, "inactivateProtectionDomain", json!({ "forceShutdown": false })).await;
    assert_eq!(api.object(&pd2).await["protectionDomainState"], json!("Inactive"));
    let body = json!({ "storagePoolId": sp3, "name": "v-inactive", "volumeSizeInGb": "8" });
    assert_fault(&api.create("Volume", body.clone()).await, 213, "The Protection Domain is not active. ");
    api.act_ok(&pd2, "activateProtectionDomain", json!({ "forceActivate": false })).await;
    assert_eq!(api.object(&pd2).await["protectionDomainState"], json!("Active"));
    api.create_ok("Volume", body).await;
}

#[tokio::test]
async fn protection_domain_network_limits_and_rfcache_settings_read_back() {
    let (_gw, api) = start().await;
    let pd1 = format!("ProtectionDomain::{}", api.pd_id("pd1").await);
    let limits = json!({ "rebuildLimitInKbps": "10240", "rebalanceLimitInKbps": 20480, "overallLimitInKbps": 102400 });
    api.act_ok(&pd1, "setSdsNetworkLimits", limits).await;
    let pd = api.object(&pd1).await;
    assert_eq!(pd["rebuildNetworkThrottlingInKbps"], json!(10240));
    assert_eq!(pd["rebuildNetworkThrottlingEnabled"], json!(true));
    assert_eq!(pd["rebalanceNetworkThrottlingInKbps"], json!(20480));
    assert_eq!(pd["overallIoNetworkThrottlingInKbps"], json!(102400));
    assert_eq!(pd["vtreeMigrationNetworkThrottlingInKbps"], Value::Null);
    assert_eq!(pd["vtreeMigrationNetworkThrottlingEnabled"], json!(false));
    // 0 lifts a limit; absent fields keep theirs.
    api.act_ok(&pd1, "setSdsNetworkLimits", json!({ "rebuildLimitInKbps": 0 })).await;
    let pd = api.object(&pd1).await;
    assert_eq!(
        (pd["rebuildNetworkThrottlingInKbps"].clone(), pd["rebuildNetworkThrottlingEnabled"].clone()),
        (Value::Null, json!(false))
    );
    assert_eq!(pd["rebalanceNetworkThrottlingInKbps"], json!(20480));

    api.act_ok(&pd1, "disableSdsRfcache", json!({})).await;
    assert_eq!(api.object(&pd1).await["rfcacheEnabled"], json!(false));
    api.act_ok(&pd1, "enableSdsRfcache", json!({})).await;
    let params = json!({ "pageSizeKb": 16, "maxIOSizeKb": 64, "rfcacheOperationMode": "Read" });
    api.act_ok(&pd1, "setRfcacheParameters", params).await;
    let pd = api.object(&pd1).await;
    assert_eq!(
        (
            pd["rfcacheEnabled"].clone(),
            pd["rfcachePageSizeKb"].clone(),
            pd["rfcacheMaxIoSizeKb"].clone(),
            pd["rfcacheOpertionalMode"].clone()
        ),
        (json!(true), json!(16), json!(64), json!("Read"))
    );
    assert_fault(
        &api.act(&pd1, "setRfcacheParameters", json!({ "pageSizeKb": 12 })).await,
        535,
        "Invalid RFcache page size. Valid values are powers of 2 between 4KB and 64KB",
    );
    assert_fault(
        &api.act(&pd1, "setRfcacheParameters", json!({ "maxIOSizeKb": 512 })).await,
        536,
        "Invalid RFcache maximum IO size. Valid values are powers of 2 between 32KB and 256KB",
    );
    assert_fault(
        &api.act(&pd1, "setRfcacheParameters", json!({ "rfcacheOperationMode": "Sometimes" })).await,
        64,
        &out_of_range("rfcacheOperationMode \"Sometimes\""),
    );
    assert_error(
        &api.act(&pd1, "shrinkProtectionDomain", json!({})).await,
        400,
        0,
        "Request failed: unknown action \"shrinkProtectionDomain\" for type ProtectionDomain",
    );
}

// ---------------------------------------------------------------------------------------------
// Storage pools
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn storage_pool_create_shows_its_settings_and_removes() {
    let (_gw, api) = start().await;
    let pd = api.create_ok("ProtectionDomain", json!({ "name": "pd-sp" })).await;
    let body = json!({
        "protectionDomainId": pd, "name": "sp-new", "mediaType": "SSD", "dataLayout": "MediumGranularity",
        "zeroPaddingEnabled": "false", "useRmcache": true, "useRfcache": false, "sparePercentage": 20,
        "checksumEnabled": true, "rmcacheWriteHandlingMode": "Passthrough", "compressionMethod": null,
    });
    let id = api.create_ok("StoragePool", body).await;
    let pool = api.object(&format!("StoragePool::{id}")).await;
    for (key, value) in [
        ("name", json!("sp-new")),
        ("protectionDomainId", json!(pd)),
        ("mediaType", json!("SSD")),
        ("dataLayout", json!("MediumGranularity")),
        ("zeroPaddingEnabled", json!(false)),
        ("useRmcache", json!(true)),
        ("useRfcache", json!(false)),
        ("sparePercentage", json!(20)),
        ("checksumEnabled", json!(true)),
        ("rmcacheWriteHandlingMode", json!("Passthrough")),
        ("compressionMethod", json!("Invalid")),
    ] {
        assert_eq!(pool[key], value, "{key}");
    }
    let listed = api.get_ok(&format!("/api/instances/ProtectionDomain::{pd}/relationships/StoragePool")).await;
    assert_eq!(ids(&listed), vec![id.clone()]);
    // A new pool has no devices, hence no capacity.
    assert_eq!(api.pool_stats(&id).await["maxCapacityInKb"], json!(0));

    let object = format!("StoragePool::{id}");
    api.act_ok(&object, "removeStoragePool", json!({})).await;
    assert_fault(&api.get(&format!("/api/instances/{object}")).await, 171, "Could not find Storage Pool");
    api.act_ok(&format!("ProtectionDomain::{pd}"), "removeProtectionDomain", json!({})).await;
}

#[tokio::test]
async fn storage_pool_creation_refusals() {
    let (_gw, api) = start().await;
    let pd1 = api.pd_id("pd1").await;
    let pd2 = api.pd_id("pd2").await;
    assert_fault(
        &api.create("StoragePool", json!({ "protectionDomainId": pd1, "name": "sp1" })).await,
        173,
        "Storage Pool name already exists",
    );
    // Names are unique within a protection domain only.
    api.create_ok("StoragePool", json!({ "protectionDomainId": pd2, "name": "sp1" })).await;
    assert_fault(
        &api.create("StoragePool", json!({ "protectionDomainId": "0123456789abcdef", "name": "spx" })).await,
        142,
        "Could not find Protection Domain",
    );
    assert_fault(
        &api.create("StoragePool", json!({ "protectionDomainId": pd1, "name": "spx", "mediaType": "Tape" })).await,
        64,
        &out_of_range("mediaType \"Tape\""),
    );
    assert_fault(
        &api.create("StoragePool", json!({ "protectionDomainId": pd1, "name": "spx", "sparePercentage": 100 })).await,
        316,
        "The spare percentage value that you provided is invalid. Please use a value between 0 - 99.",
    );
    assert_fault(
        &api.create("StoragePool", json!({ "protectionDomainId": pd1, "name": "spx", "compressionMethod": "Normal" }))
            .await,
        879,
        "Compression may only be enabled on volumes with Fine Granularity layout",
    );
    let fine = json!({ "protectionDomainId": pd1, "name": "spx", "dataLayout": "FineGranularity", "zeroPaddingEnabled": false });
    assert_fault(
        &api.create("StoragePool", fine).await,
        888,
        "Zero padding is not configurable for fine granularity Storage Pools",
    );
    assert_error(
        &api.create("StoragePool", json!({ "name": "spx" })).await,
        400,
        0,
        "Missing required parameter: protectionDomainId",
    );
    // Nothing above left a pool behind.
    let names: Vec<Value> = api
        .get_ok("/api/types/StoragePool/instances")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names.iter().filter(|n| **n == json!("spx")).count(), 0);
}

#[tokio::test]
async fn storage_pool_settings_read_back_and_repeat_without_change() {
    let (_gw, api) = start().await;
    let sp1 = format!("StoragePool::{}", api.pool_id("sp1").await);
    let steps: &[(&str, Value, &str, Value)] = &[
        ("setStoragePoolName", json!({ "name": "sp1-renamed" }), "name", json!("sp1-renamed")),
        ("setSparePercentage", json!({ "sparePercentage": "25" }), "sparePercentage", json!(25)),
        ("setRebuildEnabled", json!({ "rebuildEnabled": "FALSE" }), "rebuildEnabled", json!(false)),
        ("setRebalanceEnabled", json!({ "rebalanceEnabled": false }), "rebalanceEnabled", json!(false)),
        (
            "setRebuildRebalanceParallelism",
            json!({ "limit": 5 }),
            "numOfParallelRebuildRebalanceJobsPerDevice",
            json!(5),
        ),
        ("setUseRmcache", json!({ "useRmcache": true }), "useRmcache", json!(true)),
        ("enableRfcache", json!({}), "useRfcache", json!(true)),
        ("setChecksumEnabled", json!({ "checksumEnabled": true }), "checksumEnabled", json!(true)),
        ("disableFragmentation", json!({}), "fragmentationEnabled", json!(false)),
        (
            "setMediaType",
            json!({ "mediaType": "hdd", "overrideDeviceConfiguration": false }),
            "mediaType",
            json!("HDD"),
        ),
        (
            "setRmcacheWriteHandlingMode",
            json!({ "rmcacheWriteHandlingMode": "Passthrough" }),
            "rmcacheWriteHandlingMode",
            json!("Passthrough"),
        ),
        (
            "setReplicationJournalCapacity",
            json!({ "replicationJournalCapacityMaxRatio": 32 }),
            "replicationCapacityMaxRatio",
            json!(32),
        ),
        ("setZeroPaddingPolicy", json!({ "zeroPadEnabled": true }), "zeroPaddingEnabled", json!(true)),
    ];
    for (action, body, key, expected) in steps {
        api.act_ok(&sp1, action, body.clone()).await;
        let first = api.object(&sp1).await;
        assert_eq!(first[*key], *expected, "{action}");
        // An idempotent client's second run changes nothing.
        api.act_ok(&sp1, action, body.clone()).await;
        assert_eq!(api.object(&sp1).await, first, "{action} twice");
    }
    api.act_ok(&sp1, "disablePersistentChecksum", json!({})).await;
    assert_eq!(api.object(&sp1).await["persistentChecksumEnabled"], json!(false));
    let checksum = json!({ "validateOnRead": true, "builderLimitInKb": 2048 });
    api.act_ok(&sp1, "enablePersistentChecksum", checksum).await;
    api.act_ok(&sp1, "modifyPersistentChecksum", json!({ "builderLimitInKb": "4096" })).await;
    let pool = api.object(&sp1).await;
    assert_eq!(
        (
            pool["persistentChecksumEnabled"].clone(),
            pool["persistentChecksumValidateOnRead"].clone(),
            pool["persistentChecksumBuilderLimitKb"].clone()
        ),
        (json!(true), json!(true), json!(4096))
    );
    let thresholds = json!({ "capacityAlertHighThresholdPercent": 70, "capacityAlertCriticalThresholdPercent": 85 });
    api.act_ok(&sp1, "setCapacityAlertThresholds", thresholds).await;
    let pool = api.object(&sp1).await;
    assert_eq!(
        (pool["capacityAlertHighThreshold"].clone(), pool["capacityAlertCriticalThreshold"].clone()),
        (json!(70), json!(85))
    );
    let policy =
        json!({ "policy": "favorAppIos", "numOfConcurrentIosPerDevice": "4", "bwLimitPerDeviceInKbps": "20480" });
    api.act_ok(&sp1, "setProtectedMaintenanceModeIoPriorityPolicy", policy).await;
    let pool = api.object(&sp1).await;
    assert_eq!(pool["protectedMaintenanceModeIoPriorityPolicy"], json!("favorAppIos"));
    assert_eq!(pool["protectedMaintenanceModeIoPriorityNumOfConcurrentIosPerDevice"], json!(4));
    assert_eq!(pool["protectedMaintenanceModeIoPriorityBwLimitPerDeviceInKbps"], json!(20480));
    assert_eq!(pool["rebuildIoPriorityPolicy"], json!("limitNumOfConcurrentIos"), "other policies untouched");
    api.act_ok(&sp1, "setRebalanceIoPriorityPolicy", json!({ "policy": "unlimited" })).await;
    assert_eq!(api.object(&sp1).await["rebalanceIoPriorityPolicy"], json!("unlimited"));
}

#[tokio::test]
async fn storage_pool_setting_refusals() {
    let (_gw, api) = start().await;
    let sp1 = format!("StoragePool::{}", api.pool_id("sp1").await);
    let before = api.object(&sp1).await;
    assert_fault(
        &api.act(&sp1, "setZeroPaddingPolicy", json!({ "zeroPadEnabled": false })).await,
        172,
        "The Storage Pool has SDS devices",
    );
    assert_fault(
        &api.act(&sp1, "setSparePercentage", json!({ "sparePercentage": 100 })).await,
        316,
        "The spare percentage value that you provided is invalid. Please use a value between 0 - 99.",
    );
    assert_fault(
        &api.act(&sp1, "setRebuildRebalanceParallelism", json!({ "limit": 11 })).await,
        64,
        &out_of_range("limit 11 (1 to 10)"),
    );
    assert_fault(
        &api.act(&sp1, "setCapacityAlertThresholds", json!({ "capacityAlertHighThresholdPercent": 95 })).await,
        64,
        &out_of_range("capacity alert thresholds 95/90 (need 0 < high < critical < 100)"),
    );
    assert_fault(
        &api.act(&sp1, "modifyPersistentChecksum", json!({ "builderLimitInKb": 100 })).await,
        64,
        &out_of_range("builderLimitInKb 100 (1024 to 10240)"),
    );
    assert_fault(
        &api.act(&sp1, "setRebuildIoPriorityPolicy", json!({ "policy": "favorAppIos" })).await,
        644,
        "Invalid policy",
    );
    assert_fault(
        &api.act(&sp1, "modifyCompressionMethod", json!({ "compressionMethod": "Normal" })).await,
        879,
        "Compression may only be enabled on volumes with Fine Granularity layout",
    );
    assert_error(
        &api.act(&sp1, "setRebuildEnabled", json!({})).await,
        400,
        0,
        "Missing required parameter: rebuildEnabled",
    );
    let sp2 = api.pool_id("sp2").await;
    let reply = api.act(&sp1, "setStoragePoolName", json!({ "name": "sp2" })).await;
    assert_fault(&reply, 173, "Storage Pool name already exists");
    assert_fault(
        &api.act("StoragePool::0123456789abcdef", "setUseRmcache", json!({ "useRmcache": true })).await,
        171,
        "Could not find Storage Pool",
    );
    assert_eq!(api.object(&sp1).await, before, "refusals change nothing");
    assert!(is_id(&sp2));
}

#[tokio::test]
async fn fine_granularity_pool_compression_and_padding() {
    let (_gw, api) = start().await;
    let pd1 = api.pd_id("pd1").await;
    let body = json!({ "protectionDomainId": pd1, "name": "sp-fine", "dataLayout": "FineGranularity" });
    let id = api.create_ok("StoragePool", body).await;
    let object = format!("StoragePool::{id}");
    let pool = api.object(&object).await;
    assert_eq!(
        (pool["dataLayout"].clone(), pool["compressionMethod"].clone(), pool["zeroPaddingEnabled"].clone()),
        (json!("FineGranularity"), json!("None"), json!(true))
    );
    api.act_ok(&object, "modifyCompressionMethod", json!({ "compressionMethod": "Normal" })).await;
    assert_eq!(api.object(&object).await["compressionMethod"], json!("Normal"));
    assert_fault(
        &api.act(&object, "setZeroPaddingPolicy", json!({ "zeroPadEnabled": false })).await,
        888,
        "Zero padding is not configurable for fine granularity Storage Pools",
    );
}

#[tokio::test]
async fn storage_pool_removal_waits_for_volumes_and_devices() {
    let (_gw, api) = start().await;
    let pd1 = api.pd_id("pd1").await;
    let id = api.create_ok("StoragePool", json!({ "protectionDomainId": pd1, "name": "sp-empty" })).await;
    let sp1 = api.pool_id("sp1").await;
    let volume = api.create_volume(&sp1, "holds-sp1", 8).await;
    let has_vols = "The Storage Pool has volumes. Please remove all the volumes before removing the Storage Pool.";
    assert_fault(&api.act(&format!("StoragePool::{sp1}"), "removeStoragePool", json!({})).await, 196, has_vols);
    api.volume_action(&volume, "removeVolume", json!({})).await;
    // The topology's pools have their devices' capacity.
    assert_fault(
        &api.act(&format!("StoragePool::{sp1}"), "removeStoragePool", json!({})).await,
        172,
        "The Storage Pool has SDS devices",
    );
    api.act_ok(&format!("StoragePool::{id}"), "removeStoragePool", json!({})).await;
}

// ---------------------------------------------------------------------------------------------
// SDTs
// ---------------------------------------------------------------------------------------------

fn sdt_body(pd: &str, name: &str, ips: &[&str]) -> Value {
    let ips: Vec<Value> = ips.iter().map(|ip| json!({ "ip": ip, "role": "StorageAndHost" })).collect();
    json!({ "name": name, "protectionDomainId": pd, "ips": ips,
            "storagePort": "12200", "nvmePort": "4420", "discoveryPort": "8009" })
}

fn ip_list(sdt: &Value) -> Vec<(String, String)> {
    let list = sdt["ipList"].as_array().expect("ipList");
    list.iter().map(|e| (e["ip"].as_str().unwrap().to_string(), e["role"].as_str().unwrap().to_string())).collect()
}

#[tokio::test]
async fn sdt_create_change_and_remove() {
    let (_gw, api) = start().await;
    let pd1 = api.pd_id("pd1").await;
    let id = api.create_ok("Sdt", sdt_body(&pd1, "sdt-new", &["127.0.0.10", "127.0.0.11"])).await;
    let object = format!("Sdt::{id}");
    let sdt = api.object(&object).await;
    assert_eq!(sdt["name"], json!("sdt-new"));
    assert_eq!(sdt["protectionDomainId"], json!(pd1));
    assert_eq!(
        ip_list(&sdt),
        vec![("127.0.0.10".into(), "StorageAndHost".into()), ("127.0.0.11".into(), "StorageAndHost".into())]
    );
    assert_eq!(
        (sdt["storagePort"].clone(), sdt["nvmePort"].clone(), sdt["discoveryPort"].clone()),
        (json!(12200), json!(4420), json!(8009))
    );
    let listed = api.get_ok(&format!("/api/instances/ProtectionDomain::{pd1}/relationships/Sdt")).await;
    assert!(ids(&listed).contains(&id));
    let found = api.post_ok("/api/types/Sdt/instances/action/queryIdByKey", json!({ "name": "sdt-new" })).await;
    assert_eq!(found, json!(id));

    api.act_ok(&object, "renameSdt", json!({ "newName": "sdt-renamed" })).await;
    api.act_ok(&object, "addIp", json!({ "ip": "127.0.0.12", "role": "HostOnly" })).await;
    api.act_ok(&object, "modifyIpRole", json!({ "ip": "127.0.0.10", "newRole": "StorageOnly" })).await;
    api.act_ok(&object, "removeIp", json!({ "ip": "127.0.0.11" })).await;
    api.act_ok(&object, "modifyStoragePort", json!({ "newStoragePort": 12300 })).await;
    api.act_ok(&object, "modifyNvmePort", json!({ "newNvmePort": "4421" })).await;
    api.act_ok(&object, "modifyDiscoveryPort", json!({ "newDiscoveryPort": 8010 })).await;
    let sdt = api.object(&object).await;
    assert_eq!(sdt["name"], json!("sdt-renamed"));
    assert_eq!(
        ip_list(&sdt),
        vec![("127.0.0.10".into(), "StorageOnly".into()), ("127.0.0.12".into(), "HostOnly".into())]
    );
    assert_eq!(
        (sdt["storagePort"].clone(), sdt["nvmePort"].clone(), sdt["discoveryPort"].clone()),
        (json!(12300), json!(4421), json!(8010))
    );

    api.act_ok(&object, "enterMaintenanceMode", json!({})).await;
    assert_eq!(api.object(&object).await["maintenanceState"], json!("InMaintenance"));
    assert_fault(
        &api.act(&object, "enterMaintenanceMode", json!({})).await,
        537,
        "The specified SDS is already in maintenance-mode.",
    );
    api.act_ok(&object, "exitMaintenanceMode", json!({})).await;
    assert_eq!(api.object(&object).await["maintenanceState"], json!("NoMaintenance"));
    assert_fault(
        &api.act(&object, "exitMaintenanceMode", json!({})).await,
        538,
        "The specified SDS is not in maintenance-mode.",
    );

    api.act_ok(&object, "removeSdt", json!({ "force": false })).await;
    assert_fault(&api.get(&format!("/api/instances/{object}")).await, 3, "Not found");
    // Its addresses are free again.
    api.create_ok("Sdt", sdt_body(&pd1, "sdt-again", &["127.0.0.10"])).await;
}

#[tokio::test]
async fn sdt_refusals() {
    let (_gw, api) = start().await;
    let pd1 = api.pd_id("pd1").await;
    let sdts_before = api.get_ok("/api/types/Sdt/instances").await;
    // 127.0.0.2 is sdt1's (topology).
    assert_fault(&api.create("Sdt", sdt_body(&pd1, "s", &["127.0.0.2"])).await, 328, "The IP already exists.");
    assert_fault(
        &api.create("Sdt", sdt_body(&pd1, "s", &["127.0.0.30", "127.0.0.30"])).await,
        328,
        "The IP already exists.",
    );
    assert_fault(&api.create("Sdt", sdt_body(&pd1, "sdt1", &["127.0.0.30"])).await, 7, "Already exists");
    let nine: Vec<String> = (40..49).map(|n| format!("127.0.0.{n}")).collect();
    let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
    assert_fault(
        &api.create("Sdt", sdt_body(&pd1, "s", &nine)).await,
        64,
        &out_of_range("an SDT has 1 to 8 IP addresses"),
    );
    assert_fault(
        &api.create("Sdt", sdt_body(&pd1, "s", &[])).await,
        64,
        &out_of_range("an SDT has 1 to 8 IP addresses"),
    );
    assert_fault(
        &api.create("Sdt", sdt_body(&pd1, "s", &["10.0.0.1"])).await,
        64,
        &out_of_range("10.0.0.1 is not on 127.0.0.0/8, the only network pflex-sim serves"),
    );
    assert_fault(
        &api.create("Sdt", sdt_body(&pd1, "s", &["not-an-ip"])).await,
        64,
        &out_of_range("\"not-an-ip\" is not an IPv4 address"),
    );
    let mut same_ports = sdt_body(&pd1, "s", &["127.0.0.30"]);
    same_ports["discoveryPort"] = json!(4420);
    assert_fault(
        &api.create("Sdt", same_ports).await,
        64,
        &out_of_range("the NVMe port and the discovery port must differ"),
    );
    let mut bad_port = sdt_body(&pd1, "s", &["127.0.0.30"]);
    bad_port["nvmePort"] = json!(70000);
    assert_fault(&api.create("Sdt", bad_port).await, 64, &out_of_range("nvmePort 70000"));
    let mut bad_role = sdt_body(&pd1, "s", &["127.0.0.30"]);
    bad_role["ips"][0]["role"] = json!("Everything");
    assert_fault(&api.create("Sdt", bad_role).await, 64, &out_of_range("role \"Everything\""));
    let unknown_pd = sdt_body("0123456789abcdef", "s", &["127.0.0.30"]);
    assert_fault(&api.create("Sdt", unknown_pd).await, 142, "Could not find Protection Domain");
    assert_error(
        &api.create("Sdt", json!({ "name": "s", "protectionDomainId": pd1 })).await,
        400,
        0,
        "Missing required parameter: ips",
    );
    assert_eq!(api.get_ok("/api/types/Sdt/instances").await, sdts_before, "nothing was created");

    let sdt1 = api.post_ok("/api/types/Sdt/instances/action/queryIdByKey", json!({ "name": "sdt1" })).await;
    let object = format!("Sdt::{}", sdt1.as_str().unwrap());
    assert_fault(&api.act(&object, "addIp", json!({ "ip": "127.0.0.3" })).await, 328, "The IP already exists.");
    assert_fault(
        &api.act(&object, "removeIp", json!({ "ip": "127.0.0.2" })).await,
        64,
        &out_of_range("an SDT has 1 to 8 IP addresses"),
    );
    assert_fault(
        &api.act(&object, "removeIp", json!({ "ip": "127.0.0.99" })).await,
        64,
        &out_of_range(&format!("127.0.0.99 is not an address of SDT {}", sdt1.as_str().unwrap())),
    );
    assert_fault(
        &api.act(&object, "modifyNvmePort", json!({ "newNvmePort": 8009 })).await,
        64,
        &out_of_range("the NVMe port and the discovery port must differ"),
    );
    assert_fault(
        &api.act(&object, "modifyNvmePort", json!({ "newNvmePort": 0 })).await,
        64,
        &out_of_range("newNvmePort 0"),
    );
    assert_fault(&api.act(&object, "renameSdt", json!({ "newName": "sdt2" })).await, 7, "Already exists");
    assert_error(
        &api.act(&object, "modifyIpRole", json!({ "ip": "127.0.0.2" })).await,
        400,
        0,
        "Missing required parameter: newRole",
    );
    assert_fault(&api.act("Sdt::0123456789abcdef", "removeSdt", json!({})).await, 3, "Not found");
    assert_eq!(api.get_ok("/api/types/Sdt/instances").await, sdts_before, "refusals change nothing");
}

// ---------------------------------------------------------------------------------------------
// Durability
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn created_and_changed_objects_survive_a_restart_and_ids_are_not_reused() {
    let (gw, api) = start().await;
    let pd = api.create_ok("ProtectionDomain", json!({ "name": "pd-durable" })).await;
    api.act_ok(&format!("ProtectionDomain::{pd}"), "setSdsNetworkLimits", json!({ "overallLimitInKbps": 4096 })).await;
    let pool = api.create_ok("StoragePool", json!({ "protectionDomainId": pd, "name": "sp-durable" })).await;
    api.act_ok(&format!("StoragePool::{pool}"), "setZeroPaddingPolicy", json!({ "zeroPadEnabled": false })).await;
    let gone = api.create_ok("StoragePool", json!({ "protectionDomainId": pd, "name": "sp-gone" })).await;
    api.act_ok(&format!("StoragePool::{gone}"), "removeStoragePool", json!({})).await;
    let sdt = api.create_ok("Sdt", sdt_body(&pd, "sdt-durable", &["127.0.0.50"])).await;
    api.act_ok(&format!("Sdt::{sdt}"), "modifyIpRole", json!({ "ip": "127.0.0.50", "newRole": "HostOnly" })).await;
    let observe = |api: Api| async move {
        json!({
            "domains": api.get_ok("/api/types/ProtectionDomain/instances").await,
            "pools": api.get_ok("/api/types/StoragePool/instances").await,
            "sdts": api.get_ok("/api/types/Sdt/instances").await,
        })
    };
    let before = observe(api).await;

    let gw = gw.restart().await;
    let api = Api::connect(&gw).await;
    assert_eq!(observe(api.clone()).await, before);
    let again = api.create_ok("StoragePool", json!({ "protectionDomainId": pd, "name": "sp-after" })).await;
    assert!(![pool.clone(), gone].contains(&again), "a removed pool's id is not reused");
}
