//! jackbench: a test bench for headsets and 3.5 mm jacks.
//!
//! The modules follow the signal chain, and data flows one way through them:
//!
//! - [`stimulus`]: reference signals (sine, log sweep, silence, multitone) in physical time.
//! - [`capture`]: captures on disk: WAV I/O in the contract's formats.
//! - [`analysis`]: measurements on samples: tone, THD, noise, hum, dropouts, alignment, sweeps;
//!   no I/O.
//! - [`diagnosis`]: from the measurements of a capture set to the faulty component, its fault
//!   code, evidence and remedy.
//!
//! The binary `jackbench` is a thin command-line layer over these.

pub mod analysis;
pub mod capture;
pub mod diagnosis;
pub mod stimulus;
