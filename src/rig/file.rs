//! Rig files (`rigs/*.toml`): a bench's components, how they are switched, the test plan and the
//! limits in force. Errors name the file, the line and the field.
//!
//! ```toml
//! name = "qa-bench"
//! rate_hz = 48000            # capture rate
//! format = "s24"             # WAV format of the captures
//!
//! [switch]
//! kind = "virtual"           # virtual | manual | relay
//!
//! [audio]                    # real rigs: who plays and records (default kind: virtual)
//! kind = "cpal"              # virtual | cpal
//! host = "alsa"              # the cpal host of every device named here (platform default)
//! couplers = "default"       # input recording the ear couplers (left, right): playback paths
//! mouth = "default"          # output driving the mouth simulator: record paths
//!
//! [[component]]
//! id = "hda"
//! kind = "driver"            # driver | port | adapter | headset | loopback
//! reference = false
//! device = "default"         # its sound device for output and input (cpal rigs)
//!
//! [[stimulus]]               # as in a capture set's manifest
//! id = "tone-1k"
//! kind = "sine"
//! freq_hz = 1000.0
//! level_dbfs = -12.0
//! seconds = 0.25
//!
//! [[plan.path]]              # every path to test, with the directions it supports
//! driver = "hda"
//! port = "front-jack"
//! adapter = "direct"
//! headset = "golden"
//! directions = ["playback", "record"]
//!
//! [[plan.capture]]           # made on every path that supports its direction
//! direction = "playback"
//! stimulus = "tone-1k"
//! drive = "left"
//!
//! [limits]                   # see capture::Limits; defaults where not given
//! thd_max_percent = 1.0
//! ```

use crate::capture::manifest::{Component, ComponentKind, Direction, Drive, PathSpec, StimulusEntry};
use crate::capture::Limits;
use crate::capture::SampleFormat;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// How a rig's connections are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwitchKind {
    /// The virtual bench: no hardware.
    #[default]
    Virtual,
    /// An operator plugs each connection when prompted.
    Manual,
    /// The Arduino relay board.
    Relay,
}

/// `[guard]`: what the bench does with a capture that room sound disturbed.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSpec {
    /// How many times a disturbed capture is made again before it is kept as it is.
    #[serde(default = "default_repeats")]
    pub repeats: u32,
    /// With a reference microphone (`[audio] reference_mic`): how far over its own quiet floor
    /// the room must sound during a capture to disturb it, dB.
    #[serde(default = "default_reference_over_db")]
    pub reference_over_db: f64,
}

impl Default for GuardSpec {
    fn default() -> GuardSpec {
        GuardSpec { repeats: default_repeats(), reference_over_db: default_reference_over_db() }
    }
}

fn default_reference_over_db() -> f64 {
    20.0
}

fn default_repeats() -> u32 {
    2
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchSpec {
    #[serde(default)]
    pub kind: SwitchKind,
    /// Relay board: serial port (found by USB id when absent).
    #[serde(default)]
    pub port: Option<String>,
    /// Relay board: the relays' settle time, ms (break-before-make waits it twice).
    #[serde(default = "default_settle_ms")]
    pub settle_ms: u32,
    /// Relay board: every relay opens after this long without a command, s (0: never).
    #[serde(default = "default_idle_off_s")]
    pub idle_off_s: u32,
    /// Relay board: how long its auto-reset takes after the port is opened, ms.
    #[serde(default = "default_boot_wait_ms")]
    pub boot_wait_ms: u32,
    /// The board's meter reads each headset's plug before the audio plan (the electrical stage).
    /// A relay rig: by default when the board says it has one; `true` makes a board without one
    /// an error, `false` skips the stage. The virtual bench: `true` models the meter.
    #[serde(default)]
    pub meter: Option<bool>,
}

impl Default for SwitchSpec {
    fn default() -> Self {
        SwitchSpec {
            kind: SwitchKind::default(),
            port: None,
            settle_ms: default_settle_ms(),
            idle_off_s: default_idle_off_s(),
            boot_wait_ms: default_boot_wait_ms(),
            meter: None,
        }
    }
}

fn default_settle_ms() -> u32 {
    20
}
fn default_idle_off_s() -> u32 {
    60
}
fn default_boot_wait_ms() -> u32 {
    2_500
}

/// Who makes the sound of a rig.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudioKind {
    /// The virtual bench's physical model.
    #[default]
    Virtual,
    /// Real sound cards through cpal.
    Cpal,
}

/// The rig's audio devices beyond its drivers: the bench's own measuring devices.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioSpec {
    #[serde(default)]
    pub kind: AudioKind,
    /// The cpal host of the devices named here and of drivers that name none.
    #[serde(default)]
    pub host: Option<String>,
    /// The input that records the ear couplers: left ear on its first channel, right on its second.
    #[serde(default)]
    pub couplers: Option<Spanned<String>>,
    /// The output that drives the mouth simulator (its first channel).
    #[serde(default)]
    pub mouth: Option<Spanned<String>>,
    /// A reference microphone outside the fixture that hears the room (its first channel): the
    /// ambient-noise guard makes a capture again when it heard a burst. On the virtual bench any
    /// name gives the simulated one.
    #[serde(default)]
    pub reference_mic: Option<Spanned<String>>,
}

