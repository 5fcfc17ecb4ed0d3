//! The download client against the lab bootstrap server, over real TLS on
//! loopback, with certificates generated per test.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use ztpd::config::{BootstrapConfig, DeviceConfig};
use ztpd::lab::pki::{LabCa, LabPki};
use ztpd::lab::server::{Fault, LabServer, LabServerHandle, LabServerSettings};
use ztpd::ztp::download::{
    ClientSettings, DownloadError, FailureKind, FetchedCertificate, Identity, PUBLIC_VPN_INSTANCE,
    Phase, Target, fetch_ca_certificate,
};

const ESN: &str = "2102351931P0K8000001";
const LOCALHOST_V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LOCALHOST_V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// A lab PKI written to a temporary directory.
struct Lab {
    pki: LabPki,
    dir: TempDir,
}

impl Lab {
    fn new() -> Lab {
        let pki = LabPki::generate(ESN, &[LOCALHOST_V4, LOCALHOST_V6]).expect("lab PKI");
        let dir = tempfile::tempdir().expect("tempdir");
        pki.write_to(dir.path()).expect("write lab PKI");
        Lab { pki, dir }
    }

    fn server_settings(&self, listen: IpAddr, fault: Option<Fault>) -> LabServerSettings {
        LabServerSettings {
            listen: SocketAddr::new(listen, 0),
            cert_pem: self.pki.server.certificate_pem.clone(),
            key_pem: self.pki.server.key_pem.clone(),
            client_ca_pem: Some(self.pki.vendor_ca.certificate_pem().to_owned()),
            store_dir: self.dir.path().join("store"),
            fault,
        }
    }

    async fn start(&self, fault: Option<Fault>) -> LabServerHandle {
        start(self.server_settings(LOCALHOST_V4, fault)).await
    }

    fn client_settings(&self) -> ClientSettings {
        ClientSettings {
            client_cert_pem: self.pki.device.certificate_pem.clone().into_bytes(),
            client_key_pem: self.pki.device.key_pem.clone().into_bytes(),
            trust_anchors_pem: Some(self.pki.bootstrap_ca.certificate_pem().as_bytes().to_vec()),
            insecure_skip_server_verify: false,
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
        }
    }
}

async fn start(settings: LabServerSettings) -> LabServerHandle {
    LabServer::bind(settings)
        .await
        .expect("bind lab server")
        .spawn()
}

fn target(address: SocketAddr, identity: Identity) -> Target {
    Target {
        address: address.ip(),
        port: address.port(),
        vpn_instance: PUBLIC_VPN_INSTANCE.to_owned(),
        identity,
    }
}

fn esn() -> Identity {
    Identity::Esn(ESN.to_owned())
}

/// Runs one attempt and returns its result and the phases it reported.
async fn fetch(
    settings: &ClientSettings,
    target: &Target,
) -> (Result<FetchedCertificate, DownloadError>, Vec<Phase>) {
    let phases = Mutex::new(Vec::new());
    let progress = |phase: Phase| phases.lock().expect("phase lock").push(phase);
    let result = fetch_ca_certificate(settings, target, &progress).await;
    (result, phases.into_inner().expect("phase lock"))
}

/// Runs one attempt that must fail, checks its kind and returns the error.
async fn fetch_failure(
    settings: &ClientSettings,
    target: &Target,
    kind: FailureKind,
) -> DownloadError {
    let (result, _) = fetch(settings, target).await;
    let err = result.expect_err("the attempt must fail");
    eprintln!("{}: {err}", err.kind);
    assert_eq!(err.kind, kind, "{err}");
    err
}

async fn fault_failure(fault: Fault, identity: Identity, kind: FailureKind) -> DownloadError {
    let lab = Lab::new();
    let server = lab.start(Some(fault)).await;
    let err = fetch_failure(
        &lab.client_settings(),
        &target(server.local_addr(), identity),
        kind,
    )
    .await;
    server.shutdown().await;
    err
}

