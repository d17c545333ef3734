//! The reference model: what a PowerFlex 4.x gateway should do, as plain data.
//!
//! It is written from `shared/reference/powerflex-api.md` (§2.4, §2.5, §2.12,
//! §3) and `lxd-drivers.md` §5, never from the emulator, and it knows nothing
//! about HTTP, JSON, ids or the driver's types. Volumes are keyed by harness
//! handles ([`H`]); the system under test maps handles to gateway ids.
//!
//! Rules encoded here:
//!
//! * sizes round up to 8 GiB, at least 8 GiB; shrinking is refused (133);
//! * names are at most 31 printable ASCII characters without spaces (226, 227)
//!   and unique among volumes and snapshots (99);
//! * a VTree holds its base and at most 126 snapshots, 127 volumes in all;
//!   one more is refused with rc 182 in an "Error with details" envelope;
//! * removing a mapped volume is refused (104); `ONLY_ME` leaves descendants;
//!   `DESCENDANTS_ONLY` with none is refused (183);
//! * mapping twice is refused (81); unmapping a host that is not mapped is
//!   refused (4039);
//! * overwriting content across VTrees is refused (198);
//! * an unknown volume is 500/79;
//! * a host copy with snapshots fails whole when a snapshot is larger than
//!   the copy (LXD `dd`s each snapshot into the target it made at the copy's size);
//! * content: snapshots are frozen copies, copies are independent, restore
//!   brings back the source's bytes; a `clone_copy=false` copy of a volume
//!   without snapshots is a snapshot in the source's VTree, any other copy is a
//!   new volume in its own VTree.

use std::collections::{BTreeMap, BTreeSet};

/// A volume handle, assigned by the model in creation order.
pub type H = u32;
/// A VTree handle.
pub type T = u32;

/// The allocation unit, in GiB.
pub const UNIT_GIB: u64 = 8;
/// One GiB.
pub const GIB: u64 = 1 << 30;
/// Volumes per VTree: the base and 126 snapshots.
pub const MAX_VTREE_VOLUMES: usize = 127;
/// How many harness hosts mappings are made to.
pub const HOSTS: u8 = 2;
/// Content slots checked per volume.
pub const SLOTS: u8 = 4;

/// PowerFlex return codes the model predicts.
pub mod rc {
    /// `VOL_NOT_FOUND`.
    pub const VOL_NOT_FOUND: i64 = 79;
    /// `VOL_ALREADY_MAPPED_TO_THIS_INI`.
    pub const ALREADY_MAPPED: i64 = 81;
    /// `VOL_NAME_IN_USE`.
    pub const NAME_IN_USE: i64 = 99;
    /// `VOL_MAPPED`.
    pub const VOL_MAPPED: i64 = 104;
    /// `VOL_DECREASE_NOT_SUPPORTED`.
    pub const SHRINK: i64 = 133;
    /// `TOO_MANY_SNAPS_IN_VTREE` (in `details[0].rc`).
    pub const TOO_MANY_SNAPS: i64 = 182;
    /// `NOTHING_TO_DO`.
    pub const NOTHING_TO_DO: i64 = 183;
    /// `VTREE_ID_MISMATCH`.
    pub const VTREE_MISMATCH: i64 = 198;
    /// `LONG_NAME`.
    pub const LONG_NAME: i64 = 226;
    /// `INVALID_NAME`.
    pub const INVALID_NAME: i64 = 227;
    /// Unmapping a host that is not mapped.
    pub const MAPPING_MISSING: i64 = 4039;
}

/// Rounds a size in GiB up to the allocation unit (at least one unit).
pub fn round_gib(gib: u64) -> u64 {
    gib.max(1).div_ceil(UNIT_GIB) * UNIT_GIB
}

/// Rounds a size in bytes up to whole allocation units, in GiB.
pub fn round_bytes(bytes: u64) -> u64 {
    round_gib(bytes.div_ceil(GIB))
}

