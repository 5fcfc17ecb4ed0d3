//! The base notifications of RFC 6470 (module `ietf-netconf-notifications`):
//! `netconf-session-start`, `netconf-session-end`, `netconf-config-change`
//! and `netconf-confirmed-commit`.
//!
//! Each event is built as a libyang data tree of its YANG notification, so
//! every value is checked against its type, and printed as XML. The events
//! without instance-identifiers are also validated as a whole (mandatory
//! leaves, `when` conditions). `netconf-config-change` is not: its `target`
//! leaves are instance-identifiers with `require-instance true`, and the
//! target of a deleted node no longer exists in any data tree.

#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use yang3::data::DataTree;
use yang3::ffi;

use super::{Notification, NotificationBus};
use crate::datastore::diff::{ChangeListener, ConfigEdit, RunningChange};
use crate::datastore::libyang_error::LibyangError;
use crate::datastore::{SessionId, raw};
use crate::netconf::sessions::SessionRegistry;
use crate::netconf::transport::PeerInfo;

/// The YANG module of the base notifications.
pub const MODULE: &str = "ietf-netconf-notifications";

/// Namespace of [`MODULE`].
pub const NS_NETCONF_NOTIFICATIONS: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications";

/// The identity of a NETCONF session (`common-session-parms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionIdentity {
    /// The SSH user name the client authenticated as.
    pub username: String,
    pub session_id: SessionId,
    /// The client's address, when known.
    pub source_host: Option<IpAddr>,
}

impl SessionIdentity {
    /// Returns the identity of session `session_id` with client `peer`.
    pub fn new(session_id: SessionId, peer: &PeerInfo) -> SessionIdentity {
        SessionIdentity {
            username: peer.user.clone(),
            session_id,
            source_host: peer.addr.map(|addr| addr.ip()),
        }
    }

    /// Looks up the open session `session_id` in the registry.
    pub fn from_registry(
        registry: &SessionRegistry,
        session_id: SessionId,
    ) -> Option<SessionIdentity> {
        registry.get(session_id).map(|entry| SessionIdentity {
            username: entry.user,
            session_id,
            source_host: entry.peer.map(|addr| addr.ip()),
        })
    }
}

/// The reason a session ended (`termination-reason` of
/// `netconf-session-end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminationReason {
    /// The client sent `close-session`.
    Closed,
    /// Another session or the server killed it, with `kill-session` for
    /// example.
    Killed,
    /// The transport connection closed unexpectedly.
    Dropped,
    /// The client did not send its hello or requests in time.
    Timeout,
    /// The client's hello was invalid.
    BadHello,
    /// Any other reason, such as a server shutdown.
    Other,
}

impl TerminationReason {
    /// Returns the enumeration value of the YANG leaf.
    pub fn as_str(self) -> &'static str {
        match self {
            TerminationReason::Closed => "closed",
            TerminationReason::Killed => "killed",
            TerminationReason::Dropped => "dropped",
            TerminationReason::Timeout => "timeout",
            TerminationReason::BadHello => "bad-hello",
            TerminationReason::Other => "other",
        }
    }
}

/// The source of a configuration change (`changed-by`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangedBy {
    /// The server itself, such as the rollback after a confirmed commit
    /// timed out.
    Server,
    /// A NETCONF session.
    Session(SessionIdentity),
}

/// One step of a confirmed commit (RFC 6241 section 8.4), as
/// `netconf-confirmed-commit` reports it. The variants carry exactly the
/// leaves that RFC 6470 allows for each `confirm-event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmedCommitEvent {
    /// A confirmed commit started. It is rolled back after `timeout` unless
    /// confirmed.
    Start {
        session: SessionIdentity,
        timeout: Duration,
    },
    /// A follow-up confirmed commit extended the timeout to `timeout` from
    /// now.
    Extend {
        session: SessionIdentity,
        timeout: Duration,
    },
    /// The confirmed commit was cancelled, by `cancel-commit` or because its
    /// session ended.
    Cancel { session: SessionIdentity },
    /// A confirming commit completed the procedure.
    Complete { session: SessionIdentity },
    /// The timeout expired and the server rolled the configuration back.
    Timeout,
}

