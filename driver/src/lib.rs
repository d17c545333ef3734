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
//! * [`connector`]: the [`BlockDevice`] and [`Connector`] traits and the three
//!   connectors: `nvme`, `loop` and `sim` (see below), plus a file-backed device.
//! * [`blockcopy`]: the sparse-aware host-side copy between two block devices.
//! * [`ops`]: the driver operations with revert-on-failure ([`Driver`]).
//! * [`revert`]: the undo stack those operations use.
//! * [`state`]: local state (pools, volume UUIDs, server UUID), written atomically.
//! * [`pool`]: the state-backed facade the `pflex` command line uses.
//!
//! # Connectors: how this host reaches a volume's bytes
//!
//! Attaching a volume maps it to this host on the gateway, then a connector
//! turns the mapping into one [`BlockDevice`] (size, positional read and write,
//! flush, a kernel path when there is one, a hole map when it can tell); the
//! block copy and every content check use only that.
//!
//! * `nvme` (default): NVMe/TCP with nvme-cli, the device found by its EUI.
//!   For real arrays, and for `pflex-sim --data-plane nvmet` (root, kernel
//!   modules: natively where they load, otherwise in the VM of `scripts/vm-run`).
//! * `loop`: a loop device over the volume's backing file, which `pflex-sim`
//!   hands only to a host the volume is mapped to. Root and `/dev/loop-control`,
//!   the simulator on the same machine with the `file` (or `nvmet`) plane. A real
//!   kernel block device without NVMe/TCP: use it to test what needs `/dev/...`.
//! * `sim`: `pflex-sim`'s HTTPS data surface, again only for mapped volumes. No
//!   root, no kernel device, the simulator anywhere reachable with the `file`
//!   (or `nvmet`) plane: use it in unprivileged CI and on laptops.
//!
//! `powerflex.mode` keeps its meaning (the array's host protocol); the
//! connector is chosen apart from the pool keys: `pflex --connector
//! nvme|loop|sim` or `PFLEX_CONNECTOR`; in code [`connector::build`] with a
//! [`connector::ConnectorChoice`] and the gateway's [`ClientOptions`] (the
//! `loop` and `sim` connectors use its URL, user, password and TLS settings
//! for the simulator's `/sim/` surface), or [`pool::Pools::with_connector`].
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
pub use connector::{BlockDevice, Connector, ConnectorChoice};
pub use error::{Error, Result};
pub use ops::{CopyMethod, CopyReport, CopyRequest, CreateOptions, Driver, Volume, VolumeInfo};
