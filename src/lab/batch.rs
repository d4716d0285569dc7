//! A batch: units tested one after another on one rig against one product model's limits.
//!
//! Each unit's plan runs into a hidden `.SERIAL.partial` directory of the batch's directory;
//! once it is diagnosed and its report written, the directory is renamed to `SERIAL` (atomic),
//! and only then is the unit stored, in one transaction. A crash or Ctrl-C therefore leaves
//! every finished unit on disk and in the database, and at most one partial directory, which
//! the next run of the batch removes. `batch.toml` in the batch's directory holds its settings,
//! so `jackbench batch --resume` goes on with the serials not yet stored; a finished capture set
//! whose row did not make it to the database (a crash between the two) is stored then.

use super::db::{now_ms, Database, DbError};
use super::model::ProductModel;
use super::record::{fault_records, unit_measurements, unit_under_test, UnitRecord};
use super::store::{insert_unit, serials_in_batch};
use crate::bench::{run_plan, Progress, RunError};
use crate::capture::manifest::ManifestError;
use crate::capture::CaptureSet;
use crate::capture::Limits;
use crate::diagnosis::{diagnose, DiagnoseError, Diagnosis, Symptom};
use crate::report::{write_report, Formats, ReportError};
use crate::rig::virtual_bench::{InjectedFault, VirtualBench};
use crate::rig::{Rack, RigFile, Station, SwitchMatrix};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// The settings file in a batch's directory.
pub const BATCH_FILE: &str = "batch.toml";

/// A batch's settings, kept in its directory so that it can be resumed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchSettings {
    pub id: String,
    pub created: String,
    /// The rig file (or built-in rig name) as given.
    pub rig: String,
    pub model: String,
    /// Where the serials come from; the operator types them when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serials: Option<PathBuf>,
    pub db: String,
    pub bench: String,
    pub operator: String,
    /// The whole bench simulated.
    #[serde(default)]
    pub simulate: bool,
    /// The sound simulated, the switching real.
    #[serde(default)]
    pub virtual_audio: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_port: Option<String>,
    /// Virtual bench: the chance that a unit carries a random fault, and the seed.
    #[serde(default)]
    pub fault_rate: f64,
    #[serde(default)]
    pub seed: u64,
    /// Virtual bench: the share of captures room sound disturbs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambient: Option<f64>,
    #[serde(default)]
    pub finished: bool,
}

/// Why a batch could not go on.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Settings { path: PathBuf, message: String },
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Diagnose(#[from] DiagnoseError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Rig(String),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BatchError + '_ {
    move |e| BatchError::Io { path: path.to_path_buf(), message: e.to_string() }
}

impl BatchSettings {
    /// Writes `batch.toml` into `dir` (atomically).
    pub fn save(&self, dir: &Path) -> Result<(), BatchError> {
        let path = dir.join(BATCH_FILE);
        let text =
            toml::to_string(self).map_err(|e| BatchError::Settings { path: path.clone(), message: e.to_string() })?;
        let tmp = dir.join(format!(".{BATCH_FILE}.tmp"));
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }

    pub fn load(dir: &Path) -> Result<BatchSettings, BatchError> {
        let path = dir.join(BATCH_FILE);
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        toml::from_str(&text).map_err(|e| BatchError::Settings { path, message: e.to_string() })
    }
}

/// The newest unfinished batch under `reports`, for `--resume` without a directory.
pub fn latest_unfinished(reports: &Path) -> Option<PathBuf> {
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(reports)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|d| BatchSettings::load(&d).ok().filter(|s| !s.finished).map(|s| (s.created, d)))
        .collect();
    found.sort();
    found.pop().map(|(_, d)| d)
}

