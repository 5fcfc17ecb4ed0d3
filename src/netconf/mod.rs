//! NETCONF over SSH (RFC 6241, RFC 6242).
//!
//! `framing` splits a byte stream into NETCONF messages, `stream` reads and
//! writes framed messages on an async byte stream, and `transport` runs the
//! SSH server that hands each `netconf` subsystem channel to a session.
//! `session` runs the hello exchange and the request loop, `rpc` reads the
//! `<rpc>` envelope and writes replies, and `ops` contains one module per
//! operation behind a single dispatcher. `output` is the single writer of
//! each session, and `notifications` the event bus and the subscriptions of
//! RFC 5277.

pub mod auth;
pub mod capabilities;
pub mod error;
pub mod framing;
pub mod host_key;
pub mod monitoring;
pub mod notifications;
pub mod ops;
pub mod output;
pub mod rpc;
pub mod session;
pub mod sessions;
pub mod stream;
pub mod transport;
pub mod xml;
pub mod yang_library;
