//! WAV files in the formats the contract allows: 16- or 24-bit integer or 32-bit float PCM,
//! 8 kHz to 192 kHz, one or two channels (spec §1). Anything else is a [`WavError`] naming the file.
//!
//! Samples are `f32` in full-scale units: an integer sample `i` of `b` bits is `i / 2^(b−1)`, so
//! a full-scale sine peaks at ±1.0 and 24-bit values are held exactly. Writing rounds to the
//! nearest integer and saturates; files are written to a temporary name and renamed, so a crash
//! never leaves a half-written capture under the real name.

use crate::analysis::{SampleFaults, SampleSource, SourceError};
use std::fs::File;
use std::io::{BufReader, BufWriter, Seek};
use std::path::{Path, PathBuf};

/// Lowest and highest sample rates accepted, in Hz.
pub const MIN_RATE_HZ: u32 = 8_000;
pub const MAX_RATE_HZ: u32 = 192_000;

/// The sample encodings the contract allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SampleFormat {
    /// 16-bit signed integer.
    S16,
    /// 24-bit signed integer.
    S24,
    /// 32-bit IEEE float.
    F32,
}

impl SampleFormat {
    /// The quantisation step in full-scale units (0 for float).
    pub fn quantum(self) -> f64 {
        match self {
            SampleFormat::S16 => 1.0 / 32_768.0,
            SampleFormat::S24 => 1.0 / 8_388_608.0,
            SampleFormat::F32 => 0.0,
        }
    }

    fn hound_spec(self, rate_hz: u32, channels: u16) -> hound::WavSpec {
        let (bits_per_sample, sample_format) = match self {
            SampleFormat::S16 => (16, hound::SampleFormat::Int),
            SampleFormat::S24 => (24, hound::SampleFormat::Int),
            SampleFormat::F32 => (32, hound::SampleFormat::Float),
        };
        hound::WavSpec { channels, sample_rate: rate_hz, bits_per_sample, sample_format }
    }
}

impl std::fmt::Display for SampleFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SampleFormat::S16 => "16-bit integer",
            SampleFormat::S24 => "24-bit integer",
            SampleFormat::F32 => "32-bit float",
        })
    }
}

/// What went wrong with a WAV file; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("{}: cannot open: {source}", path.display())]
    Open { path: PathBuf, source: std::io::Error },
    #[error("{}: not a usable WAV file: {reason}", path.display())]
    NotWav { path: PathBuf, reason: String },
    #[error("{}: unsupported format: {reason} (jackbench reads 16/24-bit integer or 32-bit float PCM, 1 or 2 channels, 8–192 kHz)", path.display())]
    Unsupported { path: PathBuf, reason: String },
    #[error("{}: the file holds no samples", path.display())]
    Empty { path: PathBuf },
    #[error("{}: truncated: the header declares {declared} frames but the data ends after {read}", path.display())]
    Truncated { path: PathBuf, declared: u64, read: u64 },
    #[error("{}: cannot read samples at frame {frame}: {reason}", path.display())]
    Read { path: PathBuf, frame: u64, reason: String },
    #[error("{}: cannot write: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
    #[error(transparent)]
    File(#[from] super::file::FileKindError),
}

/// A whole recording in memory, one `Vec` per channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub rate_hz: u32,
    pub format: SampleFormat,
    /// `channels[c][n]`: sample `n` of channel `c`, full scale = ±1.0.
    pub channels: Vec<Vec<f32>>,
}

impl Audio {
    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Builds a recording from `f64` channels.
    pub fn from_f64(rate_hz: u32, format: SampleFormat, channels: &[Vec<f64>]) -> Audio {
        Audio { rate_hz, format, channels: channels.iter().map(|c| c.iter().map(|&v| v as f32).collect()).collect() }
    }

    /// The recording as a [`SampleSource`] for the analysis.
    pub fn source(&self) -> MemorySource<'_> {
        MemorySource { audio: self }
    }
}

