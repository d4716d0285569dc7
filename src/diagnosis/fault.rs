//! Fault codes (spec §3): a symptom on a component kind, which kinds each symptom may live on,
//! and the fix a technician tries for each.

use crate::capture::ComponentKind;
use serde::{Deserialize, Serialize};

/// What the signals show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Symptom {
    OutputDead,
    ChannelDead,
    InputDead,
    DigitalSilence,
    PinoutMismatch,
    ChannelSwap,
    Polarity,
    Imbalance,
    LowLevel,
    LowGain,
    Response,
    Distortion,
    Hum,
    Noise,
    Intermittent,
    Dropouts,
    RateMismatch,
    RubBuzz,
    OpenContact,
    Short,
    Button,
}

use ComponentKind::{Adapter, Driver, Headset, Port};

impl Symptom {
    pub const ALL: [Symptom; 21] = [
        Symptom::OutputDead,
        Symptom::ChannelDead,
        Symptom::InputDead,
        Symptom::DigitalSilence,
        Symptom::PinoutMismatch,
        Symptom::ChannelSwap,
        Symptom::Polarity,
        Symptom::Imbalance,
        Symptom::LowLevel,
        Symptom::LowGain,
        Symptom::Response,
        Symptom::Distortion,
        Symptom::Hum,
        Symptom::Noise,
        Symptom::Intermittent,
        Symptom::Dropouts,
        Symptom::RateMismatch,
        Symptom::RubBuzz,
        Symptom::OpenContact,
        Symptom::Short,
        Symptom::Button,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Symptom::OutputDead => "output_dead",
            Symptom::ChannelDead => "channel_dead",
            Symptom::InputDead => "input_dead",
            Symptom::DigitalSilence => "digital_silence",
            Symptom::PinoutMismatch => "pinout_mismatch",
            Symptom::ChannelSwap => "channel_swap",
            Symptom::Polarity => "polarity",
            Symptom::Imbalance => "imbalance",
            Symptom::LowLevel => "low_level",
            Symptom::LowGain => "low_gain",
            Symptom::Response => "response",
            Symptom::Distortion => "distortion",
            Symptom::Hum => "hum",
            Symptom::Noise => "noise",
            Symptom::Intermittent => "intermittent",
            Symptom::Dropouts => "dropouts",
            Symptom::RateMismatch => "rate_mismatch",
            Symptom::RubBuzz => "rub_buzz",
            Symptom::OpenContact => "open_contact",
            Symptom::Short => "short",
            Symptom::Button => "button",
        }
    }

    /// The symptom in a technician's words.
    pub fn describe(self) -> &'static str {
        match self {
            Symptom::OutputDead => "no sound in either ear",
            Symptom::ChannelDead => "one ear is dead",
            Symptom::InputDead => "the microphone is dead",
            Symptom::DigitalSilence => "the recording is digital silence (muted or blocked)",
            Symptom::PinoutMismatch => "CTIA/OMTP pinout mismatch (mic and ground swapped)",
            Symptom::ChannelSwap => "left and right are swapped",
            Symptom::Polarity => "one ear is wired in reverse polarity",
            Symptom::Imbalance => "left and right differ in level",
            Symptom::LowLevel => "the level is too low",
            Symptom::LowGain => "the digital gain is turned down",
            Symptom::Response => "the frequency response is out of tolerance",
            Symptom::Distortion => "the sound is distorted",
            Symptom::Hum => "mains hum",
            Symptom::Noise => "too much noise",
            Symptom::Intermittent => "sound drops out at moments (a worn contact)",
            Symptom::Dropouts => "samples are lost (buffer dropouts)",
            Symptom::RateMismatch => "the sample rate is wrong (tones off pitch)",
            Symptom::RubBuzz => "a speaker rubs or buzzes at high excursion (rub & buzz)",
            Symptom::OpenContact => "a contact has no DC path (a broken conductor)",
            Symptom::Short => "two contacts are joined (a short)",
            Symptom::Button => "an inline button reads out of its window, or pressed at rest",
        }
    }

    /// Whether the symptom is sound added to the stimulus (noise, hum, distortion products, rub &
    /// buzz): what room sound or a one-off knock can lay over a single capture. A symptom of
    /// something lacking (the stimulus gone, low, cancelled, swapped, inverted, off pitch, a band
    /// lost) no added sound can fake.
    pub fn adds_sound(self) -> bool {
        matches!(self, Symptom::Noise | Symptom::Hum | Symptom::Distortion | Symptom::RubBuzz)
    }

    pub fn from_name(name: &str) -> Option<Symptom> {
        Symptom::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The component kinds this symptom can live on (spec §3's table).
    pub fn kinds(self) -> &'static [ComponentKind] {
        match self {
            Symptom::OutputDead | Symptom::ChannelDead | Symptom::InputDead => &[Port, Adapter, Headset],
            Symptom::DigitalSilence | Symptom::LowGain | Symptom::Dropouts | Symptom::RateMismatch => &[Driver],
            Symptom::PinoutMismatch | Symptom::Polarity => &[Adapter, Headset],
            Symptom::ChannelSwap => &[Driver, Adapter, Headset],
            Symptom::Imbalance | Symptom::Response | Symptom::Distortion => &[Port, Headset],
            Symptom::LowLevel | Symptom::Intermittent => &[Port, Adapter, Headset],
            Symptom::Hum | Symptom::Noise => &[Port],
            Symptom::RubBuzz | Symptom::Button => &[Headset],
            Symptom::OpenContact | Symptom::Short => &[Port, Adapter, Headset],
        }
    }

    /// Whether the symptom is measured with DC across the plug's contacts (spec v1.1, electrical
    /// symptoms), not from sound.
    pub fn is_electrical(self) -> bool {
        matches!(self, Symptom::OpenContact | Symptom::Short | Symptom::Button)
    }

    /// What the same fault is called the other way of looking: an electrical symptom's sound
    /// (a broken conductor silences its line; a button held at rest loads the microphone), and
    /// the electrical symptom a meter names a dead ear by (a broken wire or speaker coil has no
    /// DC path). A diagnosis that names either has found the fault.
    pub fn look_alikes(self) -> &'static [Symptom] {
        match self {
            Symptom::OpenContact => &[Symptom::ChannelDead, Symptom::OutputDead, Symptom::InputDead],
            Symptom::Short => &[Symptom::ChannelDead, Symptom::InputDead],
            Symptom::Button => &[Symptom::LowLevel, Symptom::InputDead],
            Symptom::ChannelDead | Symptom::OutputDead => &[Symptom::OpenContact],
            _ => &[],
        }
    }

    /// Whether a diagnosis naming `named` found an injected `self`: the same symptom or a
    /// look-alike.
    pub fn found_as(self, named: Symptom) -> bool {
        self == named || self.look_alikes().contains(&named)
    }
}

