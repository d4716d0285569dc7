//! The virtual bench: a physical model of a rig's components behind the same traits as real
//! hardware, with faults that can be injected at a severity. Seeded and reproducible.
//!
//! # The model
//! Each capture is computed along its direction's chain, in full-scale units:
//! - **playback**: the driver's digital signal (drive, digital gain, channel map, dropouts,
//!   clock) → the port's output stage (gain, noise, hum pickup, distortion, response) → ground
//!   crosstalk between the channels → the adapter (TRRS/TRS routing: swap, polarity, CTIA/OMTP
//!   pinout, contact loss) → the headset's speakers (sensitivity per ear, response, distortion)
//!   → the ear couplers (calibrated gain and their own noise). Two channels: left, right ear.
//! - **record**: the mouth simulator → the headset microphone (sensitivity, response) → the
//!   adapter's mic line → the port's mic input (bias, preamp noise, hum) → the driver (digital
//!   gain, mute or privacy block, dropouts, clock). One channel.
//! - **loopback**: the driver's left output → port → adapter → the plug's −20 dB divider into
//!   the mic contact → adapter → port mic input → driver. One channel.
//!
//! Every part has natural spread (gain ±0.5 dB, ears ±0.3 dB, noise ±1.5 dB, crosstalk
//! −52 ±3 dB) drawn from the seed and its id, and every capture starts after an unknown delay
//! of 5–500 ms and runs 0–100 ms longer than the tail asked for. Each driver runs on a clock of
//! its own, up to ±200 ppm off the bench's ear couplers and mouth simulator (none when the rig
//! file puts it on the bench's clock), so what it plays or records is stretched in time.
//! Faults follow spec §3; [`fault_amount`] gives each symptom's size from mild (just past the
//! fault's definition) to severe.

mod ambient;
pub mod plug;
mod stream;

pub use ambient::{Ambient, Burst, BurstKind};
pub use stream::{Pace, StreamTruth, VirtualStream};

use super::{AudioEndpoint, CaptureRequest, RigError, Station, SwitchMatrix, Take};
use crate::capture::{Audio, ComponentKind, Direction, Drive, PathSpec};
use crate::diagnosis::{FaultCode, Symptom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::collections::HashMap;
use std::f64::consts::PI;

/// Calibration of the nominal bench, dB from the stimulus's level to the capture's. The ear
/// couplers keep headroom: a −12 dBFS sweep through the loudest voicing (a 10 dB presence peak
/// on a 6 dB bass rise, parts at the top of their spread) stays 5 dB under full scale.
pub const PLAYBACK_GAIN_DB: f64 = -6.0;
pub const RECORD_GAIN_DB: f64 = -13.0;
/// The loopback plug's divider, dB.
pub const PLUG_DB: f64 = -20.0;
/// Noise of the ear couplers and of a mic input at nominal gain, dBFS rms (full band).
pub const EAR_NOISE_DBFS: f64 = -84.0;
pub const MIC_NOISE_DBFS: f64 = -82.0;

/// A fault to inject: `COMPONENT:SYMPTOM[:SEVERITY]`.
#[derive(Debug, Clone, PartialEq)]
pub struct InjectedFault {
    pub component: String,
    pub symptom: Symptom,
    /// 0 = mild (just past the fault's definition) … 1 = severe.
    pub severity: f64,
}

impl InjectedFault {
    /// Parses `COMPONENT:SYMPTOM[:SEVERITY]`, SEVERITY being mild, moderate, severe or 0..=1.
    pub fn parse(text: &str) -> Result<InjectedFault, String> {
        let mut parts = text.split(':');
        let (Some(component), Some(symptom)) = (parts.next(), parts.next()) else {
            return Err(format!("\"{text}\": expected COMPONENT:SYMPTOM[:SEVERITY]"));
        };
        let symptom = Symptom::from_name(symptom).ok_or_else(|| {
            let names: Vec<&str> = Symptom::ALL.iter().map(|s| s.name()).collect();
            format!("\"{symptom}\" is not a symptom (one of {})", names.join(", "))
        })?;
        let severity = match parts.next() {
            None | Some("moderate") => 0.5,
            Some("mild") => 0.0,
            Some("severe") => 1.0,
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|s| (0.0..=1.0).contains(s))
                .ok_or_else(|| format!("severity \"{v}\": mild, moderate, severe or a number from 0 to 1"))?,
        };
        if parts.next().is_some() {
            return Err(format!("\"{text}\": expected COMPONENT:SYMPTOM[:SEVERITY]"));
        }
        Ok(InjectedFault { component: component.to_string(), symptom, severity })
    }
}

/// The size of a symptom at a severity (0 mild … 1 severe), in the unit its model uses.
pub fn fault_amount(symptom: Symptom, severity: f64) -> f64 {
    let lerp = |a: f64, b: f64| a + (b - a) * severity.clamp(0.0, 1.0);
    match symptom {
        // dB of level lost.
        Symptom::LowLevel | Symptom::LowGain => lerp(9.0, 30.0),
        // dB between the ears.
        Symptom::Imbalance => lerp(4.5, 15.0),
        // THD, %.
        Symptom::Distortion => lerp(2.5, 20.0),
        // Hum at the capture, dBFS rms.
        Symptom::Hum => lerp(-66.0, -36.0),
        // Rise of the noise floor, dB.
        Symptom::Noise => lerp(22.0, 40.0),
        // Corner of the response fault, Hz: a headset's capsule low-passes, a port's output
        // coupling high-passes.
        Symptom::Response => lerp(5_000.0, 1_500.0),
        // Events per second.
        Symptom::Intermittent => lerp(3.0, 12.0),
        Symptom::Dropouts => lerp(2.0, 8.0),
        // Clock ratio (device rate over stream rate): 0.7 % off up to 44.1 kHz played as 48 kHz.
        Symptom::RateMismatch => lerp(0.993, 44_100.0 / 48_000.0),
        // What is left of a dead signal, dB (a broken or shorted line keeps only what couples
        // across it).
        Symptom::OutputDead | Symptom::ChannelDead | Symptom::InputDead | Symptom::OpenContact | Symptom::Short => {
            lerp(-70.0, -120.0)
        }
        // dB the microphone loses to a button held at rest across it (its ladder resistance
        // against the bias resistor, a few hundred ohms against a couple of kilohms).
        Symptom::Button => lerp(12.0, 24.0),
        // A rub's ring or a buzz's rattle, dB of the excursion that sets it off.
        Symptom::RubBuzz => lerp(-50.0, -20.0),
        _ => 1.0,
    }
}

/// One peaking section of a voicing (RBJ cookbook): centre, Q, gain in dB.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Peak {
    fc: f64,
    q: f64,
    gain_db: f64,
}

