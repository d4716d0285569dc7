//! A monitor's results streamed to a directory as they happen, in bounded memory:
//!
//! | file | what | written |
//! |---|---|---|
//! | `events.jsonl` | one JSON object per event (`"type": "event"`) and per mark (`"type": "mark"`) | as they happen |
//! | `minutes.jsonl` | per minute and line: level (min, mean, max), THD (mean, max), noise, events | each minute |
//! | `clips/*.wav` | the line's sound from [`CLIP_PRE_S`] before an event to [`CLIP_POST_S`] after | when the clip is whole |
//! | `monitor.json` | the run's summary: duration, counts, marks with the events under each, verdict | at the end |
//! | `report.html` | the verdict, the counts, the marks, and level, THD, noise and events over time, plots inlined | at the end |
//!
//! The line files are flushed to the disk every second ([`Soak::second`]), so a crash or a power
//! cut loses at most the last second. At most `max_clips` clips are kept; later events are
//! counted, not recorded.

use super::{Event, EventKind, Mark, Second, Verdict};
use crate::capture::{write_wav, Audio, SampleFormat};
use serde::Serialize;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Sound kept before an event, seconds.
pub const CLIP_PRE_S: f64 = 1.0;
/// Sound kept after it, seconds.
pub const CLIP_POST_S: f64 = 1.0;

/// Why the results could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct SoakError {
    pub path: PathBuf,
    pub message: String,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> SoakError + '_ {
    move |e| SoakError { path: path.to_path_buf(), message: e.to_string() }
}

/// One line's minute, accumulated.
#[derive(Debug, Clone, Default)]
struct MinuteLine {
    levels: Vec<f64>,
    thd: Vec<f64>,
    noise: Vec<f64>,
    events: u64,
}

#[derive(Debug, Clone, Serialize)]
struct MinuteLineOut {
    channel: String,
    level_min_dbfs: Option<f64>,
    level_mean_dbfs: Option<f64>,
    level_max_dbfs: Option<f64>,
    thd_mean_percent: Option<f64>,
    thd_max_percent: Option<f64>,
    noise_mean_dbfs: Option<f64>,
    events: u64,
}

/// One line's second, as the report plots it (single precision: an 8-hour soak keeps 28 800).
#[derive(Debug, Clone, Copy, Default)]
pub struct LineRow {
    pub level_dbfs: Option<f32>,
    pub thd_percent: Option<f32>,
    pub noise_dbfs: f32,
    /// Events on the line in that second.
    pub events: u32,
}

/// Every line's second.
#[derive(Debug, Clone)]
pub struct SecondRow {
    pub t_s: f32,
    pub lines: Vec<LineRow>,
}

/// A clip being recorded for a line.
struct Clip {
    name: String,
    samples: Vec<f32>,
    left: usize,
}

/// The summary written at the end.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub seconds: f64,
    /// Per line: events by kind.
    pub counts: Vec<LineCounts>,
    pub marks: Vec<MarkCount>,
    pub clips: usize,
    pub clips_dropped: usize,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineCounts {
    pub channel: String,
    pub gaps: u64,
    pub clicks: u64,
    pub level_steps: u64,
    pub noise_bursts: u64,
    pub dead: u64,
}

/// A mark and the events while it held (until the next mark or the end).
#[derive(Debug, Clone, Serialize)]
pub struct MarkCount {
    pub t_s: f64,
    pub text: String,
    pub events: usize,
}

/// The writer of a monitor's directory.
pub struct Soak {
    dir: PathBuf,
    events: BufWriter<File>,
    minutes: BufWriter<File>,
    rate_hz: u32,
    names: Vec<String>,
    minute: Vec<MinuteLine>,
    seconds_in_minute: u32,
    /// The last [`CLIP_PRE_S`] of each line.
    rings: Vec<VecDeque<f32>>,
    clips: Vec<Option<Clip>>,
    max_clips: usize,
    written: usize,
    started: usize,
    dropped: usize,
    /// Events per line and kind.
    counts: Vec<[u64; 6]>,
    /// Marks, each with the events while it held.
    marks: Vec<(Mark, usize)>,
    /// Each second's rows, for the report.
    rows: Vec<SecondRow>,
    /// Events per line in the second under way.
    second_events: Vec<u32>,
}

