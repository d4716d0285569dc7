//! `jackbench plug`: the plug in a headset socket measured electrically by the relay board's
//! meter (protocol 2): 3- or 4-pole, CTIA or OMTP, each ear's and the microphone's DC
//! resistance, opens, shorts, and the inline buttons pressed one at a time.

use crate::cli::station::{relay_board, Hardware};
use crate::{emit, Failure};
use jackbench::analysis::plug::{button, classify, PlugVerdict, BUTTONS};
use jackbench::capture::plug::{Contact, PlugReadings, Reading};
use jackbench::capture::ComponentKind;
use jackbench::rig::file::SwitchKind;
use jackbench::rig::RigFile;
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct PlugArgs {
    /// The rig file (a relay rig whose board has the meter).
    #[arg(long, default_value = "rigs/qa-relay.toml")]
    rig: PathBuf,
    /// The headset whose plug to measure (its socket's relays join it to the bus). Default: the
    /// first headset that is not a reference (the unit under test).
    #[arg(long)]
    headset: Option<String>,
    /// Then ask the operator to press and hold each inline button in turn, and read it.
    #[arg(long)]
    buttons: bool,
    /// One JSON object on standard output.
    #[arg(long)]
    json: bool,
    /// On the virtual bench (`--virtual`, or a virtual rig with `[switch] meter = true`): a fault
    /// to give the headset first, COMPONENT:SYMPTOM[:SEVERITY] (`open_contact`, `short`,
    /// `button`, `pinout_mismatch`, `channel_dead`, …). Repeat for several.
    #[arg(long, value_name = "COMPONENT:SYMPTOM[:SEVERITY]")]
    fault: Vec<String>,
    /// Seed of the virtual bench (each unit's resistances and the meter's error).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    hw: Hardware,
}

/// A button's reading while the operator held it.
#[derive(Debug, Clone, Serialize)]
pub struct ButtonReading {
    pub asked: &'static str,
    pub reading: Reading,
    /// The window it fell in, if any.
    pub window: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
struct PlugReport<'a> {
    headset: &'a str,
    readings: &'a PlugReadings,
    verdict: &'a PlugVerdict,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    buttons: Vec<ButtonReading>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote: Option<String>,
}

pub fn plug(args: &PlugArgs) -> Result<u8, Failure> {
    let rig = RigFile::load(&args.rig)?;
    let simulated = args.hw.simulate || rig.switch.kind == SwitchKind::Virtual;
    if rig.switch.kind == SwitchKind::Manual && !simulated {
        return Err(anyhow::anyhow!(
            "{}: measuring a plug needs the relay board's meter, and this rig is switched by hand (--virtual measures the virtual bench's)",
            rig.source.display()
        )
        .into());
    }
    if !simulated && !args.fault.is_empty() {
        return Err(anyhow::anyhow!("--fault: faults are given to the virtual bench only (add --virtual)").into());
    }
    let headset = match &args.headset {
        Some(h) => rig
            .component(h)
            .filter(|c| c.kind == ComponentKind::Headset)
            .ok_or_else(|| anyhow::anyhow!("--headset {h}: {} has no headset of that id", rig.name))?,
        None => rig
            .components
            .iter()
            .find(|c| c.kind == ComponentKind::Headset && !c.reference)
            .ok_or_else(|| anyhow::anyhow!("{}: no headset that is not a reference", rig.name))?,
    };
    let id = headset.id.get_ref().clone();
    // The unit records where a path through it records: then it has a microphone.
    let mic = rig.records_through(&id);
    if simulated {
        return virtual_plug(args, &rig, &id, mic);
    }
    let socket = rig.relay_masks().get(&id).copied().unwrap_or(0);
    if socket == 0 {
        return Err(anyhow::anyhow!(
            "{}: headset {id} has no relays, so its plug cannot be joined to the meter",
            rig.name
        )
        .into());
    }
    let mut board = relay_board(&rig, &args.hw)?;
    let readings = board.measure(socket)?;
    let verdict = classify(&readings, mic);
    let mut buttons = Vec::new();
    let mut remote = None;
    if args.buttons && verdict.poles == jackbench::analysis::plug::Poles::Four {
        let (mic_c, ground) = match verdict.pinout {
            Some(jackbench::analysis::plug::Pinout::Omtp) => (Contact::R2, Contact::S),
            _ => (Contact::S, Contact::R2),
        };
        let rest = readings.between(mic_c, ground);
        for (name, _, _) in BUTTONS {
            eprint!("press and hold {name}, then Enter (s skips it, q stops): ");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map_err(|e| anyhow::anyhow!("standard input: {e}"))?;
            match line.trim() {
                "q" => break,
                "s" => continue,
                _ => {}
            }
            let reading = board.measure_pair(mic_c, ground, socket)?;
            let ohms = match reading {
                Reading::Ohms(r) => r,
                Reading::Short => 0.0,
                Reading::Open => f64::INFINITY,
            };
            buttons.push(ButtonReading { asked: name, reading, window: button(ohms) });
        }
        // A remote whose presses do not move the microphone's DC path signals otherwise (Apple's
        // remotes, for one, talk to the phone over the microphone line).
        if !buttons.is_empty() && buttons.iter().all(|b| Some(b.reading) == rest) {
            remote = Some(
                "no press changed the microphone's DC resistance: no remote, or one that signals otherwise than the wired-headset ladder (as Apple's do)"
                    .into(),
            );
        }
    }
    let pass = verdict.findings.is_empty() && buttons.iter().all(|b| b.window.is_some_and(|w| w == b.asked));
    if args.json {
        let report = PlugReport { headset: &id, readings: &readings, verdict: &verdict, buttons, remote };
        let text = serde_json::to_string_pretty(&report).map_err(|e| anyhow::anyhow!("{e}"))?;
        emit(format_args!("{text}\n"));
    } else {
        print_verdict(&id, &format!("socket relays 0x{socket:04x}"), &readings, &verdict, &buttons, remote.as_deref());
    }
    Ok(if pass { 0 } else { 1 })
}

