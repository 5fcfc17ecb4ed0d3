//! Lab-only: a bootstrap server that serves the `get-ca-certificate` RPC
//! over HTTPS from a directory, and can misbehave on purpose.
//!
//! The store directory contains `esn/<ESN>.pem` and `address/<address>.pem`,
//! with the address in canonical text form, as [`LabPki::write_to`] lays
//! them out. The server requires a client certificate issued by the
//! configured client CA, unless none is configured. It does not check that
//! the ESN matches the client certificate.
//!
//! [`LabPki::write_to`]: super::pki::LabPki::write_to

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::{CancellationToken, DropGuard};
use tower::ServiceExt as _;

use super::pki::{LabPki, LabPkiError, is_valid_esn};
use crate::ztp::download::{MAX_RESPONSE_SIZE, RPC_PATH, YANG_DATA_JSON};

/// Maximum size of a request body. A valid request is under 200 bytes.
pub const MAX_REQUEST_BODY_SIZE: usize = 64 * 1024;

/// Maximum number of connections served at once. More are closed at once,
/// which bounds the tasks and memory that a flood of connections can take.
const MAX_CONNECTIONS: usize = 64;

/// Backlog of a listening socket bound to a device. It exceeds
/// [`MAX_CONNECTIONS`], so a burst of clients waits instead of being
/// refused.
const LISTEN_BACKLOG: i32 = 128;

/// Time a client has to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Time a client has to send the request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause after a failed `accept`, which usually means the process ran out
/// of file descriptors, so that the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Size of the body sent by [`Fault::Oversize`]: four times what the device
/// accepts.
const OVERSIZE_BODY_SIZE: usize = 4 * MAX_RESPONSE_SIZE;

/// Size of each chunk of the [`Fault::Oversize`] body.
const OVERSIZE_CHUNK_SIZE: usize = 16 * 1024;

/// Delay of `--fault slow` when no number of seconds is given.
pub const DEFAULT_SLOW_DELAY: Duration = Duration::from_secs(30);

/// A way to misbehave, to test the device's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Echo an identity other than the one sent.
    WrongEcho,
    /// Leave the identity out of the response.
    MissingEcho,
    /// Respond 200 with a body that is not JSON.
    NotJson,
    /// Respond with this HTTP status and an `ietf-restconf:errors` body.
    Status(u16),
    /// Respond 200 with a chunked body, without Content-Length, of
    /// [`OVERSIZE_BODY_SIZE`] bytes.
    Oversize,
    /// Wait this long before responding normally.
    Slow(Duration),
    /// Hand out a certificate that is not a CA certificate.
    NonCaCertificate,
    /// Hand out a CA certificate that expired.
    ExpiredCa,
}

impl FromStr for Fault {
    type Err = String;

    /// Parses the `--fault` names: `wrong-echo`, `missing-echo`,
    /// `not-json`, `status-<code>`, `oversize`, `slow` or
    /// `slow-<seconds>`, `non-ca`, `expired-ca`.
    fn from_str(name: &str) -> Result<Fault, String> {
        let fault = match name {
            "wrong-echo" => Fault::WrongEcho,
            "missing-echo" => Fault::MissingEcho,
            "not-json" => Fault::NotJson,
            "oversize" => Fault::Oversize,
            "slow" => Fault::Slow(DEFAULT_SLOW_DELAY),
            "non-ca" => Fault::NonCaCertificate,
            "expired-ca" => Fault::ExpiredCa,
            _ => {
                if let Some(code) = name.strip_prefix("status-") {
                    let code: u16 = code
                        .parse()
                        .ok()
                        .filter(|code| (100..=999).contains(code))
                        .ok_or_else(|| {
                            format!(
                                "invalid status in fault {name:?}: use status-100 to status-999"
                            )
                        })?;
                    Fault::Status(code)
                } else if let Some(seconds) = name.strip_prefix("slow-") {
                    let seconds: u64 = seconds.parse().map_err(|_| {
                        format!("invalid delay in fault {name:?}: use slow-<seconds>")
                    })?;
                    Fault::Slow(Duration::from_secs(seconds))
                } else {
                    return Err(format!(
                        "unknown fault {name:?}: use wrong-echo, missing-echo, not-json, status-<code>, oversize, slow, slow-<seconds>, non-ca or expired-ca"
                    ));
                }
            }
        };
        Ok(fault)
    }
}

