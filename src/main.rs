//! The `ztpd` daemon: NETCONF over SSH in front of the datastores, and the
//! reconciler that downloads the CA certificate.

use std::io::Read as _;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use ztpd::config::{Config, LogFormat};
use ztpd::datastore::DatastoreHandle;
use ztpd::netconf::capabilities::server_capabilities;
use ztpd::netconf::notifications::events;
use ztpd::netconf::session::{Server, SessionSettings};
use ztpd::netconf::transport::{Listener, TransportSettings};
use ztpd::pki::PkiStore;
use ztpd::ztp::reconciler::{self, Worker};
use ztpd::ztp::server_list::{ServerList, commit_hook};
use ztpd::ztp::state::{SharedState, SourceFile, StateReader};

/// NETCONF/YANG agent that downloads the device's CA certificate from
/// bootstrap servers.
#[derive(Debug, Parser)]
#[command(name = "ztpd", version, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Configuration file (TOML). Runs the agent in the foreground until
    /// SIGINT or SIGTERM.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,

    /// Log format; overrides `log.format` of the configuration file.
    #[arg(long, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormatArg>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read a password from standard input and print its argon2 hash, the
    /// value of `password-hash` in the configuration file.
    HashPassword,
    /// Check a configuration file and exit.
    CheckConfig {
        /// Configuration file (TOML).
        #[arg(long, short = 'c', value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::HashPassword) => hash_password(),
        Some(Command::CheckConfig { config }) => check_config(&config),
        None => match cli.config {
            Some(config) => run_daemon(&config, cli.log_format),
            None => Err(anyhow::anyhow!("missing --config FILE; see `ztpd --help`")),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ztpd: {}", error_chain(&err));
            ExitCode::FAILURE
        }
    }
}

/// Joins an error and its causes with ": ", leaving out a cause whose text
/// the message before it already contains (many I/O errors repeat it).
fn error_chain(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

fn hash_password() -> anyhow::Result<()> {
    use std::io::IsTerminal;

    use argon2::PasswordHasher;

    // On a terminal the password is read without echo and asked twice; from
    // a pipe it is the single line of standard input.
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
        let second =
            rpassword::prompt_password("Password again: ").context("cannot read the password")?;
        if first != second {
            anyhow::bail!("the two passwords differ");
        }
        first
    } else {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .context("cannot read the password from standard input")?;
        let mut lines = input.lines();
        let password = lines.next().unwrap_or_default().to_owned();
        if lines.any(|line| !line.is_empty()) {
            anyhow::bail!(
                "standard input has more than one line; give the password as its only line"
            );
        }
        password
    };
    if password.is_empty() {
        anyhow::bail!("the password is empty");
    }
    let hash = argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|err| anyhow::anyhow!("cannot hash the password: {err}"))?;
    println!("{hash}");
    Ok(())
}

fn check_config(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    config
        .check_files()
        .map_err(|message| anyhow::anyhow!("{}: {message}", path.display()))?;
    println!("{}: valid", path.display());
    Ok(())
}

fn run_daemon(path: &Path, log_format: Option<LogFormatArg>) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let format = match log_format {
        Some(LogFormatArg::Text) => LogFormat::Text,
        Some(LogFormatArg::Json) => LogFormat::Json,
        None => config.log.format,
    };
    init_logging(format, &config.log.level)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(serve(config));
    // Connections still closing get a moment, then are dropped, so a stop
    // does not wait on a client that ignores the SSH disconnect.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    if result.is_ok() {
        tracing::info!("ztpd stopped");
    }
    result
}

/// Time left to tasks that still run when the agent stops.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

fn init_logging(format: LogFormat, level: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .with_context(|| format!("invalid log.level {level:?}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    tracing::info!(version = env!("CARGO_PKG_VERSION"), state_dir = %config.state_dir.display(), "ztpd starting");

    // State directory, schema, PKI domains.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.state_dir)
        .with_context(|| {
            format!(
                "cannot create the state directory {}",
                config.state_dir.display()
            )
        })?;
    ztpd::schema::context()?;
    let pki = PkiStore::open(config.pki_dir())?;

    // Datastores; the commit hook publishes the server list.
    let (servers_sender, servers) = watch::channel(ServerList::default());
    let datastore = DatastoreHandle::open(&config.state_dir, commit_hook(servers_sender))?;

    // NETCONF over SSH, with the reconciler's request queue.
    let shutdown = CancellationToken::new();
    let state = SharedState::default();
    let (control, commands) = reconciler::Control::channel();
    let server = Server::new(
        datastore,
        std::sync::Arc::new(StateReader {
            state: state.clone(),
            pki: pki.clone(),
        }),
        server_capabilities()?,
        SessionSettings {
            max_message_size: config.netconf.max_message_size,
            hello_timeout: config.netconf.hello_timeout(),
        },
        shutdown.clone(),
        control,
    );
    // netconf-config-change notifications for every change of running.
    server
        .datastore()
        .set_change_listener(events::config_change_listener(
            server.notifications().clone(),
            server.session_registry(),
        ))
        .await?;
    // netconf-confirmed-commit notifications for every confirmed commit step.
    server
        .datastore()
        .set_confirmed_listener(events::confirmed_commit_listener(
            server.notifications().clone(),
            server.session_registry(),
        ))
        .await?;

    // Reconciler.
    let worker = Worker {
        notifications: server.notifications().clone(),
        state,
        pki,
        source_file: SourceFile::in_dir(&config.state_dir),
        device: config.device.clone(),
        bootstrap: config.bootstrap.clone(),
    };
    if let Err(err) = ztpd::ztp::download::ClientSettings::load(&config.device, &config.bootstrap) {
        tracing::error!(error = %err.message, "the device identity is unusable; downloads will fail until it is fixed");
    }
    if config.bootstrap.insecure_skip_server_verify {
        tracing::warn!(
            "bootstrap server certificates are not verified (bootstrap.insecure-skip-server-verify)"
        );
    }
    let reconciler = tokio::spawn(reconciler::run(worker, servers, commands, shutdown.clone()));

    let listener = Listener::bind(TransportSettings::from_config(&config)).await?;
    for address in listener.local_addrs() {
        tracing::info!(%address, "NETCONF server listening");
    }

    tokio::spawn(stop_on_signal(shutdown.clone()));
    listener.run(server.starter(), shutdown.clone()).await?;
    shutdown.cancel();
    let _ = reconciler.await;
    Ok(())
}

async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};

    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::error!("cannot install signal handlers; stop ztpd with SIGKILL");
        return;
    };
    tokio::select! {
        _ = interrupt.recv() => tracing::info!("SIGINT received, stopping"),
        _ = terminate.recv() => tracing::info!("SIGTERM received, stopping"),
    }
    shutdown.cancel();
}
