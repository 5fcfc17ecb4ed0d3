//! Zero-touch provisioning: download of the device's CA certificate from
//! bootstrap servers.
//!
//! [`server_list`] reads the committed servers, [`reconciler`] runs the
//! download rounds with [`download`], and [`state`] contains what `get` shows.

pub mod download;
pub mod reconciler;
pub mod server_list;
pub mod state;