/// A component of the bench.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RigComponent {
    pub id: Spanned<String>,
    pub kind: ComponentKind,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub reference: bool,
    #[serde(default)]
    pub serial: Option<String>,
    /// Headsets: the product model (units of one model are voiced alike; the diagnosis compares
    /// responses at the full mask only between headsets of one model).
    #[serde(default)]
    pub model: Option<String>,
    /// Drivers on real rigs: the audio host and device.
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub device: Option<String>,
    /// Relay rigs: the relays (1..=16) that put this component in the path.
    #[serde(default)]
    pub relays: Option<Spanned<Vec<u32>>>,
    /// Drivers: the clock the device runs on. `own` (the default): a crystal of its own, tens to
    /// a couple of hundred ppm off the bench's, so that what it plays reaches the ear couplers,
    /// and what the mouth simulator plays reaches it, stretched in time (the analysis finds the
    /// stretch from the tones and corrects it). `bench`: the device is the bench's own
    /// interface, the one that records the couplers and drives the mouth simulator, or is locked
    /// to its word clock. The virtual bench draws an own clock within ±200 ppm.
    #[serde(default)]
    pub clock: ClockDomain,
}

/// Which clock a driver's device runs on (see [`RigComponent::clock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockDomain {
    #[default]
    Own,
    Bench,
}

/// A path the plan tests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanPath {
    pub driver: Spanned<String>,
    pub port: Spanned<String>,
    pub adapter: Spanned<String>,
    pub headset: Spanned<String>,
    pub directions: Vec<Direction>,
}

impl PlanPath {
    pub fn spec(&self) -> PathSpec {
        PathSpec {
            driver: self.driver.get_ref().clone(),
            port: self.port.get_ref().clone(),
            adapter: self.adapter.get_ref().clone(),
            headset: self.headset.get_ref().clone(),
        }
    }
}

/// A capture made on every path that supports its direction.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanCapture {
    pub direction: Direction,
    pub stimulus: Spanned<String>,
    #[serde(default)]
    pub drive: Option<Drive>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    #[serde(rename = "path")]
    pub paths: Vec<PlanPath>,
    #[serde(rename = "capture")]
    pub captures: Vec<PlanCapture>,
    /// Record captures run while the same path's playback captures play (separate mouth and
    /// ear channels): the bench time of a path is the longer of the two, not their sum.
    #[serde(default)]
    pub overlap: bool,
}

/// A parsed and checked rig file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RigFile {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "default_rate")]
    pub rate_hz: u32,
    #[serde(default = "default_format")]
    pub format: SampleFormat,
    /// Recorded past each stimulus's end, seconds.
    #[serde(default = "default_tail")]
    pub tail_s: f64,
    #[serde(default)]
    pub switch: SwitchSpec,
    #[serde(default)]
    pub audio: AudioSpec,
    #[serde(rename = "component")]
    pub components: Vec<RigComponent>,
    #[serde(rename = "stimulus")]
    pub stimuli: Vec<StimulusEntry>,
    pub plan: Plan,
    #[serde(default)]
    pub limits: Limits,
    /// The ambient-noise guard.
    #[serde(default)]
    pub guard: GuardSpec,
    /// How many days a product model's calibration (`jackbench calibrate`) holds on this rig:
    /// `batch` warns when the model's limits were calibrated longer ago.
    #[serde(default)]
    pub calibration_days: Option<u32>,
    /// The round trip a capture waits for (output to input, both devices' buffers), seconds: what
    /// the plan's time per unit counts for each capture (a live run measures it: `latency_s` in the
    /// manifest).
    #[serde(default = "default_round_trip")]
    pub round_trip_s: f64,
    /// Where it was read from.
    #[serde(skip)]
    pub source: PathBuf,
}

fn default_rate() -> u32 {
    48_000
}
fn default_format() -> SampleFormat {
    SampleFormat::S24
}
fn default_tail() -> f64 {
    0.2
}
fn default_round_trip() -> f64 {
    0.02
}

/// What one unit costs a rig's plan in bench time (see [`RigFile::bench_time`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchTime {
    /// Takes: captures made one after the other (a playback and a record capture made at once
    /// are one take).
    pub takes: usize,
    /// Stimuli and tails, seconds.
    pub audio_s: f64,
    /// A round trip per capture, seconds.
    pub round_trips_s: f64,
    /// Path changes on a relay board (break-before-make: twice the settle time each), seconds.
    pub switching_s: f64,
    pub switches: usize,
    /// The electrical stage: plugs read by the board's meter, and their time, seconds.
    pub plugs: usize,
    pub electrical_s: f64,
}

