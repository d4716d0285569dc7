//! A reference microphone outside the fixture (a rig's `[audio] reference_mic`): it hears the
//! room while each capture is made, so that the ambient-noise guard can tell a door slam from
//! what the unit did.
//!
//! [`WithReference`] lays a [`RoomListener`] over any [`AudioEndpoint`]: it starts listening
//! afresh before each capture and attaches what it heard to the take ([`Take::reference`]). The
//! virtual bench simulates its own reference microphone, sample-aligned with the capture; a real
//! one is a separate input device ([`CpalRoomMic`]), aligned to the capture by wall clock: it
//! covers the capture's whole span and a few callbacks around it, which is what the guard needs
//! (whether room sound came while the capture was made, not to the sample where).

use super::{AudioEndpoint, CaptureRequest, RigError, Take};
use crate::capture::wav::Audio;

/// Something that hears the room.
pub trait RoomListener {
    /// Forgets what was heard so far and listens afresh.
    fn listen(&mut self) -> Result<(), RigError>;
    /// What was heard since [`RoomListener::listen`], one channel.
    fn heard(&mut self) -> Result<Audio, RigError>;
}

/// An endpoint whose takes carry what a reference microphone heard while they were made.
pub struct WithReference<L> {
    pub endpoint: Box<dyn AudioEndpoint>,
    pub mic: L,
}

impl<L: RoomListener> AudioEndpoint for WithReference<L> {
    fn capture(&mut self, request: &CaptureRequest) -> Result<Take, RigError> {
        self.mic.listen()?;
        let mut take = self.endpoint.capture(request)?;
        take.reference = Some(self.mic.heard()?);
        Ok(take)
    }

    /// Takes made at once heard the same room: each carries all of it.
    fn capture_together(&mut self, requests: &[CaptureRequest]) -> Result<Vec<Take>, RigError> {
        self.mic.listen()?;
        let mut takes = self.endpoint.capture_together(requests)?;
        let heard = self.mic.heard()?;
        for take in &mut takes {
            take.reference = Some(heard.clone());
        }
        Ok(takes)
    }

    fn overlaps(&self) -> bool {
        self.endpoint.overlaps()
    }
}

#[cfg(feature = "audio")]
pub use real::CpalRoomMic;

#[cfg(feature = "audio")]
mod real {
    use super::*;
    use crate::capture::wav::SampleFormat as WavFormat;
    use crate::rig::live::DeviceRef;
    use crate::rig::soundcard::{find_device, Side};
    use cpal::traits::{DeviceTrait, StreamTrait};
    use cpal::{FromSample, Sample, SampleFormat, SizedSample};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    /// How much the ring between the callback and the bench holds, seconds: more than any
    /// capture lasts.
    const RING_S: usize = 120;

    /// A reference microphone on a sound device of its own (its first channel), open for the
    /// whole run.
    pub struct CpalRoomMic {
        name: String,
        rate_hz: u32,
        rx: rtrb::Consumer<f32>,
        /// Frames the callback delivered, and whether the device failed.
        delivered: Arc<AtomicU64>,
        failed: Arc<AtomicBool>,
        at_listen: u64,
        _stream: cpal::Stream,
    }

    impl CpalRoomMic {
        /// Opens the input device `dev` at its default configuration and starts it.
        pub fn open(dev: &DeviceRef) -> Result<CpalRoomMic, RigError> {
            let err = |m: String| RigError::Device { device: format!("reference microphone {}", dev.name), message: m };
            let device = find_device(dev, Side::Input)?;
            let config = device.default_input_config().map_err(|e| err(format!("no input configuration: {e}")))?;
            let rate_hz = config.sample_rate();
            let width = usize::from(config.channels()).max(1);
            let (tx, rx) = rtrb::RingBuffer::new(RING_S * rate_hz as usize);
            let delivered = Arc::new(AtomicU64::new(0));
            let failed = Arc::new(AtomicBool::new(false));
            let parts = (tx, delivered.clone(), failed.clone());
            let stream_config: cpal::StreamConfig = config.into();
            let stream = match config.sample_format() {
                SampleFormat::F32 => build::<f32>(&device, &stream_config, width, parts),
                SampleFormat::I32 => build::<i32>(&device, &stream_config, width, parts),
                SampleFormat::I16 => build::<i16>(&device, &stream_config, width, parts),
                other => return Err(err(format!("sample format {other} is not supported"))),
            }
            .map_err(|e| err(format!("cannot open: {e}")))?;
            stream.play().map_err(|e| err(format!("cannot start: {e}")))?;
            Ok(CpalRoomMic { name: dev.name.clone(), rate_hz, rx, delivered, failed, at_listen: 0, _stream: stream })
        }

