//! The lab's settings file, `jackbench.toml` in the directory jackbench runs in: which results
//! database the lab shares, the bench's name and the operator, so they need not be typed.
//!
//! ```toml
//! db = "postgres://lab@db.local/results"   # default: reports/results.sqlite
//! bench = "qa-station-3"                    # default: the host's name
//! operator = "kim"                          # default: $USER
//! ```
//!
//! A `--db` flag, then the `JACKBENCH_DB` variable, come before the file.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The file's name.
pub const CONFIG_FILE: &str = "jackbench.toml";

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LabConfig {
    #[serde(default)]
    pub db: Option<String>,
    #[serde(default)]
    pub bench: Option<String>,
    #[serde(default)]
    pub operator: Option<String>,
}

/// A settings file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

impl LabConfig {
    /// Reads `dir/jackbench.toml`; none there is the defaults.
    pub fn load(dir: &Path) -> Result<LabConfig, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| ConfigError { path, message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LabConfig::default()),
            Err(e) => Err(ConfigError { path, message: e.to_string() }),
        }
    }

    /// The database: `flag`, else `JACKBENCH_DB`, else the file's, else the default file.
    pub fn db(&self, flag: Option<&str>) -> String {
        flag.map(str::to_string)
            .or_else(|| std::env::var("JACKBENCH_DB").ok().filter(|v| !v.is_empty()))
            .or_else(|| self.db.clone())
            .unwrap_or_else(|| super::db::DEFAULT_DB.to_string())
    }

    /// The bench's name: `flag`, else the file's, else the host's name.
    pub fn bench(&self, flag: Option<&str>) -> String {
        flag.map(str::to_string)
            .or_else(|| self.bench.clone())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()).filter(|h| !h.is_empty())
            })
            .unwrap_or_else(|| "bench".into())
    }

    /// The operator: `flag`, else the file's, else the login name (`USER`, `LOGNAME`); empty when
    /// none is known, so that no made-up name is stored.
    pub fn operator(&self, flag: Option<&str>) -> String {
        flag.map(str::to_string)
            .or_else(|| self.operator.clone())
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .or_else(|| std::env::var("LOGNAME").ok().filter(|u| !u.is_empty()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_read_and_flags_come_first() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(LabConfig::load(dir.path()).unwrap(), LabConfig::default());
        std::fs::write(dir.path().join(CONFIG_FILE), "bench = \"qa-3\"\noperator = \"kim\"\n").unwrap();
        let c = LabConfig::load(dir.path()).unwrap();
        assert_eq!(
            (c.bench("qa-9".into()), c.bench(None), c.operator(None)),
            ("qa-9".into(), "qa-3".into(), "kim".into())
        );
        std::fs::write(dir.path().join(CONFIG_FILE), "bnech = \"qa-3\"\n").unwrap();
        let e = LabConfig::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("jackbench.toml") && e.contains("bnech"), "{e}");
    }
}
