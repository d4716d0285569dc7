//! Reports of a diagnosed capture set: PNG plots, a self-contained HTML page (plots inlined, no
//! external requests, every string from a file escaped), and the diagnosis as JSON.

pub mod monitor;
pub mod plot;

use crate::analysis::spectrum::Spectrum;
use crate::analysis::window::WindowKind;
use crate::capture::Limits;
use crate::capture::{read_wav, CaptureSet, ComponentKind, Direction, Drive, PathSpec};
use crate::diagnosis::{CaptureReport, Diagnosis, Measured, Verdict};
use base64::Engine;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::path::{Path, PathBuf};

/// Which files to write.
#[derive(Debug, Clone, Copy)]
pub struct Formats {
    pub html: bool,
    pub png: bool,
    pub json: bool,
}

impl Default for Formats {
    fn default() -> Self {
        Formats { html: true, png: true, json: true }
    }
}

/// Why a report could not be written; names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{}: cannot write: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
    #[error(transparent)]
    Wav(#[from] crate::capture::WavError),
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    std::fs::write(path, bytes).map_err(|source| ReportError::Write { path: path.to_path_buf(), source })
}

/// A plot written to disk, with its caption.
struct Figure {
    file: PathBuf,
    caption: String,
    /// Carries evidence or limits (the summary plots, and the plots of captures that are out or
    /// that a fault was found on): inlined in the page at full size. The others are linked.
    inline: bool,
}

/// Writes the report of `set` and its diagnosis `d` into `out`; returns the files written.
pub fn write_report(
    set: &CaptureSet,
    d: &Diagnosis,
    limits: &Limits,
    out: &Path,
    formats: Formats,
) -> Result<Vec<PathBuf>, ReportError> {
    let plots_dir = out.join("plots");
    std::fs::create_dir_all(&plots_dir).map_err(|source| ReportError::Write { path: plots_dir.clone(), source })?;
    let mut written = Vec::new();
    // Without PNG files kept beside the page, only the plots it inlines are drawn.
    let figures =
        if formats.png || formats.html { draw_plots(set, d, limits, &plots_dir, formats.png)? } else { Vec::new() };
    if formats.png {
        written.extend(figures.iter().map(|f| f.file.clone()));
    }
    if formats.json {
        let path = out.join("diagnosis.json");
        let text =
            serde_json::to_string_pretty(d).map_err(|e| ReportError::Write { path: path.clone(), source: e.into() })?;
        write(&path, text.as_bytes())?;
        written.push(path);
    }
    if formats.html {
        let path = out.join("report.html");
        write(&path, page(set, d, limits, &figures)?.into_string().as_bytes())?;
        written.push(path);
    }
    if !formats.png {
        let _ = std::fs::remove_dir_all(&plots_dir);
    }
    Ok(written)
}

/// Every distinct path, in the order the manifest first uses it.
fn paths(d: &Diagnosis) -> Vec<PathSpec> {
    let mut out: Vec<PathSpec> = Vec::new();
    for c in &d.captures {
        if !out.contains(&c.measurements.path) {
            out.push(c.measurements.path.clone());
        }
    }
    out
}

fn failing(d: &Diagnosis, file: &str) -> bool {
    d.faults.iter().any(|f| f.captures.iter().any(|c| c == file))
}

/// Whether an ear that was played to (or a microphone that was spoken to) gave nothing back
/// (the diagnosis's judgement: [`crate::diagnosis::CaptureReport::silent`]).
fn silent_where_played(c: &CaptureReport, ear: usize) -> bool {
    c.silent.contains(&ear)
}

/// Whether a cell of the capture's row is marked ✗ (see [`out_marks`]).
fn out_of_limits(c: &CaptureReport, limits: &Limits) -> bool {
    !out_marks(c, limits).is_empty()
}

/// What of a capture is out, in words, one entry per ear and value: nothing back where a signal
/// was played, THD over its limit, gaps. The report marks these cells ✗; the terminal lists them.
pub fn out_marks(c: &CaptureReport, limits: &Limits) -> Vec<String> {
    let m = &c.measurements;
    let mut out = Vec::new();
    for (i, e) in m.ears.iter().enumerate() {
        let ear = match (m.direction, i) {
            (Direction::Playback, 0) => "left ear",
            (Direction::Playback, _) => "right ear",
            _ => "microphone",
        };
        if silent_where_played(c, i) {
            out.push(format!("{ear}: nothing came back"));
        }
        if let Some(v) = e.thd_percent.filter(|v| m.driven(i) && *v > limits.thd_max_percent) {
            out.push(format!("{ear}: THD {v:.2} % > {:.1} %", limits.thd_max_percent));
        }
        if !e.dropouts.is_empty() {
            out.push(format!("{ear}: {} gap(s) or click(s)", e.dropouts.len()));
        }
    }
    out
}