/// How a headset model sounds: a bass rise, a presence peak around 2–4 kHz of 6–10 dB and a dip
/// above it on each ear; an electret's presence rise and a little bass cut on the microphone.
/// Drawn from the model's name, so units of one model are voiced alike; each unit then spreads
/// around its model (gains by 0.4 dB, centres by 3 %, each ear by 0.2 dB more).
#[derive(Debug, Clone, PartialEq)]
struct Voicing {
    ears: [Vec<Peak>; 2],
    mic: Vec<Peak>,
}

impl Voicing {
    fn new(model: &str, unit_rng: &mut ChaCha8Rng) -> Voicing {
        let mut m = ChaCha8Rng::seed_from_u64(fnv(model) ^ 0x0076_6f69_6369_6e67);
        let mut pick = |lo: f64, hi: f64| m.random_range(lo..hi);
        let ear = vec![
            Peak { fc: pick(60.0, 150.0), q: 0.7, gain_db: pick(2.0, 6.0) },
            Peak { fc: pick(2_000.0, 4_000.0), q: pick(1.5, 2.5), gain_db: pick(6.0, 10.0) },
            Peak { fc: pick(5_500.0, 9_000.0), q: pick(2.0, 3.0), gain_db: -pick(3.0, 8.0) },
        ];
        let mic = vec![
            Peak { fc: pick(80.0, 200.0), q: 0.7, gain_db: -pick(0.0, 3.0) },
            Peak { fc: pick(3_000.0, 6_000.0), q: 1.0, gain_db: pick(3.0, 6.0) },
        ];
        let mut spread = |peaks: &[Peak], sd_db: f64| -> Vec<Peak> {
            peaks
                .iter()
                .map(|p| {
                    let n = |sd: f64, rng: &mut ChaCha8Rng| Normal::new(0.0, sd).map_or(0.0, |n| n.sample(rng));
                    Peak {
                        fc: p.fc * (1.0 + n(0.03, unit_rng).clamp(-0.06, 0.06)),
                        q: p.q,
                        gain_db: p.gain_db + n(sd_db, unit_rng).clamp(-2.0 * sd_db, 2.0 * sd_db),
                    }
                })
                .collect()
        };
        let unit = spread(&ear, 0.4);
        Voicing { ears: [spread(&unit, 0.2), spread(&unit, 0.2)], mic: spread(&mic, 0.4) }
    }
}

/// A speaker's moving parts, for rub & buzz: the excursion follows the drive through a
/// second-order low-pass at the resonance `f0_hz` (unit gain below it, `q` at it, falling 12 dB an
/// octave above), so it is largest in a band near the resonance. Drawn per unit.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Mechanics {
    f0_hz: f64,
    q: f64,
    /// The ring of a rubbing coil, Hz.
    ring_hz: f64,
    /// A loose part that rattles (true) or a voice coil that rubs (false).
    buzz: bool,
    /// The defect is in both earpieces.
    both_ears: bool,
}

/// The excursion, in full-scale units of the drive, past which a damaged speaker rubs or
/// buzzes: a −12 dBFS sweep reaches it from about 0.45 to 1.25 times the resonance, a 1 kHz tone
/// at that level never.
const EXCURSION_LIMIT: f64 = 0.3;

impl Mechanics {
    fn new(seed: u64) -> Mechanics {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6d65_6368_616e_6963);
        Mechanics {
            f0_hz: rng.random_range(120.0..300.0),
            q: rng.random_range(1.6..2.4),
            ring_hz: rng.random_range(4_000.0..8_000.0),
            buzz: rng.random_bool(0.5),
            both_ears: rng.random_bool(0.3),
        }
    }
}

/// One component's natural spread and faults.
#[derive(Debug, Clone)]
struct Part {
    kind: ComponentKind,
    /// The headset model whose voicing this unit has (headsets only).
    model: Option<String>,
    voicing: Option<Voicing>,
    mechanics: Mechanics,
    gain_db: f64,
    ear_db: [f64; 2],
    noise_db: f64,
    crosstalk_db: f64,
    /// Which ear a one-sided fault hits (0 left, 1 right).
    side: usize,
    /// The line a worn contact breaks on the output side ([`worn_line`]).
    contact: usize,
    mains_hz: f64,
    /// A driver's clock against the bench's, ppm (0 for other parts, and for a driver on the
    /// bench's clock).
    clock_ppm: f64,
    /// A headset's DC resistances (drawn for every part, used for headsets).
    electrical: plug::Electrical,
    /// The part carries a microphone line (a headset some path records through; every port
    /// and adapter).
    has_mic: bool,
    faults: Vec<(Symptom, f64)>,
}

impl Part {
    /// A part of `kind`; a headset is voiced as its `model` (its own id when none is given: a
    /// model of its own).
    fn new(kind: ComponentKind, seed: u64, id: &str, model: Option<&str>) -> Part {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fnv(id));
        let mut spread = |sd: f64, max: f64| -> f64 {
            let n = Normal::new(0.0, sd).map_or(0.0, |n| n.sample(&mut rng));
            n.clamp(-max, max)
        };
        let (gain_db, e0, e1, noise_db, xt) =
            (spread(0.3, 0.5), spread(0.2, 0.3), spread(0.2, 0.3), spread(0.8, 1.5), spread(1.5, 3.0));
        let side = usize::from(rng.random_bool(0.5));
        let mains_hz = if rng.random_bool(0.5) { 50.0 } else { 60.0 };
        let voicing = (kind == ComponentKind::Headset)
            .then(|| model.unwrap_or(id))
            .filter(|m| *m != IDEAL_MODEL)
            .map(|m| Voicing::new(m, &mut rng));
        Part {
            kind,
            model: model.map(str::to_string),
            voicing,
            mechanics: Mechanics::new(seed ^ fnv(id)),
            gain_db,
            ear_db: [e0, e1],
            noise_db,
            crosstalk_db: -52.0 + xt,
            side,
            contact: worn_line(seed, id),
            mains_hz,
            clock_ppm: if kind == ComponentKind::Driver { own_clock_ppm(seed, id) } else { 0.0 },
            electrical: plug::Electrical::new(model.unwrap_or(id), seed ^ fnv(id)),
            has_mic: true,
            faults: Vec::new(),
        }
    }

    /// The stimulus time per second of the capture's time that this part's clock brings about
    /// in `direction` (with a rate mismatch, if it has one): a driver that plays on a fast clock
    /// plays the stimulus faster than the bench's couplers record it; one that records on a fast
    /// clock records the mouth simulator slower; a loopback is played and recorded on one clock.
    fn clock(&self, direction: Direction) -> f64 {
        let mismatch = self.fault(Symptom::RateMismatch).unwrap_or(1.0);
        let own = 1.0 + self.clock_ppm * 1e-6;
        mismatch
            * match direction {
                Direction::Playback => own,
                Direction::Record => 1.0 / own,
                Direction::Loopback => 1.0,
            }
    }

    fn fault(&self, s: Symptom) -> Option<f64> {
        self.faults.iter().find(|(f, _)| *f == s).map(|(_, sev)| fault_amount(s, *sev))
    }

    fn has(&self, s: Symptom) -> bool {
        self.faults.iter().any(|(f, _)| *f == s)
    }
}

