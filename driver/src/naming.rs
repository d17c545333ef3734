//! What volumes are and how big: their types, content types and sizes.
//!
//! Every array names a volume after its UUID, with a letter for the volume
//! type, one for the content and a leading `s` for snapshots; how the UUID is
//! written and the separators are the array's (`powerflex::naming`,
//! `alletra::naming`), as are the allocation units. Renaming a volume
//! therefore never touches the array.
//!
//! This module knows nothing about the gateway or local state.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One GiB in bytes.
pub const GIB: u64 = 1 << 30;

/// What a volume belongs to; decides the first letter of its array name.
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
    /// The letter array names start with (after a snapshot's `s`); each
    /// array puts its own separator after it.
    pub fn letter(self) -> char {
        match self {
            VolumeType::Container => 'c',
            VolumeType::VirtualMachine => 'v',
            VolumeType::Image => 'i',
            VolumeType::Custom => 'u',
        }
    }

    /// Every type, in the order names are tried when parsed.
    pub const ALL: [VolumeType; 4] =
        [VolumeType::Container, VolumeType::VirtualMachine, VolumeType::Image, VolumeType::Custom];

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

/// What a volume holds; decides the last letter of its array name.
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
    /// The letter array names end with (after the array's separator);
    /// filesystem volumes have none.
    pub fn letter(self) -> Option<char> {
        match self {
            ContentType::Filesystem => None,
            ContentType::Block => Some('b'),
            ContentType::Iso => Some('i'),
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
}
