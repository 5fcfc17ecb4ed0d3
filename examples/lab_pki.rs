//! Lab-only: writes the certificates and keys of a test setup for one
//! device and one bootstrap server.
//!
//! ```text
//! cargo run --example lab_pki -- --dir lab --esn 2102351931P0K8000001
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use clap::Parser;
use ztpd::lab::pki::LabPki;

/// Write a lab PKI: vendor CA, device certificate and key, bootstrap CA,
/// server certificate and key, NCE CA, and a bootstrap server store.
#[derive(Debug, Parser)]
struct Args {
    /// Directory to write the files to. It is created if missing, and
    /// existing files of the same names are replaced.
    #[arg(long)]
    dir: PathBuf,
    /// ESN of the device: the device certificate's common name and the
    /// store entry store/esn/<ESN>.pem.
    #[arg(long)]
    esn: String,
    /// IP address put in the server certificate and given a store entry
    /// store/address/<address>.pem. Repeat for several addresses.
    #[arg(long = "server-address", default_values_t = [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)])]
    server_addresses: Vec<IpAddr>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let pki = LabPki::generate(&args.esn, &args.server_addresses)?;
    pki.write_to(&args.dir)?;
    let addresses: Vec<String> = args
        .server_addresses
        .iter()
        .map(ToString::to_string)
        .collect();
    println!(
        "wrote lab PKI for ESN {} and server addresses {} to {}",
        args.esn,
        addresses.join(", "),
        args.dir.display()
    );
    Ok(())
}
