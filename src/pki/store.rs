//! The PKI domain store: one directory per domain under the PKI root, one
//! PEM file per certificate entry.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::certificate::{CertificateError, CertificateInfo, inspect_pem};

/// The domain that always exists.
pub const DEFAULT_DOMAIN: &str = "default";

/// Maximum length of a domain name, from the `domain-name` typedef in
/// `ztpd-pki.yang`.
const MAX_DOMAIN_NAME_LEN: usize = 64;

/// Maximum length of a certificate file name, from `ztpd-pki.yang` and the
/// usual 255-byte file name limit of Linux file systems.
const MAX_FILE_NAME_LEN: usize = 255;

/// Maximum size of a certificate file that [`PkiStore::domains`] reads. A
/// chain of a few certificates is a few KiB, so a larger file is skipped as
/// not being a certificate file.
const MAX_CERTIFICATE_FILE_SIZE: u64 = 1024 * 1024;

/// Directory mode: the store contains only certificates, but the device's
/// trust decisions rest on them, so only the agent's user may change or list
/// them.
const DIRECTORY_MODE: u32 = 0o700;

/// File mode of an installed certificate file.
const FILE_MODE: u32 = 0o644;

/// Counter that makes temporary file names unique within the process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Role of a stored certificate, as the `type` leaf of `ztpd-pki.yang`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateKind {
    /// The file's first certificate has basicConstraints cA=true.
    Ca,
    /// Any other certificate: the device's own.
    Local,
}

impl CertificateKind {
    /// Returns the enum name in `ztpd-pki.yang`.
    pub fn yang_name(self) -> &'static str {
        match self {
            CertificateKind::Ca => "ca",
            CertificateKind::Local => "local",
        }
    }
}

/// One certificate file of a domain, described by its first certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCertificate {
    /// File name within the domain.
    pub name: String,
    pub kind: CertificateKind,
    pub info: CertificateInfo,
}

/// One PKI domain and its certificate files, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub certificates: Vec<StoredCertificate>,
}

/// Errors of the PKI store.
#[derive(Debug, thiserror::Error)]
pub enum PkiStoreError {
    #[error("invalid {what} name {name:?}: {reason}")]
    InvalidName {
        what: &'static str,
        name: String,
        reason: &'static str,
    },
    #[error("{action} {path} failed: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("the PEM to install is not a certificate file: {0}")]
    InvalidCertificate(#[from] CertificateError),
}

/// The PKI domains under one root directory (`<root>/<domain>/<file>`).
#[derive(Debug, Clone)]
pub struct PkiStore {
    root: PathBuf,
}

impl PkiStore {
    /// Opens the store, creating the root and the domain `default` (mode
    /// 0700) when they are missing.
    pub fn open(root: impl Into<PathBuf>) -> Result<PkiStore, PkiStoreError> {
        let store = PkiStore { root: root.into() };
        create_private_dir(&store.root)?;
        create_private_dir(&store.root.join(DEFAULT_DOMAIN))?;
        Ok(store)
    }

    /// Returns the root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Lists the domains and their certificate files, sorted by name.
    ///
    /// Entries whose names are not valid domain or file names are ignored,
    /// and so are temporary files of an interrupted install. A file that
    /// cannot be read or parsed is skipped with a warning.
    pub fn domains(&self) -> Result<Vec<Domain>, PkiStoreError> {
        let mut domains = Vec::new();
        for entry in read_dir(&self.root)? {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if validate_domain_name(&name).is_err() || !entry.path().is_dir() {
                continue;
            }
            let certificates = self.domain_certificates(&entry.path())?;
            domains.push(Domain { name, certificates });
        }
        domains.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(domains)
    }

    fn domain_certificates(&self, dir: &Path) -> Result<Vec<StoredCertificate>, PkiStoreError> {
        let mut certificates = Vec::new();
        for entry in read_dir(dir)? {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if validate_file_name(&name).is_err() {
                continue;
            }
            let path = entry.path();
            match read_certificate_file(&path) {
                Ok(info) => {
                    let kind = if info.is_ca {
                        CertificateKind::Ca
                    } else {
                        CertificateKind::Local
                    };
                    certificates.push(StoredCertificate { name, kind, info });
                }
                Err(reason) => {
                    tracing::warn!(path = %path.display(), %reason, "skipping PKI file that is not a certificate file");
                }
            }
        }
        certificates.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(certificates)
    }

