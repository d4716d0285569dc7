//! `jackbench calibrate`: a product model's limits measured on its golden units.

use crate::cli::lab::{ask, open_bench, stop_flag};
use crate::cli::station::Hardware;
use crate::Failure;
use jackbench::bench::run_plan;
use jackbench::capture::CaptureSet;
use jackbench::diagnosis::diagnose;
use jackbench::lab::bench_calibration;
use jackbench::lab::calibrate::{derive, summary, unit_curves, CalibrationOptions};
use jackbench::lab::config::LabConfig;
use jackbench::lab::model::{write_calibrated, CalibrationRecord, LIMITS_DIR};
use jackbench::lab::record::unit_under_test;
use jackbench::rig::RigFile;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

#[derive(clap::Args)]
pub struct CalibrateArgs {
    /// The rig file (or a built-in rig's name); its unit-under-test slot takes each golden unit.
    #[arg(long)]
    pub rig: PathBuf,
    /// The product model: writes LIMITS/MODEL.toml.
    #[arg(long, required_unless_present = "bench", conflicts_with = "bench")]
    pub model: Option<String>,
    /// Calibrate the bench itself: run the plan --runs times and write the gain and noise
    /// windows of its reference paths (golden headset, loopback plug) to LIMITS/bench/RIG.toml.
    #[arg(long)]
    pub bench: bool,
    /// With --bench: how many times the plan runs.
    #[arg(long, default_value_t = 3, requires = "bench")]
    pub runs: usize,
    /// How many golden units to measure.
    #[arg(long, default_value_t = 10)]
    pub units: usize,
    /// The golden units' serials, one per line (else the operator scans each; on the virtual
    /// bench GOLDEN-01, GOLDEN-02, …).
    #[arg(long)]
    pub serials: Option<PathBuf>,
    /// Standard deviations from the units' mean to each limit.
    #[arg(long, default_value_t = 4.0)]
    pub k: f64,
    /// The least distance from the mean to a response limit, dB (rub & buzz and THD: 6 dB).
    #[arg(long, default_value_t = 1.5)]
    pub response_floor_db: f64,
    /// Where the limits files are.
    #[arg(long, default_value = LIMITS_DIR)]
    pub limits: PathBuf,
    /// Where to keep the golden units' capture sets (default: reports/calibration-MODEL-TIME).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed of the virtual bench.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub hw: Hardware,
}

pub fn calibrate(args: &CalibrateArgs) -> Result<u8, Failure> {
    if !(args.k > 0.0 && args.k.is_finite()) {
        return Err(anyhow::anyhow!("--k {}: a positive number of standard deviations", args.k).into());
    }
    match &args.model {
        Some(model) => calibrate_model(args, model),
        None => calibrate_bench(args),
    }
}

/// The fewest runs of the plan a bench calibration takes.
const MIN_RUNS: usize = 2;

/// `calibrate --bench`: the bench's gain and noise windows from its reference paths.
fn calibrate_bench(args: &CalibrateArgs) -> Result<u8, Failure> {
    if args.runs < MIN_RUNS {
        return Err(anyhow::anyhow!("--runs {}: a bench calibration needs at least {MIN_RUNS} runs", args.runs).into());
    }
    let rig = RigFile::load(&args.rig)?;
    let components = rig.manifest_components();
    let references: Vec<&str> = components.iter().filter(|c| c.reference).map(|c| c.id.as_str()).collect();
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(format!(
            "bench-calibration-{}-{}",
            rig.name,
            stamp.replace([':', '-'], "").trim_end_matches('Z')
        ))
    });
    let (mut bench, what) = open_bench(&rig, &args.hw, 0.0, args.seed)?;
    eprintln!(
        "calibrating the bench of {} from {} run(s) of its plan on {what}; reference paths through {}; captures in {}",
        rig.name,
        args.runs,
        references.join(", "),
        out.display()
    );
    let judge = bench_calibration::without_windows(&rig.limits);
    let stop = stop_flag();
    let mut runs = Vec::new();
    for n in 1..=args.runs {
        if stop.load(Ordering::SeqCst) {
            return Err(anyhow::anyhow!("interrupted after {} run(s); no calibration written", runs.len()).into());
        }
        let dir = out.join(format!("run-{n:02}"));
        let outcome = bench.with_station(|station| run_plan(&rig, station, &dir, &stop, &mut |_| {}))?;
        if let Some(why) = outcome.stopped {
            return Err(anyhow::anyhow!("run {n} was not finished ({why}); no calibration written").into());
        }
        let set = CaptureSet::load(&dir)?;
        let d = diagnose(&set, &judge)?;
        runs.push(bench_calibration::bench_run(&d, &references, n).map_err(|e| anyhow::anyhow!("{e}"))?);
        eprintln!("  {n:>2}/{}  measured", args.runs);
    }
    let windows =
        bench_calibration::derive(&runs, &rig.limits, args.k, MIN_RUNS).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cfg = LabConfig::load(std::path::Path::new("."))?;
    let cal = bench_calibration::BenchCalibration {
        rig: rig.name.clone(),
        calibration: bench_calibration::BenchRecord {
            date: stamp,
            bench: cfg.bench(None),
            rig: rig.source.display().to_string(),
            runs: runs.len(),
            references: components
                .iter()
                .filter(|c| c.reference)
                .map(|c| c.serial.as_ref().map_or_else(|| c.id.clone(), |s| format!("{} ({s})", c.id)))
                .collect(),
            jackbench: env!("CARGO_PKG_VERSION").to_string(),
            k: args.k,
        },
        limits: windows,
        source: PathBuf::new(),
    };
    let path = cal.write(&args.limits)?;
    println!("{}: the bench windows of {} from {} runs", path.display(), rig.name, runs.len());
    let before = bench_calibration::BenchWindows::of(&rig.limits);
    for ((name, w, unit), (_, was, _)) in cal.limits.named().into_iter().zip(before.named()) {
        match w {
            Some([lo, hi]) => println!(
                "  {name:<18} [{lo:.2}, {hi:.2}] {unit}   (the rig file's: {})",
                was.map_or("none".to_string(), |[a, b]| format!("[{a:.2}, {b:.2}]"))
            ),
            None => println!("  {name:<18} not measured (no reference path of that kind): the rig file's stays"),
        }
    }
    Ok(0)
}

