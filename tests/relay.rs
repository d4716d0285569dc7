//! The relay controller against the real firmware, running in simavr behind a pseudo-terminal:
//! the same serialport code a real Uno gets. `make -C rigs/arduino` builds the firmware and the
//! simulator; without them these tests say SKIPPED (and fail under CI).

mod common;

use common::relay_sim::{self, relay_pin, PinChange};
use jackbench::capture::plug::{Contact, Reading};
use jackbench::rig::relay::{RelayBoard, RelayError, RelayOptions, PROTOCOL};
use std::time::Duration;

fn options() -> RelayOptions {
    // The simulator does not reset when its port opens: no boot to wait out.
    RelayOptions { boot_wait: Duration::from_millis(300), ..RelayOptions::default() }
}

fn open(sim: &relay_sim::Sim) -> RelayBoard {
    RelayBoard::open(Some(&sim.pty), options()).expect("the simulated board answers the handshake")
}

/// Relay states over time from the pin log: (µs, mask) after every change.
fn states(log: &[PinChange]) -> Vec<(u64, u16)> {
    let mut mask = 0u16;
    log.iter()
        .filter_map(|c| {
            let k = (1..=16u32).find(|k| relay_pin(*k) == c.pin)?;
            if c.high {
                mask |= 1 << (k - 1);
            } else {
                mask &= !(1 << (k - 1));
            }
            Some((c.at_us, mask))
        })
        .collect()
}

#[test]
fn the_handshake_and_every_command_drive_the_pins() {
    let Some(sim) = relay_sim::start() else { return };
    let mut board = open(&sim);
    let info = board.info().clone();
    assert_eq!((info.name.as_str(), info.protocol, info.relays), ("jackbench-relay", PROTOCOL, 16));
    assert_eq!(board.state().expect("state"), 0);

    assert!(info.meter, "firmware 2.0.0 has the meter");
    board.route(0x0033).expect("route");
    assert_eq!(board.state().expect("state"), 0x0033);
    assert_eq!(sim.relays_on(), 0x0033, "relays 1, 2, 5 and 6 on their pins");
    assert_eq!(board.set(4, true).expect("set"), 0x003b);
    assert_eq!(board.set(1, false).expect("set"), 0x003a);
    assert_eq!(sim.relays_on(), 0x003a);
    assert_eq!(board.command("SETTLE 5").expect("settle"), "settle=5");
    assert_eq!(board.command("IDLE 0").expect("idle"), "idle=0");
    board.off().expect("off");
    assert_eq!((board.state().expect("state"), sim.relays_on()), (0, 0));
}

#[test]
fn bad_commands_get_an_error_reply_and_change_nothing() {
    let Some(sim) = relay_sim::start() else { return };
    let mut board = open(&sim);
    board.route(0x0003).expect("route");
    let long = format!("ROUTE {}", "1".repeat(80));
    for (cmd, code) in [
        ("FROB", "unknown-command"),
        ("SET 17 1", "range"),
        ("SET 0 1", "range"),
        ("SET 3 2", "bad-argument"),
        ("ROUTE 0x10000", "range"),
        // Relays 7..16 are the meter's: no route closes them.
        ("SET 9 1", "range"),
        ("ROUTE 0x0103", "range"),
        ("MEASURE T-T 0x0008", "bad-argument"),
        ("MEASURE T-X 0x0008", "bad-argument"),
        ("MEASURE ALL 0x0100", "range"),
        ("MEASURE ALL 0", "range"),
        ("ROUTE zz", "bad-argument"),
        ("SETTLE 5000", "range"),
        (long.as_str(), "line-too-long"),
    ] {
        match board.command(cmd) {
            Err(RelayError::Rejected { code: got, .. }) => assert_eq!(got, code, "{cmd}"),
            other => panic!("{cmd}: {other:?}"),
        }
    }
    assert_eq!(board.state().expect("state"), 0x0003);
    assert_eq!(sim.relays_on(), 0x0003);
}

