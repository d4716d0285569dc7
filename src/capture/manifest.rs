//! The capture-set manifest, `capture-set.toml` (spec §1–2): the components of a bench, the
//! stimuli played, and one entry per capture with its direction, drive and path.
//!
//! [`CaptureSet::load`] parses and checks a set against the contract; every error names the
//! manifest (and the line, for syntax errors) and the field, e.g. `capture[3].path.port`.
//! [`Manifest::write`] writes atomically (temporary file, then rename), so a crash mid-write
//! leaves the previous manifest, never half of one.

use crate::stimulus::Stimulus;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The `format` tag this version reads and writes.
pub const CAPTURE_SET_FORMAT: &str = "jackbench-capture-set/1";
/// The manifest's file name inside a capture-set directory.
pub const MANIFEST_FILE: &str = "capture-set.toml";

/// What a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    Driver,
    Port,
    Adapter,
    Headset,
    /// Bench equipment in the headset slot of loopback paths; carries no fault in v1.
    Loopback,
}

impl ComponentKind {
    pub fn name(self) -> &'static str {
        match self {
            ComponentKind::Driver => "driver",
            ComponentKind::Port => "port",
            ComponentKind::Adapter => "adapter",
            ComponentKind::Headset => "headset",
            ComponentKind::Loopback => "loopback",
        }
    }
}

impl std::fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One `[[component]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub id: String,
    pub kind: ComponentKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A known-good (golden) part of the bench.
    #[serde(default)]
    pub reference: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Headsets (a jackbench extension of the contract): the product model. Headsets of one
    /// model are compared at the full response mask; others only by what no healthy headset
    /// shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// One `[[stimulus]]`: an id and the signal (its `kind` and parameters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StimulusEntry {
    pub id: String,
    #[serde(flatten)]
    pub signal: Stimulus,
}

impl StimulusEntry {
    /// The first key of `source` (this entry's table as written) that parsing did not read, as
    /// a path (`segment[2].freq`): a key that does not come back when the entry is written again
    /// was ignored (serde cannot refuse unknown keys of a flattened, tagged enum itself).
    pub fn unread_key(&self, source: &toml::Value) -> Option<String> {
        let written = toml::Value::try_from(self).ok()?;
        unread(source, &written, String::new())
    }
}

fn unread(source: &toml::Value, written: &toml::Value, at: String) -> Option<String> {
    match (source, written) {
        (toml::Value::Table(a), toml::Value::Table(b)) => a.iter().find_map(|(k, v)| {
            let here = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
            match b.get(k) {
                None => Some(here),
                Some(w) => unread(v, w, here),
            }
        }),
        (toml::Value::Array(a), toml::Value::Array(b)) => {
            a.iter().zip(b).enumerate().find_map(|(i, (v, w))| unread(v, w, format!("{at}[{i}]")))
        }
        _ => None,
    }
}

/// Which way the signal goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The driver plays; the bench's ear couplers record the headset's speakers (two channels).
    Playback,
    /// The bench's mouth simulator plays into the headset microphone; the driver records.
    Record,
    /// A loopback plug routes the port's left output into its microphone contact.
    Loopback,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Playback => "playback",
            Direction::Record => "record",
            Direction::Loopback => "loopback",
        }
    }
}

/// Which output channels the driver plays on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Drive {
    Left,
    Right,
    Both,
}

impl Drive {
    pub fn name(self) -> &'static str {
        match self {
            Drive::Left => "left",
            Drive::Right => "right",
            Drive::Both => "both",
        }
    }
}

/// The components a capture's signal passes through.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathSpec {
    pub driver: String,
    pub port: String,
    pub adapter: String,
    /// A headset, or a loopback plug for loopback captures.
    pub headset: String,
}

impl PathSpec {
    /// The four component ids, driver first.
    pub fn ids(&self) -> [&str; 4] {
        [&self.driver, &self.port, &self.adapter, &self.headset]
    }
}

impl std::fmt::Display for PathSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} → {} → {} → {}", self.driver, self.port, self.adapter, self.headset)
    }
}

/// One `[[capture]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureEntry {
    /// The WAV file, relative to the set's directory.
    pub file: String,
    pub direction: Direction,
    /// The id of a `[[stimulus]]`.
    pub stimulus: String,
    /// Playback and loopback only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drive: Option<Drive>,
    pub path: PathSpec,
    /// Extension: the latency measured when the capture was made, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_s: Option<f64>,
    /// Extension: stream problems seen while capturing (underruns, overruns, errors).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stream_events: Vec<String>,
    /// Extension: how many times the bench made this capture again because room sound disturbed
    /// it (the ambient-noise guard); the file is the last take.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub repeats: u32,
    /// Extension: the room sound the last take still carries, in words, when the guard ran out
    /// of repeats (the diagnosis weighs it only for what room sound cannot cause).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_sound: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The whole manifest. A key jackbench does not know is an error naming it (a mistyped optional
/// key would otherwise be ignored without a word); extensions are added here, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<String>,
    /// Extension: the rig file the set was made with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rig: Option<String>,
    /// Extension: the limits in force when the set was made (diagnosis uses them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<super::Limits>,
    #[serde(rename = "component", default)]
    pub components: Vec<Component>,
    #[serde(rename = "stimulus", default)]
    pub stimuli: Vec<StimulusEntry>,
    #[serde(rename = "capture", default)]
    pub captures: Vec<CaptureEntry>,
    /// Extension: plugs measured electrically (`jackbench plug`, a relay board with a meter).
    #[serde(rename = "plug", default, skip_serializing_if = "Vec::is_empty")]
    pub plugs: Vec<PlugEntry>,
    /// Extension: the captures of the plan not made (yet). A run writes its whole plan here
    /// before the first take and moves each capture to `capture` as it is made, so a set that a
    /// stop, a crash or a full disk cut short says what it lacks (the diagnosis lists them as
    /// missing: spec §4, v1.2).
    #[serde(rename = "pending", default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<CaptureEntry>,
    /// Extension: why the run stopped before the end of its plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// One `[[plug]]` (extension): a headset's plug, each pair of its contacts read by the meter:
/// `ohms = { T-R1 = 63.6, T-R2 = 31.9, …, R2-S = "open" }` (ohms, `"open"` or `"short"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlugEntry {
    pub component: String,
    pub ohms: std::collections::BTreeMap<String, PlugValue>,
}

/// A pair's value in a `[[plug]]`: ohms, or a word.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PlugValue {
    Ohms(f64),
    Word(String),
}

