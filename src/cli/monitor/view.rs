//! What the technician sees of a monitor, and how their keys come back: one trait, three
//! faces: the full-screen [`super::screen::Screen`] on a terminal, [`Lines`] of text where
//! standard error is not one, and [`Json`] lines for a program.

use crate::{emit, Failure};
use jackbench::monitor::soak::Summary;
use jackbench::monitor::{Event, Mark, Second, Verdict};
use std::path::Path;
use std::sync::mpsc::{Receiver, TryRecvError};

/// What a key (or a typed line) asks of the monitor.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// Marks what is being done from now on.
    Mark(String),
    /// Forget the counts.
    Reset,
    Quit,
}

/// The run as every face names it.
pub struct Heading {
    /// The path watched (`DRIVER/PORT/ADAPTER/HEADSET`).
    pub path: String,
    /// What plays and records it: the virtual bench with its seed, or the sound devices.
    pub source: String,
    /// Each line with its tone, Hz.
    pub lines: Vec<(String, f64)>,
    pub duration_s: Option<f64>,
    pub out: std::path::PathBuf,
}

/// A face of the monitor. The loop hands it what happens in stream order; it draws when it
/// likes (`draw` is called after every block).
pub trait View {
    /// The keys pressed since the last call.
    fn keys(&mut self) -> Result<Vec<Key>, Failure>;
    /// The frames just recorded, per line (for a meter).
    fn block(&mut self, _blocks: &[Vec<f32>]) {}
    fn event(&mut self, e: &Event);
    /// A whole second measured, and the verdict up to it.
    fn second(&mut self, s: &Second, so_far: &Verdict);
    fn mark(&mut self, m: &Mark);
    /// A turn on `path` begins (a run over several paths).
    fn turn(&mut self, _path: &str) {}
    /// The counts start again (`m` is the mark it leaves in the record).
    fn reset(&mut self, m: &Mark);
    fn draw(&mut self, _elapsed_s: f64) -> Result<(), Failure> {
        Ok(())
    }
    /// The run is over: leave the terminal as it was found and say how it ended.
    fn finish(self: Box<Self>, summary: &Summary, out: &Path);
}

/// Typed lines from standard input, as keys: a line of text is a mark, `r` resets the counts,
/// `q` stops.
pub struct TypedKeys(Receiver<String>);

impl TypedKeys {
    pub fn spawn() -> TypedKeys {
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        TypedKeys(rx)
    }

    fn take(&mut self) -> Vec<Key> {
        let mut keys = Vec::new();
        loop {
            match self.0.try_recv() {
                Ok(line) => match line.trim() {
                    "" => {}
                    "q" => keys.push(Key::Quit),
                    "r" => keys.push(Key::Reset),
                    text => keys.push(Key::Mark(text.to_string())),
                },
                // Standard input closed (a service, `< /dev/null`): no more keys, the run goes on.
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return keys,
            }
        }
    }
}

/// Text on standard error: a line per event (with a bell) and per mark; where standard error is
/// a terminal, a status line rewritten each second.
pub struct Lines {
    keys: TypedKeys,
    tty: bool,
}

impl Lines {
    pub fn new(heading: &Heading, tty: bool) -> Lines {
        eprintln!("{}", heading.describe());
        eprintln!("type a note and Enter to mark a moment, r to reset the counts, q to stop");
        Lines { keys: TypedKeys::spawn(), tty }
    }

    fn clear(&self) -> &'static str {
        if self.tty {
            "\r\x1b[2K"
        } else {
            ""
        }
    }
}

impl View for Lines {
    fn keys(&mut self) -> Result<Vec<Key>, Failure> {
        Ok(self.keys.take())
    }

    fn event(&mut self, e: &Event) {
        eprintln!("{}{:>10.3} s  {:<6} {}{}\x07", self.clear(), e.t_s, e.channel, e.kind.name(), size(e));
    }

