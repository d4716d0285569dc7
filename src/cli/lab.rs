//! `jackbench batch`, `history`, `export` and `summary`: the lab's commands.

use crate::cli::station::{self, Hardware};
use crate::Failure;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jackbench::bench::Progress;
use jackbench::lab::batch::{self, Batch, BatchSettings, Bench, UnitOutcome};
use jackbench::lab::bench_calibration;
use jackbench::lab::config::LabConfig;
use jackbench::lab::db::Database;
use jackbench::lab::model::{ProductModel, LIMITS_DIR};
use jackbench::lab::record::limits_text;
use jackbench::lab::shell_word;
use jackbench::lab::store::{self, Filter};
use jackbench::lab::summary;
use jackbench::rig::file::SwitchKind;
use jackbench::rig::RigFile;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The options of `jackbench batch`.
#[derive(clap::Args)]
pub struct BatchArgs {
    /// The rig file (or a built-in rig's name).
    #[arg(long, required_unless_present = "resume")]
    rig: Option<PathBuf>,
    /// The product model: its limits are limits/MODEL.toml.
    #[arg(long, required_unless_present = "resume")]
    model: Option<String>,
    /// A file of serials, one per line; without it the operator scans or types each one.
    #[arg(long)]
    serials: Option<PathBuf>,
    /// The results database: a SQLite file, or postgres://… (default: JACKBENCH_DB, then
    /// jackbench.toml, then reports/results.sqlite).
    #[arg(long)]
    db: Option<String>,
    /// The bench's name in the results (default: jackbench.toml, then the host's name).
    #[arg(long)]
    bench: Option<String>,
    /// The operator's name in the results (default: jackbench.toml, then $USER).
    #[arg(long)]
    operator: Option<String>,
    /// Go on with the newest unfinished batch under reports/ (or the one in --out).
    #[arg(long)]
    resume: bool,
    /// The batch's directory (default: reports/MODEL-TIME).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where the limits files are.
    #[arg(long, default_value = LIMITS_DIR)]
    limits: PathBuf,
    #[command(flatten)]
    hw: Hardware,
    /// Virtual bench: the chance (0..1) that a unit carries a random fault.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Virtual bench: the seed of the bench's spread and of the units' faults.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The options of `jackbench export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// Units tested since: a date (2026-11-01), a time (RFC 3339) or an age (7d, 12h).
    #[arg(long)]
    since: Option<String>,
    /// Units of this model only.
    #[arg(long)]
    model: Option<String>,
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// One row per unit (its faults joined) or per measurement.
    #[arg(long, value_enum, default_value_t = ExportRows::Unit)]
    rows: ExportRows,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    db: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportRows {
    Unit,
    Measurement,
}

/// The options of `jackbench summary`.
#[derive(clap::Args)]
pub struct SummaryArgs {
    #[arg(long)]
    since: Option<String>,
    #[arg(long)]
    model: Option<String>,
    /// Also write summary.html (plots inlined) into this directory.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Print the numbers as JSON.
    #[arg(long)]
    json: bool,
    #[arg(long)]
    db: Option<String>,
}

fn config() -> Result<LabConfig, Failure> {
    Ok(LabConfig::load(Path::new("."))?)
}

/// `--since`: a date, an RFC 3339 time or an age, as Unix ms.
fn since_ms(text: &str) -> Result<i64, Failure> {
    let t = text.trim();
    let when = if let Ok(age) = humantime::parse_duration(t) {
        std::time::SystemTime::now().checked_sub(age)
    } else if t.len() == 10 {
        humantime::parse_rfc3339_weak(&format!("{t} 00:00:00")).ok()
    } else {
        humantime::parse_rfc3339_weak(t).ok()
    };
    let when = when.ok_or_else(|| {
        anyhow::anyhow!("--since \"{text}\": give a date (2026-11-01), a time (2026-11-01T08:00:00Z) or an age (7d)")
    })?;
    Ok(when.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64))
}

fn filter(since: Option<&str>, model: Option<&str>) -> Result<Filter, Failure> {
    Ok(Filter { since_ms: since.map(since_ms).transpose()?, until_ms: None, model: model.map(str::to_string) })
}

