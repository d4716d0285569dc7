//! What a bench is: rig files, the two traits every back-end implements, and the back-ends.
//!
//! - [`AudioEndpoint`]: plays a stimulus on a path and records what comes back.
//! - [`SwitchMatrix`]: makes the connections of a path (relays, or an operator's hands).
//!
//! Back-ends: [`virtual_bench`] (both traits: the physical model), [`live`] (the endpoint of
//! real rigs over any play-and-record device pair) with `soundcard` (cpal) beneath it,
//! [`manual`] (an operator plugs when prompted) and [`relay`] (the Arduino relay board). [`Rack`]
//! pairs any endpoint with any switch.
//!
//! Everything above these traits (the runner, capture sets, diagnosis, reports) is the same for
//! the virtual bench and for real hardware.

pub mod file;
pub mod live;
pub mod manual;
pub mod reference_mic;
pub mod relay;
#[cfg(feature = "audio")]
pub mod soundcard;
pub mod stream;
pub mod virtual_bench;

pub use file::{PlanCapture, PlanPath, RigFile};
pub use virtual_bench::VirtualBench;

use crate::capture::{Audio, Direction, Drive, PathSpec, SampleFormat};
use crate::stimulus::Stimulus;

/// One capture to make on the connected path.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureRequest {
    /// The path it is made on (the one last connected): its driver names the sound card.
    pub path: PathSpec,
    pub direction: Direction,
    pub stimulus: Stimulus,
    /// Playback and loopback: which output channels play.
    pub drive: Option<Drive>,
    pub rate_hz: u32,
    pub format: SampleFormat,
    /// Recorded after the stimulus ends, seconds (the contract asks for at least 0.2 s).
    pub tail_s: f64,
}

/// Why a rig could not do what was asked; each names the device, port or component.
#[derive(Debug, thiserror::Error)]
pub enum RigError {
    #[error("{device}: {message}")]
    Device { device: String, message: String },
    #[error("switching to {path}: {message}")]
    Switch { path: String, message: String },
    #[error("the run was interrupted")]
    Interrupted,
}

/// One capture as an endpoint made it.
#[derive(Debug, Clone)]
pub struct Take {
    pub audio: Audio,
    /// The round trip measured from the stimulus handed to the output to its arrival, seconds
    /// (real devices; `None` when the stimulus was not found or there is nothing to measure).
    pub latency_s: Option<f64>,
    /// Stream problems seen while capturing (underruns, overruns, device errors), in words.
    pub events: Vec<String>,
    /// The stream glitched in the take kept (frames lost, the output late, an xrun), though it
    /// was made again: its recording may be cut, and its latency is not known.
    pub glitched: bool,
    /// What the reference microphone outside the fixture heard while the capture was made (the
    /// rig's `[audio] reference_mic`), one channel; `None` without one.
    pub reference: Option<Audio>,
}

/// Plays and records. A real one drives a sound card; the virtual one computes the physics.
pub trait AudioEndpoint {
    /// Makes one capture on the path last connected: plays the stimulus (on the driver for
    /// playback and loopback, on the mouth simulator for record) and returns the recording,
    /// which starts an unknown delay before the stimulus and runs `tail_s` past its end.
    fn capture(&mut self, request: &CaptureRequest) -> Result<Take, RigError>;

    /// Makes the captures of one path at the same time (a plan's `overlap`: the ears' playback
    /// and the microphone's record, on separate transducers), one take per request in order.
    /// Endpoints that cannot make them at once make them one after the other.
    fn capture_together(&mut self, requests: &[CaptureRequest]) -> Result<Vec<Take>, RigError> {
        requests.iter().map(|r| self.capture(r)).collect()
    }

    /// Whether [`AudioEndpoint::capture_together`] really makes its captures at once, so that a
    /// plan's `overlap` saves bench time. The virtual bench computes each capture as it would
    /// be made at once; the live endpoint does when the two takes share no device.
    fn overlaps(&self) -> bool {
        false
    }
}

