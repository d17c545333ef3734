//! What the shared data surface (`crate::volume_data`) needs of the PowerFlex gateway:
//! volumes by id, the host by `?host=<hostId>` or `?nqn=<hostNqn>` and its mapping's access
//! mode, and refusals in the gateway's JSON error format.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;

use super::error::ApiError;
use super::Gateway;
use crate::dataplane::DataPlane;
use crate::front::intake::MAX_CHUNK;
use crate::model::{AccessMode, Fault, Id, Volume};
use crate::volume_data::{Access, Mode, Refusal, Stored, VolumeData};

impl VolumeData for Gateway {
    type Error = ApiError;
    type Volume = Id;

    const VOLUME_MEMBER: &'static str = "volumeId";

    fn plane(&self) -> &Arc<dyn DataPlane> {
        Gateway::plane(self)
    }

    fn volume(&self, segment: &str) -> Result<Id, ApiError> {
        segment.parse().map_err(|_| ApiError::malformed_id("Volume", segment))
    }

    fn access(&self, volume: &Id, query: &HashMap<String, String>) -> Result<Access, ApiError> {
        let model = self.read();
        let v = model.volume(*volume).ok_or_else(Fault::vol_not_found)?;
        let host = match (query.get("host"), query.get("nqn")) {
            (Some(id), _) => {
                let id: Id = id.parse().map_err(|_| ApiError::malformed_id("Host", id))?;
                model.host(id).ok_or_else(Fault::host_not_found)?
            }
            (None, Some(nqn)) => model.host_by_nqn(nqn).ok_or_else(Fault::host_not_found)?,
            (None, None) => return Err(Refusal::HostRequired.into()),
        };
        let mapping = v
            .mappings
            .iter()
            .find(|m| m.host == host.id)
            .ok_or_else(|| Refusal::NotMapped { volume: volume.to_string(), host: host.id.to_string() })?;
        let mode = match mapping.access_mode {
            AccessMode::ReadWrite => Mode::ReadWrite,
            AccessMode::ReadOnly => Mode::ReadOnly,
            AccessMode::NoAccess => Mode::NoAccess,
        };
        Ok(Access { volume: as_stored(v), mode })
    }

    fn stored(&self, volume: &Id) -> Result<Stored, ApiError> {
        let model = self.read();
        Ok(as_stored(model.volume(*volume).ok_or_else(Fault::vol_not_found)?))
    }
}

fn as_stored(v: &Volume) -> Stored {
    Stored { key: v.id.into(), name: v.id.to_string(), size: v.size_kb * 1024 }
}

/// The gateway's own (non-MDM) refusals: errorCode 0, "Request failed: ..." messages.
impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        let forbidden = |message: String| ApiError::new(StatusCode::FORBIDDEN, 0, message);
        match refusal {
            Refusal::BadQuery(e) => ApiError::bad_request(format!("Request failed: bad query string: {e}")),
            Refusal::BadNumber { name, value } => {
                ApiError::bad_request(format!("Request failed: {name} must be a non-negative integer, not {value:?}"))
            }
            Refusal::HostRequired => ApiError::bad_request(
                "Request failed: name the host the access is for: ?host=<hostId> or ?nqn=<hostNqn>",
            ),
            Refusal::LengthRequired => {
                ApiError::bad_request(format!("Request failed: length is required (at most {MAX_CHUNK})"))
            }
            Refusal::TooLong { length } => ApiError::bad_request(format!(
                "Request failed: length {length} exceeds the {MAX_CHUNK}-byte limit per request"
            )),
            Refusal::BodyTooLarge => ApiError::too_large(MAX_CHUNK),
            Refusal::OutOfRange { offset, length, size } => ApiError::bad_request(format!(
                "Request failed: range offset {offset} length {length} is beyond the volume's {size} bytes"
            )),
            Refusal::NotMapped { volume, host } => forbidden(format!(
                "Request failed: volume {volume} is not mapped to host {host}; map it to the host first"
            )),
            Refusal::NoAccess { volume } => forbidden(format!("Request failed: volume {volume} is mapped with NoAccess")),
            Refusal::NotWritable { volume, mode } => forbidden(format!(
                "Request failed: volume {volume} is mapped {} to this host; writes need ReadWrite",
                mode.as_str()
            )),
            Refusal::NoBytes { plane } => ApiError::new(
                StatusCode::CONFLICT,
                0,
                format!(
                    "Request failed: the {plane} data plane keeps no volume bytes; start the simulator with --data-plane file or nvmet"
                ),
            ),
            Refusal::NoBacking => {
                ApiError::new(StatusCode::CONFLICT, 0, "Request failed: this data plane has no backing files")
            }
            Refusal::TaskFailed(e) => ApiError::internal(format!("Error: data plane task failed: {e}")),
        }
    }
}
