//! The reconciler: runs the certificate download whenever the committed
//! server list changes and no certificate is installed.
//!
//! ```text
//! commit ─▶ commit hook ─▶ watch<ServerList> ─▶ Reconciler::run
//!                                                  │ one round: servers in order
//!                                                  ├─▶ download::fetch_ca_certificate
//!                                                  ├─▶ PkiStore (NCE-bootstrap.pem)
//!                                                  └─▶ SharedState (read by `get`)
//! ```
//!
//! Only this task talks to bootstrap servers, so a slow server never holds
//! up a NETCONF session. A change of the list during a round cancels the
//! round at once and starts a new one with the new list.

use time::OffsetDateTime;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::download::{self, ClientSettings, DownloadError, FailureKind, Identity, Phase, Target};
use super::server_list::{ServerConfig, ServerList, VerifyType};
use super::state::{
    BOOTSTRAP_CERTIFICATE, CertificateSource, CertificateStatus, InstalledCertificate, ServerState,
    ServerStatus, SharedState, SourceFile,
};
use crate::config::{BootstrapConfig, DeviceConfig};
use crate::pki::{DEFAULT_DOMAIN, PkiStore};

/// File name of the device's initial certificate while it is imported into
/// the PKI domain `default` for a download.
pub const INITIAL_CERTIFICATE: &str = "initial-device.pem";

/// Everything a download round needs, apart from the server list.
pub struct Worker {
    pub state: SharedState,
    pub pki: PkiStore,
    pub source_file: SourceFile,
    pub device: DeviceConfig,
    pub bootstrap: BootstrapConfig,
}

/// Runs download rounds until `shutdown` is cancelled.
pub async fn run(
    worker: Worker,
    mut servers: watch::Receiver<ServerList>,
    shutdown: CancellationToken,
) {
    worker.refresh_installed();
    loop {
        let list = servers.borrow_and_update().clone();
        worker.sync_servers(&list);
        worker.refresh_installed();

        if !list.servers.is_empty() && !worker.is_installed() {
            tokio::select! {
                _ = worker.round(&list) => {}
                changed = servers.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    tracing::info!("bootstrap server list changed during a download; starting over");
                    continue;
                }
                () = shutdown.cancelled() => return,
            }
        }

        tokio::select! {
            changed = servers.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = shutdown.cancelled() => return,
        }
    }
}

impl Worker {
    fn is_installed(&self) -> bool {
        self.pki.contains(DEFAULT_DOMAIN, BOOTSTRAP_CERTIFICATE)
    }

    /// Brings the state in line with the certificate file: details of an
    /// installed certificate (also after a restart), or `absent` when the
    /// file is gone.
    fn refresh_installed(&self) {
        let installed = self.is_installed();
        let mut state = self.state.lock();
        if !installed {
            if state.certificate.take().is_some() || state.status == CertificateStatus::Installed {
                state.status = CertificateStatus::Absent;
                self.source_file.remove();
            }
            return;
        }
        if state.certificate.is_some() {
            state.status = CertificateStatus::Installed;
            return;
        }
        let path = self
            .pki
            .root()
            .join(DEFAULT_DOMAIN)
            .join(BOOTSTRAP_CERTIFICATE);
        let info = std::fs::read_to_string(&path)
            .ok()
            .and_then(|pem| crate::pki::inspect_pem(&pem).ok())
            .and_then(|mut infos| (!infos.is_empty()).then(|| infos.swap_remove(0)));
        match info {
            Some(info) => {
                tracing::info!(
                    fingerprint_sha256 = %info.fingerprint_sha256,
                    subject = %info.subject,
                    "CA certificate already installed; no download runs while it is"
                );
                state.status = CertificateStatus::Installed;
                state.certificate = Some(InstalledCertificate {
                    info,
                    source: self.source_file.load(),
                });
            }
            None => {
                tracing::warn!(path = %path.display(), "the installed CA certificate cannot be read")
            }
        }
    }

    /// Makes the per-server state follow the configured list, keeping the
    /// counters of servers that stay.
    fn sync_servers(&self, list: &ServerList) {
        let mut state = self.state.lock();
        let mut previous = std::mem::take(&mut state.servers);
        state.servers = list
            .servers
            .iter()
            .map(|server| {
                let kept = previous
                    .iter()
                    .position(|old| {
                        old.address == server.address && old.vpn_instance == server.vpn_instance
                    })
                    .map(|index| previous.swap_remove(index));
                kept.unwrap_or_else(|| {
                    ServerState::new(server.address, server.vpn_instance.clone())
                })
            })
            .collect();
        if list.servers.is_empty() && state.status != CertificateStatus::Installed {
            state.status = CertificateStatus::Absent;
        }
    }