fn safe_name(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

fn draw_plots(
    set: &CaptureSet,
    d: &Diagnosis,
    limits: &Limits,
    dir: &Path,
    all: bool,
) -> Result<Vec<Figure>, ReportError> {
    let mut figs = Vec::new();
    let paths = paths(d);
    let reference = |p: &PathSpec| {
        [&p.adapter, &p.headset].iter().all(|id| set.manifest.component(id).is_some_and(|c| c.reference))
    };

    // The path × component matrix.
    let components: Vec<String> = set.manifest.components.iter().map(|c| c.id.clone()).collect();
    let rows: Vec<(String, [String; 4], bool)> = paths
        .iter()
        .map(|p| {
            let passed = !d.captures.iter().any(|c| &c.measurements.path == p && failing(d, &c.file));
            (label(p), [p.driver.clone(), p.port.clone(), p.adapter.clone(), p.headset.clone()], passed)
        })
        .collect();
    let mut blamed: Vec<String> = d.faults.iter().map(|f| f.component.clone()).collect();
    blamed.extend(d.suspects.iter().flat_map(|s| s.components.iter().cloned()));
    let file = dir.join("matrix.png");
    plot::matrix(&file, "Paths and the components they use (red: blamed)", &rows, &components, &blamed)?;
    figs.push(Figure {
        file,
        caption: "Which paths passed, and the components the diagnosis blames".into(),
        inline: true,
    });

    // Balance and crosstalk per playback path.
    let mut bal_rows = Vec::new();
    for p in paths.iter() {
        let of = |pred: &dyn Fn(&Measured) -> bool| {
            d.captures.iter().map(|c| &c.measurements).find(|m| &m.path == p && pred(m))
        };
        let bal = of(&|m| m.direction == Direction::Playback && m.drive == Some(Drive::Both) && m.ears.len() == 2)
            .and_then(|m| Some(m.ears[0].gain_db? - m.ears[1].gain_db?));
        let xt =
            of(&|m| m.direction == Direction::Playback && matches!(m.drive, Some(Drive::Left) | Some(Drive::Right)))
                .and_then(|m| m.stereo.and_then(|s| s.crosstalk_db));
        if bal.is_some() || xt.is_some() {
            bal_rows.push((label(p), bal, xt));
        }
    }
    if !bal_rows.is_empty() {
        let file = dir.join("balance.png");
        plot::balance(&file, "Per path", &bal_rows, limits.imbalance_max_db)?;
        figs.push(Figure {
            file,
            caption: format!("Left/right balance (limits ±{:.0} dB) and crosstalk per path", limits.imbalance_max_db),
            inline: true,
        });
    }

    // Responses from the sweeps, one plot per direction.
    for dir_kind in [Direction::Playback, Direction::Record] {
        let curves: Vec<plot::Curve> = d
            .captures
            .iter()
            .map(|c| &c.measurements)
            .filter(|m| m.direction == dir_kind && !m.ears.first().is_none_or(|e| e.response.is_empty()))
            .map(|m| plot::Curve {
                label: label(&m.path),
                points: m.ears[0].response.iter().map(|p| (p.freq_hz, p.gain_db)).collect(),
                reference: reference(&m.path),
            })
            .collect();
        if curves.is_empty() {
            continue;
        }
        // The mask: the best shape at each frequency, `response_max_db` under it.
        let n = curves.iter().map(|c| c.points.len()).min().unwrap_or(0);
        let best: Vec<(f64, f64)> = (0..n)
            .map(|k| (curves[0].points[k].0, curves.iter().map(|c| c.points[k].1).fold(f64::NEG_INFINITY, f64::max)))
            .filter(|(f, _)| *f >= limits.response_band_hz[0] && *f <= limits.response_band_hz[1])
            .collect();
        let name = dir_kind.name();
        let file = dir.join(format!("response-{name}.png"));
        plot::response(
            &file,
            &format!(
                "Frequency response, {name} ({})",
                if dir_kind == Direction::Playback { "left ear" } else { "microphone" }
            ),
            &curves,
            Some((&best, limits.response_max_db)),
        )?;
        figs.push(Figure {
            file,
            caption: format!("Frequency response of every {name} path from its sweep"),
            inline: true,
        });
    }

    // The unit under test against its model's golden mask, per ear and for the microphone.
    if let Some(g) = &limits.golden {
        let of_model = |id: &str| under_test_of_model(set, id, &g.model);
        let (lo, hi) = (limits.response_band_hz[0], limits.response_band_hz[1]);
        type Mask<'a> = &'a [[f64; 3]];
        let views: [(&str, Direction, usize, Mask, Mask); 3] = [
            ("left ear", Direction::Playback, 0, &g.left_response_db, &g.left_band_db),
            ("right ear", Direction::Playback, 1, &g.right_response_db, &g.right_band_db),
            ("microphone", Direction::Record, 0, &g.mic_response_db, &g.mic_band_db),
        ];
        for (name, direction, ear, mask, band) in views {
            let curves: Vec<plot::Curve> = d
                .captures
                .iter()
                .map(|c| &c.measurements)
                .filter(|m| m.direction == direction && m.driven(ear) && of_model(&m.path.headset))
                .filter_map(|m| {
                    let x = m.ears.get(ear).filter(|x| x.present && !x.response.is_empty())?;
                    let mid = x.gain_db.unwrap_or(0.0);
                    let points = x
                        .response
                        .iter()
                        .filter(|p| p.freq_hz >= lo && p.freq_hz <= hi)
                        .map(|p| (p.freq_hz, p.gain_db - mid))
                        .collect();
                    Some(plot::Curve { label: label(&m.path), points, reference: false })
                })
                .collect();
            let within =
                |c: &[[f64; 3]]| -> Vec<[f64; 3]> { c.iter().copied().filter(|q| q[0] >= lo && q[0] <= hi).collect() };
            let (mask, band) = (within(mask), within(band));
            if curves.is_empty() || mask.is_empty() {
                continue;
            }
            let file = dir.join(format!("golden-response-{}.png", name.replace(' ', "-")));
            plot::golden_response(
                &file,
                &format!("Response against the {} golden mask, {name}", g.model),
                &curves,
                &mask,
                &band,
            )?;
            figs.push(Figure {
                file,
                caption: format!(
                    "The unit's {name} response shape (gain less its mid-band gain) against the golden mask of model {}: \
                     the calibrated units' mean ± max(k·σ, floor), with the units' own spread shaded",
                    g.model
                ),
                inline: true,
            });
        }
    }

    // Playback distortion over frequency from the sweeps: THD, and rub & buzz as the diagnosis
    // reads it (each band's recurring residual peak over that band's own noise), worse ear.
    let sweeps: Vec<&Measured> = d
        .captures
        .iter()
        .map(|c| &c.measurements)
        .filter(|m| m.direction == Direction::Playback && m.ears.iter().any(|e| !e.rub_buzz.is_empty()))
        .collect();
    if !sweeps.is_empty() {
        let worse = |m: &Measured, f: &dyn Fn(&crate::diagnosis::EarMeasure) -> Vec<(f64, f64)>| {
            let per_ear: Vec<Vec<(f64, f64)>> = m.ears.iter().map(f).collect();
            let n = per_ear.iter().map(Vec::len).min().unwrap_or(0);
            (0..n)
                .map(|k| (per_ear[0][k].0, per_ear.iter().map(|v| v[k].1).fold(f64::NEG_INFINITY, f64::max)))
                .collect::<Vec<_>>()
        };
        let rb: Vec<plot::Curve> = sweeps
            .iter()
            .map(|m| plot::Curve {
                label: label(&m.path),
                points: worse(m, &|e| e.rub_buzz.iter().map(|p| (p.freq_hz, p.peak_db - p.noise_db)).collect()),
                reference: reference(&m.path),
            })
            .collect();
        let mark = crate::diagnosis::NOISE_PEAK_DB + limits.rub_buzz_max_db;
        let line = [(20.0, mark), (20_000.0, mark)];
        let file = dir.join("rub-buzz-playback.png");
        plot::over_frequency(
            &file,
            "Rub & buzz, playback (worse ear)",
            "Residual peak over its band's noise (dB)",
            &rb,
            &[(&format!("noise alone + {:.0} dB", limits.rub_buzz_max_db), &line)],
        )?;
        figs.push(Figure {
            file,
            caption: format!(
                "Rub & buzz per 1/3-octave band of the sweep: the residual above 10× the excitation, its recurring peak over \
                 the band's own noise (noise alone reaches about {:.0} dB); a headset is judged against the other headsets",
                crate::diagnosis::NOISE_PEAK_DB
            ),
            inline: true,
        });
        let thd: Vec<plot::Curve> = sweeps
            .iter()
            .map(|m| plot::Curve {
                label: label(&m.path),
                points: worse(m, &|e| e.thd.iter().map(|p| (p.freq_hz, p.level_db)).collect()),
                reference: reference(&m.path),
            })
            .collect();
        let thd_limit = 20.0 * (limits.thd_max_percent / 100.0).log10();
        let line = [(20.0, thd_limit), (20_000.0, thd_limit)];
        let file = dir.join("thd-playback.png");
        plot::over_frequency(
            &file,
            "THD over frequency, playback (worse ear)",
            "THD (dB re fundamental)",
            &thd,
            &[(&format!("THD limit {:.1} %", limits.thd_max_percent), &line)],
        )?;
        figs.push(Figure {
            file,
            caption:
                "THD (harmonics 2–5) against the sweep's excitation frequency, from its harmonic impulse responses"
                    .into(),
            inline: false,
        });
    }

    // The unit's distortion over frequency against its model's golden upper limits, per ear.
    if let Some(g) = &limits.golden {
        let of_model = |id: &str| under_test_of_model(set, id, &g.model);
        let unit: Vec<&Measured> = sweeps.iter().copied().filter(|m| of_model(&m.path.headset)).collect();
        type Pick = fn(&crate::diagnosis::EarMeasure) -> Vec<(f64, f64)>;
        type Upper<'a> = [&'a [[f64; 2]]; 2];
        let kinds: [(&str, &str, &str, Pick, Upper); 2] = [
            (
                "rub-buzz",
                "Rub & buzz against the golden limit",
                "Residual peak re signal (dB)",
                |x| x.rub_buzz.iter().map(|p| (p.freq_hz, p.peak_db)).collect(),
                [g.rub_buzz(0), g.rub_buzz(1)],
            ),
            (
                "thd",
                "THD over frequency against the golden limit",
                "THD (dB re fundamental)",
                |x| x.thd.iter().map(|p| (p.freq_hz, p.level_db)).collect(),
                [g.thd(0), g.thd(1)],
            ),
        ];
        for (key, title, y, pick, limit) in kinds {
            let mut curves = Vec::new();
            for m in &unit {
                for (ear, side) in [(0, "left"), (1, "right")] {
                    if let Some(x) = m.ears.get(ear).filter(|x| m.driven(ear) && x.present) {
                        let points = pick(x);
                        if !points.is_empty() {
                            curves.push(plot::Curve {
                                label: format!("{}, {side}", label(&m.path)),
                                points,
                                reference: false,
                            });
                        }
                    }
                }
            }
            let lines: Vec<Vec<(f64, f64)>> = limit.iter().map(|c| c.iter().map(|q| (q[0], q[1])).collect()).collect();
            if curves.is_empty() || lines.iter().all(Vec::is_empty) {
                continue;
            }
            let file = dir.join(format!("golden-{key}.png"));
            let named = [("golden limit, left", &lines[0][..]), ("golden limit, right", &lines[1][..])];
            plot::over_frequency(&file, &format!("{title} ({})", g.model), y, &curves, &named)?;
            figs.push(Figure {
                file,
                caption: format!(
                    "{title} of model {}: each ear's curve and the calibrated units' mean + max(k·σ, floor)",
                    g.model
                ),
                inline: true,
            });
        }
    }

    // Per capture: spectrum of tones, envelope of every capture. The plots are independent:
    // drawn on as many threads as there are cores, each over a run of neighbouring captures (so a
    // sequence's file is read once per run), in the captures' order.
    let todo: Vec<usize> = (0..d.captures.len()).filter(|&i| all || inline_plots(d, &d.captures[i], limits)).collect();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4).min(todo.len().max(1));
    let per = todo.len().div_ceil(workers).max(1);
    let runs: Vec<Result<Vec<Figure>, ReportError>> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            todo.chunks(per).map(|run| scope.spawn(move || capture_plots(set, d, limits, dir, run))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    for run in runs {
        figs.extend(run?);
    }
    Ok(figs)
}

