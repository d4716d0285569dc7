//! The monitor's full-screen face, for a technician with a cable in their hands: a meter and the
//! running level, THD and noise per line, the event count, the scrolling log, and a flash and a
//! bell on every event, seen from across the bench. Single keys mark what the hands are doing.

use super::view::{print_summary, size, Heading, Key, View};
use crate::Failure;
use jackbench::monitor::soak::Summary;
use jackbench::monitor::{Event, EventKind, LineSecond, Mark, Second, Verdict};
use ratatui::crossterm::event::{self, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, LineGauge, Paragraph};
use ratatui::{DefaultTerminal, Frame};
use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// The marks a single key makes, for hands that are busy with the cable.
/// Each is its key, its name on the screen's foot, and the mark's text.
pub const PRESETS: [(char, &str, &str); 5] = [
    ('1', "plug", "wiggling the plug in the jack"),
    ('2', "strain relief", "wiggling the cable at the plug's strain relief"),
    ('3', "cable", "wiggling the cable at the splitter or remote"),
    ('4', "buttons", "pressing the inline buttons"),
    ('0', "hands off", "hands off"),
];

/// The meter's floor, dBFS: a line quieter than this shows an empty bar.
const METER_FLOOR_DB: f64 = -60.0;
/// How fast the meter falls, dB a second (it rises at once).
const METER_RELEASE_DB_S: f64 = 40.0;
/// How long an event keeps the screen flashing.
const FLASH: Duration = Duration::from_millis(700);
/// The screen is drawn at most this often, except at once for an event.
const FRAME: Duration = Duration::from_millis(50);
/// Log lines kept to scroll back through the latest of.
const LOG_LINES: usize = 500;

struct LineState {
    name: String,
    freq_hz: f64,
    /// What the meter shows, dBFS (a sine's peak, like the measured level).
    meter_db: f64,
    /// The loudest block since the last frame, dBFS.
    peak_db: f64,
    last: Option<LineSecond>,
    events: u64,
    flash_until: Option<Instant>,
}

pub struct Screen {
    terminal: Option<DefaultTerminal>,
    heading: Heading,
    lines: Vec<LineState>,
    log: VecDeque<Line<'static>>,
    events: u64,
    so_far: String,
    /// A mark being typed.
    input: Option<String>,
    /// The path of this turn, when several take turns.
    current: Option<String>,
    flash_until: Option<Instant>,
    bell: bool,
    urgent: bool,
    elapsed_s: f64,
    last_frame: Option<Instant>,
}

impl Screen {
    /// Takes over the terminal (raw mode, the alternate screen) until [`View::finish`] or drop.
    pub fn open(heading: Heading) -> Result<Screen, Failure> {
        let terminal =
            ratatui::try_init().map_err(|e| anyhow::anyhow!("the terminal cannot show the monitor's screen: {e}"))?;
        let lines = heading
            .lines
            .iter()
            .map(|(name, freq_hz)| LineState {
                name: name.clone(),
                freq_hz: *freq_hz,
                meter_db: METER_FLOOR_DB,
                peak_db: f64::NEG_INFINITY,
                last: None,
                events: 0,
                flash_until: None,
            })
            .collect();
        let mut log = VecDeque::new();
        log.push_back(Line::styled(heading.describe(), Style::new().fg(Color::DarkGray)));
        Ok(Screen {
            terminal: Some(terminal),
            heading,
            lines,
            log,
            events: 0,
            so_far: "no event yet".into(),
            input: None,
            current: None,
            flash_until: None,
            bell: false,
            urgent: true,
            elapsed_s: 0.0,
            last_frame: None,
        })
    }

    fn log(&mut self, line: Line<'static>) {
        if self.log.len() == LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(line);
    }

