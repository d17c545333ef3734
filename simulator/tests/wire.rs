//! The HTTP boundary: exact status, headers and JSON for every endpoint group, through a real
//! HTTPS client with certificate verification on.
//!
//! Each endpoint group has one test of the successful path and negative tests that assert the
//! exact `httpStatusCode`, `errorCode` and `message` (reference `powerflex-api.md` §2.12, §3).

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use powerflex_sim::dataplane::PlaneKind;
use powerflex_sim::gateway::auth::AuthConfig;
use powerflex_sim::model::topology::Topology;
use powerflex_sim::server::{ServeConfig, Server, TlsSetting};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::{json, Value};

const NQN1: &str = "nqn.2014-08.org.nvmexpress:uuid:c470396a-2a3b-48ad-9c22-d3811fe1036d";
const NQN2: &str = "nqn.2014-08.org.nvmexpress:uuid:0b6ee5e8-35a6-4d51-a3ab-4f4e1a3b3c11";
const NQN3: &str = "nqn.2014-08.org.nvmexpress:uuid:7d2d6a4e-0c5b-4a43-9b0e-2f1d7a6b9e20";

/// `(status, content-type, raw text)` of a response, for bodies whose exact bytes matter.
async fn raw(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let ct = response.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ct, response.text().await.unwrap())
}

fn unauthorized() -> Value {
    json!({ "message": "Unauthorized", "httpStatusCode": 401, "errorCode": 0 })
}

// ---------------------------------------------------------------------------------------------
// Authentication (§1)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn auth_api_login_token_is_quoted_and_works_as_bearer_and_as_basic_password() {
    let gw = TestGateway::start_with(options()).await;
    let http = http_client(&gw.ca_cert_pem);
    let (status, ct, text) =
        raw(http.get(format!("{}/api/login", gw.url)).basic_auth(&gw.user, Some(&gw.password)).send().await.unwrap())
            .await;
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    assert!(text.starts_with('"') && text.ends_with('"') && text.len() > 2, "quoted token: {text}");
    let token: String = serde_json::from_str(&text).unwrap();

    let version = format!("{}/api/version", gw.url);
    // Bearer (goscaleio on 4.x).
    let (s, _, body) = raw(http.get(&version).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!((s, body.as_str()), (200, "\"4.5\""));
    // Basic with the token as password: the real user (cinder), another user, no user (goscaleio).
    for user in [gw.user.as_str(), "someone-else", ""] {
        let (s, _, body) = raw(http.get(&version).basic_auth(user, Some(&token)).send().await.unwrap()).await;
        assert_eq!((s, body.as_str()), (200, "\"4.5\""), "Basic {user:?}:token");
    }

    // GET /api/logout invalidates the token.
    let reply =
        read(http.get(format!("{}/api/logout", gw.url)).basic_auth(&gw.user, Some(&token)).send().await.unwrap()).await;
    assert_eq!(ok(reply), json!({}));
    assert_html_401(&read(http.get(&version).bearer_auth(&token).send().await.unwrap()).await);
    assert_html_401(&read(http.get(&version).basic_auth(&gw.user, Some(&token)).send().await.unwrap()).await);
}

#[tokio::test]
async fn auth_rest_login_fields_logout_204_and_interchangeable_tokens() {
    let gw = TestGateway::start_with(options()).await;
    let http = http_client(&gw.ca_cert_pem);
    let login = ok(read(
        http.post(format!("{}/rest/auth/login", gw.url))
            .json(&json!({ "username": gw.user, "password": gw.password }))
            .send()
            .await
            .unwrap(),
    )
    .await);
    for key in ["access_token", "refresh_token", "token_type", "scope", "session_state"] {
        assert!(login[key].as_str().is_some_and(|s| !s.is_empty()), "{key} is a non-empty string: {login}");
    }
    assert_eq!(login["token_type"], "Bearer");
    assert_eq!(login["expires_in"], json!(300));
    assert!(login["refresh_expires_in"].as_u64().is_some(), "refresh_expires_in: {login}");
    assert_eq!(login["not-before-policy"], json!(0));
    let access = login["access_token"].as_str().unwrap().to_string();
    let refresh = login["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(access, refresh);

    let version = format!("{}/api/version", gw.url);
    let (s, _, body) = raw(http.get(&version).bearer_auth(&access).send().await.unwrap()).await;
    assert_eq!((s, body.as_str()), (200, "\"4.5\""));
    // PyPowerFlex 1.9: the access token as the Basic password.
    let (s, _, _) = raw(http.get(&version).basic_auth(&gw.user, Some(&access)).send().await.unwrap()).await;
    assert_eq!(s, 200);
    // A refresh token is no credential for API calls.
    assert_html_401(&read(http.get(&version).bearer_auth(&refresh).send().await.unwrap()).await);

    // POST /rest/auth/logout: 204, no body; the access token is dead afterwards.
    let (s, _, body) = raw(http
        .post(format!("{}/rest/auth/logout", gw.url))
        .bearer_auth(&access)
        .json(&json!({ "refresh_token": refresh }))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!((s, body.as_str()), (204, ""));
    assert_html_401(&read(http.get(&version).bearer_auth(&access).send().await.unwrap()).await);
}

#[tokio::test]
async fn auth_bad_credentials_are_a_json_401() {
    let gw = TestGateway::start_with(options()).await;
    let http = http_client(&gw.ca_cert_pem);
    let login = format!("{}/api/login", gw.url);
    for request in [
        http.get(&login).basic_auth(&gw.user, Some("wrong")),
        http.get(&login).basic_auth("nobody", Some(&gw.password)),
        http.get(&login),
        http.post(format!("{}/rest/auth/login", gw.url)).json(&json!({ "username": gw.user, "password": "wrong" })),
        http.post(format!("{}/rest/auth/login", gw.url)).json(&json!({})),
    ] {
        let response = request.send().await.unwrap();
        let www = response.headers().get(WWW_AUTHENTICATE).map(|v| v.to_str().unwrap().to_string());
        let reply = read(response).await;
        assert_error(&reply, 401, 0, "Unauthorized");
        assert_eq!(reply.2, unauthorized());
        assert_eq!(www.as_deref(), Some("Basic realm=\"Restricted\""));
    }
}

#[tokio::test]
async fn auth_unknown_or_missing_token_is_an_html_401() {
    let gw = TestGateway::start_with(options()).await;
    let http = http_client(&gw.ca_cert_pem);
    let url = format!("{}/api/types/Volume/instances", gw.url);
    assert_html_401(&read(http.get(&url).send().await.unwrap()).await);
    assert_html_401(&read(http.get(&url).bearer_auth("not-a-token").send().await.unwrap()).await);
    assert_html_401(&read(http.get(&url).basic_auth("admin", Some("not-a-token")).send().await.unwrap()).await);
    assert_html_401(&read(http.get(&url).header(AUTHORIZATION, "Negotiate xyz").send().await.unwrap()).await);
    // POSTs too, before the body is looked at.
    let create = format!("{}/api/types/Volume/instances", gw.url);
    assert_html_401(&read(http.post(&create).bearer_auth("nope").body("{not json").send().await.unwrap()).await);
    // The configured password is no API credential by itself (only the admin surface takes it).
    assert_html_401(&read(http.get(&url).basic_auth(&gw.user, Some(&gw.password)).send().await.unwrap()).await);
}

#[tokio::test]
async fn auth_tokens_expire_after_their_ttl() {
    let auth = AuthConfig {
        access_token_ttl: Duration::from_secs(1),
        session_ttl: Duration::from_secs(3),
        session_idle: Duration::from_secs(60),
        ..AuthConfig::default()
    };
    let (gw, api) = start_with(Options { auth, ..options() }).await;
    let http = &api.http;
    let version = format!("{}/api/version", gw.url);
    let session =
        read(http.get(format!("{}/api/login", gw.url)).basic_auth(&gw.user, Some(&gw.password)).send().await.unwrap())
            .await;
    let session = ok(session).as_str().unwrap().to_string();
    assert_eq!(api.get("/api/version").await.0, 200);
    assert_eq!(read(http.get(&version).bearer_auth(&session).send().await.unwrap()).await.0, 200);

    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The access token (1 s) is dead; the session token (3 s) lives.
    assert_html_401(&api.get("/api/version").await);
    assert_eq!(read(http.get(&version).bearer_auth(&session).send().await.unwrap()).await.0, 200);

    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_html_401(&read(http.get(&version).bearer_auth(&session).send().await.unwrap()).await);
    // Logging in again works.
    let again = Api::connect(&gw).await;
    assert_eq!(again.get("/api/version").await.0, 200);
}

#[tokio::test]
async fn auth_session_token_dies_when_idle_and_lives_while_used() {
    let auth = AuthConfig {
        session_ttl: Duration::from_secs(60),
        session_idle: Duration::from_secs(2),
        ..AuthConfig::default()
    };
    let gw = TestGateway::start_with(Options { auth, ..options() }).await;
    let http = http_client(&gw.ca_cert_pem);
    let version = format!("{}/api/version", gw.url);
    let token = ok(read(
        http.get(format!("{}/api/login", gw.url)).basic_auth(&gw.user, Some(&gw.password)).send().await.unwrap(),
    )
    .await);
    let token = token.as_str().unwrap().to_string();
    // Used every 0.8 s for 3.2 s: longer than the idle limit in total, so use keeps it alive.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(read(http.get(&version).basic_auth("", Some(&token)).send().await.unwrap()).await.0, 200);
    }
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_html_401(&read(http.get(&version).basic_auth("", Some(&token)).send().await.unwrap()).await);
}

#[tokio::test]
async fn auth_admin_expire_forces_a_new_login() {
    let (gw, api) = start().await;
    let http = &api.http;
    // The admin surface refuses API-less callers with the JSON 401.
    let refused = read(http.post(format!("{}/sim/tokens/expire", gw.url)).send().await.unwrap()).await;
    assert_error(&refused, 401, 0, "Unauthorized");
    let expired = ok(read(
        http.post(format!("{}/sim/tokens/expire", gw.url))
            .basic_auth(&gw.user, Some(&gw.password))
            .send()
            .await
            .unwrap(),
    )
    .await);
    assert!(expired["expired"].as_u64().unwrap() >= 2, "access and refresh token: {expired}");
    assert_html_401(&api.get("/api/version").await);
    let again = Api::connect(&gw).await;
    assert_eq!(again.get_ok("/api/version").await, json!("4.5"));
}

#[tokio::test]
async fn health_answers_without_credentials_and_the_rest_of_sim_still_needs_them() {
    let (gw, api) = start().await;
    let http = &api.http;
    let health = ok(read(http.get(format!("{}/sim/health", gw.url)).send().await.unwrap()).await);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["emulator"], "pflex-sim");
    let refused = read(http.get(format!("{}/sim/info", gw.url)).send().await.unwrap()).await;
    assert_error(&refused, 401, 0, "Unauthorized");
}

