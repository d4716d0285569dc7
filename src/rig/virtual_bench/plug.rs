//! The plug on the virtual bench, electrically: each headset's contacts as a resistor network
//! (speakers, the microphone's DC path, faults), and the relay board's meter reading it
//! (`MEASURE ALL`: every pair's effective resistance, ±0.5 %, open above 200 kΩ, short below
//! 2 Ω, as the firmware reports them; rigs/arduino/README.md).
//!
//! A headset is wired CTIA (ground on ring 2, microphone on the sleeve) unless it carries a
//! `pinout_mismatch` (OMTP). Its faults, electrically:
//! - `open_contact`: its line (left ear, right ear or microphone) has no DC path;
//! - `short`: its line is joined to ground;
//! - `button`: a button of the remote's ladder (assistant, volume up, volume down) reads
//!   pressed at rest, across microphone and ground;
//! - `channel_dead`: a broken speaker wire or coil, open like `open_contact` on that ear;
//! - `output_dead`: the speakers' common return broken: each ear open to ground, the two
//!   speakers still in series between tip and ring 1;
//! - `input_dead`: a dead capsule whose DC path (its FET) is intact: the meter sees nothing.

use super::{fnv, Part};
use crate::capture::plug::{Contact, PairReading, PlugReadings, Reading};
use crate::diagnosis::Symptom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Above this the meter reads `OPEN`, below [`SHORT_OHMS`] `SHORT` (the firmware's limits).
pub const OPEN_OHMS: f64 = 200e3;
pub const SHORT_OHMS: f64 = 2.0;
/// A joined pair, ohms: a crushed cable's or a plug's failed insulation ring.
const JOINED_OHMS: f64 = 0.3;
/// The meter's error, relative (the firmware in simavr reads within 1.5 %).
const METER_SD: f64 = 0.005;

/// A headset's DC resistances, drawn from its model (so units of one model agree) and spread
/// per unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Electrical {
    /// Each ear's speaker, ohms.
    pub ears: [f64; 2],
    /// The microphone's DC path at rest, ohms.
    pub mic: f64,
    /// Which line an electrical fault hits, as a draw in [0, 1): left ear, right ear or (with a
    /// microphone) the microphone, in equal shares.
    pub line_draw: f64,
    /// The button that reads pressed at rest, as a draw in [0, 1).
    pub button_draw: f64,
}

/// Speakers of wired headsets, ohms: earbuds to studio headphones.
const SPEAKERS: [f64; 6] = [16.0, 24.0, 32.0, 64.0, 150.0, 300.0];
/// Button ladder resistances that read pressed at rest: mid-window values of the assistant,
/// volume-up and volume-down windows.
const STUCK_BUTTONS: [f64; 3] = [145.0, 250.0, 510.0];

impl Electrical {
    pub(super) fn new(model: &str, unit_seed: u64) -> Electrical {
        let mut m = ChaCha8Rng::seed_from_u64(fnv(model) ^ 0x6f68_6d73_0000_0001);
        let speaker = SPEAKERS[m.random_range(0..SPEAKERS.len())];
        let mic = m.random_range(1_500.0..8_000.0);
        let mut u = ChaCha8Rng::seed_from_u64(unit_seed ^ 0x6f68_6d73_0000_0002);
        let mut spread =
            |sd: f64| 1.0 + Normal::new(0.0, sd).map_or(0.0, |n| n.sample(&mut u)).clamp(-3.0 * sd, 3.0 * sd);
        let unit = spread(0.02);
        let ears = [speaker * unit * spread(0.01), speaker * unit * spread(0.01)];
        let mic = mic * spread(0.1);
        Electrical { ears, mic, line_draw: u.random(), button_draw: u.random() }
    }
}

/// The line an electrical fault of `part` hits: 0 left, 1 right, 2 the microphone (only when the
/// part carries one).
pub(super) fn fault_line(part: &Part) -> usize {
    let lines = if part.has_mic { 3.0 } else { 2.0 };
    ((part.electrical.line_draw * lines) as usize).min(lines as usize - 1)
}

