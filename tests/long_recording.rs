//! An hour-long soak recording is analysed by streaming: bounded memory, and dropouts found
//! anywhere in it. Runs the real binary on a real 1.4 GB file.

use std::f64::consts::PI;
use std::io::{BufWriter, Read, Write};
use std::process::{Command, Stdio};

const RATE: u32 = 48_000;
const SECONDS: u64 = 3_600;
/// Zero-filled gaps `(start s, ms)`, on both channels.
const GAPS: [(f64, f64); 3] = [(600.0, 5.0), (1_800.5, 20.0), (3_590.0, 50.0)];
/// Where 37 samples are lost (the tone jumps ahead), on both channels.
const LOST_AT_S: f64 = 2_700.25;

/// Writes the WAV header of a 32-bit float stereo file by hand (format tag 3, IEEE float).
fn float_header(frames: u64) -> Vec<u8> {
    let data = (frames * 8) as u32;
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&3u16.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&RATE.to_le_bytes());
    h.extend_from_slice(&(RATE * 8).to_le_bytes());
    h.extend_from_slice(&8u16.to_le_bytes());
    h.extend_from_slice(&32u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data.to_le_bytes());
    h
}

/// A 1 kHz tone at −12 dBFS over −90 dBFS noise for an hour, with the gaps and the jump.
fn write_soak(path: &std::path::Path) {
    let frames = SECONDS * u64::from(RATE);
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    out.write_all(&float_header(frames)).expect("header");
    let a = 10f64.powf(-12.0 / 20.0);
    let w = 2.0 * PI * 1000.0 / f64::from(RATE);
    let lost_at = (LOST_AT_S * f64::from(RATE)) as u64;
    let gaps: Vec<(u64, u64)> = GAPS
        .iter()
        .map(|(at, ms)| ((at * f64::from(RATE)) as u64, ((at + ms / 1000.0) * f64::from(RATE)) as u64))
        .collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut bytes = Vec::with_capacity(1 << 20);
    for n in 0..frames {
        let phase_n = if n >= lost_at { n + 37 } else { n };
        // The phase modulo one period keeps the argument small and exact (48 samples a period).
        let mut v =
            if gaps.iter().any(|&(s, e)| n >= s && n < e) { 0.0 } else { a * (w * (phase_n % 48) as f64).sin() };
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        v += (state as f64 / u64::MAX as f64 - 0.5) * 1.1e-4;
        let s = (v as f32).to_le_bytes();
        bytes.extend_from_slice(&s);
        bytes.extend_from_slice(&s);
        if bytes.len() >= 1 << 20 {
            out.write_all(&bytes).expect("write");
            bytes.clear();
        }
    }
    out.write_all(&bytes).expect("write");
    out.flush().expect("flush");
}

#[test]
// The child is reaped by wait4 below (for its rusage), not by Child::wait.
#[allow(clippy::zombie_processes)]
fn an_hour_of_stereo_float_is_analysed_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("soak-1h.wav");
    write_soak(&path);
    assert!(std::fs::metadata(&path).expect("written").len() > 1_380_000_000);

    let mut child = Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(["analyze", path.to_str().expect("utf-8"), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut stdout).expect("read");
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read");
    // Reap the child with wait4 to learn its peak resident memory.
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in; the pid is our own child's.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: as above; wait4 writes only through the two valid pointers.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4");
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "analyze failed: {stderr}");
    let peak_mb = usage.ru_maxrss as f64 / 1024.0;
    assert!(peak_mb < 100.0, "peak memory {peak_mb:.1} MB");
    eprintln!("peak memory of analyze on a 1.4 GB file: {peak_mb:.1} MB");

    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    for c in v["channels"].as_array().expect("channels") {
        assert!((c["level_dbfs"].as_f64().expect("level") + 12.0).abs() < 0.05, "{c}");
        let events: Vec<(f64, f64)> = c["dropouts"]
            .as_array()
            .expect("dropouts")
            .iter()
            .map(|d| (d["at_s"].as_f64().expect("at"), d["ms"].as_f64().expect("ms")))
            .collect();
        let mut want: Vec<(f64, f64)> = GAPS.to_vec();
        want.push((LOST_AT_S, 0.0));
        want.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(events.len(), want.len(), "{events:?}");
        for ((at, ms), (want_at, want_ms)) in events.iter().zip(&want) {
            // Issue 3: every dropout found, its time within ±5 ms.
            assert!((at - want_at).abs() <= 0.005, "{at} vs {want_at}");
            assert!((ms - want_ms).abs() <= 5.0, "{ms} ms vs {want_ms} ms");
        }
    }
}
