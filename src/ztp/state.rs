//! Operational state of the certificate download, as `get` shows it.
//!
//! The reconciler updates a [`ZtpState`] behind a mutex; [`StateReader`]
//! turns it and the PKI domains into data nodes of `ztpd-ztp` and
//! `ztpd-pki` when a client reads state.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::download::FailureKind;
use crate::datastore::StateNode;
use crate::netconf::ops::StateSource;
use crate::pki::{CertificateInfo, PkiStore, certificate::rfc3339};
use crate::schema::paths;

/// File name of the downloaded CA certificate in the PKI domain `default`.
pub const BOOTSTRAP_CERTIFICATE: &str = "NCE-bootstrap.pem";

/// Overall state of the CA certificate (`certificate-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertificateStatus {
    #[default]
    Absent,
    Downloading,
    Installed,
    Failed,
}

impl CertificateStatus {
    fn yang_name(self) -> &'static str {
        match self {
            CertificateStatus::Absent => "absent",
            CertificateStatus::Downloading => "downloading",
            CertificateStatus::Installed => "installed",
            CertificateStatus::Failed => "failed",
        }
    }
}

/// Progress with one server (`server/status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerStatus {
    #[default]
    Idle,
    Connecting,
    Requesting,
    Verifying,
    Succeeded,
    Failed,
}

impl ServerStatus {
    fn yang_name(self) -> &'static str {
        match self {
            ServerStatus::Idle => "idle",
            ServerStatus::Connecting => "connecting",
            ServerStatus::Requesting => "requesting",
            ServerStatus::Verifying => "verifying",
            ServerStatus::Succeeded => "succeeded",
            ServerStatus::Failed => "failed",
        }
    }
}

/// State of one configured server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerState {
    pub address: IpAddr,
    pub vpn_instance: String,
    pub status: ServerStatus,
    pub attempts: u32,
    pub last_attempt: Option<OffsetDateTime>,
    pub last_error: Option<(FailureKind, String)>,
}

impl ServerState {
    /// Creates the state of a server that no attempt was made with yet.
    pub fn new(address: IpAddr, vpn_instance: String) -> ServerState {
        ServerState {
            address,
            vpn_instance,
            status: ServerStatus::Idle,
            attempts: 0,
            last_attempt: None,
            last_error: None,
        }
    }
}

/// Origin of the installed certificate. It is stored in the state
/// directory so that it survives a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CertificateSource {
    pub address: IpAddr,
    pub vpn_instance: String,
    #[serde(with = "time::serde::rfc3339")]
    pub installed_at: OffsetDateTime,
}

/// The installed CA certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledCertificate {
    pub info: CertificateInfo,
    pub source: Option<CertificateSource>,
}

/// Everything `certificate-remote-state` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZtpState {
    pub status: CertificateStatus,
    pub certificate: Option<InstalledCertificate>,
    /// In the order of the configured list.
    pub servers: Vec<ServerState>,
    /// When the next round after a failed one starts.
    pub next_attempt: Option<OffsetDateTime>,
}

/// The state shared between the reconciler and readers.
#[derive(Clone, Default)]
pub struct SharedState(Arc<Mutex<ZtpState>>);

impl SharedState {
    /// Locks the state. A panic while the lock was held leaves plain data
    /// behind, so a poisoned lock is used as it is.
    pub fn lock(&self) -> MutexGuard<'_, ZtpState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The file that records where the installed certificate came from.
#[derive(Debug, Clone)]
pub struct SourceFile {
    path: PathBuf,
}

impl SourceFile {
    /// File name inside the state directory.
    pub const NAME: &'static str = "ztp-certificate-source.json";

    /// Returns the file in `state_dir`.
    pub fn in_dir(state_dir: &Path) -> SourceFile {
        SourceFile {
            path: state_dir.join(Self::NAME),
        }
    }

    /// Reads the recorded source, if any. A damaged file is logged and
    /// ignored: it only loses the source fields of the state.
    pub fn load(&self) -> Option<CertificateSource> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        match serde_json::from_str(&text) {
            Ok(source) => Some(source),
            Err(err) => {
                tracing::warn!(path = %self.path.display(), error = %err, "cannot read the certificate source record");
                None
            }
        }
    }

    /// Records `source`, atomically.
    pub fn save(&self, source: &CertificateSource) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(source).map_err(std::io::Error::other)?;
        let temp = self.path.with_extension("json.tmp");
        std::fs::write(&temp, text)?;
        std::fs::File::open(&temp)?.sync_all()?;
        std::fs::rename(&temp, &self.path)
    }

    /// Forgets the source.
    pub fn remove(&self) {
        if let Err(err) = std::fs::remove_file(&self.path)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %err, "cannot remove the certificate source record");
        }
    }
}

/// Reads the shared state and the PKI domains as data nodes for `get`.
pub struct StateReader {
    pub state: SharedState,
    pub pki: PkiStore,
}

impl StateSource for StateReader {
    fn state_nodes(&self) -> Vec<StateNode> {
        let mut nodes = Vec::new();
        let state = self.state.lock().clone();
        push_ztp_state(&state, &mut nodes);
        match self.pki.domains() {
            Ok(domains) => push_pki_state(&domains, &mut nodes),
            Err(err) => tracing::warn!(error = %err, "cannot read the PKI domains"),
        }
        nodes
    }
}

