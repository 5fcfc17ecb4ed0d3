//! The SSH host key file: generated on first start, loaded afterwards.
//!
//! The key is an unencrypted OpenSSH private key file, as `ssh-keygen`
//! writes it, so operators can inspect it with the usual tools.

#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::TryRngCore;
use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey};
use tracing::{info, warn};
use zeroize::Zeroizing;

use super::transport::TransportError;

/// File mode of the host key: readable by the owner only, as sshd
/// requires of its own host keys.
pub const HOST_KEY_MODE: u32 = 0o600;

/// Mode of a state directory that this module creates.
const STATE_DIR_MODE: u32 = 0o700;

/// Loads the host key at `path`, or generates an ed25519 key and writes it
/// there when the file does not exist.
pub fn load_or_generate(path: &Path) -> Result<PrivateKey, TransportError> {
    let key = match fs::read(path) {
        Ok(pem) => load(path, &pem)?,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            let key = generate()?;
            write(path, &key).map_err(|source| TransportError::WriteHostKey {
                path: path.to_owned(),
                source,
            })?;
            info!(path = %path.display(), "generated SSH host key");
            key
        }
        Err(err) => {
            return Err(TransportError::LoadHostKey {
                path: path.to_owned(),
                message: err.to_string(),
            });
        }
    };
    info!(
        path = %path.display(),
        algorithm = %key.algorithm(),
        fingerprint = %key.public_key().fingerprint(HashAlg::Sha256),
        "SSH host key"
    );
    write_public(path, &key);
    Ok(key)
}

/// Returns the path of the public key file next to the host key: the host
/// key's path with `.pub` appended, as `ssh-keygen` names it.
pub fn public_key_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Writes the public half of the host key in OpenSSH format, so clients
/// can pin it (`known_hosts`, ncclient's `hostkey_b64`). A failure only
/// costs that convenience, so it is logged, not returned.
fn write_public(path: &Path, key: &PrivateKey) {
    let public_path = public_key_path(path);
    let line = match key.public_key().to_openssh() {
        Ok(line) => format!("{line}\n"),
        Err(err) => {
            warn!(error = %err, "cannot encode the SSH host public key");
            return;
        }
    };
    if fs::read_to_string(&public_path).is_ok_and(|current| current == line) {
        return;
    }
    if let Err(err) = fs::write(&public_path, line) {
        warn!(path = %public_path.display(), error = %err, "cannot write the SSH host public key");
    }
}

fn load(path: &Path, pem: &[u8]) -> Result<PrivateKey, TransportError> {
    let invalid = |message: String| TransportError::LoadHostKey {
        path: path.to_owned(),
        message,
    };
    let key = PrivateKey::from_openssh(pem).map_err(|err| {
        invalid(format!(
            "not an OpenSSH private key ({err}); remove the file to generate a new key"
        ))
    })?;
    if key.is_encrypted() {
        return Err(invalid(
            "the key is encrypted; decrypt it with `ssh-keygen -p`".to_owned(),
        ));
    }
    if let Ok(metadata) = fs::metadata(path) {
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "SSH host key is accessible to group or others; set its mode to 600"
            );
        }
    }
    Ok(key)
}

fn generate() -> Result<PrivateKey, TransportError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng
        .try_fill_bytes(seed.as_mut())
        .map_err(|err| TransportError::GenerateHostKey(err.to_string()))?;
    let keypair = Ed25519Keypair::from_seed(&seed);
    PrivateKey::new(keypair.into(), "ztpd host key")
        .map_err(|err| TransportError::GenerateHostKey(err.to_string()))
}

/// Writes the key through a temporary file that is synced and renamed, so
/// that a crash leaves either no key file or a complete one.
fn write(path: &Path, key: &PrivateKey) -> io::Result<()> {
    let pem = key
        .to_openssh(LineEnding::LF)
        .map_err(|err| io::Error::other(err.to_string()))?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    DirBuilder::new()
        .recursive(true)
        .mode(STATE_DIR_MODE)
        .create(&directory)?;

    let mut temporary_name = path.file_name().unwrap_or_default().to_owned();
    temporary_name.push(".tmp");
    let temporary = directory.join(temporary_name);
    // A file left by an earlier crash may have another mode, and
    // `create_new` applies the mode only to a new file.
    match fs::remove_file(&temporary) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
        _ => {}
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(HOST_KEY_MODE)
        .open(&temporary)?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)?;
    // The rename is durable once the directory entry is synced.
    fs::File::open(&directory)?.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn generates_then_reuses_key() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("state/ssh_host_ed25519_key");
        let first = load_or_generate(&path).expect("generated");
        assert_eq!(first.algorithm(), russh::keys::Algorithm::Ed25519);
        let mode = fs::metadata(&path).expect("key file").permissions().mode();
        assert_eq!(mode & 0o777, HOST_KEY_MODE);
        let second = load_or_generate(&path).expect("loaded");
        assert_eq!(
            first.public_key().fingerprint(HashAlg::Sha256),
            second.public_key().fingerprint(HashAlg::Sha256)
        );
        let mut leftovers: Vec<_> = fs::read_dir(path.parent().expect("parent"))
            .expect("list")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        leftovers.sort();
        assert_eq!(
            leftovers,
            vec![
                std::ffi::OsString::from("ssh_host_ed25519_key"),
                std::ffi::OsString::from("ssh_host_ed25519_key.pub"),
            ]
        );
    }

    #[test]
    fn public_key_file_matches_host_key() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("ssh_host_ed25519_key");
        let key = load_or_generate(&path).expect("generated");
        let line = fs::read_to_string(public_key_path(&path)).expect("public key file");
        let public = russh::keys::PublicKey::from_openssh(line.trim()).expect("OpenSSH public key");
        assert_eq!(&public, key.public_key());
    }

    #[test]
    fn invalid_key_file_is_named() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("key");
        fs::write(&path, "not a key").expect("write");
        let err = load_or_generate(&path).expect_err("invalid key");
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("not an OpenSSH private key"), "{message}");
    }

    #[test]
    fn stale_temporary_file_is_replaced() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("key");
        let stale = directory.path().join("key.tmp");
        fs::write(&stale, "partial").expect("write");
        fs::set_permissions(&stale, fs::Permissions::from_mode(0o644)).expect("chmod");
        load_or_generate(&path).expect("generated");
        assert!(!stale.exists());
        let mode = fs::metadata(&path).expect("key file").permissions().mode();
        assert_eq!(mode & 0o777, HOST_KEY_MODE);
    }
}
