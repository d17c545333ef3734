//! Storage drivers for PowerFlex 4.x and HPE Alletra, and the library behind `pflex`.
//!
//! Each array has its folder with what only it knows: [`powerflex`] (the
//! REST gateway, NVMe/TCP through the SDTs) and [`alletra`] (WSAPI v1, NVMe/TCP
//! or iSCSI). Both follow the semantics of the LXD driver of the same name.
//! What is not array-specific is shared:
//!
//! # Layout
//!
//! * [`keys`]: `key=value` parsing, the configuration error, password redaction.
//! * [`http`]: the HTTPS options and client both arrays' clients use.
//! * [`naming`]: volume and content types, sizes.
//! * [`volume`]: the volume descriptor and what operations take and return.
//! * [`host`]: the server UUID's NQN and the lock on this host's mappings.
//! * [`mod@array`]: one driver of either array, as the facade uses it.
//! * [`connector`]: the [`BlockDevice`] and [`Connector`] traits and the three
//!   connectors: `nvme`, `loop` and `sim` (see below), plus a file-backed device.
//! * [`blockcopy`]: the sparse-aware host-side copy between two block devices.
//! * [`retry`]: what is safe to try again when an answer was lost, and how often.
//! * [`revert`]: the undo stack every driver operation uses (its steps retried).
//! * [`session`]: a client's login secret, shared by its clones, one re-login at a time.
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
//! * `nvme` (default): NVMe/TCP with nvme-cli, the device found by its EUI
//!   (PowerFlex: derived from the volume ID; Alletra: the volume's `nguid`). For
//!   an Alletra pool with `alletra.mode=iscsi`, the `iscsi` connector instead:
//!   open-iscsi's `iscsiadm`, the device found by the volume's WWN.
//!   For real arrays, and for `pflex-sim --data-plane nvmet` (root, kernel
//!   modules: natively where they load, otherwise in the VM of `scripts/vm-run`).
//! * `loop`: a loop device over the volume's backing file, which `pflex-sim`
//!   hands only to a host the volume is mapped to. Root and `/dev/loop-control`,
//!   the simulator on the same machine with the `file` (or `nvmet`) plane. A real
//!   kernel block device without NVMe/TCP: use it to test what needs `/dev/...`.
//! * `sim`: the emulator's HTTPS data surface (`pflex-sim`'s, or `alletra-sim`'s
//!   with [`connector::SimConnector::for_alletra`]), again only for mapped volumes. No
//!   root, no kernel device, the simulator anywhere reachable with the `file`
//!   (or `nvmet`) plane: use it in unprivileged CI and on laptops.
//!
//! `powerflex.mode` and `alletra.mode` keep their meaning (the array's host protocol); the
//! connector is chosen apart from the pool keys: `pflex --connector
//! nvme|loop|sim` or `PFLEX_CONNECTOR`; in code [`connector::build`] with a
//! [`connector::ConnectorChoice`] and the gateway's [`ClientOptions`] (the
//! `loop` and `sim` connectors use its URL, user, password and TLS settings
//! for the simulator's `/sim/` surface), or [`pool::Pools::with_connector`].
//!
//! The conformance harness and other programs use each array's `Driver`
//! ([`Driver`] is PowerFlex's, [`alletra::Driver`] Alletra's; neither keeps
//! state besides the host identity) or [`pool::Pools`] for the same behaviour
//! as the command line.

pub mod alletra;
pub mod array;
pub mod blockcopy;
pub mod connector;
pub mod error;
pub mod host;
pub mod http;
pub mod keys;
pub mod naming;
pub mod pool;
pub mod powerflex;
pub mod retry;
pub mod revert;
pub mod session;
pub mod state;
pub mod volume;

pub use connector::{BlockDevice, Connector, ConnectorChoice};
pub use error::{Error, Result};
pub use http::ClientOptions;
pub use powerflex::{Client, ClientError, Driver, ErrorCode, Mode, PoolConfig};
pub use volume::{CopyMethod, CopyReport, CopyRequest, CreateOptions, Volume, VolumeInfo};