#[test]
fn routes_change_break_before_make_with_the_settle_time() {
    let Some(sim) = relay_sim::start() else { return };
    let mut board = open(&sim);
    // Golden headset on the front jack (relays 1, 3), then the DUT on the rear jack (2, 4),
    // then the DUT on the front jack (1, 4).
    for mask in [0x0005, 0x000a, 0x0009] {
        board.route(mask).expect("route");
    }
    let history = states(&sim.pin_log());
    // Never two ports, never two headsets at once.
    for (at, m) in &history {
        assert!(m & 0x3 != 0x3 && m & 0xc != 0xc, "at {at} µs relays 0x{m:04x}");
    }
    // Between routes: the contacts open, the settle time passes, then the new ones close.
    let settle_us = 20_000;
    let mut last_open = None;
    for w in history.windows(2) {
        let ((_, before), (at, after)) = (w[0], w[1]);
        if after & !before != 0 {
            if let Some(opened) = last_open {
                let gap = at - opened;
                assert!(gap + 1_000 >= settle_us, "closed {gap} µs after opening");
            }
        } else {
            last_open = Some(at);
        }
    }
    assert_eq!(history.last().map(|s| s.1), Some(0x0009));
    // Relay 1 stays closed from the first route's end through the third: kept, not toggled.
    let toggles = sim.pin_log().iter().filter(|c| c.pin == relay_pin(1)).count();
    assert_eq!(toggles, 3, "relay 1: on, off (rear jack), on again");
}

#[test]
fn a_reset_mid_run_is_seen_and_the_route_re_applied() {
    let Some(sim) = relay_sim::start() else { return };
    let mut board = open(&sim);
    board.route(0x0009).expect("route");
    sim.reset();
    // The reset opens the relays; the next command finds the banner and restores the route.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(sim.relays_on(), 0, "a reset opens every relay");
    assert_eq!(board.state().expect("state after the reset"), 0x0009);
    assert_eq!(sim.relays_on(), 0x0009);
    let events = board.events.join("\n");
    assert!(events.contains("restarted (reset=external)") && events.contains("re-applied"), "{events}");
}

#[test]
fn a_board_that_stops_answering_is_a_clear_error() {
    let Some(sim) = relay_sim::start() else { return };
    let mut board = open(&sim);
    sim.pause();
    let e = board.route(0x0001).unwrap_err();
    sim.resume();
    let msg = e.to_string();
    assert!(matches!(e, RelayError::NoAnswer { .. }), "{msg}");
    assert!(msg.contains(&sim.pty) && msg.contains("stopped answering") && msg.contains("unknown state"), "{msg}");
}

#[test]
fn the_watchdog_opens_every_relay_when_the_firmware_hangs() {
    let Some(sim) = relay_sim::start() else { return };
    let mut board = open(&sim);
    board.route(0x0030).expect("route");
    assert_eq!(board.command("TEST WATCHDOG").expect("the test starts"), "hanging");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(sim.relays_on(), 0, "the watchdog reset the board");
    assert_eq!(board.state().expect("state"), 0x0030);
    assert!(board.events.iter().any(|e| e.contains("reset=watchdog")), "{:?}", board.events);
}

#[test]
fn the_idle_timeout_opens_every_relay() {
    let Some(sim) = relay_sim::start() else { return };
    let opts = RelayOptions { idle_off_s: 1, ..options() };
    let mut board = RelayBoard::open(Some(&sim.pty), opts).expect("handshake");
    board.route(0x0021).expect("route");
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(sim.relays_on(), 0, "opened after a second without a command");
    let state = board.command("STATE").expect("state");
    assert_eq!(state, "0x0000");
    assert!(board.events.iter().any(|e| e.contains("idle-off")), "{:?}", board.events);
}

fn jackbench() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_jackbench"))
}

/// A copy of qa-relay that does not wait for an auto-reset the simulator does not do.
fn relay_rig(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string("rigs/qa-relay.toml").expect("qa-relay");
    let text = text.replacen("idle_off_s = 60", "idle_off_s = 60\nboot_wait_ms = 300", 1);
    let path = dir.join("qa-relay.toml");
    std::fs::write(&path, text).expect("rig written");
    path
}

