//! The relay board: an Arduino Uno running `rigs/arduino/firmware/relay.c`, driven over its
//! serial line, as the [`SwitchMatrix`] of rigs whose `[switch] kind = "relay"`.
//!
//! # The protocol (version 2; version 1 without `MEASURE` is still driven)
//! ASCII lines ending in `\n` at 115200 baud, 8N1; the host sends one command and waits for its
//! reply, which is one line: `OK …` or `ERR <code> <text>`. The board also speaks unasked:
//! `READY <name> <version> proto=<n> relays=<n> reset=<cause>` when it (re)starts, and
//! `EVENT …` (the idle timeout opened its relays). Relay states are 16-bit masks, bit `k − 1`
//! for relay `k`, written `0x0013`.
//!
//! | command | reply |
//! |---|---|
//! | `ID` | `OK jackbench-relay 2.0.0 proto=2 relays=16 meter=7-16` |
//! | `STATE` | `OK 0x0013` |
//! | `SET <k> <0\|1>` | `OK <mask>` |
//! | `ROUTE <mask>` | `OK <mask>`, break-before-make with the settle time |
//! | `OFF` | `OK 0x0000` |
//! | `SETTLE <ms>` | `OK settle=<ms>` |
//! | `IDLE <s>` | `OK idle=<s>` (relays open after `s` seconds without a command; 0 never) |
//! | `MEASURE <A-B\|ALL> <socket mask>` | `OK T-R1 63.63 T-R2 31.90 … R2-S OPEN` (protocol 2: ohms, `OPEN`, `SHORT`) |
//!
//! On a board with the meter (`meter=7-16`), relays 7 to 16 are its switches and `SET`/`ROUTE`
//! refuse them; `MEASURE` opens every audio relay but the plug's socket, measures, and puts the
//! route back, each step break-before-make.
//!
//! # Trust
//! Every command has a timeout and is retried; a reply that is not a whole line of the protocol
//! (garbage, a partial line, a reply that does not fit the command) is rejected, never acted on.
//! A `READY` banner mid-run means the board reset (its relays opened): it is identified again
//! and the route re-applied before the command is repeated. A board that does not answer after
//! the retries is an error: its relays are then in an unknown state.

use super::{RigError, SwitchMatrix};
use crate::capture::plug::{Contact, PairReading, PlugReadings, Reading};
use crate::capture::PathSpec;
use serialport::SerialPort;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// The protocol this controller speaks.
pub const PROTOCOL: u32 = 2;
/// The oldest protocol this jackbench still drives (a board without a meter).
pub const PROTOCOL_MIN: u32 = 1;
/// On a board with a meter (protocol 2), the relays that are the meter's, not audio groups.
pub const METER_RELAYS: std::ops::RangeInclusive<u32> = 7..=16;
/// The name the firmware gives itself.
pub const BOARD_NAME: &str = "jackbench-relay";
/// The line rate.
pub const BAUD: u32 = 115_200;

/// USB ids of Arduino Uno boards and the USB-serial chips of common clones: (vendor, product).
pub const UNO_USB_IDS: [(u16, u16, &str); 8] = [
    (0x2341, 0x0043, "Arduino Uno R3"),
    (0x2341, 0x0001, "Arduino Uno"),
    (0x2341, 0x0243, "Arduino Uno R3 (16U2)"),
    (0x2A03, 0x0043, "Arduino.org Uno"),
    (0x1A86, 0x7523, "Uno clone (CH340)"),
    (0x1A86, 0x55D4, "Uno clone (CH9102)"),
    (0x0403, 0x6001, "Uno clone (FT232R)"),
    (0x10C4, 0xEA60, "Uno clone (CP2102)"),
];

/// What the board says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardInfo {
    pub name: String,
    pub firmware: String,
    pub protocol: u32,
    pub relays: u32,
    /// Whether it has the meter (`meter=7-16`): `MEASURE` gives DC resistances.
    pub meter: bool,
}

/// How the controller treats the board.
#[derive(Debug, Clone, Copy)]
pub struct RelayOptions {
    /// The relays' settle time, ms: break-before-make waits it twice per route change.
    pub settle_ms: u32,
    /// The board opens every relay after this long without a command, s (0: never).
    pub idle_off_s: u32,
    /// How long to wait after opening the port for the board's banner: opening an Uno's port
    /// resets it, and its bootloader runs first.
    pub boot_wait: Duration,
    /// How long a reply may take beyond the settle times of the command.
    pub reply_timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            settle_ms: 20,
            idle_off_s: 0,
            boot_wait: Duration::from_millis(2_500),
            reply_timeout: Duration::from_millis(500),
            retries: 2,
        }
    }
}

