//! The system inventory through a real HTTPS client: SDSs and their devices, fault sets, users,
//! the MDM cluster and the System's SDC access actions, with the MDM's exact refusals, and the
//! shapes of the new objects (insta snapshots, each also checked against its field list).

mod common;

use common::*;
use serde_json::{json, Value};

fn rels(object: &Value) -> Vec<String> {
    object["links"].as_array().unwrap().iter().map(|l| l["rel"].as_str().unwrap().to_string()).collect()
}

/// goscaleio `types.Sds` and the Ansible `sds` sample.
const SDS: &[&str] = &[
    "id",
    "name",
    "protectionDomainId",
    "ipList",
    "port",
    "sdsState",
    "membershipState",
    "mdmConnectionState",
    "drlMode",
    "rmcacheEnabled",
    "rmcacheSizeInKb",
    "rmcacheFrozen",
    "faultSetId",
    "numOfIoBuffers",
    "rmcacheMemoryAllocationState",
    "perfProfile",
    "softwareVersionInfo",
    "configuredDrlMode",
    "rfcacheEnabled",
    "maintenanceState",
    "maintenanceType",
    "rfcacheErrorLowResources",
    "rfcacheErrorApiVersionMismatch",
    "rfcacheErrorInconsistentCacheConfiguration",
    "rfcacheErrorInconsistentSourceConfiguration",
    "rfcacheErrorInvalidDriverPath",
    "rfcacheErrorDeviceDoesNotExist",
    "authenticationError",
    "fglNumConcurrentWrites",
    "fglMetadataCacheState",
    "fglMetadataCacheSize",
    "numRestarts",
    "lastUpgradeTime",
    "sdsDecoupled",
    "sdsConfigurationFailure",
    "sdsReceiveBufferAllocationFailures",
    "raidControllers",
    "certificateInfo",
    "onVmWare",
    "links",
];
/// goscaleio `types.Device` and the Ansible `device` sample.
const DEVICE: &[&str] = &[
    "id",
    "name",
    "sdsId",
    "storagePoolId",
    "deviceCurrentPathName",
    "deviceOriginalPathName",
    "mediaType",
    "capacityLimitInKb",
    "maxCapacityInKb",
    "capacity",
    "deviceState",
    "errorState",
    "aggregatedState",
    "temperatureState",
    "ssdEndOfLifeState",
    "deviceType",
    "ledSetting",
    "persistentChecksumState",
    "externalAccelerationType",
    "accelerationPoolId",
    "rfcacheProps",
    "storageProps",
    "longSuccessfulIos",
    "autoDetectMediaType",
    "fglNvdimmMetadataAmortizationX100",
    "fglNvdimmWriteCacheSize",
    "logicalSectorSizeInBytes",
    "physicalSectorSizeInBytes",
    "mediaFailing",
    "modelName",
    "vendorName",
    "serialNumber",
    "firmwareVersion",
    "slotNumber",
    "spSdsId",
    "links",
];
const FAULT_SET: &[&str] = &["id", "name", "protectionDomainId", "links"];
const USER: &[&str] = &["id", "name", "userRole", "passwordChangeRequired", "systemId", "links"];
/// goscaleio `types.MdmCluster` / `types.Mdm`.
const CLUSTER: &[&str] = &[
    "id",
    "clusterState",
    "clusterMode",
    "goodNodesNum",
    "goodReplicasNum",
    "virtualIps",
    "master",
    "slaves",
    "tieBreakers",
    "standbyMDMs",
];

async fn first(api: &Api, path: &str) -> Value {
    api.get_ok(path).await[0].clone()
}

#[tokio::test]
async fn inventory_shapes() {
    let (_gw, api) = start().await;
    let sds = first(&api, "/api/types/Sds/instances").await;
    assert_fields("Sds", &sds, SDS);
    assert_eq!(
        rels(&sds),
        [
            "self",
            "/api/Sds/relationship/Statistics",
            "/api/Sds/relationship/SpSds",
            "/api/Sds/relationship/Device",
            "/api/parent/relationship/protectionDomainId"
        ]
    );
    insta::assert_json_snapshot!("sds", sds);
    let device = first(&api, "/api/types/Device/instances").await;
    assert_fields("Device", &device, DEVICE);
    insta::assert_json_snapshot!("device", device);
    let fs = first(&api, "/api/types/FaultSet/instances").await;
    assert_fields("FaultSet", &fs, FAULT_SET);
    assert_eq!(
        rels(&fs),
        [
            "self",
            "/api/FaultSet/relationship/Statistics",
            "/api/FaultSet/relationship/Sds",
            "/api/parent/relationship/protectionDomainId"
        ]
    );
    insta::assert_json_snapshot!("fault_set", fs);
    let user = first(&api, "/api/types/User/instances").await;
    assert_fields("User", &user, USER);
    insta::assert_json_snapshot!("user", user);
    let cluster = api.post_ok("/api/instances/System/queryMdmCluster", json!({})).await;
    assert_fields("MdmCluster", &cluster, CLUSTER);
    // Its MDM entries are `System.mdmCluster`'s (the same rendering; `shapes.rs` lists their
    // fields and `mdm_cluster_modes_...` asserts the two equal).
    insta::assert_json_snapshot!("mdm_cluster", cluster);
}

