//! A PowerFlex 4.x storage driver (NVMe/TCP) and the library behind `pflex`.
//!
//! The driver speaks to a PowerFlex gateway the way LXD's powerflex driver
//! does: 4.x login with a bearer token, volumes named after their UUIDs,
//! sizes in 8 GiB units, snapshots in the volume's VTree, and NVMe/TCP
//! attachment through the SDTs with the real nvme-cli.
//!
//! # Layout
//!
//! * [`config`]: pool keys, their validation, and password redaction.
//! * [`client`]: the gateway client (reqwest over rustls): login and one
//!   re-login on an expired token, typed errors by `errorCode`, its own wire types.
//! * [`discovery`]: pool, protection domain, system, SDT addresses and mode.
//! * [`naming`]: array names from volume UUIDs, sizes and their rounding.
//! * [`host`]: the server UUID's NQN and the gateway's host entity.
//! * [`connector`]: the [`BlockDevice`] and [`Connector`] traits, the `nvme`
//!   connector and a file-backed device.
//! * [`blockcopy`]: the sparse-aware host-side copy between two block devices.
//! * [`ops`]: the driver operations with revert-on-failure ([`Driver`]).
//! * [`revert`]: the undo stack those operations use.
//! * [`state`]: local state (pools, volume UUIDs, server UUID), written atomically.
//! * [`pool`]: the state-backed facade the `pflex` command line uses.
//!
//! The conformance harness and other programs use [`Driver`] directly (it
//! keeps no state besides the host identity) or [`pool::Pools`] for the same
//! behaviour as the command line.

pub mod blockcopy;
pub mod client;
pub mod config;
pub mod connector;
pub mod discovery;
pub mod error;
pub mod host;
pub mod naming;
pub mod ops;
pub mod pool;
pub mod revert;
pub mod state;

pub use client::{Client, ClientError, ClientOptions, ErrorCode};
pub use config::{Mode, PoolConfig};
pub use connector::{BlockDevice, Connector};
pub use error::{Error, Result};
pub use ops::{CopyMethod, CopyReport, CopyRequest, CreateOptions, Driver, Volume, VolumeInfo};