/// `jackbench history SERIAL`.
pub fn history(serial: &str, db: Option<&str>, json: bool) -> Result<u8, Failure> {
    let mut db = Database::open_existing(&config()?.db(db))?;
    eprintln!("results: {}", db.name());
    let units = store::history(&mut db, serial)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&units)?);
        return Ok(0);
    }
    if units.is_empty() {
        outln!("{serial}: never tested (in {})", db.name());
        return Ok(0);
    }
    outln!("{serial}: {} test(s), newest first", units.len());
    for u in &units {
        let operator = if u.operator.is_empty() { "(not given)" } else { u.operator.as_str() };
        outln!(
            "\n{}  {}  model {}  bench {}  rig {}  operator {operator}",
            u.tested_at,
            u.verdict.to_uppercase(),
            u.model,
            u.bench,
            u.rig,
        );
        let failing: Vec<String> = store::unit_measurements(&mut db, u.id)?
            .iter()
            .filter(|m| !m.pass)
            .map(|m| format!("{} {:.2} {}", m.name, m.value, m.unit))
            .collect();
        // The parts' labels, from the unit's capture set where it is still there.
        let labels: std::collections::BTreeMap<String, String> =
            jackbench::capture::CaptureSet::load(std::path::Path::new(&u.capture_set))
                .map(|set| {
                    set.manifest.components.iter().filter_map(|c| Some((c.id.clone(), c.label.clone()?))).collect()
                })
                .unwrap_or_default();
        for f in &u.faults {
            let confidence = f.confidence.map_or(String::new(), |c| format!(" ({:.0} %)", 100.0 * c));
            match jackbench::diagnosis::FaultCode::parse(&f.code) {
                Some(code) => {
                    let who = labels.get(&f.component).unwrap_or(&f.component);
                    outln!("  {}. {who}: {}{confidence}", f.rank, code.symptom.describe());
                    outln!("     code: {} on {}", f.code, f.component);
                }
                None => outln!("  {}. {} — {}{confidence}", f.rank, f.component, f.code),
            }
            // No stored measurement is out: what showed the fault is its evidence.
            if failing.is_empty() {
                outln!("     shown by: {}", f.evidence);
            }
            outln!("     fix: {}", f.remedy);
        }
        if !failing.is_empty() {
            outln!("  outside limits: {}", failing.join(", "));
        } else if !u.faults.is_empty() {
            outln!("  outside limits: none of the stored measurements (see \"shown by\")");
        }
        outln!("  captures: {}", u.capture_set);
    }
    Ok(0)
}

/// `jackbench export`.
pub fn export(args: &ExportArgs) -> Result<u8, Failure> {
    // The arguments first: a bad --since is said whatever the database.
    let f = filter(args.since.as_deref(), args.model.as_deref())?;
    let mut db = Database::open_existing(&config()?.db(args.db.as_deref()))?;
    eprintln!("results: {}", db.name());
    let mut out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let count = match (args.rows, args.format) {
        (ExportRows::Unit, ExportFormat::Json) => {
            let units = store::units(&mut db, &f)?;
            serde_json::to_writer_pretty(&mut out, &units)?;
            writeln!(out)?;
            units.len()
        }
        (ExportRows::Measurement, ExportFormat::Json) => {
            let rows = store::measurements(&mut db, &f)?;
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
            rows.len()
        }
        (ExportRows::Unit, ExportFormat::Csv) => {
            let units = store::units(&mut db, &f)?;
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record([
                "id",
                "serial",
                "model",
                "rig",
                "bench",
                "operator",
                "batch",
                "tested_at",
                "jackbench_version",
                "verdict",
                "faults",
                "capture_set",
            ])?;
            for u in &units {
                let faults: Vec<String> = u.faults.iter().map(|f| format!("{}:{}", f.component, f.code)).collect();
                w.write_record([
                    u.id.to_string().as_str(),
                    &u.serial,
                    &u.model,
                    &u.rig,
                    &u.bench,
                    &u.operator,
                    &u.batch,
                    &u.tested_at,
                    &u.jackbench_version,
                    &u.verdict,
                    &faults.join(" "),
                    &u.capture_set,
                ])?;
            }
            w.flush()?;
            units.len()
        }
        (ExportRows::Measurement, ExportFormat::Csv) => {
            let rows = store::measurements(&mut db, &f)?;
            let mut w = csv::Writer::from_writer(&mut out);
            for r in &rows {
                w.serialize(r)?;
            }
            w.flush()?;
            rows.len()
        }
    };
    out.flush()?;
    if let Some(p) = &args.out {
        eprintln!("wrote {count} row(s) to {}", p.display());
    }
    Ok(0)
}

/// `jackbench summary`.
pub fn summarize(args: &SummaryArgs) -> Result<u8, Failure> {
    // The arguments first: a bad --since is said whatever the database.
    let f = filter(args.since.as_deref(), args.model.as_deref())?;
    let mut db = Database::open_existing(&config()?.db(args.db.as_deref()))?;
    eprintln!("results: {}", db.name());
    let s = store::summary(&mut db, &f)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        out!("{}", summary::text(&s, &f));
    }
    if let Some(dir) = &args.html {
        let page = summary::write_html(&s, &f, dir)?;
        eprintln!("summary: {}", page.display());
    }
    Ok(0)
}