/// Whether a capture's own plots go inline in the page: it failed, a value of its own is out, or
/// it shows level steps or sounds outside its tone.
fn inline_plots(d: &Diagnosis, c: &CaptureReport, limits: &Limits) -> bool {
    let m = &c.measurements;
    failing(d, &m.file)
        || out_of_limits(c, limits)
        || m.ears.iter().any(|e| !e.level_steps.is_empty() || !e.outside_events.is_empty())
}

/// The plots of the captures `which` (indices into the diagnosis's captures): a tone's spectrum
/// and every capture's envelope.
fn capture_plots(
    set: &CaptureSet,
    d: &Diagnosis,
    limits: &Limits,
    dir: &Path,
    which: &[usize],
) -> Result<Vec<Figure>, ReportError> {
    let mut figs = Vec::new();
    let mut spectrum = Spectrum::default();
    let mut read: Option<(String, crate::capture::Audio)> = None;
    for &i in which {
        let c = &d.captures[i];
        let m = &c.measurements;
        let inline = inline_plots(d, c, limits);
        // A sequence's segments share their file: it is read once, and each plot shows the
        // window its segment was measured on.
        if read.as_ref().is_none_or(|(f, _)| f != &c.file) {
            read = Some((c.file.clone(), read_wav(&set.dir.join(&c.file))?));
        }
        let Some((_, whole)) = &read else { continue };
        let audio = match &m.segment {
            Some(w) => {
                let rate = f64::from(whole.rate_hz);
                let from = ((w.start_s * rate).round() as usize).min(whole.frames());
                let to = (from + (w.seconds * rate).round() as usize).min(whole.frames());
                crate::capture::Audio {
                    rate_hz: whole.rate_hz,
                    format: whole.format,
                    channels: whole.channels.iter().map(|x| x[from..to].to_vec()).collect(),
                }
            }
            None => whole.clone(),
        };
        let place = m.place();
        let ears: Vec<&str> =
            if m.direction == Direction::Playback { vec!["left ear", "right ear"] } else { vec!["microphone"] };
        let mut stem =
            format!("{:02}-{}", i + 1, safe_name(c.file.trim_start_matches("captures/").trim_end_matches(".wav")));
        if let Some(w) = &m.segment {
            stem += &format!("-{}", safe_name(&w.id));
        }
        if let crate::stimulus::Stimulus::Sine { freq_hz, .. } = m.signal {
            let curves: Vec<(&str, Vec<(f64, f64)>)> = ears
                .iter()
                .zip(&audio.channels)
                .map(|(name, x)| (*name, spectrum_points(x, audio.rate_hz, &mut spectrum)))
                .collect();
            let mut marks = vec![plot::Mark { freq_hz, label: "f0".into(), color: RGBA_BLUE }];
            for k in 2..=5 {
                marks.push(plot::Mark { freq_hz: freq_hz * f64::from(k), label: format!("H{k}"), color: RGBA_ORANGE });
            }
            if let Some(mains) = m.ears.iter().find_map(|e| e.hum_mains_hz) {
                marks.push(plot::Mark { freq_hz: mains, label: format!("hum {mains:.0}"), color: RGBA_RED });
            }
            let file = dir.join(format!("{stem}-spectrum.png"));
            plot::spectrum(&file, &format!("Spectrum: {place}"), &curves, &marks, f64::from(audio.rate_hz) / 2.0)?;
            figs.push(Figure {
                file,
                caption: format!("Spectrum of {place} (fundamental, harmonics and hum marked)"),
                inline,
            });
        }
        let dropouts: Vec<&[crate::analysis::Dropout]> = m.ears.iter().map(|e| e.dropouts.as_slice()).collect();
        let channels: Vec<(&str, &[f32], &[crate::analysis::Dropout])> = ears
            .iter()
            .zip(&audio.channels)
            .zip(dropouts.iter().chain(std::iter::repeat(&(&[][..]))))
            .map(|((n, x), dr)| (*n, x.as_slice(), *dr))
            .collect();
        let file = dir.join(format!("{stem}-envelope.png"));
        plot::envelope(&file, &format!("Envelope: {place}"), audio.rate_hz, &channels)?;
        figs.push(Figure { file, caption: format!("{place} over time (gaps and clicks shaded red)"), inline });
    }
    Ok(figs)
}