/// The plug read by the virtual bench's model of the meter, with the faults given.
fn virtual_plug(args: &PlugArgs, rig: &RigFile, id: &str, mic: bool) -> Result<u8, Failure> {
    use jackbench::rig::virtual_bench::{InjectedFault, VirtualBench};
    use jackbench::rig::SwitchMatrix;
    if args.buttons {
        return Err(anyhow::anyhow!("--buttons: the virtual bench has no operator to press them; give it `--fault {id}:button` for a button stuck pressed").into());
    }
    let mut bench = VirtualBench::for_rig(rig, args.seed).with_meter(true);
    for f in &args.fault {
        let fault = InjectedFault::parse(f).map_err(|e| anyhow::anyhow!("--fault {e}"))?;
        bench.inject(&fault).map_err(|e| anyhow::anyhow!("--fault {f}: {e}"))?;
    }
    let readings = bench
        .measure_plug(id)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("the virtual bench has no meter"))?;
    let verdict = classify(&readings, mic);
    let pass = verdict.findings.is_empty();
    if args.json {
        let report =
            PlugReport { headset: id, readings: &readings, verdict: &verdict, buttons: Vec::new(), remote: None };
        let text = serde_json::to_string_pretty(&report).map_err(|e| anyhow::anyhow!("{e}"))?;
        emit(format_args!("{text}\n"));
    } else {
        print_verdict(id, &format!("virtual bench, seed {}", args.seed), &readings, &verdict, &[], None);
    }
    Ok(if pass { 0 } else { 1 })
}

fn print_verdict(
    id: &str,
    place: &str,
    readings: &PlugReadings,
    v: &PlugVerdict,
    buttons: &[ButtonReading],
    remote: Option<&str>,
) {
    use jackbench::analysis::plug::{Pinout, Poles};
    let kind = match (v.poles, v.pinout) {
        (Poles::Three, _) => "3-pole (TRS: no microphone)".to_string(),
        (Poles::Four, Some(Pinout::Ctia)) => "4-pole, CTIA (ground on ring 2, microphone on the sleeve)".into(),
        (Poles::Four, Some(Pinout::Omtp)) => "4-pole, OMTP (microphone on ring 2, ground on the sleeve)".into(),
        (Poles::Four, None) => "4-pole, ground not told (no ear reads)".into(),
    };
    emit(format_args!("plug of {id} ({place}): {kind}\n"));
    let show = |o: Option<f64>| o.map_or("—".to_string(), |r| Reading::Ohms(r).to_string());
    emit(format_args!("  left ear    {}\n  right ear   {}\n", show(v.left_ohms), show(v.right_ohms)));
    if v.poles == Poles::Four {
        emit(format_args!("  microphone  {}\n", show(v.mic_ohms)));
    }
    let pairs: Vec<String> = readings.pairs.iter().map(|p| format!("{}-{} {}", p.a, p.b, p.reading)).collect();
    emit(format_args!("  pairs: {}\n", pairs.join(", ")));
    if v.findings.is_empty() {
        emit(format_args!("  no electrical fault\n"));
    }
    if v.pinout == Some(Pinout::Omtp) {
        emit(format_args!(
            "  note: an OMTP plug in a CTIA jack (most jacks since about 2012) has its microphone and ground swapped: a CTIA/OMTP converter fixes it\n"
        ));
    }
    for f in &v.findings {
        emit(format_args!("  {} ({}-{}): {}\n", f.symptom, f.contacts[0], f.contacts[1], f.evidence));
    }
    for b in buttons {
        let verdict = match b.window {
            Some(w) if w == b.asked => "in its window".to_string(),
            Some(w) => format!("in the window of {w}"),
            None => "in no button's window".into(),
        };
        emit(format_args!("  button {}: {} ({verdict})\n", b.asked, b.reading));
    }
    if let Some(r) = remote {
        emit(format_args!("  remote: {r}\n"));
    }
}