/// Listen address, TLS material, store and fault of a lab server.
#[derive(Clone)]
pub struct LabServerSettings {
    pub listen: SocketAddr,
    /// PEM of the server certificate, optionally followed by intermediates.
    pub cert_pem: String,
    /// PEM of the server certificate's private key.
    pub key_pem: String,
    /// PEM of the CAs that client certificates must chain to. None accepts
    /// clients without a certificate.
    pub client_ca_pem: Option<String>,
    /// Directory with `esn/<ESN>.pem` and `address/<address>.pem`.
    pub store_dir: PathBuf,
    pub fault: Option<Fault>,
}

impl std::fmt::Debug for LabServerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabServerSettings")
            .field("listen", &self.listen)
            .field("key_pem", &"<redacted>")
            .field("client_ca", &self.client_ca_pem.is_some())
            .field("store_dir", &self.store_dir)
            .field("fault", &self.fault)
            .finish_non_exhaustive()
    }
}

/// Errors of starting the lab server.
#[derive(Debug, thiserror::Error)]
pub enum LabServerError {
    #[error("invalid TLS setup: {0}")]
    Tls(String),
    #[error("store directory {path} is not a directory")]
    Store { path: PathBuf },
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot generate the certificate for the fault: {0}")]
    FaultCertificate(#[from] LabPkiError),
}

/// A bound lab server, ready to [`run`](LabServer::run).
pub struct LabServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    acceptor: TlsAcceptor,
    router: axum::Router,
    fault: Option<Fault>,
}

/// Shared state of the request handlers.
struct ServerState {
    store_dir: PathBuf,
    fault: Option<Fault>,
    /// PEM handed out instead of the stored one under
    /// [`Fault::NonCaCertificate`] or [`Fault::ExpiredCa`].
    fault_certificate: Option<String>,
}

/// The TLS peer of a request, for the request log.
#[derive(Debug, Clone)]
struct ConnectionInfo {
    peer: SocketAddr,
    /// Subject of the client certificate, if one was presented.
    client_subject: Option<String>,
}

impl LabServer {
    /// Checks the settings and binds the listening socket.
    pub async fn bind(settings: LabServerSettings) -> Result<LabServer, LabServerError> {
        LabServer::bind_inner(settings, None).await
    }

    /// Like [`bind`](LabServer::bind), but binds the listening socket to
    /// the Linux network device `device` (`SO_BINDTODEVICE`) first. With a
    /// VRF device, the server listens on an address of that VRF, which an
    /// unbound socket cannot bind.
    pub async fn bind_to_device(
        settings: LabServerSettings,
        device: &str,
    ) -> Result<LabServer, LabServerError> {
        LabServer::bind_inner(settings, Some(device)).await
    }

    async fn bind_inner(
        settings: LabServerSettings,
        device: Option<&str>,
    ) -> Result<LabServer, LabServerError> {
        let tls = tls_config(&settings)?;
        if !settings.store_dir.is_dir() {
            return Err(LabServerError::Store {
                path: settings.store_dir,
            });
        }
        let fault_certificate = match settings.fault {
            Some(Fault::NonCaCertificate) => Some(LabPki::non_ca_certificate()?),
            Some(Fault::ExpiredCa) => Some(LabPki::expired_ca()?),
            _ => None,
        };
        let fault = settings.fault;
        let state = Arc::new(ServerState {
            store_dir: settings.store_dir,
            fault: settings.fault,
            fault_certificate,
        });

        let bound = match device {
            None => TcpListener::bind(settings.listen).await,
            Some(device) => listen_on_device(settings.listen, device),
        };
        let listener = bound.map_err(|source| LabServerError::Bind {
            address: settings.listen,
            source,
        })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| LabServerError::Bind {
                address: settings.listen,
                source,
            })?;
        Ok(LabServer {
            listener,
            local_addr,
            acceptor: TlsAcceptor::from(Arc::new(tls)),
            router: router(state),
            fault,
        })
    }

    /// Returns the address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves connections until `shutdown` is cancelled, then closes the
    /// listener and every open connection.
    pub async fn run(self, shutdown: CancellationToken) {
        let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        tracing::info!(address = %self.local_addr, fault = ?self.fault, "lab bootstrap server started");
        loop {
            let accepted = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            };
            let Ok(permit) = connections.clone().try_acquire_owned() else {
                tracing::warn!(%peer, max = MAX_CONNECTIONS, "too many connections, closing the new one");
                continue;
            };
            let acceptor = self.acceptor.clone();
            let router = self.router.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = serve_connection(stream, peer, acceptor, router) => {}
                    () = shutdown.cancelled() => {}
                }
                drop(permit);
            });
        }
        tracing::info!(address = %self.local_addr, "lab bootstrap server stopped");
    }

    /// Runs the server on a new task. Dropping the handle stops it.
    pub fn spawn(self) -> LabServerHandle {
        let shutdown = CancellationToken::new();
        let local_addr = self.local_addr;
        let task = tokio::spawn(self.run(shutdown.clone()));
        LabServerHandle {
            local_addr,
            stop_on_drop: shutdown.drop_guard(),
            task,
        }
    }
}

