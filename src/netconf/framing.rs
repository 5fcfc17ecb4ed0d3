//! NETCONF message framing over SSH (RFC 6242, section 4).
//!
//! This module owns the byte-level framing only: splitting an input byte
//! stream into NETCONF messages and encoding outgoing messages. It does no
//! I/O, so every split of the input can be tested on byte vectors.
//!
//! Two framings exist. `base:1.0` peers end each message with `]]>]]>`
//! (end-of-message framing). `base:1.1` peers send each message as one or
//! more chunks `\n#<chunk-size>\n<data>` followed by `\n##\n` (chunked
//! framing). Hello messages always use end-of-message framing, and both
//! peers switch to chunked framing after the hello exchange when both
//! advertise `base:1.1`.

#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

/// The delimiter that ends a message in end-of-message framing.
pub const END_OF_MESSAGE: &[u8] = b"]]>]]>";

/// Largest chunk-size that RFC 6242 allows (section 4.2).
pub const MAX_CHUNK_SIZE: u32 = 4_294_967_295;

/// Maximum number of digits of a chunk-size: `MAX_CHUNK_SIZE` has 10.
const MAX_CHUNK_SIZE_DIGITS: usize = 10;

/// Bytes kept from the start of a message that is too big, so that the
/// session can echo the attributes of its `<rpc>` start tag (the
/// `message-id`) in the `too-big` reply. A start tag with its namespace
/// declarations takes a few hundred bytes.
pub const TOO_BIG_PREFIX_SIZE: usize = 4096;

/// Maximum size of the chunks that [`encode`] emits. Larger messages are
/// split into several chunks.
pub const ENCODE_CHUNK_SIZE: usize = 64 * 1024;

/// The framing of NETCONF messages on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `base:1.0`: each message ends with `]]>]]>`.
    EndOfMessage,
    /// `base:1.1`: each message is a sequence of chunks ending with `\n##\n`.
    Chunked,
}

/// Errors of decoding framed input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A message exceeds the maximum message size. The decoder skips the
    /// rest of that message, so the session can reply with a `too-big`
    /// rpc-error and read the next message.
    #[error("message exceeds the maximum message size of {limit} bytes")]
    TooBig { limit: usize },
    /// The chunked framing is invalid. The decoder cannot find the next
    /// message boundary, so the session has to close.
    #[error("invalid chunked framing: {0}")]
    Malformed(String),
}

