//! Lab-only: runs the lab bootstrap server until SIGINT or SIGTERM.
//!
//! ```text
//! cargo run --example bootstrap_server -- --listen 127.0.0.1:8443 \
//!     --cert lab/server.pem --key lab/server.key \
//!     --client-ca lab/vendor-ca.pem --store lab/store
//! ```
//!
//! Once the socket is bound it prints one line, `listening on <address>`,
//! to stdout, so that a script can wait for it. Logs go to stderr.

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use ztpd::lab::server::{Fault, LabServer, LabServerSettings};

/// Serve the ztpd-bootstrap get-ca-certificate RPC over HTTPS from a store
/// directory (esn/<ESN>.pem, address/<address>.pem).
#[derive(Debug, Parser)]
struct Args {
    /// Address and port to listen on; port 0 picks a free port.
    #[arg(long)]
    listen: SocketAddr,
    /// PEM file with the server certificate.
    #[arg(long)]
    cert: PathBuf,
    /// PEM file with the server certificate's private key.
    #[arg(long)]
    key: PathBuf,
    /// PEM file with the CAs that client certificates must chain to.
    /// Without it, clients need no certificate.
    #[arg(long)]
    client_ca: Option<PathBuf>,
    /// Store directory with esn/<ESN>.pem and address/<address>.pem.
    #[arg(long)]
    store: PathBuf,
    /// Misbehave on purpose: wrong-echo, missing-echo, not-json,
    /// status-<code> (such as status-404 or status-500), oversize, slow
    /// (30 s delay), slow-<seconds>, non-ca or expired-ca.
    #[arg(long)]
    fault: Option<Fault>,
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();

    let settings = LabServerSettings {
        listen: args.listen,
        cert_pem: read(&args.cert)?,
        key_pem: read(&args.key)?,
        client_ca_pem: args.client_ca.as_deref().map(read).transpose()?,
        store_dir: args.store,
        fault: args.fault,
    };
    let server = LabServer::bind(settings).await?;

    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {}", server.local_addr())?;
    stdout.flush()?;

    let shutdown = CancellationToken::new();
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let stop = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received, stopping"),
            _ = terminate.recv() => tracing::info!("SIGTERM received, stopping"),
        }
        stop.cancel();
    });
    server.run(shutdown).await;
    Ok(())
}