#[test]
fn a_relay_run_makes_the_same_capture_set_as_the_virtual_bench() {
    // A healthy CTIA plug in the DUT's socket (relay 4) for the electrical stage.
    let Some(sim) = relay_sim::start_with_plug(Some("socket 4\nT R2 64\nR1 R2 64\nS R2 2200\n")) else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let rig = relay_rig(dir.path());
    let (relayed, simulated) = (dir.path().join("relayed"), dir.path().join("simulated"));
    let out = jackbench()
        .args(["run", "--virtual-audio", "--seed", "7", "--fault", "dut:channel_dead", "--relay-port", &sim.pty])
        .arg("--rig")
        .arg(&rig)
        .arg("--out")
        .arg(&relayed)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("switched by the relay board on") && err.contains(&sim.pty), "{err}");
    let out = jackbench()
        .args(["run", "--virtual", "--seed", "7", "--fault", "dut:channel_dead", "--rig"])
        .arg(&rig)
        .arg("--out")
        .arg(&simulated)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    // The same plan, the same physics, the same seed: the same captures, byte for byte.
    let set = jackbench::capture::CaptureSet::load(&relayed).expect("set");
    assert_eq!(set.manifest.captures.len(), 7);
    for c in &set.manifest.captures {
        let a = std::fs::read(relayed.join(&c.file)).expect("relayed capture");
        let b = std::fs::read(simulated.join(&c.file)).expect("simulated capture");
        assert!(a == b, "{} differs", c.file);
    }
    let read = |d: &std::path::Path| -> serde_json::Value {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("diagnosis.json")).expect("diagnosis")).expect("json");
        v.as_object_mut().map(|o| o.remove("captures"));
        v
    };
    assert_eq!(read(&relayed), read(&simulated));
    assert_eq!(read(&relayed)["faults"][0]["code"], "headset.channel_dead");
    // The electrical stage read the DUT's plug through the firmware's meter first, and kept it.
    let plugs = &set.manifest.plugs;
    assert_eq!(plugs.len(), 1, "{plugs:?}");
    assert_eq!(plugs[0].component, "dut");
    let v = jackbench::analysis::plug::classify(&plugs[0].readings().expect("readings"), true);
    assert_eq!(v.pinout, Some(jackbench::analysis::plug::Pinout::Ctia), "{v:?}");
    assert!(v.findings.is_empty() && (v.left_ohms.unwrap_or(0.0) / 64.0 - 1.0).abs() < 0.03, "{v:?}");
    let virtual_set = jackbench::capture::CaptureSet::load(&simulated).expect("set");
    assert!(virtual_set.manifest.plugs.is_empty(), "the virtual bench of qa-relay has no meter");
    // The board made the plan's four routes, in order (the meter's relays 7–16 aside), and opened
    // everything at the end.
    let routes: Vec<u16> =
        states(&sim.pin_log()).iter().map(|s| s.1).filter(|m| m.count_ones() == 2 && m & 0xffc0 == 0).collect();
    let mut distinct = routes.clone();
    distinct.dedup();
    assert_eq!(distinct, [0x0005, 0x0009, 0x000a, 0x0011]);
    assert_eq!(sim.relays_on(), 0);
    // A plug whose right ear lost its conductor: the meter names it, with no sound fault given.
    sim.plug("socket 4\nT R2 64\nS R2 2200\n");
    let broken = dir.path().join("broken");
    let out = jackbench()
        .args(["run", "--virtual-audio", "--seed", "7", "--json", "--relay-port", &sim.pty, "--rig"])
        .arg(&rig)
        .arg("--out")
        .arg(&broken)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(d["faults"][0]["code"], "headset.open_contact", "{d}");
    assert_eq!(d["faults"][0]["component"], "dut");
    assert!(d["faults"][0]["evidence"].as_str().is_some_and(|e| e.contains("R1")), "{d}");
}

#[test]
fn a_board_that_goes_silent_mid_run_ends_it_and_keeps_the_captures() {
    let Some(sim) = relay_sim::start() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let rig = relay_rig(dir.path());
    let set = dir.path().join("set");
    let child = jackbench()
        .args(["run", "--virtual-audio", "--relay-port", &sim.pty, "--rig"])
        .arg(&rig)
        .arg("--out")
        .arg(&set)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    // Freeze the board while the first path is being captured.
    let manifest = set.join("capture-set.toml");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&manifest).is_ok_and(|m| m.contains("[[capture]]")) {
        assert!(std::time::Instant::now() < deadline, "no capture was made");
        std::thread::sleep(Duration::from_millis(1));
    }
    sim.pause();
    let out = child.wait_with_output().expect("ends");
    sim.resume();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("stopped answering") && err.contains("unknown state"), "{err}");
    let loaded = jackbench::capture::CaptureSet::load(&set).expect("a valid partial set");
    let made = loaded.manifest.captures.len();
    assert!((1..23).contains(&made), "{made}");
    assert_eq!(std::fs::read_dir(set.join("captures")).expect("captures").count(), made);
}

