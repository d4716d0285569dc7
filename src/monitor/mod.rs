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
        Monitor { watches, rate_hz, frames: 0, pending: vec![Default::default(); channels.len()], seconds: 0 }
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
        events[first..].sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
        self.next_second()
    }

    fn next_second(&mut self) -> Option<Second> {
        if self.pending.is_empty() || self.pending.iter().any(|p| p.is_empty()) {
            return None;
        }
        let lines: Vec<LineSecond> = self.pending.iter_mut().filter_map(|p| p.pop_front()).collect();
        self.seconds += 1;
        Some(Second { t_s: self.seconds as f64, lines })
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

    /// Seconds of stream taken so far.
    pub fn elapsed_s(&self) -> f64 {
        self.frames as f64 / f64::from(self.rate_hz.max(1))
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
