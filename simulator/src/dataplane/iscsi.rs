//! iSCSI ports over another plane: the inner plane (`nvmet` or `file`) keeps the bytes and
//! serves NVMe/TCP; this one adds the kernel iSCSI target (LIO, `lio.rs`) for the array's
//! iSCSI ports, exporting the inner plane's backing files.
//!
//! - Every iSCSI port is a target with one portal, set up at start (the ports are static).
//! - A volume gets a fileio backstore (named by its `Key`) with its first iSCSI export and
//!   loses it with its last; each export maps it at the vLUN's LUN for each of the host's
//!   initiators on each of the path's targets. The initiator's ACL stays after its last LUN
//!   goes (a logged-in host keeps its session and sees no LUNs, as nvmet keeps a host's
//!   controller) and goes with the host.
//! - A fileio backstore holds its file open, so after an overwrite (which renames a new file
//!   over the old one) the backstore is made again over the new file and its LUNs mapped
//!   again; a resize writes the backstore's size.
//! - Ownership: the HBA `core/fileio_<hba>` and the port targets (named by the array's port
//!   IQNs) are this simulator's; a start removes what a crashed run left there, a clean stop
//!   removes all of it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::lio::{Backstore, Lio};
use super::{DataPlane, Export, IscsiPath, IscsiPorts, Key, Listener, PlaneError, PlaneKind, Saved, VolumeSpec};

/// The inner plane with the array's iSCSI ports served by LIO.
pub struct IscsiPlane {
    inner: Arc<dyn DataPlane>,
    lio: Lio,
    targets: Vec<String>,
    /// What each (host, volume) export mapped, to withdraw or map again.
    exports: Mutex<BTreeMap<(Key, Key), Mapped>>,
    /// The initiators each host has had LUNs mapped for, whose ACLs go with the host.
    acls: Mutex<BTreeMap<Key, BTreeSet<String>>>,
}

#[derive(Debug, Clone)]
struct Mapped {
    path: IscsiPath,
    read_only: bool,
}

impl IscsiPlane {
    /// Takes the LIO tree at `root` for `ports`, removing what a crashed run left, opens the
    /// portals and exports every iSCSI export in `saved`. On failure, removes what it made.
    pub fn open(
        inner: Arc<dyn DataPlane>,
        root: PathBuf,
        ports: &IscsiPorts,
        saved: &Saved,
    ) -> Result<IscsiPlane, PlaneError> {
        let targets: Vec<String> = ports.portals.iter().map(|p| p.iqn.clone()).collect();
        // What a crashed run left goes first, the HBA with it; opening again makes it afresh.
        Lio::open(root.clone(), ports.hba)?.teardown(targets.iter().map(String::as_str));
        let lio = Lio::open(root, ports.hba)?;
        let plane =
            IscsiPlane { inner, lio, targets, exports: Mutex::new(BTreeMap::new()), acls: Mutex::new(BTreeMap::new()) };
        let set_up = (|| {
            for portal in &ports.portals {
                plane.lio.add_portal(portal)?;
            }
            for export in &saved.exports {
                plane.map(export)?;
            }
            Ok(())
        })();
        if let Err(e) = set_up {
            plane.withdraw_all();
            return Err(e);
        }
        Ok(plane)
    }

    fn withdraw_all(&self) {
        self.lio.teardown(self.targets.iter().map(String::as_str));
        self.exports.lock().expect("lock").clear();
        self.acls.lock().expect("lock").clear();
    }

    fn backstore_name(volume: Key) -> String {
        volume.to_string()
    }

    /// The volume's backstore over its backing file (made if needed) at its current size.
    fn backstore(&self, volume: Key, wwn: &str) -> Result<Backstore, PlaneError> {
        let missing = |what: String| PlaneError::new("lio", what, std::io::Error::from(std::io::ErrorKind::NotFound));
        let file = self
            .inner
            .backing_path(volume)
            .ok_or_else(|| missing(format!("volume {volume} has no backing file for iSCSI")))?;
        let size_bytes = std::fs::metadata(&file)
            .map_err(|e| PlaneError::new("lio", format!("reading {}", file.display()), e))?
            .len();
        Ok(Backstore { name: Self::backstore_name(volume), file, size_bytes, wwn: wwn.to_string() })
    }