/// The model name of a headset with a flat response (the idealised part some tests need).
pub const IDEAL_MODEL: &str = "ideal";

/// How far a device's own crystal runs from the bench's, ppm: uniform within ±[`CLOCK_PPM`].
/// Drawn from a stream of its own, so that the rest of a part's spread is what it was.
fn own_clock_ppm(seed: u64, id: &str) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fnv(id) ^ 0x636c_6f63_6b00_0000);
    rng.random_range(-CLOCK_PPM..=CLOCK_PPM)
}

/// The widest clock offset of a virtual device against the bench, ppm.
pub const CLOCK_PPM: f64 = 200.0;

/// A stable hash of a component id, so a part's spread does not depend on the others.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// The virtual bench.
pub struct VirtualBench {
    parts: HashMap<String, Part>,
    seed: u64,
    captures_made: u64,
    ambient: Option<Ambient>,
    /// The bursts that landed, as `(capture number from 1, burst)`.
    bursts: Vec<(u64, Burst)>,
    /// Whether a reference microphone outside the fixture records the room with every capture.
    reference_mic: bool,
    /// Whether the relay board's meter reads the headsets' plugs ([`SwitchMatrix::measure_plug`]).
    meter: bool,
    /// Plugs measured so far (each reading draws its own meter noise).
    measured: u64,
}

/// How one recorded line of a path answers steady tones.
#[derive(Debug, Clone)]
struct SteadyLine {
    /// `(frequency as recorded, peak amplitude)` of each tone the plan plays, as heard here.
    tones: Vec<(f64, f64)>,
    /// Which of them is the line's own.
    own: usize,
    /// Harmonics 2, 3, … of the own tone, amplitude relative to it.
    harmonics: Vec<f64>,
    noise_rms: f64,
    /// Mains frequency and rms of the hum, when there is any.
    hum: Option<(f64, f64)>,
}

/// A path's steady lines and the faults that come and go on it.
#[derive(Debug, Clone)]
struct Steady {
    lines: Vec<SteadyLine>,
    /// `(part, events per second)` of each worn contact.
    contacts: Vec<(String, f64)>,
    dropouts_per_s: Option<f64>,
}

