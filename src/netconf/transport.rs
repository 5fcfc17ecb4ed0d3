//! The SSH server of NETCONF over SSH (RFC 6242).
//!
//! This module owns the listening sockets, the SSH connections and their
//! limits: the number of connections, the time to authenticate, and the
//! channels a client may open. Each `netconf` subsystem channel is handed
//! as a byte stream to a [`SessionStarter`], which runs the NETCONF
//! session. Shells, commands, terminals, forwarding and other subsystems
//! are rejected.

#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use russh::keys::HashAlg;
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, ChannelOpenFailure, Disconnect, MethodKind, MethodSet, SshId};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::auth::Authenticator;
use super::host_key;
use crate::config::{Config, UserConfig};

/// The SSH subsystem name of NETCONF (RFC 6242, section 3).
pub const NETCONF_SUBSYSTEM: &str = "netconf";

/// Time that every rejected authentication attempt takes, whether the user
/// exists or not, so that the reply time does not reveal which users exist.
/// It also slows down password guessing on one connection.
pub const AUTH_REJECTION_TIME: Duration = Duration::from_secs(1);

/// Authentication attempts allowed per connection, as OpenSSH's
/// `MaxAuthTries` default. A client that offers many keys from its agent
/// uses one attempt per key.
pub const MAX_AUTH_ATTEMPTS: usize = 6;

/// Session channels one connection may have open at a time. NETCONF
/// clients open one channel per session, so this only bounds the sessions
/// that a single authenticated client can start.
pub const MAX_CHANNELS_PER_CONNECTION: usize = 16;

/// Interval of SSH keepalive requests to an idle client. A client that
/// leaves `KEEPALIVE_MAX` of them in a row unanswered is disconnected, so
/// a vanished client keeps its connection slot for about two minutes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// Unanswered keepalive requests after which a client is disconnected.
pub const KEEPALIVE_MAX: usize = 3;

/// Time without any traffic after which russh closes a connection. Live
/// clients reply to keepalives, so this only bounds how long russh waits for
/// a client to close its side after a disconnect.
pub const INACTIVITY_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Time a connection gets to close after the server sent a disconnect,
/// before its task stops waiting for it. Clients that ignore the
/// disconnect message (the russh 0.65 client does) hold up a shutdown for
/// this long, so it is kept short.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Time that [`Listener::run`] waits after shutdown for connections and
/// sessions to end.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause after a failed `accept`. The usual cause is the file descriptor
/// limit, which persists until connections close, so retrying at once
/// would only spin.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Minimum interval between log lines about connections rejected for the
/// max-sessions limit. A client that reconnects in a loop would otherwise
/// fill the log; each line carries the count since the previous one.
const REJECTION_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Backlog of each listening socket.
const LISTEN_BACKLOG: i32 = 128;

/// The authenticated client of a NETCONF session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The SSH user name the client authenticated as.
    pub user: String,
    /// The client's address, when known.
    pub addr: Option<SocketAddr>,
}

/// The byte stream of one `netconf` subsystem channel.
pub trait SubsystemIo:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static
{
}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> SubsystemIo for T {}

/// A running NETCONF session.
pub type SessionFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Called once per accepted `netconf` subsystem channel. The returned
/// future runs on its own task. Reads from the stream return end of file
/// once the client closes the channel or the connection ends, and dropping
/// the stream closes the channel.
pub type SessionStarter =
    Arc<dyn Fn(Box<dyn SubsystemIo>, PeerInfo) -> SessionFuture + Send + Sync>;

