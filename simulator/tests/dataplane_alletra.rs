//! `alletra-sim`'s kernel data paths end to end: the NVMe ports through nvmet with `nvme-cli`,
//! the iSCSI ports through LIO with `iscsiadm`, in one server.
//!
//! Needs root, nvmet, nvmet-tcp, nvme-tcp, LIO, iscsi_tcp with a running iscsid, and
//! `alletra-sim` on PATH, so it runs where those exist: `scripts/test-nvmet-e2e.sh` runs it in
//! the throwaway VM with `PFLEX_ALLETRA_E2E=1`. Without that variable it says so and does
//! nothing; with it, anything missing is a failure.
//!
//! One volume is exported to an NVMe host (the VM's host NQN), another to an iSCSI host (the
//! VM's initiator name). Through each device: bytes written and compared with
//! `/sim/volumes/{name}/data?host=`, a virtual copy exported and read back, a promote that
//! restores the volume, an unexport that takes the path away, a refused delete of an exported
//! volume, and a clean stop that leaves nothing in configfs.

mod support;

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use support::nvme::{self, write_through, SimProcess};
use support::pattern;

const LISTEN: &str = "127.0.0.1:8445";
const NVME_PORT: &str = "127.0.0.4";
const ISCSI_PORT: &str = "127.0.0.6:3260";
const USER: &str = "3paradm";
const PASSWORD: &str = "3pardata";
const MIB: usize = 1 << 20;
const LIO: &str = "/sys/kernel/config/target";

