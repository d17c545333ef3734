//! PowerFlex volume names and sizes.
//!
//! PowerFlex names are limited to 31 characters, so a volume is named after
//! its UUID rather than its user-visible name: the 16 bytes of the UUID in
//! standard base64 (24 characters ending in `==`), the volume type's letter
//! and `_` in front, `.` and the content's letter behind, and a leading `s`
//! for snapshots. Sizes are in 8 GiB units.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use uuid::Uuid;

use crate::naming::{ContentType, VolumeType, GIB};

/// The longest name PowerFlex accepts (error 226 beyond it).
pub const MAX_NAME_LEN: usize = 31;

/// PowerFlex 4.x allocates in units of 8 GiB, and that is also the smallest volume.
pub const ALLOCATION_UNIT: u64 = 8 * GIB;

/// The array name of a volume or snapshot.
///
/// ```
/// use powerflex_driver::naming::{ContentType, VolumeType};
/// use powerflex_driver::powerflex::naming::volume_name;
/// let uuid = uuid::Uuid::parse_str("5a2504b0-6a6c-4849-8ee7-ddb0b674fd14").unwrap();
/// assert_eq!(volume_name(VolumeType::Container, ContentType::Filesystem, uuid, false), "c_WiUEsGpsSEmO592wtnT9FA==");
/// assert_eq!(volume_name(VolumeType::VirtualMachine, ContentType::Block, uuid, true), "sv_WiUEsGpsSEmO592wtnT9FA==.b");
/// ```
pub fn volume_name(vtype: VolumeType, content: ContentType, uuid: Uuid, snapshot: bool) -> String {
    let mut name = String::with_capacity(MAX_NAME_LEN);
    if snapshot {
        name.push('s');
    }
    name.push(vtype.letter());
    name.push('_');
    name.push_str(&STANDARD.encode(uuid.as_bytes()));
    if let Some(c) = content.letter() {
        name.push('.');
        name.push(c);
    }
    name
}

/// A parsed array name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedName {
    /// The volume type from the prefix.
    pub vtype: VolumeType,
    /// The content type from the suffix.
    pub content: ContentType,
    /// The UUID encoded in the name.
    pub uuid: Uuid,
    /// Whether the name has the snapshot `s`.
    pub snapshot: bool,
}

