//! The bench's own calibration (`jackbench calibrate --rig RIG --bench`): the gain and noise
//! windows of a working path, measured on the bench's reference paths and dated, in
//! `limits/bench/<rig>.toml`. They replace the windows written by hand in the rig file.
//!
//! # Method
//! 1. **Runs.** The rig's plan runs `runs` times (3 by default) as it stands, each run
//!    diagnosed against the rig's limits with the absolute windows left out (they are what is
//!    being measured): a run that fails leaves the bench uncalibrated, with the fault named.
//! 2. **Reference paths.** Only captures through a reference headset or loopback plug and a
//!    reference adapter count (the golden headset, the loopback plug): the ports and drivers
//!    they pass through are the bench. Per capture: the tone gain of each driven channel
//!    (playback, record and loopback, level less the stimulus's level), and the record noise
//!    floor (dBFS) of the microphone where no room sound disturbed it.
//! 3. **Windows.** Per quantity, over every capture of every run: the mean `m` and standard
//!    deviation `σ`, the window `m ± max(k·σ, floor)`. The gain floor is the rig's
//!    `level_drop_max_db` (spec §3's level fault counted from the window's middle, as the hand-
//!    written windows are), the noise floor [`NOISE_FLOOR_DB`]. The middle is what a working
//!    path of this bench delivers; its spread over runs and ports shows in `σ`.
//!
//! ```toml
//! rig = "qa-bench"
//!
//! [calibration]
//! date = "2026-12-02T07:10:00Z"
//! bench = "bench-3"
//! rig = "qa-bench"
//! runs = 3
//! references = ["golden", "loop-plug"]
//! jackbench = "0.1.0"
//! k = 4.0
//!
//! [limits]
//! playback_gain_db = [-12.1, -0.1]
//! record_gain_db = [-19.0, -7.0]
//! loopback_gain_db = [-26.0, -14.0]
//! record_noise_dbfs = [-88.2, -76.2]
//! ```
//!
//! A rig's `calibration_days` makes `run` and `batch` warn when the bench's calibration is
//! older (or missing).

use crate::capture::{Direction, Limits, LimitsSource};
use crate::diagnosis::{Diagnosis, Verdict};
use crate::lab::calibrate::window;
use crate::lab::model::ModelError;
use crate::rig::RigFile;
use crate::stimulus::Stimulus;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The bench calibrations' directory inside the limits directory.
pub const BENCH_DIR: &str = "bench";

/// The least half-width of the record noise window, dB.
pub const NOISE_FLOOR_DB: f64 = 6.0;

/// Where a bench calibration came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchRecord {
    /// When, RFC 3339.
    pub date: String,
    pub bench: String,
    pub rig: String,
    /// How many times the plan ran.
    pub runs: usize,
    /// The reference components measured (with their serials when known).
    pub references: Vec<String>,
    pub jackbench: String,
    /// Standard deviations from the mean to each window's edge.
    pub k: f64,
}

/// The windows a bench calibration sets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchWindows {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playback_gain_db: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_gain_db: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loopback_gain_db: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_noise_dbfs: Option<[f64; 2]>,
}

impl BenchWindows {
    /// The windows `limits` set.
    pub fn of(limits: &Limits) -> BenchWindows {
        BenchWindows {
            playback_gain_db: limits.playback_gain_db,
            record_gain_db: limits.record_gain_db,
            loopback_gain_db: limits.loopback_gain_db,
            record_noise_dbfs: limits.record_noise_dbfs,
        }
    }

    /// The windows with their names, in file order.
    pub fn named(&self) -> [(&'static str, Option<[f64; 2]>, &'static str); 4] {
        [
            ("playback_gain_db", self.playback_gain_db, "dB"),
            ("record_gain_db", self.record_gain_db, "dB"),
            ("loopback_gain_db", self.loopback_gain_db, "dB"),
            ("record_noise_dbfs", self.record_noise_dbfs, "dBFS"),
        ]
    }
}

/// A bench's calibration as kept in `limits/bench/<rig>.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchCalibration {
    /// The rig's name; must match the file's.
    pub rig: String,
    pub calibration: BenchRecord,
    pub limits: BenchWindows,
    /// Where it was read from.
    #[serde(skip)]
    pub source: PathBuf,
}

/// What one run of the plan measured on the reference paths.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BenchRun {
    pub playback_gain_db: Vec<f64>,
    pub record_gain_db: Vec<f64>,
    pub loopback_gain_db: Vec<f64>,
    pub record_noise_dbfs: Vec<f64>,
}

