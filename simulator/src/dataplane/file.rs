//! The `file` plane: one sparse file per volume, `<dir>/volumes/<id>.img`, and no kernel
//! target. Mapping is metadata only; the admin surface reads and writes volume bytes by offset.
//!
//! `FileStore` is also the backing store of the `nvmet` plane, which exports the same files.
//!
//! - A new volume is a hole of its nominal size (thin) or has every block reserved with
//!   `fallocate` (thick): both read zeros. A thin volume's file is made only when something
//!   first needs it (I/O, an export, the backing path, an overwrite): until then the volume
//!   is all zeros and its file is what the start-up rebuild would derive from the model, so
//!   a create (and a snapshot of such a volume) touches no file at all and adds nothing to
//!   the file system's journal that the state journal's `fdatasync` must also commit. The model is the authority on capacity, so where
//!   the filesystem under the files cannot reserve that much (a small tmpfs, as in the test
//!   VM) or cannot reserve at all, a thick volume stays sparse with a warning rather than
//!   failing a request the array would accept.
//! - A snapshot is a reflink where the filesystem has them, else a sparse copy of the written
//!   segments (`sparse::clone_or_copy`); its cost follows the data written.
//! - `overwrite` builds the new content in `<id>.img.tmp` and renames it over the target, so a
//!   failure or crash leaves either the old content or the new, never a mix.
//! - Where the files live: `<state-dir>/volumes`, or without `--state-dir` a private temporary
//!   directory that a clean stop removes.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use super::sparse;
use super::{DataPlane, Key, PlaneError, PlaneKind, VolumeSpec};

/// Reserves `[offset, offset + len)` of a thick volume's file; where the filesystem has no
/// room for the reservation or cannot make one, leaves it sparse and says so.
fn reserve(f: &File, path: &Path, offset: u64, len: u64) -> io::Result<()> {
    match sparse::allocate(f, offset, len) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EOPNOTSUPP)) => {
            tracing::warn!("{}: thick volume left sparse: reserving {len} bytes failed: {e}", path.display());
            Ok(())
        }
        other => other,
    }
}

/// The backing files of all volumes, and the rules for changing them.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    plane: &'static str,
    /// Thick volumes, whose growth is allocated too.
    thick: Mutex<HashSet<Key>>,
    /// Thin volumes whose file is not made yet, and their size in bytes.
    unmade: Mutex<HashMap<Key, u64>>,
    /// Byte I/O from the admin surface takes this shared; snapshot and overwrite take it
    /// exclusively, so an image is a point in time with respect to those writes.
    content: RwLock<()>,
    /// The temporary directory used without `--state-dir`, removed at a clean stop.
    temp: Mutex<Option<tempfile::TempDir>>,
}

