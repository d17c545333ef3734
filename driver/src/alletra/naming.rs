//! Alletra volume names and sizes, as LXD's alletra driver makes them.
//!
//! The volume UUID in hex without hyphens (32 characters), the volume type's
//! letter and `-` in front (`c-`, `v-`, `i-`, `u-`), `-b` behind block
//! volumes and `-i` behind ISO images, and an extra `s` in front of
//! snapshots: `sv-5a2504b06a6c48498ee7ddb0b674fd14-b` (37 characters, over
//! the documented 31; see alletra-wsapi.md §2). Sizes are in MiB and must be
//! multiples of 256 MiB; only ISO images are rounded up.

use uuid::Uuid;

use crate::naming::{ContentType, VolumeType};
use crate::volume::Volume;

/// Sizes are multiples of this (256 MiB).
pub const ALLOCATION_UNIT: u64 = 256 << 20;

/// The smallest volume.
pub const MIN_SIZE: u64 = ALLOCATION_UNIT;

/// The array name of a volume or snapshot.
///
/// ```
/// use powerflex_driver::alletra::naming::volume_name;
/// use powerflex_driver::naming::{ContentType, VolumeType};
/// let uuid = uuid::Uuid::parse_str("5a2504b0-6a6c-4849-8ee7-ddb0b674fd14").unwrap();
/// assert_eq!(volume_name(VolumeType::Container, ContentType::Filesystem, uuid, false), "c-5a2504b06a6c48498ee7ddb0b674fd14");
/// assert_eq!(volume_name(VolumeType::VirtualMachine, ContentType::Block, uuid, true), "sv-5a2504b06a6c48498ee7ddb0b674fd14-b");
/// ```
pub fn volume_name(vtype: VolumeType, content: ContentType, uuid: Uuid, snapshot: bool) -> String {
    let mut name = String::with_capacity(37);
    if snapshot {
        name.push('s');
    }
    name.push(vtype.letter());
    name.push('-');
    name.push_str(&uuid.simple().to_string());
    if let Some(c) = content.letter() {
        name.push('-');
        name.push(c);
    }
    name
}

/// Parses a name made by [`volume_name`]; `None` for names this driver did not make.
pub fn parse_volume_name(name: &str) -> Option<Volume> {
    let (snapshot, rest) = match name.strip_prefix('s') {
        Some(rest) if rest.as_bytes().get(1) == Some(&b'-') => (true, rest),
        _ => (false, name),
    };
    let mut chars = rest.chars();
    let letter = chars.next()?;
    let vtype = VolumeType::ALL.into_iter().find(|t| t.letter() == letter)?;
    let rest = chars.as_str().strip_prefix('-')?;
    let (hex, content) = match rest.split_once('-') {
        None => (rest, ContentType::Filesystem),
        Some((hex, "b")) => (hex, ContentType::Block),
        Some((hex, "i")) => (hex, ContentType::Iso),
        Some(_) => return None,
    };
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return None;
    }
    let uuid = Uuid::try_parse(hex).ok()?;
    Some(Volume { vtype, content, uuid, snapshot })
}

/// Alletra's name of a volume or snapshot descriptor.
pub trait AlletraName {
    /// The array name.
    fn alletra_name(&self) -> String;
}

impl AlletraName for Volume {
    fn alletra_name(&self) -> String {
        volume_name(self.vtype, self.content, self.uuid, self.snapshot)
    }
}

/// Rounds a size up to 256 MiB (at least 256 MiB); LXD does this for ISO images only.
pub fn round_size(bytes: u64) -> u64 {
    bytes.max(1).div_ceil(ALLOCATION_UNIT).saturating_mul(ALLOCATION_UNIT)
}

/// Bytes to MiB (exact for multiples of 256 MiB).
pub fn to_mib(bytes: u64) -> u64 {
    bytes >> 20
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_lxds_table() {
        let u = Uuid::parse_str("5a2504b0-6a6c-4849-8ee7-ddb0b674fd14").unwrap();
        let hex = "5a2504b06a6c48498ee7ddb0b674fd14";
        let cases = [
            (VolumeType::Container, ContentType::Filesystem, false, format!("c-{hex}")),
            (VolumeType::VirtualMachine, ContentType::Block, false, format!("v-{hex}-b")),
            (VolumeType::VirtualMachine, ContentType::Filesystem, false, format!("v-{hex}")),
            (VolumeType::Image, ContentType::Iso, false, format!("i-{hex}-i")),
            (VolumeType::Custom, ContentType::Filesystem, false, format!("u-{hex}")),
            (VolumeType::Custom, ContentType::Block, false, format!("u-{hex}-b")),
            (VolumeType::Container, ContentType::Filesystem, true, format!("sc-{hex}")),
            (VolumeType::VirtualMachine, ContentType::Block, true, format!("sv-{hex}-b")),
            (VolumeType::Custom, ContentType::Filesystem, true, format!("su-{hex}")),
        ];
        for (vtype, content, snapshot, expected) in cases {
            assert_eq!(volume_name(vtype, content, u, snapshot), expected);
            assert_eq!(parse_volume_name(&expected), Some(Volume { vtype, content, uuid: u, snapshot }));
        }
        assert_eq!(volume_name(VolumeType::VirtualMachine, ContentType::Block, u, true).len(), 37);
    }

    #[test]
    fn foreign_names_are_not_parsed() {
        for name in [
            "",
            "vol1",
            "x-5a2504b06a6c48498ee7ddb0b674fd14",
            "u-5a25",
            "u-5a2504b06a6c48498ee7ddb0b674fd14-q",
            "u-5A2504B06A6C48498EE7DDB0B674FD14",
            "lxd-reverter-snapshot",
            "s-5a2504b06a6c48498ee7ddb0b674fd14",
        ] {
            assert_eq!(parse_volume_name(name), None, "{name}");
        }
    }

    #[test]
    fn sizes_round_to_256_mib() {
        assert_eq!(round_size(1), 256 << 20);
        assert_eq!(round_size(256 << 20), 256 << 20);
        assert_eq!(round_size((256 << 20) + 1), 512 << 20);
        assert_eq!(to_mib(10 << 30), 10240);
    }

    proptest::proptest! {
        #[test]
        fn names_round_trip(bytes in proptest::array::uniform16(0u8..), snapshot: bool, t in 0usize..4, c in 0usize..3) {
            let vtype = VolumeType::ALL[t];
            let content = [ContentType::Filesystem, ContentType::Block, ContentType::Iso][c];
            let uuid = Uuid::from_bytes(bytes);
            let v = Volume { vtype, content, uuid, snapshot };
            proptest::prop_assert_eq!(parse_volume_name(&v.alletra_name()), Some(v));
        }
    }
}