// ---------------------------------------------------------------------------------------------
// Version, system, protection domains, pools, SDTs (§1.4, §2.1-§2.3, §2.9)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn version_is_the_quoted_string_4_5() {
    let (_gw, api) = start().await;
    let response = api.request(reqwest::Method::GET, "/api/version").send().await.unwrap();
    let (status, ct, text) = raw(response).await;
    assert_eq!((status, ct.as_str(), text.as_str()), (200, "application/json", "\"4.5\""));
    let lcm = api.get_ok("/api/v1/corelcm/status").await;
    assert_eq!(lcm["lcmStatus"], "READY");
    assert!(lcm["clusterVersion"].as_str().unwrap().starts_with("4."));
}

#[tokio::test]
async fn system_list_get_and_relationships() {
    let (_gw, api) = start().await;
    let systems = api.get_ok("/api/types/System/instances").await;
    assert_eq!(systems.as_array().unwrap().len(), 1);
    let system = &systems[0];
    let id = system["id"].as_str().unwrap();
    assert!(is_id(id));
    assert_eq!(system["systemNqn"], json!(format!("nqn.1988-11.com.dell:powerflex:00:{id}")));
    assert_eq!(&api.get_ok(&format!("/api/instances/System::{id}")).await, system);
    assert!(system.get("genType").is_none(), "4.x systems have no genType");

    let pds = api.get_ok(&format!("/api/instances/System::{id}/relationships/ProtectionDomain")).await;
    let names: Vec<_> = pds.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"pd1") && names.contains(&"pd2"));
    // The default topology's two SDCs, connected.
    let sdcs = api.get_ok(&format!("/api/instances/System::{id}/relationships/Sdc")).await;
    let sdc_ips: Vec<_> =
        sdcs.as_array().unwrap().iter().map(|s| (s["sdcIp"].clone(), s["mdmConnectionState"].clone())).collect();
    assert_eq!(sdc_ips.len(), 2);
    assert!(sdc_ips.contains(&(json!("127.0.0.11"), json!("Connected"))));
    assert!(sdc_ips.contains(&(json!("127.0.0.12"), json!("Connected"))));
    let stats = api.get_ok(&format!("/api/instances/System::{id}/relationships/Statistics")).await;
    assert_eq!(stats["numOfProtectionDomains"], json!(2));
    assert_eq!(stats["numOfStoragePools"], json!(3));

    assert_fault(&api.get("/api/instances/System::0123456789abcdef").await, 3, "Not found");
}

#[tokio::test]
async fn protection_domains_list_get_query_and_relationships() {
    let (_gw, api) = start().await;
    let system = api.system_id().await;
    let pds = api.get_ok("/api/types/ProtectionDomain/instances").await;
    assert_eq!(pds.as_array().unwrap().len(), 2);
    let pd1 = api.pd_id("pd1").await;
    assert!(is_id(&pd1));
    let pd = api.get_ok(&format!("/api/instances/ProtectionDomain::{pd1}")).await;
    assert_eq!(
        (pd["id"].as_str(), pd["name"].as_str(), pd["systemId"].as_str()),
        (Some(&*pd1), Some("pd1"), Some(&*system))
    );
    assert_eq!(pd["protectionDomainState"], "Active");
    assert!(pds.as_array().unwrap().contains(&pd));

    // queryIdByKey answers a quoted string.
    let (status, _, text) = raw(api
        .request(reqwest::Method::POST, "/api/types/ProtectionDomain/instances/action/queryIdByKey")
        .json(&json!({ "name": "pd1" }))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!((status, text), (200, format!("\"{pd1}\"")));
    let missing =
        api.post("/api/types/ProtectionDomain/instances/action/queryIdByKey", json!({ "name": "nope" })).await;
    assert_fault(&missing, 142, "Could not find Protection Domain");
    assert_fault(
        &api.get("/api/instances/ProtectionDomain::0123456789abcdef").await,
        142,
        "Could not find Protection Domain",
    );

    let pools = api.get_ok(&format!("/api/instances/ProtectionDomain::{pd1}/relationships/StoragePool")).await;
    let mut names: Vec<_> = pools.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect();
    names.sort();
    assert_eq!(names, ["sp1", "sp2"]);
    for pool in pools.as_array().unwrap() {
        assert_eq!(pool["protectionDomainId"], json!(pd1));
    }
    let sdts = api.get_ok(&format!("/api/instances/ProtectionDomain::{pd1}/relationships/Sdt")).await;
    let mut ips: Vec<_> = sdts
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["ipList"].as_array().unwrap().clone())
        .map(|ip| ip["ip"].as_str().unwrap().to_string())
        .collect();
    ips.sort();
    assert_eq!(ips, ["127.0.0.2", "127.0.0.3"]);
    let stats = api.get_ok(&format!("/api/instances/ProtectionDomain::{pd1}/relationships/Statistics")).await;
    assert_eq!(stats["numOfStoragePools"], json!(2));
    // The default topology's three SDSs per domain.
    let sdss = api.get_ok(&format!("/api/instances/ProtectionDomain::{pd1}/relationships/Sds")).await;
    assert_eq!(sdss.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect::<Vec<_>>().len(), 3);
    // Relationships to types the simulator has none of are empty lists.
    assert_eq!(api.get_ok(&format!("/api/instances/ProtectionDomain::{pd1}/relationships/Sdr")).await, json!([]));
    // Legacy lookup (cinder, siolib).
    assert_eq!(api.get_ok("/api/types/Domain/instances/getByName::pd1").await, json!(pd1));
}

#[tokio::test]
async fn storage_pools_list_get_and_relationships() {
    let (_gw, api) = start().await;
    let pools = api.get_ok("/api/types/StoragePool/instances").await;
    assert_eq!(pools.as_array().unwrap().len(), 3);
    let sp1 = api.pool_id("sp1").await;
    let pool = api.get_ok(&format!("/api/instances/StoragePool::{sp1}")).await;
    assert_eq!(pool["name"], "sp1");
    assert_eq!(pool["zeroPaddingEnabled"], json!(true));
    assert_eq!(pool["protectionDomainId"], json!(api.pd_id("pd1").await));
    assert_fault(&api.get("/api/instances/StoragePool::0123456789abcdef").await, 171, "Could not find Storage Pool");
    assert_fault(
        &api.get("/api/instances/StoragePool::0123456789abcdef/relationships/Volume").await,
        171,
        "Could not find Storage Pool",
    );

    let vol = api.create_volume(&sp1, "pool_rel", 8).await;
    assert_eq!(
        ids(&api.get_ok(&format!("/api/instances/StoragePool::{sp1}/relationships/Volume")).await),
        [vol.as_str()]
    );
    let trees = api.get_ok(&format!("/api/instances/StoragePool::{sp1}/relationships/VTree")).await;
    assert_eq!(ids(&trees), [api.volume(&vol).await["vtreeId"].as_str().unwrap().to_string()]);
    let sp2 = api.pool_id("sp2").await;
    assert_eq!(api.get_ok(&format!("/api/instances/StoragePool::{sp2}/relationships/Volume")).await, json!([]));
    let stats = api.pool_stats(&sp1).await;
    assert_eq!(stats["numOfVolumes"], json!(1));
    assert_eq!(stats["volumeIds"], json!([vol]));

    // siolib's lookup by name and domain name; the legacy getByName alias.
    let pd1 = api.pd_id("pd1").await;
    let found = api
        .post_ok(
            "/api/types/StoragePool/instances/action/queryIdByKey",
            json!({ "name": "sp1", "protectionDomainName": "pd1" }),
        )
        .await;
    assert_eq!(found, json!(sp1));
    assert_eq!(api.get_ok(&format!("/api/types/Pool/instances/getByName::{pd1},sp1")).await, json!(sp1));
    let missing = api
        .post(
            "/api/types/StoragePool/instances/action/queryIdByKey",
            json!({ "name": "sp3", "protectionDomainName": "pd1" }),
        )
        .await;
    assert_fault(&missing, 171, "Could not find Storage Pool");
}

#[tokio::test]
async fn sdts_list_and_get() {
    let (_gw, api) = start().await;
    let sdts = api.get_ok("/api/types/Sdt/instances").await;
    assert_eq!(sdts.as_array().unwrap().len(), 3);
    for sdt in sdts.as_array().unwrap() {
        let id = sdt["id"].as_str().unwrap();
        assert_eq!(&api.get_ok(&format!("/api/instances/Sdt::{id}")).await, sdt);
        assert_eq!(sdt["nvmePort"], json!(4420));
        assert_eq!(sdt["discoveryPort"], json!(8009));
        assert_eq!(sdt["ipList"][0]["role"], "StorageAndHost");
    }
    assert_fault(&api.get("/api/instances/Sdt::0123456789abcdef").await, 3, "Not found");
}

