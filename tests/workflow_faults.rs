//! Failover of the certificate download through the real daemon, one case
//! for each way a bootstrap server can misbehave.
//!
//! In every case the first configured server (127.0.0.2) misbehaves and
//! the second (127.0.0.3) is good. The daemon must record the first
//! server's failure kind and message in `get`, install the lab NCE CA from
//! the second, and leave only that certificate in the PKI domain `default`.
//! The cases share one lab PKI and one good server and run at the same
//! time, each with its own daemon and state directory.

mod common;

use std::any::Any;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use ztpd::lab::pki::LabCa;
use ztpd::lab::server::{Fault, LabServer, LabServerHandle, LabServerSettings};
use ztpd::ztp::download::MAX_RESPONSE_SIZE;

/// Address of the server that misbehaves.
const FAULTY_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// Address of the good server.
const GOOD_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

/// `request-timeout-secs` of the daemon in the timeout case. It also bounds
/// the good server's attempt in that case, so it leaves room for a busy
/// machine with many daemons starting at once.
const SHORT_REQUEST_TIMEOUT_SECS: u64 = 2;
/// Delay of the slow server: well past [`SHORT_REQUEST_TIMEOUT_SECS`].
const SLOW_SERVER_DELAY: Duration = Duration::from_secs(10);

/// How the first server misbehaves.
#[derive(Debug, Clone, Copy)]
enum Misbehavior {
    /// One of the lab server's fault modes.
    LabFault(Fault),
    /// A server certificate issued by a CA the device does not trust.
    UntrustedServerCertificate,
    /// Client certificates must chain to a CA that did not issue the
    /// device's certificate.
    ForeignClientCa,
    /// No process listens on the port.
    NothingListening,
}

struct Case {
    name: &'static str,
    misbehavior: Misbehavior,
    /// `last-error` of the first server.
    kind: &'static str,
    /// Texts that its `last-error-message` contains after the server name.
    causes: Vec<String>,
}

impl Case {
    fn new(
        name: &'static str,
        misbehavior: Misbehavior,
        kind: &'static str,
        causes: &[&str],
    ) -> Case {
        Case {
            name,
            misbehavior,
            kind,
            causes: causes.iter().map(|cause| (*cause).to_owned()).collect(),
        }
    }