    fn has_backstore(&self, volume: Key) -> bool {
        self.lio.backstores().contains(&Self::backstore_name(volume))
    }

    /// Maps an export's LUN for every initiator on every target, making the backstore first
    /// if this is the volume's first iSCSI export. A failure takes back what it did.
    fn map(&self, export: &Export) -> Result<(), PlaneError> {
        let Some(path) = &export.iscsi else { return Ok(()) };
        let volume = export.namespace.volume;
        let made_backstore = !self.has_backstore(volume);
        if made_backstore {
            self.lio.create_backstore(&self.backstore(volume, &path.wwn)?)?;
        }
        let mut done = Vec::new();
        let name = Self::backstore_name(volume);
        for target in &path.targets {
            for initiator in &path.initiators {
                if let Err(e) = self.lio.map_lun(target, initiator, path.lun, &name, export.namespace.read_only) {
                    for (t, i) in done {
                        self.lio.unmap_lun(t, i, path.lun);
                    }
                    if made_backstore {
                        self.lio.remove_backstore(&name);
                    }
                    return Err(e);
                }
                done.push((target.as_str(), initiator.as_str()));
            }
        }
        let mapped = Mapped { path: path.clone(), read_only: export.namespace.read_only };
        self.exports.lock().expect("lock").insert((export.host, volume), mapped);
        self.acls.lock().expect("lock").entry(export.host).or_default().extend(path.initiators.iter().cloned());
        Ok(())
    }

    /// Withdraws one export's LUNs; the backstore goes with the volume's last export.
    fn unmap(&self, host: Key, volume: Key) {
        let (mapped, last) = {
            let mut exports = self.exports.lock().expect("lock");
            let mapped = exports.remove(&(host, volume));
            (mapped, !exports.keys().any(|(_, v)| *v == volume))
        };
        let Some(mapped) = mapped else { return };
        for target in &mapped.path.targets {
            for initiator in &mapped.path.initiators {
                self.lio.unmap_lun(target, initiator, mapped.path.lun);
            }
        }
        if last {
            self.lio.remove_backstore(&Self::backstore_name(volume));
        }
    }

    /// The (host, mapping) pairs of a volume.
    fn mappings_of(&self, volume: Key) -> Vec<(Key, Mapped)> {
        let exports = self.exports.lock().expect("lock");
        exports.iter().filter(|((_, v), _)| *v == volume).map(|((h, _), m)| (*h, m.clone())).collect()
    }

    /// Makes a volume's backstore again over its (new) file and maps its LUNs again.
    fn reopen(&self, volume: Key) -> Result<(), PlaneError> {
        let mappings = self.mappings_of(volume);
        let Some((_, first)) = mappings.first() else { return Ok(()) };
        let name = Self::backstore_name(volume);
        self.lio.remove_backstore(&name);
        self.lio.create_backstore(&self.backstore(volume, &first.path.wwn)?)?;
        for (_, m) in &mappings {
            for target in &m.path.targets {
                for initiator in &m.path.initiators {
                    self.lio.map_lun(target, initiator, m.path.lun, &name, m.read_only)?;
                }
            }
        }
        Ok(())
    }
}

