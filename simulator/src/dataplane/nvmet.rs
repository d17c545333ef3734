//! The `nvmet` plane: the `file` plane's sparse files, exported by the Linux kernel target
//! (nvmet, nvmet-tcp) through configfs, so real hosts `nvme discover` and `nvme connect`.
//!
//! # Layout in `/sys/kernel/config/nvmet`
//! - One subsystem per NVMe host that has at least one volume mapped:
//!   `<System.systemNqn>:host:<hostId>`, for example
//!   `nqn.1988-11.com.dell:powerflex:00:1250de83018c2d0f:host:5b1e0a7c00000001`.
//!   Its `allowed_hosts` holds exactly that host's NQN, so discovery lists it to that host
//!   only, and it holds one namespace per mapped volume. nvmet cannot hide a namespace from a
//!   host that may connect to its subsystem, so per-host subsystems are how the array's
//!   per-host visibility is reproduced. The NQN starts with `System.systemNqn`, so a client
//!   that matches sessions by the system NQN (or by the system id inside it) finds it.
//!   The subsystem is created with the host's first mapping and removed when the host is
//!   removed. Unmapping removes only the namespace: the controller stays, so a connected
//!   host gets a namespace-change event and drops the block device at once, as with a real
//!   array (removing the subsystem instead would unlink it from the ports, which makes
//!   nvmet delete the controllers, and the host would keep the device while it tries to
//!   reconnect). When a host's last namespace goes, its NQN is unlinked from
//!   `allowed_hosts` (nvmet leaves existing controllers alone on that, but discovery and new
//!   connects check it): a host without mappings discovers nothing and cannot connect.
//!   The next mapping links it again. A restart re-creates subsystems for mapped hosts only.
//! - Namespace id = the volume's `nsid`; `device_path` = the volume's backing file (nvmet's
//!   file backend, `buffered_io=1`); `device_nguid` = `Model::nguid` (volume id + `64b94e` +
//!   the last ten hex digits of the system id); `device_uuid` zeroed before `enable`, so the
//!   host's `wwid` is `eui.<nguid>` and udev's link `/dev/disk/by-id/nvme-eui.<nguid>`.
//! - One TCP port per SDT address and port: `nvmePort` (4420) and `discoveryPort` (8009).
//!   nvmet serves the discovery subsystem on every port, and each discovery log lists the
//!   subsystems linked to the port it was read from, with that port's address; so host
//!   subsystems are linked to both, and a record read on 8009 names 8009. The anchor
//!   subsystem `<System.systemNqn>:ports` (no host allowed, never listed) stays linked to every
//!   port: a port listens only while a subsystem is linked, and discovery must answer (with
//!   an empty log) for a host that has no mappings.
//!
//! # Ownership and cleanup
//! Everything this plane makes is named by the `<System.systemNqn>:` prefix, or (ports and
//! host entries, whose names are not free) recorded in `<volumes>/.nvmet-owned` before it is
//! made. A clean stop removes all of it; a start removes what a crashed run left behind and
//! nothing else: subsystems with our prefix, ports linked to our subsystems or recorded as
//! ours, host entries recorded as ours that no subsystem still allows. One simulator per
//! system id per kernel.
//!
//! # Choices
//! nvmet's file backend rather than loop devices: it needs no loop device to leak or clean,
//! no bindgen build dependency, and works on tmpfs with `buffered_io=1` (O_DIRECT fails there
//! on 6.1); a measured comparison is in the closing note. A snapshot or admin read of
//! the backing file goes through the same page cache the target writes into.
//! Read-only mappings are exported writable: nvmet has no per-namespace read-only switch.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use super::{DataPlane, Export, FileStore, Key, Listener, Namespace, PlaneError, PlaneKind, Saved, VolumeSpec};

/// Where nvmet's configfs tree normally is.
pub const CONFIGFS: &str = "/sys/kernel/config/nvmet";
const ZERO_UUID: &str = "00000000-0000-0000-0000-000000000000";

