//! How Alletra changes reach the data plane: the array's effects as plane steps, and the
//! saved state as the plane sees it at start.
//!
//! A VLUN template exports its volume to a host, or to every host of a host set (port-present
//! templates name no host and export nothing here). NVMe hosts find the namespace by its
//! NGUID, the volume's `nguid`; its namespace id is the volume id, unique in a host's
//! subsystem. The NVMe ports (protocol 6) listen for NVMe/TCP (4420) and discovery (8009).
//! Hosts with iSCSI names see the volume on the iSCSI ports (protocol 2, 3260: one target per
//! port named by its `iSCSIName`; the template's port only, when it names one) at the
//! template's LUN, with the volume's `wwn` as the disk's NAA designator.
//!
//! Unlike PowerFlex's, a deletion effect names only the object, so what it takes away from
//! the plane is worked out before the commit, from the model as it was (`Cleanup`).

use std::collections::BTreeSet;

use super::lio::Portal;
use super::{
    DataPlane, Export, IscsiPath, IscsiPorts, Key, Listener, Namespace, PlaneError, Prepared, Preparing, Saved,
    VolumeSpec,
};
use crate::alletra::model::topology::PortProtocol;
use crate::alletra::model::{Effect, ExportTarget, Model, Port, Provisioning, SetKind, Vlun, Volume};

const NVME_TCP_PORT: u16 = 4420;
const DISCOVERY_PORT: u16 = 8009;
const ISCSI_PORT: u16 = 3260;

/// The plane's name for an Alletra volume or host id.
pub fn key(id: u32) -> Key {
    Key(id.into())
}

fn spec(v: &Volume) -> VolumeSpec {
    VolumeSpec {
        id: key(v.id),
        size_bytes: v.size_mib << 20,
        thick: !v.is_virtual_copy() && v.provisioning == Provisioning::Full,
    }
}

/// Where NVMe/TCP hosts connect through one port: its NVMe/TCP and discovery listeners, on
/// an NVMe port; none on an iSCSI port.
pub fn port_listeners(port: &Port) -> Vec<Listener> {
    if port.protocol != PortProtocol::Nvme {
        return Vec::new();
    }
    [NVME_TCP_PORT, DISCOVERY_PORT].map(|trsvcid| Listener { traddr: port.ip.clone(), trsvcid }).to_vec()
}

/// Where NVMe/TCP hosts connect: every NVMe port.
pub fn listeners(model: &Model) -> BTreeSet<Listener> {
    model.ports().flat_map(port_listeners).collect()
}

/// The hosts a template exports to, with host sets' members as `members` gives them.
fn hosts_of<'a>(vlun: &Vlun, members: impl Fn(u32) -> Vec<u32> + 'a) -> Vec<u32> {
    match vlun.target {
        ExportTarget::Host(h) => vec![h],
        ExportTarget::HostSet(s) => members(s),
        ExportTarget::Port => Vec::new(),
    }
}

fn members_now(model: &Model) -> impl Fn(u32) -> Vec<u32> + '_ {
    |set| model.set(SetKind::Host, set).map_or_else(Vec::new, |s| s.members.iter().copied().collect())
}

/// The export of `volume` to `host` by the first of `templates` that reaches the host: over
/// NVMe/TCP with the host's NQN, over iSCSI with its initiator names, at the template's LUN, on
/// the template's port or every iSCSI port.
fn export(model: &Model, volume: &Volume, host: u32, templates: &[&Vlun], members: impl Fn(u32) -> Vec<u32>) -> Export {
    let h = model.host(host);
    let host_nqn = h.and_then(|h| h.nqn.clone());
    let namespace = Namespace {
        volume: key(volume.id),
        nsid: volume.id,
        nguid: volume.nguid.clone(),
        read_only: volume.read_only(),
    };
    let template = templates.iter().find(|t| hosts_of(t, &members).contains(&host));
    let iscsi = match (h, template) {
        (Some(h), Some(t)) if !h.iscsi_names.is_empty() => {
            let targets: Vec<String> = model
                .ports()
                .filter(|p| p.protocol == PortProtocol::Iscsi && t.port.is_none_or(|pos| pos == p.pos))
                .map(|p| p.target_name.clone())
                .collect();
            (!targets.is_empty()).then(|| IscsiPath {
                initiators: h.iscsi_names.clone(),
                targets,
                lun: t.lun,
                wwn: volume.wwn.clone(),
            })
        }
        _ => None,
    };
    Export { host: key(host), host_nqn, namespace, iscsi }
}