/// The provisioning the gateway reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ThinProvisioned`.
    Thin,
    /// `ThickProvisioned`.
    Thick,
    /// `Snapshot`.
    Snapshot,
}

impl Kind {
    /// The gateway's `volumeType`.
    pub fn wire(self) -> &'static str {
        match self {
            Kind::Thin => "ThinProvisioned",
            Kind::Thick => "ThickProvisioned",
            Kind::Snapshot => "Snapshot",
        }
    }
}

/// A volume's name, symbolically; the system under test spells it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Name {
    /// The driver's name for handle `h` (so the driver can address it).
    Driver {
        /// The handle whose UUID the name encodes.
        h: H,
        /// Whether it carries the snapshot `s` prefix.
        snap: bool,
    },
    /// A harness name that the driver cannot parse.
    Raw(u32),
}

impl Name {
    /// Whether the driver's snapshot listing would count it (`s` prefix).
    pub fn is_driver_snapshot(self) -> bool {
        matches!(self, Name::Driver { snap: true, .. })
    }
}

/// A name asked for in a create or rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameChoice {
    /// A new valid name.
    Fresh,
    /// The current name of another volume.
    Taken(H),
    /// 32 characters.
    TooLong,
    /// Contains a space.
    Space,
}

/// What a volume's `ancestorVolumeId` should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ancestor {
    /// `null`: a base volume.
    None,
    /// The volume it was snapshotted from.
    Of(H),
    /// Its ancestor was removed with `ONLY_ME`; the reference does not say what
    /// becomes of the field, so it is not compared.
    Unknown,
}

/// One volume (or snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vol {
    /// Its name.
    pub name: Name,
    /// Its size in GiB.
    pub size_gib: u64,
    /// Its provisioning.
    pub kind: Kind,
    /// Its VTree.
    pub vtree: T,
    /// Its ancestor.
    pub ancestor: Ancestor,
    /// Harness hosts it is mapped to.
    pub mapped: BTreeSet<u8>,
    /// Content: slot → pattern tag; absent slots read as zeros.
    pub content: BTreeMap<u8, u32>,
    /// Thick, or derived from a thick volume: fully allocated on the array.
    /// The harness keeps these small and never fills or copies them, to bound
    /// the disk and time a run takes (not a gateway rule).
    pub heavy: bool,
}

/// The `removeMode` of `removeVolume`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveMode {
    /// Only this volume.
    OnlyMe,
    /// This volume and its descendants.
    IncludingDescendants,
    /// Its descendants only.
    DescendantsOnly,
    /// Every volume of the VTree.
    WholeVtree,
}

impl RemoveMode {
    /// The wire value.
    pub fn wire(self) -> &'static str {
        match self {
            RemoveMode::OnlyMe => "ONLY_ME",
            RemoveMode::IncludingDescendants => "INCLUDING_DESCENDANTS",
            RemoveMode::DescendantsOnly => "DESCENDANTS_ONLY",
            RemoveMode::WholeVtree => "WHOLE_VTREE",
        }
    }
}

/// What an operation should return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expect {
    /// Success.
    #[default]
    Ok,
    /// A gateway error with this PowerFlex code (HTTP 500).
    Code(i64),
    /// The driver refuses a shrink itself, before asking the gateway.
    DriverShrinkRefused,
    /// The driver refuses a host copy whose snapshot is larger than the
    /// target, before creating anything.
    DriverSnapshotLargerThanCopy,
}

/// How the driver makes a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyWay {
    /// A snapshot in the source's VTree.
    Snapshot,
    /// A new volume in its own VTree, filled by a host copy.
    HostCopy,
}

