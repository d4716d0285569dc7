//! The command line's pieces that are more than a call into the library: choosing a rig's
//! station, and the lab's batch loop and queries.

pub mod lab;
pub mod station;