impl Soak {
    /// Creates `dir` (and `dir/clips`) for a stream of `names` lines at `rate_hz`.
    pub fn create(dir: &Path, names: &[String], rate_hz: u32, max_clips: usize) -> Result<Soak, SoakError> {
        let clips = dir.join("clips");
        std::fs::create_dir_all(&clips).map_err(io_err(&clips))?;
        let open = |name: &str| -> Result<BufWriter<File>, SoakError> {
            let p = dir.join(name);
            Ok(BufWriter::new(File::create(&p).map_err(io_err(&p))?))
        };
        let pre = (CLIP_PRE_S * f64::from(rate_hz)) as usize;
        Ok(Soak {
            dir: dir.to_path_buf(),
            events: open("events.jsonl")?,
            minutes: open("minutes.jsonl")?,
            rate_hz,
            names: names.to_vec(),
            minute: vec![MinuteLine::default(); names.len()],
            seconds_in_minute: 0,
            rings: vec![VecDeque::with_capacity(pre + 1); names.len()],
            clips: (0..names.len()).map(|_| None).collect(),
            max_clips,
            written: 0,
            started: 0,
            dropped: 0,
            counts: vec![[0; 6]; names.len()],
            marks: Vec::new(),
            rows: Vec::new(),
            second_events: vec![0; names.len()],
        })
    }

    fn line(&mut self, file: &str, value: &impl Serialize) -> Result<(), SoakError> {
        let p = self.dir.join(file);
        let text = serde_json::to_string(value).map_err(|e| SoakError { path: p.clone(), message: e.to_string() })?;
        let w = if file == "events.jsonl" { &mut self.events } else { &mut self.minutes };
        writeln!(w, "{text}").map_err(io_err(&p))
    }

    /// Takes the next frames of every line (for the clips).
    pub fn audio(&mut self, blocks: &[Vec<f32>]) -> Result<(), SoakError> {
        let pre = (CLIP_PRE_S * f64::from(self.rate_hz)) as usize;
        let mut done = Vec::new();
        for (k, block) in blocks.iter().enumerate() {
            if let Some(clip) = self.clips.get_mut(k).and_then(Option::as_mut) {
                let take = clip.left.min(block.len());
                clip.samples.extend_from_slice(&block[..take]);
                clip.left -= take;
                if clip.left == 0 {
                    done.push(k);
                }
            }
            if let Some(ring) = self.rings.get_mut(k) {
                ring.extend(block.iter().copied());
                let over = ring.len().saturating_sub(pre);
                ring.drain(..over);
            }
        }
        for k in done {
            self.write_clip(k)?;
        }
        Ok(())
    }

    /// Writes line `k`'s clip, if one is being recorded, as it stands.
    fn write_clip(&mut self, k: usize) -> Result<(), SoakError> {
        let Some(clip) = self.clips.get_mut(k).and_then(Option::take) else { return Ok(()) };
        let path = self.dir.join("clips").join(&clip.name);
        let audio = Audio { rate_hz: self.rate_hz, format: SampleFormat::F32, channels: vec![clip.samples] };
        write_wav(&path, &audio).map_err(|e| SoakError { path, message: e.to_string() })?;
        self.written += 1;
        Ok(())
    }