impl PlugEntry {
    /// The entry of a component's readings.
    pub fn new(component: &str, readings: &crate::capture::plug::PlugReadings) -> PlugEntry {
        use crate::capture::plug::Reading;
        let ohms = readings
            .pairs
            .iter()
            .map(|p| {
                let v = match p.reading {
                    Reading::Ohms(r) => PlugValue::Ohms(r),
                    Reading::Open => PlugValue::Word("open".into()),
                    Reading::Short => PlugValue::Word("short".into()),
                };
                (format!("{}-{}", p.a, p.b), v)
            })
            .collect();
        PlugEntry { component: component.to_string(), ohms }
    }

    /// The readings, or the key whose pair or value is not one.
    pub fn readings(&self) -> Result<crate::capture::plug::PlugReadings, (String, String)> {
        use crate::capture::plug::{Contact, PairReading, PlugReadings, Reading};
        let mut pairs: Vec<PairReading> = Vec::new();
        for (key, value) in &self.ohms {
            let bad = |what: &str| (key.clone(), format!("\"{key}\": {what}"));
            let (a, b) = Contact::pair(key).ok_or_else(|| bad("not a pair of two of T R1 R2 S"))?;
            let reading = match value {
                PlugValue::Ohms(r) if r.is_finite() && *r >= 0.0 => Reading::Ohms(*r),
                PlugValue::Word(w) if w == "open" => Reading::Open,
                PlugValue::Word(w) if w == "short" => Reading::Short,
                _ => return Err(bad("ohms (≥ 0), \"open\" or \"short\"")),
            };
            if pairs.iter().any(|p| (p.a, p.b) == (a, b) || (p.a, p.b) == (b, a)) {
                return Err(bad("given twice (in either order)"));
            }
            pairs.push(PairReading { a, b, reading });
        }
        Ok(PlugReadings { pairs })
    }
}

/// Why a capture set cannot be used; each names the manifest and what in it is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: not a capture set (it has no {MANIFEST_FILE})", dir.display())]
    NotASet { dir: PathBuf },
    #[error("{}: a batch folder, not a capture set: each unit's capture set is in its serial's folder underneath (e.g. {})", dir.display(), example.display())]
    BatchFolder { dir: PathBuf, example: PathBuf },
    #[error("{}: a folder of capture sets, not a capture set: give one of them (e.g. {})", dir.display(), example.display())]
    SetsFolder { dir: PathBuf, example: PathBuf },
    #[error("{}: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("{}: {field}: {message}", path.display())]
    Invalid { path: PathBuf, field: String, message: String },
    #[error("{}: cannot write: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    File(#[from] super::file::FileKindError),
}

