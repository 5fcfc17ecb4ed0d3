//! The `create-subscription` of one session (RFC 5277 section 2.1): the
//! accepted request, its event filter, and the task that sends the
//! session's notifications.
//!
//! A session has at most one subscription at a time. The subscription takes
//! its feed from the bus while the request is handled, so nothing published
//! after the request is missed, but its task starts only after the `<ok/>`
//! reply is queued, so the reply comes before the first notification.
//! The session keeps serving requests meanwhile (the `interleave`
//! capability).
//!
//! A replay subscription (with `startTime`) first sends the logged events
//! from `startTime`, then `replayComplete`. With `stopTime` it ends with
//! `notificationComplete` once the events up to `stopTime` are sent.

#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use yang3::data::{DataFormat, DataOperation, DataTree};

use super::{NS_NETMOD_NOTIFICATION, Notification, NotificationBus};
use crate::datastore::SessionId;
use crate::datastore::libyang_error::LibyangError;
use crate::netconf::error::{ErrorType, RpcError};
use crate::netconf::output::{Output, OutputClosed};
use crate::netconf::sessions::{Counters, SessionRegistry};
use crate::netconf::xml::Element;

/// Maximum single wait for `stopTime`. The subscription checks the clock
/// again after it, so a `stopTime` years ahead never needs one timer that
/// long, and a change of the system clock takes effect within this time.
pub const MAX_STOP_TIME_WAIT: Duration = Duration::from_secs(60);

/// The parameters of an accepted `create-subscription`.
#[derive(Debug, Clone)]
pub struct SubscriptionRequest {
    pub filter: EventFilter,
    /// Replay the logged events from this time on.
    pub start_time: Option<OffsetDateTime>,
    /// End the subscription after the events up to this time.
    pub stop_time: Option<OffsetDateTime>,
}

/// The selection of events that a subscription sends.
#[derive(Debug, Clone)]
pub enum EventFilter {
    /// Every event.
    All,
    /// The events of which an RFC 6241 subtree filter (the children of
    /// `<filter>`) selects anything. The whole event is sent.
    Subtree(Vec<Element>),
    /// The events of which an XPath expression selects anything. The whole
    /// event is sent.
    XPath(crate::datastore::xpath::XPathFilter),
}

impl EventFilter {
    /// Returns whether the filter selects `notification`.
    pub fn matches(&self, notification: &Notification) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Subtree(filter) => parse_event(&notification.content).is_some_and(|event| {
                match crate::datastore::filter::subtree(&event, filter) {
                    Ok(selected) => selected.reference().is_some(),
                    Err(err) => {
                        tracing::warn!(error = %err, "subtree filter failed on an event; the event is not sent");
                        false
                    }
                }
            }),
            EventFilter::XPath(filter) => parse_event(&notification.content).is_some_and(|event| {
                match crate::datastore::xpath::select(&event, filter) {
                    Ok(selected) => selected.reference().is_some(),
                    Err(err) => {
                        tracing::warn!(error = %err, "XPath filter failed on an event; the event is not sent");
                        false
                    }
                }
            }),
        }
    }
}

/// Parses `content` as an instance of its YANG notification, for
/// filtering. Content that does not parse is `None` and matches nothing.
fn parse_event(content: &str) -> Option<DataTree<'static>> {
    let context = crate::schema::context().ok()?;
    // libyang reads a C string, which would end at a NUL character.
    if content.contains('\0') {
        return None;
    }
    LibyangError::clear();
    match DataTree::parse_op_string(
        context,
        content,
        DataFormat::XML,
        DataOperation::NotificationYang,
    ) {
        Ok(event) => Some(event),
        Err(_) => {
            tracing::warn!(error = %LibyangError::last(), "an event does not parse as a YANG notification; filters select nothing from it");
            None
        }
    }
}

/// The notification subscription of one session, if it has one.
pub struct SessionSubscription {
    session_id: SessionId,
    bus: NotificationBus,
    sessions: Arc<SessionRegistry>,
    counters: Arc<Counters>,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// True from an accepted `create-subscription` until the subscription
    /// ends.
    active: bool,
    /// An accepted subscription whose reply is not queued yet.
    pending: Option<Forwarder>,
    task: Option<JoinHandle<()>>,
}