    /// `request-timeout-secs` of this case's daemon; `None` keeps the lab's.
    fn request_timeout_secs(&self) -> Option<u64> {
        match self.misbehavior {
            Misbehavior::LabFault(Fault::Slow(_)) => Some(SHORT_REQUEST_TIMEOUT_SECS),
            _ => None,
        }
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "wrong echo",
            Misbehavior::LabFault(Fault::WrongEcho),
            "identity-mismatch",
            // The lab server echoes the address with its last bit flipped.
            &[r#"echoes server address "127.0.0.3", but the device sent "127.0.0.2""#],
        ),
        Case::new(
            "missing echo",
            Misbehavior::LabFault(Fault::MissingEcho),
            "identity-mismatch",
            &[r#"does not echo the server address (sent "127.0.0.2")"#],
        ),
        Case::new(
            "non-CA certificate",
            Misbehavior::LabFault(Fault::NonCaCertificate),
            "invalid-certificate",
            &["is not a CA certificate"],
        ),
        Case::new(
            "expired CA",
            Misbehavior::LabFault(Fault::ExpiredCa),
            "invalid-certificate",
            &["expired at"],
        ),
        Case::new(
            "body not JSON",
            Misbehavior::LabFault(Fault::NotJson),
            "malformed-response",
            &["the response body is not JSON"],
        ),
        Case::new(
            "HTTP 404",
            Misbehavior::LabFault(Fault::Status(404)),
            "http-error",
            &["HTTP status 404 Not Found", r#""lab fault: status 404""#],
        ),
        Case::new(
            "HTTP 500",
            Misbehavior::LabFault(Fault::Status(500)),
            "http-error",
            &[
                "HTTP status 500 Internal Server Error",
                r#""lab fault: status 500""#,
            ],
        ),
        Case {
            causes: vec![format!(
                "the response body is larger than the maximum of {MAX_RESPONSE_SIZE} bytes"
            )],
            ..Case::new(
                "oversize answer",
                Misbehavior::LabFault(Fault::Oversize),
                "response-too-large",
                &[],
            )
        },
        Case {
            causes: vec![format!(
                "the request timed out after {SHORT_REQUEST_TIMEOUT_SECS} s"
            )],
            ..Case::new(
                "slow answer",
                Misbehavior::LabFault(Fault::Slow(SLOW_SERVER_DELAY)),
                "timeout",
                &[],
            )
        },
        Case::new(
            "untrusted server certificate",
            Misbehavior::UntrustedServerCertificate,
            "tls-failed",
            &["TLS handshake failed", "UnknownIssuer"],
        ),
        Case::new(
            "client CA of another vendor",
            Misbehavior::ForeignClientCa,
            "tls-failed",
            &["received fatal alert: UnknownCA"],
        ),
        Case::new(
            "nothing listening",
            Misbehavior::NothingListening,
            "connect-failed",
            &["connecting failed", "Connection refused"],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulty_first_server_fails_over() {
    with_timeout(async {
        let lab = Arc::new(Lab::new());
        let good = lab.start_bootstrap_server_at(GOOD_ADDRESS, None).await;
        let base_config = read_config(&lab.write_config(""));

        let tasks: Vec<_> = cases()
            .into_iter()
            .map(|case| {
                let name = case.name;
                let task = tokio::spawn(run_case(
                    Arc::clone(&lab),
                    base_config.clone(),
                    good.local_addr().port(),
                    case,
                ));
                (name, task)
            })
            .collect();

        let mut failed = Vec::new();
        for (name, task) in tasks {
            if let Err(err) = task.await {
                failed.push(format!("{name}: {}", panic_message(err)));
            }
        }
        assert!(
            failed.is_empty(),
            "{} cases failed (their daemon logs are above):\n{}",
            failed.len(),
            failed.join("\n")
        );
        good.shutdown().await;
    })
    .await;
}

/// Runs one case with its own daemon and panics on the first wrong
/// outcome.
async fn run_case(lab: Arc<Lab>, base_config: toml::Table, good_port: u16, case: Case) {
    let name = case.name;
    let (faulty, faulty_port) = start_faulty_server(&lab, case.misbehavior).await;
    let config = write_case_config(&lab, &base_config, &case);
    // Starting and stopping the daemon block the thread, so they run on
    // the blocking pool where they cannot hold up the lab servers' tasks.
    let daemon = tokio::task::spawn_blocking(move || Daemon::start(&config))
        .await
        .expect("start the daemon");
    let _logs = PrintLogsOnPanic {
        case: name,
        logs: daemon.log_buffer(),
    };
    let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;

    let entries = format!(
        "{}{}",
        server_entry(&FAULTY_ADDRESS.to_string(), faulty_port, "ztp_policy", None),
        server_entry(&GOOD_ADDRESS.to_string(), good_port, "ztp_policy", None)
    );
    let reply = client
        .edit(
            "candidate",
            &format!("{}{}", policy_config("ztp_policy"), ztp_config(&entries)),
        )
        .await;
    assert!(rpc_errors(&reply).is_empty(), "{name}: {reply:?}");
    client.rpc_ok("<commit/>").await;

    let state = client.wait_for_status(&["installed", "failed"]).await;
    assert_eq!(
        text(&state, &["certificate-status"]).as_deref(),
        Some("installed"),
        "{name}: {state:?}"
    );
    assert_eq!(
        text(&state, &["certificate", "fingerprint-sha256"]),
        Some(lab.nce_fingerprint()),
        "{name}"
    );
    assert_eq!(
        text(&state, &["certificate", "source-address"]).as_deref(),
        Some("127.0.0.3"),
        "{name}"
    );

    let servers: Vec<_> = state
        .children
        .iter()
        .filter(|child| child.name == "server")
        .collect();
    assert_eq!(servers.len(), 2, "{name}: {state:?}");
    let (first, second) = (servers[0], servers[1]);
    assert_eq!(
        text(first, &["address"]).as_deref(),
        Some("127.0.0.2"),
        "{name}"
    );
    assert_eq!(
        text(first, &["status"]).as_deref(),
        Some("failed"),
        "{name}"
    );
    assert_eq!(text(first, &["attempts"]).as_deref(), Some("1"), "{name}");
    assert_eq!(
        text(first, &["last-error"]).as_deref(),
        Some(case.kind),
        "{name}: {first:?}"
    );
    let message = text(first, &["last-error-message"]).unwrap_or_default();
    let server_name = format!("bootstrap server 127.0.0.2:{faulty_port}: ");
    assert!(
        message.starts_with(&server_name),
        "{name}: the message does not start with {server_name:?}: {message}"
    );
    for cause in &case.causes {
        assert!(
            message.contains(cause.as_str()),
            "{name}: the message does not contain {cause:?}: {message}"
        );
    }

    assert_eq!(
        text(second, &["address"]).as_deref(),
        Some("127.0.0.3"),
        "{name}"
    );
    assert_eq!(
        text(second, &["status"]).as_deref(),
        Some("succeeded"),
        "{name}"
    );
    assert_eq!(text(second, &["attempts"]).as_deref(), Some("1"), "{name}");
    assert!(
        find(second, &["last-error"]).is_none(),
        "{name}: {second:?}"
    );

    assert_eq!(
        default_domain_certificates(&mut client).await,
        ["NCE-bootstrap.pem"],
        "{name}: the initial certificate must be gone from the PKI domain default"
    );

    drop(client);
    let stopped = tokio::task::spawn_blocking(move || daemon.stop())
        .await
        .expect("stop the daemon");
    assert!(
        stopped.success(),
        "{name}: the daemon exited with {stopped}"
    );
    if let Some(faulty) = faulty {
        faulty.shutdown().await;
    }
}

/// Starts the misbehaving server on [`FAULTY_ADDRESS`] and returns it, if a
/// process listens, and its port.
async fn start_faulty_server(
    lab: &Lab,
    misbehavior: Misbehavior,
) -> (Option<LabServerHandle>, u16) {
    let settings = match misbehavior {
        Misbehavior::LabFault(fault) => lab_server_settings(lab, Some(fault)),
        Misbehavior::UntrustedServerCertificate => {
            let rogue_ca = LabCa::generate("ztpd lab untrusted CA").expect("untrusted CA");
            let certificate = rogue_ca
                .issue_server_certificate(&[FAULTY_ADDRESS])
                .expect("server certificate of the untrusted CA");
            LabServerSettings {
                cert_pem: certificate.certificate_pem,
                key_pem: certificate.key_pem,
                ..lab_server_settings(lab, None)
            }
        }
        Misbehavior::ForeignClientCa => {
            let other_vendor = LabCa::generate("ztpd lab other vendor CA").expect("other CA");
            LabServerSettings {
                client_ca_pem: Some(other_vendor.certificate_pem().to_owned()),
                ..lab_server_settings(lab, None)
            }
        }
        Misbehavior::NothingListening => {
            // The port was free a moment ago and nothing in this test binds
            // 127.0.0.2 without port 0, so it stays closed.
            let listener = std::net::TcpListener::bind(SocketAddr::new(FAULTY_ADDRESS, 0))
                .expect("bind a free port");
            let port = listener.local_addr().expect("local address").port();
            return (None, port);
        }
    };
    let server = LabServer::bind(settings)
        .await
        .expect("bind the misbehaving server")
        .spawn();
    let port = server.local_addr().port();
    (Some(server), port)
}

/// Returns the settings of a lab server on [`FAULTY_ADDRESS`] with the
/// lab's certificates and store.
fn lab_server_settings(lab: &Lab, fault: Option<Fault>) -> LabServerSettings {
    let pki = lab.pki_dir();
    let read = |name: &str| std::fs::read_to_string(pki.join(name)).expect("lab PKI file");
    LabServerSettings {
        listen: SocketAddr::new(FAULTY_ADDRESS, 0),
        cert_pem: read("server.pem"),
        key_pem: read("server.key"),
        client_ca_pem: Some(read("vendor-ca.pem")),
        store_dir: pki.join("store"),
        fault,
    }
}

fn read_config(path: &std::path::Path) -> toml::Table {
    let text = std::fs::read_to_string(path).expect("read the lab configuration");
    text.parse().expect("the lab configuration is TOML")
}

/// Writes the lab configuration with the case's own state directory and
/// request timeout, and returns its path.
fn write_case_config(lab: &Lab, base: &toml::Table, case: &Case) -> PathBuf {
    let dir = lab.dir.path().join(case.name.replace(' ', "-"));
    std::fs::create_dir_all(&dir).expect("case directory");
    let mut config = base.clone();
    let state_dir = dir.join("state").display().to_string();
    config.insert("state-dir".into(), toml::Value::String(state_dir));
    if let Some(seconds) = case.request_timeout_secs() {
        let bootstrap = config
            .get_mut("bootstrap")
            .and_then(toml::Value::as_table_mut)
            .expect("[bootstrap] table");
        let seconds = i64::try_from(seconds).expect("timeout fits TOML");
        bootstrap.insert("request-timeout-secs".into(), toml::Value::Integer(seconds));
    }
    let path = dir.join("ztpd.toml");
    std::fs::write(&path, toml::to_string(&config).expect("serialize")).expect("write config");
    path
}

/// Names of the certificates in the PKI domain `default`, from `get`.
async fn default_domain_certificates(client: &mut Netconf) -> Vec<String> {
    let data = client.get(&format!(r#"<pki xmlns="{NS_PKI}"/>"#)).await;
    let Some(pki) = find(&data, &["pki"]) else {
        return Vec::new();
    };
    let domain = pki
        .children
        .iter()
        .filter(|child| child.name == "domain")
        .find(|domain| text(domain, &["name"]).as_deref() == Some("default"));
    let Some(domain) = domain else {
        return Vec::new();
    };
    domain
        .children
        .iter()
        .filter(|child| child.name == "certificate")
        .filter_map(|certificate| text(certificate, &["name"]))
        .collect()
}

/// Prints a daemon's log when its case panics, so the failure can be traced
/// among the logs of the other cases.
struct PrintLogsOnPanic {
    case: &'static str,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Drop for PrintLogsOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = self.logs.lock().map(|logs| logs.join("\n"));
            eprintln!(
                "daemon log of case {:?}:\n{}",
                self.case,
                logs.unwrap_or_default()
            );
        }
    }
}

fn panic_message(err: tokio::task::JoinError) -> String {
    if !err.is_panic() {
        return err.to_string();
    }
    let payload: Box<dyn Any + Send> = err.into_panic();
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| {
            payload
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
        })
        .unwrap_or_else(|| "panicked".to_owned())
}
