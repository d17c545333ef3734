//! Deterministic identities: the same seed and the same calls give the same serial number,
//! UUIDs, WWNs and NGUIDs on every machine.
//!
//! Object ids are small integers counted per kind, as on real arrays. The random-looking parts
//! come from the PowerFlex model's mixing function (`crate::model::ids::derive`), salted per
//! kind here, so both arrays share one source of determinism.

use crate::model::ids::{derive, IdKind};

/// What a pseudo-random value is for; each has its own stream.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    System = 0xa1,
    Cpg = 0xa2,
    Volume = 0xa3,
    VolumeSet = 0xa4,
    HostSet = 0xa5,
}

/// 32 well-mixed bits for `(stream, n, part)` under `seed`.
fn bits(seed: u64, stream: Stream, n: u64, part: u64) -> u32 {
    let salted = seed ^ ((stream as u64) << 56);
    (derive(salted, IdKind::System, (n << 3) | part).0 >> 32) as u32
}

/// A version-4-shaped UUID, lowercase.
pub fn uuid(seed: u64, stream: Stream, n: u64) -> String {
    let [a, b, c, d] = [0, 1, 2, 3].map(|part| bits(seed, stream, n, part));
    format!("{a:08x}-{:04x}-4{:03x}-{:04x}-{:04x}{d:08x}", b >> 16, b & 0x0fff, 0x8000 | (c >> 16) & 0x3fff, c & 0xffff)
}

/// A 7-digit serial number, as on 3PAR and Primera systems.
pub fn serial(seed: u64) -> String {
    (1_000_000 + bits(seed, Stream::System, 0, 4) % 9_000_000).to_string()
}

/// The system's id: a small integer.
pub fn system_id(seed: u64) -> u32 {
    1 + bits(seed, Stream::System, 0, 5) % 99_999
}

/// `60002AC` + 8 zeros + the volume id (8 hex digits) + the serial (9 hex digits): the layout of
/// the real sample `60002AC000000000000001500000B69E` (volume 0x15 on system 0xB69E).
pub fn wwn(serial: u64, volume: u32) -> String {
    format!("60002AC00000000{volume:08X}{serial:09X}")
}

/// The NGUID: the volume's UUID as 32 uppercase hex digits (inferred; no public sample shows it).
pub fn nguid(uuid: &str) -> String {
    uuid.replace('-', "").to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wwn_has_the_real_layout() {
        assert_eq!(wwn(0xB69E, 0x15), "60002AC000000000000001500000B69E");
    }

    #[test]
    fn identities_are_deterministic_and_shaped() {
        assert_eq!(uuid(7, Stream::Volume, 1), uuid(7, Stream::Volume, 1));
        assert_ne!(uuid(7, Stream::Volume, 1), uuid(7, Stream::Volume, 2));
        assert_ne!(uuid(7, Stream::Volume, 1), uuid(8, Stream::Volume, 1));
        let u = uuid(7, Stream::Volume, 1);
        assert_eq!((u.len(), &u[14..15]), (36, "4"));
        assert_eq!(nguid(&u).len(), 32);
        assert_eq!(serial(7).len(), 7);
        assert_eq!(serial(7), serial(7));
    }
}