#[test]
fn a_monitor_holds_its_route_past_the_idle_timeout_and_through_a_reset() {
    let Some(sim) = relay_sim::start() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    // The board opens every relay after a second without a command; a soak holds a route for
    // hours, so the monitor must keep it.
    let text = std::fs::read_to_string(relay_rig(dir.path())).expect("rig");
    let rig = dir.path().join("qa-relay-idle.toml");
    std::fs::write(&rig, text.replacen("idle_off_s = 60", "idle_off_s = 1", 1)).expect("rig written");
    let out = dir.path().join("soak");
    let child = jackbench()
        .args(["monitor", "--virtual-audio", "--relay-port", &sim.pty, "--duration", "5s", "--json", "--rig"])
        .arg(&rig)
        .arg("--out")
        .arg(&out)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    // Past the idle timeout the route is still made: the board's two relays of the path.
    std::thread::sleep(Duration::from_millis(2_200));
    let route = sim.relays_on();
    assert_eq!(route.count_ones(), 2, "the path's port and headset relays, 0x{route:04x}");
    // The board restarts (its reset line), which opens every relay: the monitor makes the
    // route again and says so in its record.
    sim.reset();
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(sim.relays_on(), route, "the route made again after the reset");
    let o = child.wait_with_output().expect("ends");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "a healthy path: {err}");
    let marks: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "mark")
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    assert!(marks.iter().any(|m| m.starts_with("relay board: the board restarted")), "{marks:?}");
    // The route opened only at the reset and at the end: never by the idle timeout.
    let opened = states(&sim.pin_log()).iter().filter(|s| s.1 == 0).count();
    assert!(opened <= 3, "{opened} times every relay open: {:?}", states(&sim.pin_log()));
    assert_eq!(sim.relays_on(), 0, "every relay open at the end");
    assert!(!sim.pin_log().is_empty());
}

/// The plug in the DUT's socket (relay 4): one resistor between two contacts.
fn resistor(a: &str, b: &str, ohms: f64) -> String {
    format!("socket 4\n{a} {b} {ohms}\n")
}

/// The series resistance the meter reads beyond the plug's: the sense and ground relays and the
/// socket's two contacts, 50 mΩ each in the harness.
const LEADS_OHMS: f64 = 0.2;

#[test]
fn the_meter_reads_16_ohms_to_10_kilohms_within_3_percent_on_every_pair() {
    let Some(sim) = relay_sim::start_with_plug(None) else { return };
    let mut board = open(&sim);
    let pairs = [("T", "R1"), ("T", "R2"), ("T", "S"), ("R1", "R2"), ("R1", "S"), ("R2", "S")];
    let mut worst: f64 = 0.0;
    for (k, ohms) in
        [16.0, 22.0, 32.0, 47.0, 68.0, 100.0, 150.0, 300.0, 600.0, 1000.0, 1500.0, 2200.0, 4700.0, 10_000.0]
            .into_iter()
            .enumerate()
    {
        let (a, b) = pairs[k % pairs.len()];
        sim.plug(&resistor(a, b, ohms));
        let (ca, cb) = (Contact::parse(a).expect("a"), Contact::parse(b).expect("b"));
        let reading = board.measure_pair(ca, cb, 0x0008).expect("measured");
        let Reading::Ohms(got) = reading else { panic!("{a}-{b} {ohms} Ω read {reading:?}") };
        let error = got / (ohms + LEADS_OHMS) - 1.0;
        worst = worst.max(error.abs());
        eprintln!("{a}-{b} {ohms} Ω: read {got:.2} Ω ({:+.2} %)", 100.0 * error);
        assert!(error.abs() < 0.03, "{a}-{b}: {ohms} Ω read {got} Ω ({:+.2} %)", 100.0 * error);
    }
    eprintln!("worst error from 16 Ω to 10 kΩ: {:.2} %", 100.0 * worst);
}

