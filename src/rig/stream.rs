//! Continuous play-and-record on one path, for `jackbench monitor`: the ears' output plays a tone
//! per ear, the mouth simulator a tone of its own, and the ear couplers and the DUT's input are
//! recorded without end, block by block.
//!
//! [`AudioStream`] is the trait both back-ends implement: the virtual bench's
//! ([`super::virtual_bench::VirtualStream`], a continuous model of the path) and real sound
//! devices through cpal.

use super::RigError;
use crate::capture::PathSpec;

/// What a monitor plays on a path: each ear on its own frequency, and the mouth simulator on a
/// third, all at one level.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamPlan {
    pub path: PathSpec,
    /// Left and right ear tones, Hz; `None` when the path has no playback (a microphone only).
    pub ears: Option<[f64; 2]>,
    /// The mouth simulator's tone, Hz; `None` when the path has no record direction.
    pub mouth: Option<f64>,
    /// Level of every tone, dBFS.
    pub level_dbfs: f64,
    pub rate_hz: u32,
}

impl StreamPlan {
    /// The channels a stream of this plan records, in order.
    pub fn channels(&self) -> Vec<StreamChannel> {
        let mut out = Vec::new();
        if let Some([l, r]) = self.ears {
            out.push(StreamChannel { name: "left".into(), freq_hz: l });
            out.push(StreamChannel { name: "right".into(), freq_hz: r });
        }
        if let Some(m) = self.mouth {
            out.push(StreamChannel { name: "mic".into(), freq_hz: m });
        }
        out
    }
}

/// One recorded channel and the tone it should carry.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamChannel {
    /// `left`, `right` (the ear couplers) or `mic` (the DUT's input).
    pub name: String,
    pub freq_hz: f64,
}

/// A path played and recorded without end.
pub trait AudioStream {
    /// The rate the recording runs at.
    fn rate_hz(&self) -> u32;
    /// The recorded channels, in the order [`AudioStream::read`] fills them.
    fn channels(&self) -> Vec<StreamChannel>;
    /// Waits for the next recorded frames (at least one) and appends them, channel by channel.
    fn read(&mut self, out: &mut [Vec<f32>]) -> Result<(), RigError>;
}

impl<T: AudioStream + ?Sized> AudioStream for Box<T> {
    fn rate_hz(&self) -> u32 {
        (**self).rate_hz()
    }
    fn channels(&self) -> Vec<StreamChannel> {
        (**self).channels()
    }
    fn read(&mut self, out: &mut [Vec<f32>]) -> Result<(), RigError> {
        (**self).read(out)
    }
}
