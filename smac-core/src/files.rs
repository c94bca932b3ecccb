//! The run's files: replaced atomically and safely (run directories, scheduler files), and text
//! read with the position of any invalid byte.
//!
//! The new content goes to a temporary file created exclusively (`O_EXCL`, a random name, so a
//! file or symlink someone planted cannot be opened or followed) in the target's directory, is
//! synced, and is renamed over the target. On any failure the temporary file is removed (the
//! `tempfile` crate deletes it on drop), so a full disk leaves nothing behind that could break
//! a later resume; readers and restarts never see a half-written file.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Writes `bytes` to `path` atomically, with permissions `mode` (e.g. `0o600` for secrets).
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
    // Created with mode 0600; widened below only once the content is complete.
    let mut tmp = tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".tmp").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    if mode != 0o600 {
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Reads a text file, naming the byte offset (and line) of the first invalid UTF-8 sequence
/// rather than only saying that there is one.
pub fn read_utf8(path: &Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8: invalid byte at offset {at} (line {line})"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn planted_temp_files_and_symlinks_are_neither_used_nor_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sched.json");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        // What an attacker could pre-create under the old predictable names.
        std::os::unix::fs::symlink(&victim, dir.path().join("sched.tmp")).unwrap();
        std::os::unix::fs::symlink(
            &victim,
            dir.path().join(format!(".sched.json.{}.tmp", std::process::id())),
        )
        .unwrap();
        write_atomically(&target, b"{\"token\": \"secret\"}", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "{\"token\": \"secret\"}");
        assert_eq!(std::fs::metadata(&target).unwrap().mode() & 0o777, 0o600);
        write_atomically(&target, b"public", 0o644).unwrap();
        assert_eq!(std::fs::metadata(&target).unwrap().mode() & 0o777, 0o644);
    }

    #[test]
    fn non_utf8_text_is_reported_with_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("scenario.toml");
        std::fs::write(&p, b"n_trials = 5\nname = \"\xff\"\n").unwrap();
        let err = read_utf8(&p).unwrap_err().to_string();
        assert!(err.contains("offset 21") && err.contains("line 2"), "{err}");
        std::fs::write(&p, "name = \"ok\"").unwrap();
        assert_eq!(read_utf8(&p).unwrap(), "name = \"ok\"");
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // Renaming over a directory fails after the temporary file was written.
        let target = dir.path().join("runhistory.json");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("x"), "").unwrap();
        assert!(write_atomically(&target, b"data", 0o644).is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("runhistory.json")], "{left:?}");
        // Once the obstacle is gone, the next write works.
        std::fs::remove_dir_all(&target).unwrap();
        write_atomically(&target, b"data", 0o644).unwrap();
    }
}