/// The iSCSI ports as LIO serves them, under the HBA numbered by the system id.
fn iscsi_ports(model: &Model) -> Option<IscsiPorts> {
    let portals: Vec<Portal> = model
        .ports()
        .filter(|p| p.protocol == PortProtocol::Iscsi)
        .map(|p| Portal { iqn: p.target_name.clone(), addr: p.ip.clone(), port: ISCSI_PORT })
        .collect();
    (!portals.is_empty()).then(|| IscsiPorts { hba: model.system().id, portals })
}

/// The saved state as a plane reconciles with it at start.
pub fn saved(model: &Model) -> Saved {
    let mut exports = BTreeSet::new();
    for t in model.vluns() {
        exports.extend(hosts_of(t, members_now(model)).into_iter().map(|h| (h, t.volume)));
    }
    let exported = |(h, v): (u32, u32)| {
        let volume = model.volume(v)?;
        let templates: Vec<&Vlun> = model.volume_vluns(v).collect();
        Some(export(model, volume, h, &templates, members_now(model)))
    };
    Saved {
        system_nqn: model.system_nqn(),
        volumes: model.volumes().map(spec).collect(),
        listeners: listeners(model),
        exports: exports.into_iter().filter_map(exported).collect(),
        iscsi: iscsi_ports(model),
    }
}

/// The model as it will be once `effects` are committed, as far as exports go: a plan is
/// small, so its effects are read rather than the model copied.
struct After<'a> {
    model: &'a Model,
    effects: &'a [Effect],
}

impl After<'_> {
    fn members(&self, set: u32) -> Vec<u32> {
        for effect in self.effects.iter().rev() {
            match effect {
                Effect::SetPut { kind: SetKind::Host, set: s } if s.id == set => {
                    return s.members.iter().copied().collect()
                }
                Effect::SetDeleted { kind: SetKind::Host, set: s } if *s == set => return Vec::new(),
                _ => {}
            }
        }
        members_now(self.model)(set)
    }

    fn deleted(&self, vlun: u32) -> bool {
        self.effects.iter().any(|e| matches!(e, Effect::VlunDeleted { vlun: v } if *v == vlun))
    }

    /// The templates that will exist for `volume`.
    fn templates(&self, volume: u32) -> Vec<&Vlun> {
        let kept = self.model.volume_vluns(volume).filter(|t| !self.deleted(t.id));
        let created = self.effects.iter().filter_map(|e| match e {
            Effect::VlunCreated(t) if t.volume == volume => Some(t.as_ref()),
            _ => None,
        });
        kept.chain(created).collect()
    }

    fn exports(&self, host: u32, volume: u32) -> bool {
        self.templates(volume).into_iter().any(|t| hosts_of(t, |s| self.members(s)).contains(&host))
    }
}

fn exported_now(model: &Model, host: u32, volume: u32) -> bool {
    model.volume_vluns(volume).any(|t| hosts_of(t, members_now(model)).contains(&host))
}