/// Why a bench calibration was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BenchCalibrationError {
    #[error("{runs} run(s) of the plan; a bench calibration needs at least {min} (--runs)")]
    TooFew { runs: usize, min: usize },
    #[error("run {run} of the plan failed ({what}): mend the bench before calibrating it")]
    Failed { run: usize, what: String },
    #[error("the plan has no capture through a reference headset or loopback plug with a tone: nothing to calibrate")]
    NoReference,
}

/// The rig's limits without the windows a bench calibration measures: what a calibration run
/// is judged against.
pub fn without_windows(limits: &Limits) -> Limits {
    Limits {
        playback_gain_db: None,
        record_gain_db: None,
        loopback_gain_db: None,
        record_noise_dbfs: None,
        ..limits.clone()
    }
}

/// The reference paths' values of one diagnosed run (`run` counts from 1, for errors);
/// `references` are the ids of the bench's reference components.
pub fn bench_run(d: &Diagnosis, references: &[&str], run: usize) -> Result<BenchRun, BenchCalibrationError> {
    if d.verdict != Verdict::Pass {
        let what: Vec<String> = d.faults.iter().map(|f| format!("{} on {}", f.code, f.component)).collect();
        return Err(BenchCalibrationError::Failed { run, what: what.join(", ") });
    }
    let mut out = BenchRun::default();
    let reference = |id: &str| references.contains(&id);
    for m in d.captures.iter().map(|c| &c.measurements) {
        if !(reference(&m.path.headset) && reference(&m.path.adapter)) {
            continue;
        }
        if matches!(m.signal, Stimulus::Sine { .. }) {
            let gains = m.ears.iter().enumerate().filter(|(e, _)| m.driven(*e)).filter_map(|(_, x)| x.gain_db);
            match m.direction {
                Direction::Playback => out.playback_gain_db.extend(gains),
                Direction::Record => out.record_gain_db.extend(gains),
                Direction::Loopback => out.loopback_gain_db.extend(gains),
            }
        }
        // A sweep's noise comes from the quiet beside it, which in a sequence is a gap's
        // width: the silences and the tones' residuals measure it.
        if m.direction == Direction::Record && matches!(m.signal, Stimulus::Sine { .. } | Stimulus::Silence { .. }) {
            let floor = m.ears.first().filter(|x| !x.disturbed()).map(|x| x.noise_floor_dbfs);
            out.record_noise_dbfs.extend(floor.filter(|f| *f > crate::analysis::DB_FLOOR));
        }
    }
    Ok(out)
}

/// The bench's windows from its runs: `m ± max(k·σ, floor)` per quantity, the gain floor the
/// rig's `level_drop_max_db`.
pub fn derive(
    runs: &[BenchRun],
    base: &Limits,
    k: f64,
    min_runs: usize,
) -> Result<BenchWindows, BenchCalibrationError> {
    if runs.len() < min_runs.max(1) {
        return Err(BenchCalibrationError::TooFew { runs: runs.len(), min: min_runs.max(1) });
    }
    let pooled =
        |f: fn(&BenchRun) -> &Vec<f64>| -> Vec<f64> { runs.iter().flat_map(|r| f(r).iter().copied()).collect() };
    let gain_floor = base.level_drop_max_db;
    let w = BenchWindows {
        playback_gain_db: window(&pooled(|r| &r.playback_gain_db), k, gain_floor),
        record_gain_db: window(&pooled(|r| &r.record_gain_db), k, gain_floor),
        loopback_gain_db: window(&pooled(|r| &r.loopback_gain_db), k, gain_floor),
        record_noise_dbfs: window(&pooled(|r| &r.record_noise_dbfs), k, NOISE_FLOOR_DB),
    };
    if w.playback_gain_db.is_none() && w.record_gain_db.is_none() && w.loopback_gain_db.is_none() {
        return Err(BenchCalibrationError::NoReference);
    }
    Ok(w)
}

/// `dir/bench/<rig>.toml`.
pub fn path_of(dir: &Path, rig: &str) -> PathBuf {
    dir.join(BENCH_DIR).join(format!("{rig}.toml"))
}

