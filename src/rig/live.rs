//! The audio endpoint of real rigs: which device plays and which records for each direction,
//! the stimulus laid out on the output channels, and the recording cut to the stimulus.
//!
//! A real capture is made by a [`Duplex`]: it plays interleaved frames on one device while it
//! records another (or the same one), and says at which input frame the first stimulus frame was
//! handed to the output. The sound card's back-end is [`super::soundcard`] (cpal); unit tests
//! use a simulated duplex. Everything else lives here, shared by both:
//!
//! | direction | plays (device, channels)        | records (device, channels) |
//! |-----------|---------------------------------|----------------------------|
//! | playback  | the driver's output, per `drive` | the ear couplers: left, right |
//! | record    | the mouth simulator, channel 1   | the driver's input, channel 1 |
//! | loopback  | the driver's output, per `drive` | the driver's input, channel 1 |
//!
//! Device latency is unknown and does not matter: the capture is aligned with its stimulus by
//! cross-correlation ([`crate::analysis::align`]) and cut to start [`LEAD_S`] before it and end
//! `tail_s` after it. The delay found, from the frame the stimulus was handed over to the frame
//! it came back, is the capture's latency. A capture that carries no stimulus (a silence, a
//! muted device) is cut with the last latency measured on the same devices.

use super::{AudioEndpoint, CaptureRequest, RigError, Take};
use crate::analysis::align::align;
use crate::analysis::spectrum::Spectrum;
use crate::capture::{Audio, Direction, Drive};
use crate::stimulus::Stimulus;
use std::collections::HashMap;

/// Recorded before the stimulus, seconds.
pub const LEAD_S: f64 = 0.1;
/// The longest round trip a device may take, seconds: recorded past the stimulus's end on top
/// of the tail, so a late stimulus is still whole.
pub const MAX_LATENCY_S: f64 = 0.5;
/// Waited past the last round trip measured on a pair of devices before the capture is cut,
/// seconds (the latency of a pair that stays open moves by a buffer at most).
pub const LATENCY_MARGIN_S: f64 = 0.1;
/// Below this normalised correlation the stimulus is not considered found in the recording.
const FOUND_CORRELATION: f64 = 0.3;
/// A pass whose stream glitched ([`DuplexTake::glitches`]) is made again up to this many times:
/// a loaded machine's hiccup is not the path's, while a driver that drops out does it again, and
/// the last take keeps what it did (with every earlier take's events).
pub const RETAKES: usize = 2;

/// A sound device as a rig file names it: the audio host (ALSA, JACK, …; the platform's default
/// when absent) and the device (`default` for the host's default device).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceRef {
    pub host: Option<String>,
    pub name: String,
}

impl DeviceRef {
    pub fn new(host: Option<&str>, name: &str) -> DeviceRef {
        DeviceRef { host: host.map(str::to_string), name: name.to_string() }
    }
}

impl std::fmt::Display for DeviceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host {
            Some(h) => write!(f, "{h}:{}", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}

/// One play-and-record pass.
#[derive(Debug, Clone)]
pub struct DuplexPlan<'a> {
    pub output: &'a DeviceRef,
    pub input: &'a DeviceRef,
    /// The rate both devices run at, as [`Duplex::negotiate`] agreed.
    pub rate_hz: u32,
    /// Interleaved frames of `out_channels` samples: channel `c` plays on the device's channel
    /// `c`; the device's other channels play silence.
    pub play: &'a [f32],
    pub out_channels: usize,
    /// The input channels to keep (the first `in_channels`).
    pub in_channels: usize,
    /// How long to record before the first frame is handed to the output, seconds.
    pub record_before_s: f64,
    /// How long to go on recording once the last frame has been handed to the output, seconds.
    pub record_after_s: f64,
}

