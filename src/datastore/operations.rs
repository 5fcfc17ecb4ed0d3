//! Whole-datastore operations: `copy-config`, `delete-config`, `validate`,
//! and the confirmed commit with `cancel-commit` (RFC 6241 sections 7.3,
//! 7.4, 8.4 and 8.6).
//!
//! A confirmed commit saves the running configuration from before it, in
//! memory and on disk, and starts a timer. A confirming commit drops the
//! saved copy; a timeout, `cancel-commit`, or the end of the session that
//! made a non-persistent confirmed commit restores it. The copy on disk
//! makes a restart restore it too, as RFC 6241 section 8.4.1 requires.

use std::time::Duration;

use tokio::sync::oneshot;
use yang3::data::DataTree;

use super::edit::{self, DefaultOperation};
use super::error::DatastoreError;
use super::persist::{DatastoreFile, ROLLBACK_FILE};
use super::{Datastore, DatastoreHandle, Request, SessionId, Store, duplicate, validate};
use crate::netconf::error::{ErrorType, RpcError};

/// Data source of `copy-config` and `validate`.
#[derive(Debug, Clone)]
pub enum Source {
    /// A configuration datastore.
    Datastore(Datastore),
    /// Inline data: the content of `<config>` as a standalone XML fragment.
    Config(String),
}

/// `test-option` of `edit-config` (RFC 6241 section 8.6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TestOption {
    /// Validate, then apply only when valid.
    #[default]
    TestThenSet,
    /// Apply without validation. Only the candidate may become invalid
    /// this way, because running must always stay valid for the
    /// reconciler; running is validated anyway.
    Set,
    /// Validate only; change nothing.
    TestOnly,
}

/// `error-option` of `edit-config` (RFC 6241 section 7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorOption {
    /// Stop at the first error. The edit is then not applied at all.
    #[default]
    StopOnError,
    /// Apply every part that succeeds and report every error.
    ContinueOnError,
    /// Stop at the first error and leave the target as it was.
    RollbackOnError,
}

/// Parameters of `edit-config` beyond the target and the content.
#[derive(Debug, Clone, Copy, Default)]
pub struct EditOptions {
    pub default_operation: DefaultOperation,
    pub test_option: TestOption,
    pub error_option: ErrorOption,
}

/// The `confirmed` parameters of a `commit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    /// Time until the commit is undone unless confirmed.
    pub timeout: Duration,
    /// Token that makes the confirmed commit persistent: it survives the
    /// session and any session may confirm or cancel it with this token.
    pub persist: Option<String>,
}

/// A step of a confirmed commit, reported to the confirmed-commit
/// listener (the source of RFC 6470 `netconf-confirmed-commit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmedCommitChange {
    /// A confirmed commit started; it is undone after `timeout`.
    Start {
        session: SessionId,
        timeout: Duration,
    },
    /// A follow-up confirmed commit set a new timeout.
    Extend {
        session: SessionId,
        timeout: Duration,
    },
    /// `cancel-commit`, or the end of the session, undid the commit.
    Cancel { session: SessionId },
    /// A confirming commit completed it.
    Complete { session: SessionId },
    /// The timeout expired and running was restored.
    Timeout,
}

/// Called on the datastore thread for every step of a confirmed commit. It
/// must not block, because every datastore request waits for it.
pub type ConfirmedListener = Box<dyn FnMut(&ConfirmedCommitChange) + Send>;

/// A confirmed commit waiting for its confirmation.
pub(super) struct PendingConfirm {
    /// The session that made it.
    pub owner: SessionId,
    pub persist: Option<String>,
    /// Running from before the first confirmed commit of the sequence.
    pub rollback: DataTree<'static>,
    /// Identifies the timer that may undo this commit; a later confirmed
    /// commit gets a new one, so an older timer does nothing.
    pub generation: u64,
}

