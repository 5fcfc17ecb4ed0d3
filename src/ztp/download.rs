//! The device's client for one download attempt from one bootstrap server.
//!
//! One attempt is one RESTCONF RPC (RFC 8040) over HTTPS on a new
//! connection:
//!
//! ```text
//! POST https://<address>:<port>/restconf/operations/ztpd-bootstrap:get-ca-certificate
//! {"ztpd-bootstrap:input": {"esn": "..."}}      or {"server-address": "..."}
//! ```
//!
//! The device presents its initial certificate as TLS client certificate and
//! verifies the server against the bootstrap trust anchors only. The response
//! must echo the identity that was sent and carry 1 to 8 CA certificates
//! that are valid now. Every failure is classified as a [`FailureKind`],
//! whose names are the `failure-kind` enumeration of `ztpd-ztp.yang`.

use std::error::Error as StdError;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::config::{BootstrapConfig, DeviceConfig};
use crate::pki::{CertificateInfo, check_ca_bundle};

/// Maximum size of a bootstrap server's response body. A bundle of 8 CA
/// certificates in PEM is about 16 KiB even with 4096-bit RSA keys, so
/// 64 KiB leaves room while bounding what a hostile server can make the
/// device buffer.
pub const MAX_RESPONSE_SIZE: usize = 64 * 1024;

/// Maximum number of characters of a server-supplied text (an
/// `error-message` or an echoed identity) quoted in a [`DownloadError`], so
/// a server cannot flood the logs and the YANG state.
const MAX_QUOTED_CHARS: usize = 128;

/// Maximum length of a Linux network device name (`IFNAMSIZ` is 16 with the
/// terminating NUL).
const MAX_INTERFACE_NAME_LEN: usize = 15;

/// Linux `errno` value "No such device" (`ENODEV` in
/// `include/uapi/asm-generic/errno-base.h`), which `SO_BINDTODEVICE`
/// returns for a device name that does not exist.
const ENODEV: i32 = 19;

/// The VPN instance name of the public network, which needs no binding.
pub const PUBLIC_VPN_INSTANCE: &str = "_public_";

/// Path of the RPC on the server.
pub const RPC_PATH: &str = "/restconf/operations/ztpd-bootstrap:get-ca-certificate";

/// Media type of RESTCONF JSON bodies (RFC 8040 section 11.3.2).
pub const YANG_DATA_JSON: &str = "application/yang-data+json";

const INPUT_MEMBER: &str = "ztpd-bootstrap:input";
const OUTPUT_MEMBER: &str = "ztpd-bootstrap:output";
const ESN_MEMBER: &str = "esn";
const SERVER_ADDRESS_MEMBER: &str = "server-address";
const CA_CERTIFICATE_MEMBER: &str = "ca-certificate";

/// Identity that the device sends and the server must echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The device's ESN (`verify-type esn`).
    Esn(String),
    /// The address of the server, as the device connects to it
    /// (`verify-type ip-address`).
    ServerAddress,
}

