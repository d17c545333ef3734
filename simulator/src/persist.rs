//! Durability: a snapshot of the model plus a journal of the effects committed since.
//!
//! A change is acknowledged only after its effects are appended to `journal.jsonl` (and, with
//! `fsync` on, flushed to the disk), so an acknowledged change survives `kill -9` and, with
//! fsync, power loss.
//!
//! Group commit: `Store::write` appends an entry without flushing and hands back a `Pending`;
//! `Pending::wait` returns once an `fdatasync` that started after the entry was written has
//! succeeded. One waiter at a time runs the flush (the others sleep until it ends and are
//! woken together), and a flush covers every entry written before it, so changes that arrive
//! while one flush runs share the next. A failed flush poisons the
//! store: Linux may have dropped the dirty pages, so which covered entries reached the disk is
//! unknown, and none of them, nor any later change, is acknowledged.
//!
//! Every journal line carries a sequence number and the snapshot records the last one it
//! contains, so a crash between writing a snapshot and emptying the journal cannot apply a
//! change twice. A failed write is cut back off the file before the error is reported, so a
//! later write never lands on a half-written line; if even that fails, the store refuses all
//! further changes. On opening, only an unterminated last line is taken for the torn tail of
//! an unacknowledged write; any other unreadable line stops the start with an error, rather
//! than silently dropping the acknowledged changes after it. Opening then compacts: the model
//! is written to `state.json` (temp file, fsync, rename) and the journal starts empty.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::array::ArrayModel;

const FORMAT: u32 = 1;
const SNAPSHOT: &str = "state.json";
const JOURNAL: &str = "journal.jsonl";

#[derive(Deserialize)]
#[serde(bound = "M: DeserializeOwned")]
struct SnapshotFile<M> {
    format: u32,
    /// The sequence number of the last journal entry the snapshot contains.
    #[serde(default)]
    last_seq: u64,
    model: M,
}

#[derive(Serialize)]
struct SnapshotRef<'a, M> {
    format: u32,
    last_seq: u64,
    model: &'a M,
}

#[derive(Deserialize)]
#[serde(bound = "E: DeserializeOwned")]
struct JournalEntry<E> {
    seq: u64,
    effects: Vec<E>,
}

/// A journal line as written: the effects borrowed, not copied.
#[derive(Serialize)]
struct JournalEntryRef<'a, E> {
    seq: u64,
    effects: &'a [E],
}

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("state directory {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is not a state file of this emulator (format {found:?}, expected {FORMAT}): {reason}")]
    Format { path: PathBuf, found: Option<u32>, reason: String },
    #[error("{path}: line {line} is damaged ({reason}) and acknowledged changes follow it; refusing to start")]
    Corrupt { path: PathBuf, line: usize, reason: String },
    #[error("the journal could not be repaired after a failed write; no further changes are accepted")]
    Poisoned,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PersistError + '_ {
    move |source| PersistError::Io { path: path.to_path_buf(), source }
}

/// Where committed effects go: nowhere (in-memory state) or a state directory.
pub enum Store {
    Memory,
    Dir(DirStore),
}

pub struct DirStore {
    dir: PathBuf,
    journal: File,
    /// Flushes written entries to the disk; `None` with `--no-fsync`.
    syncer: Option<Arc<Syncer>>,
    /// The sequence number the next entry gets.
    next_seq: u64,
    /// The journal's length after the last good write.
    len: u64,
    poisoned: Arc<AtomicBool>,
}

/// Group commit: whoever waits for an entry to be durable and finds no flush running flushes
/// every entry written so far with one `fdatasync`; those who arrive meanwhile wait for it to
/// end and are all woken at once, to find theirs covered or to start the next flush.
pub struct Syncer {
    /// A second handle on the journal, so flushing needs nothing the writer holds.
    journal: File,
    path: PathBuf,
    /// The sequence number of the last entry written to the file.
    written: AtomicU64,
    flushed: Mutex<Flushed>,
    /// Signalled when a flush ends.
    flush_ended: Condvar,
    /// Shared with the writer: after a failed flush no later change is accepted.
    poisoned: Arc<AtomicBool>,
    /// How many flushes ran (group commit shows as fewer flushes than changes).
    flushes: AtomicU64,
}

struct Flushed {
    /// The sequence number of the last entry known to be on the disk.
    through: u64,
    /// Whether a flush is running (the mutex is not held during it).
    running: bool,
}

