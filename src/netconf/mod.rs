//! NETCONF (RFC 6241) over SSH (RFC 6242).

pub mod error;
pub mod xml;
