//! The `jackbench` command line: parse, call the library, print, map errors to exit codes.

use anyhow::Context;
use clap::{Parser, Subcommand};
use jackbench::analysis::{self, AnalyzeOptions};
use jackbench::bench;
use jackbench::capture::{self, Audio, CaptureSet, SampleFormat, WavSource};
use jackbench::diagnosis::{self, Verdict};
use jackbench::report;
use jackbench::rig::file::SwitchKind;
use jackbench::rig::RigFile;
use jackbench::stimulus::Stimulus;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// A test bench for headsets and 3.5 mm jacks.
#[derive(Parser)]
#[command(name = "jackbench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a reference signal as a WAV file.
    Stimulus {
        #[command(subcommand)]
        kind: StimulusKind,
    },
    /// Measure a recording of a single sine: frequency, level, THD, THD+N, noise, hum, DC,
    /// dropouts, clipping (exit 0 measured, 2 unusable input).
    Analyze {
        /// The recording (16/24-bit integer or 32-bit float WAV, 1 or 2 channels).
        file: PathBuf,
        /// The tone's frequency in Hz, instead of finding it.
        #[arg(long)]
        freq: Option<f64>,
        /// The recording is of silence: measure noise, hum and DC without looking for a tone.
        #[arg(long, conflicts_with = "freq")]
        silence: bool,
        /// Print spec §5's JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run a rig's test plan, write the capture set, diagnose it (exit 0 pass, 1 fail, 2 error).
    /// With no rig named, the QA bench runs on the virtual bench; a rig with real devices runs
    /// on them, prompting the operator for each connection when it has no relay board.
    Run {
        /// The rig file (or the name of a built-in rig: qa-bench, repair-laptop, repair-counter,
        /// qa-splitter, loopback-check, qa-relay).
        #[arg(long, default_value = "rigs/qa-bench.toml")]
        rig: PathBuf,
        #[command(flatten)]
        hw: cli::station::Hardware,
        /// Inject a fault into the virtual bench: COMPONENT:SYMPTOM[:SEVERITY], SEVERITY mild,
        /// moderate (default), severe or 0..1. Repeat for several. `jackbench faults` lists the
        /// symptoms and each rig's components.
        #[arg(long = "fault", value_name = "COMPONENT:SYMPTOM[:SEVERITY]")]
        faults: Vec<String>,
        /// Seed of the virtual bench (part-to-part spread, noise, delays).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write the capture set (default: a new directory under reports/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the diagnosis as JSON instead of a summary.
        #[arg(long)]
        json: bool,
        /// Where the limits files are: the bench's calibration, LIMITS/bench/RIG.toml
        /// (`calibrate --bench`), replaces the rig file's gain and noise windows.
        #[arg(long, default_value = jackbench::lab::model::LIMITS_DIR)]
        limits: PathBuf,
    },
    /// Measure golden units of a product model and write its limits (limits/MODEL.toml):
    /// response masks, rub & buzz and THD over frequency, sensitivity and balance windows
    /// (exit 0 written, 2 refused: too few units, a golden unit that fails or is an outlier).
    Calibrate(cli::calibrate::CalibrateArgs),
    /// Watch one path live (wiggle test, overnight soak): a tone per ear and one for the
    /// microphone, played without end; gaps, clicks, level steps, noise bursts and dead lines
    /// as they happen; level, THD and noise each second; all of it streamed to a directory
    /// (exit 0 no event, 1 events, 2 error).
    Monitor(cli::monitor::MonitorArgs),
    /// Measure a headset's plug with the relay board's meter: 3- or 4-pole, CTIA or OMTP, each
    /// ear's and the microphone's DC resistance, opens and shorts, and with --buttons the inline
    /// buttons one at a time (exit 0 sound, 1 a fault, 2 error).
    Plug(cli::plug::PlugArgs),
    /// List the faults `run --fault` can inject: the symptoms, and each rig's components with
    /// the symptoms each can carry.
    Faults {
        /// One rig file (or built-in rig's name); default: every built-in rig.
        #[arg(long)]
        rig: Option<PathBuf>,
    },
    /// Render the report of a capture set: report.html (self-contained), PNG plots and
    /// diagnosis.json (exit 0 pass, 1 fail, 2 unusable input).
    Report {
        /// The capture-set directory.
        dir: PathBuf,
        /// Where to write the report (default: the capture-set directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// What to write, comma-separated: html, png, json.
        #[arg(long, value_delimiter = ',', default_value = "html,png,json")]
        format: Vec<ReportFormat>,
    },
    /// List the audio hosts and devices with their rates, channel counts and sample formats
    /// (the names a rig file uses).
    Devices {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The checklist for "my headset mic doesn't work", measured: the device exists and is the
    /// default, opens, is not busy, records sound, runs at the rate asked, and (with a loopback
    /// plug in the jack) carries a tone round trip (exit 0 pass, 1 a check failed, 2 could not run).
    Doctor {
        /// The device to check, for output and input.
        #[arg(long, default_value = "default")]
        device: String,
        /// The output device, when it differs from --device.
        #[arg(long)]
        output: Option<String>,
        /// The input device, when it differs from --device.
        #[arg(long)]
        input: Option<String>,
        /// The audio host (alsa, jack, …; the platform's default when absent).
        #[arg(long)]
        host: Option<String>,
        /// The rate to ask for, Hz.
        #[arg(long, default_value_t = 48_000)]
        rate: u32,
        /// No loopback plug is in the jack: skip the round-trip check.
        #[arg(long)]
        no_loopback: bool,
        /// The round trip's expected gain in dB (the loopback plug's divider, e.g. -20).
        #[arg(long, allow_hyphen_values = true)]
        loop_gain: Option<f64>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Test a tray of units one after another against a product model's limits: each unit's
    /// capture set and report under the batch's directory, its verdict, faults and measurements
    /// in the results database (exit 0 all passed, 1 some failed, 2 stopped; --resume goes on).
    Batch(cli::lab::BatchArgs),
    /// Every test of one unit, newest first, with verdicts and faults.
    History {
        /// The unit's serial.
        serial: String,
        /// The results database (default: JACKBENCH_DB, then jackbench.toml, then
        /// reports/results.sqlite).
        #[arg(long)]
        db: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Export stored results as CSV or JSON, one row per unit or per measurement.
    Export(cli::lab::ExportArgs),
    /// Yield, a Pareto of fault codes and the spread of every measurement against its limits,
    /// per bench; as text, JSON, or an HTML page with plots.
    Summary(cli::lab::SummaryArgs),
    /// Serve the lab's live view over the results database, read-only: the floor (a card per
    /// bench, live as units land), and its JSON under /api/. Localhost unless told otherwise;
    /// any other address needs --token-file.
    Serve(cli::lab::ServeArgs),
    /// Diagnose a capture set: which component carries which fault (exit 0 pass, 1 fail,
    /// 2 unusable input).
    Diagnose {
        /// The capture-set directory (it holds capture-set.toml).
        dir: PathBuf,
        /// Print spec §4's JSON object instead of a summary.
        #[arg(long)]
        json: bool,
    },
}

/// Output options shared by every stimulus.
#[derive(clap::Args)]
struct WavOut {
    /// Sample rate in Hz.
    #[arg(long, default_value_t = 48_000)]
    rate: u32,
    /// Sample format.
    #[arg(long, value_enum, default_value_t = SampleFormat::S24)]
    format: SampleFormat,
    /// Number of channels (the same signal on each).
    #[arg(long, default_value_t = 1)]
    channels: u16,
    /// Silence before the signal, in seconds.
    #[arg(long, default_value_t = 0.0)]
    lead: f64,
    /// Silence after the signal, in seconds.
    #[arg(long, default_value_t = 0.0)]
    tail: f64,
    /// The WAV file to write.
    out: PathBuf,
}

#[derive(Subcommand)]
enum StimulusKind {
    /// A sine with 5 ms raised-cosine fades.
    Sine {
        /// Frequency in Hz.
        #[arg(long)]
        freq: f64,
        /// Peak level in dBFS (0 dBFS = full-scale sine).
        #[arg(long, default_value_t = -12.0, allow_hyphen_values = true)]
        level: f64,
        /// Duration in seconds, fades included.
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
        #[command(flatten)]
        out: WavOut,
    },
    /// An exponential sine sweep.
    LogSweep {
        #[arg(long, default_value_t = 20.0)]
        start: f64,
        #[arg(long, default_value_t = 20_000.0)]
        stop: f64,
        #[arg(long, default_value_t = -12.0, allow_hyphen_values = true)]
        level: f64,
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        #[command(flatten)]
        out: WavOut,
    },
    /// Digital silence.
    Silence {
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
        #[command(flatten)]
        out: WavOut,
    },
    /// Several sines with Schroeder phases (low crest factor).
    Multitone {
        /// Tone frequencies in Hz, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        freqs: Vec<f64>,
        /// Level of each tone in dBFS.
        #[arg(long, default_value_t = -30.0, allow_hyphen_values = true)]
        level: f64,
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
        #[command(flatten)]
        out: WavOut,
    },
}

/// A report file kind.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReportFormat {
    Html,
    Png,
    Json,
}

/// `println!` for the commands' results, through [`emit`].
macro_rules! outln {
    () => {
        $crate::emit(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::emit(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for the commands' results, through [`emit`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::emit(format_args!($($arg)*))
    };
}

mod cli;

use cli::devices::{doctor, list_devices, DoctorArgs};
use cli::measure::{print_analysis, print_diagnosis};

/// How to get a build that drives sound cards.
#[cfg(not(feature = "audio"))]
const NO_AUDIO: &str =
    "build it with `cargo build --release --features audio` (on Linux that needs ALSA's headers: apt-get install libasound2-dev pkg-config)";

/// An error with the exit code it maps to.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure { code: 2, error: e.into() }
    }
}

/// Set once standard output's reader has gone (`jackbench devices | head`) or a write failed.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
/// Set when a write to standard output failed for another reason (a full disk): exit 2.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// Writes a command's results to standard output. A reader that goes away is not the bench's
/// error: the rest of the output is dropped and the work goes on (a run keeps measuring and
/// writing its set). Any other write error is said once on stderr.
pub(crate) fn emit(args: std::fmt::Arguments) {
    use std::io::Write;
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            STDOUT_FAILED.store(true, Ordering::Relaxed);
            eprintln!("jackbench: cannot write to standard output: {e}");
        }
    }
}

