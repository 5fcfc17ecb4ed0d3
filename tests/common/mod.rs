//! Shared parts of the integration tests: a lab (PKI, keys, configuration),
//! the real `ztpd` binary as a child process, lab bootstrap servers, and a
//! NETCONF client over russh.

#![allow(dead_code)]

use std::collections::VecDeque;
mod raw_channel;
#[allow(unused_imports)]
pub use raw_channel::*;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHasher};
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{Channel, ChannelMsg, ChannelStream, client};
use ztpd::lab::pki::LabPki;
use ztpd::lab::server::{Fault, LabServer, LabServerHandle, LabServerSettings};
use ztpd::netconf::framing::Framing;
use ztpd::netconf::stream::MessageStream;
use ztpd::netconf::xml::{self, Element};

/// ESN of the lab device.
pub const ESN: &str = "2102351931P0K8000001";
/// NETCONF user of the lab configuration.
pub const USER: &str = "admin";
/// Password of [`USER`]. The configuration contains only its hash.
pub const PASSWORD: &str = "lab password 7f3a";
/// Namespace of the NETCONF base protocol.
pub const NS_BASE: &str = "urn:ietf:params:xml:ns:netconf:base:1.0";
/// Namespace of `ztpd-ztp`.
pub const NS_ZTP: &str = "urn:ztpd:yang:ztpd-ztp";
/// Namespace of `ztpd-ssl`.
pub const NS_SSL: &str = "urn:ztpd:yang:ztpd-ssl";
/// Namespace of `ztpd-pki`.
pub const NS_PKI: &str = "urn:ztpd:yang:ztpd-pki";
/// Namespace of `<notification>` and `create-subscription` (RFC 5277).
pub const NS_NOTIFICATION: &str = "urn:ietf:params:xml:ns:netconf:notification:1.0";
/// Namespace of `replayComplete` and `notificationComplete` (RFC 5277).
pub const NS_NETMOD_NOTIFICATION: &str = "urn:ietf:params:xml:ns:netmod:notification";
/// Namespace of the base notifications (RFC 6470).
pub const NS_NCN: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications";
/// How long a test waits for a notification that should arrive.
pub const NOTIFICATION_WAIT: Duration = Duration::from_secs(10);

/// Upper bound for one test, so that a hang fails the test instead of the
/// whole run.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a test waits for the daemon to report a download result.
pub const DOWNLOAD_WAIT: Duration = Duration::from_secs(30);
/// Pause between two polls of the operational state.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Files and keys of one test: a lab PKI written to a temporary directory,
/// a client key and the daemon's configuration.
pub struct Lab {
    pub dir: tempfile::TempDir,
    pub pki: LabPki,
    pub client_key: PrivateKey,
}