fn calibrate_model(args: &CalibrateArgs, model: &str) -> Result<u8, Failure> {
    let opts = CalibrationOptions { k: args.k, response_floor_db: args.response_floor_db, ..Default::default() };
    if args.units < opts.min_units {
        return Err(anyhow::anyhow!(
            "--units {}: a calibration needs at least {} golden units (10 or more recommended)",
            args.units,
            opts.min_units
        )
        .into());
    }
    let rig = RigFile::load(&args.rig)?;
    let dut = unit_under_test(&{
        let mut m = jackbench::capture::Manifest::new(None);
        m.components = rig.manifest_components();
        m
    })
    .ok_or_else(|| {
        anyhow::anyhow!(
            "{}: calibration needs exactly one headset that is not a reference (the golden units' slot)",
            rig.source.display()
        )
    })?;
    let serials: Vec<String> = match &args.serials {
        Some(p) => jackbench::lab::batch::read_serials(p)?.into_iter().take(args.units).collect(),
        None => Vec::new(),
    };
    if args.serials.is_some() && serials.len() < args.units {
        return Err(anyhow::anyhow!(
            "--serials {}: {} serial(s) for --units {}",
            args.serials.as_ref().map_or(String::new(), |p| p.display().to_string()),
            serials.len(),
            args.units
        )
        .into());
    }
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(format!(
            "calibration-{}-{}",
            model,
            stamp.replace([':', '-'], "").trim_end_matches('Z')
        ))
    });
    let (mut bench, what) = open_bench(&rig, &args.hw, 0.0, args.seed)?;
    let simulated = matches!(bench, jackbench::lab::batch::Bench::Virtual { .. });
    eprintln!(
        "calibrating {} from {} golden unit(s) on {} ({what}); captures in {}",
        model,
        args.units,
        rig.name,
        out.display()
    );
    let stop = stop_flag();
    let mut units = Vec::new();
    for n in 1..=args.units {
        if stop.load(Ordering::SeqCst) {
            return Err(anyhow::anyhow!("interrupted after {} unit(s); no limits written", units.len()).into());
        }
        let serial = match serials.get(n - 1) {
            Some(s) => s.clone(),
            None if simulated => format!("GOLDEN-{n:02}"),
            None => match ask(&format!("\ngolden unit {n} of {}: put it in and scan its serial: ", args.units)) {
                Some(s) if jackbench::lab::batch::valid_serial(&s) => s,
                _ => return Err(anyhow::anyhow!("no serial for golden unit {n}; no limits written").into()),
            },
        };
        bench.prepare(&dut, &serial)?;
        let mut unit_rig = rig.clone();
        if let Some(c) = unit_rig.components.iter_mut().find(|c| c.id.get_ref() == &dut) {
            c.serial = Some(serial.clone());
        }
        let dir = out.join(format!("{n:02}-{serial}"));
        let outcome = bench.with_station(|station| run_plan(&unit_rig, station, &dir, &stop, &mut |_| {}))?;
        if let Some(why) = outcome.stopped {
            return Err(anyhow::anyhow!("golden unit {serial} was not finished ({why}); no limits written").into());
        }
        let set = CaptureSet::load(&dir)?;
        let d = diagnose(&set, &rig.limits)?;
        units.push(unit_curves(&d, &dut, &serial).map_err(|e| anyhow::anyhow!("{e}"))?);
        eprintln!("  {n:>2}/{}  {serial}  measured", args.units);
    }
    let limits = derive(model, &units, &rig.limits, &opts).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cfg = LabConfig::load(std::path::Path::new("."))?;
    let record = CalibrationRecord {
        date: stamp,
        bench: cfg.bench(None),
        rig: rig.name.clone(),
        serials: units.iter().map(|u| u.serial.clone()).collect(),
        jackbench: env!("CARGO_PKG_VERSION").to_string(),
        k: args.k,
    };
    let path = write_calibrated(&args.limits, model, &limits, &record)?;
    println!("{}: limits of {} from {} golden units", path.display(), model, units.len());
    for line in summary(&limits) {
        println!("  {line}");
    }
    Ok(0)
}