fn check_spec(path: &Path, spec: &hound::WavSpec) -> Result<SampleFormat, WavError> {
    let unsupported = |reason: String| WavError::Unsupported { path: path.to_path_buf(), reason };
    if !(1..=2).contains(&spec.channels) {
        return Err(unsupported(format!("{} channels", spec.channels)));
    }
    if !(MIN_RATE_HZ..=MAX_RATE_HZ).contains(&spec.sample_rate) {
        return Err(unsupported(format!("sample rate {} Hz", spec.sample_rate)));
    }
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 16) => Ok(SampleFormat::S16),
        (hound::SampleFormat::Int, 24) => Ok(SampleFormat::S24),
        (hound::SampleFormat::Float, 32) => Ok(SampleFormat::F32),
        (hound::SampleFormat::Int, b) => Err(unsupported(format!("{b}-bit integer samples"))),
        (hound::SampleFormat::Float, b) => Err(unsupported(format!("{b}-bit float samples"))),
    }
}

/// A WAV file opened for streaming: samples are read on demand, so an hour-long recording
/// is analysed in bounded memory.
///
/// hound parses the header (RIFF, `fmt `, any other chunk up to `data`); the samples are then
/// read straight from the file a block at a time and decoded in bulk (little-endian, by the
/// container's width: 16-bit in 2 bytes, 24-bit in 3 or, as hound reads it, the low 3 of 4, float
/// in 4), which is several times faster than one sample per call.
pub struct WavSource {
    path: PathBuf,
    file: File,
    format: SampleFormat,
    rate_hz: u32,
    channels: usize,
    frames: u64,
    /// Bytes per sample in the file, and where the samples start.
    container: usize,
    data_start: u64,
    /// The frame the file stands at.
    position: u64,
    /// The raw bytes of the last read.
    bytes: Vec<u8>,
    /// Frames counted into `faults` so far (the file read in order from its start).
    scanned: u64,
    faults: SampleFaults,
}