impl Lab {
    /// Creates a lab PKI whose server certificate names the loopback
    /// addresses 127.0.0.1 to 127.0.0.3 and ::1, so that several lab
    /// servers can stand for different bootstrap servers.
    pub fn new() -> Lab {
        let dir = tempfile::tempdir().expect("temporary directory");
        let addresses = [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)),
            "::1".parse().expect("address"),
        ];
        let pki = LabPki::generate(ESN, &addresses).expect("lab PKI");
        pki.write_to(&dir.path().join("pki"))
            .expect("write lab PKI");
        let keypair = Ed25519Keypair::from_seed(&rand::random::<[u8; 32]>());
        let client_key = PrivateKey::new(keypair.into(), "integration test").expect("client key");
        Lab {
            dir,
            pki,
            client_key,
        }
    }

    /// Directory of the lab PKI files.
    pub fn pki_dir(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    /// Returns the daemon's state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Writes the daemon configuration and returns its path.
    /// `extra_bootstrap` is appended to the `[bootstrap]` table.
    pub fn write_config(&self, extra_bootstrap: &str) -> PathBuf {
        let pki = self.pki_dir();
        let public_key = self
            .client_key
            .public_key()
            .to_openssh()
            .expect("OpenSSH public key");
        let config = format!(
            r#"state-dir = "{state}"

[log]
level = "info,ztpd=debug"

[netconf]
listen = ["127.0.0.1:0"]

[[users]]
name = "{USER}"
password-hash = "{hash}"
authorized-keys = ["{public_key}"]

[device]
esn = "{ESN}"
initial-certificate = "{pki}/device.pem"
initial-key = "{pki}/device.key"

[bootstrap]
trust-anchors = "{pki}/bootstrap-ca.pem"
connect-timeout-secs = 2
request-timeout-secs = 3
{extra_bootstrap}
"#,
            state = self.state_dir().display(),
            hash = cheap_password_hash(PASSWORD),
            pki = pki.display(),
        );
        let path = self.dir.path().join("ztpd.toml");
        std::fs::write(&path, config).expect("write configuration");
        path
    }

    /// Starts a lab bootstrap server on 127.0.0.1 that requires the lab
    /// device certificate and serves the lab NCE CA.
    pub async fn start_bootstrap_server(&self, fault: Option<Fault>) -> LabServerHandle {
        self.start_bootstrap_server_at(IpAddr::V4(Ipv4Addr::LOCALHOST), fault)
            .await
    }

    /// Starts a lab bootstrap server on `address` (any free port).
    pub async fn start_bootstrap_server_at(
        &self,
        address: IpAddr,
        fault: Option<Fault>,
    ) -> LabServerHandle {
        self.start_bootstrap_server_on(SocketAddr::new(address, 0), fault)
            .await
    }

    /// Starts a lab bootstrap server listening on `listen`.
    pub async fn start_bootstrap_server_on(
        &self,
        listen: SocketAddr,
        fault: Option<Fault>,
    ) -> LabServerHandle {
        let pki = self.pki_dir();
        let read = |name: &str| std::fs::read_to_string(pki.join(name)).expect("lab PKI file");
        let settings = LabServerSettings {
            listen,
            cert_pem: read("server.pem"),
            key_pem: read("server.key"),
            client_ca_pem: Some(read("vendor-ca.pem")),
            store_dir: pki.join("store"),
            fault,
        };
        LabServer::bind(settings)
            .await
            .expect("bind lab bootstrap server")
            .spawn()
    }

    /// SHA-256 fingerprint of the NCE CA certificate that the lab server
    /// hands out.
    pub fn nce_fingerprint(&self) -> String {
        let pem = std::fs::read_to_string(self.pki_dir().join("nce-ca.pem")).expect("NCE CA");
        let infos = ztpd::pki::inspect_pem(&pem).expect("NCE CA parses");
        infos[0].fingerprint_sha256.clone()
    }
}

/// Hashes `password` with small argon2 parameters so that debug builds
/// log in quickly; the daemon reads the parameters from the PHC string.
pub fn cheap_password_hash(password: &str) -> String {
    let params = argon2::Params::new(1024, 1, 1, None).expect("argon2 parameters");
    Argon2::from(params)
        .hash_password(password.as_bytes())
        .expect("hash")
        .to_string()
}

/// The `ztpd` binary running as a child process.
pub struct Daemon {
    child: Child,
    pub address: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    /// Starts `ztpd --config CONFIG` and waits until it listens.
    pub fn start(config: &Path) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ztpd"))
            .arg("--config")
            .arg(config)
            .args(["--log-format", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ztpd");
        let stderr = child.stderr.take().expect("stderr pipe");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (address_sender, address_receiver) = mpsc::channel();

        let log_sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                    && event["message"] == "NETCONF server listening"
                    && let Some(address) = event["address"].as_str()
                    && let Ok(address) = address.parse::<SocketAddr>()
                {
                    let _ = address_sender.send(address);
                }
                log_sink.lock().expect("log lock").push(line);
            }
        });

        let address = match address_receiver.recv_timeout(Duration::from_secs(30)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let logs = logs.lock().expect("log lock").join("\n");
                panic!("ztpd did not start listening; its log:\n{logs}");
            }
        };
        Daemon {
            child,
            address,
            logs,
        }
    }

    /// Returns the process id of the daemon.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Returns the log buffer, which keeps filling until the daemon exits.
    pub fn log_buffer(&self) -> Arc<Mutex<Vec<String>>> {
        Arc::clone(&self.logs)
    }

    /// Log lines written so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }

    /// Stops the daemon with SIGTERM and waits for it to exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.terminate()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        // kill(1) sends the signal, so the tests need no libc binding.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return self.child.wait().expect("wait for ztpd");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Accepts any host key: the daemon generated it moments ago in the test's
/// own state directory.
pub struct AcceptHostKey;