        fn error(&self, message: &str) -> RigError {
            RigError::Device { device: format!("reference microphone {}", self.name), message: message.into() }
        }
    }

    /// The input stream: the first channel of each frame into the ring (what does not fit is
    /// dropped: the bench reads the ring at every capture).
    fn build<T>(
        device: &cpal::Device,
        config: &cpal::StreamConfig,
        width: usize,
        (mut tx, delivered, failed): (rtrb::Producer<f32>, Arc<AtomicU64>, Arc<AtomicBool>),
    ) -> Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample,
        f32: FromSample<T>,
    {
        device.build_input_stream(
            *config,
            move |data: &[T], _| {
                let frames = data.len() / width;
                let room = tx.slots().min(frames);
                if let Ok(chunk) = tx.write_chunk_uninit(room) {
                    chunk.fill_from_iter(data.chunks_exact(width).take(room).map(|f| f32::from_sample(f[0])));
                }
                delivered.fetch_add(frames as u64, Ordering::AcqRel);
            },
            move |_e: cpal::Error| failed.store(true, Ordering::Release),
            Some(std::time::Duration::from_secs(5)),
        )
    }

    impl RoomListener for CpalRoomMic {
        fn listen(&mut self) -> Result<(), RigError> {
            if self.failed.load(Ordering::Acquire) {
                return Err(self.error("the device reported an error: unplugged or taken away"));
            }
            let n = self.rx.slots();
            if let Ok(chunk) = self.rx.read_chunk(n) {
                chunk.commit_all();
            }
            self.at_listen = self.delivered.load(Ordering::Acquire);
            Ok(())
        }

        fn heard(&mut self) -> Result<Audio, RigError> {
            if self.failed.load(Ordering::Acquire) {
                return Err(self.error("the device reported an error: unplugged or taken away"));
            }
            if self.delivered.load(Ordering::Acquire) == self.at_listen {
                return Err(self.error("delivered no sound while the capture was made: the room went unheard"));
            }
            let n = self.rx.slots();
            let samples: Vec<f32> = match self.rx.read_chunk(n) {
                Ok(chunk) => chunk.into_iter().collect(),
                Err(_) => Vec::new(),
            };
            Ok(Audio { rate_hz: self.rate_hz, format: WavFormat::F32, channels: vec![samples] })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Direction, PathSpec};
    use crate::stimulus::Stimulus;

    /// Hears a fixed recording, and counts how often it was asked to listen.
    struct Tape(Vec<f32>, usize);

    impl RoomListener for Tape {
        fn listen(&mut self) -> Result<(), RigError> {
            self.1 += 1;
            Ok(())
        }
        fn heard(&mut self) -> Result<Audio, RigError> {
            Ok(Audio { rate_hz: 8_000, format: crate::capture::wav::SampleFormat::F32, channels: vec![self.0.clone()] })
        }
    }

    #[test]
    fn each_take_carries_what_the_room_microphone_heard_while_it_was_made() {
        let path =
            PathSpec { driver: "hda".into(), port: "front".into(), adapter: "direct".into(), headset: "golden".into() };
        let bench = crate::rig::virtual_bench::VirtualBench::new(
            [
                ("hda", crate::capture::ComponentKind::Driver),
                ("front", crate::capture::ComponentKind::Port),
                ("direct", crate::capture::ComponentKind::Adapter),
                ("golden", crate::capture::ComponentKind::Headset),
            ],
            1,
        );
        let mut e = WithReference { endpoint: Box::new(bench), mic: Tape(vec![0.5; 80], 0) };
        let req = CaptureRequest {
            path,
            direction: Direction::Playback,
            stimulus: Stimulus::Sine { freq_hz: 1000.0, level_dbfs: -12.0, seconds: 0.1 },
            drive: None,
            rate_hz: 48_000,
            format: crate::capture::wav::SampleFormat::S24,
            tail_s: 0.2,
        };
        for k in 1..=2 {
            let take = e.capture(&req).unwrap();
            assert_eq!(take.reference.map(|a| (a.rate_hz, a.channels[0].len())), Some((8_000, 80)));
            assert_eq!(e.mic.1, k);
        }
    }
}
