//! Rules of the Alletra model, checked without HTTP: each rule and each fault, and the journal's
//! contract (replaying committed effects into a fresh model gives the same state).

use super::topology::Topology;
use super::*;

const NOW: u64 = 1_700_000_000;
const GIB: u64 = 1024;

struct Sim {
    model: Model,
    now: u64,
    journal: Vec<Effect>,
}

impl Sim {
    fn new() -> Sim {
        Sim::with(Topology::default_embedded())
    }

    fn with(topology: Topology) -> Sim {
        Sim { model: Model::new(&topology, 7), now: NOW, journal: vec![] }
    }

    fn run(&mut self, command: Command) -> Result<Reply, Fault> {
        let plan = self.model.plan(&command, self.now)?;
        self.model.commit(&plan.effects);
        self.journal.extend(plan.effects);
        Ok(plan.reply)
    }

    fn volume(&mut self, name: &str, size_mib: u64) -> Result<Reply, Fault> {
        self.run(Command::CreateVolume(new_volume(name, size_mib, Provisioning::Thin)))
    }

    fn snap(&mut self, parent: &str, name: &str, read_only: bool) -> Result<Reply, Fault> {
        let snapshot = NewSnapshot { name: name.into(), read_only, ..Default::default() };
        self.run(Command::CreateSnapshot { parent: parent.into(), snapshot })
    }

    fn host(&mut self, name: &str, nqn: Option<&str>, iqn: Option<&str>) -> Result<Reply, Fault> {
        self.run(Command::CreateHost(NewHost {
            name: name.into(),
            nqn: nqn.map(str::to_string),
            iscsi_names: iqn.map(str::to_string).into_iter().collect(),
            ..Default::default()
        }))
    }

    fn export(&mut self, volume: &str, host: &str, lun: u32, auto_lun: bool) -> Result<Reply, Fault> {
        self.run(Command::CreateVlun(NewVlun {
            volume: volume.into(),
            lun,
            auto_lun,
            max_auto_lun: 0,
            to: Some(ExportTo::Host(host.into())),
            port: None,
        }))
    }

    fn vset(&mut self, name: &str, members: &[&str]) -> Result<Reply, Fault> {
        let members = members.iter().map(|m| m.to_string()).collect();
        self.run(Command::CreateSet { kind: SetKind::Volume, name: name.into(), comment: None, members })
    }

    fn get(&self, name: &str) -> &Volume {
        self.model.volume_by_name(name).unwrap()
    }

    fn offline_copy(&mut self, source: &str, destination: &str, data_mib: u64) -> Result<Reply, Fault> {
        self.run(Command::CopyVolume {
            source: source.into(),
            destination: destination.into(),
            mode: CopyMode::Offline { priority: Some(TaskPriority::High) },
            data_mib,
        })
    }

    fn online_copy(&mut self, source: &str, destination: &str) -> Result<Reply, Fault> {
        let mode = CopyMode::Online {
            cpg: "SSD_r6".into(),
            provisioning: Provisioning::Thin,
            compression: false,
            snap_cpg: None,
        };
        self.run(Command::CopyVolume { source: source.into(), destination: destination.into(), mode, data_mib: 4096 })
    }

    fn promote(&mut self, snapshot: &str) -> Result<Reply, Fault> {
        let command =
            Command::PromoteVirtualCopy { snapshot: snapshot.into(), online: false, priority: None, data_mib: 2048 };
        self.run(command)
    }

    fn tick_at(&mut self, now: u64) {
        self.now = now;
        self.run(Command::Tick).unwrap();
    }
}

fn new_volume(name: &str, size_mib: u64, provisioning: Provisioning) -> NewVolume {
    NewVolume::plain(name, "SSD_r6", size_mib, provisioning)
}

/// The status and code of a refusal.
fn err(result: Result<Reply, Fault>) -> (u16, u32) {
    let fault = result.expect_err("the command must fail");
    (fault.status, fault.code)
}

fn task_of(reply: Reply) -> u32 {
    match reply {
        Reply::Task(id) => id,
        other => panic!("expected a task, got {other:?}"),
    }
}

fn three_par() -> Topology {
    Topology::parse(
        r#"{"system":{"name":"old","model":"HP_3PAR 8200","osVersion":"3.3.1","family":"3par","serialNumber":"46750"},
        "cpgs":[{"name":"SSD_r6","capacityMiB":2048}],"ports":[]}"#,
    )
    .unwrap()
}

#[test]
fn sizes_round_up_to_256_mib_within_the_limits() {
    let mut sim = Sim::new();
    sim.volume("a", 300).unwrap();
    assert_eq!(sim.get("a").size_mib, 512);
    sim.volume("b", 256).unwrap();
    assert_eq!(sim.get("b").size_mib, 256);
    assert_eq!(err(sim.volume("c", 255)), (400, 43));
    assert_eq!(err(sim.volume("d", 16_777_218)), (400, 28));
    sim.volume("e", 16 * 1024 * 1024).unwrap();
}

#[test]
fn names_follow_the_family_limit_and_character_rules() {
    let mut sim = Sim::new();
    // LXD's longest names (`sv-<32 hex>-b`) fit an Alletra 9000.
    sim.volume(&format!("sv-{}-b", "a".repeat(32)), GIB).unwrap();
    assert_eq!(err(sim.volume(&"x".repeat(38), GIB)), (400, 57));
    assert_eq!(err(sim.volume("has space", GIB)), (400, 69));
    assert_eq!(err(sim.volume("-lead", GIB)), (400, 69));
    assert_eq!(err(sim.volume("", GIB)), (400, 45));
    sim.volume("vvr_2.x-y", GIB).unwrap();
    assert_eq!(err(sim.volume("vvr_2.x-y", GIB)), (409, 22));
    let mut old = Sim::with(three_par());
    assert_eq!(err(old.volume(&"x".repeat(32), GIB)), (400, 57));
}

#[test]
fn alletra_refuses_full_volumes_as_python_expects_and_3par_reserves_their_space() {
    let mut sim = Sim::new();
    let fault = sim.run(Command::CreateVolume(new_volume("f", GIB, Provisioning::Full))).unwrap_err();
    assert_eq!((fault.status, fault.code, fault.reference), (400, 78, Some("tpvv,reduce")));
    assert_eq!(fault.desc, "invalid input: one of the parameters is required");
    let mut old = Sim::with(three_par());
    old.run(Command::CreateVolume(new_volume("f1", 1536, Provisioning::Full))).unwrap();
    let cpg = old.model.cpg_by_name("SSD_r6").unwrap().clone();
    assert_eq!(old.model.cpg_free_mib(&cpg), 512);
    assert_eq!(err(old.run(Command::CreateVolume(new_volume("f2", 1024, Provisioning::Full)))), (400, 24));
    // Thin volumes over-provision.
    old.volume("t", 1024 * 1024).unwrap();
    assert_eq!(old.model.cpg_usage(cpg.id).thin_mib, 1024 * 1024);
}

#[test]
fn unknown_cpg_and_taken_ids_are_refused() {
    let mut sim = Sim::new();
    let fault =
        sim.run(Command::CreateVolume(NewVolume { cpg: "nope".into(), ..new_volume("a", GIB, Provisioning::Thin) }));
    assert_eq!(err(fault), (404, 15));
    sim.run(Command::CreateVolume(NewVolume { id: Some(40), ..new_volume("a", GIB, Provisioning::Thin) })).unwrap();
    assert_eq!(sim.get("a").id, 40);
    let again = sim.run(Command::CreateVolume(NewVolume { id: Some(40), ..new_volume("b", GIB, Provisioning::Thin) }));
    assert_eq!(err(again), (409, 59));
}

