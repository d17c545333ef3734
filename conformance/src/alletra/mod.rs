//! Conformance for HPE Alletra WSAPI gateways, through the `alletra` driver.
//!
//! * [`model`]: the reference model, from the reference notes only.
//! * [`sut`]: the harness, one case against the gateway, the comparisons.
//! * [`wsapi`]: raw calls the driver does not make.
//! * [`machine`]: the state machine and LXD's flows as fixed sequences.
//! * [`scenarios`]: flows outside the state machine (the pool's volume set).

pub mod machine;
pub mod model;
pub mod scenarios;
pub mod sut;
pub mod wsapi;