/// An entry written to the journal but perhaps not yet durable; `Pending::wait` tells.
#[must_use = "a change is acknowledged only once it is durable"]
pub struct Pending {
    seq: u64,
    syncer: Option<Arc<Syncer>>,
}

impl Pending {
    /// Nothing to wait for (in-memory state, an empty change, or fsync off).
    fn done() -> Pending {
        Pending { seq: 0, syncer: None }
    }

    /// Blocks until the entry is on the disk. Runs on a blocking thread: it may `fdatasync`.
    pub fn wait(self) -> Result<(), PersistError> {
        match self.syncer {
            None => Ok(()),
            Some(syncer) => syncer.sync_through(self.seq),
        }
    }
}

impl Syncer {
    fn sync_through(&self, seq: u64) -> Result<(), PersistError> {
        let mut flushed = self.flushed.lock().expect("sync lock");
        loop {
            if flushed.through >= seq {
                return Ok(());
            }
            if self.poisoned.load(Ordering::Acquire) {
                return Err(PersistError::Poisoned);
            }
            if !flushed.running {
                break;
            }
            flushed = self.flush_ended.wait(flushed).expect("sync lock");
        }
        flushed.running = true;
        drop(flushed);
        // Everything written before this load is flushed by the call below.
        let through = self.written.load(Ordering::Acquire);
        self.flushes.fetch_add(1, Ordering::Relaxed);
        let outcome = self.journal.sync_data();
        let mut flushed = self.flushed.lock().expect("sync lock");
        flushed.running = false;
        match &outcome {
            Ok(()) => flushed.through = flushed.through.max(through),
            // Linux may drop the dirty pages of a failed flush: which of the covered entries
            // the disk holds is unknown, so none is acknowledged, nor any later.
            Err(_) => self.poisoned.store(true, Ordering::Release),
        }
        drop(flushed);
        self.flush_ended.notify_all();
        outcome.map_err(io_err(&self.path))
    }

    /// Everything through `seq` is durable by other means (a snapshot).
    fn covered(&self, seq: u64) {
        let mut flushed = self.flushed.lock().expect("sync lock");
        flushed.through = flushed.through.max(seq);
        drop(flushed);
        self.flush_ended.notify_all();
    }
}

/// What opening a state directory found.
pub struct Opened<M> {
    pub store: Store,
    pub model: M,
    /// True when the directory held state from an earlier run.
    pub restored: bool,
    pub replayed_entries: usize,
}

fn read_snapshot<M: DeserializeOwned>(path: &Path) -> Result<Option<SnapshotFile<M>>, PersistError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    let file: SnapshotFile<M> = serde_json::from_slice(&bytes).map_err(|e| PersistError::Format {
        path: path.to_path_buf(),
        found: serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("format")?.as_u64())
            .map(|f| f as u32),
        reason: e.to_string(),
    })?;
    if file.format != FORMAT {
        return Err(PersistError::Format {
            path: path.to_path_buf(),
            found: Some(file.format),
            reason: "unsupported format".into(),
        });
    }
    Ok(Some(file))
}

/// The journal's complete entries, in order. An unterminated last line is a torn write.
fn read_journal<E: DeserializeOwned>(path: &Path) -> Result<Vec<JournalEntry<E>>, PersistError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut entries = Vec::new();
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |end| end + 1);
    for (n, line) in bytes[..complete].split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let entry = serde_json::from_slice::<JournalEntry<E>>(line).map_err(|e| PersistError::Corrupt {
            path: path.to_path_buf(),
            line: n + 1,
            reason: e.to_string(),
        })?;
        entries.push(entry);
    }
    Ok(entries)
}

impl Store {
    /// The store a server starts on: `dir` opened (or initialised) when given, else memory
    /// with a fresh model. Returns the store, the model and whether it was restored.
    pub fn open_or_memory<M: ArrayModel>(
        dir: Option<&Path>,
        fsync: bool,
        fresh: impl FnOnce() -> M,
    ) -> Result<(Store, M, bool), PersistError> {
        match dir {
            Some(dir) => Store::open(dir, fsync, fresh).map(|o| (o.store, o.model, o.restored)),
            None => Ok((Store::Memory, fresh(), false)),
        }
    }