/// The device's TLS material and time limits, loaded once for many
/// attempts.
#[derive(Clone)]
pub struct ClientSettings {
    /// PEM of the initial certificate, optionally followed by intermediate
    /// CA certificates.
    pub client_cert_pem: Vec<u8>,
    /// PEM of the initial certificate's private key.
    pub client_key_pem: Vec<u8>,
    /// PEM of the CA certificates that server certificates must chain to.
    pub trust_anchors_pem: Option<Vec<u8>>,
    /// Accept any server certificate. For labs only.
    pub insecure_skip_server_verify: bool,
    /// Time allowed to open the TCP connection and complete the TLS
    /// handshake.
    pub connect_timeout: Duration,
    /// Time allowed for the whole attempt, from connecting to the last byte
    /// of the response body.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for ClientSettings {
    // The private key stays out of debug output and logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field(
                "client_cert_pem",
                &format_args!("{} bytes", self.client_cert_pem.len()),
            )
            .field("client_key_pem", &"<redacted>")
            .field(
                "trust_anchors_pem",
                &self
                    .trust_anchors_pem
                    .as_ref()
                    .map(|pem| format!("{} bytes", pem.len())),
            )
            .field(
                "insecure_skip_server_verify",
                &self.insecure_skip_server_verify,
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl ClientSettings {
    /// Reads the device certificate, its key and the trust anchors named in
    /// the configuration.
    ///
    /// Any file that cannot be read, or that contains no usable PEM, fails with
    /// [`FailureKind::DeviceIdentityUnavailable`] and a message naming the
    /// file. That includes the trust anchors file, because without it no
    /// attempt can start either.
    pub fn load(
        device: &DeviceConfig,
        bootstrap: &BootstrapConfig,
    ) -> Result<ClientSettings, DownloadError> {
        let client_cert_pem = read_file("initial certificate", &device.initial_certificate)?;
        reqwest::Certificate::from_pem_bundle(&client_cert_pem)
            .ok()
            .filter(|certificates| !certificates.is_empty())
            .ok_or_else(|| {
                identity_unavailable(format!(
                    "initial certificate file {} contains no PEM certificate",
                    device.initial_certificate.display()
                ))
            })?;

        let client_key_pem = read_file("initial key", &device.initial_key)?;
        reqwest::Identity::from_pem(&identity_pem(&client_cert_pem, &client_key_pem)).map_err(
            |err| {
                identity_unavailable(format!(
                    "initial key file {} contains no usable PEM private key: {}",
                    device.initial_key.display(),
                    error_chain(&err)
                ))
            },
        )?;

        check_key_matches(&client_cert_pem, &client_key_pem, device)?;

        let trust_anchors_pem = match &bootstrap.trust_anchors {
            Some(path) => {
                let pem = read_file("bootstrap trust anchors", path)?;
                reqwest::Certificate::from_pem_bundle(&pem)
                    .ok()
                    .filter(|certificates| !certificates.is_empty())
                    .ok_or_else(|| {
                        identity_unavailable(format!(
                            "bootstrap trust anchors file {} contains no PEM certificate",
                            path.display()
                        ))
                    })?;
                Some(pem)
            }
            None => None,
        };

        Ok(ClientSettings {
            client_cert_pem,
            client_key_pem,
            trust_anchors_pem,
            insecure_skip_server_verify: bootstrap.insecure_skip_server_verify,
            connect_timeout: bootstrap.connect_timeout(),
            request_timeout: bootstrap.request_timeout(),
        })
    }
}

/// Fails when the private key does not belong to the first certificate, a
/// mistake that would otherwise only show as a failed TLS handshake.
fn check_key_matches(
    cert_pem: &[u8],
    key_pem: &[u8],
    device: &DeviceConfig,
) -> Result<(), DownloadError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certificates = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| {
            identity_unavailable(format!(
                "initial certificate file {} is not valid PEM: {err}",
                device.initial_certificate.display()
            ))
        })?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|err| {
        identity_unavailable(format!(
            "initial key file {} is not a PEM private key: {err}",
            device.initial_key.display()
        ))
    })?;
    let signing_key = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key).map_err(|err| {
        identity_unavailable(format!(
            "initial key file {} holds an unsupported key: {err}",
            device.initial_key.display()
        ))
    })?;
    rustls::sign::CertifiedKey::new(certificates, signing_key)
        .keys_match()
        .map_err(|err| {
            identity_unavailable(format!(
                "initial key file {} does not belong to the certificate in {}: {err}",
                device.initial_key.display(),
                device.initial_certificate.display()
            ))
        })
}

/// Joins the certificate chain and the key into the single PEM that
/// `reqwest::Identity::from_pem` takes. The line break keeps the key's BEGIN
/// line separate when the certificate file lacks a final newline.
fn identity_pem(cert_pem: &[u8], key_pem: &[u8]) -> Vec<u8> {
    let mut pem = Vec::with_capacity(cert_pem.len() + 1 + key_pem.len());
    pem.extend_from_slice(cert_pem);
    pem.push(b'\n');
    pem.extend_from_slice(key_pem);
    pem
}

fn read_file(description: &str, path: &Path) -> Result<Vec<u8>, DownloadError> {
    std::fs::read(path).map_err(|err| {
        identity_unavailable(format!(
            "cannot read {description} file {}: {err}",
            path.display()
        ))
    })
}

fn identity_unavailable(message: String) -> DownloadError {
    DownloadError {
        kind: FailureKind::DeviceIdentityUnavailable,
        message,
    }
}

/// One bootstrap server and what to identify the device by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub address: IpAddr,
    pub port: u16,
    /// VPN instance through which the server is reached.
    /// [`PUBLIC_VPN_INSTANCE`] means no binding; any other name is the
    /// Linux network device (VRF) that the socket is bound to.
    pub vpn_instance: String,
    pub identity: Identity,
}

impl Target {
    fn socket_address(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }

    /// Returns the server as messages name it, such as `bootstrap server
    /// [2001:db8::1]:8443 in VPN instance blue`.
    fn label(&self) -> String {
        if self.vpn_instance == PUBLIC_VPN_INSTANCE {
            format!("bootstrap server {}", self.socket_address())
        } else {
            format!(
                "bootstrap server {} in VPN instance {}",
                self.socket_address(),
                self.vpn_instance
            )
        }
    }
}

/// Progress of an attempt, reported as the attempt enters each phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Opening the TCP connection and the TLS session.
    Connecting,
    /// Connection up and request sent, waiting for the response.
    Requesting,
    /// Response read, checking the echo and the certificates.
    Verifying,
}