/// Checks that this process can drive nvmet: root, configfs mounted, `nvmet` and `nvmet-tcp`
/// loaded (it tries `modprobe` and mounting configfs). The error says what is missing.
pub fn probe() -> Result<PathBuf, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not running as root".into());
    }
    let root = PathBuf::from(CONFIGFS);
    let mut notes = Vec::new();
    if !root.is_dir() || !Path::new("/sys/module/nvmet_tcp").exists() {
        match Command::new("modprobe").args(["-a", "nvmet", "nvmet-tcp"]).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => notes.push(format!("modprobe nvmet nvmet-tcp: {}", String::from_utf8_lossy(&out.stderr).trim())),
            Err(e) => notes.push(format!("modprobe: {e}")),
        }
    }
    if !root.is_dir() && Path::new("/sys/kernel/config").is_dir() {
        let _ = Command::new("mount").args(["-t", "configfs", "none", "/sys/kernel/config"]).output();
    }
    if !root.is_dir() {
        notes.push(format!("{CONFIGFS} does not exist (configfs or nvmet missing)"));
        return Err(notes.join("; "));
    }
    if !Path::new("/sys/module/nvmet_tcp").exists() {
        notes.push("the nvmet-tcp module is not loaded".into());
        return Err(notes.join("; "));
    }
    Ok(root)
}

/// One host's subsystem and the volumes it exports.
#[derive(Debug)]
struct HostExport {
    nqn: String,
    subsystem: String,
    namespaces: BTreeMap<Key, u32>,
}

#[derive(Debug, Default)]
struct Owned {
    ports: BTreeSet<u16>,
    hosts: BTreeSet<String>,
}

#[derive(Debug)]
pub struct NvmetPlane {
    store: FileStore,
    root: PathBuf,
    /// `<System.systemNqn>:`: every subsystem this plane makes starts with it.
    prefix: String,
    anchor: String,
    record: PathBuf,
    owned: Mutex<Owned>,
    exports: Mutex<BTreeMap<Key, HostExport>>,
    /// Listeners taken down (`DataPlane::take_down`): wanted, but without a port. Its lock
    /// also serialises every change to the ports and every export (which links a new
    /// subsystem to each port), so a path fault and a change (which run on different
    /// threads) see each other's result. Taken before `exports`.
    down: Mutex<BTreeSet<Listener>>,
}

fn io_err(what: impl Into<String>, source: io::Error) -> PlaneError {
    PlaneError::new("nvmet", what, source)
}

fn write_attr(dir: &Path, name: &str, value: &str) -> Result<(), PlaneError> {
    let path = dir.join(name);
    std::fs::write(&path, value).map_err(|e| io_err(format!("writing {value:?} to {}", path.display()), e))
}

fn write_attr_if_present(dir: &Path, name: &str, value: &str) -> Result<(), PlaneError> {
    if dir.join(name).exists() {
        write_attr(dir, name, value)
    } else {
        Ok(())
    }
}

fn mkdir(path: &Path) -> Result<(), PlaneError> {
    std::fs::create_dir(path).map_err(|e| io_err(format!("creating {}", path.display()), e))
}

fn symlink(target: &Path, link: &Path) -> Result<(), PlaneError> {
    std::os::unix::fs::symlink(target, link)
        .map_err(|e| io_err(format!("linking {} -> {}", link.display(), target.display()), e))
}

fn names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

fn best_effort(result: io::Result<()>, what: impl FnOnce() -> String) {
    if let Err(e) = result {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!("nvmet cleanup: {}: {e}", what());
        }
    }
}

