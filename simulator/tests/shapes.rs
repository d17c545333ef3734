//! The shapes of the objects and error bodies, pinned by insta snapshots.
//!
//! A snapshot alone could bless a missing field, so every test also checks the field names the
//! reference (`powerflex-api.md` §2) lists for that object. Ids are deterministic (seed 1);
//! `creationTime` is redacted. Snapshots live in `tests/snapshots/`; with `CI=true` a mismatch
//! fails instead of writing a `.snap.new`.

mod common;

use common::*;
use serde_json::{json, Value};

/// Asserts the `rel`s of `links`, in order, and that every `href` is a path under `/api/instances/`.
#[track_caller]
fn assert_links(what: &str, object: &Value, rels: &[&str]) {
    let links = object["links"].as_array().unwrap_or_else(|| panic!("{what} has links"));
    let got: Vec<&str> = links.iter().map(|l| l["rel"].as_str().expect("rel")).collect();
    assert_eq!(got, rels, "{what} link rels");
    for l in links {
        assert!(l["href"].as_str().expect("href").starts_with("/api/instances/"), "{what} href {l}");
    }
}

/// Asserts that a value that clients decode as an integer is one (goscaleio decodes ints).
#[track_caller]
fn assert_uint(what: &str, object: &Value, fields: &[&str]) {
    for f in fields {
        assert!(object[f].is_u64(), "{what}.{f} is an unsigned integer: {}", object[f]);
    }
}

const SYSTEM: &[&str] = &[
    "id",
    "name",
    "systemVersionName",
    "installId",
    "mdmCluster",
    "mdmManagementPort",
    "mdmExternalPort",
    "capacityAlertHighThresholdPercent",
    "capacityAlertCriticalThresholdPercent",
    "remoteReadOnlyLimitState",
    "restrictedSdcModeEnabled",
    "enterpriseFeaturesEnabled",
    "isInitialLicense",
    "defaultIsVolumeObfuscated",
    "cliPasswordAllowed",
    "managementClientSecureCommunicationEnabled",
    "showGuid",
    "defragmentationEnabled",
    "restrictedSdcMode",
    "swid",
    "daysInstalled",
    "maxCapacityInGb",
    "capacityTimeLeftInDays",
    "perfProfile",
    "tlsVersion",
    "authenticationMethod",
    "mdmSecurityPolicy",
    "upgradeState",
    "systemNqn",
    "primaryMdmActorIpList",
    "secondaryMdmActorIpList",
    "tiebreakerMdmIpList",
    "mdmManagementIPList",
    "lastUpgradeTime",
    "realignNetPathInterval",
    "lastRealignNetPathTime",
    "links",
];
const MDM_CLUSTER: &[&str] = &[
    "clusterState",
    "clusterMode",
    "master",
    "slaves",
    "tieBreakers",
    "standbyMDMs",
    "goodNodesNum",
    "goodReplicasNum",
    "id",
];
const MDM: &[&str] = &[
    "id",
    "name",
    "port",
    "ips",
    "managementIPs",
    "role",
    "status",
    "versionInfo",
    "opensslVersion",
    "virtualInterfaces",
];

const PROTECTION_DOMAIN: &[&str] = &[
    "id",
    "name",
    "systemId",
    "protectionDomainState",
    "rebuildNetworkThrottlingInKbps",
    "rebalanceNetworkThrottlingInKbps",
    "overallIoNetworkThrottlingInKbps",
    "vtreeMigrationNetworkThrottlingInKbps",
    "protectedMaintenanceModeNetworkThrottlingInKbps",
    "rebuildNetworkThrottlingEnabled",
    "rebalanceNetworkThrottlingEnabled",
    "overallIoNetworkThrottlingEnabled",
    "vtreeMigrationNetworkThrottlingEnabled",
    "protectedMaintenanceModeNetworkThrottlingEnabled",
    "fglDefaultNumConcurrentWrites",
    "fglMetadataCacheEnabled",
    "fglDefaultMetadataCacheSize",
    "rfcacheEnabled",
    "rfcacheAccpId",
    "rfcacheOpertionalMode",
    "rfcachePageSizeKb",
    "rfcacheMaxIoSizeKb",
    "sdrSdsConnectivityInfo",
    "sdsConfigurationFailureCounterParameters",
    "sdsDecoupledCounterParameters",
    "mdmSdsNetworkDisconnectionsCounterParameters",
    "sdsSdsNetworkDisconnectionsCounterParameters",
    "sdsReceiveBufferAllocationFailuresCounterParameters",
    "replicationCapacityMaxRatio",
    "rplCapAlertLevel",
    "links",
];