impl BenchCalibration {
    /// Reads the calibration of rig `rig` from the limits directory `dir`; `None` when the
    /// bench was never calibrated.
    pub fn load(dir: &Path, rig: &str) -> Result<Option<BenchCalibration>, ModelError> {
        let path = path_of(dir, rig);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(ModelError::Read { path, source }),
        };
        let mut cal = BenchCalibration::parse(&text, &path)?;
        if cal.rig != rig {
            return Err(ModelError::Invalid {
                line: text.lines().position(|l| l.trim_start().starts_with("rig")).map_or(1, |i| i + 1),
                path,
                field: "rig".into(),
                message: format!("says \"{}\", but the file is the calibration of rig \"{rig}\"", cal.rig),
            });
        }
        cal.source = path_of(dir, rig);
        Ok(Some(cal))
    }

    /// Parses a bench calibration's text; `path` is used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<BenchCalibration, ModelError> {
        let mut cal: BenchCalibration = toml::from_str(text)
            .map_err(|e| ModelError::Syntax { path: path.to_path_buf(), message: e.to_string() })?;
        for (key, w, _) in cal.limits.named() {
            if let Some([lo, hi]) = w {
                if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
                    return Err(ModelError::Invalid {
                        path: path.to_path_buf(),
                        line: text.lines().position(|l| l.trim_start().starts_with(key)).map_or(1, |i| i + 1),
                        field: key.into(),
                        message: format!("[{lo}, {hi}] is not a window: the first bound must be lower"),
                    });
                }
            }
        }
        cal.source = path.to_path_buf();
        Ok(cal)
    }

    /// Writes `dir/bench/<rig>.toml` (a temporary file renamed into place), then reads it back.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, ModelError> {
        let path = path_of(dir, &self.rig);
        let parent = dir.join(BENCH_DIR);
        let err = |source| ModelError::Read { path: path.clone(), source };
        std::fs::create_dir_all(&parent).map_err(err)?;
        let body =
            toml::to_string(self).map_err(|e| ModelError::Syntax { path: path.clone(), message: e.to_string() })?;
        let text = format!(
            "# The bench's own windows, measured on its reference paths by `jackbench calibrate --bench`\n\
             # ([calibration] says when, where and how); they replace the rig file's windows.\n{body}"
        );
        let tmp = parent.join(format!(".{}.toml.partial", self.rig));
        std::fs::write(&tmp, text).map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
        BenchCalibration::load(dir, &self.rig)?;
        Ok(path)
    }

    /// `base` with this calibration's windows laid over it.
    pub fn limits(&self, base: &Limits) -> Limits {
        let w = &self.limits;
        Limits {
            playback_gain_db: w.playback_gain_db.or(base.playback_gain_db),
            record_gain_db: w.record_gain_db.or(base.record_gain_db),
            loopback_gain_db: w.loopback_gain_db.or(base.loopback_gain_db),
            record_noise_dbfs: w.record_noise_dbfs.or(base.record_noise_dbfs),
            ..base.clone()
        }
    }

    /// How many days old the calibration is at `now` (`None` when its date does not read).
    pub fn age_days(&self, now: std::time::SystemTime) -> Option<f64> {
        let date = humantime::parse_rfc3339_weak(&self.calibration.date).ok()?;
        Some(now.duration_since(date).map_or(0.0, |d| d.as_secs_f64() / 86_400.0))
    }
}

/// The rig with its bench calibration from the limits directory `dir` laid over its limits,
/// and its limits' source naming both; the calibration, when there is one.
pub fn calibrated_rig(mut rig: RigFile, dir: &Path) -> Result<(RigFile, Option<BenchCalibration>), ModelError> {
    let cal = BenchCalibration::load(dir, &rig.name)?;
    if let Some(c) = &cal {
        rig.limits = c.limits(&rig.limits);
    }
    let mut source = rig.limits.source.take().unwrap_or_else(|| LimitsSource::file(rig.source.display().to_string()));
    source.bench_calibration = cal.as_ref().map(|c| c.source.display().to_string());
    source.bench_calibrated = cal.as_ref().map(|c| c.calibration.date.clone());
    rig.limits.source = Some(source);
    Ok((rig, cal))
}