/// What a pass recorded.
#[derive(Debug, Clone, Default)]
pub struct DuplexTake {
    /// `channels[c][n]`, full scale ±1.
    pub channels: Vec<Vec<f32>>,
    /// The recorded frame that was arriving when the first frame of `play` was handed to the
    /// output.
    pub start_frame: usize,
    /// Stream problems seen (underruns, overruns, errors the device reported), in words.
    pub events: Vec<String>,
    /// How many of those were glitches of the stream itself (the output running dry under the
    /// stimulus, input frames lost, xruns the host reported): each may have cut the recording or
    /// moved it against the frames counted.
    pub glitches: u64,
}

/// Plays on one device while recording another.
pub trait Duplex {
    /// The rate a pass on these devices will run at: `wanted` when both offer it, else one they
    /// share. Checks that the devices exist and have the channels asked for.
    fn negotiate(
        &mut self,
        output: &DeviceRef,
        out_channels: usize,
        input: &DeviceRef,
        in_channels: usize,
        wanted_hz: u32,
    ) -> Result<u32, RigError>;

    fn play_record(&mut self, plan: &DuplexPlan) -> Result<DuplexTake, RigError>;

    /// Plays and records several pairs of devices at once, sharing no device: every pair's
    /// streams run together and each plan's first frame is handed over in the same moment (to a
    /// callback or so). A duplex that cannot makes the passes one after the other.
    fn play_record_together(&mut self, plans: &[DuplexPlan]) -> Result<Vec<DuplexTake>, RigError> {
        plans.iter().map(|p| self.play_record(p)).collect()
    }

    /// Whether [`Duplex::play_record_together`] really plays its pairs at once.
    fn simultaneous(&self) -> bool {
        false
    }
}

/// The devices of one driver component (a sound card's output and input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverDevices {
    pub output: DeviceRef,
    pub input: DeviceRef,
}

/// Where each direction's sound goes, for a rig.
#[derive(Debug, Clone)]
pub struct Routing {
    /// Driver component id → its devices.
    pub drivers: HashMap<String, DriverDevices>,
    /// The input that records the ear couplers (left, right).
    pub couplers: DeviceRef,
    /// The output that drives the mouth simulator (its first channel).
    pub mouth: DeviceRef,
}

/// The audio endpoint of a real rig over any [`Duplex`].
pub struct LiveEndpoint<D> {
    duplex: D,
    routing: Routing,
    /// The last latency measured per (output, input), seconds.
    latency: HashMap<(DeviceRef, DeviceRef), f64>,
    spectrum: Spectrum,
}

impl<D: Duplex> LiveEndpoint<D> {
    pub fn new(duplex: D, routing: Routing) -> LiveEndpoint<D> {
        LiveEndpoint { duplex, routing, latency: HashMap::new(), spectrum: Spectrum::default() }
    }

    pub fn duplex(&mut self) -> &mut D {
        &mut self.duplex
    }

    /// The devices of one capture: (output, output channels played, input, input channels kept).
    fn devices(&self, request: &CaptureRequest) -> Result<(DeviceRef, Vec<usize>, DeviceRef, usize), RigError> {
        let driver = || {
            self.routing.drivers.get(&request.path.driver).ok_or_else(|| RigError::Device {
                device: request.path.driver.clone(),
                message: "the rig names no sound device for this driver".into(),
            })
        };
        let drive = |d: Option<Drive>| match d.unwrap_or(Drive::Both) {
            Drive::Left => vec![0],
            Drive::Right => vec![1],
            Drive::Both => vec![0, 1],
        };
        Ok(match request.direction {
            Direction::Playback => (driver()?.output.clone(), drive(request.drive), self.routing.couplers.clone(), 2),
            Direction::Record => (self.routing.mouth.clone(), vec![0], driver()?.input.clone(), 1),
            Direction::Loopback => (driver()?.output.clone(), drive(request.drive), driver()?.input.clone(), 1),
        })
    }
}