impl client::Handler for AcceptHostKey {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// How a test client logs in.
pub enum Login<'a> {
    Password(&'a str),
    Key(&'a PrivateKey),
}

/// Logs in and starts the `netconf` subsystem on a new session channel.
/// Nothing is read or written on the channel yet.
pub async fn open_netconf_channel(
    address: SocketAddr,
    login: Login<'_>,
) -> (client::Handle<AcceptHostKey>, Channel<client::Msg>) {
    // Without TCP_NODELAY, Nagle's algorithm holds back small SSH packets
    // until the peer's delayed ACK, about 40 ms on Linux.
    let config = Arc::new(client::Config {
        nodelay: true,
        ..client::Config::default()
    });
    let mut handle = client::connect(config, address, AcceptHostKey)
        .await
        .expect("SSH connection");
    let result = match login {
        Login::Password(password) => handle.authenticate_password(USER, password).await,
        Login::Key(key) => {
            let hash = handle
                .best_supported_rsa_hash()
                .await
                .ok()
                .flatten()
                .flatten();
            handle
                .authenticate_publickey(
                    USER,
                    PrivateKeyWithHashAlg::new(Arc::new(key.clone()), hash),
                )
                .await
        }
    }
    .expect("authentication exchange");
    assert!(result.success(), "authentication failed");

    let channel = open_netconf_subsystem(&handle).await;
    (handle, channel)
}

/// Opens a session channel on the logged-in connection `handle` and starts
/// the `netconf` subsystem on it.
pub async fn open_netconf_subsystem<H: client::Handler>(
    handle: &client::Handle<H>,
) -> Channel<client::Msg> {
    let mut channel = handle
        .channel_open_session()
        .await
        .expect("session channel");
    channel
        .request_subsystem(true, "netconf")
        .await
        .expect("subsystem request");
    // Bounded so that a server that never replies to the request cannot
    // keep the test waiting on other channel messages.
    for _ in 0..16 {
        match channel.wait().await.expect("subsystem reply") {
            ChannelMsg::Success => return channel,
            ChannelMsg::Failure => panic!("netconf subsystem refused"),
            _ => {}
        }
    }
    panic!("no reply to the netconf subsystem request");
}

/// A NETCONF client session over SSH.
pub struct Netconf {
    _handle: client::Handle<AcceptHostKey>,
    stream: MessageStream<ChannelStream<client::Msg>>,
    next_message_id: u64,
    /// Notifications read while waiting for a reply, oldest first.
    notifications: VecDeque<Element>,
    /// The server's hello.
    pub server_hello: Element,
}

impl Netconf {
    /// Logs in and exchanges hellos, advertising base:1.1 when `chunked`.
    pub async fn connect(address: SocketAddr, login: Login<'_>, chunked: bool) -> Netconf {
        let capabilities = if chunked {
            "<capability>urn:ietf:params:netconf:base:1.0</capability><capability>urn:ietf:params:netconf:base:1.1</capability>"
        } else {
            "<capability>urn:ietf:params:netconf:base:1.0</capability>"
        };
        let client_hello = format!(
            r#"<hello xmlns="{NS_BASE}"><capabilities>{capabilities}</capabilities></hello>"#
        );
        let mut netconf = Netconf::connect_with_hello(address, login, &client_hello).await;
        if chunked {
            netconf.stream.set_framing(Framing::Chunked);
        }
        netconf
    }

    /// Logs in, reads the server hello and sends `client_hello` as it is.
    /// The framing stays end-of-message.
    pub async fn connect_with_hello(
        address: SocketAddr,
        login: Login<'_>,
        client_hello: &str,
    ) -> Netconf {
        let (handle, channel) = open_netconf_channel(address, login).await;
        let mut stream = MessageStream::new(
            channel.into_stream(),
            Framing::EndOfMessage,
            64 * 1024 * 1024,
        );
        let hello = stream
            .read_message()
            .await
            .expect("read hello")
            .expect("server hello");
        let server_hello =
            xml::parse(std::str::from_utf8(&hello).expect("UTF-8")).expect("hello XML");
        stream
            .write_message(client_hello.as_bytes())
            .await
            .expect("send hello");
        Netconf {
            _handle: handle,
            stream,
            next_message_id: 1,
            notifications: VecDeque::new(),
            server_hello,
        }
    }

    /// Returns the session-id of the server hello.
    pub fn session_id(&self) -> u32 {
        text(&self.server_hello, &["session-id"])
            .and_then(|id| id.parse().ok())
            .expect("numeric session-id")
    }

    /// Sends a raw message without waiting for anything.
    pub async fn send(&mut self, message: &str) {
        self.stream
            .write_message(message.as_bytes())
            .await
            .expect("send");
    }

    /// Reads the next raw message; `None` when the server closed the
    /// session.
    pub async fn read_message(&mut self) -> Option<String> {
        self.stream
            .read_message()
            .await
            .expect("read")
            .map(|message| String::from_utf8(message).expect("UTF-8 message"))
    }

    /// Sends a raw message and returns the raw reply. Notifications that
    /// arrive before the reply are kept for
    /// [`Netconf::next_notification`].
    pub async fn exchange(&mut self, message: &str) -> String {
        self.send(message).await;
        loop {
            let reply = self.read_message().await.expect("reply before EOF");
            match xml::parse(&reply) {
                Ok(parsed) if parsed.is(NS_NOTIFICATION, "notification") => {
                    self.notifications.push_back(parsed);
                }
                _ => return reply,
            }
        }
    }

    /// Returns the next notification, waiting up to `wait` for it. Fails the
    /// test on a timeout or when another message comes first.
    pub async fn next_notification(&mut self, wait: Duration) -> Element {
        if let Some(notification) = self.notifications.pop_front() {
            return notification;
        }
        let message = tokio::time::timeout(wait, self.read_message())
            .await
            .unwrap_or_else(|_| panic!("no notification within {wait:?}"))
            .expect("notification before EOF");
        let parsed = xml::parse(&message).expect("notification XML");
        assert!(
            parsed.is(NS_NOTIFICATION, "notification"),
            "expected a notification, got {message}"
        );
        parsed
    }

    /// Asserts that no message arrives within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        assert!(
            self.notifications.is_empty(),
            "unexpected notification {:?}",
            self.notifications.front()
        );
        if let Ok(message) = tokio::time::timeout(wait, self.read_message()).await {
            panic!("expected no message within {wait:?}, got {message:?}");
        }
    }