impl FileStore {
    /// Opens (creating) `<base>/volumes`, or a temporary directory when `base` is `None`,
    /// and makes the files agree with the saved `volumes`: a missing thin file is left to be
    /// made when needed, a missing thick one is made (empty), stray ones (from a change that
    /// crashed before it was journaled) are removed.
    pub fn open(base: Option<&Path>, volumes: &[VolumeSpec], plane: &'static str) -> Result<FileStore, PlaneError> {
        let (dir, temp) = match base {
            Some(base) => (base.join("volumes"), None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("pflex-sim-volumes-")
                    .tempdir()
                    .map_err(|e| PlaneError::new(plane, "creating a temporary volume directory", e))?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        std::fs::create_dir_all(&dir).map_err(|e| PlaneError::new(plane, format!("creating {}", dir.display()), e))?;
        let store = FileStore {
            dir,
            plane,
            thick: Mutex::new(HashSet::new()),
            unmade: Mutex::new(HashMap::new()),
            content: RwLock::new(()),
            temp: Mutex::new(temp),
        };
        store.reconcile(volumes)?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a volume's bytes live.
    pub fn path(&self, volume: Key) -> PathBuf {
        self.dir.join(format!("{volume}.img"))
    }

    fn temp_path(&self, volume: Key) -> PathBuf {
        self.dir.join(format!("{volume}.img.tmp"))
    }

    fn err(&self, what: impl Into<String>, source: io::Error) -> PlaneError {
        PlaneError::new(self.plane, what, source)
    }

    fn reconcile(&self, volumes: &[VolumeSpec]) -> Result<(), PlaneError> {
        let mut wanted = HashSet::new();
        for v in volumes {
            wanted.insert(format!("{}.img", v.id));
            if v.thick {
                self.thick.lock().expect("lock").insert(v.id);
            }
            let path = self.path(v.id);
            let size = v.size_bytes;
            match std::fs::metadata(&path) {
                Ok(m) if m.len() == size => {}
                Ok(m) => {
                    tracing::warn!(volume = %v.id, file = m.len(), model = size, "backing file size disagrees with the saved state; using the saved size");
                    self.set_size(v.id, size, v.thick)?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && !v.thick => {
                    self.unmade.lock().expect("lock").insert(v.id, size);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    tracing::warn!(volume = %v.id, "backing file missing; the volume reads zeros from now on");
                    self.create_file(*v)?;
                }
                Err(e) => return Err(self.err(format!("reading {}", path.display()), e)),
            }
        }
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| self.err(format!("listing {}", self.dir.display()), e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name.ends_with(".img") || name.ends_with(".img.tmp");
            if ours && !wanted.contains(&name) {
                tracing::info!(file = %name, "removing a backing file no volume owns");
                if let Err(e) = std::fs::remove_file(entry.path()) {
                    tracing::warn!(file = %name, "cannot remove: {e}");
                }
            }
        }
        Ok(())
    }

    fn create_file(&self, spec: VolumeSpec) -> Result<(), PlaneError> {
        let path = self.path(spec.id);
        let made = (|| {
            let f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path)?;
            f.set_len(spec.size_bytes)?;
            if spec.thick {
                reserve(&f, &path, 0, spec.size_bytes)?;
            }
            Ok(())
        })();
        made.map_err(|e: io::Error| {
            let _ = std::fs::remove_file(&path);
            self.err(format!("creating {}", path.display()), e)
        })?;
        if spec.thick {
            self.thick.lock().expect("lock").insert(spec.id);
        }
        Ok(())
    }

    fn set_size(&self, volume: Key, size: u64, thick: bool) -> Result<(), PlaneError> {
        let path = self.path(volume);
        let grown = (|| {
            let f = OpenOptions::new().write(true).open(&path)?;
            let old = f.metadata()?.len();
            f.set_len(size)?;
            if thick && size > old {
                reserve(&f, &path, old, size - old)?;
            }
            Ok(())
        })();
        grown.map_err(|e: io::Error| self.err(format!("resizing {} to {size} bytes", path.display()), e))
    }

    /// A thick volume's file is made (and reserved) now; a thin one's when first needed.
    pub fn create(&self, spec: VolumeSpec) -> Result<(), PlaneError> {
        if spec.thick {
            return self.create_file(spec);
        }
        // A file an earlier volume of this id left behind is cut back to a hole when made.
        self.unmade.lock().expect("lock").insert(spec.id, spec.size_bytes);
        Ok(())
    }

    /// Whether `create` (or `snapshot` from `source`) would only note the volume as unmade.
    pub fn creates_in_memory(&self, volume: &VolumeSpec, source: Option<Key>) -> bool {
        !volume.thick && source.is_none_or(|source| self.unmade.lock().expect("lock").contains_key(&source))
    }

    /// Makes the file of a thin volume not made yet (a hole of its size); the volume's
    /// content (all zeros) does not change.
    fn make(&self, volume: Key) -> Result<(), PlaneError> {
        let mut unmade = self.unmade.lock().expect("lock");
        if let Some(&size_bytes) = unmade.get(&volume) {
            self.create_file(VolumeSpec { id: volume, size_bytes, thick: false })?;
            unmade.remove(&volume);
        }
        Ok(())
    }

    /// Where a volume's bytes live, the file made if it was not yet: for whoever opens it
    /// from outside (an nvmet namespace, a client given the backing path).
    pub fn made_path(&self, volume: Key) -> Result<PathBuf, PlaneError> {
        self.make(volume)?;
        Ok(self.path(volume))
    }

    /// `snapshot` becomes a point-in-time copy of `source`.
    pub fn snapshot(&self, source: Key, snapshot: VolumeSpec) -> Result<(), PlaneError> {
        let _exclusive = self.content.write().expect("lock");
        let (src, dst) = (self.path(source), self.path(snapshot.id));
        let _ = std::fs::remove_file(&dst);
        {
            // A copy of all zeros is all zeros: its file waits to be needed too.
            let mut unmade = self.unmade.lock().expect("lock");
            if unmade.contains_key(&source) {
                unmade.insert(snapshot.id, snapshot.size_bytes);
                return Ok(());
            }
        }
        let started = std::time::Instant::now();
        let method = sparse::clone_or_copy(&src, &dst)
            .map_err(|e| self.err(format!("snapshotting {} to {}", src.display(), dst.display()), e))?;
        tracing::debug!(?method, elapsed = ?started.elapsed(), %source, snapshot = %snapshot.id, "snapshot taken");
        let len = std::fs::metadata(&dst).map(|m| m.len()).unwrap_or(0);
        if len != snapshot.size_bytes {
            self.set_size(snapshot.id, snapshot.size_bytes, false).inspect_err(|_| {
                let _ = std::fs::remove_file(&dst);
            })?;
        }
        Ok(())
    }

    pub fn resize(&self, volume: Key, size_bytes: u64) -> Result<(), PlaneError> {
        if let Some(size) = self.unmade.lock().expect("lock").get_mut(&volume) {
            *size = size_bytes;
            return Ok(());
        }
        let thick = self.thick.lock().expect("lock").contains(&volume);
        self.set_size(volume, size_bytes, thick)
    }

    /// Replaces `target`'s content with `source`'s. The target keeps its own size when it is
    /// larger (the model grows it first when it is smaller).
    pub fn overwrite(&self, target: Key, source: Key) -> Result<(), PlaneError> {
        let _exclusive = self.content.write().expect("lock");
        self.make(source)?;
        self.make(target)?;
        let (src, dst, tmp) = (self.path(source), self.path(target), self.temp_path(target));
        let thick = self.thick.lock().expect("lock").contains(&target);
        let built = (|| {
            let target_len = std::fs::metadata(&dst)?.len();
            let _ = std::fs::remove_file(&tmp);
            sparse::clone_or_copy(&src, &tmp)?;
            let f = OpenOptions::new().write(true).open(&tmp)?;
            let len = f.metadata()?.len();
            if target_len > len {
                f.set_len(target_len)?;
            }
            if thick {
                reserve(&f, &tmp, 0, target_len.max(len))?;
            }
            f.sync_all()?;
            std::fs::rename(&tmp, &dst)
        })();
        built.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.err(format!("overwriting {} with {}", dst.display(), src.display()), e)
        })
    }

    pub fn remove(&self, volume: Key) -> Result<(), PlaneError> {
        self.thick.lock().expect("lock").remove(&volume);
        self.unmade.lock().expect("lock").remove(&volume);
        self.remove_file(volume)
    }

    fn remove_file(&self, volume: Key) -> Result<(), PlaneError> {
        let path = self.path(volume);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.err(format!("removing {}", path.display()), e)),
        }
    }

    fn open_checked(&self, volume: Key, offset: u64, len: u64, write: bool) -> Result<File, PlaneError> {
        let path = self.made_path(volume)?;
        let f = OpenOptions::new()
            .read(true)
            .write(write)
            .open(&path)
            .map_err(|e| self.err(format!("opening {}", path.display()), e))?;
        let size = f.metadata().map_err(|e| self.err(format!("reading {}", path.display()), e))?.len();
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(self.err(
                format!("{volume}: range {offset}+{len} is beyond the volume's {size} bytes"),
                io::Error::from(io::ErrorKind::InvalidInput),
            ));
        }
        Ok(f)
    }

    pub fn read_at(&self, volume: Key, offset: u64, len: usize) -> Result<Vec<u8>, PlaneError> {
        let _shared = self.content.read().expect("lock");
        let f = self.open_checked(volume, offset, len as u64, false)?;
        let mut buf = vec![0u8; len];
        f.read_exact_at(&mut buf, offset).map_err(|e| self.err(format!("reading {volume} at {offset}"), e))?;
        Ok(buf)
    }

    /// Writes and syncs: the write is durable when this returns.
    pub fn write_at(&self, volume: Key, offset: u64, data: &[u8]) -> Result<(), PlaneError> {
        let _shared = self.content.read().expect("lock");
        let f = self.open_checked(volume, offset, data.len() as u64, true)?;
        f.write_all_at(data, offset)
            .and_then(|()| f.sync_data())
            .map_err(|e| self.err(format!("writing {volume} at {offset}"), e))
    }

    pub fn allocated_bytes(&self, volume: Key) -> Option<u64> {
        if self.unmade.lock().expect("lock").contains_key(&volume) {
            return Some(0);
        }
        sparse::allocated_bytes(&self.path(volume)).ok()
    }

    /// The data segments of `[offset, offset + len)` (`SEEK_DATA`/`SEEK_HOLE` on the file).
    pub fn data_segments(&self, volume: Key, offset: u64, len: u64) -> Result<Vec<(u64, u64)>, PlaneError> {
        let _shared = self.content.read().expect("lock");
        let f = self.open_checked(volume, offset, len, false)?;
        sparse::data_segments_in(&f, offset, offset + len)
            .map_err(|e| self.err(format!("mapping the data of {volume} in {offset}+{len}"), e))
    }

    /// The file a client may open for `volume` (made if it was not yet).
    pub fn backing_path(&self, volume: Key) -> Option<PathBuf> {
        match self.made_path(volume) {
            Ok(path) => Some(path),
            Err(e) => {
                tracing::warn!("{e}");
                Some(self.path(volume))
            }
        }
    }

    /// Removes the temporary directory, if this store made one.
    pub fn close(&self) {
        if let Some(t) = self.temp.lock().expect("lock").take() {
            let path = t.path().to_path_buf();
            if let Err(e) = t.close() {
                tracing::warn!("removing {}: {e}", path.display());
            }
        }
    }
}