/// A running lab server. Dropping it stops the server without waiting.
pub struct LabServerHandle {
    local_addr: SocketAddr,
    stop_on_drop: DropGuard,
    task: tokio::task::JoinHandle<()>,
}

impl LabServerHandle {
    /// Returns the address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops the server and waits until its accept loop has ended.
    pub async fn shutdown(self) {
        drop(self.stop_on_drop);
        if let Err(err) = self.task.await {
            tracing::warn!(error = %err, "lab bootstrap server task failed");
        }
    }
}

/// Opens a listening socket on `address` that is bound to the network
/// device `device`.
fn listen_on_device(address: SocketAddr, device: &str) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};

    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.bind_device(Some(device.as_bytes())).map_err(|err| {
        std::io::Error::new(
            err.kind(),
            format!("binding to network device {device:?} failed: {err}"),
        )
    })?;
    // As tokio's TcpListener::bind does on Unix, so a restarted server can
    // take a port whose old connections are in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

fn tls_config(settings: &LabServerSettings) -> Result<rustls::ServerConfig, LabServerError> {
    let tls_error =
        |what: &str, err: &dyn std::fmt::Display| LabServerError::Tls(format!("{what}: {err}"));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());

    let certificates = CertificateDer::pem_slice_iter(settings.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| tls_error("server certificate PEM", &err))?;
    if certificates.is_empty() {
        return Err(LabServerError::Tls(
            "the server certificate PEM contains no certificate".to_owned(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(settings.key_pem.as_bytes())
        .map_err(|err| tls_error("server key PEM", &err))?;

    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| tls_error("TLS versions", &err))?;
    let builder = match &settings.client_ca_pem {
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            for certificate in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let certificate = certificate.map_err(|err| tls_error("client CA PEM", &err))?;
                roots
                    .add(certificate)
                    .map_err(|err| tls_error("client CA certificate", &err))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|err| tls_error("client certificate verifier", &err))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certificates, key)
        .map_err(|err| tls_error("server certificate and key", &err))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn router(state: Arc<ServerState>) -> axum::Router {
    axum::Router::new()
        .route(
            RPC_PATH,
            post(get_ca_certificate).fallback(method_not_allowed),
        )
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_SIZE))
        .with_state(state)
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    router: axum::Router,
) {
    let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(err)) => {
            tracing::info!(%peer, error = %err, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, timeout = ?TLS_HANDSHAKE_TIMEOUT, "TLS handshake timed out");
            return;
        }
    };
    let client_subject = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certificates| certificates.first())
        .and_then(|der| crate::pki::certificate::inspect_der(der).ok())
        .map(|info| info.subject);
    let info = ConnectionInfo {
        peer,
        client_subject,
    };
    let service = router.map_request(
        move |mut request: axum::http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(info.clone());
            request
        },
    );
    let result = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(service))
        .await;
    if let Err(err) = result {
        tracing::debug!(%peer, error = %err, "connection ended with an error");
    }
}

/// An identity from a request, as the store names it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RequestedIdentity {
    Esn(String),
    ServerAddress(IpAddr),
}

impl std::fmt::Display for RequestedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestedIdentity::Esn(esn) => write!(f, "esn {esn}"),
            RequestedIdentity::ServerAddress(address) => write!(f, "server-address {address}"),
        }
    }
}

/// An RFC 8040 error response.
#[derive(Debug)]
struct RestconfError {
    status: StatusCode,
    error_type: &'static str,
    error_tag: &'static str,
    message: String,
}

