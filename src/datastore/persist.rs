//! The running datastore on disk.
//!
//! Running is stored as XML instance data in one file. A save writes a
//! temporary file in the same directory and flushes it to disk. It then
//! renames it over the old file and flushes the directory. A crash at any
//! moment therefore leaves either the old or the new configuration
//! complete on disk.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// File name of the running datastore inside the state directory.
pub const RUNNING_FILE: &str = "running.xml";

/// Location of the running datastore file.
#[derive(Debug, Clone)]
pub struct RunningFile {
    path: PathBuf,
}

impl RunningFile {
    /// Returns the running datastore file in `state_dir`.
    pub fn in_dir(state_dir: &Path) -> RunningFile {
        RunningFile {
            path: state_dir.join(RUNNING_FILE),
        }
    }

    /// Returns the file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the stored XML, or `None` when nothing was saved yet.
    pub fn load(&self) -> io::Result<Option<String>> {
        match fs::read_to_string(&self.path) {
            Ok(text) => Ok(Some(text)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Replaces the stored XML atomically.
    pub fn save(&self, xml: &str) -> io::Result<()> {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        let temp = dir.join(format!(".{RUNNING_FILE}.tmp"));

        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(xml.as_bytes())?;
        file.sync_all()?;
        drop(file);

        fs::rename(&temp, &self.path)?;
        File::open(dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = RunningFile::in_dir(dir.path());
        assert_eq!(file.load().expect("readable"), None);
        file.save("<a/>").expect("saved");
        file.save("<b/>").expect("saved again");
        assert_eq!(file.load().expect("readable").as_deref(), Some("<b/>"));
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .expect("listable")
            .filter_map(Result::ok)
            .map(|entry| entry.file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from(RUNNING_FILE)]);
    }
}
