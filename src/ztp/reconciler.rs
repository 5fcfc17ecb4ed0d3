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

use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::download::{self, ClientSettings, DownloadError, FailureKind, Identity, Phase, Target};
use super::server_list::{ServerConfig, ServerList, VerifyType};
use super::state::{
    BOOTSTRAP_CERTIFICATE, CertificateSource, CertificateStatus, InstalledCertificate, ServerState,
    ServerStatus, SharedState, SourceFile,
};
use crate::config::{BootstrapConfig, DeviceConfig};
use crate::netconf::notifications::events::DownloadAttempt;
use crate::pki::{DEFAULT_DOMAIN, PkiStore};

/// File name of the device's initial certificate while it is imported into
/// the PKI domain `default` for a download.
pub const INITIAL_CERTIFICATE: &str = "initial-device.pem";

/// Everything a download round needs, apart from the server list.
pub struct Worker {
    /// Bus on which each attempt's result is published as
    /// `certificate-download-event`.
    pub notifications: crate::netconf::notifications::NotificationBus,
    pub state: SharedState,
    pub pki: PkiStore,
    pub source_file: SourceFile,
    pub device: DeviceConfig,
    pub bootstrap: BootstrapConfig,
}

/// A request from a NETCONF operation to the reconciler.
pub enum Command {
    /// `download-certificate`: start a round now.
    DownloadNow {
        reply: oneshot::Sender<Result<(), ControlError>>,
    },
    /// `delete-certificate`: remove a certificate file from a PKI domain.
    DeleteCertificate {
        domain: String,
        name: String,
        reply: oneshot::Sender<Result<(), ControlError>>,
    },
}

/// Reasons the reconciler refuses a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error(
        "{BOOTSTRAP_CERTIFICATE} is installed in PKI domain {DEFAULT_DOMAIN}; delete it with delete-certificate before downloading again"
    )]
    Installed,
    #[error("no bootstrap server is configured")]
    NoServers,
    #[error("no certificate {name:?} in PKI domain {domain:?}")]
    NotFound { domain: String, name: String },
    #[error("{0}")]
    Invalid(String),
    #[error("the reconciler is not running")]
    Stopped,
}

/// Queue depth of requests to the reconciler; NETCONF sessions wait when
/// it is full.
const COMMAND_QUEUE_DEPTH: usize = 16;

/// The sending side of the reconciler's request queue.
#[derive(Clone)]
pub struct Control {
    commands: mpsc::Sender<Command>,
}

impl Control {
    /// Creates the queue; the receiver goes to [`run`].
    pub fn channel() -> (Control, mpsc::Receiver<Command>) {
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE_DEPTH);
        (Control { commands }, receiver)
    }

    async fn call(
        &self,
        build: impl FnOnce(oneshot::Sender<Result<(), ControlError>>) -> Command,
    ) -> Result<(), ControlError> {
        let (reply, response) = oneshot::channel();
        self.commands
            .send(build(reply))
            .await
            .map_err(|_| ControlError::Stopped)?;
        response.await.map_err(|_| ControlError::Stopped)?
    }

    /// Starts a download round now.
    pub async fn download_now(&self) -> Result<(), ControlError> {
        self.call(|reply| Command::DownloadNow { reply }).await
    }

    /// Removes certificate file `name` from PKI domain `domain`.
    pub async fn delete_certificate(
        &self,
        domain: String,
        name: String,
    ) -> Result<(), ControlError> {
        self.call(|reply| Command::DeleteCertificate {
            domain,
            name,
            reply,
        })
        .await
    }
}

/// Exponential back-off between rounds after every server failed.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// Creates a back-off starting at `initial` and growing to at most
    /// `max`.
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            failures: 0,
        }
    }

    /// Returns the wait before the next round and counts a failure: the
    /// initial wait doubled once per earlier failure, capped at the
    /// maximum, minus a random part of up to half of it.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 2u32.saturating_pow(self.failures.min(31));
        let full = self.initial.saturating_mul(factor).min(self.max);
        self.failures = self.failures.saturating_add(1);
        let jitter_range = full.as_millis() as u64 / 2;
        let jitter = if jitter_range == 0 {
            0
        } else {
            rand::random_range(0..=jitter_range)
        };
        full.saturating_sub(Duration::from_millis(jitter))
    }

    /// Starts over from the initial wait.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Runs download rounds until `shutdown` is cancelled.
