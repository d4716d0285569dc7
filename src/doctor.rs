//! `jackbench doctor`: the seed's checklist for "my headset mic doesn't work", automated and
//! measured on a real sound device. Each check ends ok, warn or fail with what to do:
//!
//! 1. `device`: the output and input exist, and whether they are the defaults;
//! 2. `open`: they can be opened (not denied by permissions or a privacy setting);
//! 3. `busy`: no other program holds them;
//! 4. `signal`: the recording is not digital silence (muted input, privacy block, wrong
//!    endpoint) and not far too low (input gain), and its stream did not glitch on every take
//!    (a pass that glitched is made again, [`crate::rig::live::RETAKES`] times at most);
//! 5. `format`: the rate and format the devices really run at are the ones asked for;
//! 6. `loopback`: with a loopback plug in the jack, a 1 kHz tone makes the round trip at the
//!    expected gain and frequency and a stable level; the latency is measured.
//!
//! Checks after a failed one that they depend on are skipped.

use crate::analysis::{analyze, AnalyzeOptions};
use crate::capture::{Direction, Drive, PathSpec, SampleFormat};
use crate::rig::live::{DeviceRef, DriverDevices, LiveEndpoint, Routing};
use crate::rig::soundcard::{self, Side, SoundCards};
use crate::rig::{AudioEndpoint, CaptureRequest};
use crate::stimulus::Stimulus;
use serde::Serialize;
use std::collections::HashMap;

/// The `format` tag of the doctor's JSON.
pub const DOCTOR_FORMAT: &str = "jackbench-doctor/1";

/// The test tone: 1 kHz at −12 dBFS for one second.
const TONE_HZ: f64 = 1000.0;
const TONE_DBFS: f64 = -12.0;
const TONE_S: f64 = 1.0;
/// A working input never records below this without a signal (rms, dBFS): the quietest
/// converters' self-noise sits 20 dB above it.
const DEAD_INPUT_DBFS: f64 = -120.0;
/// The round trip's gain when no expectation is given: from a −40 dB plug to a little gain.
const LOOP_GAIN_ANY_DB: (f64, f64) = (-40.0, 6.0);
/// How far the round trip may be from the expected gain, dB.
const LOOP_GAIN_TOLERANCE_DB: f64 = 3.0;
/// The rate mismatch of spec §3: a tone off by this much came through a wrong clock.
const RATE_ERROR_MAX: f64 = 0.005;
/// The real input rate may stray this far from the nominal one before it is a fault (the
/// reading rests on callback times, good to a few tenths of a percent over a second).
const CLOCK_ERROR_MAX: f64 = 0.02;
/// Level steps within the tone beyond this are an unstable path, dB.
const LEVEL_SPREAD_MAX_DB: f64 = 0.5;

/// What to check.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    pub output: DeviceRef,
    pub input: DeviceRef,
    pub rate_hz: u32,
    /// A loopback plug is in the jack: run check 6.
    pub loopback: bool,
    /// The round trip's expected gain, dB (a loopback plug's divider); any plausible gain
    /// passes when absent.
    pub loop_gain_db: Option<f64>,
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    /// Not run: a check it needs failed, or it was not asked for.
    Skip,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub status: Status,
    /// What was found, with the numbers.
    pub detail: String,
    /// What to do, when something is to be done.
    pub fix: Option<String>,
}

/// What the doctor measured, for scripts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Measured {
    pub rate_hz: Option<u32>,
    pub output_format: Option<String>,
    pub input_format: Option<String>,
    /// The rate the input really delivers at, from its callbacks' clock.
    pub real_rate_hz: Option<f64>,
    /// rms of the whole recording, dBFS.
    pub input_rms_dbfs: Option<f64>,
    pub tone_frequency_hz: Option<f64>,
    pub tone_level_dbfs: Option<f64>,
    pub loop_gain_db: Option<f64>,
    pub level_spread_db: Option<f64>,
    pub latency_ms: Option<f64>,
    pub stream_events: Vec<String>,
}

/// The whole examination.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    pub format: &'static str,
    pub output: String,
    pub input: String,
    pub checks: Vec<Check>,
    pub measured: Measured,
}

impl DoctorReport {
    /// 0 when no check failed, 1 when one did.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.checks.iter().any(|c| c.status == Status::Fail))
    }

    fn push(&mut self, id: &'static str, status: Status, detail: impl Into<String>, fix: Option<&str>) {
        self.checks.push(Check { id, status, detail: detail.into(), fix: fix.map(str::to_string) });
    }

    /// Marks every check not yet run as skipped.
    fn skip_rest(&mut self, why: &str) {
        for id in ["device", "open", "busy", "signal", "format", "loopback"] {
            if !self.checks.iter().any(|c| c.id == id) {
                self.push(id, Status::Skip, why, None);
            }
        }
    }
}

