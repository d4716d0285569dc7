//! The PulseAudio server the real-audio tests play through (started by `.ci/run`, or by hand with
//! `.ci/pulse-loopback`): a null sink `jb_loop` whose monitor is the default source.

use std::process::Command;
use std::sync::{Mutex, MutexGuard};

/// The null sink the tests loop through.
pub const SINK: &str = "jb_loop";

/// Holds the server for one test: tests that mute or unload the sink must not overlap.
pub struct Server {
    _turn: MutexGuard<'static, ()>,
}

/// Runs `pactl` with `args`; its stdout, or what went wrong.
pub fn pactl(args: &[&str]) -> Result<String, String> {
    let out = Command::new("pactl").args(args).output().map_err(|e| format!("pactl: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("pactl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// The server, in its known state (the loop sink there and unmuted, the defaults on it), or
/// `None` with a visible message when there is none. Under CI a missing server fails the test.
pub fn server() -> Option<Server> {
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(why) = pactl(&["info"]) {
        if std::env::var_os("CI").is_some() {
            panic!("CI needs a PulseAudio server for the audio tests, and there is none ({why}); .ci/run starts one");
        }
        eprintln!("SKIPPED: no PulseAudio server ({why}); `source .ci/pulse-loopback` starts one");
        return None;
    }
    let sinks = pactl(&["list", "short", "sinks"]).unwrap_or_default();
    if !sinks.lines().any(|l| l.split('\t').nth(1) == Some(SINK)) {
        pactl(&["load-module", "module-null-sink", &format!("sink_name={SINK}"), "rate=48000"])
            .expect("the loop sink loads");
    }
    for args in [
        ["set-sink-mute", SINK, "0"],
        ["set-default-sink", SINK, ""],
        ["set-default-source", &format!("{SINK}.monitor"), ""],
    ] {
        let args: Vec<&str> = args.iter().copied().filter(|a| !a.is_empty()).collect();
        pactl(&args).expect("the server takes the setting");
    }
    Some(Server { _turn: turn })
}

/// The index of the module that made the loop sink.
pub fn sink_module() -> Option<String> {
    pactl(&["list", "short", "modules"])
        .ok()?
        .lines()
        .find(|l| l.contains("module-null-sink") && l.contains(&format!("sink_name={SINK}")))
        .and_then(|l| l.split('\t').next())
        .map(str::to_string)
}

/// A second null sink, `name`, loaded for one test and unloaded when dropped.
pub struct ExtraSink {
    module: String,
}

impl ExtraSink {
    pub fn load(name: &str) -> ExtraSink {
        let module = pactl(&["load-module", "module-null-sink", &format!("sink_name={name}"), "rate=48000"])
            .expect("the sink loads");
        ExtraSink { module: module.trim().to_string() }
    }
}

impl Drop for ExtraSink {
    fn drop(&mut self) {
        let _ = pactl(&["unload-module", &self.module]);
    }
}