// ---------------------------------------------------------------------------------------------
// Volumes (§2.4, §3.1, §3.2)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn volume_create_accepts_both_size_keys_as_strings_and_numbers_and_rounds_up() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let cases = [
        (json!({ "volumeSizeInKb": "8192" }), 8),
        (json!({ "volumeSizeInKb": 8388608 }), 8),
        (json!({ "volumeSizeInKb": "8388609" }), 16),
        (json!({ "volumeSizeInGb": "8" }), 8),
        (json!({ "volumeSizeInGb": 9 }), 16),
        (json!({ "volumeSizeInGb": "17" }), 24),
        (json!({ "volumeSizeInGb": "1" }), 8),
        // The largest volume there is.
        (json!({ "volumeSizeInGb": "1048576" }), 1_048_576),
    ];
    for (n, (size, gib)) in cases.into_iter().enumerate() {
        let mut body = json!({ "storagePoolId": sp1, "name": format!("size{n}"), "volumeClass": "defaultclass" });
        body.as_object_mut().unwrap().extend(size.as_object().unwrap().clone());
        let created = api.post_ok("/api/types/Volume/instances", body.clone()).await;
        assert_eq!(created.as_object().unwrap().len(), 1, "create answers only the id: {created}");
        let id = created["id"].as_str().unwrap();
        assert!(is_id(id), "{id}");
        let volume = api.volume(id).await;
        assert_eq!(volume["sizeInKb"], json!(gib * GIB_KB), "{body}");
        assert_eq!(volume["volumeType"], "ThinProvisioned");
        assert_eq!(volume["mappedSdcInfo"], Value::Null);
        assert_eq!(volume["ancestorVolumeId"], Value::Null);
        assert_eq!(volume["storagePoolId"], json!(sp1));
    }
    // Thick, and the protection domain given too (goscaleio, cinder).
    let pd1 = api.pd_id("pd1").await;
    let thick = api
        .create_volume_with(json!({
            "storagePoolId": sp1, "protectionDomainId": pd1, "name": "thick", "volumeSizeInKb": "16777216",
            "volumeType": "ThickProvisioned", "useRmcache": "False", "compressionMethod": "None",
        }))
        .await;
    assert_eq!(api.volume(&thick).await["volumeType"], "ThickProvisioned");
    // An unnamed volume shows "name": null.
    let unnamed = api.create_volume_with(json!({ "storagePoolId": sp1, "volumeSizeInGb": "8" })).await;
    assert_eq!(api.volume(&unnamed).await["name"], Value::Null);
}

#[tokio::test]
async fn volume_create_refusals() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let create = |body: Value| {
        let api = api.clone();
        async move { api.post("/api/types/Volume/instances", body).await }
    };
    const ILLEGAL: &str = "The specified volume size is illegal. Volume size must be in 8 GB blocks";
    assert_fault(&create(json!({ "storagePoolId": sp1, "name": "z", "volumeSizeInGb": "0" })).await, 225, ILLEGAL);
    assert_fault(&create(json!({ "storagePoolId": sp1, "name": "z", "volumeSizeInKb": 0 })).await, 225, ILLEGAL);
    assert_fault(&create(json!({ "storagePoolId": sp1, "name": "z" })).await, 225, ILLEGAL);
    const TOO_LARGE: &str = "The volume size too large";
    assert_fault(
        &create(json!({ "storagePoolId": sp1, "name": "z", "volumeSizeInGb": "1048577" })).await,
        190,
        TOO_LARGE,
    );
    assert_fault(
        &create(json!({ "storagePoolId": sp1, "name": "z", "volumeSizeInKb": (1_048_576 * GIB_KB + 1).to_string() }))
            .await,
        190,
        TOO_LARGE,
    );
    assert_fault(
        &create(json!({ "storagePoolId": sp1, "name": "z", "volumeSizeInGb": u64::MAX.to_string() })).await,
        190,
        TOO_LARGE,
    );
    let long = "a".repeat(32);
    assert_fault(
        &create(json!({ "storagePoolId": sp1, "name": long, "volumeSizeInGb": "8" })).await,
        226,
        "The given name exceeds the allowed length of 31 characters.",
    );
    const INVALID_NAME: &str =
        "The given name contains invalid characters. Use alphanumeric and punctuation characters only. Spaces are not allowed.";
    for bad in ["has space", "tab\there", "caf\u{e9}", ""] {
        assert_fault(
            &create(json!({ "storagePoolId": sp1, "name": bad, "volumeSizeInGb": "8" })).await,
            227,
            INVALID_NAME,
        );
    }
    // 31 characters of base64 punctuation are fine (LXD, cinder).
    let fine = "s+/=_.-abcdefghijklmnopqrstuvwx";
    assert_eq!(fine.len(), 31);
    api.create_volume(&sp1, fine, 8).await;
    assert_fault(
        &create(json!({ "storagePoolId": sp1, "name": fine, "volumeSizeInGb": "8" })).await,
        99,
        "Volume name already in use. Please use a different name.",
    );
    assert_fault(
        &create(json!({ "storagePoolId": "0123456789abcdef", "name": "z", "volumeSizeInGb": "8" })).await,
        171,
        "Could not find Storage Pool",
    );
    let pd2 = api.pd_id("pd2").await;
    assert_fault(
        &create(json!({ "storagePoolId": sp1, "protectionDomainId": pd2, "name": "z", "volumeSizeInGb": "8" })).await,
        197,
        "The specified Storage Pool is not in the specified Protection Domain",
    );
    assert_fault(
        &create(json!({ "storagePoolId": sp1, "name": "z", "volumeSizeInGb": "8", "volumeType": "Fat" })).await,
        64,
        "Parameter out of range: volumeType \"Fat\"",
    );
    assert_error(
        &create(json!({ "name": "z", "volumeSizeInGb": "8" })).await,
        400,
        0,
        "Missing required parameter: storagePoolId",
    );
    // Nothing was created by the refusals.
    assert_eq!(api.get_ok("/api/types/Volume/instances").await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn volume_get_list_and_query_id_by_key() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let name = "c_WiUEsGpsSEmO592wtnT9FA==";
    let id = api.create_volume(&sp1, name, 8).await;
    let other = api.create_volume(&sp1, "u_+/+/AAAAAAAAAAAAAAAAAA==.b", 8).await;
    let volume = api.volume(&id).await;
    assert_eq!(volume["name"], name);
    assert_eq!(volume["id"], json!(id));
    let list = api.get_ok("/api/types/Volume/instances").await;
    assert_eq!(ids(&list).len(), 2);
    assert!(list.as_array().unwrap().contains(&volume));

    let (status, ct, text) = raw(api
        .request(reqwest::Method::POST, "/api/types/Volume/instances/action/queryIdByKey")
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!((status, ct.as_str(), text), (200, "application/json", format!("\"{id}\"")));
    let found = api
        .post_ok("/api/types/Volume/instances/action/queryIdByKey", json!({ "name": "u_+/+/AAAAAAAAAAAAAAAAAA==.b" }))
        .await;
    assert_eq!(found, json!(other));
    let missing = api.post("/api/types/Volume/instances/action/queryIdByKey", json!({ "name": "c_nope" })).await;
    assert_fault(&missing, 79, "Could not find the volume");
    assert_fault(&api.get("/api/instances/Volume::0123456789abcdef").await, 79, "Could not find the volume");
    // Legacy lookup with a double-encoded name (cinder tests, siolib).
    let encoded = "c_WiUEsGpsSEmO592wtnT9FA%253D%253D";
    assert_eq!(api.get_ok(&format!("/api/types/Volume/instances/getByName::{encoded}")).await, json!(id));
    // queryBySelectedIds.
    let selected =
        api.post_ok("/api/types/Volume/instances/action/queryBySelectedIds", json!({ "ids": [other, id] })).await;
    assert_eq!(ids(&selected), [other.clone(), id.clone()]);
    // Volume statistics.
    let stats = api.get_ok(&format!("/api/instances/Volume::{id}/relationships/Statistics")).await;
    assert_eq!(stats["numOfMappedSdcs"], json!(0));
    assert_eq!(stats["childVolumeIds"], json!([]));
}

#[tokio::test]
async fn set_volume_size_grows_rounds_up_and_refuses_to_shrink() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let id = api.create_volume(&sp1, "resize", 8).await;
    let size = |api: Api, id: String| async move { api.volume(&id).await["sizeInKb"].as_u64().unwrap() };
    assert_eq!(ok(api.volume_action(&id, "setVolumeSize", json!({ "sizeInGB": "16" })).await), json!({}));
    assert_eq!(size(api.clone(), id.clone()).await, 16 * GIB_KB);
    ok(api.volume_action(&id, "setVolumeSize", json!({ "sizeInGB": 17 })).await);
    assert_eq!(size(api.clone(), id.clone()).await, 24 * GIB_KB);
    // The same size again changes nothing and succeeds.
    ok(api.volume_action(&id, "setVolumeSize", json!({ "sizeInGB": "24", "allowOnExtManagedVol": "TRUE" })).await);
    assert_fault(
        &api.volume_action(&id, "setVolumeSize", json!({ "sizeInGB": "8" })).await,
        133,
        "Volume capacity can only be increased",
    );
    assert_fault(
        &api.volume_action(&id, "setVolumeSize", json!({ "sizeInGB": "0" })).await,
        225,
        "The specified volume size is illegal. Volume size must be in 8 GB blocks",
    );
    assert_eq!(size(api.clone(), id.clone()).await, 24 * GIB_KB);
    assert_fault(
        &api.volume_action("0123456789abcdef", "setVolumeSize", json!({ "sizeInGB": "16" })).await,
        79,
        "Could not find the volume",
    );
}

#[tokio::test]
async fn set_volume_name_renames_and_checks_the_name() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let id = api.create_volume(&sp1, "before", 8).await;
    let other = api.create_volume(&sp1, "taken", 8).await;
    assert_eq!(ok(api.volume_action(&id, "setVolumeName", json!({ "newName": "after" })).await), json!({}));
    assert_eq!(api.volume(&id).await["name"], "after");
    assert_eq!(
        api.post_ok("/api/types/Volume/instances/action/queryIdByKey", json!({ "name": "after" })).await,
        json!(id)
    );
    assert_fault(
        &api.post("/api/types/Volume/instances/action/queryIdByKey", json!({ "name": "before" })).await,
        79,
        "Could not find the volume",
    );
    // The old name is free again.
    api.create_volume(&sp1, "before", 8).await;
    assert_fault(
        &api.volume_action(&id, "setVolumeName", json!({ "newName": "taken" })).await,
        99,
        "Volume name already in use. Please use a different name.",
    );
    assert_fault(
        &api.volume_action(&id, "setVolumeName", json!({ "newName": "x".repeat(32) })).await,
        226,
        "The given name exceeds the allowed length of 31 characters.",
    );
    // Renaming to its own name is allowed.
    ok(api.volume_action(&other, "setVolumeName", json!({ "newName": "taken" })).await);
    assert_error(
        &api.volume_action(&id, "setVolumeName", json!({})).await,
        400,
        0,
        "Missing required parameter: newName",
    );
}