    /// Tries the servers in order until one delivers a certificate that is
    /// then installed.
    async fn round(&self, list: &ServerList) {
        tracing::info!(servers = list.servers.len(), "certificate download started");
        self.state.lock().status = CertificateStatus::Downloading;

        let settings = match ClientSettings::load(&self.device, &self.bootstrap) {
            Ok(settings) => settings,
            Err(err) => {
                tracing::error!(error = %err, "cannot load the device identity for the download");
                for server in &list.servers {
                    self.record_failure(server, &err);
                }
                self.state.lock().status = CertificateStatus::Failed;
                return;
            }
        };
        let initial = InitialCertificate::import(&self.pki, &settings);

        for server in &list.servers {
            self.start_attempt(server);
            tracing::info!(server = %server.label(), port = server.port, "trying bootstrap server");

            let target = Target {
                address: server.address,
                port: server.port,
                vpn_instance: server.vpn_instance.clone(),
                identity: match server.verify_type {
                    VerifyType::Esn => Identity::Esn(self.device.esn.clone()),
                    VerifyType::IpAddress => Identity::ServerAddress,
                },
            };
            let progress = |phase: Phase| self.set_status(server, phase_status(phase));
            let fetched = match download::fetch_ca_certificate(&settings, &target, &progress).await
            {
                Ok(fetched) => fetched,
                Err(err) => {
                    tracing::warn!(server = %server.label(), kind = %err.kind, error = %err.message, "bootstrap server failed");
                    self.record_failure(server, &err);
                    continue;
                }
            };

            if let Err(err) = self
                .pki
                .install(DEFAULT_DOMAIN, BOOTSTRAP_CERTIFICATE, &fetched.pem)
            {
                let err = DownloadError {
                    kind: FailureKind::StorageFailed,
                    message: format!("cannot store {BOOTSTRAP_CERTIFICATE}: {err}"),
                };
                tracing::error!(server = %server.label(), error = %err.message, "cannot store the CA certificate");
                self.record_failure(server, &err);
                continue;
            }
            let source = CertificateSource {
                address: server.address,
                vpn_instance: server.vpn_instance.clone(),
                installed_at: OffsetDateTime::now_utc(),
            };
            if let Err(err) = self.source_file.save(&source) {
                tracing::warn!(error = %err, "cannot record where the CA certificate came from");
            }

            let Some(info) = fetched.certificates.into_iter().next() else {
                continue;
            };
            // The initial certificate leaves the PKI domain before the result
            // is published, so a `get` that returns `installed` never lists it.
            drop(initial);
            tracing::info!(
                server = %server.label(),
                fingerprint_sha256 = %info.fingerprint_sha256,
                subject = %info.subject,
                "CA certificate installed"
            );
            let mut state = self.state.lock();
            state.status = CertificateStatus::Installed;
            state.certificate = Some(InstalledCertificate {
                info,
                source: Some(source),
            });
            if let Some(entry) = find_server(&mut state.servers, server) {
                entry.status = ServerStatus::Succeeded;
            }
            return;
        }

        drop(initial);
        tracing::warn!(
            servers = list.servers.len(),
            "every bootstrap server failed"
        );
        self.state.lock().status = CertificateStatus::Failed;
    }

    fn start_attempt(&self, server: &ServerConfig) {
        let mut state = self.state.lock();
        if let Some(entry) = find_server(&mut state.servers, server) {
            entry.status = ServerStatus::Connecting;
            entry.last_error = None;
            entry.attempts = entry.attempts.saturating_add(1);
            entry.last_attempt = Some(OffsetDateTime::now_utc());
        }
    }

    fn set_status(&self, server: &ServerConfig, status: ServerStatus) {
        let mut state = self.state.lock();
        if let Some(entry) = find_server(&mut state.servers, server) {
            entry.status = status;
        }
    }

    fn record_failure(&self, server: &ServerConfig, err: &DownloadError) {
        let mut state = self.state.lock();
        if let Some(entry) = find_server(&mut state.servers, server) {
            entry.status = ServerStatus::Failed;
            entry.last_error = Some((err.kind, err.message.clone()));
        }
    }
}

fn find_server<'a>(
    servers: &'a mut [ServerState],
    server: &ServerConfig,
) -> Option<&'a mut ServerState> {
    servers
        .iter_mut()
        .find(|entry| entry.address == server.address && entry.vpn_instance == server.vpn_instance)
}

fn phase_status(phase: Phase) -> ServerStatus {
    match phase {
        Phase::Connecting => ServerStatus::Connecting,
        Phase::Requesting => ServerStatus::Requesting,
        Phase::Verifying => ServerStatus::Verifying,
    }
}

/// The device's initial certificate in the PKI domain `default` for the
/// length of a round. Dropping the value removes the file again, also when
/// the round is cancelled.
struct InitialCertificate<'a> {
    pki: &'a PkiStore,
    imported: bool,
}

impl<'a> InitialCertificate<'a> {
    fn import(pki: &'a PkiStore, settings: &ClientSettings) -> InitialCertificate<'a> {
        let pem = String::from_utf8_lossy(&settings.client_cert_pem);
        let imported = match pki.install(DEFAULT_DOMAIN, INITIAL_CERTIFICATE, &pem) {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(error = %err, "cannot import the initial certificate into the PKI domain");
                false
            }
        };
        InitialCertificate { pki, imported }
    }
}

impl Drop for InitialCertificate<'_> {
    fn drop(&mut self) {
        if self.imported
            && let Err(err) = self.pki.remove(DEFAULT_DOMAIN, INITIAL_CERTIFICATE)
        {
            tracing::warn!(error = %err, "cannot remove the initial certificate from the PKI domain");
        }
    }
}