#[test]
fn identities_are_real_shaped_and_derive_from_the_seed() {
    let mut old = Sim::with(three_par());
    old.run(Command::CreateVolume(NewVolume { id: Some(0x15), ..new_volume("v", GIB, Provisioning::Thin) })).unwrap();
    assert_eq!(old.get("v").wwn, "60002AC000000000000001500000B69E");
    let (mut a, mut b) = (Sim::new(), Sim::new());
    a.volume("v", GIB).unwrap();
    b.volume("v", GIB).unwrap();
    assert_eq!(a.get("v"), b.get("v"));
    assert_eq!(a.get("v").nguid.len(), 32);
    assert!(a.get("v").nguid.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(a.model.system().serial_number, b.model.system().serial_number);
    let other = Model::new(&Topology::default_embedded(), 8);
    assert_ne!(other.system().serial_number, a.model.system().serial_number);
}

#[test]
fn modify_renames_and_keeps_what_it_is_not_asked_to_change() {
    let mut sim = Sim::new();
    sim.run(Command::CreateVolume(NewVolume {
        comment: Some("keep".into()),
        ..new_volume("a", GIB, Provisioning::Thin)
    }))
    .unwrap();
    sim.volume("b", GIB).unwrap();
    let rename = |to: &str| Command::ModifyVolume {
        name: "a".into(),
        change: VolumeChange { new_name: Some(to.into()), ..Default::default() },
    };
    assert_eq!(err(sim.run(rename("b"))), (409, 22));
    sim.run(rename("c")).unwrap();
    assert!(sim.model.volume_by_name("a").is_none());
    assert_eq!(sim.get("c").comment.as_deref(), Some("keep"));
    let long = VolumeChange { comment: Some("x".repeat(512)), ..Default::default() };
    assert_eq!(err(sim.run(Command::ModifyVolume { name: "c".into(), change: long })), (400, 57));
    let missing = Command::ModifyVolume { name: "zz".into(), change: VolumeChange::default() };
    assert_eq!(err(sim.run(missing)), (404, 23));
}

#[test]
fn grow_adds_a_rounded_delta_to_base_volumes_only() {
    let mut sim = Sim::new();
    sim.volume("v", GIB).unwrap();
    sim.run(Command::GrowVolume { name: "v".into(), delta_mib: 1 }).unwrap();
    assert_eq!(sim.get("v").size_mib, GIB + 256);
    assert_eq!(err(sim.run(Command::GrowVolume { name: "v".into(), delta_mib: 0 })), (400, 152));
    assert_eq!(err(sim.run(Command::GrowVolume { name: "v".into(), delta_mib: -1 })), (400, 152));
    let huge = Command::GrowVolume { name: "v".into(), delta_mib: 16 * 1024 * 1024 };
    assert_eq!(err(sim.run(huge)), (403, 153));
    sim.snap("v", "s", false).unwrap();
    assert_eq!(err(sim.run(Command::GrowVolume { name: "s".into(), delta_mib: 256 })), (403, 150));
    assert_eq!(err(sim.run(Command::GrowVolume { name: "zz".into(), delta_mib: 256 })), (404, 23));
}

#[test]
fn snapshots_form_a_tree_under_the_copy_rules() {
    let mut sim = Sim::new();
    sim.volume("v", GIB).unwrap();
    // LXD makes read/write copies of base volumes; Cinder read-only ones and read/write children.
    sim.snap("v", "rw", false).unwrap();
    sim.snap("v", "ro", true).unwrap();
    sim.snap("ro", "child", false).unwrap();
    assert_eq!(err(sim.snap("ro", "roro", true)), (403, 315));
    assert_eq!(err(sim.snap("zz", "x", true)), (404, 23));
    assert_eq!(err(sim.snap("v", "rw", true)), (409, 22));
    let (v, child) = (sim.get("v").clone(), sim.get("child").clone());
    assert_eq!((child.base_id, child.size_mib, child.user_cpg), (v.id, v.size_mib, None));
    assert_eq!(child.origin, Origin::VirtualCopy { parent: sim.get("ro").id, read_only: false });
    let names: Vec<&str> = sim.model.children(v.id).map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["rw", "ro"]);
}

#[test]
fn the_alternation_rule_and_the_copy_limit_are_configurable() {
    let mut topology = Topology::default_embedded();
    topology.limits.snapshot_alternation = Some(true);
    topology.limits.max_virtual_copies_per_volume = Some(2);
    let mut sim = Sim::with(topology);
    sim.volume("v", GIB).unwrap();
    assert_eq!(err(sim.snap("v", "rw", false)), (403, 316));
    sim.snap("v", "ro", true).unwrap();
    sim.snap("ro", "rw", false).unwrap();
    assert_eq!(err(sim.snap("v", "third", true)), (503, 317));
}

#[test]
fn delete_refuses_children_sets_exports_and_retention_and_cascade_takes_the_tree() {
    let mut sim = Sim::new();
    sim.volume("v", GIB).unwrap();
    sim.snap("v", "rw", false).unwrap();
    assert_eq!(err(sim.run(Command::DeleteVolume { name: "v".into(), cascade: false })), (409, 32));
    sim.snap("v", "ro", true).unwrap();
    assert_eq!(err(sim.run(Command::DeleteVolume { name: "v".into(), cascade: false })), (409, 25));
    sim.snap("rw", "deep", false).unwrap();
    sim.vset("set", &["deep"]).unwrap();
    assert_eq!(err(sim.run(Command::DeleteVolume { name: "v".into(), cascade: true })), (409, 34));
    let remove = SetChange { members: Some((MemberOp::Remove, vec!["deep".into()])), ..Default::default() };
    sim.run(Command::ModifySet { kind: SetKind::Volume, name: "set".into(), change: remove }).unwrap();
    sim.run(Command::DeleteVolume { name: "v".into(), cascade: true }).unwrap();
    assert_eq!(sim.model.volume_count(), 0);
    assert_eq!(err(sim.run(Command::DeleteVolume { name: "v".into(), cascade: true })), (404, 23));

    sim.volume("e", GIB).unwrap();
    sim.host("h", Some("nqn.2014-08.org.nvmexpress:uuid:h"), None).unwrap();
    sim.export("e", "h", 0, true).unwrap();
    assert_eq!(err(sim.run(Command::DeleteVolume { name: "e".into(), cascade: false })), (409, 34));

    let kept = NewVolume { retention_hours: Some(1), ..new_volume("kept", GIB, Provisioning::Thin) };
    sim.run(Command::CreateVolume(kept)).unwrap();
    assert_eq!(err(sim.run(Command::DeleteVolume { name: "kept".into(), cascade: false })), (409, 300));
    sim.now += 3601;
    sim.run(Command::DeleteVolume { name: "kept".into(), cascade: false }).unwrap();
    let forever = NewVolume { retention_hours: Some(43_801), ..new_volume("x", GIB, Provisioning::Thin) };
    assert_eq!(err(sim.run(Command::CreateVolume(forever))), (400, 43));
}