const STORAGE_POOL: &[&str] = &[
    "id",
    "name",
    "protectionDomainId",
    "mediaType",
    "dataLayout",
    "zeroPaddingEnabled",
    "useRmcache",
    "useRfcache",
    "sparePercentage",
    "rmcacheWriteHandlingMode",
    "checksumEnabled",
    "rebuildEnabled",
    "rebalanceEnabled",
    "compressionMethod",
    "fragmentationEnabled",
    "numOfParallelRebuildRebalanceJobsPerDevice",
    "capacityAlertHighThreshold",
    "capacityAlertCriticalThreshold",
    "capacityUsageState",
    "capacityUsageType",
    "addressSpaceUsage",
    "addressSpaceUsageType",
    "externalAccelerationType",
    "persistentChecksumState",
    "persistentChecksumEnabled",
    "persistentChecksumBuilderLimitKb",
    "persistentChecksumValidateOnRead",
    "bgScannerCompareErrorAction",
    "bgScannerReadErrorAction",
    "backgroundScannerMode",
    "backgroundScannerBWLimitKBps",
    "replicationCapacityMaxRatio",
    "fglAccpId",
    "fglExtraCapacity",
    "fglOverProvisioningFactor",
    "fglWriteAtomicitySize",
    "fglMaxCompressionRatio",
    "fglPerfProfile",
    "fglMetadataSizeXx100",
    "fglNvdimmWriteCacheSizeInMb",
    "fglNvdimmMetadataAmortizationX100",
    "rebuildIoPriorityPolicy",
    "rebalanceIoPriorityPolicy",
    "vtreeMigrationIoPriorityPolicy",
    "protectedMaintenanceModeIoPriorityPolicy",
    "links",
];
/// Each combines with the four kinds `rebuild`, `rebalance`, `vtreeMigration`, `protectedMaintenanceMode`.
const POOL_IO_PRIORITY: &[&str] = &[
    "IoPriorityNumOfConcurrentIosPerDevice",
    "IoPriorityBwLimitPerDeviceInKbps",
    "IoPriorityAppIopsPerDeviceThreshold",
    "IoPriorityAppBwPerDeviceThresholdInKbps",
    "IoPriorityQuietPeriodInMsec",
];

const VOLUME: &[&str] = &[
    "id",
    "name",
    "sizeInKb",
    "storagePoolId",
    "vtreeId",
    "ancestorVolumeId",
    "consistencyGroupId",
    "volumeType",
    "dataLayout",
    "compressionMethod",
    "creationTime",
    "mappedSdcInfo",
    "accessModeLimit",
    "useRmcache",
    "managedBy",
    "notGenuineSnapshot",
    "secureSnapshotExpTime",
    "originalExpiryTime",
    "retentionLevels",
    "snplIdOfSourceVolume",
    "snplIdOfAutoSnapshot",
    "autoSnapshotGroupId",
    "lockedAutoSnapshot",
    "lockedAutoSnapshotMarkedForRemoval",
    "timeStampIsAccurate",
    "pairIds",
    "volumeReplicationState",
    "replicationJournalVolume",
    "replicationTimeStamp",
    "volumeClass",
    "nsid",
    "links",
];
const MAPPED_SDC_INFO: &[&str] = &[
    "sdcId",
    "sdcIp",
    "sdcName",
    "limitIops",
    "limitBwInMbps",
    "accessMode",
    "isDirectBufferMapping",
    "nqn",
    "hostType",
];
const VOLUME_LINKS: &[&str] = &[
    "self",
    "/api/Volume/relationship/Statistics",
    "/api/parent/relationship/vtreeId",
    "/api/parent/relationship/storagePoolId",
];

