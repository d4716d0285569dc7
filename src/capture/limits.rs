//! The limits in force: what counts as a fault. The defaults are the fault definitions of spec
//! §3 and a common product limit for THD; a rig file or a capture set's manifest may set its own.
//! Data of the contract (a manifest carries them), so they live here, below the rig files that
//! set them and the diagnosis that applies them.

use serde::{Deserialize, Serialize};

/// Thresholds of the symptom tests. Level and noise limits are relative (a path against its
/// peers in the same set), since absolute gain is unknown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// THD of the stimulus tone, %, above which a speaker or port distorts.
    pub thd_max_percent: f64,
    /// Left/right difference, dB, above which a path is unbalanced.
    pub imbalance_max_db: f64,
    /// How far below its peers a path's level may fall, dB.
    pub level_drop_max_db: f64,
    /// How far above its quietest peer a noise floor may rise, dB.
    pub noise_rise_max_db: f64,
    /// How far mains hum may stand over the broadband noise floor, dB.
    pub hum_over_floor_db: f64,
    /// Frequency error of a tone, %, above which the driver runs at the wrong rate.
    pub rate_error_max_percent: f64,
    /// Cancellation of drive = both against one-sided drive, dB, that marks a CTIA/OMTP mismatch.
    pub cancellation_min_db: f64,
    /// How far a frequency response may fall under its peers' (shape, mid-band gain removed), dB.
    pub response_max_db: f64,
    /// The band of the response mask, Hz.
    pub response_band_hz: [f64; 2],
    /// How far a headset's recurring high-order residual (rub & buzz: its peak over the capture's
    /// own noise floor, per band) may rise above that of the other headsets in the set, dB.
    pub rub_buzz_max_db: f64,
    /// Absolute windows of a working path's gain (capture level less stimulus level), dB, per
    /// direction. Without them, levels are only judged against other paths of the same set, so
    /// a part that every path shares (the only driver of a bench) cannot be found too quiet.
    pub playback_gain_db: Option<[f64; 2]>,
    pub record_gain_db: Option<[f64; 2]>,
    pub loopback_gain_db: Option<[f64; 2]>,
    /// The noise floor of a working record path, dBFS: tells a driver's lowered digital gain
    /// (the floor falls with the level) from an analog loss when no other path can.
    pub record_noise_dbfs: Option<[f64; 2]>,
    /// Limits over frequency measured on known-good units of a product model (`jackbench
    /// calibrate`); headsets of that model are held to them besides their peers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub golden: Option<GoldenLimits>,
    /// Where these limits came from (set by the bench; kept in the manifest with them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<LimitsSource>,
}

/// Where the limits in force came from: the file, and for a model's limits calibrated on golden
/// units, when, on which bench and from how many.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSource {
    /// The rig file or the model's limits file.
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// When the limits were calibrated, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibrated: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_bench: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub golden_units: Option<usize>,
    /// The bench calibration whose gain and noise windows are in force
    /// (`limits/bench/<rig>.toml`, `jackbench calibrate --bench`), and its date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench_calibration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench_calibrated: Option<String>,
}

impl LimitsSource {
    /// Limits read from `file` alone (a rig file), nothing calibrated.
    pub fn file(file: String) -> LimitsSource {
        LimitsSource {
            file,
            model: None,
            calibrated: None,
            calibration_bench: None,
            golden_units: None,
            bench_calibration: None,
            bench_calibrated: None,
        }
    }

    /// In words: "limits/hs-100.toml (model hs-100, calibrated 2026-12-01T22:09:02Z on bench-3
    /// from 10 golden units); bench windows of limits/bench/qa-bench.toml (calibrated …)".
    pub fn describe(&self) -> String {
        let mut text = self.describe_limits();
        if let Some(b) = &self.bench_calibration {
            text.push_str(&format!("; bench windows of {b}"));
            if let Some(date) = &self.bench_calibrated {
                text.push_str(&format!(" (calibrated {date})"));
            }
        }
        text
    }

