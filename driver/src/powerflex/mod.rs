//! The PowerFlex 4.x driver (NVMe/TCP through the SDTs).
//!
//! It speaks to a PowerFlex gateway the way LXD's powerflex driver does:
//! 4.x login with a bearer token, volumes named after their UUIDs, sizes in
//! 8 GiB units, snapshots in the volume's VTree, and NVMe/TCP attachment
//! through the SDTs with the real nvme-cli.
//!
//! * [`config`]: the `powerflex.*` pool keys.
//! * [`client`]: the gateway client: login and one re-login on an expired
//!   token, typed errors by `errorCode`, its own wire types.
//! * [`discovery`]: pool, protection domain, system, SDT addresses and mode.
//! * [`naming`]: array names from volume UUIDs, sizes and their rounding.
//! * [`hosts`]: the gateway's host entity for this host's NQN.
//! * [`ops`]: the driver operations with revert-on-failure ([`Driver`]).

pub mod client;
pub mod config;
pub mod discovery;
pub mod hosts;
pub mod naming;
pub mod ops;

pub use client::{Client, ClientError, ErrorCode};
pub use config::{Mode, PoolConfig};
pub use naming::PowerFlexName;
pub use ops::Driver;
