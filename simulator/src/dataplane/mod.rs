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
pub mod lio;
mod none;
pub mod nvmet;
pub mod sparse;

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

pub use file::{FilePlane, FileStore};
pub use none::NonePlane;
pub use nvmet::NvmetPlane;

use crate::model::{Effect, HostKind, Id, Model, Sdt};

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

/// A TCP address and port NVMe/TCP hosts connect to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listener {
    pub traddr: String,
    pub trsvcid: u16,
}

/// Where one SDT serves hosts: the NVMe and discovery ports of each of its host-facing
/// addresses, none while it is in maintenance (a real SDT stops serving hosts then).
pub fn sdt_listeners(sdt: &Sdt) -> impl Iterator<Item = Listener> + '_ {
    let serving = sdt.ips.iter().filter(move |ip| !sdt.in_maintenance && sdt.role(ip).serves_hosts());
    serving
        .flat_map(move |ip| [sdt.nvme_port, sdt.discovery_port].map(|trsvcid| Listener { traddr: ip.clone(), trsvcid }))
}

/// Everything hosts can connect to, derived from the model's SDTs.
pub fn listeners(model: &Model) -> BTreeSet<Listener> {
    model.sdts().flat_map(sdt_listeners).collect()
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
    /// Makes `namespace` visible to the host with `host_nqn`. On planes without a network side
    /// (`none`, `file`) mapping is metadata only, so the exports default to doing nothing.
    fn export(&self, _host: Id, _host_nqn: Option<&str>, _namespace: &Namespace) -> Result<(), PlaneError> {
        Ok(())
    }
    fn unexport(&self, _host: Id, _volume: Id) -> Result<(), PlaneError> {
        Ok(())
    }
    fn remove_host(&self, _host: Id) -> Result<(), PlaneError> {
        Ok(())
    }
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
    /// Starts serving hosts on `listener` (the `nvmet` plane opens a port). Planes without a
    /// network side have nothing to do.
    fn listen(&self, _listener: &Listener) -> Result<(), PlaneError> {
        Ok(())
    }
    fn stop_listening(&self, _listener: &Listener) -> Result<(), PlaneError> {
        Ok(())
    }
    /// What the plane listens on now.
    fn listening(&self) -> BTreeSet<Listener> {
        BTreeSet::new()
    }
    /// Withdraws everything the plane set up in the kernel (clean stop).
    fn shutdown(&self) {}
}