/// Errors of starting the SSH server.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("no listen address is configured: set netconf.listen")]
    NoListenAddress,
    #[error("max-sessions is 0: it must be at least 1")]
    NoSessions,
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("cannot load SSH host key {path}: {message}")]
    LoadHostKey { path: PathBuf, message: String },
    #[error("cannot generate SSH host key: {0}")]
    GenerateHostKey(String),
    #[error("cannot write SSH host key {path}: {source}")]
    WriteHostKey { path: PathBuf, source: io::Error },
    #[error("cannot read authorized keys file {path} of user {user:?}: {source}")]
    ReadAuthorizedKeys {
        user: String,
        path: PathBuf,
        source: io::Error,
    },
    #[error("invalid authorized key of user {user:?} in {origin}: {message}")]
    InvalidAuthorizedKey {
        user: String,
        origin: String,
        message: String,
    },
}

/// Settings of the SSH server, taken from the configuration.
#[derive(Debug, Clone)]
pub struct TransportSettings {
    pub listen: Vec<SocketAddr>,
    /// Maximum number of simultaneous SSH connections.
    pub max_sessions: usize,
    /// Time from the TCP connection to successful authentication.
    pub auth_timeout: Duration,
    pub host_key_path: PathBuf,
    pub users: Vec<UserConfig>,
}

impl TransportSettings {
    /// Takes the settings from the `[netconf]` section and the users. The
    /// hello timeout also bounds authentication, because a client has to
    /// authenticate before it can send its hello.
    pub fn from_config(config: &Config) -> Self {
        TransportSettings {
            listen: config.netconf.listen.clone(),
            max_sessions: config.netconf.max_sessions,
            auth_timeout: config.netconf.hello_timeout(),
            host_key_path: config.host_key_path(),
            users: config.users.clone(),
        }
    }
}

/// The bound SSH server, ready to accept connections.
pub struct Listener {
    sockets: Vec<TcpListener>,
    local_addrs: Vec<SocketAddr>,
    ssh_config: Arc<russh::server::Config>,
    authenticator: Arc<Authenticator>,
    max_sessions: usize,
    auth_timeout: Duration,
}

impl Listener {
    /// Loads or generates the host key, loads users' keys, binds every address.
    pub async fn bind(settings: TransportSettings) -> Result<Listener, TransportError> {
        if settings.listen.is_empty() {
            return Err(TransportError::NoListenAddress);
        }
        if settings.max_sessions == 0 {
            return Err(TransportError::NoSessions);
        }
        let host_key = host_key::load_or_generate(&settings.host_key_path)?;
        let authenticator = Authenticator::load(&settings.users)?;

        let mut sockets = Vec::new();
        let mut local_addrs = Vec::new();
        for addr in &settings.listen {
            let socket = bind_socket(*addr).map_err(|source| TransportError::Bind {
                addr: *addr,
                source,
            })?;
            let local_addr = socket.local_addr().map_err(|source| TransportError::Bind {
                addr: *addr,
                source,
            })?;
            info!(addr = %local_addr, "NETCONF over SSH listening");
            sockets.push(socket);
            local_addrs.push(local_addr);
        }

        let ssh_config = russh::server::Config {
            server_id: SshId::Standard(Cow::Borrowed(concat!(
                "SSH-2.0-ztpd_",
                env!("CARGO_PKG_VERSION")
            ))),
            methods: auth_methods(),
            auth_rejection_time: AUTH_REJECTION_TIME,
            // OpenSSH clients start with a `none` request to learn the
            // methods, which should not wait.
            auth_rejection_time_initial: Some(Duration::ZERO),
            keys: vec![host_key],
            max_auth_attempts: MAX_AUTH_ATTEMPTS,
            inactivity_timeout: Some(INACTIVITY_TIMEOUT),
            keepalive_interval: Some(KEEPALIVE_INTERVAL),
            keepalive_max: KEEPALIVE_MAX,
            // russh applies `nodelay` only in its own accept loop, so
            // `serve_connection` sets TCP_NODELAY itself.
            nodelay: true,
            ..Default::default()
        };

        Ok(Listener {
            sockets,
            local_addrs,
            ssh_config: Arc::new(ssh_config),
            authenticator: Arc::new(authenticator),
            max_sessions: settings.max_sessions,
            auth_timeout: settings.auth_timeout,
        })
    }

