//! The configuration datastores and the one thread that owns them.
//!
//! A dedicated thread owns the running and candidate trees and their locks.
//! NETCONF sessions send it [`Request`]s through a [`DatastoreHandle`] and
//! wait for one-shot replies, so no libyang object ever crosses threads.
//!
//! ```text
//! session ──Request──▶ datastore thread ──reply──▶ session
//!                          │
//!                          ├─▶ running.xml (saved on every change of running)
//!                          ├─▶ commit hook (publishes running to the reconciler)
//!                          └─▶ change listener (the edits, for notifications)
//! ```
//!
//! Every change is made on a copy, validated, and only then swapped in, so
//! a rejected edit leaves every datastore as it was.

pub mod diff;
pub mod edit;
pub mod error;
pub mod filter;
pub mod libyang_error;
pub mod lock_state;
pub mod normalize;
pub mod operations;
pub mod persist;
pub(crate) mod raw;
pub mod read;
pub mod xpath;

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use tokio::sync::{mpsc, oneshot};
use yang3::data::{
    Data, DataDiffFlags, DataFormat, DataParserFlags, DataPrinterFlags, DataTree,
    DataValidationFlags,
};

pub use diff::{ChangeListener, RunningChange};
pub use edit::DefaultOperation;
pub use error::DatastoreError;
use libyang_error::LibyangError;
pub use lock_state::LockInfo;
use operations::PendingConfirm;
pub use operations::{
    Confirmed, ConfirmedCommitChange, ConfirmedListener, EditOptions, ErrorOption, Source,
    TestOption,
};
use persist::RunningFile;
use raw::RawTree;
pub use read::{ReadRequest, ReadSource, WithDefaults};

use crate::netconf::error::{ErrorType, RpcError};
use crate::netconf::xml::Element;

/// NETCONF session identifier (RFC 6241 `session-id`).
pub type SessionId = u32;

/// Depth of the request queue. Sessions wait when it is full, which only
/// happens when the datastore thread falls behind.
const REQUEST_QUEUE_DEPTH: usize = 64;

/// A configuration datastore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datastore {
    Running,
    Candidate,
    Startup,
}

/// The configuration datastores of this server, in the order that
/// `ietf-netconf-monitoring` and the YANG library list them.
pub const DATASTORES: &[Datastore] =
    &[Datastore::Running, Datastore::Candidate, Datastore::Startup];

impl fmt::Display for Datastore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Datastore::Running => "running",
            Datastore::Candidate => "candidate",
            Datastore::Startup => "startup",
        })
    }
}

/// A filter of `get` and `get-config`.
#[derive(Debug, Clone)]
pub enum Filter {
    /// RFC 6241 subtree filter: the children of `<filter>`.
    Subtree(Vec<Element>),
    /// XPath 1.0 filter (RFC 6241 section 8.9).
    XPath(xpath::XPathFilter),
}

/// One operational state leaf (or an empty inner node) to include in `get`,
/// as a libyang data path and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateNode {
    pub path: String,
    pub value: Option<String>,
}

/// Called on the datastore thread with the new running tree after every
/// change of running, and once at start.
pub type CommitHook = Box<dyn FnMut(&DataTree<'static>) + Send>;

type Reply<T> = oneshot::Sender<Result<T, RpcError>>;

/// A request to the datastore thread.
enum Request {
    EditConfigWith {
        session: SessionId,
        target: Datastore,
        options: EditOptions,
        config: String,
        reply: oneshot::Sender<Result<(), Vec<RpcError>>>,
    },
    Commit {
        session: SessionId,
        confirmed: Option<Confirmed>,
        persist_id: Option<String>,
        reply: Reply<Option<u64>>,
    },
    CancelCommit {
        session: SessionId,
        persist_id: Option<String>,
        reply: Reply<()>,
    },
    ConfirmTimeout {
        generation: u64,
    },
    CopyConfig {
        session: SessionId,
        source: Source,
        target: Datastore,
        reply: Reply<()>,
    },
    DeleteConfig {
        session: SessionId,
        target: Datastore,
        reply: Reply<()>,
    },
    Validate {
        source: Source,
        reply: Reply<()>,
    },
    DiscardChanges {
        session: SessionId,
        reply: Reply<()>,
    },
    Lock {
        session: SessionId,
        target: Datastore,
        reply: Reply<()>,
    },
    Unlock {
        session: SessionId,
        target: Datastore,
        reply: Reply<()>,
    },
    EndSession {
        session: SessionId,
        reply: oneshot::Sender<()>,
    },
    Read {
        request: Box<ReadRequest>,
        reply: Reply<String>,
    },
    Locks {
        reply: Reply<Vec<LockInfo>>,
    },
    SetChangeListener {
        listener: ChangeListener,
        reply: Reply<()>,
    },
    SetConfirmedListener {
        listener: ConfirmedListener,
        reply: Reply<()>,
    },
}

/// Errors of opening the datastores.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Schema(#[from] crate::schema::SchemaError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the saved running configuration {path} is invalid: {error}")]
    Invalid { path: String, error: LibyangError },
    #[error("cannot start the datastore thread: {0}")]
    Thread(std::io::Error),
}