#[test]
fn expired_copies_vanish_at_the_next_tick_unless_held() {
    let mut sim = Sim::new();
    sim.volume("v", GIB).unwrap();
    let tss = NewSnapshot { name: "tss".into(), expiration_hours: Some(1), ..Default::default() };
    sim.run(Command::CreateSnapshot { parent: "v".into(), snapshot: tss }).unwrap();
    let held = NewSnapshot { name: "held".into(), expiration_hours: Some(1), ..Default::default() };
    sim.run(Command::CreateSnapshot { parent: "v".into(), snapshot: held }).unwrap();
    sim.vset("s", &["held"]).unwrap();
    assert_eq!(sim.model.next_due(), Some(NOW + 3600));
    sim.tick_at(NOW + 3599);
    assert!(sim.model.volume_by_name("tss").is_some());
    sim.tick_at(NOW + 3600);
    assert!(sim.model.volume_by_name("tss").is_none());
    assert!(sim.model.volume_by_name("held").is_some());
}

#[test]
fn an_offline_copy_is_a_task_that_ends_at_a_time_proportional_to_the_data() {
    let mut sim = Sim::new();
    sim.volume("src", 10 * GIB).unwrap();
    sim.volume("dst", 10 * GIB).unwrap();
    let id = task_of(sim.offline_copy("src", "dst", 5 * GIB).unwrap());
    let task = sim.model.task(id).unwrap().clone();
    // 5 GiB at the default 1024 MiB/s.
    assert_eq!(
        (task.status, task.due_time, task.kind.wsapi_type(), task.name.as_str()),
        (TaskStatus::Active, NOW + 5, 1, "dst")
    );
    assert_eq!(task.copied_mib(NOW + 2), 2048);
    assert_eq!(sim.get("dst").origin, Origin::PhysicalCopy { parent: sim.get("src").id });
    assert!(sim.journal.contains(&Effect::ContentCopied { source: sim.get("src").id, destination: sim.get("dst").id }));
    // Busy while it runs.
    assert_eq!(err(sim.run(Command::DeleteVolume { name: "src".into(), cascade: false })), (409, 151));
    assert_eq!(err(sim.run(Command::GrowVolume { name: "dst".into(), delta_mib: 256 })), (409, 313));
    sim.host("h", None, Some("iqn.1993-08.org.debian:01:h")).unwrap();
    assert_eq!(err(sim.export("dst", "h", 1, false)), (409, 97));
    sim.tick_at(NOW + 4);
    assert_eq!(sim.model.task(id).unwrap().status, TaskStatus::Active);
    sim.tick_at(NOW + 9);
    let done = sim.model.task(id).unwrap();
    assert_eq!((done.status, done.finish_time, done.copied_mib(NOW + 9)), (TaskStatus::Done, Some(NOW + 5), 5 * GIB));
    assert_eq!(sim.get("dst").origin, Origin::Base);
    assert_eq!(sim.model.next_due(), None);
    sim.run(Command::DeleteVolume { name: "src".into(), cascade: false }).unwrap();
}

#[test]
fn offline_copy_refusals() {
    let mut sim = Sim::new();
    sim.volume("src", 2 * GIB).unwrap();
    sim.volume("small", GIB).unwrap();
    sim.volume("big", 4 * GIB).unwrap();
    sim.snap("big", "snap", false).unwrap();
    assert_eq!(err(sim.offline_copy("src", "missing", 1)), (404, 23));
    assert_eq!(err(sim.offline_copy("missing", "big", 1)), (404, 23));
    assert_eq!(err(sim.offline_copy("src", "src", 1)), (403, 310));
    assert_eq!(err(sim.offline_copy("src", "small", 1)), (409, 307));
    assert_eq!(err(sim.offline_copy("src", "snap", 1)), (403, 309));
    sim.host("h", None, Some("iqn.1993-08.org.debian:01:h")).unwrap();
    sim.export("big", "h", 0, true).unwrap();
    assert_eq!(err(sim.offline_copy("src", "big", 1)), (403, 308));
    // A copy from a snapshot into a volume (LXD's copy of each snapshot).
    sim.volume("dst", 4 * GIB).unwrap();
    sim.offline_copy("snap", "dst", 1).unwrap();
    assert_eq!(err(sim.offline_copy("src", "dst", 1)), (409, 313));
}

#[test]
fn an_online_copy_creates_its_destination_and_can_be_cancelled() {
    let mut sim = Sim::new();
    sim.volume("src", 8 * GIB).unwrap();
    let id = task_of(sim.online_copy("src", "clone").unwrap());
    let task = sim.model.task(id).unwrap();
    assert_eq!((task.kind.wsapi_type(), task.name.as_str(), task.due_time), (18, "clone", NOW + 4));
    assert_eq!(sim.get("clone").size_mib, 8 * GIB);
    assert_eq!(err(sim.online_copy("src", "clone")), (409, 22));
    // Cinder's delete of a busy destination gets 151, stops the copy, then deletes.
    assert_eq!(err(sim.run(Command::DeleteVolume { name: "clone".into(), cascade: false })), (409, 151));
    sim.run(Command::CancelTask { task: id.into() }).unwrap();
    assert_eq!(sim.model.task(id).unwrap().status, TaskStatus::Cancelled);
    assert_eq!(err(sim.run(Command::CancelTask { task: id.into() })), (400, 320));
    sim.run(Command::DeleteVolume { name: "clone".into(), cascade: false }).unwrap();
    let bad_cpg =
        CopyMode::Online { cpg: "x".into(), provisioning: Provisioning::Thin, compression: false, snap_cpg: None };
    let copy = Command::CopyVolume { source: "src".into(), destination: "c2".into(), mode: bad_cpg, data_mib: 1 };
    assert_eq!(err(sim.run(copy)), (404, 15));
}

#[test]
fn the_volume_limit_and_the_path_limit_hold() {
    let mut topology = Topology::default_embedded();
    topology.limits.max_volumes = Some(2);
    let mut sim = Sim::with(topology);
    sim.volume("a", GIB).unwrap();
    sim.snap("a", "s", false).unwrap();
    assert_eq!(err(sim.volume("b", GIB)), (503, 318));
    assert_eq!(err(sim.snap("a", "t", true)), (503, 318));
    assert_eq!(err(sim.online_copy("a", "c")), (503, 318));
    let many = (0..1025).map(|n| format!("iqn.{n}")).collect();
    assert_eq!(
        err(sim.run(Command::CreateHost(NewHost { name: "h".into(), iscsi_names: many, ..Default::default() }))),
        (400, 319)
    );
    sim.host("h", None, Some("iqn.x")).unwrap();
    let more = PathChange {
        op: MemberOp::Add,
        iscsi_names: (0..1024).map(|n| format!("iqn.{n}")).collect(),
        fc_wwns: vec![],
        force: false,
    };
    let add = Command::ModifyHost { name: "h".into(), change: HostChange { paths: Some(more), ..Default::default() } };
    assert_eq!(err(sim.run(add)), (400, 319));
}

#[test]
fn task_ids_are_checked_like_the_wsapi() {
    let mut sim = Sim::new();
    assert_eq!(err(sim.run(Command::CancelTask { task: 0 })), (400, 115));
    assert_eq!(err(sim.run(Command::CancelTask { task: 65_536 })), (400, 43));
    assert_eq!(err(sim.run(Command::CancelTask { task: 9 })), (404, 145));
}

#[test]
fn a_zero_rate_ends_tasks_at_the_next_tick() {
    let mut topology = Topology::default_embedded();
    topology.limits.copy_rate_mib_per_sec = Some(0);
    let mut sim = Sim::with(topology);
    sim.volume("src", GIB).unwrap();
    let id = task_of(sim.online_copy("src", "c").unwrap());
    assert_eq!(sim.model.task(id).unwrap().status, TaskStatus::Active);
    sim.tick_at(NOW);
    assert_eq!(sim.model.task(id).unwrap().status, TaskStatus::Done);
}

