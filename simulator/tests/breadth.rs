//! The API beyond the volume core, through a real HTTPS client: `/api/Configuration`,
//! statistics for every type clients query, mapping access modes, secure snapshots, SDC
//! performance profiles and removal, VTree names. Negative paths assert the exact
//! status, `errorCode` and message.

mod common;

use common::*;
use powerflex_sim::model::topology::{SdcSpec, Topology};
use serde_json::{json, Value};

const CONNECTED_GUID: &str = "9a1c5c1e-4b5e-4d3a-8f0e-1b2c3d4e5f60";
const DISCONNECTED_GUID: &str = "0f0e0d0c-0b0a-4908-8706-050403020100";

/// The default topology plus two SDCs, one of them no longer connected to the MDM.
async fn start_with_sdcs() -> (TestGateway, Api) {
    let mut topology = Topology::default_embedded();
    for (guid, ip, connected) in [(CONNECTED_GUID, "127.0.0.21", true), (DISCONNECTED_GUID, "127.0.0.22", false)] {
        topology.sdcs.push(SdcSpec { name: None, guid: guid.into(), ip: ip.into(), connected });
    }
    start_with(Options { topology, ..options() }).await
}

async fn sdc_by_guid(api: &Api, guid: &str) -> String {
    let sdcs = api.get_ok("/api/types/Sdc/instances").await;
    let sdc = sdcs.as_array().unwrap().iter().find(|s| s["sdcGuid"] == guid).expect("SDC in topology");
    sdc["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn configuration_lists_the_mdm_cluster_the_system_shows() {
    let (gw, api) = start().await;
    let config = api.get_ok("/api/Configuration").await;
    let system = &api.get_ok("/api/types/System/instances").await[0];
    assert_eq!(config["systemId"], system["id"]);
    assert_eq!(config["mdmPort"], 6611);
    // The MDMs SDCs talk to: the primary and the secondaries, each address once.
    let cluster = &system["mdmCluster"];
    let mut expected: Vec<Value> = vec![];
    for mdm in std::iter::once(&cluster["master"]).chain(cluster["slaves"].as_array().unwrap()) {
        for ip in mdm["ips"].as_array().unwrap() {
            if !expected.contains(ip) {
                expected.push(ip.clone());
            }
        }
    }
    assert!(!expected.is_empty());
    assert_eq!(config["mdmAddresses"], Value::Array(expected));
    assert_eq!(system["primaryMdmActorIpList"], cluster["master"]["ips"]);
    // A normal session reads it; no session does not.
    let anonymous =
        read(http_client(&gw.ca_cert_pem).get(format!("{}/api/Configuration", gw.url)).send().await.unwrap()).await;
    assert_html_401(&anonymous);
}

#[tokio::test]
async fn query_selected_statistics_answers_every_type_with_all_ids() {
    let (_gw, api) = start_with_sdcs().await;
    let sp1 = api.pool_id("sp1").await;
    let thin = api.create_volume(&sp1, "q_thin", 8).await;
    api.create_thick_volume(&sp1, "q_thick", 8).await;
    api.snapshot(&thin, "q_snap").await;
    let query = |ty: &str, body: Value| {
        let api = api.clone();
        let path = format!("/api/types/{ty}/instances/action/querySelectedStatistics");
        async move { api.post(&path, body).await }
    };

    let pools = ok(query(
        "StoragePool",
        json!({ "allIds": "", "properties": ["numOfVolumes", "volumeIds", "vtreeIds", "netProvisionedAddressesInKb"] }),
    )
    .await);
    let pool_ids: Vec<String> = api
        .get_ok("/api/types/StoragePool/instances")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pools.as_object().unwrap().len(), pool_ids.len());
    let mine = &pools[sp1.as_str()];
    assert_eq!(mine["numOfVolumes"], 3);
    assert_eq!(mine["volumeIds"].as_array().unwrap().len(), 3);
    assert_eq!(mine["vtreeIds"].as_array().unwrap().len(), 2, "thin and snapshot share a tree");
    // Only the thick volume's addresses hold data: nothing was written.
    assert_eq!(mine["netProvisionedAddressesInKb"], 8 * GIB_KB);

    let volumes = ok(query("Volume", json!({ "allIds": "", "properties": ["numOfChildVolumes", "netProvisionedAddressesInKb", "volumeAddressSpaceInKb"] })).await);
    assert_eq!(volumes.as_object().unwrap().len(), 3);
    assert_eq!(
        volumes[thin.as_str()],
        json!({ "numOfChildVolumes": 1, "netProvisionedAddressesInKb": 0, "volumeAddressSpaceInKb": 8 * GIB_KB })
    );

    let tree = api.volume(&thin).await["vtreeId"].as_str().unwrap().to_string();
    let trees = ok(query("VTree", json!({ "ids": [tree], "properties": ["numOfVolumes", "netProvisionedAddressesInKb", "volumeAddressSpaceInKb"] })).await);
    assert_eq!(
        trees[tree.as_str()],
        json!({ "numOfVolumes": 2, "netProvisionedAddressesInKb": 0, "volumeAddressSpaceInKb": 8 * GIB_KB })
    );

    let sdc = sdc_by_guid(&api, CONNECTED_GUID).await;
    ok(api.volume_action(&thin, "addMappedSdc", json!({ "sdcId": sdc })).await);
    let sdcs =
        ok(query("Sdc", json!({ "allIds": "", "properties": ["numOfMappedVolumes", "volumeIds", "userDataReadBwc"] }))
            .await);
    let listed = api.get_ok("/api/types/Sdc/instances").await.as_array().unwrap().len();
    assert_eq!(sdcs.as_object().unwrap().len(), listed, "allIds covers every SDC, the topology's and the test's");
    assert_eq!(sdcs[sdc.as_str()]["volumeIds"], json!([thin]));
    assert_eq!(
        sdcs[sdc.as_str()]["userDataReadBwc"],
        json!({ "totalWeightInKb": 0, "numOccured": 0, "numSeconds": 0 })
    );

    let pd = api.pd_id("pd1").await;
    let pds = ok(query("ProtectionDomain", json!({ "ids": [pd], "properties": ["numOfStoragePools", "numOfVolumes", "storagePoolIds", "maxCapacityInKb"] })).await);
    assert_eq!(pds[pd.as_str()]["numOfStoragePools"], 2);
    assert_eq!(pds[pd.as_str()]["numOfVolumes"], 3);
    let pd_pools = api.get_ok(&format!("/api/instances/ProtectionDomain::{pd}/relationships/StoragePool")).await;
    let mut raw_kb = 0;
    for pool in pd_pools.as_array().unwrap() {
        raw_kb += api.pool_stats(pool["id"].as_str().unwrap()).await["maxCapacityInKb"].as_u64().unwrap();
    }
    assert_eq!(pds[pd.as_str()]["maxCapacityInKb"], raw_kb, "a domain's capacity is its pools' together");

    let system = api.system_id().await;
    let all = ok(query(
        "System",
        json!({ "allIds": "", "properties": ["numOfVolumes", "numOfProtectionDomains", "numOfSdc"] }),
    )
    .await);
    assert_eq!(all, json!({ system.clone(): { "numOfVolumes": 3, "numOfProtectionDomains": 2, "numOfSdc": listed } }));
    // Asked without ids (PyPowerFlex `system.query_selected_statistics`), the one System answers unkeyed.
    assert_eq!(ok(query("System", json!({ "properties": ["numOfVolumes"] })).await), json!({ "numOfVolumes": 3 }));
    let full = api.get_ok(&format!("/api/instances/System::{system}/relationships/Statistics")).await;
    assert_eq!(full["numOfStoragePools"], 3);

    // An unknown property fails the call; so does neither ids nor allIds.
    assert_error(
        &query("StoragePool", json!({ "allIds": "", "properties": ["noSuchCounter"] })).await,
        400,
        0,
        "Request failed: unknown statistics property \"noSuchCounter\" for StoragePool",
    );
    assert_error(
        &query("Volume", json!({ "properties": ["numOfChildVolumes"] })).await,
        400,
        0,
        "Missing required parameter: ids or allIds",
    );
    assert_fault(
        &query("VTree", json!({ "ids": ["0123456789abcdef"], "properties": ["numOfVolumes"] })).await,
        230,
        "The VTree was not found",
    );
}

