//! Where volume bytes live, behind one trait.
//!
//! The model decides whether a change is allowed; a data plane only carries it out. Each
//! committed plan runs in two phases around the commit:
//! - `prepare` (before the commit) does everything that can fail and can be undone: creating
//!   backing stores, cloning snapshots, growing, overwriting, exporting to hosts. If a step
//!   fails, the steps already done are undone in reverse and the request fails with nothing
//!   half-done.
//! - `finish` (after the commit) does what only destroys: removing stores, withdrawing
//!   exports, dropping hosts. Its failures are logged, never surfaced: the model has already
//!   moved on, and a leftover is cleaned at the next start.
//!
//! Planes: `none` (metadata only), `file` (sparse files, bytes through the admin surface),
//! `nvmet` (the same files exported by the kernel target over NVMe/TCP); `sparse` holds the
//! clone and copy primitives. Optional abilities (bytes, backing files, allocation) default
//! to "unsupported" in the trait, so callers ask rather than assume.
//!
//! Invariant: a data plane never decides policy and never changes the model (it reads it
//! once at start, to reconcile its files and exports with the saved state).

mod file;
mod none;
pub mod nvmet;
pub mod sparse;

use std::fmt;
use std::path::PathBuf;

pub use file::{FilePlane, FileStore};
pub use none::NonePlane;
pub use nvmet::NvmetPlane;

use crate::model::{Effect, HostKind, Id, Model};

/// Which plane runs, as `--data-plane` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlaneKind {
    Auto,
    Nvmet,
    File,
    None,
}

impl fmt::Display for PlaneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlaneKind::Auto => "auto",
            PlaneKind::Nvmet => "nvmet",
            PlaneKind::File => "file",
            PlaneKind::None => "none",
        })
    }
}

/// A data-plane failure, carried to the client as a gateway error.
#[derive(Debug, thiserror::Error)]
#[error("data plane ({plane}): {what}: {source}")]
pub struct PlaneError {
    pub plane: &'static str,
    pub what: String,
    #[source]
    pub source: std::io::Error,
}

impl PlaneError {
    pub fn new(plane: &'static str, what: impl Into<String>, source: std::io::Error) -> PlaneError {
        PlaneError { plane, what: what.into(), source }
    }

    /// An operation this plane cannot carry out (bytes on the `none` plane).
    pub fn unsupported(plane: &'static str, what: impl Into<String>) -> PlaneError {
        let source = std::io::Error::new(std::io::ErrorKind::Unsupported, "this data plane keeps no volume bytes");
        PlaneError::new(plane, what, source)
    }
}

/// What a volume's backing store needs to know at creation.
#[derive(Debug, Clone, Copy)]
pub struct VolumeSpec {
    pub id: Id,
    pub size_bytes: u64,
    pub thick: bool,
}

/// A volume as a host sees it.
#[derive(Debug, Clone)]
pub struct Namespace {
    pub volume: Id,
    pub nsid: u32,
    pub nguid: String,
    pub read_only: bool,
}

/// The operations every plane carries out. Defaults are for planes that keep no bytes.
pub trait DataPlane: Send + Sync + 'static {
    fn kind(&self) -> PlaneKind;
    fn create(&self, volume: VolumeSpec) -> Result<(), PlaneError>;
    /// A point-in-time copy of `source` as the new volume `snapshot`.
    fn snapshot(&self, source: Id, snapshot: VolumeSpec) -> Result<(), PlaneError>;
    fn resize(&self, volume: Id, size_bytes: u64) -> Result<(), PlaneError>;
    /// Replaces `target`'s content with `source`'s, atomically.
    fn overwrite(&self, target: Id, source: Id) -> Result<(), PlaneError>;
    fn remove(&self, volume: Id) -> Result<(), PlaneError>;
    /// Makes `namespace` visible to the host with `host_nqn`.
    fn export(&self, host: Id, host_nqn: Option<&str>, namespace: &Namespace) -> Result<(), PlaneError>;
    fn unexport(&self, host: Id, volume: Id) -> Result<(), PlaneError>;
    fn remove_host(&self, host: Id) -> Result<(), PlaneError>;
    /// Whether volumes have bytes (`file`, `nvmet`) or only metadata (`none`).
    fn holds_bytes(&self) -> bool {
        false
    }
    /// Bytes the backing store has actually allocated to a volume, where the plane can tell.
    fn allocated_bytes(&self, _volume: Id) -> Option<u64> {
        None
    }
    /// KiB actually allocated to a volume, where the plane can tell.
    fn allocated_kb(&self, volume: Id) -> Option<u64> {
        self.allocated_bytes(volume).map(|b| b.div_ceil(1024))
    }
    /// Reads `len` bytes of a volume at `offset` (admin surface).
    fn read_at(&self, volume: Id, offset: u64, _len: usize) -> Result<Vec<u8>, PlaneError> {
        Err(PlaneError::unsupported("none", format!("reading {volume} at {offset}")))
    }
    /// Writes bytes into a volume at `offset`, durably (admin surface).
    fn write_at(&self, volume: Id, offset: u64, _data: &[u8]) -> Result<(), PlaneError> {
        Err(PlaneError::unsupported("none", format!("writing {volume} at {offset}")))
    }
    /// The parts of `[offset, offset + len)` of a volume that may hold data, as ordered,
    /// disjoint `(start, end)` byte ranges; everything else reads zeros. The default is
    /// conservative (the whole range), so a plane that cannot tell still answers truthfully.
    fn data_segments(&self, _volume: Id, offset: u64, len: u64) -> Result<Vec<(u64, u64)>, PlaneError> {
        Ok(if len == 0 { Vec::new() } else { vec![(offset, offset + len)] })
    }
    /// The file that holds a volume's bytes, where there is one.
    fn backing_path(&self, _volume: Id) -> Option<PathBuf> {
        None
    }
    /// Withdraws everything the plane set up in the kernel (clean stop).
    fn shutdown(&self) {}
}

