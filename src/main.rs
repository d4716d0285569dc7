//! The `jackbench` command line: parse, call the library, print, map errors to exit codes.

use anyhow::Context;
use clap::{Parser, Subcommand};
use jackbench::analysis::{self, Analysis, AnalyzeOptions, ChannelAnalysis};
use jackbench::bench;
use jackbench::capture::{self, Audio, CaptureSet, SampleFormat, WavSource};
use jackbench::diagnosis::{self, Diagnosis, Verdict};
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
        /// The rig file (or the name of a built-in rig: qa-bench, repair-laptop, qa-splitter,
        /// loopback-check).
        #[arg(long, default_value = "rigs/qa-bench.toml")]
        rig: PathBuf,
        #[command(flatten)]
        hw: cli::station::Hardware,
        /// Inject a fault into the virtual bench: COMPONENT:SYMPTOM[:SEVERITY], SEVERITY mild,
        /// moderate (default), severe or 0..1. Repeat for several.
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
fn emit(args: std::fmt::Arguments) {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) if code == 0 && STDOUT_FAILED.load(Ordering::Relaxed) => ExitCode::from(2),
        Ok(code) => ExitCode::from(code),
        // The reader of an export or a listing stopped early (`| head`): nothing is wrong.
        Err(f) if is_broken_pipe(&f.error) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("jackbench: {:#}", f.error);
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
            if json {
                outln!("{}", serde_json::to_string_pretty(&analysis)?);
            } else {
                print_analysis(&file, &analysis);
            }
            Ok(0)
        }
        Command::Run { rig, hw, faults, seed, out, json } => run_bench(&rig, &hw, &faults, seed, out, json),
        Command::Devices { json } => list_devices(json),
        Command::Batch(args) => cli::lab::run_batch(&args),
        Command::History { serial, db, json } => cli::lab::history(&serial, db.as_deref(), json),
        Command::Export(args) => cli::lab::export(&args),
        Command::Summary(args) => cli::lab::summarize(&args),
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
                print_diagnosis(&dir, &d);
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
) -> Result<u8, Failure> {
    let rig = RigFile::load(rig_path)?;
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
    eprintln!(
        "{}: {} captures on {what}, {:.1} s of audio per unit",
        rig.name,
        rig.schedule().len(),
        rig.audio_time_s()
    );
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
        print_diagnosis(&out, &d);
    }
    // The report (diagnosis.json included) beside the capture set, once the verdict is out.
    report::write_report(&set, &d, &rig.limits, &out, report::Formats::default())?;
    if !json {
        outln!("\nreport: {}", out.join("report.html").display());
    }
    Ok(if d.verdict == Verdict::Pass { 0 } else { 1 })
}

fn print_diagnosis(dir: &std::path::Path, d: &Diagnosis) {
    let verdict = match d.verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
    };
    outln!("{}: {verdict} ({} captures measured)", dir.display(), d.captures.len());
    for (i, f) in d.faults.iter().enumerate() {
        outln!();
        outln!("{}. {} — {} (confidence {:.0} %)", i + 1, f.component, f.code, 100.0 * f.confidence);
        outln!("   evidence: {}", f.evidence);
        outln!("   fix:      {}", f.remedy);
    }
    for s in &d.suspects {
        outln!();
        outln!("suspects for {}: {} (the set cannot tell them apart)", s.symptom, s.components.join(", "));
        outln!("   evidence: {}", s.evidence);
        outln!("   next:     swap one of them for a known-good part and run again");
    }
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

fn opt(v: Option<f64>, digits: usize, unit: &str) -> String {
    v.map_or_else(|| "—".to_string(), |v| format!("{v:.digits$} {unit}"))
}