/// The `file` plane: a `FileStore` and nothing in the kernel.
#[derive(Debug)]
pub struct FilePlane {
    store: FileStore,
}

impl FilePlane {
    pub fn open(base: Option<&Path>, volumes: &[VolumeSpec]) -> Result<FilePlane, PlaneError> {
        Ok(FilePlane { store: FileStore::open(base, volumes, "file")? })
    }

    pub fn store(&self) -> &FileStore {
        &self.store
    }
}

impl DataPlane for FilePlane {
    fn kind(&self) -> PlaneKind {
        PlaneKind::File
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
    fn resize(&self, volume: Key, size_bytes: u64) -> Result<(), PlaneError> {
        self.store.resize(volume, size_bytes)
    }
    fn overwrite(&self, target: Key, source: Key) -> Result<(), PlaneError> {
        self.store.overwrite(target, source)
    }
    fn remove(&self, volume: Key) -> Result<(), PlaneError> {
        self.store.remove(volume)
    }
    // Mapping is metadata on this plane: the trait's exports, which do nothing, stand.
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
    fn data_segments(&self, volume: Key, offset: u64, len: u64) -> Result<Vec<(u64, u64)>, PlaneError> {
        self.store.data_segments(volume, offset, len)
    }
    fn backing_path(&self, volume: Key) -> Option<PathBuf> {
        self.store.backing_path(volume)
    }
    fn shutdown(&self) {
        self.store.close();
    }
}
