//! Rules of the model, checked without HTTP: one test per rule, through `check`-style helpers.

use super::topology::Topology;
use super::*;

const GIB: u64 = 1024 * 1024;

struct Sim {
    model: Model,
    now: u64,
    /// Every committed effect, to check that replaying them rebuilds the same model.
    journal: Vec<Effect>,
}

impl Sim {
    fn new() -> Sim {
        Sim { model: Model::new(&Topology::default_embedded(), 7), now: 1_700_000_000, journal: vec![] }
    }

    fn run(&mut self, command: Command) -> Result<Reply, Fault> {
        let plan = self.model.plan(&command, self.now)?;
        self.model.commit(&plan.effects);
        self.journal.extend(plan.effects);
        Ok(plan.reply)
    }

    fn pool(&self) -> Id {
        self.model.pools().find(|p| p.name == "sp1").unwrap().id
    }

    fn create(&mut self, name: &str, size_kb: u64) -> Result<Id, Fault> {
        let pool = self.pool();
        match self.run(Command::CreateVolume {
            pool,
            domain: None,
            name: Some(name.into()),
            size_kb,
            provisioning: Provisioning::Thin,
            use_rmcache: false,
        })? {
            Reply::Created(id) => Ok(id),
            other => panic!("unexpected reply {other:?}"),
        }
    }

    fn snapshot(&mut self, volume: Id, name: Option<&str>) -> Result<Id, Fault> {
        match self.run(Command::SnapshotVolumes {
            defs: vec![(volume, name.map(str::to_string))],
            access_mode: AccessMode::ReadWrite,
            retention_min: None,
        })? {
            Reply::Snapshots { volumes, .. } => Ok(volumes[0]),
            other => panic!("unexpected reply {other:?}"),
        }
    }

    fn host(&mut self, nqn: &str) -> Id {
        match self
            .run(Command::CreateNvmeHost { nqn: nqn.into(), name: None, max_num_paths: None, max_num_sys_ports: None })
            .unwrap()
        {
            Reply::Created(id) => id,
            other => panic!("unexpected reply {other:?}"),
        }
    }

    fn map(&mut self, volume: Id, host: Id, host_api: bool) -> Result<Reply, Fault> {
        self.run(Command::AddMapping {
            volume,
            host: HostRef::Id(host),
            allow_multiple: true,
            access_mode: None,
            host_api,
        })
    }
}

fn code(result: Result<impl std::fmt::Debug, Fault>) -> u32 {
    result.expect_err("the command must fail").rc
}

#[test]
fn sizes_round_up_to_8_gib_and_zero_or_huge_is_refused() {
    let mut sim = Sim::new();
    let id = sim.create("a", 8192).unwrap();
    assert_eq!(sim.model.volume(id).unwrap().size_kb, 8 * GIB);
    let id = sim.create("b", 9 * GIB).unwrap();
    assert_eq!(sim.model.volume(id).unwrap().size_kb, 16 * GIB);
    assert_eq!(code(sim.create("c", 0)), 225);
    assert_eq!(code(sim.create("d", (1_048_576 + 1) * GIB)), 190);
}

#[test]
fn names_are_checked_for_length_characters_and_uniqueness() {
    let mut sim = Sim::new();
    sim.create(&"x".repeat(31), GIB).unwrap();
    assert_eq!(code(sim.create(&"y".repeat(32), GIB)), 226);
    assert_eq!(code(sim.create("has space", GIB)), 227);
    assert_eq!(code(sim.create("caf\u{e9}", GIB)), 227);
    sim.create("c_AbC+/=.b", GIB).unwrap();
    assert_eq!(code(sim.create("c_AbC+/=.b", GIB)), 99);
}

#[test]
fn a_vtree_holds_the_base_and_126_snapshots() {
    let mut sim = Sim::new();
    let base = sim.create("base", GIB).unwrap();
    let mut last = base;
    for n in 0..126 {
        // Snapshots of snapshots count against the same tree.
        last = sim.snapshot(if n % 2 == 0 { base } else { last }, None).unwrap();
    }
    let fault = sim.snapshot(last, None).unwrap_err();
    assert_eq!((fault.rc, fault.detailed), (182, true));
    let tree = sim.model.volume(base).unwrap().vtree;
    assert_eq!(sim.model.vtree(tree).unwrap().members.len(), 127);
}

