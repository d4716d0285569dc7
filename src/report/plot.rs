//! PNG plots (plotters, bitmap backend) with a bundled font, so they render the same on any
//! machine: a capture's spectrum, the frequency responses of the paths, a capture's envelope
//! over time, the path × component matrix, and balance and crosstalk per path.

use crate::analysis::Dropout;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// DejaVu Sans (see fonts/DejaVuSans-LICENSE.txt): every label is drawn with it.
static FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
const SANS: &str = "sans-serif";

/// Why a plot could not be drawn; names the file.
#[derive(Debug, thiserror::Error)]
#[error("{file}: cannot draw the plot: {message}")]
pub struct PlotError {
    pub file: String,
    pub message: String,
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are the bundled font: it parses, or the build is broken.
        let _ = plotters::style::register_font(SANS, FontStyle::Normal, FONT);
        let _ = plotters::style::register_font(SANS, FontStyle::Bold, FONT);
    });
}

fn err(path: &Path) -> impl Fn(String) -> PlotError + '_ {
    move |message| PlotError { file: path.display().to_string(), message }
}

/// Draws a plot of `size` into memory with `body` and writes it to `path` as an indexed-colour
/// PNG ([`write_indexed`]).
fn draw(
    path: &Path,
    size: (u32, u32),
    body: impl FnOnce(DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), PlotError>,
) -> Result<(), PlotError> {
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    body(BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area())?;
    write_indexed(path, &rgb, size).map_err(err(path))
}

/// Writes a drawn plot (RGB, 8 bits a channel) as an indexed-colour PNG. A plot holds a few
/// colours and their antialiased blends: its own colours when there are at most 256 of them,
/// else a NeuQuant palette of 256, look the same at about a third of the bytes, which keeps a
/// report that inlines its plots small enough to mail.
fn write_indexed(path: &Path, rgb: &[u8], (width, height): (u32, u32)) -> Result<(), String> {
    // A plot is runs of one colour (the background, a line, a bar): each pixel's index is looked
    // up only where the colour changes.
    fn map_runs(rgb: &[u8], mut index_of: impl FnMut([u8; 3]) -> u8) -> Vec<u8> {
        let mut last: Option<([u8; 3], u8)> = None;
        rgb.chunks_exact(3)
            .map(|p| {
                let c = [p[0], p[1], p[2]];
                match last {
                    Some((l, i)) if l == c => i,
                    _ => {
                        let i = index_of(c);
                        last = Some((c, i));
                        i
                    }
                }
            })
            .collect()
    }
    let mut exact: Vec<[u8; 3]> = Vec::new();
    let mut seen: std::collections::HashMap<[u8; 3], u8> = std::collections::HashMap::new();
    let mut last = None;
    for p in rgb.chunks_exact(3) {
        let c = [p[0], p[1], p[2]];
        if last == Some(c) {
            continue;
        }
        last = Some(c);
        if let std::collections::hash_map::Entry::Vacant(v) = seen.entry(c) {
            // Past 256 the index wraps, but then the palette is NeuQuant's.
            v.insert(exact.len() as u8);
            exact.push(c);
            if exact.len() > 256 {
                break;
            }
        }
    }
    let (palette, indices): (Vec<u8>, Vec<u8>) = if exact.len() <= 256 {
        (exact.concat(), map_runs(rgb, |c| seen.get(&c).copied().unwrap_or(0)))
    } else {
        // Sample factor 30 (every 30th pixel teaches the network): a plot's few colours and
        // their blends are learnt as well as at 10, in a third of the time. Each colour is looked
        // up once.
        let rgba: Vec<u8> = rgb.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
        let nq = color_quant::NeuQuant::new(30, 256, &rgba);
        let mut index: std::collections::HashMap<[u8; 3], u8> = std::collections::HashMap::new();
        let indices = map_runs(rgb, |c| *index.entry(c).or_insert_with(|| nq.index_of(&[c[0], c[1], c[2], 255]) as u8));
        (nq.color_map_rgb(), indices)
    };
    let out = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(out), width, height);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(palette);
    encoder.set_compression(png::Compression::Default);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&indices).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}

/// The series legend, drawn the same way on every line plot.
fn legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((SANS, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|x| x.to_string())
}

/// Plot size, pixels.
pub const SIZE: (u32, u32) = (960, 440);

/// A line to mark on a spectrum: frequency, label.
pub struct Mark {
    pub freq_hz: f64,
    pub label: String,
    pub color: RGBColor,
}

