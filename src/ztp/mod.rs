//! Zero-touch provisioning: download of the device's CA certificate from
//! bootstrap servers.

pub mod download;
