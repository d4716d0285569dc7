//! Reports as a person would see them: every PNG decodes to a picture that is not blank, the HTML
//! has the verdict, a card per fault and a row per capture, needs nothing from outside, and
//! shows hostile strings from the manifest as text.

mod common;

use jackbench::bench::run_plan;
use jackbench::capture::CaptureSet;
use jackbench::diagnosis::diagnose;
use jackbench::report::{write_report, Formats};
use jackbench::rig::virtual_bench::{InjectedFault, VirtualBench};
use jackbench::rig::RigFile;
use jackbench::stimulus::Stimulus;
use scraper::{Html, Selector};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;

/// A faulty qa-bench run in `dir`: the DUT's right ear dead, by sound alone (no plug read, so
/// the fault is the sound's `channel_dead`, not the meter's `open_contact`).
fn faulty_set(dir: &Path) -> CaptureSet {
    let rig = RigFile::load(Path::new("qa-bench")).expect("rig");
    let mut bench = VirtualBench::for_rig(&rig, 5).with_meter(false);
    bench.inject(&InjectedFault::parse("dut:channel_dead").expect("fault")).expect("ok");
    run_plan(&rig, &mut bench, dir, &AtomicBool::new(false), &mut |_| {}).expect("run");
    CaptureSet::load(dir).expect("set")
}

#[test]
fn every_plot_is_a_picture_and_the_page_holds_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = faulty_set(dir.path());
    let limits = set.manifest.limits.clone().unwrap_or_default();
    let d = diagnose(&set, &limits).expect("diagnosis");
    assert_eq!(d.faults.len(), 1);
    let files = write_report(&set, &d, &limits, dir.path(), Formats::default()).expect("report");
    let pngs: Vec<_> = files.iter().filter(|f| f.extension().is_some_and(|x| x == "png")).collect();
    // Matrix, balance, two responses, playback rub & buzz and THD over frequency, a spectrum per
    // tone capture (or tone segment of a sequence), an envelope per capture (or segment).
    let tones = d.captures.iter().filter(|c| matches!(c.measurements.signal, Stimulus::Sine { .. })).count();
    assert!(tones >= 4, "{tones} tone captures");
    assert_eq!(pngs.len(), 6 + tones + d.captures.len());
    for name in ["rub-buzz-playback.png", "thd-playback.png"] {
        assert!(pngs.iter().any(|p| p.ends_with(name)), "no {name}");
    }
    for p in &pngs {
        let common::PngLook { width: w, height: h, inked, colours, .. } = common::look_at_png(p);
        assert!(w >= 640 && h >= 150, "{}: {w}×{h}", p.display());
        // Axes, text and curves: some ink, many colours (antialiased text), far from a blank page.
        assert!(inked > 0.01 && colours > 20, "{}: {:.3} inked, {colours} colours", p.display(), inked);
    }

    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("html");
    assert!(!html.contains("http://") && !html.contains("https://"), "the page fetches nothing");
    let doc = Html::parse_document(&html);
    let sel = |s: &str| Selector::parse(s).expect("selector");
    let verdict: String = doc.select(&sel("header.verdict h1")).flat_map(|e| e.text()).collect();
    assert!(
        verdict.starts_with("FAIL") && verdict.contains("dut") && verdict.contains("headset.channel_dead"),
        "{verdict}"
    );
    let cards: Vec<String> = doc.select(&sel("div.card")).map(|e| e.text().collect()).collect();
    assert_eq!(cards.len(), d.faults.len());
    assert!(
        cards[0].contains("Evidence") && cards[0].contains("Fix") && cards[0].contains("confidence"),
        "{}",
        cards[0]
    );
    let rows = doc.select(&sel("table.captures tr.ok, table.captures tr.bad")).count();
    // A row per measurement: a sequence's segments each have one.
    assert_eq!(rows, d.captures.len(), "a row per measurement");
    assert!(d.captures.len() > set.manifest.captures.len(), "the plan's sequences are cut into segments");
    // Every capture a fault was found on is marked, and so is every capture with a value out,
    // in its cell: the one-sided tone to the dead ear shows its level as out (issue #13).
    let cells =
        |row: scraper::ElementRef| -> Vec<String> { row.select(&sel("td")).map(|c| c.text().collect()).collect() };
    let bad: Vec<Vec<String>> = doc.select(&sel("table.captures tr.bad")).map(cells).collect();
    for file in &d.faults[0].captures {
        assert!(bad.iter().any(|r| &r[1] == file), "{file} is not marked");
    }
    let level_out: Vec<&Vec<String>> = bad.iter().filter(|r| r[5].contains('✗')).collect();
    assert!(
        level_out.iter().any(|r| (r[3].ends_with("/tone-left") || r[3].ends_with("/tone-right")) && r[4] != "both"),
        "the one-sided tone to the dead ear: {bad:?}"
    );
    assert!(bad.iter().all(|r| d.faults[0].captures.contains(&r[1]) || r.iter().any(|c| c.contains('✗'))));
    // The plots that carry evidence or limits are inlined (the summary plots, and every plot of
    // a marked capture); the others are linked to their files beside the page, so a report
    // mails well (issue #13: 5-6.5 MB before).
    let images: Vec<&str> = doc.select(&sel("img")).filter_map(|e| e.value().attr("src")).collect();
    assert!(images.iter().all(|s| s.starts_with("data:image/png;base64,")), "images are inlined");
    let links: Vec<&str> = doc.select(&sel("details a")).filter_map(|e| e.value().attr("href")).collect();
    assert_eq!(images.len() + links.len(), pngs.len());
    assert!(links.iter().all(|l| dir.path().join(l).is_file()), "{links:?}");
    let marked: Vec<String> =
        bad.iter().map(|r| r[1].trim_start_matches("captures/").trim_end_matches(".wav").to_string()).collect();
    let captions: Vec<String> = doc.select(&sel("figcaption")).map(|e| e.text().collect()).collect();
    for m in &marked {
        assert!(captions.iter().any(|c| c.contains(m.as_str())), "{m}: its plots are inlined");
    }
    assert!(links.iter().all(|l| !marked.iter().any(|m| l.contains(m.as_str()))), "no marked capture only linked");
    let size = std::fs::metadata(dir.path().join("report.html")).expect("page").len();
    assert!(size < 1_500_000 && images.len() >= 4, "{size} bytes, {} plots inlined", images.len());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("diagnosis.json")).expect("json"))
            .expect("parses");
    assert_eq!(json["format"], "jackbench-diagnosis/1");
}