impl SessionSubscription {
    /// Creates the subscription state of session `session_id`, which counts
    /// what it sends in `counters` and in the server statistics.
    pub fn new(
        session_id: SessionId,
        bus: NotificationBus,
        sessions: Arc<SessionRegistry>,
        counters: Arc<Counters>,
    ) -> SessionSubscription {
        SessionSubscription {
            session_id,
            bus,
            sessions,
            counters,
            state: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock_state(&self.state)
    }

    /// Returns whether the session has a subscription.
    pub fn is_active(&self) -> bool {
        self.lock().active
    }

    /// Accepts `request` and takes its feed from the bus. The subscription
    /// starts sending at [`SessionSubscription::start_pending`].
    ///
    /// Fails with `operation-failed` while the session has a subscription
    /// (RFC 5277 section 6.5: one subscription per session).
    pub fn create(&self, request: SubscriptionRequest) -> Result<(), RpcError> {
        let mut state = self.lock();
        if state.active {
            return Err(RpcError::operation_failed(
                ErrorType::Protocol,
                "this session already has a notification subscription, and a session can have only one; open another session for a second subscription",
            ));
        }
        let feed = self.bus.subscribe(request.start_time, request.stop_time);
        state.active = true;
        state.pending = Some(Forwarder {
            session_id: self.session_id,
            bus: self.bus.clone(),
            sessions: Arc::clone(&self.sessions),
            counters: Arc::clone(&self.counters),
            filter: request.filter,
            replay: request.start_time.map(|_| feed.replay),
            stop_time: request.stop_time,
            live: feed.live,
        });
        tracing::info!(
            session_id = self.session_id,
            replay = request.start_time.is_some(),
            stop_time = request.stop_time.is_some(),
            "notification subscription created"
        );
        Ok(())
    }

    /// Starts sending the notifications of a subscription accepted since the
    /// last call. Call it after queueing each reply.
    pub fn start_pending(&self, output: &Output) {
        let mut state = self.lock();
        let Some(forwarder) = state.pending.take() else {
            return;
        };
        let shared = Arc::clone(&self.state);
        let output = output.clone();
        state.task = Some(tokio::spawn(async move {
            forwarder.run(output).await;
            let mut state = lock_state(&shared);
            state.active = false;
            state.task = None;
        }));
    }

    /// Ends the subscription, for the end of the session.
    pub async fn end(&self) {
        let task = {
            let mut state = self.lock();
            state.pending = None;
            state.active = false;
            state.task.take()
        };
        if let Some(task) = task {
            task.abort();
            // The task's output is dropped once the abort completes.
            let _ = task.await;
        }
    }
}

fn lock_state(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // The state stays consistent even if a holder panicked.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sends the notifications of one subscription.
struct Forwarder {
    session_id: SessionId,
    bus: NotificationBus,
    sessions: Arc<SessionRegistry>,
    counters: Arc<Counters>,
    filter: EventFilter,
    /// The logged events to replay, or `None` for a subscription without
    /// `startTime`.
    replay: Option<Vec<Arc<Notification>>>,
    stop_time: Option<OffsetDateTime>,
    live: broadcast::Receiver<Arc<Notification>>,
}

impl Forwarder {
    async fn run(mut self, output: Output) {
        // An error means the session is ending, and the session logs why.
        if self.forward(&output).await.is_ok() {
            tracing::info!(
                session_id = self.session_id,
                "notification subscription complete"
            );
        }
    }

    async fn forward(&mut self, output: &Output) -> Result<(), OutputClosed> {
        if let Some(replay) = self.replay.take() {
            for notification in &replay {
                self.send_selected(output, notification).await?;
            }
            self.send(output, &control("replayComplete")).await?;
        }

        loop {
            let received = match self.stop_time {
                None => self.live.recv().await,
                Some(stop_time) => {
                    let remaining = stop_time - OffsetDateTime::now_utc();
                    if !remaining.is_positive() {
                        return self.complete(output).await;
                    }
                    let wait = Duration::try_from(remaining)
                        .unwrap_or(MAX_STOP_TIME_WAIT)
                        .min(MAX_STOP_TIME_WAIT);
                    // Receiving is cancel-safe, so a timeout loses nothing.
                    match tokio::time::timeout(wait, self.live.recv()).await {
                        Ok(received) => received,
                        Err(_) => continue,
                    }
                }
            };
            match received {
                Ok(notification) => {
                    if self
                        .stop_time
                        .is_some_and(|stop_time| notification.event_time > stop_time)
                    {
                        return self.complete(output).await;
                    }
                    self.send_selected(output, &notification).await?;
                }
                Err(broadcast::error::RecvError::Lagged(lost)) => {
                    self.bus.record_loss(self.session_id, lost);
                }
                // The bus is gone, which only happens when the server stops.
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }

    /// Sends `notificationComplete`, which ends a subscription at its
    /// `stopTime`.
    async fn complete(&self, output: &Output) -> Result<(), OutputClosed> {
        self.send(output, &control("notificationComplete")).await
    }

    async fn send_selected(
        &self,
        output: &Output,
        notification: &Notification,
    ) -> Result<(), OutputClosed> {
        if self.filter.matches(notification) {
            self.send(output, notification).await?;
        }
        Ok(())
    }

    async fn send(&self, output: &Output, notification: &Notification) -> Result<(), OutputClosed> {
        output.send(notification.to_message()).await?;
        self.sessions.count_notification(&self.counters);
        Ok(())
    }
}

/// Returns an RFC 5277 control notification (`replayComplete` or
/// `notificationComplete`) that occurred now.
fn control(name: &str) -> Notification {
    Notification::new(format!("<{name} xmlns=\"{NS_NETMOD_NOTIFICATION}\"/>"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use std::sync::atomic::Ordering;

    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::netconf::framing::{Decoder, Framing};
    use crate::netconf::notifications::events::{self, SessionIdentity, TerminationReason};
    use crate::netconf::output;
    use crate::netconf::stream::MessageStream;
    use crate::netconf::xml;

    const NS_NCN: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications";

    fn identity(session_id: SessionId) -> SessionIdentity {
        SessionIdentity {
            username: "admin".into(),
            session_id,
            source_host: None,
        }
    }

    fn session_start(session_id: SessionId) -> Notification {
        events::session_start(&identity(session_id)).expect("built")
    }

    fn filter(text: &str) -> EventFilter {
        let element = xml::parse(&format!("<filter>{text}</filter>")).expect("XML");
        EventFilter::Subtree(element.children)
    }

    #[test]
    fn subtree_filter_selects_by_event_name() {
        let start = session_start(3);
        let end =
            events::session_end(&identity(3), TerminationReason::Closed, None).expect("built");
        let only_start = filter(&format!(r#"<netconf-session-start xmlns="{NS_NCN}"/>"#));
        assert!(only_start.matches(&start));
        assert!(!only_start.matches(&end));
    }

    #[test]
    fn subtree_filter_matches_content() {
        let session_three = filter(&format!(
            r#"<netconf-session-start xmlns="{NS_NCN}"><session-id>3</session-id></netconf-session-start>"#
        ));
        assert!(session_three.matches(&session_start(3)));
        assert!(!session_three.matches(&session_start(4)));
    }

    #[test]
    fn empty_subtree_filter_selects_nothing() {
        assert!(!EventFilter::Subtree(Vec::new()).matches(&session_start(3)));
    }

    /// Reads every message the session wrote until the output closed.
    async fn written_messages(mut peer: tokio::io::DuplexStream) -> Vec<xml::Element> {
        let mut written = Vec::new();
        peer.read_to_end(&mut written).await.expect("read");
        let mut decoder = Decoder::new(Framing::EndOfMessage, 1 << 20);
        decoder.feed(&written);
        let mut messages = Vec::new();
        while let Some(message) = decoder.next_message().expect("framing") {
            messages.push(xml::parse(std::str::from_utf8(&message).expect("UTF-8")).expect("XML"));
        }
        messages
    }

    fn event_name(message: &xml::Element) -> String {
        message
            .children
            .get(1)
            .map(|event| event.name.clone())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn replay_until_stop_time_then_complete() {
        let bus = NotificationBus::new();
        let registry = Arc::new(SessionRegistry::default());
        let counters = Arc::new(Counters::default());
        let before = OffsetDateTime::now_utc() - time::Duration::seconds(1);
        bus.publish(session_start(1));
        bus.publish(session_start(2));
        let stop_time = OffsetDateTime::now_utc();
        tokio::time::sleep(Duration::from_millis(5)).await;
        bus.publish(session_start(3));

        let (peer, local) = tokio::io::duplex(1 << 16);
        let (_reader, writer) = MessageStream::new(local, Framing::EndOfMessage, 4096).into_split();
        let (output, output_task) = output::spawn(writer);
        let subscription =
            SessionSubscription::new(9, bus.clone(), Arc::clone(&registry), Arc::clone(&counters));
        subscription
            .create(SubscriptionRequest {
                filter: EventFilter::All,
                start_time: Some(before),
                stop_time: Some(stop_time),
            })
            .expect("accepted");
        let second = subscription
            .create(SubscriptionRequest {
                filter: EventFilter::All,
                start_time: None,
                stop_time: None,
            })
            .expect_err("second subscription");
        assert_eq!(second.tag, crate::netconf::error::ErrorTag::OperationFailed);
        assert_eq!(second.error_type, ErrorType::Protocol);

        subscription.start_pending(&output);
        // The subscription ends by itself after notificationComplete.
        for _ in 0..200 {
            if !subscription.is_active() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!subscription.is_active(), "subscription did not end");
        drop(output);
        output_task.finish().await.expect("written");

        let messages = written_messages(peer).await;
        let names: Vec<String> = messages.iter().map(event_name).collect();
        assert_eq!(
            names,
            [
                "netconf-session-start",
                "netconf-session-start",
                "replayComplete",
                "notificationComplete"
            ]
        );
        assert_eq!(counters.out_notifications.load(Ordering::Relaxed), 4);
        // A new subscription is allowed once the first one ended.
        subscription
            .create(SubscriptionRequest {
                filter: EventFilter::All,
                start_time: None,
                stop_time: None,
            })
            .expect("accepted after the end");
        subscription.end().await;
    }
}