/// Connects a path's components: driver's device, port, adapter, headset or loopback plug.
pub trait SwitchMatrix {
    fn connect(&mut self, path: &PathSpec) -> Result<(), RigError>;
    /// Opens every connection (safe state).
    fn disconnect_all(&mut self) -> Result<(), RigError>;
    /// Keeps the last route made, for a path held a long time (a monitor's soak): a board with
    /// an idle timeout hears from the bench, and one that restarted or opened its relays gets
    /// the route back. Returns what happened on the way, in words (nothing when the route held).
    fn hold(&mut self) -> Result<Vec<String>, RigError> {
        Ok(Vec::new())
    }
    /// The plug of `headset` measured electrically, where the switch has a meter (the relay
    /// board's, protocol 2): the DC resistance between each pair of its contacts, the audio
    /// route open meanwhile. `None`: this switch has no meter.
    fn measure_plug(&mut self, headset: &str) -> Result<Option<crate::capture::plug::PlugReadings>, RigError> {
        let _ = headset;
        Ok(None)
    }
}

/// A bench's two halves, lent one at a time: real rigs pair a sound card with a relay board or
/// an operator; the virtual bench is both.
pub trait Station {
    fn endpoint(&mut self) -> &mut dyn AudioEndpoint;
    fn switch(&mut self) -> &mut dyn SwitchMatrix;
}

impl<T: AudioEndpoint + ?Sized> AudioEndpoint for Box<T> {
    fn capture(&mut self, request: &CaptureRequest) -> Result<Take, RigError> {
        (**self).capture(request)
    }
    fn capture_together(&mut self, requests: &[CaptureRequest]) -> Result<Vec<Take>, RigError> {
        (**self).capture_together(requests)
    }
    fn overlaps(&self) -> bool {
        (**self).overlaps()
    }
}

impl<T: AudioEndpoint + ?Sized> AudioEndpoint for &mut T {
    fn capture(&mut self, request: &CaptureRequest) -> Result<Take, RigError> {
        (**self).capture(request)
    }
    fn capture_together(&mut self, requests: &[CaptureRequest]) -> Result<Vec<Take>, RigError> {
        (**self).capture_together(requests)
    }
    fn overlaps(&self) -> bool {
        (**self).overlaps()
    }
}

impl<T: SwitchMatrix + ?Sized> SwitchMatrix for Box<T> {
    fn connect(&mut self, path: &PathSpec) -> Result<(), RigError> {
        (**self).connect(path)
    }
    fn disconnect_all(&mut self) -> Result<(), RigError> {
        (**self).disconnect_all()
    }
    fn hold(&mut self) -> Result<Vec<String>, RigError> {
        (**self).hold()
    }
    fn measure_plug(&mut self, headset: &str) -> Result<Option<crate::capture::plug::PlugReadings>, RigError> {
        (**self).measure_plug(headset)
    }
}

impl<T: SwitchMatrix + ?Sized> SwitchMatrix for &mut T {
    fn connect(&mut self, path: &PathSpec) -> Result<(), RigError> {
        (**self).connect(path)
    }
    fn disconnect_all(&mut self) -> Result<(), RigError> {
        (**self).disconnect_all()
    }
    fn hold(&mut self) -> Result<Vec<String>, RigError> {
        (**self).hold()
    }
    fn measure_plug(&mut self, headset: &str) -> Result<Option<crate::capture::plug::PlugReadings>, RigError> {
        (**self).measure_plug(headset)
    }
}

/// A station made of two separate halves: any audio endpoint with any switch matrix.
pub struct Rack<E, S> {
    pub endpoint: E,
    pub switch: S,
}

impl<E: AudioEndpoint, S: SwitchMatrix> Station for Rack<E, S> {
    fn endpoint(&mut self) -> &mut dyn AudioEndpoint {
        &mut self.endpoint
    }
    fn switch(&mut self) -> &mut dyn SwitchMatrix {
        &mut self.switch
    }
}
