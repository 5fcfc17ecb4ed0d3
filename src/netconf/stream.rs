//! Framed NETCONF message I/O on an async byte stream.
//!
//! [`MessageStream`] owns the byte stream of one NETCONF session (an SSH
//! channel in production, an in-memory pipe in tests), the framing decoder
//! for what the peer sends and the buffer for what the session sends.
//! [`MessageStream::into_split`] turns it into a [`MessageReader`] and a
//! [`MessageWriter`], so that one task can read requests while another
//! writes replies and notifications.

#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use super::framing::{self, Decoder, Framing, FramingError};

/// Bytes requested from the byte stream per read. A read on an SSH channel
/// returns at most one channel data packet, which russh 0.65 limits to
/// 32 KiB by default. 16 KiB takes such a packet in one or two reads and
/// keeps the buffer of each session small.
pub const READ_BUFFER_SIZE: usize = 16 * 1024;

/// Errors of reading a message.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("failed to read a NETCONF message: {0}")]
    Io(#[from] io::Error),
    /// See [`FramingError`]: after `TooBig` the stream can go on, after
    /// `Malformed` it cannot.
    #[error(transparent)]
    Framing(#[from] FramingError),
    #[error("the peer closed the session in the middle of a message")]
    Truncated,
}

/// Reads and writes whole NETCONF messages on a byte stream.
pub struct MessageStream<S> {
    io: S,
    decoder: Decoder,
    /// Framing of outgoing messages, switched together with the decoder's.
    framing: Framing,
    read_buffer: Box<[u8]>,
    write_buffer: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> MessageStream<S> {
    /// Creates a stream that reads and writes with `framing` and rejects
    /// incoming messages longer than `max_message_size` bytes.
    pub fn new(io: S, framing: Framing, max_message_size: usize) -> Self {
        Self::with_decoder(io, Decoder::new(framing, max_message_size))
    }

    /// Creates an end-of-message framed stream for the start of a session,
    /// whose first incoming message may be a chunked hello (see
    /// [`Decoder::new_for_hello`]).
    pub fn new_for_hello(io: S, max_message_size: usize) -> Self {
        Self::with_decoder(io, Decoder::new_for_hello(max_message_size))
    }

    fn with_decoder(io: S, decoder: Decoder) -> Self {
        MessageStream {
            io,
            framing: decoder.framing(),
            decoder,
            read_buffer: vec![0; READ_BUFFER_SIZE].into_boxed_slice(),
            write_buffer: Vec::new(),
        }
    }

    /// Returns the framing of the following messages in both directions.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Switches the framing of both directions, as after a hello exchange
    /// in which both peers advertise `base:1.1`. Input that is already
    /// received but not yet returned is decoded with the new framing.
    pub fn set_framing(&mut self, framing: Framing) {
        self.framing = framing;
        self.decoder.set_framing(framing);
    }

    /// Returns the framing of the message that
    /// [`MessageStream::read_message`] returned last (see [`Decoder::last_message_framing`]).
    pub fn last_message_framing(&self) -> Option<Framing> {
        self.decoder.last_message_framing()
    }

    /// Returns the first bytes of the message that
    /// [`MessageStream::read_message`] last reported as too big (see
    /// [`Decoder::take_too_big_prefix`]).
    pub fn take_too_big_prefix(&mut self) -> Vec<u8> {
        self.decoder.take_too_big_prefix()
    }

    /// Reads the next message.
    ///
    /// Returns `Ok(None)` when the peer closed the stream between messages.
    /// After `Err(StreamError::Framing(FramingError::TooBig { .. }))` the
    /// next call returns the message after the one that was too big.
    ///
    /// This method is cancel-safe: when its future is dropped, bytes that
    /// were read stay buffered for the next call.
    pub async fn read_message(&mut self) -> Result<Option<Vec<u8>>, StreamError> {
        read_message(&mut self.io, &mut self.decoder, &mut self.read_buffer).await
    }

    /// Encodes `message` in the current framing, writes it and flushes.
    ///
    /// Not cancel-safe: a dropped future may leave part of the message
    /// written, after which the session cannot go on.
    pub async fn write_message(&mut self, message: &[u8]) -> io::Result<()> {
        write_message(&mut self.io, self.framing, &mut self.write_buffer, message).await
    }

    /// Shuts down the write side of the byte stream; on an SSH channel this
    /// sends EOF.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.io.shutdown().await
    }

    /// Returns a reference to the byte stream.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Returns the byte stream. Received input that was not yet returned as
    /// a message is lost.
    pub fn into_inner(self) -> S {
        self.io
    }

    /// Splits the stream into a reader and a writer that can be used from
    /// different tasks. Both keep the current framing, and the reader keeps
    /// the input that is received but not yet returned.
    pub fn into_split(self) -> (MessageReader<ReadHalf<S>>, MessageWriter<WriteHalf<S>>) {
        let (read_half, write_half) = tokio::io::split(self.io);
        let reader = MessageReader {
            io: read_half,
            decoder: self.decoder,
            read_buffer: self.read_buffer,
        };
        let writer = MessageWriter {
            io: write_half,
            framing: self.framing,
            write_buffer: self.write_buffer,
        };
        (reader, writer)
    }
}

/// The reading half of a split [`MessageStream`].
pub struct MessageReader<R> {
    io: R,
    decoder: Decoder,
    read_buffer: Box<[u8]>,
}

impl<R: AsyncRead + Unpin> MessageReader<R> {
    /// Reads the next message, as [`MessageStream::read_message`] does, and
    /// is cancel-safe in the same way.
    pub async fn read_message(&mut self) -> Result<Option<Vec<u8>>, StreamError> {
        read_message(&mut self.io, &mut self.decoder, &mut self.read_buffer).await
    }

    /// Returns the first bytes of the message that
    /// [`MessageReader::read_message`] last reported as too big.
    pub fn take_too_big_prefix(&mut self) -> Vec<u8> {
        self.decoder.take_too_big_prefix()
    }
}

/// The writing half of a split [`MessageStream`].
pub struct MessageWriter<W> {
    io: W,
    framing: Framing,
    write_buffer: Vec<u8>,
}

impl<W: AsyncWrite + Unpin> MessageWriter<W> {
    /// Encodes `message` in the framing of the stream it was split from,
    /// writes it and flushes. Not cancel-safe, as
    /// [`MessageStream::write_message`].
    pub async fn write_message(&mut self, message: &[u8]) -> io::Result<()> {
        write_message(&mut self.io, self.framing, &mut self.write_buffer, message).await
    }

    /// Shuts down the write side of the byte stream; on an SSH channel this
    /// sends EOF.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.io.shutdown().await
    }
}