#[test]
fn snapshots_share_the_tree_and_point_at_their_ancestor() {
    let mut sim = Sim::new();
    let base = sim.create("base", 20 * GIB).unwrap();
    let snap = sim.snapshot(base, Some("snap")).unwrap();
    let (b, s) = (sim.model.volume(base).unwrap(), sim.model.volume(snap).unwrap());
    assert_eq!((s.vtree, s.ancestor, s.size_kb, s.is_snapshot), (b.vtree, Some(base), b.size_kb, true));
    assert!(s.consistency_group.is_some());
}

#[test]
fn only_me_leaves_descendants_and_moves_them_up() {
    let mut sim = Sim::new();
    let base = sim.create("base", GIB).unwrap();
    let s1 = sim.snapshot(base, None).unwrap();
    let s2 = sim.snapshot(s1, None).unwrap();
    sim.run(Command::RemoveVolume { volume: s1, mode: RemoveMode::OnlyMe }).unwrap();
    assert!(sim.model.volume(s1).is_none());
    assert_eq!(sim.model.volume(s2).unwrap().ancestor, Some(base));
}

#[test]
fn remove_modes_choose_their_volumes() {
    let mut sim = Sim::new();
    let base = sim.create("base", GIB).unwrap();
    let s1 = sim.snapshot(base, None).unwrap();
    let s2 = sim.snapshot(s1, None).unwrap();
    assert_eq!(code(sim.run(Command::RemoveVolume { volume: s2, mode: RemoveMode::DescendantsOnly })), 183);
    sim.run(Command::RemoveVolume { volume: s1, mode: RemoveMode::DescendantsOnly }).unwrap();
    assert!(sim.model.volume(s2).is_none() && sim.model.volume(s1).is_some());
    sim.run(Command::RemoveVolume { volume: s1, mode: RemoveMode::IncludingDescendants }).unwrap();
    assert!(sim.model.volume(s1).is_none() && sim.model.volume(base).is_some());
    let s3 = sim.snapshot(base, None).unwrap();
    sim.run(Command::RemoveVolume { volume: s3, mode: RemoveMode::WholeVtree }).unwrap();
    assert_eq!(sim.model.volume_count(), 0);
    assert_eq!(sim.model.vtrees().count(), 0);
    assert_eq!(sim.model.pool(sim.pool()).unwrap().usage.volumes, 0);
}

#[test]
fn resize_grows_rounds_and_refuses_to_shrink() {
    let mut sim = Sim::new();
    let v = sim.create("v", 16 * GIB).unwrap();
    sim.run(Command::SetVolumeSize { volume: v, size_gb: 17 }).unwrap();
    assert_eq!(sim.model.volume(v).unwrap().size_kb, 24 * GIB);
    assert_eq!(code(sim.run(Command::SetVolumeSize { volume: v, size_gb: 8 })), 133);
}

#[test]
fn mapping_rules_and_their_codes() {
    let mut sim = Sim::new();
    let v = sim.create("v", GIB).unwrap();
    let h = sim.host("nqn.2014-08.org.nvmexpress:uuid:one");
    sim.map(v, h, true).unwrap();
    assert_eq!(code(sim.map(v, h, true)), 81);
    assert_eq!(code(sim.run(Command::RemoveVolume { volume: v, mode: RemoveMode::OnlyMe })), 104);
    assert_eq!(code(sim.run(Command::RemoveHost { host: h, host_api: false })), 180);
    let other = sim.host("nqn.2014-08.org.nvmexpress:uuid:two");
    let not_mapped = |sim: &mut Sim, host_api| {
        sim.run(Command::RemoveMapping { volume: v, target: MapTarget::One(HostRef::Id(other)), host_api })
    };
    assert_eq!(code(not_mapped(&mut sim, true)), 4039);
    assert_eq!(code(not_mapped(&mut sim, false)), 84);
    sim.run(Command::RemoveMapping { volume: v, target: MapTarget::All, host_api: false }).unwrap();
    assert!(sim.model.volume(v).unwrap().mappings.is_empty());
    assert_eq!(sim.model.host_volumes(h).count(), 0);
}

