//! What a plug's DC resistances say (spec v1.1 §3, electrical symptoms): 3-pole or 4-pole, CTIA
//! or OMTP, each ear's speaker, the microphone's DC path, shorts and open conductors, and the
//! inline buttons against the wired-headset windows.
//!
//! The readings are the six pairs of [`PlugReadings`]. A speaker is a resistance between an ear's
//! contact (tip left, ring 1 right) and ground; the microphone's DC path (an electret capsule's
//! FET, or a remote's ladder in parallel with it) joins the other of ring 2 and sleeve to ground.
//! CTIA (LRGM) puts ground on ring 2 and the microphone on the sleeve; OMTP (LRMG) the other way
//! round. A 3-pole plug's sleeve spans both, so ring 2 and sleeve read as a short.

use crate::capture::plug::{Contact, PlugReadings, Reading};
use serde::Serialize;

/// A speaker's DC resistance, ohms: anything from 8 Ω earbuds to 600 Ω studio headphones, with
/// room either side. Below it is a short, above it (but not open) a damaged conductor.
pub const SPEAKER_OHMS: (f64, f64) = (6.0, 1000.0);
/// The microphone's DC path at rest, ohms: an electret capsule's FET reads about a kilohm to tens
/// of kilohms on a meter's small current. Below it, down to a short, is a button's ladder (the
/// windows of [`BUTTONS`] all lie under 700 Ω): a button that reads pressed at rest.
pub const MIC_OHMS: (f64, f64) = (700.0, 100_000.0);
/// At most this, a pair reads as joined (a short fault, or a 3-pole sleeve).
pub const JOINED_OHMS: f64 = 2.0;

/// The wired-headset button windows of Android's 3.5 mm jack specification: the resistance a
/// pressed button puts across microphone and ground, and the range a device must accept.
pub const BUTTONS: [(&str, f64, f64); 4] = [
    ("play/pause/hook (function A)", 0.0, 70.0),
    ("assistant (function D)", 110.0, 180.0),
    ("volume up (function B)", 210.0, 290.0),
    ("volume down (function C)", 360.0, 680.0),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Poles {
    /// TRS: left, right, ground (no microphone).
    Three,
    /// TRRS: left, right, ground, microphone.
    Four,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pinout {
    /// Ground on ring 2, microphone on the sleeve (LRGM).
    Ctia,
    /// Microphone on ring 2, ground on the sleeve (LRMG).
    Omtp,
}

/// An electrical finding, with the contacts it is between (spec v1.1 symptoms).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// `open_contact`, `short` or `button`.
    pub symptom: &'static str,
    pub contacts: [Contact; 2],
    pub evidence: String,
}

/// The plug as its resistances show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlugVerdict {
    pub poles: Poles,
    /// For a 4-pole plug whose ground could be told.
    pub pinout: Option<Pinout>,
    pub left_ohms: Option<f64>,
    pub right_ohms: Option<f64>,
    pub mic_ohms: Option<f64>,
    pub findings: Vec<Finding>,
}

/// A reading as ohms: open is infinite, a short zero.
fn ohms(r: Option<Reading>) -> f64 {
    match r {
        Some(Reading::Ohms(v)) => v,
        Some(Reading::Short) => 0.0,
        Some(Reading::Open) | None => f64::INFINITY,
    }
}

