//! Live monitoring of one path (`jackbench monitor`): the wiggle test and the overnight soak.
//!
//! A path plays a tone per ear and the mouth simulator a third ([`crate::rig::stream`]); each
//! recorded line is watched as it streams ([`watch::Watch`]): events (gaps, clicks, level
//! steps, noise bursts, a line going dead and coming back) as they happen, and each second the
//! level, THD and noise floor. [`Monitor`] runs the lines side by side and keeps the counts;
//! [`soak`] streams it all to disk; [`Verdict`] names the part where one path can.

pub mod soak;
pub mod watch;

pub use watch::{Event, EventKind, LineSecond};

use crate::rig::stream::StreamChannel;
use serde::Serialize;

/// One second of every line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Second {
    /// The second's end, seconds of the stream.
    pub t_s: f64,
    /// The path it was on, when the monitor knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub lines: Vec<LineSecond>,
}

/// A technician's mark: what was being done from `t_s` on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mark {
    pub t_s: f64,
    pub text: String,
}

/// Every line of a stream, watched.
pub struct Monitor {
    watches: Vec<watch::Watch>,
    rate_hz: u32,
    frames: u64,
    /// Each line's seconds, waiting for the other lines' (lines on separate devices run on
    /// separate clocks, so one may be ahead by a block).
    pending: Vec<std::collections::VecDeque<LineSecond>>,
    /// Seconds handed out.
    seconds: u64,
    /// Where this monitor's stream starts in the run, seconds (a run that watches several
    /// paths in turn starts a monitor per turn).
    start_s: f64,
    path: Option<String>,
}

impl Monitor {
    pub fn new(channels: &[StreamChannel], rate_hz: u32) -> Monitor {
        let watches = channels
            .iter()
            .map(|c| {
                let others = channels.iter().filter(|o| o.name != c.name).map(|o| o.freq_hz).collect();
                watch::Watch::new(&c.name, c.freq_hz, others, rate_hz)
            })
            .collect();
        Monitor {
            watches,
            rate_hz,
            frames: 0,
            pending: vec![Default::default(); channels.len()],
            seconds: 0,
            start_s: 0.0,
            path: None,
        }
    }

    /// The same monitor for a stream that starts `start_s` into the run, on `path`: its events
    /// and seconds carry the run's time and the path.
    pub fn on_path(self, path: &str, start_s: f64) -> Monitor {
        Monitor { start_s, path: Some(path.to_string()), ..self }
    }

    /// Takes the next frames of every line (`blocks[line]`; lines of separate devices may
    /// differ in length); pushes the events they complete. Returns the second they complete, if
    /// every line has it.
    pub fn push(&mut self, blocks: &[Vec<f32>], events: &mut Vec<Event>) -> Option<Second> {
        let first = events.len();
        for ((w, b), p) in self.watches.iter_mut().zip(blocks).zip(&mut self.pending) {
            if let Some(s) = w.push(b, events) {
                p.push_back(s);
            }
        }
        self.frames += blocks.first().map_or(0, |b| b.len() as u64);
        for e in &mut events[first..] {
            e.t_s += self.start_s;
            e.path.clone_from(&self.path);
        }
        events[first..].sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
        self.next_second()
    }

    fn next_second(&mut self) -> Option<Second> {
        if self.pending.is_empty() || self.pending.iter().any(|p| p.is_empty()) {
            return None;
        }
        let lines: Vec<LineSecond> = self.pending.iter_mut().filter_map(|p| p.pop_front()).collect();
        self.seconds += 1;
        Some(Second { t_s: self.start_s + self.seconds as f64, path: self.path.clone(), lines })
    }

    /// At the stream's end: the last whole second, if it was waiting for context.
    pub fn finish(&mut self) -> Option<Second> {
        for (w, p) in self.watches.iter_mut().zip(&mut self.pending) {
            if p.is_empty() {
                p.extend(w.flush());
            }
        }
        self.next_second()
    }

    /// Seconds of the run so far: where the stream started and what it has given.
    pub fn elapsed_s(&self) -> f64 {
        self.start_s + self.frames as f64 / f64::from(self.rate_hz.max(1))
    }

    /// Forgets every line's event count.
    pub fn reset(&mut self) {
        self.watches.iter_mut().for_each(watch::Watch::reset);
    }
}

