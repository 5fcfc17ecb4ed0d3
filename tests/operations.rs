//! Whole-datastore operations against the real daemon: confirmed commit,
//! kill-session, copy-config to startup and booting from it.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn running_servers(data: &ztpd::netconf::xml::Element) -> Vec<String> {
    find(data, &["ztp"])
        .map(|ztp| {
            ztp.children
                .iter()
                .filter(|child| child.name == "certificate-remote")
                .filter_map(|entry| text(entry, &["address"]))
                .collect()
        })
        .unwrap_or_default()
}

async fn running(client: &mut Netconf) -> Vec<String> {
    let reply = client
        .rpc(&format!(
            r#"<get-config><source><running/></source><filter type="subtree"><ztp xmlns="{NS_ZTP}"/></filter></get-config>"#
        ))
        .await;
    running_servers(reply.child(NS_BASE, "data").expect("data"))
}

#[tokio::test]
async fn confirmed_commit_rolls_back_after_timeout() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let config = format!(
            "{}{}",
            policy_config("p"),
            ztp_config(&server_entry("127.0.2.1", 443, "p", None))
        );
        client.edit("candidate", &config).await;
        client
            .rpc_ok("<commit><confirmed/><confirm-timeout>1</confirm-timeout></commit>")
            .await;
        assert_eq!(running(&mut client).await, ["127.0.2.1"]);

        let deadline = Instant::now() + Duration::from_secs(10);
        while !running(&mut client).await.is_empty() {
            assert!(
                Instant::now() < deadline,
                "confirmed commit was not rolled back"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn confirmed_commit_confirmed_stays() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let config = format!(
            "{}{}",
            policy_config("p"),
            ztp_config(&server_entry("127.0.2.1", 443, "p", None))
        );
        client.edit("candidate", &config).await;
        client
            .rpc_ok("<commit><confirmed/><confirm-timeout>2</confirm-timeout><persist>abc</persist></commit>")
            .await;

        // Another session confirms the persistent confirmed commit.
        let mut other = Netconf::connect(daemon.address, Login::Password(PASSWORD), true).await;
        let reply = other.rpc("<commit/>").await;
        assert_eq!(text(rpc_errors(&reply)[0], &["error-tag"]).as_deref(), Some("in-use"));
        other.rpc_ok("<commit><persist-id>abc</persist-id></commit>").await;

        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(running(&mut client).await, ["127.0.2.1"]);
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn kill_session_releases_locks() {
    with_timeout(async {
        let (lab, daemon, mut victim) = start_daemon_with_client().await;
        let victim_id = text(&victim.server_hello, &["session-id"]).expect("session-id");
        victim
            .rpc_ok("<lock><target><running/></target></lock>")
            .await;

        let mut killer = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        let own_id = text(&killer.server_hello, &["session-id"]).expect("session-id");
        let reply = killer
            .rpc(&format!(
                "<kill-session><session-id>{own_id}</session-id></kill-session>"
            ))
            .await;
        assert_eq!(
            text(rpc_errors(&reply)[0], &["error-tag"]).as_deref(),
            Some("invalid-value")
        );
        let reply = killer
            .rpc("<kill-session><session-id>999</session-id></kill-session>")
            .await;
        assert_eq!(
            text(rpc_errors(&reply)[0], &["error-tag"]).as_deref(),
            Some("invalid-value")
        );

        killer
            .rpc_ok(&format!(
                "<kill-session><session-id>{victim_id}</session-id></kill-session>"
            ))
            .await;
        killer
            .rpc_ok("<lock><target><running/></target></lock>")
            .await;
        assert!(
            victim
                .try_rpc("<get-config><source><running/></source></get-config>")
                .await
                .is_none(),
            "the killed session still answers"
        );
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn startup_copy_survives_restart() {
    with_timeout(async {
        let lab = Lab::new();
        let config_path = lab.write_config("");
        let daemon = Daemon::start(&config_path);
        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        let config = format!(
            "{}{}",
            policy_config("p"),
            ztp_config(&server_entry("127.0.2.1", 443, "p", None))
        );
        client.edit("running", &config).await;
        client
            .rpc_ok(
                "<copy-config><target><startup/></target><source><running/></source></copy-config>",
            )
            .await;
        client
            .edit(
                "running",
                &ztp_config(&server_entry("127.0.2.2", 443, "p", None)),
            )
            .await;
        assert_eq!(running(&mut client).await, ["127.0.2.1", "127.0.2.2"]);
        drop(client);
        daemon.stop();

        let daemon = Daemon::start(&config_path);
        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        assert_eq!(running(&mut client).await, ["127.0.2.1"]);
        client
            .rpc_ok("<delete-config><target><startup/></target></delete-config>")
            .await;
        let reply = client
            .rpc("<delete-config><target><running/></target></delete-config>")
            .await;
        assert_eq!(
            text(rpc_errors(&reply)[0], &["error-tag"]).as_deref(),
            Some("invalid-value")
        );
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn copy_config_accepts_with_defaults() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let with_defaults = |mode: &str| {
            format!(
                r#"<copy-config><target><startup/></target><source><running/></source><with-defaults xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults">{mode}</with-defaults></copy-config>"#
            )
        };
        client.rpc_ok(&with_defaults("report-all")).await;
        let reply = client.rpc(&with_defaults("everything")).await;
        assert_eq!(text(rpc_errors(&reply)[0], &["error-tag"]).as_deref(), Some("invalid-value"));
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn edit_config_option_errors_name_element() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        for (option, value) in [
            ("default-operation", "overwrite"),
            ("test-option", "test-twice"),
            ("error-option", "ignore-errors"),
        ] {
            let reply = client
                .rpc(&format!(
                    "<edit-config><target><candidate/></target><{option}>{value}</{option}><config/></edit-config>"
                ))
                .await;
            let errors = rpc_errors(&reply);
            assert_eq!(errors.len(), 1, "{option}");
            assert_eq!(
                text(errors[0], &["error-tag"]).as_deref(),
                Some("invalid-value"),
                "{option}"
            );
            assert_eq!(
                text(errors[0], &["error-type"]).as_deref(),
                Some("protocol"),
                "{option}"
            );
            assert_eq!(
                text(errors[0], &["error-info", "bad-element"]).as_deref(),
                Some(option)
            );
            let message = text(errors[0], &["error-message"]).unwrap_or_default();
            assert!(message.contains(value), "{message}");
        }
        daemon.stop();
    })
    .await;
}
