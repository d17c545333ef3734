//! pflex-conformance: checks a PowerFlex 4.x gateway or an HPE Alletra WSAPI
//! gateway against an independent reference model, through the driver.
//!
//! # Layout
//!
//! * [`array`]: the array under test behind one trait ([`array::ArrayRun`]),
//!   so the run frame, reports and transcripts are shared.
//! * [`alletra`]: Alletra's model, system under test, state machine and flows.
//! * [`model`]: the PowerFlex reference model (plain data, no I/O), written from the
//!   PowerFlex reference notes and never from the emulator.
//! * [`machine`]: the proptest state machine (generation from the model,
//!   replay against the gateway, comparison after every step, shrinking).
//! * [`sut`]: the system under test: the driver, handle-to-id mapping, the
//!   comparisons, naming and cleanup.
//! * [`gateway_calls`]: raw calls the driver's `Client` lacks.
//! * [`transcript`]: the recording proxy that keeps each case's exchanges.
//! * [`data`]: connectors and content patterns.
//! * [`faults`]: faults injected into the property's steps (`--faults RATE`).
//! * [`scenarios`]: fixed flows (LXD, CloudStack, token expiry, error shapes).
//! * [`progress`]: the live status line or plain progress lines.
//! * [`report`]: terminal, JSON and JUnit output; [`html`]: the report for
//!   people, grouped by behaviour area ([`areas`]).
//!
//! **Invariant:** this crate never depends on `powerflex-sim` (which holds
//! both emulators)
//! (`tests/independence.rs` checks it with `cargo metadata`).

pub mod alletra;
pub mod areas;
pub mod array;
pub mod data;
pub mod faults;
pub mod gateway_calls;
pub mod html;
pub mod machine;
pub mod model;
pub mod progress;
pub mod report;
pub mod scenarios;
pub mod sut;
pub mod transcript;