#[tokio::test]
async fn default_topology_has_sdss_with_devices_summing_to_each_pool() {
    let (_gw, api) = start().await;
    let sdss = api.get_ok("/api/types/Sds/instances").await;
    assert_eq!(sdss.as_array().unwrap().len(), 6);
    for pool in api.get_ok("/api/types/StoragePool/instances").await.as_array().unwrap() {
        let id = pool["id"].as_str().unwrap();
        let devices = api.get_ok(&format!("/api/instances/StoragePool::{id}/relationships/Device")).await;
        let devices = devices.as_array().unwrap();
        assert_eq!(devices.len(), 3, "one device per SDS of the domain");
        let sum: u64 = devices.iter().map(|d| d["capacityLimitInKb"].as_u64().unwrap()).sum();
        assert_eq!(json!(sum), api.pool_stats(id).await["maxCapacityInKb"]);
        assert!(devices.iter().all(|d| d["deviceState"] == "Normal"));
    }
    let pd1 = api.pd_id("pd1").await;
    let fss = api.get_ok(&format!("/api/instances/ProtectionDomain::{pd1}/relationships/FaultSet")).await;
    assert_eq!(fss.as_array().unwrap().iter().map(|f| f["name"].clone()).collect::<Vec<_>>(), [json!("fs1")]);
}

#[tokio::test]
async fn sds_create_modify_and_remove_with_the_mdm_rules() {
    let (_gw, api) = start().await;
    let pd1 = api.pd_id("pd1").await;
    let sp1 = api.pool_id("sp1").await;
    let before = api.pool_stats(&sp1).await["maxCapacityInKb"].as_u64().unwrap();
    let body = json!({
        "protectionDomainId": pd1, "name": "new-sds", "sdsPort": 7073,
        "sdsIpList": [{ "SdsIp": { "ip": "127.0.0.31", "role": "all" } }],
        "deviceInfoList": [{ "devicePath": "/dev/sdx", "storagePoolId": sp1, "deviceName": "x" }],
    });
    let id = api.post_ok("/api/types/Sds/instances", body.clone()).await["id"].as_str().unwrap().to_string();
    let sds = api.get_ok(&format!("/api/instances/Sds::{id}")).await;
    assert_eq!((sds["name"].clone(), sds["port"].clone()), (json!("new-sds"), json!(7073)));
    let devices = api.get_ok(&format!("/api/instances/Sds::{id}/relationships/Device")).await;
    assert_eq!(devices[0]["deviceCurrentPathName"], "/dev/sdx");
    assert_eq!(api.pool_stats(&sp1).await["maxCapacityInKb"], json!(before + 1024 * 1024 * 1024));

    // Names and IPs are unique.
    assert_fault(
        &api.post("/api/types/Sds/instances", body.clone()).await,
        98,
        "SDS name is already in use. Please use a different name.",
    );
    let mut other = body.clone();
    other["name"] = json!("other");
    assert_fault(
        &api.post("/api/types/Sds/instances", other).await,
        192,
        "The specified IP address belongs to another SDS. Please use the correct IP address.",
    );
    let sdc_only =
        json!({ "protectionDomainId": pd1, "sdsIpList": [{ "SdsIp": { "ip": "127.0.0.40", "role": "sdcOnly" } }] });
    assert_fault(
        &api.post("/api/types/Sds/instances", sdc_only).await,
        199,
        "SDS must have at least one IP for SDS communication.",
    );
    let no_pd = json!({ "protectionDomainId": "0123456789abcdef", "sdsIpList": [{ "ip": "127.0.0.41" }] });
    assert_fault(&api.post("/api/types/Sds/instances", no_pd).await, 142, "Could not find Protection Domain");

    let action = |a: &str| format!("/api/instances/Sds::{id}/action/{a}");
    assert_eq!(api.post_ok(&action("setSdsName"), json!({ "name": "renamed" })).await, json!({}));
    assert_fault(
        &api.post(&action("setSdsName"), json!({ "name": "sds1" })).await,
        98,
        "SDS name is already in use. Please use a different name.",
    );
    ok(api.post(&action("addSdsIp"), json!({ "ip": "127.0.0.32", "role": "sdsOnly" })).await);
    assert_fault(
        &api.post(&action("addSdsIp"), json!({ "ip": "127.0.0.32" })).await,
        200,
        "The SDS IP already exists.",
    );
    assert_fault(
        &api.post(&action("setSdsIpRole"), json!({ "sdsIpToSet": "127.0.0.32", "newRole": "sdsOnly" })).await,
        201,
        "The IP role for this SDS has already been configured.",
    );
    assert_fault(
        &api.post(&action("setSdsIpRole"), json!({ "sdsIpToSet": "127.0.0.31", "newRole": "sdsOnly" })).await,
        275,
        "SDS must have at least one IP for SDC communication.",
    );
    ok(api.post(&action("setSdsIpRole"), json!({ "sdsIpToSet": "127.0.0.32", "newRole": "all" })).await);
    ok(api.post(&action("removeSdsIp"), json!({ "ip": "127.0.0.31" })).await);
    assert_fault(
        &api.post(&action("removeSdsIp"), json!({ "ip": "127.0.0.31" })).await,
        193,
        "The SDS IP address cannot be found.",
    );
    assert_fault(
        &api.post(&action("removeSdsIp"), json!({ "ip": "127.0.0.32" })).await,
        187,
        "SDS must have at least one IP address",
    );
    ok(api.post(&action("setSdsPort"), json!({ "sdsPort": "7100" })).await);
    assert_fault(
        &api.post(&action("setSdsPort"), json!({ "sdsPort": 80 })).await,
        194,
        "The specified SDS port is not in the valid range. Please try again with a valid port number.",
    );
    ok(api.post(&action("setSdsPerformanceParameters"), json!({ "perfProfile": "Compact" })).await);
    ok(api.post(&action("enableRfcache"), json!({})).await);
    ok(api.post(&action("setDrlMode"), json!({ "drlMode": "NonVolatile" })).await);
    assert_fault(
        &api.post(&action("setDrlMode"), json!({ "drlMode": "Sometimes" })).await,
        64,
        "Parameter out of range: drlMode \"Sometimes\": Volatile or NonVolatile",
    );
    let sds = api.get_ok(&format!("/api/instances/Sds::{id}")).await;
    assert_eq!(sds["ipList"], json!([{ "ip": "127.0.0.32", "role": "all" }]));
    assert_eq!(
        (sds["drlMode"].clone(), sds["configuredDrlMode"].clone()),
        (json!("NonVolatile"), json!("NonVolatile"))
    );
    assert_eq!(
        (sds["port"].clone(), sds["perfProfile"].clone(), sds["rfcacheEnabled"].clone()),
        (json!(7100), json!("Compact"), json!(true))
    );

    // Removal takes the devices and their capacity with it.
    assert_eq!(api.post_ok(&action("removeSds"), json!({})).await, json!({}));
    assert_fault(&api.get(&format!("/api/instances/Sds::{id}")).await, 78, "Could not find SDS");
    assert_eq!(api.pool_stats(&sp1).await["maxCapacityInKb"], json!(before));
}