impl Phase {
    /// Returns the matching `server-status` enum name in `ztpd-ztp.yang`.
    pub fn yang_name(self) -> &'static str {
        match self {
            Phase::Connecting => "connecting",
            Phase::Requesting => "requesting",
            Phase::Verifying => "verifying",
        }
    }
}

/// The CA certificate bundle that a server sent and that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedCertificate {
    /// The `ca-certificate` text as received.
    pub pem: String,
    /// One entry per certificate, in the order of the PEM.
    pub certificates: Vec<CertificateInfo>,
}

/// Reason an attempt failed: the `failure-kind` enumeration of
/// `ztpd-ztp.yang`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    ConnectFailed,
    Timeout,
    TlsFailed,
    HttpError,
    ResponseTooLarge,
    MalformedResponse,
    IdentityMismatch,
    InvalidCertificate,
    VpnInstanceNotFound,
    DeviceIdentityUnavailable,
    StorageFailed,
}

impl FailureKind {
    /// Returns the enum name in `ztpd-ztp.yang`.
    pub fn yang_name(self) -> &'static str {
        match self {
            FailureKind::ConnectFailed => "connect-failed",
            FailureKind::Timeout => "timeout",
            FailureKind::TlsFailed => "tls-failed",
            FailureKind::HttpError => "http-error",
            FailureKind::ResponseTooLarge => "response-too-large",
            FailureKind::MalformedResponse => "malformed-response",
            FailureKind::IdentityMismatch => "identity-mismatch",
            FailureKind::InvalidCertificate => "invalid-certificate",
            FailureKind::VpnInstanceNotFound => "vpn-instance-not-found",
            FailureKind::DeviceIdentityUnavailable => "device-identity-unavailable",
            FailureKind::StorageFailed => "storage-failed",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.yang_name())
    }
}

/// A failed attempt. The message names the server and the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DownloadError {
    pub kind: FailureKind,
    pub message: String,
}

impl DownloadError {
    fn new(kind: FailureKind, target: &Target, cause: impl std::fmt::Display) -> DownloadError {
        DownloadError {
            kind,
            message: format!("{}: {cause}", target.label()),
        }
    }
}

/// Downloads the CA certificate bundle from one bootstrap server.
///
/// `progress` is called with [`Phase::Connecting`] before connecting, with
/// [`Phase::Requesting`] once the TCP connection and TLS handshake are
/// complete, and with [`Phase::Verifying`] once the response body is read.
/// With TLS 1.3 the server checks the client certificate after the client
/// considers the handshake complete, so a rejected client certificate shows
/// up as a [`FailureKind::TlsFailed`] after `Requesting`.
pub async fn fetch_ca_certificate(
    settings: &ClientSettings,
    target: &Target,
    progress: &(dyn Fn(Phase) + Send + Sync),
) -> Result<FetchedCertificate, DownloadError> {
    progress(Phase::Connecting);

    check_vpn_instance(target)?;
    let connected = Arc::new(Notify::new());
    let client = build_client(settings, target, connected.clone())?;
    let url = format!("https://{}{RPC_PATH}", target.socket_address());
    let body = request_body(target);
    tracing::debug!(server = %target.socket_address(), vpn_instance = %target.vpn_instance, "requesting CA certificate");

    let send = client
        .post(&url)
        .header(CONTENT_TYPE, YANG_DATA_JSON)
        .header(ACCEPT, YANG_DATA_JSON)
        .body(body.to_string())
        .send();
    tokio::pin!(send);
    let mut requesting_reported = false;
    let sent = loop {
        tokio::select! {
            // The connection signal goes first, so that Requesting is
            // reported even when the response is ready in the same poll.
            biased;
            () = connected.notified(), if !requesting_reported => {
                requesting_reported = true;
                progress(Phase::Requesting);
            }
            result = &mut send => break result,
        }
    };
    let mut response = sent.map_err(|err| classify_request_error(&err, settings, target))?;
    if !requesting_reported {
        progress(Phase::Requesting);
    }

    let status = response.status();
    let body = read_bounded_body(&mut response, settings, target).await;
    if status != reqwest::StatusCode::OK {
        return Err(http_error(status, body.ok().as_deref(), target));
    }
    let body = body?;

    progress(Phase::Verifying);
    verify_response(&body, target, OffsetDateTime::now_utc())
}

