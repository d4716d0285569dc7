//! The bench controller: runs a rig's test plan through a [`Station`] (an audio endpoint and a
//! switch matrix) and writes the capture set as it goes.
//!
//! The manifest is rewritten (atomically) after every take, so a run that stops (Ctrl-C, a
//! device error, a crash) leaves a valid capture set listing exactly the captures made.
//!
//! # The electrical stage
//! Where the switch has a meter (the relay board's, or the virtual bench's model of it), each
//! headset under test has its plug read first ([`crate::rig::SwitchMatrix::measure_plug`]): the
//! DC resistance between each pair of its contacts, kept as the manifest's `[[plug]]`.
//!
//! # Takes
//! A take is one play-and-record pass: one capture, or, when the plan has `overlap` and the
//! endpoint can ([`crate::rig::AudioEndpoint::overlaps`]), a path's playback capture with its
//! record capture, the ears and the microphone measured at once ([`RigFile::takes`]).
//!
//! # The ambient-noise guard
//! Every capture is measured as it comes in. One that room sound disturbed (a door slam, speech:
//! sound over a tone that the path did not make, or residual over a sweep that is not locked to
//! it; see [`crate::diagnosis::Measured::room_sound`]) is made again, up to the rig's
//! `[guard] repeats` times, instead of being judged (of a take of two, only the disturbed one is
//! made again, or both together). The repeats are counted in the manifest
//! (`repeats` per capture), and a take still disturbed when they run out is kept with what
//! disturbed it (`room_sound`): the diagnosis then weighs it only for what room sound cannot
//! cause (it adds sound; it makes no gap and takes no level away).

use crate::capture::manifest::{CaptureEntry, Manifest, ManifestError, PlugEntry, StimulusEntry};
use crate::capture::{write_wav, Direction, PathSpec, WavError};
use crate::rig::{CaptureRequest, RigError, RigFile, Station};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// One step of progress, for a progress display.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    /// 1-based index of the capture about to be made, and how many the plan has.
    pub index: usize,
    pub total: usize,
    pub path: &'a PathSpec,
    pub label: String,
}

/// How a run ended.
#[derive(Debug)]
pub struct RunOutcome {
    pub set_dir: PathBuf,
    pub captures: usize,
    pub planned: usize,
    /// Why the run stopped early, if it did (interrupted, or a device error); what was made is kept.
    pub stopped: Option<String>,
    /// Captures made again because room sound disturbed them.
    pub repeats: usize,
}