    /// Returns the bound addresses, with the real port where port 0 was
    /// requested.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.local_addrs.clone()
    }

    /// Accepts connections until `shutdown` is cancelled.
    ///
    /// On shutdown the listening sockets close, every connection gets an SSH
    /// disconnect, and the call returns once connections and sessions have
    /// ended or [`SHUTDOWN_TIMEOUT`] has passed. A failed `accept` is logged
    /// and retried, so the result is always `Ok` at present.
    pub async fn run(
        self,
        starter: SessionStarter,
        shutdown: CancellationToken,
    ) -> Result<(), TransportError> {
        let tracker = TaskTracker::new();
        let server = Arc::new(Server {
            ssh_config: self.ssh_config,
            authenticator: self.authenticator,
            starter,
            auth_timeout: self.auth_timeout,
            max_sessions: self.max_sessions,
            connection_slots: Arc::new(Semaphore::new(self.max_sessions)),
            tracker: tracker.clone(),
            shutdown: shutdown.clone(),
        });
        for socket in self.sockets {
            tracker.spawn(accept_connections(socket, server.clone()));
        }

        shutdown.cancelled().await;
        info!("NETCONF over SSH shutting down");
        tracker.close();
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, tracker.wait())
            .await
            .is_err()
        {
            warn!(
                tasks = tracker.len(),
                timeout_secs = SHUTDOWN_TIMEOUT.as_secs(),
                "SSH connections or NETCONF sessions still running after shutdown timeout"
            );
        }
        Ok(())
    }
}

/// Returns the SSH authentication methods offered to clients.
fn auth_methods() -> MethodSet {
    MethodSet::from(&[MethodKind::PublicKey, MethodKind::Password][..])
}

/// Returns a rejection that keeps offering both methods.
/// Without a method list, russh 0.65 stops advertising the rejected method
/// (though it still checks a further request for it), so OpenSSH would not
/// let a user retry a mistyped password. Attempts stay capped at
/// [`MAX_AUTH_ATTEMPTS`].
fn rejection() -> Auth {
    Auth::Reject {
        proceed_with_methods: Some(auth_methods()),
        partial_success: false,
    }
}

