//! NETCONF event notifications (RFC 5277) and the base notifications of
//! RFC 6470.
//!
//! This module owns the [`NotificationBus`]: every event of the `NETCONF`
//! stream is published to it, from async code or from the datastore's own
//! thread. The bus keeps a bounded replay log for `startTime` and hands each
//! subscriber a live feed. `events` builds the RFC 6470 events with libyang,
//! and `subscription` runs the `create-subscription` of one session.
//!
//! ```text
//! session start/end ─┐                      ┌─▶ replay log (bounded)
//! datastore thread ──┼─▶ NotificationBus ───┤
//! confirmed commit ──┘                      └─▶ live feed ─▶ subscription ─▶ Output
//! ```
//!
//! A subscriber that falls behind by more than [`LIVE_FEED_CAPACITY`]
//! notifications loses the oldest ones, so publishers never wait for
//! subscribers and the feed never grows. The subscription logs each loss
//! with its count and adds it to [`NotificationBus::lost_notifications`].
//! RFC 5277 has no message to tell the client, so a client that must not
//! miss events can re-subscribe with a `startTime` from the replay log.
//!
//! Events are built and filtered with libyang on the thread that publishes
//! or sends them. libyang 3.13 allows concurrent work on separate data
//! trees of one context (`libyang.h`, "Threading Limitations"), and no tree
//! leaves the thread that made it.

#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod events;
pub mod subscription;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::broadcast;

use super::xml::escape;
use crate::datastore::{SessionId, StateNode};

/// Namespace of `<notification>` and `<create-subscription>` (RFC 5277).
pub const NS_NOTIFICATION: &str = "urn:ietf:params:xml:ns:netconf:notification:1.0";

/// Namespace of `replayComplete` and `notificationComplete` (RFC 5277,
/// module `nc-notifications`).
pub const NS_NETMOD_NOTIFICATION: &str = "urn:ietf:params:xml:ns:netmod:notification";

/// The one event stream of this server, which carries every event.
pub const STREAM_NETCONF: &str = "NETCONF";

/// The `description` of [`STREAM_NETCONF`] in the stream list.
const STREAM_DESCRIPTION: &str = "Every event of this server: the NETCONF base notifications of RFC 6470 and the certificate download events of ztpd-ztp";

/// Path of the stream list.
const STREAMS: &str = "/nc-notifications:netconf/streams";

/// Maximum total size of the notification contents in the replay log, in
/// bytes. Session events are about 200 bytes, and a `netconf-config-change`
/// adds about 200 bytes per edit (estimates from the event layout), so
/// 4 MiB keeps thousands of events while bounding the memory of the log.
pub const REPLAY_LOG_MAX_BYTES: usize = 4 * 1024 * 1024;

/// Age after which a notification leaves the replay log. A client that was
/// disconnected for up to a day can catch up with `startTime`. After longer
/// outages a client reads the configuration anew anyway.
pub const REPLAY_LOG_MAX_AGE: time::Duration = time::Duration::hours(24);

/// Notifications a subscriber may fall behind the newest one before it
/// loses the oldest. This server publishes events only when sessions start
/// or end and when running changes, so a subscriber this far behind has a
/// client that stopped reading. The bound keeps it from holding memory.
pub const LIVE_FEED_CAPACITY: usize = 1024;

/// One event of the `NETCONF` stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// When the event occurred (RFC 5277 `eventTime`).
    pub event_time: OffsetDateTime,
    /// The event element as XML, with its namespace declared on it, such
    /// as `<netconf-session-start xmlns="...">...</netconf-session-start>`.
    pub content: String,
}

impl Notification {
    /// Creates a notification of `content` that occurred now.
    pub fn new(content: String) -> Notification {
        Notification {
            event_time: OffsetDateTime::now_utc(),
            content,
        }
    }

    /// Writes the `<notification>` message that carries this event.
    pub fn to_message(&self) -> String {
        let event_time = format_event_time(self.event_time);
        format!(
            "<notification xmlns=\"{NS_NOTIFICATION}\"><eventTime>{}</eventTime>{}</notification>",
            escape(&event_time),
            self.content
        )
    }
}