/// Each `(channel, signal)` on its channel of `width`-sample frames, silence elsewhere.
pub fn interleave(signals: &[(usize, Vec<f64>)], width: usize) -> Vec<f32> {
    let frames = signals.iter().map(|(_, x)| x.len()).max().unwrap_or(0);
    let mut out = vec![0.0f32; frames * width];
    for (c, x) in signals {
        for (frame, &v) in out.chunks_exact_mut(width).zip(x) {
            frame[*c] = v as f32;
        }
    }
    out
}

/// One capture made ready for a pass: its devices, rate and the frames to play.
struct Prepared {
    output: DeviceRef,
    input: DeviceRef,
    rate: u32,
    /// The stimulus as rendered, to find it in the recording.
    x: Vec<f64>,
    play: Vec<f32>,
    width: usize,
    in_channels: usize,
}

impl<D: Duplex> LiveEndpoint<D> {
    fn prepare(&mut self, request: &CaptureRequest) -> Result<Prepared, RigError> {
        let (output, played, input, in_channels) = self.devices(request)?;
        let width = played.iter().max().map_or(1, |c| c + 1);
        let rate = self.duplex.negotiate(&output, width, &input, in_channels, request.rate_hz)?;
        let x = request.stimulus.render(rate);
        // A sequence's segments play on the channels they drive; the mouth simulator plays all.
        let signals: Vec<(usize, Vec<f64>)> = played
            .iter()
            .map(|&c| {
                let on = (request.direction != Direction::Record).then_some(c);
                (c, if on.is_some() { request.stimulus.render_on(rate, on) } else { x.clone() })
            })
            .collect();
        let play = interleave(&signals, width);
        Ok(Prepared { output, input, rate, x, play, width, in_channels })
    }

    /// One pass of every request at once, each recording `wait_s` of round trip past its
    /// stimulus (on top of the tail), cut to its capture; `Ok(None)` when a stimulus came back
    /// too late for its cut to be whole.
    fn passes(&mut self, requests: &[CaptureRequest], wait_s: f64) -> Result<Option<Vec<Take>>, RigError> {
        let prepared = requests.iter().map(|r| self.prepare(r)).collect::<Result<Vec<_>, _>>()?;
        let plans: Vec<DuplexPlan> = prepared
            .iter()
            .zip(requests)
            .map(|(p, r)| DuplexPlan {
                output: &p.output,
                input: &p.input,
                rate_hz: p.rate,
                play: &p.play,
                out_channels: p.width,
                in_channels: p.in_channels,
                record_before_s: LEAD_S,
                record_after_s: r.tail_s + wait_s,
            })
            .collect();
        // What the takes made again had seen, per capture.
        let mut earlier: Vec<Vec<String>> = vec![Vec::new(); plans.len()];
        let mut attempt = 0;
        let recorded = loop {
            let recorded = match plans.as_slice() {
                [one] => vec![self.duplex.play_record(one)?],
                _ => self.duplex.play_record_together(&plans)?,
            };
            if attempt == RETAKES || recorded.iter().all(|t| t.glitches == 0) {
                break recorded;
            }
            attempt += 1;
            for (notes, take) in earlier.iter_mut().zip(&recorded) {
                let seen = if take.glitches > 0 { take.events.join("; ") } else { "another stream glitched".into() };
                notes.push(format!("taken again ({attempt} of at most {RETAKES}): {seen}"));
            }
        };
        drop(plans);
        let mut takes = Vec::with_capacity(requests.len());
        for (((p, request), mut take), notes) in prepared.into_iter().zip(requests).zip(recorded).zip(earlier) {
            take.events.splice(0..0, notes);
            match self.cut(p, request, take) {
                Some(t) => takes.push(t),
                None => return Ok(None),
            }
        }
        Ok(Some(takes))
    }