/// Why the board could not be used; each names the serial port.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("{port}: cannot open: {message}")]
    Open { port: String, message: String },
    #[error("no relay board found: {0}")]
    NotFound(String),
    #[error("{port}: not a board this jackbench drives: {message}")]
    Refused { port: String, message: String },
    #[error("{port}: the relay board stopped answering ({command:?} got no valid reply in {tries} tries); its relays are in an unknown state")]
    NoAnswer { port: String, command: String, tries: u32 },
    #[error("{port}: the board rejected {command:?}: {code}: {text}")]
    Rejected { port: String, command: String, code: String, text: String },
    #[error("{port}: {message}")]
    Io { port: String, message: String },
}

/// One line from the board, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Ok(String),
    Err {
        code: String,
        text: String,
    },
    Ready {
        info: BoardInfo,
        reset: String,
    },
    Event(String),
    /// Anything else: not to be trusted.
    Garbage(String),
}

/// Parses `<name> <version> proto=<n> relays=<n>`.
fn parse_info(words: &[&str]) -> Option<BoardInfo> {
    let field = |key: &str| words.iter().find_map(|w| w.strip_prefix(key)).and_then(|v| v.parse().ok());
    Some(BoardInfo {
        name: words.first()?.to_string(),
        firmware: words.get(1)?.to_string(),
        protocol: field("proto=")?,
        relays: field("relays=")?,
        meter: words.iter().any(|w| w.starts_with("meter=")),
    })
}

fn parse_line(raw: &[u8]) -> Line {
    let garbage = || Line::Garbage(String::from_utf8_lossy(raw).into_owned());
    let Ok(text) = std::str::from_utf8(raw) else { return garbage() };
    let text = text.trim_end_matches('\r');
    if !text.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return garbage();
    }
    let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    match words.first().copied() {
        Some("OK") => Line::Ok(words[1..].join(" ")),
        Some("ERR") if words.len() >= 2 => Line::Err { code: words[1].to_string(), text: words[2..].join(" ") },
        Some("READY") => match (parse_info(&words[1..]), words.iter().find_map(|w| w.strip_prefix("reset="))) {
            (Some(info), Some(reset)) => Line::Ready { info, reset: reset.to_string() },
            _ => garbage(),
        },
        Some("EVENT") => Line::Event(words[1..].join(" ")),
        _ => garbage(),
    }
}

/// A relay mask as the protocol writes it.
fn parse_mask(payload: &str) -> Option<u16> {
    u16::from_str_radix(payload.strip_prefix("0x")?, 16).ok().filter(|_| payload.len() == 6)
}

/// Whether `payload` is the reply `command` gets (anything else is stale or garbled).
fn fits(command: &str, payload: &str) -> bool {
    let verb = command.split(' ').next().unwrap_or("");
    match verb {
        "ID" => payload.starts_with(BOARD_NAME) || parse_info(&payload.split(' ').collect::<Vec<_>>()).is_some(),
        "STATE" | "SET" | "ROUTE" | "OFF" => parse_mask(payload).is_some(),
        "SETTLE" => payload.starts_with("settle="),
        "IDLE" => payload.starts_with("idle="),
        "MEASURE" => parse_readings(payload).is_some(),
        _ => true,
    }
}

/// Parses `MEASURE`'s reply: `T-R1 63.63 T-R2 31.90 …`, a pair and its value at a time.
fn parse_readings(payload: &str) -> Option<Vec<PairReading>> {
    let words: Vec<&str> = payload.split(' ').collect();
    if words.is_empty() || !words.len().is_multiple_of(2) {
        return None;
    }
    words.chunks(2).map(|w| PairReading::parse(w[0], w[1])).collect()
}

/// What a `MEASURE ALL` spends reading the ADC (six pairs, each on one or two ranges of 64
/// conversions of 104 µs), ms, with room to spare.
const MEASURE_READINGS_MS: u32 = 300;