fn db(x: f64) -> f64 {
    if x > 0.0 {
        20.0 * x.log10()
    } else {
        crate::analysis::DB_FLOOR
    }
}

/// Runs the checks. It always returns a report; a check that cannot run says so in it.
pub fn examine(opts: &DoctorOptions) -> DoctorReport {
    let mut report = DoctorReport {
        format: DOCTOR_FORMAT,
        output: opts.output.to_string(),
        input: opts.input.to_string(),
        checks: Vec::new(),
        measured: Measured::default(),
    };

    // 1. The devices exist; are they the defaults?
    for (dev, side) in [(&opts.output, Side::Output), (&opts.input, Side::Input)] {
        if let Err(e) = soundcard::find_device(dev, side) {
            report.push(
                "device",
                Status::Fail,
                e.to_string(),
                Some("plug the device in, or name one that is there (--device, --input, --output)"),
            );
            report.skip_rest("the device is not there");
            return report;
        }
    }
    let not_default: Vec<String> = [(&opts.output, Side::Output), (&opts.input, Side::Input)]
        .into_iter()
        .filter(|(dev, side)| !soundcard::is_default(dev, *side).unwrap_or(false))
        .map(|(dev, side)| {
            format!("{dev} is not the default {}", if side == Side::Output { "output" } else { "input" })
        })
        .collect();
    if not_default.is_empty() {
        report.push(
            "device",
            Status::Ok,
            format!("{} plays, {} records; both are the defaults", opts.output, opts.input),
            None,
        );
    } else {
        report.push(
            "device",
            Status::Warn,
            not_default.join("; "),
            Some(
                "programs that use the default device will not use it: make it the default in the sound \
                 settings (PulseAudio: pactl set-default-sink / set-default-source; PipeWire: wpctl set-default)",
            ),
        );
    }

    // 2 and 3. They open, and nobody else holds them.
    let (out_cfg, in_cfg) = match SoundCards::default().configure(&opts.output, 1, &opts.input, 1, opts.rate_hz) {
        Ok(c) => c,
        Err(e) => {
            report.push(
                "open",
                Status::Fail,
                e.to_string(),
                Some("choose a rate and channel count the device offers (`jackbench devices`)"),
            );
            report.skip_rest("the device cannot be opened");
            return report;
        }
    };
    report.measured.rate_hz = Some(out_cfg.rate_hz);
    report.measured.output_format = Some(format!("{} {} ch", out_cfg.format, out_cfg.channels));
    report.measured.input_format = Some(format!("{} {} ch", in_cfg.format, in_cfg.channels));
    for (dev, side, cfg) in [(&opts.output, Side::Output, out_cfg), (&opts.input, Side::Input, in_cfg)] {
        if let Err(e) = soundcard::probe(dev, side, cfg) {
            match e.kind() {
                cpal::ErrorKind::DeviceBusy => {
                    report.push("open", Status::Skip, "the device is busy (below)", None);
                    report.push(
                        "busy",
                        Status::Fail,
                        format!("{dev}: {e}"),
                        Some(
                            "another program holds the device: close it (a call, a recorder, a browser tab) and retry",
                        ),
                    );
                }
                cpal::ErrorKind::PermissionDenied => report.push(
                    "open",
                    Status::Fail,
                    format!("{dev}: {e}"),
                    Some(
                        "allow this program to use the microphone and sound device (privacy settings; Linux: the \
                         audio group or the sound server's access rules)",
                    ),
                ),
                _ => report.push("open", Status::Fail, format!("{dev}: {}", soundcard::explain(&e)), None),
            }
            report.skip_rest("the device cannot be opened");
            return report;
        }
    }
    report.push("open", Status::Ok, "both open for playback and recording", None);
    report.push("busy", Status::Ok, "no other program holds them", None);

    // 4. A recording: the test tone played while recording.
    let routing = Routing {
        drivers: HashMap::from([(
            "doctor".to_string(),
            DriverDevices { output: opts.output.clone(), input: opts.input.clone() },
        )]),
        couplers: opts.input.clone(),
        mouth: opts.output.clone(),
    };
    let mut endpoint = LiveEndpoint::new(SoundCards::default(), routing);
    let request = CaptureRequest {
        path: PathSpec {
            driver: "doctor".into(),
            port: "jack".into(),
            adapter: "direct".into(),
            headset: "loopback".into(),
        },
        direction: Direction::Loopback,
        stimulus: Stimulus::Sine { freq_hz: TONE_HZ, level_dbfs: TONE_DBFS, seconds: TONE_S },
        drive: Some(Drive::Left),
        rate_hz: opts.rate_hz,
        format: SampleFormat::F32,
        tail_s: 0.2,
    };
    let take = match endpoint.capture(&request) {
        Ok(t) => t,
        Err(e) => {
            report.push("signal", Status::Fail, format!("could not record: {e}"), None);
            report.skip_rest("nothing was recorded");
            return report;
        }
    };
    report.measured.stream_events = take.events.clone();
    report.measured.latency_ms = take.latency_s.map(|s| s * 1e3);
    let samples = take.audio.channels.first().map(Vec::as_slice).unwrap_or_default();
    let rms = (samples.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / samples.len().max(1) as f64).sqrt();
    report.measured.input_rms_dbfs = Some(db(rms));
    let analysis = analyze(&mut take.audio.source(), &AnalyzeOptions { freq_hz: None, silence: false }).ok();
    let tone = analysis.as_ref().and_then(|a| a.channels.first()).filter(|c| c.tone_present);
    report.measured.tone_frequency_hz = tone.and_then(|c| c.frequency_hz);
    report.measured.tone_level_dbfs = tone.and_then(|c| c.level_dbfs);
    if samples.iter().all(|v| *v == 0.0) {
        report.push(
            "signal",
            Status::Fail,
            format!("{} delivers digital silence: every sample is exactly zero", opts.input),
            Some(
                "the input is muted, blocked by a privacy setting, or the wrong endpoint: unmute it (PulseAudio: \
                 pactl set-source-mute SOURCE 0; ALSA: the capture switch in alsamixer), allow microphone access, \
                 and choose the input the headset is on",
            ),
        );
    } else if db(rms) < DEAD_INPUT_DBFS {
        report.push(
            "signal",
            Status::Warn,
            format!("the recording is far too low: {:.1} dBFS rms", db(rms)),
            Some("raise the input gain (capture volume) and check the microphone is the one recorded"),
        );
    } else if take.glitched {
        report.push(
            "signal",
            Status::Warn,
            format!(
                "the input delivers sound ({:.1} dBFS rms), but the stream glitched on each of {} takes: {}",
                db(rms),
                1 + crate::rig::live::RETAKES,
                take.events.join("; ")
            ),
            Some(
                "buffer underruns or overruns: close CPU-heavy programs, raise the sound server's buffer or latency, \
                 disable power saving for the audio or USB device, and update the audio driver",
            ),
        );
    } else {
        report.push("signal", Status::Ok, format!("the input delivers sound ({:.1} dBFS rms)", db(rms)), None);
    }

    // 5. The rate and format in force, and the rate the input really runs at.
    let before = endpoint.duplex().clock();
    std::thread::sleep(std::time::Duration::from_millis(1_000));
    let real = endpoint.duplex().clock().zip(before).and_then(|(b, a)| b.rate_since(a));
    report.measured.real_rate_hz = real;
    let nominal = f64::from(out_cfg.rate_hz);
    let tone_error = report.measured.tone_frequency_hz.map(|f| f / TONE_HZ - 1.0);
    let formats = format!(
        "{} Hz, output {}, input {}",
        out_cfg.rate_hz,
        report.measured.output_format.as_deref().unwrap_or("?"),
        report.measured.input_format.as_deref().unwrap_or("?")
    );
    match (real, tone_error) {
        (Some(r), _) if (r / nominal - 1.0).abs() > CLOCK_ERROR_MAX => report.push(
            "format",
            Status::Fail,
            format!("{formats}, but the input delivers {r:.0} frames a second"),
            Some("the driver resamples or runs another rate than it says: set the device's rate in the sound server"),
        ),
        (_, Some(e)) if opts.loopback && e.abs() > RATE_ERROR_MAX => report.push(
            "format",
            Status::Fail,
            format!(
                "{formats}, but the tone came back {:+.2} % off in frequency (playback and recording clocks differ)",
                100.0 * e
            ),
            Some("play and record at one rate: set both devices to it (a 44.1 vs 48 kHz mix-up is typical)"),
        ),
        _ if out_cfg.rate_hz != opts.rate_hz => report.push(
            "format",
            Status::Warn,
            format!("{formats}: the device does not offer the {} Hz asked for", opts.rate_hz),
            Some("use the rate the device offers, or let the sound server resample"),
        ),
        _ => report.push(
            "format",
            Status::Ok,
            match real {
                Some(r) => format!("{formats}; the input delivers {r:.0} frames a second"),
                None => formats,
            },
            None,
        ),
    }

    // 6. The round trip through a loopback plug.
    if !opts.loopback {
        report.push("loopback", Status::Skip, "not asked for (--no-loopback)", None);
        return report;
    }
    let Some(tone) = tone else {
        report.push(
            "loopback",
            Status::Fail,
            format!("the {TONE_HZ:.0} Hz tone played on {} did not come back on {}", opts.output, opts.input),
            Some(
                "put the loopback plug in the jack; unmute the output and input; check the jack with a known-good plug",
            ),
        );
        return report;
    };
    let level = tone.level_dbfs.unwrap_or(crate::analysis::DB_FLOOR);
    let gain = level - TONE_DBFS;
    report.measured.loop_gain_db = Some(gain);
    let (lo, hi) = match opts.loop_gain_db {
        Some(g) => (g - LOOP_GAIN_TOLERANCE_DB, g + LOOP_GAIN_TOLERANCE_DB),
        None => LOOP_GAIN_ANY_DB,
    };
    let rate = f64::from(take.audio.rate_hz);
    let spread = level_spread_db(samples, rate, crate::rig::live::LEAD_S);
    report.measured.level_spread_db = spread;
    let latency = report.measured.latency_ms.map_or("not measured".to_string(), |l| format!("{l:.1} ms"));
    let what = format!(
        "{:.2} Hz at {level:.2} dBFS: round-trip gain {gain:+.2} dB (expected {lo:+.0} to {hi:+.0} dB), level steady to {:.2} dB, latency {latency}",
        tone.frequency_hz.unwrap_or(0.0),
        spread.unwrap_or(f64::NAN)
    );
    if !(lo..=hi).contains(&gain) {
        report.push(
            "loopback",
            Status::Fail,
            what,
            Some("the round trip's level is wrong: check the output volume and input gain, then the jack's contacts"),
        );
    } else if spread.is_some_and(|s| s > LEVEL_SPREAD_MAX_DB) {
        report.push(
            "loopback",
            Status::Warn,
            what,
            Some("the level wanders: a loose plug or a worn contact; reseat the plug and repeat"),
        );
    } else {
        report.push("loopback", Status::Ok, what, None);
    }
    report
}