/// Reads the plug. `mic_expected`: the unit has a microphone (its model records), so a joined
/// ring 2 and sleeve is a short on a 4-pole plug, not a 3-pole plug.
pub fn classify(readings: &PlugReadings, mic_expected: bool) -> PlugVerdict {
    use Contact::{R1, R2, S, T};
    let r = |a, b| ohms(readings.between(a, b));
    let mut findings = Vec::new();
    let joined_ring2_sleeve = r(R2, S) <= JOINED_OHMS;
    if joined_ring2_sleeve && !mic_expected {
        // A 3-pole plug: ground is ring 2 and sleeve together.
        let (left, right) = (r(T, R2).min(r(T, S)), r(R1, R2).min(r(R1, S)));
        ear_findings(&mut findings, T, R2, left, "left");
        ear_findings(&mut findings, R1, R2, right, "right");
        return PlugVerdict {
            poles: Poles::Three,
            pinout: None,
            left_ohms: left.is_finite().then_some(left),
            right_ohms: right.is_finite().then_some(right),
            mic_ohms: None,
            findings,
        };
    }
    // Ground is the one of ring 2 and sleeve the ears' speakers return to: the lower sum.
    let to = |g| {
        let (l, rr) = (r(T, g), r(R1, g));
        match (l.is_finite(), rr.is_finite()) {
            (true, true) => l + rr,
            (true, false) => l,
            (false, true) => rr,
            (false, false) => f64::INFINITY,
        }
    };
    let (via_ring2, via_sleeve) = (to(R2), to(S));
    // With ring 2 and sleeve joined (a shorted microphone) either could be ground: not told.
    let pinout = if joined_ring2_sleeve {
        None
    } else if via_ring2.is_finite() || via_sleeve.is_finite() {
        Some(if via_ring2 <= via_sleeve { Pinout::Ctia } else { Pinout::Omtp })
    } else {
        None
    };
    let (ground, mic) = match pinout {
        Some(Pinout::Omtp) => (S, R2),
        _ => (R2, S),
    };
    let (left, right, mic_r) = (r(T, ground), r(R1, ground), r(mic, ground));
    ear_findings(&mut findings, T, ground, left, "left");
    ear_findings(&mut findings, R1, ground, right, "right");
    if mic_expected && below_window(&mut findings, [mic, ground], mic_r, MIC_OHMS, "microphone") {
        let (symptom, evidence) = if mic_r <= JOINED_OHMS {
            (
                "short",
                format!(
                    "microphone ({mic}) to ground ({ground}) reads {} at rest: joined, or the play/hook button held",
                    readings.between(mic, ground).unwrap_or(Reading::Open)
                ),
            )
        } else {
            (
                "button",
                format!(
                    "microphone to ground reads {mic_r:.0} Ω at rest, below a capsule's {:.0} Ω: {}",
                    MIC_OHMS.0,
                    button(mic_r).map_or("a damaged capsule".to_string(), |b| format!("the {b} button reads pressed"))
                ),
            )
        };
        findings.push(Finding { symptom, contacts: [mic, ground], evidence });
    }
    // The ears must be separate from each other and from the microphone.
    if r(T, R1) <= JOINED_OHMS {
        findings.push(Finding {
            symptom: "short",
            contacts: [T, R1],
            evidence: "left (tip) and right (ring 1) are joined".into(),
        });
    }
    PlugVerdict {
        poles: Poles::Four,
        pinout,
        left_ohms: left.is_finite().then_some(left),
        right_ohms: right.is_finite().then_some(right),
        mic_ohms: (mic_expected && mic_r.is_finite()).then_some(mic_r),
        findings,
    }
}

fn ear_findings(findings: &mut Vec<Finding>, ear: Contact, ground: Contact, ohms: f64, side: &str) {
    if below_window(findings, [ear, ground], ohms, SPEAKER_OHMS, &format!("{side} speaker")) {
        findings.push(Finding {
            symptom: "short",
            contacts: [ear, ground],
            evidence: format!(
                "the {side} ear ({ear}) reads {ohms:.1} Ω to ground ({ground}): joined, no speaker behind it"
            ),
        });
    }
}

/// A DC path that must be there (`what`, between `contacts`), read against its window: none, or
/// one above the window, is a broken conductor (pushed as `open_contact`). Returns whether the
/// reading is below the window, which the caller names.
fn below_window(
    findings: &mut Vec<Finding>,
    contacts: [Contact; 2],
    ohms: f64,
    window: (f64, f64),
    what: &str,
) -> bool {
    let [a, b] = contacts;
    let evidence = if ohms.is_infinite() {
        format!("no DC path through the {what} ({a} to {b}): a broken conductor")
    } else if ohms > window.1 {
        format!(
            "the {what} reads {} ({a} to {b}), above {}: a conductor nearly broken",
            Reading::Ohms(ohms),
            Reading::Ohms(window.1)
        )
    } else {
        return ohms < window.0;
    };
    findings.push(Finding { symptom: "open_contact", contacts, evidence });
    false
}

