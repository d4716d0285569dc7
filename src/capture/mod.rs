//! Captures on disk: WAV files in the formats of the capture-set contract (spec §1).

pub mod wav;

pub use wav::{read_wav, write_wav, Audio, SampleFormat, WavError, WavSource};