impl RestconfError {
    fn new(
        status: StatusCode,
        error_tag: &'static str,
        message: impl Into<String>,
    ) -> RestconfError {
        // RFC 8040 section 7.1: errors about the HTTP message itself are
        // protocol errors, errors about the RPC input are application ones.
        let error_type = match error_tag {
            "invalid-value" | "missing-element" | "unknown-element" => "application",
            _ => "protocol",
        };
        RestconfError {
            status,
            error_type,
            error_tag,
            message: message.into(),
        }
    }
}

impl IntoResponse for RestconfError {
    fn into_response(self) -> Response {
        let body = json!({
            "ietf-restconf:errors": {
                "error": [{
                    "error-type": self.error_type,
                    "error-tag": self.error_tag,
                    "error-message": self.message,
                }]
            }
        });
        yang_json_response(self.status, body.to_string())
    }
}

fn yang_json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = (status, body.into()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(YANG_DATA_JSON),
    );
    response
}

async fn get_ca_certificate(
    State(state): State<Arc<ServerState>>,
    Extension(connection): Extension<ConnectionInfo>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let identity = match parse_request(&headers, body) {
        Ok(identity) => identity,
        Err(err) => {
            tracing::info!(
                peer = %connection.peer,
                client = connection.client_subject.as_deref(),
                status = err.status.as_u16(),
                error = %err.message,
                "rejected bootstrap request"
            );
            return err.into_response();
        }
    };

    let (response, result) = respond(&state, &identity).await;
    tracing::info!(
        peer = %connection.peer,
        client = connection.client_subject.as_deref(),
        %identity,
        status = response.status().as_u16(),
        fault = ?state.fault,
        result,
        "bootstrap request"
    );
    response
}

/// Checks the headers and parses the RPC input.
fn parse_request(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<RequestedIdentity, RestconfError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case(YANG_DATA_JSON)
        && !media_type.eq_ignore_ascii_case("application/json")
    {
        return Err(RestconfError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid-value",
            format!("Content-Type {content_type:?} is not supported: send {YANG_DATA_JSON}"),
        ));
    }

    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            RestconfError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-big",
                format!("the request body exceeds {MAX_REQUEST_BODY_SIZE} bytes"),
            )
        } else {
            RestconfError::new(
                StatusCode::BAD_REQUEST,
                "malformed-message",
                format!("reading the request body failed: {}", rejection.body_text()),
            )
        }
    })?;
    parse_input(&body)
}

/// Parses `{"ztpd-bootstrap:input": {"esn": ...}}` or `{..."server-address": ...}`.
fn parse_input(body: &[u8]) -> Result<RequestedIdentity, RestconfError> {
    let bad_request =
        |tag, message: String| RestconfError::new(StatusCode::BAD_REQUEST, tag, message);

    let document: Value = serde_json::from_slice(body).map_err(|err| {
        bad_request(
            "malformed-message",
            format!("the request body is not JSON: {err}"),
        )
    })?;
    let document = document.as_object().ok_or_else(|| {
        bad_request(
            "malformed-message",
            "the request body is not a JSON object".to_owned(),
        )
    })?;
    if let Some(unknown) = document.keys().find(|key| *key != "ztpd-bootstrap:input") {
        return Err(bad_request(
            "unknown-element",
            format!("unknown member {unknown:?}"),
        ));
    }
    let input = document
        .get("ztpd-bootstrap:input")
        .ok_or_else(|| {
            bad_request(
                "missing-element",
                "the member \"ztpd-bootstrap:input\" is missing".to_owned(),
            )
        })?
        .as_object()
        .ok_or_else(|| {
            bad_request(
                "malformed-message",
                "\"ztpd-bootstrap:input\" is not a JSON object".to_owned(),
            )
        })?;
    if let Some(unknown) = input
        .keys()
        .find(|key| *key != "esn" && *key != "server-address")
    {
        return Err(bad_request(
            "unknown-element",
            format!("unknown input member {unknown:?}"),
        ));
    }

    match (input.get("esn"), input.get("server-address")) {
        (Some(_), Some(_)) => Err(bad_request(
            "invalid-value",
            "the input has both esn and server-address, but the identity choice allows one"
                .to_owned(),
        )),
        (None, None) => Err(bad_request(
            "missing-element",
            "the input needs esn or server-address".to_owned(),
        )),
        (Some(esn), None) => match esn.as_str() {
            Some(esn) if is_valid_esn(esn) => Ok(RequestedIdentity::Esn(esn.to_owned())),
            _ => Err(bad_request(
                "invalid-value",
                "esn must be a string of 1 to 64 letters, digits, '.', '_' or '-'".to_owned(),
            )),
        },
        (None, Some(address)) => address
            .as_str()
            .and_then(|text| text.parse::<IpAddr>().ok())
            .map(RequestedIdentity::ServerAddress)
            .ok_or_else(|| {
                bad_request(
                    "invalid-value",
                    "server-address must be an IPv4 or IPv6 address without zone".to_owned(),
                )
            }),
    }
}

