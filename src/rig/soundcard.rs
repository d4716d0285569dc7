//! Real sound cards through cpal: device lookup, the list `jackbench devices` prints, and
//! [`SoundCards`], the [`Duplex`] that plays on one device while recording another.
//!
//! # Streams and the real-time rule
//! A pair of devices is opened once (an output stream and an input stream at one rate) and kept
//! open for every pass on that pair: opening costs up to seconds before the input delivers its
//! first frame, which a bench cannot pay per capture. Up to [`OPEN_PAIRS`] pairs stay open at
//! once, no two sharing a device (a fixture's DUT → ear couplers and mouth simulator → DUT), and
//! [`Duplex::play_record_together`] runs passes on several at once: every input records its lead,
//! then every output is handed its stimulus in the same moment. The cpal callbacks do no allocation,
//! locking or I/O: they move samples through two lock-free ring buffers (rtrb) and count frames,
//! gaps and errors in atomics. Everything else runs on the bench's thread.
//!
//! # Where the stimulus starts
//! Each callback notes how far it runs behind the frames it moves: the time it runs less the
//! time its frames stand for at the rate. An on-time callback has the smallest such offset; one
//! that a loaded machine ran late has a larger one. The smallest over the last
//! [`Cadence::WINDOW`] callbacks is the side's cadence: when an on-time callback would have run
//! for any frame (the few callbacks of the output's first fill are left out). When the output
//! hands the device the first frame of a stimulus, the input frame an on-time input callback
//! would have delivered at the moment an on-time output callback would have handed that frame
//! over is [`DuplexTake::start_frame`], relative to the first frame recorded for the pass: to a
//! frame or so, however late either callback ran (it was 10.7 ms and more through PulseAudio on a
//! loaded machine, counting the callbacks as they ran). The device's latency (output buffer,
//! converter, input buffer) comes on top and is measured by cross-correlation in
//! [`super::live`].
//!
//! # Failures
//! A device that reports it is gone, or whose input stops delivering frames for
//! [`Timeouts::stall`], ends the pass with an error naming it, and the pair is closed (the next
//! pass reopens it). Underruns (the output ran dry while a stimulus was playing), overruns (the
//! bench thread fell behind the input) and xruns the device reports are kept as events of the
//! capture.

use super::live::{DeviceRef, Duplex, DuplexPlan, DuplexTake};
use super::RigError;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample};
use serde::Serialize;
use std::io::Read;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long to wait for a device before calling it stuck.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From opening a pair to its input's first frame (ALSA through PulseAudio can take 2 s).
    pub first_input: Duration,
    /// Without a new input frame (or without the output taking the stimulus) in a pass.
    pub stall: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { first_input: Duration::from_secs(8), stall: Duration::from_secs(2) }
    }
}

/// Which side of a device is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Output,
    Input,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Output => "output",
            Side::Input => "input",
        }
    }
}

fn device_error(device: impl std::fmt::Display, message: impl Into<String>) -> RigError {
    RigError::Device { device: device.to_string(), message: message.into() }
}

/// The audio host a rig names (case-insensitive: `alsa`, `jack`, `pulseaudio`…), or the
/// platform's default.
pub fn host(name: Option<&str>) -> Result<cpal::Host, RigError> {
    let Some(name) = name else { return Ok(cpal::default_host()) };
    let available = cpal::available_hosts();
    let id = available.iter().find(|h| h.name().eq_ignore_ascii_case(name)).ok_or_else(|| {
        let names: Vec<&str> = available.iter().map(|h| h.name()).collect();
        device_error(format!("{name}:"), format!("no such audio host here; available: {}", names.join(", ")))
    })?;
    cpal::host_from_id(*id).map_err(|e| device_error(format!("{name}:"), format!("the audio host cannot be used: {e}")))
}

/// The names a device answers to: its id on the host (ALSA's PCM name, e.g. `default`,
/// `hw:CARD=PCH,DEV=0`), its description's name and its display name.
fn names_of(device: &cpal::Device) -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(id) = device.id() {
        names.push(id.id().to_string());
    }
    if let Ok(d) = device.description() {
        names.push(d.name().to_string());
    }
    names.push(device.to_string());
    names.dedup();
    names
}

fn supports(device: &cpal::Device, side: Side) -> bool {
    match side {
        Side::Output => device.supports_output(),
        Side::Input => device.supports_input(),
    }
}

/// The device a rig names, on the side wanted. `default` is the host's default device. A name
/// that matches nothing is an error listing the devices that are there.
pub fn find_device(dev: &DeviceRef, side: Side) -> Result<cpal::Device, RigError> {
    hushed(|| find_device_loudly(dev, side))
}

/// Runs `f` with this process's stderr caught. Probing ALSA's plugin devices (jack, oss, …) makes
/// alsa-lib and libjack print complaints about sound servers and cards that are not there; they
/// are dropped when `f` succeeds and passed on when it fails. When stderr cannot be caught
/// (another catch is under way on another thread), `f` runs as it is.
fn hushed<T, E>(f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let Ok(mut caught) = gag::BufferRedirect::stderr() else { return f() };
    let result = f();
    let mut text = String::new();
    let read = caught.read_to_string(&mut text);
    drop(caught);
    if result.is_err() && read.is_ok() {
        eprint!("{text}");
    }
    result
}

fn find_device_loudly(dev: &DeviceRef, side: Side) -> Result<cpal::Device, RigError> {
    let host = host(dev.host.as_deref())?;
    let default = match side {
        Side::Output => host.default_output_device(),
        Side::Input => host.default_input_device(),
    };
    let devices: Vec<cpal::Device> = host
        .devices()
        .map_err(|e| device_error(dev, format!("cannot list the {} host's devices: {e}", host.id().name())))?
        .filter(|d| supports(d, side))
        .collect();
    let exact = devices.iter().find(|d| names_of(d).iter().any(|n| n == &dev.name));
    let loose = || devices.iter().find(|d| names_of(d).iter().any(|n| n.eq_ignore_ascii_case(&dev.name)));
    if let Some(d) = exact.or_else(loose) {
        return Ok(d.clone());
    }
    if dev.name == "default" {
        if let Some(d) = default {
            return Ok(d);
        }
    }
    let listed: Vec<String> = devices.iter().filter_map(|d| names_of(d).into_iter().next()).collect();
    Err(device_error(
        dev,
        format!(
            "no {} device of that name on the {} host; these are there: {} (`jackbench devices` lists them)",
            side.name(),
            host.id().name(),
            if listed.is_empty() { "none".to_string() } else { listed.join(", ") }
        ),
    ))
}

/// One range of configurations a device supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigRange {
    pub channels: u16,
    pub min_rate_hz: u32,
    pub max_rate_hz: u32,
    /// cpal's name of the sample format (`f32`, `i16`, …).
    pub format: String,
}

/// A device as `jackbench devices` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    /// The name a rig file uses for it.
    pub name: String,
    /// Its description, when the host gives one beyond the name.
    pub description: Option<String>,
    pub default_output: bool,
    pub default_input: bool,
    pub outputs: Vec<ConfigRange>,
    pub inputs: Vec<ConfigRange>,
}