#[test]
fn promote_restores_the_base_from_a_copy_as_a_task() {
    let mut sim = Sim::new();
    sim.volume("v", 4 * GIB).unwrap();
    sim.snap("v", "s", false).unwrap();
    assert_eq!(err(sim.promote("v")), (409, 306));
    let conflict = Command::PromoteVirtualCopy {
        snapshot: "s".into(),
        online: true,
        priority: Some(TaskPriority::Low),
        data_mib: 1,
    };
    assert_eq!(err(sim.run(conflict)), (409, 321));
    assert_eq!(err(sim.run(Command::StopPromoteVirtualCopy { snapshot: "s".into() })), (409, 185));
    let id = task_of(sim.promote("s").unwrap());
    let (v, s) = (sim.get("v").id, sim.get("s").id);
    let task = sim.model.task(id).unwrap();
    assert_eq!((task.kind.wsapi_type(), task.source, task.destination, task.name.as_str()), (4, s, v, "v"));
    assert!(sim.journal.contains(&Effect::ContentCopied { source: s, destination: v }));
    assert_eq!(err(sim.promote("s")), (409, 311));
    assert_eq!(err(sim.run(Command::GrowVolume { name: "v".into(), delta_mib: 256 })), (409, 311));
    sim.run(Command::StopPromoteVirtualCopy { snapshot: "s".into() }).unwrap();
    assert_eq!(sim.model.task(id).unwrap().status, TaskStatus::Cancelled);
    sim.run(Command::GrowVolume { name: "v".into(), delta_mib: 256 }).unwrap();
    assert_eq!(err(sim.promote("s")), (409, 314));
    sim.snap("v", "s2", false).unwrap();
    sim.volume("d", 8 * GIB).unwrap();
    sim.offline_copy("v", "d", 1).unwrap();
    assert_eq!(err(sim.promote("s2")), (409, 312));
}

#[test]
fn hosts_own_their_paths_and_refuse_conflicts() {
    let mut sim = Sim::new();
    sim.host("a", None, Some("iqn.1993-08.org.debian:01:a")).unwrap();
    assert_eq!(err(sim.host("a", None, None)), (409, 16));
    assert_eq!(err(sim.host("b", None, Some("IQN.1993-08.org.debian:01:A"))), (409, 73));
    assert_eq!(err(sim.host(&"h".repeat(32), None, None)), (400, 57));
    sim.host("n", Some("nqn.2014-08.org.nvmexpress:uuid:n"), None).unwrap();
    assert_eq!(sim.model.host_by_path("nqn.2014-08.org.nvmexpress:uuid:n").unwrap().name, "n");
    assert_eq!(err(sim.host("c", Some("nqn.2014-08.org.nvmexpress:uuid:n"), None)), (409, 73));
    let both = NewHost {
        name: "d".into(),
        nqn: Some("nqn.x".into()),
        iscsi_names: vec!["iqn.x".into()],
        ..Default::default()
    };
    assert_eq!(err(sim.run(Command::CreateHost(both))), (400, 44));
    let bad_wwn = NewHost { name: "d".into(), fc_wwns: vec!["12:34".into()], ..Default::default() };
    assert_eq!(err(sim.run(Command::CreateHost(bad_wwn))), (400, 39));
    let wwn = NewHost { name: "fc".into(), fc_wwns: vec!["10:00:00:00:c9:aa:bb:cc".into()], ..Default::default() };
    sim.run(Command::CreateHost(wwn)).unwrap();
    assert_eq!(sim.model.host_by_name("fc").unwrap().fc_wwns, ["10000000C9AABBCC"]);
    let persona = NewHost { name: "p".into(), persona: Some(12), ..Default::default() };
    assert_eq!(err(sim.run(Command::CreateHost(persona))), (400, 46));
    let twice = NewHost { name: "t".into(), iscsi_names: vec!["iqn.t".into(), "iqn.T".into()], ..Default::default() };
    assert_eq!(err(sim.run(Command::CreateHost(twice))), (400, 98));
}

#[test]
fn host_changes_follow_the_export_rules() {
    let mut sim = Sim::new();
    sim.host("a", None, Some("iqn.a")).unwrap();
    let modify = |change: HostChange| Command::ModifyHost { name: "a".into(), change };
    let paths = |op, name: &str, force| Some(PathChange { op, iscsi_names: vec![name.into()], fc_wwns: vec![], force });
    assert_eq!(err(sim.run(modify(HostChange::default()))), (400, 78));
    sim.run(modify(HostChange { paths: paths(MemberOp::Add, "iqn.a2", false), ..Default::default() })).unwrap();
    assert_eq!(sim.model.host_by_path("iqn.a2").unwrap().name, "a");
    assert_eq!(
        err(sim.run(modify(HostChange { paths: paths(MemberOp::Remove, "iqn.zz", false), ..Default::default() }))),
        (404, 80)
    );
    sim.volume("v", GIB).unwrap();
    sim.export("v", "a", 0, true).unwrap();
    assert_eq!(
        err(sim.run(modify(HostChange { paths: paths(MemberOp::Remove, "iqn.a2", false), ..Default::default() }))),
        (409, 26)
    );
    assert_eq!(err(sim.run(modify(HostChange { persona: Some(8), ..Default::default() }))), (409, 26));
    sim.run(modify(HostChange { paths: paths(MemberOp::Remove, "iqn.a2", true), ..Default::default() })).unwrap();
    assert!(sim.model.host_by_path("iqn.a2").is_none());
    sim.run(modify(HostChange { new_name: Some("b".into()), ..Default::default() })).unwrap();
    assert_eq!(sim.model.host_by_path("iqn.a").unwrap().name, "b");
    assert_eq!(err(sim.run(Command::DeleteHost { name: "b".into() })), (409, 26));
    assert_eq!(err(sim.run(Command::DeleteHost { name: "a".into() })), (404, 17));
    assert_eq!(Fault::non_existent_host().desc, "host does not exist");
}

#[test]
fn sets_hold_existing_members_once() {
    let mut sim = Sim::new();
    sim.volume("v", GIB).unwrap();
    assert_eq!(err(sim.vset(&"s".repeat(28), &[])), (400, 57));
    assert_eq!(err(sim.vset("s", &["missing"])), (404, 23));
    sim.vset("s", &[]).unwrap();
    assert_eq!(err(sim.vset("s", &[])), (409, 101));
    let change = |op, names: &[&str]| SetChange {
        members: Some((op, names.iter().map(|n| n.to_string()).collect())),
        ..Default::default()
    };
    let modify = |name: &str, c| Command::ModifySet { kind: SetKind::Volume, name: name.into(), change: c };
    sim.run(modify("s", change(MemberOp::Add, &["v"]))).unwrap();
    assert_eq!(err(sim.run(modify("s", change(MemberOp::Add, &["v"])))), (409, 303));
    assert_eq!(err(sim.run(modify("nope", change(MemberOp::Add, &["v"])))), (404, 102));
    // A volume may be in several sets, and a set with members can be deleted.
    sim.vset("t", &["v"]).unwrap();
    assert_eq!(sim.model.sets_of(SetKind::Volume, sim.get("v").id).count(), 2);
    let both = SetChange { new_name: Some("u".into()), ..change(MemberOp::Add, &["v"]) };
    assert_eq!(err(sim.run(modify("t", both))), (400, 44));
    sim.run(Command::DeleteSet { kind: SetKind::Volume, name: "t".into() }).unwrap();
    sim.run(modify("s", change(MemberOp::Remove, &["v"]))).unwrap();
    assert_eq!(err(sim.run(modify("s", change(MemberOp::Remove, &["v"])))), (404, 304));
    assert_eq!(err(sim.run(Command::DeleteSet { kind: SetKind::Volume, name: "t".into() })), (404, 102));
}