    fn key(&mut self, code: KeyCode, modifiers: KeyModifiers, keys: &mut Vec<Key>) {
        if modifiers.contains(KeyModifiers::CONTROL) {
            match code {
                KeyCode::Char('c') => keys.push(Key::Quit),
                KeyCode::Char('l') => {
                    if let Some(t) = &mut self.terminal {
                        let _ = t.clear();
                    }
                }
                _ => {}
            }
            return;
        }
        if let Some(text) = &mut self.input {
            match code {
                KeyCode::Enter => {
                    let text = std::mem::take(text);
                    self.input = None;
                    if !text.trim().is_empty() {
                        keys.push(Key::Mark(text.trim().to_string()));
                    }
                }
                KeyCode::Esc => self.input = None,
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) => text.push(c),
                _ => {}
            }
            self.urgent = true;
            return;
        }
        match code {
            KeyCode::Char('q') | KeyCode::Esc => keys.push(Key::Quit),
            KeyCode::Char('r') => keys.push(Key::Reset),
            KeyCode::Char('m') | KeyCode::Enter => {
                self.input = Some(String::new());
                self.urgent = true;
            }
            KeyCode::Char(c) => {
                if let Some((_, _, text)) = PRESETS.iter().find(|(k, _, _)| *k == c) {
                    keys.push(Key::Mark((*text).to_string()));
                }
            }
            _ => {}
        }
    }

    fn render(&self, f: &mut Frame, now: Instant) {
        let flashing = self.flash_until.is_some_and(|t| now < t);
        let [top, meters, log, foot] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(self.lines.len() as u16 + 3),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(f.area());

        let clock = match self.heading.duration_s {
            Some(d) => format!("{} / {}", clock(self.elapsed_s), clock(d)),
            None => clock(self.elapsed_s),
        };
        let title = match &self.current {
            Some(p) => format!(" jackbench monitor  {p}  ({})  on {} ", self.heading.path, self.heading.source),
            None => format!(" jackbench monitor  {}  on {} ", self.heading.path, self.heading.source),
        };
        let top_style = if flashing {
            Style::new().bg(Color::Red).fg(Color::White).add_modifier(Modifier::BOLD)
        } else {
            Style::new().bg(Color::Blue).fg(Color::White)
        };
        let banner = if flashing { "  EVENT  " } else { "" };
        let [t_left, t_right] =
            Layout::horizontal([Constraint::Min(10), Constraint::Length(clock.len() as u16 + banner.len() as u16 + 2)])
                .areas(top);
        f.render_widget(Paragraph::new(title).style(top_style), t_left);
        f.render_widget(Paragraph::new(format!("{banner}{clock} ")).style(top_style).right_aligned(), t_right);

        let border = if flashing { Style::new().fg(Color::Red).add_modifier(Modifier::BOLD) } else { Style::new() };
        let block = Block::bordered().title(" lines ").border_style(border);
        let inner = block.inner(meters);
        f.render_widget(block, meters);
        let columns = [
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Min(12),
            Constraint::Length(13),
            Constraint::Length(10),
            Constraint::Length(15),
            Constraint::Length(9),
        ];
        let rows = Layout::vertical(vec![Constraint::Length(1); self.lines.len() + 1]).split(inner);
        let head = ["line", "tone", "meter, dBFS", "level", "THD", "noise", "events"];
        let cells = Layout::horizontal(columns).split(rows[0]);
        for (text, area) in head.iter().zip(cells.iter()) {
            f.render_widget(Paragraph::new(*text).style(Style::new().fg(Color::DarkGray)), *area);
        }
        for (l, row) in self.lines.iter().zip(rows.iter().skip(1)) {
            let cells = Layout::horizontal(columns).split(*row);
            let hit = l.flash_until.is_some_and(|t| now < t);
            let name_style = if hit {
                Style::new().bg(Color::Red).fg(Color::White).add_modifier(Modifier::BOLD)
            } else {
                Style::new().add_modifier(Modifier::BOLD)
            };
            f.render_widget(Paragraph::new(l.name.clone()).style(name_style), cells[0]);
            f.render_widget(Paragraph::new(format!("{:.0} Hz", l.freq_hz)), cells[1]);
            let ratio = ((l.meter_db - METER_FLOOR_DB) / -METER_FLOOR_DB).clamp(0.0, 1.0);
            let dead = l.last.as_ref().is_some_and(|s| s.dead);
            let bar = if dead {
                Color::Red
            } else if l.meter_db > -3.0 {
                Color::Yellow
            } else {
                Color::Green
            };
            f.render_widget(
                LineGauge::default()
                    .ratio(ratio)
                    .label(format!("{:>6.1} ", l.meter_db.max(METER_FLOOR_DB)))
                    .filled_style(Style::new().fg(bar))
                    .unfilled_style(Style::new().fg(Color::DarkGray))
                    .filled_symbol("█")
                    .unfilled_symbol("·"),
                cells[2],
            );
            let (level, thd, noise) = match &l.last {
                None => ("…".to_string(), "…".to_string(), "…".to_string()),
                Some(s) if s.dead => ("DEAD".into(), "--".into(), format!("{:.0} dBFS", s.noise_dbfs)),
                Some(s) => (
                    s.level_dbfs.map_or("--".into(), |v| format!("{v:.1} dBFS")),
                    s.thd_percent.map_or("--".into(), thd),
                    format!("{:.0} dBFS", s.noise_dbfs),
                ),
            };
            f.render_widget(Paragraph::new(format!(" {level}")), cells[3]);
            f.render_widget(Paragraph::new(thd), cells[4]);
            f.render_widget(Paragraph::new(noise), cells[5]);
            let count_style =
                if l.events > 0 { Style::new().fg(Color::Red).add_modifier(Modifier::BOLD) } else { Style::new() };
            f.render_widget(Paragraph::new(l.events.to_string()).style(count_style).right_aligned(), cells[6]);
        }

        let title = Line::from(vec![
            Span::raw(" events: "),
            Span::styled(
                self.events.to_string(),
                if self.events > 0 { Style::new().fg(Color::Red).add_modifier(Modifier::BOLD) } else { Style::new() },
            ),
            Span::raw(format!("  ·  {} ", self.so_far)),
        ]);
        let block = Block::bordered().title(title).border_style(border);
        let inner = block.inner(log);
        let shown = usize::from(inner.height);
        let start = self.log.len().saturating_sub(shown);
        let text: Vec<Line> = self.log.iter().skip(start).cloned().collect();
        f.render_widget(Paragraph::new(text).block(block), log);

        let foot_line = match &self.input {
            Some(text) => Line::from(vec![
                Span::styled(" mark: ", Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)),
                Span::raw(format!("{text}█")),
                Span::styled("   Enter marks, Esc cancels", Style::new().fg(Color::DarkGray)),
            ]),
            None => {
                let mut spans = Vec::new();
                for (k, short, _) in PRESETS {
                    spans.push(Span::styled(format!(" {k} "), Style::new().bg(Color::DarkGray).fg(Color::White)));
                    spans.push(Span::raw(format!(" {short}  ")));
                }
                for (k, text) in [("m", "note"), ("r", "reset counts"), ("q", "quit")] {
                    spans.push(Span::styled(format!(" {k} "), Style::new().bg(Color::DarkGray).fg(Color::White)));
                    spans.push(Span::raw(format!(" {text}  ")));
                }
                Line::from(spans)
            }
        };
        f.render_widget(Paragraph::new(foot_line), foot);
    }

    fn restore(&mut self) {
        if self.terminal.take().is_some() {
            ratatui::restore();
        }
    }
}

