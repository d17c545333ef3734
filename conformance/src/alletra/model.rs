//! The reference model of an Alletra array as LXD's driver sees it, written
//! from `alletra-wsapi.md` and `lxd-drivers.md` §6 (never from the emulator):
//! plain data, no I/O.
//!
//! * Sizes are MiB. The driver refuses sizes that are not multiples of
//!   256 MiB; the array itself rounds a create up to the next multiple
//!   (alletra-wsapi.md §1.2, §2).
//! * A snapshot is a virtual copy: the parent's size and bytes when taken.
//!   Promoting it (restore) gives the parent the snapshot's bytes.
//! * A copy creates the destination at the requested size, then copies each
//!   source snapshot into it and snapshots it there (oldest first), then the
//!   volume (lxd-drivers.md §6.3).
//! * Deleting through the driver cascades (the snapshot tree goes too);
//!   deleting without `cascade` a volume with virtual copies is refused with
//!   409 HAS_CHILD (code 32).
//! * Growing goes up only; the driver refuses a shrink.
//! * Exports are vLUNs, one LUN per volume and host.
//! * Names: `name31`-style characters only (400 INV_INPUT_ILLEGAL_CHAR, 69),
//!   a length limit (400 INV_INPUT_EXCEEDS_LENGTH, 57), unique (409
//!   EXISTENT_VOL, 22).

use std::collections::BTreeMap;

pub use crate::model::SLOTS;

/// The allocation unit in MiB.
pub const GRANULE_MIB: u64 = 256;
/// Bytes per MiB.
pub const MIB: u64 = 1 << 20;
/// A name longer than any documented or LXD-needed limit (31, 37).
pub const TOO_LONG: usize = 64;

/// A model handle: a volume or snapshot, numbered in creation order.
pub type H = u32;

/// Rounds MiB up to the allocation unit, as the array does on create.
pub fn round_up(mib: u64) -> u64 {
    mib.div_ceil(GRANULE_MIB) * GRANULE_MIB
}

/// The name a raw create asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameChoice {
    /// A new valid name.
    Fresh,
    /// Longer than the array allows.
    TooLong,
    /// With a character the array refuses (`!`).
    IllegalChar,
    /// The name of a live volume.
    Taken(H),
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// The driver creates a volume (LXD's create: the set member too).
    Create { size_mib: u64 },
    /// `POST /volumes` directly, any size and name.
    CreateRaw { size_mib: u64, name: NameChoice },
    /// Write a pattern into a slot through the driver's attach.
    Write { vol: H, slot: u8, tag: u32 },
    /// The driver takes a snapshot.
    Snapshot { vol: H },
    /// The driver restores `vol` from its snapshot `snap` (promote, task wait).
    Restore { vol: H, snap: H },
    /// The driver resizes to `size_mib`.
    Grow { vol: H, size_mib: u64 },
    /// The driver copies `src` (with its snapshots) into a new volume.
    Copy { src: H, with_snapshots: bool, size_mib: Option<u64> },
    /// The driver deletes a volume (with `cascade`) or a snapshot.
    Delete { vol: H },
    /// Out of the volume set, then `DELETE` without `cascade`.
    DeleteNoCascade { vol: H },
    /// The driver exports to this host (a vLUN).
    Export { vol: H },
    /// The driver removes this host's export.
    Unexport { vol: H },
}

/// What a step should give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Success.
    Ok,
    /// A WSAPI error: HTTP status and `code`.
    Wsapi(u16, i64),
    /// The driver refuses a size that is not a multiple of 256 MiB.
    DriverSizeRefused,
    /// The driver refuses a shrink.
    DriverShrinkRefused,
    /// The driver refuses a copy smaller than its source.
    DriverCopyTooSmall,
    /// The driver refuses to restore a volume this host has attached.
    DriverAttached,
}

/// How a volume is named on the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    /// The driver's name from the handle's UUID.
    Driver,
    /// A harness name made by a raw create.
    Raw,
}

/// A volume or snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vol {
    /// How it is named.
    pub name: Name,
    /// Its size in MiB.
    pub size_mib: u64,
    /// The volume it is a virtual copy of.
    pub parent: Option<H>,
    /// Its virtual copies, oldest first.
    pub snaps: Vec<H>,
    /// The pattern tag in each written slot.
    pub content: BTreeMap<u8, u32>,
    /// A member of the pool's volume set.
    pub in_set: bool,
    /// Exported to this host.
    pub exported: bool,
}