impl DataPlane for IscsiPlane {
    fn kind(&self) -> PlaneKind {
        self.inner.kind()
    }
    fn create(&self, volume: VolumeSpec) -> Result<(), PlaneError> {
        self.inner.create(volume)
    }
    fn snapshot(&self, source: Key, snapshot: VolumeSpec) -> Result<(), PlaneError> {
        self.inner.snapshot(source, snapshot)
    }
    fn creates_in_memory(&self, volume: &VolumeSpec, source: Option<Key>) -> bool {
        self.inner.creates_in_memory(volume, source)
    }
    fn resize(&self, volume: Key, size_bytes: u64) -> Result<(), PlaneError> {
        self.inner.resize(volume, size_bytes)?;
        if self.has_backstore(volume) {
            self.lio.resize_backstore(&Self::backstore_name(volume), size_bytes)?;
        }
        Ok(())
    }
    fn overwrite(&self, target: Key, source: Key) -> Result<(), PlaneError> {
        self.inner.overwrite(target, source)?;
        self.reopen(target)
    }
    fn remove(&self, volume: Key) -> Result<(), PlaneError> {
        let hosts: Vec<Key> = self.mappings_of(volume).into_iter().map(|(h, _)| h).collect();
        for host in hosts {
            self.unmap(host, volume);
        }
        self.inner.remove(volume)
    }
    fn export(&self, export: &Export) -> Result<(), PlaneError> {
        self.inner.export(export)?;
        if let Err(e) = self.map(export) {
            if let Err(undo) = self.inner.unexport(export.host, export.namespace.volume) {
                tracing::error!("undoing a failed export: {undo}");
            }
            return Err(e);
        }
        Ok(())
    }
    fn unexport(&self, host: Key, volume: Key) -> Result<(), PlaneError> {
        self.unmap(host, volume);
        self.inner.unexport(host, volume)
    }
    /// Removes the host's ACLs (LIO ends its sessions) with whatever LUNs they still have.
    fn remove_host(&self, host: Key) -> Result<(), PlaneError> {
        let volumes: Vec<Key> = {
            let exports = self.exports.lock().expect("lock");
            exports.keys().filter(|(h, _)| *h == host).map(|(_, v)| *v).collect()
        };
        for volume in volumes {
            self.unmap(host, volume);
        }
        let initiators = self.acls.lock().expect("lock").remove(&host).unwrap_or_default();
        for target in &self.targets {
            for initiator in &initiators {
                self.lio.remove_initiator(target, initiator);
            }
        }
        self.inner.remove_host(host)
    }
    fn holds_bytes(&self) -> bool {
        self.inner.holds_bytes()
    }
    fn allocated_bytes(&self, volume: Key) -> Option<u64> {
        self.inner.allocated_bytes(volume)
    }
    fn read_at(&self, volume: Key, offset: u64, len: usize) -> Result<Vec<u8>, PlaneError> {
        self.inner.read_at(volume, offset, len)
    }
    fn write_at(&self, volume: Key, offset: u64, data: &[u8]) -> Result<(), PlaneError> {
        self.inner.write_at(volume, offset, data)
    }
    fn data_segments(&self, volume: Key, offset: u64, len: u64) -> Result<Vec<(u64, u64)>, PlaneError> {
        self.inner.data_segments(volume, offset, len)
    }
    fn backing_path(&self, volume: Key) -> Option<PathBuf> {
        self.inner.backing_path(volume)
    }
    fn listen(&self, listener: &Listener) -> Result<(), PlaneError> {
        self.inner.listen(listener)
    }
    fn stop_listening(&self, listener: &Listener) -> Result<(), PlaneError> {
        self.inner.stop_listening(listener)
    }
    fn listening(&self) -> BTreeSet<Listener> {
        self.inner.listening()
    }
    /// The inner plane's NVMe/TCP listeners; iSCSI portals are not taken down.
    fn take_down(&self, listener: &Listener) -> Result<(), PlaneError> {
        self.inner.take_down(listener)
    }
    fn bring_up(&self, listener: &Listener) -> Result<(), PlaneError> {
        self.inner.bring_up(listener)
    }
    fn down(&self) -> BTreeSet<Listener> {
        self.inner.down()
    }
    /// Withdraws the port targets, backstores and HBA, then the inner plane's exports.
    fn shutdown(&self) {
        self.withdraw_all();
        self.inner.shutdown();
    }
}