/// Engineering ticks of a frequency axis from `lo` to `hi`: 10, 20, 50, 100 … 10k, 20k.
fn frequency_ticks(lo: f64, hi: f64) -> Vec<f64> {
    (0..6)
        .flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e)))
        .filter(|f| *f >= lo * 0.999 && *f <= hi * 1.001)
        .collect()
}

/// A tick's label: `50`, `500`, `1k`, `20k`.
fn hz_label(f: &f64) -> String {
    if *f >= 1000.0 {
        format!("{}k", f / 1000.0)
    } else {
        format!("{f}")
    }
}

/// The spectrum of one or two channels (dBFS against log frequency) with marks.
pub fn spectrum(
    path: &Path,
    title: &str,
    curves: &[(&str, Vec<(f64, f64)>)],
    marks: &[Mark],
    nyquist: f64,
) -> Result<(), PlotError> {
    register_font();
    let e = err(path);
    draw(path, SIZE, |root| {
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let hi = nyquist.min(24_000.0);
        let floor = curves.iter().flat_map(|(_, c)| c.iter().map(|p| p.1)).fold(0.0f64, f64::min).max(-180.0).floor();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (SANS, 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d((10.0..hi).log_scale().with_key_points(frequency_ticks(10.0, hi)), floor..10.0)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_label_formatter(&hz_label)
            .x_desc("Frequency (Hz)")
            .y_desc("Level (dBFS)")
            .label_style((SANS, 14))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        for (i, (label, points)) in curves.iter().enumerate() {
            let c = CHANNEL_COLORS[i % CHANNEL_COLORS.len()];
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied().filter(|p| p.0 >= 10.0 && p.0 <= hi),
                    c.stroke_width(1),
                ))
                .map_err(|x| e(x.to_string()))?
                .label(*label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        }
        for m in marks.iter().filter(|m| m.freq_hz >= 10.0 && m.freq_hz <= hi) {
            chart
                .draw_series(LineSeries::new([(m.freq_hz, floor), (m.freq_hz, 5.0)], m.color.mix(0.5).stroke_width(1)))
                .map_err(|x| e(x.to_string()))?;
            chart
                .draw_series([Text::new(m.label.clone(), (m.freq_hz, 8.0), (SANS, 12).into_font().color(&m.color))])
                .map_err(|x| e(x.to_string()))?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(&e)?;
        root.present().map_err(|x| e(x.to_string()))?;
        Ok(())
    })
}

/// One path's response curve.
pub struct Curve {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub reference: bool,
}

/// Frequency responses (dB against log frequency, 20 Hz–20 kHz) over the limit mask: the mask
/// is drawn as the band a working path's shape may not leave below (`mask_db` under the best).
pub fn response(
    path: &Path,
    title: &str,
    curves: &[Curve],
    mask: Option<(&[(f64, f64)], f64)>,
) -> Result<(), PlotError> {
    let all = curves.iter().flat_map(|c| c.points.iter().map(|p| p.1));
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    // At least 30 dB of range under the best curve, at most 80, 6 dB of headroom.
    let range = if lo.is_finite() {
        ((lo - 3.0).min(hi - 30.0).max(hi - 80.0).floor(), (hi + 6.0).ceil())
    } else {
        (-40.0, 10.0)
    };
    let lines: Vec<Line> = mask
        .map(|(best, depth)| Line {
            label: format!("limit mask ({depth:.0} dB under the best path)"),
            points: best.iter().map(|&(f, v)| (f, v - depth)).collect(),
            color: RGBColor(150, 150, 150),
        })
        .into_iter()
        .collect();
    let axes = ("Frequency (Hz)", "Gain re stimulus (dB)");
    curves_over_frequency(path, title, axes, range, curves, &lines, None, SeriesLabelPosition::LowerLeft)
}

/// Response shapes (each less its mid-band gain) against a model's golden mask: the mask's
/// lower and upper lines, and under them the golden units' own band, shaded. Points are
/// `[Hz, low dB, high dB]`.
pub fn golden_response(
    path: &Path,
    title: &str,
    curves: &[Curve],
    mask: &[[f64; 3]],
    band: &[[f64; 3]],
) -> Result<(), PlotError> {
    let red = RGBColor(200, 30, 30);
    let lines = vec![
        Line { label: "golden mask, upper".into(), points: mask.iter().map(|q| (q[0], q[2])).collect(), color: red },
        Line {
            label: "golden mask, lower".into(),
            points: mask.iter().map(|q| (q[0], q[1])).collect(),
            color: RGBColor(120, 20, 20),
        },
    ];
    let values = curves.iter().flat_map(|c| c.points.iter().map(|p| p.1)).chain(mask.iter().flat_map(|q| [q[1], q[2]]));
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let range = if lo.is_finite() { ((lo - 3.0).floor(), (hi + 3.0).ceil()) } else { (-20.0, 10.0) };
    let axes = ("Frequency (Hz)", "Shape: gain less its mid-band gain (dB)");
    let shaded = (!band.is_empty()).then_some(("golden units' band", band));
    curves_over_frequency(path, title, axes, range, curves, &lines, shaded, SeriesLabelPosition::LowerLeft)
}

/// Curves over log frequency (20 Hz–20 kHz) in any unit, with upper limit lines: distortion
/// and rub & buzz against the sweep's excitation frequency.
pub fn over_frequency(
    path: &Path,
    title: &str,
    y_desc: &str,
    curves: &[Curve],
    limits: &[(&str, &[(f64, f64)])],
) -> Result<(), PlotError> {
    let reds = [RGBColor(200, 30, 30), RGBColor(120, 20, 20)];
    let lines: Vec<Line> = limits
        .iter()
        .zip(reds.iter().cycle())
        .map(|((label, points), &color)| Line { label: label.to_string(), points: points.to_vec(), color })
        .collect();
    let values = curves.iter().flat_map(|c| c.points.iter()).chain(lines.iter().flat_map(|l| l.points.iter()));
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let range = if lo.is_finite() { ((lo - 3.0).floor(), (hi + 6.0).ceil().max(lo + 10.0)) } else { (0.0, 10.0) };
    let axes = ("Excitation frequency (Hz)", y_desc);
    curves_over_frequency(path, title, axes, range, curves, &lines, None, SeriesLabelPosition::UpperRight)
}

/// A limit or mask line.
struct Line {
    label: String,
    points: Vec<(f64, f64)>,
    color: RGBColor,
}

/// The chart the above draw: log frequency 20 Hz–20 kHz with engineering ticks, `y` over
/// `range`, a shaded band (`[Hz, low, high]`) under the limit lines under the curves; reference
/// paths thin and grey.
#[allow(clippy::too_many_arguments)]
fn curves_over_frequency(
    path: &Path,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    (lo, hi): (f64, f64),
    curves: &[Curve],
    lines: &[Line],
    band: Option<(&str, &[[f64; 3]])>,
    legend_at: SeriesLabelPosition,
) -> Result<(), PlotError> {
    register_font();
    let e = err(path);
    draw(path, SIZE, |root| {
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (SANS, 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d((20.0..20_000.0).log_scale().with_key_points(frequency_ticks(20.0, 20_000.0)), lo..hi)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_label_formatter(&hz_label)
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style((SANS, 14))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        if let Some((label, band)) = band {
            let fill = RGBColor(120, 190, 120).mix(0.35);
            let outline: Vec<(f64, f64)> =
                band.iter().map(|q| (q[0], q[2])).chain(band.iter().rev().map(|q| (q[0], q[1]))).collect();
            chart
                .draw_series(std::iter::once(Polygon::new(outline, fill.filled())))
                .map_err(|x| e(x.to_string()))?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], fill.filled()));
        }
        for l in lines {
            let c = l.color;
            chart
                .draw_series(LineSeries::new(l.points.iter().copied(), c.stroke_width(2)))
                .map_err(|x| e(x.to_string()))?
                .label(l.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        }
        for (i, c) in curves.iter().enumerate() {
            let color = if c.reference { RGBColor(60, 60, 60) } else { PALETTE[i % PALETTE.len()] };
            let width = if c.reference { 1 } else { 2 };
            chart
                .draw_series(LineSeries::new(c.points.iter().copied(), color.stroke_width(width)))
                .map_err(|x| e(x.to_string()))?
                .label(if c.reference { format!("{} (reference)", c.label) } else { c.label.clone() })
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        legend(&mut chart, legend_at).map_err(&e)?;
        root.present().map_err(|x| e(x.to_string()))?;
        Ok(())
    })
}

/// Envelope plots are lower than the others: there is one per capture.
pub const ENVELOPE_SIZE: (u32, u32) = (960, 300);

/// A capture's envelope (rms of 5 ms blocks, dBFS) over time, gaps and clicks marked.
pub fn envelope(
    path: &Path,
    title: &str,
    rate_hz: u32,
    channels: &[(&str, &[f32], &[Dropout])],
) -> Result<(), PlotError> {
    register_font();
    let e = err(path);
    draw(path, ENVELOPE_SIZE, |root| {
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let block = (f64::from(rate_hz) * 0.005).max(1.0) as usize;
        let secs = channels.iter().map(|c| c.1.len()).max().unwrap_or(0) as f64 / f64::from(rate_hz);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (SANS, 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..secs.max(0.01), -120.0..0.0)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("Time (s)")
            .y_desc("rms of 5 ms (dBFS)")
            .label_style((SANS, 14))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        for (i, (label, x, dropouts)) in channels.iter().enumerate() {
            let c = CHANNEL_COLORS[i % CHANNEL_COLORS.len()];
            let points: Vec<(f64, f64)> = x
                .chunks(block)
                .enumerate()
                .map(|(k, b)| {
                    let rms = (b.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>() / b.len() as f64).sqrt();
                    ((k * block) as f64 / f64::from(rate_hz), crate::analysis::rms_dbfs(rms).max(-119.0))
                })
                .collect();
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(1)))
                .map_err(|x| e(x.to_string()))?
                .label(*label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
            let red = RGBColor(220, 0, 0);
            for d in dropouts.iter() {
                let end = d.at_s + (d.ms / 1000.0).max(0.002);
                chart
                    .draw_series([Rectangle::new([(d.at_s, -120.0), (end, 0.0)], red.mix(0.35).filled())])
                    .map_err(|x| e(x.to_string()))?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(&e)?;
        root.present().map_err(|x| e(x.to_string()))?;
        Ok(())
    })
}

/// The path × component matrix: which components each path uses, whether the path passed,
/// and which components the diagnosis blames.
pub fn matrix(
    path: &Path,
    title: &str,
    paths: &[(String, [String; 4], bool)],
    components: &[String],
    blamed: &[String],
) -> Result<(), PlotError> {
    register_font();
    let e = err(path);
    let rows = paths.len().max(1);
    let height = (120 + 34 * rows) as u32;
    draw(path, (SIZE.0, height), |root| {
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let font = |size: u32| (SANS, size).into_font();
        root.draw(&Text::new(title.to_string(), (12, 10), font(20))).map_err(|x| e(x.to_string()))?;
        let (left, top, cw, rh) =
            (300i32, 80i32, ((SIZE.0 as i32 - 320) / components.len().max(1) as i32).max(40), 34i32);
        for (j, c) in components.iter().enumerate() {
            let x = left + j as i32 * cw;
            let style = if blamed.contains(c) { font(14).color(&RGBColor(200, 0, 0)) } else { font(14).color(&BLACK) };
            root.draw(&Text::new(c.clone(), (x + 4, top - 26), style)).map_err(|x| e(x.to_string()))?;
        }
        for (i, (label, ids, passed)) in paths.iter().enumerate() {
            let y = top + i as i32 * rh;
            let mark = if *passed { ("pass", RGBColor(30, 140, 60)) } else { ("FAIL", RGBColor(200, 0, 0)) };
            root.draw(&Text::new(mark.0.to_string(), (12, y + 8), font(14).color(&mark.1)))
                .map_err(|x| e(x.to_string()))?;
            root.draw(&Text::new(label.clone(), (60, y + 8), font(13))).map_err(|x| e(x.to_string()))?;
            for (j, c) in components.iter().enumerate() {
                let x = left + j as i32 * cw;
                let used = ids.contains(c);
                let fill = match (used, blamed.contains(c), passed) {
                    (false, _, _) => RGBColor(245, 245, 245),
                    (true, true, _) => RGBColor(230, 80, 70),
                    (true, false, false) => RGBColor(250, 200, 120),
                    (true, false, true) => RGBColor(140, 200, 150),
                };
                root.draw(&Rectangle::new([(x + 2, y + 2), (x + cw - 2, y + rh - 2)], fill.filled()))
                    .map_err(|x| e(x.to_string()))?;
            }
        }
        root.present().map_err(|x| e(x.to_string()))?;
        Ok(())
    })
}

/// Left/right balance and crosstalk per path, as horizontal bars (dB).
pub fn balance(
    path: &Path,
    title: &str,
    rows: &[(String, Option<f64>, Option<f64>)],
    limit_db: f64,
) -> Result<(), PlotError> {
    register_font();
    let e = err(path);
    draw(path, SIZE, |root| {
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let (upper, lower) = root.split_horizontally(SIZE.0 / 2);
        let n = rows.len().max(1) as f64;
        // Each row is labelled with its path; the label area is as wide as the longest (12 px type).
        let longest = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(1);
        let label_width = ((longest as f64 * 6.5) as u32 + 12).clamp(40, 230);
        let row_label = |v: &f64| -> String {
            let i = v.round();
            if (v - i).abs() > 0.01 || i < 0.0 {
                return String::new();
            }
            rows.get(i as usize).map_or(String::new(), |r| r.0.clone())
        };
        let draw = |area: &DrawingArea<BitMapBackend, _>,
                    caption: &str,
                    range: std::ops::Range<f64>,
                    base: f64,
                    values: Vec<(usize, f64)>,
                    limit: Option<f64>|
         -> Result<(), PlotError> {
            let mut chart = ChartBuilder::on(area)
                .caption(caption, (SANS, 16))
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(label_width)
                .build_cartesian_2d(range, -0.5..n - 0.5)
                .map_err(|x| e(x.to_string()))?;
            chart
                .configure_mesh()
                .y_labels(rows.len().max(1))
                .y_label_formatter(&row_label)
                .x_labels(6)
                .x_label_formatter(&|v| format!("{v:.0}"))
                .x_desc("dB")
                .label_style((SANS, 12))
                .draw()
                .map_err(|x| e(x.to_string()))?;
            let blue = RGBColor(31, 119, 180);
            // Bars grow from `base`: 0 for balance, the quiet end for crosstalk (a longer bar is
            // more crosstalk).
            chart
                .draw_series(
                    values
                        .iter()
                        .map(|&(i, v)| Rectangle::new([(base, i as f64 - 0.3), (v, i as f64 + 0.3)], blue.filled())),
                )
                .map_err(|x| e(x.to_string()))?;
            if let Some(l) = limit {
                for v in [-l, l] {
                    chart
                        .draw_series(LineSeries::new([(v, -0.5), (v, n - 0.5)], RED.stroke_width(1)))
                        .map_err(|x| e(x.to_string()))?;
                }
            }
            Ok(())
        };
        draw(
            &upper,
            &format!("{title}: balance L − R"),
            -12.0..12.0,
            0.0,
            rows.iter().enumerate().filter_map(|(i, r)| r.1.map(|v| (i, v.clamp(-12.0, 12.0)))).collect(),
            Some(limit_db),
        )?;
        draw(
            &lower,
            "crosstalk (one ear driven)",
            -100.0..0.0,
            -100.0,
            rows.iter().enumerate().filter_map(|(i, r)| r.2.map(|v| (i, v.clamp(-100.0, 0.0)))).collect(),
            None,
        )?;
        root.present().map_err(|x| e(x.to_string()))?;
        Ok(())
    })
}

/// A recording's channels: left blue, right red.
const CHANNEL_COLORS: [RGBColor; 2] = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];

/// Series colours, in order. No red: red is for limits.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];

/// Labelled horizontal bars (`value` in `unit`, from 0 to `max`), best first; with `cumulative`,
/// a second mark per bar at that share of `max` (a Pareto's running total).
pub fn bars(
    path: &Path,
    title: &str,
    unit: &str,
    rows: &[(String, f64)],
    max: f64,
    cumulative: Option<&[f64]>,
) -> Result<(), PlotError> {
    register_font();
    let e = err(path);
    let height = (90 + 28 * rows.len().max(1)) as u32;
    draw(path, (SIZE.0, height.max(180)), |root| {
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let n = rows.len().max(1) as f64;
        let label_width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(4).clamp(4, 40) as u32 * 8 + 16;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (SANS, 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(label_width)
            .build_cartesian_2d(0.0..max.max(1e-9), -0.5..n - 0.5)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .y_labels(rows.len().max(1))
            .y_label_formatter(&|v| {
                // The first row at the top.
                let i = n - 1.0 - v.round();
                if (v - v.round()).abs() < 0.01 && i >= 0.0 {
                    rows.get(i as usize).map_or(String::new(), |r| r.0.clone())
                } else {
                    String::new()
                }
            })
            .x_desc(unit)
            .label_style((SANS, 13))
            .disable_y_mesh()
            .draw()
            .map_err(|x| e(x.to_string()))?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, (_, v))| {
                let y = n - 1.0 - i as f64;
                Rectangle::new([(0.0, y - 0.32), (v.clamp(0.0, max), y + 0.32)], PALETTE[0].filled())
            }))
            .map_err(|x| e(x.to_string()))?;
        if let Some(c) = cumulative {
            let pts: Vec<(f64, f64)> =
                c.iter().enumerate().map(|(i, v)| (v.clamp(0.0, max), n - 1.0 - i as f64)).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), RED.stroke_width(2)))
                .map_err(|x| e(x.to_string()))?
                .label("cumulative")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED.stroke_width(2)));
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, RED.filled()))).map_err(|x| e(x.to_string()))?;
            legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(&e)?;
        }
        root.present().map_err(|x| e(x.to_string()))?;
        Ok(())
    })
}