    /// Records events (and starts their clips).
    pub fn events(&mut self, events: &[Event]) -> Result<(), SoakError> {
        for e in events {
            #[derive(Serialize)]
            struct Line<'a> {
                r#type: &'static str,
                #[serde(flatten)]
                event: &'a Event,
            }
            self.line("events.jsonl", &Line { r#type: "event", event: e })?;
            let Some(k) = self.names.iter().position(|n| n == &e.channel) else { continue };
            self.counts[k][e.kind as usize] += 1;
            if e.kind != EventKind::Back {
                self.second_events[k] += 1;
            }
            if e.kind != EventKind::Back {
                if let Some((_, n)) = self.marks.last_mut() {
                    *n += 1;
                }
            }
            if let Some(m) = self.minute.get_mut(k) {
                m.events += 1;
            }
            if self.clips[k].is_none() {
                if self.written + self.clips.iter().flatten().count() >= self.max_clips {
                    self.dropped += 1;
                    continue;
                }
                self.started += 1;
                let name =
                    format!("{:04}-{:.3}s-{}-{}.wav", self.started, e.t_s, e.channel, e.kind.name().replace(' ', "-"));
                let samples: Vec<f32> = self.rings[k].iter().copied().collect();
                let left = (CLIP_POST_S * f64::from(self.rate_hz)) as usize;
                self.clips[k] = Some(Clip { name, samples, left });
            }
        }
        Ok(())
    }

    /// Records a technician's mark.
    pub fn mark(&mut self, mark: &Mark) -> Result<(), SoakError> {
        #[derive(Serialize)]
        struct Line<'a> {
            r#type: &'static str,
            #[serde(flatten)]
            mark: &'a Mark,
        }
        self.marks.push((mark.clone(), 0));
        self.line("events.jsonl", &Line { r#type: "mark", mark })
    }

    /// Takes a second's summary; writes the minute when it is full; flushes to the disk.
    pub fn second(&mut self, second: &Second) -> Result<(), SoakError> {
        for (m, l) in self.minute.iter_mut().zip(&second.lines) {
            m.levels.extend(l.level_dbfs);
            m.thd.extend(l.thd_percent);
            m.noise.push(l.noise_dbfs);
        }
        self.rows.push(SecondRow {
            t_s: second.t_s as f32,
            lines: second
                .lines
                .iter()
                .zip(&mut self.second_events)
                .map(|(l, n)| LineRow {
                    level_dbfs: l.level_dbfs.map(|v| v as f32),
                    thd_percent: l.thd_percent.map(|v| v as f32),
                    noise_dbfs: l.noise_dbfs as f32,
                    events: std::mem::take(n),
                })
                .collect(),
        });
        self.seconds_in_minute += 1;
        if self.seconds_in_minute >= 60 {
            self.write_minute(second.t_s)?;
        }
        self.sync()
    }

    fn write_minute(&mut self, t_s: f64) -> Result<(), SoakError> {
        #[derive(Serialize)]
        struct Minute {
            t_s: f64,
            lines: Vec<MinuteLineOut>,
        }
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let max = |v: &[f64]| v.iter().copied().reduce(f64::max);
        let min = |v: &[f64]| v.iter().copied().reduce(f64::min);
        let lines = self
            .minute
            .iter()
            .zip(&self.names)
            .map(|(m, n)| MinuteLineOut {
                channel: n.clone(),
                level_min_dbfs: min(&m.levels),
                level_mean_dbfs: mean(&m.levels),
                level_max_dbfs: max(&m.levels),
                thd_mean_percent: mean(&m.thd),
                thd_max_percent: max(&m.thd),
                noise_mean_dbfs: mean(&m.noise),
                events: m.events,
            })
            .collect();
        self.line("minutes.jsonl", &Minute { t_s, lines })?;
        self.minute.iter_mut().for_each(|m| *m = MinuteLine::default());
        self.seconds_in_minute = 0;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), SoakError> {
        for (w, name) in [(&mut self.events, "events.jsonl"), (&mut self.minutes, "minutes.jsonl")] {
            let p = self.dir.join(name);
            w.flush().map_err(io_err(&p))?;
            w.get_ref().sync_data().map_err(io_err(&p))?;
        }
        Ok(())
    }

    /// Writes what is pending (a partial minute, clips cut short) and `monitor.json`.
    pub fn finish(mut self, seconds: f64, verdict: Verdict) -> Result<Summary, SoakError> {
        if self.seconds_in_minute > 0 {
            self.write_minute(seconds)?;
        }
        for k in 0..self.clips.len() {
            self.write_clip(k)?;
        }
        self.sync()?;
        let counts = self
            .names
            .iter()
            .zip(&self.counts)
            .map(|(n, c)| LineCounts {
                channel: n.clone(),
                gaps: c[EventKind::Gap as usize],
                clicks: c[EventKind::Click as usize],
                level_steps: c[EventKind::LevelStep as usize],
                noise_bursts: c[EventKind::NoiseBurst as usize],
                dead: c[EventKind::Dead as usize],
            })
            .collect();
        let marks = self
            .marks
            .iter()
            .map(|(m, events)| MarkCount { t_s: m.t_s, text: m.text.clone(), events: *events })
            .collect();
        let summary = Summary { seconds, counts, marks, clips: self.written, clips_dropped: self.dropped, verdict };
        let p = self.dir.join("monitor.json");
        let text = serde_json::to_string_pretty(&summary)
            .map_err(|e| SoakError { path: p.clone(), message: e.to_string() })?;
        let tmp = self.dir.join(".monitor.json.tmp");
        std::fs::write(&tmp, text).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &p).map_err(io_err(&p))?;
        let marks: Vec<Mark> = self.marks.iter().map(|(m, _)| m.clone()).collect();
        crate::report::monitor::write(&self.dir, &summary, &self.names, &self.rows, &marks)
            .map_err(|e| SoakError { path: self.dir.join("report.html"), message: e.to_string() })?;
        Ok(summary)
    }
}