/// A base notification could not be built. This means a value does not
/// fit its YANG type, so the message names the event and libyang's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot build the {event} notification: {message}")]
pub struct EventError {
    pub event: &'static str,
    pub message: String,
}

/// Builds `netconf-session-start` for a session after its hello exchange.
pub fn session_start(identity: &SessionIdentity) -> Result<Notification, EventError> {
    let mut event = EventTree::new("netconf-session-start")?;
    event.set_session(identity)?;
    event.finish(Validation::Full)
}

/// Builds `netconf-session-end`. `killed_by` is the session that killed it,
/// and is only reported with [`TerminationReason::Killed`].
pub fn session_end(
    identity: &SessionIdentity,
    reason: TerminationReason,
    killed_by: Option<SessionId>,
) -> Result<Notification, EventError> {
    let mut event = EventTree::new("netconf-session-end")?;
    event.set_session(identity)?;
    if reason == TerminationReason::Killed
        && let Some(killer) = killed_by
    {
        event.set("killed-by", Some(&killer.to_string()))?;
    }
    event.set("termination-reason", Some(reason.as_str()))?;
    event.finish(Validation::Full)
}

/// Builds `netconf-config-change` for a change of running, with one `edit`
/// per changed node.
pub fn config_change(
    changed_by: &ChangedBy,
    edits: &[ConfigEdit],
) -> Result<Notification, EventError> {
    let mut event = EventTree::new("netconf-config-change")?;
    match changed_by {
        ChangedBy::Server => event.set("changed-by/server", None)?,
        ChangedBy::Session(identity) => {
            event.set("changed-by/username", Some(&identity.username))?;
            event.set(
                "changed-by/session-id",
                Some(&identity.session_id.to_string()),
            )?;
            if let Some(host) = identity.source_host {
                event.set("changed-by/source-host", Some(&host.to_string()))?;
            }
        }
    }
    event.set("datastore", Some("running"))?;
    for edit in edits {
        event.add_edit(edit)?;
    }
    event.finish(Validation::TypesOnly)
}

/// Builds `netconf-confirmed-commit`.
pub fn confirmed_commit(event: &ConfirmedCommitEvent) -> Result<Notification, EventError> {
    let mut tree = EventTree::new("netconf-confirmed-commit")?;
    let (name, session, timeout) = match event {
        ConfirmedCommitEvent::Start { session, timeout } => ("start", Some(session), Some(timeout)),
        ConfirmedCommitEvent::Extend { session, timeout } => {
            ("extend", Some(session), Some(timeout))
        }
        ConfirmedCommitEvent::Cancel { session } => ("cancel", Some(session), None),
        ConfirmedCommitEvent::Complete { session } => ("complete", Some(session), None),
        ConfirmedCommitEvent::Timeout => ("timeout", None, None),
    };
    if let Some(session) = session {
        tree.set_session(session)?;
    }
    tree.set("confirm-event", Some(name))?;
    if let Some(timeout) = timeout {
        // The leaf is a uint32 of seconds; longer timeouts are reported as
        // its maximum.
        let seconds = u32::try_from(timeout.as_secs()).unwrap_or(u32::MAX);
        tree.set("timeout", Some(&seconds.to_string()))?;
    }
    tree.finish(Validation::Full)
}

impl NotificationBus {
    /// Publishes `netconf-session-start`.
    pub fn publish_session_start(&self, identity: &SessionIdentity) {
        self.publish_built(session_start(identity));
    }

    /// Publishes `netconf-session-end`.
    pub fn publish_session_end(
        &self,
        identity: &SessionIdentity,
        reason: TerminationReason,
        killed_by: Option<SessionId>,
    ) {
        self.publish_built(session_end(identity, reason, killed_by));
    }

    /// Publishes `netconf-config-change`.
    pub fn publish_config_change(&self, changed_by: &ChangedBy, edits: &[ConfigEdit]) {
        self.publish_built(config_change(changed_by, edits));
    }