// ---------------------------------------------------------------------------------------------
// Snapshots and VTrees (§2.5, §2.6, §3.3)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn snapshot_single_and_consistency_group() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let system = api.system_id().await;
    let a = api.create_volume(&sp1, "a", 8).await;
    let b = api.create_thick_volume(&sp1, "b", 16).await;

    let reply = api
        .post_ok(
            &format!("/api/instances/System::{system}/action/snapshotVolumes"),
            json!({ "snapshotDefs": [{ "volumeId": a, "snapshotName": "a.snap" }], "accessModeLimit": "ReadOnly" }),
        )
        .await;
    let group = reply["snapshotGroupId"].as_str().unwrap().to_string();
    assert!(is_id(&group));
    let snap = reply["volumeIdList"][0].as_str().unwrap().to_string();
    assert_eq!(reply["volumeIdList"].as_array().unwrap().len(), 1);
    let parent = api.volume(&a).await;
    let s = api.volume(&snap).await;
    assert_eq!(s["volumeType"], "Snapshot");
    assert_eq!(s["ancestorVolumeId"], json!(a));
    assert_eq!(s["consistencyGroupId"], json!(group));
    assert_eq!(s["vtreeId"], parent["vtreeId"]);
    assert_eq!(s["storagePoolId"], parent["storagePoolId"]);
    assert_eq!(s["sizeInKb"], parent["sizeInKb"]);
    assert_eq!(s["accessModeLimit"], "ReadOnly");
    assert_eq!(s["name"], "a.snap");
    let rels: Vec<_> = s["links"].as_array().unwrap().iter().map(|l| l["rel"].as_str().unwrap()).collect();
    assert!(rels.contains(&"/api/parent/relationship/ancestorVolumeId"), "{rels:?}");

    // Several volumes at once: one group, ids in the order asked, goscaleio's raw bool.
    let reply = api
        .post_ok(
            "/api/instances/System/action/snapshotVolumes",
            json!({ "snapshotDefs": [{ "volumeId": b }, { "volumeId": a, "snapshotName": "a.cg" }], "allowOnExtManagedVol": true }),
        )
        .await;
    let list: Vec<String> =
        reply["volumeIdList"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(list.len(), 2);
    let cg = reply["snapshotGroupId"].as_str().unwrap();
    assert_ne!(cg, group);
    let (sb, sa) = (api.volume(&list[0]).await, api.volume(&list[1]).await);
    assert_eq!((sb["ancestorVolumeId"].as_str(), sa["ancestorVolumeId"].as_str()), (Some(&*b), Some(&*a)));
    assert_eq!((sb["consistencyGroupId"].as_str(), sa["consistencyGroupId"].as_str()), (Some(cg), Some(cg)));
    assert_eq!(sb["name"], Value::Null);
    assert_eq!(sb["volumeType"], "Snapshot");
    // Without accessModeLimit a snapshot is writable.
    assert_eq!(sb["accessModeLimit"], "ReadWrite");

    // Refusals: long name (226), taken name (99), unknown volume (79), no defs, wrong system.
    let snapshot = |body: Value| {
        let api = api.clone();
        async move { api.post("/api/instances/System/action/snapshotVolumes", body).await }
    };
    assert_fault(
        &snapshot(json!({ "snapshotDefs": [{ "volumeId": a, "snapshotName": "s".repeat(32) }] })).await,
        226,
        "The given name exceeds the allowed length of 31 characters.",
    );
    assert_fault(
        &snapshot(json!({ "snapshotDefs": [{ "volumeId": a, "snapshotName": "b" }] })).await,
        99,
        "Volume name already in use. Please use a different name.",
    );
    assert_fault(
        &snapshot(json!({ "snapshotDefs": [{ "volumeId": "0123456789abcdef" }] })).await,
        79,
        "Could not find the volume",
    );
    assert_error(&snapshot(json!({})).await, 400, 0, "Missing required parameter: snapshotDefs");
    assert_fault(
        &api.post(
            "/api/instances/System::0123456789abcdef/action/snapshotVolumes",
            json!({ "snapshotDefs": [{ "volumeId": a }] }),
        )
        .await,
        3,
        "Not found",
    );
}

#[tokio::test]
async fn vtree_holds_126_snapshots_and_refuses_the_127th_with_details() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let base = api.create_volume(&sp1, "base", 8).await;
    let mut last = base.clone();
    for n in 0..126 {
        // Snapshots of snapshots count towards the same tree.
        let source = if n % 2 == 0 { base.clone() } else { last.clone() };
        last = api.snapshot(&source, &format!("snap{n}")).await;
    }
    let vtree = api.volume(&base).await["vtreeId"].as_str().unwrap().to_string();
    assert_eq!(
        api.get_ok(&format!("/api/instances/VTree::{vtree}/relationships/Volume")).await.as_array().unwrap().len(),
        127
    );
    for source in [&base, &last] {
        let refused = api
            .post(
                "/api/instances/System/action/snapshotVolumes",
                json!({ "snapshotDefs": [{ "volumeId": source, "snapshotName": "one-too-many" }] }),
            )
            .await;
        assert_eq!((refused.0, refused.1.as_str()), (500, "application/json"));
        assert_eq!(
            refused.2,
            json!({
                "errorCode": 0, "httpStatusCode": 500, "message": "Error with details",
                "details": [{ "rc": 182, "error": "TOO_MANY_SNAPS_IN_VTREE", "errorMessage": "There are too many snapshots in the VTree" }],
            })
        );
    }
    // Another tree is unaffected.
    let other = api.create_volume(&sp1, "other", 8).await;
    api.snapshot(&other, "other.snap").await;
    // Removing one snapshot makes room for one.
    ok(api.volume_action(&last, "removeVolume", json!({ "removeMode": "ONLY_ME" })).await);
    api.snapshot(&base, "fits-again").await;
}

#[tokio::test]
async fn vtree_get_list_and_relationships() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let base = api.create_volume(&sp1, "base", 8).await;
    let snap = api.snapshot(&base, "snap").await;
    let vtree_id = api.volume(&base).await["vtreeId"].as_str().unwrap().to_string();
    let vtree = api.get_ok(&format!("/api/instances/VTree::{vtree_id}")).await;
    assert_eq!(vtree["rootVolumes"], json!([base]));
    assert_eq!(vtree["storagePoolId"], json!(sp1));
    assert_eq!(vtree["vtreeMigrationInfo"]["migrationStatus"], "NotInMigration");
    assert_eq!(api.get_ok("/api/types/VTree/instances").await, json!([vtree]));
    let mut members = ids(&api.get_ok(&format!("/api/instances/VTree::{vtree_id}/relationships/Volume")).await);
    members.sort();
    let mut expected = vec![base.clone(), snap.clone()];
    expected.sort();
    assert_eq!(members, expected);
    let stats = api.get_ok(&format!("/api/instances/VTree::{vtree_id}/relationships/Statistics")).await;
    assert_eq!(stats["numOfVolumes"], json!(2));
    // Nothing written yet: no address holds data (CloudStack reads this as the physical size).
    assert_eq!(stats["netProvisionedAddressesInKb"], json!(0));
    assert_eq!(stats["volumeAddressSpaceInKb"], json!(8 * GIB_KB));
    assert_eq!(vtree["name"], "base");
    let selected =
        api.post_ok("/api/types/VTree/instances/action/queryBySelectedIds", json!({ "ids": [vtree_id] })).await;
    assert_eq!(selected, json!([vtree]));
    assert_fault(&api.get("/api/instances/VTree::0123456789abcdef").await, 230, "The VTree was not found");
}

#[tokio::test]
async fn remove_volume_in_all_four_modes() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let exists = |api: Api, id: String| async move { api.get(&format!("/api/instances/Volume::{id}")).await.0 == 200 };
    let remove = |api: Api, id: String, mode: &'static str| async move {
        api.volume_action(&id, "removeVolume", json!({ "removeMode": mode })).await
    };

    // ONLY_ME: the descendants stay, and stay snapshots of the same tree.
    let a = api.create_volume(&sp1, "a", 8).await;
    let s1 = api.snapshot(&a, "a.s1").await;
    let s2 = api.snapshot(&s1, "a.s2").await;
    assert_eq!(ok(remove(api.clone(), a.clone(), "ONLY_ME").await), json!({}));
    assert!(!exists(api.clone(), a.clone()).await);
    assert!(exists(api.clone(), s1.clone()).await && exists(api.clone(), s2.clone()).await);
    assert_eq!(api.volume(&s2).await["ancestorVolumeId"], json!(s1));
    assert_eq!(api.volume(&s1).await["volumeType"], "Snapshot");
    assert_fault(&remove(api.clone(), a.clone(), "ONLY_ME").await, 79, "Could not find the volume");

    // DESCENDANTS_ONLY: nothing to delete (183), then the children go and the volume stays.
    assert_fault(&remove(api.clone(), s2.clone(), "DESCENDANTS_ONLY").await, 183, "There are no volumes to delete");
    ok(remove(api.clone(), s1.clone(), "DESCENDANTS_ONLY").await);
    assert!(exists(api.clone(), s1.clone()).await);
    assert!(!exists(api.clone(), s2.clone()).await);

    // INCLUDING_DESCENDANTS: the volume and its subtree, not its siblings or parent.
    let b = api.create_volume(&sp1, "b", 8).await;
    let b1 = api.snapshot(&b, "b.1").await;
    let b11 = api.snapshot(&b1, "b.1.1").await;
    let b2 = api.snapshot(&b, "b.2").await;
    ok(remove(api.clone(), b1.clone(), "INCLUDING_DESCENDANTS").await);
    assert!(!exists(api.clone(), b1.clone()).await && !exists(api.clone(), b11.clone()).await);
    assert!(exists(api.clone(), b.clone()).await && exists(api.clone(), b2.clone()).await);

    // WHOLE_VTREE from a snapshot: parent, children and siblings all go, and the tree too.
    let vtree = api.volume(&b).await["vtreeId"].as_str().unwrap().to_string();
    ok(remove(api.clone(), b2.clone(), "WHOLE_VTREE").await);
    assert!(!exists(api.clone(), b.clone()).await && !exists(api.clone(), b2.clone()).await);
    assert_fault(&api.get(&format!("/api/instances/VTree::{vtree}")).await, 230, "The VTree was not found");

    // A mapped volume (or a tree with a mapped member) is refused with 104.
    let c = api.create_volume(&sp1, "c", 8).await;
    let c1 = api.snapshot(&c, "c.1").await;
    let host = api.create_nvme_host("h1", NQN1).await;
    api.map_host(&c1, &host).await;
    assert_fault(&remove(api.clone(), c1.clone(), "ONLY_ME").await, 104, "Volume is mapped");
    assert_fault(&remove(api.clone(), c.clone(), "WHOLE_VTREE").await, 104, "Volume is mapped");
    assert_fault(&remove(api.clone(), c.clone(), "INCLUDING_DESCENDANTS").await, 104, "Volume is mapped");
    assert!(exists(api.clone(), c.clone()).await && exists(api.clone(), c1.clone()).await);
    // The default mode, with no body at all, is ONLY_ME.
    assert_eq!(
        ok(api.post_raw(&format!("/api/instances/Volume::{c}/action/removeVolume"), None, None).await),
        json!({})
    );
    assert!(!exists(api.clone(), c.clone()).await && exists(api.clone(), c1.clone()).await);
    assert_fault(
        &remove(api.clone(), c1.clone(), "SOME_OF_THEM").await,
        64,
        "Parameter out of range: removeMode \"SOME_OF_THEM\"",
    );
}