/// Whether `error` comes from standard output's reader having gone.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || e.downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

/// An error and its causes, each said once: most of ours already name their cause in their own
/// message ("PATH: cannot read: No such file"), so a cause already in the text is not repeated.
fn error_text(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text = format!("{text}: {c}");
        }
    }
    text
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) if code == 0 && STDOUT_FAILED.load(Ordering::Relaxed) => ExitCode::from(2),
        Ok(code) => ExitCode::from(code),
        // The reader of an export or a listing stopped early (`| head`): nothing is wrong.
        Err(f) if is_broken_pipe(&f.error) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("jackbench: {}", error_text(&f.error));
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Stimulus { kind } => {
            write_stimulus(kind)?;
            Ok(0)
        }
        Command::Analyze { file, freq, silence, json } => {
            let mut src = WavSource::open(&file)?;
            let analysis = analysis::analyze(&mut src, &AnalyzeOptions { freq_hz: freq, silence })
                .with_context(|| format!("{}", file.display()))?;
            if let Some(bad) = analysis.invalid_samples {
                let total = analysis.frames * analysis.channels.len() as u64;
                if bad.non_finite >= total {
                    return Err(anyhow::anyhow!(
                        "{}: no sample is a finite number ({}): not a recording",
                        file.display(),
                        bad.describe()
                    )
                    .into());
                }
                let how = if bad.non_finite > 0 { "; samples that are not finite are measured as gaps" } else { "" };
                eprintln!("jackbench: warning: {}: {}: no converter records that{how}", file.display(), bad.describe());
            }
            if json {
                outln!("{}", serde_json::to_string_pretty(&analysis.contract())?);
            } else {
                print_analysis(&file, &analysis);
            }
            Ok(0)
        }
        Command::Run { rig, hw, faults, seed, out, json, limits } => {
            run_bench(&rig, &hw, &faults, seed, out, json, &limits)
        }
        Command::Devices { json } => list_devices(json),
        Command::Faults { rig } => cli::faults::faults(rig.as_deref()),
        Command::Batch(args) => cli::lab::run_batch(&args),
        Command::Calibrate(args) => cli::calibrate::calibrate(&args),
        Command::Monitor(args) => cli::monitor::monitor(&args),
        Command::Plug(args) => cli::plug::plug(&args),
        Command::History { serial, db, json } => cli::lab::history(&serial, db.as_deref(), json),
        Command::Export(args) => cli::lab::export(&args),
        Command::Summary(args) => cli::lab::summarize(&args),
        Command::Serve(args) => cli::lab::serve(&args),
        Command::Doctor { device, output, input, host, rate, no_loopback, loop_gain, json } => {
            doctor(DoctorArgs { device, output, input, host, rate, no_loopback, loop_gain, json })
        }
        Command::Report { dir, out, format } => {
            let set = CaptureSet::load(&dir)?;
            let limits = set.manifest.limits.clone().unwrap_or_default();
            let d = diagnosis::diagnose(&set, &limits)?;
            let formats = report::Formats {
                html: format.contains(&ReportFormat::Html),
                png: format.contains(&ReportFormat::Png),
                json: format.contains(&ReportFormat::Json),
            };
            let out = out.unwrap_or_else(|| dir.clone());
            let files = report::write_report(&set, &d, &limits, &out, formats)?;
            eprintln!("wrote {} file(s) into {}", files.len(), out.display());
            Ok(if d.verdict == Verdict::Pass { 0 } else { 1 })
        }
        Command::Diagnose { dir, json } => {
            let set = CaptureSet::load(&dir)?;
            let limits = set.manifest.limits.clone().unwrap_or_default();
            let d = diagnosis::diagnose(&set, &limits)?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                print_diagnosis(&dir, &d, &limits);
            }
            Ok(if d.verdict == Verdict::Pass { 0 } else { 1 })
        }
    }
}