#[test]
fn open_and_short_are_always_recognised() {
    let Some(sim) = relay_sim::start_with_plug(None) else { return };
    let mut board = open(&sim);
    // Nothing between the contacts, a megohm, and no plug in the socket at all: open.
    for plug in ["socket 4\n", &resistor("T", "S", 1e6), &resistor("T", "S", 300e3), "socket 5\nT S 32\n"] {
        sim.plug(plug);
        assert_eq!(board.measure_pair(Contact::T, Contact::S, 0x0008).expect("measured"), Reading::Open, "{plug}");
    }
    // A joined pair, down to the relays' own contacts: short.
    for ohms in [1e-3, 0.5, 1.2] {
        sim.plug(&resistor("R2", "S", ohms));
        assert_eq!(board.measure_pair(Contact::R2, Contact::S, 0x0008).expect("measured"), Reading::Short, "{ohms} Ω");
    }
}

#[test]
fn the_meter_never_meets_a_port_and_the_route_comes_back() {
    let Some(sim) = relay_sim::start_with_plug(Some("socket 4\nT R2 32\nR1 R2 32\nS R2 1500\n")) else { return };
    let mut board = open(&sim);
    board.route(0x0009).expect("the front jack to the DUT's socket");
    let all = board.measure(0x0008).expect("measured");
    assert_eq!(all.pairs.len(), 6);
    let ohms = |a, b| match all.between(a, b) {
        Some(Reading::Ohms(r)) => r,
        other => panic!("{a}-{b}: {other:?}"),
    };
    // A CTIA headset: each ear 32 Ω to ring 2, the microphone 1.5 kΩ; across the ears 64 Ω.
    assert!((ohms(Contact::T, Contact::R2) / 32.2 - 1.0).abs() < 0.03);
    assert!((ohms(Contact::T, Contact::R1) / 64.2 - 1.0).abs() < 0.03);
    assert!((ohms(Contact::R2, Contact::S) / 1500.2 - 1.0).abs() < 0.03);
    assert!((ohms(Contact::T, Contact::S) / 1532.2 - 1.0).abs() < 0.03);
    assert_eq!(board.state().expect("state"), 0x0009, "the route is back");
    assert_eq!(sim.relays_on(), 0x0009);
    // On the pins: whenever a meter relay (7..16) was closed, no port's relay (1, 2) was.
    for (at_us, mask) in states(&sim.pin_log()) {
        assert!(mask & 0xffc0 == 0 || mask & 0x0003 == 0, "at {at_us} µs: relays 0x{mask:04x}");
    }
    let meter_on = states(&sim.pin_log()).iter().any(|s| s.1 & 0xffc0 != 0);
    assert!(meter_on, "the meter was switched in");
}