    fn describe_limits(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = &self.model {
            parts.push(format!("model {m}"));
        }
        if let Some(date) = &self.calibrated {
            let mut c = format!("calibrated {date}");
            if let Some(b) = &self.calibration_bench {
                c.push_str(&format!(" on {b}"));
            }
            if let Some(n) = self.golden_units {
                c.push_str(&format!(" from {n} golden units"));
            }
            parts.push(c);
        } else if self.model.is_some() {
            parts.push("not calibrated".into());
        }
        if parts.is_empty() {
            self.file.clone()
        } else {
            format!("{} ({})", self.file, parts.join(", "))
        }
    }
}

/// Limits over frequency from golden units: each unit's curves, their mean ± max(k·σ, a floor).
/// Curves are lists of points; a mask point is `[Hz, low dB, high dB]`, an upper limit `[Hz, dB]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenLimits {
    /// The product model whose headsets these limits hold (by the rig's `model` of each).
    pub model: String,
    /// Each playback ear's response shape (gain less its 200 Hz–5 kHz median), dB: the mask.
    pub left_response_db: Vec<[f64; 3]>,
    pub right_response_db: Vec<[f64; 3]>,
    /// The microphone's response shape, dB: the mask.
    #[serde(default)]
    pub mic_response_db: Vec<[f64; 3]>,
    /// The golden units' own spread of each response shape, `[Hz, lowest dB, highest dB]`: what
    /// the mask was drawn around, shown under a unit's curve in its report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_band_db: Vec<[f64; 3]>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub right_band_db: Vec<[f64; 3]>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mic_band_db: Vec<[f64; 3]>,
    /// Rub & buzz: the highest peak ratio per 1/3-octave band of excitation, per ear, dB re the
    /// signal (see `analysis::rub_buzz`).
    pub left_rub_buzz_db: Vec<[f64; 2]>,
    pub right_rub_buzz_db: Vec<[f64; 2]>,
    /// Left less right level of the playback sweep (mid-band), dB: the golden units' window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_db: Option<[f64; 2]>,
    /// THD over frequency (orders 2–5), highest per ear, dB re the fundamental.
    #[serde(default)]
    pub left_thd_db: Vec<[f64; 2]>,
    #[serde(default)]
    pub right_thd_db: Vec<[f64; 2]>,
}

impl GoldenLimits {
    /// Checks the curves: ascending positive frequencies, finite values, each mask point's low
    /// bound at most its high one; the balance window ordered.
    pub fn validate(&self) -> Result<(), LimitsError> {
        let err = |field: String, message: String| Err(LimitsError { field, message });
        let ascending = |field: &str, hz: &mut dyn Iterator<Item = f64>| -> Result<(), LimitsError> {
            let mut last = 0.0;
            for (i, f) in hz.enumerate() {
                if !(f.is_finite() && f > last) {
                    return err(format!("{field}[{i}]"), format!("{f} Hz: frequencies must be positive and ascending"));
                }
                last = f;
            }
            Ok(())
        };
        let masks = [
            ("left_response_db", &self.left_response_db),
            ("right_response_db", &self.right_response_db),
            ("mic_response_db", &self.mic_response_db),
            ("left_band_db", &self.left_band_db),
            ("right_band_db", &self.right_band_db),
            ("mic_band_db", &self.mic_band_db),
        ];
        for (field, curve) in masks {
            ascending(field, &mut curve.iter().map(|p| p[0]))?;
            for (i, [f, lo, hi]) in curve.iter().enumerate() {
                if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                    return err(format!("{field}[{i}]"), format!("at {f} Hz, [{lo}, {hi}] dB is not a window"));
                }
            }
        }
        let limits = [
            ("left_rub_buzz_db", &self.left_rub_buzz_db),
            ("right_rub_buzz_db", &self.right_rub_buzz_db),
            ("left_thd_db", &self.left_thd_db),
            ("right_thd_db", &self.right_thd_db),
        ];
        for (field, curve) in limits {
            ascending(field, &mut curve.iter().map(|p| p[0]))?;
            for (i, [f, v]) in curve.iter().enumerate() {
                if !v.is_finite() {
                    return err(format!("{field}[{i}]"), format!("at {f} Hz, {v} dB is not a number"));
                }
            }
        }
        if let Some([lo, hi]) = self.balance_db {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return err("balance_db".into(), format!("[{lo}, {hi}] is not a window"));
            }
        }
        Ok(())
    }

    /// An ear's response mask (0 left, 1 right).
    pub fn response(&self, ear: usize) -> &[[f64; 3]] {
        if ear == 0 {
            &self.left_response_db
        } else {
            &self.right_response_db
        }
    }

    /// The golden units' spread of an ear's response shape (0 left, 1 right).
    pub fn band(&self, ear: usize) -> &[[f64; 3]] {
        if ear == 0 {
            &self.left_band_db
        } else {
            &self.right_band_db
        }
    }

    /// An ear's THD-over-frequency limit.
    pub fn thd(&self, ear: usize) -> &[[f64; 2]] {
        if ear == 0 {
            &self.left_thd_db
        } else {
            &self.right_thd_db
        }
    }

    /// An ear's rub & buzz limit.
    pub fn rub_buzz(&self, ear: usize) -> &[[f64; 2]] {
        if ear == 0 {
            &self.left_rub_buzz_db
        } else {
            &self.right_rub_buzz_db
        }
    }
}

