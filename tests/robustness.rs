//! Whatever bytes a file holds, reading and analysing it ends in a value or an error, never a panic.

use jackbench::analysis::{analyze, AnalyzeOptions};
use jackbench::capture::WavSource;
use proptest::prelude::*;

/// Reads and analyses `bytes` as a WAV file; any error is fine, a panic fails the test.
fn try_bytes(bytes: &[u8]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fuzz.wav");
    std::fs::write(&path, bytes).expect("write");
    if let Ok(mut src) = WavSource::open(&path) {
        let _ = analyze(&mut src, &AnalyzeOptions::default());
    }
}

/// A plausible header (RIFF, fmt, data) with fields drawn from `fields`, then `body`.
fn header(channels: u16, rate: u32, bits: u16, format_tag: u16, data_len: u32, body: &[u8]) -> Vec<u8> {
    let block_align = channels.wrapping_mul(bits / 8);
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + body.len() as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&format_tag.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&rate.wrapping_mul(u32::from(block_align)).to_le_bytes());
    v.extend_from_slice(&block_align.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    v.extend_from_slice(body);
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        try_bytes(&bytes);
    }

    #[test]
    fn random_headers_and_bodies_never_panic(
        channels in prop_oneof![Just(1u16), Just(2), 0..8u16],
        rate in prop_oneof![Just(48_000u32), Just(44_100), any::<u32>()],
        bits in prop_oneof![Just(16u16), Just(24), Just(32), any::<u16>()],
        format_tag in prop_oneof![Just(1u16), Just(3), any::<u16>()],
        data_len in prop_oneof![Just(None), any::<u32>().prop_map(Some)],
        body in proptest::collection::vec(any::<u8>(), 0..20_000),
    ) {
        // Mostly whole frames, so that many cases get past the header into the analysis.
        let frame = (usize::from(channels) * usize::from(bits / 8)).max(1);
        let body = &body[..body.len() / frame * frame];
        let len = data_len.unwrap_or(body.len() as u32);
        try_bytes(&header(channels, rate, bits, format_tag, len, body));
    }
}

/// The header strategy above is only worth something if many of its cases reach the analysis:
/// valid headers over random bodies, with lengths that agree and disagree.
#[test]
fn plausible_headers_reach_the_analysis() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.wav");
    let (mut opened, mut analysed) = (0, 0);
    for i in 0..300 {
        let bits = [16u16, 24, 32][i % 3];
        let frame = usize::from(bits / 8) * (1 + i % 2);
        let frames = rng.random_range(1..30_000 / frame);
        let body: Vec<u8> = (0..frames * frame).map(|_| rng.random()).collect();
        let len = if i % 5 == 0 { rng.random() } else { body.len() as u32 };
        std::fs::write(&path, header(1 + (i % 2) as u16, 48_000, bits, if bits == 32 { 3 } else { 1 }, len, &body))
            .expect("write");
        if let Ok(mut src) = WavSource::open(&path) {
            opened += 1;
            if analyze(&mut src, &AnalyzeOptions::default()).is_ok() {
                analysed += 1;
            }
        }
    }
    assert!(opened > 150 && analysed > 150, "opened {opened}, analysed {analysed} of 300");
}
