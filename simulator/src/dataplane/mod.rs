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
//! Array-neutral: a plane knows volumes and hosts only by `Key`, and is set up at start from
//! `Saved`. Each array maps its own effects onto the plane's steps in its own module
//! (`powerflex`, `alletra`): what creates, clones, resizes, copies content, exports or removes.
//!
//! Invariant: a data plane never decides policy and never changes the model (it is told
//! once at start what the saved state holds, to reconcile its files and exports with it).

pub mod alletra;
mod file;
pub mod iscsi;
pub mod lio;
mod none;
pub mod nvmet;
pub mod powerflex;
pub mod sparse;

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

pub use file::{FilePlane, FileStore};
pub use none::NonePlane;
pub use nvmet::NvmetPlane;

/// Which plane runs, as `--data-plane` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlaneKind {
    Auto,
    Nvmet,
    File,
    None,
}

impl PlaneKind {
    pub fn name(self) -> &'static str {
        match self {
            PlaneKind::Auto => "auto",
            PlaneKind::Nvmet => "nvmet",
            PlaneKind::File => "file",
            PlaneKind::None => "none",
        }
    }
}

impl fmt::Display for PlaneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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

    /// A path outage asked of a plane that hosts do not connect to (`none`, `file`).
    pub fn no_network(plane: PlaneKind, what: impl Into<String>) -> PlaneError {
        let source = std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "this data plane has no network side for hosts to lose (serve with --data-plane nvmet)",
        );
        PlaneError::new(plane.name(), what, source)
    }

    /// Whether the plane cannot carry the operation out at all (`unsupported`, `no_network`),
    /// rather than having failed at it.
    pub fn is_unsupported(&self) -> bool {
        self.source.kind() == std::io::ErrorKind::Unsupported
    }
}

/// How a plane names a volume or a host: each array maps its own ids onto it (PowerFlex ids
/// are 64-bit already, Alletra's are small integers), so one plane serves both. Displayed as
/// 16 hex digits, the name of the volume's backing file.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(pub u64);

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({self})")
    }
}

/// What a volume's backing store needs to know at creation.
#[derive(Debug, Clone, Copy)]
pub struct VolumeSpec {
    pub id: Key,
    pub size_bytes: u64,
    pub thick: bool,
}

/// A volume as a host sees it.
#[derive(Debug, Clone)]
pub struct Namespace {
    pub volume: Key,
    pub nsid: u32,
    pub nguid: String,
    pub read_only: bool,
}

/// A volume made visible to a host.
#[derive(Debug, Clone)]
pub struct Export {
    pub host: Key,
    /// The host's NVMe qualified name, for hosts that connect over NVMe.
    pub host_nqn: Option<String>,
    pub namespace: Namespace,
    /// How the host sees the volume over iSCSI, for hosts with initiator names on an array
    /// with iSCSI ports.
    pub iscsi: Option<IscsiPath>,
}

/// A volume as an iSCSI host sees it: which of its initiators, through which port targets,
/// at which LUN, and the WWN its SCSI disk reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IscsiPath {
    pub initiators: Vec<String>,
    /// The IQNs of the port targets the LUN is presented on.
    pub targets: Vec<String>,
    pub lun: u32,
    pub wwn: String,
}

/// An array's iSCSI ports, as the plane serves them through LIO.
#[derive(Debug, Clone, Default)]
pub struct IscsiPorts {
    /// The LIO fileio HBA index this array's backstores live under (one per array per kernel).
    pub hba: u32,
    pub portals: Vec<lio::Portal>,
}

/// A TCP address and port NVMe/TCP hosts connect to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listener {
    pub traddr: String,
    pub trsvcid: u16,
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tcp {}:{}", self.traddr, self.trsvcid)
    }
}

/// What the saved state holds, as a plane needs it at start to reconcile its files and
/// kernel objects with it; each array's mapping module derives it from its model.
#[derive(Debug, Clone, Default)]
pub struct Saved {
    /// The NQN the plane's kernel objects are named under (one per array).
    pub system_nqn: String,
    pub volumes: Vec<VolumeSpec>,
    pub listeners: BTreeSet<Listener>,
    pub exports: Vec<Export>,
    /// The iSCSI ports, on arrays that have them.
    pub iscsi: Option<IscsiPorts>,
}