impl WavSource {
    /// Opens and validates `path`.
    pub fn open(path: &Path) -> Result<WavSource, WavError> {
        use super::file::{regular_file, FileKindError, MAX_WAV_BYTES};
        // A FIFO, a device or a directory is refused before it is opened (opening a FIFO waits
        // for a writer; a device never ends); a missing file is the open's own error.
        match regular_file(path, MAX_WAV_BYTES, "WAV file") {
            Ok(_) | Err(FileKindError::Missing(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let file = File::open(path).map_err(|source| WavError::Open { path: path.to_path_buf(), source })?;
        let not_wav = |reason: String| WavError::NotWav { path: path.to_path_buf(), reason };
        let reader =
            hound::WavReader::new(BufReader::with_capacity(1 << 12, file)).map_err(|e| not_wav(e.to_string()))?;
        let spec = reader.spec();
        let format = check_spec(path, &spec)?;
        let channels = usize::from(spec.channels);
        let samples = u64::from(reader.len());
        if samples == 0 {
            return Err(WavError::Empty { path: path.to_path_buf() });
        }
        // hound stops at the first sample; the data chunk's header (b"data", its length) lies
        // right before it, and its length over hound's sample count is the container's width.
        let mut header = reader.into_inner();
        let data_start = header.stream_position().map_err(|e| not_wav(e.to_string()))?;
        let mut file = header.into_inner();
        let mut chunk = [0u8; 8];
        file.seek(std::io::SeekFrom::Start(data_start.saturating_sub(8)))
            .and_then(|_| std::io::Read::read_exact(&mut file, &mut chunk))
            .map_err(|e| not_wav(e.to_string()))?;
        let data_len = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
        let container = if &chunk[..4] == b"data" { (data_len / samples) as usize } else { 0 };
        let fits =
            matches!((format, container), (SampleFormat::S16, 2) | (SampleFormat::S24, 3 | 4) | (SampleFormat::F32, 4));
        if !fits {
            return Err(WavError::Unsupported {
                path: path.to_path_buf(),
                reason: format!("{}-bit samples in {container}-byte containers", spec.bits_per_sample),
            });
        }
        let frames = samples / channels as u64;
        let frame_bytes = (container * channels) as u64;
        // A header that promises more data than the file holds: say so now, not half-way through.
        if let Ok(meta) = file.metadata() {
            let room = meta.len().saturating_sub(data_start) / frame_bytes;
            if room < frames {
                return Err(WavError::Truncated { path: path.to_path_buf(), declared: frames, read: room });
            }
        }
        let mut source = WavSource {
            path: path.to_path_buf(),
            file,
            format,
            rate_hz: spec.sample_rate,
            channels,
            frames,
            container,
            data_start,
            position: u64::MAX,
            bytes: Vec::new(),
            scanned: 0,
            faults: SampleFaults::default(),
        };
        source.seek(0)?;
        Ok(source)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> SampleFormat {
        self.format
    }

    /// Reads the whole file into memory.
    pub fn read_all(self) -> Result<Audio, WavError> {
        self.read_checked().map(|(audio, _)| audio)
    }

    /// Reads the whole file into memory, with what its samples hold that no converter records.
    pub fn read_checked(self) -> Result<(Audio, SampleFaults), WavError> {
        let frames = self.frames;
        self.read_prefix(frames)
    }

    /// Reads the first `frames` frames (or all the file has) into memory, with what their samples
    /// hold that no converter records.
    pub fn read_prefix(mut self, frames: u64) -> Result<(Audio, SampleFaults), WavError> {
        let frames = usize::try_from(frames.min(self.frames)).map_err(|_| WavError::Unsupported {
            path: self.path.clone(),
            reason: "too long to hold in memory".into(),
        })?;
        let mut channels = vec![Vec::with_capacity(frames); self.channels];
        self.read_frames(0, frames, &mut channels)?;
        Ok((Audio { rate_hz: self.rate_hz, format: self.format, channels }, self.faults))
    }

    /// The samples that are not finite or beyond full scale, counted as the file was read;
    /// `complete` once every frame was read in order from the start (the analysis's first pass
    /// does).
    pub fn sample_faults(&self) -> SampleFaults {
        self.faults
    }

    fn seek(&mut self, frame: u64) -> Result<(), WavError> {
        use std::io::Seek;
        let at = self.data_start + frame * (self.container * self.channels) as u64;
        self.file.seek(std::io::SeekFrom::Start(at)).map_err(|e| self.read_error(frame, &e.to_string()))?;
        self.position = frame;
        Ok(())
    }

    fn read_frames(&mut self, start: u64, frames: usize, out: &mut [Vec<f32>]) -> Result<(), WavError> {
        use std::io::Read;
        for c in out.iter_mut() {
            c.clear();
        }
        let frames = frames.min(self.frames.saturating_sub(start) as usize);
        if frames == 0 {
            return Ok(());
        }
        if start != self.position {
            self.seek(start)?;
        }
        let frame_bytes = self.container * self.channels;
        self.bytes.resize(frames * frame_bytes, 0);
        let mut got = 0;
        while got < self.bytes.len() {
            match self.file.read(&mut self.bytes[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.position = u64::MAX;
                    return Err(self.read_error(start + (got / frame_bytes) as u64, &e.to_string()));
                }
            }
        }
        let whole = got / frame_bytes;
        self.position = start + whole as u64;
        let bytes = &self.bytes[..whole * frame_bytes];
        let scale = self.format.quantum() as f32;
        match (self.format, self.container) {
            (SampleFormat::S16, _) => deinterleave::<2>(bytes, out, |b| f32::from(i16::from_le_bytes(b)) * scale),
            (SampleFormat::S24, 3) => {
                deinterleave::<3>(bytes, out, |[a, b, c]| (i32::from_le_bytes([0, a, b, c]) >> 8) as f32 * scale)
            }
            // hound's reading of 24 bits in 4 bytes: the low three, sign-extended.
            (SampleFormat::S24, _) => {
                deinterleave::<4>(bytes, out, |[a, b, c, _]| (i32::from_le_bytes([0, a, b, c]) >> 8) as f32 * scale)
            }
            // A NaN or infinity is not audio; hold it at zero rather than poison sums (counted
            // below, the first time the samples are read).
            (SampleFormat::F32, _) => deinterleave::<4>(bytes, out, |b| {
                let v = f32::from_le_bytes(b);
                if v.is_finite() {
                    v
                } else {
                    0.0
                }
            }),
        }
        if start == self.scanned && whole > 0 {
            if self.format == SampleFormat::F32 {
                for (n, b) in bytes.chunks_exact(4).enumerate() {
                    let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    if !v.is_finite() || v.abs() > 1.0 {
                        self.faults.count(v, start + (n / self.channels) as u64, self.rate_hz);
                    } else {
                        self.faults.peak = self.faults.peak.max(f64::from(v.abs()));
                    }
                }
            }
            self.scanned += whole as u64;
            self.faults.complete = self.scanned >= self.frames;
        }
        if whole < frames {
            return Err(WavError::Truncated { path: self.path.clone(), declared: self.frames, read: self.position });
        }
        Ok(())
    }

    fn read_error(&self, frame: u64, reason: &str) -> WavError {
        WavError::Read { path: self.path.clone(), frame, reason: reason.to_string() }
    }
}

/// Decodes interleaved samples of `B` bytes each into one vector per channel.
fn deinterleave<const B: usize>(bytes: &[u8], out: &mut [Vec<f32>], decode: impl Fn([u8; B]) -> f32) {
    let nch = out.len().max(1);
    let frames = bytes.len() / (B * nch);
    if nch == 1 {
        if let Some(c) = out.first_mut() {
            c.extend(bytes.chunks_exact(B).map(|s| decode(s.try_into().unwrap_or([0; B]))));
        }
        return;
    }
    // Stereo in one pass over the bytes.
    if let [left, right] = out {
        left.resize(frames, 0.0);
        right.resize(frames, 0.0);
        for ((f, l), r) in bytes.chunks_exact(2 * B).zip(left.iter_mut()).zip(right.iter_mut()) {
            let (a, b) = f.split_at(B);
            *l = decode(a.try_into().unwrap_or([0; B]));
            *r = decode(b.try_into().unwrap_or([0; B]));
        }
        return;
    }
    for (k, c) in out.iter_mut().enumerate() {
        c.reserve(frames);
        c.extend(bytes.chunks_exact(B * nch).map(|f| decode(f[k * B..(k + 1) * B].try_into().unwrap_or([0; B]))));
    }
}

impl SampleSource for WavSource {
    fn sample_rate(&self) -> u32 {
        self.rate_hz
    }
    fn channels(&self) -> usize {
        self.channels
    }
    fn frames(&self) -> u64 {
        self.frames
    }
    fn quantum(&self) -> f64 {
        self.format.quantum()
    }
    fn read(&mut self, start: u64, frames: usize, out: &mut [Vec<f32>]) -> Result<(), SourceError> {
        self.read_frames(start, frames, out).map_err(|e| SourceError(e.to_string()))
    }
    fn sample_faults(&self) -> Option<SampleFaults> {
        Some(self.faults)
    }
}

/// The first `channels` channels of another source (a record capture's second channel, which the
/// contract says repeats the first, is not measured).
pub struct FirstChannels<'a> {
    inner: &'a mut dyn SampleSource,
    channels: usize,
    all: Vec<Vec<f32>>,
}

impl<'a> FirstChannels<'a> {
    pub fn new(inner: &'a mut dyn SampleSource, channels: usize) -> FirstChannels<'a> {
        let all = vec![Vec::new(); inner.channels()];
        let channels = channels.clamp(1, all.len().max(1));
        FirstChannels { inner, channels, all }
    }
}

impl SampleSource for FirstChannels<'_> {
    fn sample_rate(&self) -> u32 {
        self.inner.sample_rate()
    }
    fn channels(&self) -> usize {
        self.channels.min(self.inner.channels())
    }
    fn frames(&self) -> u64 {
        self.inner.frames()
    }
    fn quantum(&self) -> f64 {
        self.inner.quantum()
    }
    fn read(&mut self, start: u64, frames: usize, out: &mut [Vec<f32>]) -> Result<(), SourceError> {
        if self.channels >= self.all.len() {
            return self.inner.read(start, frames, out);
        }
        self.inner.read(start, frames, &mut self.all)?;
        for (o, c) in out.iter_mut().zip(&mut self.all) {
            std::mem::swap(o, c);
        }
        Ok(())
    }
    fn sample_faults(&self) -> Option<SampleFaults> {
        self.inner.sample_faults()
    }
}

/// An in-memory recording seen as a [`SampleSource`].
pub struct MemorySource<'a> {
    audio: &'a Audio,
}

impl SampleSource for MemorySource<'_> {
    fn sample_rate(&self) -> u32 {
        self.audio.rate_hz
    }
    fn channels(&self) -> usize {
        self.audio.channels.len()
    }
    fn frames(&self) -> u64 {
        self.audio.frames() as u64
    }
    fn quantum(&self) -> f64 {
        self.audio.format.quantum()
    }
    fn read(&mut self, start: u64, frames: usize, out: &mut [Vec<f32>]) -> Result<(), SourceError> {
        let len = self.audio.frames();
        let s = (start as usize).min(len);
        let e = s.saturating_add(frames).min(len);
        for (o, c) in out.iter_mut().zip(&self.audio.channels) {
            o.clear();
            o.extend_from_slice(&c[s..e]);
        }
        Ok(())
    }
}

/// Reads a whole WAV file into memory.
pub fn read_wav(path: &Path) -> Result<Audio, WavError> {
    WavSource::open(path)?.read_all()
}

/// Writes `audio` to `path` in its format, atomically (temporary file, then rename).
pub fn write_wav(path: &Path, audio: &Audio) -> Result<(), WavError> {
    let werr = |reason: String| WavError::Write { path: path.to_path_buf(), reason };
    let nch = audio.channels.len();
    if !(1..=2).contains(&nch) {
        return Err(werr(format!("{nch} channels (1 or 2 allowed)")));
    }
    if !(MIN_RATE_HZ..=MAX_RATE_HZ).contains(&audio.rate_hz) {
        return Err(werr(format!("sample rate {} Hz", audio.rate_hz)));
    }
    let frames = audio.frames();
    if audio.channels.iter().any(|c| c.len() != frames) {
        return Err(werr("channels of different lengths".into()));
    }
    let file_name = path.file_name().ok_or_else(|| werr("not a file name".into()))?;
    let tmp = path.with_file_name(format!(".{}.partial", file_name.to_string_lossy()));
    let write = || -> Result<(), hound::Error> {
        let spec = audio.format.hound_spec(audio.rate_hz, nch as u16);
        let mut w = hound::WavWriter::new(BufWriter::new(File::create(&tmp)?), spec)?;
        match audio.format {
            SampleFormat::F32 => {
                for n in 0..frames {
                    for c in &audio.channels {
                        w.write_sample(c[n])?;
                    }
                }
            }
            SampleFormat::S16 | SampleFormat::S24 => {
                let full = 1.0 / audio.format.quantum();
                let (lo, hi) = (-full, full - 1.0);
                for n in 0..frames {
                    for c in &audio.channels {
                        let v = (f64::from(c[n]) * full).round().clamp(lo, hi) as i32;
                        w.write_sample(v)?;
                    }
                }
            }
        }
        w.finalize()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        werr(e.to_string())
    })?;
    std::fs::rename(&tmp, path).map_err(|e| werr(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(frames: usize, channels: usize) -> Vec<Vec<f64>> {
        (0..channels).map(|c| (0..frames).map(|n| ((n as f64 * 0.001 + c as f64).sin()) * 0.9).collect()).collect()
    }

    #[test]
    fn every_format_round_trips_within_its_quantum() {
        let dir = tempfile::tempdir().unwrap();
        for format in [SampleFormat::S16, SampleFormat::S24, SampleFormat::F32] {
            for channels in [1, 2] {
                for rate in [8_000, 44_100, 48_000, 96_000, 192_000] {
                    let audio = Audio::from_f64(rate, format, &ramp(1000, channels));
                    let path = dir.path().join(format!("{format:?}-{channels}-{rate}.wav"));
                    write_wav(&path, &audio).unwrap();
                    let back = read_wav(&path).unwrap();
                    assert_eq!((back.rate_hz, back.format, back.channels.len()), (rate, format, channels));
                    let tol = (format.quantum() / 2.0).max(1e-9) + 1e-9;
                    for (a, b) in audio.channels.iter().zip(&back.channels) {
                        for (x, y) in a.iter().zip(b) {
                            assert!((f64::from(*x) - f64::from(*y)).abs() <= tol, "{format:?}: {x} vs {y}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn full_scale_saturates_instead_of_wrapping() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sat.wav");
        write_wav(&path, &Audio::from_f64(48_000, SampleFormat::S16, &[vec![1.5, -1.5, 1.0]])).unwrap();
        let back = read_wav(&path).unwrap();
        assert_eq!(back.channels[0], vec![32_767.0 / 32_768.0, -1.0, 32_767.0 / 32_768.0]);
    }

    #[test]
    fn bad_files_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("text.wav");
        std::fs::write(&p, b"this is not audio").unwrap();
        let e = read_wav(&p).unwrap_err();
        assert!(matches!(e, WavError::NotWav { .. }), "{e}");
        assert!(e.to_string().contains("text.wav"));

        let p8 = dir.path().join("eight.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 48_000,
            bits_per_sample: 8,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&p8, spec).unwrap();
        w.write_sample(3i8).unwrap();
        w.finalize().unwrap();
        assert!(matches!(read_wav(&p8).unwrap_err(), WavError::Unsupported { .. }));

        let p3 = dir.path().join("three.wav");
        let spec = hound::WavSpec {
            channels: 3,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&p3, spec).unwrap();
        for _ in 0..3 {
            w.write_sample(1i16).unwrap();
        }
        w.finalize().unwrap();
        let e = read_wav(&p3).unwrap_err();
        assert!(e.to_string().contains("3 channels"), "{e}");

        let p0 = dir.path().join("empty.wav");
        write_wav(&p0, &Audio::from_f64(48_000, SampleFormat::S16, &[vec![]])).unwrap();
        assert!(matches!(read_wav(&p0).unwrap_err(), WavError::Empty { .. }));

        let pt = dir.path().join("trunc.wav");
        write_wav(&pt, &Audio::from_f64(48_000, SampleFormat::S24, &ramp(1000, 2))).unwrap();
        let bytes = std::fs::read(&pt).unwrap();
        std::fs::write(&pt, &bytes[..bytes.len() - 3000]).unwrap();
        let e = read_wav(&pt).unwrap_err();
        assert!(matches!(e, WavError::Truncated { declared: 1000, .. }), "{e}");
    }

    #[test]
    fn bulk_decoding_reads_what_hound_reads_in_every_container() {
        // (bits, container bytes, float), written by hound (24 bits in 4 bytes as
        // WAVE_FORMAT_EXTENSIBLE), a chunk after the data; every window read against hound's own
        // sample-by-sample decoding, bit for bit.
        let dir = tempfile::tempdir().unwrap();
        for (bits, bytes, float) in [(16u16, 2u16, false), (24, 3, false), (24, 4, false), (32, 4, true)] {
            for channels in [1u16, 2] {
                let p = dir.path().join(format!("c{bits}-{bytes}-{channels}.wav"));
                let spec = hound::WavSpec {
                    channels,
                    sample_rate: 44_100,
                    bits_per_sample: bits,
                    sample_format: if float { hound::SampleFormat::Float } else { hound::SampleFormat::Int },
                };
                let frames = 3001usize;
                let file = std::io::BufWriter::new(File::create(&p).unwrap());
                let mut w =
                    hound::WavWriter::new_with_spec_ex(file, hound::WavSpecEx { spec, bytes_per_sample: bytes })
                        .unwrap();
                let full = f64::from(1u32 << (bits.min(24) - 1)) - 1.0;
                for i in 0..frames * usize::from(channels) {
                    // Both signs, the extremes, and everything between.
                    let x = ((i as f64) * 0.618_033_988_7).fract() * 2.0 - 1.0;
                    if float {
                        w.write_sample(x as f32).unwrap();
                    } else {
                        w.write_sample((x * full).round() as i32).unwrap();
                    }
                }
                w.finalize().unwrap();
                let mut tail = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
                std::io::Write::write_all(&mut tail, b"LIST\x04\0\0\0junk").unwrap();
                let mut reader = hound::WavReader::open(&p).unwrap();
                let truth: Vec<f32> = if float {
                    reader.samples::<f32>().map(|v| v.unwrap()).collect()
                } else {
                    let q = 1.0 / f64::from(1u32 << (bits - 1));
                    reader.samples::<i32>().map(|v| (f64::from(v.unwrap()) * q) as f32).collect()
                };
                let nch = usize::from(channels);
                let mut src = WavSource::open(&p).unwrap();
                assert_eq!(src.frames(), frames as u64, "{p:?}");
                let mut buf = vec![Vec::new(); nch];
                for (start, len) in [(0, frames), (1, 7), (2999, 50), (1500, 1), (17, 1000)] {
                    src.read(start as u64, len, &mut buf).unwrap();
                    let n = len.min(frames - start);
                    for (c, got) in buf.iter().enumerate() {
                        let want: Vec<f32> = (start..start + n).map(|f| truth[f * nch + c]).collect();
                        assert_eq!(got, &want, "{p:?} channel {c} from {start}");
                    }
                }
            }
        }
    }

    #[test]
    fn streaming_reads_any_window() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.wav");
        let audio = Audio::from_f64(48_000, SampleFormat::F32, &ramp(5000, 2));
        write_wav(&p, &audio).unwrap();
        let mut src = WavSource::open(&p).unwrap();
        let mut buf = vec![Vec::new(); 2];
        src.read(4000, 2000, &mut buf).unwrap();
        assert_eq!(buf[1].len(), 1000);
        assert_eq!(buf[1][..], audio.channels[1][4000..]);
        src.read(10, 5, &mut buf).unwrap();
        assert_eq!(buf[0][..], audio.channels[0][10..15]);
    }
}