/// A limit that is not one: the field (`thd_max_percent`, `golden.left_response_db[3]`) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct LimitsError {
    pub field: String,
    pub message: String,
}

impl Limits {
    /// Checks every number where it is read (a rig file, a capture set's manifest, a model's
    /// limits file): thresholds finite and positive, windows finite with their first bound lower,
    /// and curves over ascending positive frequencies with finite values, each mask point's low
    /// bound at most its high one. A NaN would switch a test off, a negative threshold fail every
    /// unit, a reversed window pass any.
    pub fn validate(&self) -> Result<(), LimitsError> {
        let err = |field: &str, message: String| Err(LimitsError { field: field.to_string(), message });
        let positive = [
            ("thd_max_percent", self.thd_max_percent),
            ("imbalance_max_db", self.imbalance_max_db),
            ("level_drop_max_db", self.level_drop_max_db),
            ("noise_rise_max_db", self.noise_rise_max_db),
            ("hum_over_floor_db", self.hum_over_floor_db),
            ("rate_error_max_percent", self.rate_error_max_percent),
            ("cancellation_min_db", self.cancellation_min_db),
            ("response_max_db", self.response_max_db),
            ("rub_buzz_max_db", self.rub_buzz_max_db),
        ];
        for (field, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return err(field, format!("{v} must be a positive number"));
            }
        }
        let windows = [
            ("response_band_hz", Some(self.response_band_hz)),
            ("playback_gain_db", self.playback_gain_db),
            ("record_gain_db", self.record_gain_db),
            ("loopback_gain_db", self.loopback_gain_db),
            ("record_noise_dbfs", self.record_noise_dbfs),
        ];
        for (field, w) in windows {
            let Some([lo, hi]) = w else { continue };
            if !(lo.is_finite() && hi.is_finite()) {
                return err(field, format!("[{lo}, {hi}]: both bounds must be numbers"));
            }
            if lo >= hi {
                return err(field, format!("[{lo}, {hi}] is not a window: the first bound must be lower"));
            }
        }
        let [lo_hz, _] = self.response_band_hz;
        if lo_hz <= 0.0 {
            return err("response_band_hz", format!("{lo_hz} Hz: the band must start above 0 Hz"));
        }
        if let Some(g) = &self.golden {
            g.validate().map_err(|e| LimitsError { field: format!("golden.{}", e.field), message: e.message })?;
        }
        Ok(())
    }

    /// The gain window for captures of `direction`, if the limits give one.
    pub fn gain_window(&self, direction: crate::capture::Direction) -> Option<[f64; 2]> {
        match direction {
            crate::capture::Direction::Playback => self.playback_gain_db,
            crate::capture::Direction::Record => self.record_gain_db,
            crate::capture::Direction::Loopback => self.loopback_gain_db,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            thd_max_percent: 1.0,
            imbalance_max_db: 3.0,
            level_drop_max_db: 6.0,
            noise_rise_max_db: 20.0,
            hum_over_floor_db: 6.0,
            rate_error_max_percent: 0.5,
            cancellation_min_db: 20.0,
            response_max_db: 6.0,
            response_band_hz: [100.0, 10_000.0],
            rub_buzz_max_db: 8.0,
            playback_gain_db: None,
            record_gain_db: None,
            loopback_gain_db: None,
            record_noise_dbfs: None,
            golden: None,
            source: None,
        }
    }
}