/// The sending side of the datastore thread's queue. Cloned into every
/// session.
#[derive(Clone)]
pub struct DatastoreHandle {
    requests: mpsc::Sender<Request>,
}

impl DatastoreHandle {
    /// Opens the datastores of `state_dir` (loading the saved running
    /// configuration) and starts the thread that owns them. `hook` runs with
    /// the loaded running tree before this returns.
    pub fn open(state_dir: &Path, hook: CommitHook) -> Result<DatastoreHandle, OpenError> {
        let file = RunningFile::in_dir(state_dir);
        let store = Store::open(file, hook)?;
        let (requests, queue) = mpsc::channel(REQUEST_QUEUE_DEPTH);
        std::thread::Builder::new()
            .name("datastore".into())
            .spawn(move || store.serve(queue))
            .map_err(OpenError::Thread)?;
        Ok(DatastoreHandle { requests })
    }

    async fn call<T>(&self, build: impl FnOnce(Reply<T>) -> Request) -> Result<T, RpcError> {
        let (reply, response) = oneshot::channel();
        let stopped =
            || RpcError::operation_failed(ErrorType::Application, "the datastore is shutting down");
        self.requests
            .send(build(reply))
            .await
            .map_err(|_| stopped())?;
        response.await.map_err(|_| stopped())?
    }

    /// `edit-config` of `config` (the content of `<config>`) into `target`
    /// with the default options apart from `default_operation`.
    pub async fn edit_config(
        &self,
        session: SessionId,
        target: Datastore,
        default_operation: DefaultOperation,
        config: String,
    ) -> Result<(), RpcError> {
        let options = EditOptions {
            default_operation,
            ..EditOptions::default()
        };
        self.edit_config_with(session, target, options, config)
            .await
            .map_err(|mut errors| errors.swap_remove(0))
    }

    /// `commit`: candidate becomes running.
    pub async fn commit(&self, session: SessionId) -> Result<(), RpcError> {
        self.commit_with(session, None, None).await
    }

    /// `discard-changes`: candidate becomes running again.
    pub async fn discard_changes(&self, session: SessionId) -> Result<(), RpcError> {
        self.call(|reply| Request::DiscardChanges { session, reply })
            .await
    }

    /// `lock` of `target` for `session`.
    pub async fn lock(&self, session: SessionId, target: Datastore) -> Result<(), RpcError> {
        self.call(|reply| Request::Lock {
            session,
            target,
            reply,
        })
        .await
    }

    /// `unlock` of `target` by `session`.
    pub async fn unlock(&self, session: SessionId, target: Datastore) -> Result<(), RpcError> {
        self.call(|reply| Request::Unlock {
            session,
            target,
            reply,
        })
        .await
    }

    /// Makes `listener` the one that the datastore thread calls after every
    /// change of running, replacing any earlier one. Changes made after
    /// this returns reach the listener.
    pub async fn set_change_listener(&self, listener: ChangeListener) -> Result<(), RpcError> {
        self.call(|reply| Request::SetChangeListener { listener, reply })
            .await
    }

    /// Releases everything `session` holds. Waits until that is done.
    pub async fn end_session(&self, session: SessionId) {
        let (reply, done) = oneshot::channel();
        if self
            .requests
            .send(Request::EndSession { session, reply })
            .await
            .is_ok()
        {
            let _ = done.await;
        }
    }
}