const VTREE: &[&str] = &[
    "id",
    "name",
    "storagePoolId",
    "dataLayout",
    "compressionMethod",
    "inDeletion",
    "rootVolumes",
    "baseVolumeId",
    "vtreeMigrationInfo",
    "links",
];
const VTREE_MIGRATION_INFO: &[&str] = &[
    "sourceStoragePoolId",
    "destinationStoragePoolId",
    "migrationStatus",
    "migrationPauseReason",
    "migrationQueuePosition",
    "thicknessConversionType",
];

const NVME_HOST: &[&str] = &[
    "id",
    "name",
    "hostType",
    "hostOsFullType",
    "nqn",
    "maxNumPaths",
    "maxNumSysPorts",
    "systemId",
    "sdcIps",
    "osType",
    "sdcApproved",
    "sdcAgentActive",
    "mdmIpAddressesCurrent",
    "sdcIp",
    "perfProfile",
    "peerMdmId",
    "sdtId",
    "mdmConnectionState",
    "softwareVersionInfo",
    "socketAllocationFailure",
    "memoryAllocationFailure",
    "versionInfo",
    "sdcType",
    "sdcGuid",
    "installedSoftwareVersionInfo",
    "kernelVersion",
    "kernelBuildNumber",
    "sdcApprovedIps",
    "sdrId",
    "links",
];

const SDT: &[&str] = &[
    "id",
    "name",
    "sdtState",
    "ipList",
    "systemId",
    "protectionDomainId",
    "storagePort",
    "nvmePort",
    "discoveryPort",
    "certificateInfo",
    "mdmConnectionState",
    "membershipState",
    "faultSetId",
    "softwareVersionInfo",
    "maintenanceState",
    "authenticationError",
    "persistentDiscoveryControllersNum",
    "links",
];

/// The pool statistics §2.3 names: CloudStack's, LXD's, cinder's, goscaleio's and the ansible
/// sample's.
const POOL_STATISTICS: &[&str] = &[
    // CloudStack, LXD
    "maxCapacityInKb",
    "spareCapacityInKb",
    "netCapacityInUseInKb",
    "netUnusedCapacityInKb",
    // cinder
    "snapshotCapacityInKb",
    "thickCapacityInUseInKb",
    "thinCapacityAllocatedInKb",
    "snapCapacityInUseInKb",
    "capacityLimitInKb",
    "capacityAvailableForVolumeAllocationInKb",
    "thinCapacityAllocatedInKm",
    // goscaleio types.Statistics
    "capacityInUseInKb",
    "thinCapacityInUseInKb",
    "snapCapacityInUseOccupiedInKb",
    "volumeAllocationLimitInKb",
    "netUserDataCapacityInKb",
    "volumeAddressSpaceInKb",
    "numOfVolumes",
    "numOfSnapshots",
    "numOfVtrees",
    "numOfThinBaseVolumes",
    "numOfThickBaseVolumes",
    "numOfMappedToAllVolumes",
    "numOfUnmappedVolumes",
    "numOfVolumesInDeletion",
    "numOfDevices",
    "primaryVacInKb",
    "secondaryVacInKb",
    "protectedVacInKb",
    "inUseVacInKb",
    "failedCapacityInKb",
    "degradedHealthyCapacityInKb",
    "degradedFailedCapacityInKb",
    "primaryReadBwc",
    "primaryWriteBwc",
    "secondaryReadBwc",
    "secondaryWriteBwc",
    "totalReadBwc",
    "totalWriteBwc",
    "rebalanceReadBwc",
    "rebalanceWriteBwc",
    "fwdRebuildReadBwc",
    "fwdRebuildWriteBwc",
    "bckRebuildReadBwc",
    "bckRebuildWriteBwc",
    // the ansible sample
    "unusedCapacityInKb",
    "maxUserDataCapacityInKb",
    "netMaxUserDataCapacityInKb",
    "vtreeAddresSpaceInKb",
    "volumeIds",
    "vtreeIds",
    "deviceIds",
    "spSdsIds",
    "thinAndSnapshotRatio",
    "overallUsageRatio",
    "compressionRatio",
];