#[test]
fn overwrite_stays_inside_one_vtree() {
    let mut sim = Sim::new();
    let a = sim.create("a", GIB).unwrap();
    let b = sim.create("b", GIB).unwrap();
    let snap = sim.snapshot(a, None).unwrap();
    sim.run(Command::OverwriteVolumeContent { volume: a, source: snap }).unwrap();
    assert_eq!(code(sim.run(Command::OverwriteVolumeContent { volume: b, source: snap })), 198);
    assert_eq!(code(sim.run(Command::OverwriteVolumeContent { volume: a, source: a })), 330);
}

#[test]
fn thick_volumes_reserve_their_size_and_fail_when_the_pool_is_full() {
    let topology = Topology::parse(
        r#"{"protectionDomains":[{"name":"pd","storagePools":[{"name":"sp1","capacityGb":100,"sparePercentage":20}]}]}"#,
    )
    .unwrap();
    let mut sim = Sim { model: Model::new(&topology, 1), now: 0, journal: vec![] };
    let pool = sim.pool();
    let thick = |size_kb| Command::CreateVolume {
        pool,
        domain: None,
        name: None,
        size_kb,
        provisioning: Provisioning::Thick,
        use_rmcache: false,
    };
    // 100 GiB raw, 20 % spare, two copies: 40 GiB net, room for five 8 GiB thick volumes.
    for _ in 0..5 {
        sim.run(thick(8 * GIB)).unwrap();
    }
    assert_eq!(code(sim.run(thick(8 * GIB))), 67);
    assert_eq!(sim.model.pool(pool).unwrap().usage.thick_allocated_kb, 40 * GIB);
}

#[test]
fn replaying_the_journal_rebuilds_the_same_model() {
    let mut sim = Sim::new();
    let base = sim.create("base", GIB).unwrap();
    let snap = sim.snapshot(base, Some("s")).unwrap();
    let h = sim.host("nqn.2014-08.org.nvmexpress:uuid:replay");
    sim.map(snap, h, true).unwrap();
    sim.run(Command::SetVolumeName { volume: base, name: "renamed".into() }).unwrap();
    sim.run(Command::RemoveVolume { volume: base, mode: RemoveMode::OnlyMe }).unwrap();
    let mut replayed = Model::new(&Topology::default_embedded(), 7);
    replayed.commit(&sim.journal);
    let a = serde_json::to_value(&sim.model).unwrap();
    let b = serde_json::to_value(&replayed).unwrap();
    assert_eq!(a, b);
    // The next id drawn after a replay is the same as without it.
    let next_a = sim.create("next", GIB).unwrap();
    let mut again = Sim { model: replayed, now: 0, journal: vec![] };
    assert_eq!(again.create("next", GIB).unwrap(), next_a);
}

#[test]
fn ids_depend_on_the_seed_only() {
    let (mut a, mut b) = (Sim::new(), Sim::new());
    assert_eq!(a.create("x", GIB).unwrap(), b.create("x", GIB).unwrap());
    assert_eq!(a.model.system().id, b.model.system().id);
    let other = Model::new(&Topology::default_embedded(), 8);
    assert_ne!(other.system().id, a.model.system().id);
}

#[test]
fn nguid_is_volume_id_dell_oui_and_system_tail() {
    let sim = Sim::new();
    let system = sim.model.system().id.to_string();
    let nguid = sim.model.nguid(Id(0x694a2d140000000b));
    assert_eq!(nguid, format!("694a2d140000000b64b94e{}", &system[6..]));
    assert_eq!(nguid.len(), 32);
}