/// What a monitored path's events say, and about which part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub pass: bool,
    /// In words: where the events were and what that points at.
    pub findings: Vec<String>,
    /// The parts the events point at, most likely first (component ids of the path).
    pub suspects: Vec<String>,
}

/// Events on different lines this close together are one event of a part they share, seconds.
const TOGETHER_S: f64 = 0.003;

/// A running count of a stream's events, in constant memory: per line, and the *moments* (events
/// within [`TOGETHER_S`] of each other) with how many of them hit every line at once.
#[derive(Debug, Clone)]
pub struct Tally {
    lines: Vec<String>,
    counts: Vec<u64>,
    moments: u64,
    shared: u64,
    /// The moment being gathered: its first event's time and the lines it hit.
    current: Option<(f64, Vec<bool>)>,
}

impl Tally {
    pub fn new(lines: &[StreamChannel]) -> Tally {
        Tally {
            lines: lines.iter().map(|l| l.name.clone()).collect(),
            counts: vec![0; lines.len()],
            moments: 0,
            shared: 0,
            current: None,
        }
    }

    /// Counts an event (events come in time order, as [`Monitor::push`] gives them).
    pub fn add(&mut self, e: &Event) {
        if e.kind == EventKind::Back {
            return;
        }
        let Some(k) = self.lines.iter().position(|n| n == &e.channel) else { return };
        self.counts[k] += 1;
        match &mut self.current {
            Some((t, hit)) if e.t_s - *t <= TOGETHER_S => hit[k] = true,
            _ => {
                self.close();
                let mut hit = vec![false; self.lines.len()];
                hit[k] = true;
                self.current = Some((e.t_s, hit));
            }
        }
    }

    fn close(&mut self) {
        if let Some((_, hit)) = self.current.take() {
            self.moments += 1;
            if hit.len() > 1 && hit.iter().all(|h| *h) {
                self.shared += 1;
            }
        }
    }

    /// Events per line, in the lines' order.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The verdict so far: no event is a pass; events on every line at the same moments point at
    /// what all lines share digitally (the driver); on one line only, at that line's contacts
    /// (headset, adapter or port: one path cannot tell them apart, another path through the same
    /// adapter or port can); on several lines at separate moments, at a contact they all pass
    /// (the plug in the jack, the adapter, the headset's cable).
    pub fn verdict(&self, path: &crate::capture::PathSpec) -> Verdict {
        let mut t = self.clone();
        t.close();
        if t.moments == 0 {
            return Verdict { pass: true, findings: vec!["no event on any line".into()], suspects: Vec::new() };
        }
        let mut findings = vec![t
            .lines
            .iter()
            .zip(&t.counts)
            .map(|(n, c)| format!("{n}: {c} event{}", if *c == 1 { "" } else { "s" }))
            .collect::<Vec<_>>()
            .join(", ")];
        let hit: Vec<&str> = t.lines.iter().zip(&t.counts).filter(|(_, c)| **c > 0).map(|(n, _)| n.as_str()).collect();
        let mut suspects = Vec::new();
        if t.lines.len() > 1 && t.shared * 2 >= t.moments {
            findings.push(format!(
                "{} of {} moments hit every line at once: what every line shares is digital, the driver's buffers",
                t.shared, t.moments
            ));
            suspects.push(path.driver.clone());
        } else if hit.len() == 1 {
            findings.push(format!(
                "only the {} line: a contact of that line alone (headset, adapter or port); monitor another path through the same adapter and port to tell them apart",
                hit[0]
            ));
            suspects.extend([path.headset.clone(), path.adapter.clone(), path.port.clone()]);
        } else {
            findings.push(format!(
                "{} lines at separate moments: a contact they all pass, the plug in the jack, the adapter or the headset's cable",
                hit.len()
            ));
            suspects.extend([path.port.clone(), path.adapter.clone(), path.headset.clone()]);
        }
        Verdict { pass: false, findings, suspects }
    }
}

/// One path's share of a run that watched several in turn.
#[derive(Debug, Clone)]
pub struct PathWatch {
    pub path: crate::capture::PathSpec,
    pub tally: Tally,
    /// How long it was watched, seconds.
    pub seconds: f64,
}

/// A path watched this long without an event clears a part only when the events elsewhere say
/// it would have had this many (a Poisson count of 3 or more is zero 5 % of the time at most).
const CLEARING_EVENTS: f64 = 3.0;

