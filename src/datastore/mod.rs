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
//!                          └─▶ commit hook (publishes running to the reconciler)
//! ```
//!
//! Every change is made on a copy, validated, and only then swapped in, so
//! a rejected edit leaves every datastore as it was.

pub mod edit;
pub mod error;
pub mod filter;
pub mod libyang_error;
pub mod normalize;
pub mod persist;
mod raw;
pub mod xpath;

use std::fmt;
use std::path::Path;

use tokio::sync::{mpsc, oneshot};
use yang3::data::{
    Data, DataDiffFlags, DataFormat, DataParserFlags, DataPrinterFlags, DataTree,
    DataValidationFlags,
};

pub use edit::DefaultOperation;
pub use error::DatastoreError;
use libyang_error::LibyangError;
use persist::RunningFile;
use raw::RawTree;

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
}

impl fmt::Display for Datastore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Datastore::Running => "running",
            Datastore::Candidate => "candidate",
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
    GetConfig {
        source: Datastore,
        filter: Option<Filter>,
        reply: Reply<String>,
    },
    Get {
        filter: Option<Filter>,
        state: Vec<StateNode>,
        reply: Reply<String>,
    },
    EditConfig {
        session: SessionId,
        target: Datastore,
        default_operation: DefaultOperation,
        config: String,
        reply: Reply<()>,
    },
    Commit {
        session: SessionId,
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

    /// `get-config`: the configuration of `source` as XML.
    pub async fn get_config(
        &self,
        source: Datastore,
        filter: Option<Filter>,
    ) -> Result<String, RpcError> {
        self.call(|reply| Request::GetConfig {
            source,
            filter,
            reply,
        })
        .await
    }

    /// `get`: running configuration plus `state`, as XML.
    pub async fn get(
        &self,
        filter: Option<Filter>,
        state: Vec<StateNode>,
    ) -> Result<String, RpcError> {
        self.call(|reply| Request::Get {
            filter,
            state,
            reply,
        })
        .await
    }

    /// `edit-config` of `config` (the content of `<config>`) into `target`.
    pub async fn edit_config(
        &self,
        session: SessionId,
        target: Datastore,
        default_operation: DefaultOperation,
        config: String,
    ) -> Result<(), RpcError> {
        self.call(|reply| Request::EditConfig {
            session,
            target,
            default_operation,
            config,
            reply,
        })
        .await
    }

    /// `commit`: candidate becomes running.
    pub async fn commit(&self, session: SessionId) -> Result<(), RpcError> {
        self.call(|reply| Request::Commit { session, reply }).await
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
    file: RunningFile,
    hook: CommitHook,
}

impl Store {
    fn open(file: RunningFile, mut hook: CommitHook) -> Result<Store, OpenError> {
        let context = crate::schema::context()?;
        let path = file.path().display().to_string();
        let saved = file.load().map_err(|source| OpenError::Read {
            path: path.clone(),
            source,
        })?;

        LibyangError::clear();
        let mut running = match saved {
            Some(xml) => DataTree::parse_string(
                context,
                xml,
                DataFormat::XML,
                DataParserFlags::STRICT | DataParserFlags::NO_STATE,
                DataValidationFlags::NO_STATE,
            )
            .map_err(|_| OpenError::Invalid {
                path: path.clone(),
                error: LibyangError::last(),
            })?,
            None => DataTree::new(context),
        };
        // An empty tree still gets its default nodes.
        running
            .validate(DataValidationFlags::NO_STATE)
            .map_err(|_| OpenError::Invalid {
                path,
                error: LibyangError::last(),
            })?;

        let candidate = duplicate(&running).map_err(|err| OpenError::Invalid {
            path: file.path().display().to_string(),
            error: LibyangError {
                code: libyang_error::ValidationCode::Other,
                message: err.to_string(),
                data_path: None,
                app_tag: None,
            },
        })?;
        hook(&running);
        Ok(Store {
            running,
            candidate,
            candidate_modified: false,
            running_lock: None,
            candidate_lock: None,
            file,
            hook,
        })
    }

    fn serve(mut self, mut queue: mpsc::Receiver<Request>) {
        while let Some(request) = queue.blocking_recv() {
            self.handle(request);
        }
        tracing::debug!("datastore thread stopped");
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::GetConfig {
                source,
                filter,
                reply,
            } => {
                let _ = reply.send(self.get_config(source, filter.as_ref()));
            }
            Request::Get {
                filter,
                state,
                reply,
            } => {
                let _ = reply.send(self.get(filter.as_ref(), &state));
            }
            Request::EditConfig {
                session,
                target,
                default_operation,
                config,
                reply,
            } => {
                let _ = reply.send(self.edit_config(session, target, default_operation, &config));
            }
            Request::Commit { session, reply } => {
                let _ = reply.send(self.commit(session));
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
        }
    }

    fn tree(&self, datastore: Datastore) -> &DataTree<'static> {
        match datastore {
            Datastore::Running => &self.running,
            Datastore::Candidate => &self.candidate,
        }
    }

    fn lock_holder(&self, datastore: Datastore) -> Option<SessionId> {
        match datastore {
            Datastore::Running => self.running_lock,
            Datastore::Candidate => self.candidate_lock,
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

    fn get_config(&self, source: Datastore, filter: Option<&Filter>) -> Result<String, RpcError> {
        print_filtered(self.tree(source), filter)
    }

    fn get(&self, filter: Option<&Filter>, state: &[StateNode]) -> Result<String, RpcError> {
        let internal = |err: String| DatastoreError::Internal(err).to_rpc_error(None);
        let mut data = duplicate(&self.running).map_err(|err| internal(err.to_string()))?;
        LibyangError::clear();
        for node in state {
            data.new_path(&node.path, node.value.as_deref(), false)
                .map_err(|_| {
                    internal(format!(
                        "cannot build state node {}: {}",
                        node.path,
                        LibyangError::last()
                    ))
                })?;
        }
        print_filtered(&data, filter)
    }

    fn edit_config(
        &mut self,
        session: SessionId,
        target: Datastore,
        default_operation: DefaultOperation,
        config: &str,
    ) -> Result<(), RpcError> {
        self.check_not_locked_by_other(session, target)
            .map_err(|err| err.to_rpc_error(None))?;

        // Parse, apply to a copy, validate the copy.
        let edit_tree = edit::parse(config).map_err(|err| err.to_rpc_error(None))?;
        let copy = duplicate(self.tree(target))
            .map_err(|err| DatastoreError::Internal(err.to_string()).to_rpc_error(None))?;
        let changed = edit::apply(copy, &edit_tree, default_operation)
            .map_err(|err| err.to_rpc_error(None))?;
        let changed = validate(changed)?;

        // Swap it in.
        match target {
            Datastore::Candidate => {
                self.candidate = changed;
                self.candidate_modified = true;
                tracing::debug!(session_id = session, "candidate changed");
            }
            Datastore::Running => {
                self.replace_running(changed, session)?;
                if !self.candidate_modified {
                    self.candidate = duplicate(&self.running).map_err(|err| {
                        DatastoreError::Internal(err.to_string()).to_rpc_error(None)
                    })?;
                }
            }
        }
        Ok(())
    }

    fn commit(&mut self, session: SessionId) -> Result<(), RpcError> {
        self.check_not_locked_by_other(session, Datastore::Running)
            .and_then(|()| self.check_not_locked_by_other(session, Datastore::Candidate))
            .map_err(|err| err.to_rpc_error(None))?;

        let internal =
            |err: yang3::Error| DatastoreError::Internal(err.to_string()).to_rpc_error(None);
        let new_running = validate(duplicate(&self.candidate).map_err(internal)?)?;
        self.replace_running(new_running, session)?;
        self.candidate_modified = false;
        Ok(())
    }

    /// Saves `tree` as running, makes it current and publishes it.
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

        if let Err(err) = self.file.save(&xml) {
            tracing::error!(path = %self.file.path().display(), error = %err, "cannot save the running configuration");
            return Err(DatastoreError::Storage(err.to_string()).to_rpc_error(None));
        }
        self.running = tree;
        tracing::info!(session_id = session, "running configuration changed");
        (self.hook)(&self.running);
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
        match target {
            Datastore::Running => self.running_lock = Some(session),
            Datastore::Candidate => self.candidate_lock = Some(session),
        }
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
        match target {
            Datastore::Running => self.running_lock = None,
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
        for datastore in [Datastore::Running, Datastore::Candidate] {
            if self.lock_holder(datastore) == Some(session) {
                self.release(session, datastore);
            }
        }
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

fn print_filtered(tree: &DataTree<'static>, filter: Option<&Filter>) -> Result<String, RpcError> {
    let print = |tree: &DataTree<'static>| {
        raw::print_xml(tree, yang3::ffi::LYD_PRINT_SHRINK)
            .map_err(|err| DatastoreError::Internal(err.to_string()).to_rpc_error(None))
    };
    match filter {
        None => print(tree),
        Some(Filter::Subtree(elements)) => {
            let selected = filter::subtree(tree, elements).map_err(|err| err.to_rpc_error(None))?;
            print(&selected)
        }
        Some(Filter::XPath(filter)) => print(&xpath::select(tree, filter)?),
    }
}

#[cfg(test)]
mod tests;