/// Parses a name made by [`volume_name`]; `None` for names this driver did not make.
pub fn parse_volume_name(name: &str) -> Option<ParsedName> {
    let (snapshot, rest) = match name.strip_prefix('s') {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    let mut chars = rest.chars();
    let letter = chars.next()?;
    let vtype = VolumeType::ALL.into_iter().find(|t| t.letter() == letter)?;
    let rest = chars.as_str().strip_prefix('_')?;
    let (encoded, content) = if let Some(e) = rest.strip_suffix(".b") {
        (e, ContentType::Block)
    } else if let Some(e) = rest.strip_suffix(".i") {
        (e, ContentType::Iso)
    } else {
        (rest, ContentType::Filesystem)
    };
    let bytes = STANDARD.decode(encoded).ok()?;
    let uuid = Uuid::from_slice(&bytes).ok()?;
    Some(ParsedName { vtype, content, uuid, snapshot })
}

impl From<ParsedName> for crate::volume::Volume {
    fn from(p: ParsedName) -> crate::volume::Volume {
        crate::volume::Volume { vtype: p.vtype, content: p.content, uuid: p.uuid, snapshot: p.snapshot }
    }
}

/// PowerFlex's name of a volume or snapshot descriptor.
pub trait PowerFlexName {
    /// The array name.
    fn name(&self) -> String;
}

impl PowerFlexName for crate::volume::Volume {
    fn name(&self) -> String {
        volume_name(self.vtype, self.content, self.uuid, self.snapshot)
    }
}

/// Rounds a size up to the PowerFlex 4.x allocation unit (8 GiB, at least 8 GiB).
pub fn round_size(bytes: u64) -> u64 {
    if bytes <= ALLOCATION_UNIT {
        return ALLOCATION_UNIT;
    }
    bytes.div_ceil(ALLOCATION_UNIT).saturating_mul(ALLOCATION_UNIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_uuid() -> Uuid {
        // The bytes behind the documented example name `c_WiUEsGpsSEmO592wtnT9FA==`.
        let bytes = STANDARD.decode("WiUEsGpsSEmO592wtnT9FA==").unwrap();
        Uuid::from_slice(&bytes).unwrap()
    }

    #[test]
    fn names_match_the_documented_examples() {
        let u = example_uuid();
        let cases = [
            (VolumeType::Container, ContentType::Filesystem, false, "c_WiUEsGpsSEmO592wtnT9FA=="),
            (VolumeType::VirtualMachine, ContentType::Block, false, "v_WiUEsGpsSEmO592wtnT9FA==.b"),
            (VolumeType::VirtualMachine, ContentType::Filesystem, false, "v_WiUEsGpsSEmO592wtnT9FA=="),
            (VolumeType::Custom, ContentType::Filesystem, false, "u_WiUEsGpsSEmO592wtnT9FA=="),
            (VolumeType::Custom, ContentType::Block, false, "u_WiUEsGpsSEmO592wtnT9FA==.b"),
            (VolumeType::Custom, ContentType::Iso, false, "u_WiUEsGpsSEmO592wtnT9FA==.i"),
            (VolumeType::Image, ContentType::Block, false, "i_WiUEsGpsSEmO592wtnT9FA==.b"),
            (VolumeType::Container, ContentType::Filesystem, true, "sc_WiUEsGpsSEmO592wtnT9FA=="),
            (VolumeType::VirtualMachine, ContentType::Block, true, "sv_WiUEsGpsSEmO592wtnT9FA==.b"),
            (VolumeType::Custom, ContentType::Filesystem, true, "su_WiUEsGpsSEmO592wtnT9FA=="),
        ];
        for (vtype, content, snap, expected) in cases {
            assert_eq!(volume_name(vtype, content, u, snap), expected);
            let parsed = parse_volume_name(expected).unwrap();
            assert_eq!(parsed, ParsedName { vtype, content, uuid: u, snapshot: snap });
        }
    }

    #[test]
    fn longest_name_fits_the_gateway_limit() {
        let name = volume_name(VolumeType::VirtualMachine, ContentType::Block, Uuid::new_v4(), true);
        assert_eq!(name.len(), 29);
        assert!(name.len() <= MAX_NAME_LEN);
    }

    #[test]
    fn foreign_names_are_not_parsed() {
        for name in ["", "vol1", "x_WiUEsGpsSEmO592wtnT9FA==", "c_notbase64!", "c_AAAA"] {
            assert_eq!(parse_volume_name(name), None, "{name}");
        }
    }

    #[test]
    fn sizes_round_up_to_eight_gib() {
        assert_eq!(round_size(1), 8 * GIB);
        assert_eq!(round_size(8 * GIB), 8 * GIB);
        assert_eq!(round_size(8 * GIB + 1), 16 * GIB);
        assert_eq!(round_size(10 * GIB), 16 * GIB);
        assert_eq!(round_size(24 * GIB), 24 * GIB);
        assert_eq!(round_size(25 * GIB), 32 * GIB);
    }

    proptest::proptest! {
        #[test]
        fn rounding_is_the_smallest_covering_multiple(bytes in 1u64..(1u64 << 52)) {
            let r = round_size(bytes);
            proptest::prop_assert!(r >= bytes);
            proptest::prop_assert_eq!(r % ALLOCATION_UNIT, 0);
            proptest::prop_assert!(r - bytes < ALLOCATION_UNIT || bytes < ALLOCATION_UNIT);
        }

        #[test]
        fn names_round_trip(bytes in proptest::array::uniform16(0u8..), snap: bool, t in 0usize..4, c in 0usize..3) {
            let vtype = [VolumeType::Container, VolumeType::VirtualMachine, VolumeType::Image, VolumeType::Custom][t];
            let content = [ContentType::Filesystem, ContentType::Block, ContentType::Iso][c];
            let uuid = Uuid::from_bytes(bytes);
            let name = volume_name(vtype, content, uuid, snap);
            proptest::prop_assert!(name.len() <= MAX_NAME_LEN);
            proptest::prop_assert_eq!(parse_volume_name(&name), Some(ParsedName { vtype, content, uuid, snapshot: snap }));
        }
    }
}