impl VirtualBench {
    /// A bench of `components` (id, kind), spread drawn from `seed`.
    pub fn new<'a>(components: impl IntoIterator<Item = (&'a str, ComponentKind)>, seed: u64) -> VirtualBench {
        let parts =
            components.into_iter().map(|(id, kind)| (id.to_string(), Part::new(kind, seed, id, None))).collect();
        VirtualBench::of_parts(parts, seed)
    }

    /// A bench of `parts`, with no room sound, reference microphone or meter yet.
    fn of_parts(parts: HashMap<String, Part>, seed: u64) -> VirtualBench {
        VirtualBench {
            parts,
            seed,
            captures_made: 0,
            ambient: None,
            bursts: Vec::new(),
            reference_mic: false,
            meter: false,
            measured: 0,
        }
    }

    /// The bench of a rig file's components, headsets voiced as the models the file names.
    pub fn for_rig(rig: &crate::rig::file::RigFile, seed: u64) -> VirtualBench {
        let parts = rig
            .components
            .iter()
            .map(|c| {
                let id = c.id.get_ref().as_str();
                let mut part = Part::new(c.kind, seed, id, c.model.as_deref());
                if c.clock == crate::rig::file::ClockDomain::Bench {
                    part.clock_ppm = 0.0;
                }
                part.has_mic = c.kind != ComponentKind::Headset || rig.records_through(id);
                (id.to_string(), part)
            })
            .collect();
        VirtualBench::of_parts(parts, seed)
            .with_reference_mic(rig.audio.reference_mic.is_some())
            .with_meter(rig.switch.meter == Some(true))
    }

    /// Whether the bench reads plugs with the relay board's meter.
    pub fn has_meter(&self) -> bool {
        self.meter
    }

    /// Gives the bench the relay board's meter (a rig's `[switch] meter = true` gives it one
    /// already), or takes it away: sound alone, or sound and the plug's DC resistances.
    pub fn with_meter(mut self, on: bool) -> VirtualBench {
        self.meter = on;
        self
    }

    /// Sets a driver's clock against the bench's, ppm (the bench draws one within ±200 ppm).
    pub fn set_clock_ppm(&mut self, id: &str, ppm: f64) -> Result<(), String> {
        match self.parts.get_mut(id) {
            Some(p) if p.kind == ComponentKind::Driver => {
                p.clock_ppm = ppm;
                Ok(())
            }
            Some(_) => Err(format!("\"{id}\" is no driver: only a driver's device has a clock")),
            None => Err(format!("no component \"{id}\" on this bench")),
        }
    }

    /// Injects a fault; the symptom must be one spec §3 allows on the component's kind.
    pub fn inject(&mut self, fault: &InjectedFault) -> Result<(), String> {
        let known: Vec<String> = {
            let mut k: Vec<String> = self.parts.keys().cloned().collect();
            k.sort();
            k
        };
        let part = self.parts.get_mut(&fault.component).ok_or_else(|| {
            format!(
                "\"{}\" is not a component of this rig (it has {}; `jackbench faults` lists what each can carry)",
                fault.component,
                known.join(", ")
            )
        })?;
        if FaultCode::new(part.kind, fault.symptom).is_none() {
            let kinds: Vec<&str> = fault.symptom.kinds().iter().map(|k| k.name()).collect();
            return Err(format!(
                "{} is {} {}, and {} is a fault of {} only",
                fault.component,
                article(part.kind.name()),
                part.kind,
                fault.symptom,
                kinds.iter().map(|k| format!("{} {k}", article(k))).collect::<Vec<_>>().join(" or ")
            ));
        }
        part.faults.retain(|(s, _)| *s != fault.symptom);
        part.faults.push((fault.symptom, fault.severity));
        Ok(())
    }

    /// Puts a new unit of the same kind in a component's place (a batch's next headset): its
    /// own spread, drawn from `unit_seed`, and no faults.
    pub fn swap_in(&mut self, id: &str, unit_seed: u64) -> Result<(), String> {
        let part = self.parts.get_mut(id).ok_or_else(|| format!("\"{id}\" is not a component of this rig"))?;
        let has_mic = part.has_mic;
        *part = Part::new(part.kind, unit_seed, id, part.model.clone().as_deref());
        part.has_mic = has_mic;
        Ok(())
    }

    /// Lets ambient sound into the fixture: bursts in a share of the acoustic captures (through
    /// a headset's ear couplers or its microphone; a loopback plug is electrical and hears none).
    pub fn with_ambient(mut self, ambient: Ambient) -> VirtualBench {
        self.ambient = Some(ambient);
        self
    }

    /// Gives the bench a reference microphone outside the fixture (a rig's `[audio]
    /// reference_mic` gives it one already), or takes it away.
    pub fn with_reference_mic(mut self, on: bool) -> VirtualBench {
        self.reference_mic = on;
        self
    }

    /// The bursts that landed so far, as `(capture number from 1, burst)`.
    pub fn bursts(&self) -> &[(u64, Burst)] {
        &self.bursts
    }

    /// How the path of `plan` answers its steady tones, line by line (left, right, mic as the
    /// plan has them), for the continuous model of [`VirtualStream`]: the same chain as a
    /// capture's, with the faults that come and go (worn contacts, dropouts) left out, measured
    /// on a capture of each tone and of silence. Also those faults: `(part, events per second)`
    /// for each worn contact, and the driver's dropouts per second.
    fn steady(&self, plan: &crate::rig::stream::StreamPlan) -> Result<Steady, RigError> {
        use crate::analysis::tone::{fit_tone, measure_segment, ToneSearch};
        use crate::stimulus::Stimulus;
        let path = &plan.path;
        let originals =
            [self.part(&path.driver)?, self.part(&path.port)?, self.part(&path.adapter)?, self.part(&path.headset)?];
        let stripped: Vec<Part> = originals
            .iter()
            .map(|p| {
                let mut p = (*p).clone();
                p.faults.retain(|(s, _)| !matches!(s, Symptom::Intermittent | Symptom::Dropouts));
                p
            })
            .collect();
        let parts = [&stripped[0], &stripped[1], &stripped[2], &stripped[3]];
        let rate = f64::from(plan.rate_hz);
        let mut spectrum = crate::analysis::Spectrum::default();
        let mut k = 0u64;
        // The steady middle of a capture of `stimulus`: 0.1 s after it starts, 0.4 s long.
        let mut run = |direction: Direction, drive: Option<Drive>, stimulus: Stimulus| -> Vec<Vec<f64>> {
            k += 1;
            let req = CaptureRequest {
                path: path.clone(),
                direction,
                stimulus,
                drive,
                rate_hz: plan.rate_hz,
                format: crate::capture::SampleFormat::F32,
                tail_s: 0.2,
            };
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x0000_7374_6561_6479 ^ k);
            let (lead, _) = lead_and_frames(&req, parts[0], &mut rng.clone());
            let from = ((lead + 0.1) * rate) as usize;
            let n = (0.4 * rate) as usize;
            simulate(&req, parts, None, &mut rng)
                .into_iter()
                .map(|c| c.get(from..from + n).unwrap_or_default().to_vec())
                .collect()
        };
        let seconds = 0.6;
        let level_dbfs = plan.level_dbfs;
        let mut lines = Vec::new();
        let mut line_of = |tone_segs: &[(f64, Vec<f64>)], quiet: &[f64], spectrum: &mut crate::analysis::Spectrum| {
            let tones: Vec<(f64, f64)> = tone_segs
                .iter()
                .map(|(f, x)| (*f, fit_tone(x, rate, *f, false).map_or(0.0, |t| t.amplitude)))
                .collect();
            let own = tones.iter().enumerate().max_by(|a, b| a.1 .1.total_cmp(&b.1 .1)).map_or(0, |(i, _)| i);
            let m = measure_segment(&tone_segs[own].1, rate, ToneSearch::Near(tone_segs[own].0), spectrum);
            let a = m.fundamental.map_or(0.0, |f| f.amplitude);
            let harmonics = if a > 0.0 { m.harmonics.iter().map(|h| h.amplitude / a).collect() } else { Vec::new() };
            let q = measure_segment(quiet, rate, ToneSearch::Absent, spectrum);
            lines.push(SteadyLine {
                tones,
                own,
                harmonics,
                noise_rms: q.noise_rms,
                hum: q.hum.map(|h| (h.mains_hz, h.rms)),
            });
        };
        if let Some(ears) = plan.ears {
            let clock = parts[0].clock(Direction::Playback);
            let tone = |f: f64| Stimulus::Sine { freq_hz: f, level_dbfs, seconds };
            let by_drive: Vec<Vec<Vec<f64>>> = [Drive::Left, Drive::Right]
                .iter()
                .zip(ears)
                .map(|(&d, f)| run(Direction::Playback, Some(d), tone(f)))
                .collect();
            let quiet = run(Direction::Playback, Some(Drive::Both), Stimulus::Silence { seconds });
            for c in 0..2 {
                let segs: Vec<(f64, Vec<f64>)> =
                    ears.iter().zip(&by_drive).map(|(f, chs)| (f * clock, chs[c].clone())).collect();
                line_of(&segs, &quiet[c], &mut spectrum);
            }
        }
        if let Some(f) = plan.mouth {
            let clock = parts[0].clock(Direction::Record);
            let heard = run(Direction::Record, None, Stimulus::Sine { freq_hz: f, level_dbfs, seconds });
            let quiet = run(Direction::Record, None, Stimulus::Silence { seconds });
            line_of(&[(f * clock, heard[0].clone())], &quiet[0], &mut spectrum);
        }
        let contacts = [1, 2, 3]
            .iter()
            .filter_map(|&i| {
                let id = [&path.driver, &path.port, &path.adapter, &path.headset][i];
                originals[i].fault(Symptom::Intermittent).map(|per_s| (id.clone(), per_s))
            })
            .collect();
        Ok(Steady { lines, contacts, dropouts_per_s: originals[0].fault(Symptom::Dropouts) })
    }

    fn part(&self, id: &str) -> Result<&Part, RigError> {
        self.parts
            .get(id)
            .ok_or_else(|| RigError::Device { device: id.to_string(), message: "not on this bench".into() })
    }
}

impl Station for VirtualBench {
    fn endpoint(&mut self) -> &mut dyn AudioEndpoint {
        self
    }
    fn switch(&mut self) -> &mut dyn SwitchMatrix {
        self
    }
}