/// The (host, volume) pairs whose export `effects` may change.
fn touched(model: &Model, after: &After<'_>) -> BTreeSet<(u32, u32)> {
    let mut pairs = BTreeSet::new();
    let mut add = |hosts: Vec<u32>, volume: u32| pairs.extend(hosts.into_iter().map(|h| (h, volume)));
    // Every host that was or will be in the set, for every volume exported to the set.
    let set_changed = |id: u32, add: &mut dyn FnMut(Vec<u32>, u32)| {
        let mut hosts = members_now(model)(id);
        hosts.extend(after.members(id));
        for t in model.target_vluns(ExportTarget::HostSet(id)) {
            add(hosts.clone(), t.volume);
        }
    };
    for effect in after.effects {
        match effect {
            Effect::VlunCreated(t) => add(hosts_of(t, |s| after.members(s)), t.volume),
            Effect::VlunDeleted { vlun } => {
                if let Some(t) = model.vlun(*vlun) {
                    add(hosts_of(t, members_now(model)), t.volume);
                }
            }
            Effect::SetPut { kind: SetKind::Host, set } => set_changed(set.id, &mut add),
            Effect::SetDeleted { kind: SetKind::Host, set } => set_changed(*set, &mut add),
            _ => {}
        }
    }
    pairs
}

/// A destructive step, found before the commit and run after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleanup {
    Unexport { host: Key, volume: Key },
    Remove(Key),
    RemoveHost(Key),
}

/// Runs the constructive part of `effects` against `plane` and works out the destructive part
/// (`finish`). `model` is the state *before* the commit. On failure, undoes what it did.
pub fn prepare(
    plane: &dyn DataPlane,
    model: &Model,
    effects: &[Effect],
) -> Result<(Prepared, Vec<Cleanup>), PlaneError> {
    let after = After { model, effects };
    let (mut gained, mut lost) = (Vec::new(), Vec::new());
    for (host, volume) in touched(model, &after) {
        match (exported_now(model, host, volume), after.exports(host, volume)) {
            (false, true) => gained.push((host, volume)),
            (true, false) => lost.push((host, volume)),
            _ => {}
        }
    }
    let prepared = super::prepare(plane, |steps: &mut Preparing<'_>| {
        for effect in effects {
            match effect {
                Effect::VolumeCreated(v) => {
                    let source = match v.origin {
                        crate::alletra::model::Origin::VirtualCopy { parent, .. } => Some(key(parent)),
                        _ => None,
                    };
                    steps.create(spec(v), source)?;
                }
                Effect::VolumeResized { volume, size_mib } => {
                    let old = model.volume(*volume).map_or(0, |v| v.size_mib << 20);
                    steps.resize(key(*volume), old, size_mib << 20)?;
                }
                Effect::ContentCopied { source, destination } => steps.overwrite(key(*destination), key(*source))?,
                _ => {}
            }
        }
        for (host, volume) in &gained {
            // A template's volume exists before the change (the model refuses others).
            if let Some(v) = model.volume(*volume) {
                steps.export(&export(model, v, *host, &after.templates(*volume), |s| after.members(s)))?;
            }
        }
        Ok(())
    })?;
    let mut cleanups: Vec<Cleanup> =
        lost.into_iter().map(|(host, volume)| Cleanup::Unexport { host: key(host), volume: key(volume) }).collect();
    for effect in effects {
        match effect {
            Effect::VolumeDeleted { volume } => cleanups.push(Cleanup::Remove(key(*volume))),
            Effect::HostDeleted { host } => cleanups.push(Cleanup::RemoveHost(key(*host))),
            _ => {}
        }
    }
    Ok((prepared, cleanups))
}