/// A host and its devices; `error` when it could not be listed.
#[derive(Debug, Clone, Serialize)]
pub struct HostInfo {
    pub host: String,
    pub default: bool,
    pub devices: Vec<DeviceInfo>,
    pub error: Option<String>,
}

fn ranges(configs: Result<impl Iterator<Item = cpal::SupportedStreamConfigRange>, cpal::Error>) -> Vec<ConfigRange> {
    configs
        .map(|it| {
            it.map(|c| ConfigRange {
                channels: c.channels(),
                min_rate_hz: c.min_sample_rate(),
                max_rate_hz: c.max_sample_rate(),
                format: c.sample_format().to_string(),
            })
            .collect()
        })
        .unwrap_or_default()
}

/// Every host of this platform with its devices, rates, channel counts and sample formats.
pub fn list_devices() -> Vec<HostInfo> {
    let Ok(hosts) = hushed(|| Ok::<_, std::convert::Infallible>(list_devices_loudly()));
    hosts
}

fn list_devices_loudly() -> Vec<HostInfo> {
    let default_host = cpal::default_host().id();
    cpal::available_hosts()
        .into_iter()
        .map(|id| {
            let mut info =
                HostInfo { host: id.name().to_string(), default: id == default_host, devices: vec![], error: None };
            let host = match cpal::host_from_id(id) {
                Ok(h) => h,
                Err(e) => {
                    info.error = Some(e.to_string());
                    return info;
                }
            };
            let first_name = |d: Option<cpal::Device>| d.and_then(|d| names_of(&d).into_iter().next());
            let (def_out, def_in) = (first_name(host.default_output_device()), first_name(host.default_input_device()));
            match host.devices() {
                Ok(devices) => {
                    for d in devices {
                        let names = names_of(&d);
                        let name = names.first().cloned().unwrap_or_default();
                        let description = names.get(1).filter(|n| **n != name).cloned();
                        info.devices.push(DeviceInfo {
                            default_output: def_out.as_ref() == Some(&name),
                            default_input: def_in.as_ref() == Some(&name),
                            outputs: if d.supports_output() { ranges(d.supported_output_configs()) } else { vec![] },
                            inputs: if d.supports_input() { ranges(d.supported_input_configs()) } else { vec![] },
                            name,
                            description,
                        });
                    }
                }
                Err(e) => info.error = Some(e.to_string()),
            }
            info
        })
        .collect()
}

/// The stream configuration chosen on one side of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chosen {
    pub channels: u16,
    pub rate_hz: u32,
    pub format: SampleFormat,
}

impl Chosen {
    /// The stream configuration to open, with the host's default buffer size.
    pub fn config(&self) -> cpal::StreamConfig {
        cpal::StreamConfig {
            channels: self.channels,
            sample_rate: self.rate_hz,
            buffer_size: cpal::BufferSize::Default,
        }
    }
}

/// Sample formats the streams can run in, most wanted first.
const FORMATS: [SampleFormat; 4] = [SampleFormat::F32, SampleFormat::I32, SampleFormat::I16, SampleFormat::I24];
/// Rates tried when the wanted one is not offered by both devices.
const FALLBACK_RATES: [u32; 4] = [48_000, 44_100, 96_000, 32_000];

fn configs(
    device: &cpal::Device,
    side: Side,
    dev: &DeviceRef,
) -> Result<Vec<cpal::SupportedStreamConfigRange>, RigError> {
    let list = match side {
        Side::Output => device.supported_output_configs().map(|c| c.collect()),
        Side::Input => device.supported_input_configs().map(|c| c.collect()),
    };
    list.map_err(|e| device_error(dev, format!("cannot read its {} configurations: {e}", side.name())))
}

/// The best configuration at `rate_hz` with at least `channels` (two preferred, so one stream
/// serves every drive): the fewest channels, then the most wanted format.
fn choose(ranges: &[cpal::SupportedStreamConfigRange], channels: usize, rate_hz: u32) -> Option<Chosen> {
    ranges
        .iter()
        .filter(|r| usize::from(r.channels()) >= channels && r.contains_rate(rate_hz))
        .filter_map(|r| FORMATS.iter().position(|f| *f == r.sample_format()).map(|p| (r, p)))
        .min_by_key(|(r, p)| (r.channels().max(2) != 2, r.channels(), *p))
        .map(|(r, _)| Chosen { channels: r.channels(), rate_hz, format: r.sample_format() })
}

/// Counters the callbacks share with the bench thread. Frame positions are counts of input
/// frames since the pair was opened.
struct Shared {
    epoch: Instant,
    /// Input frames delivered so far.
    frames_in: AtomicU64,
    /// Input callbacks completed.
    in_callbacks: AtomicU64,
    /// Output callbacks completed.
    out_callbacks: AtomicU64,
    /// `epoch`-relative time of the last input callback, ns.
    last_in_ns: AtomicU64,
    /// Frames the last input callback delivered.
    last_in_block: AtomicU64,
    /// The input's cadence ([`Cadence`]), ns on `epoch`'s clock; [`UNSET`] until it has one.
    in_cadence_ns: AtomicI64,
    /// Where recording for the pass starts: [`OFF`], [`ARMED`] or the input frame.
    rec_start: AtomicU64,
    /// The input frame at the moment the output took the first stimulus frame (see
    /// [`Shared::input_frame_at`]); [`ARMED`] until then.
    out_start: AtomicU64,
    /// 1 while a stimulus is being fed and the output must not run dry.
    feeding: AtomicU64,
    underruns: AtomicU64,
    overrun_frames: AtomicU64,
    xruns: AtomicU64,
    /// Set by the error callbacks when a device is gone.
    gone: AtomicU64,
}

const OFF: u64 = u64::MAX;
const ARMED: u64 = u64::MAX - 1;
const UNSET: i64 = i64::MIN;

/// How far one side's callbacks run behind the frames they move, over its last
/// [`Cadence::WINDOW`] callbacks: the smallest offset is an on-time callback's. Owned by the
/// callback; a fixed array, so noting a callback allocates nothing.
struct Cadence {
    offsets: [i64; Cadence::WINDOW],
    next: usize,
    seen: u64,
    rate_hz: u32,
}

impl Cadence {
    /// Callbacks the smallest offset is taken over (about 1.4 s of 512-frame blocks at 48 kHz;
    /// the two clocks drift apart by well under a frame in that time).
    const WINDOW: usize = 128;
    /// Callbacks left out at the start: the output's first fill hands over several blocks at once.
    const SETTLE: u64 = 24;
    /// Callbacks kept before the cadence is trusted.
    const READY: u64 = 8;

    fn new(rate_hz: u32) -> Cadence {
        Cadence { offsets: [i64::MAX; Cadence::WINDOW], next: 0, seen: 0, rate_hz: rate_hz.max(1) }
    }

    /// The time `frames` stand for, ns.
    fn span_ns(&self, frames: u64) -> i64 {
        i64::try_from(u128::from(frames) * 1_000_000_000 / u128::from(self.rate_hz)).unwrap_or(i64::MAX)
    }

