//! The NETCONF SSH server against a russh client on loopback addresses.

mod common;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHasher};
use common::open_netconf_subsystem;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use ztpd::config::UserConfig;
use ztpd::netconf::transport::{
    AUTH_REJECTION_TIME, Listener, MAX_AUTH_ATTEMPTS, MAX_CHANNELS_PER_CONNECTION, PeerInfo,
    SessionStarter, TransportSettings,
};

const USER: &str = "admin";
const PASSWORD: &str = "correct horse battery staple";

/// Upper bound for each test, so that a hung connection fails the test
/// instead of blocking the run.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A server with one user, an echo session and its own state directory.
struct TestServer {
    addr: SocketAddr,
    user_key: PrivateKey,
    peers: mpsc::UnboundedReceiver<PeerInfo>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
    /// The state directory, when the server owns it.
    _state: Option<tempfile::TempDir>,
}

struct Options {
    listen: SocketAddr,
    max_sessions: usize,
    auth_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: "127.0.0.1:0".parse().expect("address"),
            max_sessions: 8,
            auth_timeout: Duration::from_secs(30),
        }
    }
}

/// Hashes `password` with small argon2 parameters, so that debug-build
/// tests stay fast. The server takes the parameters from the PHC string.
fn password_hash(password: &str) -> String {
    let params = argon2::Params::new(1024, 1, 1, None).expect("argon2 parameters");
    Argon2::from(params)
        .hash_password(password.as_bytes())
        .expect("hash")
        .to_string()
}

fn random_key() -> PrivateKey {
    let keypair = Ed25519Keypair::from_seed(&rand::random::<[u8; 32]>());
    PrivateKey::new(keypair.into(), "test client").expect("key")
}

/// Returns a session starter that echoes every byte and reports its peer.
fn echo_starter(peers: mpsc::UnboundedSender<PeerInfo>) -> SessionStarter {
    Arc::new(move |io, peer| {
        let peers = peers.clone();
        Box::pin(async move {
            let _ = peers.send(peer);
            let (mut reader, mut writer) = tokio::io::split(io);
            let _ = tokio::io::copy(&mut reader, &mut writer).await;
        })
    })
}

fn settings(state: &Path, options: &Options, user_key: &PrivateKey) -> TransportSettings {
    TransportSettings {
        listen: vec![options.listen],
        max_sessions: options.max_sessions,
        auth_timeout: options.auth_timeout,
        host_key_path: state.join("ssh_host_ed25519_key"),
        users: vec![UserConfig {
            name: USER.to_owned(),
            password_hash: Some(password_hash(PASSWORD)),
            authorized_keys: vec![user_key.public_key().to_openssh().expect("openssh")],
            authorized_keys_file: None,
        }],
    }
}

async fn start_at(state: &Path, options: Options) -> TestServer {
    // Server logs appear in the output of failed tests.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("ztpd=debug")
        .with_test_writer()
        .try_init();
    let user_key = random_key();
    let listener = Listener::bind(settings(state, &options, &user_key))
        .await
        .expect("bind");
    let addr = listener.local_addrs()[0];
    let (peers_sender, peers) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            listener
                .run(echo_starter(peers_sender), shutdown)
                .await
                .expect("run");
        }
    });
    TestServer {
        addr,
        user_key,
        peers,
        shutdown,
        task,
        _state: None,
    }
}

async fn start(options: Options) -> TestServer {
    let state = tempfile::tempdir().expect("state directory");
    let mut server = start_at(state.path(), options).await;
    server._state = Some(state);
    server
}

impl TestServer {
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("server stops after shutdown")
            .expect("server task");
    }
}

/// Records the host key that the server presents.
#[derive(Clone, Default)]
struct Client {
    server_key: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        if let PublicKeyOrCertificate::PublicKey { key, .. } = server_public_key {
            *self.server_key.lock().expect("lock") =
                Some(key.fingerprint(HashAlg::Sha256).to_string());
        }
        Ok(true)
    }
}