    /// Opens (or initialises) `dir`. `fresh` builds the model when there is no saved state.
    pub fn open<M: ArrayModel>(dir: &Path, fsync: bool, fresh: impl FnOnce() -> M) -> Result<Opened<M>, PersistError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let journal_path = dir.join(JOURNAL);
        let (mut model, mut last_seq, restored) = match read_snapshot::<M>(&dir.join(SNAPSHOT))? {
            Some(file) => {
                let mut model = file.model;
                model.rebuild_index();
                (model, file.last_seq, true)
            }
            None => (fresh(), 0, false),
        };
        let mut replayed_entries = 0;
        for entry in read_journal::<M::Effect>(&journal_path)? {
            // Entries up to `last_seq` are already in the snapshot.
            if entry.seq > last_seq {
                model.commit(&entry.effects);
                last_seq = entry.seq;
                replayed_entries += 1;
            }
        }
        let restored = restored || replayed_entries > 0;
        write_snapshot(dir, &model, last_seq)?;
        // Append mode: every write lands at the end, also after the file is cut back.
        let journal =
            OpenOptions::new().create(true).append(true).open(&journal_path).map_err(io_err(&journal_path))?;
        journal.set_len(0).map_err(io_err(&journal_path))?;
        sync_dir(dir)?;
        let poisoned = Arc::new(AtomicBool::new(false));
        let syncer = match fsync {
            false => None,
            true => Some(Arc::new(Syncer {
                journal: journal.try_clone().map_err(io_err(&journal_path))?,
                path: journal_path.clone(),
                written: AtomicU64::new(last_seq),
                flushed: Mutex::new(Flushed { through: last_seq, running: false }),
                flush_ended: Condvar::new(),
                poisoned: poisoned.clone(),
                flushes: AtomicU64::new(0),
            })),
        };
        let store =
            Store::Dir(DirStore { dir: dir.to_path_buf(), journal, syncer, next_seq: last_seq + 1, len: 0, poisoned });
        Ok(Opened { store, model, restored, replayed_entries })
    }

    /// Writes `effects` to the journal, in order after every earlier change, and returns what
    /// to wait on before the change may be acknowledged (`Pending::wait`). On error, nothing
    /// of them is left in the journal.
    pub fn write<E: Serialize>(&mut self, effects: &[E]) -> Result<Pending, PersistError> {
        let Store::Dir(store) = self else { return Ok(Pending::done()) };
        if store.poisoned.load(Ordering::Acquire) {
            return Err(PersistError::Poisoned);
        }
        if effects.is_empty() {
            return Ok(Pending::done());
        }
        let seq = store.next_seq;
        let entry = JournalEntryRef { seq, effects };
        let mut line = serde_json::to_vec(&entry).expect("effects serialise");
        line.push(b'\n');
        let path = store.dir.join(JOURNAL);
        if let Err(e) = store.journal.write_all(&line) {
            // Cut the partial line off; the entries before it stay and are flushed as usual.
            if store.journal.set_len(store.len).is_err() {
                store.poisoned.store(true, Ordering::Release);
            }
            return Err(io_err(&path)(e));
        }
        store.len += line.len() as u64;
        store.next_seq += 1;
        let syncer = store.syncer.clone();
        if let Some(syncer) = &syncer {
            syncer.written.store(seq, Ordering::Release);
        }
        Ok(Pending { seq, syncer })
    }

    /// Writes `effects` and waits until they are durable (tests, and callers that hold no
    /// other change back while waiting).
    pub fn append<E: Serialize>(&mut self, effects: &[E]) -> Result<(), PersistError> {
        self.write(effects)?.wait()
    }

    /// Replaces everything saved with `model` (used by reset and at shutdown).
    pub fn compact<M: Serialize>(&mut self, model: &M) -> Result<(), PersistError> {
        let Store::Dir(store) = self else { return Ok(()) };
        // The snapshot claims every entry written so far, so none is replayed onto it.
        write_snapshot(&store.dir, model, store.next_seq - 1)?;
        let path = store.dir.join(JOURNAL);
        store.journal.set_len(0).map_err(io_err(&path))?;
        store.journal.sync_all().map_err(io_err(&path))?;
        store.len = 0;
        if let Some(syncer) = &store.syncer {
            syncer.covered(store.next_seq - 1);
        }
        Ok(())
    }

    pub fn dir(&self) -> Option<&Path> {
        match self {
            Store::Memory => None,
            Store::Dir(d) => Some(&d.dir),
        }
    }
}