/// Why a run could not start or could not keep its results.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{}: cannot create: {source}", path.display())]
    Create { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Wav(#[from] WavError),
}

/// Runs the plan of `rig` into the new directory `out`.
pub fn run_plan(
    rig: &RigFile,
    station: &mut dyn Station,
    out: &Path,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunOutcome, RunError> {
    let captures_dir = out.join("captures");
    std::fs::create_dir_all(&captures_dir).map_err(|source| RunError::Create { path: captures_dir.clone(), source })?;
    let mut manifest = Manifest::new(Some(rig.name.clone()));
    manifest.created = Some(humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string());
    manifest.rig = Some(rig.source.display().to_string());
    // The limits in force and where they came from: a model's file (set by the batch), else the
    // rig file.
    let mut limits = rig.limits.clone();
    limits.source.get_or_insert_with(|| crate::capture::LimitsSource::file(rig.source.display().to_string()));
    manifest.limits = Some(limits);
    manifest.components = rig.manifest_components();
    manifest.stimuli =
        rig.stimuli.iter().map(|s| StimulusEntry { id: s.id.clone(), signal: s.signal.clone() }).collect();
    let schedule = rig.schedule();
    // The whole plan, as captures still to make: a set that a stop or a crash cuts short says
    // what it lacks.
    manifest.pending = schedule
        .iter()
        .enumerate()
        .map(|(i, (path, plan))| CaptureEntry {
            file: capture_file(i, path, plan),
            direction: plan.direction,
            stimulus: plan.stimulus.get_ref().clone(),
            drive: if plan.direction == Direction::Record { None } else { plan.drive },
            path: path.clone(),
            latency_s: None,
            stream_events: Vec::new(),
            repeats: 0,
            room_sound: None,
        })
        .collect();
    manifest.write(out)?;

    let total = schedule.len();
    let mut connected: Option<&PathSpec> = None;
    let mut stopped = None;
    let mut total_repeats = 0;
    // The electrical stage, before any sound: each plug under test read by the board's meter.
    for headset in rig.plugs_to_measure() {
        if stop.load(Ordering::SeqCst) {
            stopped = Some(RigError::Interrupted.to_string());
            break;
        }
        let Some((path, _)) = schedule.iter().find(|(p, _)| p.headset == headset) else { continue };
        progress(Progress { index: 1, total, path, label: format!("plug of {headset}: DC resistances") });
        match station.switch().measure_plug(headset) {
            // An empty socket: nothing to keep (the sound will say the unit is missing).
            Ok(Some(readings)) if readings.all_open() => {
                progress(Progress { index: 1, total, path, label: format!("no plug in the socket of {headset}") })
            }
            Ok(Some(readings)) => manifest.plugs.push(PlugEntry::new(headset, &readings)),
            // No meter on this bench.
            Ok(None) => break,
            Err(e) => {
                stopped = Some(e.to_string());
                break;
            }
        }
    }
    if !manifest.plugs.is_empty() {
        manifest.write(out)?;
    }
    for take in rig.takes(station.endpoint().overlaps()) {
        if stopped.is_some() {
            break;
        }
        if stop.load(Ordering::SeqCst) {
            stopped = Some(RigError::Interrupted.to_string());
            break;
        }
        // The captures made in this take (one, or a path's playback and record at once).
        let made: Vec<(usize, &crate::rig::PlanCapture, &StimulusEntry)> = take
            .iter()
            .filter_map(|&i| {
                let plan = schedule[i].1;
                Some((i, plan, rig.stimuli.iter().find(|s| &s.id == plan.stimulus.get_ref())?))
            })
            .collect();
        let Some(&(first, _, _)) = made.first() else { continue };
        let path = &schedule[first].0;
        let label = made
            .iter()
            .map(|(_, plan, _)| {
                let drive = plan.drive.map_or(String::new(), |d| format!(" {}", d.name()));
                format!("{} {}{drive}", plan.direction.name(), plan.stimulus.get_ref())
            })
            .collect::<Vec<_>>()
            .join(" + ");
        progress(Progress { index: first + 1, total, path, label });
        if connected != Some(path) {
            if let Err(e) = station.switch().connect(path) {
                stopped = Some(e.to_string());
                break;
            }
            connected = Some(path);
        }
        let requests: Vec<CaptureRequest> = made
            .iter()
            .map(|(_, plan, stimulus)| CaptureRequest {
                path: path.clone(),
                direction: plan.direction,
                stimulus: stimulus.signal.clone(),
                drive: if plan.direction == Direction::Record { None } else { plan.drive },
                rate_hz: rig.rate_hz,
                format: rig.format,
                tail_s: rig.tail_s,
            })
            .collect();
        // The ambient-noise guard: the captures that room sound disturbed are made again (together,
        // when there are several); the others are kept.
        let mut made_takes: Vec<Option<(crate::rig::Take, Option<String>, u32)>> = vec![None; requests.len()];
        let mut pending: Vec<usize> = (0..requests.len()).collect();
        let mut repeats = 0u32;
        while !pending.is_empty() {
            let asked: Vec<CaptureRequest> = pending.iter().map(|&k| requests[k].clone()).collect();
            let takes = match station.endpoint().capture_together(&asked) {
                Ok(t) => t,
                Err(e) => {
                    stopped = Some(e.to_string());
                    break;
                }
            };
            let mut again = Vec::new();
            for (&k, take) in pending.iter().zip(takes) {
                let heard = room_sound(&take, &requests[k], made[k].1.stimulus.get_ref(), &rig.guard);
                match heard {
                    Some(h) if repeats < rig.guard.repeats && !stop.load(Ordering::SeqCst) => again.push((k, h)),
                    heard => made_takes[k] = Some((take, heard, repeats)),
                }
            }
            let Some((_, why)) = again.first() else { break };
            repeats += 1;
            progress(Progress { index: first + 1, total, path, label: format!("again: room sound ({why})") });
            pending = again.into_iter().map(|(k, _)| k).collect();
        }
        // What was made is kept, also when the device failed on a repeat.
        for ((made_take, request), (i, plan, stimulus)) in made_takes.into_iter().zip(&requests).zip(&made) {
            let Some((take, room_sound, repeats)) = made_take else { continue };
            total_repeats += repeats as usize;
            let file = capture_file(*i, path, plan);
            write_wav(&out.join(&file), &take.audio)?;
            manifest.pending.retain(|p| p.file != file);
            manifest.captures.push(CaptureEntry {
                file,
                direction: plan.direction,
                stimulus: stimulus.id.clone(),
                drive: request.drive,
                path: path.clone(),
                latency_s: take.latency_s,
                stream_events: take.events,
                repeats,
                room_sound,
            });
        }
        if stopped.is_some() {
            manifest.stopped = stopped.clone();
        }
        manifest.write(out)?;
        if stopped.is_some() {
            break;
        }
    }
    if stopped.is_some() && manifest.stopped.is_none() {
        manifest.stopped = stopped.clone();
        manifest.write(out)?;
    }
    // Leave the bench in its safe state whatever happened.
    if let Err(e) = station.switch().disconnect_all() {
        stopped.get_or_insert(e.to_string());
    }
    Ok(RunOutcome {
        set_dir: out.to_path_buf(),
        captures: manifest.captures.len(),
        planned: total,
        stopped,
        repeats: total_repeats,
    })
}

/// A capture's file in its set: its place in the plan and every part of its path (driver, port,
/// adapter, headset), its direction, drive and stimulus.
fn capture_file(index: usize, path: &PathSpec, plan: &crate::rig::PlanCapture) -> String {
    format!(
        "captures/{:02}-{}-{}{}-{}.wav",
        index + 1,
        path.ids().join("-"),
        plan.direction.name(),
        plan.drive.map_or(String::new(), |d| format!("-{}", d.name())),
        plan.stimulus.get_ref()
    )
}

/// The room sound over a take, in words, or `None`. With a reference microphone outside the
/// fixture, what it heard decides: a burst `guard.reference_over_db` over its quiet floor. Without
/// one, the capture's own residual: sound over a tone, or over a sweep without being locked to it
/// (`None` also when the take cannot be measured: the diagnosis will say why).
fn room_sound(
    take: &crate::rig::Take,
    request: &CaptureRequest,
    stimulus_id: &str,
    guard: &crate::rig::file::GuardSpec,
) -> Option<String> {
    if let Some(heard) = &take.reference {
        let samples: Vec<f64> = heard.channels.first()?.iter().map(|v| f64::from(*v)).collect();
        let b = crate::analysis::room::loudest_burst(&samples, heard.rate_hz)?;
        return (b.over_floor_db >= guard.reference_over_db).then(|| {
            format!(
                "reference microphone: sound at {:.2} s for {:.0} ms, {:.0} dB over its floor",
                b.at_s, b.ms, b.over_floor_db
            )
        });
    }
    let entry = CaptureEntry {
        file: String::new(),
        direction: request.direction,
        stimulus: stimulus_id.to_string(),
        drive: request.drive,
        path: request.path.clone(),
        latency_s: None,
        stream_events: Vec::new(),
        repeats: 0,
        room_sound: None,
    };
    thread_local! {
        static SPECTRUM: std::cell::RefCell<crate::analysis::Spectrum> = Default::default();
    }
    SPECTRUM.with(|s| {
        let measured = crate::diagnosis::measure::measure_take(
            take.audio.clone(),
            &entry,
            request.stimulus.clone(),
            &mut s.borrow_mut(),
        )
        .ok()?;
        let heard: Vec<String> = measured
            .iter()
            .filter_map(|m| {
                Some(m.segment.as_ref().map_or(String::new(), |w| format!("{}: ", w.id)) + &m.room_sound()?)
            })
            .collect();
        (!heard.is_empty()).then(|| heard.join("; "))
    })
}