impl NvmetPlane {
    /// Removes what a crashed run left, sets up the ports and exports every mapping in
    /// `saved`. On failure, removes whatever it made.
    pub fn open(root: PathBuf, store: FileStore, saved: &Saved) -> Result<NvmetPlane, PlaneError> {
        let system_nqn = &saved.system_nqn;
        let plane = NvmetPlane {
            record: store.dir().join(".nvmet-owned"),
            store,
            root,
            prefix: format!("{system_nqn}:"),
            anchor: format!("{system_nqn}:ports"),
            owned: Mutex::new(Owned::default()),
            exports: Mutex::new(BTreeMap::new()),
            down: Mutex::new(BTreeSet::new()),
        };
        plane.load_record();
        plane.remove_ours();
        if let Err(e) = plane.set_up(saved) {
            plane.remove_ours();
            return Err(e);
        }
        Ok(plane)
    }

    /// The NQN of the subsystem a host's volumes are exported in.
    pub fn subsystem_nqn(system_nqn: &str, host: Key) -> String {
        format!("{system_nqn}:host:{host}")
    }

    pub fn store(&self) -> &FileStore {
        &self.store
    }

    /// The ports this plane listens on, as `(port id, address, port)`.
    pub fn ports(&self) -> Vec<(u16, String, String)> {
        let owned = self.owned.lock().expect("lock");
        owned
            .ports
            .iter()
            .map(|id| {
                let dir = self.root.join("ports").join(id.to_string());
                let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap_or_default().trim().to_string();
                (*id, read("addr_traddr"), read("addr_trsvcid"))
            })
            .collect()
    }

    fn set_up(&self, saved: &Saved) -> Result<(), PlaneError> {
        let anchor = self.root.join("subsystems").join(&self.anchor);
        mkdir(&anchor)?;
        write_attr(&anchor, "attr_allow_any_host", "0")?;
        for listener in &saved.listeners {
            self.make_port(listener)?;
        }
        for export in &saved.exports {
            self.export(export)?;
        }
        Ok(())
    }