    /// Notes a callback that runs at `now_ns` with `frames` moved before it; the cadence once
    /// trusted: when an on-time callback would have run for frame 0.
    fn note(&mut self, now_ns: u64, frames: u64) -> Option<i64> {
        self.seen += 1;
        if self.seen <= Cadence::SETTLE {
            return None;
        }
        let now = i64::try_from(now_ns).unwrap_or(i64::MAX);
        self.offsets[self.next] = now.saturating_sub(self.span_ns(frames));
        self.next = (self.next + 1) % Cadence::WINDOW;
        let kept = self.seen - Cadence::SETTLE;
        (kept >= Cadence::READY).then(|| self.offsets.iter().copied().min().unwrap_or(now))
    }

    /// Whether a side has made enough callbacks for its cadence to be trusted.
    fn settled(callbacks: u64) -> bool {
        callbacks >= Cadence::SETTLE + Cadence::READY
    }
}

impl Shared {
    fn new() -> Shared {
        Shared {
            epoch: Instant::now(),
            frames_in: AtomicU64::new(0),
            in_callbacks: AtomicU64::new(0),
            last_in_ns: AtomicU64::new(0),
            last_in_block: AtomicU64::new(0),
            in_cadence_ns: AtomicI64::new(UNSET),
            out_callbacks: AtomicU64::new(0),
            rec_start: AtomicU64::new(OFF),
            out_start: AtomicU64::new(OFF),
            feeding: AtomicU64::new(0),
            underruns: AtomicU64::new(0),
            overrun_frames: AtomicU64::new(0),
            xruns: AtomicU64::new(0),
            gone: AtomicU64::new(0),
        }
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 2)
    }

    /// The input frame an on-time input callback would have delivered up to at `at_ns` (on
    /// `epoch`'s clock), by the input's cadence; the frames delivered so far while it has none.
    fn input_frame_at(&self, at_ns: i64, rate_hz: u32) -> u64 {
        let cadence = self.in_cadence_ns.load(Ordering::Acquire);
        if cadence == UNSET {
            return self.frames_in.load(Ordering::Acquire);
        }
        let frames = i128::from(at_ns.saturating_sub(cadence)) * i128::from(rate_hz) / 1_000_000_000;
        u64::try_from(frames.max(0)).unwrap_or(0)
    }
}

/// One open pair of streams.
struct Session {
    output: DeviceRef,
    input: DeviceRef,
    out: Chosen,
    inp: Chosen,
    shared: Arc<Shared>,
    play_tx: rtrb::Producer<f32>,
    rec_rx: rtrb::Consumer<f32>,
    /// What the output's and the input's error callbacks reported.
    errors: [rtrb::Consumer<(Side, cpal::Error)>; 2],
    /// Kept alive for the session; dropped last.
    _streams: (cpal::Stream, cpal::Stream),
}

/// Samples of ring buffer per channel: seconds of audio either side can hold.
const RING_S: usize = 4;

/// Pairs kept open at most: a bench's two (the DUT's output to the ear couplers, the mouth
/// simulator to the DUT's input) and a spare.
const OPEN_PAIRS: usize = 3;

/// The cpal back-end of [`Duplex`].
#[derive(Default)]
pub struct SoundCards {
    /// The open pairs, the one used last at the end. No two share a device: opening a pair
    /// closes those that use its output or its input.
    sessions: Vec<Session>,
    pub timeouts: Timeouts,
}

fn output_stream<T>(
    device: &cpal::Device,
    chosen: Chosen,
    mut play_rx: rtrb::Consumer<f32>,
    shared: Arc<Shared>,
    mut errors: rtrb::Producer<(Side, cpal::Error)>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    let config = chosen.config();
    let width = usize::from(chosen.channels);
    let err_shared = shared.clone();
    let mut cadence = Cadence::new(chosen.rate_hz);
    let mut frames_out = 0u64;
    device.build_output_stream(
        config,
        move |data: &mut [T], _| {
            let frames = data.len() / width;
            let ready = (play_rx.slots() / width).min(frames);
            let now = shared.now_ns();
            let on_time = cadence.note(now, frames_out);
            if ready > 0 && shared.out_start.load(Ordering::Acquire) == ARMED {
                // The stimulus is this block's first frame: handed over when an on-time callback
                // would have run for it.
                let handed_ns = on_time
                    .map_or(i64::try_from(now).unwrap_or(i64::MAX), |c| c.saturating_add(cadence.span_ns(frames_out)));
                shared.out_start.store(shared.input_frame_at(handed_ns, chosen.rate_hz), Ordering::Release);
            }
            frames_out += frames as u64;
            shared.out_callbacks.fetch_add(1, Ordering::AcqRel);
            if let Ok(chunk) = play_rx.read_chunk(ready * width) {
                let (a, b) = chunk.as_slices();
                for (out, v) in data.iter_mut().zip(a.iter().chain(b)) {
                    *out = T::from_sample(*v);
                }
                chunk.commit_all();
            }
            for out in data.iter_mut().skip(ready * width) {
                *out = T::EQUILIBRIUM;
            }
            if ready < frames && shared.feeding.load(Ordering::Acquire) == 1 {
                shared.underruns.fetch_add(1, Ordering::AcqRel);
            }
        },
        move |e: cpal::Error| {
            note_error(&err_shared, &e);
            let _ = errors.push((Side::Output, e));
        },
        Some(Duration::from_secs(5)),
    )
}

fn input_stream<T>(
    device: &cpal::Device,
    chosen: Chosen,
    keep: usize,
    mut rec_tx: rtrb::Producer<f32>,
    shared: Arc<Shared>,
    mut errors: rtrb::Producer<(Side, cpal::Error)>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let config = chosen.config();
    let width = usize::from(chosen.channels);
    let err_shared = shared.clone();
    let mut cadence = Cadence::new(chosen.rate_hz);
    device.build_input_stream(
        config,
        move |data: &[T], _| {
            let frames = data.len() / width;
            let before = shared.frames_in.load(Ordering::Acquire);
            let now = shared.now_ns();
            let mut start = shared.rec_start.load(Ordering::Acquire);
            if start == ARMED {
                shared.rec_start.store(before, Ordering::Release);
                start = before;
            }
            if start != OFF {
                match rec_tx.write_chunk_uninit(frames * keep) {
                    Ok(chunk) => {
                        let samples =
                            data.chunks_exact(width).flat_map(|f| f.iter().take(keep)).map(|s| f32::from_sample(*s));
                        chunk.fill_from_iter(samples);
                    }
                    Err(_) => {
                        shared.overrun_frames.fetch_add(frames as u64, Ordering::AcqRel);
                    }
                }
            }
            shared.last_in_ns.store(now, Ordering::Release);
            shared.last_in_block.store(frames as u64, Ordering::Release);
            shared.frames_in.store(before + frames as u64, Ordering::Release);
            // The frames up to the block's end are delivered now.
            if let Some(c) = cadence.note(now, before + frames as u64) {
                shared.in_cadence_ns.store(c, Ordering::Release);
            }
            shared.in_callbacks.fetch_add(1, Ordering::AcqRel);
        },
        move |e: cpal::Error| {
            note_error(&err_shared, &e);
            let _ = errors.push((Side::Input, e));
        },
        Some(Duration::from_secs(5)),
    )
}

