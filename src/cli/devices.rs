//! `jackbench devices` and `jackbench doctor`: the sound devices there are, and the checklist of
//! a headset that does not work, measured.

use crate::Failure;
#[cfg(not(feature = "audio"))]
use crate::NO_AUDIO;
#[cfg(feature = "audio")]
use jackbench::capture;

/// `jackbench devices`.
#[cfg(feature = "audio")]
pub(crate) fn list_devices(json: bool) -> Result<u8, Failure> {
    use jackbench::rig::soundcard::{list_devices, ConfigRange};
    let hosts = list_devices();
    if json {
        outln!("{}", serde_json::to_string_pretty(&hosts)?);
        return Ok(0);
    }
    // The ranges of a device in one line: channel counts, rates, sample formats.
    let show = |ranges: &[ConfigRange]| -> String {
        let ch = (ranges.iter().map(|r| r.channels).min(), ranges.iter().map(|r| r.channels).max());
        let hz = (ranges.iter().map(|r| r.min_rate_hz).min(), ranges.iter().map(|r| r.max_rate_hz).max());
        let mut formats: Vec<&str> = ranges.iter().map(|r| r.format.as_str()).collect();
        formats.sort_unstable();
        formats.dedup();
        let span = |(a, b): (Option<u32>, Option<u32>), unit: &str| match (a, b) {
            (Some(a), Some(b)) if a == b => format!("{a}{unit}"),
            (Some(a), Some(b)) => format!("{a}–{b}{unit}"),
            _ => "?".into(),
        };
        format!(
            "{} channels, {}, {}",
            span((ch.0.map(u32::from), ch.1.map(u32::from)), ""),
            span(hz, " Hz"),
            formats.join(" ")
        )
    };
    for h in &hosts {
        outln!("{}{}", h.host, if h.default { " (default host)" } else { "" });
        if let Some(e) = &h.error {
            outln!("  cannot list its devices: {e}");
        }
        if h.devices.is_empty() && h.error.is_none() {
            outln!("  no devices");
        }
        for d in &h.devices {
            let mut marks = Vec::new();
            if d.default_output {
                marks.push("default output");
            }
            if d.default_input {
                marks.push("default input");
            }
            let marks = if marks.is_empty() { String::new() } else { format!(" [{}]", marks.join(", ")) };
            outln!("  {}{marks}", d.name);
            if let Some(desc) = &d.description {
                outln!("      {desc}");
            }
            if !d.outputs.is_empty() {
                outln!("      output: {}", show(&d.outputs));
            }
            if !d.inputs.is_empty() {
                outln!("      input:  {}", show(&d.inputs));
            }
        }
    }
    Ok(0)
}

#[cfg(not(feature = "audio"))]
pub(crate) fn list_devices(_json: bool) -> Result<u8, Failure> {
    Err(anyhow::anyhow!(
        "this jackbench was built without the `audio` feature, so it knows no sound devices: {NO_AUDIO}"
    )
    .into())
}

/// The options of `jackbench doctor`.
#[cfg_attr(not(feature = "audio"), allow(dead_code))]
pub(crate) struct DoctorArgs {
    pub(crate) device: String,
    pub(crate) output: Option<String>,
    pub(crate) input: Option<String>,
    pub(crate) host: Option<String>,
    pub(crate) rate: u32,
    pub(crate) no_loopback: bool,
    pub(crate) loop_gain: Option<f64>,
    pub(crate) json: bool,
}

/// `jackbench doctor`.
#[cfg(feature = "audio")]
pub(crate) fn doctor(args: DoctorArgs) -> Result<u8, Failure> {
    use jackbench::doctor::{examine, DoctorOptions, Status};
    use jackbench::rig::live::DeviceRef;
    if !(capture::wav::MIN_RATE_HZ..=capture::wav::MAX_RATE_HZ).contains(&args.rate) {
        return Err(anyhow::anyhow!("--rate {} Hz is outside 8000..=192000", args.rate).into());
    }
    if let Some(h) = &args.host {
        // An unknown host means the checks cannot run at all.
        jackbench::rig::soundcard::host(Some(h))?;
    }
    let dev = |name: &Option<String>| DeviceRef::new(args.host.as_deref(), name.as_deref().unwrap_or(&args.device));
    let opts = DoctorOptions {
        output: dev(&args.output),
        input: dev(&args.input),
        rate_hz: args.rate,
        loopback: !args.no_loopback,
        loop_gain_db: args.loop_gain,
    };
    if !args.json {
        eprintln!("checking {} (output) and {} (input)…", opts.output, opts.input);
    }
    let report = examine(&opts);
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for c in &report.checks {
            let mark = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
                Status::Skip => "skip",
            };
            outln!("{mark}  {:<9} {}", c.id, c.detail);
            if let Some(fix) = &c.fix {
                if c.status != Status::Ok {
                    outln!("      {:<9} fix: {fix}", "");
                }
            }
        }
        for e in &report.measured.stream_events {
            outln!("      stream: {e}");
        }
    }
    Ok(report.exit_code())
}

#[cfg(not(feature = "audio"))]
pub(crate) fn doctor(_args: DoctorArgs) -> Result<u8, Failure> {
    Err(anyhow::anyhow!(
        "this jackbench was built without the `audio` feature, so it cannot open sound devices: {NO_AUDIO}"
    )
    .into())
}