/// A button press read across microphone and ground: which button's window it falls in, if any.
pub fn button(ohms: f64) -> Option<&'static str> {
    BUTTONS.iter().find(|(_, lo, hi)| ohms >= *lo && ohms <= *hi).map(|(name, _, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::plug::PairReading;

    /// The six readings of a resistor network between the plug's contacts (each resistor
    /// `(a, b, ohms)`), as an ideal meter reads them: the effective resistance between two
    /// contacts, open above 200 kΩ, short below 2 Ω.
    // Nodal analysis reads best with the matrix indices written out.
    #[allow(clippy::needless_range_loop)]
    fn meter(resistors: &[(Contact, Contact, f64)]) -> PlugReadings {
        let idx = |c: Contact| Contact::ALL.iter().position(|x| *x == c).unwrap_or(0);
        let mut pairs = Vec::new();
        for (i, &a) in Contact::ALL.iter().enumerate() {
            for &b in &Contact::ALL[i + 1..] {
                // Nodal analysis: 1 A into a, b grounded, every node leaking 1e-12 S.
                let mut g = [[0.0f64; 4]; 4];
                for n in 0..4 {
                    g[n][n] += 1e-12;
                }
                for &(p, q, r) in resistors {
                    let (p, q) = (idx(p), idx(q));
                    g[p][p] += 1.0 / r;
                    g[q][q] += 1.0 / r;
                    g[p][q] -= 1.0 / r;
                    g[q][p] -= 1.0 / r;
                }
                let keep: Vec<usize> = (0..4).filter(|n| *n != idx(b)).collect();
                let mut m: Vec<Vec<f64>> = keep.iter().map(|&r| keep.iter().map(|&c| g[r][c]).collect()).collect();
                let mut rhs: Vec<f64> = keep.iter().map(|&r| if r == idx(a) { 1.0 } else { 0.0 }).collect();
                let v =
                    if crate::analysis::tone::solve_in_place(&mut m, &mut rhs) { rhs } else { vec![f64::INFINITY; 3] };
                let r = v[keep.iter().position(|&k| k == idx(a)).unwrap_or(0)];
                let reading = if r > 200e3 {
                    Reading::Open
                } else if r < 2.0 {
                    Reading::Short
                } else {
                    Reading::Ohms(r)
                };
                pairs.push(PairReading { a, b, reading });
            }
        }
        PlugReadings { pairs }
    }

    use Contact::{R1, R2, S, T};

    fn headset(pinout: Pinout, ears: f64, mic: f64) -> Vec<(Contact, Contact, f64)> {
        let (g, m) = if pinout == Pinout::Ctia { (R2, S) } else { (S, R2) };
        vec![(T, g, ears), (R1, g, ears), (m, g, mic)]
    }

    #[test]
    fn ctia_omtp_and_3_pole_plugs_are_told_apart_at_every_impedance() {
        for ears in [8.0, 16.0, 32.0, 64.0, 150.0, 300.0, 600.0] {
            for mic in [800.0, 1500.0, 2200.0, 10_000.0] {
                for pinout in [Pinout::Ctia, Pinout::Omtp] {
                    let v = classify(&meter(&headset(pinout, ears, mic)), true);
                    assert_eq!((v.poles, v.pinout), (Poles::Four, Some(pinout)), "{ears} Ω, mic {mic} Ω");
                    assert!(v.findings.is_empty(), "{ears} Ω {pinout:?}: {:?}", v.findings);
                    assert!((v.left_ohms.unwrap_or(0.0) / ears - 1.0).abs() < 1e-6);
                    assert!((v.mic_ohms.unwrap_or(0.0) / mic - 1.0).abs() < 1e-6);
                }
            }
            // A 3-pole plug in the same socket: its sleeve joins ring 2 and sleeve.
            let trs = [(T, R2, ears), (R1, R2, ears), (R2, S, 0.01)];
            let v = classify(&meter(&trs), false);
            assert_eq!((v.poles, v.pinout), (Poles::Three, None));
            assert!(v.findings.is_empty(), "{:?}", v.findings);
        }
    }

    #[test]
    fn opens_and_shorts_are_named_with_their_contacts() {
        // The right ear's conductor broken.
        let v = classify(&meter(&[(T, R2, 32.0), (S, R2, 1500.0)]), true);
        assert_eq!(v.pinout, Some(Pinout::Ctia));
        assert_eq!(v.findings.len(), 1, "{:?}", v.findings);
        assert_eq!((v.findings[0].symptom, v.findings[0].contacts), ("open_contact", [R1, R2]));
        // The microphone's conductor broken (ears intact): the DC path is gone.
        let v = classify(&meter(&[(T, S, 32.0), (R1, S, 32.0)]), true);
        assert_eq!(v.pinout, Some(Pinout::Omtp));
        assert_eq!((v.findings[0].symptom, v.findings[0].contacts), ("open_contact", [R2, S]));
        // The left ear shorted to ground.
        let v = classify(&meter(&[(T, R2, 0.3), (R1, R2, 32.0), (S, R2, 1500.0)]), true);
        assert!(v.findings.iter().any(|f| f.symptom == "short" && f.contacts == [T, R2]), "{:?}", v.findings);
        // The microphone shorted to ground on a headset that has one: a short, not a 3-pole plug.
        let v = classify(&meter(&headset(Pinout::Ctia, 32.0, 0.5)), true);
        assert_eq!(v.poles, Poles::Four);
        assert!(v.findings.iter().any(|f| f.symptom == "short" && f.contacts == [S, R2]), "{:?}", v.findings);
        // A button that reads pressed at rest (240 Ω across the microphone).
        let v = classify(&meter(&headset(Pinout::Ctia, 32.0, 1500.0 * 240.0 / 1740.0)), true);
        assert!(v.findings.iter().any(|f| f.symptom == "button"), "{:?}", v.findings);
    }

    #[test]
    fn button_presses_fall_in_their_windows() {
        // Each button's nominal resistance, parallel to a 2.2 kΩ capsule, lands in its window.
        for (nominal, name) in [(0.0, "play"), (135.0, "assistant"), (240.0, "volume up"), (470.0, "volume down")] {
            let seen = if nominal == 0.0 { 0.0 } else { 1.0 / (1.0 / nominal + 1.0 / 2_200.0) };
            assert!(button(seen).is_some_and(|b| b.starts_with(name)), "{nominal} Ω: {:?}", button(seen));
        }
        assert_eq!(button(1500.0), None);
        assert_eq!(button(90.0), None);
    }
}