#[test]
fn snapshots_cannot_be_made_without_access() {
    let mut sim = Sim::new();
    let v = sim.create("v", GIB).unwrap();
    let result = sim.run(Command::SnapshotVolumes {
        defs: vec![(v, None)],
        access_mode: AccessMode::NoAccess,
        retention_min: None,
    });
    assert_eq!(code(result), 64);
}

#[test]
fn the_allow_shrink_breakage_really_shrinks() {
    let mut sim = Sim::new();
    sim.model.set_broken([breakage::Breakage::AllowShrink].into());
    let v = sim.create("v", 16 * GIB).unwrap();
    sim.run(Command::SetVolumeSize { volume: v, size_gb: 8 }).unwrap();
    assert_eq!(sim.model.volume(v).unwrap().size_kb, 8 * GIB);
}

#[test]
fn host_calls_word_not_found_by_api() {
    let mut sim = Sim::new();
    let missing = Id(0x1234);
    assert_eq!(code(sim.run(Command::RemoveHost { host: missing, host_api: true })), 91);
    assert_eq!(code(sim.run(Command::RemoveHost { host: missing, host_api: false })), 80);
    let renamed = Command::RenameHost { host: missing, name: "x".into(), host_api: true };
    assert_eq!(code(sim.run(renamed)), 91);
}

#[test]
fn listing_a_pool_follows_its_volumes_through_migration() {
    let mut sim = Sim::new();
    let v = sim.create("v", GIB).unwrap();
    let s = sim.snapshot(v, None).unwrap();
    let (from, to) = (sim.pool(), sim.model.pools().find(|p| p.name == "sp2").unwrap().id);
    sim.run(Command::MigrateVTree { volume: v, destination_pool: to, conversion: None }).unwrap();
    assert_eq!(sim.model.pool_volumes(from).count(), 0);
    let moved: Vec<Id> = sim.model.pool_volumes(to).map(|x| x.id).collect();
    assert_eq!(moved, {
        let mut ids = vec![v, s];
        ids.sort();
        ids
    });
    sim.run(Command::RemoveVolume { volume: v, mode: RemoveMode::WholeVtree }).unwrap();
    assert_eq!(sim.model.pool_volumes(to).count(), 0);
}

fn topology_with_sdcs() -> Topology {
    Topology::parse(
        r#"{"protectionDomains": [{"name": "pd1", "storagePools": [{"name": "sp1", "capacityGb": 1024}]}],
            "sdcs": [{"guid": "a1", "ip": "10.0.0.1"}, {"guid": "b2", "ip": "10.0.0.2", "connected": false}]}"#,
    )
    .unwrap()
}

#[test]
fn secure_snapshots_expire_after_their_retention_and_can_only_be_delayed() {
    let mut sim = Sim::new();
    let base = sim.create("base", GIB).unwrap();
    let Reply::Snapshots { volumes, group } = sim
        .run(Command::SnapshotVolumes {
            defs: vec![(base, None)],
            access_mode: AccessMode::ReadOnly,
            retention_min: Some(60),
        })
        .unwrap()
    else {
        panic!("snapshot reply")
    };
    let snap = volumes[0];
    let created = sim.now;
    assert_eq!(sim.model.volume(snap).unwrap().secure_snapshot_exp_time, created + 3600);
    // Not removable before expiry, whichever way it is asked.
    assert_eq!(code(sim.run(Command::RemoveVolume { volume: snap, mode: RemoveMode::OnlyMe })), 4102);
    assert_eq!(code(sim.run(Command::RemoveVolume { volume: base, mode: RemoveMode::WholeVtree })), 4102);
    assert_eq!(code(sim.run(Command::RemoveConsistencyGroupSnapshots { group })), 4102);
    // Delay by setting a longer retention later; an earlier expiry is refused.
    sim.now += 600;
    assert_eq!(code(sim.run(Command::SetSnapshotSecurity { volume: snap, retention_min: 30 })), 4101);
    sim.run(Command::SetSnapshotSecurity { volume: snap, retention_min: 120 }).unwrap();
    let v = sim.model.volume(snap).unwrap();
    assert_eq!((v.secure_snapshot_exp_time, v.original_expiry_time), (created + 600 + 7200, created + 3600));
    assert_eq!(code(sim.run(Command::SetSnapshotSecurity { volume: base, retention_min: 10 })), 4100);
    assert_eq!(code(sim.run(Command::SetSnapshotSecurity { volume: snap, retention_min: 0 })), 64);
    // A retention of 0 on creation asks for an ordinary snapshot (what Ansible sends by default).
    let Reply::Snapshots { volumes, .. } = sim
        .run(Command::SnapshotVolumes {
            defs: vec![(base, None)],
            access_mode: AccessMode::ReadOnly,
            retention_min: Some(0),
        })
        .unwrap()
    else {
        panic!("snapshot reply")
    };
    assert_eq!(sim.model.volume(volumes[0]).unwrap().secure_snapshot_exp_time, 0);
    sim.run(Command::RemoveVolume { volume: volumes[0], mode: RemoveMode::OnlyMe }).unwrap();
    // Once expired it goes like any snapshot.
    sim.now = created + 600 + 7200;
    sim.run(Command::RemoveVolume { volume: snap, mode: RemoveMode::OnlyMe }).unwrap();
    assert!(sim.model.volume(snap).is_none());
}

