//! Deliberate faults, one behaviour each, so the conformance harness can prove it has teeth.
//! `pflex-sim serve --break NAME` turns one on; nothing else ever does.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Breakage {
    /// Snapshots past the 126th of a VTree succeed.
    IgnoreVtreeLimit,
    /// Sizes are kept as asked instead of rounded up to 8 GiB.
    SkipSizeRounding,
    /// `overwriteVolumeContent` answers success and changes nothing.
    RestoreNoop,
    /// `removeVolume` answers success and keeps the volume.
    KeepOnRemove,
    /// A mapping is recorded for a different host than the one asked.
    MapWrongHost,
    /// Shrinking a volume succeeds.
    AllowShrink,
}

pub const ALL: &[Breakage] = &[
    Breakage::IgnoreVtreeLimit,
    Breakage::SkipSizeRounding,
    Breakage::RestoreNoop,
    Breakage::KeepOnRemove,
    Breakage::MapWrongHost,
    Breakage::AllowShrink,
];

impl Breakage {
    pub fn name(self) -> &'static str {
        match self {
            Breakage::IgnoreVtreeLimit => "ignore-vtree-limit",
            Breakage::SkipSizeRounding => "skip-size-rounding",
            Breakage::RestoreNoop => "restore-noop",
            Breakage::KeepOnRemove => "keep-on-remove",
            Breakage::MapWrongHost => "map-wrong-host",
            Breakage::AllowShrink => "allow-shrink",
        }
    }
}

impl fmt::Display for Breakage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Breakage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ALL.iter().copied().find(|b| b.name() == s).ok_or_else(|| {
            let names: Vec<_> = ALL.iter().map(|b| b.name()).collect();
            format!("unknown breakage {s:?}; known: {}", names.join(", "))
        })
    }
}