#[tokio::test]
async fn mapping_access_mode_changes_one_mapping() {
    let (_gw, api) = start_with_sdcs().await;
    let sp1 = api.pool_id("sp1").await;
    let volume = api.create_volume(&sp1, "am_vol", 8).await;
    let sdc = sdc_by_guid(&api, CONNECTED_GUID).await;
    let set = |body: Value| api.volume_action(&volume, "setVolumeMappingAccessMode", body);
    assert_fault(&set(json!({ "accessMode": "ReadOnly", "sdcId": sdc })).await, 84, "The volume is not mapped to SDC");
    ok(api.volume_action(&volume, "addMappedSdc", json!({ "sdcId": sdc })).await);
    ok(set(json!({ "accessMode": "ReadOnly", "sdcId": sdc })).await);
    assert_eq!(api.volume(&volume).await["mappedSdcInfo"][0]["accessMode"], "ReadOnly");
    // By GUID too (PyPowerFlex and goscaleio send sdcId; the GUID names the same SDC).
    ok(set(json!({ "accessMode": "NoAccess", "guid": CONNECTED_GUID })).await);
    assert_eq!(api.volume(&volume).await["mappedSdcInfo"][0]["accessMode"], "NoAccess");
    assert_error(
        &set(json!({ "accessMode": "Invalid", "sdcId": sdc })).await,
        400,
        0,
        "accessMode should get one of the following values: ReadWrite, ReadOnly, NoAccess, but its value is Invalid",
    );
    assert_fault(
        &set(json!({ "accessMode": "ReadOnly", "sdcId": "0123456789abcdef" })).await,
        80,
        "Could not find the SDC",
    );
    assert_error(&set(json!({ "sdcId": sdc })).await, 400, 0, "Missing required parameter: accessMode");
    // A read-only volume cannot be mapped read-write.
    ok(api.volume_action(&volume, "setVolumeAccessModeLimit", json!({ "accessModeLimit": "ReadOnly" })).await);
    assert_fault(
        &set(json!({ "accessMode": "ReadWrite", "sdcId": sdc })).await,
        64,
        "Parameter out of range: the volume's access mode limit is ReadOnly",
    );
}