/// Ctrl-C: the first stops after the capture in progress, the second at once.
pub fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\njackbench: stopped; everything finished is kept");
            std::process::exit(2);
        }
        eprintln!("\njackbench: stopping after this capture (Ctrl-C again to stop at once)");
    });
    stop
}

/// Where serials come from.
enum Serials {
    List(std::vec::IntoIter<String>),
    Operator,
}

/// Asks on stderr, reads a line from stdin; `None` when stdin is closed.
pub fn ask(question: &str) -> Option<String> {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_string()),
    }
}

/// `jackbench batch`.
/// The bench a batch or a calibration tests its units on: the virtual bench (each unit a new
/// part, given a random fault at `fault_rate`), switched by itself or by the rig's real matrix, or
/// the rig's real hardware. With a sentence saying which, for the operator.
pub fn open_bench(rig: &RigFile, hw: &Hardware, fault_rate: f64, seed: u64) -> Result<(Bench, String), Failure> {
    let sound = station::sound(rig, hw)?;
    if fault_rate > 0.0 && sound.is_some() {
        return Err(anyhow::anyhow!("--fault-rate injects faults into the virtual bench: add --virtual").into());
    }
    let matrix = station::matrix(rig, hw)?;
    Ok(match (sound, matrix) {
        (None, m) => {
            let vb = station::virtual_bench(rig, &[], seed, hw)?;
            let how = m.as_ref().map_or(String::new(), |(_, h)| format!(", {h}"));
            let rate = if fault_rate > 0.0 {
                format!(", {:.0} % of units given a random fault", 100.0 * fault_rate)
            } else {
                String::new()
            };
            (
                Bench::Virtual { bench: vb, switch: m.map(|(s, _)| s), fault_rate, seed },
                format!("the virtual bench (seed {seed}{rate}){how}"),
            )
        }
        (Some((endpoint, what)), Some((switch, how))) => {
            (Bench::Real(Box::new(jackbench::rig::Rack { endpoint, switch })), format!("{what}, {how}"))
        }
        (Some(_), None) => return Err(station::no_virtual_switch(rig)),
    })
}

