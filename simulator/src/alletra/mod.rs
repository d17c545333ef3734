//! The HPE Alletra 9000 / Primera / 3PAR array (WSAPI v1), the emulator's second array.
//!
//! Everything here is Alletra's own: the array as pure state (`model`), the translation
//! between the WSAPI's HTTP and JSON and that model (`gateway`), its start-up (`server`) and
//! its in-process test server (`testing`). The TLS server, journal, data plane and test
//! support are the ones `pflex-sim` uses (ARCHITECTURE.md, "Two arrays, one core").

pub mod gateway;
pub mod model;
pub mod server;
pub mod testing;