impl View for Screen {
    fn keys(&mut self) -> Result<Vec<Key>, Failure> {
        let mut keys = Vec::new();
        let unreadable = |e: std::io::Error| anyhow::anyhow!("the terminal's keys cannot be read: {e}");
        while event::poll(Duration::ZERO).map_err(unreadable)? {
            match event::read().map_err(unreadable)? {
                TermEvent::Key(k) if k.kind != KeyEventKind::Release => self.key(k.code, k.modifiers, &mut keys),
                TermEvent::Resize(..) => self.urgent = true,
                _ => {}
            }
        }
        Ok(keys)
    }

    fn block(&mut self, blocks: &[Vec<f32>]) {
        for (l, b) in self.lines.iter_mut().zip(blocks) {
            if b.is_empty() {
                continue;
            }
            let power = b.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / b.len() as f64;
            // A sine's peak from its rms, so the meter reads like the measured level.
            let db = 10.0 * (2.0 * power).max(1e-12).log10();
            l.peak_db = l.peak_db.max(db);
        }
    }

    fn event(&mut self, e: &Event) {
        let now = Instant::now();
        let colour = match e.kind {
            EventKind::Gap | EventKind::Dead => Color::Red,
            EventKind::Click | EventKind::NoiseBurst => Color::Yellow,
            EventKind::LevelStep => Color::Magenta,
            EventKind::Back => Color::Green,
        };
        self.log(Line::from(vec![
            Span::raw(format!("{:>10.3} s  ", e.t_s)),
            Span::styled(format!("{:<6} ", e.channel), Style::new().add_modifier(Modifier::BOLD)),
            Span::styled(format!("{}{}", e.kind.name(), size(e)), Style::new().fg(colour).add_modifier(Modifier::BOLD)),
        ]));
        if e.kind != EventKind::Back {
            self.events += 1;
            if let Some(l) = self.lines.iter_mut().find(|l| l.name == e.channel) {
                l.events += 1;
                l.flash_until = Some(now + FLASH);
            }
            self.flash_until = Some(now + FLASH);
            self.bell = true;
        }
        self.urgent = true;
    }

