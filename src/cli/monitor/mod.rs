//! `jackbench monitor`: one path played and recorded without end, watched live.

mod screen;
mod view;

use screen::Screen;
use view::{Heading, Json, Key, Lines, View};

use crate::cli::station::{virtual_bench, Hardware};
use crate::Failure;
use jackbench::capture::{ComponentKind, Direction, PathSpec};
use jackbench::monitor::soak::Soak;
use jackbench::monitor::{verdict_across, Event, Mark, Monitor, PathWatch, Tally};
use jackbench::rig::file::AudioKind;
use jackbench::rig::stream::{AudioStream, StreamPlan};
use jackbench::rig::virtual_bench::{Pace, VirtualStream};
use jackbench::rig::RigFile;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The ears' tones, Hz: apart, and neither a harmonic of the other nor of the mouth's.
pub const EAR_TONES_HZ: [f64; 2] = [1000.0, 1250.0];
/// The mouth simulator's tone, Hz.
pub const MOUTH_TONE_HZ: f64 = 700.0;
/// The route is checked at least this often, seconds.
const HOLD_S: f64 = 5.0;
/// The mark each turn of several paths leaves in the record, before the path.
pub const WATCHING: &str = "watching ";
/// The mark a reset of the counts leaves in the record.
pub const RESET_MARK: &str = "counts reset";

#[derive(clap::Args)]
pub struct MonitorArgs {
    /// The rig file (or a built-in rig's name).
    #[arg(long, default_value = "rigs/qa-bench.toml")]
    rig: PathBuf,
    /// The path to watch: its number in the rig's plan (1 is the first) or
    /// DRIVER/PORT/ADAPTER/HEADSET; repeat it to watch several in turn, or `all` for every path
    /// through a headset. Default: the first path through a headset that is not a reference
    /// (the unit under test), else the first path.
    #[arg(long)]
    path: Vec<String>,
    /// With several paths: how long each is watched before the next (they take turns until the
    /// run ends).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    dwell: Duration,
    /// How long to watch: 30s, 10m, 8h (default: until Ctrl-C).
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Where to write events.jsonl, minutes.jsonl, clips/ and monitor.json (default: a new
    /// directory under reports/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// One JSON line per event and per second on standard output.
    #[arg(long)]
    json: bool,
    /// Run the virtual bench as fast as it computes, not in real time.
    #[arg(long)]
    fast: bool,
    /// Inject a fault into the virtual bench: COMPONENT:SYMPTOM[:SEVERITY] (repeatable).
    #[arg(long = "fault", value_name = "COMPONENT:SYMPTOM[:SEVERITY]")]
    faults: Vec<String>,
    /// Seed of the virtual bench (its parts, noise and events).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Level of every tone, dBFS.
    #[arg(long, default_value_t = -12.0, allow_hyphen_values = true)]
    level: f64,
    /// Sound clips kept around events, at most (later events are counted, not recorded).
    #[arg(long, default_value_t = 200)]
    max_clips: usize,
    #[command(flatten)]
    hw: Hardware,
}

/// The path `--path` names, or the default one.
fn choose_path(rig: &RigFile, wanted: Option<&str>) -> Result<(PathSpec, Vec<Direction>), Failure> {
    let paths: Vec<(PathSpec, Vec<Direction>)> =
        rig.plan.paths.iter().map(|p| (p.spec(), p.directions.clone())).collect();
    let listed = || paths.iter().enumerate().map(|(i, (p, _))| format!("{} {p}", i + 1)).collect::<Vec<_>>().join("; ");
    match wanted {
        Some(w) => {
            if let Ok(n) = w.parse::<usize>() {
                return paths.get(n.wrapping_sub(1)).cloned().ok_or_else(|| {
                    anyhow::anyhow!("--path {w}: {} has {} paths ({})", rig.name, paths.len(), listed()).into()
                });
            }
            paths.iter().find(|(p, _)| p.ids().join("/") == w).cloned().ok_or_else(|| {
                anyhow::anyhow!(
                    "--path {w}: no such path in {} (DRIVER/PORT/ADAPTER/HEADSET; it has {})",
                    rig.name,
                    listed()
                )
                .into()
            })
        }
        None => {
            let dut = paths.iter().find(|(p, d)| {
                let headset = rig.component(&p.headset);
                headset.is_some_and(|c| c.kind == ComponentKind::Headset && !c.reference)
                    && d.contains(&Direction::Playback)
            });
            dut.or(paths.first()).cloned().ok_or_else(|| anyhow::anyhow!("{} has no path to watch", rig.name).into())
        }
    }
}

/// The paths `--path` names (each once, in the order given), or the default one.
fn choose_paths(rig: &RigFile, wanted: &[String]) -> Result<Vec<(PathSpec, Vec<Direction>)>, Failure> {
    if wanted.iter().any(|w| w == "all") {
        let acoustic: Vec<(PathSpec, Vec<Direction>)> = rig
            .plan
            .paths
            .iter()
            .filter(|p| rig.component(p.headset.get_ref()).is_some_and(|c| c.kind == ComponentKind::Headset))
            .map(|p| (p.spec(), p.directions.clone()))
            .collect();
        if acoustic.is_empty() {
            return Err(anyhow::anyhow!("--path all: {} has no path through a headset", rig.name).into());
        }
        return Ok(acoustic);
    }
    if wanted.is_empty() {
        return Ok(vec![choose_path(rig, None)?]);
    }
    let mut paths: Vec<(PathSpec, Vec<Direction>)> = Vec::new();
    for w in wanted {
        let p = choose_path(rig, Some(w))?;
        if !paths.iter().any(|(q, _)| q == &p.0) {
            paths.push(p);
        }
    }
    Ok(paths)
}

/// What a path plays and records: a tone per ear where it plays, the mouth's where it records.
fn stream_plan(
    rig: &RigFile,
    path: &PathSpec,
    directions: &[Direction],
    level_dbfs: f64,
) -> Result<StreamPlan, Failure> {
    let acoustic = rig.component(&path.headset).is_some_and(|c| c.kind == ComponentKind::Headset);
    let plan = StreamPlan {
        path: path.clone(),
        ears: (acoustic && directions.contains(&Direction::Playback)).then_some(EAR_TONES_HZ),
        mouth: (acoustic && directions.contains(&Direction::Record)).then_some(MOUTH_TONE_HZ),
        level_dbfs,
        rate_hz: rig.rate_hz,
    };
    if plan.ears.is_none() && plan.mouth.is_none() {
        return Err(anyhow::anyhow!(
            "--path {path}: a monitor plays into ear couplers and a mouth simulator, and this path ends in {} (a loopback plug has neither)",
            path.headset
        )
        .into());
    }
    Ok(plan)
}

/// The lines a plan records, by name.
fn line_names(plan: &StreamPlan) -> Vec<&'static str> {
    let mut names = Vec::new();
    if plan.ears.is_some() {
        names.extend(["left", "right"]);
    }
    if plan.mouth.is_some() {
        names.push("mic");
    }
    names
}

