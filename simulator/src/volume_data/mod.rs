//! The `/sim/volumes/{volume}/…` data surface, for both emulators: a volume's bytes by offset,
//! its backing file, its allocation and its data extents, as a connector on a host would see
//! them. Each array nests `routes::<Array>()` among its own `/sim/` routes, behind its admin
//! credentials, as it does `crate::faults::routes`.
//!
//! ```text
//! GET  /sim/volumes/{volume}/data?<host>&offset=<bytes>&length=<bytes>
//!      -> 200 application/octet-stream, exactly `length` bytes
//! PUT  /sim/volumes/{volume}/data?<host>&offset=<bytes>   (body: the bytes)
//!      -> 200 {<volume>, "offset", "written"}; durable (synced) when answered
//! GET  /sim/volumes/{volume}/backing?<host>
//!      -> 200 {<volume>, "path", "sizeInBytes", "dataPlane"}
//! GET  /sim/volumes/{volume}/allocation
//!      -> 200 {<volume>, "sizeInBytes", "allocatedBytes", "dataPlane"}
//! GET  /sim/volumes/{volume}/extents?<host>&offset=<bytes>&length=<bytes>
//!      -> 200 {<volume>, "offset", "length", "extents": [{"offset", "length"}, ...], "dataPlane"}
//! ```
//!
//! What `{volume}`, `<host>` and the answers' `<volume>` member are is the array's
//! (`VolumeData`): pflex-sim takes the volume id, `?host=<hostId>` or `?nqn=<hostNqn>`, and
//! answers `"volumeId"`; alletra-sim takes the volume name, `?host=<hostname>`, and answers
//! `"volume"`.
//!
//! `extents` lists, in order, the parts of the range that may hold data; the rest reads
//! zeros. `offset` defaults to 0 and `length` to the rest of the volume. At most
//! `MAX_EXTENTS` extents come back: when there are more, the answer's `length` is shorter
//! than asked (it ends with the last extent listed) and the caller asks again from there.
//! A plane that cannot tell lists the whole range (`DataPlane::data_segments`).
//!
//! Data and backing-file access act for a host, as a connector on that host would: the
//! volume must be mapped (exported) to it; read-only access refuses writes, no access both,
//! the way an array only lets a host see what it has been given. One request moves at most
//! `MAX_CHUNK` bytes. On the `none` plane, which keeps no bytes, data and backing requests
//! fail with a clear message. Every refusal is a `Refusal`, which the array turns into its
//! own error answer.

mod routes;

use std::collections::HashMap;
use std::sync::Arc;

use axum::response::IntoResponse;

use crate::dataplane::{DataPlane, Key, PlaneError, PlaneKind};
pub use routes::routes;

/// The most extents one extents request lists.
pub const MAX_EXTENTS: usize = 16 * 1024;

/// What the data surface needs of an array.
pub trait VolumeData: Send + Sync + 'static {
    /// The array's error answer; every refusal of the shared code becomes one.
    type Error: IntoResponse + From<Refusal> + From<PlaneError> + Send + 'static;
    /// A volume as the path segment names it, checked for form only.
    type Volume: Send + 'static;

    /// The answers' member that names the volume (`"volumeId"`, `"volume"`).
    const VOLUME_MEMBER: &'static str;

    fn plane(&self) -> &Arc<dyn DataPlane>;

    /// The path segment as a volume reference; refuses one of the wrong form.
    fn volume(&self, segment: &str) -> Result<Self::Volume, Self::Error>;

    /// The volume as the host the query names sees it; refuses an unknown volume or host, a
    /// query that names no host, and a volume not mapped to the host.
    fn access(&self, volume: &Self::Volume, query: &HashMap<String, String>) -> Result<Access, Self::Error>;

    /// The volume on its own, for what needs no host (its allocation).
    fn stored(&self, volume: &Self::Volume) -> Result<Stored, Self::Error>;
}

/// A volume as the array stores it, whoever asks.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The plane's key for its bytes.
    pub key: Key,
    /// How the answers name it.
    pub name: String,
    pub size: u64,
}

/// A volume as a host it is mapped to sees it.
#[derive(Debug, Clone)]
pub struct Access {
    pub volume: Stored,
    pub mode: Mode,
}

/// What a host may do with a volume mapped to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ReadWrite,
    ReadOnly,
    NoAccess,
}

impl Mode {
    /// The PowerFlex names of the modes, which say what they mean on either array.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ReadWrite => "ReadWrite",
            Mode::ReadOnly => "ReadOnly",
            Mode::NoAccess => "NoAccess",
        }
    }
}

/// Why the data surface refuses a request.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// The query string could not be parsed.
    BadQuery(String),
    /// A number parameter that is not a non-negative integer.
    BadNumber { name: &'static str, value: String },
    /// The query names no host.
    HostRequired,
    /// A read without `length`.
    LengthRequired,
    /// A read of more than `MAX_CHUNK` bytes.
    TooLong { length: u64 },
    /// A write body of more than `MAX_CHUNK` bytes.
    BodyTooLarge,
    /// The range goes past the end of the volume.
    OutOfRange { offset: u64, length: u64, size: u64 },
    /// The volume is not mapped (exported) to the host; both named as the array names them.
    NotMapped { volume: String, host: String },
    /// The host may not read the volume.
    NoAccess { volume: String },
    /// The host may not write the volume (`mode` is what it has).
    NotWritable { volume: String, mode: Mode },
    /// This data plane keeps no volume bytes.
    NoBytes { plane: PlaneKind },
    /// This data plane keeps no backing files.
    NoBacking,
    /// The blocking task that did the plane's work failed.
    TaskFailed(String),
}
