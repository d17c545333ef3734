//! `alletra-sim` through a real HTTPS client: sessions, every endpoint group with exact
//! status, `code` and `desc` on refusals, the data surface, a restart, and LXD's `alletra`
//! call sequence (lxd-drivers.md §6).

mod common;

use common::wsapi::Wsapi;
use common::{http_client, read, spawn_program, Reply};
use powerflex_sim::alletra::testing::TestArray;
use reqwest::Method;
use serde_json::{json, Value};

/// Asserts a refusal's status, code and desc.
fn refused(reply: &Reply, status: u16, code: u64, desc: &str) {
    assert_eq!((reply.0, &reply.1[..]), (status, "application/json"), "{reply:?}");
    assert_eq!(reply.2["code"], code, "{reply:?}");
    assert_eq!(reply.2["desc"], desc, "{reply:?}");
}

#[tokio::test]
async fn sessions_log_in_expire_and_log_out_as_the_array_does() {
    let array = TestArray::start().await;
    let http = http_client(&array.ca_cert_pem);
    let bad = read(
        http.post(format!("{}/api/v1/credentials", array.url))
            .json(&json!({"user": "3paradm", "password": "wrong"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    refused(&bad, 403, 5, "invalid user or password");

    let api = Wsapi::login(&array).await;
    assert_eq!(api.key.len(), 24);
    let (status, _, system) = api.get("/system").await;
    assert_eq!(status, 200);
    assert!(system["serialNumber"].as_str().is_some_and(|s| !s.is_empty()), "{system}");
    assert_eq!(system["model"], "HPE Alletra 9060");
    let version = read(http.get(format!("{}/api", array.url)).send().await.unwrap()).await;
    assert_eq!(version.0, 200);
    assert!(version.2["build"].as_u64().unwrap() >= 40_000_128, "{:?}", version.2);

    let none = read(http.get(format!("{}/api/v1/volumes", array.url)).send().await.unwrap()).await;
    refused(&none, 403, 6, "invalid session key");
    // Readiness without credentials; the rest of /sim/ wants them.
    let health = read(http.get(format!("{}/sim/health", array.url)).send().await.unwrap()).await;
    assert_eq!((health.0, &health.2["status"]), (200, &json!("ok")));
    let info = read(http.get(format!("{}/sim/info", array.url)).send().await.unwrap()).await;
    refused(&info, 403, 5, "invalid user or password");

    // Session expiry on demand: the key dies, a new login works (what clients re-login on).
    let expire = read(
        http.post(format!("{}/sim/sessions/expire", array.url))
            .basic_auth("3paradm", Some("3pardata"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((expire.0, &expire.2["expired"]), (200, &json!(1)));
    refused(&api.get("/volumes").await, 403, 6, "invalid session key");
    let api = Wsapi::login(&array).await;
    assert_eq!(api.get("/volumes").await.0, 200);
    let out = read(http.delete(format!("{}/api/v1/credentials/{}", array.url, api.key)).send().await.unwrap()).await;
    assert_eq!((out.0, out.2), (200, Value::Null));
    refused(&api.get("/volumes").await, 403, 6, "invalid session key");
    let api = Wsapi::login(&array).await;
    refused(&api.get("/nosuch").await, 404, 11, "resource not found");
}

#[tokio::test]
async fn cpgs_ports_and_space() {
    let array = TestArray::start().await;
    let api = Wsapi::login(&array).await;
    let (status, _, cpgs) = api.get("/cpgs").await;
    assert_eq!(status, 200);
    assert!(cpgs["total"].as_u64().unwrap() >= 2, "{cpgs}");
    let (_, _, cpg) = api.get("/cpgs/SSD_r6").await;
    assert_eq!(cpg["name"], "SSD_r6");
    refused(&api.get("/cpgs/nosuch").await, 404, 15, "CPG does not exist");
    let (status, _, capacity) = api.get("/capacity").await;
    assert_eq!(status, 200);
    assert_eq!(capacity["allCapacity"]["totalMiB"], 4194304 + 1048576);
    let (status, _, space) = api.post("/spacereporter", json!({"cpg": "SSD_r6"})).await;
    assert_eq!(status, 200);
    let free = space["overProvisionedFreeMiB"].as_u64().unwrap();
    assert_eq!(api.post("/volumes", json!({"name": "v", "cpg": "SSD_r6", "sizeMiB": 1024, "tpvv": true})).await.0, 201);
    let (_, _, after) = api.post("/spacereporter", json!({"cpg": "SSD_r6"})).await;
    assert_eq!(after["overProvisionedFreeMiB"].as_u64().unwrap(), free - 1024);

    refused(&api.post("/ports", json!({})).await, 501, 9, "the resource does not support the operation");
    let (_, _, ports) = api.get("/ports").await;
    let members = ports["members"].as_array().unwrap();
    assert!(members.iter().all(|p| p["linkState"] == 4));
    let nvme: Vec<&Value> = members.iter().filter(|p| p["protocol"] == 6).collect();
    let iscsi: Vec<&Value> = members.iter().filter(|p| p["protocol"] == 2).collect();
    assert!(!nvme.is_empty() && !iscsi.is_empty(), "{ports}");
    assert!(nvme.iter().all(|p| p["nodeWWN"].as_str().is_some_and(|a| a.starts_with("127."))));
    assert!(iscsi.iter().all(|p| p["IPAddr"].as_str().is_some_and(|a| a.starts_with("127."))));
}

/// `POST /cpgs`, `PUT` and `DELETE /cpgs/<name>` (reference §1.1 and §0.4), as python-3parclient's
/// `createCPG`, `modifyCPG` and `deleteCPG` send them; a created CPG survives a restart.
#[tokio::test]
async fn cpgs_are_created_renamed_and_deleted() {
    let array = TestArray::start().await;
    let api = Wsapi::login(&array).await;
    let body = json!({"name": "fast", "growthLimitMiB": 8192, "usedLDWarningAlertMiB": 4096,
        "LDLayout": {"RAIDType": 4, "setSize": 8, "HA": 2, "diskPatterns": [{"diskType": 3}]}});
    let (reply, headers) = api.call_with_headers(Method::POST, "/cpgs", Some(body)).await;
    assert_eq!((reply.0, &reply.2), (201, &Value::Null), "{reply:?}");
    assert_eq!(headers.get("location").unwrap(), "/api/v1/cpgs/fast");
    let (status, _, fast) = api.get("/cpgs/fast").await;
    assert_eq!(status, 200);
    let topology = api.get("/cpgs/SSD_r6").await.2;
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&fast), keys(&topology), "the same fields as a topology CPG");
    assert_eq!((fast["numTPVVs"].as_u64(), fast["UsrUsage"]["usedMiB"].as_u64()), (Some(0), Some(0)));
    // Its space is the system's, within its growth limit.
    assert_eq!((fast["totalSpaceMiB"].as_u64(), fast["freeSpaceMiB"].as_u64()), (Some(8192), Some(8192)));
    let growth = &fast["SDGrowth"];
    assert_eq!((growth["limitMiB"].as_u64(), growth["warningMiB"].as_u64()), (Some(8192), Some(4096)));
    assert_eq!(growth["LDLayout"], json!({"RAIDType": 4, "setSize": 8, "HA": 2, "diskPatterns": [{"diskType": 3}]}));
    let listed = api.get("/cpgs").await.2;
    assert_eq!(listed["total"], 3);
    assert!(listed["members"].as_array().unwrap().iter().any(|c| c["name"] == "fast" && c["id"] == fast["id"]));
    assert_eq!(api.get("/capacity").await.2["allCapacity"]["totalMiB"], 4194304 + 1048576, "no new space");

    refused(&api.post("/cpgs", json!({"name": "fast"})).await, 409, 14, "CPG exists");
    refused(&api.post("/cpgs", json!({"name": "SSD_r6"})).await, 409, 14, "CPG exists");
    refused(
        &api.post("/cpgs", json!({"name": "x".repeat(32)})).await,
        400,
        57,
        "invalid input: string length exceeds limit",
    );
    refused(
        &api.post("/cpgs", json!({"name": "a b"})).await,
        400,
        69,
        "invalid input: string contains an illegal character",
    );
    refused(&api.post("/cpgs", json!({"name": ""})).await, 400, 45, "invalid input: string is empty");
    refused(&api.post("/cpgs", json!({})).await, 400, 40, "required member is missing");
    refused(&api.post("/cpgs", json!({"name": 7})).await, 400, 39, "invalid input: wrong type");
    let bad_raid = api.post("/cpgs", json!({"name": "r", "LDLayout": {"RAIDType": 9}})).await;
    refused(&bad_raid, 400, 46, "invalid input: bad enum value");
    assert_eq!(bad_raid.2["ref"], "RAIDType");
    refused(&api.post("/cpgs", json!({"name": "d", "domain": "dom"})).await, 404, 38, "domain does not exist");
    refused(
        &api.post("/cpgs", json!({"name": "n", "growthLimitMiB": -1})).await,
        400,
        43,
        "invalid input: number exceeds expected range",
    );
    assert_eq!(api.get("/cpgs").await.2["total"], 3, "refusals leave nothing behind");

    // A volume in it keeps it under its new name.
    assert_eq!(api.post("/volumes", json!({"name": "v", "cpg": "fast", "sizeMiB": 1024, "tpvv": true})).await.0, 201);
    let renamed = api.put("/cpgs/fast", json!({"newName": "faster", "rmGrowthLimit": true})).await;
    assert_eq!((renamed.0, &renamed.2), (200, &Value::Null), "{renamed:?}");
    refused(&api.get("/cpgs/fast").await, 404, 15, "CPG does not exist");
    assert_eq!(api.get("/volumes/v").await.2["userCPG"], "faster");
    let faster = api.get("/cpgs/faster").await.2;
    assert_eq!(faster["numTPVVs"], 1);
    assert_eq!(faster["SDGrowth"].get("limitMiB"), None);
    assert!(faster["totalSpaceMiB"].as_u64().unwrap() > 8192, "without a limit it reaches the system's space");
    refused(&api.put("/cpgs/faster", json!({"newName": "SSD_r1"})).await, 409, 14, "CPG exists");
    refused(&api.put("/cpgs/fast", json!({"newName": "x"})).await, 404, 15, "CPG does not exist");
    refused(
        &api.put("/cpgs/faster", json!({"growthLimitMiB": 1, "rmGrowthLimit": true})).await,
        400,
        44,
        "invalid input: parameters cannot be present at the same time",
    );
    refused(&api.put("/cpgs/faster", json!({})).await, 400, 78, "invalid input: one of the parameters is required");
    assert_eq!(api.put("/cpgs/faster", json!({"disableAutoGrow": true})).await.0, 200);
    assert_eq!(api.get("/cpgs/faster").await.2["SDGrowth"]["incrementMiB"], 0);

    refused(&api.delete("/cpgs/faster").await, 409, 34, "CPG is in use by volumes");
    // A snapshot CPG counts as a use too.
    assert_eq!(api.post("/cpgs", json!({"name": "snaps"})).await.0, 201);
    let snaps = api.get("/cpgs/snaps").await.2;
    let body = json!({"name": "w", "cpg": "SSD_r6", "snapCPG": "snaps", "sizeMiB": 256, "tpvv": true});
    assert_eq!(api.post("/volumes", body).await.0, 201);
    refused(&api.delete("/cpgs/snaps").await, 409, 34, "CPG is in use by volumes");
    assert_eq!(api.delete("/volumes/w").await.0, 200);
    let deleted = api.delete("/cpgs/snaps").await;
    assert_eq!((deleted.0, &deleted.2), (200, &Value::Null), "{deleted:?}");
    refused(&api.get("/cpgs/snaps").await, 404, 15, "CPG does not exist");
    refused(&api.delete("/cpgs/snaps").await, 404, 15, "CPG does not exist");

    let before = api.get("/cpgs").await.2;
    let array = array.restart().await;
    let api = Wsapi::login(&array).await;
    assert_eq!(api.get("/cpgs").await.2, before);
    assert_eq!(api.get("/volumes/v").await.2["userCPG"], "faster");
    assert_eq!(api.post("/cpgs", json!({"name": "later"})).await.0, 201);
    // A deleted CPG's id and uuid are not given again, across the restart too.
    let later = api.get("/cpgs/later").await.2;
    assert!(later["id"].as_u64() > snaps["id"].as_u64(), "{later} after {snaps}");
    assert_ne!(later["uuid"], snaps["uuid"]);
}

#[tokio::test]
async fn volumes_snapshots_queries_grow_and_delete() {
    let array = TestArray::start().await;
    let api = Wsapi::login(&array).await;
    let (reply, headers) = api
        .call_with_headers(
            Method::POST,
            "/volumes",
            Some(json!({"name": "base", "cpg": "SSD_r6", "sizeMiB": 1000, "tpvv": true})),
        )
        .await;
    assert_eq!(reply.0, 201, "{reply:?}");
    assert_eq!(headers["location"], "/api/v1/volumes/base");
    let (_, _, vol) = api.get("/volumes/base").await;
    assert_eq!(vol["sizeMiB"], 1024, "rounded up to the 256 MiB granularity: {vol}");
    assert_eq!(vol["provisioningType"], 2);
    assert_eq!(vol["nguid"].as_str().unwrap().len(), 32);
    assert!(vol.get("copyOf").is_none(), "a base volume has no copyOf: {vol}");

    refused(
        &api.post("/volumes", json!({"name": "base", "cpg": "SSD_r6", "sizeMiB": 1024, "tpvv": true})).await,
        409,
        22,
        "volume exists",
    );
    refused(
        &api.post("/volumes", json!({"name": "x", "cpg": "nosuch", "sizeMiB": 1024, "tpvv": true})).await,
        404,
        15,
        "CPG does not exist",
    );
    let missing = api.post("/volumes", json!({"name": "x", "cpg": "SSD_r6", "tpvv": true})).await;
    refused(&missing, 400, 40, "required member is missing");
    assert_eq!(missing.2["ref"], "sizeMiB");
    refused(&api.get("/volumes/nosuch").await, 404, 23, "volume does not exist");

    assert_eq!(api.put("/volumes/base", json!({"action": 3, "sizeMiB": 1024})).await.0, 200);
    assert_eq!(api.get("/volumes/base").await.2["sizeMiB"], 2048, "grow adds the delta");

    let (reply, headers) = api
        .call_with_headers(
            Method::POST,
            "/volumes/base",
            Some(json!({"action": "createSnapshot", "parameters": {"name": "snap1", "readOnly": true}})),
        )
        .await;
    assert_eq!(reply.0, 200, "{reply:?}");
    assert_eq!(headers["location"], "/api/v1/volumes/snap1");
    let (_, _, snap) = api.get("/volumes/snap1").await;
    assert_eq!(
        (&snap["copyOf"], &snap["provisioningType"], &snap["readOnly"]),
        (&json!("base"), &json!(3), &json!(true))
    );
    for query in ["?query=%22copyOf%20EQ%20base%22", "?query=\"copyOf==base\""] {
        let (_, _, list) = api.get(&format!("/volumes{query}")).await;
        assert_eq!(list["total"], 1, "{query}: {list}");
        assert_eq!(list["members"][0]["name"], "snap1");
    }
    let (_, _, none) = api.get("/volumes?query=\"copyOf==snap1\"").await;
    assert_eq!(none, json!({"total": 0, "members": []}));
    // Several parents, one unknown, and a case the index does not hold: the same answers as a
    // match against every volume gives.
    let (_, _, either) = api.get("/volumes?query=\"copyOf==snap1 OR copyOf EQ base\"").await;
    assert_eq!((&either["total"], &either["members"][0]["name"]), (&json!(1), &json!("snap1")));
    assert_eq!(api.get("/volumes?query=\"copyOf==nosuch OR copyOf==base\"").await.2["total"], 1);
    assert_eq!(api.get("/volumes?query=\"copyOf==BASE\"").await.2["total"], 1);
    refused(&api.get("/volumes?query=nonsense").await, 400, 116, "invalid query string: nonsense");

    refused(&api.delete("/volumes/base").await, 409, 25, "volume has a read-only child");
    assert_eq!(api.delete("/volumes/base?cascade=true").await.0, 200);
    refused(&api.get("/volumes/snap1").await, 404, 23, "volume does not exist");
    assert_eq!(api.get("/volumes").await.2["total"], 0);
}

#[tokio::test]
async fn physical_copy_and_promote_run_as_tasks() {
    let array = TestArray::start().await;
    let api = Wsapi::login(&array).await;
    for name in ["src", "dst"] {
        assert_eq!(
            api.post("/volumes", json!({"name": name, "cpg": "SSD_r6", "sizeMiB": 1024, "tpvv": true})).await.0,
            201
        );
    }
    let (status, _, copy) = api
        .post("/volumes/src", json!({"action": "createPhysicalCopy", "parameters": {"destVolume": "dst", "saveSnapshot": false, "priority": 1}}))
        .await;
    assert_eq!(status, 200, "{copy}");
    let task = copy["taskid"].as_u64().unwrap();
    assert_eq!(api.wait_task(task).await, 1, "DONE");
    let (_, _, t) = api.get(&format!("/tasks/{task}")).await;
    assert_eq!((t["type"].as_u64(), t["name"].as_str()), (Some(1), Some("dst")));
    refused(&api.get("/tasks/999").await, 404, 145, "task does not exist");

    assert_eq!(api.post("/volumes/src", json!({"action": "createSnapshot", "parameters": {"name": "s"}})).await.0, 200);
    let (status, _, promote) = api.put("/volumes/s", json!({"action": 4})).await;
    assert_eq!(status, 200, "{promote}");
    assert_eq!(api.wait_task(promote["taskid"].as_u64().unwrap()).await, 1);
    let base = api.put("/volumes/src", json!({"action": 4})).await;
    assert_eq!((base.0, base.2["code"].as_u64()), (409, Some(306)), "{base:?}");
}

#[tokio::test]
async fn hosts_sets_vluns_and_the_data_surface() {
    let array = TestArray::start().await;
    let api = Wsapi::login(&array).await;
    let nqn = "nqn.2014-08.org.nvmexpress:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427";
    let (reply, headers) = api
        .call_with_headers(Method::POST, "/hosts", Some(json!({"name": "h1", "NQN": nqn, "transportType": 2})))
        .await;
    assert_eq!(reply.0, 201, "{reply:?}");
    assert_eq!(headers["location"], "/api/v1/hosts/h1");
    refused(
        &api.post("/hosts", json!({"name": "h1", "iSCSINames": ["iqn.x"]})).await,
        409,
        16,
        "host name is already used",
    );
    assert_eq!(api.post("/hosts", json!({"name": "h2", "iSCSINames": ["iqn.1993-08.org.debian:01:abc"]})).await.0, 201);
    let (_, _, found) = api.get("/hosts?query=%22iSCSIPaths%5Bname%3D%3Diqn.1993-08.org.debian%3A01%3Aabc%5D%22").await;
    assert_eq!((found["total"].as_u64(), found["members"][0]["name"].as_str()), (Some(1), Some("h2")));
    refused(&api.get("/hosts/nosuch").await, 404, 17, "host does not exist");

    assert_eq!(api.post("/volumes", json!({"name": "v", "cpg": "SSD_r6", "sizeMiB": 256, "tpvv": true})).await.0, 201);
    assert_eq!(api.post("/volumesets", json!({"name": "pool", "comment": "lxd"})).await.0, 201);
    let (_, _, set) = api.get("/volumesets/pool").await;
    assert!(set.get("setmembers").is_none(), "an empty set has no setmembers: {set}");
    assert_eq!(api.put("/volumesets/pool", json!({"action": 1, "setmembers": ["v"]})).await.0, 200);
    assert_eq!(api.get("/volumesets/pool").await.2["setmembers"], json!(["v"]));
    refused(&api.get("/volumesets/nosuch").await, 404, 102, "The set does not exist");
    assert_eq!(api.post("/hostsets", json!({"name": "hs", "setmembers": ["h2"]})).await.0, 201);
    assert_eq!(api.get("/hostsets/hs").await.2["setmembers"], json!(["h2"]));

    let (reply, headers) = api
        .call_with_headers(
            Method::POST,
            "/vluns",
            Some(json!({"hostname": "h1", "volumeName": "v", "lun": 0, "autoLun": true})),
        )
        .await;
    assert_eq!(reply.0, 201, "{reply:?}");
    let location = headers["location"].to_str().unwrap().to_string();
    let rest = location.strip_prefix("/api/v1/vluns/v,").expect("vol,lun,host");
    let (lun, host) = rest.split_once(',').unwrap();
    assert_eq!(host, "h1");
    let (_, _, vluns) = api.get("/vluns?query=%22volumeName%3D%3Dv%22").await;
    assert_eq!(vluns["members"][0]["lun"].to_string(), lun);
    assert_eq!(vluns["members"][0]["hostname"], "h1");
    let subsystem = vluns["members"][0]["Subsystem_NQN"].as_str().unwrap().to_string();
    assert_eq!(api.get("/hosts/h1").await.2["Subsystem_NQN"], subsystem.as_str());
    assert_eq!(api.get("/hosts/h1").await.2["NVMETCPPaths"][0]["NQN"], nqn);
    let (_, _, none) = api.get("/vluns?query=\"hostname==h2\"").await;
    assert_eq!(none["total"], 0);

    // The data surface acts for a host the volume is exported to.
    let http = http_client(&array.ca_cert_pem);
    let data = format!("{}/sim/volumes/v/data", array.url);
    let put = http
        .put(format!("{data}?host=h1&offset=4096"))
        .basic_auth("3paradm", Some("3pardata"))
        .body(b"hello alletra".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let got = http
        .get(format!("{data}?host=h1&offset=4096&length=13"))
        .basic_auth("3paradm", Some("3pardata"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"hello alletra");
    let other = read(
        http.get(format!("{data}?host=h2&length=1")).basic_auth("3paradm", Some("3pardata")).send().await.unwrap(),
    )
    .await;
    refused(&other, 404, 19, "VLUN does not exist");

    let exported = api.delete("/hosts/h1").await;
    assert_eq!(exported.0, 409, "{exported:?}");
    assert_eq!(api.delete(&format!("/vluns/v,{lun},h1")).await.0, 200);
    refused(&api.delete(&format!("/vluns/v,{lun},h1")).await, 404, 19, "VLUN does not exist");
    assert_eq!(api.delete("/hosts/h1").await.0, 200);
    assert_eq!(api.delete("/volumesets/pool").await.0, 200);

    assert_eq!(api.post("/volumesets", json!({"name": "q"})).await.0, 201);
    assert_eq!(api.post("/qos", json!({"name": "q", "type": 1, "ioMaxLimit": 1000, "enable": true})).await.0, 201);
    assert_eq!(api.get("/qos/vvset:q").await.2["ioMaxLimit"], 1000);
    assert_eq!(api.delete("/qos/vvset:q").await.0, 200);
    refused(&api.get("/qos/vvset:q").await, 404, 100, "QoS rule does not exist");
}

/// The rest of the `/sim/` data surface, shared with pflex-sim: a volume's data extents and
/// backing file as a host it is exported to (directly or through a host set) sees them, and
/// its allocation, which needs no host.
#[tokio::test]
async fn sim_surface_lists_extents_backing_and_allocation_for_an_exported_volume() {
    let array = TestArray::start().await;
    let api = Wsapi::login(&array).await;
    assert_eq!(api.post("/volumes", json!({"name": "v", "cpg": "SSD_r6", "sizeMiB": 256, "tpvv": true})).await.0, 201);
    for (host, iqn) in
        [("h", "iqn.2000-01.test:h"), ("member", "iqn.2000-01.test:member"), ("other", "iqn.2000-01.test:o")]
    {
        assert_eq!(api.post("/hosts", json!({"name": host, "iSCSINames": [iqn]})).await.0, 201);
    }
    assert_eq!(api.post("/hostsets", json!({"name": "hs", "setmembers": ["member"]})).await.0, 201);
    assert_eq!(api.post("/vluns", json!({"hostname": "h", "volumeName": "v", "lun": 1})).await.0, 201);
    assert_eq!(api.post("/vluns", json!({"hostname": "set:hs", "volumeName": "v", "lun": 2})).await.0, 201);
    let http = http_client(&array.ca_cert_pem);
    let sim = |method: Method, path: &str, body: Option<&'static [u8]>| {
        let mut request = http.request(method, format!("{}/sim/volumes/{path}", array.url));
        if let Some(bytes) = body {
            request = request.body(bytes.to_vec());
        }
        async { read(request.basic_auth("3paradm", Some("3pardata")).send().await.unwrap()).await }
    };

    let mib = 1u64 << 20;
    let first = sim(Method::PUT, "v/data?host=h&offset=0", Some(b"first")).await;
    assert_eq!((first.0, &first.2), (200, &json!({"volume": "v", "offset": 0, "written": 5})));
    let far = sim(Method::PUT, &format!("v/data?host=member&offset={}", 100 * mib), Some(b"far")).await;
    assert_eq!((far.0, &far.2["written"]), (200, &json!(3)), "{far:?}");

    let (status, _, listed) = sim(Method::GET, "v/extents?host=member", None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!((&listed["volume"], &listed["offset"], &listed["length"]), (&json!("v"), &json!(0), &json!(256 * mib)));
    let extents = listed["extents"].as_array().unwrap();
    assert_eq!(extents.len(), 2, "{listed}");
    let covers = |at: u64, len: u64| {
        extents.iter().any(|e| {
            let (o, l) = (e["offset"].as_u64().unwrap(), e["length"].as_u64().unwrap());
            o <= at && at + len <= o + l
        })
    };
    assert!(covers(0, 5) && covers(100 * mib, 3), "{listed}");
    assert!(extents.iter().all(|e| e["length"].as_u64().unwrap() < 256 * mib), "holes are left out: {listed}");
    let tail = sim(Method::GET, &format!("v/extents?host=h&offset={}&length={mib}", 100 * mib), None).await;
    assert_eq!((tail.2["offset"].as_u64(), tail.2["extents"].as_array().map(Vec::len)), (Some(100 * mib), Some(1)));

    let (status, _, allocation) = sim(Method::GET, "v/allocation", None).await;
    assert_eq!((status, &allocation["volume"], &allocation["sizeInBytes"]), (200, &json!("v"), &json!(256 * mib)));
    assert_eq!(allocation["dataPlane"], "file");
    let allocated = allocation["allocatedBytes"].as_u64().unwrap();
    assert!(allocated > 0 && allocated < 256 * mib, "{allocation}");

    let (status, _, backing) = sim(Method::GET, "v/backing?host=h", None).await;
    assert_eq!((status, &backing["volume"], &backing["sizeInBytes"]), (200, &json!("v"), &json!(256 * mib)));
    let file = std::fs::metadata(backing["path"].as_str().unwrap()).expect("the backing file exists");
    assert_eq!(file.len(), 256 * mib);

    // Refusals: not exported to the host, no host, an unknown host or volume, a bad range.
    refused(&sim(Method::GET, "v/extents?host=other", None).await, 404, 19, "VLUN does not exist");
    refused(&sim(Method::GET, "v/backing?host=other", None).await, 404, 19, "VLUN does not exist");
    refused(&sim(Method::GET, "v/backing", None).await, 400, 40, "required member is missing");
    refused(&sim(Method::GET, "v/extents?host=nosuch", None).await, 404, 17, "host does not exist");
    refused(&sim(Method::GET, "nosuch/extents?host=h", None).await, 404, 23, "volume does not exist");
    refused(&sim(Method::GET, "nosuch/allocation", None).await, 404, 23, "volume does not exist");
    refused(
        &sim(Method::GET, &format!("v/extents?host=h&offset={}&length=1", 256 * mib), None).await,
        400,
        12,
        "the range is past the end of the volume",
    );
    refused(&sim(Method::GET, "v/data?host=h", None).await, 400, 40, "required member is missing");
    // A read-only virtual copy reads as its parent did, and refuses writes.
    let snapshot = json!({"action": "createSnapshot", "parameters": {"name": "ro", "readOnly": true}});
    assert_eq!(api.post("/volumes/v", snapshot).await.0, 200);
    assert_eq!(api.post("/vluns", json!({"hostname": "h", "volumeName": "ro", "lun": 3})).await.0, 201);
    let copied = sim(Method::GET, "ro/extents?host=h&length=4096", None).await;
    assert_eq!(copied.2["extents"].as_array().map(Vec::len), Some(1), "{copied:?}");
    let write = sim(Method::PUT, "ro/data?host=h&offset=0", Some(b"no")).await;
    refused(&write, 400, 39, "invalid input: wrong type");
    assert_eq!(write.2["ref"], "readOnly");
    refused(
        &sim(Method::GET, &format!("v/data?host=h&length={}", 16 * mib + 1), None).await,
        400,
        12,
        &format!("length {} exceeds the {}-byte limit per request", 16 * mib + 1, 16 * mib),
    );
}

/// On the `none` plane, which keeps no bytes, the data surface says so; the allocation,
/// which needs no bytes, answers 0.
#[tokio::test]
async fn sim_data_on_the_none_plane_is_refused_clearly() {
    let options = powerflex_sim::alletra::testing::Options {
        data_plane: powerflex_sim::dataplane::PlaneKind::None,
        ..Default::default()
    };
    let array = TestArray::start_with(options).await;
    let api = Wsapi::login(&array).await;
    assert_eq!(api.post("/volumes", json!({"name": "v", "cpg": "SSD_r6", "sizeMiB": 256, "tpvv": true})).await.0, 201);
    assert_eq!(api.post("/hosts", json!({"name": "h", "iSCSINames": ["iqn.2000-01.test:h"]})).await.0, 201);
    assert_eq!(api.post("/vluns", json!({"hostname": "h", "volumeName": "v", "lun": 1})).await.0, 201);
    let http = http_client(&array.ca_cert_pem);
    let get = |path: &str| {
        let request = http.get(format!("{}/sim/volumes/{path}", array.url)).basic_auth("3paradm", Some("3pardata"));
        async { read(request.send().await.unwrap()).await }
    };
    let desc = "the none data plane keeps no volume bytes; start alletra-sim with --data-plane file or nvmet";
    for path in ["v/data?host=h&length=1", "v/extents?host=h", "v/backing?host=h"] {
        refused(&get(path).await, 500, 1, desc);
    }
    let (status, _, allocation) = get("v/allocation").await;
    assert_eq!(status, 200, "{allocation}");
    assert_eq!(
        allocation,
        json!({"volume": "v", "sizeInBytes": 256u64 << 20, "allocatedBytes": 0, "dataPlane": "none"})
    );
}

/// Cinder's group snapshot: `POST /volumesets/<set> createSnapshot` with an `@count@` name
/// makes a virtual copy of every member, with the member's bytes, or none at all.
#[tokio::test]
async fn volume_set_snapshots_copy_every_member_or_none() {
    let array = TestArray::start().await;
    let api = Wsapi::login(&array).await;
    for name in ["a", "b"] {
        assert_eq!(
            api.post("/volumes", json!({"name": name, "cpg": "SSD_r6", "sizeMiB": 256, "tpvv": true})).await.0,
            201
        );
    }
    assert_eq!(api.post("/volumesets", json!({"name": "grp", "setmembers": ["a", "b"]})).await.0, 201);
    let iqn = "iqn.1993-08.org.debian:01:group";
    assert_eq!(api.post("/hosts", json!({"name": "h", "iSCSINames": [iqn]})).await.0, 201);
    assert_eq!(api.post("/vluns", json!({"hostname": "h", "volumeName": "b", "lun": 1})).await.0, 201);
    let http = http_client(&array.ca_cert_pem);
    let data = |volume: &str| format!("{}/sim/volumes/{volume}/data?host=h", array.url);
    let put =
        http.put(data("b")).basic_auth("3paradm", Some("3pardata")).body(b"member b".to_vec()).send().await.unwrap();
    assert_eq!(put.status(), 200);

    let snapshot = |name: &str| json!({"action": "createSnapshot", "parameters": {"name": name, "readOnly": true}});
    refused(
        &api.post("/volumesets/grp", snapshot("one-name")).await,
        400,
        323,
        "invalid input: the name pattern would give two snapshots one name",
    );
    // The second member's name is taken: nothing is made, not even the first member's copy.
    assert_eq!(
        api.post("/volumes", json!({"name": "g-1", "cpg": "SSD_r6", "sizeMiB": 256, "tpvv": true})).await.0,
        201
    );
    refused(&api.post("/volumesets/grp", snapshot("g-@count@")).await, 409, 22, "volume exists");
    refused(&api.get("/volumes/g-0").await, 404, 23, "volume does not exist");
    assert_eq!(api.delete("/volumes/g-1").await.0, 200);

    let (reply, headers) = api.call_with_headers(Method::POST, "/volumesets/grp", Some(snapshot("g-@count@"))).await;
    assert_eq!(reply.0, 201, "{reply:?}");
    assert_eq!(headers["location"], "/api/v1/volumesets/grp");
    for (copy, parent) in [("g-0", "a"), ("g-1", "b")] {
        let (status, _, v) = api.get(&format!("/volumes/{copy}")).await;
        assert_eq!((status, v["copyOf"].as_str(), v["readOnly"].as_bool()), (200, Some(parent), Some(true)), "{v}");
    }
    assert_eq!(api.post("/vluns", json!({"hostname": "h", "volumeName": "g-1", "lun": 2})).await.0, 201);
    let got =
        http.get(format!("{}&length=8", data("g-1"))).basic_auth("3paradm", Some("3pardata")).send().await.unwrap();
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"member b");

    assert_eq!(api.post("/volumesets", json!({"name": "empty"})).await.0, 201);
    refused(&api.post("/volumesets/empty", snapshot("e-@count@")).await, 404, 322, "the set is empty");
    refused(&api.post("/volumesets/nosuch", snapshot("n-@count@")).await, 404, 102, "The set does not exist");
    refused(
        &api.post("/volumesets/grp", json!({"action": "createPhysicalCopy"})).await,
        400,
        46,
        "invalid input: bad enum value",
    );
}

#[tokio::test]
async fn state_survives_a_restart_and_sessions_do_not() {
    let array = TestArray::start().await;
    let api = Wsapi::login(&array).await;
    assert_eq!(
        api.post("/volumes", json!({"name": "kept", "cpg": "SSD_r1", "sizeMiB": 512, "tpvv": true})).await.0,
        201
    );
    let before = api.get("/volumes/kept").await.2;
    let array = array.restart().await;
    let old = Wsapi { http: http_client(&array.ca_cert_pem), url: array.url.clone(), key: api.key.clone() };
    refused(&old.get("/volumes/kept").await, 403, 6, "invalid session key");
    let api = Wsapi::login(&array).await;
    assert_eq!(api.get("/volumes/kept").await.2, before);
}

/// LXD's `alletra` driver, call by call (lxd-drivers.md §6.2 and §6.3): pool, host, volume,
/// export, snapshot and restore, copy, grow, and the teardown.
#[tokio::test]
async fn lxd_alletra_call_sequence_replays() {
    let array = TestArray::start().await;
    let api = Wsapi::login(&array).await;
    assert_eq!(
        api.post("/volumesets", json!({"name": "lxdpool", "comment": "Created and managed by LXD"})).await.0,
        201
    );
    let nqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-00000000abcd";
    let (_, _, hosts) = api.get("/hosts").await;
    assert_eq!(hosts["total"], 0);
    let host = json!({"name": "lxdhost", "descriptors": {"comment": "Created and managed by LXD"}, "NQN": nqn, "transportType": 2});
    assert_eq!(api.post("/hosts", host.clone()).await.0, 201);
    assert_eq!(api.post("/hosts", host).await.2["code"], 16, "LXD takes 16 as already there");
    let (_, _, hosts) = api.get("/hosts").await;
    assert_eq!(hosts["members"][0]["NVMETCPPaths"][0]["nqn"], nqn);

    let size_mib = (10u64 << 30) >> 20;
    assert_eq!(
        api.post("/volumes", json!({"name": "c1", "cpg": "SSD_r6", "sizeMiB": size_mib, "tpvv": true})).await.0,
        201
    );
    assert_eq!(api.put("/volumesets/lxdpool", json!({"action": 1, "setmembers": ["c1"]})).await.0, 200);
    let (_, _, vol) = api.get("/volumes/c1").await;
    assert_eq!((vol["name"].as_str(), vol["sizeMiB"].as_u64()), (Some("c1"), Some(size_mib)));
    assert_eq!(vol["nguid"].as_str().unwrap().len(), 32);
    assert!(vol["wwn"].is_string() && vol["totalUsedMiB"].is_u64());

    let (_, _, vluns) = api.get("/vluns?query=\"volumeName==c1\"").await;
    assert_eq!(vluns["total"], 0);
    assert_eq!(
        api.post("/vluns", json!({"hostname": "lxdhost", "volumeName": "c1", "lun": 0, "autoLun": true})).await.0,
        201
    );
    let (_, _, vluns) = api.get("/vluns?query=\"volumeName==c1\"").await;
    assert_eq!(vluns["members"][0]["hostname"], "lxdhost");
    assert!(vluns["members"][0]["serial"].is_string());
    let again = api.post("/vluns", json!({"hostname": "lxdhost", "volumeName": "c1", "lun": 0, "autoLun": true})).await;
    assert_eq!(again.2["code"], 29, "LXD takes 29 as already exported: {again:?}");

    assert_eq!(
        api.post("/volumes/c1", json!({"action": "createSnapshot", "parameters": {"name": "c1-snap0"}})).await.0,
        200
    );
    let (_, _, snaps) = api.get("/volumes?query=\"copyOf==c1\"").await;
    assert_eq!(snaps["members"][0]["name"], "c1-snap0");
    let (_, _, promote) = api.put("/volumes/c1-snap0", json!({"action": 4})).await;
    assert_eq!(api.wait_task(promote["taskid"].as_u64().unwrap()).await, 1);

    assert_eq!(
        api.post("/volumes", json!({"name": "c2", "cpg": "SSD_r6", "sizeMiB": size_mib, "tpvv": true})).await.0,
        201
    );
    let (_, _, copy) = api
        .post("/volumes/c1", json!({"action": "createPhysicalCopy", "parameters": {"destVolume": "c2", "saveSnapshot": false, "priority": 1}}))
        .await;
    assert_eq!(api.wait_task(copy["taskid"].as_u64().unwrap()).await, 1);

    assert_eq!(api.put("/volumes/c1", json!({"action": 3, "sizeMiB": 1024})).await.0, 200);
    assert_eq!(api.get("/volumes/c1").await.2["sizeMiB"], size_mib + 1024);

    let (_, _, ports) = api.get("/ports").await;
    let nvme: Vec<&Value> =
        ports["members"].as_array().unwrap().iter().filter(|p| p["protocol"] == 6 && p["linkState"] == 4).collect();
    assert!(!nvme.is_empty());

    let lun = vluns["members"][0]["lun"].as_u64().unwrap();
    assert_eq!(api.delete(&format!("/vluns/c1,{lun},lxdhost")).await.0, 200);
    let (_, _, left) = api.get("/vluns?query=\"hostname==lxdhost\"").await;
    assert_eq!(left["total"], 0, "the last mapping is gone");
    assert_eq!(api.delete("/hosts/lxdhost").await.0, 200);
    assert_eq!(api.put("/volumesets/lxdpool", json!({"action": 2, "setmembers": ["c1"]})).await.0, 200);
    assert_eq!(api.delete("/volumes/c1?cascade=true").await.0, 200);
    assert_eq!(api.delete("/volumes/c1?cascade=true").await.2["code"], 23, "LXD takes 23 as gone");
    assert_eq!(api.delete("/volumesets/lxdpool").await.0, 200);
}

/// An array of `fixtures/alletra-3par.json`: a 3PAR with full volumes, iSCSI only and a slow
/// copy rate (64 MiB/s).
async fn three_par_array() -> TestArray {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/alletra-3par.json")).unwrap();
    let topology = powerflex_sim::alletra::model::topology::Topology::parse(&text).unwrap();
    TestArray::start_with(powerflex_sim::alletra::testing::Options { topology, ..Default::default() }).await
}

/// The 3PAR fixture: a copy of a full volume stays ACTIVE for its data's time until it is
/// cancelled.
#[tokio::test]
async fn a_3par_topology_from_fixtures_copies_at_its_rate() {
    let array = three_par_array().await;
    let api = Wsapi::login(&array).await;
    let (_, _, system) = api.get("/system").await;
    assert_eq!(system["model"], "HP_3PAR 8200");
    let (_, _, ports) = api.get("/ports").await;
    assert!(ports["members"].as_array().unwrap().iter().all(|p| p["protocol"] == 2), "{ports}");
    assert_eq!(api.get("/cpgs").await.2["total"], 3);

    for name in ["full", "copy"] {
        assert_eq!(api.post("/volumes", json!({"name": name, "cpg": "FC_r5", "sizeMiB": 1024})).await.0, 201);
    }
    assert_eq!(api.get("/volumes/full").await.2["provisioningType"], 1);
    let (_, _, copy) =
        api.post("/volumes/full", json!({"action": "createPhysicalCopy", "parameters": {"destVolume": "copy"}})).await;
    let task = copy["taskid"].as_u64().unwrap();
    let (_, _, t) = api.get(&format!("/tasks/{task}")).await;
    assert_eq!(t["status"], 2, "1 GiB at 64 MiB/s is still copying: {t}");
    refused(&api.delete("/volumes/copy").await, 409, 151, "volume is busy with a background task");
    assert_eq!(api.put(&format!("/tasks/{task}"), json!({"action": 1})).await.0, 200);
    assert_eq!(api.get(&format!("/tasks/{task}")).await.2["status"], 3, "CANCELLED");
}

/// The real binary, killed with SIGKILL after acknowledging changes (fsync on): a restart on
/// the same state directory has every acknowledged change, and its certificate is kept.
#[tokio::test]
async fn acknowledged_changes_survive_kill_9_of_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let start = || {
        let process = spawn_program(
            env!("CARGO_BIN_EXE_alletra-sim"),
            "ALLETRA_SIM",
            &state,
            &["--seed", "3", "--data-plane", "file"],
        );
        let url = process.url.strip_suffix("/api/v1").expect("the banner shows the WSAPI url").to_string();
        (process, url)
    };
    let (mut process, url) = start();
    let ca = std::fs::read_to_string(state.join("tls/ca.pem")).unwrap();
    let login = |url: String| {
        let http = http_client(&ca);
        async move {
            let reply = read(
                http.post(format!("{url}/api/v1/credentials"))
                    .json(&json!({"user": "3paradm", "password": "3pardata"}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            Wsapi { http, url, key: reply.2["key"].as_str().unwrap().to_string() }
        }
    };
    let api = login(url).await;
    for n in 0..5 {
        let body = json!({"name": format!("v{n}"), "cpg": "SSD_r6", "sizeMiB": 256, "tpvv": true});
        assert_eq!(api.post("/volumes", body).await.0, 201);
    }
    assert_eq!(api.post("/volumes/v0", json!({"action": "createSnapshot", "parameters": {"name": "s0"}})).await.0, 200);
    let before = api.get("/volumes").await.2;
    process.child.kill().unwrap();
    process.child.wait().unwrap();

    let (mut process, url) = start();
    let api = login(url).await;
    assert_eq!(api.get("/volumes").await.2, before);
    assert_eq!(api.get("/volumes/s0").await.2["copyOf"], "v0");
    process.child.kill().unwrap();
    process.child.wait().unwrap();
}

/// Starts an array with one rule broken on purpose.
async fn broken(b: powerflex_sim::alletra::model::breakage::Breakage) -> TestArray {
    TestArray::start_with(powerflex_sim::alletra::testing::Options { broken: [b].into(), ..Default::default() }).await
}

/// Each `--break` breaks exactly its rule, so a harness that checks the rule fails on it.
#[tokio::test]
async fn each_break_switch_breaks_its_rule() {
    use powerflex_sim::alletra::model::breakage::Breakage;
    let array = broken(Breakage::SkipGranularity).await;
    let api = Wsapi::login(&array).await;
    assert_eq!(api.post("/volumes", json!({"name": "v", "cpg": "SSD_r6", "sizeMiB": 1000, "tpvv": true})).await.0, 201);
    assert_eq!(api.get("/volumes/v").await.2["sizeMiB"], 1000, "not rounded to 1024");

    let array = broken(Breakage::DeleteWithChildren).await;
    let api = Wsapi::login(&array).await;
    assert_eq!(api.post("/volumes", json!({"name": "v", "cpg": "SSD_r6", "sizeMiB": 256, "tpvv": true})).await.0, 201);
    assert_eq!(api.post("/volumes/v", json!({"action": "createSnapshot", "parameters": {"name": "s"}})).await.0, 200);
    assert_eq!(api.delete("/volumes/v").await.0, 200, "deleted with a child, no cascade");

    // Promote: the base's data is restored from the copy, except when broken.
    for b in [None, Some(Breakage::PromoteNoop)] {
        let array = match b {
            None => TestArray::start().await,
            Some(b) => broken(b).await,
        };
        let api = Wsapi::login(&array).await;
        assert_eq!(
            api.post("/volumes", json!({"name": "v", "cpg": "SSD_r6", "sizeMiB": 256, "tpvv": true})).await.0,
            201
        );
        assert_eq!(api.post("/hosts", json!({"name": "h", "iSCSINames": ["iqn.2000-01.test:h"]})).await.0, 201);
        assert_eq!(
            api.post("/vluns", json!({"hostname": "h", "volumeName": "v", "lun": 0, "autoLun": true})).await.0,
            201
        );
        let http = http_client(&array.ca_cert_pem);
        let data = format!("{}/sim/volumes/v/data?host=h&offset=0", array.url);
        let write =
            |bytes: &'static [u8]| http.put(&data).basic_auth("3paradm", Some("3pardata")).body(bytes.to_vec()).send();
        assert_eq!(write(b"before").await.unwrap().status(), 200);
        assert_eq!(
            api.post("/volumes/v", json!({"action": "createSnapshot", "parameters": {"name": "s"}})).await.0,
            200
        );
        assert_eq!(write(b"after!").await.unwrap().status(), 200);
        let (_, _, promote) = api.put("/volumes/s", json!({"action": 4})).await;
        assert_eq!(api.wait_task(promote["taskid"].as_u64().unwrap()).await, 1);
        let read = http.get(format!("{data}&length=6")).basic_auth("3paradm", Some("3pardata")).send().await.unwrap();
        let expected: &[u8] = if b.is_none() { b"before" } else { b"after!" };
        assert_eq!(read.bytes().await.unwrap().as_ref(), expected, "{b:?}");
    }
}

/// `tuneVolume` (action 6, reference §1.2): `{"taskid"}` at once, the new CPG and type when the
/// task completes, keepVV for a volume with snapshots, and the refusals.
#[tokio::test]
async fn tune_moves_and_converts_a_volume_as_a_task() {
    let array = TestArray::start().await;
    let api = Wsapi::login(&array).await;
    let tune = |body: Value| async { api.put("/volumes/t", body).await };
    assert_eq!(api.post("/volumes", json!({"name": "t", "cpg": "SSD_r6", "sizeMiB": 1024, "tpvv": true})).await.0, 201);
    let (status, _, started) =
        tune(json!({"action": 6, "tuneOperation": 1, "userCPG": "SSD_r1", "conversionOperation": 4})).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(started.as_object().map(|o| o.len()), Some(1), "only the task id: {started}");
    let task = started["taskid"].as_u64().unwrap();
    assert_eq!(api.wait_task(task).await, 1, "DONE");
    let (_, _, t) = api.get(&format!("/tasks/{task}")).await;
    assert_eq!((t["type"].as_u64(), t["name"].as_str()), (Some(19), Some("t")), "CONVERT_VV: {t}");
    let (_, _, v) = api.get("/volumes/t").await;
    assert_eq!(
        (&v["userCPG"], &v["snapCPG"], &v["provisioningType"], &v["compressionState"]),
        (&json!("SSD_r1"), &json!("SSD_r6"), &json!(6), &json!(1)),
        "{v}"
    );

    refused(&tune(json!({"action": 6})).await, 400, 40, "required member is missing");
    refused(&tune(json!({"action": 6, "tuneOperation": 3})).await, 400, 46, "invalid input: bad enum value");
    let no_cpg = tune(json!({"action": 6, "tuneOperation": 2})).await;
    refused(&no_cpg, 400, 40, "required member is missing");
    assert_eq!(no_cpg.2["ref"], "snapCPG");
    let unknown = tune(json!({"action": 6, "tuneOperation": 1, "userCPG": "nope"})).await;
    refused(&unknown, 404, 15, "CPG does not exist");
    assert_eq!(unknown.2["ref"], "userCPG");
    let bad_conversion = json!({"action": 6, "tuneOperation": 1, "userCPG": "SSD_r6", "conversionOperation": 9});
    refused(&tune(bad_conversion).await, 400, 46, "invalid input: bad enum value");
    let same = json!({"action": 6, "tuneOperation": 1, "userCPG": "SSD_r6", "conversionOperation": 4});
    refused(&tune(same).await, 403, 326, "the volume is already deduplicated");
    let missing = api.put("/volumes/nope", json!({"action": 6, "tuneOperation": 2, "snapCPG": "SSD_r1"})).await;
    refused(&missing, 404, 23, "volume does not exist");

    // With snapshots, a conversion needs keepVV (Cinder's retype matches 40 and "keepVV").
    let snapshot = json!({"action": "createSnapshot", "parameters": {"name": "t-s", "readOnly": true}});
    assert_eq!(api.post("/volumes/t", snapshot).await.0, 200);
    let to_thin = json!({"action": 6, "tuneOperation": 1, "userCPG": "SSD_r6", "conversionOperation": 1});
    let no_keep = tune(to_thin.clone()).await;
    refused(&no_keep, 400, 40, "invalid input: the volume has snapshots; keepVV is required to convert it");
    assert_eq!(no_keep.2["ref"], "keepVV");
    refused(&api.put("/volumes/t-s", to_thin.clone()).await, 403, 309, "the volume is not a base volume");
    let mut keep = to_thin;
    keep["keepVV"] = json!("t-orig");
    let (status, _, started) = tune(keep).await;
    assert_eq!(status, 200, "{started}");
    // The original and its snapshot are kept under the new name at once.
    let (_, _, orig) = api.get("/volumes/t-orig").await;
    assert_eq!((&orig["provisioningType"], &orig["userCPG"]), (&json!(6), &json!("SSD_r1")), "{orig}");
    assert_ne!(orig["wwn"], v["wwn"]);
    assert_eq!(api.get("/volumes/t-s").await.2["copyOf"], "t-orig");
    assert_eq!(api.wait_task(started["taskid"].as_u64().unwrap()).await, 1);
    let (_, _, v) = api.get("/volumes/t").await;
    assert_eq!(
        (&v["provisioningType"], &v["userCPG"], &v["compressionState"]),
        (&json!(2), &json!("SSD_r6"), &json!(2))
    );
    // The tuned volume has no snapshots left, so it can go; the kept one keeps its child.
    assert_eq!(api.delete("/volumes/t").await.0, 200);
    refused(&api.delete("/volumes/t-orig").await, 409, 25, "volume has a read-only child");
}

/// A tune in progress makes the volume refuse another tune (409/151) and a delete; cancelled,
/// the volume is as it was (the 3PAR fixture copies at 64 MiB/s, so a 1 GiB full volume takes
/// 16 s).
#[tokio::test]
async fn a_tune_in_progress_conflicts_and_a_cancelled_one_changes_nothing() {
    let array = three_par_array().await;
    let api = Wsapi::login(&array).await;
    assert_eq!(api.post("/volumes", json!({"name": "full", "cpg": "FC_r5", "sizeMiB": 1024})).await.0, 201);
    let to_thin = json!({"action": 6, "tuneOperation": 1, "userCPG": "FC_r5", "conversionOperation": 1});
    let (status, _, started) = api.put("/volumes/full", to_thin.clone()).await;
    assert_eq!(status, 200, "{started}");
    let task = started["taskid"].as_u64().unwrap();
    let (_, _, running) = api.get(&format!("/tasks/{task}")).await;
    assert_eq!((&running["status"], &running["type"], &running["name"]), (&json!(2), &json!(19), &json!("full")));
    // python's `isOnlinePhysicalCopy` reads `finishTime` of active tasks: it is there, "-".
    assert_eq!(running["finishTime"], "-", "{running}");
    let started_at = running["startTime"].as_str().unwrap();
    assert!(started_at.len() == 23 && started_at.ends_with(" UTC"), "2017-08-02 02:07:00 PDT's shape: {running}");
    let again = api.put("/volumes/full", to_thin).await;
    refused(&again, 409, 151, "invalid operation: volume tuning is in progress");
    let grow = api.put("/volumes/full", json!({"action": 3, "sizeMiB": 256})).await;
    refused(&grow, 409, 151, "invalid operation: volume tuning is in progress");
    refused(&api.delete("/volumes/full").await, 409, 151, "volume is busy with a background task");
    assert_eq!(api.put(&format!("/tasks/{task}"), json!({"action": 1})).await.0, 200);
    let (_, _, cancelled) = api.get(&format!("/tasks/{task}")).await;
    assert_eq!(cancelled["status"], 3, "CANCELLED: {cancelled}");
    assert!(cancelled["finishTime"].as_str().is_some_and(|f| f.ends_with(" UTC")), "{cancelled}");
    assert_eq!(api.get("/volumes/full").await.2["provisioningType"], 1, "still full");
}

/// Volume metadata (`objectKeyValues`, python's `setVolumeMetaData` and friends): the shapes of
/// the reference, the refusals, a restart, and keys going with their volume.
#[tokio::test]
async fn volume_metadata_is_kept_per_volume_across_a_restart() {
    let array = TestArray::start().await;
    let api = Wsapi::login(&array).await;
    assert_eq!(api.post("/volumes", json!({"name": "m", "cpg": "SSD_r6", "sizeMiB": 256, "tpvv": true})).await.0, 201);
    let keys = "/volumes/m/objectKeyValues";
    let (added, headers) =
        api.call_with_headers(Method::POST, keys, Some(json!({"key": "HPQ-cinder-CHAP-name", "value": "u"}))).await;
    assert_eq!(added.0, 201, "{added:?}");
    assert_eq!(headers["location"], "/api/v1/volumes/m/objectKeyValues/HPQ-cinder-CHAP-name");
    let twice = api.post(keys, json!({"key": "HPQ-cinder-CHAP-name", "value": "v"})).await;
    refused(&twice, 409, 181, "object key already exists");
    assert_eq!(api.post(keys, json!({"key": "a_key", "value": "1"})).await.0, 201);
    let (status, _, one) = api.get(&format!("{keys}/HPQ-cinder-CHAP-name")).await;
    assert_eq!((status, &one["key"], &one["value"]), (200, &json!("HPQ-cinder-CHAP-name"), &json!("u")), "{one}");
    let secs = one["creationTimeSec"].as_u64().unwrap();
    assert!(secs.abs_diff(array_now()) < 600, "{one}");
    let iso = one["creationTime8601"].as_str().unwrap();
    assert!(iso.len() == 25 && iso.ends_with("+00:00") && &iso[10..11] == "T", "{one}");
    assert!(one["date_added"].as_str().unwrap().contains(" UTC "), "{one}");

    assert_eq!(api.put(&format!("{keys}/a_key"), json!({"value": "2"})).await.0, 200);
    let (_, _, all) = api.get(keys).await;
    assert_eq!(all["total"], 2);
    let pairs: Vec<(&str, &str)> = all["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["key"].as_str().unwrap(), m["value"].as_str().unwrap()))
        .collect();
    assert_eq!(pairs, [("HPQ-cinder-CHAP-name", "u"), ("a_key", "2")]);

    refused(&api.get(&format!("{keys}/absent")).await, 404, 180, "object key does not exist");
    refused(&api.put(&format!("{keys}/absent"), json!({"value": "x"})).await, 404, 180, "object key does not exist");
    refused(&api.get(&format!("{keys}/&")).await, 400, 69, "invalid input: string contains an illegal character");
    refused(&api.get("/volumes/nope/objectKeyValues").await, 404, 23, "volume does not exist");
    refused(
        &api.post("/volumes/nope/objectKeyValues", json!({"key": "k", "value": "v"})).await,
        404,
        23,
        "volume does not exist",
    );
    let null_key = api.post(keys, json!({"key": null, "value": "v"})).await;
    refused(&null_key, 400, 40, "required member is missing");
    let long = api
        .post(keys, json!({"key": format!("this_key_will_cause_an_exception {}", "x".repeat(256)), "value": "v"}))
        .await;
    assert_eq!((long.0, long.2["ref"].as_str()), (400, Some("key")), "{long:?}");

    let array = array.restart().await;
    let api = Wsapi::login(&array).await;
    assert_eq!(api.get(keys).await.2, all, "keys survive a restart");
    assert_eq!(api.delete(&format!("{keys}/a_key")).await.0, 200);
    refused(&api.delete(&format!("{keys}/a_key")).await, 404, 180, "object key does not exist");
    assert_eq!(api.delete("/volumes/m").await.0, 200);
    assert_eq!(api.post("/volumes", json!({"name": "m", "cpg": "SSD_r6", "sizeMiB": 256, "tpvv": true})).await.0, 201);
    assert_eq!(api.get(keys).await.2, json!({"total": 0, "members": []}), "keys went with the volume");
}

fn array_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}
