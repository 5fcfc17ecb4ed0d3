//! ztpd: a NETCONF/YANG agent for one network device.
//!
//! The agent serves NETCONF over SSH with the YANG modules in `yang/`, and
//! downloads the device's CA certificate from the bootstrap servers that an
//! operator configures.

pub mod config;
pub mod datastore;
pub mod lab;
pub mod netconf;
pub mod pki;
pub mod schema;
pub mod ztp;
