//! The daemon's configuration file.
//!
//! The file is TOML with kebab-case keys. Unknown keys are rejected by name,
//! so a misspelt key fails the start instead of being ignored. Relative paths
//! are resolved against the directory of the configuration file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Default NETCONF over SSH listen address. The IANA port for NETCONF over
/// SSH is 830; an unprivileged port is the default so that the agent runs
/// without privileges.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8300";

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Directory holding the datastores, the SSH host key and the PKI
    /// domains.
    pub state_dir: PathBuf,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub netconf: NetconfConfig,
    /// NETCONF users, at least one. An empty list gets the clear error of
    /// [`Config::check`] instead of serde's missing-field message.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    pub device: DeviceConfig,
    pub bootstrap: BootstrapConfig,
}

/// Log output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LogConfig {
    #[serde(default)]
    pub format: LogFormat,
    /// A `tracing_subscriber::EnvFilter` directive such as `info` or
    /// `ztpd=debug`. The `RUST_LOG` environment variable overrides it.
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::default(),
            level: default_log_level(),
        }
    }
}

fn default_log_level() -> String {
    "info".to_owned()
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per event.
    Json,
}

/// The NETCONF server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NetconfConfig {
    /// Addresses the SSH server listens on.
    #[serde(default = "default_listen")]
    pub listen: Vec<SocketAddr>,
    /// Maximum number of simultaneous SSH connections.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
    /// Maximum size in bytes of one NETCONF message from a client.
    #[serde(default = "default_max_message_size")]
    pub max_message_size: usize,
    /// Seconds a client has to authenticate and send its hello.
    #[serde(default = "default_hello_timeout_secs")]
    pub hello_timeout_secs: u64,
}

impl Default for NetconfConfig {
    fn default() -> Self {
        NetconfConfig {
            listen: default_listen(),
            max_sessions: default_max_sessions(),
            max_message_size: default_max_message_size(),
            hello_timeout_secs: default_hello_timeout_secs(),
        }
    }
}

impl NetconfConfig {
    /// Time a client has to authenticate and send its hello.
    pub fn hello_timeout(&self) -> Duration {
        Duration::from_secs(self.hello_timeout_secs)
    }
}

fn default_listen() -> Vec<SocketAddr> {
    // The constant is a valid socket address, so the parse cannot fail.
    DEFAULT_LISTEN
        .parse()
        .map(|addr| vec![addr])
        .unwrap_or_default()
}

fn default_max_sessions() -> usize {
    64
}

fn default_max_message_size() -> usize {
    16 * 1024 * 1024
}

fn default_hello_timeout_secs() -> u64 {
    60
}

/// One NETCONF user. A user logs in with the password whose argon2 hash is
/// given, or with any of the listed public keys.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct UserConfig {
    pub name: String,
    /// Argon2 hash in PHC string format (`$argon2id$v=19$...`), as printed
    /// by `ztpd hash-password`.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// OpenSSH public keys, one per entry (`ssh-ed25519 AAAA... comment`).
    #[serde(default)]
    pub authorized_keys: Vec<String>,
    /// An OpenSSH `authorized_keys` file with more public keys.
    #[serde(default)]
    pub authorized_keys_file: Option<PathBuf>,
}

impl std::fmt::Debug for UserConfig {
    // The password hash stays out of debug output and logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("authorized_keys", &self.authorized_keys.len())
            .field("authorized_keys_file", &self.authorized_keys_file)
            .finish()
    }
}

/// The device identity used with bootstrap servers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DeviceConfig {
    /// Equipment serial number, sent with `verify-type esn`.
    pub esn: String,
    /// PEM file with the device's initial certificate, optionally followed
    /// by its intermediate CA certificates.
    pub initial_certificate: PathBuf,
    /// PEM file with the private key of the initial certificate.
    pub initial_key: PathBuf,
}

/// Connections to bootstrap servers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BootstrapConfig {
    /// PEM file with the CA certificates that bootstrap server certificates
    /// must chain to.
    #[serde(default)]
    pub trust_anchors: Option<PathBuf>,
    /// Accept any bootstrap server certificate. For labs only: anyone on
    /// the path can then hand the device a CA certificate.
    #[serde(default)]
    pub insecure_skip_server_verify: bool,
    /// Seconds allowed to open the TCP connection.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// Seconds allowed for one whole request: connection, TLS, request and
    /// response.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
    /// Seconds to wait before the first new round after every server
    /// failed. Each further failed round doubles the wait, up to
    /// `retry-max-secs`. A random part of up to half the wait is taken
    /// off so that many devices do not retry in step.
    #[serde(default = "default_retry_initial_secs")]
    pub retry_initial_secs: u64,
    /// Maximum wait between rounds, in seconds.
    #[serde(default = "default_retry_max_secs")]
    pub retry_max_secs: u64,
}