async fn read_message<R: AsyncRead + Unpin>(
    io: &mut R,
    decoder: &mut Decoder,
    read_buffer: &mut [u8],
) -> Result<Option<Vec<u8>>, StreamError> {
    loop {
        if let Some(message) = decoder.next_message()? {
            return Ok(Some(message));
        }
        let length = io.read(read_buffer).await?;
        if length == 0 {
            if decoder.is_mid_message() {
                return Err(StreamError::Truncated);
            }
            return Ok(None);
        }
        decoder.feed(read_buffer.get(..length).unwrap_or_default());
    }
}

async fn write_message<W: AsyncWrite + Unpin>(
    io: &mut W,
    framing: Framing,
    write_buffer: &mut Vec<u8>,
    message: &[u8],
) -> io::Result<()> {
    write_buffer.clear();
    framing::encode(framing, message, write_buffer);
    io.write_all(write_buffer).await?;
    io.flush().await?;
    write_buffer.clear();
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
mod tests {
    use super::*;

    const MAX: usize = 4096;

    #[tokio::test]
    async fn reads_end_of_message_framed_messages() {
        let (mut peer, local) = tokio::io::duplex(64);
        let mut stream = MessageStream::new(local, Framing::EndOfMessage, MAX);
        let writer = tokio::spawn(async move {
            peer.write_all(b"<a/>]]>]]><b/>]]>]]>")
                .await
                .expect("write");
            peer
        });
        assert_eq!(
            stream.read_message().await.expect("a"),
            Some(b"<a/>".to_vec())
        );
        assert_eq!(
            stream.read_message().await.expect("b"),
            Some(b"<b/>".to_vec())
        );
        drop(writer.await.expect("writer"));
        assert_eq!(stream.read_message().await.expect("eof"), None);
    }

    #[tokio::test]
    async fn reads_message_larger_than_read_buffer() {
        let (mut peer, local) = tokio::io::duplex(1024);
        let body = vec![b'x'; READ_BUFFER_SIZE * 3 + 17];
        let mut framed = Vec::new();
        framing::encode(Framing::Chunked, &body, &mut framed);
        let writer = tokio::spawn(async move {
            // Small writes split the message at arbitrary points.
            for piece in framed.chunks(1000) {
                peer.write_all(piece).await.expect("write");
            }
            peer
        });
        let mut stream = MessageStream::new(local, Framing::Chunked, body.len());
        assert_eq!(stream.read_message().await.expect("message"), Some(body));
        drop(writer.await.expect("writer"));
    }

    #[tokio::test]
    async fn writes_in_current_framing() {
        let (mut peer, local) = tokio::io::duplex(1024);
        let mut stream = MessageStream::new_for_hello(local, MAX);
        stream.write_message(b"<hello/>").await.expect("hello");
        stream.set_framing(Framing::Chunked);
        stream.write_message(b"<ok/>").await.expect("reply");
        drop(stream);
        let mut written = Vec::new();
        peer.read_to_end(&mut written).await.expect("read");
        assert_eq!(written, b"<hello/>]]>]]>\n#5\n<ok/>\n##\n");
    }

    #[tokio::test]
    async fn hello_then_chunked_in_one_write() {
        let (mut peer, local) = tokio::io::duplex(1024);
        peer.write_all(b"<hello/>]]>]]>\n#6\n<rpc/>\n##\n")
            .await
            .expect("write");
        let mut stream = MessageStream::new_for_hello(local, MAX);
        assert_eq!(
            stream.read_message().await.expect("hello"),
            Some(b"<hello/>".to_vec())
        );
        stream.set_framing(Framing::Chunked);
        assert_eq!(
            stream.read_message().await.expect("rpc"),
            Some(b"<rpc/>".to_vec())
        );
    }

    #[tokio::test]
    async fn too_big_then_next_message() {
        let (mut peer, local) = tokio::io::duplex(1024);
        let mut input = vec![b'x'; 100];
        input.extend_from_slice(b"]]>]]><ok/>]]>]]>");
        peer.write_all(&input).await.expect("write");
        drop(peer);
        let mut stream = MessageStream::new(local, Framing::EndOfMessage, 50);
        let err = stream.read_message().await.expect_err("too big");
        assert!(
            matches!(
                err,
                StreamError::Framing(FramingError::TooBig { limit: 50 })
            ),
            "{err:?}"
        );
        assert_eq!(
            stream.read_message().await.expect("next"),
            Some(b"<ok/>".to_vec())
        );
        assert_eq!(stream.read_message().await.expect("eof"), None);
    }

    #[tokio::test]
    async fn eof_mid_message_is_truncated() {
        let (mut peer, local) = tokio::io::duplex(1024);
        peer.write_all(b"\n#10\n<rpc").await.expect("write");
        drop(peer);
        let mut stream = MessageStream::new(local, Framing::Chunked, MAX);
        let err = stream.read_message().await.expect_err("truncated");
        assert!(matches!(err, StreamError::Truncated), "{err:?}");
    }

    #[tokio::test]
    async fn eof_after_trailing_newline_is_clean() {
        let (mut peer, local) = tokio::io::duplex(1024);
        peer.write_all(b"\n#4\n<a/>\n##\n\n").await.expect("write");
        drop(peer);
        let mut stream = MessageStream::new(local, Framing::Chunked, MAX);
        assert_eq!(
            stream.read_message().await.expect("a"),
            Some(b"<a/>".to_vec())
        );
        assert_eq!(stream.read_message().await.expect("eof"), None);
    }

    #[tokio::test]
    async fn malformed_framing_is_reported() {
        let (mut peer, local) = tokio::io::duplex(1024);
        peer.write_all(b"\n#0\n").await.expect("write");
        let mut stream = MessageStream::new(local, Framing::Chunked, MAX);
        let err = stream.read_message().await.expect_err("malformed");
        assert!(
            matches!(err, StreamError::Framing(FramingError::Malformed(_))),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn split_keeps_framing_and_buffered_input() {
        let (mut peer, local) = tokio::io::duplex(1024);
        // The client's hello and its first chunked request arrive together.
        peer.write_all(b"<hello/>]]>]]>\n#6\n<rpc/>\n##\n")
            .await
            .expect("write");
        let mut stream = MessageStream::new_for_hello(local, MAX);
        assert_eq!(
            stream.read_message().await.expect("hello"),
            Some(b"<hello/>".to_vec())
        );
        stream.set_framing(Framing::Chunked);

        let (mut reader, mut writer) = stream.into_split();
        assert_eq!(
            reader.read_message().await.expect("rpc"),
            Some(b"<rpc/>".to_vec())
        );
        writer.write_message(b"<ok/>").await.expect("reply");
        writer.shutdown().await.expect("shutdown");
        let mut written = Vec::new();
        peer.read_to_end(&mut written).await.expect("read");
        assert_eq!(written, b"\n#5\n<ok/>\n##\n");
    }

    #[tokio::test]
    async fn read_is_cancel_safe() {
        let (mut peer, local) = tokio::io::duplex(1024);
        let mut stream = MessageStream::new(local, Framing::EndOfMessage, MAX);
        peer.write_all(b"<a").await.expect("write");
        let timed_out =
            tokio::time::timeout(std::time::Duration::from_millis(50), stream.read_message()).await;
        assert!(timed_out.is_err(), "no complete message yet");
        peer.write_all(b"/>]]>]]>").await.expect("write");
        assert_eq!(
            stream.read_message().await.expect("a"),
            Some(b"<a/>".to_vec())
        );
    }
}