/// The whole reference state.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Live volumes.
    pub vols: BTreeMap<H, Vol>,
    /// Removed volumes (their ids must now be unknown to the gateway).
    pub removed: Vec<H>,
    /// VTrees whose ancestry the reference cannot predict any more (a volume
    /// with descendants was removed with `ONLY_ME`).
    pub uncertain: BTreeSet<T>,
    /// Next volume handle.
    pub next_h: H,
    /// Next VTree handle.
    pub next_t: T,
    /// Next raw name label.
    pub next_label: u32,
    /// Whether content is checked (a data connector is in use).
    pub data: bool,
    /// What the last operation should have returned.
    pub expect: Expect,
    /// How the last copy should have been made, when it was one.
    pub copy_way: Option<CopyWay>,
    /// Handles created by the last operation, in order.
    pub created: Vec<H>,
}

impl Model {
    /// An empty model.
    pub fn new(data: bool) -> Model {
        Model { data, expect: Expect::Ok, ..Model::default() }
    }

    /// Volumes of a VTree.
    pub fn vtree_members(&self, t: T) -> Vec<H> {
        self.vols.iter().filter(|(_, v)| v.vtree == t).map(|(h, _)| *h).collect()
    }

    /// Direct and indirect descendants of `h`, by known ancestry.
    pub fn descendants(&self, h: H) -> Vec<H> {
        let mut out = Vec::new();
        let mut frontier = vec![h];
        while let Some(p) = frontier.pop() {
            for (c, v) in &self.vols {
                if v.ancestor == Ancestor::Of(p) && !out.contains(c) {
                    out.push(*c);
                    frontier.push(*c);
                }
            }
        }
        out.sort();
        out
    }

    /// Whether the driver can address `h` (its name is the driver's name).
    pub fn driver_addressable(&self, h: H) -> bool {
        matches!(self.vols.get(&h), Some(v) if matches!(v.name, Name::Driver { .. }))
    }

    /// The driver snapshots of `h`, oldest first (what the driver lists).
    pub fn driver_snapshots(&self, h: H) -> Vec<H> {
        self.vols
            .iter()
            .filter(|(_, v)| v.ancestor == Ancestor::Of(h) && v.name.is_driver_snapshot())
            .map(|(c, _)| *c)
            .collect()
    }

    /// Whether the name `n` is in use.
    pub fn name_taken(&self, n: Name) -> bool {
        self.vols.values().any(|v| v.name == n)
    }

    fn fresh_label(&mut self) -> Name {
        self.next_label += 1;
        Name::Raw(self.next_label)
    }

    fn fresh_h(&mut self) -> H {
        self.next_h += 1;
        self.next_h
    }

    fn fresh_t(&mut self) -> T {
        self.next_t += 1;
        self.next_t
    }

    fn vtree_full(&self, t: T) -> bool {
        self.vtree_members(t).len() >= MAX_VTREE_VOLUMES
    }

    /// The error a name choice gives, if any.
    fn name_error(&self, choice: NameChoice) -> Option<i64> {
        match choice {
            NameChoice::Fresh => None,
            NameChoice::Taken(_) => Some(rc::NAME_IN_USE),
            NameChoice::TooLong => Some(rc::LONG_NAME),
            NameChoice::Space => Some(rc::INVALID_NAME),
        }
    }

    fn add(&mut self, h: H, vol: Vol) {
        self.vols.insert(h, vol);
        self.created.push(h);
    }

    fn new_volume(&mut self, name: Name, size_gib: u64, thick: bool) -> H {
        let h = self.fresh_h();
        let t = self.fresh_t();
        let name = match name {
            Name::Driver { snap, .. } => Name::Driver { h, snap },
            raw => raw,
        };
        self.add(
            h,
            Vol {
                name,
                size_gib,
                kind: if thick { Kind::Thick } else { Kind::Thin },
                vtree: t,
                ancestor: Ancestor::None,
                mapped: BTreeSet::new(),
                content: BTreeMap::new(),
                heavy: thick,
            },
        );
        h
    }