struct Wsapi {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Wsapi {
    async fn login(url: &str) -> Wsapi {
        let http = reqwest::Client::new();
        let reply = http
            .post(format!("{url}/api/v1/credentials"))
            .json(&json!({"user": USER, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201);
        let key = reply.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_string();
        Wsapi { http, url: url.to_string(), key }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.url))
            .header("X-HP3PAR-WSAPI-SessionKey", &self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A call that must succeed (`Value::Null`: no body).
    async fn ok(&self, method: Method, path: &str, body: Value) -> Value {
        let body = (!body.is_null()).then_some(body);
        let (status, reply) = self.call(method.clone(), path, body).await;
        assert!((200..300).contains(&status), "{method} {path}: {status} {reply}");
        reply
    }

    async fn wait_task(&self, id: u64) {
        for _ in 0..600 {
            let (_, task) = self.call(Method::GET, &format!("/tasks/{id}"), None).await;
            if task["status"] != 2 {
                assert_eq!(task["status"], 1, "task {id} did not finish well: {task}");
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("task {id} never finished");
    }

    /// The volume's bytes as `host` sees them, from the admin surface.
    async fn data(&self, volume: &str, host: &str, offset: u64, len: usize) -> Vec<u8> {
        let url = format!("{}/sim/volumes/{volume}/data?host={host}&offset={offset}&length={len}", self.url);
        let response = self.http.get(url).basic_auth(USER, Some(PASSWORD)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap().to_vec()
    }

    async fn volume(&self, name: &str) -> Value {
        self.call(Method::GET, &format!("/volumes/{name}"), None).await.1
    }

    async fn create_volume(&self, name: &str) {
        self.ok(Method::POST, "/volumes", json!({"name": name, "cpg": "SSD_r6", "sizeMiB": 256, "tpvv": true})).await;
    }

    /// Exports `volume` to `host`; answers the LUN.
    async fn export(&self, volume: &str, host: &str) -> u64 {
        self.ok(Method::POST, "/vluns", json!({"volumeName": volume, "hostname": host, "lun": 0, "autoLun": true}))
            .await;
        let (_, vluns) = self.call(Method::GET, &format!("/vluns?query=%22volumeName%3D%3D{volume}%22"), None).await;
        vluns["members"][0]["lun"].as_u64().unwrap()
    }

    async fn snapshot(&self, volume: &str, name: &str) {
        let body = json!({"action": "createSnapshot", "parameters": {"name": name, "readOnly": false}});
        self.ok(Method::POST, &format!("/volumes/{volume}"), body).await;
    }

    /// Promotes a virtual copy onto its base and waits for the task.
    async fn promote(&self, snapshot: &str) {
        let task = self.ok(Method::PUT, &format!("/volumes/{snapshot}"), json!({"action": 4})).await;
        self.wait_task(task["taskid"].as_u64().unwrap()).await;
    }
}

fn read_through(dev: &Path, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_DIRECT).open(dev)?;
    let mut buf = nvme::Aligned::new(len);
    f.read_exact_at(buf.as_mut_slice(), offset)?;
    Ok(buf.as_slice().to_vec())
}

/// Reads until the bytes are `want` (a device re-opened after a promote may answer a unit
/// attention or the old pages for a moment).
fn read_until(dev: impl Fn() -> Option<PathBuf>, offset: u64, want: &[u8]) {
    nvme::wait_for("the device to show the expected bytes", Duration::from_secs(30), || {
        (read_through(&dev()?, offset, want.len()).ok()? == want).then_some(())
    });
}

/// The nvmet ports on the array's NVMe port addresses.
fn our_nvme_ports() -> Vec<String> {
    let addr =
        |p: &String| std::fs::read_to_string(format!("{}/ports/{p}/addr_traddr", nvme::CONFIGFS)).unwrap_or_default();
    nvme::entries("ports").into_iter().filter(|p| ["127.0.0.4", "127.0.0.5"].contains(&addr(p).trim())).collect()
}

/// The SCSI disk whose NAA designator is the volume's WWN, from sysfs (no udev in the VM).
fn disk_by_wwn(wwn: &str) -> Option<PathBuf> {
    let want = format!("naa.{}", wwn.to_ascii_lowercase());
    std::fs::read_dir("/sys/block").ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let wwid = std::fs::read_to_string(e.path().join("device/wwid")).ok()?;
        let dev = PathBuf::from("/dev").join(&name);
        (name.starts_with("sd") && wwid.trim() == want && dev.exists()).then_some(dev)
    })
}

fn initiator_name() -> String {
    let text = std::fs::read_to_string("/etc/iscsi/initiatorname.iscsi").expect("initiatorname.iscsi");
    text.lines().find_map(|l| l.strip_prefix("InitiatorName=")).expect("InitiatorName=").trim().to_string()
}

/// The LUNs `initiator` has on any of our targets, from LIO's configfs.
fn lio_luns(initiator: &str) -> Vec<String> {
    let mut luns = Vec::new();
    for target in entries(&format!("{LIO}/iscsi")) {
        let acl = format!("{LIO}/iscsi/{target}/tpgt_1/acls/{initiator}");
        luns.extend(entries(&acl).into_iter().filter(|n| n.starts_with("lun_")).map(|n| format!("{target}/{n}")));
    }
    luns
}

fn entries(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn alletra_nvme_and_iscsi_end_to_end() {
    if std::env::var_os("PFLEX_ALLETRA_E2E").is_none() {
        eprintln!("alletra_nvme_and_iscsi_end_to_end: not run here; scripts/test-nvmet-e2e.sh runs it in a VM");
        return;
    }
    assert!(
        Path::new(nvme::CONFIGFS).is_dir() && Path::new(LIO).is_dir(),
        "PFLEX_ALLETRA_E2E is set but configfs is missing"
    );
    let scratch = std::env::var("PFLEX_SCRATCH").unwrap_or_else(|_| "/tmp".into());
    let state = tempfile::tempdir_in(&scratch).unwrap();
    let core_before = entries(&format!("{LIO}/core"));
    let bin = std::env::var("ALLETRA_SIM_BIN").unwrap_or_else(|_| "alletra-sim".into());
    let args = ["--data-plane", "auto", "--seed", "7", "--no-fsync"];
    let sim = SimProcess::start_program(&bin, LISTEN, state.path(), &args);
    let plane = sim.plane_line();
    assert!(
        plane.contains("nvmet (auto") && plane.contains("iSCSI through LIO on 127.0.0.6:3260 127.0.0.7:3260"),
        "{plane}"
    );

    let api = Wsapi::login(&sim.url).await;
    let (hostnqn, hostid, iqn) = (nvme::host_nqn(), nvme::host_id(), initiator_name());
    api.ok(Method::POST, "/hosts", json!({"name": "hn", "NQN": hostnqn, "transportType": 2})).await;
    api.ok(Method::POST, "/hosts", json!({"name": "hi", "iSCSINames": [iqn]})).await;
    for v in ["vn", "vi"] {
        api.create_volume(v).await;
    }
    api.export("vn", "hn").await;
    let lun = api.export("vi", "hi").await;
    let (vn, vi) = (api.volume("vn").await, api.volume("vi").await);
    let nguid = vn["nguid"].as_str().unwrap().to_ascii_lowercase();
    let wwn = vi["wwn"].as_str().unwrap().to_string();

    // NVMe/TCP: discover the host's subsystem on an NVMe port, connect, find the namespace by EUI.
    let subsystems = nvme::discovered_subsystems(NVME_PORT, "4420", &hostnqn);
    assert_eq!(subsystems.len(), 1, "{subsystems:?}");
    assert!(nvme::connect(NVME_PORT, "4420", &subsystems[0], &hostnqn, &hostid));
    let ndev = || nvme::device_by_eui(&nguid);
    let nvme_dev = nvme::wait_for("the NVMe namespace", Duration::from_secs(30), ndev);
    assert_eq!(nvme::device_size(&nvme_dev), 256 * MIB as u64);

    // iSCSI: SendTargets on an iSCSI port, login, find the disk by the volume's WWN at its LUN.
    // Through open-iscsi's default interface only: interfaces other tests made for other
    // initiator names would log in (and be refused) too.
    let (ok, out, _) = nvme::run("iscsiadm", &["-m", "discovery", "-t", "st", "-p", ISCSI_PORT, "-I", "default"]);
    assert!(ok);
    let target =
        out.lines().find(|l| l.starts_with(ISCSI_PORT)).unwrap().split_whitespace().nth(1).unwrap().to_string();
    assert!(nvme::run("iscsiadm", &["-m", "node", "-T", &target, "-p", ISCSI_PORT, "-I", "default", "--login"]).0);
    let idev = || disk_by_wwn(&wwn);
    let iscsi_dev = nvme::wait_for("the iSCSI disk", Duration::from_secs(30), idev);
    let scsi_lun =
        std::fs::canonicalize(format!("/sys/block/{}/device", iscsi_dev.file_name().unwrap().to_string_lossy()))
            .unwrap();
    assert!(scsi_lun.to_string_lossy().ends_with(&format!(":{lun}")), "{scsi_lun:?} is not LUN {lun}");

    // Bytes both ways: through the device, then as the admin surface sees them for the host.
    for (dev, volume, host, seed) in [(&nvme_dev, "vn", "hn", 1u8), (&iscsi_dev, "vi", "hi", 2)] {
        write_through(dev, 3 * MIB as u64, &pattern(seed, MIB));
        assert_eq!(api.data(volume, host, 3 * MIB as u64, MIB).await, pattern(seed, MIB), "{volume}");
    }
    println!("bytes written through /dev/nvme and /dev/sd match /sim/volumes/*/data");

    // A virtual copy keeps the bytes: exported, it is a device of its own with the old bytes.
    let mut snaps = Vec::new();
    for (volume, host) in [("vn", "hn"), ("vi", "hi")] {
        let snap = format!("{volume}-s");
        api.snapshot(volume, &snap).await;
        let lun = api.export(&snap, host).await;
        snaps.push((snap.clone(), lun, api.volume(&snap).await));
    }
    let snap_nguid = snaps[0].2["nguid"].as_str().unwrap().to_ascii_lowercase();
    let snap_wwn = snaps[1].2["wwn"].as_str().unwrap().to_string();
    let snap_ndev =
        nvme::wait_for("the snapshot's namespace", Duration::from_secs(30), || nvme::device_by_eui(&snap_nguid));
    assert!(nvme::run("iscsiadm", &["-m", "session", "--rescan"]).0);
    let snap_idev = nvme::wait_for("the snapshot's disk", Duration::from_secs(30), || disk_by_wwn(&snap_wwn));
    for (dev, seed) in [(&snap_ndev, 1u8), (&snap_idev, 2)] {
        assert_eq!(read_through(dev, 3 * MIB as u64, MIB).unwrap(), pattern(seed, MIB), "{}", dev.display());
    }

    // Overwrite the volumes, then promote the copies: the live devices read the old bytes again.
    for (dev, volume, host) in [(&nvme_dev, "vn", "hn"), (&iscsi_dev, "vi", "hi")] {
        write_through(dev, 3 * MIB as u64, &pattern(9, MIB));
        assert_eq!(api.data(volume, host, 3 * MIB as u64, MIB).await, pattern(9, MIB));
    }
    for (snap, _, _) in &snaps {
        api.promote(snap).await;
    }
    read_until(ndev, 3 * MIB as u64, &pattern(1, MIB));
    read_until(idev, 3 * MIB as u64, &pattern(2, MIB));
    assert_eq!(api.data("vi", "hi", 3 * MIB as u64, MIB).await, pattern(2, MIB));
    println!("virtual copies read through their own devices; promote restored both volumes under live devices");

    // A volume that is exported cannot be deleted (409, code 34); unexported, it can.
    let (status, refusal) = api.call(Method::DELETE, "/volumes/vi-s", None).await;
    assert_eq!((status, &refusal["code"]), (409, &json!(34)), "{refusal}");

    // Unexport: the namespace goes from the NVMe host at once; the iSCSI LUN leaves LIO, and
    // once the host drops its disk a rescan does not bring it back.
    let (_, vluns) = api.call(Method::GET, "/vluns", None).await;
    for vlun in vluns["members"].as_array().unwrap() {
        let path = format!(
            "/vluns/{},{},{}",
            vlun["volumeName"].as_str().unwrap(),
            vlun["lun"],
            vlun["hostname"].as_str().unwrap()
        );
        api.ok(Method::DELETE, &path, Value::Null).await;
    }
    nvme::wait_for("the NVMe namespaces to go", Duration::from_secs(30), || {
        (nvme::device_by_eui(&nguid).is_none() && nvme::device_by_eui(&snap_nguid).is_none()).then_some(())
    });
    assert_eq!(lio_luns(&iqn), Vec::<String>::new(), "LUNs left in LIO after the unexports");
    for dev in [&iscsi_dev, &snap_idev] {
        let delete = format!("/sys/block/{}/device/delete", dev.file_name().unwrap().to_string_lossy());
        std::fs::write(delete, "1").unwrap();
    }
    assert!(nvme::run("iscsiadm", &["-m", "session", "--rescan"]).0);
    std::thread::sleep(Duration::from_secs(1));
    assert!(disk_by_wwn(&wwn).is_none() && disk_by_wwn(&snap_wwn).is_none(), "an unexported LUN came back");
    for v in ["vn-s", "vi-s", "vn", "vi"] {
        api.ok(Method::DELETE, &format!("/volumes/{v}"), Value::Null).await;
    }
    println!("unexported paths are gone; the volumes deleted once unexported");

    // A clean stop leaves nothing of ours in configfs.
    nvme::disconnect(&subsystems[0]);
    assert!(nvme::run("iscsiadm", &["-m", "node", "-T", &target, "-p", ISCSI_PORT, "-I", "default", "--logout"]).0);
    sim.stop();
    let system_nqn = "nqn.2020-07.com.hpe:";
    let left: Vec<String> = nvme::entries("subsystems").into_iter().filter(|s| s.starts_with(system_nqn)).collect();
    assert!(left.is_empty(), "nvmet subsystems left: {left:?}");
    assert_eq!(our_nvme_ports(), Vec::<String>::new(), "nvmet ports left on the NVMe port addresses");
    let targets: Vec<String> =
        entries(&format!("{LIO}/iscsi")).into_iter().filter(|t| t.contains("3pardata")).collect();
    assert!(targets.is_empty(), "LIO targets left: {targets:?}");
    assert_eq!(entries(&format!("{LIO}/core")), core_before, "LIO HBAs left");
    println!("ALLETRA-E2E-COMPLETE");
}