const RGBA_BLUE: plotters::style::RGBColor = plotters::style::RGBColor(31, 119, 180);
const RGBA_ORANGE: plotters::style::RGBColor = plotters::style::RGBColor(255, 127, 14);
const RGBA_RED: plotters::style::RGBColor = plotters::style::RGBColor(200, 0, 0);

/// A channel's spectrum as (Hz, dBFS of a sine's peak), through the 7-term Blackman–Harris
/// window over (up to 1 s of) the tone's steady part, as the analysis measures it, reduced to
/// the peak of each 1/48 octave for plotting.
fn spectrum_points(x: &[f32], rate_hz: u32, spectrum: &mut Spectrum) -> Vec<(f64, f64)> {
    let mut env = crate::analysis::locate::EnvelopeBuilder::new(rate_hz, None);
    env.push(x);
    let span = env.steady_region().centred(u64::from(rate_hz));
    let (start, n) = (span.start as usize, span.len() as usize);
    if n < 64 || start + n > x.len() {
        return Vec::new();
    }
    let seg: Vec<f64> = x[start..start + n].iter().map(|&v| f64::from(v)).collect();
    let w = spectrum.window(WindowKind::BlackmanHarris7, n);
    let p = spectrum.power(&seg, &w);
    let bin_hz = f64::from(rate_hz) / n as f64;
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut edge = 10.0;
    let mut peak: Option<(f64, f64)> = None;
    for (k, v) in p.iter().enumerate().skip(1) {
        let f = k as f64 * bin_hz;
        let db = crate::analysis::db(2.0 * v.sqrt() / w.sum);
        if f > edge {
            if let Some(pk) = peak.take() {
                out.push(pk);
            }
            edge = f * 2f64.powf(1.0 / 48.0);
        }
        if peak.is_none_or(|(_, d)| db > d) {
            peak = Some((f, db));
        }
    }
    out.extend(peak);
    out
}

