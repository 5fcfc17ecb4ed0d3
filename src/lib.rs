//! ztpd: a NETCONF/YANG agent for one network device.
//!
//! The agent serves NETCONF over SSH with the YANG modules in `yang/`, and
//! downloads the device's CA certificate from the bootstrap servers that an
//! operator configures.

#![forbid(unsafe_op_in_unsafe_fn)]

pub mod config;
pub mod netconf;