/// The serial port of the first board with a known USB id.
pub fn find_board() -> Result<String, RelayError> {
    let ports =
        serialport::available_ports().map_err(|e| RelayError::NotFound(format!("cannot list serial ports: {e}")))?;
    for p in &ports {
        if let serialport::SerialPortType::UsbPort(usb) = &p.port_type {
            if UNO_USB_IDS.iter().any(|(v, pid, _)| *v == usb.vid && *pid == usb.pid) {
                return Ok(p.port_name.clone());
            }
        }
    }
    let seen: Vec<String> = ports
        .iter()
        .map(|p| match &p.port_type {
            serialport::SerialPortType::UsbPort(u) => format!("{} (USB {:04x}:{:04x})", p.port_name, u.vid, u.pid),
            _ => p.port_name.clone(),
        })
        .collect();
    Err(RelayError::NotFound(format!(
        "no Arduino Uno or clone among the serial ports ({}); plug the board in or name its port (--relay-port)",
        if seen.is_empty() { "there are none".to_string() } else { seen.join(", ") }
    )))
}

/// An open, identified relay board.
pub struct RelayBoard {
    port: Box<dyn SerialPort>,
    name: String,
    info: BoardInfo,
    opts: RelayOptions,
    /// The route last asked for, re-applied after a reset.
    route: u16,
    /// Bytes read past the last line.
    rx: Vec<u8>,
    /// What happened on the line that was not a reply: resets, events, rejected lines.
    pub events: Vec<String>,
}

impl std::fmt::Debug for RelayBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayBoard").field("port", &self.name).field("info", &self.info).finish()
    }
}

impl RelayBoard {
    /// Opens the board on `path` (a found one when `None`), waits out its auto-reset and
    /// identifies it.
    pub fn open(path: Option<&str>, opts: RelayOptions) -> Result<RelayBoard, RelayError> {
        let path = match path {
            Some(p) => p.to_string(),
            None => find_board()?,
        };
        let port = serialport::new(&path, BAUD)
            .timeout(Duration::from_millis(10))
            .open()
            .map_err(|e| RelayError::Open { port: path.clone(), message: e.to_string() })?;
        RelayBoard::attach(port, &path, opts)
    }

    /// Identifies the board behind an open port and puts it in a known state (settle time,
    /// idle timeout, every relay open).
    pub fn attach(mut port: Box<dyn SerialPort>, name: &str, opts: RelayOptions) -> Result<RelayBoard, RelayError> {
        port.set_timeout(Duration::from_millis(10))
            .map_err(|e| RelayError::Io { port: name.to_string(), message: e.to_string() })?;
        let unknown = BoardInfo { name: String::new(), firmware: String::new(), protocol: 0, relays: 0, meter: false };
        let mut board = RelayBoard {
            port,
            name: name.to_string(),
            info: unknown,
            opts,
            route: 0,
            rx: Vec::new(),
            events: Vec::new(),
        };
        // The banner of a board that just reset; whatever else is waiting is stale.
        let deadline = Instant::now() + opts.boot_wait;
        while let Some(line) = board.read_line(deadline)? {
            if matches!(line, Line::Ready { .. }) {
                break;
            }
        }
        board.rx.clear();
        let _ = board.port.clear(serialport::ClearBuffer::Input);
        board.identify().map_err(|e| match e {
            RelayError::NoAnswer { port, .. } => RelayError::Refused {
                port,
                message:
                    "nothing answers ID with the relay protocol: is it a board flashed with rigs/arduino's firmware, \
                          at 115200 baud?"
                        .into(),
            },
            other => other,
        })?;
        board.configure()?;
        Ok(board)
    }

    pub fn info(&self) -> &BoardInfo {
        &self.info
    }

    pub fn port_name(&self) -> &str {
        &self.name
    }

    fn identify(&mut self) -> Result<(), RelayError> {
        let payload = self.exchange("ID", false)?;
        let words: Vec<&str> = payload.split(' ').collect();
        let info = parse_info(&words).ok_or_else(|| RelayError::Refused {
            port: self.name.clone(),
            message: format!("it identifies as \"{payload}\""),
        })?;
        self.check(&info)?;
        self.info = info;
        Ok(())
    }