    /// Snapshot of `src` named `name`; `Err(182)` when the VTree is full.
    fn snapshot(&mut self, src: H, name: Option<Name>) -> Result<H, i64> {
        let s = self.vols[&src].clone();
        if self.vtree_full(s.vtree) {
            return Err(rc::TOO_MANY_SNAPS);
        }
        let h = self.fresh_h();
        let name = name.unwrap_or(Name::Driver { h, snap: true });
        self.add(
            h,
            Vol {
                name,
                size_gib: s.size_gib,
                kind: Kind::Snapshot,
                vtree: s.vtree,
                ancestor: Ancestor::Of(src),
                mapped: BTreeSet::new(),
                content: s.content.clone(),
                heavy: s.heavy,
            },
        );
        Ok(h)
    }

    /// Removes `hs` together. Only a survivor whose ancestor went is orphaned
    /// (its ancestry, and so its VTree's, becomes unknown); a child removed in
    /// the same call orphans nothing.
    fn remove(&mut self, hs: &[H]) {
        let mut gone = BTreeSet::new();
        for h in hs {
            if self.vols.remove(h).is_some() {
                self.removed.push(*h);
                gone.insert(*h);
            }
        }
        for c in self.vols.values_mut() {
            if matches!(c.ancestor, Ancestor::Of(a) if gone.contains(&a)) {
                c.ancestor = Ancestor::Unknown;
                self.uncertain.insert(c.vtree);
            }
        }
    }

    /// Which volumes a remove mode touches.
    pub fn remove_set(&self, h: H, mode: RemoveMode) -> Vec<H> {
        match mode {
            RemoveMode::OnlyMe => vec![h],
            RemoveMode::IncludingDescendants => {
                let mut s = vec![h];
                s.extend(self.descendants(h));
                s
            }
            RemoveMode::DescendantsOnly => self.descendants(h),
            RemoveMode::WholeVtree => self.vtree_members(self.vols[&h].vtree),
        }
    }

    /// How the driver will copy `src` (see `Driver::copy_method`): a snapshot
    /// in the source's VTree only when `clone_copy` is false, the source has no
    /// snapshots and the copy takes none (lxd-drivers.md §5.5). A copy takes
    /// only the snapshots the source has, so whether snapshots are copied
    /// along never decides on its own.
    pub fn copy_way(&self, src: H, clone_copy: bool) -> CopyWay {
        if clone_copy || !self.driver_snapshots(src).is_empty() {
            CopyWay::HostCopy
        } else {
            CopyWay::Snapshot
        }
    }

    /// Applies `op`, recording the expected outcome in `expect`.
    pub fn apply(&mut self, op: &Op) {
        self.created.clear();
        self.copy_way = None;
        self.expect = self.step(op);
    }