/// A manifest that passed every check, with the directory its files are relative to.
#[derive(Debug, Clone)]
pub struct CaptureSet {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl Manifest {
    /// An empty manifest of the current format.
    pub fn new(bench: Option<String>) -> Manifest {
        Manifest {
            format: CAPTURE_SET_FORMAT.to_string(),
            created: None,
            bench,
            rig: None,
            limits: None,
            components: Vec::new(),
            stimuli: Vec::new(),
            captures: Vec::new(),
            plugs: Vec::new(),
            pending: Vec::new(),
            stopped: None,
        }
    }

    pub fn component(&self, id: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.id == id)
    }

    pub fn stimulus(&self, id: &str) -> Option<&StimulusEntry> {
        self.stimuli.iter().find(|s| s.id == id)
    }

    /// Parses manifest text; `path` is only used in errors. A key jackbench does not read is an
    /// error naming it.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let syntax = |e: toml::de::Error| ManifestError::Syntax { path: path.to_path_buf(), message: e.to_string() };
        let m: Manifest = toml::from_str(text).map_err(syntax)?;
        let raw: toml::Table = toml::from_str(text).map_err(syntax)?;
        if let Some(toml::Value::Array(written)) = raw.get("stimulus") {
            for (i, (entry, source)) in m.stimuli.iter().zip(written).enumerate() {
                if let Some(key) = entry.unread_key(source) {
                    return Err(ManifestError::Invalid {
                        path: path.to_path_buf(),
                        field: format!("stimulus[{i}].{key}"),
                        message: format!("unknown key in stimulus \"{}\": nothing reads it", entry.id),
                    });
                }
            }
        }
        Ok(m)
    }

    /// Checks the manifest against the contract (files are not opened here).
    pub fn validate(&self, path: &Path) -> Result<(), ManifestError> {
        let invalid =
            |field: String, message: String| ManifestError::Invalid { path: path.to_path_buf(), field, message };
        if self.format != CAPTURE_SET_FORMAT {
            return Err(invalid("format".into(), format!("\"{}\" is not \"{CAPTURE_SET_FORMAT}\"", self.format)));
        }
        if let Some(l) = &self.limits {
            l.validate().map_err(|e| invalid(format!("limits.{}", e.field), e.message))?;
        }
        let mut kinds: HashMap<&str, ComponentKind> = HashMap::new();
        for (i, c) in self.components.iter().enumerate() {
            if !valid_id(&c.id) {
                return Err(invalid(format!("component[{i}].id"), format!("\"{}\" must be [A-Za-z0-9_.-]+", c.id)));
            }
            if kinds.insert(&c.id, c.kind).is_some() {
                return Err(invalid(format!("component[{i}].id"), format!("\"{}\" is defined twice", c.id)));
            }
        }
        let mut stimuli: HashMap<&str, &Stimulus> = HashMap::new();
        for (i, s) in self.stimuli.iter().enumerate() {
            if !valid_id(&s.id) {
                return Err(invalid(format!("stimulus[{i}].id"), format!("\"{}\" must be [A-Za-z0-9_.-]+", s.id)));
            }
            if stimuli.insert(&s.id, &s.signal).is_some() {
                return Err(invalid(format!("stimulus[{i}].id"), format!("\"{}\" is defined twice", s.id)));
            }
            // Rates are per capture; check what holds at any rate (192 kHz: the widest band).
            s.signal
                .validate(crate::capture::wav::MAX_RATE_HZ)
                .map_err(|e| invalid(format!("stimulus[{i}]"), e.to_string()))?;
        }
        let planned = self.captures.iter().enumerate().map(|(i, c)| ("capture", i, c));
        for (table, i, c) in planned.chain(self.pending.iter().enumerate().map(|(i, c)| ("pending", i, c))) {
            let at = |field: &str| format!("{table}[{i}].{field} (file \"{}\")", c.file);
            if c.file.is_empty() || Path::new(&c.file).is_absolute() || c.file.split(['/', '\\']).any(|p| p == "..") {
                return Err(invalid(at("file"), "must be a relative path inside the set".into()));
            }
            if !stimuli.contains_key(c.stimulus.as_str()) {
                return Err(invalid(at("stimulus"), format!("\"{}\" is not a [[stimulus]] id", c.stimulus)));
            }
            let slots: [(&str, &str, &[ComponentKind]); 4] = [
                ("path.driver", &c.path.driver, &[ComponentKind::Driver]),
                ("path.port", &c.path.port, &[ComponentKind::Port]),
                ("path.adapter", &c.path.adapter, &[ComponentKind::Adapter]),
                (
                    "path.headset",
                    &c.path.headset,
                    if c.direction == Direction::Loopback {
                        &[ComponentKind::Loopback]
                    } else {
                        &[ComponentKind::Headset]
                    },
                ),
            ];
            for (field, id, allowed) in slots {
                match kinds.get(id) {
                    None => return Err(invalid(at(field), format!("\"{id}\" is not a [[component]] id"))),
                    Some(k) if !allowed.contains(k) => {
                        let want: Vec<&str> = allowed.iter().map(|k| k.name()).collect();
                        return Err(invalid(
                            at(field),
                            format!(
                                "\"{id}\" is a {k}, but a {} capture needs a {} here",
                                c.direction.name(),
                                want.join(" or ")
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
            if c.direction != Direction::Record && c.drive.is_none() {
                return Err(invalid(
                    at("drive"),
                    format!("a {} capture needs drive = left, right or both", c.direction.name()),
                ));
            }
        }
        for (i, plug) in self.plugs.iter().enumerate() {
            match kinds.get(plug.component.as_str()) {
                Some(ComponentKind::Headset) => {}
                Some(k) => {
                    return Err(invalid(
                        format!("plug[{i}].component"),
                        format!("\"{}\" is a {k}; a plug measured is a headset's", plug.component),
                    ))
                }
                None => {
                    return Err(invalid(
                        format!("plug[{i}].component"),
                        format!("\"{}\" is not a [[component]] id", plug.component),
                    ))
                }
            }
            plug.readings().map_err(|(key, message)| invalid(format!("plug[{i}].ohms.{key}"), message))?;
        }
        Ok(())
    }

    /// Writes the manifest into `dir` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let text = toml::to_string_pretty(self)
            .map_err(|e| ManifestError::Write { path: path.clone(), source: std::io::Error::other(e.to_string()) })?;
        let tmp = dir.join(format!(".{MANIFEST_FILE}.partial"));
        let write = || -> std::io::Result<()> {
            std::fs::write(&tmp, text.as_bytes())?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|source| ManifestError::Write { path: path.clone(), source })
    }
}

impl CaptureSet {
    /// Reads and checks `dir/capture-set.toml` (a regular file of at most
    /// [`super::file::MAX_TEXT_BYTES`]). The captures' files are opened when they are measured.
    pub fn load(dir: &Path) -> Result<CaptureSet, ManifestError> {
        use super::file::{regular_file, FileKindError, MAX_TEXT_BYTES};
        let path = dir.join(MANIFEST_FILE);
        // A FIFO or a device is refused before it is opened: reading one would wait forever or
        // never end.
        match regular_file(&path, MAX_TEXT_BYTES, "manifest") {
            Ok(_) | Err(FileKindError::Missing(_)) => {}
            Err(e) => return Err(ManifestError::File(e)),
        }
        let text = std::fs::read_to_string(&path).map_err(|source| {
            if source.kind() != std::io::ErrorKind::NotFound || !dir.is_dir() {
                return ManifestError::Read { path: path.clone(), source };
            }
            // A folder of capture sets (a batch's): name one of them.
            let mut sets: Vec<PathBuf> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join(MANIFEST_FILE).is_file())
                .collect();
            sets.sort();
            // A batch writes its settings beside its units' sets (lab::batch::BATCH_FILE).
            let batch = dir.join("batch.toml").is_file();
            match sets.into_iter().next() {
                Some(example) if batch => ManifestError::BatchFolder { dir: dir.to_path_buf(), example },
                Some(example) => ManifestError::SetsFolder { dir: dir.to_path_buf(), example },
                None => ManifestError::NotASet { dir: dir.to_path_buf() },
            }
        })?;
        let manifest = Manifest::parse(&text, &path)?;
        manifest.validate(&path)?;
        // A capture's file that is missing or is no WAV is not the manifest's fault: the
        // diagnosis lists it as missing, with why, and measures the others.
        Ok(CaptureSet { dir: dir.to_path_buf(), manifest })
    }

    /// The absolute path of a capture's WAV file.
    pub fn wav_path(&self, capture: &CaptureEntry) -> PathBuf {
        self.dir.join(&capture.file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
format = "jackbench-capture-set/1"
bench = "t"

[[component]]
id = "hda"
kind = "driver"

[[component]]
id = "jack"
kind = "port"

[[component]]
id = "direct"
kind = "adapter"
reference = true

[[component]]
id = "hs"
kind = "headset"
serial = "HS-1"

[[stimulus]]
id = "tone"
kind = "sine"
freq_hz = 1000.0
level_dbfs = -12.0
seconds = 0.5

[[capture]]
file = "captures/a.wav"
direction = "playback"
stimulus = "tone"
drive = "both"
path = { driver = "hda", port = "jack", adapter = "direct", headset = "hs" }
"#;

    fn check(text: &str) -> Result<Manifest, ManifestError> {
        let p = Path::new("set/capture-set.toml");
        let m = Manifest::parse(text, p)?;
        m.validate(p)?;
        Ok(m)
    }

    #[test]
    fn a_good_manifest_parses_and_round_trips() {
        let m = check(GOOD).expect("valid");
        assert_eq!(m.components.len(), 4);
        assert_eq!(
            m.stimulus("tone").map(|s| &s.signal),
            Some(&Stimulus::Sine { freq_hz: 1000.0, level_dbfs: -12.0, seconds: 0.5 })
        );
        assert_eq!(m.captures[0].drive, Some(Drive::Both));
        let text = toml::to_string_pretty(&m).expect("serialises");
        assert_eq!(check(&text).expect("still valid"), m);
    }

    #[test]
    fn a_plug_s_readings_round_trip_through_the_manifest() {
        use crate::capture::plug::{Contact, PairReading, PlugReadings, Reading};
        let readings = PlugReadings {
            pairs: vec![
                PairReading { a: Contact::T, b: Contact::R2, reading: Reading::Ohms(31.9) },
                PairReading { a: Contact::R1, b: Contact::R2, reading: Reading::Open },
                PairReading { a: Contact::R2, b: Contact::S, reading: Reading::Short },
            ],
        };
        let mut m = check(GOOD).expect("valid");
        m.plugs.push(PlugEntry::new("hs", &readings));
        let text = toml::to_string_pretty(&m).expect("serialises");
        assert!(text.contains("[[plug]]"), "{text}");
        let back = check(&text).expect("still valid");
        let got = back.plugs[0].readings().expect("readings");
        for p in &readings.pairs {
            assert_eq!(got.between(p.a, p.b), Some(p.reading), "{text}");
        }
    }

    #[test]
    fn every_mistake_names_its_field() {
        let cases = [
            (GOOD.replace("jackbench-capture-set/1", "other/2"), "format"),
            (GOOD.replace("headset = \"hs\" }", "headset = \"nobody\" }"), "capture[0].path.headset"),
            (GOOD.replace("port = \"jack\"", "port = \"hda\""), "capture[0].path.port"),
            (GOOD.replace("stimulus = \"tone\"", "stimulus = \"sweep\""), "capture[0].stimulus"),
            (GOOD.replace("drive = \"both\"\n", ""), "capture[0].drive"),
            (GOOD.replace("id = \"jack\"", "id = \"hda\""), "component[1].id"),
            (GOOD.replace("id = \"hs\"", "id = \"h s\""), "component[3].id"),
            (GOOD.replace("freq_hz = 1000.0", "freq_hz = -5.0"), "stimulus[0]"),
            (GOOD.replace("captures/a.wav", "../a.wav"), "capture[0].file"),
        ];
        let plugged = format!("{GOOD}\n[[plug]]\ncomponent = \"hs\"\nohms = {{ T-R2 = 31.9, R1-R2 = \"open\" }}\n");
        let cases = cases.into_iter().chain([
            (plugged.replace("component = \"hs\"", "component = \"jack\""), "plug[0].component"),
            (plugged.replace("component = \"hs\"", "component = \"nobody\""), "plug[0].component"),
            (plugged.replace("T-R2", "T-X"), "plug[0].ohms.T-X"),
            (plugged.replace("\"open\"", "\"loose\""), "plug[0].ohms.R1-R2"),
            (plugged.replace("31.9", "-4.0"), "plug[0].ohms.T-R2"),
            (plugged.replace("R1-R2 = \"open\"", "R2-T = 3.0"), "plug[0].ohms.T-R2"),
        ]);
        for (text, field) in cases {
            match check(&text) {
                Err(ManifestError::Invalid { field: f, .. }) => assert!(f.starts_with(field), "{f} vs {field}"),
                other => panic!("{field}: expected an error, got {other:?}"),
            }
        }
        match check(&GOOD.replace("kind = \"port\"", "kind = \"socket\"")) {
            Err(e @ ManifestError::Syntax { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("capture-set.toml") && msg.contains("line"), "{msg}");
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }
}