/// The `querySystemLimits` entry types §2.11 lists.
const SYSTEM_LIMIT_TYPES: &[&str] = &[
    "volumeSizeGb",
    "volumes",
    "vtrees",
    "snapshots",
    "volumesPerProtectionDomain",
    "vtreesPerProtectionDomain",
    "volumePerVtree",
    "volumePerMediumGranularityVtree",
    "volumePerFineGranularityVtree",
    "snapshotsPerVtree",
    "snapshotsPerMediumGranularityVtree",
    "snapshotsPerFineGranularityVtree",
    "allVolumesInSpSizeGb",
    "allVolumesSizeGb",
    "volumesPerSdc",
    "volumesPerNvmeHost",
    "sdcs",
    "nvmeHosts",
    "sdts",
    "sdtsPerProtectionDomain",
    "protectionDomains",
    "storagePools",
    "storagePoolsPerProtectionDomain",
    "sessions",
    "users",
    "pathsPerVolume",
    "replicationVolumeSizeGb",
];

const NQN: &str = "nqn.2014-08.org.nvmexpress:uuid:c470396a-2a3b-48ad-9c22-d3811fe1036d";

#[tokio::test]
async fn system_shape() {
    let (_gw, api) = start().await;
    let system = api.get_ok("/api/types/System/instances").await[0].clone();
    assert_fields("System", &system, SYSTEM);
    assert_fields("System.mdmCluster", &system["mdmCluster"], MDM_CLUSTER);
    assert_fields("System.mdmCluster.master", &system["mdmCluster"]["master"], MDM);
    assert_links(
        "System",
        &system,
        &[
            "self",
            "/api/System/relationship/Statistics",
            "/api/System/relationship/ProtectionDomain",
            "/api/System/relationship/Sdc",
            "/api/System/relationship/User",
        ],
    );
    // Strings where the reference says so; no genType on 4.x.
    assert!(system["maxCapacityInGb"].is_string() && system["capacityTimeLeftInDays"].is_string());
    assert!(system.get("genType").is_none());
    insta::assert_json_snapshot!("system", system);
}

#[tokio::test]
async fn protection_domain_shape() {
    let (_gw, api) = start().await;
    let pd = api.get_ok(&format!("/api/instances/ProtectionDomain::{}", api.pd_id("pd1").await)).await;
    assert_fields("ProtectionDomain", &pd, PROTECTION_DOMAIN);
    let base = "/api/ProtectionDomain/relationship/";
    let mut rels: Vec<String> = [
        "Statistics",
        "Sdr",
        "AccelerationPool",
        "StoragePool",
        "Sds",
        "ReplicationConsistencyGroup",
        "FaultSet",
        "Sdt",
    ]
    .iter()
    .map(|r| format!("{base}{r}"))
    .collect();
    rels.insert(0, "self".into());
    rels.push("/api/parent/relationship/systemId".into());
    assert_links("ProtectionDomain", &pd, &rels.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(pd.get("genType").is_none());
    insta::assert_json_snapshot!("protection_domain", pd);
}

#[tokio::test]
async fn storage_pool_shape() {
    let (_gw, api) = start().await;
    let pool = api.get_ok(&format!("/api/instances/StoragePool::{}", api.pool_id("sp1").await)).await;
    assert_fields("StoragePool", &pool, STORAGE_POOL);
    let io: Vec<String> = ["rebuild", "rebalance", "vtreeMigration", "protectedMaintenanceMode"]
        .iter()
        .flat_map(|kind| POOL_IO_PRIORITY.iter().map(move |suffix| format!("{kind}{suffix}")))
        .collect();
    assert_fields("StoragePool", &pool, &io.iter().map(String::as_str).collect::<Vec<_>>());
    assert_links(
        "StoragePool",
        &pool,
        &[
            "self",
            "/api/StoragePool/relationship/Statistics",
            "/api/StoragePool/relationship/SpSds",
            "/api/StoragePool/relationship/Volume",
            "/api/StoragePool/relationship/Device",
            "/api/StoragePool/relationship/VTree",
            "/api/parent/relationship/protectionDomainId",
        ],
    );
    assert_uint(
        "StoragePool",
        &pool,
        &["sparePercentage", "capacityAlertHighThreshold", "capacityAlertCriticalThreshold"],
    );
    insta::assert_json_snapshot!("storage_pool", pool);
}

#[tokio::test]
async fn volume_shapes_unmapped_mapped_and_snapshot() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let id = api.create_volume(&sp1, "shape_volume", 8).await;
    let unmapped = api.volume(&id).await;
    assert_fields("Volume", &unmapped, VOLUME);
    assert_links("Volume", &unmapped, VOLUME_LINKS);
    assert_eq!(unmapped["mappedSdcInfo"], Value::Null, "unmapped volumes carry null");
    assert!(unmapped.get("mappedScsiInitiatorInfo").is_none_or(Value::is_null), "an array would break goscaleio");
    assert_uint("Volume", &unmapped, &["sizeInKb", "creationTime"]);
    insta::assert_json_snapshot!("volume_unmapped", unmapped, { ".creationTime" => "[creationTime]" });

    let host = api.create_nvme_host("shape_host", NQN).await;
    api.map_host(&id, &host).await;
    let mapped = api.volume(&id).await;
    assert_fields("Volume", &mapped, VOLUME);
    let info = mapped["mappedSdcInfo"].as_array().expect("mapped volumes carry an array");
    assert_eq!(info.len(), 1);
    assert_fields("mappedSdcInfo[0]", &info[0], MAPPED_SDC_INFO);
    assert_uint("mappedSdcInfo[0]", &info[0], &["limitIops", "limitBwInMbps"]);
    insta::assert_json_snapshot!("volume_mapped", mapped, { ".creationTime" => "[creationTime]" });

    let snap = api.snapshot(&id, "shape_snapshot").await;
    let snapshot = api.volume(&snap).await;
    assert_fields("Snapshot", &snapshot, VOLUME);
    let mut links = VOLUME_LINKS.to_vec();
    links.push("/api/parent/relationship/ancestorVolumeId");
    assert_links("Snapshot", &snapshot, &links);
    assert_eq!(snapshot["volumeType"], "Snapshot");
    insta::assert_json_snapshot!("volume_snapshot", snapshot, { ".creationTime" => "[creationTime]" });
}