    fn step(&mut self, op: &Op) -> Expect {
        use Expect::{Code, Ok as Fine};
        match *op {
            Op::Create { size, thick } => {
                self.new_volume(Name::Driver { h: 0, snap: false }, round_bytes(size), thick);
                Fine
            }
            Op::CreateRaw { size_gib, thick, name } => {
                if let Some(code) = self.name_error(name) {
                    return Code(code);
                }
                self.new_volume(Name::Driver { h: 0, snap: false }, round_gib(size_gib), thick);
                Fine
            }
            Op::Snapshot { vol } => match self.snapshot(vol, None) {
                Ok(_) => Fine,
                Err(code) => Code(code),
            },
            Op::Fill { vol } => {
                // Raw snapshots until the VTree is full, then one more: refused.
                loop {
                    let name = self.fresh_label();
                    if let Err(code) = self.snapshot(vol, Some(name)) {
                        return Code(code);
                    }
                }
            }
            Op::Copy { src, clone_copy, with_snapshots, size } => {
                let way = self.copy_way(src, clone_copy);
                self.copy_way = Some(way);
                let s = self.vols[&src].clone();
                let wanted = size.map(round_bytes).unwrap_or(0);
                match way {
                    CopyWay::Snapshot => {
                        let h = match self.snapshot(src, None) {
                            Ok(h) => h,
                            Err(code) => return Code(code),
                        };
                        let v = self.vols.get_mut(&h).expect("just made");
                        v.name = Name::Driver { h, snap: false };
                        v.size_gib = v.size_gib.max(wanted);
                    }
                    CopyWay::HostCopy => {
                        let snaps = if with_snapshots { self.driver_snapshots(src) } else { Vec::new() };
                        let size_gib = s.size_gib.max(wanted);
                        // LXD makes the target at the copy's size and writes each
                        // snapshot into it (lxd-drivers.md §5.5): a snapshot grown
                        // past that size does not fit, and the copy fails whole.
                        if snaps.iter().any(|ss| self.vols[ss].size_gib > size_gib) {
                            return Expect::DriverSnapshotLargerThanCopy;
                        }
                        let t = self.new_volume(Name::Driver { h: 0, snap: false }, size_gib, false);
                        for ss in snaps {
                            let c = self.vols[&ss].content.clone();
                            self.vols.get_mut(&t).expect("target").content = c;
                            self.snapshot(t, None).expect("a new VTree has room");
                        }
                        self.vols.get_mut(&t).expect("target").content = s.content.clone();
                    }
                }
                Fine
            }
            Op::Restore { vol, from } => {
                if self.vols[&vol].vtree != self.vols[&from].vtree {
                    return Code(rc::VTREE_MISMATCH);
                }
                let c = self.vols[&from].content.clone();
                self.vols.get_mut(&vol).expect("live").content = c;
                Fine
            }
            Op::Resize { vol, size } => {
                let v = self.vols.get_mut(&vol).expect("live");
                let wanted = round_bytes(size);
                if wanted < v.size_gib {
                    return Expect::DriverShrinkRefused;
                }
                v.size_gib = wanted;
                Fine
            }
            Op::ResizeRaw { vol, size_gib } => {
                let v = self.vols.get_mut(&vol).expect("live");
                if size_gib < v.size_gib {
                    return Code(rc::SHRINK);
                }
                v.size_gib = round_gib(size_gib);
                Fine
            }
            Op::Delete { vol } => {
                self.remove(&[vol]);
                Fine
            }
            Op::Remove { vol, mode } => {
                let set = self.remove_set(vol, mode);
                if set.is_empty() {
                    return Code(rc::NOTHING_TO_DO);
                }
                if set.iter().any(|h| !self.vols[h].mapped.is_empty()) {
                    return Code(rc::VOL_MAPPED);
                }
                self.remove(&set);
                Fine
            }
            Op::Map { vol, host } => {
                if !self.vols.get_mut(&vol).expect("live").mapped.insert(host) {
                    return Code(rc::ALREADY_MAPPED);
                }
                Fine
            }
            Op::Unmap { vol, host } => {
                if !self.vols.get_mut(&vol).expect("live").mapped.remove(&host) {
                    return Code(rc::MAPPING_MISSING);
                }
                Fine
            }
            Op::Rename { vol, to } => {
                if let Some(code) = self.name_error(to) {
                    return Code(code);
                }
                let n = self.fresh_label();
                self.vols.get_mut(&vol).expect("live").name = n;
                Fine
            }
            Op::QueryGone { .. } => Code(rc::VOL_NOT_FOUND),
            Op::Write { vol, slot, tag } => {
                self.vols.get_mut(&vol).expect("live").content.insert(slot, tag);
                Fine
            }
        }
    }