/// `jackbench run`: the plan on the rig's station, the capture set, its diagnosis.
fn run_bench(
    rig_path: &std::path::Path,
    hw: &cli::station::Hardware,
    faults: &[String],
    seed: u64,
    out: Option<PathBuf>,
    json: bool,
    limits_dir: &std::path::Path,
) -> Result<u8, Failure> {
    let (rig, bench_cal) = jackbench::lab::bench_calibration::calibrated_rig(RigFile::load(rig_path)?, limits_dir)?;
    let (mut station, what) = cli::station::station(&rig, hw, faults, seed)?;
    let by_hand = !hw.simulate && rig.switch.kind == SwitchKind::Manual;
    let out = match out {
        Some(o) => o,
        None => {
            let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string().replace(':', "");
            let base = PathBuf::from("reports").join(format!("{}-{stamp}", rig.name));
            let mut dir = base.clone();
            let mut k = 2;
            while dir.exists() {
                dir = PathBuf::from(format!("{}-{k}", base.display()));
                k += 1;
            }
            dir
        }
    };
    if out.join(capture::manifest::MANIFEST_FILE).exists() {
        return Err(anyhow::anyhow!("{}: holds a capture set already; choose another --out", out.display()).into());
    }
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // The first Ctrl-C ends the run after the capture in progress; a second one (say, at an
        // operator prompt) ends it at once. The capture set is valid either way.
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                eprintln!("\njackbench: stopped; the capture set lists every capture made");
                std::process::exit(2);
            }
            eprintln!("\njackbench: stopping after this capture (Ctrl-C again to stop at once)");
        });
    }
    let overlaps = station.endpoint().overlaps();
    eprintln!(
        "{}: {} captures on {what}; the plan takes {}",
        rig.name,
        rig.schedule().len(),
        rig.bench_time_on(overlaps)
    );
    if rig.plan.overlap && !overlaps {
        eprintln!(
            "  (the microphone's captures follow the ears': the mouth simulator or the ear couplers share a device with the DUT; on separate devices, as the plan allows, a unit would take {:.2} s)",
            rig.bench_time().total_s()
        );
    }
    if let Some(c) = &bench_cal {
        eprintln!("bench windows: {} (calibrated {})", c.source.display(), c.calibration.date);
    }
    let now = std::time::SystemTime::now();
    if let Some(warning) = jackbench::lab::bench_calibration::age_warning(&rig, bench_cal.as_ref(), now) {
        eprintln!("warning: {warning}");
    }
    let tty = std::io::stderr().is_terminal() && !by_hand;
    let mut progress = |p: bench::Progress| {
        if tty {
            eprint!("\r\x1b[2K[{:>2}/{}] {} : {}", p.index, p.total, p.path, p.label);
        } else if by_hand {
            eprintln!("[{:>2}/{}] {} : {}", p.index, p.total, p.path, p.label);
        }
    };
    let outcome = bench::run_plan(&rig, station.as_mut(), &out, &stop, &mut progress)?;
    if tty {
        eprintln!();
    }
    if outcome.repeats > 0 {
        eprintln!("room sound: {} capture(s) made again (the ambient-noise guard)", outcome.repeats);
    }
    if let Some(why) = &outcome.stopped {
        eprintln!(
            "jackbench: the run stopped after {} of {} captures: {why}; the capture set in {} lists them",
            outcome.captures,
            outcome.planned,
            out.display()
        );
        return Ok(2);
    }
    let set = CaptureSet::load(&out)?;
    let d = diagnosis::diagnose(&set, &rig.limits)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        print_diagnosis(&out, &d, &rig.limits);
    }
    // The report (diagnosis.json included) beside the capture set, once the verdict is out.
    report::write_report(&set, &d, &rig.limits, &out, report::Formats::default())?;
    if !json {
        outln!("\nreport: {}", out.join("report.html").display());
    }
    Ok(if d.verdict == Verdict::Pass { 0 } else { 1 })
}

