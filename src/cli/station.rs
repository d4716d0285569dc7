//! The station a rig runs on: the virtual bench, or its sound devices and its switch matrix.

use crate::Failure;
#[cfg(not(feature = "audio"))]
use crate::NO_AUDIO;
use jackbench::rig::file::{AudioKind, SwitchKind};
#[cfg(feature = "audio")]
use jackbench::rig::live::LiveEndpoint;
use jackbench::rig::manual::ManualSwitch;
use jackbench::rig::relay::{RelayBoard, RelayOptions, RelaySwitch};
#[cfg(feature = "audio")]
use jackbench::rig::soundcard::SoundCards;
use jackbench::rig::virtual_bench::{Ambient, InjectedFault, VirtualBench};
use jackbench::rig::{AudioEndpoint, Rack, RigFile, Station, SwitchMatrix};

/// The virtual bench of a rig, with the faults and the room sound asked for.
pub fn virtual_bench(rig: &RigFile, faults: &[String], seed: u64, hw: &Hardware) -> Result<VirtualBench, Failure> {
    let mut bench = VirtualBench::for_rig(rig, seed);
    if let Some(share) = hw.ambient {
        if !(0.0..=1.0).contains(&share) {
            return Err(anyhow::anyhow!("--ambient {share}: the share of captures must be within 0..1").into());
        }
        bench = bench.with_ambient(Ambient { share, ..Ambient::default() });
    }
    for f in faults {
        let fault = InjectedFault::parse(f).map_err(|e| anyhow::anyhow!("--fault {e}"))?;
        bench.inject(&fault).map_err(|e| anyhow::anyhow!("--fault {f}: {e}"))?;
    }
    Ok(bench)
}

/// Which of a rig's hardware a run uses (the flags `run` and `batch` share).
#[derive(clap::Args, Clone, Default)]
pub struct Hardware {
    /// Run the rig's plan on the virtual bench, whatever hardware it names.
    #[arg(long = "virtual")]
    pub simulate: bool,
    /// Simulate the sound on the virtual bench but switch with the rig's switch matrix (an
    /// operator or the relay board).
    #[arg(long, conflicts_with = "simulate")]
    pub virtual_audio: bool,
    /// The relay board's serial port, instead of the rig's or the one found by USB id.
    #[arg(long, value_name = "PATH")]
    pub relay_port: Option<String>,
    /// Let room sound into the virtual bench's fixture: a burst (speech or a door slam, 30–45 dB
    /// over the fixture's noise floor, 50–300 ms) in this share (0..1) of the captures through a
    /// headset. The ambient-noise guard makes a disturbed capture again.
    #[arg(long, value_name = "SHARE")]
    pub ambient: Option<f64>,
}

/// A real half of a station, with words for it.
pub type Described<T> = Option<(Box<T>, String)>;

/// The sound of a run: the virtual bench's (`None`), or real devices.
pub fn sound(rig: &RigFile, hw: &Hardware) -> Result<Described<dyn AudioEndpoint>, Failure> {
    let audio = if hw.simulate || hw.virtual_audio { AudioKind::Virtual } else { rig.audio.kind };
    match audio {
        AudioKind::Virtual => Ok(None),
        #[cfg(feature = "audio")]
        AudioKind::Cpal => {
            let routing = rig.routing();
            let mut devices: Vec<String> =
                routing.drivers.iter().map(|(id, d)| format!("{id} = {}", d.output)).collect();
            devices.sort();
            let live = Box::new(LiveEndpoint::new(SoundCards::default(), routing));
            let Some(name) = &rig.audio.reference_mic else {
                return Ok(Some((live, format!("sound devices ({})", devices.join(", ")))));
            };
            let dev = jackbench::rig::live::DeviceRef::new(rig.audio.host.as_deref(), name.get_ref());
            let mic = jackbench::rig::reference_mic::CpalRoomMic::open(&dev)?;
            Ok(Some((
                Box::new(jackbench::rig::reference_mic::WithReference { endpoint: live, mic }),
                format!("sound devices ({}), the room heard by {}", devices.join(", "), name.get_ref()),
            )))
        }
        #[cfg(not(feature = "audio"))]
        AudioKind::Cpal => Err(anyhow::anyhow!(
            "{}: this jackbench was built without the `audio` feature, so it cannot drive sound cards \
             (--virtual or --virtual-audio simulate the sound): {NO_AUDIO}",
            rig.source.display()
        )
        .into()),
    }
}