    fn check(&self, info: &BoardInfo) -> Result<(), RelayError> {
        if info.name != BOARD_NAME {
            return Err(RelayError::Refused {
                port: self.name.clone(),
                message: format!("it is \"{}\", not {BOARD_NAME}", info.name),
            });
        }
        if !(PROTOCOL_MIN..=PROTOCOL).contains(&info.protocol) {
            return Err(RelayError::Refused {
                port: self.name.clone(),
                message: format!(
                    "its firmware {} speaks protocol {}, and this jackbench speaks protocols {PROTOCOL_MIN} to {PROTOCOL}: flash rigs/arduino's firmware",
                    info.firmware, info.protocol
                ),
            });
        }
        Ok(())
    }

    /// The settle time and idle timeout, then the route wanted (every relay open at first).
    fn configure(&mut self) -> Result<(), RelayError> {
        self.exchange(&format!("SETTLE {}", self.opts.settle_ms), false)?;
        self.exchange(&format!("IDLE {}", self.opts.idle_off_s), false)?;
        let route = self.route;
        let got = self.exchange(&format!("ROUTE 0x{route:04x}"), false)?;
        self.expect_mask(&got, route, "ROUTE")
    }

    fn expect_mask(&self, payload: &str, want: u16, command: &str) -> Result<(), RelayError> {
        match parse_mask(payload) {
            Some(m) if m == want => Ok(()),
            _ => Err(RelayError::Io {
                port: self.name.clone(),
                message: format!("{command}: the board reports relays {payload}, not 0x{want:04x}"),
            }),
        }
    }

    /// The relays closed now.
    pub fn state(&mut self) -> Result<u16, RelayError> {
        let p = self.command("STATE")?;
        parse_mask(&p).ok_or_else(|| RelayError::Io { port: self.name.clone(), message: format!("STATE: {p}") })
    }

    /// Closes exactly the relays of `mask`, break-before-make.
    pub fn route(&mut self, mask: u16) -> Result<(), RelayError> {
        self.route = mask;
        let p = self.command(&format!("ROUTE 0x{mask:04x}"))?;
        self.expect_mask(&p, mask, "ROUTE")
    }

    /// Opens or closes one relay (1-based).
    pub fn set(&mut self, relay: u32, on: bool) -> Result<u16, RelayError> {
        let p = self.command(&format!("SET {relay} {}", u8::from(on)))?;
        let mask =
            parse_mask(&p).ok_or_else(|| RelayError::Io { port: self.name.clone(), message: format!("SET: {p}") })?;
        self.route = mask;
        Ok(mask)
    }

    /// Checks that the relays are as last asked, which also keeps a board's idle timeout from
    /// opening them; a route found open (by the idle timeout, or a restart the line did not show)
    /// is made again. Returns the board's events this took (resets, routes made again).
    pub fn hold(&mut self) -> Result<Vec<String>, RelayError> {
        let before = self.events.len();
        let now = self.state()?;
        if now != self.route {
            let want = self.route;
            self.events.push(format!("the relays were 0x{now:04x}, not the route 0x{want:04x}: made again"));
            self.route(want)?;
        }
        Ok(self.events[before.min(self.events.len())..].to_vec())
    }

    /// The DC resistance between every pair of the plug's contacts, the plug joined to the bus
    /// by the relays of `socket` (its headset socket's group). The board opens every other audio
    /// relay first and puts the route back after (protocol 2; a board without a meter is an
    /// error that says so).
    pub fn measure(&mut self, socket: u16) -> Result<PlugReadings, RelayError> {
        self.measure_with(&format!("MEASURE ALL 0x{socket:04x}"))
    }

    /// The DC resistance between `a` and `b` only.
    pub fn measure_pair(&mut self, a: Contact, b: Contact, socket: u16) -> Result<Reading, RelayError> {
        let r = self.measure_with(&format!("MEASURE {a}-{b} 0x{socket:04x}"))?;
        r.between(a, b).ok_or_else(|| RelayError::Io {
            port: self.name.clone(),
            message: format!("MEASURE {a}-{b}: the reply has no {a}-{b}"),
        })
    }