    fn load_record(&self) {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        let mut owned = self.owned.lock().expect("lock");
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("port", id)) => {
                    if let Ok(id) = id.parse() {
                        owned.ports.insert(id);
                    }
                }
                Some(("host", nqn)) => {
                    owned.hosts.insert(nqn.to_string());
                }
                _ => {}
            }
        }
    }

    /// Writes the ownership record. Called *before* making a port or host entry, so a crash
    /// in between leaves a record of something that may not exist, never the reverse.
    fn save_record(&self, owned: &Owned) -> Result<(), PlaneError> {
        let mut text = String::new();
        for id in &owned.ports {
            text.push_str(&format!("port {id}\n"));
        }
        for nqn in &owned.hosts {
            text.push_str(&format!("host {nqn}\n"));
        }
        let tmp = self.record.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &self.record))
            .map_err(|e| io_err(format!("recording owned nvmet entries in {}", self.record.display()), e))
    }

    /// Makes a port for `endpoint`, linked to the anchor subsystem only; returns its id.
    fn make_port(&self, endpoint: &Listener) -> Result<u16, PlaneError> {
        let ports = self.root.join("ports");
        let mut taken = BTreeSet::new();
        for name in names(&ports) {
            let Ok(id) = name.parse::<u16>() else { continue };
            taken.insert(id);
            let dir = ports.join(&name);
            let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap_or_default().trim().to_string();
            if read("addr_trtype") == "tcp"
                && read("addr_traddr") == endpoint.traddr
                && read("addr_trsvcid") == endpoint.trsvcid.to_string()
            {
                return Err(io_err(
                    format!(
                        "nvmet port {id} (not this simulator's) is already configured for tcp {}:{}",
                        endpoint.traddr, endpoint.trsvcid
                    ),
                    io::Error::from(io::ErrorKind::AddrInUse),
                ));
            }
        }
        let id = (1..=u16::MAX)
            .find(|id| !taken.contains(id))
            .ok_or_else(|| io_err("choosing an nvmet port id", io::Error::other("all 65535 port ids are taken")))?;
        {
            let mut owned = self.owned.lock().expect("lock");
            owned.ports.insert(id);
            self.save_record(&owned)?;
        }
        let dir = ports.join(id.to_string());
        let made = (|| {
            mkdir(&dir)?;
            let adrfam = if endpoint.traddr.contains(':') { "ipv6" } else { "ipv4" };
            write_attr(&dir, "addr_trtype", "tcp")?;
            write_attr(&dir, "addr_adrfam", adrfam)?;
            write_attr(&dir, "addr_traddr", &endpoint.traddr)?;
            write_attr(&dir, "addr_trsvcid", &endpoint.trsvcid.to_string())?;
            // The first link enables the port: this is where a busy address fails.
            symlink(&self.root.join("subsystems").join(&self.anchor), &dir.join("subsystems").join(&self.anchor))
                .map_err(|e| PlaneError {
                    what: format!("listening on tcp {}:{} ({})", endpoint.traddr, endpoint.trsvcid, e.what),
                    ..e
                })
        })();
        if made.is_err() {
            best_effort(std::fs::remove_dir(&dir), || format!("removing {}", dir.display()));
            self.forget_port(id);
        }
        made.map(|()| id)
    }

    fn forget_port(&self, id: u16) {
        let mut owned = self.owned.lock().expect("lock");
        owned.ports.remove(&id);
        if let Err(e) = self.save_record(&owned) {
            tracing::warn!("{e}");
        }
    }

    /// Unlinks every subsystem from one of our ports and removes it.
    fn remove_port(&self, id: u16) {
        let dir = self.root.join("ports").join(id.to_string());
        for name in names(&dir.join("subsystems")) {
            let link = dir.join("subsystems").join(name);
            best_effort(std::fs::remove_file(&link), || format!("removing {}", link.display()));
        }
        best_effort(std::fs::remove_dir(&dir), || format!("removing {}", dir.display()));
        self.forget_port(id);
    }

    fn port_of(&self, listener: &Listener) -> Option<u16> {
        let (traddr, trsvcid) = (listener.traddr.as_str(), listener.trsvcid.to_string());
        self.ports().into_iter().find(|(_, a, p)| a == traddr && *p == trsvcid).map(|(id, _, _)| id)
    }

    /// Removes every configfs entry this simulator owns (see the module docs).
    fn remove_ours(&self) {
        let subsystems = self.root.join("subsystems");
        let ports_dir = self.root.join("ports");
        let mut our_ports: BTreeSet<String> =
            self.owned.lock().expect("lock").ports.iter().map(|p| p.to_string()).collect();
        for port in names(&ports_dir) {
            if names(&ports_dir.join(&port).join("subsystems")).iter().any(|s| s.starts_with(&self.prefix)) {
                our_ports.insert(port);
            }
        }
        for name in names(&subsystems) {
            if name.starts_with(&self.prefix) {
                self.remove_subsystem(&name);
            }
        }
        for port in &our_ports {
            let dir = ports_dir.join(port);
            if dir.is_dir() && names(&dir.join("subsystems")).is_empty() && names(&dir.join("referrals")).is_empty() {
                best_effort(std::fs::remove_dir(&dir), || format!("removing {}", dir.display()));
            }
        }
        let hosts: Vec<String> = self.owned.lock().expect("lock").hosts.iter().cloned().collect();
        for nqn in hosts {
            self.remove_host_entry_if_unused(&nqn);
        }
        let mut owned = self.owned.lock().expect("lock");
        owned.ports.clear();
        owned.hosts.clear();
        if let Err(e) = self.save_record(&owned) {
            tracing::warn!("{e}");
        }
        self.exports.lock().expect("lock").clear();
    }

    fn remove_host_entry_if_unused(&self, nqn: &str) {
        let owned_by_us = self.owned.lock().expect("lock").hosts.contains(nqn);
        if !owned_by_us {
            return;
        }
        let subsystems = self.root.join("subsystems");
        let in_use = names(&subsystems).iter().any(|s| subsystems.join(s).join("allowed_hosts").join(nqn).exists());
        if in_use {
            return;
        }
        let dir = self.root.join("hosts").join(nqn);
        best_effort(std::fs::remove_dir(&dir), || format!("removing {}", dir.display()));
        let mut owned = self.owned.lock().expect("lock");
        owned.hosts.remove(nqn);
        if let Err(e) = self.save_record(&owned) {
            tracing::warn!("{e}");
        }
    }

    /// Unlinks a subsystem from every port, removes its namespaces and hosts, then itself.
    fn remove_subsystem(&self, name: &str) {
        let ports_dir = self.root.join("ports");
        for port in names(&ports_dir) {
            let link = ports_dir.join(&port).join("subsystems").join(name);
            if link.symlink_metadata().is_ok() {
                best_effort(std::fs::remove_file(&link), || format!("removing {}", link.display()));
            }
        }
        let dir = self.root.join("subsystems").join(name);
        for nsid in names(&dir.join("namespaces")) {
            self.remove_namespace_dir(&dir.join("namespaces").join(nsid));
        }
        for host in names(&dir.join("allowed_hosts")) {
            let link = dir.join("allowed_hosts").join(host);
            best_effort(std::fs::remove_file(&link), || format!("removing {}", link.display()));
        }
        best_effort(std::fs::remove_dir(&dir), || format!("removing {}", dir.display()));
    }

    fn remove_namespace_dir(&self, dir: &Path) {
        best_effort(std::fs::write(dir.join("enable"), "0"), || format!("disabling {}", dir.display()));
        best_effort(std::fs::remove_dir(dir), || format!("removing {}", dir.display()));
    }

    /// Makes a host's subsystem, allowing no host yet and not linked to any port.
    fn make_subsystem(&self, name: &str) -> Result<(), PlaneError> {
        let dir = self.root.join("subsystems").join(name);
        mkdir(&dir)?;
        let made = (|| {
            write_attr(&dir, "attr_allow_any_host", "0")?;
            // Identity attributes freeze at the first Identify: set them now.
            write_attr_if_present(&dir, "attr_model", "PowerFlex")
        })();
        if made.is_err() {
            self.remove_subsystem(name);
        }
        made
    }

    /// Lets `nqn` discover and connect to the subsystem, making (and recording) its host
    /// entry first if there is none. On failure, removes a host entry it made.
    fn allow_host(&self, subsystem: &str, nqn: &str) -> Result<(), PlaneError> {
        let host_dir = self.root.join("hosts").join(nqn);
        let made = (|| {
            if !host_dir.exists() {
                {
                    let mut owned = self.owned.lock().expect("lock");
                    owned.hosts.insert(nqn.to_string());
                    self.save_record(&owned)?;
                }
                mkdir(&host_dir)?;
            }
            symlink(&host_dir, &self.root.join("subsystems").join(subsystem).join("allowed_hosts").join(nqn))
        })();
        if made.is_err() {
            self.remove_host_entry_if_unused(nqn);
        }
        made
    }

    /// Stops `nqn` from discovering or newly connecting to the subsystem. Controllers it
    /// already has stay (nvmet's `allowed_hosts` unlink does not touch them), so it sees its
    /// namespaces go by the usual namespace-change event. The host entry stays until the
    /// host is removed.
    fn disallow_host(&self, subsystem: &str, nqn: &str) -> Result<(), PlaneError> {
        let link = self.root.join("subsystems").join(subsystem).join("allowed_hosts").join(nqn);
        match std::fs::remove_file(&link) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(format!("removing {}", link.display()), e)),
        }
        Ok(())
    }

    fn link_to_ports(&self, name: &str) -> Result<(), PlaneError> {
        let target = self.root.join("subsystems").join(name);
        let ports: Vec<u16> = self.owned.lock().expect("lock").ports.iter().copied().collect();
        for id in ports {
            symlink(&target, &self.root.join("ports").join(id.to_string()).join("subsystems").join(name))?;
        }
        Ok(())
    }

    fn make_namespace(&self, subsystem: &str, ns: &Namespace) -> Result<(), PlaneError> {
        let dir = self.root.join("subsystems").join(subsystem).join("namespaces").join(ns.nsid.to_string());
        mkdir(&dir)?;
        let made = (|| {
            let path = self.store.made_path(ns.volume)?;
            write_attr(&dir, "device_path", &path.to_string_lossy())?;
            write_attr(&dir, "device_nguid", &ns.nguid)?;
            write_attr_if_present(&dir, "device_uuid", ZERO_UUID)?;
            write_attr_if_present(&dir, "buffered_io", "1")?;
            write_attr(&dir, "enable", "1").map_err(|e| PlaneError {
                what: format!("enabling namespace {} for volume {} ({})", ns.nsid, ns.volume, e.what),
                ..e
            })
        })();
        if made.is_err() {
            self.remove_namespace_dir(&dir);
        }
        made
    }

    /// Every namespace a volume is exported as: `(subsystem, nsid)`.
    fn namespaces_of(&self, volume: Key) -> Vec<(String, u32)> {
        let exports = self.exports.lock().expect("lock");
        exports.values().filter_map(|h| h.namespaces.get(&volume).map(|nsid| (h.subsystem.clone(), *nsid))).collect()
    }

    fn ns_dir(&self, subsystem: &str, nsid: u32) -> PathBuf {
        self.root.join("subsystems").join(subsystem).join("namespaces").join(nsid.to_string())
    }

    fn remove_all(&self) {
        self.down.lock().expect("lock").clear();
        self.remove_ours();
    }

    /// A port for `listener`, linked to the anchor and to every host subsystem, so hosts
    /// with mappings discover (and reconnect to) their subsystem on it at once.
    fn open_port(&self, listener: &Listener) -> Result<(), PlaneError> {
        let id = self.make_port(listener)?;
        let subsystems: Vec<String> =
            self.exports.lock().expect("lock").values().map(|e| e.subsystem.clone()).collect();
        let port_subsystems = self.root.join("ports").join(id.to_string()).join("subsystems");
        for name in subsystems {
            if let Err(e) = symlink(&self.root.join("subsystems").join(&name), &port_subsystems.join(&name)) {
                self.remove_port(id);
                return Err(e);
            }
        }
        Ok(())
    }
}