/// The resistors between the contacts of a headset's plug.
pub(super) fn network(part: &Part) -> Vec<(Contact, Contact, f64)> {
    use Contact::{R1, R2, S, T};
    let e = &part.electrical;
    let (ground, mic) = if part.has(Symptom::PinoutMismatch) { (S, R2) } else { (R2, S) };
    let line = fault_line(part);
    let ears = [T, R1];
    let mut out = Vec::new();
    let common_open = part.has(Symptom::OutputDead);
    for (k, &ear) in ears.iter().enumerate() {
        let open = (part.has(Symptom::OpenContact) && line == k) || (part.has(Symptom::ChannelDead) && part.side == k);
        let short = part.has(Symptom::Short) && line == k;
        if short {
            out.push((ear, ground, JOINED_OHMS));
        } else if !open && !common_open {
            out.push((ear, ground, e.ears[k]));
        }
    }
    if common_open {
        // The two speakers still join tip and ring 1 through their common point.
        out.push((T, R1, e.ears[0] + e.ears[1]));
    }
    if part.has_mic {
        let open = part.has(Symptom::OpenContact) && line == 2;
        if part.has(Symptom::Short) && line == 2 {
            out.push((mic, ground, JOINED_OHMS));
        } else if !open {
            out.push((mic, ground, e.mic));
        }
        if part.has(Symptom::Button) {
            let k = ((e.button_draw * STUCK_BUTTONS.len() as f64) as usize).min(STUCK_BUTTONS.len() - 1);
            out.push((mic, ground, STUCK_BUTTONS[k]));
        }
    } else {
        // A 3-pole plug: its sleeve spans ring 2 and the sleeve of a 4-pole socket.
        out.push((R2, S, 0.05));
    }
    out
}

/// What a meter reads across every pair of a plug made of `resistors`: each pair's effective
/// resistance (nodal analysis, the other contacts floating), with the meter's relative error
/// drawn from `rng`, as the firmware's limits report it.
pub fn read(resistors: &[(Contact, Contact, f64)], rng: &mut impl Rng) -> PlugReadings {
    let noise = Normal::new(0.0, METER_SD).ok();
    let mut pairs = Vec::new();
    for (i, &a) in Contact::ALL.iter().enumerate() {
        for &b in &Contact::ALL[i + 1..] {
            let r = effective(resistors, a, b);
            let r = r * (1.0 + noise.map_or(0.0, |n| n.sample(rng)));
            let reading = if !r.is_finite() || r > OPEN_OHMS {
                Reading::Open
            } else if r < SHORT_OHMS {
                Reading::Short
            } else {
                Reading::Ohms((r * 100.0).round() / 100.0)
            };
            pairs.push(PairReading { a, b, reading });
        }
    }
    PlugReadings { pairs }
}