/// The state owned by the datastore thread.
struct Store {
    running: DataTree<'static>,
    candidate: DataTree<'static>,
    /// True while candidate differs from running through edits.
    candidate_modified: bool,
    running_lock: Option<SessionId>,
    candidate_lock: Option<SessionId>,
    startup_lock: Option<SessionId>,
    /// Sessions whose edits made the candidate differ from running.
    candidate_editors: BTreeSet<SessionId>,
    /// The startup datastore; empty when no startup file exists.
    startup: DataTree<'static>,
    pending_confirm: Option<PendingConfirm>,
    /// Generation of the newest confirmed commit timer.
    confirm_generation: u64,
    /// When each held lock was taken.
    lock_times: lock_state::LockTimes,
    file: RunningFile,
    hook: CommitHook,
    change_listener: Option<ChangeListener>,
    confirmed_listener: Option<ConfirmedListener>,
}

impl Store {
    fn open(file: RunningFile, mut hook: CommitHook) -> Result<Store, OpenError> {
        let context = crate::schema::context()?;
        let empty_tree = || DataTree::new(context);

        // Running as last saved.
        let mut running = load_tree(&file)?.unwrap_or_else(empty_tree);
        let mut restored = false;

        // A confirmed commit that was never confirmed is undone at start.
        let rollback_file = file.sibling(persist::ROLLBACK_FILE);
        if let Some(rollback) = load_tree(&rollback_file)? {
            tracing::warn!(
                "a confirmed commit was not confirmed before the restart; restoring the configuration from before it"
            );
            running = rollback;
            restored = true;
        }

        // With a startup configuration, the device boots from it.
        let startup_file = file.sibling(persist::STARTUP_FILE);
        let startup = match load_tree(&startup_file)? {
            Some(startup) => {
                tracing::info!(path = %startup_file.path().display(), "running configuration loaded from startup");
                running =
                    duplicate(&startup).map_err(|err| invalid(&startup_file, err.to_string()))?;
                restored = true;
                startup
            }
            None => empty_tree(),
        };

        // An empty tree still gets its default nodes.
        let running = validate(running).map_err(|err| invalid(&file, err.message))?;
        if restored {
            let xml = raw::print_xml(&running, 0).map_err(|err| invalid(&file, err.to_string()))?;
            file.save(&xml).map_err(|source| OpenError::Read {
                path: file.path().display().to_string(),
                source,
            })?;
            if let Err(err) = rollback_file.remove() {
                tracing::warn!(error = %err, "cannot remove the configuration of an unconfirmed commit");
            }
        }

        let candidate = duplicate(&running).map_err(|err| invalid(&file, err.to_string()))?;
        hook(&running);
        Ok(Store {
            running,
            candidate,
            candidate_modified: false,
            running_lock: None,
            candidate_lock: None,
            startup_lock: None,
            candidate_editors: BTreeSet::new(),
            startup,
            pending_confirm: None,
            confirm_generation: 0,
            lock_times: lock_state::LockTimes::default(),
            file,
            hook,
            change_listener: None,
            confirmed_listener: None,
        })
    }

    fn startup_file(&self) -> persist::DatastoreFile {
        self.file.sibling(persist::STARTUP_FILE)
    }

    /// Saves `tree` as the startup datastore.
    fn save_startup(&mut self, tree: DataTree<'static>) -> Result<(), RpcError> {
        let internal = |message: String| DatastoreError::Internal(message).to_rpc_error(None);
        let xml = raw::print_xml(&tree, 0).map_err(|err| internal(err.to_string()))?;
        let file = self.startup_file();
        if let Err(err) = file.save(&xml) {
            tracing::error!(path = %file.path().display(), error = %err, "cannot save the startup configuration");
            return Err(DatastoreError::Storage(err.to_string()).to_rpc_error(None));
        }
        self.startup = tree;
        Ok(())
    }

