//! Lab-only: generation of the certificates and keys for a device, a
//! bootstrap server and the CA certificate that the server hands out.
//!
//! Nothing here belongs on a real device. The keys are generated in memory
//! and written unencrypted.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// How far back the validity of generated certificates starts, so that a
/// peer whose clock is a little behind still accepts them.
pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::hours(1);

/// Default lifetime of generated certificates.
pub const DEFAULT_LIFETIME: Duration = Duration::days(365);

/// File mode of private key files.
const KEY_FILE_MODE: u32 = 0o600;

/// File mode of certificate files.
const CERTIFICATE_FILE_MODE: u32 = 0o644;

/// Mode of the store directories, which a lab server only reads.
const DIRECTORY_MODE: u32 = 0o755;

/// Errors of lab PKI generation and writing.
#[derive(Debug, thiserror::Error)]
pub enum LabPkiError {
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("invalid ESN {0:?}: it must be 1 to 64 letters, digits, '.', '_' or '-'")]
    InvalidEsn(String),
    #[error("writing {path} failed: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Validity period of a generated certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// Returns the period from [`CLOCK_SKEW_ALLOWANCE`] ago for
    /// [`DEFAULT_LIFETIME`].
    pub fn starting_now() -> Validity {
        let not_before = OffsetDateTime::now_utc() - CLOCK_SKEW_ALLOWANCE;
        Validity {
            not_before,
            not_after: not_before + DEFAULT_LIFETIME,
        }
    }

    /// Returns a period that ended a day ago.
    pub fn expired() -> Validity {
        let now = OffsetDateTime::now_utc();
        Validity {
            not_before: now - Duration::days(30),
            not_after: now - Duration::days(1),
        }
    }

    /// Returns a period that starts in a day.
    pub fn not_yet_valid() -> Validity {
        let now = OffsetDateTime::now_utc();
        Validity {
            not_before: now + Duration::days(1),
            not_after: now + Duration::days(30),
        }
    }
}

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct IssuedCertificate {
    pub certificate_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("certificate_pem", &self.certificate_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A self-signed CA that can issue certificates.
pub struct LabCa {
    certificate_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for LabCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabCa")
            .field("certificate_pem", &self.certificate_pem)
            .finish_non_exhaustive()
    }
}

impl LabCa {
    /// Generates a self-signed CA valid for [`Validity::starting_now`].
    pub fn generate(common_name: &str) -> Result<LabCa, LabPkiError> {
        LabCa::generate_with_validity(common_name, Validity::starting_now())
    }

    /// Generates a self-signed CA with the given validity.
    pub fn generate_with_validity(
        common_name: &str,
        validity: Validity,
    ) -> Result<LabCa, LabPkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let certificate = params.self_signed(&key)?;
        Ok(LabCa {
            certificate_pem: certificate.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Returns the CA certificate in PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// Issues a TLS server certificate (serverAuth) with IP address SANs for
    /// `addresses` and the DNS SAN `localhost`.
    pub fn issue_server_certificate(
        &self,
        addresses: &[IpAddr],
    ) -> Result<IssuedCertificate, LabPkiError> {
        let mut params = leaf_params("ztpd lab bootstrap server", Validity::starting_now());
        params.subject_alt_names = addresses
            .iter()
            .map(|address| SanType::IpAddress(*address))
            .collect();
        params
            .subject_alt_names
            .push(SanType::DnsName("localhost".try_into()?));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(&params)
    }

    /// Issues a TLS client certificate (clientAuth) with the given common
    /// name.
    pub fn issue_client_certificate(
        &self,
        common_name: &str,
    ) -> Result<IssuedCertificate, LabPkiError> {
        let mut params = leaf_params(common_name, Validity::starting_now());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(&params)
    }

    fn issue(&self, params: &CertificateParams) -> Result<IssuedCertificate, LabPkiError> {
        let key = KeyPair::generate()?;
        let certificate = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCertificate {
            certificate_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Everything a lab needs for one device and one bootstrap server.
#[derive(Debug)]
pub struct LabPki {
    pub esn: String,
    pub server_addresses: Vec<IpAddr>,
    /// CA of the device vendor, which issued the device certificate. The
    /// bootstrap server trusts it for client certificates.
    pub vendor_ca: LabCa,
    /// The device's initial certificate (CN = ESN, clientAuth) and key.
    pub device: IssuedCertificate,
    /// CA that issued the server certificate. The device trusts it as its
    /// bootstrap trust anchor.
    pub bootstrap_ca: LabCa,
    /// The bootstrap server's certificate (IP SANs, serverAuth) and key.
    pub server: IssuedCertificate,
    /// The CA certificate that the bootstrap server hands out, standing for
    /// the management system's CA.
    pub nce_ca: LabCa,
}

impl LabPki {
    /// Generates the three CAs and the device and server certificates, all
    /// valid for [`Validity::starting_now`].
    pub fn generate(esn: &str, server_addresses: &[IpAddr]) -> Result<LabPki, LabPkiError> {
        if !is_valid_esn(esn) {
            return Err(LabPkiError::InvalidEsn(esn.to_owned()));
        }
        let vendor_ca = LabCa::generate("ztpd lab vendor CA")?;
        let device = vendor_ca.issue_client_certificate(esn)?;
        let bootstrap_ca = LabCa::generate("ztpd lab bootstrap CA")?;
        let server = bootstrap_ca.issue_server_certificate(server_addresses)?;
        let nce_ca = LabCa::generate("ztpd lab NCE CA")?;
        Ok(LabPki {
            esn: esn.to_owned(),
            server_addresses: server_addresses.to_vec(),
            vendor_ca,
            device,
            bootstrap_ca,
            server,
            nce_ca,
        })
    }

    /// Writes the PEM files into `dir`, creating it:
    ///
    /// - `vendor-ca.pem`, `device.pem`, `device.key`: the device side;
    /// - `bootstrap-ca.pem`, `server.pem`, `server.key`: the server side;
    /// - `nce-ca.pem`: the CA certificate that the server hands out;
    /// - `store/esn/<ESN>.pem` and `store/address/<address>.pem` for each
    ///   server address in canonical text form: the lab server's store,
    ///   each file a copy of `nce-ca.pem`.
    ///
    /// Key files get mode 0600. Existing files are replaced.
    pub fn write_to(&self, dir: &Path) -> Result<(), LabPkiError> {
        create_dir(dir)?;
        let files: [(&str, &str, u32); 7] = [
            (
                "vendor-ca.pem",
                self.vendor_ca.certificate_pem(),
                CERTIFICATE_FILE_MODE,
            ),
            (
                "device.pem",
                &self.device.certificate_pem,
                CERTIFICATE_FILE_MODE,
            ),
            ("device.key", &self.device.key_pem, KEY_FILE_MODE),
            (
                "bootstrap-ca.pem",
                self.bootstrap_ca.certificate_pem(),
                CERTIFICATE_FILE_MODE,
            ),
            (
                "server.pem",
                &self.server.certificate_pem,
                CERTIFICATE_FILE_MODE,
            ),
            ("server.key", &self.server.key_pem, KEY_FILE_MODE),
            (
                "nce-ca.pem",
                self.nce_ca.certificate_pem(),
                CERTIFICATE_FILE_MODE,
            ),
        ];
        for (name, contents, mode) in files {
            write_file(&dir.join(name), contents, mode)?;
        }

        let store = dir.join("store");
        let nce = self.nce_ca.certificate_pem();
        create_dir(&store.join("esn"))?;
        write_file(
            &store.join("esn").join(format!("{}.pem", self.esn)),
            nce,
            CERTIFICATE_FILE_MODE,
        )?;
        create_dir(&store.join("address"))?;
        for address in &self.server_addresses {
            // IpAddr's Display is the canonical text form.
            write_file(
                &store.join("address").join(format!("{address}.pem")),
                nce,
                CERTIFICATE_FILE_MODE,
            )?;
        }
        Ok(())
    }

    /// Generates a self-signed CA certificate (PEM) that expired a day ago.
    pub fn expired_ca() -> Result<String, LabPkiError> {
        Ok(
            LabCa::generate_with_validity("ztpd lab expired CA", Validity::expired())?
                .certificate_pem,
        )
    }

    /// Generates a self-signed CA certificate (PEM) that becomes valid in a
    /// day.
    pub fn not_yet_valid_ca() -> Result<String, LabPkiError> {
        Ok(
            LabCa::generate_with_validity("ztpd lab future CA", Validity::not_yet_valid())?
                .certificate_pem,
        )
    }

    /// Generates a self-signed certificate (PEM) without basicConstraints
    /// cA, which is not a CA certificate.
    pub fn non_ca_certificate() -> Result<String, LabPkiError> {
        let key = KeyPair::generate()?;
        let validity = Validity::starting_now();
        let params = leaf_params("ztpd lab non-CA certificate", validity);
        Ok(params.self_signed(&key)?.pem())
    }
}

/// Returns whether an ESN matches the `esn` typedef of `ztpd-bootstrap.yang`:
/// 1 to 64 characters of `[A-Za-z0-9._-]`.
pub fn is_valid_esn(esn: &str) -> bool {
    (1..=64).contains(&esn.len())
        && esn
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "ztpd lab");
    name.push(DnType::CommonName, common_name);
    name
}

fn leaf_params(common_name: &str, validity: Validity) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    params
}

fn create_dir(path: &Path) -> Result<(), LabPkiError> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIRECTORY_MODE)
        .create(path)
        .map_err(|source| LabPkiError::Write {
            path: path.to_owned(),
            source,
        })
}

/// Replaces `path` with `contents`. The file is removed first, so that a
/// key file never keeps the wider mode of an older file.
fn write_file(path: &Path, contents: &str, mode: u32) -> Result<(), LabPkiError> {
    let io_error = |source| LabPkiError::Write {
        path: path.to_owned(),
        source,
    };
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(io_error(err)),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io_error)?;
    file.write_all(contents.as_bytes()).map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{check_ca_bundle, inspect_pem};
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn generated_certificates_have_roles() {
        let addresses: Vec<IpAddr> =
            vec!["127.0.0.1".parse().expect("v4"), "::1".parse().expect("v6")];
        let pki = LabPki::generate("ESN-1", &addresses).expect("generate");
        let now = OffsetDateTime::now_utc();
        for ca in [&pki.vendor_ca, &pki.bootstrap_ca, &pki.nce_ca] {
            check_ca_bundle(ca.certificate_pem(), now).expect("valid CA");
        }
        let device = inspect_pem(&pki.device.certificate_pem).expect("device certificate");
        assert!(!device[0].is_ca);
        assert_eq!(device[0].subject, "CN=ESN-1,O=ztpd lab");
        assert_eq!(device[0].issuer, "CN=ztpd lab vendor CA,O=ztpd lab");
        let server = inspect_pem(&pki.server.certificate_pem).expect("server certificate");
        assert_eq!(server[0].issuer, "CN=ztpd lab bootstrap CA,O=ztpd lab");
    }

    #[test]
    fn broken_certificates_fail_checks() {
        let now = OffsetDateTime::now_utc();
        assert!(check_ca_bundle(&LabPki::expired_ca().expect("expired"), now).is_err());
        assert!(check_ca_bundle(&LabPki::not_yet_valid_ca().expect("future"), now).is_err());
        assert!(check_ca_bundle(&LabPki::non_ca_certificate().expect("leaf"), now).is_err());
    }

    #[test]
    fn invalid_esn_rejected() {
        for esn in ["", "a/b", "../x", "with space", &"x".repeat(65)] {
            assert!(LabPki::generate(esn, &[]).is_err(), "{esn:?}");
        }
    }

    #[test]
    fn write_to_lays_out_files() {
        let temp = tempfile::tempdir().expect("tempdir");
        let addresses: Vec<IpAddr> = vec![
            "127.0.0.1".parse().expect("v4"),
            "2001:DB8::1".parse().expect("v6"),
        ];
        let pki = LabPki::generate("ESN-2", &addresses).expect("generate");
        pki.write_to(temp.path()).expect("write");
        pki.write_to(temp.path()).expect("write again replaces");
        for name in [
            "vendor-ca.pem",
            "device.pem",
            "device.key",
            "bootstrap-ca.pem",
            "server.pem",
            "server.key",
            "nce-ca.pem",
            "store/esn/ESN-2.pem",
            "store/address/127.0.0.1.pem",
            "store/address/2001:db8::1.pem",
        ] {
            assert!(temp.path().join(name).is_file(), "{name} missing");
        }
        for key in ["device.key", "server.key"] {
            let mode = fs::metadata(temp.path().join(key))
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
        let stored = fs::read_to_string(temp.path().join("store/esn/ESN-2.pem")).expect("read");
        assert_eq!(stored, pki.nce_ca.certificate_pem());
    }
}
