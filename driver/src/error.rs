//! The driver's error type.
//!
//! Each layer has its own error enum (configuration, gateway client,
//! connector, block copy, local state); [`Error`] wraps them and adds the
//! driver's own refusals. Messages are written for the person at the command
//! line: they name the key, volume or address concerned.

use crate::blockcopy::CopyError;
use crate::connector::ConnectorError;
use crate::keys::ConfigError;
use crate::powerflex::client::{ClientError, ErrorCode};
use crate::state::StateError;

/// The crate-wide result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Anything a driver operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pool configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A gateway call failed.
    #[error(transparent)]
    Gateway(#[from] ClientError),
    /// An Alletra WSAPI call failed.
    #[error(transparent)]
    Wsapi(#[from] crate::alletra::client::ClientError),
    /// A connector (host data path) failed.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// The host-side block copy failed.
    #[error(transparent)]
    Copy(#[from] CopyError),
    /// Local state could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// The protection domain named by `powerflex.domain` does not exist.
    #[error("protection domain {domain:?} (powerflex.domain) not found on the gateway")]
    DomainNotFound {
        /// The domain name.
        domain: String,
    },
    /// The pool named by `powerflex.pool` does not exist.
    #[error("storage pool {pool:?} (powerflex.pool) not found{}", .domain.as_ref().map(|d| format!(" in protection domain {d:?}")).unwrap_or_default())]
    PoolNotFound {
        /// The pool name or ID.
        pool: String,
        /// The domain searched, if any.
        domain: Option<String>,
    },
    /// The pool lacks zero padding, so fresh volumes might not read as zeros.
    #[error("storage pool {pool:?} does not have zero-padding enabled")]
    ZeroPaddingDisabled {
        /// The pool name or ID.
        pool: String,
    },
    /// Neither `powerflex.sdt` nor the protection domain's SDTs give an address.
    #[error("no NVMe/TCP target address: set powerflex.sdt or add SDTs to the protection domain")]
    NoTargetAddresses,
    /// Neither `alletra.target` nor the array's ready ports give an address.
    #[error("no {mode} target address: set alletra.target or check the array's ports (none ready for {mode})")]
    NoAlletraTargets {
        /// The mode (`nvme` or `iscsi`).
        mode: String,
    },
    /// A copy's target would be smaller than its source (LXD refuses this too).
    #[error("cannot copy {source_name} ({source_size} bytes) into a copy of {target_size} bytes: ask for a size of at least {source_size} bytes")]
    CopyTooSmall {
        /// The source's array name.
        source_name: String,
        /// Its size in bytes.
        source_size: u64,
        /// The size asked for the copy.
        target_size: u64,
    },
    /// The host has neither the NVMe/TCP modules nor the ScaleIO client.
    #[error("cannot choose powerflex.mode: the host has neither the nvme_fabrics and nvme_tcp kernel modules nor the ScaleIO client (/dev/scini); load the modules or set powerflex.mode")]
    NoModeDetected,
    /// A volume is missing on the array.
    #[error("volume {name} not found on the gateway")]
    VolumeNotFound {
        /// The array name.
        name: String,
    },
    /// The requested size is smaller than the volume.
    #[error("volume {name}: cannot shrink from {current} to {requested} bytes; volume capacity can only be increased")]
    ShrinkRefused {
        /// The array name.
        name: String,
        /// Current size in bytes.
        current: u64,
        /// Requested size in bytes (rounded).
        requested: u64,
    },
    /// A host copy with snapshots would write a snapshot into a smaller target.
    ///
    /// LXD creates the target at its configured size and `dd`s each snapshot
    /// into it, so a snapshot grown on the array past that size makes `dd`
    /// run out of space and the copy fail; this refuses before creating anything.
    #[error("cannot copy snapshot {snapshot} ({snapshot_size} bytes) into the copy {target} ({target_size} bytes): the snapshot is larger; ask for a size of at least {snapshot_size} bytes")]
    SnapshotLargerThanCopy {
        /// The source snapshot's array name.
        snapshot: String,
        /// Its size in bytes.
        snapshot_size: u64,
        /// The target's array name.
        target: String,
        /// The target's size in bytes.
        target_size: u64,
    },
    /// The volume is attached to this host and the operation needs it detached.
    #[error("volume {name} is attached to this host; detach it first")]
    Attached {
        /// The array name.
        name: String,
    },
    /// A request that does not make sense (wrong content type, missing snapshot pairing, ...).
    #[error("{0}")]
    Invalid(String),
    /// An operation failed and undoing its earlier steps failed too, so what
    /// those steps created (volumes, snapshots, mappings, the host entity, a
    /// session) may be left behind.
    #[error("{error}; undoing it also failed, so these may be left behind: {}", .undo_failures.join("; "))]
    RevertFailed {
        /// The failure that started the revert.
        error: Box<Error>,
        /// Each undo step that failed, with its error.
        undo_failures: Vec<String>,
    },
}

/// A gateway call whose outcome is unknown; the driver's own refusals and
/// local failures are definite.
impl crate::retry::Transient for Error {
    fn is_transient(&self) -> bool {
        match self {
            Error::Gateway(e) => e.is_transient(),
            Error::Wsapi(e) => e.is_transient(),
            _ => false,
        }
    }
}

impl Error {
    /// The WSAPI error code, when the failure came from an Alletra array.
    pub fn wsapi_code(&self) -> Option<crate::alletra::WsapiCode> {
        match self.original() {
            Error::Wsapi(e) => e.code(),
            _ => None,
        }
    }

    /// The PowerFlex error code, when the failure came from the gateway.
    pub fn gateway_code(&self) -> Option<ErrorCode> {
        match self.original() {
            Error::Gateway(e) => e.code(),
            _ => None,
        }
    }

    /// The failure that made the operation fail, past a failed revert.
    pub fn original(&self) -> &Error {
        match self {
            Error::RevertFailed { error, .. } => error.original(),
            e => e,
        }
    }
}
