//! Durability: a snapshot of the model plus a journal of the effects committed since.
//!
//! A change is acknowledged only after its effects are appended to `journal.jsonl` (and, with
//! `fsync` on, flushed to the disk), so an acknowledged change survives `kill -9` and, with
//! fsync, power loss. A torn last line can only belong to a change that was never
//! acknowledged, so replay stops there. Opening a state directory replays the journal and then
//! compacts: the model is written to `state.json` (temp file, fsync, rename) and the journal
//! starts empty.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::{Effect, Model};

const FORMAT: u32 = 1;
const SNAPSHOT: &str = "state.json";
const JOURNAL: &str = "journal.jsonl";

#[derive(Deserialize)]
struct SnapshotFile {
    format: u32,
    model: Model,
}

#[derive(Serialize)]
struct SnapshotRef<'a> {
    format: u32,
    model: &'a Model,
}

#[derive(Serialize, Deserialize)]
struct JournalEntry {
    effects: Vec<Effect>,
}

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("state directory {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is not a pflex-sim state file (format {found:?}, expected {FORMAT}): {reason}")]
    Format { path: PathBuf, found: Option<u32>, reason: String },
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
}

/// What opening a state directory found.
pub struct Opened {
    pub store: Store,
    pub model: Model,
    /// True when the directory held state from an earlier run.
    pub restored: bool,
    pub replayed_entries: usize,
}

impl Store {
    /// Opens (or initialises) `dir`. `fresh` builds the model when there is no saved state.
    pub fn open(dir: &Path, fsync: bool, fresh: impl FnOnce() -> Model) -> Result<Opened, PersistError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let snapshot_path = dir.join(SNAPSHOT);
        let journal_path = dir.join(JOURNAL);
        let (mut model, restored) = match fs::read(&snapshot_path) {
            Ok(bytes) => {
                let file: SnapshotFile = serde_json::from_slice(&bytes).map_err(|e| PersistError::Format {
                    path: snapshot_path.clone(),
                    found: serde_json::from_slice::<serde_json::Value>(&bytes)
                        .ok()
                        .and_then(|v| v.get("format")?.as_u64())
                        .map(|f| f as u32),
                    reason: e.to_string(),
                })?;
                if file.format != FORMAT {
                    return Err(PersistError::Format {
                        path: snapshot_path,
                        found: Some(file.format),
                        reason: "unsupported format".into(),
                    });
                }
                let mut model = file.model;
                model.rebuild_index();
                (model, true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => (fresh(), false),
            Err(e) => return Err(io_err(&snapshot_path)(e)),
        };
        let mut replayed_entries = 0;
        match File::open(&journal_path) {
            Ok(file) => {
                for line in BufReader::new(file).lines() {
                    let line = line.map_err(io_err(&journal_path))?;
                    // A line that does not parse is the torn tail of an unacknowledged write.
                    let Ok(entry) = serde_json::from_str::<JournalEntry>(&line) else { break };
                    model.commit(&entry.effects);
                    replayed_entries += 1;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&journal_path)(e)),
        }
        let restored = restored || replayed_entries > 0;
        write_snapshot(dir, &model)?;
        // Append mode: every write lands at the end, also after `compact` empties the file.
        let journal =
            OpenOptions::new().create(true).append(true).open(&journal_path).map_err(io_err(&journal_path))?;
        journal.set_len(0).map_err(io_err(&journal_path))?;
        sync_dir(dir)?;
        let store = Store::Dir(DirStore { dir: dir.to_path_buf(), journal, fsync });
        Ok(Opened { store, model, restored, replayed_entries })
    }

    /// Records committed effects. Returns only once they are durable.
    pub fn append(&mut self, effects: &[Effect]) -> Result<(), PersistError> {
        let Store::Dir(store) = self else { return Ok(()) };
        if effects.is_empty() {
            return Ok(());
        }
        let mut line = serde_json::to_vec(&JournalEntry { effects: effects.to_vec() }).expect("effects serialise");
        line.push(b'\n');
        let path = store.dir.join(JOURNAL);
        store.journal.write_all(&line).map_err(io_err(&path))?;
        if store.fsync {
            store.journal.sync_data().map_err(io_err(&path))?;
        }
        Ok(())
    }

    /// Replaces everything saved with `model` (used by reset and at shutdown).
    pub fn compact(&mut self, model: &Model) -> Result<(), PersistError> {
        let Store::Dir(store) = self else { return Ok(()) };
        write_snapshot(&store.dir, model)?;
        let path = store.dir.join(JOURNAL);
        store.journal.set_len(0).map_err(io_err(&path))?;
        store.journal.sync_all().map_err(io_err(&path))?;
        Ok(())
    }

    pub fn dir(&self) -> Option<&Path> {
        match self {
            Store::Memory => None,
            Store::Dir(d) => Some(&d.dir),
        }
    }
}

fn write_snapshot(dir: &Path, model: &Model) -> Result<(), PersistError> {
    let path = dir.join(SNAPSHOT);
    let tmp = dir.join(format!("{SNAPSHOT}.tmp"));
    let bytes = serde_json::to_vec(&SnapshotRef { format: FORMAT, model }).expect("model serialises");
    let mut file = File::create(&tmp).map_err(io_err(&tmp))?;
    file.write_all(&bytes).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), PersistError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}