#[tokio::test]
async fn vtree_shape() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let id = api.create_volume(&sp1, "tree_base", 8).await;
    api.snapshot(&id, "tree_snap").await;
    let vtree_id = api.volume(&id).await["vtreeId"].as_str().unwrap().to_string();
    let vtree = api.get_ok(&format!("/api/instances/VTree::{vtree_id}")).await;
    assert_fields("VTree", &vtree, VTREE);
    assert_fields("VTree.vtreeMigrationInfo", &vtree["vtreeMigrationInfo"], VTREE_MIGRATION_INFO);
    assert_links(
        "VTree",
        &vtree,
        &[
            "self",
            "/api/VTree/relationship/Statistics",
            "/api/VTree/relationship/Volume",
            "/api/parent/relationship/storagePoolId",
        ],
    );
    insta::assert_json_snapshot!("vtree", vtree);
}

#[tokio::test]
async fn nvme_host_shape() {
    let (_gw, api) = start().await;
    let id = api.create_nvme_host("shape_host", NQN).await;
    let host = api.get_ok(&format!("/api/instances/Host::{id}")).await;
    assert_fields("NVMe host", &host, NVME_HOST);
    assert_links(
        "NVMe host",
        &host,
        &[
            "self",
            "/api/Host/relationship/Volume",
            "/api/Host/relationship/NvmeController",
            "/api/parent/relationship/systemId",
        ],
    );
    assert_eq!(host["links"][0]["href"], json!(format!("/api/instances/Host::{id}")));
    assert_uint("NVMe host", &host, &["maxNumPaths", "maxNumSysPorts"]);
    insta::assert_json_snapshot!("nvme_host", host);
}

#[tokio::test]
async fn sdt_shape() {
    let (_gw, api) = start().await;
    let sdt = api.get_ok("/api/types/Sdt/instances").await[0].clone();
    assert_fields("Sdt", &sdt, SDT);
    assert_fields("Sdt.ipList[0]", &sdt["ipList"][0], &["role", "ip"]);
    assert_links(
        "Sdt",
        &sdt,
        &["self", "/api/Sdt/relationship/Statistics", "/api/parent/relationship/protectionDomainId"],
    );
    assert_uint("Sdt", &sdt, &["storagePort", "nvmePort", "discoveryPort", "persistentDiscoveryControllersNum"]);
    insta::assert_json_snapshot!("sdt", sdt);
}