fn push(nodes: &mut Vec<StateNode>, path: String, value: impl Into<String>) {
    nodes.push(StateNode {
        path,
        value: Some(value.into()),
    });
}

fn push_ztp_state(state: &ZtpState, nodes: &mut Vec<StateNode>) {
    let base = paths::CERTIFICATE_REMOTE_STATE;
    push(
        nodes,
        format!("{base}/certificate-status"),
        state.status.yang_name(),
    );

    if let Some(installed) = &state.certificate {
        let certificate = format!("{base}/certificate");
        let info = &installed.info;
        push(
            nodes,
            format!("{certificate}/file-name"),
            BOOTSTRAP_CERTIFICATE,
        );
        push(
            nodes,
            format!("{certificate}/fingerprint-sha256"),
            info.fingerprint_sha256.clone(),
        );
        push(
            nodes,
            format!("{certificate}/subject"),
            info.subject.clone(),
        );
        push(nodes, format!("{certificate}/issuer"), info.issuer.clone());
        push(
            nodes,
            format!("{certificate}/not-before"),
            rfc3339(info.not_before),
        );
        push(
            nodes,
            format!("{certificate}/not-after"),
            rfc3339(info.not_after),
        );
        if let Some(source) = &installed.source {
            push(
                nodes,
                format!("{certificate}/source-address"),
                source.address.to_string(),
            );
            push(
                nodes,
                format!("{certificate}/source-vpn-instance"),
                source.vpn_instance.clone(),
            );
            push(
                nodes,
                format!("{certificate}/installed-at"),
                rfc3339(source.installed_at),
            );
        }
    }

    if let Some(at) = state.next_attempt {
        push(nodes, format!("{base}/next-attempt"), rfc3339(at));
    }

    for server in &state.servers {
        let Some(vpn) = predicate("vpn-instance", &server.vpn_instance) else {
            continue;
        };
        let entry = format!("{base}/server[address='{}']{vpn}", server.address);
        push(nodes, format!("{entry}/status"), server.status.yang_name());
        push(
            nodes,
            format!("{entry}/attempts"),
            server.attempts.to_string(),
        );
        if let Some(at) = server.last_attempt {
            push(nodes, format!("{entry}/last-attempt"), rfc3339(at));
        }
        if let Some((kind, message)) = &server.last_error {
            push(nodes, format!("{entry}/last-error"), kind.yang_name());
            push(
                nodes,
                format!("{entry}/last-error-message"),
                message.clone(),
            );
        }
    }
}

fn push_pki_state(domains: &[crate::pki::Domain], nodes: &mut Vec<StateNode>) {
    for domain in domains {
        let Some(name) = predicate("name", &domain.name) else {
            continue;
        };
        let entry = format!("{}{name}", paths::PKI_DOMAIN);
        nodes.push(StateNode {
            path: entry.clone(),
            value: None,
        });
        for certificate in &domain.certificates {
            let Some(file) = predicate("name", &certificate.name) else {
                continue;
            };
            let cert = format!("{entry}/certificate{file}");
            let info = &certificate.info;
            push(nodes, format!("{cert}/type"), certificate.kind.yang_name());
            push(nodes, format!("{cert}/subject"), info.subject.clone());
            push(nodes, format!("{cert}/issuer"), info.issuer.clone());
            push(
                nodes,
                format!("{cert}/serial-number"),
                info.serial_number.clone(),
            );
            push(
                nodes,
                format!("{cert}/not-before"),
                rfc3339(info.not_before),
            );
            push(nodes, format!("{cert}/not-after"), rfc3339(info.not_after));
            push(
                nodes,
                format!("{cert}/fingerprint-sha256"),
                info.fingerprint_sha256.clone(),
            );
        }
    }
}

/// Returns a key predicate `[key='value']`, quoting with `"` when the value
/// contains `'`. A value with both quote characters cannot be written as an
/// XPath 1.0 literal, so `None` is returned.
fn predicate(key: &str, value: &str) -> Option<String> {
    if !value.contains('\'') {
        Some(format!("[{key}='{value}']"))
    } else if !value.contains('"') {
        Some(format!("[{key}=\"{value}\"]"))
    } else {
        tracing::warn!(
            key,
            value,
            "state entry skipped: its key contains both quote characters"
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicate_picks_quote() {
        assert_eq!(predicate("k", "a").as_deref(), Some("[k='a']"));
        assert_eq!(predicate("k", "it's").as_deref(), Some("[k=\"it's\"]"));
        assert_eq!(predicate("k", "'\""), None);
    }

    #[test]
    fn server_state_nodes_carry_error() {
        let mut server = ServerState::new("10.0.0.1".parse().expect("address"), "_public_".into());
        server.status = ServerStatus::Failed;
        server.attempts = 2;
        server.last_error = Some((FailureKind::IdentityMismatch, "echo differs".into()));
        let state = ZtpState {
            status: CertificateStatus::Failed,
            certificate: None,
            servers: vec![server],
            next_attempt: None,
        };
        let mut nodes = Vec::new();
        push_ztp_state(&state, &mut nodes);
        let find = |suffix: &str| {
            nodes
                .iter()
                .find(|node| node.path.ends_with(suffix))
                .and_then(|node| node.value.clone())
        };
        assert_eq!(find("/certificate-status").as_deref(), Some("failed"));
        assert_eq!(find("/last-error").as_deref(), Some("identity-mismatch"));
        assert_eq!(find("/attempts").as_deref(), Some("2"));
    }
}