/// One done step, and how to undo it.
enum Undo {
    Remove(Id),
    Shrink(Id, u64),
    Unexport(Id, Id),
}

/// The steps `prepare` carried out, kept until the change is journaled so that a failed
/// journal write can take them back.
#[must_use = "undo the prepared steps if the change is not committed"]
pub struct Prepared(Vec<Undo>);

impl Prepared {
    /// Takes back every prepared step, newest first. An overwritten volume's old content
    /// cannot come back; the model never recorded content, so it stays consistent.
    pub fn undo(self, plane: &dyn DataPlane) {
        undo_all(plane, self.0);
    }
}

fn undo_all(plane: &dyn DataPlane, done: Vec<Undo>) {
    for undo in done.into_iter().rev() {
        let outcome = match undo {
            Undo::Remove(v) => plane.remove(v),
            Undo::Shrink(v, size) => plane.resize(v, size),
            Undo::Unexport(h, v) => plane.unexport(h, v),
        };
        if let Err(e) = outcome {
            tracing::error!("undoing a failed change: {e}");
        }
    }
}

/// Runs the constructive part of `effects` against `plane`. `model` is the state *before* the
/// commit. On failure, undoes what it did and returns the error.
pub fn prepare(plane: &dyn DataPlane, model: &Model, effects: &[Effect]) -> Result<Prepared, PlaneError> {
    let mut done: Vec<Undo> = Vec::new();
    match prepare_steps(plane, model, effects, &mut done) {
        Ok(()) => Ok(Prepared(done)),
        Err(e) => {
            undo_all(plane, done);
            Err(e)
        }
    }
}

fn prepare_steps(
    plane: &dyn DataPlane,
    model: &Model,
    effects: &[Effect],
    done: &mut Vec<Undo>,
) -> Result<(), PlaneError> {
    // Sizes and ancestors may change within one plan (a snapshot of a volume created in the
    // same plan does not occur, but a resize followed by an overwrite does).
    for effect in effects {
        match effect {
            Effect::VolumeCreated(v) => {
                let spec = VolumeSpec {
                    id: v.id,
                    size_bytes: v.size_kb * 1024,
                    thick: !v.is_snapshot && v.provisioning == crate::model::Provisioning::Thick,
                };
                match v.ancestor {
                    Some(source) => plane.snapshot(source, spec)?,
                    None => plane.create(spec)?,
                }
                done.push(Undo::Remove(v.id));
            }
            Effect::VolumeResized { volume, size_kb } => {
                let old = model.volume(*volume).map_or(0, |v| v.size_kb * 1024);
                plane.resize(*volume, size_kb * 1024)?;
                done.push(Undo::Shrink(*volume, old));
            }
            Effect::ContentOverwritten { volume, source } => plane.overwrite(*volume, *source)?,
            Effect::MappingAdded { volume, mapping } => {
                let Some(v) = model.volume(*volume) else { continue };
                let host = model.host(mapping.host);
                let nqn = host.and_then(|h| match &h.kind {
                    HostKind::Nvme { nqn, .. } => Some(nqn.as_str()),
                    HostKind::Sdc { .. } => None,
                });
                let namespace = Namespace {
                    volume: *volume,
                    nsid: v.nsid,
                    nguid: model.nguid(*volume),
                    read_only: mapping.access_mode != crate::model::AccessMode::ReadWrite,
                };
                plane.export(mapping.host, nqn, &namespace)?;
                done.push(Undo::Unexport(mapping.host, *volume));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether `effects` have a destructive part for `finish`.
pub fn destroys(effects: &[Effect]) -> bool {
    effects
        .iter()
        .any(|e| matches!(e, Effect::MappingRemoved { .. } | Effect::VolumeRemoved { .. } | Effect::HostRemoved { .. }))
}

/// Runs the destructive part of `effects` after the commit. Failures are logged.
pub fn finish(plane: &dyn DataPlane, effects: &[Effect]) {
    for effect in effects {
        let outcome = match effect {
            Effect::MappingRemoved { volume, host } => plane.unexport(*host, *volume),
            Effect::VolumeRemoved { volume } => plane.remove(*volume),
            Effect::HostRemoved { host } => plane.remove_host(*host),
            _ => Ok(()),
        };
        if let Err(e) = outcome {
            tracing::warn!("data plane cleanup after a committed change: {e}");
        }
    }
}