/// The array as the harness's volumes show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// Whether content is checked.
    pub data: bool,
    /// Live volumes and snapshots.
    pub vols: BTreeMap<H, Vol>,
    /// Gone (deleted) handles.
    pub removed: Vec<H>,
    /// The next handle.
    pub next: H,
    /// What the last step should give.
    pub expect: Expect,
    /// What the last step created, in order (a copy: the volume, then its snapshots).
    pub created: Vec<H>,
}

impl Model {
    /// An empty array.
    pub fn new(data: bool) -> Model {
        Model { data, vols: BTreeMap::new(), removed: Vec::new(), next: 1, expect: Expect::Ok, created: Vec::new() }
    }

    fn is_driver_volume(&self, h: H) -> bool {
        self.vols.get(&h).is_some_and(|v| v.name == Name::Driver && v.parent.is_none())
    }

    /// Whether the driver can name `h` (a driver volume or snapshot).
    pub fn driver_addressable(&self, h: H) -> bool {
        self.vols.get(&h).is_some_and(|v| v.name == Name::Driver)
    }

    /// Whether `op` makes sense now. Left out, as the references give no
    /// error code for them: restoring a volume grown since the snapshot
    /// (PARENT_SIZE_HAS_INCREASED) and a plain delete of an exported volume.
    pub fn precondition(&self, op: &Op) -> bool {
        match *op {
            Op::Create { .. } => true,
            Op::CreateRaw { name, .. } => match name {
                NameChoice::Taken(h) => self.vols.contains_key(&h),
                _ => true,
            },
            Op::Write { vol, .. } => self.data && self.is_driver_volume(vol),
            Op::Snapshot { vol } | Op::Grow { vol, .. } | Op::Export { vol } | Op::Unexport { vol } => {
                self.is_driver_volume(vol)
            }
            Op::Copy { src, .. } => self.is_driver_volume(src),
            Op::Restore { vol, snap } => {
                self.is_driver_volume(vol)
                    && self.vols[&vol].snaps.contains(&snap)
                    && self.vols[&snap].size_mib == self.vols[&vol].size_mib
            }
            Op::Delete { vol } => self.driver_addressable(vol),
            Op::DeleteNoCascade { vol } => self.vols.get(&vol).is_some_and(|v| !v.exported),
        }
    }

    fn fresh(&mut self, v: Vol) -> H {
        let h = self.next;
        self.next += 1;
        self.vols.insert(h, v);
        self.created.push(h);
        h
    }

    fn volume(size_mib: u64, name: Name, in_set: bool) -> Vol {
        Vol { name, size_mib, parent: None, snaps: Vec::new(), content: BTreeMap::new(), in_set, exported: false }
    }

    fn snapshot_of(&mut self, vol: H) -> H {
        let v = &self.vols[&vol];
        let snap = Vol {
            name: v.name,
            size_mib: v.size_mib,
            parent: Some(vol),
            snaps: Vec::new(),
            content: v.content.clone(),
            in_set: false,
            exported: false,
        };
        let h = self.fresh(snap);
        self.vols.get_mut(&vol).expect("parent").snaps.push(h);
        h
    }

    fn remove(&mut self, h: H) {
        let Some(v) = self.vols.remove(&h) else { return };
        for s in v.snaps {
            self.remove(s);
        }
        if let Some(p) = v.parent.and_then(|p| self.vols.get_mut(&p)) {
            p.snaps.retain(|s| *s != h);
        }
        self.removed.push(h);
    }

