//! Durability: a snapshot of the model plus a journal of the effects committed since.
//!
//! A change is acknowledged only after its effects are appended to `journal.jsonl` (and, with
//! `fsync` on, flushed to the disk), so an acknowledged change survives `kill -9` and, with
//! fsync, power loss.
//!
//! Every journal line carries a sequence number and the snapshot records the last one it
//! contains, so a crash between writing a snapshot and emptying the journal cannot apply a
//! change twice. A failed append is cut back off the file before the error is reported, so a
//! later append never lands on a half-written line; if even that fails, the store refuses all
//! further changes. On opening, only an unterminated last line is taken for the torn tail of
//! an unacknowledged write; any other unreadable line stops the start with an error, rather
//! than silently dropping the acknowledged changes after it. Opening then compacts: the model
//! is written to `state.json` (temp file, fsync, rename) and the journal starts empty.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::{Effect, Model};

const FORMAT: u32 = 1;
const SNAPSHOT: &str = "state.json";
const JOURNAL: &str = "journal.jsonl";

#[derive(Deserialize)]
struct SnapshotFile {
    format: u32,
    /// The sequence number of the last journal entry the snapshot contains.
    #[serde(default)]
    last_seq: u64,
    model: Model,
}

#[derive(Serialize)]
struct SnapshotRef<'a> {
    format: u32,
    last_seq: u64,
    model: &'a Model,
}

#[derive(Serialize, Deserialize)]
struct JournalEntry {
    seq: u64,
    effects: Vec<Effect>,
}

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("state directory {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is not a pflex-sim state file (format {found:?}, expected {FORMAT}): {reason}")]
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
    fsync: bool,
    /// The sequence number the next entry gets.
    next_seq: u64,
    /// The journal's length after the last good append.
    len: u64,
    poisoned: bool,
}

/// What opening a state directory found.
pub struct Opened {
    pub store: Store,
    pub model: Model,
    /// True when the directory held state from an earlier run.
    pub restored: bool,
    pub replayed_entries: usize,
}

fn read_snapshot(path: &Path) -> Result<Option<SnapshotFile>, PersistError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    let file: SnapshotFile = serde_json::from_slice(&bytes).map_err(|e| PersistError::Format {
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
fn read_journal(path: &Path) -> Result<Vec<JournalEntry>, PersistError> {
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
        let entry = serde_json::from_slice::<JournalEntry>(line).map_err(|e| PersistError::Corrupt {
            path: path.to_path_buf(),
            line: n + 1,
            reason: e.to_string(),
        })?;
        entries.push(entry);
    }
    Ok(entries)
}

impl Store {
    /// Opens (or initialises) `dir`. `fresh` builds the model when there is no saved state.
    pub fn open(dir: &Path, fsync: bool, fresh: impl FnOnce() -> Model) -> Result<Opened, PersistError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let journal_path = dir.join(JOURNAL);
        let (mut model, mut last_seq, restored) = match read_snapshot(&dir.join(SNAPSHOT))? {
            Some(file) => {
                let mut model = file.model;
                model.rebuild_index();
                (model, file.last_seq, true)
            }
            None => (fresh(), 0, false),
        };
        let mut replayed_entries = 0;
        for entry in read_journal(&journal_path)? {
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
        let store = Store::Dir(DirStore {
            dir: dir.to_path_buf(),
            journal,
            fsync,
            next_seq: last_seq + 1,
            len: 0,
            poisoned: false,
        });
        Ok(Opened { store, model, restored, replayed_entries })
    }

    /// Records committed effects. Returns only once they are durable; on error, nothing of
    /// them is left in the journal.
    pub fn append(&mut self, effects: &[Effect]) -> Result<(), PersistError> {
        let Store::Dir(store) = self else { return Ok(()) };
        if store.poisoned {
            return Err(PersistError::Poisoned);
        }
        if effects.is_empty() {
            return Ok(());
        }
        let entry = JournalEntry { seq: store.next_seq, effects: effects.to_vec() };
        let mut line = serde_json::to_vec(&entry).expect("effects serialise");
        line.push(b'\n');
        let path = store.dir.join(JOURNAL);
        let written =
            store.journal.write_all(&line).and_then(|()| if store.fsync { store.journal.sync_data() } else { Ok(()) });
        if let Err(e) = written {
            if store.journal.set_len(store.len).and_then(|()| store.journal.sync_data()).is_err() {
                store.poisoned = true;
            }
            return Err(io_err(&path)(e));
        }
        store.len += line.len() as u64;
        store.next_seq += 1;
        Ok(())
    }

    /// Replaces everything saved with `model` (used by reset and at shutdown).
    pub fn compact(&mut self, model: &Model) -> Result<(), PersistError> {
        let Store::Dir(store) = self else { return Ok(()) };
        // The snapshot claims every entry written so far, so none is replayed onto it.
        write_snapshot(&store.dir, model, store.next_seq - 1)?;
        let path = store.dir.join(JOURNAL);
        store.journal.set_len(0).map_err(io_err(&path))?;
        store.journal.sync_all().map_err(io_err(&path))?;
        store.len = 0;
        Ok(())
    }

    pub fn dir(&self) -> Option<&Path> {
        match self {
            Store::Memory => None,
            Store::Dir(d) => Some(&d.dir),
        }
    }
}

fn write_snapshot(dir: &Path, model: &Model, last_seq: u64) -> Result<(), PersistError> {
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
    use crate::model::{Command, Provisioning};

    fn fresh_model() -> Model {
        Model::new(&Topology::default_embedded(), 3)
    }

    fn create(model: &mut Model, store: &mut Store, name: &str) {
        let pool = model.pools().next().unwrap().id;
        let plan = model
            .plan(
                &Command::CreateVolume {
                    pool,
                    domain: None,
                    name: Some(name.into()),
                    size_kb: 1,
                    provisioning: Provisioning::Thin,
                    use_rmcache: false,
                },
                0,
            )
            .unwrap();
        store.append(&plan.effects).unwrap();
        model.commit(&plan.effects);
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