    fn serve(mut self, mut queue: mpsc::Receiver<Request>) {
        while let Some(request) = queue.blocking_recv() {
            self.handle(request);
        }
        tracing::debug!("datastore thread stopped");
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::EditConfigWith {
                session,
                target,
                options,
                config,
                reply,
            } => {
                let _ = reply.send(self.edit_config(session, target, options, &config));
            }
            Request::Commit {
                session,
                confirmed,
                persist_id,
                reply,
            } => {
                let _ = reply.send(self.commit_with(session, confirmed, persist_id));
            }
            Request::CancelCommit {
                session,
                persist_id,
                reply,
            } => {
                let _ = reply.send(self.cancel_commit(session, persist_id.as_deref()));
            }
            Request::ConfirmTimeout { generation } => self.confirm_timeout(generation),
            Request::CopyConfig {
                session,
                source,
                target,
                reply,
            } => {
                let _ = reply.send(self.copy_config(session, &source, target));
            }
            Request::DeleteConfig {
                session,
                target,
                reply,
            } => {
                let _ = reply.send(self.delete_config(session, target));
            }
            Request::Validate { source, reply } => {
                let _ = reply.send(self.validate_source(&source));
            }
            Request::DiscardChanges { session, reply } => {
                let _ = reply.send(self.discard_changes(session));
            }
            Request::Lock {
                session,
                target,
                reply,
            } => {
                let _ = reply.send(self.lock(session, target));
            }
            Request::Unlock {
                session,
                target,
                reply,
            } => {
                let _ = reply.send(self.unlock(session, target));
            }
            Request::EndSession { session, reply } => {
                self.end_session(session);
                let _ = reply.send(());
            }
            Request::Read { request, reply } => {
                let _ = reply.send(self.read(&request));
            }
            Request::Locks { reply } => {
                let _ = reply.send(self.locks());
            }
            Request::SetChangeListener { listener, reply } => {
                self.change_listener = Some(listener);
                let _ = reply.send(Ok(()));
            }
            Request::SetConfirmedListener { listener, reply } => {
                self.confirmed_listener = Some(listener);
                let _ = reply.send(Ok(()));
            }
        }
    }

    fn tree(&self, datastore: Datastore) -> &DataTree<'static> {
        match datastore {
            Datastore::Running => &self.running,
            Datastore::Candidate => &self.candidate,
            Datastore::Startup => &self.startup,
        }
    }

    fn lock_holder(&self, datastore: Datastore) -> Option<SessionId> {
        match datastore {
            Datastore::Running => self.running_lock,
            Datastore::Candidate => self.candidate_lock,
            Datastore::Startup => self.startup_lock,
        }
    }

    /// Fails when another session than `session` holds the lock.
    fn check_not_locked_by_other(
        &self,
        session: SessionId,
        datastore: Datastore,
    ) -> Result<(), DatastoreError> {
        match self.lock_holder(datastore) {
            Some(holder) if holder != session => Err(DatastoreError::Locked { datastore, holder }),
            _ => Ok(()),
        }
    }

    fn edit_config(
        &mut self,
        session: SessionId,
        target: Datastore,
        options: EditOptions,
        config: &str,
    ) -> Result<(), Vec<RpcError>> {
        let one = |error: RpcError| vec![error];
        if target == Datastore::Startup {
            return Err(one(
                RpcError::invalid_value(
                    ErrorType::Protocol,
                    "the startup datastore cannot be edited; edit running or candidate and copy it to startup",
                )
                .with_info(crate::netconf::error::ErrorInfo::BadElement("startup".into())),
            ));
        }
        self.check_not_locked_by_other(session, target)
            .map_err(|err| one(err.to_rpc_error(None)))?;

        // Parse, apply to a copy, validate the copy.
        let continue_on_error = options.error_option == ErrorOption::ContinueOnError;
        let edit_tree = edit::parse_with(config, continue_on_error)
            .map_err(|err| one(err.to_rpc_error(None)))?;
        let copy = duplicate(self.tree(target))
            .map_err(|err| one(DatastoreError::Internal(err.to_string()).to_rpc_error(None)))?;
        let (changed, skipped) = edit::apply_collecting(
            copy,
            &edit_tree,
            options.default_operation,
            continue_on_error,
        )
        .map_err(|err| one(err.to_rpc_error(None)))?;
        let skipped: Vec<RpcError> = skipped.iter().map(|err| err.to_rpc_error(None)).collect();
        let unvalidated_candidate =
            options.test_option == TestOption::Set && target == Datastore::Candidate;
        let changed = if unvalidated_candidate {
            changed
        } else {
            validate(changed).map_err(|error| {
                let mut errors = skipped.clone();
                errors.push(error);
                errors
            })?
        };
        if options.test_option == TestOption::TestOnly {
            return if skipped.is_empty() {
                Ok(())
            } else {
                Err(skipped)
            };
        }

        // Swap it in.
        match target {
            Datastore::Candidate => {
                self.candidate = changed;
                self.candidate_modified = true;
                self.candidate_editors.insert(session);
                tracing::debug!(session_id = session, "candidate changed");
            }
            Datastore::Running | Datastore::Startup => {
                self.replace_running(changed, session).map_err(one)?;
                if !self.candidate_modified {
                    self.reset_candidate().map_err(one)?;
                }
            }
        }
        if skipped.is_empty() {
            Ok(())
        } else {
            Err(skipped)
        }
    }

    /// Saves `tree` as running, makes it current and publishes it. Session 0
    /// is the server itself, for the changes it makes on its own.
    fn replace_running(
        &mut self,
        tree: DataTree<'static>,
        session: SessionId,
    ) -> Result<(), RpcError> {
        let xml = raw::print_xml(&tree, 0)
            .map_err(|err| DatastoreError::Internal(err.to_string()).to_rpc_error(None))?;

        if let Ok(diff) = self.running.diff(&tree, DataDiffFlags::empty())
            && diff.iter().next().is_some()
            && let Ok(text) = diff.print_string(DataFormat::XML, DataPrinterFlags::WITH_SIBLINGS)
        {
            tracing::debug!(session_id = session, diff = %text, "running configuration changes");
        }

        // The listener needs the edits, which only exist while both trees do.
        let edits = match self.change_listener {
            Some(_) => match diff::edits(&self.running, &tree) {
                Ok(edits) => Some(edits),
                Err(err) => {
                    tracing::error!(session_id = session, error = %err, "cannot list the configuration changes; no change notification is sent");
                    None
                }
            },
            None => None,
        };

        if let Err(err) = self.file.save(&xml) {
            tracing::error!(path = %self.file.path().display(), error = %err, "cannot save the running configuration");
            return Err(DatastoreError::Storage(err.to_string()).to_rpc_error(None));
        }
        self.running = tree;
        tracing::info!(session_id = session, "running configuration changed");
        (self.hook)(&self.running);
        if let (Some(listener), Some(edits)) = (self.change_listener.as_mut(), edits)
            && !edits.is_empty()
        {
            listener(&RunningChange { session, edits });
        }
        Ok(())
    }

    fn discard_changes(&mut self, session: SessionId) -> Result<(), RpcError> {
        self.check_not_locked_by_other(session, Datastore::Candidate)
            .map_err(|err| err.to_rpc_error(None))?;
        self.reset_candidate()
    }

    fn reset_candidate(&mut self) -> Result<(), RpcError> {
        self.candidate = duplicate(&self.running)
            .map_err(|err| DatastoreError::Internal(err.to_string()).to_rpc_error(None))?;
        self.candidate_modified = false;
        self.candidate_editors.clear();
        Ok(())
    }

    fn lock(&mut self, session: SessionId, target: Datastore) -> Result<(), RpcError> {
        if let Some(holder) = self.lock_holder(target) {
            let message = if holder == session {
                format!("the {target} datastore is already locked by this session ({holder})")
            } else {
                format!("the {target} datastore is locked by session {holder}")
            };
            return Err(DatastoreError::LockDenied { holder, message }.to_rpc_error(None));
        }
        if target == Datastore::Candidate && self.candidate_modified {
            // RFC 6241 section 8.3.5.1: no lock on a candidate with
            // uncommitted changes; no session holds a lock, hence id 0.
            return Err(DatastoreError::LockDenied {
                holder: 0,
                message:
                    "the candidate datastore has uncommitted changes; commit or discard them first"
                        .into(),
            }
            .to_rpc_error(None));
        }
        if target == Datastore::Running {
            // RFC 6241 section 7.5: running cannot be locked while another
            // session's candidate changes or confirmed commit are pending.
            let editor = self
                .candidate_editors
                .iter()
                .copied()
                .find(|editor| *editor != session)
                .filter(|_| self.candidate_modified);
            if let Some(editor) = editor {
                return Err(DatastoreError::LockDenied {
                    holder: editor,
                    message: format!(
                        "session {editor} has uncommitted changes in the candidate datastore"
                    ),
                }
                .to_rpc_error(None));
            }
            if let Some(holder) = self.confirmed_commit_holder(session) {
                return Err(DatastoreError::LockDenied {
                    holder,
                    message: "a confirmed commit of another session is waiting for confirmation"
                        .into(),
                }
                .to_rpc_error(None));
            }
        }
        match target {
            Datastore::Running => self.running_lock = Some(session),
            Datastore::Candidate => self.candidate_lock = Some(session),
            Datastore::Startup => self.startup_lock = Some(session),
        }
        self.lock_times.record(target);
        tracing::info!(session_id = session, datastore = %target, "datastore locked");
        Ok(())
    }

    fn unlock(&mut self, session: SessionId, target: Datastore) -> Result<(), RpcError> {
        match self.lock_holder(target) {
            Some(holder) if holder == session => {}
            Some(holder) => {
                return Err(DatastoreError::NotLocked {
                    message: format!(
                        "the {target} datastore is locked by session {holder}, not by this session"
                    ),
                }
                .to_rpc_error(None));
            }
            None => {
                return Err(DatastoreError::NotLocked {
                    message: format!("the {target} datastore is not locked"),
                }
                .to_rpc_error(None));
            }
        }
        self.release(session, target);
        Ok(())
    }

    /// Drops the lock of `session` on `target`. Releasing the candidate lock
    /// discards uncommitted changes made under it.
    fn release(&mut self, session: SessionId, target: Datastore) {
        self.lock_times.clear(target);
        match target {
            Datastore::Running => self.running_lock = None,
            Datastore::Startup => self.startup_lock = None,
            Datastore::Candidate => {
                self.candidate_lock = None;
                if self.candidate_modified {
                    tracing::info!(
                        session_id = session,
                        "candidate changes discarded with its lock"
                    );
                    if let Err(err) = self.reset_candidate() {
                        tracing::error!(error = %err, "cannot discard candidate changes");
                    }
                }
            }
        }
        tracing::info!(session_id = session, datastore = %target, "datastore unlocked");
    }

    fn end_session(&mut self, session: SessionId) {
        for datastore in [Datastore::Running, Datastore::Candidate, Datastore::Startup] {
            if self.lock_holder(datastore) == Some(session) {
                self.release(session, datastore);
            }
        }
        self.candidate_editors.remove(&session);
        self.end_session_confirmed(session);
    }
}

