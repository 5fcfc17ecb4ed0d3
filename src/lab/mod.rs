//! Lab-only tooling: a generator for the device, server and CA certificates
//! of a test setup, and a bootstrap server that serves the RPC and can
//! misbehave on purpose.
//!
//! The agent itself never uses this module. It is compiled into the library
//! so that the integration tests and the `lab_pki` and `bootstrap_server`
//! examples can share it.

pub mod pki;
pub mod server;