/// Fails with [`FailureKind::VpnInstanceNotFound`] unless the VPN instance
/// is the public network or a network device of that name exists in the
/// daemon's network namespace.
///
/// The check binds a throwaway socket to the device (`SO_BINDTODEVICE`),
/// the call that the connection makes too, so the kernel looks the name up
/// in the daemon's own network namespace. `/sys/class/net` would list the
/// devices of the namespace that mounted sysfs, which is another one for a
/// process that joined a namespace with setns(2), as `nsenter --net` and
/// systemd's `NetworkNamespacePath=` do.
fn check_vpn_instance(target: &Target) -> Result<(), DownloadError> {
    let name = target.vpn_instance.as_str();
    if name == PUBLIC_VPN_INSTANCE {
        return Ok(());
    }
    let not_found = |reason: &str| {
        DownloadError::new(
            FailureKind::VpnInstanceNotFound,
            target,
            format!("VPN instance {name:?} {reason}"),
        )
    };
    // These names cannot be network devices. The kernel cuts a longer name
    // to its first 15 bytes, or at a NUL, and would bind to that device.
    if name.is_empty()
        || name.len() > MAX_INTERFACE_NAME_LEN
        || name == "."
        || name == ".."
        || name.contains(['/', '\0'])
        || name.chars().any(char::is_whitespace)
    {
        return Err(not_found("is not a valid Linux network device name"));
    }

    let socket = socket2::Socket::new(
        socket2::Domain::for_address(target.socket_address()),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .map_err(|err| {
        DownloadError::new(
            FailureKind::ConnectFailed,
            target,
            format!("opening a socket to check VPN instance {name:?} failed: {err}"),
        )
    })?;
    match socket.bind_device(Some(name.as_bytes())) {
        Ok(()) => Ok(()),
        Err(err) if err.raw_os_error() == Some(ENODEV) => {
            Err(not_found("has no network device of that name"))
        }
        Err(err) => Err(DownloadError::new(
            FailureKind::ConnectFailed,
            target,
            format!("binding to the network device of VPN instance {name:?} failed: {err}"),
        )),
    }
}

fn build_client(
    settings: &ClientSettings,
    target: &Target,
    connected: Arc<Notify>,
) -> Result<reqwest::Client, DownloadError> {
    let identity_pem = identity_pem(&settings.client_cert_pem, &settings.client_key_pem);
    let identity = reqwest::Identity::from_pem(&identity_pem).map_err(|err| {
        DownloadError::new(
            FailureKind::DeviceIdentityUnavailable,
            target,
            format!(
                "initial certificate or key is not usable: {}",
                error_chain(&err)
            ),
        )
    })?;

    let mut builder = reqwest::Client::builder()
        .identity(identity)
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .http1_only()
        // Each attempt gets a new connection, closed when the client drops.
        .pool_max_idle_per_host(0)
        .user_agent(concat!("ztpd/", env!("CARGO_PKG_VERSION")))
        .connector_layer(ConnectedSignalLayer { signal: connected });

    if settings.insecure_skip_server_verify {
        tracing::warn!(
            server = %target.socket_address(),
            "bootstrap.insecure-skip-server-verify is set: the server certificate is not verified, so anyone on the path can hand this device a CA certificate"
        );
        builder = builder.tls_danger_accept_invalid_certs(true);
    } else {
        let anchors = settings.trust_anchors_pem.as_deref().ok_or_else(|| {
            DownloadError::new(
                FailureKind::TlsFailed,
                target,
                "no bootstrap trust anchors are configured, so the server certificate cannot be verified",
            )
        })?;
        let roots = reqwest::Certificate::from_pem_bundle(anchors).map_err(|err| {
            DownloadError::new(
                FailureKind::TlsFailed,
                target,
                format!(
                    "bootstrap trust anchors are not valid PEM: {}",
                    error_chain(&err)
                ),
            )
        })?;
        // Only the trust anchors: no built-in or system roots.
        builder = builder.tls_certs_only(roots);
    }

    if target.vpn_instance != PUBLIC_VPN_INSTANCE {
        builder = builder.interface(&target.vpn_instance);
    }

    builder.build().map_err(|err| {
        DownloadError::new(
            FailureKind::TlsFailed,
            target,
            format!("cannot set up the HTTPS client: {}", error_chain(&err)),
        )
    })
}

fn request_body(target: &Target) -> Value {
    let input = match &target.identity {
        Identity::Esn(esn) => serde_json::json!({ ESN_MEMBER: esn }),
        // IpAddr's Display is the canonical text form (RFC 5952 for IPv6).
        Identity::ServerAddress => {
            serde_json::json!({ SERVER_ADDRESS_MEMBER: target.address.to_string() })
        }
    };
    serde_json::json!({ INPUT_MEMBER: input })
}

/// Reads the response body, failing with [`FailureKind::ResponseTooLarge`] as
/// soon as the declared or received size passes [`MAX_RESPONSE_SIZE`].
async fn read_bounded_body(
    response: &mut reqwest::Response,
    settings: &ClientSettings,
    target: &Target,
) -> Result<Vec<u8>, DownloadError> {
    check_declared_length(response.content_length(), target)?;
    let mut body = Vec::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|err| classify_body_error(&err, settings, target))?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if body.len() + chunk.len() > MAX_RESPONSE_SIZE {
            return Err(too_large(target));
        }
        body.extend_from_slice(&chunk);
    }
}

