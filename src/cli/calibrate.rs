//! `jackbench calibrate`: a product model's limits measured on its golden units.

use crate::cli::lab::{ask, open_bench, stop_flag};
use crate::cli::station::Hardware;
use crate::Failure;
use jackbench::bench::run_plan;
use jackbench::capture::CaptureSet;
use jackbench::diagnosis::diagnose;
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
    #[arg(long)]
    pub model: String,
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
    let opts = CalibrationOptions { k: args.k, response_floor_db: args.response_floor_db, ..Default::default() };
    if !(args.k > 0.0 && args.k.is_finite()) {
        return Err(anyhow::anyhow!("--k {}: a positive number of standard deviations", args.k).into());
    }
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
            args.model,
            stamp.replace([':', '-'], "").trim_end_matches('Z')
        ))
    });
    let (mut bench, what) = open_bench(&rig, &args.hw, 0.0, args.seed)?;
    let simulated = matches!(bench, jackbench::lab::batch::Bench::Virtual { .. });
    eprintln!(
        "calibrating {} from {} golden unit(s) on {} ({what}); captures in {}",
        args.model,
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
    let limits = derive(&args.model, &units, &rig.limits, &opts).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cfg = LabConfig::load(std::path::Path::new("."))?;
    let record = CalibrationRecord {
        date: stamp,
        bench: cfg.bench(None),
        rig: rig.name.clone(),
        serials: units.iter().map(|u| u.serial.clone()).collect(),
        jackbench: env!("CARGO_PKG_VERSION").to_string(),
        k: args.k,
    };
    let path = write_calibrated(&args.limits, &args.model, &limits, &record)?;
    println!("{}: limits of {} from {} golden units", path.display(), args.model, units.len());
    for line in summary(&limits) {
        println!("  {line}");
    }
    Ok(0)
}