/// The rig's relay board, opened and identified (the rig's port, `--relay-port`, or found by its
/// USB id).
pub fn relay_board(rig: &RigFile, hw: &Hardware) -> Result<RelayBoard, Failure> {
    let opts = RelayOptions {
        settle_ms: rig.switch.settle_ms,
        idle_off_s: rig.switch.idle_off_s,
        boot_wait: std::time::Duration::from_millis(u64::from(rig.switch.boot_wait_ms)),
        ..RelayOptions::default()
    };
    let port = hw.relay_port.as_deref().or(rig.switch.port.as_deref());
    Ok(RelayBoard::open(port, opts)?)
}

/// The switch matrix of a run: the virtual bench's own (`None`), an operator, or the relay
/// board (with words for it).
pub fn matrix(rig: &RigFile, hw: &Hardware) -> Result<Described<dyn SwitchMatrix>, Failure> {
    let switch = if hw.simulate { SwitchKind::Virtual } else { rig.switch.kind };
    match switch {
        SwitchKind::Virtual => Ok(None),
        SwitchKind::Manual => Ok(Some((
            Box::new(ManualSwitch::new(
                rig.components.iter().map(|c| (c.id.get_ref().as_str(), c.label.as_deref())),
                std::io::stdin().lock(),
                std::io::stderr(),
            )),
            "switched by hand".into(),
        ))),
        SwitchKind::Relay => {
            let board = relay_board(rig, hw)?;
            let words = format!(
                "switched by the relay board on {} (firmware {}, protocol {})",
                board.port_name(),
                board.info().firmware,
                board.info().protocol
            );
            Ok(Some((Box::new(RelaySwitch::new(board, rig.relay_masks()).with_meter(rig.switch.meter)), words)))
        }
    }
}

/// Real sound needs a real switch matrix.
pub fn no_virtual_switch(rig: &RigFile) -> Failure {
    anyhow::anyhow!(
        "{}: real sound devices need a real switch matrix ([switch] kind = \"manual\" or \"relay\")",
        rig.source.display()
    )
    .into()
}

/// The station a rig runs on, and words for it: the virtual bench, or its sound devices and
/// its switch matrix, in any pairing.
pub fn station(
    rig: &RigFile,
    hw: &Hardware,
    faults: &[String],
    seed: u64,
) -> Result<(Box<dyn Station>, String), Failure> {
    let sound = sound(rig, hw)?;
    if sound.is_some() && hw.ambient.is_some() {
        return Err(anyhow::anyhow!(
            "--ambient lets room sound into the virtual bench, and {} runs on real sound devices (add --virtual or --virtual-audio)",
            rig.source.display()
        )
        .into());
    }
    if sound.is_some() && !faults.is_empty() {
        return Err(anyhow::anyhow!(
            "--fault injects faults into the virtual bench, and {} runs on real sound devices (add --virtual or --virtual-audio)",
            rig.source.display()
        )
        .into());
    }
    let seeded = format!("the virtual bench (seed {seed})");
    let matrix = matrix(rig, hw)?;
    match (sound, matrix) {
        (None, None) => Ok((Box::new(virtual_bench(rig, faults, seed, hw)?), seeded)),
        (None, Some((switch, how))) => {
            Ok((Box::new(Rack { endpoint: virtual_bench(rig, faults, seed, hw)?, switch }), format!("{seeded}, {how}")))
        }
        (Some((endpoint, what)), Some((switch, how))) => {
            Ok((Box::new(Rack { endpoint, switch }), format!("{what}, {how}")))
        }
        (Some(_), None) => Err(no_virtual_switch(rig)),
    }
}
