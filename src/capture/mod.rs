//! Captures on disk: WAV files in the formats of the capture-set contract, and the capture-set
//! manifest that says what each file is (spec §1–2).

pub mod file;
pub mod limits;
pub mod manifest;
pub mod plug;
pub mod wav;

pub use crate::analysis::SampleFaults;
pub use limits::{GoldenLimits, Limits, LimitsSource};
pub use manifest::{CaptureEntry, CaptureSet, Component, ComponentKind, Direction, Drive, Manifest, PathSpec};
pub use wav::{read_wav, write_wav, Audio, FirstChannels, SampleFormat, WavError, WavSource};
