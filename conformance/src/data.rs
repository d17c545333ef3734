//! The data side: which connector reaches volume bytes, and the patterns written.
//!
//! Content checks go through the driver's attach, which hands back a [`BlockDevice`].
//! `--data nvme` uses the driver's NVMe/TCP connector, `--data iscsi` (Alletra) its iSCSI
//! connector with the driver in `alletra.mode=iscsi`, `--data sim` the emulator's data
//! surface, `--data loop` the emulator's backing file as a loop device (root, same machine),
//! `--data sdc` the SDC's `emc-vol-` devices with the driver in `powerflex.mode=sdc` (an SDC on
//! this host: Dell's, or `pflex-sdc`), and `--data none` a [`NullConnector`] whose devices read zeros and drop writes, so host
//! copies still run but content is not checked.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use powerflex_driver::connector::{ConnectorChoice, ConnectorError, ConnectorKind, Target, VolumeRef};
use powerflex_driver::{BlockDevice, ClientOptions, Connector};

use crate::model::{GIB, SLOTS};

/// How volume bytes are reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataMode {
    /// NVMe/TCP through nvme-cli (root, kernel modules).
    Nvme,
    /// iSCSI through open-iscsi's iscsiadm (root, kernel modules): Alletra's iSCSI ports,
    /// the driver in `alletra.mode=iscsi`.
    Iscsi,
    /// The emulator's `/sim/` data surface.
    Sim,
    /// The volume's backing file on this machine as a loop device (root; the emulator on the
    /// same machine).
    Loop,
    /// The ScaleIO Data Client's devices, the driver in `powerflex.mode=sdc` (an SDC on this
    /// host; `PFLEX_SDC_BY_ID` and `PFLEX_SDC_DRV_CFG` point at an emulated one's).
    Sdc,
    /// No content checks.
    None,
}

impl DataMode {
    /// Whether content is checked.
    pub fn checks_content(self) -> bool {
        self != DataMode::None
    }
}

/// The connector for a mode; `gateway` is how the connector reaches the gateway.
pub fn connector(mode: DataMode, gateway: &ClientOptions) -> Result<Arc<dyn Connector>, String> {
    let choice = match mode {
        DataMode::None => return Ok(Arc::new(NullConnector)),
        DataMode::Nvme => ConnectorChoice::Nvme,
        DataMode::Iscsi => {
            return Err("--data iscsi reaches Alletra's iSCSI ports only; use nvme, sim, loop or sdc".into())
        }
        DataMode::Sim => ConnectorChoice::Sim,
        DataMode::Loop => ConnectorChoice::Loop,
        DataMode::Sdc => ConnectorChoice::Sdc,
    };
    powerflex_driver::connector::build(choice, gateway).map_err(|e| format!("the {choice} connector: {e}"))
}

/// Bytes per slot.
pub const SLOT_LEN: usize = 4096;

/// Where slot `i` lives: spread over the first 8 GiB, off 1 MiB boundaries.
pub fn slot_offset(slot: u8) -> u64 {
    [0, GIB + 4096, 3 * GIB + 12288, 8 * GIB - 8192][usize::from(slot % SLOTS)]
}

/// The pattern for `tag` in `slot` (never all zeros).
pub fn pattern(tag: u32, slot: u8) -> Vec<u8> {
    let mut x = (u64::from(tag) << 8 | u64::from(slot)) ^ 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(SLOT_LEN);
    while out.len() < SLOT_LEN {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out.extend_from_slice(&(z | 1).to_le_bytes());
    }
    out
}

/// Describes what a slot holds, for messages.
pub fn describe(buf: &[u8]) -> String {
    if buf.iter().all(|b| *b == 0) {
        return "zeros".into();
    }
    for tag in 0..1024 {
        for slot in 0..SLOTS {
            if buf == pattern(tag, slot).as_slice() {
                return format!("pattern {tag} (slot {slot})");
            }
        }
    }
    format!("unknown bytes starting {:02x?}", &buf[..8])
}

/// A connector whose devices read zeros and drop writes.
#[derive(Debug, Default)]
pub struct NullConnector;

struct NullDevice(u64);

impl BlockDevice for NullDevice {
    fn size(&self) -> io::Result<u64> {
        Ok(self.0)
    }
    fn read_at(&self, buf: &mut [u8], _offset: u64) -> io::Result<()> {
        buf.fill(0);
        Ok(())
    }
    fn write_at(&self, _buf: &[u8], _offset: u64) -> io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
    fn data_ranges(&self, _range: std::ops::Range<u64>) -> io::Result<Option<Vec<std::ops::Range<u64>>>> {
        Ok(Some(Vec::new()))
    }
    fn write_zeroes(&self, _offset: u64, _len: u64) -> io::Result<()> {
        Ok(())
    }
}

#[async_trait]
impl Connector for NullConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Other("null")
    }
    async fn check(&self) -> Result<(), ConnectorError> {
        Ok(())
    }
    async fn connect(&self, _target: &Target) -> Result<bool, ConnectorError> {
        Ok(false)
    }
    async fn open(
        &self,
        _target: &Target,
        volume: &VolumeRef,
        _timeout: Duration,
    ) -> Result<Box<dyn BlockDevice>, ConnectorError> {
        Ok(Box::new(NullDevice(volume.size)))
    }
    async fn device_path(&self, _target: &Target, _volume: &VolumeRef) -> Result<Option<PathBuf>, ConnectorError> {
        Ok(None)
    }
    async fn wait_gone(&self, _target: &Target, _volume: &VolumeRef, _timeout: Duration) -> Result<(), ConnectorError> {
        Ok(())
    }
    async fn disconnect(&self, _target: &Target) -> Result<(), ConnectorError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_differ_and_are_recognised() {
        assert_ne!(pattern(1, 0), pattern(2, 0));
        assert_ne!(pattern(1, 0), pattern(1, 1));
        assert_eq!(describe(&pattern(5, 2)), "pattern 5 (slot 2)");
        assert_eq!(describe(&[0u8; SLOT_LEN]), "zeros");
        for s in 0..SLOTS {
            assert!(slot_offset(s) + SLOT_LEN as u64 <= 8 * GIB);
        }
    }
}