#[tokio::test]
async fn pool_statistics_shape() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let id = api.create_volume(&sp1, "stats_thin", 8).await;
    api.create_thick_volume(&sp1, "stats_thick", 16).await;
    api.snapshot(&id, "stats_snap").await;
    let stats = api.pool_stats(&sp1).await;
    assert_fields("StoragePool Statistics", &stats, POOL_STATISTICS);
    for (name, value) in stats.as_object().unwrap() {
        if name.ends_with("InKb") || name.ends_with("InKm") || name.starts_with("numOf") {
            assert!(value.is_u64(), "{name} is an unsigned integer: {value}");
        }
        if name.ends_with("Bwc") {
            assert_fields(name, value, &["totalWeightInKb", "numOccured", "numSeconds"]);
        }
    }
    // Strings, as on real systems (the ansible sample), while nothing is written.
    assert_eq!(stats["thinAndSnapshotRatio"], "Infinity");
    insta::assert_json_snapshot!("pool_statistics", stats);
}

/// The statistics PyPowerFlex (1.14 and 2.0) asks by default, from its `constants.py`.
fn pypowerflex_properties(ty: &str) -> Vec<String> {
    let text = include_str!("data/pypowerflex_statistics.json");
    let lists: Value = serde_json::from_str(text).unwrap();
    lists[ty].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn statistics_carry_every_property_pypowerflex_asks_with_real_types() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let volume = api.create_volume(&sp1, "props", 8).await;
    let pool = api.pool_stats(&sp1).await;
    let expected = pypowerflex_properties("StoragePool");
    assert_eq!(expected.len(), 216);
    for (ty, stats, names) in [
        ("StoragePool", pool, expected),
        (
            "Volume",
            api.get_ok(&format!("/api/instances/Volume::{volume}/relationships/Statistics")).await,
            pypowerflex_properties("Volume"),
        ),
    ] {
        let missing: Vec<_> = names.iter().filter(|p| stats.get(p.as_str()).is_none()).collect();
        assert!(missing.is_empty(), "{ty} statistics lack {missing:?}");
        for (name, value) in stats.as_object().unwrap() {
            if name.ends_with("Bwc") || name.ends_with("Latency") {
                assert_fields(name, value, &["totalWeightInKb", "numOccured", "numSeconds"]);
            } else if name.ends_with("Ids") {
                assert!(value.is_array(), "{ty}.{name} is a list: {value}");
            } else if name.ends_with("InKb") || name.starts_with("numOf") {
                assert!(value.is_u64(), "{ty}.{name} is an unsigned integer: {value}");
            }
        }
    }
}

#[tokio::test]
async fn system_limits_shape() {
    let (_gw, api) = start().await;
    let limits = api.post_ok("/api/instances/System/action/querySystemLimits", json!({})).await;
    let entries = limits["systemLimitEntryList"].as_array().unwrap();
    let types: Vec<&str> = entries.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let missing: Vec<_> = SYSTEM_LIMIT_TYPES.iter().filter(|t| !types.contains(t)).collect();
    assert!(missing.is_empty(), "querySystemLimits lacks {missing:?}");
    for e in entries {
        assert_fields("systemLimitEntryList[]", e, &["type", "description", "maxVal"]);
    }
    insta::assert_json_snapshot!("system_limits", limits);
}

