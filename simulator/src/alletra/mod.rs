//! The HPE Alletra 9000 / Primera / 3PAR array (WSAPI v1), the emulator's second array.
//!
//! This folder will hold everything that is Alletra's own: the array as pure state (`model`,
//! here now) and, later, the translation between the WSAPI's HTTP and JSON and that model. The
//! TLS server, journal, data plane, admin data surface and test support will be shared with the
//! PowerFlex emulator rather than copied (ARCHITECTURE.md, "Two arrays, one core").

pub mod model;