/// A histogram: one line of counts per series over bins of `width` from `lo`, with the
/// limits drawn as red verticals.
pub fn histogram(
    path: &Path,
    title: &str,
    unit: &str,
    lo: f64,
    width: f64,
    series: &[(String, Vec<i64>)],
    limits: (Option<f64>, Option<f64>),
) -> Result<(), PlotError> {
    register_font();
    let e = err(path);
    draw(path, (SIZE.0, 320), |root| {
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let bins = series.iter().map(|s| s.1.len()).max().unwrap_or(1).max(1);
        let hi = lo + width * bins as f64;
        let top = series.iter().flat_map(|s| s.1.iter().copied()).max().unwrap_or(1).max(1) as f64 * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (SANS, 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(lo..hi, 0.0..top)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc(unit)
            .y_desc("measurements")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((SANS, 12))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        for (k, (name, counts)) in series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            // A step outline per series, so benches overlaid stay readable.
            let mut pts = vec![(lo, 0.0)];
            for (i, c) in counts.iter().enumerate() {
                let (x0, x1) = (lo + width * i as f64, lo + width * (i + 1) as f64);
                pts.push((x0, *c as f64));
                pts.push((x1, *c as f64));
            }
            pts.push((lo + width * counts.len() as f64, 0.0));
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(|x| e(x.to_string()))?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        for v in [limits.0, limits.1].into_iter().flatten() {
            chart
                .draw_series(LineSeries::new([(v, 0.0), (v, top)], RED.stroke_width(2)))
                .map_err(|x| e(x.to_string()))?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(&e)?;
        root.present().map_err(|x| e(x.to_string()))?;
        Ok(())
    })
}

/// Curves over a run's time (a monitor's level, THD or noise per line, one point a second),
/// each in a colour of its own, with a technician's marks as labelled vertical lines and the
/// seconds that had events as red ticks along the bottom.
pub fn over_time(
    path: &Path,
    title: &str,
    y_desc: &str,
    series: &[(&str, Vec<(f64, f64)>)],
    marks: &[(f64, String)],
    event_seconds: &[f64],
) -> Result<(), PlotError> {
    register_font();
    let e = err(path);
    let points = || series.iter().flat_map(|s| s.1.iter());
    let t_max = points().map(|p| p.0).fold(1.0, f64::max);
    let (lo, hi) = points().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.1).max(0.5);
    let (y0, y1) = (lo - pad, hi + pad);
    draw(path, ENVELOPE_SIZE, |root| {
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (SANS, 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..t_max, y0..y1)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("Time (s)")
            .y_desc(y_desc)
            .label_style((SANS, 14))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        let red = RGBColor(220, 0, 0);
        let tick = (y1 - y0) * 0.04;
        chart
            .draw_series(
                event_seconds.iter().map(|&t| PathElement::new(vec![(t, y0), (t, y0 + tick)], red.stroke_width(2))),
            )
            .map_err(|x| e(x.to_string()))?;
        for (t, label) in marks {
            let grey = RGBColor(90, 90, 90);
            chart
                .draw_series([PathElement::new(vec![(*t, y0), (*t, y1)], grey.stroke_width(1))])
                .map_err(|x| e(x.to_string()))?;
            chart
                .draw_series([Text::new(label.clone(), (*t, y1 - tick), (SANS, 13).into_font().color(&grey))])
                .map_err(|x| e(x.to_string()))?;
        }
        for (i, (label, pts)) in series.iter().enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
                .map_err(|x| e(x.to_string()))?
                .label(*label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(&e)?;
        root.present().map_err(|x| e(x.to_string()))?;
        Ok(())
    })
}
