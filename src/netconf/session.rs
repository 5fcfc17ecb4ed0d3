//! One NETCONF session: the hello exchange, then requests and replies until
//! the client closes the session or the channel.
//!
//! After the hello exchange the stream is split: the request loop reads,
//! and one writer task writes the replies and the notifications of the
//! session's subscription, each message whole.
//!
//! ```text
//! SSH channel ─▶ MessageReader ─▶ Request::parse ─▶ ops::dispatch
//!                                                        │ reply
//!      ▲                         subscription ──────┐    ▼
//!      └──── MessageWriter ◀── writer task ◀── Output queue
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::capabilities::{BASE_1_0, BASE_1_1};
use super::error::{ErrorType, RpcError};
use super::framing::{Framing, FramingError};
use super::notifications::NotificationBus;
use super::notifications::events::{SessionIdentity, TerminationReason};
use super::notifications::subscription::SessionSubscription;
use super::ops::{self, OperationContext, Outcome, StateSource};
use super::output::{self, Output, OutputClosed};
use super::rpc::{self, ReplyBody, Request};
use super::sessions::{Counters, SessionEntry, SessionRegistry};
use super::stream::{MessageReader, MessageStream, StreamError};
use super::transport::{PeerInfo, SessionStarter, SubsystemIo};
use super::xml::{self, NS_BASE, escape};
use crate::datastore::{DatastoreHandle, SessionId};
use crate::ztp::reconciler::Control;

/// Settings of the NETCONF sessions.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// Maximum size of one message from a client, in bytes.
    pub max_message_size: usize,
    /// Time a client has to send its hello after the server's.
    pub hello_timeout: Duration,
}

/// State shared by all sessions.
pub struct Server {
    datastore: DatastoreHandle,
    state: Arc<dyn StateSource>,
    capabilities: Vec<String>,
    settings: SessionSettings,
    next_session_id: AtomicU32,
    shutdown: CancellationToken,
    sessions: Arc<SessionRegistry>,
    notifications: NotificationBus,
    ztp: Control,
}

/// The normal end of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The client sent `close-session`.
    CloseSession,
    /// The client closed the channel between two requests.
    EndOfInput,
}