    fn second(&mut self, s: &Second, so_far: &Verdict) {
        for (l, ls) in self.lines.iter_mut().zip(&s.lines) {
            l.last = Some(ls.clone());
        }
        self.so_far = if so_far.pass {
            "no event yet".into()
        } else {
            so_far.findings.get(1).or(so_far.findings.first()).cloned().unwrap_or_default()
        };
    }

    fn turn(&mut self, path: &str) {
        self.current = Some(path.to_string());
        for l in &mut self.lines {
            l.last = None;
        }
        self.urgent = true;
    }

    fn mark(&mut self, m: &Mark) {
        self.log(Line::styled(
            format!("{:>10.3} s  ── mark: {}", m.t_s, m.text),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ));
        self.urgent = true;
    }

    fn reset(&mut self, m: &Mark) {
        self.events = 0;
        self.lines.iter_mut().for_each(|l| l.events = 0);
        self.so_far = "counted again from here; the verdict keeps the whole run".into();
        self.log(Line::styled(format!("{:>10.3} s  ── {}", m.t_s, m.text), Style::new().fg(Color::Cyan)));
        self.urgent = true;
    }

    fn draw(&mut self, elapsed_s: f64) -> Result<(), Failure> {
        self.elapsed_s = elapsed_s;
        let now = Instant::now();
        let since = self.last_frame.map(|t| now.duration_since(t));
        if !self.urgent && since.is_some_and(|s| s < FRAME) {
            return Ok(());
        }
        let dt = since.map_or(0.0, |s| s.as_secs_f64());
        for l in &mut self.lines {
            l.meter_db = l.peak_db.max(l.meter_db - METER_RELEASE_DB_S * dt).max(METER_FLOOR_DB - 1.0);
            l.peak_db = f64::NEG_INFINITY;
        }
        let failed = |e: std::io::Error| anyhow::anyhow!("the monitor's screen cannot be drawn: {e}");
        let mut terminal = self.terminal.take();
        if let Some(t) = &mut terminal {
            t.draw(|f| self.render(f, now)).map_err(failed)?;
            if std::mem::take(&mut self.bell) {
                let backend = t.backend_mut();
                backend.write_all(b"\x07").and_then(|()| backend.flush()).map_err(failed)?;
            }
        }
        self.terminal = terminal;
        self.urgent = false;
        self.last_frame = Some(now);
        Ok(())
    }

    fn finish(mut self: Box<Self>, summary: &Summary, out: &Path) {
        self.restore();
        eprintln!("{}", self.heading.describe());
        print_summary(summary, out);
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.restore();
    }
}

/// THD with the digits it has: 1.2 %, 0.031 %, under 0.001 %.
fn thd(percent: f64) -> String {
    if percent >= 0.1 {
        format!("{percent:.2} %")
    } else if percent >= 0.001 {
        format!("{percent:.3} %")
    } else {
        "<0.001 %".into()
    }
}

/// Seconds as h:mm:ss.
fn clock(s: f64) -> String {
    let s = s.max(0.0) as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}