#[tokio::test]
async fn remove_consistency_group_snapshots_answers_the_count() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let system = api.system_id().await;
    let a = api.create_volume(&sp1, "a", 8).await;
    let b = api.create_volume(&sp1, "b", 8).await;
    let reply = api
        .post_ok(
            &format!("/api/instances/System::{system}/action/snapshotVolumes"),
            json!({ "snapshotDefs": [{ "volumeId": a, "snapshotName": "a.s" }, { "volumeId": b, "snapshotName": "b.s" }] }),
        )
        .await;
    let group = reply["snapshotGroupId"].as_str().unwrap();
    let removed = api
        .post_ok(
            &format!("/api/instances/System::{system}/action/removeConsistencyGroupSnapshots"),
            json!({ "snapGroupId": group, "allowOnExtManagedVol": "TRUE" }),
        )
        .await;
    assert_eq!(removed, json!({ "numberOfVolumes": 2 }));
    assert_eq!(ids(&api.get_ok("/api/types/Volume/instances").await).len(), 2);
    assert_eq!(api.volume(&a).await["name"], "a");
    let again = api
        .post(
            &format!("/api/instances/System::{system}/action/removeConsistencyGroupSnapshots"),
            json!({ "snapGroupId": group }),
        )
        .await;
    assert_fault(
        &again,
        185,
        "No volumes were found under the given consistency group or the consistency group ID is not valid",
    );
}

// ---------------------------------------------------------------------------------------------
// Hosts and mappings (§2.7, §2.8, §2.4 actions)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn nvme_host_create_list_get_rename_and_remove() {
    let (_gw, api) = start().await;
    let system = api.system_id().await;
    let created = api
        .post_ok(
            "/api/types/Host/instances",
            json!({ "nqn": NQN1, "name": "host1", "maxNumPaths": "4", "maxNumSysPorts": "10" }),
        )
        .await;
    assert_eq!(created.as_object().unwrap().len(), 1);
    let id = created["id"].as_str().unwrap().to_string();
    assert!(is_id(&id));
    assert_eq!(&id[8..12], "0001", "NVMe host ids carry 0001 in digits 9-12");

    let host = api.get_ok(&format!("/api/instances/Host::{id}")).await;
    assert_eq!(host["hostType"], "NVMeHost");
    assert_eq!(host["nqn"], NQN1);
    assert_eq!(host["name"], "host1");
    assert_eq!((host["maxNumPaths"].as_u64(), host["maxNumSysPorts"].as_u64()), (Some(4), Some(10)));
    assert_eq!(host["systemId"], json!(system));
    assert_eq!(host["sdcIp"], Value::Null);
    // One id space: Sdc:: shows the same object, and every list has it.
    assert_eq!(api.get_ok(&format!("/api/instances/Sdc::{id}")).await, host);
    assert_eq!(api.get_ok("/api/types/Host/instances").await, json!([host]));
    // The Sdc list has the topology's two SDCs beside the NVMe host.
    let sdcs = api.get_ok("/api/types/Sdc/instances").await;
    assert_eq!(sdcs.as_array().unwrap().len(), 3);
    assert!(sdcs.as_array().unwrap().contains(&host));
    assert_eq!(api.get_ok(&format!("/api/instances/System::{system}/relationships/Sdc")).await, sdcs);
    assert_eq!(api.post_ok("/api/types/Host/instances/action/queryIdByKey", json!({ "nqn": NQN1 })).await, json!(id));

    // A second host with numbers as JSON numbers; defaults without them.
    let other =
        api.post_ok("/api/types/Host/instances", json!({ "nqn": NQN2, "name": "host2", "maxNumPaths": 8 })).await;
    let other = other["id"].as_str().unwrap();
    assert_ne!(other, id);
    assert_eq!(api.get_ok(&format!("/api/instances/Host::{other}")).await["maxNumSysPorts"], json!(10));

    // Rename through the SDC action (goscaleio, LXD).
    assert_eq!(
        ok(api.post(&format!("/api/instances/Sdc::{id}/action/setSdcName"), json!({ "sdcName": "renamed" })).await),
        json!({})
    );
    assert_eq!(api.get_ok(&format!("/api/instances/Host::{id}")).await["name"], "renamed");
    assert_fault(
        &api.post(&format!("/api/instances/Sdc::{id}/action/setSdcName"), json!({ "sdcName": "host2" })).await,
        92,
        "Duplicate host name",
    );
    ok(api
        .post(&format!("/api/instances/Host::{id}/action/modifyMaxNumPaths"), json!({ "newMaxNumPaths": "2" }))
        .await);
    assert_eq!(api.get_ok(&format!("/api/instances/Host::{id}")).await["maxNumPaths"], json!(2));

    // Refusals on create.
    assert_fault(
        &api.post("/api/types/Host/instances", json!({ "nqn": NQN1, "name": "dup" })).await,
        341,
        "A host with this NQN already exists",
    );
    assert_fault(
        &api.post("/api/types/Host/instances", json!({ "nqn": "iqn.not-nvme", "name": "x" })).await,
        64,
        "Parameter out of range: nqn is not a valid NVMe qualified name",
    );
    assert_error(
        &api.post("/api/types/Host/instances", json!({ "name": "x" })).await,
        400,
        0,
        "Missing required parameter: nqn",
    );

    // removeSdc as LXD sends it: no body and no Content-Type.
    let removed = api.post_raw(&format!("/api/instances/Sdc::{id}/action/removeSdc"), None, None).await;
    assert_eq!(ok(removed), json!({}));
    assert_fault(&api.get(&format!("/api/instances/Sdc::{id}")).await, 80, "Could not find the SDC");
    assert_fault(&api.get(&format!("/api/instances/Host::{id}")).await, 91, "Could not find the host");
    assert_eq!(ids(&api.get_ok("/api/types/Host/instances").await), [other.to_string()]);
    assert!(!ids(&api.get_ok("/api/types/Sdc/instances").await).contains(&id.to_string()));
    assert_fault(
        &api.post_raw(&format!("/api/instances/Sdc::{id}/action/removeSdc"), None, None).await,
        80,
        "Could not find the SDC",
    );
    // The NQN is free again; a re-created host gets a new id.
    let again = api.create_nvme_host("host1", NQN1).await;
    assert_ne!(again, id);
}

#[tokio::test]
async fn mapping_through_host_and_sdc_actions() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let vol = api.create_volume(&sp1, "mapped", 8).await;
    let h1 = api.create_nvme_host("h1", NQN1).await;
    let h2 = api.create_nvme_host("h2", NQN2).await;
    let h3 = api.create_nvme_host("h3", NQN3).await;

    ok(api.volume_action(&vol, "addMappedHost", json!({ "hostId": h1, "allowMultipleMappings": "true" })).await);
    let v = api.volume(&vol).await;
    assert_eq!(
        v["mappedSdcInfo"],
        json!([{
            "sdcId": h1, "sdcIp": null, "sdcName": "h1", "limitIops": 0, "limitBwInMbps": 0,
            "accessMode": "ReadWrite", "isDirectBufferMapping": false, "nqn": NQN1, "hostType": "NVMeHost",
        }])
    );
    assert_fault(
        &api.volume_action(&vol, "addMappedHost", json!({ "hostId": h1, "allowMultipleMappings": "true" })).await,
        81,
        "The volume is already mapped to this SDC",
    );
    // cinder maps NVMe hosts with addMappedSdc and sdcId; a second mapping needs allowMultipleMappings.
    assert_fault(
        &api.volume_action(&vol, "addMappedSdc", json!({ "sdcId": h2 })).await,
        297,
        "This volume is already mapped and may not be mapped to additional SDCs.",
    );
    ok(api.volume_action(&vol, "addMappedSdc", json!({ "sdcId": h2, "allowMultipleMappings": "TRUE" })).await);
    let mapped: Vec<_> = api.volume(&vol).await["mappedSdcInfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sdcId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(mapped, [h1.clone(), h2.clone()]);
    assert_eq!(ids(&api.get_ok(&format!("/api/instances/Host::{h1}/relationships/Volume")).await), [vol.as_str()]);
    assert_eq!(ids(&api.get_ok(&format!("/api/instances/Sdc::{h2}/relationships/Volume")).await), [vol.as_str()]);
    assert_eq!(api.get_ok(&format!("/api/instances/Sdc::{h3}/relationships/Volume")).await, json!([]));
    let stats = api.get_ok(&format!("/api/instances/Volume::{vol}/relationships/Statistics")).await;
    assert_eq!(stats["numOfMappedSdcs"], json!(2));

    // Removing a mapping that is not there.
    assert_fault(
        &api.volume_action(&vol, "removeMappedHost", json!({ "hostId": h3 })).await,
        4039,
        "The volume is not mapped to the host",
    );
    assert_fault(
        &api.volume_action(&vol, "removeMappedSdc", json!({ "sdcId": h3 })).await,
        84,
        "The volume is not mapped to SDC",
    );
    // Unknown hosts.
    assert_fault(
        &api.volume_action(&vol, "addMappedHost", json!({ "hostId": "0123456789abcdef" })).await,
        91,
        "Could not find the host",
    );
    assert_fault(
        &api.volume_action(&vol, "addMappedSdc", json!({ "sdcId": "0123456789abcdef" })).await,
        80,
        "Could not find the SDC",
    );
    assert_error(
        &api.volume_action(&vol, "addMappedHost", json!({})).await,
        400,
        0,
        "Missing required parameter: sdcId, hostId, guid or nqn",
    );
    // A host with mappings cannot go; a mapped volume cannot go.
    assert_fault(
        &api.post_raw(&format!("/api/instances/Sdc::{h1}/action/removeSdc"), None, None).await,
        180,
        "SDC has mapped volume(s)",
    );
    assert_fault(
        &api.volume_action(&vol, "removeVolume", json!({ "removeMode": "ONLY_ME" })).await,
        104,
        "Volume is mapped",
    );

    // Unmap one through each API, or all at once.
    ok(api.volume_action(&vol, "removeMappedHost", json!({ "hostId": h1 })).await);
    assert_eq!(api.get_ok(&format!("/api/instances/Host::{h1}/relationships/Volume")).await, json!([]));
    ok(api.volume_action(&vol, "addMappedHost", json!({ "nqn": NQN3, "allowMultipleMappings": "true" })).await);
    ok(api.volume_action(&vol, "removeMappedSdc", json!({ "allSdcs": "" })).await);
    assert_eq!(api.volume(&vol).await["mappedSdcInfo"], Value::Null);
    for h in [&h1, &h2, &h3] {
        ok(api.post_raw(&format!("/api/instances/Sdc::{h}/action/removeSdc"), None, None).await);
    }
    ok(api.volume_action(&vol, "removeVolume", json!({ "removeMode": "ONLY_ME" })).await);
}

