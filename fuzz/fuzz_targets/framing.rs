//! Fuzzes the RFC 6242 framing decoder. A panic, a message over the
//! maximum size, or a decoded message that differs from the one the
//! encoder framed, for any split of the input, fails the target.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ztpd::netconf::framing::{Decoder, Framing, FramingError, TOO_BIG_PREFIX_SIZE, encode};

/// Maximum message size of the decoder that reads the raw input: small, so
/// that the too-big path runs often.
const SMALL_MAX: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    // The control byte chooses the framing (bits 0 and 1) and the size of
    // the pieces the input arrives in (bits 4 to 7: 1 to 16 bytes).
    let piece = usize::from(control >> 4) + 1;
    let raw_decoder = match control & 0b11 {
        0 => Decoder::new(Framing::EndOfMessage, SMALL_MAX),
        1 => Decoder::new(Framing::Chunked, SMALL_MAX),
        _ => Decoder::new_for_hello(SMALL_MAX),
    };
    decode_raw(raw_decoder, input, piece);

    round_trip(Framing::Chunked, input, piece);
    // End-of-message framing cannot carry `]]>` at the end of a message, so
    // only input without it takes the round trip.
    if !input.windows(3).any(|window| window == b"]]>") {
        round_trip(Framing::EndOfMessage, input, piece);
    }
});

/// Feeds `input` as it is, in `piece`-byte reads, and checks each result.
fn decode_raw(mut decoder: Decoder, input: &[u8], piece: usize) {
    for part in input.chunks(piece) {
        decoder.feed(part);
        loop {
            match decoder.next_message() {
                Ok(Some(message)) => assert!(message.len() <= SMALL_MAX),
                Ok(None) => break,
                Err(FramingError::TooBig { limit }) => {
                    assert_eq!(limit, SMALL_MAX);
                    assert!(decoder.take_too_big_prefix().len() <= TOO_BIG_PREFIX_SIZE);
                }
                Err(FramingError::Malformed(_)) => {
                    // A malformed stream stays failed.
                    assert!(matches!(
                        decoder.next_message(),
                        Err(FramingError::Malformed(_))
                    ));
                    return;
                }
            }
        }
    }
}

/// Encodes `body` in `framing`, decodes it in `piece`-byte reads and checks
/// that the decoded message is `body` (without leading whitespace in
/// end-of-message framing, which the decoder strips).
fn round_trip(framing: Framing, body: &[u8], piece: usize) {
    let expected: &[u8] = match framing {
        Framing::Chunked => body,
        Framing::EndOfMessage => {
            let start = body
                .iter()
                .position(|byte| !matches!(byte, b' ' | b'\t' | b'\r' | b'\n'))
                .unwrap_or(body.len());
            &body[start..]
        }
    };
    if expected.is_empty() {
        return;
    }
    let mut wire = Vec::new();
    encode(framing, body, &mut wire);
    let mut decoder = Decoder::new(framing, body.len());
    let mut messages = Vec::new();
    for part in wire.chunks(piece) {
        decoder.feed(part);
        while let Some(message) = decoder.next_message().expect("framed by the encoder") {
            messages.push(message);
        }
    }
    assert_eq!(messages, vec![expected.to_vec()]);
    assert!(!decoder.is_mid_message());
}