impl DataPlane for NvmetPlane {
    fn kind(&self) -> PlaneKind {
        PlaneKind::Nvmet
    }
    fn create(&self, volume: VolumeSpec) -> Result<(), PlaneError> {
        self.store.create(volume)
    }
    fn snapshot(&self, source: Key, snapshot: VolumeSpec) -> Result<(), PlaneError> {
        self.store.snapshot(source, snapshot)
    }
    fn creates_in_memory(&self, volume: &VolumeSpec, source: Option<Key>) -> bool {
        self.store.creates_in_memory(volume, source)
    }
    /// Resizes the file, then has nvmet re-read the size (`revalidate_size`), which sends
    /// the hosts a namespace-changed event so the device grows.
    fn resize(&self, volume: Key, size_bytes: u64) -> Result<(), PlaneError> {
        self.store.resize(volume, size_bytes)?;
        for (subsystem, nsid) in self.namespaces_of(volume) {
            let dir = self.ns_dir(&subsystem, nsid);
            if dir.join("revalidate_size").exists() {
                write_attr(&dir, "revalidate_size", "1")?;
            } else {
                tracing::warn!(
                    "{}: no revalidate_size on this kernel; hosts see the new size on reconnect",
                    dir.display()
                );
            }
        }
        Ok(())
    }
    /// Replaces the file (rename), then re-enables each namespace so nvmet opens the new
    /// file: connected hosts see the namespace go and come back with the same NGUID.
    fn overwrite(&self, target: Key, source: Key) -> Result<(), PlaneError> {
        self.store.overwrite(target, source)?;
        for (subsystem, nsid) in self.namespaces_of(target) {
            let dir = self.ns_dir(&subsystem, nsid);
            write_attr(&dir, "enable", "0")?;
            write_attr(&dir, "enable", "1")?;
        }
        Ok(())
    }
    fn remove(&self, volume: Key) -> Result<(), PlaneError> {
        let hosts: Vec<Key> = {
            let exports = self.exports.lock().expect("lock");
            exports.iter().filter(|(_, h)| h.namespaces.contains_key(&volume)).map(|(id, _)| *id).collect()
        };
        for host in hosts {
            self.unexport(host, volume)?;
        }
        self.store.remove(volume)
    }
    /// Adds the volume's namespace to the host's subsystem, creating (and linking) the
    /// subsystem on the host's first mapping and allowing the host in it when this is its
    /// only namespace. A failure leaves nothing behind. A host without an NQN (an SDC, an
    /// iSCSI host) has nothing to connect with over NVMe: its mapping stays metadata here.
    fn export(&self, export: &Export) -> Result<(), PlaneError> {
        let (host, namespace) = (export.host, &export.namespace);
        let Some(nqn) = export.host_nqn.as_deref() else {
            tracing::debug!(%host, "host without an NQN: no NVMe export");
            return Ok(());
        };
        // The ports' lock first (as `listen` takes it before this one): a port taken down
        // while a new subsystem is linked to every port would fail the export.
        let _ports = self.down.lock().expect("lock");
        let mut exports = self.exports.lock().expect("lock");
        let existing = exports.get(&host).map(|h| (h.subsystem.clone(), h.namespaces.is_empty()));
        let new_subsystem = existing.is_none();
        let (subsystem, first_namespace) = existing.unwrap_or_else(|| (format!("{}host:{host}", self.prefix), true));
        if new_subsystem {
            self.make_subsystem(&subsystem)?;
        }
        // Namespace first, then the host, then the ports: a host that may connect finds
        // the namespace already there.
        let mut allowed = false;
        let result = self
            .make_namespace(&subsystem, namespace)
            .and_then(|()| {
                if first_namespace {
                    self.allow_host(&subsystem, nqn)?;
                    allowed = true;
                }
                Ok(())
            })
            .and_then(|()| if new_subsystem { self.link_to_ports(&subsystem) } else { Ok(()) });
        if let Err(e) = result {
            if new_subsystem {
                self.remove_subsystem(&subsystem);
                self.remove_host_entry_if_unused(nqn);
            } else {
                if allowed {
                    if let Err(e) = self.disallow_host(&subsystem, nqn) {
                        tracing::warn!("undoing a failed export: {e}");
                    }
                }
                self.remove_namespace_dir(&self.ns_dir(&subsystem, namespace.nsid));
            }
            return Err(e);
        }
        let entry = exports.entry(host).or_insert_with(|| HostExport {
            nqn: nqn.to_string(),
            subsystem,
            namespaces: BTreeMap::new(),
        });
        entry.namespaces.insert(namespace.volume, namespace.nsid);
        Ok(())
    }
    /// Removes the namespace; with the host's last one, the host may no longer discover or
    /// connect to its subsystem, which stays (and keeps the host's controllers) until the
    /// host is removed.
    fn unexport(&self, host: Key, volume: Key) -> Result<(), PlaneError> {
        let mut exports = self.exports.lock().expect("lock");
        let Some(export) = exports.get_mut(&host) else { return Ok(()) };
        let Some(&nsid) = export.namespaces.get(&volume) else { return Ok(()) };
        let dir = self.ns_dir(&export.subsystem, nsid);
        let _ = std::fs::write(dir.join("enable"), "0");
        std::fs::remove_dir(&dir).map_err(|e| io_err(format!("removing {}", dir.display()), e))?;
        export.namespaces.remove(&volume);
        if export.namespaces.is_empty() {
            self.disallow_host(&export.subsystem, &export.nqn)?;
        }
        Ok(())
    }
    fn remove_host(&self, host: Key) -> Result<(), PlaneError> {
        let export = self.exports.lock().expect("lock").remove(&host);
        if let Some(export) = export {
            self.remove_subsystem(&export.subsystem);
            self.remove_host_entry_if_unused(&export.nqn);
        }
        Ok(())
    }
    fn holds_bytes(&self) -> bool {
        true
    }
    fn allocated_bytes(&self, volume: Key) -> Option<u64> {
        self.store.allocated_bytes(volume)
    }
    fn read_at(&self, volume: Key, offset: u64, len: usize) -> Result<Vec<u8>, PlaneError> {
        self.store.read_at(volume, offset, len)
    }
    fn write_at(&self, volume: Key, offset: u64, data: &[u8]) -> Result<(), PlaneError> {
        self.store.write_at(volume, offset, data)
    }
    /// The file's map: nvmet's buffered file I/O writes through the same page cache.
    fn data_segments(&self, volume: Key, offset: u64, len: u64) -> Result<Vec<(u64, u64)>, PlaneError> {
        self.store.data_segments(volume, offset, len)
    }
    fn backing_path(&self, volume: Key) -> Option<PathBuf> {
        self.store.backing_path(volume)
    }
    /// A new port (`open_port`); nothing for a listener taken down, which stays down.
    fn listen(&self, listener: &Listener) -> Result<(), PlaneError> {
        let down = self.down.lock().expect("lock");
        if down.contains(listener) {
            return Ok(());
        }
        self.open_port(listener)
    }