/// Formats a time as RFC 3339 in UTC, as `eventTime` needs.
pub fn format_event_time(time: OffsetDateTime) -> String {
    // Formatting fails only for years outside 0000..=9999, which neither the
    // system clock nor a parsed RFC 3339 time reaches, and for offsets with
    // seconds, which UTC does not have.
    time.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// The event bus of the `NETCONF` stream. Clones are cheap and publish to
/// the same subscribers.
#[derive(Clone)]
pub struct NotificationBus {
    inner: Arc<BusInner>,
}

struct BusInner {
    /// Held while publishing, so that a new subscriber receives each
    /// notification exactly once, in its replay or in its live feed.
    log: Mutex<ReplayLog>,
    live: broadcast::Sender<Arc<Notification>>,
    lost: AtomicU64,
    /// When the replay log was created, which is the earliest time a
    /// replay can reach.
    created: OffsetDateTime,
}

#[derive(Default)]
struct ReplayLog {
    entries: VecDeque<Arc<Notification>>,
    bytes: usize,
    /// Event time of the newest notification that left the log.
    aged: Option<OffsetDateTime>,
}

impl ReplayLog {
    /// Drops the oldest entries until the log is within its size and age
    /// limits.
    fn trim(&mut self, now: OffsetDateTime) {
        let oldest_kept = now - REPLAY_LOG_MAX_AGE;
        while let Some(front) = self.entries.front() {
            if self.bytes <= REPLAY_LOG_MAX_BYTES && front.event_time >= oldest_kept {
                break;
            }
            self.bytes = self.bytes.saturating_sub(front.content.len());
            self.aged = Some(front.event_time);
            self.entries.pop_front();
        }
    }
}

/// The notifications of a new subscriber: those of the replay log that it
/// requested, then everything published after it subscribed.
pub struct Feed {
    pub replay: Vec<Arc<Notification>>,
    pub live: broadcast::Receiver<Arc<Notification>>,
}

impl Default for NotificationBus {
    fn default() -> Self {
        NotificationBus::new()
    }
}

impl NotificationBus {
    /// Creates a bus with an empty replay log.
    pub fn new() -> NotificationBus {
        let (live, _) = broadcast::channel(LIVE_FEED_CAPACITY);
        NotificationBus {
            inner: Arc::new(BusInner {
                log: Mutex::new(ReplayLog::default()),
                live,
                lost: AtomicU64::new(0),
                created: OffsetDateTime::now_utc(),
            }),
        }
    }

    fn log(&self) -> MutexGuard<'_, ReplayLog> {
        // The log stays consistent even if a holder panicked.
        self.inner
            .log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Publishes `notification` to every subscriber and to the replay log.
    /// Never waits for subscribers, so any thread may call it, including
    /// the datastore thread.
    pub fn publish(&self, notification: Notification) {
        let notification = Arc::new(notification);
        let mut log = self.log();
        log.bytes += notification.content.len();
        log.entries.push_back(Arc::clone(&notification));
        log.trim(OffsetDateTime::now_utc());
        // An error only means that no one subscribes right now.
        let _ = self.inner.live.send(notification);
    }

    /// Subscribes to the live feed and, when `start_time` is given, takes
    /// the logged notifications from `start_time` to `stop_time`
    /// (inclusive) for replay.
    pub fn subscribe(
        &self,
        start_time: Option<OffsetDateTime>,
        stop_time: Option<OffsetDateTime>,
    ) -> Feed {
        let mut log = self.log();
        log.trim(OffsetDateTime::now_utc());
        let live = self.inner.live.subscribe();
        let replay = match start_time {
            None => Vec::new(),
            Some(start) => log
                .entries
                .iter()
                .filter(|entry| entry.event_time >= start)
                .filter(|entry| stop_time.is_none_or(|stop| entry.event_time <= stop))
                .cloned()
                .collect(),
        };
        Feed { replay, live }
    }

    /// Total notifications that subscribers lost because they fell behind
    /// by more than [`LIVE_FEED_CAPACITY`].
    pub fn lost_notifications(&self) -> u64 {
        self.inner.lost.load(Ordering::Relaxed)
    }

    /// Counts and logs notifications that the subscription of `session_id`
    /// lost.
    fn record_loss(&self, session_id: SessionId, count: u64) {
        let total = self.inner.lost.fetch_add(count, Ordering::Relaxed) + count;
        tracing::warn!(
            session_id,
            lost = count,
            lost_total = total,
            "a subscriber fell behind by more than {LIVE_FEED_CAPACITY} notifications and lost the oldest; its client reads too slowly"
        );
    }

    /// Returns the number of notifications in the replay log.
    pub fn replay_log_len(&self) -> usize {
        self.log().entries.len()
    }

    /// Returns the stream list of `nc-notifications` (RFC 5277 section
    /// 3.2.5), through which clients discover the stream and how far back
    /// it replays.
    pub fn streams_state(&self) -> Vec<StateNode> {
        let stream = format!("{STREAMS}/stream[name='{STREAM_NETCONF}']");
        let mut nodes = vec![
            StateNode {
                path: format!("{stream}/description"),
                value: Some(STREAM_DESCRIPTION.to_owned()),
            },
            StateNode {
                path: format!("{stream}/replaySupport"),
                value: Some("true".to_owned()),
            },
            StateNode {
                path: format!("{stream}/replayLogCreationTime"),
                value: Some(format_event_time(self.inner.created)),
            },
        ];
        let mut log = self.log();
        log.trim(OffsetDateTime::now_utc());
        if let Some(aged) = log.aged {
            nodes.push(StateNode {
                path: format!("{stream}/replayLogAgedTime"),
                value: Some(format_event_time(aged)),
            });
        }
        nodes
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;

    fn at(content: &str, event_time: OffsetDateTime) -> Notification {
        Notification {
            event_time,
            content: content.to_owned(),
        }
    }

    #[test]
    fn message_wraps_event_with_event_time() {
        let event_time = time::macros::datetime!(2026-01-02 03:04:05.5 +01:00);
        let message = at("<e xmlns=\"urn:e\"/>", event_time).to_message();
        assert_eq!(
            message,
            "<notification xmlns=\"urn:ietf:params:xml:ns:netconf:notification:1.0\"><eventTime>2026-01-02T02:04:05.5Z</eventTime><e xmlns=\"urn:e\"/></notification>"
        );
    }

    #[tokio::test]
    async fn subscriber_gets_replay_then_live() {
        let bus = NotificationBus::new();
        let now = OffsetDateTime::now_utc();
        bus.publish(at("<a/>", now - time::Duration::minutes(10)));
        bus.publish(at("<b/>", now - time::Duration::minutes(5)));
        bus.publish(at("<c/>", now - time::Duration::minutes(1)));

        let mut feed = bus.subscribe(
            Some(now - time::Duration::minutes(6)),
            Some(now - time::Duration::minutes(2)),
        );
        let replayed: Vec<&str> = feed.replay.iter().map(|n| n.content.as_str()).collect();
        assert_eq!(replayed, ["<b/>"]);

        bus.publish(Notification::new("<d/>".into()));
        let live = feed.live.recv().await.expect("live notification");
        assert_eq!(live.content, "<d/>");
    }

    #[test]
    fn subscription_without_start_time_replays_nothing() {
        let bus = NotificationBus::new();
        bus.publish(Notification::new("<a/>".into()));
        let feed = bus.subscribe(None, None);
        assert!(feed.replay.is_empty());
    }

    #[test]
    fn stream_list_shows_replay_log_age() {
        let bus = NotificationBus::new();
        // libyang prints the UTC offset `Z` in its canonical form `+00:00`.
        let created = format_event_time(bus.inner.created).replace('Z', "+00:00");
        let xml = crate::datastore::valid_state_xml(&bus.streams_state());
        for expected in [
            "<name>NETCONF</name>",
            "<replaySupport>true</replaySupport>",
            &format!("<replayLogCreationTime>{created}</replayLogCreationTime>"),
        ] {
            assert!(xml.contains(expected), "{expected} missing from {xml}");
        }
        assert!(!xml.contains("replayLogAgedTime"), "{xml}");

        let dropped = OffsetDateTime::now_utc() - REPLAY_LOG_MAX_AGE - time::Duration::minutes(1);
        bus.publish(at("<old/>", dropped));
        let xml = crate::datastore::valid_state_xml(&bus.streams_state());
        let aged = format_event_time(dropped).replace('Z', "+00:00");
        assert!(
            xml.contains(&format!("<replayLogAgedTime>{aged}</replayLogAgedTime>")),
            "{xml}"
        );
    }

    #[test]
    fn replay_log_drops_old_entries() {
        let bus = NotificationBus::new();
        let now = OffsetDateTime::now_utc();
        bus.publish(at(
            "<old/>",
            now - REPLAY_LOG_MAX_AGE - time::Duration::minutes(1),
        ));
        bus.publish(at("<new/>", now));
        assert_eq!(bus.replay_log_len(), 1);
        let feed = bus.subscribe(Some(now - time::Duration::days(2)), None);
        assert_eq!(feed.replay.len(), 1);
        assert_eq!(feed.replay[0].content, "<new/>");
    }

    #[test]
    fn replay_log_bounded_in_bytes() {
        let bus = NotificationBus::new();
        let content = "x".repeat(64 * 1024);
        let count = REPLAY_LOG_MAX_BYTES / content.len() + 10;
        for _ in 0..count {
            bus.publish(Notification::new(content.clone()));
        }
        assert_eq!(bus.replay_log_len(), REPLAY_LOG_MAX_BYTES / content.len());
    }

    #[tokio::test]
    async fn slow_subscriber_loses_oldest_without_blocking_publisher() {
        let bus = NotificationBus::new();
        let mut feed = bus.subscribe(None, None);
        // Publishing from a plain thread, as the datastore thread does,
        // finishes although no one reads the feed.
        let publisher = bus.clone();
        std::thread::spawn(move || {
            for index in 0..LIVE_FEED_CAPACITY + 5 {
                publisher.publish(Notification::new(format!("<n{index}/>")));
            }
        })
        .join()
        .expect("publisher thread");

        match feed.live.recv().await {
            Err(broadcast::error::RecvError::Lagged(lost)) => assert_eq!(lost, 5),
            other => panic!("expected a lag of 5, got {other:?}"),
        }
        let next = feed.live.recv().await.expect("oldest kept");
        assert_eq!(next.content, "<n5/>");
    }
}