#[tokio::test]
async fn set_mapped_sdc_limits_shows_in_mapped_sdc_info() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let vol = api.create_volume(&sp1, "limited", 8).await;
    let h1 = api.create_nvme_host("h1", NQN1).await;
    let h2 = api.create_nvme_host("h2", NQN2).await;
    api.map_host(&vol, &h1).await;
    let body = json!({ "sdcId": h1, "bandwidthLimitInKbps": "10240", "iopsLimit": "11" });
    assert_eq!(ok(api.volume_action(&vol, "setMappedSdcLimits", body).await), json!({}));
    let info = &api.volume(&vol).await["mappedSdcInfo"][0];
    assert_eq!((info["limitBwInMbps"].as_u64(), info["limitIops"].as_u64()), (Some(10), Some(11)));
    // Only the bandwidth: the IOPS limit stays.
    ok(api.volume_action(&vol, "setMappedSdcLimits", json!({ "sdcId": h1, "bandwidthLimitInKbps": 0 })).await);
    let info = &api.volume(&vol).await["mappedSdcInfo"][0];
    assert_eq!((info["limitBwInMbps"].as_u64(), info["limitIops"].as_u64()), (Some(0), Some(11)));
    assert_fault(
        &api.volume_action(&vol, "setMappedSdcLimits", json!({ "sdcId": h1, "iopsLimit": "5" })).await,
        64,
        "Parameter out of range: iopsLimit must be 0 (unlimited) or greater than 10",
    );
    assert_fault(
        &api.volume_action(&vol, "setMappedSdcLimits", json!({ "sdcId": h1, "bandwidthLimitInKbps": "1000" })).await,
        64,
        "Parameter out of range: bandwidthLimitInKbps must be 0 (unlimited) or a multiple of 1024",
    );
    assert_fault(
        &api.volume_action(&vol, "setMappedSdcLimits", json!({ "sdcId": h2, "iopsLimit": "100" })).await,
        84,
        "The volume is not mapped to SDC",
    );
}

// ---------------------------------------------------------------------------------------------
// Other volume actions (§2.4)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn overwrite_volume_content_only_within_a_vtree() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let a = api.create_volume(&sp1, "a", 8).await;
    let snap = api.snapshot(&a, "a.snap").await;
    let b = api.create_volume(&sp1, "b", 8).await;
    assert_eq!(ok(api.volume_action(&a, "overwriteVolumeContent", json!({ "srcVolumeId": snap })).await), json!({}));
    // And the other way round (a snapshot refreshed from its parent).
    ok(api
        .volume_action(&snap, "overwriteVolumeContent", json!({ "srcVolumeId": a, "allowOnExtManagedVol": "TRUE" }))
        .await);
    assert_fault(
        &api.volume_action(&b, "overwriteVolumeContent", json!({ "srcVolumeId": snap })).await,
        198,
        "To overwrite the content of a volume, the source and target volumes must be from the same V-Tree.",
    );
    assert_fault(
        &api.volume_action(&a, "overwriteVolumeContent", json!({ "srcVolumeId": a })).await,
        330,
        "You cannot overwrite a volume with itself. Select a different volume in the V-Tree and try again.",
    );
    assert_fault(
        &api.volume_action(&a, "overwriteVolumeContent", json!({ "srcVolumeId": "0123456789abcdef" })).await,
        79,
        "Could not find the volume",
    );
    // A snapshot grown after it was taken grows the volume it restores.
    ok(api.volume_action(&snap, "setVolumeSize", json!({ "sizeInGB": "16" })).await);
    ok(api.volume_action(&a, "overwriteVolumeContent", json!({ "srcVolumeId": snap })).await);
    assert_eq!(api.volume(&a).await["sizeInKb"], json!(16 * GIB_KB));
}

#[tokio::test]
async fn migrate_vtree_moves_the_whole_tree() {
    let (_gw, api) = start().await;
    let (sp1, sp2, sp3) = (api.pool_id("sp1").await, api.pool_id("sp2").await, api.pool_id("sp3").await);
    let a = api.create_volume(&sp1, "a", 8).await;
    let snap = api.snapshot(&a, "a.snap").await;
    let vtree = api.volume(&a).await["vtreeId"].as_str().unwrap().to_string();
    let body = json!({ "destSPId": sp2, "volTypeConversion": "ThinToThick", "compressionMethod": "None", "allowDuringRebuild": "False" });
    assert_eq!(ok(api.volume_action(&a, "migrateVTree", body).await), json!({}));
    for id in [&a, &snap] {
        assert_eq!(api.volume(id).await["storagePoolId"], json!(sp2));
        assert_eq!(api.volume(id).await["vtreeId"], json!(vtree));
    }
    assert_eq!(api.volume(&a).await["volumeType"], "ThickProvisioned");
    assert_eq!(api.volume(&snap).await["volumeType"], "Snapshot");
    let tree = api.get_ok(&format!("/api/instances/VTree::{vtree}")).await;
    assert_eq!(tree["storagePoolId"], json!(sp2));
    assert_eq!(tree["vtreeMigrationInfo"]["migrationStatus"], "NotInMigration");
    assert_eq!(api.pool_stats(&sp1).await["numOfVolumes"], json!(0));
    assert_eq!(api.pool_stats(&sp2).await["numOfVolumes"], json!(2));
    assert_eq!(api.pool_stats(&sp2).await["thickCapacityInUseInKb"], json!(2 * 8 * GIB_KB));

    assert_fault(
        &api.volume_action(&a, "migrateVTree", json!({ "destSPId": sp2 })).await,
        718,
        "The destination Storage Pool and the source Storage Pool are the same.",
    );
    assert_fault(
        &api.volume_action(&a, "migrateVTree", json!({ "destSPId": "0123456789abcdef" })).await,
        171,
        "Could not find Storage Pool",
    );
    // Across protection domains, CloudStack's minimal body.
    ok(api.volume_action(&snap, "migrateVTree", json!({ "destSPId": sp3 })).await);
    assert_eq!(api.volume(&a).await["storagePoolId"], json!(sp3));
}

#[tokio::test]
async fn set_volume_access_mode_limit() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let a = api.create_volume(&sp1, "a", 8).await;
    assert_eq!(api.volume(&a).await["accessModeLimit"], "ReadWrite");
    assert_eq!(
        ok(api.volume_action(&a, "setVolumeAccessModeLimit", json!({ "accessModeLimit": "ReadOnly" })).await),
        json!({})
    );
    assert_eq!(api.volume(&a).await["accessModeLimit"], "ReadOnly");
    ok(api.volume_action(&a, "setVolumeAccessModeLimit", json!({ "accessModeLimit": "ReadWrite" })).await);
    assert_eq!(api.volume(&a).await["accessModeLimit"], "ReadWrite");
    assert_fault(
        &api.volume_action(&a, "setVolumeAccessModeLimit", json!({ "accessModeLimit": "Bogus" })).await,
        64,
        "Parameter out of range: accessModeLimit \"Bogus\"",
    );
    assert_fault(
        &api.volume_action(&a, "setVolumeAccessModeLimit", json!({ "accessModeLimit": "NoAccess" })).await,
        64,
        "Parameter out of range: accessModeLimit must be ReadWrite or ReadOnly",
    );
    assert_error(
        &api.volume_action(&a, "setVolumeAccessModeLimit", json!({})).await,
        400,
        0,
        "Missing required parameter: accessModeLimit",
    );
}

// ---------------------------------------------------------------------------------------------
// Limits and statistics (§2.3, §2.11, §5 item 10)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn query_system_limits() {
    let (_gw, api) = start().await;
    for path in [
        "/api/instances/System/action/querySystemLimits",
        &format!("/api/instances/System::{}/action/querySystemLimits", api.system_id().await),
    ] {
        let limits = api.post_ok(path, json!({})).await;
        let entries = limits["systemLimitEntryList"].as_array().unwrap();
        let find =
            |t: &str| entries.iter().find(|e| e["type"] == t).unwrap_or_else(|| panic!("{t} in {limits}")).clone();
        let size = find("volumeSizeGb");
        assert_eq!((size["maxVal"].as_str(), size["minVal"].as_str()), (Some("1048576"), Some("8")));
        assert_eq!(find("volumePerVtree")["maxVal"], "127");
        assert_eq!(find("nvmeHosts")["maxVal"], "1024");
        for e in entries {
            assert!(e["maxVal"].is_string() && e["type"].is_string() && e["description"].is_string(), "{e}");
            assert!(e.get("minVal").is_none_or(Value::is_string), "{e}");
        }
    }
    // No body at all works too.
    let none = api.post_raw("/api/instances/System/action/querySystemLimits", None, None).await;
    assert!(ok(none)["systemLimitEntryList"].is_array());
}