fn check_declared_length(length: Option<u64>, target: &Target) -> Result<(), DownloadError> {
    match length {
        Some(length) if length > MAX_RESPONSE_SIZE as u64 => Err(DownloadError::new(
            FailureKind::ResponseTooLarge,
            target,
            format!(
                "the response declares {length} bytes, more than the maximum of {MAX_RESPONSE_SIZE}"
            ),
        )),
        _ => Ok(()),
    }
}

fn too_large(target: &Target) -> DownloadError {
    DownloadError::new(
        FailureKind::ResponseTooLarge,
        target,
        format!("the response body is larger than the maximum of {MAX_RESPONSE_SIZE} bytes"),
    )
}

/// Builds the [`FailureKind::HttpError`] for a status other than 200,
/// quoting the `error-message` of an `ietf-restconf:errors` body if there is
/// one.
fn http_error(status: reqwest::StatusCode, body: Option<&[u8]>, target: &Target) -> DownloadError {
    let detail = body.and_then(restconf_error_message);
    let cause = match detail {
        Some(message) => format!("HTTP status {status}: {}", quote(&message)),
        None => format!("HTTP status {status}"),
    };
    DownloadError::new(FailureKind::HttpError, target, cause)
}

/// Returns the first `error-message` of an RFC 8040 section 7.1 error body.
fn restconf_error_message(body: &[u8]) -> Option<String> {
    let document: Value = serde_json::from_slice(body).ok()?;
    document
        .get("ietf-restconf:errors")?
        .get("error")?
        .as_array()?
        .iter()
        .find_map(|error| error.get("error-message")?.as_str())
        .map(str::to_owned)
}

/// Checks the body of a 200 response: the JSON shape, the echo and the
/// certificate rules, in that order.
fn verify_response(
    body: &[u8],
    target: &Target,
    now: OffsetDateTime,
) -> Result<FetchedCertificate, DownloadError> {
    let malformed =
        |cause: String| DownloadError::new(FailureKind::MalformedResponse, target, cause);

    // The Content-Type is not checked: a body that parses as the expected
    // document is accepted whatever the server labelled it.
    let document: Value = serde_json::from_slice(body)
        .map_err(|err| malformed(format!("the response body is not JSON: {err}")))?;
    let output = document
        .get(OUTPUT_MEMBER)
        .ok_or_else(|| malformed(format!("the response has no {OUTPUT_MEMBER:?} member")))?
        .as_object()
        .ok_or_else(|| malformed(format!("{OUTPUT_MEMBER:?} is not a JSON object")))?;
    let pem = output
        .get(CA_CERTIFICATE_MEMBER)
        .ok_or_else(|| {
            malformed(format!(
                "the response has no {CA_CERTIFICATE_MEMBER:?} member"
            ))
        })?
        .as_str()
        .ok_or_else(|| malformed(format!("{CA_CERTIFICATE_MEMBER:?} is not a JSON string")))?;

    check_echo(&target.identity, target.address, output)
        .map_err(|cause| DownloadError::new(FailureKind::IdentityMismatch, target, cause))?;

    let certificates = check_ca_bundle(pem, now).map_err(|err| {
        DownloadError::new(
            FailureKind::InvalidCertificate,
            target,
            format!("the CA certificate in the response is rejected: {err}"),
        )
    })?;
    Ok(FetchedCertificate {
        pem: pem.to_owned(),
        certificates,
    })
}

/// Checks that the output echoes the identity that was sent. The error is
/// the cause for the message.
fn check_echo(
    identity: &Identity,
    server_address: IpAddr,
    output: &Map<String, Value>,
) -> Result<(), String> {
    match identity {
        Identity::Esn(esn) => match output.get(ESN_MEMBER) {
            None => Err(format!("the response does not echo the ESN (sent {esn:?})")),
            Some(Value::String(echoed)) if echoed == esn => Ok(()),
            Some(echoed) => Err(format!(
                "the response echoes ESN {}, but the device sent {esn:?}",
                quote_json(echoed)
            )),
        },
        Identity::ServerAddress => {
            let sent = server_address.to_string();
            match output.get(SERVER_ADDRESS_MEMBER) {
                None => Err(format!(
                    "the response does not echo the server address (sent {sent:?})"
                )),
                Some(Value::String(echoed)) if echoed_address_matches(server_address, echoed) => {
                    Ok(())
                }
                Some(echoed) => Err(format!(
                    "the response echoes server address {}, but the device sent {sent:?}",
                    quote_json(echoed)
                )),
            }
        }
    }
}

