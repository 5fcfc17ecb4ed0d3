//! The registry of open NETCONF sessions and the server's counters.
//!
//! Every session registers itself after its hello exchange and leaves when
//! it ends. The registry is what `kill-session` cancels through and what
//! `ietf-netconf-monitoring` reports (sessions and statistics).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::datastore::SessionId;

/// Counters of one session or of the whole server (RFC 6022
/// `common-counters`).
#[derive(Debug, Default)]
pub struct Counters {
    pub in_rpcs: AtomicU32,
    pub in_bad_rpcs: AtomicU32,
    pub out_rpc_errors: AtomicU32,
    pub out_notifications: AtomicU32,
}

impl Counters {
    /// Adds one to `counter`, wrapping as a YANG zero-based counter does.
    pub fn increment(counter: &AtomicU32) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// One open session.
#[derive(Debug, Clone)]
pub struct SessionEntry {
    pub user: String,
    pub peer: Option<SocketAddr>,
    pub login_time: OffsetDateTime,
    pub counters: Arc<Counters>,
    /// Cancelled to end the session, for example by `kill-session`.
    pub kill: CancellationToken,
}

/// Server-wide statistics (RFC 6022 `statistics`).
#[derive(Debug)]
pub struct Statistics {
    pub start_time: OffsetDateTime,
    pub in_bad_hellos: AtomicU32,
    pub in_sessions: AtomicU32,
    pub dropped_sessions: AtomicU32,
    pub counters: Counters,
}

/// The open sessions and the server statistics.
#[derive(Debug)]
pub struct SessionRegistry {
    sessions: Mutex<BTreeMap<SessionId, SessionEntry>>,
    statistics: Statistics,
    /// The session that killed each killed session, until the killed
    /// session ends and reports it (`killed-by` of `netconf-session-end`).
    killers: Mutex<BTreeMap<SessionId, SessionId>>,
}

impl Default for SessionRegistry {
    fn default() -> Self {
        SessionRegistry {
            sessions: Mutex::new(BTreeMap::new()),
            statistics: Statistics {
                start_time: OffsetDateTime::now_utc(),
                in_bad_hellos: AtomicU32::new(0),
                in_sessions: AtomicU32::new(0),
                dropped_sessions: AtomicU32::new(0),
                counters: Counters::default(),
            },
            killers: Mutex::new(BTreeMap::new()),
        }
    }
}

impl SessionRegistry {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<SessionId, SessionEntry>> {
        // The map stays consistent even if a holder panicked.
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a session after its hello exchange.
    pub fn register(&self, id: SessionId, entry: SessionEntry) {
        Counters::increment(&self.statistics.in_sessions);
        self.lock().insert(id, entry);
    }

    /// Removes a session. `dropped` is true when it ended without
    /// `close-session` (RFC 6022 `dropped-sessions`).
    pub fn unregister(&self, id: SessionId, dropped: bool) {
        if self.lock().remove(&id).is_some() && dropped {
            Counters::increment(&self.statistics.dropped_sessions);
        }
        self.lock_killers().remove(&id);
    }

    fn lock_killers(&self) -> MutexGuard<'_, BTreeMap<SessionId, SessionId>> {
        self.killers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns a copy of the open session `id`.
    pub fn get(&self, id: SessionId) -> Option<SessionEntry> {
        self.lock().get(&id).cloned()
    }

    /// Ends the session `id` on behalf of session `killer`, which its
    /// `netconf-session-end` notification names in `killed-by`. Returns
    /// false when no such session is open.
    pub fn kill_by(&self, id: SessionId, killer: SessionId) -> bool {
        let sessions = self.lock();
        let Some(entry) = sessions.get(&id) else {
            return false;
        };
        self.lock_killers().insert(id, killer);
        entry.kill.cancel();
        true
    }

    /// Returns the session that killed session `id` through
    /// [`SessionRegistry::kill_by`], if any. Call it before
    /// [`SessionRegistry::unregister`], which drops the record.
    pub fn take_killer(&self, id: SessionId) -> Option<SessionId> {
        self.lock_killers().remove(&id)
    }

    /// Counts a notification sent to the session with `counters`, in both
    /// the session's and the server's `out-notifications`.
    pub fn count_notification(&self, counters: &Counters) {
        Counters::increment(&counters.out_notifications);
        Counters::increment(&self.statistics.counters.out_notifications);
    }

    /// Returns a copy of the open sessions, ordered by id.
    pub fn sessions(&self) -> Vec<(SessionId, SessionEntry)> {
        self.lock()
            .iter()
            .map(|(id, entry)| (*id, entry.clone()))
            .collect()
    }

    /// Returns the server statistics.
    pub fn statistics(&self) -> &Statistics {
        &self.statistics
    }

    /// Counts a request of session `counters` in both the session's and the
    /// server's counters. `bad` marks a request that could not be parsed,
    /// `error` one whose reply is an `rpc-error`.
    pub fn count_rpc(&self, counters: &Counters, bad: bool, error: bool) {
        for counters in [counters, &self.statistics.counters] {
            if bad {
                Counters::increment(&counters.in_bad_rpcs);
            } else {
                Counters::increment(&counters.in_rpcs);
            }
            if error {
                Counters::increment(&counters.out_rpc_errors);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> SessionEntry {
        SessionEntry {
            user: "admin".into(),
            peer: None,
            login_time: OffsetDateTime::now_utc(),
            counters: Arc::default(),
            kill: CancellationToken::new(),
        }
    }

    #[test]
    fn kill_cancels_and_records_killer() {
        let registry = SessionRegistry::default();
        let session = entry();
        let token = session.kill.clone();
        registry.register(4, session);
        assert!(!registry.kill_by(5, 1));
        assert!(registry.kill_by(4, 1));
        assert!(token.is_cancelled());
        assert_eq!(registry.take_killer(4), Some(1));
        assert_eq!(registry.take_killer(4), None);

        registry.register(6, entry());
        assert!(registry.kill_by(6, 2));
        registry.unregister(6, true);
        assert_eq!(registry.take_killer(6), None);
    }

    #[test]
    fn notifications_counted_in_session_and_server() {
        let registry = SessionRegistry::default();
        let counters = Counters::default();
        registry.count_notification(&counters);
        registry.count_notification(&counters);
        assert_eq!(counters.out_notifications.load(Ordering::Relaxed), 2);
        assert_eq!(
            registry
                .statistics()
                .counters
                .out_notifications
                .load(Ordering::Relaxed),
            2
        );
    }

    #[test]
    fn dropped_sessions_counted() {
        let registry = SessionRegistry::default();
        registry.register(1, entry());
        registry.register(2, entry());
        registry.unregister(1, false);
        registry.unregister(2, true);
        assert!(registry.sessions().is_empty());
        assert_eq!(registry.statistics().in_sessions.load(Ordering::Relaxed), 2);
        assert_eq!(
            registry
                .statistics()
                .dropped_sessions
                .load(Ordering::Relaxed),
            1
        );
    }

    #[test]
    fn rpc_counted_in_session_and_server() {
        let registry = SessionRegistry::default();
        let counters = Counters::default();
        registry.count_rpc(&counters, false, true);
        registry.count_rpc(&counters, true, true);
        assert_eq!(counters.in_rpcs.load(Ordering::Relaxed), 1);
        assert_eq!(counters.in_bad_rpcs.load(Ordering::Relaxed), 1);
        assert_eq!(
            registry
                .statistics()
                .counters
                .out_rpc_errors
                .load(Ordering::Relaxed),
            2
        );
    }
}