/// One plug read by the relay board's meter (`MEASURE ALL`: six pairs, 64 samples each, its
/// route broken and made again), seconds, as the firmware takes in simavr (`cargo bench --bench
/// relay`).
pub const MEASURE_PLUG_S: f64 = 0.25;

impl BenchTime {
    pub fn total_s(&self) -> f64 {
        self.audio_s + self.round_trips_s + self.switching_s + self.electrical_s
    }
}

impl std::fmt::Display for BenchTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} s per unit ({:.2} s of audio in {} take{}, {:.2} s of round trips",
            self.total_s(),
            self.audio_s,
            self.takes,
            if self.takes == 1 { "" } else { "s" },
            self.round_trips_s
        )?;
        if self.switches > 0 {
            let s = if self.switches == 1 { "" } else { "s" };
            write!(f, ", {:.2} s of switching in {} path change{s}", self.switching_s, self.switches)?;
        }
        if self.plugs > 0 {
            let s = if self.plugs == 1 { "" } else { "s" };
            write!(f, ", {:.2} s reading {} plug{s}", self.electrical_s, self.plugs)?;
        }
        write!(f, ")")
    }
}

/// What is wrong with a rig file.
#[derive(Debug, thiserror::Error)]
pub enum RigFileError {
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: no such rig file, and no built-in rig of that name (the built-in rigs: {})", path.display(), built_in_names())]
    Unknown { path: PathBuf },
    #[error("{}: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("{}:{line}: {field}: {message}", path.display())]
    Invalid { path: PathBuf, line: usize, field: String, message: String },
}

/// The rig files shipped in `rigs/`, built in so that `jackbench run` works from anywhere.
pub const BUILT_IN: [(&str, &str); 6] = [
    ("rigs/qa-bench.toml", include_str!("../../rigs/qa-bench.toml")),
    ("rigs/repair-laptop.toml", include_str!("../../rigs/repair-laptop.toml")),
    ("rigs/repair-counter.toml", include_str!("../../rigs/repair-counter.toml")),
    ("rigs/qa-splitter.toml", include_str!("../../rigs/qa-splitter.toml")),
    ("rigs/loopback-check.toml", include_str!("../../rigs/loopback-check.toml")),
    ("rigs/qa-relay.toml", include_str!("../../rigs/qa-relay.toml")),
];

/// A rig file's text, for errors that name its line.
struct Doc<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Doc<'_> {
    /// The line a byte span starts on.
    fn at(&self, span: std::ops::Range<usize>) -> usize {
        self.text.get(..span.start).map_or(1, |t| t.matches('\n').count() + 1)
    }

    /// The first line that starts with `key` (1 when none does).
    fn key(&self, key: &str) -> usize {
        self.text.lines().position(|l| l.trim_start().starts_with(key)).map_or(1, |i| i + 1)
    }

    fn invalid(&self, line: usize, field: String, message: String) -> RigFileError {
        RigFileError::Invalid { path: self.path.to_path_buf(), line, field, message }
    }
}

