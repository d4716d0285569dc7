//! jackbench: a test bench for headsets and 3.5 mm jacks.
//!
//! The modules follow the signal chain, and data flows one way through them:
//!
//! - [`stimulus`]: reference signals (sine, log sweep, silence, multitone) in physical time.
//! - [`capture`]: captures on disk: WAV I/O in the contract's formats.
//! - [`analysis`]: measurements on samples: tone, THD, noise, hum, dropouts, alignment, sweeps;
//!   no I/O.
//! - [`rig`]: what a bench is: rig files, the `AudioEndpoint` and `SwitchMatrix` traits, and
//!   their back-ends (the virtual bench, sound cards through cpal, an operator's hands).
//! - [`bench`]: the bench controller: runs a rig's plan and writes the capture set.
//! - [`report`]: PNG plots and a self-contained HTML report of a diagnosed set.
//! - [`diagnosis`]: from the measurements of a capture set to the faulty component, its fault
//!   code, evidence and remedy.
//! - `doctor` (feature `audio`): the driver checklist, measured on a real sound device.
//! - [`lab`]: batches of units, product limits, the results database, history and yield.
//! - [`monitor`]: one path watched live (wiggle test, soak): events as they happen, per-second
//!   level, THD and noise, streamed to disk.
//!
//! The binary `jackbench` is a thin command-line layer over these.

pub mod analysis;
pub mod bench;
pub mod capture;
pub mod diagnosis;
#[cfg(feature = "audio")]
pub mod doctor;
pub mod lab;
pub mod monitor;
pub mod report;
pub mod rig;
pub mod stimulus;