fn write_stimulus(kind: StimulusKind) -> anyhow::Result<()> {
    let (stimulus, out) = match kind {
        StimulusKind::Sine { freq, level, seconds, out } => {
            (Stimulus::Sine { freq_hz: freq, level_dbfs: level, seconds }, out)
        }
        StimulusKind::LogSweep { start, stop, level, seconds, out } => {
            (Stimulus::LogSweep { start_hz: start, stop_hz: stop, level_dbfs: level, seconds }, out)
        }
        StimulusKind::Silence { seconds, out } => (Stimulus::Silence { seconds }, out),
        StimulusKind::Multitone { freqs, level, seconds, out } => {
            (Stimulus::Multitone { freqs_hz: freqs, level_dbfs: level, seconds }, out)
        }
    };
    if !(capture::wav::MIN_RATE_HZ..=capture::wav::MAX_RATE_HZ).contains(&out.rate) {
        anyhow::bail!("--rate {} Hz is outside 8000..=192000", out.rate);
    }
    if !(1..=2).contains(&out.channels) {
        anyhow::bail!("--channels {} (1 or 2 allowed)", out.channels);
    }
    if !(out.lead >= 0.0 && out.tail >= 0.0 && out.lead.is_finite() && out.tail.is_finite()) {
        anyhow::bail!("--lead and --tail must be zero or more seconds");
    }
    stimulus.validate(out.rate).context("stimulus")?;
    let mut x = vec![0.0; jackbench::stimulus::samples_for(out.lead, out.rate)];
    x.extend(stimulus.render(out.rate));
    x.extend(std::iter::repeat_n(0.0, jackbench::stimulus::samples_for(out.tail, out.rate)));
    let audio = Audio::from_f64(out.rate, out.format, &vec![x; usize::from(out.channels)]);
    capture::write_wav(&out.out, &audio)?;
    eprintln!(
        "wrote {} ({:.3} s, {} Hz, {}, {} channel{})",
        out.out.display(),
        audio.frames() as f64 / f64::from(out.rate),
        out.rate,
        out.format,
        out.channels,
        if out.channels == 1 { "" } else { "s" }
    );
    Ok(())
}