#[tokio::test]
async fn secure_snapshots_keep_their_expiry_and_refuse_removal() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let base = api.create_volume(&sp1, "sec_base", 8).await;
    // PyPowerFlex sends the retention as a string, and null when there is none.
    let reply = ok(api
        .post(
            "/api/instances/System/action/snapshotVolumes",
            json!({ "snapshotDefs": [{ "volumeId": base, "snapshotName": "sec_snap" }],
                    "retentionPeriodInMin": "60", "accessModeLimit": "ReadOnly", "allowOnExtManagedVol": null }),
        )
        .await);
    let snap = reply["volumeIdList"][0].as_str().unwrap().to_string();
    let v = api.volume(&snap).await;
    let created = v["creationTime"].as_u64().unwrap();
    assert_eq!(v["secureSnapshotExpTime"], created + 3600);
    assert_eq!(v["originalExpiryTime"], created + 3600);
    assert_eq!(api.volume(&base).await["secureSnapshotExpTime"], 0);

    let not_expired = "A secure snapshot cannot be removed before its expiration time";
    assert_fault(
        &api.volume_action(&snap, "removeVolume", json!({ "removeMode": "ONLY_ME" })).await,
        4102,
        not_expired,
    );
    assert_fault(
        &api.volume_action(&base, "removeVolume", json!({ "removeMode": "WHOLE_VTREE" })).await,
        4102,
        not_expired,
    );
    let group = reply["snapshotGroupId"].as_str().unwrap();
    assert_fault(
        &api.post("/api/instances/System/action/removeConsistencyGroupSnapshots", json!({ "snapGroupId": group }))
            .await,
        4102,
        not_expired,
    );
    // Delayed, never advanced.
    let security = |volume: &String, body: Value| {
        let (api, volume) = (api.clone(), volume.clone());
        async move { api.volume_action(&volume, "setSnapshotSecurity", body).await }
    };
    assert_fault(
        &security(&snap, json!({ "retentionPeriodInMin": "30" })).await,
        4101,
        "The expiration time of a secure snapshot can be delayed but not advanced",
    );
    ok(security(&snap, json!({ "retentionPeriodInMin": "600" })).await);
    let v = api.volume(&snap).await;
    assert!(v["secureSnapshotExpTime"].as_u64().unwrap() >= created + 36_000, "{v}");
    assert_eq!(v["originalExpiryTime"], created + 3600);
    assert_fault(&security(&base, json!({ "retentionPeriodInMin": "60" })).await, 4100, "The volume is not a snapshot");
    assert_error(&security(&snap, json!({})).await, 400, 0, "Missing required parameter: retentionPeriodInMin");
    assert_fault(
        &security(&snap, json!({ "retentionPeriodInMin": 0 })).await,
        64,
        "Parameter out of range: retentionPeriodInMin must be at least 1",
    );
    // The snapshot and its tree are all still there.
    assert_eq!(api.volume(&snap).await["id"], snap);
}