/// Returns whether an echoed server address is the address that was sent. Both are
/// compared as parsed addresses, so `2001:DB8::1` matches `2001:db8::1`.
/// An IPv4-mapped IPv6 address does not match its IPv4 address.
pub fn echoed_address_matches(sent: IpAddr, echoed: &str) -> bool {
    echoed.parse::<IpAddr>() == Ok(sent)
}

/// Quotes a server-supplied text, cut to [`MAX_QUOTED_CHARS`] characters.
fn quote(text: &str) -> String {
    let mut cut: String = text.chars().take(MAX_QUOTED_CHARS).collect();
    if cut.len() < text.len() {
        cut.push_str("...");
    }
    format!("{cut:?}")
}

fn quote_json(value: &Value) -> String {
    match value {
        Value::String(text) => quote(text),
        other => format!("{} (not a string)", quote(&other.to_string())),
    }
}

/// Classifies a failure before the response headers arrived.
fn classify_request_error(
    err: &reqwest::Error,
    settings: &ClientSettings,
    target: &Target,
) -> DownloadError {
    if err.is_timeout() {
        let cause = if err.is_connect() {
            format!(
                "connecting timed out after {}",
                seconds(settings.connect_timeout)
            )
        } else {
            format!(
                "the request timed out after {}",
                seconds(settings.request_timeout)
            )
        };
        return DownloadError::new(FailureKind::Timeout, target, cause);
    }
    if let Some(tls) = find_tls_error(err) {
        return DownloadError::new(
            FailureKind::TlsFailed,
            target,
            format!("TLS handshake failed: {tls}"),
        );
    }
    if err.is_connect() {
        return DownloadError::new(
            FailureKind::ConnectFailed,
            target,
            format!("connecting failed: {}", error_chain(err)),
        );
    }
    // The connection was up but the HTTP exchange broke, for example because
    // the server closed the connection without a response.
    DownloadError::new(
        FailureKind::HttpError,
        target,
        format!("the HTTP exchange failed: {}", error_chain(err)),
    )
}

/// Classifies a failure while reading the response body.
fn classify_body_error(
    err: &reqwest::Error,
    settings: &ClientSettings,
    target: &Target,
) -> DownloadError {
    if err.is_timeout() {
        return DownloadError::new(
            FailureKind::Timeout,
            target,
            format!(
                "the request timed out after {} while reading the response body",
                seconds(settings.request_timeout)
            ),
        );
    }
    if let Some(tls) = find_tls_error(err) {
        return DownloadError::new(
            FailureKind::TlsFailed,
            target,
            format!("TLS failed while reading the response body: {tls}"),
        );
    }
    DownloadError::new(
        FailureKind::MalformedResponse,
        target,
        format!("reading the response body failed: {}", error_chain(err)),
    )
}

/// Maximum depth searched in an error's source chain, a guard against a
/// cyclic chain.
const MAX_ERROR_CHAIN_DEPTH: usize = 16;

/// Finds a rustls error in the source chain. tokio-rustls reports TLS
/// failures as an `io::Error` that wraps the `rustls::Error`, and
/// `io::Error::source` skips the wrapped error, so each `io::Error` is
/// opened with `get_ref`.
fn find_tls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(err);
    for _ in 0..MAX_ERROR_CHAIN_DEPTH {
        let error = current?;
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            let inner: &(dyn StdError + 'static) = inner;
            if let Some(tls) = find_tls_error(inner) {
                return Some(tls);
            }
        }
        current = error.source();
    }
    None
}

/// Joins the messages of an error's sources, skipping the outermost
/// reqwest message that only repeats the URL.
fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = err.source();
    for _ in 0..MAX_ERROR_CHAIN_DEPTH {
        let Some(error) = current else { break };
        let text = error.to_string();
        if !parts.iter().any(|part| part == &text) {
            parts.push(text);
        }
        current = error.source();
    }
    if parts.is_empty() {
        err.to_string()
    } else {
        parts.join(": ")
    }
}

fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// A tower layer around reqwest's connector that signals when a connection
/// (TCP and TLS) is established, which reqwest does not report otherwise.
#[derive(Clone)]
struct ConnectedSignalLayer {
    signal: Arc<Notify>,
}

impl<S> tower::Layer<S> for ConnectedSignalLayer {
    type Service = ConnectedSignal<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConnectedSignal {
            inner,
            signal: self.signal.clone(),
        }
    }
}

#[derive(Clone)]
struct ConnectedSignal<S> {
    inner: S,
    signal: Arc<Notify>,
}

