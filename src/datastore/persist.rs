//! Datastores on disk: running, startup, and the running configuration to
//! restore while a confirmed commit is not yet confirmed.
//!
//! Each is stored as XML instance data in one file. A save writes a
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
/// File name of the startup datastore inside the state directory.
pub const STARTUP_FILE: &str = "startup.xml";
/// File name of the running configuration from before an unconfirmed
/// confirmed commit. Its presence at start means the commit was never
/// confirmed, so running is restored from it.
pub const ROLLBACK_FILE: &str = "running-before-confirmed-commit.xml";

/// Location of one datastore file.
#[derive(Debug, Clone)]
pub struct DatastoreFile {
    path: PathBuf,
}

/// The running datastore's file; the name most code uses.
pub type RunningFile = DatastoreFile;

impl DatastoreFile {
    /// Returns the running datastore file in `state_dir`.
    pub fn in_dir(state_dir: &Path) -> DatastoreFile {
        DatastoreFile {
            path: state_dir.join(RUNNING_FILE),
        }
    }

    /// Returns the file `name` in the same directory as this one.
    pub fn sibling(&self, name: &str) -> DatastoreFile {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        DatastoreFile {
            path: dir.join(name),
        }
    }

    /// Deletes the file; a missing file is not an error.
    pub fn remove(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
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
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let temp = dir.join(format!(".{name}.tmp"));

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
