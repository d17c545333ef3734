//! The HPE Alletra driver (WSAPI v1; NVMe/TCP or iSCSI), with the semantics
//! of LXD's alletra driver (lxd-drivers.md §6, alletra-wsapi.md).
//!
//! * [`config`]: the `alletra.*` pool keys.
//! * [`client`]: the WSAPI client: a session key, one re-login on code 6,
//!   typed errors from `{code, desc, ref}`, its own wire types.
//! * [`naming`]: LXD's volume names (the UUID in hex) and 256 MiB sizes.
//! * [`ops`]: the driver operations with revert-on-failure ([`Driver`]), the
//!   pool's volume set, this host's entity, target discovery from the ports.

pub mod client;
pub mod config;
pub mod naming;
pub mod ops;

pub use client::{Client, ClientError, WsapiCode};
pub use config::{Mode, PoolConfig};
pub use naming::AlletraName;
pub use ops::{Discovery, Driver};
