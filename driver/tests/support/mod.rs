//! Shared helpers for the driver's integration tests: an in-process simulator
//! over HTTPS (verification on, its CA trusted), configurations, leak checks,
//! and `ScratchConnector`.
//!
//! `ScratchConnector` stands in for the host data path where NVMe/TCP is not
//! available: every volume ID gets its own scratch file. It exercises the
//! driver's orchestration (mapping, connect, open, wait, disconnect, revert)
//! and the block copy through the `BlockDevice` trait, but it does not see
//! the gateway's own data operations (snapshot content, restore). Those are
//! checked through real connectors by the shared body in [`data`]
//! (`tests/data.rs`: `sim` and `loop`; `tests/nvme.rs`: `nvme`).

#![allow(dead_code)]

pub mod alletra;
pub mod data;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use powerflex_driver::connector::{
    BlockDevice, Connector, ConnectorError, ConnectorKind, FileDevice, Target, VolumeRef,
};
use powerflex_driver::host::HostIdentity;
use powerflex_driver::host::HostProbe;
use powerflex_driver::keys::parse_key_values;
use powerflex_driver::powerflex::client::Client;
use powerflex_driver::powerflex::config::PoolConfig;
use powerflex_driver::powerflex::discovery;
use powerflex_driver::{ClientOptions, Driver};
use powerflex_sim::testing::TestGateway;
use uuid::Uuid;

pub async fn gateway() -> TestGateway {
    TestGateway::start().await
}

/// A simulator on the `file` data plane (bytes in sparse files, no root).
pub async fn file_gateway() -> TestGateway {
    TestGateway::start_with(powerflex_sim::testing::Options {
        data_plane: powerflex_sim::dataplane::PlaneKind::File,
        ..Default::default()
    })
    .await
}

/// Pool keys for `sp1` in `pd1`, mode nvme, plus `extra` (which may override them).
pub fn config(gw: &TestGateway, extra: &[&str]) -> PoolConfig {
    let mut keys = parse_key_values([
        format!("powerflex.gateway={}", gw.url),
        format!("powerflex.user.name={}", gw.user),
        format!("powerflex.user.password={}", gw.password),
        "powerflex.pool=sp1".to_string(),
        "powerflex.domain=pd1".to_string(),
        "powerflex.mode=nvme".to_string(),
    ])
    .unwrap();
    keys.extend(parse_key_values(extra).unwrap());
    PoolConfig::from_map(&keys).unwrap()
}

/// Client options that trust the simulator's CA, verification on.
pub fn options(gw: &TestGateway) -> ClientOptions {
    let mut o = ClientOptions::new(&gw.url, &gw.user, &gw.password);
    o.ca_pem = Some(gw.ca_cert_pem.clone().into_bytes());
    assert!(o.verify_tls);
    o
}

pub fn client(gw: &TestGateway) -> Client {
    Client::new(options(gw)).unwrap()
}

pub async fn driver_with(gw: &TestGateway, extra: &[&str], connector: Arc<dyn Connector>) -> Driver {
    let cfg = config(gw, extra);
    let client = client(gw);
    let d = discovery::discover(&client, &cfg, &HostProbe::default()).await.unwrap();
    Driver::from_parts(client, cfg, d, HostIdentity::new(Uuid::new_v4()), connector)
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(2))
}

pub async fn driver(gw: &TestGateway, extra: &[&str]) -> (Driver, Arc<ScratchConnector>) {
    let scratch = Arc::new(ScratchConnector::new());
    let d = driver_with(gw, extra, scratch.clone()).await;
    (d, scratch)
}

/// Names of all volumes in the driver's pool.
pub async fn volume_names(d: &Driver) -> BTreeSet<String> {
    d.list_volumes().await.unwrap().into_iter().map(|v| v.name).collect()
}

/// Asserts nothing of this host is left on the gateway: no host entity, no mapping.
pub async fn assert_no_host_leftovers(d: &Driver) {
    let nqn = d.identity().nqn();
    let hosts = d.client().hosts().await.unwrap();
    assert!(!hosts.iter().any(|h| h.nqn.as_deref() == Some(nqn.as_str())), "host entity left behind: {hosts:?}");
    for v in d.list_volumes().await.unwrap() {
        assert!(v.mapped_hosts.is_empty(), "mapping left behind on {}: {:?}", v.name, v.mapped_hosts);
    }
}

/// Scratch files per volume ID; see the module comment.
pub struct ScratchConnector {
    dir: tempfile::TempDir,
    pub log: Mutex<Vec<String>>,
    connected: AtomicBool,
    opens: AtomicUsize,
    /// Fail the open after this many successful opens.
    pub fail_open_after: Mutex<Option<usize>>,
    /// Fail every connect.
    pub fail_connect: AtomicBool,
}

impl ScratchConnector {
    pub fn new() -> ScratchConnector {
        ScratchConnector {
            dir: tempfile::tempdir().unwrap(),
            log: Mutex::new(Vec::new()),
            connected: AtomicBool::new(false),
            opens: AtomicUsize::new(0),
            fail_open_after: Mutex::new(None),
            fail_connect: AtomicBool::new(false),
        }
    }

    pub fn path(&self, volume_id: &str) -> PathBuf {
        self.dir.path().join(volume_id)
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    pub fn events(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn note(&self, s: String) {
        self.log.lock().unwrap().push(s);
    }
}

#[async_trait]
impl Connector for ScratchConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Other("scratch")
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        Ok(())
    }

    async fn connect(&self, target: &Target) -> Result<bool, ConnectorError> {
        assert!(!target.addresses.is_empty());
        if self.fail_connect.load(Ordering::SeqCst) {
            self.note("connect failed".into());
            return Err(ConnectorError::Other("injected connect failure".into()));
        }
        let new = !self.connected.swap(true, Ordering::SeqCst);
        self.note(format!("connect new={new}"));
        Ok(new)
    }

    async fn open(
        &self,
        _t: &Target,
        volume: &VolumeRef,
        _timeout: Duration,
    ) -> Result<Box<dyn BlockDevice>, ConnectorError> {
        let n = self.opens.fetch_add(1, Ordering::SeqCst);
        if let Some(limit) = *self.fail_open_after.lock().unwrap() {
            if n >= limit {
                self.note(format!("open {} failed", volume.id));
                return Err(ConnectorError::DeviceTimeout { volume_id: volume.id.clone(), waited: Duration::ZERO });
            }
        }
        self.note(format!("open {}", volume.id));
        let path = self.path(&volume.id);
        let dev = if path.exists() {
            let d = FileDevice::open(&path).unwrap();
            if d.size().unwrap() < volume.size {
                std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(volume.size).unwrap();
            }
            d
        } else {
            FileDevice::create(&path, volume.size).unwrap()
        };
        Ok(Box::new(dev))
    }

    async fn device_path(&self, _t: &Target, volume: &VolumeRef) -> Result<Option<PathBuf>, ConnectorError> {
        let p = self.path(&volume.id);
        Ok(p.exists().then_some(p))
    }

    async fn wait_gone(&self, _t: &Target, volume: &VolumeRef, _timeout: Duration) -> Result<(), ConnectorError> {
        self.note(format!("gone {}", volume.id));
        Ok(())
    }

    async fn disconnect(&self, _t: &Target) -> Result<(), ConnectorError> {
        self.note("disconnect".into());
        self.connected.store(false, Ordering::SeqCst);
        Ok(())
    }
}

/// A recognisable pattern.
pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed) | 0x80).collect()
}