#[test]
fn every_plug_the_harness_models_is_classified_from_the_firmware_s_readings() {
    use jackbench::analysis::plug::{button, classify, Pinout, Poles};
    let Some(sim) = relay_sim::start_with_plug(None) else { return };
    let mut board = open(&sim);
    // (plug file, the unit has a microphone, poles, pinout, findings as symptom on contacts)
    type Findings = &'static [(&'static str, [Contact; 2])];
    let cases: [(&str, bool, Poles, Option<Pinout>, Findings); 10] = [
        ("T R2 32\nR1 R2 32\nS R2 1500\n", true, Poles::Four, Some(Pinout::Ctia), &[]),
        ("T S 16\nR1 S 16\nR2 S 2200\n", true, Poles::Four, Some(Pinout::Omtp), &[]),
        ("T R2 300\nR1 R2 300\nS R2 0.01\n", false, Poles::Three, None, &[]),
        ("T R2 600\nR1 R2 600\nS R2 4700\n", true, Poles::Four, Some(Pinout::Ctia), &[]),
        (
            "T R2 32\nS R2 1500\n",
            true,
            Poles::Four,
            Some(Pinout::Ctia),
            &[("open_contact", [Contact::R1, Contact::R2])],
        ),
        ("T S 32\nR1 S 32\n", true, Poles::Four, Some(Pinout::Omtp), &[("open_contact", [Contact::R2, Contact::S])]),
        (
            "T R2 0.4\nR1 R2 32\nS R2 1500\n",
            true,
            Poles::Four,
            Some(Pinout::Ctia),
            &[("short", [Contact::T, Contact::R2])],
        ),
        ("T R2 32\nR1 R2 32\nS R2 0.3\n", true, Poles::Four, None, &[("short", [Contact::S, Contact::R2])]),
        (
            "T R2 32\nR1 R2 32\nS R2 1500\nS R2 240\n",
            true,
            Poles::Four,
            Some(Pinout::Ctia),
            &[("button", [Contact::S, Contact::R2])],
        ),
        (
            "T R2 32\nR1 R2 32\nS R2 1500\nT R1 0.2\n",
            true,
            Poles::Four,
            Some(Pinout::Ctia),
            &[("short", [Contact::T, Contact::R1])],
        ),
    ];
    for (plug, mic, poles, pinout, findings) in cases {
        sim.plug(&format!("socket 4\n{plug}"));
        let v = classify(&board.measure(0x0008).expect("measured"), mic);
        assert_eq!((v.poles, v.pinout), (poles, pinout), "{plug}");
        let got: Vec<(&str, [Contact; 2])> = v.findings.iter().map(|f| (f.symptom, f.contacts)).collect();
        assert!(findings.iter().all(|f| got.contains(f)), "{plug}: {:?}", v.findings);
        if findings.is_empty() {
            assert!(got.is_empty(), "{plug}: {:?}", v.findings);
        }
    }
    // The inline buttons, pressed one at a time on a CTIA headset with a 2.2 kΩ capsule: each read
    // in its window of the wired-headset specification.
    for (ohms, name) in [(0.0, "play"), (135.0, "assistant"), (240.0, "volume up"), (470.0, "volume down")] {
        let press = if ohms == 0.0 { "S R2 0.05\n".to_string() } else { format!("S R2 {ohms}\n") };
        sim.plug(&format!("socket 4\nT R2 32\nR1 R2 32\nS R2 2200\n{press}"));
        let reading = board.measure_pair(Contact::S, Contact::R2, 0x0008).expect("measured");
        let seen = match reading {
            Reading::Ohms(r) => r,
            Reading::Short => 0.0,
            Reading::Open => f64::INFINITY,
        };
        assert!(button(seen).is_some_and(|b| b.starts_with(name)), "{name}: {reading:?}");
    }
}

#[test]
fn the_plug_command_reads_an_omtp_headset_and_its_buttons() {
    use std::io::Write;
    // An OMTP headset (microphone on ring 2) in the DUT's socket.
    let Some(sim) = relay_sim::start_with_plug(Some("socket 4\nT S 32\nR1 S 32\nR2 S 2200\n")) else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let rig = relay_rig(dir.path());
    let o = jackbench().args(["plug", "--relay-port", &sim.pty, "--json", "--rig"]).arg(&rig).output().expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["headset"], "dut");
    assert_eq!((v["verdict"]["poles"].as_str(), v["verdict"]["pinout"].as_str()), (Some("four"), Some("omtp")), "{v}");
    assert!(v["verdict"]["left_ohms"].as_f64().is_some_and(|r| (r / 32.2 - 1.0).abs() < 0.03), "{v}");

    // The buttons: the operator holds each; the harness's plug gets the button's resistance.
    let mut child = jackbench()
        .args(["plug", "--buttons", "--relay-port", &sim.pty, "--json", "--rig"])
        .arg(&rig)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stdin = child.stdin.take().expect("stdin");
    std::thread::sleep(Duration::from_millis(800));
    for ohms in [0.05, 135.0, 240.0, 470.0] {
        sim.plug(&format!("socket 4\nT S 32\nR1 S 32\nR2 S 2200\nR2 S {ohms}\n"));
        stdin.write_all(b"\n").expect("Enter");
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(stdin);
    let o = child.wait_with_output().expect("ends");
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let buttons = v["buttons"].as_array().expect("buttons");
    assert_eq!(buttons.len(), 4, "{v}");
    for b in buttons {
        assert_eq!(b["window"], b["asked"], "{b}");
    }

    // A rig switched by hand has no meter.
    let o = jackbench().args(["plug", "--rig", "rigs/loopback-check.toml"]).output().expect("runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("relay board's meter"), "{err}");
}