fn write_snapshot<M: Serialize>(dir: &Path, model: &M, last_seq: u64) -> Result<(), PersistError> {
    let path = dir.join(SNAPSHOT);
    let tmp = dir.join(format!("{SNAPSHOT}.tmp"));
    let bytes = serde_json::to_vec(&SnapshotRef { format: FORMAT, last_seq, model }).expect("model serialises");
    let mut file = File::create(&tmp).map_err(io_err(&tmp))?;
    file.write_all(&bytes).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), PersistError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::topology::Topology;
    use crate::model::{Command, Effect, Model, Provisioning};

    fn fresh_model() -> Model {
        Model::new(&Topology::default_embedded(), 3)
    }

    fn create(model: &mut Model, store: &mut Store, name: &str) {
        let effects = volume_effects(model, name);
        store.append(&effects).unwrap();
        model.commit(&effects);
    }

    fn volume_effects(model: &Model, name: &str) -> Vec<Effect> {
        let pool = model.pools().next().unwrap().id;
        let command = Command::CreateVolume {
            pool,
            domain: None,
            name: Some(name.into()),
            size_kb: 1,
            provisioning: Provisioning::Thin,
            use_rmcache: false,
        };
        model.plan(&command, 0).unwrap().effects
    }

    fn flushes(store: &Store) -> u64 {
        let Store::Dir(dir) = store else { unreachable!("a state directory") };
        dir.syncer.as_ref().unwrap().flushes.load(Ordering::Relaxed)
    }

    #[test]
    fn one_flush_covers_every_entry_written_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let Opened { mut store, mut model, .. } = Store::open(dir.path(), true, fresh_model).unwrap();
        let mut pending = Vec::new();
        for name in ["a", "b", "c"] {
            let effects = volume_effects(&model, name);
            pending.push(store.write(&effects).unwrap());
            model.commit(&effects);
        }
        let last = pending.pop().unwrap();
        last.wait().unwrap();
        assert_eq!(flushes(&store), 1);
        for earlier in pending {
            earlier.wait().unwrap();
        }
        assert_eq!(flushes(&store), 1, "the entries before the flushed one needed no flush of their own");
        let effects = volume_effects(&model, "d");
        store.write(&effects).unwrap().wait().unwrap();
        assert_eq!(flushes(&store), 2, "a later entry is flushed anew");
        // A compaction makes what it covers durable: waiting on it flushes nothing.
        model.commit(&effects);
        let effects = volume_effects(&model, "e");
        let pending = store.write(&effects).unwrap();
        model.commit(&effects);
        store.compact(&model).unwrap();
        pending.wait().unwrap();
        assert_eq!(flushes(&store), 2);
        drop(store);
        assert_eq!(Store::open(dir.path(), true, fresh_model).unwrap().model.volume_count(), 5);
    }

    #[test]
    fn a_crash_between_snapshot_and_truncation_applies_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let Opened { mut store, mut model, .. } = Store::open(dir.path(), false, fresh_model).unwrap();
        create(&mut model, &mut store, "a");
        let journal = fs::read(dir.path().join(JOURNAL)).unwrap();
        drop(store);
        // Reopening compacts; then the old journal comes back as if the truncation was lost.
        let opened = Store::open(dir.path(), false, fresh_model).unwrap();
        drop(opened);
        fs::write(dir.path().join(JOURNAL), journal).unwrap();
        let opened = Store::open(dir.path(), false, fresh_model).unwrap();
        assert_eq!(opened.model.volume_count(), 1);
        assert_eq!(opened.model.pools().map(|p| p.usage.volumes).sum::<u64>(), 1);
        assert_eq!(opened.replayed_entries, 0);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_a_damaged_middle_line_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let Opened { mut store, mut model, .. } = Store::open(dir.path(), false, fresh_model).unwrap();
        create(&mut model, &mut store, "a");
        create(&mut model, &mut store, "b");
        drop(store);
        let path = dir.path().join(JOURNAL);
        let good = fs::read_to_string(&path).unwrap();
        fs::write(&path, format!("{good}{{\"seq\":3,\"effects\":[{{\"Volu")).unwrap();
        let opened = Store::open(dir.path(), false, fresh_model).unwrap();
        assert_eq!(opened.model.volume_count(), 2);
        drop(opened);
        let lines: Vec<&str> = good.lines().collect();
        fs::remove_file(dir.path().join(SNAPSHOT)).unwrap();
        fs::write(&path, format!("{}\n{{\"seq\":2,\"eff\n{}\n", lines[0], lines[1])).unwrap();
        assert!(matches!(Store::open(dir.path(), false, fresh_model), Err(PersistError::Corrupt { line: 2, .. })));
    }
}
