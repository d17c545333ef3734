//! pflex-sim: a PowerFlex 4.x gateway emulator.
#![recursion_limit = "256"]
//!
//! # Layout
//! - `model`: the MDM as pure state: objects, rules, limits and errors. No I/O.
//! - `persist`: the journal and snapshot that make acknowledged changes survive a crash.
//! - `dataplane`: where volume bytes live (`none`, `file`, `nvmet`), behind one trait.
//! - `gateway`: the HTTPS surface: authentication, routing, translation between JSON and
//!   model commands, and the `/sim/` admin surface.
//! - `server`: configuration and start-up: TLS, state directory, the listener.
//! - `testing`: an in-process server for tests of other crates.
//! - `alletra`: the HPE Alletra (WSAPI v1) array: so far its pure model.

pub mod alletra;
pub mod dataplane;
pub mod gateway;
pub mod model;
pub mod persist;
pub mod server;
pub mod testing;
pub mod tls;