impl SwitchMatrix for VirtualBench {
    fn connect(&mut self, path: &PathSpec) -> Result<(), RigError> {
        for id in path.ids() {
            self.part(id)?;
        }
        Ok(())
    }

    fn disconnect_all(&mut self) -> Result<(), RigError> {
        Ok(())
    }

    fn measure_plug(&mut self, headset: &str) -> Result<Option<crate::capture::plug::PlugReadings>, RigError> {
        if !self.meter {
            return Ok(None);
        }
        let part = self.part(headset)?;
        if part.kind != ComponentKind::Headset {
            return Err(RigError::Device {
                device: headset.to_string(),
                message: format!("is {} {}: the meter reads a headset's plug", article(part.kind.name()), part.kind),
            });
        }
        let network = plug::network(part);
        self.measured += 1;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ fnv(headset) ^ 0x6d65_7465_7200_0000 ^ self.measured);
        Ok(Some(plug::read(&network, &mut rng)))
    }
}

impl AudioEndpoint for VirtualBench {
    /// Each capture is computed on its own, so a path's record and playback captures are as
    /// they would be made at once.
    fn overlaps(&self) -> bool {
        true
    }

    fn capture(&mut self, req: &CaptureRequest) -> Result<Take, RigError> {
        // The path comes with the request, so the model serves under any switch matrix (its
        // own, a relay board's, an operator's).
        let path = &req.path;
        self.captures_made += 1;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ self.captures_made);
        let parts =
            [self.part(&path.driver)?, self.part(&path.port)?, self.part(&path.adapter)?, self.part(&path.headset)?];
        let acoustic = req.direction != Direction::Loopback && parts[3].kind == ComponentKind::Headset;
        let frames = simulated_frames(req, parts[0], &mut rng.clone());
        let burst = self
            .ambient
            .filter(|_| acoustic)
            .and_then(|a| a.burst(self.seed, self.captures_made, frames, f64::from(req.rate_hz)));
        let channels = simulate(req, parts, burst.as_ref(), &mut rng);
        // The reference microphone, from its own random stream: the capture is the same with it
        // or without it.
        let reference = self.reference_mic.then(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(rng.random::<u64>() ^ 0x5eed_4ef0);
            let heard = match &burst {
                Some(b) => b.reference(frames, &mut rng),
                None => ambient::quiet_reference(frames, &mut rng),
            };
            Audio::from_f64(req.rate_hz, crate::capture::wav::SampleFormat::F32, &[heard])
        });
        if let Some(b) = burst {
            self.bursts.push((self.captures_made, b));
        }
        let audio = Audio::from_f64(req.rate_hz, req.format, &channels);
        Ok(Take { audio, latency_s: None, events: Vec::new(), glitched: false, reference })
    }
}

fn db(x: f64) -> f64 {
    10f64.powf(x / 20.0)
}

/// A second-order section (RBJ cookbook), low- or high-pass at `fc` with Q = 1/√2.
fn biquad(x: &mut [f64], rate: f64, fc: f64, high_pass: bool) {
    second_order(x, rate, fc, std::f64::consts::FRAC_1_SQRT_2, high_pass);
}