    /// The capture in what a pass recorded: found by its stimulus, or placed by the devices'
    /// last latency; `None` when the recording ends before the capture would.
    fn cut(&mut self, p: Prepared, request: &CaptureRequest, take: DuplexTake) -> Option<Take> {
        let mut events = take.events;
        let rate = p.rate;
        if rate != request.rate_hz {
            events.push(format!("ran at {rate} Hz: the devices do not offer the rig's {} Hz", request.rate_hz));
        }
        let rate_f = f64::from(rate);
        let lead = (LEAD_S * rate_f).round() as usize;
        let tail = (request.tail_s * rate_f).round() as usize;
        let from = take.start_frame.saturating_sub(lead);
        // The channel that carries the stimulus: the driven ear in playback, else the only one.
        let probe = match (request.direction, request.drive) {
            (Direction::Playback, Some(Drive::Right)) => 1,
            _ => 0,
        };
        let found = match &request.stimulus {
            Stimulus::Silence { .. } => None,
            _ => take.channels.get(probe).and_then(|ch| {
                let y: Vec<f64> = ch.get(from..).unwrap_or_default().iter().map(|&v| f64::from(v)).collect();
                align(&y, &p.x, rate_f, &mut self.spectrum).filter(|a| a.correlation >= FOUND_CORRELATION)
            }),
        };
        let key = (p.output, p.input);
        // Where the stimulus came back, against the frame it was handed over at: the pair's
        // latency, unless the stream glitched (frames lost or the output late move the one
        // against the other), when it only places this capture.
        let delay_s = found.map(|a| (from as f64 + a.delay_samples - take.start_frame as f64) / rate_f);
        let latency_s = delay_s.filter(|_| take.glitches == 0);
        if let Some(l) = latency_s {
            self.latency.insert(key.clone(), l);
        }
        let assumed = delay_s.or_else(|| self.latency.get(&key).copied()).unwrap_or(0.0);
        let onset = (take.start_frame as f64 + assumed * rate_f).round().max(0.0) as usize;
        let (start, end) = (onset.saturating_sub(lead), onset + p.x.len() + tail);
        let recorded = take.channels.first().map_or(0, Vec::len);
        if recorded < end {
            return None;
        }
        let channels = take.channels.into_iter().map(|c| c.get(start..end).unwrap_or_default().to_vec()).collect();
        Some(Take {
            audio: Audio { rate_hz: rate, format: request.format, channels },
            latency_s,
            events,
            glitched: take.glitches > 0,
            reference: None,
        })
    }

    /// Whether two captures can be made in one pass: their device pairs share no device.
    fn separate(&self, requests: &[CaptureRequest]) -> Result<bool, RigError> {
        let pairs =
            requests.iter().map(|r| self.devices(r).map(|(o, _, i, _)| (o, i))).collect::<Result<Vec<_>, _>>()?;
        Ok(pairs.iter().enumerate().all(|(k, a)| pairs[..k].iter().all(|b| a.0 != b.0 && a.1 != b.1)))
    }
}

impl<D: Duplex> AudioEndpoint for LiveEndpoint<D> {
    /// Waits past the stimulus only as long as the devices' last round trip took (plus
    /// [`LATENCY_MARGIN_S`]); a stimulus that comes back later is captured again with the full
    /// [`MAX_LATENCY_S`].
    fn capture(&mut self, request: &CaptureRequest) -> Result<Take, RigError> {
        let mut takes = self.capture_together(std::slice::from_ref(request))?;
        takes.pop().ok_or_else(|| RigError::Device { device: request.path.driver.clone(), message: "no take".into() })
    }