async fn connect(addr: SocketAddr) -> (client::Handle<Client>, Client) {
    let handler = Client::default();
    let handle = client::connect(Arc::new(client::Config::default()), addr, handler.clone())
        .await
        .expect("SSH connection");
    (handle, handler)
}

async fn connect_with_password(addr: SocketAddr) -> client::Handle<Client> {
    let (mut handle, _) = connect(addr).await;
    let result = handle
        .authenticate_password(USER, PASSWORD)
        .await
        .expect("authentication exchange");
    assert!(result.success(), "password authentication failed");
    handle
}

/// Waits for the server's reply to the last channel request: `Some(true)`
/// for success, `Some(false)` for failure.
async fn channel_request_result(channel: &mut russh::Channel<client::Msg>) -> Option<bool> {
    for _ in 0..16 {
        match channel.wait().await? {
            ChannelMsg::Success => return Some(true),
            ChannelMsg::Failure => return Some(false),
            _ => {}
        }
    }
    None
}

async fn assert_echo(channel: russh::Channel<client::Msg>, message: &[u8]) {
    let mut stream = channel.into_stream();
    stream.write_all(message).await.expect("write");
    let mut echoed = vec![0; message.len()];
    stream.read_exact(&mut echoed).await.expect("read echo");
    assert_eq!(echoed, message);
}

async fn with_timeout<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_TIMEOUT, test)
        .await
        .expect("test finished in time");
}

#[tokio::test]
async fn password_login_and_netconf_echo() {
    with_timeout(async {
        let mut server = start(Options::default()).await;
        let handle = connect_with_password(server.addr).await;
        let channel = open_netconf_subsystem(&handle).await;
        assert_echo(channel, b"<hello/>]]>]]>").await;

        let peer = server.peers.recv().await.expect("session started");
        assert_eq!(peer.user, USER);
        let addr = peer.addr.expect("peer address");
        assert!(addr.ip().is_loopback(), "{addr}");
        server.stop().await;
    })
    .await;
}