/// Runs the destructive steps after the commit. Failures are logged.
pub fn finish(plane: &dyn DataPlane, cleanups: &[Cleanup]) {
    for cleanup in cleanups {
        super::log_cleanup(match cleanup {
            Cleanup::Unexport { host, volume } => plane.unexport(*host, *volume),
            Cleanup::Remove(volume) => plane.remove(*volume),
            Cleanup::RemoveHost(host) => plane.remove_host(*host),
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use super::*;
    use crate::alletra::model::topology::Topology;
    use crate::alletra::model::{Command, ExportTo, MemberOp, NewHost, NewVlun, NewVolume, SetChange};
    use crate::dataplane::PlaneKind;

    /// A plane that records which (host, volume) pairs it exports and which volumes exist.
    #[derive(Default)]
    struct Recorder {
        exports: Mutex<BTreeSet<(Key, Key)>>,
        volumes: Mutex<BTreeSet<Key>>,
        /// The iSCSI side of every export made, in order.
        iscsi: Mutex<Vec<Option<IscsiPath>>>,
    }

    impl DataPlane for Recorder {
        fn kind(&self) -> PlaneKind {
            PlaneKind::None
        }
        fn create(&self, v: VolumeSpec) -> Result<(), PlaneError> {
            self.volumes.lock().unwrap().insert(v.id);
            Ok(())
        }
        fn snapshot(&self, _: Key, v: VolumeSpec) -> Result<(), PlaneError> {
            self.create(v)
        }
        fn resize(&self, _: Key, _: u64) -> Result<(), PlaneError> {
            Ok(())
        }
        fn overwrite(&self, _: Key, _: Key) -> Result<(), PlaneError> {
            Ok(())
        }
        fn remove(&self, v: Key) -> Result<(), PlaneError> {
            self.volumes.lock().unwrap().remove(&v);
            Ok(())
        }
        fn export(&self, e: &Export) -> Result<(), PlaneError> {
            self.exports.lock().unwrap().insert((e.host, e.namespace.volume));
            self.iscsi.lock().unwrap().push(e.iscsi.clone());
            Ok(())
        }
        fn unexport(&self, host: Key, volume: Key) -> Result<(), PlaneError> {
            self.exports.lock().unwrap().remove(&(host, volume));
            Ok(())
        }
    }

    /// Plans, prepares, commits and finishes one command as the HTTP layer does.
    fn carry_out(plane: &Recorder, model: &mut Model, command: Command) {
        let plan = model.plan(&command, 0).expect("allowed");
        let (prepared, cleanups) = prepare(plane, model, &plan.effects).expect("prepared");
        drop(prepared);
        model.commit(&plan.effects);
        finish(plane, &cleanups);
    }

    fn thin_volume(name: &str) -> NewVolume {
        NewVolume::plain(name, "SSD_r6", 256, Provisioning::Thin)
    }

    fn exported(plane: &Recorder) -> BTreeSet<(Key, Key)> {
        plane.exports.lock().unwrap().clone()
    }

    #[test]
    fn host_set_templates_follow_membership_and_deletions_withdraw() {
        let mut model = Model::new(&Topology::default_embedded(), 1);
        let plane = Recorder::default();
        for name in ["v1", "v2"] {
            carry_out(&plane, &mut model, Command::CreateVolume(thin_volume(name)));
        }
        for (name, nqn) in [("h1", "nqn.a"), ("h2", "nqn.b")] {
            let new = NewHost { name: name.into(), nqn: Some(nqn.into()), ..Default::default() };
            carry_out(&plane, &mut model, Command::CreateHost(new));
        }
        let (v1, v2) = (model.volume_by_name("v1").unwrap().id, model.volume_by_name("v2").unwrap().id);
        let (h1, h2) = (model.host_by_name("h1").unwrap().id, model.host_by_name("h2").unwrap().id);
        let pair = |h: u32, v: u32| (key(h), key(v));
        let create_set =
            Command::CreateSet { kind: SetKind::Host, name: "hs".into(), comment: None, members: vec!["h1".into()] };
        carry_out(&plane, &mut model, create_set);
        let vlun = |volume: &str, to: ExportTo| {
            Command::CreateVlun(NewVlun {
                volume: volume.into(),
                lun: 0,
                auto_lun: true,
                max_auto_lun: 0,
                to: Some(to),
                port: None,
            })
        };
        carry_out(&plane, &mut model, vlun("v1", ExportTo::HostSet("hs".into())));
        carry_out(&plane, &mut model, vlun("v2", ExportTo::Host("h2".into())));
        assert_eq!(exported(&plane), BTreeSet::from([pair(h1, v1), pair(h2, v2)]));

        let members = |op| SetChange { members: Some((op, vec!["h2".into()])), ..Default::default() };
        carry_out(
            &plane,
            &mut model,
            Command::ModifySet { kind: SetKind::Host, name: "hs".into(), change: members(MemberOp::Add) },
        );
        assert_eq!(exported(&plane), BTreeSet::from([pair(h1, v1), pair(h2, v1), pair(h2, v2)]));
        carry_out(
            &plane,
            &mut model,
            Command::ModifySet { kind: SetKind::Host, name: "hs".into(), change: members(MemberOp::Remove) },
        );
        assert_eq!(exported(&plane), BTreeSet::from([pair(h1, v1), pair(h2, v2)]));

        let lun = model.volume_vluns(v2).next().unwrap().lun;
        let delete = Command::DeleteVlun { volume: "v2".into(), lun, host: Some("h2".into()), port: None };
        carry_out(&plane, &mut model, delete);
        assert_eq!(exported(&plane), BTreeSet::from([pair(h1, v1)]));
        carry_out(&plane, &mut model, Command::DeleteVolume { name: "v2".into(), cascade: false });
        assert_eq!(*plane.volumes.lock().unwrap(), BTreeSet::from([key(v1)]));

        // What a restart sets the plane up with is what the changes left.
        let saved = saved(&model);
        let at_start: BTreeSet<_> = saved.exports.iter().map(|e| (e.host, e.namespace.volume)).collect();
        assert_eq!(at_start, exported(&plane));
        assert_eq!(saved.exports[0].namespace.nguid, model.volume(v1).unwrap().nguid);
        assert_eq!(saved.exports[0].host_nqn.as_deref(), Some("nqn.a"));
        assert_eq!(saved.listeners.len(), 4, "two NVMe ports, NVMe/TCP and discovery each");
    }

    #[test]
    fn iscsi_hosts_get_the_luns_wwn_and_port_targets() {
        let mut model = Model::new(&Topology::default_embedded(), 1);
        let plane = Recorder::default();
        carry_out(&plane, &mut model, Command::CreateVolume(thin_volume("v")));
        let iqn = "iqn.1993-08.org.debian:01:h";
        let host = NewHost { name: "hi".into(), iscsi_names: vec![iqn.into()], ..Default::default() };
        carry_out(&plane, &mut model, Command::CreateHost(host));
        let nvme = NewHost { name: "hn".into(), nqn: Some("nqn.n".into()), ..Default::default() };
        carry_out(&plane, &mut model, Command::CreateHost(nvme));
        let vlun = |host: &str, lun: u32| {
            Command::CreateVlun(NewVlun {
                volume: "v".into(),
                lun,
                auto_lun: false,
                max_auto_lun: 0,
                to: Some(ExportTo::Host(host.into())),
                port: None,
            })
        };
        carry_out(&plane, &mut model, vlun("hi", 5));
        carry_out(&plane, &mut model, vlun("hn", 1));

        let targets: Vec<String> =
            model.ports().filter(|p| p.protocol == PortProtocol::Iscsi).map(|p| p.target_name.clone()).collect();
        assert_eq!(targets.len(), 2);
        let wwn = model.volume_by_name("v").unwrap().wwn.clone();
        let expected = IscsiPath { initiators: vec![iqn.into()], targets: targets.clone(), lun: 5, wwn };
        assert_eq!(*plane.iscsi.lock().unwrap(), vec![Some(expected.clone()), None], "the NVMe host has no iSCSI side");
        let saved = saved(&model);
        let at_start: Vec<_> = saved.exports.iter().map(|e| e.iscsi.clone()).collect();
        assert!(at_start.contains(&Some(expected)) && at_start.contains(&None), "{at_start:?}");
        let ports = saved.iscsi.expect("the default topology has iSCSI ports");
        assert_eq!(ports.hba, model.system().id);
        let portals: Vec<(String, u16)> = ports.portals.iter().map(|p| (p.iqn.clone(), p.port)).collect();
        assert_eq!(portals, targets.into_iter().map(|t| (t, 3260)).collect::<Vec<_>>());
    }
}