impl std::fmt::Display for Symptom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `<kind>.<symptom>`: a pair, never a free string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FaultCode {
    pub kind: ComponentKind,
    pub symptom: Symptom,
}

impl FaultCode {
    /// The code, if spec §3 allows the symptom on that kind.
    pub fn new(kind: ComponentKind, symptom: Symptom) -> Option<FaultCode> {
        symptom.kinds().contains(&kind).then_some(FaultCode { kind, symptom })
    }

    /// Parses `kind.symptom`.
    pub fn parse(code: &str) -> Option<FaultCode> {
        let (kind, symptom) = code.split_once('.')?;
        let kind = [Driver, Port, Adapter, Headset].into_iter().find(|k| k.name() == kind)?;
        FaultCode::new(kind, Symptom::from_name(symptom)?)
    }

    /// Every code the table allows.
    pub fn all() -> Vec<FaultCode> {
        Symptom::ALL.iter().flat_map(|&s| s.kinds().iter().map(move |&k| FaultCode { kind: k, symptom: s })).collect()
    }

    /// What a technician does about it: the seed's checklist made concrete.
    pub fn remedy(self) -> &'static str {
        match (self.kind, self.symptom) {
            (Driver, Symptom::DigitalSilence) => {
                "The driver delivers exact zeros: unmute the input in the mixer, allow microphone access in the OS \
                 privacy settings, make this device the default recording device, and close apps that hold it \
                 (call and recording software); then record again."
            }
            (Driver, Symptom::LowGain) => {
                "Digital gain is turned down: raise the input/output volume of this device in the OS mixer (and any \
                 app or driver panel), disable automatic gain control, then measure again."
            }
            (Driver, Symptom::Dropouts) => {
                "Buffer underruns/overruns: raise the audio buffer size or latency, close CPU-heavy apps, disable \
                 power saving for the audio/USB device, and update or reinstall the audio driver."
            }
            (Driver, Symptom::RateMismatch) => {
                "The device runs at another sample rate than the stream (e.g. 44.1 vs 48 kHz): set the same default \
                 format in the OS sound settings and the app, disable exclusive-mode conversions, update the driver."
            }
            (Driver, Symptom::ChannelSwap) => {
                "Left and right are exchanged in software: check the channel map / speaker configuration of this \
                 device and any audio enhancements, then update the driver."
            }
            (Port, Symptom::OutputDead) => {
                "No output from this jack: check the jack-detect switch (plug fully in, try another plug), that the \
                 port is enabled in the OS, then service the jack or the board's output stage."
            }
            (Port, Symptom::ChannelDead) => {
                "One channel of this jack is dead: clean the jack and re-seat the plug; if it persists the jack's \
                 contact or the output channel is broken: replace the jack."
            }
            (Port, Symptom::InputDead) => {
                "No microphone signal at this jack: enable the mic input and its bias, select the right input for a \
                 combo jack (headset mic, not line-in), clean the jack; else service the input stage."
            }
            (Port, Symptom::Imbalance) => {
                "The jack's channels differ in level: clean the jack, check the balance control in the OS; a \
                 persistent imbalance is a worn contact: replace the jack."
            }
            (Port, Symptom::LowLevel) => {
                "This jack loses level (analog): clean and re-seat, check for a damaged or corroded contact, then \
                 replace the jack."
            }
            (Port, Symptom::Response) => {
                "The jack's frequency response is out of tolerance: check the output coupling and the impedance \
                 setting of the port; service the output stage."
            }
            (Port, Symptom::Distortion) => {
                "The jack's output distorts: lower the output level, check for a damaged amplifier or contact; \
                 service the output stage."
            }
            (Port, Symptom::Hum) => {
                "Mains hum on this port: remove ground loops (unplug the charger or other grounded cables, use a \
                 ground-loop isolator), check the jack's ground contact and shielding."
            }
            (Port, Symptom::Noise) => {
                "Raised noise on this port: move away from noisy sources (charger, USB devices), check the ground \
                 contact, prefer another port or a USB audio interface; service the board's audio section."
            }
            (Port, Symptom::Intermittent) => {
                "A worn contact in this jack: clean it with contact cleaner, re-seat the plug; if gaps persist, \
                 replace the jack."
            }
            (Adapter, Symptom::PinoutMismatch) => {
                "The adapter's pinout does not match the headset (CTIA vs OMTP: mic and ground swapped): use an \
                 adapter for the headset's standard or a CTIA/OMTP converter."
            }
            (Adapter, Symptom::ChannelSwap) => {
                "The adapter swaps left and right: replace it (or re-label the TRS plugs if it is a splitter)."
            }
            (Adapter, Symptom::Polarity) => "The adapter inverts one channel's polarity: replace the adapter.",
            (Adapter, Symptom::OutputDead) => {
                "No output through this adapter: plug its TRS ends into the right jacks (headphone/mic), else \
                 replace it."
            }
            (Adapter, Symptom::ChannelDead) => "One channel is broken in this adapter: replace it.",
            (Adapter, Symptom::InputDead) => {
                "No microphone through this adapter: check that the mic plug is in the mic jack; the adapter's mic \
                 line is broken otherwise: replace it."
            }
            (Adapter, Symptom::LowLevel) => {
                "The adapter loses level (corroded or high-resistance contact): replace it."
            }
            (Adapter, Symptom::Intermittent) => {
                "A worn contact or cable in this adapter: wiggle-test it and replace it."
            }
            (Headset, Symptom::PinoutMismatch) => {
                "The headset's pinout (CTIA vs OMTP) does not match the jack: use a CTIA/OMTP converter adapter."
            }
            (Headset, Symptom::ChannelSwap) => {
                "The headset's left and right are swapped: repair or replace the headset."
            }
            (Headset, Symptom::Polarity) => "One earpiece is wired in reverse polarity: repair or replace the headset.",
            (Headset, Symptom::OutputDead) => {
                "Neither earpiece plays: check the plug is fully in and the inline control/mute, else the cable or \
                 drivers are broken: repair or replace."
            }
            (Headset, Symptom::ChannelDead) => {
                "One earpiece is dead: a broken wire or speaker; repair the cable or replace the headset."
            }
            (Headset, Symptom::InputDead) => {
                "The headset microphone is dead: check its inline mute switch, else replace the headset."
            }
            (Headset, Symptom::Imbalance) => {
                "The earpieces differ in level: a damaged speaker or cable; replace the headset."
            }
            (Headset, Symptom::LowLevel) => "The headset is quiet (weak speaker or microphone): replace it.",
            (Headset, Symptom::Response) => {
                "The headset's frequency response is out of tolerance (e.g. a microphone capsule that lost its top \
                 octaves, a blocked mesh): clean the mesh, else replace the headset."
            }
            (Headset, Symptom::Distortion) => "A damaged speaker distorts: replace the headset.",
            (Headset, Symptom::RubBuzz) => {
                "A speaker's voice coil rubs or a loose part buzzes when the diaphragm moves far (low notes, high \
                 level): listen to a slow low sweep to confirm, check the earcup for loose parts or debris; \
                 replace the earpiece or the headset."
            }
            (Headset, Symptom::OpenContact) => {
                "A conductor of the headset is broken (the meter finds no DC path through it): the break is \
                 almost always at the plug or the strain relief; re-terminate the plug or replace the cable, \
                 else the headset."
            }
            (Headset, Symptom::Short) => {
                "Two conductors of the headset are joined (a crushed cable, a plug whose insulation rings \
                 failed, or the play/hook button held): release the buttons and check the plug; re-terminate the \
                 plug or replace the cable, else the headset."
            }
            (Headset, Symptom::Button) => {
                "An inline button reads pressed at rest or outside the wired-headset windows: free a stuck button \
                 (debris, a bent dome), else replace the remote or the headset; a remote of another signalling \
                 (Apple's) needs a device made for it."
            }
            (Adapter, Symptom::OpenContact) => "A conductor of the adapter is broken: replace the adapter.",
            (Adapter, Symptom::Short) => "Two conductors of the adapter are joined: replace the adapter.",
            (Port, Symptom::OpenContact) => {
                "A contact of this jack carries nothing (a bent or broken spring): clean the jack and re-seat \
                 the plug; else replace the jack."
            }
            (Port, Symptom::Short) => {
                "Two contacts of this jack are joined (debris, a bent spring): clean the jack with contact \
                 cleaner and inspect it; else replace the jack."
            }
            (Headset, Symptom::Intermittent) => {
                "A worn cable or plug: wiggle-test the cable near the plug and the earpieces; repair or replace."
            }
            _ => "Replace the component and test again.",
        }
    }
}

impl std::fmt::Display for FaultCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.kind, self.symptom)
    }
}

impl Serialize for FaultCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_the_specs_codes() {
        let all = FaultCode::all();
        // spec §3: 3+3+3+1+2+3+2+2+3+1+2+2+1+1+3+1+1+1 codes, and v1.1's electrical 3+3+1.
        assert_eq!(all.len(), 42);
        for code in &all {
            assert_eq!(FaultCode::parse(&code.to_string()), Some(*code));
            assert!(!code.remedy().starts_with("Replace the component"), "{code} has no remedy of its own");
        }
        assert_eq!(FaultCode::parse("driver.hum"), None);
        assert_eq!(FaultCode::parse("loopback.noise"), None);
        assert_eq!(
            FaultCode::parse("adapter.pinout_mismatch").map(|c| c.to_string()),
            Some("adapter.pinout_mismatch".into())
        );
    }
}