#[tokio::test]
async fn devices_follow_their_pool_and_keep_what_it_holds() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let sp3 = api.pool_id("sp3").await;
    let sdss =
        api.get_ok(&format!("/api/instances/ProtectionDomain::{}/relationships/Sds", api.pd_id("pd1").await)).await;
    let sds = sdss[0]["id"].as_str().unwrap().to_string();
    let before = api.pool_stats(&sp1).await["maxCapacityInKb"].as_u64().unwrap();
    let add = |body: Value| api.post("/api/types/Device/instances", body);
    let dev = ok(add(json!({ "deviceCurrentPathname": "/dev/sdq", "sdsId": sds, "storagePoolId": sp1, "name": "q", "capacityLimitInKb": 300 * GIB_KB })).await);
    let dev = dev["id"].as_str().unwrap().to_string();
    assert_eq!(api.pool_stats(&sp1).await["maxCapacityInKb"], json!(before + 300 * GIB_KB));
    assert_fault(
        &add(json!({ "deviceCurrentPathname": "/dev/sdq", "sdsId": sds, "storagePoolId": sp1 })).await,
        206,
        "A device with the given name already exists in the SDS",
    );
    assert_fault(
        &add(json!({ "deviceCurrentPathname": "/dev/sdr", "sdsId": sds, "storagePoolId": sp3 })).await,
        197,
        "The specified Storage Pool is not in the specified Protection Domain",
    );
    assert_fault(
        &add(json!({ "deviceCurrentPathname": "sdr", "sdsId": sds, "storagePoolId": sp1 })).await,
        283,
        "The path to the device is invalid. Please ensure that you are using the correct path.",
    );
    assert_fault(&add(json!({ "deviceCurrentPathname": "/dev/sdr", "sdsId": sds, "storagePoolId": sp1, "capacityLimitInKb": GIB_KB })).await, 207, "The specified device size is too small.");
    assert_fault(
        &add(json!({ "deviceCurrentPathname": "/dev/sdr", "sdsId": "0123456789abcdef", "storagePoolId": sp1 })).await,
        78,
        "Could not find SDS",
    );

    let action = |a: &str| format!("/api/instances/Device::{dev}/action/{a}");
    ok(api.post(&action("setDeviceName"), json!({ "newName": "q2" })).await);
    ok(api.post(&action("setMediaType"), json!({ "mediaType": "HDD" })).await);
    let d = api.get_ok(&format!("/api/instances/Device::{dev}")).await;
    assert_eq!((d["name"].clone(), d["mediaType"].clone()), (json!("q2"), json!("HDD")));
    let stats = api.get_ok(&format!("/api/instances/Device::{dev}/relationships/Statistics")).await;
    assert_eq!(stats["maxCapacityInKb"], json!(300 * GIB_KB));
    // A new capacity limit moves the pool's capacity with it.
    ok(api.post(&action("setDeviceCapacityLimit"), json!({ "capacityLimitInGB": "400" })).await);
    assert_eq!(api.get_ok(&format!("/api/instances/Device::{dev}")).await["capacityLimitInKb"], json!(400 * GIB_KB));
    assert_eq!(api.pool_stats(&sp1).await["maxCapacityInKb"], json!(before + 400 * GIB_KB));
    assert_fault(&api.post(&action("setDeviceCapacityLimit"), json!({ "capacityLimitInGB": "2048" })).await, 208, "The specified device size is too large. Please specify a size smaller than the capacity of the specified device.");

    // A pool with volumes keeps devices on three SDSs; an empty pool may lose any.
    api.create_volume(&sp1, "holds", 8).await;
    let seeded = api.get_ok(&format!("/api/instances/Sds::{sds}/relationships/Device")).await;
    let seeded_sp1 =
        seeded.as_array().unwrap().iter().find(|d| d["storagePoolId"] == json!(sp1) && d["id"] != json!(dev)).unwrap();
    let remove = |id: &str| {
        let path = format!("/api/instances/Device::{id}/action/removeDevice");
        let api = api.clone();
        async move { api.post(&path, json!({})).await }
    };
    assert_eq!(ok(remove(&dev).await), json!({}));
    assert_eq!(api.pool_stats(&sp1).await["maxCapacityInKb"], json!(before));
    assert_fault(&remove(seeded_sp1["id"].as_str().unwrap()).await, 144, "Less than three devices from different SDSs are defined in this Storage Pool. Add devices to the Storage Pool from additional SDSs.");
    assert_fault(&remove(&dev).await, 126, "Could not find the SDS device");
}

