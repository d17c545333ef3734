//! Volume names on the array and volume sizes.
//!
//! PowerFlex names are limited to 31 characters, so a volume is named after
//! its UUID rather than its user-visible name: the 16 bytes of the UUID in
//! standard base64 (24 characters ending in `==`), a prefix for the volume
//! type, a suffix for the content type, and a leading `s` for snapshots.
//! Renaming a volume therefore never touches the array.
//!
//! This module knows nothing about the gateway or local state.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest name PowerFlex accepts (error 226 beyond it).
pub const MAX_NAME_LEN: usize = 31;

/// One GiB in bytes.
pub const GIB: u64 = 1 << 30;

/// PowerFlex 4.x allocates in units of 8 GiB, and that is also the smallest volume.
pub const ALLOCATION_UNIT: u64 = 8 * GIB;

/// What a volume belongs to; decides the name prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum VolumeType {
    /// A container's root volume (`c_`).
    Container,
    /// A virtual machine: a block root plus its filesystem volume (`v_`).
    VirtualMachine,
    /// A cached image (`i_`).
    Image,
    /// A custom volume (`u_`).
    Custom,
}

impl VolumeType {
    /// The name prefix, without the snapshot `s`.
    pub fn prefix(self) -> &'static str {
        match self {
            VolumeType::Container => "c_",
            VolumeType::VirtualMachine => "v_",
            VolumeType::Image => "i_",
            VolumeType::Custom => "u_",
        }
    }

    /// The name used on the command line (as `lxc storage volume` does).
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeType::Container => "container",
            VolumeType::VirtualMachine => "virtual-machine",
            VolumeType::Image => "image",
            VolumeType::Custom => "custom",
        }
    }

    /// Whether volumes of this type are instances (copies from images are always full copies).
    pub fn is_instance(self) -> bool {
        matches!(self, VolumeType::Container | VolumeType::VirtualMachine)
    }
}

impl fmt::Display for VolumeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VolumeType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "container" => Ok(VolumeType::Container),
            "virtual-machine" | "vm" => Ok(VolumeType::VirtualMachine),
            "image" => Ok(VolumeType::Image),
            "custom" => Ok(VolumeType::Custom),
            other => {
                Err(format!("unknown volume type {other:?} (expected container, virtual-machine, image or custom)"))
            }
        }
    }
}

/// What a volume holds; decides the name suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContentType {
    /// A filesystem (no suffix).
    Filesystem,
    /// A raw block device (`.b`).
    Block,
    /// An ISO image (`.i`).
    Iso,
}

impl ContentType {
    /// The name suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            ContentType::Filesystem => "",
            ContentType::Block => ".b",
            ContentType::Iso => ".i",
        }
    }

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Filesystem => "filesystem",
            ContentType::Block => "block",
            ContentType::Iso => "iso",
        }
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContentType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "filesystem" => Ok(ContentType::Filesystem),
            "block" => Ok(ContentType::Block),
            "iso" => Ok(ContentType::Iso),
            other => Err(format!("unknown content type {other:?} (expected filesystem, block or iso)")),
        }
    }
}

/// The array name of a volume or snapshot.
///
/// ```
/// use powerflex_driver::naming::{volume_name, ContentType, VolumeType};
/// let uuid = uuid::Uuid::parse_str("5a2504b0-6a6c-4849-8ee7-ddb0b674fd14").unwrap();
/// assert_eq!(volume_name(VolumeType::Container, ContentType::Filesystem, uuid, false), "c_WiUEsGpsSEmO592wtnT9FA==");
/// assert_eq!(volume_name(VolumeType::VirtualMachine, ContentType::Block, uuid, true), "sv_WiUEsGpsSEmO592wtnT9FA==.b");
/// ```
pub fn volume_name(vtype: VolumeType, content: ContentType, uuid: Uuid, snapshot: bool) -> String {
    let mut name = String::with_capacity(MAX_NAME_LEN);
    if snapshot {
        name.push('s');
    }
    name.push_str(vtype.prefix());
    name.push_str(&STANDARD.encode(uuid.as_bytes()));
    name.push_str(content.suffix());
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
    let vtype = [VolumeType::Container, VolumeType::VirtualMachine, VolumeType::Image, VolumeType::Custom]
        .into_iter()
        .find(|t| rest.starts_with(t.prefix()))?;
    let rest = &rest[vtype.prefix().len()..];
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

/// Rounds a size up to the PowerFlex 4.x allocation unit (8 GiB, at least 8 GiB).
pub fn round_size(bytes: u64) -> u64 {
    if bytes <= ALLOCATION_UNIT {
        return ALLOCATION_UNIT;
    }
    bytes.div_ceil(ALLOCATION_UNIT).saturating_mul(ALLOCATION_UNIT)
}

/// Error from [`parse_size`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size {value:?}: {reason}")]
pub struct SizeError {
    /// The text that was given.
    pub value: String,
    /// Why it was refused.
    pub reason: &'static str,
}

/// Parses a size such as `8GiB`, `10GB`, `512MiB` or a plain number of bytes.
///
/// Binary suffixes (`KiB`, `MiB`, `GiB`, `TiB`, `PiB`) are powers of 1024 and
/// decimal ones (`kB`, `MB`, `GB`, `TB`, `PB`) powers of 1000, as in LXD.
pub fn parse_size(value: &str) -> Result<u64, SizeError> {
    let err = |reason| SizeError { value: value.to_string(), reason };
    let trimmed = value.trim();
    let split = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    if digits.is_empty() {
        return Err(err("expected a number followed by an optional unit"));
    }
    let number: u64 = digits.parse().map_err(|_| err("number too large"))?;
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "PiB" => 1 << 50,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "PB" => 1_000_000_000_000_000,
        _ => return Err(err("unknown unit (use B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)")),
    };
    let bytes = number.checked_mul(multiplier).ok_or_else(|| err("size too large"))?;
    if bytes == 0 {
        return Err(err("size must be greater than zero"));
    }
    Ok(bytes)
}

/// Formats a byte count the way [`parse_size`] reads it back, e.g. `16GiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 5] =
        [("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}B")
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

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("8GiB").unwrap(), 8 * GIB);
        assert_eq!(parse_size("10GB").unwrap(), 10_000_000_000);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size(" 1 TiB ").unwrap(), 1 << 40);
        assert!(parse_size("0").is_err());
        assert!(parse_size("GiB").is_err());
        assert!(parse_size("8 parsecs").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert_eq!(format_size(16 * GIB), "16GiB");
        assert_eq!(format_size(1000), "1000B");
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