    fn second(&mut self, s: &Second, _so_far: &Verdict) {
        if self.tty {
            eprint!("\r\x1b[2K{}", status(s));
        }
    }

    fn mark(&mut self, m: &Mark) {
        eprintln!("{}{:>10.3} s  mark: {}", self.clear(), m.t_s, m.text);
    }

    fn reset(&mut self, m: &Mark) {
        eprintln!("{}{:>10.3} s  {}", self.clear(), m.t_s, m.text);
    }

    fn finish(self: Box<Self>, summary: &Summary, out: &Path) {
        if self.tty {
            eprintln!();
        }
        print_summary(summary, out);
    }
}

/// One JSON object a line on standard output, each with its `type`: `event`, `second`, `mark`,
/// `summary`. Keys are typed lines on standard input.
pub struct Json {
    keys: TypedKeys,
}

impl Json {
    pub fn new(heading: &Heading) -> Json {
        eprintln!("{}", heading.describe());
        Json { keys: TypedKeys::spawn() }
    }
}

impl View for Json {
    fn keys(&mut self) -> Result<Vec<Key>, Failure> {
        Ok(self.keys.take())
    }

    fn event(&mut self, e: &Event) {
        emit_line("event", e);
    }

    fn second(&mut self, s: &Second, _so_far: &Verdict) {
        emit_line("second", s);
    }

    fn mark(&mut self, m: &Mark) {
        emit_line("mark", m);
    }

    fn reset(&mut self, m: &Mark) {
        emit_line("mark", m);
    }

    fn finish(self: Box<Self>, summary: &Summary, _out: &Path) {
        emit_line("summary", summary);
    }
}

impl Heading {
    /// One sentence: what is watched, on what, for how long, written where.
    pub fn describe(&self) -> String {
        format!(
            "monitoring {} on {}: {}; writing {}{}",
            self.path,
            self.source,
            self.lines.iter().map(|(n, f)| format!("{n} at {f} Hz")).collect::<Vec<_>>().join(", "),
            self.out.display(),
            self.duration_s.map_or(" until Ctrl-C".to_string(), |d| format!(
                " for {}",
                humantime::format_duration(std::time::Duration::from_secs_f64(d))
            ))
        )
    }
}

/// The verdict, the counts and where the clips are, on standard error.
pub fn print_summary(summary: &Summary, out: &Path) {
    let v = &summary.verdict;
    eprintln!("{}: {:.1} s watched; {}", if v.pass { "PASS" } else { "FAIL" }, summary.seconds, v.findings.join("; "));
    if !v.suspects.is_empty() {
        eprintln!("suspects, most likely first: {}", v.suspects.join(", "));
    }
    eprintln!(
        "{} clip(s) in {}; report {}",
        summary.clips,
        out.join("clips").display(),
        out.join("report.html").display()
    );
}

/// An event's size in words: its length, or its step.
pub fn size(e: &Event) -> String {
    e.ms.map(|m| format!(" {m:.1} ms")).or(e.db.map(|d| format!(" {d:+.1} dB"))).unwrap_or_default()
}

/// One line of `--json`: the object with its `type`.
fn emit_line(kind: &str, value: &impl serde::Serialize) {
    let mut v = serde_json::to_value(value).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("type".into(), kind.into());
    }
    emit(format_args!("{v}\n"));
}

/// A second's one-line status: each line's level, THD and noise, and its events so far.
fn status(s: &Second) -> String {
    let lines: Vec<String> = s
        .lines
        .iter()
        .map(|l| {
            let level = l.level_dbfs.map_or("  --  ".into(), |v| format!("{v:6.1}"));
            let thd = l.thd_percent.map_or(" -- ".into(), |v| format!("{v:.2}%"));
            format!("{} {level} dBFS THD {thd} noise {:.0} dBFS ev {}", l.channel, l.noise_dbfs, l.events)
        })
        .collect();
    format!("{:>7.0} s | {}", s.t_s, lines.join(" | "))
}