#[tokio::test]
async fn esn_download_succeeds() {
    let lab = Lab::new();
    let server = lab.start(None).await;
    let (result, phases) = fetch(&lab.client_settings(), &target(server.local_addr(), esn())).await;
    let fetched = result.expect("download by ESN");
    assert_eq!(fetched.pem, lab.pki.nce_ca.certificate_pem());
    assert_eq!(fetched.certificates.len(), 1);
    assert_eq!(
        fetched.certificates[0].subject,
        "CN=ztpd lab NCE CA,O=ztpd lab"
    );
    assert!(fetched.certificates[0].is_ca);
    assert_eq!(
        phases,
        [Phase::Connecting, Phase::Requesting, Phase::Verifying]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn ipv4_address_download_succeeds() {
    let lab = Lab::new();
    let server = lab.start(None).await;
    let (result, _) = fetch(
        &lab.client_settings(),
        &target(server.local_addr(), Identity::ServerAddress),
    )
    .await;
    let fetched = result.expect("download by IPv4 address");
    assert_eq!(fetched.pem, lab.pki.nce_ca.certificate_pem());
    server.shutdown().await;
}

#[tokio::test]
async fn ipv6_address_download_succeeds() {
    let lab = Lab::new();
    let server = match LabServer::bind(lab.server_settings(LOCALHOST_V6, None)).await {
        Ok(server) => server.spawn(),
        Err(err) => {
            eprintln!("skipping the IPv6 case: cannot listen on [::1]: {err}");
            return;
        }
    };
    let (result, _) = fetch(
        &lab.client_settings(),
        &target(server.local_addr(), Identity::ServerAddress),
    )
    .await;
    let fetched = result.expect("download by IPv6 address");
    assert_eq!(fetched.pem, lab.pki.nce_ca.certificate_pem());
    let (result, _) = fetch(&lab.client_settings(), &target(server.local_addr(), esn())).await;
    result.expect("download by ESN over IPv6");
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_esn_is_http_404() {
    let lab = Lab::new();
    let server = lab.start(None).await;
    let identity = Identity::Esn("UNKNOWN-ESN".to_owned());
    let err = fetch_failure(
        &lab.client_settings(),
        &target(server.local_addr(), identity),
        FailureKind::HttpError,
    )
    .await;
    assert!(err.message.contains("404"), "{err}");
    assert!(
        err.message
            .contains("no CA certificate is provisioned for esn UNKNOWN-ESN"),
        "{err}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_esn_echo_is_identity_mismatch() {
    let err = fault_failure(Fault::WrongEcho, esn(), FailureKind::IdentityMismatch).await;
    assert!(err.message.contains(&format!("\"{ESN}-WRONG\"")), "{err}");
    assert!(err.message.contains(&format!("sent \"{ESN}\"")), "{err}");
}

#[tokio::test]
async fn wrong_address_echo_is_identity_mismatch() {
    let err = fault_failure(
        Fault::WrongEcho,
        Identity::ServerAddress,
        FailureKind::IdentityMismatch,
    )
    .await;
    assert!(err.message.contains("\"127.0.0.0\""), "{err}");
    assert!(err.message.contains("sent \"127.0.0.1\""), "{err}");
}

#[tokio::test]
async fn missing_echo_is_identity_mismatch() {
    let err = fault_failure(Fault::MissingEcho, esn(), FailureKind::IdentityMismatch).await;
    assert!(err.message.contains("does not echo the ESN"), "{err}");
    fault_failure(
        Fault::MissingEcho,
        Identity::ServerAddress,
        FailureKind::IdentityMismatch,
    )
    .await;
}

#[tokio::test]
async fn not_json_is_malformed_response() {
    let err = fault_failure(Fault::NotJson, esn(), FailureKind::MalformedResponse).await;
    assert!(err.message.contains("not JSON"), "{err}");
}

#[tokio::test]
async fn error_statuses_are_http_errors() {
    for code in [404, 500] {
        let err = fault_failure(Fault::Status(code), esn(), FailureKind::HttpError).await;
        assert!(
            err.message.contains(&format!("HTTP status {code}")),
            "{err}"
        );
        assert!(
            err.message.contains(&format!("lab fault: status {code}")),
            "{err}"
        );
    }
}

#[tokio::test]
async fn oversize_is_response_too_large() {
    fault_failure(Fault::Oversize, esn(), FailureKind::ResponseTooLarge).await;
}

#[tokio::test]
async fn slow_server_times_out() {
    let lab = Lab::new();
    let server = lab.start(Some(Fault::Slow(Duration::from_secs(10)))).await;
    let settings = ClientSettings {
        request_timeout: Duration::from_secs(1),
        ..lab.client_settings()
    };
    let started = Instant::now();
    let (result, phases) = fetch(&settings, &target(server.local_addr(), esn())).await;
    let err = result.expect_err("the server is too slow");
    eprintln!("{}: {err}", err.kind);
    assert_eq!(err.kind, FailureKind::Timeout, "{err}");
    assert!(err.message.contains("timed out after 1 s"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(phases, [Phase::Connecting, Phase::Requesting]);
    server.shutdown().await;
}

#[tokio::test]
async fn non_ca_certificate_is_invalid() {
    let err = fault_failure(
        Fault::NonCaCertificate,
        esn(),
        FailureKind::InvalidCertificate,
    )
    .await;
    assert!(err.message.contains("is not a CA certificate"), "{err}");
}

#[tokio::test]
async fn expired_ca_is_invalid() {
    let err = fault_failure(Fault::ExpiredCa, esn(), FailureKind::InvalidCertificate).await;
    assert!(err.message.contains("expired at"), "{err}");
}

#[tokio::test]
async fn untrusted_server_certificate_fails_tls() {
    let lab = Lab::new();
    let rogue_ca = LabCa::generate("rogue CA").expect("rogue CA");
    let rogue = rogue_ca
        .issue_server_certificate(&[LOCALHOST_V4])
        .expect("rogue server certificate");
    let server = start(LabServerSettings {
        cert_pem: rogue.certificate_pem,
        key_pem: rogue.key_pem,
        ..lab.server_settings(LOCALHOST_V4, None)
    })
    .await;
    let target = target(server.local_addr(), esn());
    let err = fetch_failure(&lab.client_settings(), &target, FailureKind::TlsFailed).await;
    assert!(err.message.contains("UnknownIssuer"), "{err}");

    // The lab switch accepts the same server.
    let insecure = ClientSettings {
        insecure_skip_server_verify: true,
        trust_anchors_pem: None,
        ..lab.client_settings()
    };
    let (result, _) = fetch(&insecure, &target).await;
    result.expect("insecure mode skips server verification");
    server.shutdown().await;
}

#[tokio::test]
async fn server_certificate_without_address_fails_tls() {
    let lab = Lab::new();
    let other = lab
        .pki
        .bootstrap_ca
        .issue_server_certificate(&["192.0.2.1".parse().expect("address")])
        .expect("server certificate for another address");
    let server = start(LabServerSettings {
        cert_pem: other.certificate_pem,
        key_pem: other.key_pem,
        ..lab.server_settings(LOCALHOST_V4, None)
    })
    .await;
    let err = fetch_failure(
        &lab.client_settings(),
        &target(server.local_addr(), esn()),
        FailureKind::TlsFailed,
    )
    .await;
    assert!(err.message.contains("not valid for name"), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn rejected_client_certificate_fails_tls() {
    let lab = Lab::new();
    let server = lab.start(None).await;
    let other_vendor = LabCa::generate("other vendor CA").expect("other vendor CA");
    let device = other_vendor
        .issue_client_certificate(ESN)
        .expect("client certificate");
    let settings = ClientSettings {
        client_cert_pem: device.certificate_pem.into_bytes(),
        client_key_pem: device.key_pem.into_bytes(),
        ..lab.client_settings()
    };
    let err = fetch_failure(
        &settings,
        &target(server.local_addr(), esn()),
        FailureKind::TlsFailed,
    )
    .await;
    assert!(err.message.contains("alert"), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn closed_port_is_connect_failed() {
    let listener = std::net::TcpListener::bind((LOCALHOST_V4, 0)).expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let lab = Lab::new();
    let (result, phases) = fetch(&lab.client_settings(), &target(address, esn())).await;
    let err = result.expect_err("nothing listens");
    eprintln!("{}: {err}", err.kind);
    assert_eq!(err.kind, FailureKind::ConnectFailed, "{err}");
    assert!(
        err.message
            .starts_with(&format!("bootstrap server {address}: ")),
        "{err}"
    );
    assert_eq!(phases, [Phase::Connecting]);
}

#[tokio::test]
async fn missing_vpn_instance_fails_before_connecting() {
    let lab = Lab::new();
    let server = lab.start(None).await;
    let target = Target {
        vpn_instance: "no-such-vrf".to_owned(),
        ..target(server.local_addr(), esn())
    };
    let err = fetch_failure(
        &lab.client_settings(),
        &target,
        FailureKind::VpnInstanceNotFound,
    )
    .await;
    assert!(err.message.contains("\"no-such-vrf\""), "{err}");
    assert!(err.message.contains("in VPN instance no-such-vrf"), "{err}");
    server.shutdown().await;
}

/// Binding to a network device needs CAP_NET_RAW, which a test run as an
/// ordinary user lacks; that case is skipped.
#[tokio::test]
async fn vpn_instance_binds_to_device() {
    if !std::path::Path::new("/sys/class/net/lo").exists() {
        eprintln!("skipping: no network device lo");
        return;
    }
    let lab = Lab::new();
    let server = lab.start(None).await;
    let target = Target {
        vpn_instance: "lo".to_owned(),
        ..target(server.local_addr(), esn())
    };
    let (result, _) = fetch(&lab.client_settings(), &target).await;
    match result {
        Ok(fetched) => assert_eq!(fetched.pem, lab.pki.nce_ca.certificate_pem()),
        Err(err) if err.message.contains("Operation not permitted") => {
            eprintln!("skipping: binding to a network device is not permitted: {err}");
        }
        Err(err) => panic!("download through VPN instance lo failed: {err}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn settings_load_from_lab_files() {
    let lab = Lab::new();
    let device = DeviceConfig {
        esn: ESN.to_owned(),
        initial_certificate: lab.dir.path().join("device.pem"),
        initial_key: lab.dir.path().join("device.key"),
    };
    let bootstrap = BootstrapConfig {
        trust_anchors: Some(lab.dir.path().join("bootstrap-ca.pem")),
        insecure_skip_server_verify: false,
        connect_timeout_secs: 2,
        request_timeout_secs: 5,
        retry_initial_secs: 60,
        retry_max_secs: 3600,
    };
    let settings = ClientSettings::load(&device, &bootstrap).expect("load settings");
    assert_eq!(settings.request_timeout, Duration::from_secs(5));

    let server = lab.start(None).await;
    let (result, _) = fetch(&settings, &target(server.local_addr(), esn())).await;
    result.expect("download with loaded settings");
    server.shutdown().await;

    let missing_key = DeviceConfig {
        initial_key: lab.dir.path().join("missing.key"),
        ..device.clone()
    };
    let err = ClientSettings::load(&missing_key, &bootstrap).expect_err("key file missing");
    assert_eq!(err.kind, FailureKind::DeviceIdentityUnavailable);
    assert!(err.message.contains("missing.key"), "{err}");

    let other_key = DeviceConfig {
        initial_key: lab.dir.path().join("server.key"),
        ..device.clone()
    };
    let err = ClientSettings::load(&other_key, &bootstrap).expect_err("key of another certificate");
    assert_eq!(err.kind, FailureKind::DeviceIdentityUnavailable);
    assert!(err.message.contains("does not belong"), "{err}");

    let key_as_certificate = DeviceConfig {
        initial_certificate: lab.dir.path().join("device.key"),
        ..device
    };
    let err = ClientSettings::load(&key_as_certificate, &bootstrap)
        .expect_err("certificate file contains a key");
    assert_eq!(err.kind, FailureKind::DeviceIdentityUnavailable);
    assert!(err.message.contains("device.key"), "{err}");
}