/// One row of the analysis table: its label and how a channel's value is shown.
type Row = (&'static str, fn(&ChannelAnalysis) -> String);

fn print_analysis(file: &std::path::Path, a: &Analysis) {
    outln!("{}: {} Hz, {} channel(s), {:.3} s", file.display(), a.sample_rate, a.channels.len(), a.duration_s);
    let names = ["left", "right"];
    let rows: [Row; 14] = [
        ("frequency", |c| opt(c.frequency_hz, 4, "Hz")),
        ("level", |c| opt(c.level_dbfs, 3, "dBFS")),
        ("THD", |c| opt(c.thd_percent, 4, "%")),
        ("THD+N", |c| opt(c.thd_n_db, 2, "dB")),
        ("noise floor", |c| format!("{:.2} dBFS", c.noise_floor_dbfs)),
        ("hum", |c| match (c.hum_dbfs, c.hum_mains_hz) {
            (Some(h), Some(m)) => format!("{h:.2} dBFS ({m:.0} Hz)"),
            _ => "none".into(),
        }),
        ("DC offset", |c| format!("{:+.6}", c.dc_offset)),
        ("dropouts", |c| {
            if c.dropouts.is_empty() {
                "none".into()
            } else {
                c.dropouts.iter().map(|d| format!("{:.4} s ({:.1} ms)", d.at_s, d.ms)).collect::<Vec<_>>().join(", ")
            }
        }),
        ("level steps", |c| {
            if c.level_steps.is_empty() {
                "none".into()
            } else {
                c.level_steps
                    .iter()
                    .map(|s| format!("{:.3} s ({:+.1} dB)", s.at_s, s.db))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }),
        ("outside tone", |c| {
            if c.outside_events.is_empty() {
                "none".into()
            } else {
                c.outside_events
                    .iter()
                    .map(|e| format!("{:.3} s ({:.0} ms)", e.at_s, e.ms))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }),
        ("clipped", |c| yes_no(c.clipped)),
        ("digital silence", |c| yes_no(c.digital_silence)),
        ("tone found", |c| yes_no(c.tone_present)),
        ("steady part", |c| format!("{:.3}–{:.3} s", c.steady_start_s, c.steady_end_s)),
    ];
    out!("{:<16}", "");
    for (i, _) in a.channels.iter().enumerate() {
        out!("{:<26}", if a.channels.len() == 1 { "mono" } else { names.get(i).copied().unwrap_or("?") });
    }
    outln!();
    for (label, f) in rows {
        out!("{label:<16}");
        for c in &a.channels {
            out!("{:<26}", f(c));
        }
        outln!();
    }
    if let Some(st) = &a.stereo {
        if let (Some(b), Some(p), Some(inv)) = (st.balance_db, st.phase_deg, st.inverted) {
            let polarity = if inv { "inverted" } else { "same" };
            outln!("{:<16}{b:+.2} dB (left − right), phase {p:+.1}°, polarity {polarity}", "balance");
        }
        if let Some(x) = st.crosstalk_db {
            outln!("{:<16}{x:.1} dB", "crosstalk");
        }
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// `jackbench devices`.
#[cfg(feature = "audio")]
fn list_devices(json: bool) -> Result<u8, Failure> {
    use jackbench::rig::soundcard::{list_devices, ConfigRange};
    let hosts = list_devices();
    if json {
        outln!("{}", serde_json::to_string_pretty(&hosts)?);
        return Ok(0);
    }
    // The ranges of a device in one line: channel counts, rates, sample formats.
    let show = |ranges: &[ConfigRange]| -> String {
        let ch = (ranges.iter().map(|r| r.channels).min(), ranges.iter().map(|r| r.channels).max());
        let hz = (ranges.iter().map(|r| r.min_rate_hz).min(), ranges.iter().map(|r| r.max_rate_hz).max());
        let mut formats: Vec<&str> = ranges.iter().map(|r| r.format.as_str()).collect();
        formats.sort_unstable();
        formats.dedup();
        let span = |(a, b): (Option<u32>, Option<u32>), unit: &str| match (a, b) {
            (Some(a), Some(b)) if a == b => format!("{a}{unit}"),
            (Some(a), Some(b)) => format!("{a}–{b}{unit}"),
            _ => "?".into(),
        };
        format!(
            "{} channels, {}, {}",
            span((ch.0.map(u32::from), ch.1.map(u32::from)), ""),
            span(hz, " Hz"),
            formats.join(" ")
        )
    };
    for h in &hosts {
        outln!("{}{}", h.host, if h.default { " (default host)" } else { "" });
        if let Some(e) = &h.error {
            outln!("  cannot list its devices: {e}");
        }
        if h.devices.is_empty() && h.error.is_none() {
            outln!("  no devices");
        }
        for d in &h.devices {
            let mut marks = Vec::new();
            if d.default_output {
                marks.push("default output");
            }
            if d.default_input {
                marks.push("default input");
            }
            let marks = if marks.is_empty() { String::new() } else { format!(" [{}]", marks.join(", ")) };
            outln!("  {}{marks}", d.name);
            if let Some(desc) = &d.description {
                outln!("      {desc}");
            }
            if !d.outputs.is_empty() {
                outln!("      output: {}", show(&d.outputs));
            }
            if !d.inputs.is_empty() {
                outln!("      input:  {}", show(&d.inputs));
            }
        }
    }
    Ok(0)
}

#[cfg(not(feature = "audio"))]
fn list_devices(_json: bool) -> Result<u8, Failure> {
    Err(anyhow::anyhow!(
        "this jackbench was built without the `audio` feature, so it knows no sound devices: {NO_AUDIO}"
    )
    .into())
}

/// The options of `jackbench doctor`.
#[cfg_attr(not(feature = "audio"), allow(dead_code))]
struct DoctorArgs {
    device: String,
    output: Option<String>,
    input: Option<String>,
    host: Option<String>,
    rate: u32,
    no_loopback: bool,
    loop_gain: Option<f64>,
    json: bool,
}

/// `jackbench doctor`.
#[cfg(feature = "audio")]
fn doctor(args: DoctorArgs) -> Result<u8, Failure> {
    use jackbench::doctor::{examine, DoctorOptions, Status};
    use jackbench::rig::live::DeviceRef;
    if !(capture::wav::MIN_RATE_HZ..=capture::wav::MAX_RATE_HZ).contains(&args.rate) {
        return Err(anyhow::anyhow!("--rate {} Hz is outside 8000..=192000", args.rate).into());
    }
    if let Some(h) = &args.host {
        // An unknown host means the checks cannot run at all.
        jackbench::rig::soundcard::host(Some(h))?;
    }
    let dev = |name: &Option<String>| DeviceRef::new(args.host.as_deref(), name.as_deref().unwrap_or(&args.device));
    let opts = DoctorOptions {
        output: dev(&args.output),
        input: dev(&args.input),
        rate_hz: args.rate,
        loopback: !args.no_loopback,
        loop_gain_db: args.loop_gain,
    };
    if !args.json {
        eprintln!("checking {} (output) and {} (input)…", opts.output, opts.input);
    }
    let report = examine(&opts);
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for c in &report.checks {
            let mark = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
                Status::Skip => "skip",
            };
            outln!("{mark}  {:<9} {}", c.id, c.detail);
            if let Some(fix) = &c.fix {
                if c.status != Status::Ok {
                    outln!("      {:<9} fix: {fix}", "");
                }
            }
        }
        for e in &report.measured.stream_events {
            outln!("      stream: {e}");
        }
    }
    Ok(report.exit_code())
}

#[cfg(not(feature = "audio"))]
fn doctor(_args: DoctorArgs) -> Result<u8, Failure> {
    Err(anyhow::anyhow!(
        "this jackbench was built without the `audio` feature, so it cannot open sound devices: {NO_AUDIO}"
    )
    .into())
}
