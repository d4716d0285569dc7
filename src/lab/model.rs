//! Product models and their limits: `limits/<model>.toml`, chosen with `--model`.
//!
//! ```toml
//! model = "hs-200"                      # must match the file's name
//! description = "HS-200 stereo headset"
//!
//! [limits]                              # any limit of capture::Limits; the rest keep the rig's
//! playback_gain_db = [-12.0, 0.0]       # level window, dB
//! record_gain_db = [-19.0, -7.0]        # microphone sensitivity window, dB
//! record_noise_dbfs = [-88.0, -76.0]    # microphone noise window, dBFS
//! thd_max_percent = 1.0
//! imbalance_max_db = 3.0                # balance max, dB
//! response_max_db = 6.0                 # response mask: fall below the golden headset's, dB
//! response_band_hz = [100.0, 10000.0]
//!
//! [limits.golden]                       # written by `jackbench calibrate` (see lab::calibrate)
//! model = "hs-200"
//! left_response_db = [[20.0, -1.7, 1.3], …]     # [Hz, low dB, high dB] of the response's shape
//! left_rub_buzz_db = [[63.5, -52.0], …]         # [Hz, highest peak ratio dB]
//!
//! [calibration]                         # where calibrated limits came from
//! date = "2026-12-01T22:09:02Z"
//! bench = "bench-3"
//! rig = "qa-bench"
//! serials = ["G-001", …]
//! jackbench = "0.1.0"
//! k = 4.0
//! ```
//!
//! Errors name the file, the line and the field.

use crate::capture::Limits;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The directory of limits files, relative to the lab directory.
pub const LIMITS_DIR: &str = "limits";

/// Where a model's calibrated limits came from (`jackbench calibrate`), kept in its file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationRecord {
    /// When, RFC 3339.
    pub date: String,
    pub bench: String,
    pub rig: String,
    /// The golden units' serials.
    pub serials: Vec<String>,
    pub jackbench: String,
    /// Standard deviations from the mean to each limit.
    pub k: f64,
}

/// A product model and the limits its units are judged against.
#[derive(Debug, Clone)]
pub struct ProductModel {
    pub model: String,
    pub description: Option<String>,
    /// Set when the limits were measured on golden units.
    pub calibration: Option<CalibrationRecord>,
    /// Where it was read from.
    pub source: PathBuf,
    /// The `[limits]` keys the file sets.
    overrides: toml::Table,
}

/// What is wrong with a limits file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("no limits for model \"{model}\": {} does not exist (models there: {available})", path.display())]
    NotFound { model: String, path: PathBuf, available: String },
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("{}:{line}: {field}: {message}", path.display())]
    Invalid { path: PathBuf, line: usize, field: String, message: String },
}

/// The file as typed: checks every key and value (with toml's line numbers).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Typed {
    model: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    calibration: Option<CalibrationRecord>,
    #[serde(default)]
    limits: Limits,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl ProductModel {
    /// Reads `dir/<model>.toml`.
    pub fn load(dir: &Path, model: &str) -> Result<ProductModel, ModelError> {
        let path = dir.join(format!("{model}.toml"));
        if !valid_name(model) || !path.exists() {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter_map(|e| {
                            let p = e.path();
                            (p.extension().is_some_and(|x| x == "toml"))
                                .then(|| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                                .flatten()
                        })
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            let available = if names.is_empty() { "none".to_string() } else { names.join(", ") };
            return Err(ModelError::NotFound { model: model.to_string(), path, available });
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Read { path: path.clone(), source })?;
        let m = ProductModel::parse(&text, &path)?;
        if m.model != model {
            return Err(ModelError::Invalid {
                path,
                line: line_of(&text, "model"),
                field: "model".into(),
                message: format!("says \"{}\", but the file is the limits of \"{model}\"", m.model),
            });
        }
        Ok(m)
    }

    /// Parses limits-file text; `path` is used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<ProductModel, ModelError> {
        let syntax = |e: toml::de::Error| ModelError::Syntax { path: path.to_path_buf(), message: e.to_string() };
        let typed: Typed = toml::from_str(text).map_err(syntax)?;
        let mut raw: toml::Table = toml::from_str(text).map_err(syntax)?;
        let invalid = |key: &str, message: String| ModelError::Invalid {
            path: path.to_path_buf(),
            line: line_of(text, key),
            field: key.to_string(),
            message,
        };
        if !valid_name(&typed.model) {
            return Err(invalid("model", format!("\"{}\" must be [A-Za-z0-9_.-]+", typed.model)));
        }
        typed.limits.validate().map_err(|e| {
            // The line of the key itself: `left_response_db` of `golden.left_response_db[3]`.
            let key = e.field.split('[').next().and_then(|k| k.rsplit('.').next()).unwrap_or(&e.field);
            ModelError::Invalid {
                path: path.to_path_buf(),
                line: line_of(text, key),
                field: e.field,
                message: e.message,
            }
        })?;
        let overrides = match raw.remove("limits") {
            Some(toml::Value::Table(t)) => t,
            _ => toml::Table::new(),
        };
        Ok(ProductModel {
            model: typed.model,
            description: typed.description,
            calibration: typed.calibration,
            source: path.to_path_buf(),
            overrides,
        })
    }

    /// Where limits from this file come from, for the manifest, the report and the database.
    pub fn limits_source(&self) -> crate::capture::LimitsSource {
        crate::capture::LimitsSource {
            file: self.source.display().to_string(),
            model: Some(self.model.clone()),
            calibrated: self.calibration.as_ref().map(|c| c.date.clone()),
            calibration_bench: self.calibration.as_ref().map(|c| c.bench.clone()),
            golden_units: self.calibration.as_ref().map(|c| c.serials.len()),
            bench_calibration: None,
            bench_calibrated: None,
        }
    }

    /// How many days old the calibration is at `now`; `None` for limits never calibrated (or a
    /// date that does not read).
    pub fn calibration_age_days(&self, now: std::time::SystemTime) -> Option<f64> {
        let date = humantime::parse_rfc3339_weak(&self.calibration.as_ref()?.date).ok()?;
        Some(now.duration_since(date).map_or(0.0, |d| d.as_secs_f64() / 86_400.0))
    }

    /// The rig's limits with this model's laid over them.
    pub fn limits(&self, base: &Limits) -> Limits {
        let mut table = toml::Table::try_from(base).unwrap_or_default();
        for (k, v) in &self.overrides {
            table.insert(k.clone(), v.clone());
        }
        // Every key was checked by parse(); the merge of two valid tables is valid.
        toml::Value::Table(table).try_into().unwrap_or_else(|_| base.clone())
    }
}

