//! The relay board's timing, measured against the real firmware in simavr (paced to the wall
//! clock, so the figures are those of a board at 16 MHz and 115200 baud): `cargo bench --bench
//! relay`, after `make -C rigs/arduino`.
//! - a command's round trip (`STATE`, an 11-byte reply);
//! - a full route change (`ROUTE`: open, settle 20 ms, close, settle 20 ms, reply): what is
//!   not the 40 ms of settling is overhead;
//! - the plug measured (`MEASURE ALL`: a CTIA headset in the DUT's socket, its route to a port
//!   put aside and back), and the electrical stage of `run` as it calls it
//!   (`SwitchMatrix::measure_plug` of the DUT on qa-relay's relay switch): its time per unit.

#[allow(dead_code)]
#[path = "../tests/common/relay_sim.rs"]
mod relay_sim;

use criterion::{criterion_group, criterion_main, Criterion};
use jackbench::rig::relay::{RelayBoard, RelayOptions, RelaySwitch};
use jackbench::rig::{RigFile, SwitchMatrix};
use std::time::Duration;

fn relay(c: &mut Criterion) {
    // A CTIA headset: 32 Ω ears to ring 2, a 1.5 kΩ microphone on the sleeve.
    let Some(sim) = relay_sim::start_with_plug(Some("socket 4\nT R2 32\nR1 R2 32\nS R2 1500\n")) else { return };
    let opts = RelayOptions { boot_wait: Duration::from_millis(300), settle_ms: 20, ..RelayOptions::default() };
    let mut board = RelayBoard::open(Some(&sim.pty), opts).expect("handshake");
    let mut g = c.benchmark_group("relay");
    g.sample_size(30).measurement_time(Duration::from_secs(4));
    g.bench_function("state_round_trip", |b| b.iter(|| board.state().expect("state")));
    let mut flip = false;
    g.bench_function("route_change_settle_20ms", |b| {
        b.iter(|| {
            flip = !flip;
            // Golden headset on the front jack, then the DUT on the rear jack: both relays of
            // the old route open, both of the new close.
            board.route(if flip { 0x0005 } else { 0x000a }).expect("route")
        })
    });
    board.route(0x0009).expect("the front jack to the DUT");
    g.bench_function("measure_all_pairs_settle_20ms", |b| b.iter(|| board.measure(0x0008).expect("measure")));
    assert!(board.events.is_empty(), "{:?}", board.events);
    let rig = RigFile::load(std::path::Path::new("qa-relay")).expect("qa-relay");
    let mut switch = RelaySwitch::new(board, rig.relay_masks()).with_meter(rig.switch.meter);
    g.bench_function("electrical_stage_one_plug", |b| {
        b.iter(|| switch.measure_plug("dut").expect("measured").expect("a meter"))
    });
    g.finish();
}

criterion_group!(benches, relay);
criterion_main!(benches);