    /// One pass for all the requests when their device pairs are separate and the duplex runs
    /// pairs at once; one after the other otherwise. The wait past the stimuli is the longest
    /// any of them needs; when one came back too late, all are captured again.
    fn capture_together(&mut self, requests: &[CaptureRequest]) -> Result<Vec<Take>, RigError> {
        if requests.len() > 1 && !(self.duplex.simultaneous() && self.separate(requests)?) {
            return requests.iter().map(|r| self.capture(r)).collect();
        }
        let mut learned = Some(0.0f64);
        let mut inputs = Vec::new();
        for r in requests {
            let (output, _, input, _) = self.devices(r)?;
            let wait = self.latency.get(&(output, input.clone())).map(|l| l.max(0.0) + LATENCY_MARGIN_S);
            learned = learned.zip(wait).map(|(a, b)| a.max(b));
            inputs.push(input.to_string());
        }
        if let Some(wait) = learned.filter(|w| *w < MAX_LATENCY_S) {
            if let Some(takes) = self.passes(requests, wait)? {
                return Ok(takes);
            }
        }
        let mut takes = self.passes(requests, MAX_LATENCY_S)?.ok_or_else(|| RigError::Device {
            device: inputs.join(" / "),
            message: format!("the stimulus came back more than {MAX_LATENCY_S} s late, or the input stopped early"),
        })?;
        if learned.is_some() {
            for take in &mut takes {
                take.events.push("captured twice: the round trip grew past the last one measured".into());
            }
        }
        Ok(takes)
    }

