//! What the shared data surface (`crate::volume_data`) needs of the WSAPI: volumes by name,
//! the host by `?host=<hostname>` (the volume exported to it directly or through a host set;
//! a read-only virtual copy is read-only to every host), and refusals as WSAPI errors.

use std::collections::HashMap;
use std::sync::Arc;

use super::error::WsapiError;
use super::Array;
use crate::alletra::model::{ExportTarget, Fault, SetKind, Volume};
use crate::dataplane::alletra::key;
use crate::dataplane::DataPlane;
use crate::front::intake::MAX_CHUNK;
use crate::volume_data::{Access, Mode, Refusal, Stored, VolumeData};

impl VolumeData for Array {
    type Error = WsapiError;
    type Volume = String;

    const VOLUME_MEMBER: &'static str = "volume";

    fn plane(&self) -> &Arc<dyn DataPlane> {
        Array::plane(self)
    }

    /// Any name: one the array does not have is refused when it is looked up.
    fn volume(&self, segment: &str) -> Result<String, WsapiError> {
        Ok(segment.to_string())
    }

    fn access(&self, volume: &String, query: &HashMap<String, String>) -> Result<Access, WsapiError> {
        let model = self.read();
        let v = model.volume_by_name(volume).ok_or_else(Fault::non_existent_vol)?;
        let host_name = query.get("host").ok_or(Refusal::HostRequired)?;
        let host = model.host_by_name(host_name).ok_or_else(Fault::non_existent_host)?;
        let in_sets: Vec<u32> = model.sets_of(SetKind::Host, host.id).map(|s| s.id).collect();
        let exported = model.volume_vluns(v.id).any(|t| match t.target {
            ExportTarget::Host(h) => h == host.id,
            ExportTarget::HostSet(s) => in_sets.contains(&s),
            ExportTarget::Port => false,
        });
        if !exported {
            return Err(Refusal::NotMapped { volume: v.name.clone(), host: host.name.clone() }.into());
        }
        let mode = if v.read_only() { Mode::ReadOnly } else { Mode::ReadWrite };
        Ok(Access { volume: as_stored(v), mode })
    }

    fn stored(&self, volume: &String) -> Result<Stored, WsapiError> {
        let model = self.read();
        Ok(as_stored(model.volume_by_name(volume).ok_or_else(Fault::non_existent_vol)?))
    }
}

fn as_stored(v: &Volume) -> Stored {
    Stored { key: key(v.id), name: v.name.clone(), size: v.size_mib << 20 }
}

/// The WSAPI's codes where it has one for the case (a missing VLUN, a read-only volume,
/// invalid or missing input); the data plane's own failures are internal errors (code 1).
impl From<Refusal> for WsapiError {
    fn from(refusal: Refusal) -> WsapiError {
        match refusal {
            Refusal::BadQuery(e) => WsapiError::of_status(400, None, Some(&format!("invalid query string: {e}"))),
            Refusal::BadNumber { name, .. } => {
                WsapiError::invalid(name, format!("{name} must be a non-negative integer"))
            }
            Refusal::HostRequired => WsapiError::missing("host"),
            Refusal::LengthRequired => WsapiError::missing("length"),
            Refusal::TooLong { length } => {
                WsapiError::invalid("length", format!("length {length} exceeds the {MAX_CHUNK}-byte limit per request"))
            }
            Refusal::BodyTooLarge => WsapiError::too_long(),
            Refusal::OutOfRange { .. } => WsapiError::invalid("length", "the range is past the end of the volume"),
            Refusal::NotMapped { .. } => WsapiError(Fault::non_existent_vlun()),
            Refusal::NoAccess { .. } => WsapiError::of_status(403, None, None),
            Refusal::NotWritable { .. } => WsapiError(Fault::wrong_type().with_ref("readOnly")),
            Refusal::NoBytes { plane } => WsapiError::internal(format!(
                "the {plane} data plane keeps no volume bytes; start alletra-sim with --data-plane file or nvmet"
            )),
            Refusal::NoBacking => WsapiError::internal("this data plane has no backing files"),
            Refusal::TaskFailed(e) => WsapiError::internal(format!("data plane task failed: {e}")),
        }
    }
}