    /// Sends `operation` in an `<rpc>` with the next message-id and returns
    /// the parsed reply.
    pub async fn rpc(&mut self, operation: &str) -> Element {
        let message_id = self.next_message_id;
        self.next_message_id += 1;
        let message =
            format!(r#"<rpc xmlns="{NS_BASE}" message-id="{message_id}">{operation}</rpc>"#);
        let reply = self.exchange(&message).await;
        let parsed = xml::parse(&reply).expect("reply XML");
        assert!(parsed.is(NS_BASE, "rpc-reply"), "not an rpc-reply: {reply}");
        assert_eq!(
            parsed.attribute("message-id"),
            Some(message_id.to_string().as_str())
        );
        parsed
    }

    /// Sends `operation` and returns the reply, or `None` when the session
    /// is closed or sends no reply within a few seconds.
    pub async fn try_rpc(&mut self, operation: &str) -> Option<String> {
        let message_id = self.next_message_id;
        self.next_message_id += 1;
        let message =
            format!(r#"<rpc xmlns="{NS_BASE}" message-id="{message_id}">{operation}</rpc>"#);
        let exchange = async {
            self.stream.write_message(message.as_bytes()).await.ok()?;
            let reply = self.stream.read_message().await.ok()??;
            String::from_utf8(reply).ok()
        };
        tokio::time::timeout(Duration::from_secs(5), exchange)
            .await
            .ok()
            .flatten()
    }

    /// Sends `operation` and asserts that the reply is `<ok/>`.
    pub async fn rpc_ok(&mut self, operation: &str) {
        let reply = self.rpc(operation).await;
        assert!(
            reply.child(NS_BASE, "ok").is_some(),
            "expected <ok/>, got {reply:?}"
        );
    }

    /// `edit-config` of `config` into `target`.
    pub async fn edit(&mut self, target: &str, config: &str) -> Element {
        self.rpc(&format!(
            "<edit-config><target><{target}/></target><config>{config}</config></edit-config>"
        ))
        .await
    }

    /// `get` with a subtree `filter`; returns `<data>`.
    pub async fn get(&mut self, filter: &str) -> Element {
        let reply = self
            .rpc(&format!(
                r#"<get><filter type="subtree">{filter}</filter></get>"#
            ))
            .await;
        reply
            .child(NS_BASE, "data")
            .cloned()
            .expect("reply carries data")
    }

    /// Reads the operational state until `certificate-status` is one of
    /// `expected`, and returns the state container.
    pub async fn wait_for_status(&mut self, expected: &[&str]) -> Element {
        let deadline = Instant::now() + DOWNLOAD_WAIT;
        loop {
            let data = self
                .get(&format!(
                    r#"<ztp xmlns="{NS_ZTP}"><certificate-remote-state/></ztp>"#
                ))
                .await;
            let state = find(&data, &["ztp", "certificate-remote-state"])
                .cloned()
                .unwrap_or_default();
            let status = text(&state, &["certificate-status"]).unwrap_or_default();
            if expected.contains(&status.as_str()) {
                return state;
            }
            assert!(
                Instant::now() < deadline,
                "certificate-status stayed {status:?}, expected one of {expected:?}; state: {state:?}"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

/// Creates a lab, starts the daemon with its configuration and logs one
/// client in with the lab key.
pub async fn start_daemon_with_client() -> (Lab, Daemon, Netconf) {
    let lab = Lab::new();
    let daemon = Daemon::start(&lab.write_config(""));
    let client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
    (lab, daemon, client)
}

/// Like [`start_daemon_with_client`], plus a second client that logs in
/// with the lab password, so that tests of two sessions can tell them
/// apart.
pub async fn start_daemon_with_two_clients() -> (Lab, Daemon, Netconf, Netconf) {
    let (lab, daemon, key_client) = start_daemon_with_client().await;
    let password_client = Netconf::connect(daemon.address, Login::Password(PASSWORD), true).await;
    (lab, daemon, key_client, password_client)
}

/// Configuration of the lab SSL policy.
pub fn policy_config(name: &str) -> String {
    format!(
        r#"<ssl xmlns="{NS_SSL}"><ssl-policies><ssl-policy><policy-name>{name}</policy-name><pki-domain>default</pki-domain></ssl-policy></ssl-policies></ssl>"#
    )
}

/// Returns one `certificate-remote` entry.
pub fn server_entry(address: &str, port: u16, policy: &str, verify_type: Option<&str>) -> String {
    let verify = verify_type
        .map(|value| format!("<verify-type>{value}</verify-type>"))
        .unwrap_or_default();
    format!(
        "<certificate-remote><address>{address}</address><vpn-instance>_public_</vpn-instance><port>{port}</port><ssl-policy>{policy}</ssl-policy>{verify}</certificate-remote>"
    )
}

/// Returns a `ztp` container with `entries` inside.
pub fn ztp_config(entries: &str) -> String {
    format!(r#"<ztp xmlns="{NS_ZTP}">{entries}</ztp>"#)
}

/// Follows child elements by local name.
pub fn find<'a>(element: &'a Element, path: &[&str]) -> Option<&'a Element> {
    let mut current = element;
    for name in path {
        current = current.children.iter().find(|child| child.name == *name)?;
    }
    Some(current)
}

/// Text of the element at `path` below `element`.
pub fn text(element: &Element, path: &[&str]) -> Option<String> {
    find(element, path).map(|found| found.trimmed_text().to_owned())
}

/// Returns the event element of a `<notification>`, its child after
/// `eventTime`.
pub fn event(notification: &Element) -> &Element {
    notification
        .children
        .iter()
        .find(|child| !child.is(NS_NOTIFICATION, "eventTime"))
        .expect("notification carries an event")
}

/// Returns the `eventTime` of a `<notification>`.
pub fn event_time(notification: &Element) -> String {
    notification
        .child(NS_NOTIFICATION, "eventTime")
        .map(|time| time.trimmed_text().to_owned())
        .expect("notification carries an eventTime")
}

/// Returns every `rpc-error` of a reply.
pub fn rpc_errors(reply: &Element) -> Vec<&Element> {
    reply
        .children
        .iter()
        .filter(|child| child.is(NS_BASE, "rpc-error"))
        .collect()
}

/// Runs `test` with [`TEST_TIMEOUT`].
pub async fn with_timeout<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_TIMEOUT, test)
        .await
        .expect("test finished in time");
}