/// Whether a stream error means the device can no longer be used.
fn is_fatal(kind: cpal::ErrorKind) -> bool {
    matches!(
        kind,
        cpal::ErrorKind::DeviceNotAvailable
            | cpal::ErrorKind::HostUnavailable
            | cpal::ErrorKind::StreamInvalidated
            | cpal::ErrorKind::PermissionDenied
    )
}

/// Counts what an error callback reports, for the bench thread to act on.
fn note_error(shared: &Shared, e: &cpal::Error) {
    if e.kind() == cpal::ErrorKind::Xrun {
        shared.xruns.fetch_add(1, Ordering::AcqRel);
    } else if is_fatal(e.kind()) {
        shared.gone.store(1, Ordering::Release);
    }
}

/// Words for an error opening or running a stream, with what to do about it.
pub fn explain(e: &cpal::Error) -> String {
    let hint = match e.kind() {
        cpal::ErrorKind::DeviceBusy => "; another program holds the device: close it (or stop its stream) and retry",
        cpal::ErrorKind::PermissionDenied => {
            "; access to the device was denied: allow microphone/sound access for this program \
             (Linux: membership of the audio group; laptops: the privacy setting)"
        }
        cpal::ErrorKind::DeviceNotAvailable => "; the device is gone: is it plugged in?",
        cpal::ErrorKind::UnsupportedConfig => "; the device does not run that configuration",
        _ => "",
    };
    format!("{e}{hint}")
}

macro_rules! by_format {
    ($format:expr, $f:ident, $($arg:expr),*) => {
        match $format {
            SampleFormat::F32 => $f::<f32>($($arg),*),
            SampleFormat::I32 => $f::<i32>($($arg),*),
            SampleFormat::I16 => $f::<i16>($($arg),*),
            SampleFormat::I24 => $f::<cpal::I24>($($arg),*),
            other => Err(cpal::Error::with_message(cpal::ErrorKind::UnsupportedConfig, format!("sample format {other}"))),
        }
    };
}

impl SoundCards {
    /// The configurations a pass at `wanted_hz` would open, without opening anything.
    pub fn configure(
        &self,
        output: &DeviceRef,
        out_channels: usize,
        input: &DeviceRef,
        in_channels: usize,
        wanted_hz: u32,
    ) -> Result<(Chosen, Chosen), RigError> {
        let out_dev = find_device(output, Side::Output)?;
        let in_dev = find_device(input, Side::Input)?;
        let (outs, ins) = (configs(&out_dev, Side::Output, output)?, configs(&in_dev, Side::Input, input)?);
        // Two channels either side when offered, so one open pair serves every capture.
        let pick = |ranges: &[cpal::SupportedStreamConfigRange], ch: usize, rate| {
            choose(ranges, ch.max(2), rate).or_else(|| choose(ranges, ch, rate))
        };
        let rates = std::iter::once(wanted_hz).chain(FALLBACK_RATES);
        for rate in rates {
            if let (Some(o), Some(i)) = (pick(&outs, out_channels, rate), pick(&ins, in_channels, rate)) {
                return Ok((o, i));
            }
        }
        let none = |dev: &DeviceRef, side: Side, ch: usize| {
            device_error(
                dev,
                format!(
                    "offers no {} configuration with {ch} channel(s) at {wanted_hz} Hz or a rate the other device shares",
                    side.name()
                ),
            )
        };
        Err(if (outs.iter().all(|r| usize::from(r.channels()) < out_channels)) || outs.is_empty() {
            none(output, Side::Output, out_channels)
        } else {
            none(input, Side::Input, in_channels)
        })
    }