/// Appends `message` to `out` in the given framing.
///
/// The caller must pass well-formed XML: in end-of-message framing a
/// message that contains `]]>]]>` would end early at the peer. Chunked
/// framing has no encoding for an empty message (a chunk-size is at least
/// 1), so an empty message appends nothing.
pub fn encode(framing: Framing, message: &[u8], out: &mut Vec<u8>) {
    match framing {
        Framing::EndOfMessage => {
            out.extend_from_slice(message);
            out.extend_from_slice(END_OF_MESSAGE);
        }
        Framing::Chunked => {
            if message.is_empty() {
                return;
            }
            for chunk in message.chunks(ENCODE_CHUNK_SIZE) {
                out.extend_from_slice(format!("\n#{}\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
            }
            out.extend_from_slice(b"\n##\n");
        }
    }
}

/// Incremental decoder of framed NETCONF messages.
///
/// The caller appends input with [`Decoder::feed`] and takes complete
/// messages with [`Decoder::next_message`] until it returns `Ok(None)`.
/// The decoder keeps its parse position between calls, so each input byte
/// is examined a bounded number of times however the input is split.
#[derive(Debug)]
pub struct Decoder {
    /// Input that is not yet consumed starts at `start`. Consumed bytes are
    /// removed when more input arrives, so that taking many messages out of
    /// one read does not shift the buffer each time.
    buffer: Vec<u8>,
    start: usize,
    framing: Framing,
    max_message_size: usize,
    /// Whether the next message may be a chunked hello (see
    /// [`Decoder::new_for_hello`]).
    detect_chunked_hello: bool,
    last_message_framing: Option<Framing>,
    /// The first bytes of the last message reported as too big.
    too_big_prefix: Vec<u8>,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Between messages.
    Idle,
    /// Inside an end-of-message framed message whose bytes stay in the
    /// input buffer. `scanned` bytes of it are known not to start the
    /// delimiter. `discarding` is set after the message was reported as
    /// too big.
    EndOfMessage { scanned: usize, discarding: bool },
    /// Inside a chunked message. Chunk data is moved into `message` as it
    /// arrives; of a message that is too big, only its first
    /// [`TOO_BIG_PREFIX_SIZE`] bytes.
    Chunked {
        message: Vec<u8>,
        phase: ChunkPhase,
        has_chunk: bool,
        discard: Discard,
    },
    /// The framing was invalid. Every later call returns this error.
    Failed(String),
}

impl State {
    fn new_chunked() -> State {
        State::Chunked {
            message: Vec::new(),
            phase: ChunkPhase::Header,
            has_chunk: false,
            discard: Discard::No,
        }
    }
}

/// Handling of a chunked message that may be too big.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Discard {
    /// The message is within the maximum size and kept.
    No,
    /// The message is too big. Its first bytes are collected until there
    /// are [`TOO_BIG_PREFIX_SIZE`] of them or the message ends, and then
    /// `TooBig` is reported.
    Unreported,
    /// `TooBig` was reported and the rest of the message is skipped.
    Reported,
}

#[derive(Debug, Clone, Copy)]
enum ChunkPhase {
    /// Expecting `\n#<chunk-size>\n` or `\n##\n`.
    Header,
    /// Inside chunk data with `remaining` bytes still to come.
    Data { remaining: u64 },
}

/// A complete chunk header and the number of input bytes it spans.
enum ChunkHeader {
    Chunk { size: u32, len: usize },
    EndOfChunks { len: usize },
}

impl Decoder {
    /// Creates a decoder for `framing` that rejects messages longer than
    /// `max_message_size` bytes (framing excluded).
    pub fn new(framing: Framing, max_message_size: usize) -> Decoder {
        Decoder {
            buffer: Vec::new(),
            start: 0,
            framing,
            max_message_size,
            detect_chunked_hello: false,
            last_message_framing: None,
            too_big_prefix: Vec::new(),
            state: State::Idle,
        }
    }

    /// Creates an end-of-message decoder for the first message of a
    /// session, the peer's hello.
    ///
    /// Hellos are end-of-message framed, but some clients send their hello
    /// already chunked. When the first message starts, after whitespace,
    /// with `\n#` and a digit, this decoder decodes that one message as
    /// chunked. Later messages use the decoder's framing again, which the
    /// session sets with [`Decoder::set_framing`] after the hello exchange.
    pub fn new_for_hello(max_message_size: usize) -> Decoder {
        Decoder {
            detect_chunked_hello: true,
            ..Decoder::new(Framing::EndOfMessage, max_message_size)
        }
    }

    /// Returns the framing that new messages are decoded with.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Returns the framing of the message that [`Decoder::next_message`]
    /// returned last, or `None` before the first message. After a chunked hello
    /// this is `Chunked` although [`Decoder::framing`] is `EndOfMessage`.
    pub fn last_message_framing(&self) -> Option<Framing> {
        self.last_message_framing
    }

    /// Returns the maximum message size in bytes.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Returns the first bytes (at most [`TOO_BIG_PREFIX_SIZE`]) of the
    /// message that was last reported as too big, and clears them.
    pub fn take_too_big_prefix(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.too_big_prefix)
    }

    /// Switches the framing of the following messages.
    ///
    /// Input that is already buffered but not yet returned as a message is
    /// decoded with the new framing. A chunked message that is partly
    /// decoded keeps its framing up to its end, because its chunk headers
    /// are already consumed. Call this between messages, as the session
    /// does after the hello exchange.
    pub fn set_framing(&mut self, framing: Framing) {
        self.framing = framing;
        self.detect_chunked_hello = false;
        if let State::EndOfMessage {
            discarding: false, ..
        } = self.state
        {
            // The bytes of this message are all still in the buffer.
            self.state = State::Idle;
        }
    }

    /// Appends received bytes to the input.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// Returns whether a message has started but is not complete. At the end of
    /// the input this means the peer closed the session mid-message.
    /// Whitespace between messages does not count.
    pub fn is_mid_message(&self) -> bool {
        match &self.state {
            State::Idle
            | State::EndOfMessage {
                discarding: false, ..
            } => self.pending().iter().any(|byte| !is_xml_whitespace(*byte)),
            State::EndOfMessage {
                discarding: true, ..
            }
            | State::Chunked { .. } => true,
            State::Failed(_) => false,
        }
    }

    /// Takes the next complete message out of the input.
    ///
    /// Returns `Ok(None)` when the input does not contain a complete
    /// message yet. A message that is too big gives `Err(TooBig)` once;
    /// later calls skip the rest of it and go on with the next message.
    /// In end-of-message framing the error comes as soon as the message
    /// exceeds the maximum, in chunked framing once its first
    /// [`TOO_BIG_PREFIX_SIZE`] bytes arrived or it ended;
    /// [`Decoder::take_too_big_prefix`] returns those first bytes.
    /// After `Err(Malformed)` the decoder returns the same error on every
    /// call.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        loop {
            let state = std::mem::replace(&mut self.state, State::Idle);
            let step = match state {
                State::Failed(reason) => {
                    self.state = State::Failed(reason.clone());
                    return Err(FramingError::Malformed(reason));
                }
                State::Idle => self.start_message(),
                State::EndOfMessage {
                    scanned,
                    discarding,
                } => self.continue_end_of_message(scanned, discarding),
                State::Chunked {
                    message,
                    phase,
                    has_chunk,
                    discard,
                } => self.continue_chunked(message, phase, has_chunk, discard),
            };
            match step {
                Step::Continue => {}
                Step::NeedInput => return Ok(None),
                Step::Message(message, framing) => {
                    self.last_message_framing = Some(framing);
                    self.detect_chunked_hello = false;
                    return Ok(Some(message));
                }
                Step::TooBig => {
                    return Err(FramingError::TooBig {
                        limit: self.max_message_size,
                    });
                }
                Step::Malformed(reason) => {
                    self.state = State::Failed(reason.clone());
                    return Err(FramingError::Malformed(reason));
                }
            }
        }
    }

    fn pending(&self) -> &[u8] {
        self.buffer.get(self.start..).unwrap_or_default()
    }

    /// Decides how the next message is framed.
    fn start_message(&mut self) -> Step {
        if self.pending().is_empty() {
            return Step::NeedInput;
        }
        match self.framing {
            Framing::Chunked => self.start_chunked_message(),
            Framing::EndOfMessage if self.detect_chunked_hello => self.start_hello(),
            Framing::EndOfMessage => {
                // Leading whitespace stays in the buffer and is stripped
                // from the finished message, so that a switch to chunked
                // framing still finds the `\n` of a chunk header.
                self.state = State::EndOfMessage {
                    scanned: 0,
                    discarding: false,
                };
                Step::Continue
            }
        }
    }

    /// Skips whitespace up to the `\n#` of the first chunk header.
    fn start_chunked_message(&mut self) -> Step {
        loop {
            let pending = self.pending();
            let Some(&first) = pending.first() else {
                return Step::NeedInput;
            };
            if first == b'\n' {
                match pending.get(1) {
                    None => return Step::NeedInput,
                    Some(b'#') => {
                        self.state = State::new_chunked();
                        return Step::Continue;
                    }
                    Some(_) => {}
                }
            }
            if !is_xml_whitespace(first) {
                return Step::Malformed(format!(
                    "expected a chunk header \"\\n#\" before a message, found byte 0x{first:02x}"
                ));
            }
            self.start += 1;
        }
    }

    /// Skips whitespace before the hello and detects a chunked hello by
    /// its `\n#` and first chunk-size digit.
    fn start_hello(&mut self) -> Step {
        loop {
            let pending = self.pending();
            let Some(&first) = pending.first() else {
                return Step::NeedInput;
            };
            if first == b'\n' {
                match (pending.get(1), pending.get(2)) {
                    (None, _) | (Some(b'#'), None) => return Step::NeedInput,
                    (Some(b'#'), Some(digit)) if digit.is_ascii_digit() => {
                        self.state = State::new_chunked();
                        return Step::Continue;
                    }
                    _ => {}
                }
            }
            if !is_xml_whitespace(first) {
                self.state = State::EndOfMessage {
                    scanned: 0,
                    discarding: false,
                };
                return Step::Continue;
            }
            self.start += 1;
        }
    }

    fn continue_end_of_message(&mut self, scanned: usize, discarding: bool) -> Step {
        let pending = self.pending();
        // The delimiter may straddle the bytes scanned before and the new
        // input, so the search restarts a delimiter length early.
        let from = scanned.saturating_sub(END_OF_MESSAGE.len() - 1);
        let found = pending
            .get(from..)
            .unwrap_or_default()
            .windows(END_OF_MESSAGE.len())
            .position(|window| window == END_OF_MESSAGE)
            .map(|offset| from + offset);

        if let Some(length) = found {
            // Leading whitespace counts towards the maximum message size.
            let too_big = length > self.max_message_size;
            let message = if discarding || too_big {
                None
            } else {
                pending.get(..length).map(strip_leading_whitespace)
            };
            if too_big && !discarding {
                self.too_big_prefix = prefix_of(pending, length);
            }
            self.start += length + END_OF_MESSAGE.len();
            if discarding {
                return Step::Continue;
            }
            if too_big {
                return Step::TooBig;
            }
            return match message {
                Some(message) => Step::Message(message, Framing::EndOfMessage),
                None => Step::NeedInput,
            };
        }

        // Bytes that cannot begin the delimiter belong to the message.
        let pending_len = pending.len();
        let settled = pending_len.saturating_sub(END_OF_MESSAGE.len() - 1);
        if discarding || settled > self.max_message_size {
            if !discarding {
                self.too_big_prefix = prefix_of(pending, settled);
            }
            // Only the bytes that may begin the delimiter are kept.
            self.start += settled;
            self.state = State::EndOfMessage {
                scanned: pending_len - settled,
                discarding: true,
            };
            return if discarding {
                Step::NeedInput
            } else {
                Step::TooBig
            };
        }
        self.state = State::EndOfMessage {
            scanned: pending_len,
            discarding: false,
        };
        Step::NeedInput
    }

    fn continue_chunked(
        &mut self,
        mut message: Vec<u8>,
        mut phase: ChunkPhase,
        mut has_chunk: bool,
        mut discard: Discard,
    ) -> Step {
        loop {
            match phase {
                ChunkPhase::Header => {
                    let header = if self.skip_whitespace_before_header() {
                        Ok(None)
                    } else {
                        parse_chunk_header(self.pending())
                    };
                    let header = match header {
                        Ok(Some(header)) => header,
                        Ok(None) => {
                            self.state = State::Chunked {
                                message,
                                phase,
                                has_chunk,
                                discard,
                            };
                            return Step::NeedInput;
                        }
                        Err(reason) if discard == Discard::Unreported => {
                            // The message was too big before it turned out
                            // malformed; both are reported, in that order.
                            self.too_big_prefix = message;
                            self.state = State::Failed(reason);
                            return Step::TooBig;
                        }
                        Err(reason) => return Step::Malformed(reason),
                    };
                    match header {
                        ChunkHeader::EndOfChunks { len } => {
                            if !has_chunk {
                                return Step::Malformed(
                                    "end-of-chunks marker \"\\n##\\n\" before any chunk".to_owned(),
                                );
                            }
                            self.start += len;
                            return match discard {
                                Discard::No => Step::Message(message, Framing::Chunked),
                                Discard::Unreported => {
                                    self.too_big_prefix = message;
                                    Step::TooBig
                                }
                                Discard::Reported => Step::Continue,
                            };
                        }
                        ChunkHeader::Chunk { size, len } => {
                            self.start += len;
                            has_chunk = true;
                            phase = ChunkPhase::Data {
                                remaining: u64::from(size),
                            };
                            let total = u64::try_from(message.len())
                                .unwrap_or(u64::MAX)
                                .saturating_add(u64::from(size));
                            let limit = u64::try_from(self.max_message_size).unwrap_or(u64::MAX);
                            if discard == Discard::No && total > limit {
                                discard = Discard::Unreported;
                                message.truncate(TOO_BIG_PREFIX_SIZE);
                                if message.len() == TOO_BIG_PREFIX_SIZE {
                                    self.too_big_prefix = std::mem::take(&mut message);
                                    self.state = State::Chunked {
                                        message,
                                        phase,
                                        has_chunk,
                                        discard: Discard::Reported,
                                    };
                                    return Step::TooBig;
                                }
                            }
                        }
                    }
                }
                ChunkPhase::Data { remaining } => {
                    let pending = self.pending();
                    if pending.is_empty() {
                        self.state = State::Chunked {
                            message,
                            phase,
                            has_chunk,
                            discard,
                        };
                        return Step::NeedInput;
                    }
                    let available = u64::try_from(pending.len()).unwrap_or(u64::MAX);
                    let take = remaining.min(available);
                    // `take` is at most `pending.len()`, so it fits a usize.
                    let take_len = usize::try_from(take).unwrap_or(pending.len());
                    let kept_len = match discard {
                        Discard::No => take_len,
                        Discard::Unreported => {
                            take_len.min(TOO_BIG_PREFIX_SIZE.saturating_sub(message.len()))
                        }
                        Discard::Reported => 0,
                    };
                    message.extend_from_slice(pending.get(..kept_len).unwrap_or_default());
                    self.start += take_len;
                    let remaining = remaining - take;
                    phase = if remaining == 0 {
                        ChunkPhase::Header
                    } else {
                        ChunkPhase::Data { remaining }
                    };
                    if discard == Discard::Unreported && message.len() >= TOO_BIG_PREFIX_SIZE {
                        self.too_big_prefix = std::mem::take(&mut message);
                        self.state = State::Chunked {
                            message,
                            phase,
                            has_chunk,
                            discard: Discard::Reported,
                        };
                        return Step::TooBig;
                    }
                }
            }
        }
    }

    /// Skips XML whitespace in front of a chunk header. RFC 6242 allows
    /// none, but the chunk data ends at a known byte count, so such bytes
    /// cannot belong to a chunk and some clients send a line break too many.
    /// Returns true when more input is needed to see the header.
    fn skip_whitespace_before_header(&mut self) -> bool {
        loop {
            let pending = self.pending();
            match (pending.first(), pending.get(1)) {
                (None, _) | (Some(b'\n'), None) => return true,
                (Some(b'\n'), Some(b'#')) => return false,
                (Some(byte), _) if is_xml_whitespace(*byte) => self.start += 1,
                (Some(_), _) => return false,
            }
        }
    }
}