/// The operations every plane carries out. Defaults are for planes that keep no bytes.
pub trait DataPlane: Send + Sync + 'static {
    fn kind(&self) -> PlaneKind;
    fn create(&self, volume: VolumeSpec) -> Result<(), PlaneError>;
    /// A point-in-time copy of `source` as the new volume `snapshot`.
    fn snapshot(&self, source: Key, snapshot: VolumeSpec) -> Result<(), PlaneError>;
    fn resize(&self, volume: Key, size_bytes: u64) -> Result<(), PlaneError>;
    /// Whether creating `volume` (as a copy of `source`, when given) only records it, with no
    /// file-system work. A change that does nothing else is prepared on the request's own
    /// thread rather than as blocking work, which under many clients is most of its cost.
    fn creates_in_memory(&self, _volume: &VolumeSpec, _source: Option<Key>) -> bool {
        false
    }
    /// Replaces `target`'s content with `source`'s, atomically.
    fn overwrite(&self, target: Key, source: Key) -> Result<(), PlaneError>;
    fn remove(&self, volume: Key) -> Result<(), PlaneError>;
    /// Makes a volume visible to a host, over NVMe/TCP (`host_nqn`) or iSCSI (`iscsi`) as the
    /// plane serves them. On planes without a network side (`none`, `file`) mapping is
    /// metadata only, so the exports default to doing nothing.
    fn export(&self, _export: &Export) -> Result<(), PlaneError> {
        Ok(())
    }
    fn unexport(&self, _host: Key, _volume: Key) -> Result<(), PlaneError> {
        Ok(())
    }
    fn remove_host(&self, _host: Key) -> Result<(), PlaneError> {
        Ok(())
    }
    /// Whether volumes have bytes (`file`, `nvmet`) or only metadata (`none`).
    fn holds_bytes(&self) -> bool {
        false
    }
    /// Bytes the backing store has actually allocated to a volume, where the plane can tell.
    fn allocated_bytes(&self, _volume: Key) -> Option<u64> {
        None
    }
    /// KiB actually allocated to a volume, where the plane can tell.
    fn allocated_kb(&self, volume: Key) -> Option<u64> {
        self.allocated_bytes(volume).map(|b| b.div_ceil(1024))
    }
    /// Reads `len` bytes of a volume at `offset` (admin surface).
    fn read_at(&self, volume: Key, offset: u64, _len: usize) -> Result<Vec<u8>, PlaneError> {
        Err(PlaneError::unsupported("none", format!("reading {volume} at {offset}")))
    }
    /// Writes bytes into a volume at `offset`, durably (admin surface).
    fn write_at(&self, volume: Key, offset: u64, _data: &[u8]) -> Result<(), PlaneError> {
        Err(PlaneError::unsupported("none", format!("writing {volume} at {offset}")))
    }
    /// The parts of `[offset, offset + len)` of a volume that may hold data, as ordered,
    /// disjoint `(start, end)` byte ranges; everything else reads zeros. The default is
    /// conservative (the whole range), so a plane that cannot tell still answers truthfully.
    fn data_segments(&self, _volume: Key, offset: u64, len: u64) -> Result<Vec<(u64, u64)>, PlaneError> {
        Ok(if len == 0 { Vec::new() } else { vec![(offset, offset + len)] })
    }
    /// The file that holds a volume's bytes, where there is one.
    fn backing_path(&self, _volume: Key) -> Option<PathBuf> {
        None
    }
    /// Starts serving hosts on `listener` (the `nvmet` plane opens a port). Planes without a
    /// network side have nothing to do.
    fn listen(&self, _listener: &Listener) -> Result<(), PlaneError> {
        Ok(())
    }
    fn stop_listening(&self, _listener: &Listener) -> Result<(), PlaneError> {
        Ok(())
    }
    /// What the plane listens on by configuration, including listeners taken down (which
    /// the configuration still wants: they come back with `bring_up`).
    fn listening(&self) -> BTreeSet<Listener> {
        BTreeSet::new()
    }
    /// Takes a listener away as an outage of the SDT or port behind it would (a fault on
    /// demand): hosts connected through it lose the path, new connections are refused. It
    /// stays among `listening()`: changes to the configuration meanwhile keep it down (a
    /// `listen` is a no-op) or drop it (`stop_listening`). Taking down a listener that is down
    /// already does nothing.
    fn take_down(&self, listener: &Listener) -> Result<(), PlaneError> {
        Err(PlaneError::no_network(self.kind(), format!("taking down {listener}")))
    }
    /// Serves a listener taken down again: hosts reconnect. One that is up is left alone.
    fn bring_up(&self, listener: &Listener) -> Result<(), PlaneError> {
        Err(PlaneError::no_network(self.kind(), format!("bringing up {listener}")))
    }
    /// The listeners taken down and not yet brought up.
    fn down(&self) -> BTreeSet<Listener> {
        BTreeSet::new()
    }
    /// Withdraws everything the plane set up in the kernel (clean stop).
    fn shutdown(&self) {}
}