    /// When the duplex runs pairs at once and no driver shares a device with the fixture (the
    /// mouth simulator's output, the ear couplers' input).
    fn overlaps(&self) -> bool {
        self.duplex.simultaneous()
            && self.routing.drivers.values().all(|d| d.output != self.routing.mouth && d.input != self.routing.couplers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{analyze, AnalyzeOptions};
    use crate::capture::{PathSpec, SampleFormat};

    /// A simulated sound card: the output comes back on the input after `delay` frames, scaled
    /// by `gain`, on the channels it was played on, with the input starting `preroll` frames
    /// before the stimulus is handed over.
    struct Wire {
        delay: usize,
        gain: f32,
        preroll: usize,
        rates: Vec<u32>,
        passes: usize,
        stop_after: Option<usize>,
        /// The delay from the second pass on, when it changes.
        later_delay: Option<usize>,
        /// Whether it runs pairs at once, and the passes it made together (pairs per call).
        together: bool,
        together_calls: Vec<usize>,
        /// The first passes, this many, lose 0.1 s of input frames (an overrun the host reports).
        glitchy: usize,
    }

    impl Duplex for Wire {
        fn negotiate(
            &mut self,
            _: &DeviceRef,
            _: usize,
            input: &DeviceRef,
            _: usize,
            wanted: u32,
        ) -> Result<u32, RigError> {
            if input.name == "missing" {
                return Err(RigError::Device { device: input.to_string(), message: "not found".into() });
            }
            Ok(if self.rates.contains(&wanted) { wanted } else { self.rates[0] })
        }

        fn play_record(&mut self, plan: &DuplexPlan) -> Result<DuplexTake, RigError> {
            self.passes += 1;
            if self.passes > 1 {
                self.delay = self.later_delay.unwrap_or(self.delay);
            }
            let frames = plan.play.len() / plan.out_channels;
            let total = self.preroll + frames + (plan.record_after_s * plan.rate_hz as f64) as usize;
            let total = self.stop_after.map_or(total, |s| s.min(total));
            let channels = (0..plan.in_channels)
                .map(|c| {
                    (0..total)
                        .map(|n| {
                            let k = n.checked_sub(self.preroll + self.delay).filter(|k| *k < frames);
                            k.map_or(0.0, |k| {
                                self.gain * plan.play.get(k * plan.out_channels + c).copied().unwrap_or(0.0)
                            })
                        })
                        .collect()
                })
                .collect::<Vec<Vec<f32>>>();
            if self.passes <= self.glitchy {
                // The input drops 4 800 frames after the first one: what came later comes earlier
                // than the frames counted say.
                let channels = channels.into_iter().map(|mut c| {
                    c.drain(1..4_801.min(c.len()));
                    c
                });
                let events = vec!["default: input overrun: 4800 frames lost".to_string()];
                return Ok(DuplexTake { channels: channels.collect(), start_frame: self.preroll, events, glitches: 1 });
            }
            Ok(DuplexTake { channels, start_frame: self.preroll, events: vec![], glitches: 0 })
        }

        fn play_record_together(&mut self, plans: &[DuplexPlan]) -> Result<Vec<DuplexTake>, RigError> {
            assert!(self.together, "called together on a duplex that cannot");
            self.together_calls.push(plans.len());
            plans.iter().map(|p| self.play_record(p)).collect()
        }

        fn simultaneous(&self) -> bool {
            self.together
        }
    }

    fn endpoint(wire: Wire) -> LiveEndpoint<Wire> {
        let dev = DeviceRef::new(None, "default");
        let drivers = HashMap::from([("sc".to_string(), DriverDevices { output: dev.clone(), input: dev.clone() })]);
        LiveEndpoint::new(wire, Routing { drivers, couplers: dev.clone(), mouth: dev })
    }

    fn request(direction: Direction, drive: Option<Drive>, stimulus: Stimulus) -> CaptureRequest {
        CaptureRequest {
            path: PathSpec { driver: "sc".into(), port: "p".into(), adapter: "a".into(), headset: "h".into() },
            direction,
            stimulus,
            drive,
            rate_hz: 48_000,
            format: SampleFormat::F32,
            tail_s: 0.2,
        }
    }

    fn wire(delay: usize) -> Wire {
        Wire {
            delay,
            gain: 0.5,
            preroll: 30_000,
            rates: vec![48_000, 44_100],
            passes: 0,
            stop_after: None,
            later_delay: None,
            together: false,
            together_calls: Vec::new(),
            glitchy: 0,
        }
    }

    /// A bench whose DUT, ear couplers and mouth simulator are separate devices.
    fn separate_endpoint(wire: Wire) -> LiveEndpoint<Wire> {
        let dev = |n: &str| DeviceRef::new(None, n);
        let drivers =
            HashMap::from([("sc".to_string(), DriverDevices { output: dev("dut-out"), input: dev("dut-in") })]);
        LiveEndpoint::new(wire, Routing { drivers, couplers: dev("couplers"), mouth: dev("mouth") })
    }

    #[test]
    fn the_ears_and_the_microphone_are_captured_in_one_pass_when_they_share_no_device() {
        let mut w = wire(700);
        w.together = true;
        let mut ep = separate_endpoint(w);
        assert!(ep.overlaps());
        let tone = Stimulus::Sine { freq_hz: 1000.0, level_dbfs: -12.0, seconds: 0.25 };
        let requests = [request(Direction::Playback, Some(Drive::Both), SWEEP), request(Direction::Record, None, tone)];
        let takes = ep.capture_together(&requests).unwrap();
        assert_eq!(ep.duplex().together_calls, vec![2], "one pass for both");
        // Each is cut around its own stimulus: the sweep with both ears, the tone with the mic.
        assert_eq!((takes[0].audio.channels.len(), takes[0].audio.frames()), (2, 4_800 + 24_000 + 9_600));
        assert_eq!((takes[1].audio.channels.len(), takes[1].audio.frames()), (1, 4_800 + 12_000 + 9_600));
        for t in &takes {
            let l = t.latency_s.unwrap();
            assert!((l - 700.0 / 48_000.0).abs() < 0.5 / 48_000.0, "latency {l}");
        }
        // The next pair waits only for the round trip both had.
        ep.capture_together(&requests).unwrap();
        assert_eq!(ep.duplex().together_calls, vec![2, 2]);
        assert_eq!(ep.duplex().passes, 4);
    }

    #[test]
    fn captures_that_share_a_device_are_made_one_after_the_other() {
        // The mouth simulator on the DUT's own output: no overlap, two passes.
        let mut w = wire(100);
        w.together = true;
        let mut ep = endpoint(w);
        assert!(!ep.overlaps());
        let requests =
            [request(Direction::Playback, Some(Drive::Left), SWEEP), request(Direction::Record, None, SWEEP)];
        let takes = ep.capture_together(&requests).unwrap();
        assert_eq!((takes.len(), ep.duplex().passes), (2, 2));
        assert!(ep.duplex().together_calls.is_empty());
        // A duplex that cannot run pairs at once never overlaps.
        assert!(!separate_endpoint(wire(100)).overlaps());
    }

    const SWEEP: Stimulus = Stimulus::LogSweep { start_hz: 20.0, stop_hz: 20_000.0, level_dbfs: -12.0, seconds: 0.5 };

    #[test]
    fn a_capture_is_cut_around_its_stimulus_and_its_latency_measured() {
        // 12.34 ms of device latency at 48 kHz is 592.3 frames; the wire delays by whole frames.
        let mut ep = endpoint(wire(592));
        let take = ep.capture(&request(Direction::Loopback, Some(Drive::Left), SWEEP)).unwrap();
        let latency = take.latency_s.unwrap();
        assert!((latency - 592.0 / 48_000.0).abs() < 0.5 / 48_000.0, "latency {latency}");
        // The stimulus starts LEAD_S into the capture and the capture ends tail_s after it.
        assert_eq!(take.audio.frames(), 4_800 + 24_000 + 9_600);
        assert_eq!(take.audio.channels.len(), 1);
        // The wire's copy of the stimulus (gain 0.5) starts exactly LEAD_S in.
        let x = SWEEP.render(48_000);
        let y = &take.audio.channels[0];
        assert!(y[..4_800].iter().all(|v| *v == 0.0), "nothing before the stimulus");
        let worst = x.iter().zip(&y[4_800..]).map(|(a, b)| (0.5 * *a as f32 - b).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-6, "the capture differs from the stimulus by {worst}");
    }

    #[test]
    fn playback_drives_the_named_ear_and_records_both() {
        let mut ep = endpoint(wire(100));
        let tone = Stimulus::Sine { freq_hz: 1000.0, level_dbfs: -12.0, seconds: 0.25 };
        let take = ep.capture(&request(Direction::Playback, Some(Drive::Right), tone)).unwrap();
        assert_eq!(take.audio.channels.len(), 2);
        let a = analyze(&mut take.audio.source(), &AnalyzeOptions { freq_hz: Some(1000.0), silence: false }).unwrap();
        // −12 dBFS through a gain of 0.5 (−6.02 dB) on the right ear only.
        let right = a.channels[1].level_dbfs.unwrap();
        assert!((right - (-18.02)).abs() < 0.1, "right ear {right} dBFS");
        assert!(take.audio.channels[0].iter().all(|v| *v == 0.0), "left ear must be silent");
    }

    #[test]
    fn later_captures_wait_only_as_long_as_the_round_trip_and_retry_when_it_grows() {
        let mut w = wire(480);
        w.later_delay = Some(480);
        let mut ep = endpoint(w);
        ep.capture(&request(Direction::Loopback, Some(Drive::Left), SWEEP)).unwrap();
        let take = ep.capture(&request(Direction::Loopback, Some(Drive::Left), SWEEP)).unwrap();
        assert_eq!(ep.duplex().passes, 2, "one pass each while the round trip holds");
        assert!(take.events.is_empty(), "{:?}", take.events);
        // The round trip grows by 0.2 s (9 600 frames), past the 0.1 s margin: captured again.
        ep.duplex().later_delay = Some(480 + 9_600);
        let take = ep.capture(&request(Direction::Loopback, Some(Drive::Left), SWEEP)).unwrap();
        assert_eq!(ep.duplex().passes, 4);
        let latency = take.latency_s.unwrap();
        assert!((latency - 10_080.0 / 48_000.0).abs() < 0.5 / 48_000.0, "latency {latency}");
        assert_eq!(take.audio.frames(), 4_800 + 24_000 + 9_600);
        assert!(take.events.iter().any(|e| e.contains("captured twice")), "{:?}", take.events);
    }

    #[test]
    fn a_pass_whose_stream_glitched_is_made_again_and_its_latency_is_not_learned() {
        // The first pass loses input frames: made again, once, and the second is clean.
        let mut w = wire(480);
        w.glitchy = 1;
        let mut ep = endpoint(w);
        let take = ep.capture(&request(Direction::Loopback, Some(Drive::Left), SWEEP)).unwrap();
        assert_eq!(ep.duplex().passes, 2);
        let latency = take.latency_s.unwrap();
        assert!((latency - 480.0 / 48_000.0).abs() < 0.5 / 48_000.0, "latency {latency}");
        assert!(!take.glitched);
        assert!(
            take.events.iter().any(|e| e.contains("taken again (1 of at most 2): default: input overrun")),
            "{:?}",
            take.events
        );
        // A stream that glitches every time: the last take is kept, whole, with every take's
        // events, and no latency (the one it shows is 0.1 s early, 4 800 frames lost).
        let mut w = wire(480);
        w.glitchy = usize::MAX;
        let mut ep = endpoint(w);
        let take = ep.capture(&request(Direction::Loopback, Some(Drive::Left), SWEEP)).unwrap();
        assert_eq!(ep.duplex().passes, 1 + RETAKES);
        assert_eq!(take.latency_s, None);
        assert!(take.glitched);
        assert_eq!(take.events.iter().filter(|e| e.contains("overrun")).count(), 1 + RETAKES, "{:?}", take.events);
        assert_eq!(take.audio.frames(), 4_800 + 24_000 + 9_600);
        // The sweep fills the cut from the lead on: −12 dBFS through a gain of 0.5, rms 0.0888.
        let sweep = &take.audio.channels[0][4_800..4_800 + 24_000];
        let rms = (sweep.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / 24_000.0).sqrt();
        let want = 0.5 * 10f64.powf(-12.0 / 20.0) / 2f64.sqrt();
        assert!((rms / want - 1.0).abs() < 0.02, "the sweep's rms in the cut {rms}, not {want}");
        // The glitch told no latency: a silence after it is cut as the pair has never been
        // measured, not 0.1 s early.
        assert!(ep.latency.is_empty(), "{:?}", ep.latency);
    }

    #[test]
    fn a_silence_is_cut_with_the_latency_measured_before() {
        let mut ep = endpoint(wire(2_000));
        ep.capture(&request(Direction::Loopback, Some(Drive::Left), SWEEP)).unwrap();
        let take =
            ep.capture(&request(Direction::Loopback, Some(Drive::Both), Stimulus::Silence { seconds: 0.2 })).unwrap();
        assert_eq!(take.latency_s, None);
        assert_eq!(take.audio.frames(), 4_800 + 9_600 + 9_600);
    }

    #[test]
    fn a_rate_the_devices_lack_is_used_and_said() {
        let mut ep = endpoint(wire(100));
        let mut req = request(Direction::Record, None, SWEEP);
        req.rate_hz = 96_000;
        let take = ep.capture(&req).unwrap();
        assert_eq!(take.audio.rate_hz, 48_000);
        assert!(take.events.iter().any(|e| e.contains("96000")), "{:?}", take.events);
    }

    #[test]
    fn an_input_that_stops_early_is_an_error_naming_it() {
        let mut w = wire(100);
        w.stop_after = Some(31_000);
        let mut ep = endpoint(w);
        let e = ep.capture(&request(Direction::Loopback, Some(Drive::Left), SWEEP)).unwrap_err();
        assert!(e.to_string().contains("default") && e.to_string().contains("stopped early"), "{e}");
    }

    #[test]
    fn a_driver_without_devices_is_named() {
        let mut ep = endpoint(wire(100));
        let mut req = request(Direction::Record, None, SWEEP);
        req.path.driver = "laptop".into();
        let e = ep.capture(&req).unwrap_err();
        assert!(e.to_string().starts_with("laptop:"), "{e}");
    }
}
