//! How PowerFlex changes reach the data plane: the MDM's effects as plane steps, and the
//! saved state as the plane sees it at start. SDTs are where hosts connect: every host-facing
//! address of every SDT not in maintenance listens for NVMe/TCP and discovery.

use std::collections::BTreeSet;

use super::{DataPlane, Export, Key, Listener, Namespace, PlaneError, Prepared, Preparing, Saved, VolumeSpec};
use crate::model::{AccessMode, Effect, HostKind, Id, Mapping, Model, Provisioning, Sdt, Volume};

impl From<Id> for Key {
    fn from(id: Id) -> Key {
        Key(id.0)
    }
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

fn spec(v: &Volume) -> VolumeSpec {
    VolumeSpec {
        id: v.id.into(),
        size_bytes: v.size_kb * 1024,
        thick: !v.is_snapshot && v.provisioning == Provisioning::Thick,
    }
}

fn export(model: &Model, v: &Volume, mapping: &Mapping) -> Export {
    let host_nqn = model.host(mapping.host).and_then(|h| match &h.kind {
        HostKind::Nvme { nqn, .. } => Some(nqn.clone()),
        HostKind::Sdc { .. } => None,
    });
    let namespace = Namespace {
        volume: v.id.into(),
        nsid: v.nsid,
        nguid: model.nguid(v.id),
        read_only: mapping.access_mode != AccessMode::ReadWrite,
    };
    Export { host: mapping.host.into(), host_nqn, namespace, iscsi: None }
}

/// The saved state as a plane reconciles with it at start.
pub fn saved(model: &Model) -> Saved {
    Saved {
        system_nqn: model.system().system_nqn.clone(),
        volumes: model.volumes().map(spec).collect(),
        listeners: listeners(model),
        exports: model.volumes().flat_map(|v| v.mappings.iter().map(move |m| export(model, v, m))).collect(),
        iscsi: None,
    }
}

/// Runs the constructive part of `effects` against `plane`. `model` is the state *before* the
/// commit. On failure, undoes what it did and returns the error.
pub fn prepare(plane: &dyn DataPlane, model: &Model, effects: &[Effect]) -> Result<Prepared, PlaneError> {
    super::prepare(plane, |steps: &mut Preparing<'_>| {
        for effect in effects {
            match effect {
                Effect::VolumeCreated(v) => steps.create(spec(v), v.ancestor.map(Key::from))?,
                Effect::VolumeResized { volume, size_kb } => {
                    let old = model.volume(*volume).map_or(0, |v| v.size_kb * 1024);
                    steps.resize((*volume).into(), old, size_kb * 1024)?;
                }
                Effect::ContentOverwritten { volume, source } => steps.overwrite((*volume).into(), (*source).into())?,
                Effect::MappingAdded { volume, mapping } => {
                    let Some(v) = model.volume(*volume) else { continue };
                    steps.export(&export(model, v, mapping))?;
                }
                // A new or changed SDT's addresses start listening before the change is
                // committed, so a busy address fails the request; the ones it no longer has
                // stop in `finish`.
                Effect::SdtCreated(sdt) | Effect::SdtConfigured(sdt) => {
                    for listener in sdt_listeners(sdt) {
                        steps.listen(listener)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    })
}

/// Whether preparing `effects` is bookkeeping only: volume creates the plane keeps in memory
/// (`DataPlane::creates_in_memory`) and effects `prepare` has nothing to do for.
pub fn in_memory(plane: &dyn DataPlane, effects: &[Effect]) -> bool {
    effects.iter().all(|effect| match effect {
        Effect::VolumeCreated(v) => plane.creates_in_memory(&spec(v), v.ancestor.map(Key::from)),
        Effect::VolumeResized { .. }
        | Effect::ContentOverwritten { .. }
        | Effect::MappingAdded { .. }
        | Effect::SdtCreated(_)
        | Effect::SdtConfigured(_) => false,
        _ => true,
    })
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
        super::log_cleanup(match effect {
            Effect::MappingRemoved { volume, host } => plane.unexport((*host).into(), (*volume).into()),
            Effect::VolumeRemoved { volume } => plane.remove((*volume).into()),
            Effect::HostRemoved { host } => plane.remove_host((*host).into()),
            _ => Ok(()),
        });
    }
}

fn stop_unwanted_listeners(plane: &dyn DataPlane, model: &Model) {
    let wanted = listeners(model);
    for listener in plane.listening().difference(&wanted) {
        super::log_cleanup(plane.stop_listening(listener));
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
    use crate::dataplane::{DataPlane, Key, Listener, PlaneError, PlaneKind, VolumeSpec};
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
        fn snapshot(&self, _: Key, _: VolumeSpec) -> Result<(), PlaneError> {
            Ok(())
        }
        fn resize(&self, _: Key, _: u64) -> Result<(), PlaneError> {
            Ok(())
        }
        fn overwrite(&self, _: Key, _: Key) -> Result<(), PlaneError> {
            Ok(())
        }
        fn remove(&self, _: Key) -> Result<(), PlaneError> {
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

    #[test]
    fn only_creates_the_file_plane_keeps_in_memory_skip_the_blocking_hand_off() {
        let dir = tempfile::tempdir().unwrap();
        let plane = crate::dataplane::FilePlane::open(Some(dir.path()), &[]).unwrap();
        let mut model = Model::new(&Topology::default_embedded(), 1);
        let pool = model.pools().next().expect("a pool").id;
        let create = |provisioning| Command::CreateVolume {
            pool,
            domain: None,
            name: None,
            size_kb: 8 * 1024 * 1024,
            provisioning,
            use_rmcache: false,
        };
        let mut carry = |command: Command| {
            let plan = model.plan(&command, 0).expect("allowed");
            let cheap = in_memory(&plane, &plan.effects);
            drop(prepare(&plane, &model, &plan.effects).expect("prepared"));
            model.commit(&plan.effects);
            (cheap, plan.effects)
        };
        let (cheap, effects) = carry(create(Provisioning::Thin));
        assert!(cheap, "a thin volume's file waits to be needed");
        let Effect::VolumeCreated(thin) = &effects[0] else { panic!("{effects:?}") };
        let snapshot = Command::SnapshotVolumes {
            defs: vec![(thin.id, None)],
            access_mode: AccessMode::ReadWrite,
            retention_min: None,
        };
        assert!(carry(snapshot.clone()).0, "a snapshot of an untouched volume is all zeros, in memory too");
        assert!(!carry(create(Provisioning::Thick)).0, "a thick volume is reserved on the disk");
        plane.write_at(thin.id.into(), 0, b"data").unwrap();
        assert!(!carry(snapshot).0, "a snapshot of a volume with data copies its file");
    }
}