/// The spread (max − min, dB) of the tone's rms over four equal parts of its middle 80 %,
/// the tone starting `lead_s` into the capture.
fn level_spread_db(samples: &[f32], rate: f64, lead_s: f64) -> Option<f64> {
    let start = ((lead_s + 0.1 * TONE_S) * rate) as usize;
    let len = (0.8 * TONE_S * rate) as usize / 4;
    let levels: Vec<f64> = (0..4)
        .filter_map(|k| samples.get(start + k * len..start + (k + 1) * len))
        .map(|part| db((part.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / part.len().max(1) as f64).sqrt()))
        .collect();
    (levels.len() == 4)
        .then(|| levels.iter().cloned().fold(f64::MIN, f64::max) - levels.iter().cloned().fold(f64::MAX, f64::min))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_tone_has_no_spread_and_a_step_is_measured() {
        let rate = 48_000.0;
        let lead = 0.1;
        let mut x: Vec<f32> = (0..(1.4 * rate) as usize)
            .map(|n| {
                let t = n as f64 / rate - lead;
                if (0.0..TONE_S).contains(&t) {
                    (0.25 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as f32
                } else {
                    0.0
                }
            })
            .collect();
        let flat = level_spread_db(&x, rate, lead).unwrap();
        assert!(flat < 0.01, "{flat} dB");
        // The last quarter 6.02 dB down (half the amplitude).
        let from = ((lead + 0.1 + 0.6) * rate) as usize;
        for v in &mut x[from..] {
            *v *= 0.5;
        }
        let step = level_spread_db(&x, rate, lead).unwrap();
        assert!((step - 6.02).abs() < 0.05, "{step} dB");
    }

    #[test]
    fn a_failed_check_fails_the_report_and_warnings_do_not() {
        let mut r = DoctorReport {
            format: DOCTOR_FORMAT,
            output: "o".into(),
            input: "i".into(),
            checks: vec![],
            measured: Measured::default(),
        };
        r.push("device", Status::Warn, "not the default", None);
        assert_eq!(r.exit_code(), 0);
        r.push("open", Status::Fail, "denied", None);
        r.skip_rest("the device cannot be opened");
        assert_eq!(r.exit_code(), 1);
        let ids: Vec<&str> = r.checks.iter().map(|c| c.id).collect();
        assert_eq!(ids, ["device", "open", "busy", "signal", "format", "loopback"]);
        assert!(r.checks[2..].iter().all(|c| c.status == Status::Skip));
    }
}
