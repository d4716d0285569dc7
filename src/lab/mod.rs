//! The lab: batches of units tested one after another, product limits, and the results
//! database with what is read back from it (a unit's history, exports, yield summaries).
//!
//! - [`config`]: `jackbench.toml`, the lab's database, bench name and operator;
//! - [`model`]: `limits/<model>.toml`, the limits a product's units are judged against;
//! - [`record`]: what is kept of a unit: identity, verdict, faults, measurements with limits;
//! - [`db`]: SQLite or PostgreSQL behind one interface, with versioned migrations;
//! - [`store`]: writing units (one transaction each) and the queries: history, export, summary;
//! - [`batch`]: the batch loop: serials, the run, the verdict, the record; resumable;
//! - [`calibrate`]: a model's limits from golden units (masks, rub & buzz, THD, windows);
//! - [`bench_calibration`]: the bench's own gain and noise windows from its reference paths;
//! - [`summary`]: the summary as text and as an HTML report with plots;
//! - [`spc`]: control charts, capability and drift over a line's measurements;
//! - [`serve`]: `jackbench serve`, the live floor over the database, read-only.

pub mod batch;
pub mod bench_calibration;
pub mod calibrate;
pub mod config;
pub mod db;
pub mod model;
pub mod record;
pub mod serve;
pub mod spc;
pub mod store;
pub mod summary;

/// `word` as one word of a POSIX shell command line: as it is when it is plain, else quoted.
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