    /// Applies `op` (its precondition holds), setting [`Model::expect`].
    pub fn apply(&mut self, op: &Op) {
        self.created.clear();
        self.expect = Expect::Ok;
        match *op {
            Op::Create { size_mib } => {
                if size_mib == 0 || size_mib % GRANULE_MIB != 0 {
                    self.expect = Expect::DriverSizeRefused;
                    return;
                }
                self.fresh(Model::volume(size_mib, Name::Driver, true));
            }
            Op::CreateRaw { size_mib, name } => match name {
                NameChoice::TooLong => self.expect = Expect::Wsapi(400, 57),
                NameChoice::IllegalChar => self.expect = Expect::Wsapi(400, 69),
                NameChoice::Taken(_) => self.expect = Expect::Wsapi(409, 22),
                NameChoice::Fresh => {
                    self.fresh(Model::volume(round_up(size_mib), Name::Raw, false));
                }
            },
            Op::Write { vol, slot, tag } => {
                self.vols.get_mut(&vol).expect("volume").content.insert(slot, tag);
            }
            Op::Snapshot { vol } => {
                self.snapshot_of(vol);
            }
            Op::Restore { vol, snap } => {
                if self.vols[&vol].exported {
                    self.expect = Expect::DriverAttached;
                    return;
                }
                let content = self.vols[&snap].content.clone();
                self.vols.get_mut(&vol).expect("volume").content = content;
            }
            Op::Grow { vol, size_mib } => {
                let v = self.vols.get_mut(&vol).expect("volume");
                if size_mib == 0 || size_mib % GRANULE_MIB != 0 {
                    self.expect = Expect::DriverSizeRefused;
                } else if size_mib < v.size_mib {
                    self.expect = Expect::DriverShrinkRefused;
                } else {
                    v.size_mib = size_mib;
                }
            }
            Op::Copy { src, with_snapshots, size_mib } => {
                let source = self.vols[&src].clone();
                let size = size_mib.unwrap_or(source.size_mib);
                if size == 0 || size % GRANULE_MIB != 0 {
                    self.expect = Expect::DriverSizeRefused;
                    return;
                }
                // Snapshots are never larger than their volume, which only grows.
                if source.size_mib > size {
                    self.expect = Expect::DriverCopyTooSmall;
                    return;
                }
                let dst = self.fresh(Model::volume(size, Name::Driver, true));
                if with_snapshots {
                    for s in &source.snaps {
                        // Every slot lies inside the smallest volume, so the
                        // physical copy replaces all of the destination's slots.
                        self.vols.get_mut(&dst).expect("copy").content = self.vols[s].content.clone();
                        self.snapshot_of(dst);
                    }
                }
                self.vols.get_mut(&dst).expect("copy").content = source.content;
            }
            Op::Delete { vol } => self.remove(vol),
            Op::DeleteNoCascade { vol } => {
                let v = self.vols.get_mut(&vol).expect("volume");
                v.in_set = false;
                if !v.snaps.is_empty() {
                    self.expect = Expect::Wsapi(409, 32);
                    return;
                }
                self.remove(vol);
            }
            Op::Export { vol } => self.vols.get_mut(&vol).expect("volume").exported = true,
            Op::Unexport { vol } => self.vols.get_mut(&vol).expect("volume").exported = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ops: &[Op]) -> Model {
        let mut m = Model::new(true);
        for op in ops {
            assert!(m.precondition(op), "{op:?}");
            m.apply(op);
        }
        m
    }

    #[test]
    fn sizes_round_on_the_array_and_are_refused_by_the_driver() {
        let m = run(&[Op::CreateRaw { size_mib: 257, name: NameChoice::Fresh }]);
        assert_eq!(m.vols[&1].size_mib, 512);
        let m = run(&[Op::Create { size_mib: 300 }]);
        assert_eq!(m.expect, Expect::DriverSizeRefused);
        assert!(m.vols.is_empty());
        let m = run(&[Op::Create { size_mib: 512 }, Op::Grow { vol: 1, size_mib: 256 }]);
        assert_eq!((m.expect, m.vols[&1].size_mib), (Expect::DriverShrinkRefused, 512));
    }

    #[test]
    fn restore_brings_back_the_snapshot_bytes_and_copy_keeps_lxd_order() {
        let m = run(&[
            Op::Create { size_mib: 256 },
            Op::Write { vol: 1, slot: 0, tag: 7 },
            Op::Snapshot { vol: 1 },
            Op::Write { vol: 1, slot: 0, tag: 8 },
            Op::Copy { src: 1, with_snapshots: true, size_mib: Some(512) },
            Op::Restore { vol: 1, snap: 2 },
        ]);
        assert_eq!(m.vols[&1].content[&0], 7);
        assert_eq!(m.vols[&3].content[&0], 8, "the copy holds the volume's bytes");
        assert_eq!(m.vols[&3].snaps, vec![4]);
        assert_eq!((m.vols[&4].content[&0], m.vols[&4].size_mib), (7, 512));
    }

    #[test]
    fn delete_cascades_through_the_driver_and_is_refused_without_it() {
        let m = run(&[Op::Create { size_mib: 256 }, Op::Snapshot { vol: 1 }, Op::DeleteNoCascade { vol: 1 }]);
        assert_eq!(m.expect, Expect::Wsapi(409, 32));
        assert!(!m.vols[&1].in_set && m.vols.contains_key(&2));
        let m = run(&[Op::Create { size_mib: 256 }, Op::Snapshot { vol: 1 }, Op::Delete { vol: 1 }]);
        assert!(m.vols.is_empty());
        assert_eq!(m.removed, vec![2, 1]);
    }
}