/// Copies the first bytes of a message whose first `length` bytes are at
/// the start of `pending`, for [`Decoder::take_too_big_prefix`].
fn prefix_of(pending: &[u8], length: usize) -> Vec<u8> {
    let kept = length.min(TOO_BIG_PREFIX_SIZE);
    pending.get(..kept).unwrap_or_default().to_vec()
}

/// Outcome of one decoder step.
enum Step {
    /// The state changed; decoding goes on with the same input.
    Continue,
    NeedInput,
    Message(Vec<u8>, Framing),
    TooBig,
    Malformed(String),
}

/// Parses `\n#<chunk-size>\n` or `\n##\n` at the start of `input`.
///
/// Returns `Ok(None)` while the header is incomplete, and an error as soon
/// as a byte cannot belong to a valid header. The grammar (RFC 6242,
/// section 4.2) allows no whitespace or sign, and a chunk-size is 1 to
/// 4294967295 without leading zeros.
fn parse_chunk_header(input: &[u8]) -> Result<Option<ChunkHeader>, String> {
    match input.first() {
        None => return Ok(None),
        Some(b'\n') => {}
        Some(byte) => {
            return Err(format!(
                "expected \"\\n\" to start a chunk header, found byte 0x{byte:02x}"
            ));
        }
    }
    match input.get(1) {
        None => return Ok(None),
        Some(b'#') => {}
        Some(byte) => {
            return Err(format!(
                "expected \"#\" after \"\\n\" in a chunk header, found byte 0x{byte:02x}"
            ));
        }
    }
    match input.get(2) {
        None => return Ok(None),
        Some(b'#') => {
            return match input.get(3) {
                None => Ok(None),
                Some(b'\n') => Ok(Some(ChunkHeader::EndOfChunks { len: 4 })),
                Some(byte) => Err(format!(
                    "expected \"\\n\" to end the end-of-chunks marker, found byte 0x{byte:02x}"
                )),
            };
        }
        Some(b'0') => return Err("chunk-size starts with 0".to_owned()),
        Some(byte) if byte.is_ascii_digit() => {}
        Some(byte) => {
            return Err(format!(
                "chunk-size is not a decimal number: found byte 0x{byte:02x}"
            ));
        }
    }

    let mut size: u64 = 0;
    for (digits, byte) in input.iter().skip(2).enumerate() {
        match byte {
            b'0'..=b'9' => {
                if digits == MAX_CHUNK_SIZE_DIGITS {
                    return Err(format!(
                        "chunk-size has more than {MAX_CHUNK_SIZE_DIGITS} digits"
                    ));
                }
                size = size * 10 + u64::from(byte - b'0');
            }
            b'\n' => {
                let size = u32::try_from(size)
                    .map_err(|_| format!("chunk-size {size} exceeds {MAX_CHUNK_SIZE}"))?;
                return Ok(Some(ChunkHeader::Chunk {
                    size,
                    len: 2 + digits + 1,
                }));
            }
            byte => {
                return Err(format!(
                    "chunk-size is not a decimal number: found byte 0x{byte:02x}"
                ));
            }
        }
    }
    Ok(None)
}

