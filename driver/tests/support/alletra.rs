//! Helpers for the Alletra driver tests against the in-process `alletra-sim`: the pool keys,
//! a driver for this host with a chosen connector, and bytes through attached devices.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use powerflex_driver::alletra::ops::{self, host_name};
use powerflex_driver::alletra::{self, Client};
use powerflex_driver::connector::{BlockDevice, Connector, SimConnector};
use powerflex_driver::host::HostIdentity;
use powerflex_driver::keys::parse_key_values;
use powerflex_driver::naming::{ContentType, VolumeType};
use powerflex_driver::{ClientOptions, Volume};
use powerflex_sim::alletra::testing::TestArray;
use uuid::Uuid;

use super::pattern;

pub const MIB: u64 = 1 << 20;
pub const USER: &str = "3paradm";
pub const PASSWORD: &str = "3pardata";

pub fn options(a: &TestArray) -> ClientOptions {
    let mut o = ClientOptions::new(&a.url, USER, PASSWORD);
    o.ca_pem = Some(a.ca_cert_pem.clone().into_bytes());
    o
}

pub fn keys(a: &TestArray, extra: &[&str]) -> BTreeMap<String, String> {
    let mut k = parse_key_values([
        format!("alletra.wsapi={}", a.url),
        format!("alletra.user.name={USER}"),
        format!("alletra.user.password={PASSWORD}"),
        "alletra.cpg=SSD_r6".to_string(),
    ])
    .unwrap();
    k.extend(parse_key_values(extra).unwrap());
    k
}

/// A driver for pool `pool` with this host as `identity`, reaching bytes through `connector`
/// (`None`: the emulator's data surface for this host's entity).
pub async fn driver(a: &TestArray, pool: &str, connector: Option<Arc<dyn Connector>>) -> alletra::Driver {
    driver_with(a, pool, &[], connector).await
}

pub async fn driver_with(
    a: &TestArray,
    pool: &str,
    extra: &[&str],
    connector: Option<Arc<dyn Connector>>,
) -> alletra::Driver {
    let cfg = alletra::PoolConfig::from_map(&keys(a, extra)).unwrap();
    let identity = HostIdentity::new(Uuid::new_v4());
    let connector = connector
        .unwrap_or_else(|| Arc::new(SimConnector::for_alletra(&options(a), &host_name(&identity, cfg.mode)).unwrap()));
    let client = Client::new(options(a)).unwrap();
    let d = ops::discover(&client, pool, &cfg, &identity).await.unwrap();
    alletra::Driver::from_parts(client, cfg, d, identity, connector)
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(2))
        .with_task_timing(Duration::from_millis(20), Duration::from_secs(30))
}

pub fn custom(content: ContentType) -> Volume {
    Volume::new(VolumeType::Custom, content, Uuid::new_v4())
}

pub fn vm() -> Volume {
    Volume::new(VolumeType::VirtualMachine, ContentType::Block, Uuid::new_v4())
}

pub async fn exists(d: &alletra::Driver, name: &str) -> bool {
    d.client().volume(name).await.unwrap().is_some()
}

pub async fn size_of(d: &alletra::Driver, vol: &Volume) -> u64 {
    d.volume_info(vol).await.unwrap().unwrap().size
}

pub async fn set_members(d: &alletra::Driver) -> Vec<String> {
    d.client().volume_set(&d.discovery().volume_set).await.unwrap().setmembers
}

/// Nothing of this host is left: no host entity, no vLUN to it.
pub async fn assert_no_host_leftovers(d: &alletra::Driver) {
    let hosts = d.client().hosts().await.unwrap();
    assert!(!hosts.iter().any(|h| h.name == d.host_name()), "host entity left behind: {hosts:?}");
    assert!(d.client().host_vluns(d.host_name()).await.unwrap().is_empty(), "vLUNs left behind");
}

/// Attaches, runs `f` on the device, detaches.
pub async fn with_device<T: Send + 'static>(
    d: &alletra::Driver,
    vol: &Volume,
    f: impl FnOnce(&dyn BlockDevice) -> T + Send + 'static,
) -> T {
    let att = d.attach_volume(vol).await.unwrap();
    let out = tokio::task::spawn_blocking(move || {
        let out = f(att.device.as_ref());
        att.device.flush().unwrap();
        out
    })
    .await
    .unwrap();
    d.detach_volume(vol).await.unwrap();
    out
}

pub async fn write(d: &alletra::Driver, vol: &Volume, seed: u8) {
    with_device(d, vol, move |dev| dev.write_at(&pattern(seed, MIB as usize), 0).unwrap()).await;
}

pub async fn read(d: &alletra::Driver, vol: &Volume) -> Vec<u8> {
    with_device(d, vol, |dev| {
        let mut buf = vec![0u8; MIB as usize];
        dev.read_at(&mut buf, 0).unwrap();
        buf
    })
    .await
}

/// A WSAPI session of the test's own, for what an administrator does beside the driver.
pub struct Wsapi {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Wsapi {
    pub async fn login(a: &TestArray) -> Wsapi {
        let http = powerflex_driver::http::http_client(&options(a)).unwrap();
        let base = format!("{}/api/v1", a.url);
        let body = serde_json::json!({"user": USER, "password": PASSWORD});
        let reply: serde_json::Value =
            http.post(format!("{base}/credentials")).json(&body).send().await.unwrap().json().await.unwrap();
        Wsapi { http, base, key: reply["key"].as_str().unwrap().to_string() }
    }

    pub async fn get(&self, path: &str) -> serde_json::Value {
        let r = self.http.get(format!("{}{path}", self.base)).header("X-HP3PAR-WSAPI-SessionKey", &self.key);
        r.send().await.unwrap().json().await.unwrap()
    }

    pub async fn put(&self, path: &str, body: serde_json::Value) -> (u16, String) {
        let r = self.http.put(format!("{}{path}", self.base)).header("X-HP3PAR-WSAPI-SessionKey", &self.key);
        let response = r.json(&body).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// The id of the first task to be ACTIVE (status 2), waiting up to ten seconds for one.
    pub async fn first_active_task(&self) -> u64 {
        for _ in 0..500 {
            let tasks = self.get("/tasks").await;
            let active = tasks["members"].as_array().into_iter().flatten().find(|t| t["status"] == 2);
            if let Some(t) = active {
                return t["id"].as_u64().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no task became active");
    }
}