/// Writes `dir/<model>.toml` with calibrated `limits` and where they came from. The keys a
/// calibration sets (`playback_gain_db`, `record_gain_db`, `golden`) are
/// replaced; the file's other limits and its description are kept. Written to a temporary file
/// and renamed, then read back. Returns the path.
pub fn write_calibrated(
    dir: &Path,
    model: &str,
    limits: &Limits,
    record: &CalibrationRecord,
) -> Result<PathBuf, ModelError> {
    let path = dir.join(format!("{model}.toml"));
    let syntax = |message: String| ModelError::Syntax { path: path.clone(), message };
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Read { path: dir.to_path_buf(), source })?;
    let mut doc: toml::Table = match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|e: toml::de::Error| syntax(e.to_string()))?,
        Err(_) => toml::Table::new(),
    };
    doc.insert("model".into(), toml::Value::String(model.to_string()));
    let record = toml::Value::try_from(record).map_err(|e| syntax(e.to_string()))?;
    doc.insert("calibration".into(), record);
    let mut table = match doc.remove("limits") {
        Some(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    };
    let all = toml::Table::try_from(limits).map_err(|e| syntax(e.to_string()))?;
    for key in ["playback_gain_db", "record_gain_db", "golden"] {
        match all.get(key) {
            Some(v) => table.insert(key.to_string(), v.clone()),
            None => table.remove(key),
        };
    }
    doc.insert("limits".into(), toml::Value::Table(table));
    let body = toml::to_string(&doc).map_err(|e| syntax(e.to_string()))?;
    let text = format!(
        "# Limits of {model}. [limits.golden] and the windows were measured on golden units by\n\
         # `jackbench calibrate` ([calibration] says when, where and on which units); the other\n\
         # limits are kept from before.\n{body}"
    );
    let tmp = dir.join(format!(".{model}.toml.partial"));
    let write_err = |source| ModelError::Read { path: path.clone(), source };
    std::fs::write(&tmp, text).map_err(write_err)?;
    std::fs::rename(&tmp, &path).map_err(write_err)?;
    ProductModel::load(dir, model)?;
    Ok(path)
}

/// The line a key is first set on (1 when not found).
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.starts_with(key) && t[key.len()..].trim_start().starts_with('=')
        })
        .map_or(1, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_limits() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(LIMITS_DIR)
    }

    #[test]
    fn a_model_s_limits_lie_over_the_rig_s() {
        let m = ProductModel::load(&repo_limits(), "hs-100").unwrap();
        let base = Limits { level_drop_max_db: 5.0, loopback_gain_db: Some([-19.0, -7.0]), ..Limits::default() };
        let l = m.limits(&base);
        assert_eq!(l.thd_max_percent, 3.0);
        assert_eq!(l.playback_gain_db, Some([-13.0, 1.0]));
        assert_eq!(l.response_band_hz, [150.0, 8000.0]);
        // Not in the file: the rig's.
        assert_eq!((l.level_drop_max_db, l.loopback_gain_db), (5.0, Some([-19.0, -7.0])));
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_field() {
        let path = Path::new("limits/x.toml");
        let good = std::fs::read_to_string(repo_limits().join("hs-200.toml")).unwrap();
        let cases = [
            (good.replace("thd_max_percent = 1.0", "thd_max_percnt = 1.0"), "thd_max_percnt"),
            (good.replace("thd_max_percent = 1.0", "thd_max_percent = \"low\""), "line"),
            (good.replace("record_gain_db = [-19.0, -7.0]", "record_gain_db = [-7.0, -19.0]"), ":11: record_gain_db"),
            (good.replace("imbalance_max_db = 3.0", "imbalance_max_db = -3.0"), ":17: imbalance_max_db"),
            (good.replace("model = \"hs-200\"", "model = \"hs 200\""), ":4: model"),
        ];
        for (text, want) in cases {
            let e = ProductModel::parse(&text, path).unwrap_err().to_string();
            assert!(e.starts_with("limits/x.toml") && e.contains(want), "{want}: {e}");
        }
        let e = ProductModel::load(&repo_limits(), "hs-999").unwrap_err().to_string();
        assert!(e.contains("hs-999") && e.contains("hs-100, hs-200"), "{e}");
        let e = ProductModel::load(&repo_limits(), "../hs-200").unwrap_err().to_string();
        assert!(e.contains("no limits"), "{e}");
    }
}