    fn measure_with(&mut self, command: &str) -> Result<PlugReadings, RelayError> {
        if !self.info.meter {
            return Err(RelayError::Refused {
                port: self.name.clone(),
                message: format!(
                    "its firmware {} (protocol {}) has no meter: a board wired for one (rigs/arduino/README.md) with firmware 2.0.0 measures the plug",
                    self.info.firmware, self.info.protocol
                ),
            });
        }
        let payload = self.command(command)?;
        let pairs = parse_readings(&payload).ok_or_else(|| RelayError::Io {
            port: self.name.clone(),
            message: format!("{command}: not readings: {payload}"),
        })?;
        Ok(PlugReadings { pairs })
    }

    /// Opens every relay.
    pub fn off(&mut self) -> Result<(), RelayError> {
        self.route = 0;
        let p = self.command("OFF")?;
        self.expect_mask(&p, 0, "OFF")
    }

    /// Sends one command line and returns the payload of its `OK` reply; resets of the board
    /// on the way are recovered from.
    pub fn command(&mut self, line: &str) -> Result<String, RelayError> {
        self.exchange(line, true)
    }

    /// How long a command may take: its settle times plus the reply timeout.
    fn budget(&self, line: &str) -> Duration {
        let settles = if line.starts_with("ROUTE") || line.starts_with("SET") || line.starts_with("OFF") {
            2
        } else if line.starts_with("MEASURE") {
            // In and out break-before-make (4), a pair's relays (6), and the readings' time.
            10 + MEASURE_READINGS_MS / self.opts.settle_ms.max(1)
        } else {
            0
        };
        self.opts.reply_timeout + Duration::from_millis(u64::from(settles * self.opts.settle_ms))
    }

    fn exchange(&mut self, line: &str, recover: bool) -> Result<String, RelayError> {
        let tries = self.opts.retries + 1;
        'attempt: for attempt in 0..tries {
            if attempt > 0 {
                // Whatever the last attempt left on the line is stale now.
                std::thread::sleep(Duration::from_millis(20));
                self.rx.clear();
                let _ = self.port.clear(serialport::ClearBuffer::Input);
            }
            self.send(line)?;
            let deadline = Instant::now() + self.budget(line);
            loop {
                match self.read_line(deadline)? {
                    None => {
                        self.events.push(format!("no reply to {line:?} in {:?}", self.budget(line)));
                        continue 'attempt;
                    }
                    Some(Line::Ok(payload)) if fits(line, &payload) => return Ok(payload),
                    Some(Line::Ok(payload)) => {
                        self.events.push(format!("ignored a reply that is not {line:?}'s: OK {payload}"))
                    }
                    Some(Line::Err { code, text }) => {
                        return Err(RelayError::Rejected {
                            port: self.name.clone(),
                            command: line.to_string(),
                            code,
                            text,
                        })
                    }
                    Some(Line::Event(e)) => self.events.push(format!("board: {e}")),
                    Some(Line::Ready { info, reset }) => {
                        self.events.push(format!("the board restarted (reset={reset}); its relays opened"));
                        self.check(&info)?;
                        self.info = info;
                        if !recover {
                            continue 'attempt;
                        }
                        // Its relays opened: put the board back as it was, then ask again.
                        self.configure()?;
                        self.events.push(format!("route 0x{:04x} re-applied", self.route));
                        continue 'attempt;
                    }
                    Some(Line::Garbage(g)) => {
                        self.events.push(format!("rejected a line that is not the protocol: {g:?}"));
                        continue 'attempt;
                    }
                }
            }
        }
        Err(RelayError::NoAnswer { port: self.name.clone(), command: line.to_string(), tries })
    }

    fn send(&mut self, line: &str) -> Result<(), RelayError> {
        let io =
            |e: std::io::Error| RelayError::Io { port: self.name.clone(), message: format!("writing {line:?}: {e}") };
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.port.write_all(&bytes).map_err(io)?;
        self.port.flush().map_err(|e| RelayError::Io { port: self.name.clone(), message: e.to_string() })
    }

    /// The next whole line before `deadline`; `None` when none came (a partial line is dropped).
    fn read_line(&mut self, deadline: Instant) -> Result<Option<Line>, RelayError> {
        /// A line longer than this is not the protocol.
        const LINE_MAX: usize = 256;
        let mut buf = [0u8; 128];
        loop {
            if let Some(end) = self.rx.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.rx.drain(..=end).collect();
                let line = &line[..line.len() - 1];
                if line.iter().all(|b| *b == b'\r') {
                    continue;
                }
                return Ok(Some(parse_line(line)));
            }
            if self.rx.len() > LINE_MAX {
                let junk: Vec<u8> = std::mem::take(&mut self.rx);
                return Ok(Some(Line::Garbage(String::from_utf8_lossy(&junk).into_owned())));
            }
            if Instant::now() >= deadline {
                if !self.rx.is_empty() {
                    let partial = String::from_utf8_lossy(&self.rx).into_owned();
                    self.events.push(format!("dropped a partial line: {partial:?}"));
                    self.rx.clear();
                }
                return Ok(None);
            }
            match self.port.read(&mut buf) {
                Ok(n) => self.rx.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut || e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(RelayError::Io { port: self.name.clone(), message: format!("reading: {e}") });
                }
            }
        }
    }
}