/// Reads serials: one per line; blank lines and `#` comments are skipped.
pub fn read_serials(path: &Path) -> Result<Vec<String>, BatchError> {
    let text = std::fs::read_to_string(path).map_err(|e| BatchError::Io {
        path: path.to_path_buf(),
        message: format!("the --serials file cannot be read: {e}"),
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let s = line.split('#').next().unwrap_or("").trim();
        if s.is_empty() {
            continue;
        }
        if !valid_serial(s) {
            return Err(BatchError::Settings {
                path: path.to_path_buf(),
                message: format!("line {}: \"{s}\" is not a serial (letters, digits, - _ . / only)", i + 1),
            });
        }
        out.push(s.to_string());
    }
    Ok(out)
}

/// A serial is what a barcode carries: letters, digits and a few separators.
pub fn valid_serial(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

/// A serial as a directory name.
fn dir_name(serial: &str) -> String {
    serial.replace('/', "_")
}

/// The bench a batch runs on.
pub enum Bench {
    /// The virtual bench: each unit is a new part in the unit-under-test's place, carrying a
    /// random fault at the batch's rate; switched by the bench itself or by a real matrix.
    Virtual { bench: VirtualBench, switch: Option<Box<dyn SwitchMatrix>>, fault_rate: f64, seed: u64 },
    /// Real hardware.
    Real(Box<dyn Station>),
}

/// A unit's seed from the batch's and its serial: FNV-1a of the serial mixed with the batch seed
/// by the SplitMix64 finaliser, so that every bit of both moves every bit of the result.
fn unit_seed(batch_seed: u64, serial: &str) -> u64 {
    let fnv = serial.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let mut z = fnv ^ batch_seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Bench {
    /// Puts the next unit in place; on the virtual bench, the fault it was given, if any.
    pub fn prepare(&mut self, dut: &str, serial: &str) -> Result<Option<InjectedFault>, BatchError> {
        let Bench::Virtual { bench, fault_rate, seed, .. } = self else { return Ok(None) };
        let unit_seed = unit_seed(*seed, serial);
        bench.swap_in(dut, unit_seed).map_err(BatchError::Rig)?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(unit_seed);
        if !rng.random_bool(fault_rate.clamp(0.0, 1.0)) {
            return Ok(None);
        }
        // The electrical symptoms only where the bench has the meter that tells them.
        let symptoms: Vec<Symptom> = Symptom::ALL
            .iter()
            .copied()
            .filter(|s| s.kinds().contains(&crate::capture::ComponentKind::Headset))
            .filter(|s| bench.has_meter() || !s.is_electrical())
            .collect();
        let symptom = symptoms[rng.random_range(0..symptoms.len())];
        let fault = InjectedFault { component: dut.to_string(), symptom, severity: rng.random_range(0.0..=1.0) };
        bench.inject(&fault).map_err(BatchError::Rig)?;
        Ok(Some(fault))
    }

    pub fn with_station<R>(&mut self, f: impl FnOnce(&mut dyn Station) -> R) -> R {
        match self {
            Bench::Virtual { bench, switch: None, .. } => f(bench),
            Bench::Virtual { bench, switch: Some(s), .. } => f(&mut Rack { endpoint: bench, switch: s.as_mut() }),
            Bench::Real(station) => f(station.as_mut()),
        }
    }
}

/// A batch in progress.
pub struct Batch {
    pub settings: BatchSettings,
    pub dir: PathBuf,
    pub rig: RigFile,
    pub model: ProductModel,
    /// The rig's limits under the model's.
    pub limits: Limits,
    /// The component whose serial is the unit's.
    pub dut: String,
    pub db: Database,
    /// The last unit's report, still being written while the next unit is measured; the unit is
    /// stored when it is done ([`Batch::settle`]).
    pending: Option<PendingUnit>,
}

/// A unit measured and diagnosed whose report is being written on a thread of its own: its set
/// moves from `partial` to `final_dir`, and `record` is stored, when the report is done.
struct PendingUnit {
    report: std::thread::JoinHandle<Result<(), ReportError>>,
    partial: PathBuf,
    final_dir: PathBuf,
    record: UnitRecord,
}

/// One unit's result.
pub struct UnitResult {
    pub record: UnitRecord,
    pub diagnosis: Diagnosis,
    /// On the virtual bench: the fault it was given.
    pub injected: Option<InjectedFault>,
}

/// How a unit's test ended.
pub enum UnitOutcome {
    Done(Box<UnitResult>),
    /// The run stopped (Ctrl-C, a device error); nothing of the unit was kept.
    Stopped(String),
}

impl Batch {
    /// A warning when the model's calibration is older than the rig's `calibration_days`.
    pub fn calibration_warning(&self) -> Option<String> {
        let days = self.rig.calibration_days?;
        let age = self.model.calibration_age_days(std::time::SystemTime::now())?;
        (age > f64::from(days)).then(|| {
            format!(
                "{}: the limits of {} were calibrated {age:.0} days ago, longer than the {days} days rig {} allows: \
                 calibrate again (jackbench calibrate --model {})",
                self.model.source.display(),
                self.model.model,
                self.rig.name,
                self.model.model
            )
        })
    }

    /// Opens the batch in `dir` (created with `settings` when new).
    pub fn open(dir: &Path, settings: BatchSettings, rig: RigFile, model: ProductModel) -> Result<Batch, BatchError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        settings.save(dir)?;
        let mut limits = model.limits(&rig.limits);
        // The model's file, with the bench calibration the rig's windows came from.
        let bench = rig.limits.source.as_ref();
        limits.source = Some(crate::capture::LimitsSource {
            bench_calibration: bench.and_then(|b| b.bench_calibration.clone()),
            bench_calibrated: bench.and_then(|b| b.bench_calibrated.clone()),
            ..model.limits_source()
        });
        let mut manifest = crate::capture::Manifest::new(None);
        manifest.components = rig.manifest_components();
        let dut = unit_under_test(&manifest).ok_or_else(|| {
            BatchError::Rig(format!(
                "{}: a batch needs exactly one headset that is not a reference (the unit under test)",
                rig.source.display()
            ))
        })?;
        let db = Database::open(&settings.db)?;
        let batch = Batch { settings, dir: dir.to_path_buf(), rig, model, limits, dut, db, pending: None };
        batch.clean_partials()?;
        Ok(batch)
    }

    /// Removes what an interrupted unit left.
    fn clean_partials(&self) -> Result<(), BatchError> {
        for e in std::fs::read_dir(&self.dir).map_err(io(&self.dir))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".partial") {
                std::fs::remove_dir_all(e.path()).map_err(io(&e.path()))?;
            }
        }
        Ok(())
    }

    /// Serials already stored for this batch.
    pub fn stored(&mut self) -> Result<std::collections::HashSet<String>, BatchError> {
        Ok(serials_in_batch(&mut self.db, &self.settings.id)?)
    }

    /// Stores the finished capture sets of this batch that the database lacks (a crash came
    /// between the rename and the commit). The serials stored.
    pub fn recover(&mut self) -> Result<Vec<String>, BatchError> {
        let stored = self.stored()?;
        let mut recovered = Vec::new();
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(io(&self.dir))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join(crate::capture::manifest::MANIFEST_FILE).exists())
            .collect();
        dirs.sort();
        for d in dirs {
            let set = CaptureSet::load(&d)?;
            let Some(serial) = set.manifest.component(&self.dut).and_then(|c| c.serial.clone()) else { continue };
            if stored.contains(&serial) || recovered.contains(&serial) {
                continue;
            }
            let diagnosis = diagnose(&set, &self.limits)?;
            // Its bench's time is not known here: the unit was made before a restart.
            let record = self.record(&serial, &set, &diagnosis, &d, None, None);
            insert_unit(&mut self.db, &record)?;
            recovered.push(serial);
        }
        Ok(recovered)
    }

    fn record(
        &self,
        serial: &str,
        set: &CaptureSet,
        d: &Diagnosis,
        dir: &Path,
        elapsed_s: Option<f64>,
        bench_s: Option<f64>,
    ) -> UnitRecord {
        UnitRecord {
            serial: serial.to_string(),
            model: self.model.model.clone(),
            rig: self.rig.name.clone(),
            bench: self.settings.bench.clone(),
            operator: self.settings.operator.clone(),
            batch: self.settings.id.clone(),
            tested_at_ms: now_ms(),
            jackbench_version: env!("CARGO_PKG_VERSION").to_string(),
            verdict: d.verdict,
            capture_set: dir.display().to_string(),
            repeats: set.manifest.captures.iter().map(|c| i64::from(c.repeats)).sum(),
            limits_file: self.limits.source.as_ref().map_or_else(String::new, |s| s.file.clone()),
            calibrated: self.limits.source.as_ref().and_then(|s| s.calibrated.clone()),
            bench_calibration: self.limits.source.as_ref().and_then(|s| s.bench_calibration.clone()),
            bench_calibrated: self.limits.source.as_ref().and_then(|s| s.bench_calibrated.clone()),
            bench_s,
            elapsed_s,
            faults: fault_records(d),
            measurements: unit_measurements(d, &set.manifest, &self.dut, &self.limits),
        }
    }

    /// Tests one unit: runs the plan and diagnoses it, then writes its report on a thread of its
    /// own while the caller goes on with the next unit (the bench does not wait for the plots).
    /// The unit's set is kept and its record stored when the report is done: at the next unit's
    /// [`Batch::test_unit`], at [`Batch::settle`] or at [`Batch::finish`]. A crash before then
    /// leaves its set partial, and `--resume` tests the unit again.
    pub fn test_unit(
        &mut self,
        bench: &mut Bench,
        serial: &str,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<UnitOutcome, BatchError> {
        let started = std::time::Instant::now();
        let injected = bench.prepare(&self.dut, serial)?;
        let mut rig = self.rig.clone();
        rig.limits = self.limits.clone();
        if let Some(c) = rig.components.iter_mut().find(|c| c.id.get_ref() == &self.dut) {
            c.serial = Some(serial.to_string());
        }
        let partial = self.dir.join(format!(".{}.partial", dir_name(serial)));
        if partial.exists() {
            self.settle()?;
            std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
        }
        let outcome = bench.with_station(|station| run_plan(&rig, station, &partial, stop, progress));
        // The previous unit's report has had this unit's run to be written.
        self.settle()?;
        let outcome = outcome?;
        if let Some(why) = outcome.stopped {
            std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
            return Ok(UnitOutcome::Stopped(why));
        }
        let set = CaptureSet::load(&partial)?;
        let diagnosis = diagnose(&set, &self.limits)?;
        // A unit tested twice in a batch keeps both sets.
        let mut final_dir = self.dir.join(dir_name(serial));
        let mut k = 2;
        while final_dir.exists() {
            final_dir = self.dir.join(format!("{}-{k}", dir_name(serial)));
            k += 1;
        }
        let kept = CaptureSet { dir: final_dir.clone(), manifest: set.manifest.clone() };
        let bench_s = self.rig.bench_time_on(bench.with_station(|s| s.endpoint().overlaps())).total_s();
        let record =
            self.record(serial, &kept, &diagnosis, &final_dir, Some(started.elapsed().as_secs_f64()), Some(bench_s));
        let (limits, at, d) = (self.limits.clone(), partial.clone(), diagnosis.clone());
        let report = std::thread::spawn(move || write_report(&set, &d, &limits, &at, Formats::default()).map(|_| ()));
        self.pending = Some(PendingUnit { report, partial, final_dir, record: record.clone() });
        Ok(UnitOutcome::Done(Box::new(UnitResult { record, diagnosis, injected })))
    }

    /// Waits for the last unit's report, keeps its set and stores it (nothing to do when every
    /// unit is stored).
    pub fn settle(&mut self) -> Result<(), BatchError> {
        let Some(p) = self.pending.take() else { return Ok(()) };
        match p.report.join() {
            Ok(written) => written?,
            Err(_) => {
                return Err(BatchError::Io {
                    path: p.partial.clone(),
                    message: "writing the report failed (a panic); the unit is not stored".into(),
                })
            }
        }
        std::fs::rename(&p.partial, &p.final_dir).map_err(io(&p.final_dir))?;
        insert_unit(&mut self.db, &p.record)?;
        Ok(())
    }

    /// Marks the batch finished.
    pub fn finish(&mut self) -> Result<(), BatchError> {
        self.settle()?;
        self.settings.finished = true;
        self.settings.save(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_one_digit_apart_get_independent_faults() {
        // At a rate of one half, 200 consecutive serials give about 100 faulty units.
        let faulty = (0..200)
            .filter(|i| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(unit_seed(11, &format!("HS-{i:04}")));
                rng.random_bool(0.5)
            })
            .count();
        assert!((80..=120).contains(&faulty), "{faulty} of 200");
    }

    #[test]
    fn serials_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.txt");
        std::fs::write(
            &p,
            "# tray
HS-1

  HS-2  # the second
",
        )
        .unwrap();
        assert_eq!(read_serials(&p).unwrap(), ["HS-1", "HS-2"]);
        std::fs::write(
            &p,
            "HS-1
HS 2
",
        )
        .unwrap();
        let e = read_serials(&p).unwrap_err().to_string();
        assert!(e.contains("s.txt") && e.contains("line 2"), "{e}");
    }
}