#[tokio::test]
async fn query_selected_statistics() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let vol = api.create_thick_volume(&sp1, "thick", 16).await;
    let props = json!(["thickCapacityInUseInKb", "netUnusedCapacityInKb", "numOfVolumes"]);
    let by_id = api
        .post_ok(
            "/api/types/StoragePool/instances/action/querySelectedStatistics",
            json!({ "ids": [sp1], "properties": props }),
        )
        .await;
    let full = api.pool_stats(&sp1).await;
    assert_eq!(
        by_id,
        json!({ sp1.clone(): {
            "thickCapacityInUseInKb": full["thickCapacityInUseInKb"],
            "netUnusedCapacityInKb": full["netUnusedCapacityInKb"],
            "numOfVolumes": 1,
        }})
    );
    let all = api
        .post_ok(
            "/api/types/StoragePool/instances/action/querySelectedStatistics",
            json!({ "allIds": "", "properties": props }),
        )
        .await;
    assert_eq!(all.as_object().unwrap().len(), 3);
    assert_eq!(all[&sp1], by_id[&sp1]);
    let volume = api
        .post_ok(
            "/api/types/Volume/instances/action/querySelectedStatistics",
            json!({ "ids": [vol], "properties": ["numOfMappedSdcs", "childVolumeIds"] }),
        )
        .await;
    assert_eq!(volume, json!({ vol.clone(): { "numOfMappedSdcs": 0, "childVolumeIds": [] } }));
    // cinder probes a property and falls back on any non-200.
    let unknown = api
        .post(
            "/api/types/StoragePool/instances/action/querySelectedStatistics",
            json!({ "ids": [sp1], "properties": ["noSuchCounter"] }),
        )
        .await;
    assert_error(&unknown, 400, 0, "Request failed: unknown statistics property \"noSuchCounter\" for StoragePool");
    let missing = api
        .post("/api/types/StoragePool/instances/action/querySelectedStatistics", json!({ "properties": props }))
        .await;
    assert_error(&missing, 400, 0, "Missing required parameter: ids or allIds");
}

#[tokio::test]
async fn pool_statistics_follow_the_volumes() {
    let (_gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let n = |s: &Value, k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k} is an unsigned integer in {s}"));
    let empty = api.pool_stats(&sp1).await;
    let total = n(&empty, "netUnusedCapacityInKb") + n(&empty, "netCapacityInUseInKb");
    // Raw = 2 × net: usable is (max − spare) / 2 (CloudStack's formula).
    assert_eq!(total, (n(&empty, "maxCapacityInKb") - n(&empty, "spareCapacityInKb")) / 2);
    assert_eq!(n(&empty, "numOfVolumes"), 0);
    assert_eq!(n(&empty, "thickCapacityInUseInKb"), 0);

    let thin = api.create_volume(&sp1, "thin", 8).await;
    let thick = api.create_thick_volume(&sp1, "thick", 16).await;
    let snap = api.snapshot(&thick, "thick.snap").await;
    let s = api.pool_stats(&sp1).await;
    assert_eq!(n(&s, "netUnusedCapacityInKb") + n(&s, "netCapacityInUseInKb"), total, "net total is constant");
    assert_eq!(n(&s, "thickCapacityInUseInKb"), 2 * 16 * GIB_KB, "thick counts its full size, both copies");
    assert_eq!(n(&s, "thinCapacityAllocatedInKb"), 2 * 8 * GIB_KB, "thin is allocated, both copies");
    assert_eq!(n(&s, "netCapacityInUseInKb"), 16 * GIB_KB, "only thick reserves net capacity without data");
    assert_eq!(n(&s, "capacityInUseInKb"), 2 * n(&s, "netCapacityInUseInKb"));
    assert_eq!(
        n(&s, "capacityAvailableForVolumeAllocationInKb"),
        n(&s, "netUnusedCapacityInKb") / (8 * GIB_KB) * (8 * GIB_KB)
    );
    assert_eq!(n(&s, "volumeAddressSpaceInKb"), 24 * GIB_KB);
    assert_eq!((n(&s, "numOfVolumes"), n(&s, "numOfSnapshots"), n(&s, "numOfVtrees")), (3, 1, 2));
    assert_eq!((n(&s, "numOfThinBaseVolumes"), n(&s, "numOfThickBaseVolumes")), (1, 1));
    assert_eq!(n(&s, "numOfUnmappedVolumes"), 3);
    let mut listed: Vec<String> =
        s["volumeIds"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    listed.sort();
    let mut expected = vec![thin.clone(), thick.clone(), snap.clone()];
    expected.sort();
    assert_eq!(listed, expected);

    // Growing the thick volume reserves more; mapping counts.
    ok(api.volume_action(&thick, "setVolumeSize", json!({ "sizeInGB": "24" })).await);
    let host = api.create_nvme_host("h", NQN1).await;
    api.map_host(&thin, &host).await;
    let s = api.pool_stats(&sp1).await;
    assert_eq!(n(&s, "thickCapacityInUseInKb"), 2 * 24 * GIB_KB);
    assert_eq!(n(&s, "netUnusedCapacityInKb") + n(&s, "netCapacityInUseInKb"), total);
    assert_eq!(n(&s, "numOfUnmappedVolumes"), 2);

    // Removing everything gives the empty pool back.
    ok(api.volume_action(&thin, "removeMappedHost", json!({ "hostId": host })).await);
    for id in [&snap, &thick, &thin] {
        ok(api.volume_action(id, "removeVolume", json!({ "removeMode": "ONLY_ME" })).await);
    }
    assert_eq!(api.pool_stats(&sp1).await, empty);
}

// ---------------------------------------------------------------------------------------------
// Bad input (gateway-level errors)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn bad_input_gets_gateway_json_errors() {
    let (gw, api) = start().await;
    let sp1 = api.pool_id("sp1").await;
    let vol = api.create_volume(&sp1, "v", 8).await;
    let create = "/api/types/Volume/instances";

    // Malformed JSON, and JSON that is not an object.
    let reply = api.post_raw(create, Some(b"{\"name\": ".to_vec()), Some("application/json")).await;
    assert_error_prefix(&reply, 400, "Invalid JSON in request body");
    let reply = api
        .post_raw(
            &format!("/api/instances/Volume::{vol}/action/setVolumeName"),
            Some(b"not json".to_vec()),
            Some("application/json"),
        )
        .await;
    assert_error_prefix(&reply, 400, "Invalid JSON in request body");
    assert_error(&api.post(create, json!([1, 2])).await, 400, 0, "Request body must be a JSON object");

    // Wrong types.
    assert_error(
        &api.post(create, json!({ "storagePoolId": sp1, "volumeSizeInGb": [8] })).await,
        400,
        0,
        "Invalid value for volumeSizeInGb: expected a number",
    );
    assert_error(
        &api.post(create, json!({ "storagePoolId": sp1, "volumeSizeInGb": "8", "name": { "a": 1 } })).await,
        400,
        0,
        "Invalid value for name: expected a string",
    );
    assert_error(
        &api.post(create, json!({ "storagePoolId": sp1, "volumeSizeInGb": "8", "useRmcache": "maybe" })).await,
        400,
        0,
        "Invalid value for useRmcache: expected a boolean",
    );
    assert_error(
        &api.post("/api/instances/System/action/snapshotVolumes", json!({ "snapshotDefs": "x" })).await,
        400,
        0,
        "Invalid value for snapshotDefs: expected an array",
    );
    assert_error(
        &api.post("/api/instances/System/action/snapshotVolumes", json!({ "snapshotDefs": [7] })).await,
        400,
        0,
        "Expected a JSON object",
    );

    // Numbers out of range, as strings and as JSON numbers.
    assert_error(
        &api.post(create, json!({ "storagePoolId": sp1, "volumeSizeInKb": "99999999999999999999999" })).await,
        400,
        0,
        "Invalid value for volumeSizeInKb: \"99999999999999999999999\" is not a non-negative integer in range",
    );
    let huge = api
        .post_raw(
            create,
            Some(format!("{{\"storagePoolId\":\"{sp1}\",\"volumeSizeInKb\":99999999999999999999999}}").into_bytes()),
            Some("application/json"),
        )
        .await;
    assert_error_prefix(&huge, 400, "Invalid value for volumeSizeInKb:");
    assert_error(
        &api.post(create, json!({ "storagePoolId": sp1, "volumeSizeInGb": "-8" })).await,
        400,
        0,
        "Invalid value for volumeSizeInGb: \"-8\" is not a non-negative integer in range",
    );
    assert_error_prefix(
        &api.post(create, json!({ "storagePoolId": sp1, "volumeSizeInGb": 8.5 })).await,
        400,
        "Invalid value for volumeSizeInGb:",
    );

    // Malformed ids, in the path and in the body.
    assert_error(
        &api.get("/api/instances/Volume::xyz").await,
        400,
        0,
        "Request failed: Volume id \"xyz\" must be a hexadecimal number",
    );
    assert_error(
        &api.post("/api/instances/Volume::xyz/action/removeVolume", json!({})).await,
        400,
        0,
        "Request failed: Volume id \"xyz\" must be a hexadecimal number",
    );
    assert_error(
        &api.post(create, json!({ "storagePoolId": "pool-one", "volumeSizeInGb": "8" })).await,
        400,
        0,
        "Request failed: StoragePool id \"pool-one\" must be a hexadecimal number",
    );

    // Unknown paths, types and actions.
    let not_found = json!({ "message": "Not found", "httpStatusCode": 404, "errorCode": 0 });
    for path in ["/api/nothing/here", "/api/types/Bogus/instances", "/nothing"] {
        let reply = api.get(path).await;
        assert_eq!((reply.0, reply.1.as_str()), (404, "application/json"), "{path}");
        assert_eq!(reply.2, not_found, "{path}");
    }
    // An unknown path is a 404 even without a token.
    let anonymous = read(api.http.get(format!("{}/api/nothing/here", gw.url)).send().await.unwrap()).await;
    assert_eq!((anonymous.0, anonymous.2), (404, not_found.clone()));
    assert_error(
        &api.volume_action(&vol, "frobnicate", json!({})).await,
        400,
        0,
        "Request failed: unknown action \"frobnicate\" for type Volume",
    );
    let wrong_method = api.get(&format!("/api/instances/Volume::{vol}/action/removeVolume")).await;
    assert_error(&wrong_method, 405, 0, "Method not allowed");

    // A body over 1 MiB.
    let padding = "x".repeat(1024 * 1024 + 16);
    let big = format!("{{\"storagePoolId\":\"{sp1}\",\"volumeSizeInGb\":\"8\",\"pad\":\"{padding}\"}}");
    let reply = api.post_raw(create, Some(big.into_bytes()), Some("application/json")).await;
    assert_error(&reply, 413, 0, "Request body exceeds 1048576 bytes");

    // Absent bodies on actions: defaults where the real gateway has them, else a missing parameter.
    let absent = |action: &'static str| {
        let (api, vol) = (api.clone(), vol.clone());
        async move { api.post_raw(&format!("/api/instances/Volume::{vol}/action/{action}"), None, None).await }
    };
    assert_error(&absent("setVolumeSize").await, 400, 0, "Missing required parameter: sizeInGB");
    assert_error(&absent("overwriteVolumeContent").await, 400, 0, "Missing required parameter: srcVolumeId");
    assert_error(&absent("removeMappedHost").await, 400, 0, "Missing required parameter: sdcId, hostId, guid or nqn");
    assert_error(
        &api.post_raw("/api/instances/System/action/snapshotVolumes", None, None).await,
        400,
        0,
        "Missing required parameter: snapshotDefs",
    );
    assert_error(&api.post_raw(create, None, None).await, 400, 0, "Missing required parameter: storagePoolId");
    // An empty body with a JSON content type is an absent body.
    assert_error(
        &api.post_raw(create, Some(Vec::new()), Some("application/json")).await,
        400,
        0,
        "Missing required parameter: storagePoolId",
    );
    // Media-type parameters (goscaleio's `;version=`) are ignored.
    let created = api
        .post_raw(
            create,
            Some(json!({ "storagePoolId": sp1, "volumeSizeInGb": "8", "name": "w" }).to_string().into_bytes()),
            Some("application/json;version=4.5"),
        )
        .await;
    assert!(is_id(ok(created)["id"].as_str().unwrap()));
    // The volume the refusals touched is unchanged.
    assert_eq!(api.volume(&vol).await["name"], "v");
    assert_eq!(api.volume(&vol).await["sizeInKb"], json!(8 * GIB_KB));
}