#[test]
fn host_sets_guard_their_hosts_and_their_exports() {
    let mut sim = Sim::new();
    sim.host("h", None, Some("iqn.h")).unwrap();
    let create =
        Command::CreateSet { kind: SetKind::Host, name: "hs".into(), comment: None, members: vec!["h".into()] };
    sim.run(create).unwrap();
    assert_eq!(err(sim.run(Command::DeleteHost { name: "h".into() })), (409, 77));
    sim.volume("v", GIB).unwrap();
    let to_set = NewVlun {
        volume: "v".into(),
        lun: 5,
        auto_lun: false,
        max_auto_lun: 0,
        to: Some(ExportTo::HostSet("hs".into())),
        port: None,
    };
    assert_eq!(sim.run(Command::CreateVlun(to_set)).unwrap(), Reply::Vlun { lun: 5 });
    assert_eq!(err(sim.run(Command::DeleteSet { kind: SetKind::Host, name: "hs".into() })), (409, 26));
    sim.run(Command::DeleteVlun { volume: "v".into(), lun: 5, host: Some("set:hs".into()), port: None }).unwrap();
    sim.run(Command::DeleteSet { kind: SetKind::Host, name: "hs".into() }).unwrap();
    sim.run(Command::DeleteHost { name: "h".into() }).unwrap();
}

#[test]
fn vluns_assign_luns_and_allow_one_export_per_host_and_lun() {
    let mut sim = Sim::new();
    for v in ["a", "b", "c"] {
        sim.volume(v, GIB).unwrap();
    }
    sim.host("iscsi", None, Some("iqn.i")).unwrap();
    sim.host("nvme", Some("nqn.n"), None).unwrap();
    assert_eq!(sim.export("a", "iscsi", 0, true).unwrap(), Reply::Vlun { lun: 0 });
    assert_eq!(sim.export("b", "iscsi", 0, true).unwrap(), Reply::Vlun { lun: 1 });
    // NVMe LUNs are namespace ids, from 1.
    assert_eq!(sim.export("a", "nvme", 0, true).unwrap(), Reply::Vlun { lun: 1 });
    assert_eq!(err(sim.export("b", "nvme", 0, false)), (400, 43));
    assert_eq!(err(sim.export("b", "nvme", 257, false)), (400, 43));
    // Exporting again to the same host is LXD's "already exported".
    assert_eq!(err(sim.export("a", "iscsi", 0, true)), (400, 29));
    assert_eq!(err(sim.export("c", "iscsi", 1, false)), (409, 18));
    assert_eq!(err(sim.export("c", "iscsi", 16_384, false)), (400, 28));
    assert_eq!(err(sim.export("missing", "iscsi", 0, true)), (404, 23));
    assert_eq!(err(sim.export("c", "nobody", 0, true)), (404, 17));
    // Cinder's multipath: the same volume and LUN on a second port.
    let port = sim.model.ports().next().unwrap().pos;
    let on_port = NewVlun {
        volume: "a".into(),
        lun: 0,
        auto_lun: false,
        max_auto_lun: 0,
        to: Some(ExportTo::Host("iscsi".into())),
        port: Some(port),
    };
    sim.run(Command::CreateVlun(on_port.clone())).unwrap();
    let bad_port = NewVlun { port: Some(PortPos { node: 7, slot: 7, card_port: 7 }), ..on_port };
    assert_eq!(err(sim.run(Command::CreateVlun(bad_port))), (404, 20));
    let nowhere = NewVlun { volume: "c".into(), lun: 0, auto_lun: true, max_auto_lun: 0, to: None, port: None };
    assert_eq!(err(sim.run(Command::CreateVlun(nowhere))), (400, 40));
    let capped = NewVlun {
        volume: "c".into(),
        lun: 0,
        auto_lun: true,
        max_auto_lun: 1,
        to: Some(ExportTo::Host("iscsi".into())),
        port: None,
    };
    assert_eq!(err(sim.run(Command::CreateVlun(capped))), (409, 302));
    let above_cap = NewVlun { lun: 5, max_auto_lun: 1, ..capped_template() };
    assert_eq!(err(sim.run(Command::CreateVlun(above_cap))), (409, 302));
    let past_nvme = NewVlun { lun: 300, to: Some(ExportTo::Host("nvme".into())), ..capped_template() };
    assert_eq!(err(sim.run(Command::CreateVlun(past_nvme))), (409, 302));
    let host_luns: Vec<u32> = sim
        .model
        .target_vluns(ExportTarget::Host(sim.model.host_by_name("iscsi").unwrap().id))
        .map(|v| v.lun)
        .collect();
    assert_eq!(host_luns, [0, 0, 1]);
}

fn capped_template() -> NewVlun {
    NewVlun {
        volume: "c".into(),
        lun: 0,
        auto_lun: true,
        max_auto_lun: 0,
        to: Some(ExportTo::Host("iscsi".into())),
        port: None,
    }
}

#[test]
fn vlun_deletion_matches_volume_lun_host_and_port() {
    let mut sim = Sim::new();
    sim.volume("a", GIB).unwrap();
    sim.host("h", None, Some("iqn.h")).unwrap();
    sim.export("a", "h", 3, false).unwrap();
    let delete = |lun, host: &str| Command::DeleteVlun { volume: "a".into(), lun, host: Some(host.into()), port: None };
    assert_eq!(err(sim.run(delete(4, "h"))), (404, 19));
    assert_eq!(err(sim.run(delete(3, "x"))), (404, 17));
    let missing = Command::DeleteVlun { volume: "zz".into(), lun: 3, host: Some("h".into()), port: None };
    assert_eq!(err(sim.run(missing)), (404, 19));
    sim.run(delete(3, "h")).unwrap();
    assert_eq!(err(sim.run(delete(3, "h"))), (404, 19));
    sim.run(Command::DeleteHost { name: "h".into() }).unwrap();
}

#[test]
fn qos_rules_live_on_volume_sets() {
    let mut sim = Sim::new();
    let limits =
        QosSettings { io_max_limit: Some(Some(1000)), bw_max_limit_kb: Some(Some(2048)), ..Default::default() };
    assert_eq!(err(sim.run(Command::CreateQos { set: "s".into(), settings: limits.clone() })), (404, 117));
    sim.vset("s", &[]).unwrap();
    sim.run(Command::CreateQos { set: "s".into(), settings: limits.clone() }).unwrap();
    assert_eq!(err(sim.run(Command::CreateQos { set: "s".into(), settings: limits })), (400, 114));
    let goal = QosSettings { io_min_goal: Some(Some(5000)), ..Default::default() };
    assert_eq!(err(sim.run(Command::ModifyQos { set: "s".into(), settings: goal })), (400, 43));
    let off = QosSettings { enabled: Some(false), io_max_limit: Some(None), ..Default::default() };
    sim.run(Command::ModifyQos { set: "s".into(), settings: off }).unwrap();
    let rule = sim.model.qos_rules().next().unwrap();
    assert_eq!((rule.enabled, rule.io_max_limit, rule.bw_max_limit_kb), (false, None, Some(2048)));
    assert_eq!(err(sim.run(Command::DeleteSet { kind: SetKind::Volume, name: "s".into() })), (409, 305));
    sim.run(Command::DeleteQos { set: "s".into() }).unwrap();
    assert_eq!(err(sim.run(Command::DeleteQos { set: "s".into() })), (404, 100));
    sim.run(Command::DeleteSet { kind: SetKind::Volume, name: "s".into() }).unwrap();
}