    /// Stores `pem` as `<domain>/<file_name>`, replacing any file of that
    /// name, and creates the domain if it is missing.
    ///
    /// The PEM must contain only certificates. The file is written under a
    /// temporary name in the same directory, flushed to disk and renamed, so
    /// a reader, or the store after a crash, has either the old or the new
    /// file, never a part of one.
    pub fn install(&self, domain: &str, file_name: &str, pem: &str) -> Result<(), PkiStoreError> {
        validate_domain_name(domain)?;
        validate_file_name(file_name)?;
        inspect_pem(pem)?;

        let dir = self.root.join(domain);
        create_private_dir(&dir)?;
        let target = dir.join(file_name);
        let temp = dir.join(format!(
            ".{file_name}.tmp-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));

        let result = write_synced(&temp, pem.as_bytes())
            .and_then(|()| {
                fs::rename(&temp, &target).map_err(|source| PkiStoreError::Io {
                    action: "renaming into",
                    path: target.clone(),
                    source,
                })
            })
            .and_then(|()| sync_dir(&dir));
        if result.is_err() {
            // The temporary file may or may not exist at this point.
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// Removes `<domain>/<file_name>`. Returns false when it did not exist.
    pub fn remove(&self, domain: &str, file_name: &str) -> Result<bool, PkiStoreError> {
        validate_domain_name(domain)?;
        validate_file_name(file_name)?;
        let dir = self.root.join(domain);
        let path = dir.join(file_name);
        match fs::remove_file(&path) {
            Ok(()) => {
                sync_dir(&dir)?;
                Ok(true)
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(PkiStoreError::Io {
                action: "removing",
                path,
                source,
            }),
        }
    }

    /// Returns whether `<domain>/<file_name>` exists as a regular file. It
    /// returns false for invalid names.
    pub fn contains(&self, domain: &str, file_name: &str) -> bool {
        validate_domain_name(domain).is_ok()
            && validate_file_name(file_name).is_ok()
            && self.root.join(domain).join(file_name).is_file()
    }
}

/// Checks a domain name against the `domain-name` typedef of
/// `ztpd-pki.yang` and the path rules of [`check_path_component`].
pub fn validate_domain_name(name: &str) -> Result<(), PkiStoreError> {
    let invalid = |reason| PkiStoreError::InvalidName {
        what: "domain",
        name: name.to_owned(),
        reason,
    };
    check_path_component(name).map_err(invalid)?;
    if name.len() > MAX_DOMAIN_NAME_LEN {
        return Err(invalid("longer than 64 characters"));
    }
    if !name
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-'))
    {
        return Err(invalid(
            "only letters, digits, '_', '.' and '-' are allowed",
        ));
    }
    Ok(())
}

/// Checks a certificate file name against the path rules of
/// [`check_path_component`] and the 255-byte limit.
pub fn validate_file_name(name: &str) -> Result<(), PkiStoreError> {
    let invalid = |reason| PkiStoreError::InvalidName {
        what: "file",
        name: name.to_owned(),
        reason,
    };
    check_path_component(name).map_err(invalid)?;
    if name.len() > MAX_FILE_NAME_LEN {
        return Err(invalid("longer than 255 bytes"));
    }
    Ok(())
}

/// Rejects names that could leave the domain directory or hide in it:
/// empty, containing `/`, `..` or NUL, or starting with `.`.
fn check_path_component(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name.contains('/') {
        return Err("contains '/'");
    }
    if name.contains("..") {
        return Err("contains '..'");
    }
    if name.contains('\0') {
        return Err("contains NUL");
    }
    if name.starts_with('.') {
        return Err("starts with '.'");
    }
    Ok(())
}

fn create_private_dir(path: &Path) -> Result<(), PkiStoreError> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIRECTORY_MODE)
        .create(path)
        .map_err(|source| PkiStoreError::Io {
            action: "creating directory",
            path: path.to_owned(),
            source,
        })
}

fn read_dir(path: &Path) -> Result<Vec<fs::DirEntry>, PkiStoreError> {
    let io_error = |source| PkiStoreError::Io {
        action: "listing",
        path: path.to_owned(),
        source,
    };
    fs::read_dir(path)
        .map_err(io_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_error)
}

/// Reads a certificate file and describes its first certificate. The error
/// is a reason for the warning log.
fn read_certificate_file(path: &Path) -> Result<CertificateInfo, String> {
    let file = File::open(path).map_err(|err| err.to_string())?;
    let metadata = file.metadata().map_err(|err| err.to_string())?;
    if !metadata.is_file() {
        return Err("not a regular file".to_owned());
    }
    let mut text = String::new();
    file.take(MAX_CERTIFICATE_FILE_SIZE + 1)
        .read_to_string(&mut text)
        .map_err(|err| err.to_string())?;
    if text.len() as u64 > MAX_CERTIFICATE_FILE_SIZE {
        return Err(format!("larger than {MAX_CERTIFICATE_FILE_SIZE} bytes"));
    }
    let infos = inspect_pem(&text).map_err(|err| err.to_string())?;
    infos
        .into_iter()
        .next()
        .ok_or_else(|| "no certificate".to_owned())
}

fn write_synced(path: &Path, contents: &[u8]) -> Result<(), PkiStoreError> {
    let io_error = |source| PkiStoreError::Io {
        action: "writing",
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(io_error)?;
    file.write_all(contents).map_err(io_error)?;
    file.sync_all().map_err(io_error)
}

/// Flushes a directory so that a rename or removal in it survives a crash.
fn sync_dir(path: &Path) -> Result<(), PkiStoreError> {
    File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| PkiStoreError::Io {
            action: "flushing directory",
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    use std::os::unix::fs::PermissionsExt as _;

    fn certificate(common_name: &str, is_ca: bool) -> String {
        let key = KeyPair::generate().expect("key generation");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        if is_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        params.self_signed(&key).expect("self-signed").pem()
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn open_creates_default_domain() {
        let temp = tempfile::tempdir().expect("tempdir");
        let root = temp.path().join("pki");
        let store = PkiStore::open(&root).expect("open");
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("default")), 0o700);
        let domains = store.domains().expect("domains");
        assert_eq!(domains.len(), 1);
        assert_eq!(domains[0].name, "default");
        assert!(domains[0].certificates.is_empty());
    }

    #[test]
    fn install_lists_and_removes() {
        let temp = tempfile::tempdir().expect("tempdir");
        let store = PkiStore::open(temp.path()).expect("open");
        store
            .install("default", "NCE-bootstrap.pem", &certificate("NCE CA", true))
            .expect("install CA");
        store
            .install("default", "device.pem", &certificate("device", false))
            .expect("install local");
        assert!(store.contains("default", "NCE-bootstrap.pem"));

        let domains = store.domains().expect("domains");
        let names: Vec<_> = domains[0]
            .certificates
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["NCE-bootstrap.pem", "device.pem"]);
        assert_eq!(domains[0].certificates[0].kind, CertificateKind::Ca);
        assert_eq!(domains[0].certificates[0].info.subject, "CN=NCE CA");
        assert_eq!(domains[0].certificates[1].kind, CertificateKind::Local);

        assert!(
            store
                .remove("default", "NCE-bootstrap.pem")
                .expect("remove")
        );
        assert!(!store.contains("default", "NCE-bootstrap.pem"));
        assert!(
            !store
                .remove("default", "NCE-bootstrap.pem")
                .expect("second remove")
        );
    }

    #[test]
    fn install_replaces_and_leaves_no_temp_file() {
        let temp = tempfile::tempdir().expect("tempdir");
        let store = PkiStore::open(temp.path()).expect("open");
        store
            .install("default", "ca.pem", &certificate("first", true))
            .expect("first install");
        store
            .install("default", "ca.pem", &certificate("second", true))
            .expect("second install");
        let entries: Vec<_> = fs::read_dir(temp.path().join("default"))
            .expect("read_dir")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert_eq!(entries, ["ca.pem"]);
        let domains = store.domains().expect("domains");
        assert_eq!(domains[0].certificates[0].info.subject, "CN=second");
    }

    #[test]
    fn install_creates_new_domain() {
        let temp = tempfile::tempdir().expect("tempdir");
        let store = PkiStore::open(temp.path()).expect("open");
        store
            .install("lab", "ca.pem", &certificate("lab", true))
            .expect("install");
        assert_eq!(mode(&temp.path().join("lab")), 0o700);
        let names: Vec<_> = store
            .domains()
            .expect("domains")
            .into_iter()
            .map(|domain| domain.name)
            .collect();
        assert_eq!(names, ["default", "lab"]);
    }

    #[test]
    fn install_rejects_non_certificate_pem() {
        let temp = tempfile::tempdir().expect("tempdir");
        let store = PkiStore::open(temp.path()).expect("open");
        let key = KeyPair::generate().expect("key").serialize_pem();
        let err = store
            .install("default", "key.pem", &key)
            .expect_err("key is not a certificate");
        assert!(matches!(err, PkiStoreError::InvalidCertificate(_)), "{err}");
        assert!(!store.contains("default", "key.pem"));
    }

    #[test]
    fn unparsable_files_are_skipped() {
        let temp = tempfile::tempdir().expect("tempdir");
        let store = PkiStore::open(temp.path()).expect("open");
        fs::write(temp.path().join("default/garbage.pem"), "not a certificate").expect("write");
        fs::write(
            temp.path().join("default/.hidden.pem"),
            certificate("x", true),
        )
        .expect("write");
        store
            .install("default", "good.pem", &certificate("good", true))
            .expect("install");
        let domains = store.domains().expect("domains");
        let names: Vec<_> = domains[0]
            .certificates
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["good.pem"]);
    }

    #[test]
    fn unsafe_names_rejected() {
        let temp = tempfile::tempdir().expect("tempdir");
        let store = PkiStore::open(temp.path()).expect("open");
        let pem = certificate("x", true);
        for file_name in [
            "",
            "../x.pem",
            "a/b.pem",
            "..",
            ".",
            ".hidden",
            "a..b",
            "nul\0.pem",
        ] {
            let err = store
                .install("default", file_name, &pem)
                .expect_err("unsafe file name");
            assert!(
                matches!(err, PkiStoreError::InvalidName { what: "file", .. }),
                "{file_name:?}: {err}"
            );
            assert!(!store.contains("default", file_name), "{file_name:?}");
        }
        for domain in ["", "..", "../etc", "a/b", ".hidden", "with space"] {
            let err = store
                .install(domain, "ca.pem", &pem)
                .expect_err("unsafe domain name");
            assert!(
                matches!(err, PkiStoreError::InvalidName { what: "domain", .. }),
                "{domain:?}: {err}"
            );
        }
        assert!(store.remove("..", "x").is_err());
        assert!(validate_file_name(&"a".repeat(255)).is_ok());
        assert!(validate_file_name(&"a".repeat(256)).is_err());
    }
}
