//! The global locks as `ietf-netconf-monitoring` reports them: which
//! session holds each datastore's lock and since when.

use time::OffsetDateTime;

use super::{DATASTORES, Datastore, DatastoreHandle, Request, SessionId, Store};
use crate::netconf::error::RpcError;

/// A global lock held on a datastore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    pub datastore: Datastore,
    pub session: SessionId,
    pub locked_at: OffsetDateTime,
}

/// The time each held lock was taken, kept next to the lock holders.
#[derive(Debug, Default)]
pub(super) struct LockTimes(Vec<(Datastore, OffsetDateTime)>);

impl LockTimes {
    /// Records that the lock of `datastore` was taken now.
    pub(super) fn record(&mut self, datastore: Datastore) {
        self.clear(datastore);
        self.0.push((datastore, OffsetDateTime::now_utc()));
    }

    /// Forgets the lock of `datastore`.
    pub(super) fn clear(&mut self, datastore: Datastore) {
        self.0.retain(|(held, _)| *held != datastore);
    }

    fn get(&self, datastore: Datastore) -> Option<OffsetDateTime> {
        self.0
            .iter()
            .find(|(held, _)| *held == datastore)
            .map(|(_, time)| *time)
    }
}

impl DatastoreHandle {
    /// Returns the global locks held now, in the order of [`DATASTORES`].
    pub async fn locks(&self) -> Result<Vec<LockInfo>, RpcError> {
        self.call(|reply| Request::Locks { reply }).await
    }
}

impl Store {
    pub(super) fn locks(&self) -> Result<Vec<LockInfo>, RpcError> {
        let locks = DATASTORES
            .iter()
            .filter_map(|datastore| {
                let session = self.lock_holder(*datastore)?;
                // A lock taken before its time was recorded cannot exist,
                // but the epoch keeps the entry valid if it ever did.
                let locked_at = self
                    .lock_times
                    .get(*datastore)
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                Some(LockInfo {
                    datastore: *datastore,
                    session,
                    locked_at,
                })
            })
            .collect();
        Ok(locks)
    }
}