fn new_cpg(name: &str, limit_mib: Option<u64>) -> Command {
    let growth = CpgGrowth { limit_mib, ..Default::default() };
    Command::CreateCpg(NewCpg { name: name.into(), growth, ..Default::default() })
}

fn modify_cpg(name: &str, change: CpgChange) -> Command {
    Command::ModifyCpg { name: name.into(), change }
}

#[test]
fn cpgs_are_created_renamed_and_deleted_by_the_rules() {
    let mut sim = Sim::new();
    sim.run(new_cpg("c", None)).unwrap();
    assert_eq!(err(sim.run(new_cpg("c", None))), (409, 14));
    assert_eq!(err(sim.run(new_cpg("SSD_r6", None))), (409, 14));
    assert_eq!(err(sim.run(new_cpg(&"x".repeat(32), None))), (400, 57));
    sim.run(new_cpg(&"x".repeat(31), None)).unwrap();
    assert_eq!(err(sim.run(new_cpg("-c", None))), (400, 69));
    let domain = NewCpg { name: "d".into(), domain: Some("dom".into()), ..Default::default() };
    assert_eq!(err(sim.run(Command::CreateCpg(domain))), (404, 38));
    for (raid_type, ha, set_size, disk) in [(5, 1, 4, 1), (1, 0, 4, 1), (1, 1, 0, 1), (1, 1, 4, 4)] {
        let layout =
            LdLayout { raid_type: Some(raid_type), ha: Some(ha), set_size: Some(set_size), disk_types: vec![disk] };
        let growth = CpgGrowth { layout, ..Default::default() };
        let bad = NewCpg { name: "l".into(), growth, ..Default::default() };
        assert_eq!(err(sim.run(Command::CreateCpg(bad))).0, 400);
    }
    assert!(sim.model.cpg_by_name("l").is_none() && sim.model.cpg_by_name("d").is_none());

    sim.run(Command::CreateVolume(NewVolume::plain("v", "c", GIB, Provisioning::Thin))).unwrap();
    let id = sim.model.cpg_by_name("c").unwrap().id;
    let rename = CpgChange { new_name: Some("c2".into()), warning_mib: Some(512), ..Default::default() };
    sim.run(modify_cpg("c", rename)).unwrap();
    assert!(sim.model.cpg_by_name("c").is_none());
    let c2 = sim.model.cpg_by_name("c2").unwrap();
    assert_eq!((c2.id, c2.growth.warning_mib, sim.get("v").user_cpg), (id, Some(512), Some(id)));
    assert_eq!(sim.model.cpg_usage(id).thin_volumes, 1);
    assert_eq!(err(sim.run(modify_cpg("c", CpgChange { increment_mib: Some(1), ..Default::default() }))), (404, 15));
    assert_eq!(
        err(sim.run(modify_cpg("c2", CpgChange { new_name: Some("SSD_r1".into()), ..Default::default() }))),
        (409, 14)
    );
    assert_eq!(err(sim.run(modify_cpg("c2", CpgChange::default()))), (400, 78));
    let both = CpgChange { warning_mib: Some(1), rm_warning_alert: true, ..Default::default() };
    assert_eq!(err(sim.run(modify_cpg("c2", both))), (400, 44));
    sim.run(modify_cpg("c2", CpgChange { rm_warning_alert: true, ..Default::default() })).unwrap();
    assert_eq!(sim.model.cpg_by_name("c2").unwrap().growth.warning_mib, None);

    assert_eq!(err(sim.run(Command::DeleteCpg { name: "c2".into() })), (409, 34));
    sim.run(Command::DeleteVolume { name: "v".into(), cascade: false }).unwrap();
    sim.run(Command::DeleteCpg { name: "c2".into() }).unwrap();
    assert_eq!(err(sim.run(Command::DeleteCpg { name: "c2".into() })), (404, 15));
    assert_replays(&sim);
}

#[test]
fn a_created_cpg_draws_from_the_systems_free_space_within_its_limit() {
    let mut old = Sim::with(three_par());
    old.run(new_cpg("more", None)).unwrap();
    old.run(new_cpg("capped", Some(512))).unwrap();
    let capacity = |sim: &Sim, name: &str| sim.model.cpg_capacity_mib(sim.model.cpg_by_name(name).unwrap());
    assert_eq!((capacity(&old, "more"), capacity(&old, "capped")), (2048, 512));
    assert_eq!(old.model.system_capacity_mib(), 2048, "a created CPG adds no space");
    old.run(Command::CreateVolume(NewVolume::plain("f1", "more", 1536, Provisioning::Full))).unwrap();
    // The reservation in one CPG is gone from every CPG that shares the space.
    assert_eq!((capacity(&old, "more"), old.model.cpg_free_mib(old.model.cpg_by_name("more").unwrap())), (2048, 512));
    assert_eq!(old.model.cpg_free_mib(old.model.cpg_by_name("SSD_r6").unwrap()), 512);
    let full = |name: &str, cpg: &str, mib| Command::CreateVolume(NewVolume::plain(name, cpg, mib, Provisioning::Full));
    assert_eq!(err(old.run(full("f2", "SSD_r6", 768))), (400, 24));
    assert_eq!(err(old.run(full("f2", "more", 768))), (400, 24));
    old.run(full("f2", "capped", 512)).unwrap();
    for name in ["SSD_r6", "more", "capped"] {
        assert_eq!(old.model.cpg_free_mib(old.model.cpg_by_name(name).unwrap()), 0, "{name}");
    }
}

#[test]
fn planning_never_changes_the_model() {
    let mut sim = Sim::new();
    sim.volume("v", GIB).unwrap();
    let before = serde_json::to_value(&sim.model).unwrap();
    sim.model.plan(&Command::CreateVolume(new_volume("w", GIB, Provisioning::Thin)), NOW).unwrap();
    sim.model.plan(&Command::DeleteVolume { name: "v".into(), cascade: true }, NOW).unwrap();
    assert_eq!(serde_json::to_value(&sim.model).unwrap(), before);
}

/// Serialised state plus the answers of the indexed queries, to compare two models.
fn fingerprint(model: &Model) -> serde_json::Value {
    let usage: Vec<_> = model.cpgs().map(|c| format!("{:?}", model.cpg_usage(c.id))).collect();
    let cpg_names: Vec<_> = model.cpgs().map(|c| model.cpg_by_name(&c.name).map(|n| n.id)).collect();
    let children: Vec<Vec<u32>> = model.volumes().map(|v| model.children(v.id).map(|c| c.id).collect()).collect();
    let exports: Vec<Vec<u32>> = model.volumes().map(|v| model.volume_vluns(v.id).map(|e| e.lun).collect()).collect();
    let busy: Vec<Vec<u32>> = model.volumes().map(|v| model.busy_tasks(v.id).map(|t| t.id).collect()).collect();
    serde_json::json!({
        "state": serde_json::to_value(model).unwrap(),
        "usage": usage, "cpg_names": cpg_names, "children": children, "exports": exports, "busy": busy,
        "next_due": model.next_due(),
    })
}