#[tokio::test]
async fn a_pool_cannot_lose_the_capacity_its_thick_volumes_reserve() {
    let topology = powerflex_sim::model::topology::Topology::parse(
        r#"{"protectionDomains":[{"name":"pd","storagePools":[{"name":"p","capacityGb":1024}]}]}"#,
    )
    .unwrap();
    let (_gw, api) = start_with(Options { topology, ..options() }).await;
    let pool = api.pool_id("p").await;
    let pd = api.pd_id("pd").await;
    // A fourth SDS's 300 GiB device lets a 528 GiB thick volume in; the first three alone hold
    // about 460 GiB net, so the fourth cannot leave.
    let sds = api
        .post_ok("/api/types/Sds/instances", json!({ "protectionDomainId": pd, "sdsIpList": [{ "ip": "127.0.0.33" }],
            "deviceInfoList": [{ "devicePath": "/dev/sdk", "storagePoolId": pool, "capacityLimitInKb": 300 * GIB_KB }] }))
        .await;
    api.create_thick_volume(&pool, "big", 528).await;
    assert_fault(
        &api.post(&format!("/api/instances/Sds::{}/action/removeSds", sds["id"].as_str().unwrap()), json!({})).await,
        306,
        "Not enough devices in Storage Pool",
    );
}