/// One done step, and how to undo it.
enum Undo {
    Remove(Key),
    Shrink(Key, u64),
    Unexport(Key, Key),
    StopListening(Listener),
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
            Undo::StopListening(l) => plane.stop_listening(&l),
        };
        if let Err(e) = outcome {
            tracing::error!("undoing a failed change: {e}");
        }
    }
}

/// The constructive steps of one change, each remembered with its undo. An array's mapping
/// drives it from the change's effects (`prepare`).
pub struct Preparing<'a> {
    plane: &'a dyn DataPlane,
    done: Vec<Undo>,
}

impl Preparing<'_> {
    /// A new volume: empty, or a point-in-time copy of `source`.
    pub fn create(&mut self, spec: VolumeSpec, source: Option<Key>) -> Result<(), PlaneError> {
        match source {
            Some(source) => self.plane.snapshot(source, spec)?,
            None => self.plane.create(spec)?,
        }
        self.done.push(Undo::Remove(spec.id));
        Ok(())
    }

    pub fn resize(&mut self, volume: Key, from_bytes: u64, to_bytes: u64) -> Result<(), PlaneError> {
        self.plane.resize(volume, to_bytes)?;
        self.done.push(Undo::Shrink(volume, from_bytes));
        Ok(())
    }

    /// Replaces `target`'s content with `source`'s (cannot be undone; see `Prepared::undo`).
    pub fn overwrite(&mut self, target: Key, source: Key) -> Result<(), PlaneError> {
        self.plane.overwrite(target, source)
    }

    pub fn export(&mut self, export: &Export) -> Result<(), PlaneError> {
        self.plane.export(export)?;
        self.done.push(Undo::Unexport(export.host, export.namespace.volume));
        Ok(())
    }

    /// Starts listening on `listener` unless the plane already does.
    pub fn listen(&mut self, listener: Listener) -> Result<(), PlaneError> {
        if self.plane.listening().contains(&listener) {
            return Ok(());
        }
        self.plane.listen(&listener)?;
        self.done.push(Undo::StopListening(listener));
        Ok(())
    }
}

/// Runs the constructive steps `steps` takes against `plane`, before the change is committed.
/// On failure, undoes what was done and returns the error.
pub fn prepare(
    plane: &dyn DataPlane,
    steps: impl FnOnce(&mut Preparing<'_>) -> Result<(), PlaneError>,
) -> Result<Prepared, PlaneError> {
    let mut preparing = Preparing { plane, done: Vec::new() };
    match steps(&mut preparing) {
        Ok(()) => Ok(Prepared(preparing.done)),
        Err(e) => {
            undo_all(plane, preparing.done);
            Err(e)
        }
    }
}

/// Logs a failed destructive step: it runs after the commit, so the model has moved on and a
/// leftover is cleaned at the next start.
pub fn log_cleanup(outcome: Result<(), PlaneError>) {
    if let Err(e) = outcome {
        tracing::warn!("data plane cleanup after a committed change: {e}");
    }
}