fn page(set: &CaptureSet, d: &Diagnosis, limits: &Limits, figures: &[Figure]) -> Result<Markup, ReportError> {
    let m = &set.manifest;
    let headline = match d.verdict {
        Verdict::Pass => "PASS: every path measured within its limits".to_string(),
        Verdict::Incomplete => format!(
            "INCOMPLETE: {} planned measurement(s) or part(s) not measured; the unit cannot pass until they are",
            d.missing.len()
        ),
        Verdict::Fail => {
            let mut parts: Vec<String> =
                d.faults.iter().map(|f| format!("{} [{} on {}]", f.title, f.code, f.component)).collect();
            parts.extend(d.suspects.iter().map(|s| format!("one of {} [{}]", s.title, s.symptom)));
            format!("FAIL: {}", parts.join("; "))
        }
    };
    let mut images = Vec::new();
    let linked: Vec<(String, &String)> = figures
        .iter()
        .filter(|f| !f.inline)
        .map(|f| {
            (
                format!("plots/{}", f.file.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned())),
                &f.caption,
            )
        })
        .collect();
    for f in figures.iter().filter(|f| f.inline) {
        let bytes = std::fs::read(&f.file).map_err(|source| ReportError::Write { path: f.file.clone(), source })?;
        images.push((base64::engine::general_purpose::STANDARD.encode(bytes), &f.caption));
    }
    let entry = |file: &str| m.captures.iter().find(|c| c.file == file);
    let tests = crate::diagnosis::limit_tests(set, d, limits);
    let label_of = |file: &str| {
        d.captures.iter().find(|c| c.file == file).map_or(file.to_string(), |c| label(&c.measurements.path))
    };
    let plug_verdicts = crate::diagnosis::electrical::verdicts(set);
    let serials: Vec<String> =
        m.components.iter().filter_map(|c| c.serial.as_ref().map(|s| format!("{}: {s}", c.id))).collect();
    Ok(html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "jackbench report: " (m.bench.as_deref().unwrap_or("capture set")) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header class=(format!("verdict {}", d.verdict.name())) {
                    h1 { (headline) }
                    p { (d.faults.len()) " fault(s), " (d.suspects.len()) " suspect group(s), " (d.measured_summary()) "." }
                }
                @if !d.missing.is_empty() {
                    section {
                        h2 { "Not measured" }
                        p class="note" { "What the plan has that gave no measurement: a capture missing, unreadable or too short, samples no converter records, \
                            a channel that carried none of its stimulus with no fault to explain it, or a part under test that no usable capture went through. \
                            A unit is not passed on what was not measured." }
                        table class="missing" {
                            tr { th { "capture or part" } th { "why" } }
                            @for x in &d.missing {
                                tr { td { code { (x.place()) } } td { (x.why) } }
                            }
                        }
                    }
                }
                @if !d.faults.is_empty() || !d.suspects.is_empty() {
                    section {
                        h2 { "Faults" }
                        @for f in &d.faults {
                            div class="card" {
                                h3 { (f.title) }
                                p class="code" { code { (f.code.to_string()) } " on " code { (f.component) } }
                                p class="confidence" { "confidence " (format!("{:.0} %", 100.0 * f.confidence)) }
                                p { b { "Evidence: " } (f.evidence) }
                                p { b { "Fix: " } (f.remedy) }
                            }
                        }
                        @for s in &d.suspects {
                            div class="card suspect" {
                                h3 { "Suspects: " (s.title) }
                                p class="code" { code { (s.symptom.name()) } " on one of " code { (s.components.join(", ")) } }
                                p { (s.why()) "." }
                                p { b { "Evidence: " } (s.evidence) }
                                p { b { "Next: " } (s.next_step()) "." }
                            }
                        }
                    }
                }
                @if !tests.is_empty() {
                    section {
                        h2 { "Limit tests" }
                        p class="note" { "The unit under test against each limit it has: margin inside the nearer limit (negative: outside). \
                            Curves are judged where they stay outside over neighbouring points, as the diagnosis judges them; \
                            the row shows the point that sets the margin." }
                        table class="limits" {
                            tr { th { "test" } th { "path" } th { "at" } th { "low" } th { "high" } th { "measured" } th { "margin" } th { "result" } }
                            @for t in &tests {
                                tr class=(if t.pass { "ok" } else { "bad" }) {
                                    td { (t.quantity) }
                                    td { (label_of(&t.capture)) }
                                    td { (t.at_hz.map_or("—".to_string(), crate::diagnosis::hz_text)) }
                                    td class="num" { (limit_value(t.low, t.unit)) }
                                    td class="num" { (limit_value(t.high, t.unit)) }
                                    td class="num" { (limit_value(Some(t.measured), t.unit)) }
                                    td class="num" { (if t.unit == "%" { format!("{:+.4} %", t.margin) } else { format!("{:+.2} dB", t.margin) }) }
                                    td class=(if t.pass { "pass" } else { "fail" }) { (if t.pass { "PASS" } else { "FAIL" }) }
                                }
                            }
                        }
                    }
                }
                section {
                    h2 { "Unit and bench" }
                    table {
                        tr { th { "bench" } td { (m.bench.as_deref().unwrap_or("—")) } }
                        tr { th { "rig" } td { (m.rig.as_deref().unwrap_or("—")) } }
                        tr { th { "created" } td { (m.created.as_deref().unwrap_or("—")) } }
                        tr { th { "serials" } td { (if serials.is_empty() { "—".to_string() } else { serials.join(", ") }) } }
                        tr { th { "jackbench" } td { (env!("CARGO_PKG_VERSION")) } }
                        tr { th { "limits" } td { (limits.source.as_ref().or(m.limits.as_ref().and_then(|l| l.source.as_ref())).map_or("the built-in defaults".to_string(), |s| s.describe())) } }
                        tr { th { "room sound" } td { (room_sound_summary(m)) } }
                    }
                    table {
                        tr { th { "component" } th { "kind" } th { "label" } th { "reference" } th { "serial" } }
                        @for c in &m.components {
                            tr {
                                td { (c.id) } td { (c.kind.name()) } td { (c.label.as_deref().unwrap_or("")) }
                                td { (if c.reference { "yes" } else { "" }) } td { (c.serial.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
                @if !m.plugs.is_empty() {
                    section {
                        h2 { "The plug, measured" }
                        p class="note" { "DC resistance between each pair of the plug's contacts (T tip, R1 ring 1, R2 ring 2, S sleeve), read by the relay board's meter before any sound: open above 200 kΩ, short below 2 Ω." }
                        @for plug in &m.plugs {
                            @let verdict = plug_verdicts.get(&plug.component);
                            h3 { (plug.component) }
                            @if let Some(v) = verdict {
                                p { (crate::diagnosis::electrical::summary(v)) }
                            }
                            table class="plug" {
                                tr { th { "pair" } th { "reading" } }
                                @for p in plug.readings().map(|r| r.pairs).unwrap_or_default() {
                                    tr { td { (format!("{}–{}", p.a, p.b)) } td class="num" { (p.reading.to_string()) } }
                                }
                            }
                            @if let Some(v) = verdict.filter(|v| !v.findings.is_empty()) {
                                ul {
                                    @for f in &v.findings {
                                        li class="bad" { code { (f.symptom) } " " (f.contacts[0]) "–" (f.contacts[1]) ": " (f.evidence) }
                                    }
                                }
                            }
                        }
                    }
                }
                section {
                    h2 { "Measurements" }
                    p class="note" { "Limits: THD ≤ " (format!("{:.1}", limits.thd_max_percent)) " %, balance within ±"
                        (format!("{:.0}", limits.imbalance_max_db)) " dB, no gaps; a signal back wherever one was played. ✓ within, ✗ outside (the value that is out is marked); rows of captures that are out or that a fault was found on are marked." }
                    @for p in paths(d) {
                        h3 { (p.to_string()) }
                        table class="captures" {
                            tr { th { "" } th { "capture" } th { "direction" } th { "stimulus" } th { "drive" } th { "level (dBFS)" } th { "frequency (Hz)" } th { "THD (%)" } th { "noise (dBFS)" } th { "hum (dBFS)" } th { "gaps" } th { "level steps" } th { "outside tone" } th { "latency (ms)" } }
                            @for c in d.captures.iter().filter(|c| c.measurements.path == p) {
                                @let mm = &c.measurements;
                                @let bad = failing(d, &c.file) || out_of_limits(c, limits);
                                tr class=(if bad { "bad" } else { "ok" }) {
                                    td { (if bad { "✗" } else { "✓" }) }
                                    td { (c.file) }
                                    td { (mm.direction.name()) }
                                    td { (mm.stimulus) }
                                    td { (mm.drive.map_or("", |d| d.name())) }
                                    td { (per_ear_at(mm, |i, e| match (e.level_dbfs, silent_where_played(c, i)) {
                                        (Some(v), true) => Some(format!("{v:.1} ✗")),
                                        (None, true) => Some("none ✗".into()),
                                        (v, false) => v.map(|v| format!("{v:.1}")),
                                    })) }
                                    td { (per_ear(mm, |e| e.freq_ratio.and_then(|r| tone_freq(mm).map(|f| format!("{:.1}", r * f))))) }
                                    td { (per_driven_ear(mm, |e| e.thd_percent.map(|v| format!("{v:.3}{}", if v <= limits.thd_max_percent { " ✓" } else { " ✗" })))) }
                                    td { (per_ear(mm, |e| Some(format!("{:.1}", e.noise_floor_dbfs)))) }
                                    td { (per_ear(mm, |e| e.hum_dbfs.map(|v| format!("{v:.1}")))) }
                                    td { (per_ear(mm, |e| Some(if e.dropouts.is_empty() { "0 ✓".into() } else { format!("{} ✗", e.dropouts.len()) }))) }
                                    td { (per_ear(mm, |e| Some(if e.level_steps.is_empty() { "—".into() } else { e.level_steps.iter().map(|s| format!("{:+.1} dB @ {:.2} s", s.db, s.at_s)).collect::<Vec<_>>().join(", ") }))) }
                                    td { (per_ear(mm, |e| Some(if e.outside_events.is_empty() { "—".into() } else { e.outside_events.iter().map(|o| format!("{:.0} ms @ {:.2} s", o.ms, o.at_s)).collect::<Vec<_>>().join(", ") }))) }
                                    td { (entry(&c.file).and_then(|e| e.latency_s).map_or("—".to_string(), |l| format!("{:.1}", l * 1e3))) }
                                }
                                @if let Some(e) = entry(&c.file).filter(|e| !e.stream_events.is_empty()) {
                                    tr class="events" { td { "⚠" } td colspan="13" { "stream: " (e.stream_events.join("; ")) } }
                                }
                                @if let Some(why) = room_sound_note(entry(&c.file), mm) {
                                    tr class="events" { td { "⚠" } td colspan="13" { (why) } }
                                }
                            }
                        }
                    }
                }
                section {
                    h2 { "Plots" }
                    @for (data, caption) in &images {
                        figure {
                            img src=(format!("data:image/png;base64,{data}")) alt=(caption);
                            figcaption { (caption) }
                        }
                    }
                    @if !linked.is_empty() {
                        details {
                            summary { "Plots of the other captures, all within their limits: " (linked.len()) " PNG files in plots/ beside this report" }
                            ul {
                                @for (href, caption) in &linked {
                                    li { a href=(href) { (caption) } }
                                }
                            }
                        }
                    }
                }
                footer { "jackbench " (env!("CARGO_PKG_VERSION")) " · " (crate::diagnosis::DIAGNOSIS_FORMAT) }
            }
        }
    })
}

/// The ambient-noise guard's work on a set, for the bench table: how many captures it made
/// again, and how many it kept disturbed.
fn room_sound_summary(m: &crate::capture::Manifest) -> String {
    let repeats: u32 = m.captures.iter().map(|c| c.repeats).sum();
    let kept = m.captures.iter().filter(|c| c.room_sound.is_some()).count();
    match (repeats, kept) {
        (0, 0) => "no capture disturbed".into(),
        (r, 0) => format!("{r} capture(s) made again (the ambient-noise guard); none kept disturbed"),
        (r, k) => format!(
            "{r} capture(s) made again (the ambient-noise guard); {k} kept disturbed, judged only for what room sound cannot cause"
        ),
    }
}

/// A capture's line about room sound: repeats, and what disturbed the take kept (from the
/// manifest, or measured in it).
fn room_sound_note(entry: Option<&crate::capture::manifest::CaptureEntry>, m: &Measured) -> Option<String> {
    let repeats = entry.map_or(0, |e| e.repeats);
    let why = entry.and_then(|e| e.room_sound.clone()).or_else(|| m.room_sound());
    match (repeats, why) {
        (0, None) => None,
        (r, None) => Some(format!("room sound: made again {r} time(s); this take is clean")),
        (0, Some(w)) => Some(format!("room sound: {w}; judged only for what room sound cannot cause (gaps, lost level)")),
        (r, Some(w)) => Some(format!(
            "room sound: made again {r} time(s) and still disturbed ({w}); judged only for what room sound cannot cause (gaps, lost level)"
        )),
    }
}

fn tone_freq(m: &Measured) -> Option<f64> {
    match m.signal {
        crate::stimulus::Stimulus::Sine { freq_hz, .. } => Some(freq_hz),
        _ => None,
    }
}

/// One value per ear, "L / R" for two, "—" for an ear the stimulus does not drive.
fn per_driven_ear(m: &Measured, f: impl Fn(&crate::diagnosis::EarMeasure) -> Option<String>) -> String {
    per_ear_at(m, |i, e| if m.driven(i) { f(e) } else { None })
}

/// One value per ear from its index and measurement, "L / R" for two.
fn per_ear_at(m: &Measured, f: impl Fn(usize, &crate::diagnosis::EarMeasure) -> Option<String>) -> String {
    m.ears.iter().enumerate().map(|(i, e)| f(i, e).unwrap_or_else(|| "—".into())).collect::<Vec<_>>().join(" / ")
}

/// Whether headset `id` is a unit under test (not a reference) of `model`: the headsets its
/// golden limits hold.
fn under_test_of_model(set: &CaptureSet, id: &str, model: &str) -> bool {
    set.manifest
        .components
        .iter()
        .any(|c| c.id == id && !c.reference && c.kind == ComponentKind::Headset && c.model.as_deref() == Some(model))
}

/// A path as the plots and tables name it.
fn label(p: &PathSpec) -> String {
    format!("{} / {} / {}", p.port, p.adapter, p.headset)
}

/// A limit or a measured value of the limit-test table, "—" where there is none.
fn limit_value(v: Option<f64>, unit: &str) -> String {
    v.map_or("—".to_string(), |v| if unit == "%" { format!("{v:.4} %") } else { format!("{v:.2} dB") })
}

/// One value per ear, "L / R" for two.
fn per_ear(m: &Measured, f: impl Fn(&crate::diagnosis::EarMeasure) -> Option<String>) -> String {
    per_ear_at(m, |_, e| f(e))
}

pub(crate) const CSS: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em; color: #222; }
.verdict { padding: 1em 1.5em; border-radius: 8px; color: white; }
.verdict.pass { background: #2e7d32; } .verdict.fail { background: #c62828; } .verdict.incomplete { background: #e65100; }
.verdict h1 { margin: 0 0 .3em 0; font-size: 1.6em; }
.card { border: 1px solid #ccc; border-left: 6px solid #c62828; border-radius: 6px; padding: .5em 1em; margin: .8em 0; }
.card.suspect { border-left-color: #ef6c00; }
.confidence { color: #555; margin-top: -.5em; }
table { border-collapse: collapse; margin: .5em 0 1em 0; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .25em .5em; text-align: left; }
tr.bad td { background: #fdecea; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.pass { color: #2e7d32; font-weight: bold; } td.fail { color: #c62828; font-weight: bold; }
tr.events td { background: #fff6e0; font-size: 0.9em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9em; }
.note { color: #555; font-size: .9em; }
footer { color: #888; font-size: .8em; margin-top: 2em; }
"#;