/// The journal's contract: the committed effects rebuild the same model, and a model read back
/// from its serialised form, indexes rebuilt, answers the same.
fn assert_replays(sim: &Sim) {
    let mut replayed = Model::new(&Topology::default_embedded(), 7);
    replayed.commit(&sim.journal);
    assert_eq!(fingerprint(&replayed), fingerprint(&sim.model));
    let mut loaded: Model = serde_json::from_value(serde_json::to_value(&sim.model).unwrap()).unwrap();
    loaded.rebuild_index();
    assert_eq!(fingerprint(&loaded), fingerprint(&sim.model));
}

#[test]
fn replaying_the_journal_rebuilds_the_same_model() {
    let mut sim = Sim::new();
    sim.volume("base", 2 * GIB).unwrap();
    sim.snap("base", "ro", true).unwrap();
    sim.snap("ro", "rw", false).unwrap();
    sim.vset("pool", &["base"]).unwrap();
    sim.run(Command::CreateQos { set: "pool".into(), settings: QosSettings::default() }).unwrap();
    sim.host("h", Some("nqn.h"), None).unwrap();
    sim.export("base", "h", 0, true).unwrap();
    sim.online_copy("rw", "clone").unwrap();
    sim.promote("ro").unwrap();
    sim.run(Command::GrowVolume { name: "clone".into(), delta_mib: 1 }).unwrap_err();
    sim.tick_at(NOW + 1);
    sim.run(Command::ModifyVolume {
        name: "rw".into(),
        change: VolumeChange { new_name: Some("rw2".into()), ..Default::default() },
    })
    .unwrap();
    assert_replays(&sim);
    // The next ids drawn after a replay are the same as without it.
    let mut again = Sim { model: Model::new(&Topology::default_embedded(), 7), now: sim.now, journal: vec![] };
    again.model.commit(&sim.journal);
    sim.volume("next", GIB).unwrap();
    again.volume("next", GIB).unwrap();
    assert_eq!(sim.get("next"), again.get("next"));
}

/// A property over many random call sequences (a fixed generator, so failures reproduce): every
/// command either fails leaving nothing or commits effects, and the journal always replays to
/// the same model.
#[test]
fn random_call_sequences_always_replay_to_the_same_model() {
    let names = ["a", "b", "c", "d"];
    let (mut successes, mut tasks) = (0, 0);
    for seed in 0..40u64 {
        let mut sim = Sim::new();
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..60 {
            let (x, y) = (names[next(4)], names[next(4)]);
            let command = match next(12) {
                0 => Command::CreateVolume(new_volume(x, 256 * (1 + next(8) as u64), Provisioning::Thin)),
                1 => Command::CreateSnapshot {
                    parent: x.into(),
                    snapshot: NewSnapshot {
                        name: format!("{y}{}", next(3)),
                        read_only: next(2) == 0,
                        ..Default::default()
                    },
                },
                2 => Command::DeleteVolume { name: x.into(), cascade: next(2) == 0 },
                3 => Command::GrowVolume { name: x.into(), delta_mib: 256 },
                4 => Command::CopyVolume {
                    source: x.into(),
                    destination: y.into(),
                    mode: CopyMode::Offline { priority: None },
                    data_mib: 4096,
                },
                5 => Command::PromoteVirtualCopy {
                    snapshot: format!("{x}{}", next(3)),
                    online: false,
                    priority: None,
                    data_mib: 1024,
                },
                6 => Command::CreateVlun(NewVlun {
                    volume: x.into(),
                    lun: 0,
                    auto_lun: true,
                    max_auto_lun: 0,
                    to: Some(ExportTo::Host("h".into())),
                    port: None,
                }),
                7 => Command::DeleteVlun { volume: x.into(), lun: next(3) as u32, host: Some("h".into()), port: None },
                8 => Command::CreateSet {
                    kind: SetKind::Volume,
                    name: format!("s{}", next(2)),
                    comment: None,
                    members: vec![x.into()],
                },
                9 => Command::TuneVolume {
                    name: x.into(),
                    tune: VolumeTune {
                        cpg: TuneCpg::User(["SSD_r6", "SSD_r1"][next(2)].into()),
                        conversion: [None, Some(Conversion::Dedup)][next(2)],
                        compression: None,
                        keep_vv: (next(2) == 0).then(|| format!("{y}k")),
                    },
                    data_mib: 2048,
                },
                10 if next(2) == 0 => {
                    Command::AddVolumeKey { volume: x.into(), key: format!("k{}", next(2)), value: y.into() }
                }
                10 => Command::RemoveVolumeKey { volume: x.into(), key: format!("k{}", next(2)) },
                _ => {
                    sim.now += next(8) as u64;
                    Command::Tick
                }
            };
            if sim.model.host_by_name("h").is_none() {
                sim.host("h", None, Some("iqn.h")).unwrap();
            }
            let before = serde_json::to_value(&sim.model).unwrap();
            match sim.run(command) {
                Ok(_) => successes += 1,
                Err(_) => assert_eq!(serde_json::to_value(&sim.model).unwrap(), before),
            }
        }
        assert_replays(&sim);
        tasks += sim.model.tasks().count();
    }
    // The sequences reach the interesting states, not only refusals.
    assert!(successes > 500 && tasks > 10, "{successes} successes, {tasks} tasks");
}

fn tune(cpg: TuneCpg, conversion: Option<Conversion>, keep_vv: Option<&str>) -> VolumeTune {
    VolumeTune { cpg, conversion, compression: None, keep_vv: keep_vv.map(str::to_string) }
}

impl Sim {
    fn tune(&mut self, name: &str, tune: VolumeTune) -> Result<Reply, Fault> {
        self.run(Command::TuneVolume { name: name.into(), tune, data_mib: 3 * GIB })
    }
}

#[test]
fn a_tune_is_a_task_and_the_volume_changes_when_it_completes() {
    let mut sim = Sim::new();
    sim.volume("v", 4 * GIB).unwrap();
    let (r6, r1) = (sim.model.cpg_by_name("SSD_r6").unwrap().id, sim.model.cpg_by_name("SSD_r1").unwrap().id);
    let id = task_of(sim.tune("v", tune(TuneCpg::User("SSD_r1".into()), Some(Conversion::Deco), None)).unwrap());
    let task = sim.model.task(id).unwrap().clone();
    // 3 GiB at 1024 MiB/s; a conversion is 19 CONVERT_VV, named after the volume.
    assert_eq!((task.due_time, task.kind.wsapi_type(), task.name.as_str()), (NOW + 3, 19, "v"));
    // Nothing changes while it runs, and the volume is busy.
    assert_eq!((sim.get("v").user_cpg, sim.get("v").provisioning), (Some(r6), Provisioning::Thin));
    assert_eq!(err(sim.tune("v", tune(TuneCpg::Snap("SSD_r1".into()), None, None))), (409, 151));
    assert_eq!(err(sim.run(Command::GrowVolume { name: "v".into(), delta_mib: 256 })), (409, 151));
    assert_eq!(err(sim.run(Command::DeleteVolume { name: "v".into(), cascade: false })), (409, 151));
    // Its target CPG cannot go while the tune moves the volume into it.
    assert_eq!(err(sim.run(Command::DeleteCpg { name: "SSD_r1".into() })), (409, 34));
    sim.tick_at(NOW + 3);
    let v = sim.get("v");
    assert_eq!(
        (v.user_cpg, v.snap_cpg, v.provisioning, v.compression),
        (Some(r1), Some(r6), Provisioning::Dedup, true)
    );
    assert_eq!(sim.model.task(id).unwrap().status, TaskStatus::Done);
    // A CPG-only move is 3 MOVE_REGIONS; cancelled, it leaves the volume as it was.
    let id = task_of(sim.tune("v", tune(TuneCpg::Snap("SSD_r1".into()), None, None)).unwrap());
    assert_eq!(sim.model.task(id).unwrap().kind.wsapi_type(), 3);
    sim.run(Command::CancelTask { task: id.into() }).unwrap();
    sim.tick_at(NOW + 10);
    assert_eq!(sim.get("v").snap_cpg, Some(r6));
    assert_replays(&sim);
}