    /// Publishes `netconf-confirmed-commit`. The confirmed-commit procedure
    /// calls this at each step; any thread may call it.
    pub fn publish_confirmed_commit(&self, event: &ConfirmedCommitEvent) {
        self.publish_built(confirmed_commit(event));
    }

    fn publish_built(&self, built: Result<Notification, EventError>) {
        match built {
            Ok(notification) => self.publish(notification),
            Err(err) => tracing::error!(error = %err, "base notification not published"),
        }
    }
}

/// Returns the datastore listener that publishes `netconf-config-change`
/// for every change of running. Session id 0 stands for the server itself;
/// other sessions are looked up in `sessions` for their user and address.
pub fn config_change_listener(
    bus: NotificationBus,
    sessions: Arc<SessionRegistry>,
) -> ChangeListener {
    Box::new(move |change: &RunningChange| {
        let changed_by = if change.session == 0 {
            ChangedBy::Server
        } else {
            match SessionIdentity::from_registry(&sessions, change.session) {
                Some(identity) => ChangedBy::Session(identity),
                // NOTE: a session changes running only while it waits for
                // the reply, so it is still registered then. This branch
                // covers a session id that the registry does not know.
                None => {
                    tracing::warn!(
                        session_id = change.session,
                        "configuration changed by a session that is not open; reported as changed by the server"
                    );
                    ChangedBy::Server
                }
            }
        };
        bus.publish_config_change(&changed_by, &change.edits);
    })
}

/// How much libyang checks a built event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Validation {
    /// Each value against its type, as the tree is built.
    TypesOnly,
    /// Also the notification as a whole: mandatory nodes, `when`, `must`
    /// and instance-identifiers.
    Full,
}

/// A notification under construction, of [`MODULE`] unless made with
/// [`EventTree::in_module`].
struct EventTree {
    module: &'static str,
    name: &'static str,
    tree: DataTree<'static>,
}

impl EventTree {
    fn new(name: &'static str) -> Result<EventTree, EventError> {
        EventTree::in_module(MODULE, name)
    }

    fn in_module(module: &'static str, name: &'static str) -> Result<EventTree, EventError> {
        let context = crate::schema::context().map_err(|err| EventError {
            event: name,
            message: err.to_string(),
        })?;
        Ok(EventTree {
            module,
            name,
            tree: DataTree::new(context),
        })
    }

    fn error(&self, message: impl Into<String>) -> EventError {
        EventError {
            event: self.name,
            message: message.into(),
        }
    }

    /// Sets the node at `relative` (a path below the notification) to
    /// `value`, creating it and its parents.
    fn set(&mut self, relative: &str, value: Option<&str>) -> Result<(), EventError> {
        let path = format!("/{}:{}/{relative}", self.module, self.name);
        check_no_nul(self.name, value)?;
        LibyangError::clear();
        if self.tree.new_path(&path, value, false).is_err() {
            return Err(self.error(format!("{path} = {value:?}: {}", LibyangError::last())));
        }
        Ok(())
    }

    /// Sets `username`, `session-id` and `source-host`.
    fn set_session(&mut self, identity: &SessionIdentity) -> Result<(), EventError> {
        self.set("username", Some(&identity.username))?;
        self.set("session-id", Some(&identity.session_id.to_string()))?;
        if let Some(host) = identity.source_host {
            self.set("source-host", Some(&host.to_string()))?;
        }
        Ok(())
    }

    /// Adds one entry to the key-less list `edit`.
    fn add_edit(&mut self, edit: &ConfigEdit) -> Result<(), EventError> {
        check_no_nul(self.name, Some(&edit.target))?;
        let path = format!("/{}:{}/edit", self.module, self.name);
        LibyangError::clear();
        // A key-less list instance is created anew on every call.
        let created = match self.tree.new_path(&path, None, false) {
            Ok(Some(node)) => node,
            Ok(None) | Err(_) => {
                return Err(EventError {
                    event: self.name,
                    message: format!("{path}: {}", LibyangError::last()),
                });
            }
        };
        let mut entry = created;
        let result = entry
            .new_term(None, "target", Some(&edit.target))
            .and_then(|()| entry.new_term(None, "operation", Some(edit.operation.as_str())));
        if result.is_err() {
            return Err(EventError {
                event: self.name,
                message: format!(
                    "edit of {} ({}): {}",
                    edit.target,
                    edit.operation.as_str(),
                    LibyangError::last()
                ),
            });
        }
        Ok(())
    }