impl<S, Request> tower::Service<Request> for ConnectedSignal<S>
where
    S: tower::Service<Request>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let connecting = self.inner.call(request);
        let signal = self.signal.clone();
        Box::pin(async move {
            let result = connecting.await;
            if result.is_ok() {
                signal.notify_one();
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(identity: Identity) -> Target {
        Target {
            address: "2001:db8::1".parse().expect("address"),
            port: 8443,
            vpn_instance: PUBLIC_VPN_INSTANCE.to_owned(),
            identity,
        }
    }

    fn output(value: Value) -> Map<String, Value> {
        value.as_object().expect("object").clone()
    }

    #[test]
    fn failure_kind_names_match_yang() {
        let yang = include_str!("../../yang/ztpd-ztp.yang");
        let kinds = [
            FailureKind::ConnectFailed,
            FailureKind::Timeout,
            FailureKind::TlsFailed,
            FailureKind::HttpError,
            FailureKind::ResponseTooLarge,
            FailureKind::MalformedResponse,
            FailureKind::IdentityMismatch,
            FailureKind::InvalidCertificate,
            FailureKind::VpnInstanceNotFound,
            FailureKind::DeviceIdentityUnavailable,
            FailureKind::StorageFailed,
        ];
        let start = yang.find("typedef failure-kind").expect("typedef present");
        let end = start
            + yang[start..]
                .find("description\n      \"Reason")
                .expect("typedef end");
        let enum_count = yang[start..end].matches("enum ").count();
        assert_eq!(enum_count, kinds.len());
        for kind in kinds {
            let line = format!("enum {} {{", kind.yang_name());
            assert!(
                yang[start..end].contains(&line),
                "{line} missing in ztpd-ztp.yang"
            );
        }
    }

    #[test]
    fn address_echo_compares_parsed() {
        let sent: IpAddr = "2001:db8::1".parse().expect("address");
        assert!(echoed_address_matches(sent, "2001:DB8::1"));
        assert!(echoed_address_matches(sent, "2001:db8:0:0:0:0:0:1"));
        assert!(echoed_address_matches(sent, "2001:db8::1"));
        assert!(!echoed_address_matches(sent, "2001:db8::2"));
        assert!(!echoed_address_matches(sent, " 2001:db8::1"));
        assert!(!echoed_address_matches(sent, "[2001:db8::1]"));
        let v4: IpAddr = "10.1.1.1".parse().expect("address");
        assert!(echoed_address_matches(v4, "10.1.1.1"));
        assert!(!echoed_address_matches(v4, "::ffff:10.1.1.1"));
    }

    #[test]
    fn request_body_uses_canonical_address() {
        let body = request_body(&Target {
            address: "2001:DB8:0:0::1".parse().expect("address"),
            ..target(Identity::ServerAddress)
        });
        assert_eq!(
            body,
            serde_json::json!({"ztpd-bootstrap:input": {"server-address": "2001:db8::1"}})
        );
        let body = request_body(&target(Identity::Esn("2102351931P0K8000001".into())));
        assert_eq!(
            body,
            serde_json::json!({"ztpd-bootstrap:input": {"esn": "2102351931P0K8000001"}})
        );
    }

    #[test]
    fn echo_checks() {
        let sent: IpAddr = "2001:db8::1".parse().expect("address");
        let esn = Identity::Esn("ESN1".into());
        assert!(check_echo(&esn, sent, &output(serde_json::json!({"esn": "ESN1"}))).is_ok());
        let err = check_echo(&esn, sent, &output(serde_json::json!({"esn": "esn1"})))
            .expect_err("ESN compares exactly");
        assert!(
            err.contains("\"esn1\"") && err.contains("\"ESN1\""),
            "{err}"
        );
        let err = check_echo(
            &esn,
            sent,
            &output(serde_json::json!({"server-address": "2001:db8::1"})),
        )
        .expect_err("ESN missing");
        assert!(err.contains("does not echo the ESN"), "{err}");
        let err = check_echo(&esn, sent, &output(serde_json::json!({"esn": 7})))
            .expect_err("not a string");
        assert!(err.contains("not a string"), "{err}");

        let address = Identity::ServerAddress;
        assert!(
            check_echo(
                &address,
                sent,
                &output(serde_json::json!({"server-address": "2001:DB8::1"}))
            )
            .is_ok()
        );
        let err = check_echo(
            &address,
            sent,
            &output(serde_json::json!({"server-address": "2001:db8::2"})),
        )
        .expect_err("other address");
        assert!(err.contains("\"2001:db8::2\""), "{err}");
        assert!(check_echo(&address, sent, &output(serde_json::json!({}))).is_err());
    }

    #[test]
    fn long_echo_is_cut() {
        let sent: IpAddr = "10.0.0.1".parse().expect("address");
        let long = "x".repeat(10_000);
        let err = check_echo(
            &Identity::ServerAddress,
            sent,
            &output(serde_json::json!({ "server-address": long })),
        )
        .expect_err("mismatch");
        assert!(err.len() < 400, "{}", err.len());
    }

    #[test]
    fn declared_length_checked() {
        let target = target(Identity::ServerAddress);
        assert!(check_declared_length(None, &target).is_ok());
        assert!(check_declared_length(Some(MAX_RESPONSE_SIZE as u64), &target).is_ok());
        let err = check_declared_length(Some(MAX_RESPONSE_SIZE as u64 + 1), &target)
            .expect_err("too large");
        assert_eq!(err.kind, FailureKind::ResponseTooLarge);
        assert!(
            err.message
                .starts_with("bootstrap server [2001:db8::1]:8443: "),
            "{err}"
        );
    }

    #[test]
    fn malformed_responses_classified() {
        let target = target(Identity::Esn("E".into()));
        let now = OffsetDateTime::now_utc();
        for body in [
            &b"not json"[..],
            br#"{"other": {}}"#,
            br#"{"ztpd-bootstrap:output": "x"}"#,
            br#"{"ztpd-bootstrap:output": {"esn": "E"}}"#,
            br#"{"ztpd-bootstrap:output": {"esn": "E", "ca-certificate": 5}}"#,
        ] {
            let err = verify_response(body, &target, now).expect_err("malformed");
            assert_eq!(err.kind, FailureKind::MalformedResponse, "{err}");
        }
        let err = verify_response(
            br#"{"ztpd-bootstrap:output": {"esn": "E", "ca-certificate": "garbage"}}"#,
            &target,
            now,
        )
        .expect_err("not a certificate");
        assert_eq!(err.kind, FailureKind::InvalidCertificate, "{err}");
    }

    #[test]
    fn restconf_error_message_extracted() {
        let body = br#"{"ietf-restconf:errors":{"error":[{"error-type":"application","error-tag":"invalid-value","error-message":"unknown ESN"}]}}"#;
        assert_eq!(restconf_error_message(body).as_deref(), Some("unknown ESN"));
        assert_eq!(restconf_error_message(b"<html>"), None);
        let err = http_error(
            reqwest::StatusCode::NOT_FOUND,
            Some(body),
            &target(Identity::ServerAddress),
        );
        assert_eq!(err.kind, FailureKind::HttpError);
        assert!(err.message.contains("404 Not Found"), "{err}");
        assert!(err.message.contains("\"unknown ESN\""), "{err}");
    }

    #[test]
    fn vpn_instance_names_checked() {
        for name in [
            "",
            "..",
            "../../etc",
            "a/b",
            "with space",
            "sixteen-chars-xx",
        ] {
            let target = Target {
                vpn_instance: name.to_owned(),
                ..target(Identity::ServerAddress)
            };
            let err = check_vpn_instance(&target).expect_err("invalid name");
            assert_eq!(err.kind, FailureKind::VpnInstanceNotFound, "{name:?}");
        }
        assert!(check_vpn_instance(&target(Identity::ServerAddress)).is_ok());
        let loopback = Target {
            vpn_instance: "lo".to_owned(),
            ..target(Identity::ServerAddress)
        };
        // Binding needs CAP_NET_RAW before Linux 5.7 (kernel commit
        // c427bfec18f2), so an unprivileged run on an older kernel gets
        // connect-failed for every device.
        match check_vpn_instance(&loopback) {
            Ok(()) => {}
            Err(err) => assert_eq!(err.kind, FailureKind::ConnectFailed, "{err}"),
        }
        let missing = Target {
            vpn_instance: "ztpd-no-such".to_owned(),
            ..target(Identity::ServerAddress)
        };
        let err = check_vpn_instance(&missing).expect_err("no such device");
        if err.kind == FailureKind::ConnectFailed && err.message.contains("not permitted") {
            eprintln!("skipping the missing device: binding is not permitted here: {err}");
            return;
        }
        assert_eq!(err.kind, FailureKind::VpnInstanceNotFound, "{err}");
        assert!(
            err.message
                .ends_with(r#"VPN instance "ztpd-no-such" has no network device of that name"#),
            "{err}"
        );
    }

    #[test]
    fn fetch_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let settings = ClientSettings {
            client_cert_pem: Vec::new(),
            client_key_pem: Vec::new(),
            trust_anchors_pem: None,
            insecure_skip_server_verify: false,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
        };
        let target = target(Identity::ServerAddress);
        let progress = |_: Phase| {};
        // Only built, never polled: the check is that it compiles.
        let future = fetch_ca_certificate(&settings, &target, &progress);
        assert_send(&future);
    }

    #[test]
    fn settings_debug_hides_key() {
        let settings = ClientSettings {
            client_cert_pem: b"cert".to_vec(),
            client_key_pem: b"-----BEGIN PRIVATE KEY-----secret".to_vec(),
            trust_anchors_pem: None,
            insecure_skip_server_verify: false,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
        };
        let text = format!("{settings:?}");
        assert!(!text.contains("secret"), "{text}");
    }
}