#[tokio::test]
async fn sdc_perf_profile_is_kept_so_a_second_run_sees_no_change() {
    let (_gw, api) = start_with_sdcs().await;
    let sdc = sdc_by_guid(&api, CONNECTED_GUID).await;
    let path = format!("/api/instances/Sdc::{sdc}/action/setSdcPerformanceParameters");
    assert_eq!(api.get_ok(&format!("/api/instances/Sdc::{sdc}")).await["perfProfile"], "HighPerformance");
    for _ in 0..2 {
        ok(api.post(&path, json!({ "perfProfile": "Compact" })).await);
        assert_eq!(api.get_ok(&format!("/api/instances/Sdc::{sdc}")).await["perfProfile"], "Compact");
    }
    assert_error(
        &api.post(&path, json!({ "perfProfile": "Fast" })).await,
        400,
        0,
        "perfProfile should get one of the following values: Compact, HighPerformance, but its value is Fast",
    );
    assert_error(&api.post(&path, json!({})).await, 400, 0, "Missing required parameter: perfProfile");
    assert_fault(
        &api.post(
            "/api/instances/Sdc::0123456789abcdef/action/setSdcPerformanceParameters",
            json!({ "perfProfile": "Compact" }),
        )
        .await,
        80,
        "Could not find the SDC",
    );
    let host =
        api.create_nvme_host("perf_host", "nqn.2014-08.org.nvmexpress:uuid:5a0d7b0e-3c1f-4e0a-9d35-7e2b9c1f0a11").await;
    assert_fault(
        &api.post(
            &format!("/api/instances/Sdc::{host}/action/setSdcPerformanceParameters"),
            json!({ "perfProfile": "Compact" }),
        )
        .await,
        64,
        "Parameter out of range: only SDCs have a performance profile",
    );
}

#[tokio::test]
async fn a_connected_sdc_cannot_be_removed() {
    let (_gw, api) = start_with_sdcs().await;
    let connected = sdc_by_guid(&api, CONNECTED_GUID).await;
    let disconnected = sdc_by_guid(&api, DISCONNECTED_GUID).await;
    assert_eq!(api.get_ok(&format!("/api/instances/Sdc::{connected}")).await["mdmConnectionState"], "Connected");
    assert_eq!(api.get_ok(&format!("/api/instances/Sdc::{disconnected}")).await["mdmConnectionState"], "Disconnected");
    assert_fault(
        &api.post_raw(&format!("/api/instances/Sdc::{connected}/action/removeSdc"), None, None).await,
        298,
        "Cannot remove an SDC which is currently connected to the MDM.",
    );
    ok(api.post_raw(&format!("/api/instances/Sdc::{disconnected}/action/removeSdc"), None, None).await);
    assert_fault(&api.get(&format!("/api/instances/Sdc::{disconnected}")).await, 80, "Could not find the SDC");
    assert_eq!(api.get_ok(&format!("/api/instances/Sdc::{connected}")).await["id"], connected);
}

#[tokio::test]
async fn a_vtree_is_named_after_its_base_volume() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let base = api.create_volume(&sp1, "tree_one", 8).await;
    api.snapshot(&base, "tree_one_snap").await;
    let tree = api.volume(&base).await["vtreeId"].as_str().unwrap().to_string();
    let name = || async { api.get_ok(&format!("/api/instances/VTree::{tree}")).await["name"].clone() };
    assert_eq!(name().await, "tree_one");
    ok(api.volume_action(&base, "setVolumeName", json!({ "newName": "tree_two" })).await);
    assert_eq!(name().await, "tree_two");
}