    fn finish(self, validation: Validation) -> Result<Notification, EventError> {
        let Some(first) = self.tree.reference().map(|node| node.as_raw()) else {
            return Err(self.error("the notification has no content"));
        };
        if validation == Validation::Full {
            LibyangError::clear();
            // SAFETY: `first` is the notification node heading this tree,
            // which this value owns; validation may add default nodes below
            // it but does not free it.
            let ret = unsafe {
                ffi::lyd_validate_op(
                    first,
                    std::ptr::null(),
                    ffi::lyd_type::LYD_TYPE_NOTIF_YANG,
                    std::ptr::null_mut(),
                )
            };
            if ret != ffi::LY_ERR::LY_SUCCESS {
                return Err(self.error(LibyangError::last().to_string()));
            }
        }
        let content = raw::print_xml(&self.tree, ffi::LYD_PRINT_SHRINK)
            .map_err(|err| self.error(err.to_string()))?;
        Ok(Notification::new(content))
    }
}

/// The outcome of one download attempt with one bootstrap server, for
/// `ztpd-ztp:certificate-download-event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadAttempt {
    pub address: std::net::IpAddr,
    pub vpn_instance: String,
    /// Fingerprint of the installed certificate, or the failure kind (its
    /// YANG enum name) and message.
    pub result: Result<String, (&'static str, String)>,
}

/// Builds `ztpd-ztp:certificate-download-event`.
pub fn certificate_download(attempt: &DownloadAttempt) -> Result<Notification, EventError> {
    let mut event = EventTree::in_module("ztpd-ztp", "certificate-download-event")?;
    event.set("address", Some(&attempt.address.to_string()))?;
    event.set("vpn-instance", Some(&attempt.vpn_instance))?;
    match &attempt.result {
        Ok(fingerprint) => {
            event.set("result", Some("succeeded"))?;
            event.set("fingerprint-sha256", Some(fingerprint))?;
        }
        Err((kind, message)) => {
            event.set("result", Some("failed"))?;
            event.set("error", Some(kind))?;
            event.set("error-message", Some(message))?;
        }
    }
    event.finish(Validation::Full)
}

impl NotificationBus {
    /// Publishes `certificate-download-event` for one attempt.
    pub fn publish_certificate_download(&self, attempt: &DownloadAttempt) {
        self.publish_built(certificate_download(attempt));
    }
}

/// libyang takes C strings, which end at the first NUL character.
fn check_no_nul(event: &'static str, value: Option<&str>) -> Result<(), EventError> {
    match value {
        Some(value) if value.contains('\0') => Err(EventError {
            event,
            message: format!("the value {value:?} contains a NUL character"),
        }),
        _ => Ok(()),
    }
}