#[test]
fn tune_refusals() {
    let mut sim = Sim::new();
    sim.volume("v", GIB).unwrap();
    let user = |c: &str| TuneCpg::User(c.into());
    assert_eq!(err(sim.tune("zz", tune(user("SSD_r1"), None, None))), (404, 23));
    let missing = sim.tune("v", tune(user("nope"), None, None)).unwrap_err();
    assert_eq!((missing.status, missing.code, missing.reference), (404, 15, Some("userCPG")));
    assert_eq!(err(sim.tune("v", tune(user("SSD_r1"), Some(Conversion::Thin), None))), (403, 325));
    // Alletra families have no full volumes.
    assert_eq!(err(sim.tune("v", tune(user("SSD_r1"), Some(Conversion::Full), None))), (400, 46));
    let snap_conversion = tune(TuneCpg::Snap("SSD_r1".into()), Some(Conversion::Dedup), None);
    assert_eq!(err(sim.tune("v", snap_conversion)), (400, 44));
    assert_eq!(err(sim.tune("v", tune(user("SSD_r1"), None, Some("k")))), (400, 44));
    sim.snap("v", "s", true).unwrap();
    assert_eq!(err(sim.tune("s", tune(user("SSD_r1"), None, None))), (403, 309));
    // Snapshots make a conversion need keepVV (Cinder matches 40 and "keepVV"), not a CPG move.
    let refused = sim.tune("v", tune(user("SSD_r1"), Some(Conversion::Dedup), None)).unwrap_err();
    assert_eq!((refused.status, refused.code, refused.reference), (400, 40, Some("keepVV")));
    assert!(refused.desc.contains("keepVV"), "{refused}");
    assert_eq!(err(sim.tune("v", tune(user("SSD_r1"), Some(Conversion::Dedup), Some("v")))), (409, 22));
    // A CPG move of a volume with snapshots needs none.
    sim.tune("v", tune(user("SSD_r1"), None, None)).unwrap();
}

#[test]
fn a_conversion_with_keep_vv_keeps_the_original_and_its_snapshots_under_that_name() {
    let mut sim = Sim::new();
    sim.volume("v", GIB).unwrap();
    sim.snap("v", "ro", true).unwrap();
    sim.snap("ro", "rw", false).unwrap();
    let old = sim.get("v").clone();
    sim.tune("v", tune(TuneCpg::User("SSD_r1".into()), Some(Conversion::Dedup), Some("orig"))).unwrap();
    let kept = sim.get("orig").clone();
    assert_ne!((kept.id, &kept.wwn), (old.id, &old.wwn), "a new volume, its own WWN");
    assert_eq!((kept.provisioning, kept.user_cpg, kept.origin), (old.provisioning, old.user_cpg, Origin::Base));
    assert!(sim.journal.contains(&Effect::ContentCopied { source: old.id, destination: kept.id }));
    assert_eq!(sim.get("ro").origin, Origin::VirtualCopy { parent: kept.id, read_only: true });
    assert_eq!((sim.get("ro").base_id, sim.get("rw").base_id), (kept.id, kept.id));
    assert_eq!(sim.model.children(old.id).count(), 0);
    sim.tick_at(NOW + 5);
    assert_eq!(sim.get("v").provisioning, Provisioning::Dedup);
    // The tuned volume stands alone now; the kept one refuses delete for its child.
    sim.run(Command::DeleteVolume { name: "v".into(), cascade: false }).unwrap();
    assert_eq!(err(sim.run(Command::DeleteVolume { name: "orig".into(), cascade: false })), (409, 25));
    assert_replays(&sim);
}

#[test]
fn a_3par_converts_to_full_within_its_cpg_space() {
    let mut sim = Sim::with(three_par());
    sim.volume("t", 2 * GIB).unwrap();
    sim.run(Command::CreateVolume(new_volume("f", GIB, Provisioning::Full))).unwrap();
    let full = |keep: Option<&str>| tune(TuneCpg::User("SSD_r6".into()), Some(Conversion::Full), keep);
    // 1 GiB of the CPG's 2 GiB is reserved: a 2 GiB full volume does not fit.
    assert_eq!(err(sim.tune("t", full(None))), (400, 24));
    assert_eq!(err(sim.tune("f", full(None))), (403, 324));
    let compressed = VolumeTune { compression: Some(true), ..tune(TuneCpg::User("SSD_r6".into()), None, None) };
    assert_eq!(err(sim.tune("f", compressed)), (403, 324));
    sim.run(Command::DeleteVolume { name: "f".into(), cascade: false }).unwrap();
    sim.tune("t", full(None)).unwrap();
    sim.tick_at(NOW + 10);
    assert_eq!(sim.get("t").provisioning, Provisioning::Full);
    assert_eq!(sim.model.cpg_usage(sim.get("t").user_cpg.unwrap()).full_mib, 2 * GIB);
}

#[test]
fn volume_keys_are_added_changed_and_removed_with_the_real_refusals() {
    let mut sim = Sim::new();
    sim.volume("v", GIB).unwrap();
    let add = |k: &str, v: &str| Command::AddVolumeKey { volume: "v".into(), key: k.into(), value: v.into() };
    sim.run(add("HPQ-cinder-CHAP-name", "user")).unwrap();
    assert_eq!(err(sim.run(add("HPQ-cinder-CHAP-name", "other"))), (409, 181));
    assert_eq!(err(sim.run(add("&", "x"))), (400, 69));
    assert_eq!(err(sim.run(add(&"k".repeat(32), "x"))), (400, 57));
    assert_eq!(err(sim.run(add("long", &"x".repeat(256)))), (400, 57));
    let missing = Command::AddVolumeKey { volume: "zz".into(), key: "k".into(), value: "x".into() };
    assert_eq!(err(sim.run(missing)), (404, 23));
    sim.now += 60;
    let set = |k: &str| Command::SetVolumeKey { volume: "v".into(), key: k.into(), value: "new".into() };
    sim.run(set("HPQ-cinder-CHAP-name")).unwrap();
    assert_eq!(err(sim.run(set("absent"))), (404, 180));
    let kv = &sim.get("v").metadata["HPQ-cinder-CHAP-name"];
    assert_eq!((kv.value.as_str(), kv.creation_time), ("new", NOW), "a new value keeps the key's time");
    // Copies do not take the parent's keys.
    sim.snap("v", "s", true).unwrap();
    assert!(sim.get("s").metadata.is_empty());
    assert_replays(&sim);
    let remove = |k: &str| Command::RemoveVolumeKey { volume: "v".into(), key: k.into() };
    sim.run(remove("HPQ-cinder-CHAP-name")).unwrap();
    assert_eq!(err(sim.run(remove("HPQ-cinder-CHAP-name"))), (404, 180));
    assert!(sim.get("v").metadata.is_empty());
}