/// Logs in as `user` with `password`, expects the server to reject it, and
/// checks that the rejection took at least the rejection delay.
async fn password_rejected_after_delay(user: &str, password: &str) {
    with_timeout(async {
        let server = start(Options::default()).await;
        let (mut handle, _) = connect(server.addr).await;
        let started = Instant::now();
        let result = handle
            .authenticate_password(user, password)
            .await
            .expect("authentication exchange");
        assert!(!result.success());
        assert!(
            started.elapsed() >= AUTH_REJECTION_TIME - Duration::from_millis(100),
            "rejection came after {:?}",
            started.elapsed()
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn wrong_password_rejected() {
    password_rejected_after_delay(USER, "wrong").await;
}

#[tokio::test]
async fn password_retry_after_rejection() {
    with_timeout(async {
        let server = start(Options::default()).await;
        let (mut handle, _) = connect(server.addr).await;
        let first = handle
            .authenticate_password(USER, "wrong")
            .await
            .expect("authentication exchange");
        assert!(!first.success());
        let client::AuthResult::Failure {
            remaining_methods, ..
        } = first
        else {
            panic!("expected a failure");
        };
        assert!(
            remaining_methods.contains(&russh::MethodKind::Password),
            "password is no longer offered: {remaining_methods:?}"
        );
        let second = handle
            .authenticate_password(USER, PASSWORD)
            .await
            .expect("authentication exchange");
        assert!(second.success(), "retry with the right password failed");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn auth_attempts_capped() {
    with_timeout(async {
        let server = start(Options::default()).await;
        let (mut handle, _) = connect(server.addr).await;
        for attempt in 0..MAX_AUTH_ATTEMPTS {
            let result = handle
                .authenticate_password(USER, "wrong")
                .await
                .expect("authentication exchange");
            assert!(!result.success(), "attempt {attempt}");
        }
        let last = handle.authenticate_password(USER, PASSWORD).await;
        assert!(
            !last.is_ok_and(|result| result.success()),
            "attempt after the cap succeeded"
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn unknown_user_rejected() {
    password_rejected_after_delay("root", PASSWORD).await;
}

#[tokio::test]
async fn none_probe_not_delayed() {
    with_timeout(async {
        let server = start(Options::default()).await;
        let (mut handle, _) = connect(server.addr).await;
        let started = Instant::now();
        let result = handle
            .authenticate_none(USER)
            .await
            .expect("authentication exchange");
        assert!(!result.success());
        assert!(
            started.elapsed() < AUTH_REJECTION_TIME / 2,
            "none probe took {:?}",
            started.elapsed()
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn public_key_login() {
    with_timeout(async {
        let server = start(Options::default()).await;
        let (mut handle, _) = connect(server.addr).await;
        let key = PrivateKeyWithHashAlg::new(Arc::new(server.user_key.clone()), None);
        let result = handle
            .authenticate_publickey(USER, key)
            .await
            .expect("authentication exchange");
        assert!(result.success(), "public key authentication failed");
        let channel = open_netconf_subsystem(&handle).await;
        assert_echo(channel, b"\n#4\n<a/>\n##\n").await;
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn unauthorized_key_rejected() {
    with_timeout(async {
        let server = start(Options::default()).await;
        let (mut handle, _) = connect(server.addr).await;
        let key = PrivateKeyWithHashAlg::new(Arc::new(random_key()), None);
        let result = handle
            .authenticate_publickey(USER, key)
            .await
            .expect("authentication exchange");
        assert!(!result.success());
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn other_requests_rejected() {
    with_timeout(async {
        let server = start(Options::default()).await;
        let handle = connect_with_password(server.addr).await;

        let mut sftp = handle.channel_open_session().await.expect("channel");
        sftp.request_subsystem(true, "sftp").await.expect("request");
        assert_eq!(channel_request_result(&mut sftp).await, Some(false), "sftp");

        let mut exec = handle.channel_open_session().await.expect("channel");
        exec.exec(true, "cat /etc/passwd").await.expect("request");
        assert_eq!(channel_request_result(&mut exec).await, Some(false), "exec");

        let mut shell = handle.channel_open_session().await.expect("channel");
        shell.request_shell(true).await.expect("request");
        assert_eq!(
            channel_request_result(&mut shell).await,
            Some(false),
            "shell"
        );

        let mut pty = handle.channel_open_session().await.expect("channel");
        pty.request_pty(true, "xterm", 80, 24, 0, 0, &[])
            .await
            .expect("request");
        assert_eq!(channel_request_result(&mut pty).await, Some(false), "pty");

        // A rejected request leaves the channel open for a netconf request.
        sftp.request_subsystem(true, "netconf")
            .await
            .expect("request");
        assert_eq!(channel_request_result(&mut sftp).await, Some(true));
        assert_echo(sftp, b"<ok/>").await;
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn second_subsystem_on_channel_rejected() {
    with_timeout(async {
        let server = start(Options::default()).await;
        let handle = connect_with_password(server.addr).await;
        let mut channel = open_netconf_subsystem(&handle).await;
        channel
            .request_subsystem(true, "netconf")
            .await
            .expect("request");
        assert_eq!(channel_request_result(&mut channel).await, Some(false));
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn several_netconf_channels_per_connection() {
    with_timeout(async {
        let server = start(Options::default()).await;
        let handle = connect_with_password(server.addr).await;
        let first = open_netconf_subsystem(&handle).await;
        let second = open_netconf_subsystem(&handle).await;
        assert_echo(second, b"<second/>").await;
        assert_echo(first, b"<first/>").await;
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn channels_per_connection_capped() {
    with_timeout(async {
        let server = start(Options::default()).await;
        let handle = connect_with_password(server.addr).await;
        let mut channels = Vec::new();
        for _ in 0..MAX_CHANNELS_PER_CONNECTION {
            channels.push(open_netconf_subsystem(&handle).await);
        }
        assert!(
            handle.channel_open_session().await.is_err(),
            "channel beyond the cap was opened"
        );

        // Closing a channel frees its slot.
        let closed = channels.pop().expect("a channel");
        closed.close().await.expect("close");
        let mut reopened = false;
        for _ in 0..50 {
            if handle.channel_open_session().await.is_ok() {
                reopened = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(reopened, "no channel after closing one");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn host_key_created_and_reused() {
    with_timeout(async {
        let state = tempfile::tempdir().expect("state directory");
        let key_path = state.path().join("ssh_host_ed25519_key");

        let server = start_at(state.path(), Options::default()).await;
        let mode = std::fs::metadata(&key_path)
            .expect("host key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (_first_handle, first) = connect(server.addr).await;
        let first_fingerprint = first.server_key.lock().expect("lock").clone();
        assert!(first_fingerprint.is_some());
        server.stop().await;

        let server = start_at(state.path(), Options::default()).await;
        let (_second_handle, second) = connect(server.addr).await;
        let second_fingerprint = second.server_key.lock().expect("lock").clone();
        assert_eq!(first_fingerprint, second_fingerprint);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn ipv6_loopback_works() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        println!("skipped: this machine has no IPv6 loopback address ::1");
        return;
    }
    with_timeout(async {
        let server = start(Options {
            listen: "[::1]:0".parse().expect("address"),
            ..Options::default()
        })
        .await;
        assert!(server.addr.is_ipv6());
        let handle = connect_with_password(server.addr).await;
        let channel = open_netconf_subsystem(&handle).await;
        assert_echo(channel, b"<hello/>]]>]]>").await;
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn bind_error_names_address() {
    with_timeout(async {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("address");
        let state = tempfile::tempdir().expect("state directory");
        let options = Options {
            listen: addr,
            ..Options::default()
        };
        let err = Listener::bind(settings(state.path(), &options, &random_key()))
            .await
            .err()
            .expect("address in use");
        let message = err.to_string();
        assert!(message.contains(&addr.to_string()), "{message}");
        assert!(message.starts_with("cannot bind"), "{message}");
    })
    .await;
}

#[tokio::test]
async fn connections_over_max_sessions_closed() {
    with_timeout(async {
        let server = start(Options {
            max_sessions: 1,
            ..Options::default()
        })
        .await;
        let first = connect_with_password(server.addr).await;
        let second = client::connect(
            Arc::new(client::Config::default()),
            server.addr,
            Client::default(),
        )
        .await;
        assert!(second.is_err(), "second connection was accepted");

        // The slot is free again once the first connection closes.
        drop(first);
        let mut connected = false;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let attempt = client::connect(
                Arc::new(client::Config::default()),
                server.addr,
                Client::default(),
            )
            .await;
            if attempt.is_ok() {
                connected = true;
                break;
            }
        }
        assert!(
            connected,
            "no connection possible after the first one closed"
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn unauthenticated_connection_times_out() {
    with_timeout(async {
        let server = start(Options {
            auth_timeout: Duration::from_secs(1),
            ..Options::default()
        })
        .await;
        let (handle, _) = connect(server.addr).await;
        let mut closed = false;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if handle.is_closed() {
                closed = true;
                break;
            }
        }
        assert!(closed, "server kept the unauthenticated connection open");

        // A client that never sends its SSH identification is closed too.
        let mut silent = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("TCP connection");
        let mut received = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut received)).await;
        assert!(read.is_ok(), "server kept the silent connection open");
        assert!(received.starts_with(b"SSH-2.0-ztpd_"), "{received:?}");

        // An authenticated connection outlives the same timeout.
        let handle = connect_with_password(server.addr).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!handle.is_closed());
        let channel = open_netconf_subsystem(&handle).await;
        assert_echo(channel, b"<late/>").await;
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn shutdown_closes_connections() {
    with_timeout(async {
        let server = start(Options::default()).await;
        let addr = server.addr;
        let handle = connect_with_password(addr).await;
        let channel = open_netconf_subsystem(&handle).await;
        server.stop().await;

        let mut stream = channel.into_stream();
        let mut rest = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "channel still open after shutdown");
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "listener still accepts after shutdown"
        );
    })
    .await;
}