    fn stop_listening(&self, listener: &Listener) -> Result<(), PlaneError> {
        let mut down = self.down.lock().expect("lock");
        if down.remove(listener) {
            return Ok(());
        }
        if let Some(id) = self.port_of(listener) {
            self.remove_port(id);
        }
        Ok(())
    }

    fn listening(&self) -> BTreeSet<Listener> {
        let down = self.down.lock().expect("lock");
        let open = self
            .ports()
            .into_iter()
            .filter_map(|(_, traddr, port)| Some(Listener { traddr, trsvcid: port.parse().ok()? }));
        open.chain(down.iter().cloned()).collect()
    }

    /// Unlinks every subsystem from the listener's port (nvmet deletes the controllers
    /// connected through it, so their hosts see the connection drop and start reconnecting)
    /// and removes the port, so the reconnects are refused until `bring_up`.
    fn take_down(&self, listener: &Listener) -> Result<(), PlaneError> {
        let mut down = self.down.lock().expect("lock");
        if down.contains(listener) {
            return Ok(());
        }
        let id = self.port_of(listener).ok_or_else(|| {
            io_err(format!("taking down {listener}"), io::Error::new(io::ErrorKind::NotFound, "not listening there"))
        })?;
        self.remove_port(id);
        down.insert(listener.clone());
        tracing::warn!("fault: {listener} taken down");
        Ok(())
    }

    /// Opens the port again with every subsystem linked, as `listen` does.
    fn bring_up(&self, listener: &Listener) -> Result<(), PlaneError> {
        let mut down = self.down.lock().expect("lock");
        if !down.contains(listener) {
            return Ok(());
        }
        self.open_port(listener)?;
        down.remove(listener);
        tracing::warn!("fault: {listener} brought up");
        Ok(())
    }

    fn down(&self) -> BTreeSet<Listener> {
        self.down.lock().expect("lock").clone()
    }

    /// Withdraws every subsystem, namespace, port and host entry this plane made.
    fn shutdown(&self) {
        self.remove_all();
        self.store.close();
    }
}
