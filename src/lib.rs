//! jackbench: a test bench for headsets and 3.5 mm jacks.
//!
//! The modules follow the signal chain, and data flows one way through them:
//!
//! - [`stimulus`]: reference signals (sine, log sweep, silence, multitone) in physical time.
//! - [`capture`]: captures on disk: WAV I/O in the contract's formats.
//! - [`analysis`]: measurements on samples: tone, THD, noise, hum, dropouts; no I/O.
//!
//! The binary `jackbench` is a thin command-line layer over these.

pub mod analysis;
pub mod capture;
pub mod stimulus;