    /// Opens (or keeps) the pair for a pass and waits until its input delivers; moves it to the
    /// end of the open pairs. A pair named in `keep` is never closed to make room.
    fn open(
        &mut self,
        output: &DeviceRef,
        input: &DeviceRef,
        out: Chosen,
        inp: Chosen,
        keep: &[(&DeviceRef, &DeviceRef)],
    ) -> Result<(), RigError> {
        let same = |s: &Session| &s.output == output && &s.input == input && s.out == out && s.inp == inp;
        if let Some(k) = self.sessions.iter().position(same) {
            let s = self.sessions.remove(k);
            self.sessions.push(s);
            return Ok(());
        }
        let kept = |s: &Session| keep.iter().any(|(o, i)| &s.output == *o && &s.input == *i);
        self.sessions.retain(|s| kept(s) || (&s.output != output && &s.input != input));
        while self.sessions.len() >= OPEN_PAIRS {
            match self.sessions.iter().position(|s| !kept(s)) {
                Some(k) => drop(self.sessions.remove(k)),
                None => break,
            }
        }
        let out_dev = find_device(output, Side::Output)?;
        let in_dev = find_device(input, Side::Input)?;
        let shared = Arc::new(Shared::new());
        let (play_tx, play_rx) = rtrb::RingBuffer::new(RING_S * out.rate_hz as usize * usize::from(out.channels));
        let keep = usize::from(inp.channels).min(2);
        let (rec_tx, rec_rx) = rtrb::RingBuffer::new(RING_S * inp.rate_hz as usize * keep);
        let (err_out, errors_out) = rtrb::RingBuffer::new(64);
        let (err_in, errors_in) = rtrb::RingBuffer::new(64);
        let out_stream = by_format!(out.format, output_stream, &out_dev, out, play_rx, shared.clone(), err_out)
            .map_err(|e| device_error(output, format!("cannot open for playback: {}", explain(&e))))?;
        let in_stream = by_format!(inp.format, input_stream, &in_dev, inp, keep, rec_tx, shared.clone(), err_in)
            .map_err(|e| device_error(input, format!("cannot open for recording: {}", explain(&e))))?;
        in_stream.play().map_err(|e| device_error(input, format!("cannot start recording: {}", explain(&e))))?;
        out_stream.play().map_err(|e| device_error(output, format!("cannot start playback: {}", explain(&e))))?;
        let session = Session {
            output: output.clone(),
            input: input.clone(),
            out,
            inp,
            shared,
            play_tx,
            rec_rx,
            errors: [errors_out, errors_in],
            _streams: (out_stream, in_stream),
        };
        let deadline = Instant::now() + self.timeouts.first_input;
        // Both sides settled: past the output's first fill, with a cadence to place frames by.
        let settled = |sh: &Shared| {
            Cadence::settled(sh.in_callbacks.load(Ordering::Acquire))
                && Cadence::settled(sh.out_callbacks.load(Ordering::Acquire))
        };
        while !settled(&session.shared) {
            if Instant::now() > deadline {
                return Err(device_error(
                    input,
                    format!(
                        "opened, but delivered no audio within {} s: is it running and not held by another program?",
                        self.timeouts.first_input.as_secs_f64()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.sessions.push(session);
        Ok(())
    }
}

/// The input's clock at one moment: frames delivered and the time of the last callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockReading {
    pub frames: u64,
    pub at_ns: u64,
}

impl ClockReading {
    /// The rate the input really delivers at, Hz, from two readings far enough apart.
    pub fn rate_since(self, earlier: ClockReading) -> Option<f64> {
        let dt = self.at_ns.checked_sub(earlier.at_ns)? as f64 * 1e-9;
        (dt > 0.5).then(|| (self.frames - earlier.frames.min(self.frames)) as f64 / dt)
    }
}

impl SoundCards {
    /// The open input's clock (see [`ClockReading::rate_since`]).
    pub fn clock(&self) -> Option<ClockReading> {
        self.sessions.last().map(|s| ClockReading {
            frames: s.shared.frames_in.load(Ordering::Acquire),
            at_ns: s.shared.last_in_ns.load(Ordering::Acquire),
        })
    }

    /// An open pair's configuration when it serves a pass, else a fresh choice.
    fn configs_for(
        &self,
        output: &DeviceRef,
        out_channels: usize,
        input: &DeviceRef,
        in_channels: usize,
        wanted_hz: u32,
    ) -> Result<(Chosen, Chosen), RigError> {
        let serves = |s: &&Session| {
            &s.output == output
                && &s.input == input
                && s.out.rate_hz == wanted_hz
                && usize::from(s.out.channels) >= out_channels
                && usize::from(s.inp.channels).min(2) >= in_channels
        };
        if let Some(s) = self.sessions.iter().rev().find(serves) {
            return Ok((s.out, s.inp));
        }
        self.configure(output, out_channels, input, in_channels, wanted_hz)
    }

    /// One pass on each open pair named by `plans` (in order), all at once: every input is
    /// recording before any stimulus is handed over, and the stimuli are handed over together.
    fn passes(&mut self, plans: &[DuplexPlan]) -> Result<Vec<DuplexTake>, RigError> {
        let timeouts = self.timeouts;
        let mut runs = Vec::with_capacity(plans.len());
        for plan in plans {
            let k = self
                .sessions
                .iter()
                .position(|s| &s.output == plan.output && &s.input == plan.input)
                .ok_or_else(|| device_error(plan.output, "not open"))?;
            runs.push(Run::new(k, &self.sessions[k], plan));
        }
        let sessions = &mut self.sessions;
        // Stop what a previous pass left and wait out a callback in flight, then start clean.
        for run in &runs {
            sessions[run.k].shared.rec_start.store(OFF, Ordering::Release);
        }
        let seen: Vec<u64> = runs.iter().map(|r| sessions[r.k].shared.in_callbacks.load(Ordering::Acquire)).collect();
        loop {
            let mut waiting = false;
            for (run, seen) in runs.iter().zip(&seen) {
                let sh = &sessions[run.k].shared;
                if sh.in_callbacks.load(Ordering::Acquire) < seen + 2 {
                    waiting = true;
                    if run.stalled(sh, timeouts) {
                        return Err(run.gone("the input stopped delivering audio"));
                    }
                }
            }
            if !waiting {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        for run in &runs {
            run.reset(&mut sessions[run.k]);
        }
        // Record: each pass's frame 0 is the first input frame after arming.
        for run in &runs {
            sessions[run.k].shared.rec_start.store(ARMED, Ordering::Release);
        }
        let started = Instant::now();
        loop {
            let mut ready = true;
            for run in &mut runs {
                ready &= run.lead_in(&mut sessions[run.k], timeouts)?;
            }
            if ready {
                break;
            }
            if started.elapsed() > timeouts.first_input {
                return Err(runs[0].gone("the input delivers no audio"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Play while recording.
        for run in &mut runs {
            run.rec0 = sessions[run.k].shared.rec_start.load(Ordering::Acquire);
            sessions[run.k].shared.out_start.store(ARMED, Ordering::Release);
        }
        let feeding_since = Instant::now();
        loop {
            let mut done = true;
            for run in &mut runs {
                done &= run.step(&mut sessions[run.k], timeouts, feeding_since)?;
            }
            if done {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(runs
            .into_iter()
            .map(|run| {
                let k = run.k;
                run.finish(&sessions[k])
            })
            .collect())
    }
}

/// One pass in progress on an open pair.
struct Run<'p> {
    /// The pair's index in [`SoundCards::sessions`].
    k: usize,
    plan: &'p DuplexPlan<'p>,
    keep: usize,
    width: usize,
    frames: usize,
    lead: usize,
    after: usize,
    channels: Vec<Vec<f32>>,
    recorded: usize,
    fed: usize,
    rec0: u64,
    events: Vec<String>,
}

impl<'p> Run<'p> {
    fn new(k: usize, s: &Session, plan: &'p DuplexPlan<'p>) -> Run<'p> {
        let rate = f64::from(s.inp.rate_hz);
        let frames = plan.play.len() / plan.out_channels.max(1);
        let lead = (plan.record_before_s * rate).round() as usize;
        let after = (plan.record_after_s * rate).round() as usize;
        Run {
            k,
            plan,
            keep: usize::from(s.inp.channels).min(2),
            width: usize::from(s.out.channels),
            frames,
            lead,
            after,
            channels: vec![Vec::with_capacity(lead + frames + after); plan.in_channels],
            recorded: 0,
            fed: 0,
            rec0: 0,
            events: Vec::new(),
        }
    }

    fn stalled(&self, sh: &Shared, timeouts: Timeouts) -> bool {
        let last = sh.last_in_ns.load(Ordering::Acquire);
        Duration::from_nanos(sh.now_ns().saturating_sub(last)) > timeouts.stall
    }

    fn gone(&self, what: &str) -> RigError {
        device_error(
            self.plan.input,
            format!("{what}: the device was unplugged, stopped or taken away (the run keeps what was captured)"),
        )
    }

    /// Empties the rings and counters of what came before the pass.
    fn reset(&self, s: &mut Session) {
        if let Ok(chunk) = s.rec_rx.read_chunk(s.rec_rx.slots()) {
            chunk.commit_all();
        }
        for ring in &mut s.errors {
            while ring.pop().is_ok() {}
        }
        for counter in [&s.shared.underruns, &s.shared.overrun_frames, &s.shared.xruns] {
            counter.store(0, Ordering::Release);
        }
    }

    /// Moves what the input recorded into the channels; the frames moved.
    fn collect(&mut self, rec_rx: &mut rtrb::Consumer<f32>) -> usize {
        let keep = self.keep;
        let n = rec_rx.slots() / keep * keep;
        let Ok(chunk) = rec_rx.read_chunk(n) else { return 0 };
        let (a, b) = chunk.as_slices();
        let mut c = 0;
        for v in a.iter().chain(b) {
            if let Some(ch) = self.channels.get_mut(c) {
                ch.push(*v);
            }
            c = (c + 1) % keep;
        }
        chunk.commit_all();
        self.recorded += n / keep;
        n / keep
    }

    /// Whether the input records and has the lead before the stimulus.
    fn lead_in(&mut self, s: &mut Session, timeouts: Timeouts) -> Result<bool, RigError> {
        self.collect(&mut s.rec_rx);
        let sh = &s.shared;
        if self.stalled(sh, timeouts) || sh.gone.load(Ordering::Acquire) == 1 {
            return Err(self.gone("the input stopped delivering audio"));
        }
        Ok(sh.rec_start.load(Ordering::Acquire) != ARMED && self.recorded >= self.lead)
    }

    /// Feeds the stimulus, collects the recording and watches the devices; whether the pass
    /// has all it needs.
    fn step(&mut self, s: &mut Session, timeouts: Timeouts, feeding_since: Instant) -> Result<bool, RigError> {
        let plan = self.plan;
        let sh = s.shared.clone();
        if self.fed < self.frames {
            let room = (s.play_tx.slots() / self.width).min(self.frames - self.fed);
            if room > 0 {
                if let Ok(chunk) = s.play_tx.write_chunk_uninit(room * self.width) {
                    let src = &plan.play[self.fed * plan.out_channels..(self.fed + room) * plan.out_channels];
                    let width = self.width;
                    let samples = src
                        .chunks_exact(plan.out_channels)
                        .flat_map(|f| (0..width).map(move |c| f.get(c).copied().unwrap_or(0.0)));
                    chunk.fill_from_iter(samples);
                    self.fed += room;
                }
            }
            sh.feeding.store(u64::from(self.fed < self.frames), Ordering::Release);
        }
        self.collect(&mut s.rec_rx);
        for ring in &mut s.errors {
            while let Ok((side, e)) = ring.pop() {
                let dev = if side == Side::Output { plan.output } else { plan.input };
                if is_fatal(e.kind()) {
                    return Err(device_error(dev, format!("{}: {}", side.name(), explain(&e))));
                } else if e.kind() != cpal::ErrorKind::Xrun {
                    self.events.push(format!("{dev} ({}): {e}", side.name()));
                }
            }
        }
        if sh.gone.load(Ordering::Acquire) == 1 || self.stalled(&sh, timeouts) {
            return Err(self.gone("the input stopped delivering audio"));
        }
        let out_start = sh.out_start.load(Ordering::Acquire);
        if out_start == ARMED {
            if feeding_since.elapsed() > timeouts.stall {
                return Err(device_error(
                    plan.output,
                    "the output does not take the stimulus: the device was unplugged or stopped",
                ));
            }
            return Ok(false);
        }
        let done = self.recorded >= (out_start.saturating_sub(self.rec0)) as usize + self.frames + self.after
            && self.fed == self.frames;
        if done {
            sh.rec_start.store(OFF, Ordering::Release);
            sh.feeding.store(0, Ordering::Release);
        }
        Ok(done)
    }

    fn finish(mut self, s: &Session) -> DuplexTake {
        let (sh, plan) = (&s.shared, self.plan);
        let start_frame = sh.out_start.load(Ordering::Acquire).saturating_sub(self.rec0) as usize;
        let underruns = sh.underruns.swap(0, Ordering::AcqRel);
        if underruns > 0 {
            self.events.push(format!("{}: output underrun ({underruns}×): the stimulus had a gap", plan.output));
        }
        let lost = sh.overrun_frames.swap(0, Ordering::AcqRel);
        if lost > 0 {
            self.events.push(format!("{}: input overrun: {lost} frames lost", plan.input));
        }
        let xruns = sh.xruns.swap(0, Ordering::AcqRel);
        if xruns > 0 {
            self.events.push(format!("{} / {}: the device reported {xruns} xrun(s)", plan.output, plan.input));
        }
        DuplexTake {
            channels: self.channels,
            start_frame,
            events: self.events,
            glitches: underruns + lost.min(1) + xruns,
        }
    }
}

impl Duplex for SoundCards {
    fn negotiate(
        &mut self,
        output: &DeviceRef,
        out_channels: usize,
        input: &DeviceRef,
        in_channels: usize,
        wanted_hz: u32,
    ) -> Result<u32, RigError> {
        self.configs_for(output, out_channels, input, in_channels, wanted_hz).map(|(o, _)| o.rate_hz)
    }

    fn play_record(&mut self, plan: &DuplexPlan) -> Result<DuplexTake, RigError> {
        let mut takes = self.play_record_together(std::slice::from_ref(plan))?;
        takes.pop().ok_or_else(|| device_error(plan.output, "no take"))
    }

    /// Opens every pair (keeping those open that serve) and runs their passes at once. Pairs
    /// that share a device cannot run together: that is an error naming the device.
    fn play_record_together(&mut self, plans: &[DuplexPlan]) -> Result<Vec<DuplexTake>, RigError> {
        for (k, a) in plans.iter().enumerate() {
            if let Some(b) = plans[..k].iter().find(|b| a.output == b.output || a.input == b.input) {
                let dev = if a.output == b.output { a.output } else { a.input };
                return Err(device_error(dev, "two captures at once cannot share a device"));
            }
        }
        let keep: Vec<(&DeviceRef, &DeviceRef)> = plans.iter().map(|p| (p.output, p.input)).collect();
        for plan in plans {
            let (out, inp) =
                self.configs_for(plan.output, plan.out_channels, plan.input, plan.in_channels, plan.rate_hz)?;
            if out.rate_hz != plan.rate_hz {
                return Err(device_error(
                    plan.output,
                    format!("does not run at {} Hz (negotiate the rate first)", plan.rate_hz),
                ));
            }
            self.open(plan.output, plan.input, out, inp, &keep)?;
        }
        let takes = self.passes(plans);
        if takes.is_err() {
            // Pairs that failed are closed; the next pass opens them afresh (or fails clearly).
            self.sessions.retain(|s| !keep.iter().any(|(o, i)| &s.output == *o && &s.input == *i));
        }
        takes
    }

    fn simultaneous(&self) -> bool {
        true
    }
}

/// Whether the device a rig names is its host's default on that side.
pub fn is_default(dev: &DeviceRef, side: Side) -> Result<bool, RigError> {
    let device = find_device(dev, side)?;
    let host = host(dev.host.as_deref())?;
    let default = match side {
        Side::Output => host.default_output_device(),
        Side::Input => host.default_input_device(),
    };
    let mine = names_of(&device);
    Ok(default.is_some_and(|d| names_of(&d).first().is_some_and(|n| mine.contains(n))))
}

/// Opens one side of a device at `chosen` and closes it again: `Err` carries cpal's reason
/// (busy, denied, unsupported…).
pub fn probe(dev: &DeviceRef, side: Side, chosen: Chosen) -> Result<(), cpal::Error> {
    let device = find_device(dev, side)
        .map_err(|e| cpal::Error::with_message(cpal::ErrorKind::DeviceNotAvailable, e.to_string()))?;
    let config = chosen.config();
    let timeout = Some(Duration::from_secs(5));
    let stream = match side {
        Side::Output => {
            device.build_output_stream_raw(config, chosen.format, |_: &mut cpal::Data, _| {}, |_| {}, timeout)
        }
        Side::Input => device.build_input_stream_raw(config, chosen.format, |_: &cpal::Data, _| {}, |_| {}, timeout),
    }?;
    stream.play()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(channels: u16, min: u32, max: u32, format: SampleFormat) -> cpal::SupportedStreamConfigRange {
        cpal::SupportedStreamConfigRange::new(channels, min, max, cpal::SupportedBufferSize::Unknown, format)
    }

    #[test]
    fn two_channels_and_float_are_preferred_at_the_wanted_rate() {
        let ranges = [
            range(1, 8_000, 192_000, SampleFormat::F32),
            range(2, 44_100, 48_000, SampleFormat::I16),
            range(2, 8_000, 192_000, SampleFormat::F32),
            range(8, 8_000, 192_000, SampleFormat::F32),
        ];
        let c = choose(&ranges, 2, 48_000).unwrap();
        assert_eq!((c.channels, c.rate_hz, c.format), (2, 48_000, SampleFormat::F32));
        // Only 16-bit at 44.1 kHz between 8 and 192 kHz when the float ranges are gone.
        let c = choose(&ranges[1..2], 1, 44_100).unwrap();
        assert_eq!((c.channels, c.format), (2, SampleFormat::I16));
        assert_eq!(choose(&ranges[1..2], 1, 96_000), None);
        // Three channels needed: the eight-channel range is the only one.
        assert_eq!(choose(&ranges, 3, 48_000).unwrap().channels, 8);
        // Formats the streams cannot run are skipped.
        assert_eq!(choose(&[range(2, 8_000, 96_000, SampleFormat::U8)], 2, 48_000), None);
    }

    #[test]
    fn the_real_rate_comes_from_two_clock_readings() {
        let a = ClockReading { frames: 1_000, at_ns: 1_000_000_000 };
        let b = ClockReading { frames: 1_000 + 96_000, at_ns: 3_000_000_000 };
        assert_eq!(b.rate_since(a), Some(48_000.0));
        assert_eq!(a.rate_since(a), None, "too close together to tell");
    }

    #[test]
    fn a_late_callback_moves_neither_side_s_cadence() {
        // 512-frame blocks at 48 kHz, every 10.667 ms from 1 s on; every third callback runs late
        // by up to 9 ms, and the first fill hands over its blocks all at once.
        let block_ns = 512.0 * 1e9 / 48_000.0;
        let mut c = Cadence::new(48_000);
        let mut last = None;
        for k in 0..200u64 {
            let on_time = if k < 8 { 1e9 } else { 1e9 + k as f64 * block_ns };
            let late = if k % 3 == 0 { (k % 10) as f64 * 1e6 } else { 0.0 };
            last = c.note((on_time + late) as u64, k * 512).or(last);
            if k < Cadence::SETTLE + Cadence::READY - 1 {
                assert_eq!(last, None, "not trusted at callback {k}");
            }
        }
        // An on-time callback runs for frame 0 at 1 s: to the nanosecond's rounding.
        let cadence = last.expect("a cadence");
        assert!((cadence - 1_000_000_000).abs() <= 1, "{cadence}");
    }

    #[test]
    fn the_input_frame_at_a_moment_comes_from_the_cadence() {
        let shared = Shared::new();
        shared.frames_in.store(4_800, Ordering::Release);
        assert_eq!(shared.input_frame_at(2_000_000_000, 48_000), 4_800, "no cadence yet: what was delivered");
        shared.in_cadence_ns.store(1_000_000_000, Ordering::Release);
        assert_eq!(shared.input_frame_at(1_100_000_000, 48_000), 4_800);
        assert_eq!(shared.input_frame_at(1_105_000_000, 48_000), 4_800 + 240);
        assert_eq!(shared.input_frame_at(900_000_000, 48_000), 0, "before the first frame");
    }
}

/// Continuous streams for `jackbench monitor`: outputs that play steady tones computed in their
/// callback, inputs that record into a ring the bench thread drains.
pub mod continuous {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// Seconds of sound an input's ring holds between two reads.
    const RING_S: usize = 2;

    /// One tone on one channel of an output.
    #[derive(Debug, Clone, Copy)]
    pub struct Tone {
        pub channel: usize,
        pub freq_hz: f64,
        pub amplitude: f64,
    }

    /// An open output playing tones.
    pub struct TonePlayer {
        pub device: DeviceRef,
        failed: Arc<AtomicBool>,
        _stream: cpal::Stream,
    }

    impl TonePlayer {
        /// Whether the device reported it is gone.
        pub fn failed(&self) -> bool {
            self.failed.load(Ordering::Acquire)
        }
    }

    /// An open input recording its first `keep` channels.
    pub struct Recorder {
        pub device: DeviceRef,
        pub keep: usize,
        pub rate_hz: u32,
        rx: rtrb::Consumer<f32>,
        lost: Arc<AtomicU64>,
        failed: Arc<AtomicBool>,
        _stream: cpal::Stream,
    }

    impl Recorder {
        /// Appends what was recorded since the last call, channel by channel; the frames moved.
        pub fn drain(&mut self, out: &mut [Vec<f32>]) -> usize {
            let keep = self.keep;
            let n = self.rx.slots() / keep * keep;
            let Ok(chunk) = self.rx.read_chunk(n) else { return 0 };
            let (a, b) = chunk.as_slices();
            for (i, v) in a.iter().chain(b).enumerate() {
                if let Some(ch) = out.get_mut(i % keep) {
                    ch.push(*v);
                }
            }
            chunk.commit_all();
            n / keep
        }

        /// Frames the callback could not hand over (the bench thread fell behind), so far.
        pub fn lost(&self) -> u64 {
            self.lost.load(Ordering::Acquire)
        }

        pub fn failed(&self) -> bool {
            self.failed.load(Ordering::Acquire)
        }
    }

    fn play<T>(
        device: &cpal::Device,
        chosen: Chosen,
        tones: Vec<Tone>,
        failed: Arc<AtomicBool>,
    ) -> Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample + FromSample<f32>,
    {
        let width = usize::from(chosen.channels);
        let rate = f64::from(chosen.rate_hz);
        // (channel, amplitude, cos, sin, step cos, step sin): a phasor per tone, renormalised
        // once a callback.
        let mut osc: Vec<(usize, f64, f64, f64, f64, f64)> = tones
            .iter()
            .map(|t| {
                let w = 2.0 * std::f64::consts::PI * t.freq_hz / rate;
                (t.channel, t.amplitude, 1.0, 0.0, w.cos(), w.sin())
            })
            .collect();
        device.build_output_stream(
            chosen.config(),
            move |data: &mut [T], _| {
                for frame in data.chunks_exact_mut(width) {
                    frame.iter_mut().for_each(|s| *s = T::EQUILIBRIUM);
                    for o in osc.iter_mut() {
                        if let Some(s) = frame.get_mut(o.0) {
                            *s = T::from_sample((o.1 * o.3) as f32);
                        }
                        (o.2, o.3) = (o.2 * o.4 - o.3 * o.5, o.3 * o.4 + o.2 * o.5);
                    }
                }
                for o in osc.iter_mut() {
                    let r = (o.2 * o.2 + o.3 * o.3).sqrt();
                    (o.2, o.3) = (o.2 / r, o.3 / r);
                }
            },
            move |e: cpal::Error| {
                if is_fatal(e.kind()) {
                    failed.store(true, Ordering::Release);
                }
            },
            Some(Duration::from_secs(5)),
        )
    }

    fn record<T>(
        device: &cpal::Device,
        chosen: Chosen,
        keep: usize,
        mut tx: rtrb::Producer<f32>,
        lost: Arc<AtomicU64>,
        failed: Arc<AtomicBool>,
    ) -> Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample,
        f32: FromSample<T>,
    {
        let width = usize::from(chosen.channels);
        device.build_input_stream(
            chosen.config(),
            move |data: &[T], _| {
                let frames = data.len() / width;
                match tx.write_chunk_uninit(frames * keep) {
                    Ok(chunk) => {
                        chunk.fill_from_iter(
                            data.chunks_exact(width).flat_map(|f| f.iter().take(keep)).map(|s| f32::from_sample(*s)),
                        );
                    }
                    Err(_) => {
                        lost.fetch_add(frames as u64, Ordering::AcqRel);
                    }
                }
            },
            move |e: cpal::Error| {
                if is_fatal(e.kind()) {
                    failed.store(true, Ordering::Release);
                }
            },
            Some(Duration::from_secs(5)),
        )
    }

    /// A rig's path played and recorded without end (see [`LiveStream::open`]).
    pub struct LiveStream {
        pub(super) plan: crate::rig::stream::StreamPlan,
        pub(super) players: Vec<TonePlayer>,
        pub(super) recorders: Vec<Recorder>,
        pub(super) last_frames: Instant,
        pub(super) stall: Duration,
    }

    /// Opens `dev` at `rate_hz` and plays `tones` on it until dropped.
    pub fn tone_player(dev: &DeviceRef, rate_hz: u32, tones: Vec<Tone>) -> Result<TonePlayer, RigError> {
        let device = find_device(dev, Side::Output)?;
        let width = tones.iter().map(|t| t.channel + 1).max().unwrap_or(1);
        let ranges = configs(&device, Side::Output, dev)?;
        let chosen = choose(&ranges, width.max(2), rate_hz)
            .or_else(|| choose(&ranges, width, rate_hz))
            .ok_or_else(|| device_error(dev, format!("offers no output with {width} channel(s) at {rate_hz} Hz")))?;
        let failed = Arc::new(AtomicBool::new(false));
        let stream = by_format!(chosen.format, play, &device, chosen, tones, failed.clone())
            .map_err(|e| device_error(dev, format!("cannot open for playback: {}", explain(&e))))?;
        stream.play().map_err(|e| device_error(dev, format!("cannot start playback: {}", explain(&e))))?;
        Ok(TonePlayer { device: dev.clone(), failed, _stream: stream })
    }

    /// Opens `dev` at `rate_hz` and records its first `keep` channels until dropped.
    pub fn recorder(dev: &DeviceRef, rate_hz: u32, keep: usize) -> Result<Recorder, RigError> {
        let device = find_device(dev, Side::Input)?;
        let ranges = configs(&device, Side::Input, dev)?;
        let chosen = choose(&ranges, keep.max(2), rate_hz)
            .or_else(|| choose(&ranges, keep, rate_hz))
            .ok_or_else(|| device_error(dev, format!("offers no input with {keep} channel(s) at {rate_hz} Hz")))?;
        let (tx, rx) = rtrb::RingBuffer::new(RING_S * rate_hz as usize * keep);
        let lost = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicBool::new(false));
        let stream = by_format!(chosen.format, record, &device, chosen, keep, tx, lost.clone(), failed.clone())
            .map_err(|e| device_error(dev, format!("cannot open for recording: {}", explain(&e))))?;
        stream.play().map_err(|e| device_error(dev, format!("cannot start recording: {}", explain(&e))))?;
        Ok(Recorder { device: dev.clone(), keep, rate_hz, rx, lost, failed, _stream: stream })
    }
}

pub use continuous::LiveStream;

impl continuous::LiveStream {
    /// Opens the devices of `plan` on `routing`'s rig: the DUT's output plays the ears' tones
    /// (left on its first channel, right on its second), the mouth simulator the microphone's;
    /// the ear couplers' input and the DUT's input record.
    pub fn open(
        routing: &super::live::Routing,
        plan: &crate::rig::stream::StreamPlan,
    ) -> Result<continuous::LiveStream, RigError> {
        use continuous::{recorder, tone_player, Tone};
        let driver = routing.drivers.get(&plan.path.driver).ok_or_else(|| RigError::Device {
            device: plan.path.driver.clone(),
            message: "the rig names no sound device for this driver".into(),
        })?;
        let amplitude = 10f64.powf(plan.level_dbfs / 20.0);
        let mut players = Vec::new();
        let mut recorders = Vec::new();
        if let Some([l, r]) = plan.ears {
            let tones = vec![Tone { channel: 0, freq_hz: l, amplitude }, Tone { channel: 1, freq_hz: r, amplitude }];
            players.push(tone_player(&driver.output, plan.rate_hz, tones)?);
            recorders.push(recorder(&routing.couplers, plan.rate_hz, 2)?);
        }
        if let Some(m) = plan.mouth {
            players.push(tone_player(&routing.mouth, plan.rate_hz, vec![Tone { channel: 0, freq_hz: m, amplitude }])?);
            recorders.push(recorder(&driver.input, plan.rate_hz, 1)?);
        }
        Ok(continuous::LiveStream {
            plan: plan.clone(),
            players,
            recorders,
            last_frames: Instant::now(),
            stall: Duration::from_secs(2),
        })
    }
}

impl crate::rig::stream::AudioStream for continuous::LiveStream {
    fn rate_hz(&self) -> u32 {
        self.plan.rate_hz
    }

    fn channels(&self) -> Vec<crate::rig::stream::StreamChannel> {
        self.plan.channels()
    }

    /// Waits until an input has delivered, and hands over what every input has: the lines of
    /// separate devices can differ in length by what their clocks differ.
    fn read(&mut self, out: &mut [Vec<f32>]) -> Result<(), RigError> {
        loop {
            let mut line = 0;
            let mut moved = 0;
            for r in &mut self.recorders {
                let lines = out.get_mut(line..line + r.keep).unwrap_or_default();
                moved += r.drain(lines);
                line += r.keep;
                if r.failed() {
                    return Err(device_error(&r.device, "the device is gone: unplugged, stopped or taken away"));
                }
            }
            if let Some(p) = self.players.iter().find(|p| p.failed()) {
                return Err(device_error(&p.device, "the device is gone: unplugged, stopped or taken away"));
            }
            if moved > 0 {
                self.last_frames = Instant::now();
                return Ok(());
            }
            if self.last_frames.elapsed() > self.stall {
                let names: Vec<String> = self.recorders.iter().map(|r| r.device.to_string()).collect();
                return Err(device_error(names.join(" / "), "delivers no sound: stopped, or held by another program"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}
