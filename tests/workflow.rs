//! The certificate download end to end: the real daemon, real lab bootstrap
//! servers over mutual TLS, and a NETCONF client over SSH.

mod common;

use common::*;
use ztpd::lab::server::Fault;

#[tokio::test]
async fn download_by_address_installs_certificate() {
    with_timeout(async {
        let lab = Lab::new();
        let bootstrap = lab.start_bootstrap_server(None).await;
        let daemon = Daemon::start(&lab.write_config(""));
        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;

        let port = bootstrap.local_addr().port();
        let config = format!(
            "{}{}",
            policy_config("ztp_policy"),
            ztp_config(&server_entry("127.0.0.1", port, "ztp_policy", None))
        );
        let reply = client.edit("candidate", &config).await;
        assert!(rpc_errors(&reply).is_empty(), "{reply:?}");
        client.rpc_ok("<commit/>").await;

        let state = client.wait_for_status(&["installed", "failed"]).await;
        assert_eq!(
            text(&state, &["certificate-status"]).as_deref(),
            Some("installed"),
            "{state:?}"
        );
        assert_eq!(
            text(&state, &["certificate", "fingerprint-sha256"]),
            Some(lab.nce_fingerprint())
        );
        assert_eq!(
            text(&state, &["certificate", "file-name"]).as_deref(),
            Some("NCE-bootstrap.pem")
        );
        assert_eq!(
            text(&state, &["certificate", "source-address"]).as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            text(&state, &["server", "status"]).as_deref(),
            Some("succeeded")
        );
        assert_eq!(text(&state, &["server", "attempts"]).as_deref(), Some("1"));

        let pki = client.get(&format!(r#"<pki xmlns="{NS_PKI}"/>"#)).await;
        let domain = find(&pki, &["pki", "domain"]).expect("domain default");
        assert_eq!(text(domain, &["name"]).as_deref(), Some("default"));
        let certificates: Vec<_> = domain
            .children
            .iter()
            .filter(|child| child.name == "certificate")
            .collect();
        assert_eq!(
            certificates.len(),
            1,
            "only NCE-bootstrap.pem stays in the domain: {domain:?}"
        );
        assert_eq!(
            text(certificates[0], &["name"]).as_deref(),
            Some("NCE-bootstrap.pem")
        );
        assert_eq!(text(certificates[0], &["type"]).as_deref(), Some("ca"));
        assert!(
            lab.state_dir()
                .join("pki/default/NCE-bootstrap.pem")
                .exists()
        );
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn download_by_esn_installs_certificate() {
    with_timeout(async {
        let lab = Lab::new();
        let bootstrap = lab.start_bootstrap_server(None).await;
        let daemon = Daemon::start(&lab.write_config(""));
        let mut client = Netconf::connect(daemon.address, Login::Password(PASSWORD), true).await;

        let port = bootstrap.local_addr().port();
        let config = format!(
            "{}{}",
            policy_config("ztp_policy"),
            ztp_config(&server_entry("127.0.0.1", port, "ztp_policy", Some("esn")))
        );
        let reply = client.edit("running", &config).await;
        assert!(rpc_errors(&reply).is_empty(), "{reply:?}");

        let state = client.wait_for_status(&["installed", "failed"]).await;
        assert_eq!(
            text(&state, &["certificate-status"]).as_deref(),
            Some("installed"),
            "{state:?}"
        );
        assert_eq!(
            text(&state, &["certificate", "fingerprint-sha256"]),
            Some(lab.nce_fingerprint())
        );
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn wrong_echo_fails_over_to_next_server() {
    with_timeout(async {
        let lab = Lab::new();
        let liar = lab
            .start_bootstrap_server_at(
                "127.0.0.2".parse().expect("address"),
                Some(Fault::WrongEcho),
            )
            .await;
        let good = lab
            .start_bootstrap_server_at("127.0.0.3".parse().expect("address"), None)
            .await;
        let daemon = Daemon::start(&lab.write_config(""));
        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;

        let entries = format!(
            "{}{}",
            server_entry("127.0.0.2", liar.local_addr().port(), "ztp_policy", None),
            server_entry("127.0.0.3", good.local_addr().port(), "ztp_policy", None)
        );
        let reply = client
            .edit(
                "candidate",
                &format!("{}{}", policy_config("ztp_policy"), ztp_config(&entries)),
            )
            .await;
        assert!(rpc_errors(&reply).is_empty(), "{reply:?}");
        client.rpc_ok("<commit/>").await;

        let state = client.wait_for_status(&["installed", "failed"]).await;
        assert_eq!(
            text(&state, &["certificate-status"]).as_deref(),
            Some("installed"),
            "{state:?}"
        );
        assert_eq!(
            text(&state, &["certificate", "source-address"]).as_deref(),
            Some("127.0.0.3")
        );

        let servers: Vec<_> = state
            .children
            .iter()
            .filter(|child| child.name == "server")
            .collect();
        assert_eq!(servers.len(), 2, "{state:?}");
        assert_eq!(text(servers[0], &["address"]).as_deref(), Some("127.0.0.2"));
        assert_eq!(text(servers[0], &["status"]).as_deref(), Some("failed"));
        assert_eq!(
            text(servers[0], &["last-error"]).as_deref(),
            Some("identity-mismatch")
        );
        let message = text(servers[0], &["last-error-message"]).unwrap_or_default();
        assert!(message.contains("127.0.0.2"), "{message}");
        assert_eq!(text(servers[1], &["status"]).as_deref(), Some("succeeded"));
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn every_server_failing_reports_failed() {
    with_timeout(async {
        let lab = Lab::new();
        let broken = lab
            .start_bootstrap_server(Some(Fault::NonCaCertificate))
            .await;
        let daemon = Daemon::start(&lab.write_config(""));
        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;

        let entry = server_entry("127.0.0.1", broken.local_addr().port(), "ztp_policy", None);
        let reply = client
            .edit(
                "running",
                &format!("{}{}", policy_config("ztp_policy"), ztp_config(&entry)),
            )
            .await;
        assert!(rpc_errors(&reply).is_empty(), "{reply:?}");

        let state = client.wait_for_status(&["installed", "failed"]).await;
        assert_eq!(
            text(&state, &["certificate-status"]).as_deref(),
            Some("failed")
        );
        assert_eq!(
            text(&state, &["server", "last-error"]).as_deref(),
            Some("invalid-certificate")
        );
        assert!(find(&state, &["certificate"]).is_none(), "{state:?}");
        assert!(
            !lab.state_dir()
                .join("pki/default/NCE-bootstrap.pem")
                .exists()
        );
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn restart_keeps_installed_certificate() {
    with_timeout(async {
        let lab = Lab::new();
        let bootstrap = lab.start_bootstrap_server(None).await;
        let config = lab.write_config("");
        let daemon = Daemon::start(&config);
        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        let entry = server_entry("127.0.0.1", bootstrap.local_addr().port(), "ztp_policy", None);
        client.edit("running", &format!("{}{}", policy_config("ztp_policy"), ztp_config(&entry))).await;
        client.wait_for_status(&["installed"]).await;
        drop(client);
        assert!(daemon.stop().success());

        // The bootstrap server is gone: a new download would fail.
        bootstrap.shutdown().await;
        // The initial certificate as a download leaves it when the process
        // is killed between installing the CA and removing the import.
        let leftover = lab.state_dir().join("pki/default/initial-device.pem");
        std::fs::copy(lab.pki_dir().join("device.pem"), &leftover).expect("leftover import");
        let daemon = Daemon::start(&config);
        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        let running = client
            .rpc(&format!(r#"<get-config><source><running/></source><filter type="subtree"><ztp xmlns="{NS_ZTP}"/></filter></get-config>"#))
            .await;
        let data = running.child(NS_BASE, "data").expect("data");
        assert_eq!(text(data, &["ztp", "certificate-remote", "address"]).as_deref(), Some("127.0.0.1"));

        let state = client.wait_for_status(&["installed", "failed", "downloading"]).await;
        assert_eq!(text(&state, &["certificate-status"]).as_deref(), Some("installed"), "{state:?}");
        assert_eq!(text(&state, &["certificate", "fingerprint-sha256"]), Some(lab.nce_fingerprint()));
        assert_eq!(text(&state, &["certificate", "source-address"]).as_deref(), Some("127.0.0.1"));
        assert_eq!(text(&state, &["server", "attempts"]).as_deref(), Some("0"), "no new attempt: {state:?}");

        assert!(!leftover.exists(), "the start removed the leftover import");
        let pki = client.get(&format!(r#"<pki xmlns="{NS_PKI}"/>"#)).await;
        let names: Vec<String> = find(&pki, &["pki", "domain"])
            .expect("domain default")
            .children
            .iter()
            .filter(|child| child.name == "certificate")
            .filter_map(|certificate| text(certificate, &["name"]))
            .collect();
        assert_eq!(names, ["NCE-bootstrap.pem"]);
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn failed_round_retried_after_backoff() {
    with_timeout(async {
        let lab = Lab::new();
        // A server that is down at first, on a port known in advance.
        let stopped = lab.start_bootstrap_server(None).await;
        let address = stopped.local_addr();
        stopped.shutdown().await;

        let daemon = Daemon::start(&lab.write_config("retry-initial-secs = 1\nretry-max-secs = 2"));
        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        let entry = server_entry("127.0.0.1", address.port(), "ztp_policy", None);
        client
            .edit(
                "running",
                &format!("{}{}", policy_config("ztp_policy"), ztp_config(&entry)),
            )
            .await;

        let state = client.wait_for_status(&["failed"]).await;
        assert_eq!(
            text(&state, &["server", "last-error"]).as_deref(),
            Some("connect-failed")
        );
        assert!(text(&state, &["next-attempt"]).is_some(), "{state:?}");

        // Rounds go on by themselves.
        let deadline = std::time::Instant::now() + DOWNLOAD_WAIT;
        loop {
            let state = client
                .get(&format!(
                    r#"<ztp xmlns="{NS_ZTP}"><certificate-remote-state/></ztp>"#
                ))
                .await;
            let attempts: u32 = text(
                &state,
                &["ztp", "certificate-remote-state", "server", "attempts"],
            )
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
            if attempts >= 3 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no retries: {state:?}"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }

        // Once the server is back, a retry installs the certificate.
        let _server = lab.start_bootstrap_server_on(address, None).await;
        let state = client.wait_for_status(&["installed"]).await;
        assert!(text(&state, &["next-attempt"]).is_none(), "{state:?}");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn delete_certificate_then_download_again() {
    with_timeout(async {
        let lab = Lab::new();
        let bootstrap = lab.start_bootstrap_server(None).await;
        let daemon = Daemon::start(&lab.write_config(""));
        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;

        let download = format!(r#"<download-certificate xmlns="{NS_ZTP}"/>"#);
        let reply = client.rpc(&download).await;
        assert_eq!(text(rpc_errors(&reply)[0], &["error-tag"]).as_deref(), Some("operation-failed"));
        assert!(text(rpc_errors(&reply)[0], &["error-message"]).unwrap_or_default().contains("no bootstrap server"));

        let entry = server_entry("127.0.0.1", bootstrap.local_addr().port(), "ztp_policy", None);
        client
            .edit("running", &format!("{}{}", policy_config("ztp_policy"), ztp_config(&entry)))
            .await;
        client.wait_for_status(&["installed"]).await;

        let reply = client.rpc(&download).await;
        let message = text(rpc_errors(&reply)[0], &["error-message"]).unwrap_or_default();
        assert!(message.contains("delete-certificate"), "{message}");

        let delete = |name: &str| {
            format!(r#"<delete-certificate xmlns="{NS_PKI}"><domain>default</domain><name>{name}</name></delete-certificate>"#)
        };
        let reply = client.rpc(&delete("missing.pem")).await;
        assert_eq!(text(rpc_errors(&reply)[0], &["error-tag"]).as_deref(), Some("invalid-value"));
        let reply = client.rpc(&delete("../escape.pem")).await;
        assert_eq!(text(rpc_errors(&reply)[0], &["error-tag"]).as_deref(), Some("invalid-value"));

        client.rpc_ok(&delete("NCE-bootstrap.pem")).await;
        let state = client.wait_for_status(&["absent"]).await;
        assert!(find(&state, &["certificate"]).is_none(), "{state:?}");
        assert!(!lab.state_dir().join("pki/default/NCE-bootstrap.pem").exists());

        client.rpc_ok(&download).await;
        let state = client.wait_for_status(&["installed"]).await;
        assert_eq!(text(&state, &["server", "attempts"]).as_deref(), Some("2"));
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn removing_slow_server_cancels_its_attempt() {
    with_timeout(async {
        let lab = Lab::new();
        let slow = lab
            .start_bootstrap_server_at(
                "127.0.0.2".parse().expect("address"),
                Some(Fault::Slow(std::time::Duration::from_secs(60))),
            )
            .await;
        let good = lab.start_bootstrap_server_at("127.0.0.3".parse().expect("address"), None).await;
        // A request timeout far longer than the test waits.
        let config_path = lab.write_config("");
        let config = std::fs::read_to_string(&config_path)
            .expect("configuration")
            .replace("request-timeout-secs = 3", "request-timeout-secs = 120");
        std::fs::write(&config_path, config).expect("write configuration");
        let daemon = Daemon::start(&config_path);
        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;

        let slow_entry = server_entry("127.0.0.2", slow.local_addr().port(), "ztp_policy", None);
        client
            .edit("running", &format!("{}{}", policy_config("ztp_policy"), ztp_config(&slow_entry)))
            .await;
        // Wait until the attempt with the slow server runs.
        let deadline = std::time::Instant::now() + DOWNLOAD_WAIT;
        loop {
            let state = client.wait_for_status(&["downloading", "failed", "installed"]).await;
            if text(&state, &["server", "status"]).as_deref() == Some("requesting") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no request to the slow server: {state:?}");
            tokio::time::sleep(POLL_INTERVAL).await;
        }

        // Replace the slow server with the good one.
        let started = std::time::Instant::now();
        let replace = format!(
            r#"<ztp xmlns="{NS_ZTP}" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="replace">{}</ztp>"#,
            server_entry("127.0.0.3", good.local_addr().port(), "ztp_policy", None)
        );
        let reply = client.edit("running", &replace).await;
        assert!(rpc_errors(&reply).is_empty(), "{reply:?}");
        let state = client.wait_for_status(&["installed"]).await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the slow attempt held up the new round for {:?}",
            started.elapsed()
        );
        assert_eq!(text(&state, &["certificate", "source-address"]).as_deref(), Some("127.0.0.3"));
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn every_attempt_is_notified() {
    with_timeout(async {
        let lab = Lab::new();
        let liar = lab
            .start_bootstrap_server_at("127.0.0.2".parse().expect("address"), Some(Fault::WrongEcho))
            .await;
        let good = lab.start_bootstrap_server_at("127.0.0.3".parse().expect("address"), None).await;
        let daemon = Daemon::start(&lab.write_config(""));
        let mut listener = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        listener
            .rpc_ok(&format!(
                r#"<create-subscription xmlns="{NS_NOTIFICATION}"><filter type="subtree"><certificate-download-event xmlns="{NS_ZTP}"/></filter></create-subscription>"#
            ))
            .await;

        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        let entries = format!(
            "{}{}",
            server_entry("127.0.0.2", liar.local_addr().port(), "ztp_policy", None),
            server_entry("127.0.0.3", good.local_addr().port(), "ztp_policy", None)
        );
        client
            .edit("running", &format!("{}{}", policy_config("ztp_policy"), ztp_config(&entries)))
            .await;

        let failed = listener.next_notification(std::time::Duration::from_secs(20)).await;
        let failed = event(&failed);
        assert!(failed.is(NS_ZTP, "certificate-download-event"), "{failed:?}");
        assert_eq!(text(failed, &["address"]).as_deref(), Some("127.0.0.2"));
        assert_eq!(text(failed, &["result"]).as_deref(), Some("failed"));
        assert_eq!(text(failed, &["error"]).as_deref(), Some("identity-mismatch"));
        assert!(text(failed, &["error-message"]).is_some());

        let succeeded = listener.next_notification(std::time::Duration::from_secs(20)).await;
        let succeeded = event(&succeeded);
        assert_eq!(text(succeeded, &["address"]).as_deref(), Some("127.0.0.3"));
        assert_eq!(text(succeeded, &["result"]).as_deref(), Some("succeeded"));
        assert_eq!(text(succeeded, &["fingerprint-sha256"]), Some(lab.nce_fingerprint()));
        daemon.stop();
    })
    .await;
}
