//! The plug measured electrically (spec v1.1 §3, electrical symptoms): the DC resistance
//! between the contacts of a 3.5 mm plug, as a relay board with a meter reads it
//! (`rig::relay`, protocol 2) and as a capture set keeps it.

use serde::{Deserialize, Serialize};

/// A contact of a TRRS plug, tip first. A 3-pole (TRS) plug's sleeve spans ring 2 and sleeve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Contact {
    T,
    R1,
    R2,
    S,
}

impl Contact {
    pub const ALL: [Contact; 4] = [Contact::T, Contact::R1, Contact::R2, Contact::S];

    pub fn name(self) -> &'static str {
        match self {
            Contact::T => "T",
            Contact::R1 => "R1",
            Contact::R2 => "R2",
            Contact::S => "S",
        }
    }

    pub fn parse(text: &str) -> Option<Contact> {
        Contact::ALL.into_iter().find(|c| c.name().eq_ignore_ascii_case(text))
    }

    /// Two different contacts written `A-B` (`T-R2`).
    pub fn pair(text: &str) -> Option<(Contact, Contact)> {
        let (a, b) = text.split_once('-')?;
        let (a, b) = (Contact::parse(a)?, Contact::parse(b)?);
        (a != b).then_some((a, b))
    }
}

impl std::fmt::Display for Contact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the meter read between two contacts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reading {
    Ohms(f64),
    /// Beyond the meter's range (no DC path).
    Open,
    /// Below its range (joined).
    Short,
}

impl std::fmt::Display for Reading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reading::Ohms(r) if *r >= 1000.0 => write!(f, "{:.2} kΩ", r / 1000.0),
            Reading::Ohms(r) => write!(f, "{r:.1} Ω"),
            Reading::Open => f.write_str("open"),
            Reading::Short => f.write_str("short"),
        }
    }
}

/// One pair's reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairReading {
    pub a: Contact,
    pub b: Contact,
    pub reading: Reading,
}

impl PairReading {
    /// Parses the protocol's `T-S 32.41`, `T-S OPEN`, `T-S SHORT`.
    pub fn parse(pair: &str, value: &str) -> Option<PairReading> {
        let (a, b) = Contact::pair(pair)?;
        let reading = match value {
            "OPEN" => Reading::Open,
            "SHORT" => Reading::Short,
            v => Reading::Ohms(v.parse().ok().filter(|r: &f64| r.is_finite() && *r >= 0.0)?),
        };
        Some(PairReading { a, b, reading })
    }
}

/// Every pair of a plug, as one `MEASURE ALL` gives them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlugReadings {
    pub pairs: Vec<PairReading>,
}

impl PlugReadings {
    /// Whether every pair reads open: no plug in the socket (a headset with every conductor
    /// broken reads the same, and is no likelier).
    pub fn all_open(&self) -> bool {
        !self.pairs.is_empty() && self.pairs.iter().all(|p| p.reading == Reading::Open)
    }

    /// The reading between `a` and `b`, in either order.
    pub fn between(&self, a: Contact, b: Contact) -> Option<Reading> {
        self.pairs.iter().find(|p| (p.a == a && p.b == b) || (p.a == b && p.b == a)).map(|p| p.reading)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocol_s_readings_parse_and_nothing_else_does() {
        assert_eq!(
            PairReading::parse("T-R2", "31.90"),
            Some(PairReading { a: Contact::T, b: Contact::R2, reading: Reading::Ohms(31.9) })
        );
        assert_eq!(PairReading::parse("r1-s", "OPEN").map(|p| p.reading), Some(Reading::Open));
        assert_eq!(PairReading::parse("R2-S", "SHORT").map(|p| p.reading), Some(Reading::Short));
        for (pair, value) in [("T-T", "1"), ("T-X", "1"), ("TS", "1"), ("T-S", "-3"), ("T-S", "NaN"), ("T-S", "")] {
            assert_eq!(PairReading::parse(pair, value), None, "{pair} {value}");
        }
    }
}
