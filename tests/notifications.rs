//! Event notifications against the real daemon: `create-subscription`
//! (RFC 5277) with replay, filters and interleaved requests, and the base
//! notifications of RFC 6470.

mod common;

use std::time::Duration;

use common::*;
use ztpd::netconf::xml::Element;

/// How long a test waits to be sure that no notification comes.
const SILENCE: Duration = Duration::from_millis(800);

/// Returns a bootstrap server entry on a loopback port where nothing
/// listens, so that the downloads it starts fail at once without leaving
/// the machine.
fn loopback_server(address: &str, port: u16) -> String {
    server_entry(address, port, "p1", None)
}

/// Returns a subtree filter for the RFC 6470 events, which leaves out the
/// download events that configured servers cause.
fn base_events_filter() -> String {
    let events: String = [
        "netconf-config-change",
        "netconf-capability-change",
        "netconf-session-start",
        "netconf-session-end",
        "netconf-confirmed-commit",
    ]
    .iter()
    .map(|name| format!(r#"<{name} xmlns="{NS_NCN}"/>"#))
    .collect();
    format!(r#"<filter type="subtree">{events}</filter>"#)
}

fn subscribe(parameters: &str) -> String {
    format!(r#"<create-subscription xmlns="{NS_NOTIFICATION}">{parameters}</create-subscription>"#)
}

/// Text of the child `name` of a base notification event.
fn leaf(event: &Element, name: &str) -> Option<String> {
    event
        .child(NS_NCN, name)
        .map(|child| child.trimmed_text().to_owned())
}

/// Asserts that `notification` carries the RFC 6470 event `name` and
/// returns the event.
fn expect_event<'a>(notification: &'a Element, name: &str) -> &'a Element {
    let event = event(notification);
    assert!(
        event.is(NS_NCN, name),
        "expected {name}, got <{}> in {:?}",
        event.name,
        event.namespace
    );
    event
}

/// Returns the `edit` entries of a `netconf-config-change` as (target,
/// operation), with each prefix of the target replaced by its namespace.
fn edits(event: &Element) -> Vec<(String, String)> {
    event
        .children
        .iter()
        .filter(|child| child.is(NS_NCN, "edit"))
        .map(|edit| {
            let target = edit.child(NS_NCN, "target").expect("edit has a target");
            let mut path = target.trimmed_text().to_owned();
            for (prefix, namespace) in &target.prefixes {
                path = path.replace(&format!("{prefix}:"), &format!("{{{namespace}}}"));
            }
            let operation = leaf(edit, "operation").expect("edit has an operation");
            (path, operation)
        })
        .collect()
}

fn assert_ok(reply: &Element) {
    assert!(
        reply.child(NS_BASE, "ok").is_some(),
        "expected <ok/>, got {reply:?}"
    );
}

/// Returns the single rpc-error of a reply as (error-type, error-tag,
/// element).
fn single_error(reply: &Element) -> (String, String, &Element) {
    let errors = rpc_errors(reply);
    assert_eq!(errors.len(), 1, "{reply:?}");
    let error = errors[0];
    (
        text(error, &["error-type"]).unwrap_or_default(),
        text(error, &["error-tag"]).unwrap_or_default(),
        error,
    )
}

#[tokio::test]
async fn session_start_and_end_of_other_sessions() {
    with_timeout(async {
        let (lab, daemon, mut watcher) = start_daemon_with_client().await;
        assert_ok(&watcher.rpc(&subscribe("")).await);

        // A session that closes normally.
        let mut other = Netconf::connect(daemon.address, Login::Password(PASSWORD), true).await;
        let other_id = other.session_id().to_string();
        let notification = watcher.next_notification(NOTIFICATION_WAIT).await;
        assert!(!event_time(&notification).is_empty());
        let start = expect_event(&notification, "netconf-session-start");
        assert_eq!(leaf(start, "username").as_deref(), Some(USER));
        assert_eq!(leaf(start, "session-id"), Some(other_id.clone()));
        assert_eq!(leaf(start, "source-host").as_deref(), Some("127.0.0.1"));

        other.rpc_ok("<close-session/>").await;
        let notification = watcher.next_notification(NOTIFICATION_WAIT).await;
        let end = expect_event(&notification, "netconf-session-end");
        assert_eq!(leaf(end, "session-id"), Some(other_id));
        assert_eq!(leaf(end, "username").as_deref(), Some(USER));
        assert_eq!(leaf(end, "source-host").as_deref(), Some("127.0.0.1"));
        assert_eq!(leaf(end, "termination-reason").as_deref(), Some("closed"));
        assert_eq!(leaf(end, "killed-by"), None);

        // A session whose client disconnects without close-session.
        let dropped = Netconf::connect(daemon.address, Login::Key(&lab.client_key), false).await;
        let dropped_id = dropped.session_id().to_string();
        let notification = watcher.next_notification(NOTIFICATION_WAIT).await;
        let start = expect_event(&notification, "netconf-session-start");
        assert_eq!(leaf(start, "session-id"), Some(dropped_id.clone()));
        drop(dropped);
        let notification = watcher.next_notification(NOTIFICATION_WAIT).await;
        let end = expect_event(&notification, "netconf-session-end");
        assert_eq!(leaf(end, "session-id"), Some(dropped_id));
        assert_eq!(leaf(end, "termination-reason").as_deref(), Some("dropped"));

        // A client whose hello is invalid never starts a session, but its
        // end is reported.
        let mut bad = Netconf::connect_with_hello(
            daemon.address,
            Login::Key(&lab.client_key),
            &format!(r#"<hello xmlns="{NS_BASE}"><capabilities/></hello>"#),
        )
        .await;
        let bad_id = bad.session_id().to_string();
        assert_eq!(
            bad.read_message().await,
            None,
            "the server closes the session"
        );
        let notification = watcher.next_notification(NOTIFICATION_WAIT).await;
        let end = expect_event(&notification, "netconf-session-end");
        assert_eq!(leaf(end, "session-id"), Some(bad_id));
        assert_eq!(
            leaf(end, "termination-reason").as_deref(),
            Some("bad-hello")
        );

        watcher.expect_silence(SILENCE).await;
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn config_change_after_edit_and_commit() {
    with_timeout(async {
        let (_lab, daemon, mut watcher) = start_daemon_with_client().await;
        let watcher_id = watcher.session_id().to_string();
        assert_ok(&watcher.rpc(&subscribe(&base_events_filter())).await);

        // edit-config on running by the subscriber itself.
        assert_ok(&watcher.edit("running", &policy_config("p1")).await);
        let notification = watcher.next_notification(NOTIFICATION_WAIT).await;
        let change = expect_event(&notification, "netconf-config-change");
        let changed_by = change.child(NS_NCN, "changed-by").expect("changed-by");
        assert_eq!(leaf(changed_by, "username").as_deref(), Some(USER));
        assert_eq!(leaf(changed_by, "session-id"), Some(watcher_id));
        assert_eq!(leaf(changed_by, "source-host").as_deref(), Some("127.0.0.1"));
        assert!(changed_by.child(NS_NCN, "server").is_none());
        assert_eq!(leaf(change, "datastore").as_deref(), Some("running"));
        let policy = format!(
            "/{{{NS_SSL}}}ssl/{{{NS_SSL}}}ssl-policies/{{{NS_SSL}}}ssl-policy[{{{NS_SSL}}}policy-name='p1']"
        );
        assert_eq!(edits(change), [(policy.clone(), "create".to_owned())]);

        // A commit by another session: a new server entry.
        let mut editor = Netconf::connect(daemon.address, Login::Password(PASSWORD), true).await;
        let editor_id = editor.session_id().to_string();
        let start = watcher.next_notification(NOTIFICATION_WAIT).await;
        expect_event(&start, "netconf-session-start");
        assert_ok(
            &editor
                .edit("candidate", &ztp_config(&loopback_server("127.0.0.1", 1)))
                .await,
        );
        watcher.expect_silence(SILENCE).await;
        editor.rpc_ok("<commit/>").await;
        let notification = watcher.next_notification(NOTIFICATION_WAIT).await;
        let change = expect_event(&notification, "netconf-config-change");
        let changed_by = change.child(NS_NCN, "changed-by").expect("changed-by");
        assert_eq!(leaf(changed_by, "session-id"), Some(editor_id));
        let server = format!(
            "/{{{NS_ZTP}}}ztp/{{{NS_ZTP}}}certificate-remote[{{{NS_ZTP}}}address='127.0.0.1'][{{{NS_ZTP}}}vpn-instance='_public_']"
        );
        assert_eq!(edits(change), [(server.clone(), "create".to_owned())]);

        // A changed leaf is a replace of that leaf.
        assert_ok(
            &editor
                .edit("candidate", &ztp_config(&loopback_server("127.0.0.1", 2)))
                .await,
        );
        editor.rpc_ok("<commit/>").await;
        let notification = watcher.next_notification(NOTIFICATION_WAIT).await;
        let change = expect_event(&notification, "netconf-config-change");
        assert_eq!(
            edits(change),
            [(format!("{server}/{{{NS_ZTP}}}port"), "replace".to_owned())]
        );

        // Deleting both in one edit lists two edits.
        let delete = format!(
            r#"<ssl xmlns="{NS_SSL}" xmlns:nc="{NS_BASE}"><ssl-policies><ssl-policy nc:operation="delete"><policy-name>p1</policy-name></ssl-policy></ssl-policies></ssl><ztp xmlns="{NS_ZTP}" xmlns:nc="{NS_BASE}"><certificate-remote nc:operation="delete"><address>127.0.0.1</address><vpn-instance>_public_</vpn-instance></certificate-remote></ztp>"#
        );
        assert_ok(&editor.edit("running", &delete).await);
        let notification = watcher.next_notification(NOTIFICATION_WAIT).await;
        let change = expect_event(&notification, "netconf-config-change");
        let mut found = edits(change);
        found.sort();
        let mut expected = vec![(policy, "delete".to_owned()), (server, "delete".to_owned())];
        expected.sort();
        assert_eq!(found, expected);

        // An edit that changes nothing is no config change.
        assert_ok(&editor.edit("running", &policy_config("p2")).await);
        expect_event(
            &watcher.next_notification(NOTIFICATION_WAIT).await,
            "netconf-config-change",
        );
        assert_ok(&editor.edit("running", &policy_config("p2")).await);
        watcher.expect_silence(SILENCE).await;
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn notifications_interleave_with_replies() {
    with_timeout(async {
        let (_lab, daemon, mut watcher) = start_daemon_with_client().await;
        assert_ok(&watcher.rpc(&subscribe("")).await);
        let mut editor = Netconf::connect(daemon.address, Login::Password(PASSWORD), true).await;
        expect_event(
            &watcher.next_notification(NOTIFICATION_WAIT).await,
            "netconf-session-start",
        );

        // The subscribed session keeps serving requests.
        let reply = watcher
            .rpc("<get-config><source><running/></source></get-config>")
            .await;
        assert!(reply.child(NS_BASE, "data").is_some(), "{reply:?}");

        // A notification arrives while the session has no request open.
        assert_ok(&editor.edit("running", &policy_config("p1")).await);
        let message = watcher.read_message().await.expect("a message");
        let parsed = ztpd::netconf::xml::parse(&message).expect("XML");
        assert!(parsed.is(NS_NOTIFICATION, "notification"), "{message}");
        expect_event(&parsed, "netconf-config-change");

        // Requests sent back to back while events happen: every reply
        // comes, in order, and every notification comes whole between
        // them.
        for index in 0..3 {
            watcher
                .send(&format!(
                    r#"<rpc xmlns="{NS_BASE}" message-id="burst-{index}"><get-config><source><running/></source></get-config></rpc>"#
                ))
                .await;
        }
        assert_ok(&editor.edit("running", &policy_config("p2")).await);
        let mut replies = Vec::new();
        let mut changes = 0;
        while replies.len() < 3 || changes < 1 {
            let message = tokio::time::timeout(NOTIFICATION_WAIT, watcher.read_message())
                .await
                .expect("message in time")
                .expect("message before EOF");
            let parsed = ztpd::netconf::xml::parse(&message).expect("every message is whole XML");
            if parsed.is(NS_NOTIFICATION, "notification") {
                expect_event(&parsed, "netconf-config-change");
                changes += 1;
            } else {
                assert!(parsed.is(NS_BASE, "rpc-reply"), "{message}");
                replies.push(parsed.attribute("message-id").unwrap_or_default().to_owned());
            }
        }
        assert_eq!(replies, ["burst-0", "burst-1", "burst-2"]);
        assert_eq!(changes, 1);

        watcher.rpc_ok("<close-session/>").await;
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn replay_with_start_and_stop_time() {
    with_timeout(async {
        let (lab, daemon, mut watcher) = start_daemon_with_client().await;
        assert_ok(&watcher.rpc(&subscribe("")).await);

        // Three events of another session, seen live by the watcher.
        let mut other = Netconf::connect(daemon.address, Login::Password(PASSWORD), true).await;
        let other_id = other.session_id().to_string();
        assert_ok(&other.edit("running", &policy_config("p1")).await);
        other.rpc_ok("<close-session/>").await;
        let start = watcher.next_notification(NOTIFICATION_WAIT).await;
        expect_event(&start, "netconf-session-start");
        let change = watcher.next_notification(NOTIFICATION_WAIT).await;
        expect_event(&change, "netconf-config-change");
        let end = watcher.next_notification(NOTIFICATION_WAIT).await;
        expect_event(&end, "netconf-session-end");

        // A replay from the start to the config change.
        let mut replayer =
            Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        expect_event(
            &watcher.next_notification(NOTIFICATION_WAIT).await,
            "netconf-session-start",
        );
        let reply = replayer
            .rpc(&subscribe(&format!(
                "<stream>NETCONF</stream><startTime>{}</startTime><stopTime>{}</stopTime>",
                event_time(&start),
                event_time(&change)
            )))
            .await;
        assert_ok(&reply);
        let replayed = replayer.next_notification(NOTIFICATION_WAIT).await;
        let replayed_start = expect_event(&replayed, "netconf-session-start");
        assert_eq!(leaf(replayed_start, "session-id"), Some(other_id));
        assert_eq!(event_time(&replayed), event_time(&start));
        let replayed = replayer.next_notification(NOTIFICATION_WAIT).await;
        expect_event(&replayed, "netconf-config-change");
        assert_eq!(event_time(&replayed), event_time(&change));
        let complete = replayer.next_notification(NOTIFICATION_WAIT).await;
        assert!(
            event(&complete).is(NS_NETMOD_NOTIFICATION, "replayComplete"),
            "{complete:?}"
        );
        let complete = replayer.next_notification(NOTIFICATION_WAIT).await;
        assert!(
            event(&complete).is(NS_NETMOD_NOTIFICATION, "notificationComplete"),
            "{complete:?}"
        );

        // The subscription has ended. Later events do not reach it, and the
        // session still serves requests.
        assert_ok(&watcher.edit("running", &policy_config("p2")).await);
        expect_event(
            &watcher.next_notification(NOTIFICATION_WAIT).await,
            "netconf-config-change",
        );
        replayer.expect_silence(SILENCE).await;
        let reply = replayer
            .rpc("<get-config><source><running/></source></get-config>")
            .await;
        assert!(reply.child(NS_BASE, "data").is_some(), "{reply:?}");

        // A replay whose stopTime is ahead goes on live until then.
        let stop_time = time::OffsetDateTime::now_utc() + time::Duration::seconds(4);
        let stop_text = stop_time
            .format(&time::format_description::well_known::Rfc3339)
            .expect("format");
        assert_ok(
            &replayer
                .rpc(&subscribe(&format!(
                    "<startTime>{}</startTime><stopTime>{stop_text}</stopTime>",
                    event_time(&end)
                )))
                .await,
        );
        let replayed = replayer.next_notification(NOTIFICATION_WAIT).await;
        expect_event(&replayed, "netconf-session-end");
        assert_eq!(event_time(&replayed), event_time(&end));
        // The session-start of the replayer and the watcher's change.
        expect_event(
            &replayer.next_notification(NOTIFICATION_WAIT).await,
            "netconf-session-start",
        );
        expect_event(
            &replayer.next_notification(NOTIFICATION_WAIT).await,
            "netconf-config-change",
        );
        let complete = replayer.next_notification(NOTIFICATION_WAIT).await;
        assert!(
            event(&complete).is(NS_NETMOD_NOTIFICATION, "replayComplete"),
            "{complete:?}"
        );
        assert_ok(&watcher.edit("running", &policy_config("p3")).await);
        let live = replayer.next_notification(NOTIFICATION_WAIT).await;
        expect_event(&live, "netconf-config-change");
        let complete = replayer.next_notification(NOTIFICATION_WAIT).await;
        assert!(
            event(&complete).is(NS_NETMOD_NOTIFICATION, "notificationComplete"),
            "{complete:?}"
        );
        assert!(
            time::OffsetDateTime::now_utc() >= stop_time,
            "notificationComplete came before stopTime"
        );
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn second_subscription_rejected() {
    with_timeout(async {
        let (lab, daemon, mut watcher) = start_daemon_with_client().await;
        assert_ok(&watcher.rpc(&subscribe("")).await);
        let reply = watcher.rpc(&subscribe("")).await;
        let (error_type, error_tag, _) = single_error(&reply);
        assert_eq!(error_type, "protocol");
        assert_eq!(error_tag, "operation-failed");

        // The first subscription goes on.
        let _other = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        expect_event(
            &watcher.next_notification(NOTIFICATION_WAIT).await,
            "netconf-session-start",
        );
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn invalid_parameters_rejected() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;

        let reply = client.rpc(&subscribe("<stream>SYSLOG</stream>")).await;
        let (error_type, error_tag, error) = single_error(&reply);
        assert_eq!(error_type, "protocol");
        assert_eq!(error_tag, "invalid-value");
        let message = text(error, &["error-message"]).unwrap_or_default();
        assert!(message.contains("\"SYSLOG\""), "{message}");

        let reply = client
            .rpc(&subscribe("<stopTime>2026-01-01T00:00:00Z</stopTime>"))
            .await;
        let (error_type, error_tag, error) = single_error(&reply);
        assert_eq!(error_type, "protocol");
        assert_eq!(error_tag, "missing-element");
        assert_eq!(
            text(error, &["error-info", "bad-element"]).as_deref(),
            Some("startTime")
        );

        let reply = client
            .rpc(&subscribe("<startTime>2999-01-01T00:00:00Z</startTime>"))
            .await;
        let (error_type, error_tag, error) = single_error(&reply);
        assert_eq!(error_type, "protocol");
        assert_eq!(error_tag, "bad-element");
        assert_eq!(
            text(error, &["error-info", "bad-element"]).as_deref(),
            Some("startTime")
        );

        let reply = client
            .rpc(&subscribe(
                "<startTime>2026-01-01T00:00:00Z</startTime><stopTime>2025-12-31T23:59:59Z</stopTime>",
            ))
            .await;
        let (error_type, error_tag, error) = single_error(&reply);
        assert_eq!(error_type, "protocol");
        assert_eq!(error_tag, "bad-element");
        assert_eq!(
            text(error, &["error-info", "bad-element"]).as_deref(),
            Some("stopTime")
        );

        // None of them subscribed the session.
        assert_ok(&client.rpc(&subscribe("")).await);
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn subtree_filter_selects_config_change_only() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = Daemon::start(&lab.write_config(""));
        // A base:1.0 subscriber receives notifications in end-of-message
        // framing.
        let mut watcher =
            Netconf::connect(daemon.address, Login::Key(&lab.client_key), false).await;
        let filter =
            format!(r#"<filter type="subtree"><netconf-config-change xmlns="{NS_NCN}"/></filter>"#);
        assert_ok(&watcher.rpc(&subscribe(&filter)).await);

        let mut editor = Netconf::connect(daemon.address, Login::Password(PASSWORD), true).await;
        assert_ok(&editor.edit("running", &policy_config("p1")).await);
        let notification = watcher.next_notification(NOTIFICATION_WAIT).await;
        let change = expect_event(&notification, "netconf-config-change");
        assert_eq!(
            leaf(
                change.child(NS_NCN, "changed-by").expect("changed-by"),
                "session-id"
            ),
            Some(editor.session_id().to_string())
        );

        editor.rpc_ok("<close-session/>").await;
        watcher.expect_silence(SILENCE).await;
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn confirmed_commit_events_from_start_to_timeout() {
    with_timeout(async {
        let (lab, daemon, mut listener) = start_daemon_with_client().await;
        let filter = format!(
            r#"<filter type="subtree"><netconf-confirmed-commit xmlns="{NS_NCN}"/></filter>"#
        );
        listener.rpc_ok(&subscribe(&filter)).await;

        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        let client_id = text(&client.server_hello, &["session-id"]).expect("session-id");
        client.edit("candidate", &policy_config("p1")).await;
        client
            .rpc_ok("<commit><confirmed/><confirm-timeout>30</confirm-timeout></commit>")
            .await;
        client
            .rpc_ok("<commit><confirmed/><confirm-timeout>1</confirm-timeout></commit>")
            .await;

        let start = listener.next_notification(Duration::from_secs(5)).await;
        let start = expect_event(&start, "netconf-confirmed-commit");
        assert_eq!(leaf(start, "confirm-event").as_deref(), Some("start"));
        assert_eq!(leaf(start, "timeout").as_deref(), Some("30"));
        assert_eq!(leaf(start, "session-id"), Some(client_id.clone()));
        assert_eq!(leaf(start, "username").as_deref(), Some(USER));

        let extend = listener.next_notification(Duration::from_secs(5)).await;
        let extend = expect_event(&extend, "netconf-confirmed-commit");
        assert_eq!(leaf(extend, "confirm-event").as_deref(), Some("extend"));
        assert_eq!(leaf(extend, "timeout").as_deref(), Some("1"));

        let timeout = listener.next_notification(Duration::from_secs(10)).await;
        let timeout = expect_event(&timeout, "netconf-confirmed-commit");
        assert_eq!(leaf(timeout, "confirm-event").as_deref(), Some("timeout"));
        assert_eq!(leaf(timeout, "session-id"), None);
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn kill_session_end_names_killer() {
    with_timeout(async {
        let (lab, daemon, mut listener) = start_daemon_with_client().await;
        let filter =
            format!(r#"<filter type="subtree"><netconf-session-end xmlns="{NS_NCN}"/></filter>"#);
        listener.rpc_ok(&subscribe(&filter)).await;
        let listener_id = text(&listener.server_hello, &["session-id"]).expect("session-id");

        let victim = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        let victim_id = text(&victim.server_hello, &["session-id"]).expect("session-id");
        listener
            .rpc_ok(&format!(
                "<kill-session><session-id>{victim_id}</session-id></kill-session>"
            ))
            .await;

        let end = listener.next_notification(Duration::from_secs(5)).await;
        let end = expect_event(&end, "netconf-session-end");
        assert_eq!(leaf(end, "session-id"), Some(victim_id));
        assert_eq!(leaf(end, "termination-reason").as_deref(), Some("killed"));
        assert_eq!(leaf(end, "killed-by"), Some(listener_id));
        drop(victim);
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn xpath_filter_selects_events() {
    with_timeout(async {
        let (lab, daemon, mut listener) = start_daemon_with_client().await;
        let filter = format!(
            r#"<filter type="xpath" xmlns:ncn="{NS_NCN}" select="/ncn:netconf-session-start"/>"#
        );
        listener.rpc_ok(&subscribe(&filter)).await;

        let other = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        let other_id = text(&other.server_hello, &["session-id"]).expect("session-id");
        drop(other);
        let start = listener.next_notification(Duration::from_secs(5)).await;
        let start = expect_event(&start, "netconf-session-start");
        assert_eq!(leaf(start, "session-id"), Some(other_id));
        listener.expect_silence(SILENCE).await;

        let mut second = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        let reply = second
            .rpc(&subscribe(
                r#"<filter type="xpath" select="/undeclared:x"/>"#,
            ))
            .await;
        assert_eq!(
            text(rpc_errors(&reply)[0], &["error-tag"]).as_deref(),
            Some("invalid-value")
        );
        daemon.stop();
    })
    .await;
}