    /// Whether `op` may run in this state (re-checked while shrinking).
    pub fn precondition(&self, op: &Op) -> bool {
        let live = |h: &H| self.vols.contains_key(h);
        let drv = |h: &H| self.driver_addressable(*h);
        match op {
            Op::Create { size, thick: true } => *size <= 8 * GIB,
            Op::CreateRaw { size_gib, thick: true, .. } if *size_gib > 8 => false,
            Op::Resize { vol, size } if drv(vol) && self.vols[vol].heavy => *size <= 16 * GIB,
            Op::ResizeRaw { vol, size_gib } if live(vol) && self.vols[vol].heavy && *size_gib > 16 => false,
            Op::Create { thick: false, .. } => true,
            Op::CreateRaw { name, .. } => match name {
                NameChoice::Taken(o) => live(o),
                _ => true,
            },
            Op::Snapshot { vol } | Op::Resize { vol, .. } | Op::Delete { vol } => drv(vol),
            Op::Fill { vol } => live(vol) && !self.vols[vol].heavy && !self.vtree_full(self.vols[vol].vtree),
            Op::Copy { src, .. } => {
                drv(src) && !self.vols[src].heavy && !self.uncertain.contains(&self.vols[src].vtree)
            }
            Op::Restore { vol, from } => {
                drv(vol)
                    && drv(from)
                    && vol != from
                    && (self.vols[vol].vtree != self.vols[from].vtree
                        || self.vols[vol].size_gib == self.vols[from].size_gib)
            }
            Op::ResizeRaw { vol, size_gib } => {
                live(vol) && *size_gib > 0 && {
                    let cur = self.vols[vol].size_gib;
                    *size_gib > cur || round_gib(*size_gib) < cur
                }
            }
            Op::Remove { vol, mode } => {
                if !live(vol) {
                    return false;
                }
                let vtree = self.vols[vol].vtree;
                if matches!(mode, RemoveMode::IncludingDescendants | RemoveMode::DescendantsOnly)
                    && self.uncertain.contains(&vtree)
                {
                    return false;
                }
                // Only a mapped target itself has a documented answer (104).
                let set = self.remove_set(*vol, *mode);
                set.iter().all(|h| h == vol || self.vols[h].mapped.is_empty())
            }
            Op::Map { vol, host } | Op::Unmap { vol, host } => live(vol) && *host < HOSTS,
            Op::Rename { vol, to } => {
                live(vol)
                    && match to {
                        NameChoice::Taken(o) => live(o) && o != vol,
                        _ => true,
                    }
            }
            Op::QueryGone { vol } => self.removed.contains(vol),
            Op::Write { vol, slot, .. } => self.data && drv(vol) && *slot < SLOTS,
        }
    }
}

