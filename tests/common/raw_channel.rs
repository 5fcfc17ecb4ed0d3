//! A NETCONF subsystem channel driven at the byte level: the test writes
//! exactly the bytes it chooses, split where it chooses, and reads the
//! server's bytes with its own framing parser, so that framing faults of
//! either side show.

use std::net::SocketAddr;
use std::time::Duration;

use russh::keys::PrivateKey;
use russh::{ChannelStream, client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ztpd::netconf::xml::{self, Element};

use super::{AcceptHostKey, Login, NS_BASE, open_netconf_channel};

/// Bytes read from the channel per read call.
const READ_SIZE: usize = 64 * 1024;

/// Pause after each write of [`RawChannel::write_pieces`], so that each
/// piece reaches the server as a separate SSH data packet and read.
const PIECE_PAUSE: Duration = Duration::from_millis(5);

/// Base capabilities of a client hello.
pub const HELLO_1_0: &str = "<capability>urn:ietf:params:netconf:base:1.0</capability>";
pub const HELLO_1_1: &str = "<capability>urn:ietf:params:netconf:base:1.0</capability><capability>urn:ietf:params:netconf:base:1.1</capability>";

/// The `netconf` subsystem channel of one SSH connection, without any
/// framing.
pub struct RawChannel {
    _handle: client::Handle<AcceptHostKey>,
    stream: ChannelStream<client::Msg>,
    /// Bytes received and not yet consumed.
    received: Vec<u8>,
    eof: bool,
}

impl RawChannel {
    /// Logs in with `key` and starts the `netconf` subsystem. Nothing is
    /// read or written yet.
    pub async fn open(address: SocketAddr, key: &PrivateKey) -> RawChannel {
        let (handle, channel) = open_netconf_channel(address, Login::Key(key)).await;
        RawChannel {
            _handle: handle,
            stream: channel.into_stream(),
            received: Vec::new(),
            eof: false,
        }
    }

    /// Opens a channel, reads the server hello in end-of-message framing
    /// and sends a client hello with `capabilities` in the same framing.
    /// Returns the channel and the parsed server hello.
    pub async fn open_with_hello(
        address: SocketAddr,
        key: &PrivateKey,
        capabilities: &str,
    ) -> (RawChannel, Element) {
        let mut channel = RawChannel::open(address, key).await;
        let hello = channel.read_end_of_message().await;
        let hello = xml::parse(&hello).expect("server hello is XML");
        channel.write(client_hello(capabilities).as_bytes()).await;
        channel.write(b"]]>]]>").await;
        (channel, hello)
    }

    /// Writes `bytes` in one write and flushes.
    pub async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    /// Writes each piece with its own write and flush, pausing between
    /// them.
    pub async fn write_pieces(&mut self, pieces: &[&[u8]]) {
        for piece in pieces {
            self.write(piece).await;
            tokio::time::sleep(PIECE_PAUSE).await;
        }
    }

    /// Writes `bytes` one byte per write.
    pub async fn write_bytewise(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write(std::slice::from_ref(byte)).await;
        }
    }

    /// Reads until `received` contains at least `count` bytes. Returns false
    /// at end of input before that.
    async fn fill(&mut self, count: usize) -> bool {
        let mut buffer = vec![0; READ_SIZE];
        while self.received.len() < count {
            if self.eof {
                return false;
            }
            let read = self.stream.read(&mut buffer).await.expect("read");
            if read == 0 {
                self.eof = true;
            } else {
                self.received.extend_from_slice(&buffer[..read]);
            }
        }
        true
    }

    /// Reads one end-of-message framed message and returns it without the
    /// delimiter.
    pub async fn read_end_of_message(&mut self) -> String {
        let mut searched = 0;
        loop {
            if let Some(at) = self.received[searched..]
                .windows(6)
                .position(|window| window == b"]]>]]>")
            {
                let end = searched + at;
                let message = self.received[..end].to_vec();
                self.received.drain(..end + 6);
                return String::from_utf8(message).expect("UTF-8 message");
            }
            searched = self.received.len().saturating_sub(5);
            let needed = self.received.len() + 1;
            assert!(
                self.fill(needed).await,
                "end of input before ]]>]]>; received {:?}",
                String::from_utf8_lossy(&self.received)
            );
        }
    }

    /// Reads one chunked message, checking the framing strictly (RFC 6242
    /// section 4.2: no bytes between chunks), and returns its data.
    pub async fn read_chunked(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            assert!(self.fill(4).await, "end of input before a chunk header");
            assert_eq!(&self.received[..2], b"\n#", "chunk header expected");
            if &self.received[2..4] == b"#\n" {
                self.received.drain(..4);
                break;
            }
            let newline = loop {
                if let Some(at) = self.received[2..].iter().position(|byte| *byte == b'\n') {
                    break at + 2;
                }
                let needed = self.received.len() + 1;
                assert!(self.fill(needed).await, "end of input in a chunk header");
            };
            let digits = std::str::from_utf8(&self.received[2..newline]).expect("ASCII");
            assert!(
                !digits.starts_with('0') && digits.len() <= 10,
                "invalid chunk-size {digits:?}"
            );
            let size: usize = digits.parse().expect("decimal chunk-size");
            assert!(size >= 1, "chunk-size 0");
            self.received.drain(..newline + 1);
            assert!(self.fill(size).await, "end of input in chunk data");
            message.extend(self.received.drain(..size));
        }
        String::from_utf8(message).expect("UTF-8 message")
    }

    /// Reads until the server closes the channel and returns what arrived.
    pub async fn read_to_end(&mut self) -> Vec<u8> {
        while self.fill(self.received.len() + 1).await {}
        std::mem::take(&mut self.received)
    }
}

/// Returns a client hello with the given `<capability>` elements, unframed.
pub fn client_hello(capabilities: &str) -> String {
    format!(r#"<hello xmlns="{NS_BASE}"><capabilities>{capabilities}</capabilities></hello>"#)
}

/// Frames `message` as one chunk.
pub fn chunk(message: &str) -> Vec<u8> {
    let mut framed = format!("\n#{}\n", message.len()).into_bytes();
    framed.extend_from_slice(message.as_bytes());
    framed.extend_from_slice(b"\n##\n");
    framed
}

/// Parses a reply and checks that it is an `rpc-reply` in the base
/// namespace.
pub fn parse_reply(reply: &str) -> Element {
    let parsed = xml::parse(reply).expect("reply is XML");
    assert!(parsed.is(NS_BASE, "rpc-reply"), "not an rpc-reply: {reply}");
    parsed
}