impl BootstrapConfig {
    /// Returns the time allowed to open the TCP connection.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    /// Returns the time allowed for one whole request.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// Returns the wait before the first retry round.
    pub fn retry_initial(&self) -> Duration {
        Duration::from_secs(self.retry_initial_secs)
    }

    /// Returns the maximum wait between retry rounds.
    pub fn retry_max(&self) -> Duration {
        Duration::from_secs(self.retry_max_secs)
    }
}

fn default_retry_initial_secs() -> u64 {
    60
}

fn default_retry_max_secs() -> u64 {
    3600
}

fn default_connect_timeout_secs() -> u64 {
    10
}

fn default_request_timeout_secs() -> u64 {
    30
}

/// Errors of loading the configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid configuration file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    /// Reads, parses and checks the configuration file at `path`, and
    /// resolves its relative paths against the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        config.resolve_paths(base);
        config.check().map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })?;
        Ok(config)
    }

    /// Parses configuration text. The error message names the offending key
    /// and its line.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|err| err.to_string().trim_end().to_owned())
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        resolve(&mut self.state_dir);
        resolve(&mut self.device.initial_certificate);
        resolve(&mut self.device.initial_key);
        if let Some(path) = self.bootstrap.trust_anchors.as_mut() {
            resolve(path);
        }
        for user in &mut self.users {
            if let Some(path) = user.authorized_keys_file.as_mut() {
                resolve(path);
            }
        }
    }

    /// Checks the rules that the TOML types cannot express.
    fn check(&self) -> Result<(), String> {
        if self.netconf.listen.is_empty() {
            return Err("netconf.listen is empty: give at least one address".into());
        }
        if self.netconf.max_sessions == 0 {
            return Err("netconf.max-sessions is 0: it must be at least 1".into());
        }
        if self.netconf.max_message_size < 4096 {
            return Err(format!(
                "netconf.max-message-size is {}: it must be at least 4096 bytes",
                self.netconf.max_message_size
            ));
        }
        check_log_level(&self.log.level)?;

        if self.users.is_empty() {
            return Err(
                "the configuration has no [[users]] entry, so no one could log in over NETCONF: add a user with a password-hash or authorized keys"
                    .into(),
            );
        }
        let mut names = std::collections::HashSet::new();
        for user in &self.users {
            if user.name.is_empty() {
                return Err("a user has an empty name".into());
            }
            if !names.insert(user.name.as_str()) {
                return Err(format!("user {:?} is defined twice", user.name));
            }
            if user.password_hash.is_none()
                && user.authorized_keys.is_empty()
                && user.authorized_keys_file.is_none()
            {
                return Err(format!(
                    "user {:?} has neither password-hash nor authorized keys, so it cannot log in",
                    user.name
                ));
            }
            if let Some(hash) = &user.password_hash {
                argon2::PasswordHash::new(hash).map_err(|err| {
                    format!(
                        "user {:?}: password-hash is not a PHC string ({err}); create one with `ztpd hash-password`",
                        user.name
                    )
                })?;
            }
        }

        if self.device.esn.is_empty() || self.device.esn.len() > 64 {
            return Err(format!(
                "device.esn {:?} must be 1 to 64 characters",
                self.device.esn
            ));
        }

        if self.bootstrap.trust_anchors.is_none() && !self.bootstrap.insecure_skip_server_verify {
            return Err(
                "bootstrap.trust-anchors is missing: name the CA certificates that bootstrap servers must chain to"
                    .into(),
            );
        }
        for (name, value) in [
            ("connect-timeout-secs", self.bootstrap.connect_timeout_secs),
            ("request-timeout-secs", self.bootstrap.request_timeout_secs),
            ("retry-initial-secs", self.bootstrap.retry_initial_secs),
        ] {
            if value == 0 {
                return Err(format!(
                    "bootstrap.{name} is 0: it must be at least 1 second"
                ));
            }
        }
        if self.bootstrap.retry_max_secs < self.bootstrap.retry_initial_secs {
            return Err(format!(
                "bootstrap.retry-max-secs ({}) is less than retry-initial-secs ({})",
                self.bootstrap.retry_max_secs, self.bootstrap.retry_initial_secs
            ));
        }
        Ok(())
    }

    /// Checks what only the referenced files can tell: that every user's
    /// authorized keys load and that the device certificate and key are
    /// usable as a TLS client identity.
    pub fn check_files(&self) -> Result<(), String> {
        crate::netconf::auth::Authenticator::load(&self.users).map_err(|err| err.to_string())?;
        crate::ztp::download::ClientSettings::load(&self.device, &self.bootstrap)
            .map_err(|err| err.message)?;
        Ok(())
    }

    /// Directory of the PKI domains.
    pub fn pki_dir(&self) -> PathBuf {
        self.state_dir.join("pki")
    }

    /// File of the SSH host key.
    pub fn host_key_path(&self) -> PathBuf {
        self.state_dir.join("ssh_host_ed25519_key")
    }
}

