//! A storage pool's data layout: medium granularity (the default) or fine granularity, which
//! alone can compress (reference §2.4: `compressionMethod` is "Invalid" on MG pools and
//! "None" or "Normal" on FG pools).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataLayout {
    #[default]
    MediumGranularity,
    FineGranularity,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Compression {
    /// What MG pools report: compression does not apply.
    #[default]
    Invalid,
    None,
    Normal,
}

impl DataLayout {
    pub fn as_str(self) -> &'static str {
        match self {
            DataLayout::MediumGranularity => "MediumGranularity",
            DataLayout::FineGranularity => "FineGranularity",
        }
    }

    pub fn parse(s: &str) -> Option<DataLayout> {
        match s.to_ascii_lowercase().as_str() {
            "mediumgranularity" => Some(DataLayout::MediumGranularity),
            "finegranularity" => Some(DataLayout::FineGranularity),
            _ => None,
        }
    }
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Invalid => "Invalid",
            Compression::None => "None",
            Compression::Normal => "Normal",
        }
    }

    pub fn parse(s: &str) -> Option<Compression> {
        match s.to_ascii_lowercase().as_str() {
            "invalid" => Some(Compression::Invalid),
            "none" => Some(Compression::None),
            "normal" => Some(Compression::Normal),
            _ => None,
        }
    }

    /// The method a pool of `layout` reports when the topology names none, and whether `self`
    /// is one that layout can have.
    pub fn default_for(layout: DataLayout) -> Compression {
        match layout {
            DataLayout::MediumGranularity => Compression::Invalid,
            DataLayout::FineGranularity => Compression::None,
        }
    }

    pub fn fits(self, layout: DataLayout) -> bool {
        (layout == DataLayout::MediumGranularity) == (self == Compression::Invalid)
    }
}
