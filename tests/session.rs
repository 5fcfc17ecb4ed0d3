//! NETCONF sessions against the real daemon: hello, framing, envelope
//! errors, locks and session end.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn capabilities(hello: &ztpd::netconf::xml::Element) -> Vec<String> {
    find(hello, &["capabilities"])
        .map(|list| {
            list.children
                .iter()
                .map(|child| child.trimmed_text().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn hello_advertises_capabilities_and_session_id() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = Daemon::start(&lab.write_config(""));
        let client = Netconf::connect(daemon.address, Login::Password(PASSWORD), true).await;

        let advertised = capabilities(&client.server_hello);
        for expected in [
            "urn:ietf:params:netconf:base:1.0",
            "urn:ietf:params:netconf:base:1.1",
            "urn:ietf:params:netconf:capability:writable-running:1.0",
            "urn:ietf:params:netconf:capability:candidate:1.0",
            "urn:ztpd:yang:ztpd-ssl?module=ztpd-ssl&revision=2026-12-04",
            "urn:ztpd:yang:ztpd-pki?module=ztpd-pki&revision=2026-12-04",
            "urn:ztpd:yang:ztpd-ztp?module=ztpd-ztp&revision=2026-12-04",
        ] {
            assert!(
                advertised.iter().any(|uri| uri == expected),
                "{expected} missing from {advertised:?}"
            );
        }
        let session_id: u32 = text(&client.server_hello, &["session-id"])
            .and_then(|id| id.parse().ok())
            .expect("numeric session-id");
        assert!(session_id > 0);
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn base_1_0_uses_end_of_message() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = Daemon::start(&lab.write_config(""));
        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), false).await;
        let reply = client
            .rpc("<get-config><source><running/></source></get-config>")
            .await;
        assert!(reply.child(NS_BASE, "data").is_some(), "{reply:?}");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn reply_echoes_rpc_attributes() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let reply = client
            .exchange(&format!(
                r#"<nc:rpc xmlns:nc="{NS_BASE}" xmlns:ex="urn:example" message-id="abc-7" ex:user-id="fred"><nc:discard-changes/></nc:rpc>"#
            ))
            .await;
        let parsed = ztpd::netconf::xml::parse(&reply).expect("reply XML");
        assert!(parsed.is(NS_BASE, "rpc-reply"), "{reply}");
        assert_eq!(parsed.attribute("message-id"), Some("abc-7"));
        assert_eq!(parsed.attribute_ns("urn:example", "user-id"), Some("fred"));
        assert!(parsed.child(NS_BASE, "ok").is_some(), "{reply}");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn rpc_without_message_id_is_missing_attribute() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let reply = client
            .exchange(&format!(r#"<rpc xmlns="{NS_BASE}"><get/></rpc>"#))
            .await;
        let parsed = ztpd::netconf::xml::parse(&reply).expect("reply XML");
        let errors = rpc_errors(&parsed);
        assert_eq!(errors.len(), 1, "{reply}");
        assert_eq!(
            text(errors[0], &["error-tag"]).as_deref(),
            Some("missing-attribute")
        );
        assert_eq!(text(errors[0], &["error-type"]).as_deref(), Some("rpc"));
        assert_eq!(
            text(errors[0], &["error-info", "bad-attribute"]).as_deref(),
            Some("message-id")
        );
        assert_eq!(
            text(errors[0], &["error-info", "bad-element"]).as_deref(),
            Some("rpc")
        );

        // The session goes on.
        client.rpc_ok("<discard-changes/>").await;
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn unknown_operation_not_supported() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let reply = client.rpc(r#"<frobnicate xmlns="urn:example"/>"#).await;
        let errors = rpc_errors(&reply);
        assert_eq!(
            text(errors[0], &["error-tag"]).as_deref(),
            Some("operation-not-supported")
        );
        let message = text(errors[0], &["error-message"]).unwrap_or_default();
        assert!(message.contains("frobnicate"), "{message}");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn malformed_xml_is_malformed_message() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let reply = client
            .exchange(&format!(
                r#"<rpc xmlns="{NS_BASE}" message-id="1"><get></rpc>"#
            ))
            .await;
        let parsed = ztpd::netconf::xml::parse(&reply).expect("reply XML");
        assert_eq!(
            text(rpc_errors(&parsed)[0], &["error-tag"]).as_deref(),
            Some("malformed-message")
        );
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn lock_denied_names_holder_and_dies_with_session() {
    with_timeout(async {
        let (_lab, daemon, mut first, mut second) = start_daemon_with_two_clients().await;
        let first_id = text(&first.server_hello, &["session-id"]).expect("session-id");

        first
            .rpc_ok("<lock><target><running/></target></lock>")
            .await;
        let reply = second.rpc("<lock><target><running/></target></lock>").await;
        let errors = rpc_errors(&reply);
        assert_eq!(
            text(errors[0], &["error-tag"]).as_deref(),
            Some("lock-denied")
        );
        assert_eq!(
            text(errors[0], &["error-info", "session-id"]),
            Some(first_id)
        );

        let reply = second.edit("running", &policy_config("p1")).await;
        assert_eq!(
            text(rpc_errors(&reply)[0], &["error-tag"]).as_deref(),
            Some("in-use")
        );

        // The lock dies with the session that held it.
        drop(first);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let reply = second.rpc("<lock><target><running/></target></lock>").await;
            if reply.child(NS_BASE, "ok").is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "lock not released after the holder disconnected: {reply:?}"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn close_session_answers_ok_then_closes() {
    with_timeout(async {
        let (lab, daemon, mut client) = start_daemon_with_client().await;
        client
            .rpc_ok("<lock><target><candidate/></target></lock>")
            .await;
        client.rpc_ok("<close-session/>").await;

        let mut other = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        other
            .rpc_ok("<lock><target><candidate/></target></lock>")
            .await;
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn sigterm_stops_daemon_with_open_sessions() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = Daemon::start(&lab.write_config(""));
        let _client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        let started = Instant::now();
        let status = daemon.stop();
        assert!(status.success(), "{status:?}");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "stop took {:?}",
            started.elapsed()
        );
    })
    .await;
}

#[tokio::test]
async fn parameter_in_wrong_namespace_named() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let reply = client
            .rpc(r#"<edit-config><target><candidate/></target><config xmlns=""><ztp xmlns="urn:ztpd:yang:ztpd-ztp"/></config></edit-config>"#)
            .await;
        let errors = rpc_errors(&reply);
        assert_eq!(text(errors[0], &["error-tag"]).as_deref(), Some("unknown-namespace"));
        let message = text(errors[0], &["error-message"]).unwrap_or_default();
        assert!(message.contains("<config>"), "{message}");
        assert!(message.contains("no namespace"), "{message}");
        daemon.stop();
    })
    .await;
}