#[tokio::test]
async fn fault_sets_create_rename_list_and_remove() {
    let (_gw, api) = start().await;
    let pd1 = api.pd_id("pd1").await;
    let fs = api.post_ok("/api/types/FaultSet/instances", json!({ "protectionDomainId": pd1, "name": "rack2" })).await;
    let fs = fs["id"].as_str().unwrap().to_string();
    assert_fault(
        &api.post("/api/types/FaultSet/instances", json!({ "protectionDomainId": pd1, "name": "fs1" })).await,
        266,
        "This Fault Set name already exists. Please use a different name.",
    );
    ok(api.post(&format!("/api/instances/FaultSet::{fs}/action/setFaultSetName"), json!({ "newName": "rack3" })).await);
    assert_eq!(api.get_ok(&format!("/api/instances/FaultSet::{fs}")).await["name"], "rack3");
    let sds = api
        .post_ok(
            "/api/types/Sds/instances",
            json!({ "protectionDomainId": pd1, "faultSetId": fs, "sdsIpList": [{ "ip": "127.0.0.34" }] }),
        )
        .await;
    let members = api.get_ok(&format!("/api/instances/FaultSet::{fs}/relationships/Sds")).await;
    assert_eq!(ids(&members), [sds["id"].as_str().unwrap()]);
    let stats = api.get_ok(&format!("/api/instances/FaultSet::{fs}/relationships/Statistics")).await;
    assert_eq!((stats["numOfSds"].clone(), stats["sdsIds"].clone()), (json!(1), json!([sds["id"]])));
    let remove = format!("/api/instances/FaultSet::{fs}/action/removeFaultSet");
    assert_fault(&api.post(&remove, json!({})).await, 268, "This Fault Set is not empty, and cannot be removed. Please remove all SDSs from the Fault Set, and then try again.");
    ok(api.post(&format!("/api/instances/Sds::{}/action/removeSds", sds["id"].as_str().unwrap()), json!({})).await);
    ok(api.post(&remove, json!({})).await);
    assert_fault(&api.get(&format!("/api/instances/FaultSet::{fs}")).await, 265, "Could not find the Fault Set");
}

#[tokio::test]
async fn users_admin_create_role_and_remove() {
    let (gw, api) = start().await;
    let system = api.system_id().await;
    let users = api.get_ok(&format!("/api/instances/System::{system}/relationships/User")).await;
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!((users[0]["name"].clone(), users[0]["userRole"].clone()), (json!(gw.user), json!("SuperUser")));
    let admin = users[0]["id"].as_str().unwrap().to_string();
    let body = json!({ "name": "ops", "userRole": "Monitor", "password": "Secret123!" });
    let id = api.post_ok("/api/types/User/instances", body.clone()).await["id"].as_str().unwrap().to_string();
    let user = api.get_ok(&format!("/api/instances/User::{id}")).await;
    assert_eq!((user["userRole"].clone(), user["passwordChangeRequired"].clone()), (json!("Monitor"), json!(true)));
    assert_fault(
        &api.post("/api/types/User/instances", body).await,
        250,
        "This user name already exists. Please use a different name.",
    );
    ok(api.post(&format!("/api/instances/User::{id}/action/setUserRole"), json!({ "userRole": "Configure" })).await);
    assert_eq!(api.get_ok(&format!("/api/instances/User::{id}")).await["userRole"], "Configure");
    assert_fault(
        &api.post(&format!("/api/instances/User::{admin}/action/removeUser"), json!({})).await,
        254,
        "You do not have permission to modify your own user credentials.",
    );
    ok(api.post(&format!("/api/instances/User::{id}/action/removeUser"), json!({})).await);
    assert_fault(
        &api.get(&format!("/api/instances/User::{id}")).await,
        234,
        "User not found. Please check that you have the correct user name.",
    );
    assert_error_prefix(
        &api.post("/api/types/User/instances", json!({ "name": "x", "userRole": "Monitor" })).await,
        400,
        "Missing required parameter: password",
    );
}