/// A second-order low- or high-pass (RBJ cookbook) at `fc` with quality `q`, in place.
fn second_order(x: &mut [f64], rate: f64, fc: f64, q: f64, high_pass: bool) {
    let w = 2.0 * PI * (fc / rate).min(0.49);
    let alpha = w.sin() / (2.0 * q);
    let c = w.cos();
    let (b0, b1, b2) = if high_pass {
        ((1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0)
    } else {
        ((1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0)
    };
    let (a0, a1, a2) = (1.0 + alpha, -2.0 * c, 1.0 - alpha);
    let (b0, b1, b2, a1, a2) = (b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0);
    let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
    for v in x.iter_mut() {
        let y = b0 * *v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
        (x2, x1, y2, y1) = (x1, *v, y1, y);
        *v = y;
    }
}

/// A peaking section (RBJ cookbook) in place.
fn peak(x: &mut [f64], rate: f64, p: Peak) {
    let w = 2.0 * PI * (p.fc / rate).min(0.49);
    let a = 10f64.powf(p.gain_db / 40.0);
    let alpha = w.sin() / (2.0 * p.q);
    let c = w.cos();
    let a0 = 1.0 + alpha / a;
    let (b0, b1, b2, a1, a2) =
        ((1.0 + alpha * a) / a0, -2.0 * c / a0, (1.0 - alpha * a) / a0, -2.0 * c / a0, (1.0 - alpha / a) / a0);
    let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
    for v in x.iter_mut() {
        let y = b0 * *v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
        (x2, x1, y2, y1) = (x1, *v, y1, y);
        *v = y;
    }
}

/// A speaker's or amplifier's odd-order distortion: `y = x + c₃·x³`, `c₃` set so that a sine
/// of the nominal peak `a` comes out with the given THD `t`: the third harmonic is `u·a` and the
/// fundamental `(1 + 3u)·a` with `u = c₃a²/4`, so `u = t / (1 − 3t)` (t < 1/3); the output is
/// scaled by `1/(1 + 3u)`.
fn distort(x: &mut [f64], thd_percent: f64, a: f64) {
    let t = (thd_percent / 100.0).min(0.3);
    if a <= 0.0 {
        return;
    }
    let u = t / (1.0 - 3.0 * t);
    let c3 = 4.0 * u / (a * a);
    // Scaled back so the fundamental keeps its level: a damaged speaker is no louder.
    let norm = 1.0 / (1.0 + 3.0 * u);
    x.iter_mut().for_each(|v| *v = norm * (*v + c3 * *v * *v * *v));
}

/// The diaphragm's excursion under the drive `x`: a second-order low-pass at the resonance
/// with its Q, unit gain below it.
fn excursion(x: &[f64], rate: f64, f0: f64, q: f64) -> Vec<f64> {
    let mut e = x.to_vec();
    second_order(&mut e, rate, f0, q, false);
    e
}

/// A voice coil that rubs its gap: at each peak of the excursion beyond [`EXCURSION_LIMIT`], a
/// short ring (`ring_hz`, decaying in 0.12 ms, 1 ms long) of `rel` times the excursion, in its
/// direction.
fn rub_coil(out: &mut [f64], excursion: &[f64], rate: f64, ring_hz: f64, rel: f64) {
    let len = ((0.001 * rate) as usize).max(1);
    let ring: Vec<f64> = (0..len)
        .map(|i| {
            let t = i as f64 / rate;
            (-t / 0.000_12).exp() * (2.0 * PI * ring_hz * t).sin()
        })
        .collect();
    for n in 1..excursion.len().saturating_sub(1) {
        let (prev, e, next) = (excursion[n - 1].abs(), excursion[n].abs(), excursion[n + 1].abs());
        if e > EXCURSION_LIMIT && e >= prev && e > next {
            let amp = rel * excursion[n];
            for (o, r) in out[n..].iter_mut().zip(&ring) {
                *o += amp * r;
            }
        }
    }
}

/// A loose part that rattles while the excursion is beyond [`EXCURSION_LIMIT`]: noise above
/// 2 kHz of `rel`/4 times the excursion (rms; its peaks come near a rub's), gated by it.
fn buzz(out: &mut [f64], excursion: &[f64], rate: f64, rel: f64, rng: &mut ChaCha8Rng) {
    let mut rattle = vec![0.0; out.len()];
    add_noise(&mut rattle, 1.0, rng);
    biquad(&mut rattle, rate, 2_000.0, true);
    for ((o, r), e) in out.iter_mut().zip(&rattle).zip(excursion) {
        if e.abs() > EXCURSION_LIMIT {
            *o += 0.25 * rel * e.abs() * r;
        }
    }
}

/// Mains hum of total rms `rms` (fundamental and two harmonics).
fn add_hum(x: &mut [f64], rate: f64, mains: f64, rms: f64) {
    let rel = [1.0, 0.5, 0.3];
    let norm = rel.iter().map(|r| r * r).sum::<f64>().sqrt();
    for (i, v) in x.iter_mut().enumerate() {
        let t = i as f64 / rate;
        *v += rel
            .iter()
            .enumerate()
            .map(|(k, r)| (rms * 2f64.sqrt() * r / norm) * (2.0 * PI * mains * (k + 1) as f64 * t + k as f64).sin())
            .sum::<f64>();
    }
}

fn add_noise(x: &mut [f64], rms: f64, rng: &mut ChaCha8Rng) {
    if let Ok(n) = Normal::new(0.0, rms) {
        x.iter_mut().for_each(|v| *v += n.sample(rng));
    }
}

/// [`worn_line`]'s sleeve: the contact both ears return through.
pub const SLEEVE: usize = 2;

/// The line a part's worn contact breaks on the output side: 0 the left ear's (the tip), 1 the
/// right's (ring 1), [`SLEEVE`] the one both ears return through, each as likely. It is fixed for the
/// part, as a contact is worn where it is, and drawn from the seed apart from the part's other
/// draws.
pub fn worn_line(seed: u64, id: &str) -> usize {
    ChaCha8Rng::seed_from_u64(seed ^ fnv(id) ^ fnv("worn contact")).random_range(0..3)
}

/// Random gaps (1–50 ms, log-uniform) with a click at each edge: a worn contact, the same breaks
/// on every one of `lines` that pass through it (one line, or both ears through a sleeve).
fn worn_contact(lines: &mut [&mut [f64]], rate: f64, per_second: f64, rng: &mut ChaCha8Rng) {
    let Some(n) = lines.first().map(|x| x.len()) else { return };
    let count = poisson(per_second * n as f64 / rate, rng).max(1);
    for _ in 0..count {
        let len = (rate * 0.001 * 50f64.powf(rng.random::<f64>())) as usize;
        let start = rng.random_range(0..n.saturating_sub(len).max(1));
        for x in lines.iter_mut() {
            let click = x[start..].iter().take(64).fold(0f64, |m, v| m.max(v.abs()));
            let end = (start + len).min(x.len());
            x[start..end].iter_mut().for_each(|v| *v = 0.0);
            if let Some(v) = x.get_mut(start) {
                *v += 0.5 * click;
            }
        }
    }
}

fn poisson(mean: f64, rng: &mut ChaCha8Rng) -> usize {
    // Knuth's method; means here are small.
    let l = (-mean).exp();
    let (mut k, mut p) = (0, 1.0);
    loop {
        p *= rng.random::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

/// "a" or "an" before a component kind's name.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Buffer-sized blocks zero-filled at the same instants on every channel: a driver's dropouts.
fn drop_blocks(channels: &mut [Vec<f64>], rate: f64, per_second: f64, rng: &mut ChaCha8Rng) {
    let n = channels.first().map_or(0, Vec::len);
    let block = ((256.0 * rate / 48_000.0) as usize).max(16);
    let count = poisson(per_second * n as f64 / rate, rng).max(1);
    for _ in 0..count {
        let len = block * rng.random_range(1..=3);
        let start = rng.random_range(0..n.saturating_sub(len).max(1));
        for c in channels.iter_mut() {
            for v in c[start..(start + len).min(n)].iter_mut() {
                *v = 0.0;
            }
        }
    }
}

/// The capture's lead (s) and length (frames), the first draws of its random stream.
fn lead_and_frames(req: &CaptureRequest, driver: &Part, rng: &mut ChaCha8Rng) -> (f64, usize) {
    let rate = f64::from(req.rate_hz);
    let clock = driver.clock(req.direction);
    // Spec §2: the stimulus starts after an unknown delay of up to 0.5 s, and the capture runs
    // at least the tail past its end.
    let lead = rng.random_range(0.005..0.5);
    let tail = req.tail_s + rng.random_range(0.0..0.1);
    let secs = req.stimulus.seconds() / clock;
    (lead, ((lead + secs + tail) * rate).ceil() as usize)
}

fn simulated_frames(req: &CaptureRequest, driver: &Part, rng: &mut ChaCha8Rng) -> usize {
    lead_and_frames(req, driver, rng).1
}

/// Computes one capture through the connected parts `[driver, port, adapter, headset/plug]`,
/// with an ambient `burst` in the fixture if one landed.
fn simulate(
    req: &CaptureRequest,
    [driver, port, adapter, headset]: [&Part; 4],
    burst: Option<&Burst>,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<f64>> {
    let rate = f64::from(req.rate_hz);
    let clock = driver.clock(req.direction);
    let (lead, n) = lead_and_frames(req, driver, rng);
    // The stimulus as the driver's clock plays it against the bench's (or the bench's against the
    // driver's when it records): frequencies scale by `clock`.
    let at = |i: usize| (i as f64 / rate - lead) * clock;
    let player = req.stimulus.player();
    let s: Vec<f64> = (0..n).map(|i| player.value_on(at(i), None)).collect();
    // What each output channel plays: a sequence's segments only on the channels they drive.
    let sequence = matches!(req.stimulus, crate::stimulus::Stimulus::Sequence { .. });
    // Other stimuli play the same on every channel: borrowed, not copied.
    let on = |c: usize| -> std::borrow::Cow<[f64]> {
        if sequence {
            std::borrow::Cow::Owned((0..n).map(|i| player.value_on(at(i), Some(c))).collect())
        } else {
            std::borrow::Cow::Borrowed(&s)
        }
    };
    // The mouth simulator plays the whole stimulus (`s`): no channel of it is needed.
    let (s_left, s_right) = if req.direction == Direction::Record {
        (std::borrow::Cow::Borrowed(&[][..]), std::borrow::Cow::Borrowed(&[][..]))
    } else {
        (on(0), on(1))
    };
    let a = req.stimulus.amplitude();
    let parts = [port, adapter, headset];
    let analog = |p: &Part| p.gain_db - p.fault(Symptom::LowLevel).unwrap_or(0.0);
    match req.direction {
        Direction::Playback => {
            let (l_on, r_on) = match req.drive {
                Some(Drive::Left) => (1.0, 0.0),
                Some(Drive::Right) => (0.0, 1.0),
                _ => (1.0, 1.0),
            };
            let g = db(driver.gain_db - driver.fault(Symptom::LowGain).unwrap_or(0.0));
            let mut ch = vec![
                s_left.iter().map(|v| v * l_on * g).collect::<Vec<f64>>(),
                s_right.iter().map(|v| v * r_on * g).collect(),
            ];
            if driver.has(Symptom::ChannelSwap) {
                ch.swap(0, 1);
            }
            if let Some(rate_per_s) = driver.fault(Symptom::Dropouts) {
                drop_blocks(&mut ch, rate, rate_per_s, rng);
            }
            // Port output stage, then the shared-ground crosstalk, adapter and headset.
            output_stage(&mut ch, port, rate, a, rng);
            let xt = db(port.crosstalk_db);
            let (l, r) = (ch[0].clone(), ch[1].clone());
            for i in 0..n {
                ch[0][i] += xt * r[i];
                ch[1][i] += xt * l[i];
            }
            for p in [adapter, headset] {
                routing(&mut ch, p);
                output_stage(&mut ch, p, rate, a, rng);
            }
            // Ear couplers, and the room's sound that leaks into them.
            for (e, c) in ch.iter_mut().enumerate() {
                let gain = db(PLAYBACK_GAIN_DB + headset.ear_db[e] + parts.iter().map(|p| analog(p)).sum::<f64>());
                c.iter_mut().for_each(|v| *v *= gain);
            }
            if let Some(b) = burst {
                b.add_to(&mut ch, EAR_NOISE_DBFS);
            }
            for c in ch.iter_mut() {
                add_noise(c, db(EAR_NOISE_DBFS) / 2f64.sqrt(), rng);
                if let Some(rise) = port.fault(Symptom::Noise) {
                    add_noise(c, db(EAR_NOISE_DBFS + rise) / 2f64.sqrt(), rng);
                }
                if let Some(h) = port.fault(Symptom::Hum) {
                    add_hum(c, rate, port.mains_hz, db(h));
                }
            }
            ch
        }
        Direction::Record | Direction::Loopback => {
            let mut x: Vec<f64> = if req.direction == Direction::Record {
                // Mouth simulator (and the room) into the headset microphone, its adapter line,
                // the port's input.
                let mut x = s.clone();
                let g_db = RECORD_GAIN_DB + parts.iter().map(|p| analog(p)).sum::<f64>() + headset.ear_db[0];
                if let Some(b) = burst {
                    // Set against the floor the capture will have.
                    let floor = MIC_NOISE_DBFS + port.noise_db - g_db - driver.gain_db;
                    b.add_to(std::slice::from_mut(&mut x), floor);
                }
                for p in [headset, adapter, port] {
                    input_stage(&mut x, p, rate, a, rng);
                }
                let g = db(g_db);
                x.iter_mut().for_each(|v| *v *= g);
                x
            } else {
                // The driver's left output through port and adapter, the plug, and back in.
                let play_left = matches!(req.drive, Some(Drive::Left) | Some(Drive::Both));
                let play_right = matches!(req.drive, Some(Drive::Right) | Some(Drive::Both));
                let (tip_carries, tip) =
                    if driver.has(Symptom::ChannelSwap) { (play_right, &*s_right) } else { (play_left, &*s_left) };
                let g_out = db(driver.gain_db - driver.fault(Symptom::LowGain).unwrap_or(0.0));
                let mut ch = vec![
                    tip.iter().map(|v| if tip_carries { v * g_out } else { 0.0 }).collect::<Vec<f64>>(),
                    vec![0.0; n],
                ];
                if let Some(r) = driver.fault(Symptom::Dropouts) {
                    drop_blocks(&mut ch, rate, r, rng);
                }
                output_stage(&mut ch, port, rate, a, rng);
                routing(&mut ch, adapter);
                output_stage(&mut ch, adapter, rate, a, rng);
                let mut x = std::mem::take(&mut ch[0]);
                if adapter.has(Symptom::PinoutMismatch) {
                    x.iter_mut().for_each(|v| *v = 0.0);
                }
                for p in [adapter, port] {
                    input_stage(&mut x, p, rate, a, rng);
                }
                let g = db(PLUG_DB + 7.0 + 2.0 * (analog(port) + analog(adapter)));
                x.iter_mut().for_each(|v| *v *= g);
                x
            };
            // The port's mic input: preamp noise and hum pickup, before the driver's gain.
            add_noise(&mut x, db(MIC_NOISE_DBFS + port.noise_db) / 2f64.sqrt(), rng);
            if let Some(rise) = port.fault(Symptom::Noise) {
                add_noise(&mut x, db(MIC_NOISE_DBFS + rise) / 2f64.sqrt(), rng);
            }
            if let Some(h) = port.fault(Symptom::Hum) {
                add_hum(&mut x, rate, port.mains_hz, db(h));
            }
            // The driver: digital gain, dropouts, mute.
            let g = db(driver.gain_db - driver.fault(Symptom::LowGain).unwrap_or(0.0));
            x.iter_mut().for_each(|v| *v *= g);
            let mut ch = vec![x];
            if let Some(r) = driver.fault(Symptom::Dropouts) {
                drop_blocks(&mut ch, rate, r, rng);
            }
            if driver.has(Symptom::DigitalSilence) {
                ch[0].iter_mut().for_each(|v| *v = 0.0);
            }
            ch
        }
    }
}

/// How a part routes the two channels: swaps, inversions, CTIA/OMTP mismatch, dead lines.
fn routing(ch: &mut [Vec<f64>], p: &Part) {
    if p.has(Symptom::ChannelSwap) {
        ch.swap(0, 1);
    }
    if p.has(Symptom::PinoutMismatch) {
        // Mic and ground swapped: the speakers' common return floats, so each ear gets half the
        // difference of the channels, in opposite polarity.
        let (l, r) = (ch[0].clone(), ch[1].clone());
        for i in 0..l.len() {
            ch[0][i] = (l[i] - r[i]) / 2.0;
            ch[1][i] = (r[i] - l[i]) / 2.0;
        }
    }
    if p.has(Symptom::Polarity) {
        ch[1].iter_mut().for_each(|v| *v = -*v);
    }
}

/// A part's effect on the output channels: dead lines, imbalance, response, distortion, gaps.
fn output_stage(ch: &mut [Vec<f64>], p: &Part, rate: f64, a: f64, rng: &mut ChaCha8Rng) {
    // A speaker rubs where the drive moves it far: its excursion comes from the drive itself.
    let rub = p.fault(Symptom::RubBuzz).map(|level_db| {
        let m = p.mechanics;
        let ears: Vec<usize> = if m.both_ears { vec![0, 1] } else { vec![p.side] };
        let excursions: Vec<(usize, Vec<f64>)> =
            ears.into_iter().filter_map(|e| ch.get(e).map(|c| (e, excursion(c, rate, m.f0_hz, m.q)))).collect();
        (m, db(level_db), excursions)
    });
    if let Some(v) = &p.voicing {
        for (c, ear) in ch.iter_mut().zip(&v.ears) {
            ear.iter().for_each(|&q| peak(c, rate, q));
        }
    }
    if let Some(left) = p.fault(Symptom::OutputDead) {
        ch.iter_mut().for_each(|c| c.iter_mut().for_each(|v| *v *= db(left)));
    }
    if let Some(left) = p.fault(Symptom::ChannelDead) {
        ch[p.side].iter_mut().for_each(|v| *v *= db(left));
    }
    // A broken or shorted ear line (the microphone's is the input's).
    for s in [Symptom::OpenContact, Symptom::Short] {
        if let (Some(left), Some(c)) = (p.fault(s), ch.get_mut(plug::fault_line(p))) {
            c.iter_mut().for_each(|v| *v *= db(left));
        }
    }
    if let Some(d) = p.fault(Symptom::Imbalance) {
        ch[p.side].iter_mut().for_each(|v| *v *= db(-d));
    }
    if let Some(fc) = p.fault(Symptom::Response) {
        for c in ch.iter_mut() {
            // A headset loses its top octaves; a port's coupling loses the bass.
            if p.kind == ComponentKind::Port {
                biquad(c, rate, fc / 6.0, true);
            } else {
                biquad(c, rate, fc, false);
            }
        }
    }
    if let Some(thd) = p.fault(Symptom::Distortion) {
        ch.iter_mut().for_each(|c| distort(c, thd, a));
    }
    if let Some((m, rel, excursions)) = rub {
        for (e, x) in excursions {
            if m.buzz {
                buzz(&mut ch[e], &x, rate, rel, rng);
            } else {
                rub_coil(&mut ch[e], &x, rate, m.ring_hz, rel);
            }
        }
    }
    if let Some(per_s) = p.fault(Symptom::Intermittent) {
        // A worn contact breaks its line: an ear's, or the sleeve both ears return through,
        // which breaks them at the same instants.
        let mut lines: Vec<&mut [f64]> = match ch.get_mut(p.contact) {
            Some(one) => vec![one.as_mut_slice()],
            None => ch.iter_mut().map(Vec::as_mut_slice).collect(),
        };
        worn_contact(&mut lines, rate, per_s, rng);
    }
}

/// A part's effect on the microphone signal.
fn input_stage(x: &mut [f64], p: &Part, rate: f64, a: f64, rng: &mut ChaCha8Rng) {
    if let Some(v) = &p.voicing {
        v.mic.iter().for_each(|&q| peak(x, rate, q));
    }
    if let Some(left) = p.fault(Symptom::InputDead) {
        x.iter_mut().for_each(|v| *v *= db(left));
    }
    for s in [Symptom::OpenContact, Symptom::Short] {
        if let Some(left) = p.fault(s).filter(|_| plug::fault_line(p) == 2) {
            x.iter_mut().for_each(|v| *v *= db(left));
        }
    }
    if let Some(loss) = p.fault(Symptom::Button) {
        x.iter_mut().for_each(|v| *v *= db(-loss));
    }
    if p.has(Symptom::PinoutMismatch) {
        x.iter_mut().for_each(|v| *v *= db(-100.0));
    }
    if let Some(fc) = p.fault(Symptom::Response) {
        if p.kind == ComponentKind::Port {
            biquad(x, rate, fc / 6.0, true);
        } else {
            biquad(x, rate, fc, false);
        }
    }
    if let Some(thd) = p.fault(Symptom::Distortion) {
        distort(x, thd, a);
    }
    if let Some(per_s) = p.fault(Symptom::Intermittent) {
        worn_contact(&mut [x], rate, per_s, rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_with_severities_and_are_checked_against_kinds() {
        let f = InjectedFault::parse("dut:channel_dead:severe").expect("parses");
        assert_eq!((f.component.as_str(), f.symptom, f.severity), ("dut", Symptom::ChannelDead, 1.0));
        assert_eq!(InjectedFault::parse("dut:hum").map(|f| f.severity), Ok(0.5));
        assert_eq!(InjectedFault::parse("dut:hum:0.25").map(|f| f.severity), Ok(0.25));
        assert!(InjectedFault::parse("dut:humming").is_err());
        assert!(InjectedFault::parse("dut:hum:2").is_err());
        assert!(InjectedFault::parse("dut").is_err());
        let mut bench = VirtualBench::new([("hda", ComponentKind::Driver), ("dut", ComponentKind::Headset)], 1);
        assert!(bench.inject(&InjectedFault::parse("dut:hum").expect("parses")).is_err(), "hum lives on ports only");
        assert!(bench.inject(&InjectedFault::parse("nobody:noise").expect("parses")).is_err());
        assert!(bench.inject(&InjectedFault::parse("hda:rate_mismatch").expect("parses")).is_ok());
    }

    #[test]
    fn distortion_model_gives_its_thd() {
        use crate::analysis::{analyze, AnalyzeOptions};
        let s = crate::stimulus::Stimulus::Sine { freq_hz: 1000.0, level_dbfs: -12.0, seconds: 1.0 };
        let mut x = s.render(48_000);
        distort(&mut x, 5.0, s.amplitude());
        let audio = Audio::from_f64(48_000, crate::capture::SampleFormat::F32, &[x]);
        let a = analyze(&mut audio.source(), &AnalyzeOptions::default()).expect("analysed");
        let thd = a.channels[0].thd_percent.expect("thd");
        // Tolerance ±5 % of the target.
        assert!((thd - 5.0).abs() < 0.25, "THD {thd} %");
    }
}
