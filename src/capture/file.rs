//! What jackbench reads from disk is a regular file of bounded size: a FIFO would block a read
//! forever, a device such as `/dev/zero` never ends, and a directory or a dangling link is not
//! "missing" but something else, which the error should say.

use std::path::{Path, PathBuf};

/// The largest manifest, rig or limits file read, bytes: a manifest of 10 000 captures is about
/// 3 MB.
pub const MAX_TEXT_BYTES: u64 = 64 << 20;
/// The largest WAV file read, bytes: RIFF's sizes are 32-bit, so no WAV file is larger.
pub const MAX_WAV_BYTES: u64 = (u32::MAX as u64) + 8;

/// Why a path is not a file jackbench reads.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FileKindError {
    #[error("{}: does not exist", .0.display())]
    Missing(PathBuf),
    #[error("{}: a symbolic link to {}, which does not exist", .path.display(), .target.display())]
    DanglingLink { path: PathBuf, target: PathBuf },
    #[error("{}: {what}, not a regular file", .path.display())]
    NotRegular { path: PathBuf, what: &'static str },
    #[error("{}: {bytes} bytes, more than the {max} a {kind} may have", .path.display())]
    TooLarge { path: PathBuf, bytes: u64, max: u64, kind: &'static str },
    #[error("{}: cannot read: {message}", .path.display())]
    Unreadable { path: PathBuf, message: String },
}

/// Checks that `path` is a regular file (after following links) of at most `max` bytes, and
/// returns its size. `kind` names what the file should be in the error ("capture", "manifest").
pub fn regular_file(path: &Path, max: u64, kind: &'static str) -> Result<u64, FileKindError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(match std::fs::read_link(path) {
                Ok(target) => FileKindError::DanglingLink { path: path.to_path_buf(), target },
                Err(_) => FileKindError::Missing(path.to_path_buf()),
            })
        }
        Err(e) => return Err(FileKindError::Unreadable { path: path.to_path_buf(), message: e.to_string() }),
    };
    if !meta.is_file() {
        return Err(FileKindError::NotRegular { path: path.to_path_buf(), what: describe(&meta.file_type()) });
    }
    if meta.len() > max {
        return Err(FileKindError::TooLarge { path: path.to_path_buf(), bytes: meta.len(), max, kind });
    }
    Ok(meta.len())
}

/// Reads a text file that [`regular_file`] accepts, as UTF-8.
pub fn read_text(path: &Path, kind: &'static str) -> Result<String, FileKindError> {
    regular_file(path, MAX_TEXT_BYTES, kind)?;
    std::fs::read_to_string(path)
        .map_err(|e| FileKindError::Unreadable { path: path.to_path_buf(), message: e.to_string() })
}

fn describe(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_path_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.wav");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(regular_file(&file, 10, "capture"), Ok(5));
        assert!(matches!(regular_file(&file, 4, "capture"), Err(FileKindError::TooLarge { bytes: 5, .. })));
        assert!(matches!(regular_file(&dir.path().join("none"), 10, "capture"), Err(FileKindError::Missing(_))));
        let e = regular_file(dir.path(), 10, "capture").unwrap_err();
        assert!(e.to_string().contains("a directory, not a regular file"), "{e}");
        #[cfg(unix)]
        {
            let link = dir.path().join("link.wav");
            std::os::unix::fs::symlink(dir.path().join("gone.wav"), &link).unwrap();
            let e = regular_file(&link, 10, "capture").unwrap_err();
            assert!(matches!(e, FileKindError::DanglingLink { .. }), "{e}");
            assert!(e.to_string().contains("gone.wav"), "{e}");
            let zero = dir.path().join("zero.wav");
            std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
            let e = regular_file(&zero, 10, "capture").unwrap_err();
            assert!(e.to_string().contains("a character device"), "{e}");
            let fifo = dir.path().join("fifo.toml");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            if made.is_ok_and(|s| s.success()) {
                // Checked without opening it: opening a FIFO for reading would wait for a writer.
                let e = read_text(&fifo, "manifest").unwrap_err();
                assert!(e.to_string().contains("a FIFO"), "{e}");
            }
        }
    }
}
