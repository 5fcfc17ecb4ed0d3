//! The single writer of a session's outgoing messages.
//!
//! Replies and notifications come from different tasks: the request loop
//! and the session's subscription. Both hand whole messages to an
//! [`Output`], and one writer task writes them to the client in queue order,
//! so a notification never lands in the middle of a reply.
//!
//! ```text
//! request loop ──reply────────┐
//!                             ├─▶ queue ─▶ writer task ─▶ MessageWriter
//! subscription ──notification─┘
//! ```

#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::io;
use std::time::Duration;

use tokio::io::AsyncWrite;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::stream::MessageWriter;

/// Messages queued for the writer task. A sender waits while the queue is
/// full. That only happens when the client reads slower than the server
/// writes, and then the request loop stops reading requests, as it would
/// with direct writes.
pub const OUTPUT_QUEUE_DEPTH: usize = 16;

/// Time the writer gets at the end of a session to write what is queued
/// (the `close-session` reply, for example) and send EOF. A client that
/// stopped reading cannot hold the session open for longer.
pub const OUTPUT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The sending side of a session's output queue. Cloned into every task
/// that writes to the client.
#[derive(Debug, Clone)]
pub struct Output {
    sender: mpsc::Sender<String>,
}

/// The writer task has ended, because writing to the client failed or the
/// session is ending. [`OutputTask::finish`] returns the write error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the session's output is closed")]
pub struct OutputClosed;

impl Output {
    /// Queues a whole message for the client. Waits while the queue is full.
    pub async fn send(&self, message: String) -> Result<(), OutputClosed> {
        self.sender.send(message).await.map_err(|_| OutputClosed)
    }
}

/// The writer task of one session.
#[derive(Debug)]
pub struct OutputTask {
    handle: JoinHandle<io::Result<()>>,
}

/// Starts the writer task for `writer` and returns the queue that feeds it.
pub fn spawn<W>(writer: MessageWriter<W>) -> (Output, OutputTask)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (sender, queue) = mpsc::channel(OUTPUT_QUEUE_DEPTH);
    let handle = tokio::spawn(write_queued(writer, queue));
    (Output { sender }, OutputTask { handle })
}

impl OutputTask {
    /// Waits until every queued message is written and EOF is sent, which
    /// happens once every [`Output`] is dropped. Gives up after
    /// [`OUTPUT_DRAIN_TIMEOUT`]. Returns the error that ended the writer
    /// early, if any.
    pub async fn finish(mut self) -> io::Result<()> {
        match tokio::time::timeout(OUTPUT_DRAIN_TIMEOUT, &mut self.handle).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => Err(io::Error::other(format!(
                "the session's writer task failed: {join_error}"
            ))),
            Err(_) => {
                self.handle.abort();
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the client did not read the last messages within {OUTPUT_DRAIN_TIMEOUT:?}"
                    ),
                ))
            }
        }
    }
}

async fn write_queued<W>(
    mut writer: MessageWriter<W>,
    mut queue: mpsc::Receiver<String>,
) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    while let Some(message) = queue.recv().await {
        writer.write_message(message.as_bytes()).await?;
    }
    writer.shutdown().await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::netconf::framing::Framing;
    use crate::netconf::stream::MessageStream;

    #[tokio::test]
    async fn messages_written_whole_in_queue_order() {
        let (mut peer, local) = tokio::io::duplex(64 * 1024);
        let stream = MessageStream::new(local, Framing::Chunked, 4096);
        let (_reader, writer) = stream.into_split();
        let (output, task) = spawn(writer);

        let replies = output.clone();
        let notifications = output.clone();
        drop(output);
        let reply_task = tokio::spawn(async move {
            for index in 0..50 {
                replies
                    .send(format!("<reply n=\"{index}\"/>"))
                    .await
                    .expect("queued");
            }
        });
        let notification_task = tokio::spawn(async move {
            for index in 0..50 {
                notifications
                    .send(format!("<notification n=\"{index}\"/>"))
                    .await
                    .expect("queued");
            }
        });
        reply_task.await.expect("reply task");
        notification_task.await.expect("notification task");
        task.finish().await.expect("written");

        let mut written = Vec::new();
        peer.read_to_end(&mut written).await.expect("read");
        let mut decoder = crate::netconf::framing::Decoder::new(Framing::Chunked, 4096);
        decoder.feed(&written);
        let mut replies = 0;
        let mut notifications = 0;
        while let Some(message) = decoder.next_message().expect("well framed") {
            let text = String::from_utf8(message).expect("UTF-8");
            if text.starts_with("<reply") {
                assert_eq!(text, format!("<reply n=\"{replies}\"/>"));
                replies += 1;
            } else {
                assert_eq!(text, format!("<notification n=\"{notifications}\"/>"));
                notifications += 1;
            }
        }
        assert_eq!((replies, notifications), (50, 50));
    }

    #[tokio::test]
    async fn send_fails_after_write_error() {
        let (peer, local) = tokio::io::duplex(64);
        drop(peer);
        let stream = MessageStream::new(local, Framing::EndOfMessage, 4096);
        let (_reader, writer) = stream.into_split();
        let (output, task) = spawn(writer);
        // The first write fails because the peer is gone, which ends the
        // writer; a later send then fails.
        let _ = output.send("<a/>".into()).await;
        let mut closed = false;
        for _ in 0..100 {
            if output.send("<b/>".into()).await.is_err() {
                closed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(closed, "sends keep succeeding after the peer is gone");
        drop(output);
        assert!(task.finish().await.is_err());
    }
}