/// The built-in rigs' names, for messages: "qa-bench, repair-laptop, …".
fn built_in_names() -> String {
    BUILT_IN
        .iter()
        .map(|(name, _)| name.trim_start_matches("rigs/").trim_end_matches(".toml"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl RigFile {
    /// Reads and checks a rig file. A path that does not exist but names a built-in rig
    /// (`qa-bench`, `rigs/qa-bench.toml`) loads the built-in copy.
    pub fn load(path: &Path) -> Result<RigFile, RigFileError> {
        match std::fs::read_to_string(path) {
            Ok(text) => RigFile::parse(&text, path),
            Err(source) => {
                let want = path.to_string_lossy();
                let built_in = BUILT_IN.iter().find(|(name, _)| {
                    *name == want || name.trim_start_matches("rigs/").trim_end_matches(".toml") == want
                });
                match built_in {
                    Some((name, text)) => RigFile::parse(text, Path::new(name)),
                    None if source.kind() == std::io::ErrorKind::NotFound => {
                        Err(RigFileError::Unknown { path: path.to_path_buf() })
                    }
                    None => Err(RigFileError::Read { path: path.to_path_buf(), source }),
                }
            }
        }
    }

    /// Parses rig-file text; `path` is used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<RigFile, RigFileError> {
        let syntax = |e: toml::de::Error| RigFileError::Syntax { path: path.to_path_buf(), message: e.to_string() };
        let mut rig: RigFile = toml::from_str(text).map_err(syntax)?;
        rig.source = path.to_path_buf();
        let raw: toml::Table = toml::from_str(text).map_err(syntax)?;
        if let Some(toml::Value::Array(written)) = raw.get("stimulus") {
            let doc = Doc { text, path };
            for (i, (entry, source)) in rig.stimuli.iter().zip(written).enumerate() {
                if let Some(key) = entry.unread_key(source) {
                    let name = key.rsplit(['.', ']']).next().unwrap_or(&key).to_string();
                    return Err(doc.invalid(
                        doc.key(&name),
                        format!("stimulus[{i}].{key}"),
                        "unknown key: nothing reads it".to_string(),
                    ));
                }
            }
        }
        rig.check(text)?;
        Ok(rig)
    }

    fn check(&self, text: &str) -> Result<(), RigFileError> {
        let doc = Doc { text, path: &self.source };
        if !(crate::capture::wav::MIN_RATE_HZ..=crate::capture::wav::MAX_RATE_HZ).contains(&self.rate_hz) {
            return Err(doc.invalid(
                doc.key("rate_hz"),
                "rate_hz".into(),
                format!("{} Hz is outside 8000..=192000", self.rate_hz),
            ));
        }
        if !(self.tail_s >= 0.2 && self.tail_s <= 10.0) {
            return Err(doc.invalid(
                doc.key("tail_s"),
                "tail_s".into(),
                "must be from 0.2 to 10 seconds (the contract asks ≥ 0.2 s)".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.round_trip_s) {
            return Err(doc.invalid(
                doc.key("round_trip_s"),
                "round_trip_s".into(),
                format!("{} s is outside 0..=1 s", self.round_trip_s),
            ));
        }
        self.limits.validate().map_err(|e| {
            let key = e.field.split('[').next().and_then(|k| k.rsplit('.').next()).unwrap_or(&e.field);
            doc.invalid(doc.key(key), format!("limits.{}", e.field), e.message)
        })?;
        if !(self.guard.reference_over_db > 0.0 && self.guard.reference_over_db.is_finite()) {
            return Err(doc.invalid(
                doc.key("reference_over_db"),
                "guard.reference_over_db".into(),
                format!("{} must be a positive number of dB", self.guard.reference_over_db),
            ));
        }
        let mut kinds: HashMap<&str, ComponentKind> = HashMap::new();
        for (i, c) in self.components.iter().enumerate() {
            let id = c.id.get_ref();
            let line = doc.at(c.id.span());
            if id.is_empty() || !id.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-')) {
                return Err(doc.invalid(
                    line,
                    format!("component[{i}].id"),
                    format!("\"{id}\" must be [A-Za-z0-9_.-]+"),
                ));
            }
            if kinds.insert(id, c.kind).is_some() {
                return Err(doc.invalid(line, format!("component[{i}].id"), format!("\"{id}\" is defined twice")));
            }
        }
        let mut stimuli = HashMap::new();
        for (i, s) in self.stimuli.iter().enumerate() {
            let line = text.match_indices(&format!("\"{}\"", s.id)).next().map_or(1, |(at, _)| doc.at(at..at));
            if stimuli.insert(s.id.as_str(), &s.signal).is_some() {
                return Err(doc.invalid(line, format!("stimulus[{i}].id"), format!("\"{}\" is defined twice", s.id)));
            }
            s.signal.validate(self.rate_hz).map_err(|e| doc.invalid(line, format!("stimulus[{i}]"), e.to_string()))?;
        }
        if self.plan.paths.is_empty() {
            return Err(doc.invalid(doc.key("[[plan"), "plan.path".into(), "the plan has no paths".into()));
        }
        for (i, p) in self.plan.paths.iter().enumerate() {
            let loopback = p.directions.contains(&Direction::Loopback);
            if loopback && p.directions.len() > 1 {
                return Err(doc.invalid(
                    doc.at(p.headset.span()),
                    format!("plan.path[{i}].directions"),
                    "a loopback path (a loopback plug in the headset slot) has only the loopback direction".into(),
                ));
            }
            if p.directions.is_empty() {
                return Err(doc.invalid(
                    doc.at(p.driver.span()),
                    format!("plan.path[{i}].directions"),
                    "is empty".into(),
                ));
            }
            let slots = [
                ("driver", &p.driver, ComponentKind::Driver),
                ("port", &p.port, ComponentKind::Port),
                ("adapter", &p.adapter, ComponentKind::Adapter),
                ("headset", &p.headset, if loopback { ComponentKind::Loopback } else { ComponentKind::Headset }),
            ];
            for (slot, id, want) in slots {
                let field = format!("plan.path[{i}].{slot}");
                match kinds.get(id.get_ref().as_str()) {
                    None => {
                        return Err(doc.invalid(
                            doc.at(id.span()),
                            field,
                            format!("\"{}\" is not a [[component]] id", id.get_ref()),
                        ))
                    }
                    Some(k) if *k != want => {
                        return Err(doc.invalid(
                            doc.at(id.span()),
                            field,
                            format!("\"{}\" is a {k}, not a {want}", id.get_ref()),
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        for (i, c) in self.plan.captures.iter().enumerate() {
            let line = doc.at(c.stimulus.span());
            if !stimuli.contains_key(c.stimulus.get_ref().as_str()) {
                return Err(doc.invalid(
                    line,
                    format!("plan.capture[{i}].stimulus"),
                    format!("\"{}\" is not a [[stimulus]] id", c.stimulus.get_ref()),
                ));
            }
            match (c.direction, c.drive) {
                (Direction::Record, Some(_)) => {
                    return Err(doc.invalid(
                        line,
                        format!("plan.capture[{i}].drive"),
                        "a record capture has no drive".into(),
                    ))
                }
                (Direction::Playback | Direction::Loopback, None) => {
                    return Err(doc.invalid(
                        line,
                        format!("plan.capture[{i}].drive"),
                        "needs left, right or both".into(),
                    ))
                }
                _ => {}
            }
        }
        if self.audio.kind == AudioKind::Cpal {
            self.check_devices(text)?;
        }
        if self.switch.kind == SwitchKind::Relay {
            self.check_relays(text)?;
        }
        if self.switch.kind == SwitchKind::Manual && self.switch.meter == Some(true) {
            let doc = Doc { text, path: &self.source };
            return Err(doc.invalid(
                doc.key("meter"),
                "switch.meter".into(),
                "an operator's hands have no meter: the relay board's reads the plug (kind = \"relay\")".into(),
            ));
        }
        Ok(())
    }

    /// Relay numbers are the board's (1..=16), and no two paths close the same relays (the
    /// board could not tell them apart).
    fn check_relays(&self, text: &str) -> Result<(), RigFileError> {
        let doc = Doc { text, path: &self.source };
        if !(0..=1_000).contains(&self.switch.settle_ms) {
            return Err(doc.invalid(doc.key("settle_ms"), "switch.settle_ms".into(), "must be 0 to 1000 ms".into()));
        }
        if self.switch.idle_off_s > 3_600 {
            return Err(doc.invalid(
                doc.key("idle_off_s"),
                "switch.idle_off_s".into(),
                "must be 0 (never) to 3600 s".into(),
            ));
        }
        for (i, c) in self.components.iter().enumerate() {
            let Some(relays) = &c.relays else { continue };
            if let Some(bad) = relays.get_ref().iter().find(|r| !(1..=16).contains(*r)) {
                return Err(doc.invalid(
                    doc.at(relays.span()),
                    format!("component[{i}].relays"),
                    format!("relay {bad} is not on the board (1..=16)"),
                ));
            }
        }
        let masks = self.relay_masks();
        let mut seen: HashMap<u16, usize> = HashMap::new();
        for (i, p) in self.plan.paths.iter().enumerate() {
            let mask = p.spec().ids().iter().filter_map(|id| masks.get(*id)).fold(0u16, |m, r| m | r);
            if let Some(first) = seen.insert(mask, i) {
                return Err(doc.invalid(
                    doc.at(p.driver.span()),
                    format!("plan.path[{i}]"),
                    format!(
                        "closes the same relays as plan.path[{first}] (mask 0x{mask:04x}): give its parts their own relays"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether the plan records through component `id` (a headset with a microphone).
    pub fn records_through(&self, id: &str) -> bool {
        self.plan.paths.iter().any(|p| {
            p.spec().ids().contains(&id) && p.directions.iter().any(|d| *d != crate::capture::Direction::Playback)
        })
    }

    /// The headsets whose plugs the electrical stage measures: those under test (not reference
    /// parts) that a path of the plan uses.
    pub fn plugs_to_measure(&self) -> Vec<&str> {
        self.components
            .iter()
            .filter(|c| c.kind == crate::capture::ComponentKind::Headset && !c.reference)
            .map(|c| c.id.get_ref().as_str())
            .filter(|id| self.plan.paths.iter().any(|p| p.headset.get_ref() == id))
            .collect()
    }

    /// Component id → the relay mask it closes (bit k − 1 for relay k).
    pub fn relay_masks(&self) -> HashMap<String, u16> {
        self.components
            .iter()
            .map(|c| {
                let relays = c.relays.as_ref().map_or(&[][..], |r| r.get_ref().as_slice());
                let mask = relays.iter().filter(|r| (1..=16).contains(*r)).fold(0u16, |m, r| m | 1 << (r - 1));
                (c.id.get_ref().clone(), mask)
            })
            .collect()
    }

    /// A cpal rig names a device for every driver its plan uses, the couplers when it plays to
    /// headsets and the mouth when it records from them.
    fn check_devices(&self, text: &str) -> Result<(), RigFileError> {
        let doc = Doc { text, path: &self.source };
        if self.switch.kind == SwitchKind::Virtual {
            return Err(doc.invalid(
                doc.key("kind"),
                "switch.kind".into(),
                "real sound cards need a real switch matrix: \"manual\" (an operator plugs) or \"relay\"".into(),
            ));
        }
        for (i, p) in self.plan.paths.iter().enumerate() {
            let driver = self.component(p.driver.get_ref());
            if driver.and_then(|c| c.device.as_ref()).is_none() {
                return Err(doc.invalid(
                    doc.at(p.driver.span()),
                    format!("plan.path[{i}].driver"),
                    format!(
                        "\"{}\" names no device (add device = \"…\" to it; `jackbench devices` lists them)",
                        p.driver.get_ref()
                    ),
                ));
            }
            let needs = [
                (
                    Direction::Playback,
                    &self.audio.couplers,
                    "audio.couplers",
                    "the input that records the ear couplers",
                ),
                (Direction::Record, &self.audio.mouth, "audio.mouth", "the output that drives the mouth simulator"),
            ];
            for (direction, device, field, what) in needs {
                if p.directions.contains(&direction) && device.is_none() {
                    return Err(doc.invalid(
                        doc.key("[audio]"),
                        field.into(),
                        format!("plan.path[{i}] has {} captures: name {what}", direction.name()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Where each direction's sound goes on a cpal rig (see [`super::live`]). Devices that are
    /// not needed by the plan default to the host's default device.
    pub fn routing(&self) -> super::live::Routing {
        use super::live::{DeviceRef, DriverDevices, Routing};
        let host = self.audio.host.as_deref();
        let named = |d: &Option<Spanned<String>>| DeviceRef::new(host, d.as_ref().map_or("default", |d| d.get_ref()));
        let drivers = self
            .components
            .iter()
            .filter(|c| c.kind == ComponentKind::Driver)
            .filter_map(|c| {
                let dev = DeviceRef::new(c.host.as_deref().or(host), c.device.as_ref()?);
                Some((c.id.get_ref().clone(), DriverDevices { output: dev.clone(), input: dev }))
            })
            .collect();
        Routing { drivers, couplers: named(&self.audio.couplers), mouth: named(&self.audio.mouth) }
    }

    /// The components as a capture set's manifest lists them.
    pub fn manifest_components(&self) -> Vec<Component> {
        // Spec §2: every component that appears in a path (and only those: a part in the
        // manifest is a part under test, which the diagnosis asks to see measured).
        let paths: Vec<PathSpec> = self.plan.paths.iter().map(|p| p.spec()).collect();
        self.components
            .iter()
            .filter(|c| paths.iter().any(|p| p.ids().contains(&c.id.get_ref().as_str())))
            .map(|c| Component {
                id: c.id.get_ref().clone(),
                kind: c.kind,
                label: c.label.clone(),
                reference: c.reference,
                serial: c.serial.clone(),
                model: c.model.clone(),
            })
            .collect()
    }

    pub fn component(&self, id: &str) -> Option<&RigComponent> {
        self.components.iter().find(|c| c.id.get_ref() == id)
    }

    /// The captures of the plan in the order they are made: path by path, each path's captures
    /// of the directions it supports.
    pub fn schedule(&self) -> Vec<(PathSpec, &PlanCapture)> {
        let mut out = Vec::new();
        for p in &self.plan.paths {
            for c in self.plan.captures.iter().filter(|c| p.directions.contains(&c.direction)) {
                out.push((p.spec(), c));
            }
        }
        out
    }

    /// The plan's bench time per unit. Each capture costs its stimulus, the tail and a round trip
    /// (`round_trip_s`); a path's record captures play under its playback captures when the plan
    /// overlaps them (separate ear and mouth transducers: the longer of the two counts); each
    /// change of path on a relay board costs twice its settle time (break before make).
    pub fn bench_time(&self) -> BenchTime {
        self.bench_time_on(true)
    }

    /// The takes that make the [`RigFile::schedule`], as indices into it, in order: one capture
    /// per take, or, on an endpoint that overlaps when the plan asks for it, a path's k-th record
    /// capture in the take of its k-th playback capture (the ears and the microphone measured at
    /// once; the record captures left over are takes of their own, where the first would have
    /// been).
    pub fn takes(&self, overlaps: bool) -> Vec<Vec<usize>> {
        let schedule = self.schedule();
        let mut takes: Vec<Vec<usize>> = Vec::new();
        let mut i = 0;
        while i < schedule.len() {
            let path = &schedule[i].0;
            let end = schedule[i..].iter().position(|(p, _)| p != path).map_or(schedule.len(), |n| i + n);
            let schedule = &schedule;
            let of = |d: Direction| (i..end).filter(move |&k| schedule[k].1.direction == d);
            if self.plan.overlap && overlaps {
                let (plays, records): (Vec<usize>, Vec<usize>) =
                    (of(Direction::Playback).collect(), of(Direction::Record).collect());
                for (k, (_, capture)) in schedule.iter().enumerate().take(end).skip(i) {
                    match capture.direction {
                        Direction::Playback => {
                            let n = plays.iter().position(|&p| p == k);
                            takes.push(std::iter::once(k).chain(n.and_then(|n| records.get(n).copied())).collect());
                        }
                        Direction::Record => {
                            if records.iter().position(|&r| r == k).unwrap_or(0) >= plays.len() {
                                takes.push(vec![k]);
                            }
                        }
                        Direction::Loopback => takes.push(vec![k]),
                    }
                }
            } else {
                takes.extend((i..end).map(|k| vec![k]));
            }
            i = end;
        }
        takes
    }

    /// [`RigFile::bench_time`] on an endpoint that overlaps a path's record and playback
    /// captures when the plan asks for it (`overlaps`), or makes them one after the other.
    pub fn bench_time_on(&self, overlaps: bool) -> BenchTime {
        let schedule = self.schedule();
        let secs = |c: &PlanCapture| {
            self.stimuli.iter().find(|s| &s.id == c.stimulus.get_ref()).map_or(0.0, |s| s.signal.seconds())
                + self.tail_s
        };
        // A real board's meter takes its time; the virtual bench's model of it none.
        let metered = self.switch.kind == SwitchKind::Relay && self.switch.meter != Some(false);
        let plugs = if metered { self.plugs_to_measure().len() } else { 0 };
        let mut t = BenchTime {
            takes: 0,
            audio_s: 0.0,
            round_trips_s: 0.0,
            switching_s: 0.0,
            switches: 0,
            plugs,
            electrical_s: plugs as f64 * MEASURE_PLUG_S,
        };
        let mut last: Option<&PathSpec> = None;
        for take in self.takes(overlaps) {
            let Some(&first) = take.first() else { continue };
            let path = &schedule[first].0;
            if last != Some(path) && self.switch.kind == SwitchKind::Relay {
                t.switches += 1;
                t.switching_s += 2.0 * f64::from(self.switch.settle_ms) / 1000.0;
            }
            last = Some(path);
            t.takes += 1;
            t.audio_s += take.iter().map(|&k| secs(schedule[k].1)).fold(0.0, f64::max);
            t.round_trips_s += self.round_trip_s;
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_rigs_parse_and_their_plans_fit_in_ten_seconds() {
        // Issue 15's targets: seconds per unit, relay switching included.
        let targets = [("qa-bench", 3.0), ("qa-relay", 3.5), ("repair-laptop", 4.0), ("qa-splitter", 4.0)];
        for (name, text) in BUILT_IN {
            let rig = RigFile::parse(text, Path::new(name)).unwrap_or_else(|e| panic!("{e}"));
            assert!(!rig.schedule().is_empty(), "{name}");
            assert!(rig.bench_time().total_s() < 10.0, "{name}: {}", rig.bench_time());
            if let Some((_, target)) = targets.iter().find(|(t, _)| rig.name == *t) {
                assert!(rig.bench_time().total_s() <= *target, "{name}: {}", rig.bench_time());
            }
        }
        // qa-relay: 3 paths of one playback sequence (two 0.08 s tones, a 0.4 s sweep, a 0.03 s
        // silence, 3 gaps of 0.02 s; a 0.2 s tail) over one record sequence each, and a loopback
        // sequence (0.08 + 0.02 + 0.03 s, its tail); 4 round trips of 20 ms (the record takes
        // overlap); 4 path changes of two 20 ms settles.
        let (name, text) = BUILT_IN.iter().find(|(n, _)| n.contains("qa-relay")).expect("qa-relay");
        let t = RigFile::parse(text, Path::new(name)).expect("parsed").bench_time();
        let audio = 3.0 * (0.65 + 0.2) + (0.13 + 0.2);
        assert!((t.audio_s - audio).abs() < 1e-9, "{t}");
        assert_eq!((t.takes, t.switches), (4, 4), "{t}");
        assert!((t.round_trips_s - 0.08).abs() < 1e-9 && (t.switching_s - 0.16).abs() < 1e-9, "{t}");
        // And the DUT's plug read by the board's meter first.
        assert_eq!(t.plugs, 1, "{t}");
        assert!((t.total_s() - (audio + 0.24 + MEASURE_PLUG_S)).abs() < 1e-9, "{t}");
        // On an endpoint that makes the microphone's takes after the ears' (a live bench whose
        // mouth simulator shares a device with the DUT):
        // the record sequences (0.08 + 0.5 + 0.03 s and two gaps) each a take of their own.
        let rig = RigFile::parse(text, Path::new(name)).expect("parsed");
        let one_by_one = rig.bench_time_on(false);
        let audio = 3.0 * (0.65 + 0.2) * 2.0 + (0.13 + 0.2);
        assert!((one_by_one.audio_s - audio).abs() < 1e-9, "{one_by_one}");
        assert_eq!((one_by_one.takes, one_by_one.switches), (7, 4), "{one_by_one}");
    }

    #[test]
    fn overlapping_takes_pair_each_path_s_record_captures_with_its_playback_captures() {
        let (name, text) = BUILT_IN.iter().find(|(n, _)| n.contains("qa-bench")).expect("qa-bench");
        let mut rig = RigFile::parse(text, Path::new(name)).expect("parsed");
        // 3 paths of playback + record, then the loopback path.
        assert_eq!(rig.takes(true), vec![vec![0, 1], vec![2, 3], vec![4, 5], vec![6]]);
        assert_eq!(rig.takes(false), (0..7).map(|k| vec![k]).collect::<Vec<_>>());
        // Two playback captures and one record: the record rides on the first; a second record
        // capture with no playback left is a take of its own, where it comes.
        let play = rig.plan.captures[0].clone();
        let record = rig.plan.captures[1].clone();
        rig.plan.captures = vec![play.clone(), record.clone(), play, record];
        assert_eq!(&rig.takes(true)[..2], &[vec![0, 1], vec![2, 3]]);
        rig.plan.captures.remove(2);
        assert_eq!(&rig.takes(true)[..2], &[vec![0, 1], vec![2]]);
        assert_eq!(rig.takes(true).concat().len(), rig.schedule().len(), "every capture in one take");
        // A plan without `overlap` never pairs.
        rig.plan.overlap = false;
        assert!(rig.takes(true).iter().all(|t| t.len() == 1));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let (name, text) = BUILT_IN[0];
        let cases = [
            (text.replacen("port = \"rear-jack\"", "port = \"side-jack\"", 1), "plan.path["),
            (text.replacen("stimulus = \"ears\"", "stimulus = \"earz\"", 1), "plan.capture["),
            (text.replacen("rate_hz = 48000", "rate_hz = 4000", 1), "rate_hz"),
        ];
        for (bad, field) in cases {
            match RigFile::parse(&bad, Path::new(name)) {
                Err(e @ RigFileError::Invalid { .. }) => {
                    let msg = e.to_string();
                    assert!(msg.starts_with("rigs/qa-bench.toml:") && msg.contains(field), "{msg}");
                    let RigFileError::Invalid { line, .. } = e else { unreachable!() };
                    assert!(line > 1, "{msg}");
                }
                other => panic!("{field}: expected an error, got {other:?}"),
            }
        }
        let e =
            RigFile::parse(&text.replacen("kind = \"driver\"", "kind = \"codec\"", 1), Path::new(name)).unwrap_err();
        assert!(e.to_string().contains("line"), "{e}");
        let e = RigFile::parse(&text.replacen("name = ", "nmae = ", 1), Path::new(name)).unwrap_err();
        assert!(e.to_string().contains("nmae"), "{e}");
    }

    #[test]
    fn a_cpal_rig_names_its_devices_or_says_which_is_missing() {
        let rig = RigFile::load(Path::new("loopback-check")).unwrap();
        assert_eq!((rig.audio.kind, rig.switch.kind), (AudioKind::Cpal, SwitchKind::Manual));
        let routing = rig.routing();
        assert_eq!(routing.drivers["pc"].output, super::super::live::DeviceRef::new(None, "default"));

        // The QA bench on sound cards: its driver names a device, but not its couplers or mouth.
        let (name, text) = BUILT_IN[0];
        // An operator's hands have no meter.
        let manual = text.replacen("kind = \"virtual\"", "kind = \"manual\"", 1);
        let e = RigFile::parse(&manual, Path::new(name)).unwrap_err().to_string();
        assert!(e.contains("switch.meter"), "{e}");
        let text = text.replacen("meter = true", "", 1);
        let real = text.replacen("kind = \"virtual\"", "kind = \"manual\"\n\n[audio]\nkind = \"cpal\"", 1);
        let e = RigFile::parse(&real, Path::new(name)).unwrap_err().to_string();
        assert!(e.contains("audio.couplers") && e.contains("playback"), "{e}");
        let real = real.replacen(
            "kind = \"cpal\"",
            "kind = \"cpal\"\ncouplers = \"hw:2\"\nmouth = \"hw:2\"\nhost = \"alsa\"",
            1,
        );
        let rig = RigFile::parse(&real, Path::new(name)).unwrap_or_else(|e| panic!("{e}"));
        let routing = rig.routing();
        assert_eq!(routing.couplers.to_string(), "alsa:hw:2");
        assert_eq!(routing.drivers["hda"].input.to_string(), "alsa:default");
        // A driver without a device, and sound cards without a switch matrix.
        let e = RigFile::parse(&real.replacen("device = \"default\"", "", 1), Path::new(name)).unwrap_err().to_string();
        assert!(e.contains("plan.path[0].driver") && e.contains("names no device"), "{e}");
        let e = RigFile::parse(&real.replacen("kind = \"manual\"", "kind = \"virtual\"", 1), Path::new(name))
            .unwrap_err()
            .to_string();
        assert!(e.contains("switch.kind"), "{e}");
    }
}