impl DatastoreHandle {
    /// `commit`, optionally `confirmed`, and with the `persist-id` of a
    /// pending persistent confirmed commit.
    pub async fn commit_with(
        &self,
        session: SessionId,
        confirmed: Option<Confirmed>,
        persist_id: Option<String>,
    ) -> Result<(), RpcError> {
        let timeout = confirmed.as_ref().map(|confirmed| confirmed.timeout);
        let generation = self
            .call(|reply| Request::Commit {
                session,
                confirmed,
                persist_id,
                reply,
            })
            .await?;
        if let (Some(generation), Some(timeout)) = (generation, timeout) {
            let handle = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                let _ = handle
                    .requests
                    .send(Request::ConfirmTimeout { generation })
                    .await;
            });
        }
        Ok(())
    }

    /// `cancel-commit`: undoes the pending confirmed commit.
    pub async fn cancel_commit(
        &self,
        session: SessionId,
        persist_id: Option<String>,
    ) -> Result<(), RpcError> {
        self.call(|reply| Request::CancelCommit {
            session,
            persist_id,
            reply,
        })
        .await
    }

    /// `copy-config` from `source` to `target`.
    pub async fn copy_config(
        &self,
        session: SessionId,
        source: Source,
        target: Datastore,
    ) -> Result<(), RpcError> {
        self.call(|reply| Request::CopyConfig {
            session,
            source,
            target,
            reply,
        })
        .await
    }

    /// `delete-config` of `target`; only startup can be deleted.
    pub async fn delete_config(
        &self,
        session: SessionId,
        target: Datastore,
    ) -> Result<(), RpcError> {
        self.call(|reply| Request::DeleteConfig {
            session,
            target,
            reply,
        })
        .await
    }

    /// `validate` of `source`.
    pub async fn validate(&self, source: Source) -> Result<(), RpcError> {
        self.call(|reply| Request::Validate { source, reply }).await
    }

    /// `edit-config` with all its options. Several errors are returned
    /// only with `continue-on-error`.
    pub async fn edit_config_with(
        &self,
        session: SessionId,
        target: Datastore,
        options: EditOptions,
        config: String,
    ) -> Result<(), Vec<RpcError>> {
        let (reply, response) = oneshot::channel();
        let stopped = || {
            vec![RpcError::operation_failed(
                ErrorType::Application,
                "the datastore is shutting down",
            )]
        };
        self.requests
            .send(Request::EditConfigWith {
                session,
                target,
                options,
                config,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        response.await.map_err(|_| stopped())?
    }
}

impl Store {
    fn rollback_file(&self) -> DatastoreFile {
        self.file.sibling(ROLLBACK_FILE)
    }

    /// Turns inline configuration into a datastore tree, ignoring nothing:
    /// the content replaces a whole datastore.
    fn tree_from_config(config: &str) -> Result<DataTree<'static>, RpcError> {
        let context = crate::schema::context()
            .map_err(|err| DatastoreError::Internal(err.to_string()).to_rpc_error(None))?;
        let edit_tree = edit::parse(config).map_err(|err| err.to_rpc_error(None))?;
        edit::apply(
            DataTree::new(context),
            &edit_tree,
            DefaultOperation::Replace,
        )
        .map_err(|err| err.to_rpc_error(None))
    }

    fn source_tree(&self, source: &Source) -> Result<DataTree<'static>, RpcError> {
        match source {
            Source::Datastore(datastore) => duplicate(self.tree(*datastore))
                .map_err(|err| DatastoreError::Internal(err.to_string()).to_rpc_error(None)),
            Source::Config(config) => Self::tree_from_config(config),
        }
    }

    pub(super) fn validate_source(&self, source: &Source) -> Result<(), RpcError> {
        validate(self.source_tree(source)?)?;
        Ok(())
    }

    pub(super) fn copy_config(
        &mut self,
        session: SessionId,
        source: &Source,
        target: Datastore,
    ) -> Result<(), RpcError> {
        if let Source::Datastore(datastore) = source
            && *datastore == target
        {
            return Err(RpcError::invalid_value(
                ErrorType::Protocol,
                format!("source and target are both the {target} datastore"),
            ));
        }
        self.check_not_locked_by_other(session, target)
            .map_err(|err| err.to_rpc_error(None))?;

        let tree = validate(self.source_tree(source)?)?;
        match target {
            Datastore::Running => {
                self.replace_running(tree, session)?;
                if !self.candidate_modified {
                    self.reset_candidate()?;
                }
            }
            Datastore::Candidate => {
                self.candidate = tree;
                self.candidate_modified = true;
                self.candidate_editors.insert(session);
            }
            Datastore::Startup => self.save_startup(tree)?,
        }
        tracing::info!(session_id = session, datastore = %target, "datastore replaced by copy-config");
        Ok(())
    }

    pub(super) fn delete_config(
        &mut self,
        session: SessionId,
        target: Datastore,
    ) -> Result<(), RpcError> {
        if target != Datastore::Startup {
            return Err(RpcError::invalid_value(
                ErrorType::Protocol,
                format!("the {target} datastore cannot be deleted; only startup can"),
            ));
        }
        self.check_not_locked_by_other(session, target)
            .map_err(|err| err.to_rpc_error(None))?;
        let file = self.startup_file();
        if let Err(err) = file.remove() {
            tracing::error!(path = %file.path().display(), error = %err, "cannot delete the startup configuration");
            return Err(DatastoreError::Storage(err.to_string()).to_rpc_error(None));
        }
        let context = crate::schema::context()
            .map_err(|err| DatastoreError::Internal(err.to_string()).to_rpc_error(None))?;
        self.startup = DataTree::new(context);
        tracing::info!(session_id = session, "startup configuration deleted");
        Ok(())
    }

    /// `commit`. Returns the timer generation to arm when the commit is a
    /// confirmed one.
    pub(super) fn commit_with(
        &mut self,
        session: SessionId,
        confirmed: Option<Confirmed>,
        persist_id: Option<String>,
    ) -> Result<Option<u64>, RpcError> {
        self.check_not_locked_by_other(session, Datastore::Running)
            .and_then(|()| self.check_not_locked_by_other(session, Datastore::Candidate))
            .map_err(|err| err.to_rpc_error(None))?;
        self.check_may_confirm(session, persist_id.as_deref())?;

        let internal =
            |err: yang3::Error| DatastoreError::Internal(err.to_string()).to_rpc_error(None);
        let new_running = validate(duplicate(&self.candidate).map_err(internal)?)?;

        let Some(confirmed) = confirmed else {
            self.replace_running(new_running, session)?;
            self.candidate_modified = false;
            self.candidate_editors.clear();
            if self.pending_confirm.take().is_some() {
                self.forget_rollback();
                tracing::info!(session_id = session, "confirmed commit confirmed");
                self.report_confirmed(&ConfirmedCommitChange::Complete { session });
            }
            return Ok(None);
        };

        // A confirmed commit: keep the running configuration from before
        // the first one of a sequence of confirmed commits.
        let previous = self.pending_confirm.take();
        let (rollback, earlier) = match previous {
            Some(pending) => (
                pending.rollback,
                Some((pending.owner, pending.persist, pending.generation)),
            ),
            None => {
                let rollback = duplicate(&self.running).map_err(internal)?;
                let xml = super::raw::print_xml(&rollback, 0).map_err(internal)?;
                if let Err(err) = self.rollback_file().save(&xml) {
                    tracing::error!(error = %err, "cannot save the configuration to restore");
                    return Err(DatastoreError::Storage(err.to_string()).to_rpc_error(None));
                }
                (rollback, None)
            }
        };
        if let Err(err) = self.replace_running(new_running, session) {
            // Running did not change: a sequence goes on as before, and one
            // that this commit would have begun never began.
            match earlier {
                Some((owner, persist, generation)) => {
                    self.pending_confirm = Some(PendingConfirm {
                        owner,
                        persist,
                        rollback,
                        generation,
                    });
                }
                None => self.forget_rollback(),
            }
            return Err(err);
        }
        let extended = earlier.is_some();
        self.candidate_modified = false;
        self.candidate_editors.clear();
        self.confirm_generation += 1;
        self.pending_confirm = Some(PendingConfirm {
            owner: session,
            persist: confirmed.persist.clone(),
            rollback,
            generation: self.confirm_generation,
        });
        tracing::info!(
            session_id = session,
            timeout_secs = confirmed.timeout.as_secs(),
            persistent = confirmed.persist.is_some(),
            "confirmed commit started"
        );
        let timeout = confirmed.timeout;
        let change = if extended {
            ConfirmedCommitChange::Extend { session, timeout }
        } else {
            ConfirmedCommitChange::Start { session, timeout }
        };
        self.report_confirmed(&change);
        Ok(Some(self.confirm_generation))
    }

    /// Checks that `session` may confirm or extend the pending confirmed
    /// commit, if there is one (RFC 6241 section 8.4.5.1).
    fn check_may_confirm(
        &self,
        session: SessionId,
        persist_id: Option<&str>,
    ) -> Result<(), RpcError> {
        match (&self.pending_confirm, persist_id) {
            (None, None) => Ok(()),
            (None, Some(id)) => Err(RpcError::invalid_value(
                ErrorType::Protocol,
                format!("persist-id {id:?} matches no pending confirmed commit"),
            )),
            (Some(pending), _) => match (&pending.persist, persist_id) {
                (Some(token), Some(id)) if token == id => Ok(()),
                (Some(_), Some(id)) => Err(RpcError::invalid_value(
                    ErrorType::Protocol,
                    format!(
                        "persist-id {id:?} does not match the pending persistent confirmed commit"
                    ),
                )),
                (Some(_), None) => Err(RpcError::in_use(
                    ErrorType::Protocol,
                    "a persistent confirmed commit is pending; give its persist-id to confirm it",
                )),
                (None, Some(id)) => Err(RpcError::invalid_value(
                    ErrorType::Protocol,
                    format!(
                        "persist-id {id:?} given, but the pending confirmed commit is not persistent"
                    ),
                )),
                (None, None) if pending.owner != session => Err(RpcError::in_use(
                    ErrorType::Protocol,
                    format!(
                        "a confirmed commit of session {} is pending; only that session can confirm it",
                        pending.owner
                    ),
                )),
                (None, None) => Ok(()),
            },
        }
    }

    pub(super) fn cancel_commit(
        &mut self,
        session: SessionId,
        persist_id: Option<&str>,
    ) -> Result<(), RpcError> {
        let Some(pending) = &self.pending_confirm else {
            return Err(RpcError::operation_failed(
                ErrorType::Protocol,
                "no confirmed commit is pending",
            ));
        };
        match (&pending.persist, persist_id) {
            (Some(token), Some(id)) if token == id => {}
            (Some(_), Some(id)) => {
                return Err(RpcError::invalid_value(
                    ErrorType::Protocol,
                    format!(
                        "persist-id {id:?} does not match the pending persistent confirmed commit"
                    ),
                ));
            }
            (Some(_), None) => {
                return Err(RpcError::in_use(
                    ErrorType::Protocol,
                    "the pending confirmed commit is persistent; give its persist-id to cancel it",
                ));
            }
            (None, Some(id)) => {
                return Err(RpcError::invalid_value(
                    ErrorType::Protocol,
                    format!(
                        "persist-id {id:?} given, but the pending confirmed commit is not persistent"
                    ),
                ));
            }
            (None, None) if pending.owner != session => {
                return Err(RpcError::in_use(
                    ErrorType::Protocol,
                    format!(
                        "the pending confirmed commit belongs to session {}; only that session can cancel it",
                        pending.owner
                    ),
                ));
            }
            (None, None) => {}
        }
        self.roll_back_confirmed(session, RollbackReason::Cancelled)
    }

    /// Handles the expiry of the timer of confirmed commit `generation`.
    pub(super) fn confirm_timeout(&mut self, generation: u64) {
        let current = self
            .pending_confirm
            .as_ref()
            .map(|pending| pending.generation);
        if current == Some(generation)
            && let Err(err) = self.roll_back_confirmed(0, RollbackReason::Timeout)
        {
            tracing::error!(error = %err, "cannot restore the configuration after the confirmed commit timed out");
        }
    }

    /// Undoes a session's non-persistent confirmed commit when the session
    /// ends.
    pub(super) fn end_session_confirmed(&mut self, session: SessionId) {
        let owned = self
            .pending_confirm
            .as_ref()
            .is_some_and(|pending| pending.persist.is_none() && pending.owner == session);
        if owned && let Err(err) = self.roll_back_confirmed(session, RollbackReason::SessionEnded) {
            tracing::error!(error = %err, "cannot restore the configuration after the session ended");
        }
    }

    /// Restores running from before the pending confirmed commit.
    fn roll_back_confirmed(
        &mut self,
        session: SessionId,
        reason: RollbackReason,
    ) -> Result<(), RpcError> {
        let Some(pending) = self.pending_confirm.take() else {
            return Ok(());
        };
        let restored = validate(pending.rollback)?;
        self.replace_running(restored, session)?;
        self.forget_rollback();
        if !self.candidate_modified {
            self.reset_candidate()?;
        }
        tracing::warn!(
            session_id = session,
            reason = reason.as_str(),
            "confirmed commit rolled back"
        );
        let change = match reason {
            RollbackReason::Timeout => ConfirmedCommitChange::Timeout,
            RollbackReason::Cancelled | RollbackReason::SessionEnded => {
                ConfirmedCommitChange::Cancel { session }
            }
        };
        self.report_confirmed(&change);
        Ok(())
    }

    /// Tells the confirmed-commit listener, if any, about `change`.
    fn report_confirmed(&mut self, change: &ConfirmedCommitChange) {
        if let Some(listener) = self.confirmed_listener.as_mut() {
            listener(change);
        }
    }

    fn forget_rollback(&self) {
        if let Err(err) = self.rollback_file().remove() {
            tracing::warn!(error = %err, "cannot remove the saved configuration of a confirmed commit");
        }
    }

    /// Returns the session whose pending confirmed commit blocks `session`
    /// (0 for a persistent one), for lock decisions.
    pub(super) fn confirmed_commit_holder(&self, session: SessionId) -> Option<SessionId> {
        let pending = self.pending_confirm.as_ref()?;
        match pending.persist {
            Some(_) => Some(0),
            None if pending.owner != session => Some(pending.owner),
            None => None,
        }
    }
}

/// Reasons a confirmed commit is undone.
#[derive(Debug, Clone, Copy)]
enum RollbackReason {
    Timeout,
    Cancelled,
    SessionEnded,
}

impl RollbackReason {
    fn as_str(self) -> &'static str {
        match self {
            RollbackReason::Timeout => "timed out",
            RollbackReason::Cancelled => "cancelled",
            RollbackReason::SessionEnded => "session ended",
        }
    }
}

impl DatastoreHandle {
    /// Makes `listener` the one that the datastore thread calls for every
    /// step of a confirmed commit, replacing any earlier one.
    pub async fn set_confirmed_listener(
        &self,
        listener: ConfirmedListener,
    ) -> Result<(), RpcError> {
        self.call(|reply| Request::SetConfirmedListener { listener, reply })
            .await
    }
}