#[tokio::test]
async fn mdm_cluster_modes_standbys_ownership_and_names() {
    let (_gw, api) = start().await;
    let query = || api.post_ok("/api/instances/System/action/queryMdmCluster", json!({}));
    let cluster = query().await;
    assert_eq!(cluster, api.post_ok("/api/instances/System/queryMdmCluster", json!({})).await);
    assert_eq!(cluster, api.get_ok("/api/types/System/instances").await[0]["mdmCluster"]);
    assert_eq!(cluster["clusterMode"], "ThreeNodes");
    assert_eq!(cluster["master"]["ips"], json!(["127.0.0.5"]));
    let sys = |a: &str| format!("/api/instances/System/action/{a}");
    let mgr =
        api.post_ok(&sys("addStandbyMdm"), json!({ "ips": ["127.0.0.8"], "role": "Manager", "name": "mdm3" })).await;
    let tb = api.post_ok(&sys("addStandbyMdm"), json!({ "ips": ["127.0.0.9"], "role": "TieBreaker" })).await;
    assert_eq!(query().await["standbyMDMs"].as_array().unwrap().len(), 2);
    assert_fault(
        &api.post(
            &sys("switchClusterMode"),
            json!({ "mode": "FiveNodes", "addSlaveMdmIdList": [tb["id"]], "addTBIdList": [mgr["id"]] }),
        )
        .await,
        564,
        "MDM role is not a Slave but a Tie-Breaker",
    );
    assert_fault(
        &api.post(&sys("switchClusterMode"), json!({ "mode": "ThreeNodes" })).await,
        558,
        "The MDM is already in this cluster mode.",
    );
    ok(api
        .post(
            &sys("switchClusterMode"),
            json!({ "mode": "FiveNodes", "addSlaveMdmIdList": [mgr["id"]], "addTBIdList": [tb["id"]] }),
        )
        .await);
    let cluster = query().await;
    assert_eq!((cluster["clusterMode"].clone(), cluster["goodNodesNum"].clone()), (json!("FiveNodes"), json!(5)));
    let system = api.get_ok("/api/types/System/instances").await[0].clone();
    assert_eq!(system["secondaryMdmActorIpList"], json!(["127.0.0.6", "127.0.0.8"]));
    assert_fault(
        &api.post(&sys("removeStandbyMdm"), json!({ "id": mgr["id"] })).await,
        105,
        "The MDM cluster state is incorrect",
    );

    ok(api.post(&sys("changeMdmOwnership"), json!({ "id": mgr["id"] })).await);
    assert_eq!(query().await["master"]["ips"], json!(["127.0.0.8"]));
    assert_fault(
        &api.post(&sys("changeMdmOwnership"), json!({ "id": tb["id"] })).await,
        241,
        "The command used for Tie-Breaker is not allowed",
    );
    ok(api.post(&sys("renameMdm"), json!({ "id": tb["id"], "newName": "tb2" })).await);
    assert_eq!(query().await["tieBreakers"][1]["name"], "tb2");
    let primary = query().await["master"]["id"].clone();
    ok(api.post(&sys("modifyVirtualIpInterfaces"), json!({ "id": primary, "virtIpIntfs": ["ens1"] })).await);
    assert_eq!(query().await["master"]["virtualInterfaces"], json!(["ens1"]));
    ok(api.post(&sys("modifyVirtualIpInterfaces"), json!({ "id": primary, "clear": true })).await);
    assert_eq!(query().await["master"]["virtualInterfaces"], json!([]));
    assert_fault(
        &api.post(&sys("modifyVirtualIpInterfaces"), json!({ "id": tb["id"], "virtIpIntfs": ["ens1"] })).await,
        721,
        "Virtual IP interfaces are not allowed for Tie-Breaker",
    );
    ok(api.post(&sys("setMdmPerformanceParameters"), json!({ "perfProfile": "Compact" })).await);
    assert_eq!(api.get_ok("/api/types/System/instances").await[0]["perfProfile"], "Compact");

    // Back to three nodes: the removed members become standbys and can then be removed.
    ok(api.post(&sys("switchClusterMode"), json!({ "mode": "ThreeNodes", "removeSlaveMdmIdList": [cluster["slaves"][0]["id"]], "removeTBIdList": [tb["id"]] })).await);
    ok(api.post(&sys("removeStandbyMdm"), json!({ "id": tb["id"] })).await);
    assert_fault(
        &api.post(&sys("removeStandbyMdm"), json!({ "id": tb["id"] })).await,
        556,
        "The MDM ID passed is not a cluster member",
    );
    assert_eq!(query().await["clusterMode"], "ThreeNodes");
}

#[tokio::test]
async fn sdc_approval_and_restricted_mode() {
    let (_gw, api) = start().await;
    let system = api.system_id().await;
    let sys = |a: &str| format!("/api/instances/System::{system}/action/{a}");
    let guid = "11111111-2222-3333-4444-555555555555";
    let id = api.post_ok(&sys("approveSdc"), json!({ "sdcGuid": guid, "sdcIp": "127.0.0.13", "name": "later" })).await;
    let sdc = api.get_ok(&format!("/api/instances/Sdc::{}", id["id"].as_str().unwrap())).await;
    assert_eq!(
        (sdc["mdmConnectionState"].clone(), sdc["sdcApprovedIps"].clone()),
        (json!("Disconnected"), json!(["127.0.0.13"]))
    );
    assert_fault(&api.post(&sys("approveSdc"), json!({ "sdcGuid": guid })).await, 671, "The SDC is already approved.");
    assert_fault(
        &api.post(&sys("approveSdc"), json!({ "sdcGuid": "not-a-guid" })).await,
        64,
        "Parameter out of range: sdcGuid \"not-a-guid\" is not a GUID",
    );
    // A never-connected SDC can be removed; its approval goes with it.
    let approved = id["id"].as_str().unwrap();
    ok(api.post_raw(&format!("/api/instances/Sdc::{approved}/action/removeSdc"), None, None).await);
    let again = api.post_ok(&sys("approveSdc"), json!({ "sdcGuid": guid })).await;
    let sdc = api.get_ok(&format!("/api/instances/Sdc::{}", again["id"].as_str().unwrap())).await;
    assert_eq!((sdc["sdcApprovedIps"].clone(), sdc["sdcGuid"].clone()), (Value::Null, json!(guid.to_uppercase())));

    ok(api.post(&sys("setRestrictedSdcMode"), json!({ "restrictedSdcMode": "Guid" })).await);
    let s = api.get_ok(&format!("/api/instances/System::{system}")).await;
    assert_eq!((s["restrictedSdcMode"].clone(), s["restrictedSdcModeEnabled"].clone()), (json!("Guid"), json!(true)));
    // ApprovedIp needs every connected SDC's IP approved first.
    assert_fault(
        &api.post(&sys("setRestrictedSdcMode"), json!({ "restrictedSdcMode": "ApprovedIp" })).await,
        488,
        "Cannot set restricted SDC mode due to SDC having an IP that is not approved by MDM",
    );
    let sdcs = api.get_ok("/api/types/Sdc/instances").await;
    for s in sdcs.as_array().unwrap().iter().filter(|s| s["mdmConnectionState"] == "Connected") {
        ok(api.post(&sys("setApprovedSdcIps"), json!({ "sdcId": s["id"], "sdcApprovedIps": [s["sdcIp"]] })).await);
    }
    ok(api.post(&sys("setRestrictedSdcMode"), json!({ "restrictedSdcMode": "ApprovedIp" })).await);
    let connected = sdcs.as_array().unwrap().iter().find(|s| s["sdcIp"] == "127.0.0.11").unwrap();
    assert_fault(
        &api.post(&sys("setApprovedSdcIps"), json!({ "sdcId": connected["id"], "sdcApprovedIps": ["127.0.0.99"] }))
            .await,
        893,
        "The current SDC IP must be in the set of IPs.",
    );
    assert_fault(
        &api.post(&sys("setApprovedSdcIps"), json!({ "sdcId": "0123456789abcdef", "sdcApprovedIps": [] })).await,
        80,
        "Could not find the SDC",
    );
}

