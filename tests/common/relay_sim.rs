//! The relay firmware running in simavr (`rigs/arduino/build/relay-sim`, built by
//! `make -C rigs/arduino`): its UART on a pseudo-terminal, its pins logged to a file.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The firmware and the harness, relative to the repository.
pub const FIRMWARE: &str = "rigs/arduino/build/relay.elf";
pub const HARNESS: &str = "rigs/arduino/build/relay-sim";

/// One change of a pin: simulated µs, the pin (`D4`), its level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinChange {
    pub at_us: u64,
    pub pin: String,
    pub high: bool,
}

/// A running board; stopped when dropped.
pub struct Sim {
    child: Child,
    pub pty: String,
    pins: PathBuf,
    plug: PathBuf,
    _dir: tempfile::TempDir,
}

/// The pin of relay `k` (1-based): D2..D7, then B0..B4 (D8..D12), then C0..C4 (A0..A4).
pub fn relay_pin(k: u32) -> String {
    match k {
        1..=6 => format!("D{}", k + 1),
        7..=11 => format!("B{}", k - 7),
        _ => format!("C{}", k - 12),
    }
}

/// The board, or `None` with a visible message when the firmware is not built; under CI a
/// missing build is a failure.
pub fn start() -> Option<Sim> {
    start_with_plug(None)
}

/// The board with a plug on the far side of its relays, for the meter: the harness's plug file
/// (`socket <k>`, `swap <k>`, `<A> <B> <ohms>` lines; see rigs/arduino/sim/relay-sim.c).
pub fn start_with_plug(plug: Option<&str>) -> Option<Sim> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (harness, firmware) = (root.join(HARNESS), root.join(FIRMWARE));
    if !harness.exists() || !firmware.exists() {
        if std::env::var_os("CI").is_some() {
            panic!("CI needs the relay firmware and its simulator ({HARNESS}); .ci/test builds them");
        }
        eprintln!("SKIPPED: the relay firmware is not built; `make -C rigs/arduino` builds it (gcc-avr, simavr)");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pins = dir.path().join("pins.log");
    let plug_file = dir.path().join("plug.txt");
    std::fs::write(&plug_file, plug.unwrap_or("")).expect("plug file");
    let mut child = Command::new(&harness)
        .arg(&firmware)
        .arg(&pins)
        .arg(&plug_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("relay-sim starts");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut pty = None;
    let mut line = String::new();
    while out.read_line(&mut line).expect("relay-sim's output") > 0 {
        if let Some(p) = line.trim().strip_prefix("PTY ") {
            pty = Some(p.to_string());
            break;
        }
        line.clear();
    }
    // Whatever simavr prints later must not fill the pipe and stall it.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let pty = pty.expect("relay-sim names its pty");
    Some(Sim { child, pty, pins, plug: plug_file, _dir: dir })
}

impl Sim {
    fn signal(&self, sig: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) on the child this struct owns; no memory is shared.
        let r = unsafe { libc::kill(pid, sig) };
        assert_eq!(r, 0, "signal {sig} to relay-sim");
    }

    /// Puts another plug (or the same one with a button pressed) on the far side of the relays.
    pub fn plug(&self, text: &str) {
        std::fs::write(&self.plug, text).expect("plug file");
        self.signal(libc::SIGUSR2);
        // The harness reads it at its next pass (every 512 steps, or when the board sleeps).
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    /// Resets the board as its reset line would.
    pub fn reset(&self) {
        self.signal(libc::SIGUSR1);
    }

    /// Freezes the board: it stops answering.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Every pin change so far.
    pub fn pin_log(&self) -> Vec<PinChange> {
        std::fs::read_to_string(&self.pins)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut w = l.split(' ');
                let at_us = w.next()?.parse().ok()?;
                let pin = w.next()?.to_string();
                let high = w.next()? == "1";
                Some(PinChange { at_us, pin, high })
            })
            .collect()
    }

    /// The relays whose pins are high now, as a mask.
    pub fn relays_on(&self) -> u16 {
        let log = self.pin_log();
        (1..=16u32)
            .filter(|k| {
                let pin = relay_pin(*k);
                log.iter().rev().find(|c| c.pin == pin).is_some_and(|c| c.high)
            })
            .fold(0, |m, k| m | 1 << (k - 1))
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.resume();
        self.signal(libc::SIGTERM);
        let _ = self.child.wait();
    }
}