#[tokio::test]
async fn error_body_shapes() {
    let (gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let http = http_client(&gw.ca_cert_pem);
    let base = api.create_volume(&sp1, "limit_base", 8).await;
    for n in 0..126 {
        api.snapshot(&base, &format!("limit{n}")).await;
    }
    let cases: Vec<(&str, Reply)> = vec![
        (
            "volume_not_found",
            api.post("/api/types/Volume/instances/action/queryIdByKey", json!({ "name": "nope" })).await,
        ),
        (
            "name_in_use",
            api.post(
                "/api/types/Volume/instances",
                json!({ "storagePoolId": sp1, "name": "limit_base", "volumeSizeInGb": "8" }),
            )
            .await,
        ),
        (
            "vtree_snapshot_limit",
            api.post("/api/instances/System/action/snapshotVolumes", json!({ "snapshotDefs": [{ "volumeId": base }] }))
                .await,
        ),
        (
            "bad_credentials",
            read(http.get(format!("{}/api/login", gw.url)).basic_auth("admin", Some("wrong")).send().await.unwrap())
                .await,
        ),
        ("unknown_path", api.get("/api/nothing").await),
        ("malformed_id", api.get("/api/instances/Volume::xyz").await),
        (
            "malformed_json",
            api.post_raw("/api/types/Volume/instances", Some(b"{\"name\": ".to_vec()), Some("application/json")).await,
        ),
        ("missing_parameter", api.post("/api/types/Volume/instances", json!({})).await),
        ("unknown_action", api.post(&format!("/api/instances/Volume::{base}/action/frobnicate"), json!({})).await),
    ];
    for (name, reply) in cases {
        assert_eq!(reply.1, "application/json", "{name}");
        assert_fields(name, &reply.2, &["message", "httpStatusCode", "errorCode"]);
        assert_eq!(reply.2["httpStatusCode"], json!(reply.0), "{name}: httpStatusCode mirrors the status");
        assert!(reply.2["errorCode"].is_u64(), "{name}: errorCode is a number");
        insta::assert_json_snapshot!(format!("error_{name}"), json!({ "status": reply.0, "body": reply.2 }));
    }
    // The 4.x ingress answer to a stale token is not JSON at all.
    let stale = read(http.get(format!("{}/api/version", gw.url)).bearer_auth("stale").send().await.unwrap()).await;
    assert_eq!((stale.0, stale.1.as_str()), (401, "text/html"));
    insta::assert_snapshot!("error_stale_token_html", stale.2.as_str().unwrap());
}

/// goscaleio `types.SnapshotPolicy` and the Ansible `snapshot_policy` module's sample.
const SNAPSHOT_POLICY: &[&str] = &[
    "id",
    "name",
    "systemId",
    "snapshotPolicyState",
    "autoSnapshotCreationCadenceInMin",
    "maxVTreeAutoSnapshots",
    "numOfSourceVolumes",
    "numOfRetainedSnapshotsPerLevel",
    "snapshotAccessMode",
    "secureSnapshots",
    "timeOfLastAutoSnapshot",
    "nextAutoSnapshotCreationTime",
    "numOfAutoSnapshots",
    "numOfLockedSnapshots",
    "numOfExpiredButLockedSnapshots",
    "numOfCreationFailures",
    "timeOfLastAutoSnapshotCreationFailure",
    "lastAutoSnapshotCreationFailureReason",
    "lastAutoSnapshotFailureInFirstLevel",
    "links",
];

#[tokio::test]
async fn snapshot_policy_shape() {
    let (_gw, api) = start().await;
    let body = json!({ "name": "shape_policy", "autoSnapshotCreationCadenceInMin": "60",
                       "numOfRetainedSnapshotsPerLevel": ["4", "2"], "snapshotAccessMode": "ReadOnly" });
    let id = api.post_ok("/api/types/SnapshotPolicy/instances", body).await["id"].as_str().unwrap().to_string();
    let sp1 = api.pool_id("sp1").await;
    let source = api.create_volume(&sp1, "shape_policy_source", 8).await;
    let add = json!({ "sourceVolumeId": source });
    api.post_ok(&format!("/api/instances/SnapshotPolicy::{id}/action/addSourceVolumeToSnapshotPolicy"), add).await;
    let policy = api.get_ok(&format!("/api/instances/SnapshotPolicy::{id}")).await;
    assert_fields("SnapshotPolicy", &policy, SNAPSHOT_POLICY);
    assert_links(
        "SnapshotPolicy",
        &policy,
        &[
            "self",
            "/api/SnapshotPolicy/relationship/Statistics",
            "/api/SnapshotPolicy/relationship/SourceVolume",
            "/api/SnapshotPolicy/relationship/AutoSnapshotVolume",
            "/api/parent/relationship/systemId",
        ],
    );
    assert_uint(
        "SnapshotPolicy",
        &policy,
        &[
            "autoSnapshotCreationCadenceInMin",
            "maxVTreeAutoSnapshots",
            "numOfSourceVolumes",
            "nextAutoSnapshotCreationTime",
        ],
    );
    insta::assert_json_snapshot!("snapshot_policy", policy, { ".nextAutoSnapshotCreationTime" => "[time]" });
    let stats = api.get_ok(&format!("/api/instances/SnapshotPolicy::{id}/relationships/Statistics")).await;
    insta::assert_json_snapshot!("snapshot_policy_statistics", stats);
}
