//! The command line's pieces that are more than a call into the library: choosing a rig's
//! station, the lab's batch loop and queries, the sound devices and the doctor, and the tables
//! that `analyze` and `diagnose` print.

pub mod calibrate;
pub mod devices;
pub mod faults;
pub mod lab;
pub mod measure;
pub mod monitor;
pub mod plug;
pub mod station;