/// Returns the datastore's confirmed-commit listener that publishes
/// `netconf-confirmed-commit` for every step, naming the session from the
/// registry.
pub fn confirmed_commit_listener(
    bus: NotificationBus,
    sessions: Arc<SessionRegistry>,
) -> crate::datastore::ConfirmedListener {
    use crate::datastore::ConfirmedCommitChange;

    Box::new(move |change: &ConfirmedCommitChange| {
        let identity = |session: SessionId| {
            SessionIdentity::from_registry(&sessions, session).unwrap_or(SessionIdentity {
                username: String::new(),
                session_id: session,
                source_host: None,
            })
        };
        let event = match change {
            ConfirmedCommitChange::Start { session, timeout } => ConfirmedCommitEvent::Start {
                session: identity(*session),
                timeout: *timeout,
            },
            ConfirmedCommitChange::Extend { session, timeout } => ConfirmedCommitEvent::Extend {
                session: identity(*session),
                timeout: *timeout,
            },
            ConfirmedCommitChange::Cancel { session } => ConfirmedCommitEvent::Cancel {
                session: identity(*session),
            },
            ConfirmedCommitChange::Complete { session } => ConfirmedCommitEvent::Complete {
                session: identity(*session),
            },
            ConfirmedCommitChange::Timeout => ConfirmedCommitEvent::Timeout,
        };
        bus.publish_confirmed_commit(&event);
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use yang3::data::DataOperation;

    use super::*;
    use crate::datastore::diff::EditOperation;
    use crate::netconf::xml::{self, Element};

    fn admin(session_id: SessionId) -> SessionIdentity {
        SessionIdentity {
            username: "admin".into(),
            session_id,
            source_host: Some("127.0.0.1".parse().unwrap()),
        }
    }

    /// Parses the content back as a notification of the loaded module,
    /// which fails for anything the schema does not define.
    fn parse(notification: &Notification) -> Element {
        let context = crate::schema::context().expect("schema");
        DataTree::parse_op_string(
            context,
            &notification.content,
            yang3::data::DataFormat::XML,
            DataOperation::NotificationYang,
        )
        .unwrap_or_else(|err| panic!("{err}: {}", notification.content));
        xml::parse(&notification.content).expect("XML")
    }

    fn text<'a>(element: &'a Element, name: &str) -> Option<&'a str> {
        element
            .child(NS_NETCONF_NOTIFICATIONS, name)
            .map(Element::trimmed_text)
    }

    #[test]
    fn session_start_carries_session_parameters() {
        let event = parse(&session_start(&admin(7)).expect("built"));
        assert!(event.is(NS_NETCONF_NOTIFICATIONS, "netconf-session-start"));
        assert_eq!(text(&event, "username"), Some("admin"));
        assert_eq!(text(&event, "session-id"), Some("7"));
        assert_eq!(text(&event, "source-host"), Some("127.0.0.1"));
    }

    #[test]
    fn session_end_reports_killer_only_when_killed() {
        let killed =
            parse(&session_end(&admin(3), TerminationReason::Killed, Some(9)).expect("built"));
        assert_eq!(text(&killed, "termination-reason"), Some("killed"));
        assert_eq!(text(&killed, "killed-by"), Some("9"));

        let closed =
            parse(&session_end(&admin(3), TerminationReason::Closed, Some(9)).expect("built"));
        assert_eq!(text(&closed, "termination-reason"), Some("closed"));
        assert_eq!(text(&closed, "killed-by"), None);
    }

    #[test]
    fn session_without_address_omits_source_host() {
        let identity = SessionIdentity {
            source_host: None,
            ..admin(4)
        };
        let event =
            parse(&session_end(&identity, TerminationReason::BadHello, None).expect("built"));
        assert_eq!(text(&event, "source-host"), None);
        assert_eq!(text(&event, "termination-reason"), Some("bad-hello"));
    }

    #[test]
    fn username_with_nul_rejected() {
        let identity = SessionIdentity {
            username: "ad\0min".into(),
            ..admin(4)
        };
        let err = session_start(&identity).expect_err("NUL");
        assert_eq!(err.event, "netconf-session-start");
        assert!(err.message.contains("NUL"), "{err}");
    }

    #[test]
    fn config_change_lists_edits() {
        let edits = [
            ConfigEdit {
                target: "/ztpd-ssl:ssl/ssl-policies/ssl-policy[policy-name='p1']".into(),
                operation: EditOperation::Create,
            },
            ConfigEdit {
                target: "/ztpd-ztp:ztp/certificate-remote[address='10.1.1.1'][vpn-instance='_public_']/port".into(),
                operation: EditOperation::Replace,
            },
        ];
        let event = parse(&config_change(&ChangedBy::Session(admin(5)), &edits).expect("built"));
        let changed_by = event
            .child(NS_NETCONF_NOTIFICATIONS, "changed-by")
            .expect("changed-by");
        assert_eq!(text(changed_by, "username"), Some("admin"));
        assert_eq!(text(changed_by, "session-id"), Some("5"));
        assert_eq!(text(&event, "datastore"), Some("running"));

        let listed: Vec<&Element> = event
            .children
            .iter()
            .filter(|child| child.is(NS_NETCONF_NOTIFICATIONS, "edit"))
            .collect();
        assert_eq!(listed.len(), 2);
        assert_eq!(text(listed[0], "operation"), Some("create"));
        let target = listed[0]
            .child(NS_NETCONF_NOTIFICATIONS, "target")
            .expect("target");
        // libyang writes the instance-identifier with XML prefixes that
        // the target element declares.
        assert_eq!(
            target.trimmed_text(),
            "/ssl:ssl/ssl:ssl-policies/ssl:ssl-policy[ssl:policy-name='p1']"
        );
        assert!(
            target
                .prefixes
                .contains(&("ssl".into(), "urn:ztpd:yang:ztpd-ssl".into())),
            "{:?}",
            target.prefixes
        );
        assert_eq!(text(listed[1], "operation"), Some("replace"));
    }

    #[test]
    fn config_change_by_server() {
        let event = parse(&config_change(&ChangedBy::Server, &[]).expect("built"));
        let changed_by = event
            .child(NS_NETCONF_NOTIFICATIONS, "changed-by")
            .expect("changed-by");
        assert!(
            changed_by
                .child(NS_NETCONF_NOTIFICATIONS, "server")
                .is_some()
        );
        assert_eq!(text(changed_by, "username"), None);
    }

    #[test]
    fn config_change_target_outside_schema_rejected() {
        let edits = [ConfigEdit {
            target: "/ztpd-ssl:no-such-node".into(),
            operation: EditOperation::Delete,
        }];
        let err = config_change(&ChangedBy::Server, &edits).expect_err("invalid target");
        assert!(err.message.contains("no-such-node"), "{err}");
    }

    #[test]
    fn confirmed_commit_events_carry_their_leaves() {
        let start = parse(
            &confirmed_commit(&ConfirmedCommitEvent::Start {
                session: admin(2),
                timeout: Duration::from_secs(600),
            })
            .expect("start"),
        );
        assert_eq!(text(&start, "confirm-event"), Some("start"));
        assert_eq!(text(&start, "timeout"), Some("600"));
        assert_eq!(text(&start, "session-id"), Some("2"));

        let extend = parse(
            &confirmed_commit(&ConfirmedCommitEvent::Extend {
                session: admin(2),
                timeout: Duration::from_secs(u64::MAX),
            })
            .expect("extend"),
        );
        assert_eq!(text(&extend, "timeout"), Some("4294967295"));

        for (event, name) in [
            (ConfirmedCommitEvent::Cancel { session: admin(2) }, "cancel"),
            (
                ConfirmedCommitEvent::Complete { session: admin(2) },
                "complete",
            ),
        ] {
            let parsed = parse(&confirmed_commit(&event).expect("built"));
            assert_eq!(text(&parsed, "confirm-event"), Some(name));
            assert_eq!(text(&parsed, "username"), Some("admin"));
            assert_eq!(text(&parsed, "timeout"), None);
        }

        let timeout = parse(&confirmed_commit(&ConfirmedCommitEvent::Timeout).expect("timeout"));
        assert_eq!(text(&timeout, "confirm-event"), Some("timeout"));
        assert_eq!(text(&timeout, "username"), None);
        assert_eq!(text(&timeout, "session-id"), None);
    }

    #[tokio::test]
    async fn confirmed_commit_published_to_subscribers() {
        let bus = NotificationBus::new();
        let mut feed = bus.subscribe(None, None);
        bus.publish_confirmed_commit(&ConfirmedCommitEvent::Timeout);
        let received = feed.live.recv().await.expect("published");
        let event = parse(&received);
        assert!(event.is(NS_NETCONF_NOTIFICATIONS, "netconf-confirmed-commit"));
    }
}