/// A warning when the rig asks for a calibration every `calibration_days` and its bench's is
/// older, or missing.
pub fn age_warning(rig: &RigFile, cal: Option<&BenchCalibration>, now: std::time::SystemTime) -> Option<String> {
    let days = rig.calibration_days?;
    match cal {
        None => Some(format!(
            "rig {} asks for a bench calibration every {days} days and has none: its gain and noise windows are \
             the rig file's (jackbench calibrate --rig {} --bench)",
            rig.name,
            crate::lab::shell_word(&rig.source.display().to_string())
        )),
        Some(c) => {
            let age = c.age_days(now)?;
            (age > f64::from(days)).then(|| {
                format!(
                    "{}: the bench was calibrated {age:.0} days ago, longer than the {days} days rig {} allows: \
                     calibrate it again (jackbench calibrate --rig {} --bench)",
                    c.source.display(),
                    rig.name,
                    crate::lab::shell_word(&rig.source.display().to_string())
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &[f64], r: &[f64], l: &[f64], n: &[f64]) -> BenchRun {
        BenchRun {
            playback_gain_db: p.to_vec(),
            record_gain_db: r.to_vec(),
            loopback_gain_db: l.to_vec(),
            record_noise_dbfs: n.to_vec(),
        }
    }

    #[test]
    fn windows_are_the_mean_plus_minus_k_sigma_or_the_floor() {
        let base = Limits::default(); // level_drop_max_db 6
                                      // Tight values: the floors set the half-widths.
        let runs = [run(&[-6.0, -6.2], &[-13.0], &[-20.0], &[-82.0]), run(&[-5.8, -6.0], &[-13.0], &[-20.0], &[-82.0])];
        let w = derive(&runs, &base, 4.0, 2).unwrap();
        assert_eq!(w.playback_gain_db, Some([-12.0, 0.0]));
        assert_eq!(w.record_gain_db, Some([-19.0, -7.0]));
        assert_eq!(w.loopback_gain_db, Some([-26.0, -14.0]));
        assert_eq!(w.record_noise_dbfs, Some([-88.0, -76.0]));
        // A wide spread: k·σ sets it. Values 0, 4: mean 2, σ = 2√2, 4σ = 11.31.
        let runs = [run(&[0.0], &[], &[], &[]), run(&[4.0], &[], &[], &[])];
        let w = derive(&runs, &base, 4.0, 2).unwrap();
        assert_eq!(w.playback_gain_db, Some([-9.31, 13.31]));
        assert_eq!((w.record_gain_db, w.record_noise_dbfs), (None, None));
    }

    #[test]
    fn too_few_runs_or_no_reference_path_is_refused() {
        let base = Limits::default();
        let one = [run(&[-6.0], &[], &[], &[])];
        assert_eq!(derive(&one, &base, 4.0, 3), Err(BenchCalibrationError::TooFew { runs: 1, min: 3 }));
        let none = [run(&[], &[], &[], &[-80.0]), run(&[], &[], &[], &[-80.0])];
        assert_eq!(derive(&none, &base, 4.0, 2), Err(BenchCalibrationError::NoReference));
    }

    #[test]
    fn a_calibration_file_round_trips_lies_over_the_rig_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let cal = BenchCalibration {
            rig: "qa-bench".into(),
            calibration: BenchRecord {
                date: "2026-12-02T07:00:00Z".into(),
                bench: "bench-3".into(),
                rig: "qa-bench".into(),
                runs: 3,
                references: vec!["golden".into(), "loop-plug".into()],
                jackbench: "0.1.0".into(),
                k: 4.0,
            },
            limits: BenchWindows { loopback_gain_db: Some([-25.0, -13.0]), ..Default::default() },
            source: PathBuf::new(),
        };
        let path = cal.write(dir.path()).unwrap();
        assert_eq!(path, dir.path().join("bench/qa-bench.toml"));
        let back = BenchCalibration::load(dir.path(), "qa-bench").unwrap().unwrap();
        assert_eq!(back.limits, cal.limits);
        assert_eq!(back.calibration, cal.calibration);
        assert!(BenchCalibration::load(dir.path(), "other").unwrap().is_none());
        let base =
            Limits { loopback_gain_db: Some([-19.0, -7.0]), record_gain_db: Some([-1.0, 1.0]), ..Limits::default() };
        let l = back.limits(&base);
        assert_eq!((l.loopback_gain_db, l.record_gain_db), (Some([-25.0, -13.0]), Some([-1.0, 1.0])));
        let day = std::time::Duration::from_secs(86_400);
        let then = humantime::parse_rfc3339("2026-12-02T07:00:00Z").unwrap();
        let age = back.age_days(then + 3 * day).unwrap();
        assert!((age - 3.0).abs() < 1e-9, "{age}");
        // A reversed window names the file, the line and the field; a wrong rig name too.
        let text = std::fs::read_to_string(&path).unwrap();
        let bad = text.replace("[-25.0, -13.0]", "[-13.0, -25.0]");
        let e = BenchCalibration::parse(&bad, &path).unwrap_err().to_string();
        assert!(e.contains("qa-bench.toml:") && e.contains("loopback_gain_db"), "{e}");
        std::fs::write(&path, text.replace("rig = \"qa-bench\"\n", "rig = \"other\"\n")).unwrap();
        let e = BenchCalibration::load(dir.path(), "qa-bench").unwrap_err().to_string();
        assert!(e.contains("rig") && e.contains("other"), "{e}");
    }
}