/// One step of a generated sequence, named after what the harness calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `Driver::create_volume` with a size in bytes.
    Create {
        /// Requested bytes.
        size: u64,
        /// Thick provisioning.
        thick: bool,
    },
    /// `POST /api/types/Volume/instances` with a size in GiB and a chosen name.
    CreateRaw {
        /// Requested GiB.
        size_gib: u64,
        /// Thick provisioning.
        thick: bool,
        /// The name asked for.
        name: NameChoice,
    },
    /// `Driver::create_snapshot`.
    Snapshot {
        /// The source.
        vol: H,
    },
    /// Raw `snapshotVolumes` until the VTree is full, then one past the limit.
    Fill {
        /// The source.
        vol: H,
    },
    /// `Driver::copy_volume`.
    Copy {
        /// The source.
        src: H,
        /// `powerflex.clone_copy`.
        clone_copy: bool,
        /// Copy the source's snapshots along.
        with_snapshots: bool,
        /// Requested size in bytes.
        size: Option<u64>,
    },
    /// `Driver::restore_volume` of `vol` from `from`.
    Restore {
        /// The volume overwritten.
        vol: H,
        /// Where the content comes from.
        from: H,
    },
    /// `Driver::resize_volume` with a size in bytes.
    Resize {
        /// The volume.
        vol: H,
        /// Requested bytes.
        size: u64,
    },
    /// Raw `setVolumeSize` with a size in GiB.
    ResizeRaw {
        /// The volume.
        vol: H,
        /// Requested GiB.
        size_gib: u64,
    },
    /// `Driver::delete_volume` (unmap everything, then `ONLY_ME`).
    Delete {
        /// The volume.
        vol: H,
    },
    /// Raw `removeVolume` with a mode.
    Remove {
        /// The volume.
        vol: H,
        /// The mode.
        mode: RemoveMode,
    },
    /// Raw `addMappedHost`.
    Map {
        /// The volume.
        vol: H,
        /// The harness host.
        host: u8,
    },
    /// Raw `removeMappedHost`.
    Unmap {
        /// The volume.
        vol: H,
        /// The harness host.
        host: u8,
    },
    /// Raw `setVolumeName`.
    Rename {
        /// The volume.
        vol: H,
        /// The new name.
        to: NameChoice,
    },
    /// `GET Volume::{id}` and `queryIdByKey` of a removed volume.
    QueryGone {
        /// The removed volume.
        vol: H,
    },
    /// Writes pattern `tag` into `slot` through an attached device.
    Write {
        /// The volume.
        vol: H,
        /// The slot.
        slot: u8,
        /// The pattern.
        tag: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_up_to_8_gib() {
        assert_eq!(round_gib(1), 8);
        assert_eq!(round_gib(8), 8);
        assert_eq!(round_gib(9), 16);
        assert_eq!(round_bytes(1), 8);
        assert_eq!(round_bytes(8 * GIB + 1), 16);
        assert_eq!(round_bytes(24 * GIB), 24);
    }

    #[test]
    fn the_127th_volume_of_a_vtree_is_refused() {
        let mut m = Model::new(false);
        m.apply(&Op::Create { size: 1, thick: false });
        m.apply(&Op::Fill { vol: 1 });
        assert_eq!(m.expect, Expect::Code(rc::TOO_MANY_SNAPS));
        assert_eq!(m.vtree_members(1).len(), MAX_VTREE_VOLUMES);
        m.apply(&Op::Snapshot { vol: 1 });
        assert_eq!(m.expect, Expect::Code(rc::TOO_MANY_SNAPS));
        m.apply(&Op::Copy { src: 1, clone_copy: false, with_snapshots: false, size: None });
        // Fill's snapshots are not driver snapshots (no `s` name), so this is a snapshot copy.
        assert_eq!(m.copy_way, Some(CopyWay::Snapshot));
        assert_eq!(m.expect, Expect::Code(rc::TOO_MANY_SNAPS));
    }

    #[test]
    fn snapshots_are_frozen_and_restore_brings_them_back() {
        let mut m = Model::new(true);
        m.apply(&Op::Create { size: 1, thick: false });
        m.apply(&Op::Write { vol: 1, slot: 0, tag: 7 });
        m.apply(&Op::Snapshot { vol: 1 });
        m.apply(&Op::Write { vol: 1, slot: 0, tag: 8 });
        assert_eq!(m.vols[&2].content[&0], 7);
        m.apply(&Op::Restore { vol: 1, from: 2 });
        assert_eq!(m.vols[&1].content[&0], 7);
    }

    #[test]
    fn removal_rules() {
        let mut m = Model::new(false);
        m.apply(&Op::Create { size: 1, thick: false });
        m.apply(&Op::Remove { vol: 1, mode: RemoveMode::DescendantsOnly });
        assert_eq!(m.expect, Expect::Code(rc::NOTHING_TO_DO));
        m.apply(&Op::Map { vol: 1, host: 0 });
        m.apply(&Op::Map { vol: 1, host: 0 });
        assert_eq!(m.expect, Expect::Code(rc::ALREADY_MAPPED));
        m.apply(&Op::Remove { vol: 1, mode: RemoveMode::OnlyMe });
        assert_eq!(m.expect, Expect::Code(rc::VOL_MAPPED));
        m.apply(&Op::Unmap { vol: 1, host: 1 });
        assert_eq!(m.expect, Expect::Code(rc::MAPPING_MISSING));
        m.apply(&Op::Snapshot { vol: 1 });
        m.apply(&Op::Delete { vol: 1 });
        assert_eq!(m.vols[&2].ancestor, Ancestor::Unknown);
        assert!(m.uncertain.contains(&1));
    }

    #[test]
    fn removing_a_subtree_together_orphans_nothing() {
        let mut m = Model::new(false);
        m.apply(&Op::Create { size: 1, thick: false }); // 1
        m.apply(&Op::Snapshot { vol: 1 }); // 2
        m.apply(&Op::Snapshot { vol: 2 }); // 3
        m.apply(&Op::Snapshot { vol: 3 }); // 4
        m.apply(&Op::Remove { vol: 2, mode: RemoveMode::IncludingDescendants });
        assert_eq!(m.expect, Expect::Ok);
        assert_eq!(m.vols.keys().copied().collect::<Vec<_>>(), vec![1]);
        assert!(m.uncertain.is_empty(), "nothing survived its ancestor: {:?}", m.uncertain);
        // So the VTree still allows copies and descendant removals.
        let copy = Op::Copy { src: 1, clone_copy: false, with_snapshots: false, size: None };
        assert!(m.precondition(&copy));
        m.apply(&Op::Snapshot { vol: 1 }); // 5
        assert!(m.precondition(&Op::Remove { vol: 1, mode: RemoveMode::DescendantsOnly }));
        m.apply(&Op::Remove { vol: 1, mode: RemoveMode::DescendantsOnly });
        assert!(m.uncertain.is_empty());
        // Removing a middle volume alone still orphans its child.
        m.apply(&Op::Snapshot { vol: 1 }); // 6
        m.apply(&Op::Snapshot { vol: 6 }); // 7
        m.apply(&Op::Remove { vol: 6, mode: RemoveMode::OnlyMe });
        assert_eq!(m.vols[&7].ancestor, Ancestor::Unknown);
        assert!(m.uncertain.contains(&1));
    }

    #[test]
    fn a_host_copy_fails_whole_when_a_snapshot_is_larger_than_the_copy() {
        // The sequence the harness found with seed 7 (48 cases).
        let mut m = Model::new(false);
        m.apply(&Op::Create { size: 1, thick: false }); // 1
        m.apply(&Op::Copy { src: 1, clone_copy: false, with_snapshots: false, size: None }); // 2
        m.apply(&Op::Snapshot { vol: 1 }); // 3
        m.apply(&Op::Resize { vol: 3, size: 12 * GIB });
        assert_eq!(m.vols[&3].size_gib, 16);
        let before = m.vols.clone();
        m.apply(&Op::Copy { src: 1, clone_copy: false, with_snapshots: true, size: Some(11) });
        assert_eq!(m.expect, Expect::DriverSnapshotLargerThanCopy);
        assert_eq!(m.vols, before, "nothing created");
        assert!(m.created.is_empty());
        // Without its snapshots, or at the snapshot's size, the copy is made.
        m.apply(&Op::Copy { src: 1, clone_copy: false, with_snapshots: false, size: Some(11) });
        assert_eq!((m.expect, m.created.len()), (Expect::Ok, 1));
        m.apply(&Op::Copy { src: 1, clone_copy: false, with_snapshots: true, size: Some(16 * GIB) });
        assert_eq!((m.expect, m.created.len()), (Expect::Ok, 2));
    }

    #[test]
    fn a_snapshot_copy_needs_clone_copy_false_and_a_source_without_snapshots() {
        let mut m = Model::new(false);
        m.apply(&Op::Create { size: 1, thick: false }); // 1
        assert_eq!(m.copy_way(1, false), CopyWay::Snapshot);
        assert_eq!(m.copy_way(1, true), CopyWay::HostCopy);
        // Asking for snapshots along changes nothing when there are none.
        m.apply(&Op::Copy { src: 1, clone_copy: false, with_snapshots: true, size: None });
        assert_eq!(m.copy_way, Some(CopyWay::Snapshot));
        m.apply(&Op::Snapshot { vol: 1 });
        assert_eq!(m.copy_way(1, false), CopyWay::HostCopy);
        m.apply(&Op::Copy { src: 1, clone_copy: false, with_snapshots: false, size: None });
        assert_eq!(m.copy_way, Some(CopyWay::HostCopy));
    }
}