/// The effective resistance between `a` and `b`: 1 A into `a`, `b` grounded, every node leaking
/// 1 pS so that a floating node does not make the system singular.
// Nodal analysis reads best with the matrix indices written out.
#[allow(clippy::needless_range_loop)]
fn effective(resistors: &[(Contact, Contact, f64)], a: Contact, b: Contact) -> f64 {
    let idx = |c: Contact| Contact::ALL.iter().position(|x| *x == c).unwrap_or(0);
    let mut g = [[0.0f64; 4]; 4];
    for n in 0..4 {
        g[n][n] += 1e-12;
    }
    for &(p, q, r) in resistors {
        let (p, q, y) = (idx(p), idx(q), 1.0 / r.max(1e-6));
        g[p][p] += y;
        g[q][q] += y;
        g[p][q] -= y;
        g[q][p] -= y;
    }
    let keep: Vec<usize> = (0..4).filter(|n| *n != idx(b)).collect();
    let mut m: Vec<Vec<f64>> = keep.iter().map(|&r| keep.iter().map(|&c| g[r][c]).collect()).collect();
    let mut rhs: Vec<f64> = keep.iter().map(|&r| if r == idx(a) { 1.0 } else { 0.0 }).collect();
    if !crate::analysis::tone::solve_in_place(&mut m, &mut rhs) {
        return f64::INFINITY;
    }
    keep.iter().position(|&k| k == idx(a)).map_or(f64::INFINITY, |i| rhs[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::plug::{classify, Pinout, Poles};
    use crate::capture::ComponentKind;

    fn headset(model: &str, seed: u64) -> Part {
        Part::new(ComponentKind::Headset, seed, "dut", Some(model))
    }

    fn readings(p: &Part, seed: u64) -> PlugReadings {
        read(&network(p), &mut ChaCha8Rng::seed_from_u64(seed))
    }

    #[test]
    fn a_healthy_headset_reads_ctia_with_its_speakers_and_microphone() {
        for seed in 0..40 {
            let p = headset(&format!("model-{}", seed % 7), seed);
            let v = classify(&readings(&p, seed), true);
            assert_eq!((v.poles, v.pinout), (Poles::Four, Some(Pinout::Ctia)), "seed {seed}: {v:?}");
            assert!(v.findings.is_empty(), "seed {seed}: {:?}", v.findings);
            for (got, want) in [v.left_ohms, v.right_ohms].into_iter().zip(p.electrical.ears) {
                let got = got.expect("an ear");
                // The meter's error is 0.5 % (sd): 2 % is four of it.
                assert!((got / want - 1.0).abs() < 0.02, "seed {seed}: {got} Ω for {want} Ω");
            }
        }
    }

    #[test]
    fn a_headset_without_a_microphone_reads_three_pole() {
        let mut p = headset("hs-3", 3);
        p.has_mic = false;
        let v = classify(&readings(&p, 3), false);
        assert_eq!(v.poles, Poles::Three, "{v:?}");
        assert!(v.findings.is_empty(), "{:?}", v.findings);
    }

    #[test]
    fn each_electrical_fault_reads_as_its_symptom_on_its_contacts() {
        use Contact::{R1, R2, S, T};
        for seed in 0..60 {
            for symptom in [Symptom::OpenContact, Symptom::Short, Symptom::Button] {
                let mut p = headset("hs-100", seed);
                p.faults.push((symptom, 0.5));
                let v = classify(&readings(&p, seed), true);
                let line = fault_line(&p);
                let contact = if symptom == Symptom::Button { S } else { [T, R1, S][line] };
                assert!(
                    v.findings.iter().any(|f| f.symptom == symptom.name() && f.contacts.contains(&contact)),
                    "seed {seed} {symptom} on line {line}: {:?}",
                    v.findings
                );
                // A shorted microphone joins ring 2 and sleeve: then ground cannot be told.
                let told = if symptom == Symptom::Short && line == 2 { None } else { Some(Pinout::Ctia) };
                assert_eq!(v.pinout, told, "seed {seed} {symptom}");
            }
            // An OMTP headset: ground and microphone change places, nothing else is wrong.
            let mut p = headset("hs-100", seed);
            p.faults.push((Symptom::PinoutMismatch, 0.5));
            let v = classify(&readings(&p, seed), true);
            assert_eq!(v.pinout, Some(Pinout::Omtp), "seed {seed}");
            assert!(v.findings.is_empty(), "seed {seed}: {:?}", v.findings);
            // A broken common return: both ears open to ground, in series between them.
            let mut p = headset("hs-100", seed);
            p.faults.push((Symptom::OutputDead, 0.5));
            let r = readings(&p, seed);
            assert!(matches!(r.between(T, R1), Some(Reading::Ohms(_))), "seed {seed}: {r:?}");
            assert_eq!(r.between(T, R2), Some(Reading::Open), "seed {seed}");
            let v = classify(&r, true);
            assert_eq!(v.findings.iter().filter(|f| f.symptom == "open_contact").count(), 2, "{:?}", v.findings);
        }
    }

    #[test]
    fn the_meter_reads_a_resistor_within_its_error() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for ohms in [2.5, 16.0, 32.0, 300.0, 4_700.0, 150_000.0] {
            let r = read(&[(Contact::T, Contact::S, ohms)], &mut rng);
            let Some(Reading::Ohms(got)) = r.between(Contact::T, Contact::S) else { panic!("{ohms}: {r:?}") };
            assert!((got / ohms - 1.0).abs() < 0.02, "{got} for {ohms}");
            assert_eq!(r.between(Contact::R1, Contact::R2), Some(Reading::Open));
        }
        let r = read(&[(Contact::T, Contact::S, 0.5)], &mut rng);
        assert_eq!(r.between(Contact::T, Contact::S), Some(Reading::Short));
    }
}