#[tokio::test]
async fn inventory_statistics_by_relationship_and_selected() {
    let (_gw, api) = start().await;
    let sds = first(&api, "/api/types/Sds/instances").await;
    let id = sds["id"].as_str().unwrap();
    let full = api.get_ok(&format!("/api/instances/Sds::{id}/relationships/Statistics")).await;
    assert_eq!(full["numOfDevices"], json!(full["deviceIds"].as_array().unwrap().len()));
    let selected = api
        .post_ok(
            "/api/types/Sds/instances/action/querySelectedStatistics",
            json!({ "allIds": "", "properties": ["maxCapacityInKb", "numOfDevices"] }),
        )
        .await;
    assert_eq!(selected.as_object().unwrap().len(), 6);
    assert_eq!(
        selected[id],
        json!({ "maxCapacityInKb": full["maxCapacityInKb"], "numOfDevices": full["numOfDevices"] })
    );
    for ty in ["Device", "FaultSet"] {
        let all = api
            .post_ok(
                &format!("/api/types/{ty}/instances/action/querySelectedStatistics"),
                json!({ "allIds": "", "properties": ["maxCapacityInKb"] }),
            )
            .await;
        assert!(!all.as_object().unwrap().is_empty(), "{ty}");
    }
}

#[tokio::test]
async fn topology_sets_a_fine_granularity_compressed_pool() {
    let topology = powerflex_sim::model::topology::Topology::parse(
        r#"{"protectionDomains":[{"name":"pd","storagePools":[
            {"name":"fg","capacityGb":3072,"dataLayout":"FineGranularity","compressionMethod":"Normal"},
            {"name":"mg","capacityGb":3072}]}]}"#,
    )
    .unwrap();
    let (_gw, api) = start_with(Options { topology, ..options() }).await;
    let fg = api.pool_id("fg").await;
    let pool = api.get_ok(&format!("/api/instances/StoragePool::{fg}")).await;
    assert_eq!(
        (pool["dataLayout"].clone(), pool["compressionMethod"].clone()),
        (json!("FineGranularity"), json!("Normal"))
    );
    let mg = api.get_ok(&format!("/api/instances/StoragePool::{}", api.pool_id("mg").await)).await;
    assert_eq!(
        (mg["dataLayout"].clone(), mg["compressionMethod"].clone()),
        (json!("MediumGranularity"), json!("Invalid"))
    );
    let vol = api.create_volume(&fg, "c", 8).await;
    let tree = api.volume(&vol).await["vtreeId"].as_str().unwrap().to_string();
    let vtree = api.get_ok(&format!("/api/instances/VTree::{tree}")).await;
    assert_eq!(
        (vtree["dataLayout"].clone(), vtree["compressionMethod"].clone()),
        (json!("FineGranularity"), json!("Normal"))
    );
    // Made-up SDSs: three per domain when the topology names none.
    assert_eq!(api.get_ok("/api/types/Sds/instances").await.as_array().unwrap().len(), 3);
    let bad = r#"{"protectionDomains":[{"name":"pd","storagePools":[{"name":"p","capacityGb":1,"compressionMethod":"Normal"}]}]}"#;
    assert!(powerflex_sim::model::topology::Topology::parse(bad).is_err());
}