/// Reads a saved datastore, or `None` when its file does not exist. The
/// tree is parsed strictly but validated by the caller.
fn load_tree(file: &persist::DatastoreFile) -> Result<Option<DataTree<'static>>, OpenError> {
    let context = crate::schema::context()?;
    let Some(xml) = file.load().map_err(|source| OpenError::Read {
        path: file.path().display().to_string(),
        source,
    })?
    else {
        return Ok(None);
    };
    LibyangError::clear();
    DataTree::parse_string(
        context,
        xml,
        DataFormat::XML,
        DataParserFlags::STRICT | DataParserFlags::NO_STATE | DataParserFlags::NO_VALIDATION,
        DataValidationFlags::NO_STATE,
    )
    .map(Some)
    .map_err(|_| OpenError::Invalid {
        path: file.path().display().to_string(),
        error: LibyangError::last(),
    })
}

fn invalid(file: &persist::DatastoreFile, message: String) -> OpenError {
    OpenError::Invalid {
        path: file.path().display().to_string(),
        error: LibyangError {
            code: libyang_error::ValidationCode::Other,
            message,
            data_path: None,
            app_tag: None,
        },
    }
}

fn duplicate(tree: &DataTree<'static>) -> Result<DataTree<'static>, yang3::Error> {
    tree.duplicate()
}

/// Validates a changed configuration tree and adds its default nodes.
fn validate(tree: DataTree<'static>) -> Result<DataTree<'static>, RpcError> {
    let mut raw = RawTree::from_tree(tree);
    LibyangError::clear();
    if raw.validate_config().is_err() {
        let error = LibyangError::last();
        let tree = raw.into_tree();
        return Err(DatastoreError::Validation(error).to_rpc_error(Some(&tree)));
    }
    Ok(raw.into_tree())
}

/// Builds `nodes` into a data tree, validates it against the schema and
/// prints it as XML, for the tests of code that produces state. Panics on
/// a node libyang rejects, naming its path.
#[cfg(test)]
#[allow(clippy::expect_used, clippy::panic)]
pub(crate) fn valid_state_xml(nodes: &[StateNode]) -> String {
    let context = crate::schema::context().expect("schema");
    let mut tree = DataTree::new(context);
    for node in nodes {
        tree.new_path(&node.path, node.value.as_deref(), false)
            .unwrap_or_else(|err| panic!("{}: {err}", node.path));
    }
    tree.validate(yang3::data::DataValidationFlags::PRESENT)
        .expect("the state is valid against the schema");
    tree.print_string(
        yang3::data::DataFormat::XML,
        yang3::data::DataPrinterFlags::WITH_SIBLINGS,
    )
    .expect("prints")
}

#[cfg(test)]
mod tests;