#[test]
fn a_connected_sdc_cannot_be_removed_and_a_disconnected_one_can() {
    let mut sim = Sim { model: Model::new(&topology_with_sdcs(), 7), now: 1, journal: vec![] };
    let by_guid = |guid: &str| {
        sim.model.hosts().find(|h| matches!(&h.kind, HostKind::Sdc { guid: g, .. } if g == guid)).unwrap().id
    };
    let (connected, disconnected) = (by_guid("a1"), by_guid("b2"));
    assert_eq!(code(sim.run(Command::RemoveHost { host: connected, host_api: false })), 298);
    sim.run(Command::RemoveHost { host: disconnected, host_api: false }).unwrap();
    assert!(sim.model.host(disconnected).is_none());
}

#[test]
fn sdc_perf_profile_and_mapping_access_mode_change_and_replay() {
    let mut sim = Sim { model: Model::new(&topology_with_sdcs(), 7), now: 1, journal: vec![] };
    let sdc = sim.model.hosts().next().unwrap().id;
    sim.run(Command::SetSdcPerfProfile { host: sdc, profile: PerfProfile::Compact }).unwrap();
    let profile = |m: &Model| match &m.host(sdc).unwrap().kind {
        HostKind::Sdc { perf_profile, .. } => *perf_profile,
        other => panic!("not an SDC: {other:?}"),
    };
    assert_eq!(profile(&sim.model), PerfProfile::Compact);
    let pool = sim.model.pools().next().unwrap().id;
    let Reply::Created(v) = sim
        .run(Command::CreateVolume {
            pool,
            domain: None,
            name: None,
            size_kb: GIB,
            provisioning: Provisioning::Thin,
            use_rmcache: false,
        })
        .unwrap()
    else {
        panic!("created")
    };
    let set = |mode| Command::SetMappingAccessMode { volume: v, host: HostRef::Id(sdc), mode };
    assert_eq!(code(sim.run(set(AccessMode::ReadOnly))), 84);
    sim.run(Command::AddMapping {
        volume: v,
        host: HostRef::Id(sdc),
        allow_multiple: false,
        access_mode: None,
        host_api: false,
    })
    .unwrap();
    sim.run(set(AccessMode::ReadOnly)).unwrap();
    assert_eq!(sim.model.volume(v).unwrap().mappings[0].access_mode, AccessMode::ReadOnly);
    // The journal rebuilds the same state.
    let mut replayed = Model::new(&topology_with_sdcs(), 7);
    replayed.commit(&sim.journal);
    assert_eq!(profile(&replayed), PerfProfile::Compact);
    assert_eq!(replayed.volume(v).unwrap().mappings[0].access_mode, AccessMode::ReadOnly);
}