/// An SDC joining through `/sim/sdcs` shows as a real one does once connected to the MDM, can be
/// mapped by GUID, cannot be removed while connected, and shows disconnected when it leaves;
/// a restricted MDM admits only approved SDCs.
#[tokio::test]
async fn sdcs_join_and_leave_through_the_sim_surface() {
    let (_gw, api) = start().await;
    let guid = "0a1b2c3d-4e5f-4a6b-8c9d-0e1f2a3b4c5d";
    let joined = api.post_ok("/sim/sdcs", json!({ "guid": guid, "ip": "127.0.0.21", "name": "sdc-21" })).await;
    let id = joined["id"].as_str().unwrap().to_string();
    let listed = api.get_ok("/api/types/Sdc/instances").await;
    let sdc = listed.as_array().unwrap().iter().find(|s| s["id"] == id.as_str()).expect("listed").clone();
    assert_eq!(
        (&sdc["sdcGuid"], &sdc["sdcIp"], &sdc["mdmConnectionState"], &sdc["hostType"], &sdc["name"]),
        (&json!(guid.to_uppercase()), &json!("127.0.0.21"), &json!("Connected"), &json!("SdcHost"), &json!("sdc-21"))
    );
    // A known GUID joining again is the same SDC, from its new IP.
    let again = api.post_ok("/sim/sdcs", json!({ "guid": guid.to_uppercase(), "ip": "127.0.0.22" })).await;
    assert_eq!(again["id"], json!(id));
    let sdc = api.get_ok(&format!("/api/instances/Sdc::{id}")).await;
    assert_eq!(sdc["sdcIp"], json!("127.0.0.22"));
    let by_ip = api.post_ok("/api/types/Sdc/instances/action/queryIdByKey", json!({ "ip": "127.0.0.22" })).await;
    assert_eq!(by_ip, json!(id));

    let pool = api.pool_id("sp1").await;
    let vol = api.create_volume(&pool, "sdc-vol", 8).await;
    ok(api.volume_action(&vol, "addMappedSdc", json!({ "guid": guid, "allowMultipleMappings": "TRUE" })).await);
    let mapped = api.get_ok(&format!("/api/instances/Sdc::{id}/relationships/Volume")).await;
    assert_eq!(ids(&mapped), vec![vol.clone()]);
    ok(api.volume_action(&vol, "removeMappedSdc", json!({ "guid": guid })).await);
    let remove = format!("/api/instances/Sdc::{id}/action/removeSdc");
    assert_ne!(api.post_raw(&remove, None, None).await.0, 200, "a connected SDC cannot be removed");

    ok(api.post(&format!("/sim/sdcs/{guid}/disconnect"), json!({})).await);
    let sdc = api.get_ok(&format!("/api/instances/Sdc::{id}")).await;
    assert_eq!((&sdc["mdmConnectionState"], &sdc["sdcIp"]), (&json!("Disconnected"), &json!("N/A")));
    ok(api.post_raw(&remove, None, None).await);
    assert_fault(
        &api.post("/sim/sdcs/0a1b2c3d-4e5f-4a6b-8c9d-0e1f2a3b4c5d/disconnect", json!({})).await,
        80,
        "Could not find the SDC",
    );

    assert_fault(
        &api.post("/sim/sdcs", json!({ "guid": "not-a-guid", "ip": "127.0.0.21" })).await,
        64,
        "Parameter out of range: sdcGuid \"not-a-guid\" is not a GUID",
    );
    assert_fault(
        &api.post("/sim/sdcs", json!({ "guid": guid, "ip": "localhost" })).await,
        64,
        "Parameter out of range: \"localhost\" is not an IPv4 address",
    );
    let system = api.system_id().await;
    let mode = format!("/api/instances/System::{system}/action/setRestrictedSdcMode");
    ok(api.post(&mode, json!({ "restrictedSdcMode": "Guid" })).await);
    let refused = api.post("/sim/sdcs", json!({ "guid": guid, "ip": "127.0.0.21" })).await;
    assert_eq!((refused.0, &refused.2["errorCode"]), (500, &json!(64)), "{refused:?}");
    assert!(refused.2["message"].as_str().unwrap().contains("admits only approved SDCs"), "{refused:?}");
    let approve = format!("/api/instances/System::{system}/action/approveSdc");
    let approved = api.post_ok(&approve, json!({ "sdcGuid": guid })).await;
    let joined = api.post_ok("/sim/sdcs", json!({ "guid": guid, "ip": "127.0.0.21" })).await;
    assert_eq!(joined["id"], approved["id"]);
    let sdc = api.get_ok(&format!("/api/instances/Sdc::{}", approved["id"].as_str().unwrap())).await;
    assert_eq!(sdc["mdmConnectionState"], json!("Connected"));
}