/// The switch matrix of a relay rig: which relays each component closes.
pub struct RelaySwitch {
    board: RelayBoard,
    /// Component id → relay mask.
    relays: HashMap<String, u16>,
    /// The rig's `[switch] meter`: `None` measures when the board has the meter.
    meter: Option<bool>,
}

impl RelaySwitch {
    /// `relays`: component id → the relay mask it closes (see `RigFile::relay_masks`).
    pub fn new(board: RelayBoard, relays: HashMap<String, u16>) -> RelaySwitch {
        RelaySwitch { board, relays, meter: None }
    }

    /// The rig's wish for the meter (`[switch] meter`): `Some(true)` makes a board without one
    /// an error at the electrical stage, `Some(false)` skips the stage.
    pub fn with_meter(mut self, meter: Option<bool>) -> RelaySwitch {
        self.meter = meter;
        self
    }

    /// The relays a path closes.
    pub fn mask(&self, path: &PathSpec) -> u16 {
        path.ids().iter().filter_map(|id| self.relays.get(*id)).fold(0, |m, r| m | r)
    }
}

impl SwitchMatrix for RelaySwitch {
    fn connect(&mut self, path: &PathSpec) -> Result<(), RigError> {
        let mask = self.mask(path);
        self.board.route(mask).map_err(|e| RigError::Switch { path: path.to_string(), message: e.to_string() })
    }

    fn disconnect_all(&mut self) -> Result<(), RigError> {
        self.board.off().map_err(|e| RigError::Switch { path: "every relay open".into(), message: e.to_string() })
    }

    fn hold(&mut self) -> Result<Vec<String>, RigError> {
        let route = self.board.route;
        self.board
            .hold()
            .map_err(|e| RigError::Switch { path: format!("route 0x{route:04x} held"), message: e.to_string() })
    }

