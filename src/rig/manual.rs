//! The switch matrix of a bench without a relay board: an operator makes each connection when
//! prompted ("plug the golden headset into the front jack, then press Enter").

use super::{RigError, SwitchMatrix};
use crate::capture::PathSpec;
use std::collections::HashMap;
use std::io::{BufRead, Write};

/// Prompts on `prompt` and waits for Enter on `answers`. `q` (or `quit`) stops the run; a
/// closed input is an error, since nobody is there to plug anything.
pub struct ManualSwitch<R, W> {
    answers: R,
    prompt: W,
    /// Component id → what to call it ("Golden reference headset (golden)").
    names: HashMap<String, String>,
    connected: Option<PathSpec>,
}

impl<R: BufRead, W: Write> ManualSwitch<R, W> {
    /// `components`: (id, label) of each component of the rig.
    pub fn new<'a>(
        components: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
        answers: R,
        prompt: W,
    ) -> ManualSwitch<R, W> {
        let names = components
            .into_iter()
            .map(|(id, label)| (id.to_string(), label.map_or_else(|| id.to_string(), |l| format!("{l} ({id})"))))
            .collect();
        ManualSwitch { answers, prompt, names, connected: None }
    }

    fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map_or(id, String::as_str)
    }

    /// What the operator is asked to do to go from the last connection to `path`.
    pub fn instruction(&self, path: &PathSpec) -> String {
        let mut text = format!(
            "plug {} into {} through {} ({} plays and records)",
            self.name(&path.headset),
            self.name(&path.port),
            self.name(&path.adapter),
            self.name(&path.driver)
        );
        if let Some(last) = &self.connected {
            let changed: Vec<&str> = [
                ("driver", &last.driver, &path.driver),
                ("port", &last.port, &path.port),
                ("adapter", &last.adapter, &path.adapter),
                ("headset", &last.headset, &path.headset),
            ]
            .into_iter()
            .filter(|(_, a, b)| a != b)
            .map(|(slot, _, _)| slot)
            .collect();
            if !changed.is_empty() {
                text.push_str(&format!(" (changed: {})", changed.join(", ")));
            }
        }
        text
    }
}

impl<R: BufRead, W: Write> SwitchMatrix for ManualSwitch<R, W> {
    fn connect(&mut self, path: &PathSpec) -> Result<(), RigError> {
        if self.connected.as_ref() == Some(path) {
            return Ok(());
        }
        let io_error = |e: std::io::Error| RigError::Switch { path: path.to_string(), message: e.to_string() };
        let text = self.instruction(path);
        write!(self.prompt, "\n>> {text}.\n   Press Enter when connected (q to stop): ").map_err(io_error)?;
        self.prompt.flush().map_err(io_error)?;
        let mut line = String::new();
        if self.answers.read_line(&mut line).map_err(io_error)? == 0 {
            return Err(RigError::Switch {
                path: path.to_string(),
                message: "nobody answered the prompt (standard input is closed); manual switching needs an operator"
                    .into(),
            });
        }
        if matches!(line.trim().to_ascii_lowercase().as_str(), "q" | "quit") {
            return Err(RigError::Interrupted);
        }
        self.connected = Some(path.clone());
        Ok(())
    }

    fn disconnect_all(&mut self) -> Result<(), RigError> {
        if self.connected.take().is_some() {
            // Nothing to wait for: the bench is safe as it stands.
            let _ = writeln!(self.prompt, "\n>> done with this unit: unplug it.");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(headset: &str, adapter: &str) -> PathSpec {
        PathSpec { driver: "usb".into(), port: "front".into(), adapter: adapter.into(), headset: headset.into() }
    }

    fn switch(answers: &str) -> ManualSwitch<&[u8], Vec<u8>> {
        ManualSwitch::new(
            [("golden", Some("Golden headset")), ("dut", None), ("front", Some("Front jack")), ("direct", None)],
            answers.as_bytes(),
            Vec::new(),
        )
    }

    #[test]
    fn each_new_connection_is_prompted_once_with_what_changed() {
        let mut s = switch("\n\n");
        s.connect(&path("golden", "direct")).unwrap();
        s.connect(&path("golden", "direct")).unwrap();
        s.connect(&path("dut", "direct")).unwrap();
        let text = String::from_utf8(s.prompt.clone()).unwrap();
        assert_eq!(text.matches("Press Enter").count(), 2, "{text}");
        assert!(text.contains("plug Golden headset (golden) into Front jack (front) through direct"), "{text}");
        assert!(text.contains("plug dut into Front jack") && text.contains("(changed: headset)"), "{text}");
        s.disconnect_all().unwrap();
        assert!(String::from_utf8(s.prompt).unwrap().ends_with("unplug it.\n"));
    }

    #[test]
    fn q_stops_and_a_closed_input_is_an_error() {
        let mut s = switch("q\n");
        assert!(matches!(s.connect(&path("golden", "direct")), Err(RigError::Interrupted)));
        let mut s = switch("");
        let e = s.connect(&path("golden", "direct")).unwrap_err();
        assert!(e.to_string().contains("standard input is closed"), "{e}");
    }
}