/// Builds the response to a valid request, applying the fault. Returns the
/// response and a short result for the request log.
async fn respond(state: &ServerState, identity: &RequestedIdentity) -> (Response, &'static str) {
    if let Some(Fault::Status(code)) = state.fault {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let error = RestconfError::new(
            status,
            "operation-failed",
            format!("lab fault: status {code}"),
        );
        return (error.into_response(), "fault: status");
    }

    let stored = match lookup(state, identity).await {
        Ok(pem) => pem,
        Err(err) => {
            let result = if err.status == StatusCode::NOT_FOUND {
                "unknown identity"
            } else {
                "store error"
            };
            return (err.into_response(), result);
        }
    };
    let certificate = state.fault_certificate.clone().unwrap_or(stored);

    match state.fault {
        Some(Fault::NotJson) => {
            let response = (StatusCode::OK, "this is not JSON\n").into_response();
            return (response, "fault: not JSON");
        }
        Some(Fault::Oversize) => return (oversize_response(identity), "fault: oversize"),
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        _ => {}
    }

    let mut output = serde_json::Map::new();
    match (state.fault, identity) {
        (Some(Fault::MissingEcho), _) => {}
        (Some(Fault::WrongEcho), RequestedIdentity::Esn(esn)) => {
            output.insert("esn".into(), Value::String(format!("{esn}-WRONG")));
        }
        (Some(Fault::WrongEcho), RequestedIdentity::ServerAddress(address)) => {
            output.insert(
                "server-address".into(),
                Value::String(other_address(*address).to_string()),
            );
        }
        (_, RequestedIdentity::Esn(esn)) => {
            output.insert("esn".into(), Value::String(esn.clone()));
        }
        (_, RequestedIdentity::ServerAddress(address)) => {
            output.insert("server-address".into(), Value::String(address.to_string()));
        }
    }
    output.insert("ca-certificate".into(), Value::String(certificate));
    let body = json!({ "ztpd-bootstrap:output": output });
    let result = match state.fault {
        Some(Fault::WrongEcho) => "fault: wrong echo",
        Some(Fault::MissingEcho) => "fault: missing echo",
        Some(Fault::NonCaCertificate) => "fault: non-CA certificate",
        Some(Fault::ExpiredCa) => "fault: expired CA",
        Some(Fault::Slow(_)) => "fault: slow, then certificate sent",
        _ => "certificate sent",
    };
    (yang_json_response(StatusCode::OK, body.to_string()), result)
}

/// Reads the stored PEM for an identity.
async fn lookup(
    state: &ServerState,
    identity: &RequestedIdentity,
) -> Result<String, RestconfError> {
    // The ESN was checked against [A-Za-z0-9._-]{1,64} and the address is
    // printed from a parsed IpAddr, so neither can contain '/'.
    let path = match identity {
        RequestedIdentity::Esn(esn) => state.store_dir.join("esn").join(format!("{esn}.pem")),
        RequestedIdentity::ServerAddress(address) => state
            .store_dir
            .join("address")
            .join(format!("{address}.pem")),
    };
    match tokio::fs::read_to_string(&path).await {
        Ok(pem) => Ok(pem),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(RestconfError::new(
            StatusCode::NOT_FOUND,
            "invalid-value",
            format!("no CA certificate is provisioned for {identity}"),
        )),
        Err(err) => {
            tracing::error!(path = %path.display(), error = %err, "reading the store failed");
            Err(RestconfError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "operation-failed",
                "reading the certificate store failed",
            ))
        }
    }
}

/// Returns an address of the same family that differs from `address`.
fn other_address(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(std::net::Ipv4Addr::from(u32::from(v4) ^ 1)),
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) ^ 1)),
    }
}