#[test]
fn strings_from_the_manifest_are_shown_as_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    faulty_set(dir.path());
    let manifest = dir.path().join("capture-set.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let hostile = "<script>alert(1)</script>";
    let text =
        text.replacen("bench = \"qa-bench\"", &format!("bench = \"{}\"", hostile.replace('"', "\\\"")), 1).replacen(
            "label = \"Headset under test\"",
            &format!("label = \"{hostile}\"\nserial = \"<img src=x onerror=alert(2)>\""),
            1,
        );
    std::fs::write(&manifest, text).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(["report", dir.path().to_str().expect("utf-8"), "--format", "html"])
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("html");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the serial shows as text");
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));
    let doc = Html::parse_document(&html);
    assert_eq!(doc.select(&Selector::parse("script").expect("selector")).count(), 0, "no script element");
    assert_eq!(doc.select(&Selector::parse("img[onerror]").expect("selector")).count(), 0);
    assert!(!dir.path().join("plots").exists(), "--format html writes no PNG files");
}

#[test]
fn a_live_capture_shows_its_latency_and_stream_problems() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut set = faulty_set(dir.path());
    // As a sound card would have recorded them: a latency on each capture, an underrun on one.
    for c in &mut set.manifest.captures {
        c.latency_s = Some(0.0123);
    }
    set.manifest.captures[2].stream_events = vec!["hw:1: output underrun (2×): the stimulus had a gap".into()];
    set.manifest.write(dir.path()).expect("manifest");
    let set = CaptureSet::load(dir.path()).expect("set");
    let limits = set.manifest.limits.clone().unwrap_or_default();
    let d = diagnose(&set, &limits).expect("diagnosis");
    write_report(&set, &d, &limits, dir.path(), Formats { html: true, png: false, json: false }).expect("report");
    let doc = Html::parse_document(&std::fs::read_to_string(dir.path().join("report.html")).expect("html"));
    let sel = |s: &str| Selector::parse(s).expect("selector");
    let rows: Vec<String> = doc.select(&sel("table.captures tr")).map(|r| r.text().collect()).collect();
    let with_latency = rows.iter().filter(|r| r.contains("12.3")).count();
    assert_eq!(with_latency, d.captures.len(), "{rows:#?}");
    // The stream's events show under each measurement of the capture they happened in.
    let events: Vec<String> = doc.select(&sel("tr.events")).map(|r| r.text().collect()).collect();
    let file = &set.manifest.captures[2].file;
    let of_that_capture = d.captures.iter().filter(|c| &c.measurements.file == file).count();
    assert!(of_that_capture >= 1);
    assert_eq!(events.len(), of_that_capture, "{events:#?}");
    assert!(events.iter().all(|e| e.contains("output underrun (2×)")), "{events:#?}");
}

#[test]
fn a_measured_plug_gets_its_section_with_every_pair_and_the_finding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rig = RigFile::load(Path::new("qa-bench")).expect("rig");
    let mut bench = VirtualBench::for_rig(&rig, 5).with_meter(true);
    bench.inject(&InjectedFault::parse("dut:short").expect("fault")).expect("ok");
    run_plan(&rig, &mut bench, dir.path(), &AtomicBool::new(false), &mut |_| {}).expect("run");
    let set = CaptureSet::load(dir.path()).expect("set");
    let limits = set.manifest.limits.clone().unwrap_or_default();
    let d = diagnose(&set, &limits).expect("diagnosis");
    assert_eq!(d.faults.first().map(|f| f.code.to_string()), Some("headset.short".into()), "{:?}", d.faults);
    write_report(&set, &d, &limits, dir.path(), Formats::default()).expect("report");
    let page = Html::parse_document(&std::fs::read_to_string(dir.path().join("report.html")).expect("page"));
    let h2 = Selector::parse("h2").expect("selector");
    assert!(page.select(&h2).any(|h| h.text().collect::<String>() == "The plug, measured"));
    let rows = Selector::parse("table.plug tr").expect("selector");
    // A header and the six pairs.
    assert_eq!(page.select(&rows).count(), 7);
    let finding = Selector::parse("li.bad").expect("selector");
    let text: Vec<String> = page.select(&finding).map(|f| f.text().collect()).collect();
    assert!(text.len() == 1 && text[0].starts_with("short"), "{text:?}");
}