/// Binds a listening socket. An IPv6 socket accepts IPv6 only, so that the
/// same port can be bound on an IPv4 address too.
fn bind_socket(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // Allows a restart while connections of the previous process are in
    // TIME_WAIT, as tokio's `TcpListener::bind` does.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// State shared by all connections of a [`Listener`].
struct Server {
    ssh_config: Arc<russh::server::Config>,
    authenticator: Arc<Authenticator>,
    starter: SessionStarter,
    auth_timeout: Duration,
    max_sessions: usize,
    /// One permit per connection, held for the connection's lifetime.
    connection_slots: Arc<Semaphore>,
    /// Connection and session tasks, which shutdown waits for.
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

async fn accept_connections(socket: TcpListener, server: Arc<Server>) {
    let local_addr = socket.local_addr().ok();
    let mut rejected: u64 = 0;
    let mut last_rejection_log: Option<tokio::time::Instant> = None;
    loop {
        let accepted = tokio::select! {
            () = server.shutdown.cancelled() => return,
            accepted = socket.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                warn!(addr = ?local_addr, error = %err, "failed to accept a TCP connection; retrying");
                tokio::select! {
                    () = server.shutdown.cancelled() => return,
                    () = tokio::time::sleep(ACCEPT_RETRY_DELAY) => continue,
                }
            }
        };
        let Ok(slot) = server.connection_slots.clone().try_acquire_owned() else {
            drop(stream);
            rejected += 1;
            let log_due =
                last_rejection_log.is_none_or(|logged| logged.elapsed() >= REJECTION_LOG_INTERVAL);
            if log_due {
                warn!(
                    %peer,
                    max_sessions = server.max_sessions,
                    rejected,
                    "closed TCP connection: max-sessions SSH connections are open"
                );
                rejected = 0;
                last_rejection_log = Some(tokio::time::Instant::now());
            }
            continue;
        };
        server
            .tracker
            .spawn(serve_connection(stream, peer, server.clone(), slot));
    }
}

/// Runs one SSH connection until it closes, authentication times out or the
/// server shuts down.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    server: Arc<Server>,
    _slot: OwnedSemaphorePermit,
) {
    debug!(%peer, "TCP connection accepted");
    if let Err(err) = stream.set_nodelay(true) {
        debug!(%peer, error = %err, "failed to set TCP_NODELAY");
    }
    let authenticated = Arc::new(AtomicBool::new(false));
    let handler = ConnectionHandler {
        peer,
        server: server.clone(),
        user: None,
        authenticated: authenticated.clone(),
        channel_slots: Arc::new(Semaphore::new(MAX_CHANNELS_PER_CONNECTION)),
        channels: HashMap::new(),
    };
    let auth_deadline = tokio::time::Instant::now() + server.auth_timeout;

    // `run_stream` returns after the SSH identification exchange and runs
    // the rest of the connection on a task of its own.
    let started = tokio::select! {
        () = server.shutdown.cancelled() => return,
        started = tokio::time::timeout_at(
            auth_deadline,
            russh::server::run_stream(server.ssh_config.clone(), stream, handler),
        ) => started,
    };
    let session = match started {
        Ok(Ok(session)) => session,
        Ok(Err(err)) => {
            info!(%peer, error = %err, "SSH connection failed before key exchange");
            return;
        }
        Err(_) => {
            info!(%peer, "closed SSH connection: no SSH identification before the authentication timeout");
            return;
        }
    };
    let handle = session.handle();
    tokio::pin!(session);
    let auth_timer = tokio::time::sleep_until(auth_deadline);
    tokio::pin!(auth_timer);
    let mut auth_timer_armed = true;

    let reason = loop {
        tokio::select! {
            result = &mut session => {
                log_connection_end(peer, result);
                return;
            }
            () = &mut auth_timer, if auth_timer_armed => {
                auth_timer_armed = false;
                if !authenticated.load(Ordering::Acquire) {
                    break "authentication timed out";
                }
            }
            () = server.shutdown.cancelled() => break "server shutting down",
        }
    };

    info!(%peer, reason, "disconnecting SSH client");
    if handle
        .disconnect(Disconnect::ByApplication, reason.to_owned(), String::new())
        .await
        .is_err()
    {
        debug!(%peer, "SSH connection already closed");
    }
    match tokio::time::timeout(CLOSE_TIMEOUT, &mut session).await {
        Ok(_) => debug!(%peer, "SSH connection closed"),
        Err(_) => debug!(
            %peer,
            "SSH client did not close the connection; russh closes it after the inactivity timeout"
        ),
    }
}

fn log_connection_end(peer: SocketAddr, result: Result<(), russh::Error>) {
    match result {
        Ok(()) => debug!(%peer, "SSH connection closed"),
        // Many clients close the TCP connection without an SSH disconnect
        // message, which is routine.
        Err(russh::Error::IO(err))
            if matches!(
                err.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            ) =>
        {
            debug!(%peer, error = %err, "SSH connection closed by the client");
        }
        Err(err) => info!(%peer, error = %err, "SSH connection failed"),
    }
}

/// The russh handler of one connection.
struct ConnectionHandler {
    peer: SocketAddr,
    server: Arc<Server>,
    /// The authenticated user.
    user: Option<String>,
    authenticated: Arc<AtomicBool>,
    channel_slots: Arc<Semaphore>,
    /// Session channels that have no subsystem yet, each with its slot.
    channels: HashMap<ChannelId, (Channel<Msg>, OwnedSemaphorePermit)>,
}