/// Builds a 200 response whose body is streamed in chunks, so it has no
/// Content-Length, and exceeds what the device reads.
fn oversize_response(identity: &RequestedIdentity) -> Response {
    let (member, value) = match identity {
        RequestedIdentity::Esn(esn) => ("esn", esn.clone()),
        RequestedIdentity::ServerAddress(address) => ("server-address", address.to_string()),
    };
    let head = format!(
        "{{\"ztpd-bootstrap:output\":{{\"{member}\":{},\"ca-certificate\":\"",
        Value::String(value)
    );
    let chunk_count = OVERSIZE_BODY_SIZE / OVERSIZE_CHUNK_SIZE;
    let chunks = std::iter::once(Bytes::from(head))
        .chain((0..chunk_count).map(|_| Bytes::from(vec![b'A'; OVERSIZE_CHUNK_SIZE])))
        .chain(std::iter::once(Bytes::from_static(b"\"}}")))
        .map(Ok::<Bytes, Infallible>);
    yang_json_response(
        StatusCode::OK,
        Body::from_stream(futures::stream::iter(chunks)),
    )
}

async fn method_not_allowed(
    Extension(connection): Extension<ConnectionInfo>,
    method: Method,
) -> Response {
    tracing::info!(
        peer = %connection.peer,
        client = connection.client_subject.as_deref(),
        %method,
        "rejected request: method not allowed"
    );
    let mut response = RestconfError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "operation-not-supported",
        format!("method {method} is not allowed: use POST"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

async fn not_found(Extension(connection): Extension<ConnectionInfo>, uri: Uri) -> Response {
    tracing::info!(
        peer = %connection.peer,
        client = connection.client_subject.as_deref(),
        path = uri.path(),
        "rejected request: no such resource"
    );
    RestconfError::new(
        StatusCode::NOT_FOUND,
        "invalid-value",
        format!("no resource at {}: the RPC is at {RPC_PATH}", uri.path()),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_names_parse() {
        let cases = [
            ("wrong-echo", Fault::WrongEcho),
            ("missing-echo", Fault::MissingEcho),
            ("not-json", Fault::NotJson),
            ("status-404", Fault::Status(404)),
            ("status-500", Fault::Status(500)),
            ("oversize", Fault::Oversize),
            ("slow", Fault::Slow(DEFAULT_SLOW_DELAY)),
            ("slow-3", Fault::Slow(Duration::from_secs(3))),
            ("non-ca", Fault::NonCaCertificate),
            ("expired-ca", Fault::ExpiredCa),
        ];
        for (name, fault) in cases {
            assert_eq!(name.parse::<Fault>(), Ok(fault), "{name}");
        }
        for name in ["", "status-", "status-42", "status-abc", "slow-x", "fast"] {
            assert!(name.parse::<Fault>().is_err(), "{name}");
        }
    }

    #[test]
    fn input_parsing() {
        assert_eq!(
            parse_input(br#"{"ztpd-bootstrap:input":{"esn":"ESN-1"}}"#).expect("esn"),
            RequestedIdentity::Esn("ESN-1".into())
        );
        assert_eq!(
            parse_input(br#"{"ztpd-bootstrap:input":{"server-address":"2001:DB8::1"}}"#)
                .expect("address"),
            RequestedIdentity::ServerAddress("2001:db8::1".parse().expect("address"))
        );
        let cases: [(&[u8], &str); 8] = [
            (b"not json", "malformed-message"),
            (b"[]", "malformed-message"),
            (br#"{"other":{}}"#, "unknown-element"),
            (br#"{"ztpd-bootstrap:input":{}}"#, "missing-element"),
            (
                br#"{"ztpd-bootstrap:input":{"esn":"a/b"}}"#,
                "invalid-value",
            ),
            (
                br#"{"ztpd-bootstrap:input":{"server-address":"fe80::1%eth0"}}"#,
                "invalid-value",
            ),
            (
                br#"{"ztpd-bootstrap:input":{"esn":"a","server-address":"10.0.0.1"}}"#,
                "invalid-value",
            ),
            (
                br#"{"ztpd-bootstrap:input":{"esn":"a","extra":1}}"#,
                "unknown-element",
            ),
        ];
        for (body, tag) in cases {
            let err = parse_input(body).expect_err("invalid input");
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
            assert_eq!(err.error_tag, tag, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn other_address_differs() {
        for text in ["127.0.0.1", "::1", "2001:db8::"] {
            let address: IpAddr = text.parse().expect("address");
            let other = other_address(address);
            assert_ne!(other, address);
            assert_eq!(other.is_ipv4(), address.is_ipv4());
        }
    }
}
