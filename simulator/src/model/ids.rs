//! PowerFlex object identifiers: 16 lowercase hex digits on the wire, a `u64` here.
//!
//! Real ids look like `694a2d140000000b`: a high half that varies and a low half that counts.
//! We derive the high half from the seed and the sequence number with a fixed mixing function,
//! so the same `--seed` and the same call sequence give the same ids on every machine.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A PowerFlex object id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(pub u64);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

/// Why a string is not an id; the gateway words the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotHex;

impl FromStr for Id {
    type Err = NotHex;

    /// Accepts 1 to 16 hex digits in either case, as the gateway does.
    fn from_str(s: &str) -> Result<Self, NotHex> {
        if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NotHex);
        }
        u64::from_str_radix(s, 16).map(Id).map_err(|_| NotHex)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|_| serde::de::Error::custom("id must be 16 hex digits"))
    }
}

/// The kinds of object that draw ids; each has its own sequence and its own salt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    System,
    ProtectionDomain,
    StoragePool,
    Sdt,
    Volume,
    VTree,
    Sdc,
    NvmeHost,
    SnapshotGroup,
    Sds,
    Device,
    FaultSet,
    User,
    Mdm,
    SnapshotPolicy,
}

impl IdKind {
    fn salt(self) -> u64 {
        match self {
            IdKind::System => 0x5157,
            IdKind::ProtectionDomain => 0x7d01,
            IdKind::StoragePool => 0x5e00,
            IdKind::Sdt => 0x5d70,
            IdKind::Volume => 0x701e,
            IdKind::VTree => 0x7733,
            IdKind::Sdc => 0x5dc0,
            IdKind::NvmeHost => 0x4057,
            IdKind::SnapshotGroup => 0x6a09,
            IdKind::Sds => 0x5d50,
            IdKind::Device => 0xde71,
            IdKind::FaultSet => 0xfa57,
            IdKind::User => 0x05e7,
            IdKind::Mdm => 0x3d30,
            IdKind::SnapshotPolicy => 0x5b01,
        }
    }
}

/// splitmix64: a fixed, well-mixed function, stable across platforms and crate versions.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The id for sequence number `seq` of `kind` under `seed`.
///
/// NVMe hosts carry `0001` in digits 9 to 12, as on real systems (`13bf22b500010004`).
pub fn derive(seed: u64, kind: IdKind, seq: u64) -> Id {
    let high = mix(seed ^ mix(kind.salt()) ^ seq.rotate_left(17)) >> 32;
    let low = match kind {
        IdKind::NvmeHost => 0x0001_0000 | (seq & 0xffff),
        _ => seq & 0xffff_ffff,
    };
    Id((high << 32) | low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_16_lowercase_hex() {
        assert_eq!(Id(0xab).to_string(), "00000000000000ab");
        assert_eq!("694A2D140000000B".parse::<Id>(), Ok(Id(0x694a2d140000000b)));
    }

    #[test]
    fn parse_rejects_non_hex_and_long() {
        assert_eq!("xyz".parse::<Id>(), Err(NotHex));
        assert_eq!("".parse::<Id>(), Err(NotHex));
        assert_eq!("00000000000000000".parse::<Id>(), Err(NotHex));
    }

    #[test]
    fn derive_is_deterministic_and_distinct() {
        assert_eq!(derive(7, IdKind::Volume, 1), derive(7, IdKind::Volume, 1));
        assert_ne!(derive(7, IdKind::Volume, 1), derive(8, IdKind::Volume, 1));
        assert_ne!(derive(7, IdKind::Volume, 1), derive(7, IdKind::Volume, 2));
        let host = derive(1, IdKind::NvmeHost, 4).to_string();
        assert_eq!(&host[8..12], "0001");
    }
}