///
/// A round runs at start, after every change of the server list, after a
/// `download-certificate`, and when the back-off wait after a failed round
/// ends. It never runs while the certificate is installed or no server is
/// configured.
pub async fn run(
    worker: Worker,
    mut servers: watch::Receiver<ServerList>,
    mut commands: mpsc::Receiver<Command>,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::new(
        worker.bootstrap.retry_initial(),
        worker.bootstrap.retry_max(),
    );
    let mut triggered = true;
    let mut retry_at: Option<tokio::time::Instant> = None;
    worker.remove_interrupted_import();
    worker.refresh_installed();

    loop {
        let list = servers.borrow_and_update().clone();
        worker.sync_servers(&list);
        worker.refresh_installed();

        // A round, when something asked for one and it can run.
        if std::mem::take(&mut triggered) && !list.servers.is_empty() && !worker.is_installed() {
            retry_at = None;
            worker.set_next_attempt(None);
            let installed = tokio::select! {
                installed = worker.round(&list) => installed,
                changed = servers.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    tracing::info!("bootstrap server list changed during a download; starting over");
                    backoff.reset();
                    triggered = true;
                    continue;
                }
                Some(command) = commands.recv() => {
                    // The round was cut short to serve the request, so it
                    // starts over.
                    tracing::info!("request during a download; starting the round over");
                    worker.handle_command(command, &list, &mut backoff);
                    triggered = true;
                    continue;
                }
                () = shutdown.cancelled() => return,
            };
            if installed {
                backoff.reset();
            } else {
                let delay = backoff.next_delay();
                retry_at = Some(tokio::time::Instant::now() + delay);
                let at = OffsetDateTime::now_utc() + delay;
                worker.set_next_attempt(Some(at));
                tracing::info!(delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), next_attempt = %crate::pki::certificate::rfc3339(at), "next download round scheduled");
            }
        }

        // Wait for the next reason to run.
        tokio::select! {
            changed = servers.changed() => {
                if changed.is_err() {
                    return;
                }
                backoff.reset();
                retry_at = None;
                worker.set_next_attempt(None);
                triggered = true;
            }
            Some(command) = commands.recv() => {
                if worker.handle_command(command, &list, &mut backoff) {
                    retry_at = None;
                    triggered = true;
                }
            }
            () = sleep_until(retry_at), if retry_at.is_some() => {
                retry_at = None;
                triggered = true;
            }
            () = shutdown.cancelled() => return,
        }
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

impl Worker {
    /// Carries out a request and replies to it. Returns whether a round
    /// should start.
    fn handle_command(&self, command: Command, list: &ServerList, backoff: &mut Backoff) -> bool {
        match command {
            Command::DownloadNow { reply } => {
                let result = if self.is_installed() {
                    Err(ControlError::Installed)
                } else if list.servers.is_empty() {
                    Err(ControlError::NoServers)
                } else {
                    Ok(())
                };
                let start = result.is_ok();
                if start {
                    tracing::info!("download requested");
                    backoff.reset();
                }
                let _ = reply.send(result);
                start
            }
            Command::DeleteCertificate {
                domain,
                name,
                reply,
            } => {
                let result = match self.pki.remove(&domain, &name) {
                    Ok(true) => {
                        tracing::info!(%domain, %name, "certificate deleted");
                        self.refresh_installed();
                        Ok(())
                    }
                    Ok(false) => Err(ControlError::NotFound { domain, name }),
                    Err(err) => Err(ControlError::Invalid(err.to_string())),
                };
                let _ = reply.send(result);
                false
            }
        }
    }

    fn set_next_attempt(&self, at: Option<OffsetDateTime>) {
        self.state.lock().next_attempt = at;
    }

    fn is_installed(&self) -> bool {
        self.pki.contains(DEFAULT_DOMAIN, BOOTSTRAP_CERTIFICATE)
    }

    /// Removes the initial certificate that a download left in the PKI
    /// domain when the process ended during it, by a kill or a crash,
    /// before its cleanup ran. No download runs yet when this is called.
    fn remove_interrupted_import(&self) {
        match self.pki.remove(DEFAULT_DOMAIN, INITIAL_CERTIFICATE) {
            Ok(true) => tracing::info!(
                file = INITIAL_CERTIFICATE,
                "removed the initial certificate that an interrupted download left in the PKI domain"
            ),
            Ok(false) => {}
            Err(err) => tracing::warn!(
                error = %err,
                file = INITIAL_CERTIFICATE,
                "cannot remove the initial certificate that an interrupted download left in the PKI domain"
            ),
        }
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
    /// Returns whether a certificate was installed.
    async fn round(&self, list: &ServerList) -> bool {
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
                return false;
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
            let fingerprint = info.fingerprint_sha256.clone();
            {
                let mut state = self.state.lock();
                state.status = CertificateStatus::Installed;
                state.certificate = Some(InstalledCertificate {
                    info,
                    source: Some(source),
                });
                if let Some(entry) = find_server(&mut state.servers, server) {
                    entry.status = ServerStatus::Succeeded;
                }
            }
            self.notifications
                .publish_certificate_download(&DownloadAttempt {
                    address: server.address,
                    vpn_instance: server.vpn_instance.clone(),
                    result: Ok(fingerprint),
                });
            return true;
        }

        drop(initial);
        tracing::warn!(
            servers = list.servers.len(),
            "every bootstrap server failed"
        );
        self.state.lock().status = CertificateStatus::Failed;
        false
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
        {
            let mut state = self.state.lock();
            if let Some(entry) = find_server(&mut state.servers, server) {
                entry.status = ServerStatus::Failed;
                entry.last_error = Some((err.kind, err.message.clone()));
            }
        }
        self.notifications
            .publish_certificate_download(&DownloadAttempt {
                address: server.address,
                vpn_instance: server.vpn_instance.clone(),
                result: Err((err.kind.yang_name(), err.message.clone())),
            });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_maximum_with_jitter() {
        let mut backoff = Backoff::new(Duration::from_secs(10), Duration::from_secs(60));
        let bounds = [(5, 10), (10, 20), (20, 40), (30, 60), (30, 60)];
        for (low, high) in bounds {
            let delay = backoff.next_delay();
            assert!(delay >= Duration::from_secs(low), "{delay:?} < {low}s");
            assert!(delay <= Duration::from_secs(high), "{delay:?} > {high}s");
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_secs(10));
    }

    #[test]
    fn backoff_does_not_overflow() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(3600));
        for _ in 0..100 {
            assert!(backoff.next_delay() <= Duration::from_secs(3600));
        }
    }
}