/// One done step, and how to undo it.
enum Undo {
    Remove(Id),
    Shrink(Id, u64),
    Unexport(Id, Id),
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
            // A new or changed SDT's addresses start listening before the change is committed,
            // so a busy address fails the request; the ones it no longer has stop in `finish`.
            Effect::SdtCreated(sdt) | Effect::SdtConfigured(sdt) => {
                let listening = plane.listening();
                for listener in sdt_listeners(sdt).filter(|l| !listening.contains(l)) {
                    plane.listen(&listener)?;
                    done.push(Undo::StopListening(listener));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether `effects` have a destructive part for `finish`: removals, unmappings, and SDT
/// changes (the listeners no SDT wants any more are stopped there).
pub fn destroys(effects: &[Effect]) -> bool {
    effects.iter().any(|e| {
        matches!(
            e,
            Effect::MappingRemoved { .. }
                | Effect::VolumeRemoved { .. }
                | Effect::HostRemoved { .. }
                | Effect::SdtConfigured(_)
                | Effect::SdtRemoved { .. }
        )
    })
}

/// Runs the destructive part of `effects` after the commit; `model` is the state after it.
/// Failures are logged.
pub fn finish(plane: &dyn DataPlane, model: &Model, effects: &[Effect]) {
    if effects.iter().any(|e| matches!(e, Effect::SdtConfigured(_) | Effect::SdtRemoved { .. })) {
        stop_unwanted_listeners(plane, model);
    }
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

fn stop_unwanted_listeners(plane: &dyn DataPlane, model: &Model) {
    let wanted = listeners(model);
    for listener in plane.listening().difference(&wanted) {
        if let Err(e) = plane.stop_listening(listener) {
            tracing::warn!("data plane cleanup after a committed change: {e}");
        }
    }
}

/// Makes the plane listen exactly where `model` says (after a reset to the topology).
/// Failures are logged: the model is already in place.
pub fn reconcile_listeners(plane: &dyn DataPlane, model: &Model) {
    stop_unwanted_listeners(plane, model);
    let listening = plane.listening();
    for listener in listeners(model).difference(&listening) {
        if let Err(e) = plane.listen(listener) {
            tracing::warn!("data plane: listening on {}:{}: {e}", listener.traddr, listener.trsvcid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::settings::IpRole;
    use crate::model::topology::Topology;
    use crate::model::{Command, NewSdt, SdtChange};

    fn listener(traddr: &str, trsvcid: u16) -> Listener {
        Listener { traddr: traddr.to_string(), trsvcid }
    }

    fn run(model: &mut Model, command: Command) -> Vec<Effect> {
        let plan = model.plan(&command, 0).expect("allowed");
        model.commit(&plan.effects);
        plan.effects
    }

    #[test]
    fn listeners_follow_sdt_addresses_roles_ports_and_maintenance() {
        let mut model = Model::new(&Topology::default_embedded(), 1);
        let topology: BTreeSet<Listener> = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
            .into_iter()
            .flat_map(|ip| [listener(ip, 4420), listener(ip, 8009)])
            .collect();
        assert_eq!(listeners(&model), topology);

        let domain = model.domain_by_name("pd1").expect("pd1").id;
        let new = NewSdt {
            domain,
            name: "sdt-x".into(),
            ips: vec![("127.0.0.9".into(), IpRole::StorageAndHost), ("127.0.0.10".into(), IpRole::StorageOnly)],
            storage_port: None,
            nvme_port: Some(4421),
            discovery_port: None,
        };
        let effects = run(&mut model, Command::CreateSdt(Box::new(new)));
        let Effect::SdtCreated(sdt) = &effects[0] else { panic!("{effects:?}") };
        let sdt = sdt.id;
        // A storage-only address serves no hosts.
        let with_new: BTreeSet<Listener> =
            topology.iter().cloned().chain([listener("127.0.0.9", 4421), listener("127.0.0.9", 8009)]).collect();
        assert_eq!(listeners(&model), with_new);

        run(&mut model, Command::ModifySdt { sdt, change: SdtChange::DiscoveryPort(8010) });
        run(
            &mut model,
            Command::ModifySdt {
                sdt,
                change: SdtChange::ModifyIpRole { ip: "127.0.0.10".into(), role: IpRole::HostOnly },
            },
        );
        let moved: BTreeSet<Listener> = topology
            .iter()
            .cloned()
            .chain(["127.0.0.9", "127.0.0.10"].into_iter().flat_map(|ip| [listener(ip, 4421), listener(ip, 8010)]))
            .collect();
        assert_eq!(listeners(&model), moved);

        run(&mut model, Command::ModifySdt { sdt, change: SdtChange::EnterMaintenance });
        assert_eq!(listeners(&model), topology, "an SDT in maintenance serves no hosts");
        run(&mut model, Command::ModifySdt { sdt, change: SdtChange::ExitMaintenance });
        assert_eq!(listeners(&model), moved);
        run(&mut model, Command::RemoveSdt { sdt });
        assert_eq!(listeners(&model), topology);
    }

    /// A plane that records what it listens on, to see `prepare`, `finish` and undo drive it.
    #[derive(Default)]
    struct Recorder(std::sync::Mutex<BTreeSet<Listener>>);

    impl DataPlane for Recorder {
        fn kind(&self) -> PlaneKind {
            PlaneKind::None
        }
        fn create(&self, _: VolumeSpec) -> Result<(), PlaneError> {
            Ok(())
        }
        fn snapshot(&self, _: Id, _: VolumeSpec) -> Result<(), PlaneError> {
            Ok(())
        }
        fn resize(&self, _: Id, _: u64) -> Result<(), PlaneError> {
            Ok(())
        }
        fn overwrite(&self, _: Id, _: Id) -> Result<(), PlaneError> {
            Ok(())
        }
        fn remove(&self, _: Id) -> Result<(), PlaneError> {
            Ok(())
        }
        fn listen(&self, l: &Listener) -> Result<(), PlaneError> {
            self.0.lock().unwrap().insert(l.clone());
            Ok(())
        }
        fn stop_listening(&self, l: &Listener) -> Result<(), PlaneError> {
            self.0.lock().unwrap().remove(l);
            Ok(())
        }
        fn listening(&self) -> BTreeSet<Listener> {
            self.0.lock().unwrap().clone()
        }
    }

    /// Plans, prepares, commits and finishes one command as the gateway does.
    fn carry_out(plane: &Recorder, model: &mut Model, command: Command) {
        let plan = model.plan(&command, 0).expect("allowed");
        let prepared = prepare(plane, model, &plan.effects).expect("prepared");
        drop(prepared);
        model.commit(&plan.effects);
        finish(plane, model, &plan.effects);
    }

    #[test]
    fn the_plane_listens_where_the_model_says_through_every_change() {
        let mut model = Model::new(&Topology::default_embedded(), 1);
        let plane = Recorder::default();
        reconcile_listeners(&plane, &model);
        assert_eq!(plane.listening(), listeners(&model));

        let domain = model.domain_by_name("pd2").expect("pd2").id;
        let new = NewSdt {
            domain,
            name: "sdt-y".into(),
            ips: vec![("127.0.0.9".into(), IpRole::StorageAndHost)],
            storage_port: None,
            nvme_port: None,
            discovery_port: None,
        };
        let plan = model.plan(&Command::CreateSdt(Box::new(new.clone())), 0).unwrap();
        // A change that is not journaled takes its new listeners back.
        prepare(&plane, &model, &plan.effects).unwrap().undo(&plane);
        assert_eq!(plane.listening(), listeners(&model));

        carry_out(&plane, &mut model, Command::CreateSdt(Box::new(new)));
        assert!(plane.listening().contains(&listener("127.0.0.9", 4420)));
        let sdt = model.sdts().find(|s| s.name == "sdt-y").unwrap().id;
        carry_out(&plane, &mut model, Command::ModifySdt { sdt, change: SdtChange::NvmePort(4430) });
        assert!(plane.listening().contains(&listener("127.0.0.9", 4430)));
        assert!(!plane.listening().contains(&listener("127.0.0.9", 4420)));
        assert_eq!(plane.listening(), listeners(&model));
        carry_out(&plane, &mut model, Command::RemoveSdt { sdt });
        assert_eq!(plane.listening(), listeners(&model));
        assert!(!plane.listening().iter().any(|l| l.traddr == "127.0.0.9"));
    }
}