pub fn run_batch(args: &BatchArgs) -> Result<u8, Failure> {
    let cfg = config()?;
    let (settings, dir) = if args.resume {
        let dir = match &args.out {
            Some(d) => d.clone(),
            None => batch::latest_unfinished(Path::new("reports"))
                .ok_or_else(|| anyhow::anyhow!("--resume: no unfinished batch under reports/ (name one with --out)"))?,
        };
        let settings = BatchSettings::load(&dir)?;
        if settings.finished {
            return Err(anyhow::anyhow!("{}: this batch is finished; start a new one", dir.display()).into());
        }
        (settings, dir)
    } else {
        let (Some(rig), Some(model)) = (&args.rig, &args.model) else {
            return Err(anyhow::anyhow!("batch: --rig and --model are needed (or --resume)").into());
        };
        if !(0.0..=1.0).contains(&args.fault_rate) {
            return Err(anyhow::anyhow!("--fault-rate {}: a chance from 0 to 1", args.fault_rate).into());
        }
        let now = std::time::SystemTime::now();
        let stamp = humantime::format_rfc3339_seconds(now).to_string();
        let id = format!("{model}-{}", stamp.replace([':', '-'], "").trim_end_matches('Z'));
        let dir = args.out.clone().unwrap_or_else(|| PathBuf::from("reports").join(&id));
        if dir.join(batch::BATCH_FILE).exists() {
            return Err(
                anyhow::anyhow!("{}: holds a batch already (add --resume to go on with it)", dir.display()).into()
            );
        }
        let settings = BatchSettings {
            id,
            created: stamp,
            rig: rig.display().to_string(),
            model: model.clone(),
            serials: args.serials.clone(),
            db: cfg.db(args.db.as_deref()),
            bench: cfg.bench(args.bench.as_deref()),
            operator: cfg.operator(args.operator.as_deref()),
            simulate: args.hw.simulate,
            virtual_audio: args.hw.virtual_audio,
            relay_port: args.hw.relay_port.clone(),
            fault_rate: args.fault_rate,
            seed: args.seed,
            ambient: args.hw.ambient,
            finished: false,
        };
        (settings, dir)
    };
    let (rig, bench_cal) = bench_calibration::calibrated_rig(RigFile::load(Path::new(&settings.rig))?, &args.limits)?;
    let model = ProductModel::load(&args.limits, &settings.model)?;
    let serials = match &settings.serials {
        Some(p) => Some(batch::read_serials(p)?),
        None => None,
    };
    let hw = Hardware {
        simulate: settings.simulate,
        virtual_audio: settings.virtual_audio,
        relay_port: settings.relay_port.clone(),
        ambient: settings.ambient,
    };
    let (mut bench, what) = open_bench(&rig, &hw, settings.fault_rate, settings.seed)?;
    let switch_kind = if settings.simulate { SwitchKind::Virtual } else { rig.switch.kind };
    let mut batch = Batch::open(&dir, settings, rig, model)?;
    let stop = stop_flag();
    eprintln!(
        "batch {}: model {} ({}) on {}, {what}\n  results: {}   captures: {}",
        batch.settings.id,
        batch.model.model,
        batch.limits.source.as_ref().map_or_else(|| batch.model.source.display().to_string(), |s| s.describe()),
        batch.rig.name,
        batch.db.name(),
        dir.display()
    );
    let bench_warning = bench_calibration::age_warning(&batch.rig, bench_cal.as_ref(), std::time::SystemTime::now());
    for warning in batch.calibration_warning().into_iter().chain(bench_warning) {
        eprintln!("  warning: {warning}");
    }
    let recovered = batch.recover()?;
    if !recovered.is_empty() {
        eprintln!("  stored {} finished unit(s) the database had missed: {}", recovered.len(), recovered.join(", "));
    }
    let done = batch.stored()?;
    let (mut tested, mut passed) = store::batch_yield(&mut batch.db, &batch.settings.id)?;
    if tested > 0 {
        eprintln!("  resuming: {tested} unit(s) tested, {passed} passed");
    }
    let mut source = match serials {
        Some(list) => {
            let left: Vec<String> = list.into_iter().filter(|s| !done.contains(s)).collect();
            eprintln!(
                "  {} serial(s) to test from {}",
                left.len(),
                batch.settings.serials.as_ref().map_or(String::new(), |p| p.display().to_string())
            );
            Serials::List(left.into_iter())
        }
        None => Serials::Operator,
    };
    let tty = std::io::stderr().is_terminal();
    let interrupted = loop {
        if stop.load(Ordering::SeqCst) {
            break Some("interrupted".to_string());
        }
        let serial = match &mut source {
            Serials::List(it) => match it.next() {
                Some(s) => s,
                None => break None,
            },
            Serials::Operator => match ask("\nserial (scan or type; empty or q ends the batch): ") {
                None => break None,
                Some(s) if s.is_empty() || s.eq_ignore_ascii_case("q") => break None,
                Some(s) => s,
            },
        };
        if !batch::valid_serial(&serial) {
            eprintln!("  \"{serial}\" is not a serial (letters, digits, - _ . / only); scan it again");
            continue;
        }
        if switch_kind == SwitchKind::Relay {
            let dut = batch.rig.component(&batch.dut).and_then(|c| c.label.clone()).unwrap_or(batch.dut.clone());
            match ask(&format!("  put unit {serial} in the socket of the {dut}, then press Enter (q stops): ")) {
                Some(a) if a.eq_ignore_ascii_case("q") => break Some("stopped by the operator".into()),
                None => break Some("nobody answered the prompt (standard input is closed)".into()),
                _ => {}
            }
        }
        let planned = batch.rig.schedule().len() as u64;
        let bar = if tty && switch_kind != SwitchKind::Manual {
            ProgressBar::with_draw_target(Some(planned), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("  {prefix} [{bar:30}] {pos}/{len} {msg}")
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .progress_chars("=> "),
        );
        bar.set_prefix(serial.clone());
        let mut progress = |p: Progress| {
            bar.set_position(p.index as u64 - 1);
            bar.set_message(format!("{} : {}", p.path, p.label));
        };
        let outcome = batch.test_unit(&mut bench, &serial, &stop, &mut progress);
        bar.finish_and_clear();
        match outcome? {
            UnitOutcome::Stopped(why) => {
                eprintln!(
                    "  unit {serial} was not finished ({why}); it is not stored and will be tested again on --resume"
                );
                break Some(why);
            }
            UnitOutcome::Done(r) => {
                tested += 1;
                passed += u64::from(r.record.verdict == jackbench::diagnosis::Verdict::Pass);
                print_unit(&r, tty);
                outln!("  yield: {passed} of {tested} passed ({:.1} %)", 100.0 * passed as f64 / tested.max(1) as f64);
            }
        }
    };
    if let Some(why) = interrupted {
        // The last unit measured is stored before the batch stops.
        batch.settle()?;
        eprintln!(
            "jackbench: the batch stopped ({why}); {tested} unit(s) are stored in {}. Go on with: jackbench batch --resume --out {}",
            batch.db.name(),
            shell_word(&dir.display().to_string())
        );
        return Ok(2);
    }
    batch.finish()?;
    let hidden = if batch.db.name().contains(":***@") { " (with the password where *** stands)" } else { "" };
    outln!(
        "batch {} done: {passed} of {tested} passed; the results are in {}: `jackbench summary --db {}` shows the yield{hidden}",
        batch.settings.id,
        batch.db.name(),
        shell_word(batch.db.name())
    );
    Ok(u8::from(passed < tested))
}

/// A unit's verdict, big enough to read from the bench.
fn print_unit(r: &batch::UnitResult, color: bool) {
    use jackbench::diagnosis::Verdict;
    let word = r.record.verdict.shout();
    let (on, off) = match (color, r.record.verdict) {
        (true, Verdict::Pass) => ("\x1b[1;37;42m", "\x1b[0m"),
        (true, Verdict::Fail) => ("\x1b[1;37;41m", "\x1b[0m"),
        // Amber: neither passed nor failed, to be tested again.
        (true, Verdict::Incomplete) => ("\x1b[1;30;43m", "\x1b[0m"),
        _ => ("", ""),
    };
    outln!("\n  {on}   {word}   {off}  {}", r.record.serial);
    if let Some(f) = &r.injected {
        outln!("  (virtual bench: given {}:{} at severity {:.2})", f.component, f.symptom.name(), f.severity);
    }
    for f in &r.record.faults {
        let title = r.diagnosis.faults.iter().find(|d| d.component == f.component && d.code.to_string() == f.code);
        match title {
            Some(d) => outln!("  {}. {}\n     code:     {} on {}", f.rank, d.title, f.code, f.component),
            None => outln!("  {}. {} — {}", f.rank, f.component, f.code),
        }
        outln!("     evidence: {}", f.evidence);
        outln!("     fix:      {}", f.remedy);
    }
    let outside: Vec<String> = r
        .record
        .measurements
        .iter()
        .filter(|m| !m.pass)
        .map(|m| format!("{} {:.2} {} (limit {})", m.name, m.value, m.unit, limits_text(m.limit_low, m.limit_high)))
        .collect();
    if !outside.is_empty() {
        outln!("  outside limits: {}", outside.join("; "));
    } else if !r.record.faults.is_empty() {
        outln!("  outside limits: none of the stored measurements; the evidence above is what showed the fault");
    }
    outln!("  report: {}/report.html", r.record.capture_set);
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The results database (default: JACKBENCH_DB, then jackbench.toml, then
    /// reports/results.sqlite), opened read-only.
    #[arg(long)]
    db: Option<String>,
    /// The address to listen on; port 0 takes a free one (the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// A file holding the token every request must carry (`Authorization: Bearer TOKEN`, or
    /// `?token=TOKEN` in a browser); required to listen on anything but localhost.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// The shift the floor shows: units of the last this many hours.
    #[arg(long, default_value_t = 8.0)]
    shift_hours: f64,
    /// Where the capture sets and reports are (served under /files/, linked from each test;
    /// nothing outside it is served). Default: ./reports when there is one.
    #[arg(long)]
    reports: Option<PathBuf>,
}

/// `jackbench serve`.
pub fn serve(args: &ServeArgs) -> Result<u8, Failure> {
    if !(args.shift_hours > 0.0 && args.shift_hours <= 24.0 * 366.0) {
        return Err(
            anyhow::anyhow!("--shift-hours {}: give hours, more than 0 and at most a year", args.shift_hours).into()
        );
    }
    let token = match &args.token_file {
        Some(f) => {
            let t = std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("--token-file {}: {e}", f.display()))?;
            let t = t.trim().to_string();
            if t.len() < 16 {
                return Err(
                    anyhow::anyhow!("--token-file {}: the token must be at least 16 characters", f.display()).into()
                );
            }
            Some(t)
        }
        None => None,
    };
    let options = jackbench::lab::serve::ServeOptions {
        db: config()?.db(args.db.as_deref()),
        listen: args.listen,
        token,
        shift_hours: args.shift_hours,
        reports: args.reports.clone().or_else(|| Some(PathBuf::from("reports")).filter(|d| d.is_dir())),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("the server's runtime: {e}"))?;
    runtime.block_on(jackbench::lab::serve::serve(options)).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(0)
}