impl ConnectionHandler {
    fn accept_user(&mut self, user: &str, method: &str) -> Auth {
        info!(user, peer = %self.peer, method, "SSH authentication succeeded");
        self.user = Some(user.to_owned());
        Auth::Accept
    }

    fn reject_user(&self, user: &str, method: &str) -> Auth {
        info!(user, peer = %self.peer, method, "SSH authentication failed");
        rejection()
    }

    fn reject_request(
        &self,
        channel: ChannelId,
        request: &str,
        session: &mut Session,
    ) -> Result<(), russh::Error> {
        info!(peer = %self.peer, user = self.user.as_deref(), request, "rejected SSH channel request: only the netconf subsystem is offered");
        session.channel_failure(channel)
    }
}

impl russh::server::Handler for ConnectionHandler {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        if self
            .server
            .authenticator
            .verify_password(user, password)
            .await
        {
            Ok(self.accept_user(user, "password"))
        } else {
            Ok(self.reject_user(user, "password"))
        }
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        // Rejecting an unknown key here spares the client its signature.
        if self
            .server
            .authenticator
            .is_authorized_key(user, offer.public_key)
        {
            Ok(Auth::Accept)
        } else {
            info!(
                user,
                peer = %self.peer,
                method = "publickey",
                key = %offer.public_key.fingerprint(HashAlg::Sha256),
                "SSH authentication failed: key is not authorized"
            );
            Ok(rejection())
        }
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        if self
            .server
            .authenticator
            .is_authorized_key(user, key.public_key)
        {
            Ok(self.accept_user(user, "publickey"))
        } else {
            Ok(self.reject_user(user, "publickey"))
        }
    }

    async fn auth_succeeded(&mut self, _session: &mut Session) -> Result<(), Self::Error> {
        self.authenticated.store(true, Ordering::Release);
        Ok(())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Ok(slot) = self.channel_slots.clone().try_acquire_owned() else {
            info!(
                peer = %self.peer,
                user = self.user.as_deref(),
                max_channels = MAX_CHANNELS_PER_CONNECTION,
                "rejected SSH session channel: too many channels on this connection"
            );
            reply.reject(ChannelOpenFailure::ResourceShortage).await;
            return Ok(());
        };
        self.channels.insert(channel.id(), (channel, slot));
        reply.accept().await;
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&channel);
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel_id: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if name != NETCONF_SUBSYSTEM {
            return self.reject_request(channel_id, &format!("subsystem {name:?}"), session);
        }
        let Some((channel, slot)) = self.channels.remove(&channel_id) else {
            return self.reject_request(channel_id, "second subsystem on one channel", session);
        };
        // russh opens channels only after authentication, so the user is set.
        let user = self.user.clone().unwrap_or_default();
        session.channel_success(channel_id)?;
        info!(%user, peer = %self.peer, channel = %channel_id, "NETCONF subsystem started");

        let peer_info = PeerInfo {
            user,
            addr: Some(self.peer),
        };
        let io: Box<dyn SubsystemIo> = Box::new(channel.into_stream());
        let running = (self.server.starter)(io, peer_info);
        let peer = self.peer;
        self.server.tracker.spawn(async move {
            running.await;
            drop(slot);
            info!(%peer, channel = %channel_id, "NETCONF session ended");
        });
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.reject_request(channel, "shell", session)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _command: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.reject_request(channel, "exec", session)
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.reject_request(channel, "pty-req", session)
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _x11_auth_protocol: &str,
        _x11_auth_cookie: &str,
        _x11_screen_number: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.reject_request(channel, "x11-req", session)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        variable_name: &str,
        _variable_value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // OpenSSH clients send LANG and similar before the subsystem
        // request, so this is routine and not worth an info line.
        debug!(peer = %self.peer, variable_name, "rejected SSH env request");
        session.channel_failure(channel)
    }
}