pub fn monitor(args: &MonitorArgs) -> Result<u8, Failure> {
    let rig = RigFile::load(&args.rig)?;
    let real = rig.audio.kind != AudioKind::Virtual && !args.hw.simulate && !args.hw.virtual_audio;
    if real && !args.faults.is_empty() {
        return Err(anyhow::anyhow!(
            "--fault injects faults into the virtual bench, and {} runs on real sound devices (add --virtual)",
            rig.source.display()
        )
        .into());
    }
    if !(args.level < 0.0 && args.level > -80.0) {
        return Err(anyhow::anyhow!("--level {}: a tone level in dBFS, between -80 and 0", args.level).into());
    }
    let mut plans = Vec::new();
    for (path, directions) in choose_paths(&rig, &args.path)? {
        plans.push(stream_plan(&rig, &path, &directions, args.level)?);
    }
    // Paths watched in turn share the record's lines: with `all`, those like the first path's.
    let lines = line_names(&plans[0]);
    if args.path.iter().any(|w| w == "all") {
        plans.retain(|p| line_names(p) == lines);
    } else if let Some(other) = plans.iter().find(|p| line_names(p) != lines) {
        return Err(anyhow::anyhow!(
            "--path {}: it records {} and {} records {}; paths watched in turn must record the same lines",
            other.path,
            line_names(other).join(", "),
            plans[0].path,
            lines.join(", ")
        )
        .into());
    }
    let turns = plans.len() > 1;
    if turns && args.dwell < Duration::from_secs(5) {
        return Err(anyhow::anyhow!(
            "--dwell {}: each path needs 5 s at least (a second to learn its levels, then seconds to watch)",
            humantime::format_duration(args.dwell)
        )
        .into());
    }
    // The route held for the whole run (or each turn): the relay board's, or the operator's hands.
    let mut switch = crate::cli::station::matrix(&rig, &args.hw)?;
    if turns && switch.as_ref().is_some_and(|(_, how)| how.contains("by hand")) {
        return Err(anyhow::anyhow!(
            "{}: its paths are switched by hand, so a monitor watches one --path at a time",
            rig.source.display()
        )
        .into());
    }
    // How often the route is checked (and a board's idle timeout fed): well inside the timeout.
    let hold_every = Duration::from_secs_f64(match rig.switch.idle_off_s {
        0 => HOLD_S,
        idle => (f64::from(idle) / 3.0).min(HOLD_S),
    });
    let bench = if real { None } else { Some(virtual_bench(&rig, &args.faults, args.seed, &args.hw)?) };
    let pace = if args.fast { Pace::Fast } else { Pace::RealTime };
    // Each turn's stream; the first also names the lines and the rate.
    let open = |turn: usize| -> Result<(Box<dyn AudioStream>, String), Failure> {
        let plan = plans[turn % plans.len()].clone();
        match &bench {
            None => open_live(&rig, &plan),
            Some(b) => {
                let seed = args.seed.wrapping_add(turn as u64);
                Ok((
                    Box::new(VirtualStream::new(b, plan, seed, pace)?),
                    format!("the virtual bench (seed {})", args.seed),
                ))
            }
        }
    };
    if let Some((s, _)) = &mut switch {
        s.connect(&plans[0].path)?;
    }
    let mut held = std::time::Instant::now();
    let (mut stream, what) = open(0)?;
    let channels = stream.channels();
    let rate = stream.rate_hz();
    let out = args.out.clone().unwrap_or_else(|| {
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string().replace(':', "");
        PathBuf::from("reports").join(format!("monitor-{stamp}"))
    });
    let names: Vec<String> = channels.iter().map(|c| c.name.clone()).collect();
    let mut soak = Soak::create(&out, &names, rate, args.max_clips)?;
    let mut watched: Vec<PathWatch> =
        plans.iter().map(|p| PathWatch { path: p.path.clone(), tally: Tally::new(&channels), seconds: 0.0 }).collect();

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let heading = Heading {
        path: if turns {
            format!("{} paths in turn, {} each", plans.len(), humantime::format_duration(args.dwell))
        } else {
            plans[0].path.to_string()
        },
        source: what,
        lines: channels.iter().map(|c| (c.name.clone(), c.freq_hz)).collect(),
        duration_s: args.duration.map(|d| d.as_secs_f64()),
        out: out.clone(),
    };
    // A person at a terminal gets the screen; a program (or a log) gets lines.
    let mut view: Box<dyn View> = if args.json {
        Box::new(Json::new(&heading))
    } else if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        Box::new(Screen::open(heading)?)
    } else {
        Box::new(Lines::new(&heading, std::io::stderr().is_terminal()))
    };
    let total = args.duration.map(|d| (d.as_secs_f64() * f64::from(rate)).round() as u64);
    let dwell = turns.then(|| (args.dwell.as_secs_f64().round() * f64::from(rate)) as u64);
    let mut blocks = vec![Vec::new(); channels.len()];
    let mut events: Vec<Event> = Vec::new();
    let mut frames = 0u64;
    let mut failed = None;
    let mut turn = 0usize;
    'turns: loop {
        let k = turn % plans.len();
        let path = plans[k].path.to_string();
        if turn > 0 {
            if let Some((s, _)) = &mut switch {
                if let Err(e) = s.connect(&plans[k].path) {
                    failed = Some(e.to_string());
                    break;
                }
            }
            drop(std::mem::replace(&mut stream, open(turn)?.0));
            if stream.channels() != channels || stream.rate_hz() != rate {
                failed = Some(format!("{path} records other lines or at another rate than the first path"));
                break;
            }
        }
        let mut monitor = Monitor::new(&channels, rate).on_path(&path, frames as f64 / f64::from(rate));
        if turns {
            let mark = Mark { t_s: monitor.elapsed_s(), text: format!("{WATCHING}{path}") };
            soak.mark(&mark)?;
            view.mark(&mark);
            view.turn(&path);
        }
        let turn_start = frames;
        let turn_end = dwell.map(|d| frames + d);
        while !stop.load(Ordering::SeqCst) && total.is_none_or(|t| frames < t) && turn_end.is_none_or(|e| frames < e) {
            blocks.iter_mut().for_each(Vec::clear);
            if let Err(e) = stream.read(&mut blocks) {
                failed = Some(e.to_string());
                break 'turns;
            }
            frames += blocks.first().map_or(0, |b| b.len() as u64);
            for key in view.keys()? {
                match key {
                    Key::Quit => stop.store(true, Ordering::SeqCst),
                    // The counts on the screen start again; the record and the verdict keep the
                    // whole run, and the reset is a mark in it (the report counts events after it).
                    Key::Reset => {
                        monitor.reset();
                        let mark = Mark { t_s: monitor.elapsed_s(), text: RESET_MARK.into() };
                        soak.mark(&mark)?;
                        view.reset(&mark);
                    }
                    Key::Mark(text) => {
                        let mark = Mark { t_s: monitor.elapsed_s(), text };
                        soak.mark(&mark)?;
                        view.mark(&mark);
                    }
                }
            }
            if let Some((s, _)) = switch.as_mut().filter(|_| held.elapsed() >= hold_every) {
                held = std::time::Instant::now();
                // What the board did to the route (a restart, relays found open) is a mark: the
                // sound's gap at that moment is the bench's, not the unit's.
                match s.hold() {
                    Ok(said) => {
                        for text in said {
                            let mark = Mark { t_s: monitor.elapsed_s(), text: format!("relay board: {text}") };
                            soak.mark(&mark)?;
                            view.mark(&mark);
                        }
                    }
                    // A board that stopped answering ends the run; what was measured is written.
                    Err(e) => {
                        failed = Some(e.to_string());
                        break 'turns;
                    }
                }
            }
            events.clear();
            let second = monitor.push(&blocks, &mut events);
            soak.audio(&blocks)?;
            soak.events(&events)?;
            view.block(&blocks);
            for e in &events {
                watched[k].tally.add(e);
                view.event(e);
            }
            if let Some(s) = second {
                soak.second(&s)?;
                view.second(&s, &verdict_across(&watched));
            }
            view.draw(monitor.elapsed_s())?;
        }
        if let Some(s) = monitor.finish() {
            soak.second(&s)?;
            view.second(&s, &verdict_across(&watched));
        }
        watched[k].seconds += (frames - turn_start) as f64 / f64::from(rate);
        if stop.load(Ordering::SeqCst) || total.is_some_and(|t| frames >= t) || !turns {
            break;
        }
        turn += 1;
    }
    let verdict = verdict_across(&watched);
    let summary = soak.finish(frames as f64 / f64::from(rate), verdict.clone())?;
    view.finish(&summary, &out);
    if let Some((s, _)) = &mut switch {
        if let Err(e) = s.disconnect_all() {
            failed.get_or_insert(e.to_string());
        }
    }
    if let Some(e) = failed {
        return Err(anyhow::anyhow!("{e} (what was measured is in {})", out.display()).into());
    }
    Ok(if verdict.pass { 0 } else { 1 })
}

/// The rig's sound devices, playing and recording the plan.
#[cfg(feature = "audio")]
fn open_live(rig: &RigFile, plan: &StreamPlan) -> Result<(Box<dyn AudioStream>, String), Failure> {
    let stream = jackbench::rig::soundcard::LiveStream::open(&rig.routing(), plan)?;
    let r = rig.routing();
    let devices = r.drivers.get(&plan.path.driver).map_or(String::new(), |d| d.output.to_string());
    Ok((Box::new(stream), format!("sound devices ({devices}, couplers {}, mouth {})", r.couplers, r.mouth)))
}

#[cfg(not(feature = "audio"))]
fn open_live(rig: &RigFile, _plan: &StreamPlan) -> Result<(Box<dyn AudioStream>, String), Failure> {
    Err(anyhow::anyhow!("{}: {}", rig.source.display(), crate::NO_AUDIO).into())
}