    fn measure_plug(&mut self, headset: &str) -> Result<Option<PlugReadings>, RigError> {
        let name = format!("relay board {} (plug of {headset})", self.board.name);
        let device = || name.clone();
        match (self.meter, self.board.info.meter) {
            (Some(false), _) | (None, false) => return Ok(None),
            (Some(true), false) => {
                return Err(RigError::Device {
                    device: device(),
                    message: format!(
                        "the rig asks for the meter (switch.meter = true) and firmware {} (protocol {}) has none",
                        self.board.info.firmware, self.board.info.protocol
                    ),
                })
            }
            _ => {}
        }
        let socket = self.relays.get(headset).copied().unwrap_or(0);
        if socket == 0 {
            return Err(RigError::Device {
                device: device(),
                message: "the headset has no relays, so its plug cannot be joined to the meter".into(),
            });
        }
        self.board.measure(socket).map(Some).map_err(|e| RigError::Device { device: device(), message: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serialport::TTYPort;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    #[test]
    fn lines_are_parsed_or_rejected() {
        assert_eq!(parse_line(b"OK 0x0013"), Line::Ok("0x0013".into()));
        assert_eq!(
            parse_line(b"ERR range relay out of range (1..16)"),
            Line::Err { code: "range".into(), text: "relay out of range (1..16)".into() }
        );
        let ready = parse_line(b"READY jackbench-relay 1.0.0 proto=1 relays=16 reset=watchdog");
        let Line::Ready { info, reset } = ready else { panic!("{ready:?}") };
        assert_eq!((info.protocol, info.relays, reset.as_str()), (1, 16, "watchdog"));
        assert_eq!(parse_line(b"EVENT idle-off 0x0000"), Line::Event("idle-off 0x0000".into()));
        for junk in [&b"\xff\xfeOK"[..], b"OK\x07 0x0001", b"HELLO", b"READY who knows", b""] {
            assert!(matches!(parse_line(junk), Line::Garbage(_)), "{junk:?}");
        }
        assert_eq!(parse_mask("0x0013"), Some(0x13));
        assert_eq!(parse_mask("0x13"), None);
        assert!(fits("ROUTE 0x0003", "0x0003") && !fits("ROUTE 0x0003", "settle=20") && !fits("SETTLE 5", "0x0000"));
    }

    /// How the fake board misbehaves.
    #[derive(Default)]
    struct Script {
        /// Replies to send before the next real reply, as raw bytes.
        inject: Vec<Vec<u8>>,
        /// Say nothing at all.
        silent: bool,
        /// Send the injected bytes but not the reply, once.
        swallow_reply: bool,
        /// Announce itself with this protocol version.
        protocol: u32,
    }

    /// A board in Rust on the other end of a pseudo-terminal: the protocol, the relay state.
    fn fake_board(script: Arc<Mutex<Script>>, stop: Arc<AtomicBool>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let (mut master, slave) = TTYPort::pair().expect("a pty pair");
        let name = slave.name().expect("the slave's path");
        // The slave stays open here so the pty lives until the test ends.
        let handle = std::thread::spawn(move || {
            let _slave = slave;
            master.set_timeout(Duration::from_millis(5)).expect("timeout");
            let mut seen = Vec::new();
            let mut state = 0u16;
            let mut line = Vec::new();
            let mut byte = [0u8; 1];
            while !stop.load(Ordering::SeqCst) {
                match master.read(&mut byte) {
                    Ok(1) if byte[0] == b'\n' => {}
                    Ok(1) => {
                        line.push(byte[0]);
                        continue;
                    }
                    _ => continue,
                }
                let cmd = String::from_utf8_lossy(&line).into_owned();
                line.clear();
                seen.push(cmd.clone());
                let mut s = script.lock().expect("script");
                if s.silent {
                    continue;
                }
                for raw in s.inject.drain(..) {
                    master.write_all(&raw).expect("write");
                }
                if std::mem::take(&mut s.swallow_reply) {
                    continue;
                }
                let words: Vec<&str> = cmd.split(' ').collect();
                let reply = match words.as_slice() {
                    ["ID"] => format!("OK jackbench-relay 9.9.9 proto={} relays=16", s.protocol),
                    ["STATE"] => format!("OK 0x{state:04x}"),
                    ["OFF"] => {
                        state = 0;
                        "OK 0x0000".into()
                    }
                    ["ROUTE", m] => {
                        state = u16::from_str_radix(m.trim_start_matches("0x"), 16).unwrap_or(0);
                        format!("OK 0x{state:04x}")
                    }
                    ["SETTLE", v] => format!("OK settle={v}"),
                    ["IDLE", v] => format!("OK idle={v}"),
                    _ => "ERR unknown-command use ID STATE SET ROUTE OFF SETTLE IDLE".into(),
                };
                master.write_all(format!("{reply}\n").as_bytes()).expect("write");
            }
            seen
        });
        (name, handle)
    }

    fn quick() -> RelayOptions {
        RelayOptions {
            boot_wait: Duration::from_millis(50),
            reply_timeout: Duration::from_millis(100),
            ..Default::default()
        }
    }

    /// A running fake board and what steers it.
    struct Fake {
        script: Arc<Mutex<Script>>,
        stop: Arc<AtomicBool>,
        handle: std::thread::JoinHandle<Vec<String>>,
        name: String,
    }

    impl Fake {
        fn start(script: Script) -> Fake {
            let script = Arc::new(Mutex::new(script));
            let stop = Arc::new(AtomicBool::new(false));
            let (name, handle) = fake_board(script.clone(), stop.clone());
            Fake { script, stop, handle, name }
        }

        fn script(&self) -> std::sync::MutexGuard<'_, Script> {
            self.script.lock().expect("script")
        }

        /// Stops the board; the commands it received.
        fn finish(self) -> Vec<String> {
            self.stop.store(true, Ordering::SeqCst);
            self.handle.join().expect("fake board")
        }
    }

    fn setup(script: Script) -> (RelayBoard, Fake) {
        let fake = Fake::start(script);
        let board = RelayBoard::open(Some(&fake.name), quick()).expect("handshake");
        (board, fake)
    }

    #[test]
    fn the_handshake_identifies_and_puts_the_board_in_a_known_state() {
        let (mut board, fake) = setup(Script { protocol: 1, ..Default::default() });
        assert_eq!(board.info().firmware, "9.9.9");
        board.route(0x0005).expect("route");
        assert_eq!(board.state().expect("state"), 0x0005);
        board.off().expect("off");
        let seen = fake.finish();
        assert_eq!(&seen[..4], ["ID", "SETTLE 20", "IDLE 0", "ROUTE 0x0000"]);
    }

    #[test]
    fn a_board_of_another_protocol_is_refused() {
        let fake = Fake::start(Script { protocol: 3, ..Default::default() });
        let e = RelayBoard::open(Some(&fake.name), quick()).unwrap_err().to_string();
        assert!(e.contains("protocol 3") && e.contains(&fake.name), "{e}");
        fake.finish();
    }

    #[test]
    fn garbage_and_partial_lines_are_rejected_and_the_command_repeated() {
        let (mut board, fake) = setup(Script { protocol: 1, ..Default::default() });
        fake.script().inject = vec![b"\xff\xfe\x00garbage\n".to_vec()];
        assert_eq!(board.state().expect("state after garbage"), 0);
        // A reply cut short: the line never ends, so it is dropped and the command asked again.
        {
            let mut s = fake.script();
            s.inject = vec![b"OK 0x00".to_vec()];
            s.swallow_reply = true;
        }
        board.route(0x0003).expect("route after a partial line");
        // A stale reply of the wrong shape is skipped.
        fake.script().inject = vec![b"OK settle=20\n".to_vec()];
        assert_eq!(board.state().expect("state"), 0x0003);
        let events = board.events.join("\n");
        assert!(
            events.contains("not the protocol") && events.contains("partial line") && events.contains("ignored"),
            "{events}"
        );
        fake.finish();
    }

    #[test]
    fn a_reset_mid_run_is_recovered_with_the_route_re_applied() {
        let (mut board, fake) = setup(Script { protocol: 1, ..Default::default() });
        board.route(0x0009).expect("route");
        fake.script().inject = vec![b"READY jackbench-relay 9.9.9 proto=1 relays=16 reset=external\n".to_vec()];
        assert_eq!(board.state().expect("state"), 0x0009);
        assert!(board.events.iter().any(|e| e.contains("restarted (reset=external)")), "{:?}", board.events);
        let seen = fake.finish();
        let after: Vec<&str> = seen.iter().map(String::as_str).skip_while(|c| *c != "ROUTE 0x0009").collect();
        assert_eq!(after, ["ROUTE 0x0009", "STATE", "SETTLE 20", "IDLE 0", "ROUTE 0x0009", "STATE"]);
    }

    #[test]
    fn a_silent_board_is_an_error_naming_the_port_and_the_command() {
        let (mut board, fake) = setup(Script { protocol: 1, ..Default::default() });
        fake.script().silent = true;
        let started = Instant::now();
        let e = board.route(0x0001).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, RelayError::NoAnswer { tries: 3, .. }), "{msg}");
        assert!(msg.contains(board.port_name()) && msg.contains("ROUTE") && msg.contains("unknown state"), "{msg}");
        // Three tries of 100 ms plus the two settle times each.
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        fake.finish();
    }

    #[test]
    fn a_rejected_command_says_why() {
        let (mut board, fake) = setup(Script { protocol: 1, ..Default::default() });
        let e = board.command("FROB").unwrap_err().to_string();
        assert!(e.contains("FROB") && e.contains("unknown-command"), "{e}");
        fake.finish();
    }

    #[test]
    fn a_path_closes_the_relays_of_its_components() {
        let (board, fake) = setup(Script { protocol: 1, ..Default::default() });
        let relays = HashMap::from([
            ("front".to_string(), 0b0000_0001),
            ("golden".to_string(), 0b0000_0100),
            ("omtp".to_string(), 0b0110_0000),
        ]);
        let switch = RelaySwitch::new(board, relays);
        let path =
            PathSpec { driver: "hda".into(), port: "front".into(), adapter: "omtp".into(), headset: "golden".into() };
        assert_eq!(switch.mask(&path), 0b0110_0101);
        drop(switch);
        fake.finish();
    }
}