// ---------------------------------------------------------------------------------------------
// Persistence: a clean restart, and kill -9 of the real binary
// ---------------------------------------------------------------------------------------------

struct Running {
    url: String,
    ca: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    restored: bool,
}

async fn serve_in(dir: &Path) -> Running {
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        topology: Topology::default_embedded(),
        state_dir: Some(dir.join("state")),
        auth: AuthConfig::default(),
        seed: Some(7),
        tls: TlsSetting::SelfSigned(dir.join("tls")),
        data_plane: PlaneKind::None,
        fsync: false,
        broken: Default::default(),
        faults: Vec::new(),
    };
    let server = Server::bind(config).await.expect("server starts");
    let ca = std::fs::read_to_string(server.ca_cert.clone().unwrap()).unwrap();
    let (url, restored) = (server.url.clone(), server.restored);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(async {
                stopped.await.ok();
            })
            .await
            .expect("serves");
    });
    Running { url, ca, stop, task, restored }
}

/// Everything a client can see of the state that changes.
async fn observable(api: &Api) -> Value {
    let sp1 = api.pool_id("sp1").await;
    json!({
        "volumes": api.get_ok("/api/types/Volume/instances").await,
        "vtrees": api.get_ok("/api/types/VTree/instances").await,
        "hosts": api.get_ok("/api/types/Sdc/instances").await,
        "sp1": api.pool_stats(&sp1).await,
        "pd1": api.get_ok(&format!("/api/instances/ProtectionDomain::{}/relationships/Statistics", api.pd_id("pd1").await)).await,
        "sds": api.get_ok("/api/types/Sds/instances").await,
        "devices": api.get_ok("/api/types/Device/instances").await,
        "faultSets": api.get_ok("/api/types/FaultSet/instances").await,
        "users": api.get_ok("/api/types/User/instances").await,
        "system": api.get_ok("/api/types/System/instances").await,
    })
}

/// A mix of changes of every kind; answers the ids it made.
async fn make_changes(api: &Api, tag: &str) -> Vec<String> {
    let sp1 = api.pool_id("sp1").await;
    let a = api.create_volume(&sp1, &format!("{tag}a"), 8).await;
    let b = api.create_thick_volume(&sp1, &format!("{tag}b"), 16).await;
    let c = api.create_volume(&sp1, &format!("{tag}c"), 8).await;
    let snap = api.snapshot(&a, &format!("{tag}a.s")).await;
    let host = api.create_nvme_host(&format!("{tag}h"), &format!("nqn.2014-08.org.nvmexpress:uuid:{tag}")).await;
    api.map_host(&snap, &host).await;
    ok(api.volume_action(&snap, "setMappedSdcLimits", json!({ "sdcId": host, "iopsLimit": "100" })).await);
    ok(api.volume_action(&b, "setVolumeName", json!({ "newName": format!("{tag}b2") })).await);
    ok(api.volume_action(&a, "setVolumeSize", json!({ "sizeInGB": "24" })).await);
    ok(api.volume_action(&c, "removeVolume", json!({ "removeMode": "ONLY_ME" })).await);
    ok(api.volume_action(&a, "setVolumeAccessModeLimit", json!({ "accessModeLimit": "ReadOnly" })).await);
    // The inventory's changes are journaled too.
    let pd1 = api.pd_id("pd1").await;
    let ip = format!("127.0.9.{}", tag.as_bytes()[0]);
    let fs = api
        .post_ok("/api/types/FaultSet/instances", json!({ "protectionDomainId": pd1, "name": format!("{tag}fs") }))
        .await;
    let sds = api
        .post_ok(
            "/api/types/Sds/instances",
            json!({ "protectionDomainId": pd1, "name": format!("{tag}sds"), "faultSetId": fs["id"],
                    "sdsIpList": [{ "SdsIp": { "ip": ip, "role": "all" } }],
                    "deviceInfoList": [{ "devicePath": "/dev/sdz", "storagePoolId": sp1 }] }),
        )
        .await;
    ok(api
        .post(
            &format!("/api/instances/Sds::{}/action/setSdsName", sds["id"].as_str().unwrap()),
            json!({ "name": format!("{tag}sds2") }),
        )
        .await);
    api.post_ok(
        "/api/types/User/instances",
        json!({ "name": format!("{tag}user"), "userRole": "Monitor", "password": "Secret123!" }),
    )
    .await;
    api.post_ok(
        "/api/instances/System/action/addStandbyMdm",
        json!({ "ips": [format!("127.0.8.{}", tag.as_bytes()[0])], "role": "TieBreaker" }),
    )
    .await;
    vec![a, b, snap, host]
}

#[tokio::test]
async fn persistence_state_survives_a_clean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = serve_in(dir.path()).await;
    assert!(!first.restored);
    let api = Api::login(&first.url, &first.ca, "admin", "Password123!").await;
    let made = make_changes(&api, "p").await;
    let before = observable(&api).await;
    first.stop.send(()).unwrap();
    first.task.await.unwrap();

    let second = serve_in(dir.path()).await;
    assert!(second.restored);
    // Tokens do not survive a restart; the certificate does.
    assert_eq!(second.ca, first.ca);
    let stale =
        read(api.http.get(format!("{}/api/version", second.url)).bearer_auth(&api.token).send().await.unwrap()).await;
    assert_html_401(&stale);
    let api = Api::login(&second.url, &second.ca, "admin", "Password123!").await;
    assert_eq!(observable(&api).await, before);
    // New objects get new ids, not reused ones.
    let sp1 = api.pool_id("sp1").await;
    let fresh = api.create_volume(&sp1, "after-restart", 8).await;
    assert!(!made.contains(&fresh));
    assert!(!ids(&before["volumes"]).contains(&fresh));
    let fresh_host = api.create_nvme_host("after", NQN2).await;
    assert!(!made.contains(&fresh_host));
    second.stop.send(()).unwrap();
    second.task.await.unwrap();
}

fn spawn_binary(state: &Path) -> Process {
    common::spawn_binary(state, &["--seed", "11", "--data-plane", "none"])
}

#[tokio::test]
async fn crash_kill_9_keeps_every_acknowledged_change() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut first = spawn_binary(&state);
    let ca = std::fs::read_to_string(state.join("tls/ca.pem")).unwrap();
    let api = Api::login(&first.url, &ca, "admin", "Password123!").await;
    let mut made = make_changes(&api, "k").await;
    made.extend(make_changes(&api, "m").await);
    let sp1 = api.pool_id("sp1").await;
    for n in 0..20 {
        made.push(api.create_volume(&sp1, &format!("burst{n}"), 8).await);
    }
    // The last acknowledged change, then SIGKILL at once: no clean shutdown, no compaction.
    let last = api.create_volume(&sp1, "last-acknowledged", 8).await;
    let before = observable(&api).await;
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let mut second = spawn_binary(&state);
    let ca2 = std::fs::read_to_string(state.join("tls/ca.pem")).unwrap();
    assert_eq!(ca2, ca);
    let api = Api::login(&second.url, &ca2, "admin", "Password123!").await;
    assert_eq!(observable(&api).await, before);
    assert_eq!(
        api.post_ok("/api/types/Volume/instances/action/queryIdByKey", json!({ "name": "last-acknowledged" })).await,
        json!(last)
    );
    let volumes = ids(&before["volumes"]);
    let hosts = ids(&before["hosts"]);
    for id in &made {
        assert!(volumes.contains(id) || hosts.contains(id), "{id} survived");
    }
    // Killed again right after more changes: still all there.
    let again = api.create_volume(&sp1, "second-life", 8).await;
    ok(api.volume_action(&last, "removeVolume", json!({})).await);
    let before = observable(&api).await;
    second.child.kill().unwrap();
    second.child.wait().unwrap();
    let mut third = spawn_binary(&state);
    let api = Api::login(&third.url, &ca, "admin", "Password123!").await;
    assert_eq!(observable(&api).await, before);
    assert_eq!(api.volume(&again).await["name"], "second-life");
    assert_fault(&api.get(&format!("/api/instances/Volume::{last}")).await, 79, "Could not find the volume");
    third.child.kill().unwrap();
    third.child.wait().unwrap();
}
