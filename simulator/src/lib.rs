//! pflex-sim and alletra-sim: PowerFlex 4.x gateway and HPE Alletra WSAPI emulators on one core.
#![recursion_limit = "256"]
//!
//! # Layout
//! - `array`: what every array's model offers the shared core (`Plan`, `ArrayModel`).
//! - `model`: the MDM as pure state: objects, rules, limits and errors. No I/O.
//! - `persist`: the journal and snapshot that make acknowledged changes survive a crash.
//! - `dataplane`: where volume bytes live (`none`, `file`, `nvmet`), behind one array-neutral
//!   trait, with each array's mapping of its effects (`dataplane::powerflex`, `dataplane::alletra`).
//! - `gateway`: the HTTPS surface: authentication, routing, translation between JSON and
//!   model commands, and the `/sim/` admin surface.
//! - `front`: the front door of both HTTP layers: the request log, the body intake (every
//!   request gets its whole answer) and the fault rules, before routing.
//! - `volume_data`: the `/sim/volumes/{volume}/…` data surface of both arrays (bytes by
//!   offset, backing file, allocation, extents), over each array's `VolumeData`.
//! - `faults`: faults on demand for both arrays (`--fault`, `/sim/faults`): error answers,
//!   latency, answers lost after the change, revoked sessions.
//! - `serving`: what both servers share: TLS, the listener, the data plane choice, serving
//!   and the clean stop, the banner.
//! - `server`: PowerFlex configuration and start-up: state directory, model, gateway.
//! - `testing`: an in-process server for tests of other crates.
//! - `alletra`: the HPE Alletra (WSAPI v1) array: its model, HTTP layer, start-up and test server.

pub mod alletra;
pub mod array;
pub mod dataplane;
pub mod faults;
pub mod front;
pub mod gateway;
pub mod model;
pub mod persist;
pub mod server;
pub mod serving;
pub mod testing;
pub mod tls;
pub mod volume_data;