/// Level names of `tracing`, accepted alone or after `target=`.
const LOG_LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];

/// Rejects log filters whose words `tracing` would silently read as target
/// names, such as `inf` for `info`, which would turn logging off.
fn check_log_level(level: &str) -> Result<(), String> {
    for directive in level
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let level_part = match directive.rsplit_once('=') {
            Some((_, level)) => level,
            None if directive.contains(['[', ':']) => continue,
            None => directive,
        };
        if !LOG_LEVELS.contains(&level_part.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "log.level {level:?}: {level_part:?} is not a level; use one of {} or TARGET=LEVEL",
                LOG_LEVELS.join(", ")
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(level)
        .map(|_| ())
        .map_err(|err| format!("log.level {level:?} is invalid: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
state-dir = "state"
[[users]]
name = "nms"
authorized-keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGz8 nms"]
[device]
esn = "2102351931P0K8000001"
initial-certificate = "device.pem"
initial-key = "device.key"
[bootstrap]
trust-anchors = "bootstrap-ca.pem"
"#;

    #[test]
    fn minimal_file_takes_defaults() {
        let config = Config::parse(MINIMAL).expect("minimal configuration parses");
        assert_eq!(config.netconf.listen, default_listen());
        assert_eq!(config.log.format, LogFormat::Text);
        assert!(!config.bootstrap.insecure_skip_server_verify);
        assert!(config.check().is_ok());
    }

    #[test]
    fn unknown_key_is_named() {
        let text = format!("{MINIMAL}\nlisten-adress = \"x\"\n");
        let err = Config::parse(&text).expect_err("unknown key is rejected");
        assert!(err.contains("listen-adress"), "{err}");
    }

    #[test]
    fn missing_trust_anchors_rejected() {
        let text = MINIMAL.replace("trust-anchors = \"bootstrap-ca.pem\"", "");
        let config = Config::parse(&text).expect("parses");
        let err = config
            .check()
            .expect_err("no trust anchors and no insecure switch");
        assert!(err.contains("trust-anchors"), "{err}");
    }

    #[test]
    fn empty_user_list_rejected() {
        let text = MINIMAL.replace("[[users]]", "").replace(
            "name = \"nms\"\nauthorized-keys = [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGz8 nms\"]\n",
            "",
        );
        let config = Config::parse(&text).expect("parses");
        assert!(config.users.is_empty());
        let err = config.check().expect_err("no user is rejected");
        assert!(err.contains("no [[users]]"), "{err}");
        assert!(err.contains("add a user"), "{err}");
    }

    #[test]
    fn user_without_credentials_rejected() {
        let text = format!("{MINIMAL}\n[[users]]\nname = \"admin\"\n");
        let config = Config::parse(&text).expect("parses");
        let err = config.check().expect_err("user cannot log in");
        assert!(err.contains("admin"), "{err}");
    }

    #[test]
    fn zero_bootstrap_times_rejected() {
        for key in [
            "connect-timeout-secs",
            "request-timeout-secs",
            "retry-initial-secs",
        ] {
            let text = format!("{MINIMAL}{key} = 0\n");
            let config = Config::parse(&text).expect("parses");
            let err = config.check().expect_err("zero is rejected");
            assert!(err.contains(&format!("bootstrap.{key} is 0")), "{err}");
        }
    }

    #[test]
    fn misspelt_log_level_rejected() {
        for level in ["inf", "debugg", "ztpd=verbose"] {
            assert!(check_log_level(level).is_err(), "{level} accepted");
        }
        for level in ["info", "info,ztpd=debug", "ztpd::netconf=trace", "WARN"] {
            assert!(check_log_level(level).is_ok(), "{level} rejected");
        }
    }

    #[test]
    fn relative_paths_resolve_against_file() {
        let mut config = Config::parse(MINIMAL).expect("parses");
        config.resolve_paths(Path::new("/etc/ztpd"));
        assert_eq!(config.state_dir, Path::new("/etc/ztpd/state"));
        assert_eq!(config.device.initial_key, Path::new("/etc/ztpd/device.key"));
    }
}