/// Reasons a session ends early.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("cannot read from the client: {0}")]
    Read(#[from] StreamError),
    #[error("cannot write to the client: {0}")]
    Write(#[from] std::io::Error),
    #[error("no hello from the client within {0:?}")]
    HelloTimeout(Duration),
    #[error("the client closed the session before its hello")]
    NoHello,
    #[error("invalid client hello: {0}")]
    BadHello(String),
    #[error("the server is shutting down")]
    Shutdown,
    #[error("the session was killed")]
    Killed,
    #[error("cannot write to the client: the writer task ended")]
    OutputClosed,
}

impl From<OutputClosed> for SessionError {
    fn from(_: OutputClosed) -> Self {
        SessionError::OutputClosed
    }
}

impl Server {
    /// Creates the shared session state. Cancelling `shutdown` ends every
    /// session between two requests.
    pub fn new(
        datastore: DatastoreHandle,
        state: Arc<dyn StateSource>,
        capabilities: Vec<String>,
        settings: SessionSettings,
        shutdown: CancellationToken,
        ztp: Control,
    ) -> Arc<Server> {
        Arc::new(Server {
            datastore,
            state,
            capabilities,
            settings,
            next_session_id: AtomicU32::new(1),
            shutdown,
            sessions: Arc::default(),
            notifications: NotificationBus::new(),
            ztp,
        })
    }

    /// Returns the reconciler's request queue, for the ztp and pki RPCs.
    pub fn ztp(&self) -> &Control {
        &self.ztp
    }

    /// Returns the datastore thread's handle.
    pub fn datastore(&self) -> &DatastoreHandle {
        &self.datastore
    }

    /// Returns the source of operational state.
    pub fn state(&self) -> &Arc<dyn StateSource> {
        &self.state
    }

    /// Returns the open sessions and server statistics.
    pub fn sessions(&self) -> &SessionRegistry {
        &self.sessions
    }

    /// Returns a shared reference to the open sessions and server
    /// statistics, for code that outlives a borrow of the server.
    pub fn session_registry(&self) -> Arc<SessionRegistry> {
        Arc::clone(&self.sessions)
    }

    /// Returns the event bus of the `NETCONF` notification stream.
    pub fn notifications(&self) -> &NotificationBus {
        &self.notifications
    }

    /// Returns the capabilities of the server hello.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// Returns the function the SSH transport calls for each `netconf`
    /// subsystem channel.
    pub fn starter(self: &Arc<Self>) -> SessionStarter {
        let server = Arc::clone(self);
        Arc::new(move |io, peer| {
            let server = Arc::clone(&server);
            Box::pin(async move { server.run(io, peer).await })
        })
    }

    async fn run(&self, io: Box<dyn SubsystemIo>, peer: PeerInfo) {
        let session_id = self.next_session_id.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!(
            "session",
            session_id,
            user = %peer.user,
            peer = %peer.addr.map(|addr| addr.to_string()).unwrap_or_default()
        );
        async {
            tracing::info!("NETCONF session started");
            let stream = MessageStream::new_for_hello(io, self.settings.max_message_size);
            let entry = SessionEntry {
                user: peer.user.clone(),
                peer: peer.addr,
                login_time: time::OffsetDateTime::now_utc(),
                counters: Arc::default(),
                kill: self.shutdown.child_token(),
            };
            let identity = SessionIdentity::new(session_id, &peer);
            let result = self.serve(session_id, &entry, &identity, stream).await;
            let dropped = !matches!(result, Ok(Ending::CloseSession));
            let killed_by = self.sessions.take_killer(session_id);
            // Locks and a confirmed commit are released while the session is
            // still registered, so their notifications can name it.
            self.datastore.end_session(session_id).await;
            self.sessions.unregister(session_id, dropped);
            self.notifications.publish_session_end(
                &identity,
                termination_reason(&result),
                killed_by,
            );
            match result {
                Ok(_) => tracing::info!("NETCONF session ended"),
                Err(SessionError::Shutdown) => {
                    tracing::info!("NETCONF session ended by server shutdown")
                }
                Err(SessionError::Killed) => tracing::info!("NETCONF session killed"),
                Err(err) => tracing::warn!(error = %err, "NETCONF session ended with an error"),
            }
        }
        .instrument(span)
        .await;
    }

    /// Runs the session on `stream` and shuts the stream down at its end.
    async fn serve(
        &self,
        session_id: SessionId,
        entry: &SessionEntry,
        identity: &SessionIdentity,
        mut stream: MessageStream<Box<dyn SubsystemIo>>,
    ) -> Result<Ending, SessionError> {
        // A session can be killed as soon as its id is known, which the
        // client learns from the server hello.
        self.sessions.register(session_id, entry.clone());
        if let Err(err) = self
            .exchange_hellos(session_id, &entry.kill, &mut stream)
            .await
        {
            let _ = stream.shutdown().await;
            return Err(err);
        }
        self.notifications.publish_session_start(identity);

        let (reader, writer) = stream.into_split();
        let (output, output_task) = output::spawn(writer);
        let subscription = SessionSubscription::new(
            session_id,
            self.notifications.clone(),
            Arc::clone(&self.sessions),
            Arc::clone(&entry.counters),
        );
        let result = self
            .serve_requests(session_id, entry, reader, &output, &subscription)
            .await;

        // The writer ends, after writing what is queued, once the last
        // Output is dropped. The subscription task has a clone.
        subscription.end().await;
        drop(output);
        let written = output_task.finish().await;
        match (result, written) {
            (Err(SessionError::OutputClosed), Err(err)) => Err(SessionError::Write(err)),
            (Ok(_), Err(err)) => Err(SessionError::Write(err)),
            (result, _) => result,
        }
    }

    /// Sends the server hello, reads the client's and switches the framing.
    async fn exchange_hellos(
        &self,
        session_id: SessionId,
        kill: &CancellationToken,
        stream: &mut MessageStream<Box<dyn SubsystemIo>>,
    ) -> Result<(), SessionError> {
        // Hello exchange: the server speaks first, in end-of-message framing.
        stream
            .write_message(self.hello(session_id).as_bytes())
            .await?;
        let hello_read = tokio::select! {
            read = tokio::time::timeout(self.settings.hello_timeout, stream.read_message()) => read,
            () = kill.cancelled() => {
                if self.shutdown.is_cancelled() {
                    return Err(SessionError::Shutdown);
                }
                return Err(SessionError::Killed);
            }
        };
        let hello = match hello_read {
            Err(_) => return Err(SessionError::HelloTimeout(self.settings.hello_timeout)),
            Ok(Ok(None)) => return Err(SessionError::NoHello),
            Ok(result) => result?.unwrap_or_default(),
        };
        let framing = match negotiate_framing(&hello) {
            Ok(framing) => framing,
            Err(err) => {
                Counters::increment(&self.sessions.statistics().in_bad_hellos);
                return Err(err);
            }
        };
        stream.set_framing(framing);
        tracing::debug!(?framing, "hello exchanged");
        Ok(())
    }

    /// Serves requests until close-session or end of input.
    async fn serve_requests(
        &self,
        session_id: SessionId,
        entry: &SessionEntry,
        mut reader: MessageReader<tokio::io::ReadHalf<Box<dyn SubsystemIo>>>,
        output: &Output,
        subscription: &SessionSubscription,
    ) -> Result<Ending, SessionError> {
        loop {
            // Reading is cancel-safe, so a shutdown between requests loses
            // nothing.
            let read = tokio::select! {
                read = reader.read_message() => read,
                () = entry.kill.cancelled() => {
                    if self.shutdown.is_cancelled() {
                        return Err(SessionError::Shutdown);
                    }
                    return Err(SessionError::Killed);
                }
            };
            let message = match read {
                Ok(Some(message)) => message,
                Ok(None) => return Ok(Ending::EndOfInput),
                Err(StreamError::Framing(FramingError::TooBig { limit })) => {
                    tracing::warn!(limit, "request exceeds the maximum message size");
                    let error = RpcError::too_big(
                        ErrorType::Rpc,
                        format!("the request exceeds the maximum message size of {limit} bytes"),
                    );
                    let start = rpc::recover_rpc_start_from_prefix(&reader.take_too_big_prefix());
                    let mut reply = String::new();
                    rpc::write_reply(start.as_ref(), &ReplyBody::Errors(vec![error]), &mut reply);
                    self.sessions.count_rpc(&entry.counters, true, true);
                    output.send(reply).await?;
                    continue;
                }
                Err(err) => return Err(err.into()),
            };

            let mut reply = String::new();
            let close = match Request::parse(&message) {
                Err(rejected) => {
                    tracing::info!(error = %rejected.error, "request rejected");
                    self.sessions.count_rpc(&entry.counters, true, true);
                    rpc::write_reply(
                        rejected.rpc.as_deref(),
                        &ReplyBody::Errors(vec![rejected.error]),
                        &mut reply,
                    );
                    false
                }
                Ok(request) => {
                    let context = OperationContext {
                        session_id,
                        server: self,
                        rpc: &request.rpc,
                        subscription,
                    };
                    let outcome = match request.operation() {
                        Ok(operation) => ops::dispatch(&context, operation).await,
                        Err(error) => Outcome::Reply(ReplyBody::Errors(vec![error])),
                    };
                    let (body, close) = match outcome {
                        Outcome::Reply(body) => (body, false),
                        Outcome::Close(body) => (body, true),
                    };
                    let failed = matches!(body, ReplyBody::Errors(_));
                    self.sessions.count_rpc(&entry.counters, false, failed);
                    rpc::write_reply(Some(&request.rpc), &body, &mut reply);
                    close
                }
            };
            output.send(reply).await?;
            // A subscription created by this request starts after its reply.
            subscription.start_pending(output);
            if close {
                return Ok(Ending::CloseSession);
            }
        }
    }

    fn hello(&self, session_id: SessionId) -> String {
        let mut hello = format!("<hello xmlns=\"{NS_BASE}\"><capabilities>");
        for capability in &self.capabilities {
            hello.push_str("<capability>");
            hello.push_str(&escape(capability));
            hello.push_str("</capability>");
        }
        hello.push_str("</capabilities><session-id>");
        hello.push_str(&session_id.to_string());
        hello.push_str("</session-id></hello>");
        hello
    }
}

/// Maps how a session ended to the `termination-reason` of its
/// `netconf-session-end` notification.
fn termination_reason(result: &Result<Ending, SessionError>) -> TerminationReason {
    match result {
        Ok(Ending::CloseSession) => TerminationReason::Closed,
        Ok(Ending::EndOfInput) => TerminationReason::Dropped,
        Err(SessionError::Killed) => TerminationReason::Killed,
        Err(SessionError::HelloTimeout(_)) => TerminationReason::Timeout,
        Err(SessionError::BadHello(_)) => TerminationReason::BadHello,
        Err(SessionError::Read(StreamError::Framing(FramingError::Malformed(_)))) => {
            TerminationReason::Other
        }
        Err(
            SessionError::Read(_)
            | SessionError::Write(_)
            | SessionError::OutputClosed
            | SessionError::NoHello,
        ) => TerminationReason::Dropped,
        Err(SessionError::Shutdown) => TerminationReason::Other,
    }
}

/// Reads the client hello and picks the framing: chunked when both sides
/// speak base:1.1, end-of-message when the client speaks only base:1.0.
fn negotiate_framing(message: &[u8]) -> Result<Framing, SessionError> {
    let text =
        std::str::from_utf8(message).map_err(|err| SessionError::BadHello(err.to_string()))?;
    let hello = xml::parse(text).map_err(|err| SessionError::BadHello(err.to_string()))?;
    if !hello.is(NS_BASE, "hello") {
        return Err(SessionError::BadHello(format!(
            "expected <hello>, got <{}>",
            hello.name
        )));
    }
    if hello.child(NS_BASE, "session-id").is_some() {
        return Err(SessionError::BadHello(
            "a client hello must not contain a session-id".into(),
        ));
    }
    let capabilities: Vec<&str> = hello
        .child(NS_BASE, "capabilities")
        .map(|element| {
            element
                .children
                .iter()
                .filter(|child| child.is(NS_BASE, "capability"))
                .map(|child| child.trimmed_text())
                .collect()
        })
        .unwrap_or_default();
    if capabilities.contains(&BASE_1_1) {
        Ok(Framing::Chunked)
    } else if capabilities.contains(&BASE_1_0) {
        Ok(Framing::EndOfMessage)
    } else {
        Err(SessionError::BadHello(
            "the client advertises neither base:1.0 nor base:1.1".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(capabilities: &[&str]) -> Vec<u8> {
        let mut text = format!("<hello xmlns=\"{NS_BASE}\"><capabilities>");
        for capability in capabilities {
            text.push_str(&format!("<capability>{capability}</capability>"));
        }
        text.push_str("</capabilities></hello>");
        text.into_bytes()
    }

    #[test]
    fn base_1_1_selects_chunked() {
        let framing = negotiate_framing(&hello(&[BASE_1_0, BASE_1_1])).expect("valid hello");
        assert_eq!(framing, Framing::Chunked);
    }

    #[test]
    fn base_1_0_only_selects_end_of_message() {
        let framing = negotiate_framing(&hello(&[BASE_1_0])).expect("valid hello");
        assert_eq!(framing, Framing::EndOfMessage);
    }

    #[test]
    fn hello_without_base_rejected() {
        assert!(negotiate_framing(&hello(&["urn:example:other"])).is_err());
    }

    #[test]
    fn termination_reasons_follow_rfc_6470() {
        let cases = [
            (Ok(Ending::CloseSession), TerminationReason::Closed),
            (Ok(Ending::EndOfInput), TerminationReason::Dropped),
            (Err(SessionError::Killed), TerminationReason::Killed),
            (
                Err(SessionError::HelloTimeout(Duration::from_secs(1))),
                TerminationReason::Timeout,
            ),
            (
                Err(SessionError::BadHello("no base".into())),
                TerminationReason::BadHello,
            ),
            (Err(SessionError::NoHello), TerminationReason::Dropped),
            (Err(SessionError::OutputClosed), TerminationReason::Dropped),
            (
                Err(SessionError::Read(StreamError::Truncated)),
                TerminationReason::Dropped,
            ),
            (
                Err(SessionError::Read(StreamError::Framing(
                    FramingError::Malformed("bad chunk".into()),
                ))),
                TerminationReason::Other,
            ),
            (Err(SessionError::Shutdown), TerminationReason::Other),
        ];
        for (result, expected) in cases {
            assert_eq!(termination_reason(&result), expected, "{result:?}");
        }
    }

    #[test]
    fn hello_with_session_id_rejected() {
        let text = format!(
            "<hello xmlns=\"{NS_BASE}\"><capabilities><capability>{BASE_1_0}</capability></capabilities><session-id>4</session-id></hello>"
        );
        assert!(negotiate_framing(text.as_bytes()).is_err());
    }
}