fn strip_leading_whitespace(message: &[u8]) -> Vec<u8> {
    let leading = message
        .iter()
        .take_while(|byte| is_xml_whitespace(**byte))
        .count();
    message.get(leading..).unwrap_or_default().to_vec()
}

/// XML whitespace (XML 1.0, production `S`), which may surround a message.
fn is_xml_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
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

    const MAX: usize = 1024;

    /// Feeds `input` in one piece and collects every message until the
    /// decoder needs more input.
    fn decode_all(decoder: &mut Decoder, input: &[u8]) -> Vec<Result<Vec<u8>, FramingError>> {
        decoder.feed(input);
        drain(decoder)
    }

    /// Feeds each of `pieces` in turn and collects every message the
    /// decoder completes.
    fn decode_pieces(
        decoder: &mut Decoder,
        pieces: &[&[u8]],
    ) -> Vec<Result<Vec<u8>, FramingError>> {
        pieces
            .iter()
            .flat_map(|piece| decode_all(decoder, piece))
            .collect()
    }

    fn drain(decoder: &mut Decoder) -> Vec<Result<Vec<u8>, FramingError>> {
        let mut results = Vec::new();
        // Bounded so that a decoder bug cannot loop forever.
        for _ in 0..1000 {
            match decoder.next_message() {
                Ok(Some(message)) => results.push(Ok(message)),
                Ok(None) => return results,
                Err(err @ FramingError::TooBig { .. }) => results.push(Err(err)),
                Err(err @ FramingError::Malformed(_)) => {
                    results.push(Err(err));
                    return results;
                }
            }
        }
        panic!("decoder did not stop after 1000 steps");
    }

    fn messages(results: Vec<Result<Vec<u8>, FramingError>>) -> Vec<Vec<u8>> {
        results
            .into_iter()
            .map(|result| result.expect("message decodes"))
            .collect()
    }

    fn malformed(framing: Framing, input: &[u8]) -> String {
        let mut decoder = Decoder::new(framing, MAX);
        match decode_all(&mut decoder, input).pop() {
            Some(Err(FramingError::Malformed(reason))) => reason,
            other => panic!("expected a framing error for {input:?}, got {other:?}"),
        }
    }

    #[test]
    fn end_of_message_single() {
        let mut decoder = Decoder::new(Framing::EndOfMessage, MAX);
        let got = decode_all(&mut decoder, b"<hello/>]]>]]>");
        assert_eq!(messages(got), vec![b"<hello/>".to_vec()]);
        assert!(!decoder.is_mid_message());
        assert_eq!(decoder.last_message_framing(), Some(Framing::EndOfMessage));
    }

    #[test]
    fn end_of_message_several_in_one_read() {
        let mut decoder = Decoder::new(Framing::EndOfMessage, MAX);
        let got = decode_all(&mut decoder, b"<a/>]]>]]>\n<b/>]]>]]><c/>]]>]]><d");
        assert_eq!(
            messages(got),
            vec![b"<a/>".to_vec(), b"<b/>".to_vec(), b"<c/>".to_vec()]
        );
        assert!(decoder.is_mid_message());
        let got = decode_all(&mut decoder, b"/>]]>]]>");
        assert_eq!(messages(got), vec![b"<d/>".to_vec()]);
    }

    #[test]
    fn end_of_message_strips_leading_whitespace() {
        let mut decoder = Decoder::new(Framing::EndOfMessage, MAX);
        let got = decode_all(&mut decoder, b"\r\n  <a/>]]>]]>\n\n");
        assert_eq!(messages(got), vec![b"<a/>".to_vec()]);
        assert!(
            !decoder.is_mid_message(),
            "trailing newlines are no message"
        );
    }

    #[test]
    fn end_of_message_bracket_runs() {
        // `]` runs before the delimiter must not hide it.
        let mut decoder = Decoder::new(Framing::EndOfMessage, MAX);
        let got = decode_all(&mut decoder, b"x]]]>]]>y]]>]]]>]]>");
        assert_eq!(messages(got), vec![b"x]".to_vec(), b"y]]>]".to_vec()]);
    }

    #[test]
    fn end_of_message_every_split_point() {
        let input = b"<rpc message-id=\"1\"><get/></rpc>]]>]]><rpc message-id=\"2\"/>]]>]]>";
        let expected = vec![
            b"<rpc message-id=\"1\"><get/></rpc>".to_vec(),
            b"<rpc message-id=\"2\"/>".to_vec(),
        ];
        for split in 0..=input.len() {
            let mut decoder = Decoder::new(Framing::EndOfMessage, MAX);
            let got = messages(decode_pieces(
                &mut decoder,
                &[&input[..split], &input[split..]],
            ));
            assert_eq!(got, expected, "split at {split}");
        }
    }

    #[test]
    fn end_of_message_byte_by_byte() {
        let input = b"<a>]]]]></a>]]>]]>";
        let mut decoder = Decoder::new(Framing::EndOfMessage, MAX);
        let mut got = Vec::new();
        for byte in input {
            got.extend(messages(decode_all(&mut decoder, &[*byte])));
        }
        assert_eq!(got, vec![b"<a>]]]]></a>".to_vec()]);
    }

    #[test]
    fn chunked_single_chunk() {
        let mut decoder = Decoder::new(Framing::Chunked, MAX);
        let got = decode_all(&mut decoder, b"\n#8\n<hello/>\n##\n");
        assert_eq!(messages(got), vec![b"<hello/>".to_vec()]);
        assert_eq!(decoder.last_message_framing(), Some(Framing::Chunked));
    }

    #[test]
    fn chunked_rfc_example() {
        // The example of RFC 6242, section 4.2, with its two chunks.
        let input = b"\n#4\n<rpc\n#18\n message-id=\"102\"\n\n#79\n     \
xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\">\n  <close-session/>\n</rpc>\n##\n";
        let mut decoder = Decoder::new(Framing::Chunked, MAX);
        let got = messages(decode_all(&mut decoder, input));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].len(), 4 + 18 + 79);
        assert!(got[0].starts_with(b"<rpc message-id=\"102\"\n"));
        assert!(got[0].ends_with(b"</rpc>"));
    }

    #[test]
    fn chunked_every_split_point() {
        let mut input = Vec::new();
        input.extend_from_slice(b"\n#3\n<a>\n#1\nx\n#4\n</a>\n##\n");
        input.extend_from_slice(b"\n\n#5\n<b/>\n\n##\n");
        let expected = vec![b"<a>x</a>".to_vec(), b"<b/>\n".to_vec()];
        for split in 0..=input.len() {
            let mut decoder = Decoder::new(Framing::Chunked, MAX);
            let got = messages(decode_pieces(
                &mut decoder,
                &[&input[..split], &input[split..]],
            ));
            assert_eq!(got, expected, "split at {split}");
        }
    }

    #[test]
    fn chunked_every_two_split_points() {
        let input = b"\n#11\n<rpc/>\n##\n#\n##\n\n#1\n]\n##\n";
        let expected = vec![b"<rpc/>\n##\n#".to_vec(), b"]".to_vec()];
        for first in 0..=input.len() {
            for second in first..=input.len() {
                let mut decoder = Decoder::new(Framing::Chunked, MAX);
                let got = messages(decode_pieces(
                    &mut decoder,
                    &[&input[..first], &input[first..second], &input[second..]],
                ));
                assert_eq!(got, expected, "splits at {first} and {second}");
            }
        }
    }

    #[test]
    fn chunked_chunk_boundaries_anywhere() {
        // The same message cut into chunks at every pair of positions.
        let message = b"<rpc message-id=\"7\"><get-config/></rpc>";
        for first in 1..message.len() {
            for second in first + 1..message.len() {
                let mut input = Vec::new();
                for piece in [
                    &message[..first],
                    &message[first..second],
                    &message[second..],
                ] {
                    input.extend_from_slice(format!("\n#{}\n", piece.len()).as_bytes());
                    input.extend_from_slice(piece);
                }
                input.extend_from_slice(b"\n##\n");
                let mut decoder = Decoder::new(Framing::Chunked, MAX);
                let got = messages(decode_all(&mut decoder, &input));
                assert_eq!(
                    got,
                    vec![message.to_vec()],
                    "chunks cut at {first}, {second}"
                );
            }
        }
    }

    #[test]
    fn chunked_tolerates_whitespace_between_messages() {
        let mut decoder = Decoder::new(Framing::Chunked, MAX);
        let got = decode_all(&mut decoder, b"\n#2\nab\n##\n\r\n \t\n\n#2\ncd\n##\n\n");
        assert_eq!(messages(got), vec![b"ab".to_vec(), b"cd".to_vec()]);
        assert!(!decoder.is_mid_message());
    }

    #[test]
    fn chunked_tolerates_whitespace_around_chunk_headers() {
        let input = b"\r\n\n#3\nabc\n\n \r\n#2\nde \t\n##\n\n";
        for split in 0..=input.len() {
            let mut decoder = Decoder::new(Framing::Chunked, MAX);
            let got = messages(decode_pieces(
                &mut decoder,
                &[&input[..split], &input[split..]],
            ));
            assert_eq!(got, vec![b"abcde".to_vec()], "split at {split}");
            assert!(!decoder.is_mid_message());
        }
    }

    #[test]
    fn chunked_max_chunk_size_digits() {
        // A ten-digit chunk-size is valid. The message is then too big for
        // this decoder, which reports that once it has the first bytes of
        // the message to keep.
        let mut decoder = Decoder::new(Framing::Chunked, MAX);
        assert_eq!(decode_all(&mut decoder, b"\n#4294967295\nabc"), vec![]);
        let rest = vec![b'x'; TOO_BIG_PREFIX_SIZE];
        let got = decode_all(&mut decoder, &rest);
        assert_eq!(got, vec![Err(FramingError::TooBig { limit: MAX })]);
        let prefix = decoder.take_too_big_prefix();
        assert_eq!(prefix.len(), TOO_BIG_PREFIX_SIZE);
        assert!(prefix.starts_with(b"abcxxx"));
        assert!(decoder.is_mid_message());
    }

    #[test]
    fn chunked_too_big_keeps_prefix_across_chunks() {
        let mut decoder = Decoder::new(Framing::Chunked, 8);
        let got = decode_all(
            &mut decoder,
            b"\n#5\n<rpc \n#6\nid=\"7\"\n#2\n/>\n##\n\n#4\n<a/>\n##\n",
        );
        assert_eq!(
            got,
            vec![Err(FramingError::TooBig { limit: 8 }), Ok(b"<a/>".to_vec())]
        );
        assert_eq!(decoder.take_too_big_prefix(), b"<rpc id=\"7\"/>");
        assert!(decoder.take_too_big_prefix().is_empty(), "taken once");
    }

    #[test]
    fn end_of_message_too_big_keeps_prefix() {
        let mut message = b"<rpc message-id=\"9\">".to_vec();
        message.extend(vec![b' '; TOO_BIG_PREFIX_SIZE * 2]);
        message.extend_from_slice(b"</rpc>]]>]]>");
        let mut decoder = Decoder::new(Framing::EndOfMessage, TOO_BIG_PREFIX_SIZE);
        let got = decode_all(&mut decoder, &message);
        assert_eq!(
            got,
            vec![Err(FramingError::TooBig {
                limit: TOO_BIG_PREFIX_SIZE
            })]
        );
        let prefix = decoder.take_too_big_prefix();
        assert_eq!(prefix.len(), TOO_BIG_PREFIX_SIZE);
        assert!(prefix.starts_with(b"<rpc message-id=\"9\">"));
    }

    #[test]
    fn chunked_size_with_many_digits_in_limit() {
        let data = vec![b'x'; 1_000_000];
        let mut input = b"\n#1000000\n".to_vec();
        input.extend_from_slice(&data);
        input.extend_from_slice(b"\n##\n");
        let mut decoder = Decoder::new(Framing::Chunked, 1_000_000);
        let got = messages(decode_all(&mut decoder, &input));
        assert_eq!(got, vec![data]);
    }

    #[test]
    fn chunked_malformed_headers() {
        let cases: &[(&[u8], &str)] = &[
            (b"\n#0\n", "starts with 0"),
            (b"\n#01\nx\n##\n", "starts with 0"),
            (b"\n#abc\n", "not a decimal number"),
            (b"\n#-1\n", "not a decimal number"),
            (b"\n# 1\n", "not a decimal number"),
            (b"\n#1 \n", "not a decimal number"),
            (b"\n#1x", "not a decimal number"),
            (b"\n#\n", "not a decimal number"),
            (b"\n#12345678901\n", "more than 10 digits"),
            (b"\n#99999999999999999999\n", "more than 10 digits"),
            (b"\n#4294967296\n", "exceeds 4294967295"),
            (b"\n#9999999999\n", "exceeds 4294967295"),
            (b"#3\nabc\n##\n", "expected a chunk header"),
            (b"<rpc/>]]>]]>", "expected a chunk header"),
            (b"\n##\n", "before any chunk"),
            (b"\n##x", "end the end-of-chunks marker"),
            (b"\n#3\nabc#", "expected \"\\n\" to start a chunk header"),
            (
                b"\n#3\nabc\nx##\n",
                "expected \"\\n\" to start a chunk header",
            ),
            (
                b"\n#3\nabcd\n##\n",
                "expected \"\\n\" to start a chunk header",
            ),
            (b"\n#3\nabc\n#\n", "not a decimal number"),
        ];
        for (input, expected) in cases {
            let reason = malformed(Framing::Chunked, &input[..]);
            assert!(
                reason.contains(expected),
                "input {:?}: reason {reason:?} lacks {expected:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn chunked_missing_newline_waits_then_fails() {
        let mut decoder = Decoder::new(Framing::Chunked, MAX);
        assert_eq!(decode_all(&mut decoder, b"\n#12"), vec![]);
        let got = decode_all(&mut decoder, b"<rpc/>");
        assert!(
            matches!(got.as_slice(), [Err(FramingError::Malformed(_))]),
            "{got:?}"
        );
    }

    #[test]
    fn malformed_is_sticky() {
        let mut decoder = Decoder::new(Framing::Chunked, MAX);
        assert_eq!(decode_all(&mut decoder, b"\n#0\n").len(), 1);
        decoder.feed(b"\n#1\na\n##\n");
        assert!(matches!(
            decoder.next_message(),
            Err(FramingError::Malformed(_))
        ));
    }

    #[test]
    fn end_of_message_too_big_resyncs() {
        let mut decoder = Decoder::new(Framing::EndOfMessage, 8);
        let got = decode_all(&mut decoder, b"<12345678>]]>]]><a/>]]>]]>");
        assert_eq!(
            got,
            vec![Err(FramingError::TooBig { limit: 8 }), Ok(b"<a/>".to_vec())]
        );
    }

    #[test]
    fn end_of_message_exact_max_is_accepted() {
        let mut decoder = Decoder::new(Framing::EndOfMessage, 8);
        let got = decode_all(&mut decoder, b"<123456>]]>]]>");
        assert_eq!(messages(got), vec![b"<123456>".to_vec()]);
    }

    #[test]
    fn end_of_message_too_big_reported_before_delimiter() {
        // The error comes as soon as the message cannot fit, and the
        // decoder does not keep the discarded bytes.
        let mut decoder = Decoder::new(Framing::EndOfMessage, 8);
        let got = decode_all(&mut decoder, &[b'x'; 100]);
        assert_eq!(got, vec![Err(FramingError::TooBig { limit: 8 })]);
        assert!(decoder.pending().len() < END_OF_MESSAGE.len());
        for _ in 0..10 {
            assert_eq!(decode_all(&mut decoder, &[b'y'; 100]), vec![]);
            assert!(decoder.pending().len() < END_OF_MESSAGE.len());
        }
        // The delimiter split across two reads ends the skipped message.
        assert_eq!(decode_all(&mut decoder, b"]]>]"), vec![]);
        let got = decode_all(&mut decoder, b"]>\n<ok/>]]>]]>");
        assert_eq!(messages(got), vec![b"<ok/>".to_vec()]);
    }

    #[test]
    fn end_of_message_too_big_every_split_point() {
        let input = b"<too-long-message/>]]>]]><a/>]]>]]>";
        for split in 0..=input.len() {
            let mut decoder = Decoder::new(Framing::EndOfMessage, 10);
            let got = decode_pieces(&mut decoder, &[&input[..split], &input[split..]]);
            assert_eq!(
                got,
                vec![
                    Err(FramingError::TooBig { limit: 10 }),
                    Ok(b"<a/>".to_vec())
                ],
                "split at {split}"
            );
        }
    }

    #[test]
    fn chunked_too_big_resyncs() {
        let mut decoder = Decoder::new(Framing::Chunked, 8);
        let input = b"\n#5\n12345\n#5\n67890\n#2\nab\n##\n\n#4\n<a/>\n##\n";
        let got = decode_all(&mut decoder, input);
        assert_eq!(
            got,
            vec![Err(FramingError::TooBig { limit: 8 }), Ok(b"<a/>".to_vec())]
        );
    }

    #[test]
    fn chunked_too_big_every_split_point() {
        let input = b"\n#6\n123456\n#6\n789012\n##\n\n#4\n<a/>\n##\n";
        for split in 0..=input.len() {
            let mut decoder = Decoder::new(Framing::Chunked, 10);
            let got = decode_pieces(&mut decoder, &[&input[..split], &input[split..]]);
            assert_eq!(
                got,
                vec![
                    Err(FramingError::TooBig { limit: 10 }),
                    Ok(b"<a/>".to_vec())
                ],
                "split at {split}"
            );
        }
    }

    #[test]
    fn chunked_malformed_while_discarding() {
        let mut decoder = Decoder::new(Framing::Chunked, 4);
        let got = decode_all(&mut decoder, b"\n#5\n12345\n#0\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Err(FramingError::TooBig { limit: 4 }));
        assert!(matches!(got[1], Err(FramingError::Malformed(_))));
    }

    #[test]
    fn hello_detects_chunked_hello() {
        let mut decoder = Decoder::new_for_hello(MAX);
        let got = decode_all(&mut decoder, b"\r\n\n#8\n<hello/>\n##\n<rpc/>]]>]]>");
        assert_eq!(
            messages(got),
            vec![b"<hello/>".to_vec(), b"<rpc/>".to_vec()]
        );
        assert_eq!(decoder.framing(), Framing::EndOfMessage);
        assert_eq!(decoder.last_message_framing(), Some(Framing::EndOfMessage));
    }

    #[test]
    fn hello_detection_every_split_point() {
        let input = b"\n\n#8\n<hello/>\n##\n";
        for split in 0..=input.len() {
            let mut decoder = Decoder::new_for_hello(MAX);
            let got = messages(decode_pieces(
                &mut decoder,
                &[&input[..split], &input[split..]],
            ));
            assert_eq!(got, vec![b"<hello/>".to_vec()], "split at {split}");
            assert_eq!(decoder.last_message_framing(), Some(Framing::Chunked));
        }
    }

    #[test]
    fn hello_end_of_message_unaffected() {
        let mut decoder = Decoder::new_for_hello(MAX);
        let got = decode_all(&mut decoder, b"\n<hello/>]]>]]>");
        assert_eq!(messages(got), vec![b"<hello/>".to_vec()]);
        assert_eq!(decoder.last_message_framing(), Some(Framing::EndOfMessage));
    }

    #[test]
    fn hello_detection_only_for_first_message() {
        let mut decoder = Decoder::new_for_hello(MAX);
        let got = decode_all(&mut decoder, b"<hello/>]]>]]>\n#3\nabc]]>]]>");
        assert_eq!(
            messages(got),
            vec![b"<hello/>".to_vec(), b"#3\nabc".to_vec()]
        );
    }

    #[test]
    fn plain_decoder_does_not_detect_chunks() {
        let mut decoder = Decoder::new(Framing::EndOfMessage, MAX);
        let got = decode_all(&mut decoder, b"\n#3\nabc]]>]]>");
        assert_eq!(messages(got), vec![b"#3\nabc".to_vec()]);
    }

    #[test]
    fn set_framing_decodes_buffered_input() {
        // The client's first rpc arrives in the same read as its hello.
        let mut decoder = Decoder::new_for_hello(MAX);
        decoder.feed(b"<hello/>]]>]]>\n#6\n<rpc/>\n##\n");
        assert_eq!(decoder.next_message(), Ok(Some(b"<hello/>".to_vec())));
        decoder.set_framing(Framing::Chunked);
        assert_eq!(decoder.next_message(), Ok(Some(b"<rpc/>".to_vec())));
        assert_eq!(decoder.next_message(), Ok(None));
    }

    #[test]
    fn set_framing_after_partial_input() {
        // Part of the next message was scanned as end-of-message framing
        // before the switch; it is decoded again as chunked.
        let mut decoder = Decoder::new(Framing::EndOfMessage, MAX);
        decoder.feed(b"<hello/>]]>]]>\n#6\n<rp");
        assert_eq!(decoder.next_message(), Ok(Some(b"<hello/>".to_vec())));
        assert_eq!(decoder.next_message(), Ok(None));
        decoder.set_framing(Framing::Chunked);
        assert_eq!(decoder.next_message(), Ok(None));
        decoder.feed(b"c/>\n##\n");
        assert_eq!(decoder.next_message(), Ok(Some(b"<rpc/>".to_vec())));
    }

    #[test]
    fn encode_end_of_message() {
        let mut out = Vec::new();
        encode(Framing::EndOfMessage, b"<ok/>", &mut out);
        assert_eq!(out, b"<ok/>]]>]]>");
    }

    #[test]
    fn encode_chunked_small() {
        let mut out = Vec::new();
        encode(Framing::Chunked, b"<ok/>", &mut out);
        assert_eq!(out, b"\n#5\n<ok/>\n##\n");
    }

    #[test]
    fn encode_chunked_empty_writes_nothing() {
        let mut out = Vec::new();
        encode(Framing::Chunked, b"", &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn encode_chunked_splits_large_message() {
        let message = vec![b'x'; ENCODE_CHUNK_SIZE * 2 + 10];
        let mut out = Vec::new();
        encode(Framing::Chunked, &message, &mut out);
        let header = format!("\n#{ENCODE_CHUNK_SIZE}\n");
        assert!(out.starts_with(header.as_bytes()));
        let headers = out.windows(2).filter(|window| window == b"\n#").count();
        assert_eq!(
            headers, 4,
            "three chunk headers and the end-of-chunks marker"
        );
        assert!(out.ends_with(b"\n#10\nxxxxxxxxxx\n##\n"));
    }

    #[test]
    fn round_trip_both_framings() {
        let large = vec![b'y'; ENCODE_CHUNK_SIZE * 3 + 1];
        let inputs: Vec<&[u8]> = vec![b"<a/>", b"\n#3\nabc", b"]]>]", b"#", &large];
        for framing in [Framing::EndOfMessage, Framing::Chunked] {
            let mut out = Vec::new();
            for message in &inputs {
                encode(framing, message, &mut out);
            }
            let mut decoder = Decoder::new(framing, large.len());
            let got = messages(decode_all(&mut decoder, &out));
            // End-of-message framing strips leading whitespace.
            let expected: Vec<Vec<u8>> = inputs
                .iter()
                .map(|message| match framing {
                    Framing::EndOfMessage => message
                        .iter()
                        .skip_while(|byte| is_xml_whitespace(**byte))
                        .copied()
                        .collect(),
                    Framing::Chunked => message.to_vec(),
                })
                .collect();
            assert_eq!(got, expected, "{framing:?}");
        }
    }
}