impl Tally {
    /// Events counted (a line coming back is not one).
    pub fn events(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Whether most moments hit every line at once: what the lines share digitally.
    fn digital(&self) -> bool {
        let mut t = self.clone();
        t.close();
        t.lines.len() > 1 && t.moments > 0 && t.shared * 2 >= t.moments
    }
}

/// The verdict of a run over several paths: the part on every path with events and on none of
/// the paths that were watched long enough to show them and stayed quiet. With one path, that
/// path's own verdict.
pub fn verdict_across(watched: &[PathWatch]) -> Verdict {
    let [one] = watched else {
        return verdict_of_paths(watched);
    };
    one.tally.verdict(&one.path)
}

fn verdict_of_paths(watched: &[PathWatch]) -> Verdict {
    use std::fmt::Write;
    let hit: Vec<&PathWatch> = watched.iter().filter(|w| w.tally.events() > 0).collect();
    let per_path = |w: &PathWatch| {
        let mut s = format!("{}: {} event{} in {:.0} s", w.path, w.tally.events(), plural(w.tally.events()), w.seconds);
        if w.tally.events() > 0 {
            let v = w.tally.verdict(&w.path);
            if let Some(f) = v.findings.first() {
                let _ = write!(s, " ({f})");
            }
        }
        s
    };
    let mut findings: Vec<String> = watched.iter().map(per_path).collect();
    if hit.is_empty() {
        findings.insert(0, format!("no event on any of {} paths", watched.len()));
        return Verdict { pass: true, findings, suspects: Vec::new() };
    }
    // The rate the faulty part shows where it is, events a second.
    let (events, seconds) = hit.iter().fold((0u64, 0.0f64), |(e, s), w| (e + w.tally.events(), s + w.seconds));
    let rate = events as f64 / seconds.max(1e-9);
    // Every part of the first path with events, in the order a contact fault is likeliest in
    // (port, adapter, headset, then the driver), kept if every path with events has it.
    let first = &hit[0].path;
    let parts = [first.port.as_str(), first.adapter.as_str(), first.headset.as_str(), first.driver.as_str()];
    let mut candidates: Vec<&str> =
        parts.into_iter().filter(|p| hit.iter().all(|w| w.path.ids().contains(p))).collect();
    candidates.dedup();
    let mut cleared = Vec::new();
    let mut unsure = Vec::new();
    candidates.retain(|part| {
        let quiet: Vec<&PathWatch> =
            watched.iter().filter(|w| w.tally.events() == 0 && w.path.ids().contains(part)).collect();
        match quiet.iter().find(|w| rate * w.seconds >= CLEARING_EVENTS) {
            Some(w) => {
                cleared.push(format!("{part} (quiet on {} for {:.0} s)", w.path, w.seconds));
                false
            }
            None => {
                if let Some(w) = quiet.first() {
                    unsure.push(format!(
                        "{part}: quiet on {} but watched {:.0} s, too short at {:.2} events/s to clear it",
                        w.path, w.seconds, rate
                    ));
                }
                true
            }
        }
    });
    // Contacts come and go on one line at a time; a driver's buffers drop every line at once.
    let digital = hit.iter().filter(|w| w.tally.digital()).count() * 2 > hit.len();
    if candidates.len() > 1 {
        let drivers: Vec<&str> = hit.iter().map(|w| w.path.driver.as_str()).collect();
        let fits: Vec<&str> = candidates.iter().copied().filter(|c| drivers.contains(c) == digital).collect();
        if !fits.is_empty() {
            candidates = fits;
        }
    }
    let named: Vec<String> = hit.iter().map(|w| w.path.to_string()).collect();
    let mut head = match candidates.as_slice() {
        [one] => format!("events on every path through {one} ({}) and on none without it: {one}", named.join("; ")),
        [] => format!(
            "the paths with events ({}) share no part that a quiet path clears: more than one faulty part",
            named.join("; ")
        ),
        many => format!(
            "the paths with events ({}) share {}: watch a path through one without the others to tell them apart",
            named.join("; "),
            many.join(", ")
        ),
    };
    if !cleared.is_empty() {
        let _ = write!(head, "; cleared: {}", cleared.join(", "));
    }
    findings.insert(0, head);
    findings.extend(unsure);
    let suspects = if candidates.is_empty() {
        let mut all: Vec<String> = Vec::new();
        for w in &hit {
            for s in w.tally.verdict(&w.path).suspects {
                if !all.contains(&s) {
                    all.push(s);
                }
            }
        }
        all
    } else {
        candidates.iter().map(|c| (*c).to_string()).collect()
    };
    Verdict { pass: false, findings, suspects }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::PathSpec;

    fn path(text: &str) -> PathSpec {
        let p: Vec<&str> = text.split('/').collect();
        PathSpec { driver: p[0].into(), port: p[1].into(), adapter: p[2].into(), headset: p[3].into() }
    }

    fn lines() -> Vec<StreamChannel> {
        ["left", "right", "mic"].iter().map(|n| StreamChannel { name: (*n).into(), freq_hz: 1000.0 }).collect()
    }

    /// A path watched `seconds` with `events` events: on one line at a time (a contact), or on
    /// every line at once (`digital`).
    fn watched(p: &str, seconds: f64, events: usize, digital: bool) -> PathWatch {
        let mut tally = Tally::new(&lines());
        for k in 0..events {
            let t_s = k as f64 * 0.5;
            let on: &[&str] = if digital { &["left", "right", "mic"] } else { &[["left", "right", "mic"][k % 3]] };
            for line in on {
                tally.add(&Event {
                    t_s,
                    path: None,
                    channel: (*line).into(),
                    kind: EventKind::Gap,
                    ms: Some(5.0),
                    db: None,
                });
            }
        }
        PathWatch { path: path(p), tally, seconds }
    }

    /// The repair bench's four paths, 30 s each, with these events (all on every line at once if
    /// `digital`).
    fn repair_bench(events: [usize; 4], digital: bool) -> Verdict {
        let watches: Vec<PathWatch> = PATHS.iter().zip(events).map(|(p, n)| watched(p, 30.0, n, digital)).collect();
        verdict_across(&watches)
    }

    /// The repair bench's four acoustic paths (rigs/repair-laptop.toml).
    const PATHS: [&str; 4] = [
        "bench-usb/bench-jack/customer-adapter/golden",
        "bench-usb/bench-jack/direct/customer-headset",
        "laptop-audio/laptop-jack/direct/customer-headset",
        "laptop-audio/laptop-jack/direct/golden",
    ];

    #[test]
    fn the_part_on_every_path_with_events_and_cleared_by_the_quiet_ones_is_named() {
        // The customer's adapter: only the path through it.
        let v = repair_bench([12, 0, 0, 0], false);
        assert!(!v.pass);
        assert_eq!(v.suspects, ["customer-adapter"], "{v:?}");
        assert!(v.findings[0].contains("on none without it: customer-adapter"), "{v:?}");
        // The laptop's jack: both paths through it, one line at a time. Its driver is on the
        // same paths only, and a contact's signature is not a driver's.
        let v = repair_bench([0, 0, 9, 7], false);
        assert_eq!(v.suspects, ["laptop-jack"], "{v:?}");
        // The same paths, every line at once: the laptop's driver.
        let v = repair_bench([0, 0, 9, 7], true);
        assert_eq!(v.suspects, ["laptop-audio"], "{v:?}");
        // The customer's headset: both paths through it.
        let v = repair_bench([0, 5, 6, 0], false);
        assert_eq!(v.suspects, ["customer-headset"], "{v:?}");
    }

    #[test]
    fn a_quiet_path_watched_too_briefly_clears_nothing() {
        // One event in 60 s: a path quiet for 30 s would show 0.5 on average, and proves nothing.
        let v = verdict_across(&[watched(PATHS[0], 60.0, 1, false), watched(PATHS[1], 30.0, 0, false)]);
        // (The driver is not among them: one line at a time is a contact's signature.)
        assert_eq!(v.suspects, ["bench-jack", "customer-adapter", "golden"], "{v:?}");
        assert!(v.findings.iter().any(|f| f.contains("too short")), "{v:?}");
        // Events on paths that share nothing a quiet path does not clear: two faults.
        let v = repair_bench([10, 0, 10, 0], false);
        assert!(v.findings[0].contains("more than one faulty part"), "{v:?}");
        assert!(v.suspects.contains(&"customer-adapter".to_string()), "{v:?}");
        // Nothing anywhere: a pass that says how much was watched.
        let v = verdict_across(&[watched(PATHS[0], 30.0, 0, false), watched(PATHS[1], 30.0, 0, false)]);
        assert!(v.pass && v.findings[0].contains("no event on any of 2 paths"), "{v:?}");
    }
}
