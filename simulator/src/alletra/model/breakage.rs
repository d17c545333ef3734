//! Deliberate faults, one Alletra behaviour each, so a conformance harness can prove it has
//! teeth. `alletra-sim serve --break NAME` turns one on; nothing else ever does.

/// One rule broken on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Breakage {
    /// Sizes and grow deltas are kept as asked instead of rounded up to 256 MiB.
    SkipGranularity,
    /// A promote (restore) task runs and finishes but the base volume's data stays as it was.
    PromoteNoop,
    /// Deleting a volume with virtual copies, without `cascade`, succeeds and orphans them.
    DeleteWithChildren,
}

impl std::fmt::Display for Breakage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        let name = self.to_possible_value().expect("every breakage has a name");
        f.write_str(name.get_name())
    }
}
