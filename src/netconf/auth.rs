//! Credentials of NETCONF users: argon2 password hashes and authorized
//! public keys.
//!
//! The checks here return only yes or no. The SSH layer rejects unknown
//! users and wrong credentials with the same reply after the same delay.

#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use russh::keys::PublicKey;
use tokio::sync::Semaphore;
use tracing::warn;
use zeroize::Zeroizing;

use super::transport::TransportError;
use crate::config::UserConfig;

/// `authorized_keys` options that restrict what ztpd does not offer anyway
/// (terminals, forwarding, `~/.ssh/rc`), so a key that carries them is
/// accepted as if it had none. Any other option, such as `from=` or
/// `command=`, would have to be enforced, so such a key is rejected at
/// start.
const IGNORED_KEY_OPTIONS: &[&str] = &[
    "restrict",
    "no-pty",
    "no-port-forwarding",
    "no-agent-forwarding",
    "no-X11-forwarding",
    "no-user-rc",
];

/// Maximum number of password checks that run at the same time; further
/// checks wait. With the argon2 crate's default parameters each check
/// allocates 19 MiB and keeps a core busy for tens of milliseconds (an
/// estimate), so password guesses on many connections could otherwise
/// exhaust memory.
pub const MAX_CONCURRENT_PASSWORD_CHECKS: usize = 4;

/// The credentials of all configured users.
pub struct Authenticator {
    users: HashMap<String, UserCredentials>,
    /// A configured password hash that a password for an unknown user is
    /// checked against, so that the reply takes as long as for a known user.
    decoy_hash: Option<String>,
    password_checks: Arc<Semaphore>,
}

struct UserCredentials {
    password_hash: Option<String>,
    keys: Vec<PublicKey>,
}

impl Authenticator {
    /// Collects the users' password hashes and public keys, reading each
    /// `authorized-keys-file`.
    pub fn load(users: &[UserConfig]) -> Result<Authenticator, TransportError> {
        let mut credentials = HashMap::new();
        for user in users {
            let mut keys = Vec::new();
            for (index, line) in user.authorized_keys.iter().enumerate() {
                let origin = format!("authorized-keys entry {}", index + 1);
                if let Some(key) = parse_authorized_key(&user.name, &origin, line)? {
                    keys.push(key);
                }
            }
            if let Some(path) = &user.authorized_keys_file {
                keys.extend(read_authorized_keys_file(&user.name, path)?);
            }
            credentials.insert(
                user.name.clone(),
                UserCredentials {
                    password_hash: user.password_hash.clone(),
                    keys,
                },
            );
        }
        let decoy_hash = users.iter().find_map(|user| user.password_hash.clone());
        Ok(Authenticator {
            users: credentials,
            decoy_hash,
            password_checks: Arc::new(Semaphore::new(MAX_CONCURRENT_PASSWORD_CHECKS)),
        })
    }

    /// Returns whether `password` matches the argon2 hash of `user`.
    ///
    /// The hash runs on the blocking thread pool because it takes tens of
    /// milliseconds of CPU time or more, depending on its parameters.
    pub async fn verify_password(&self, user: &str, password: &str) -> bool {
        let user_hash = self
            .users
            .get(user)
            .and_then(|credentials| credentials.password_hash.clone());
        let is_known = user_hash.is_some();
        let Some(hash) = user_hash.or_else(|| self.decoy_hash.clone()) else {
            return false;
        };
        let password = Zeroizing::new(password.to_owned());
        // `acquire_owned` fails only on a closed semaphore, and this one is
        // never closed.
        let Ok(permit) = self.password_checks.clone().acquire_owned().await else {
            return false;
        };
        let matches = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            PasswordHash::new(&hash).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false);
        is_known && matches
    }

    /// Returns whether `key` is one of the authorized keys of `user`.
    /// Comments and options of the configured keys do not matter.
    pub fn is_authorized_key(&self, user: &str, key: &PublicKey) -> bool {
        self.users.get(user).is_some_and(|credentials| {
            credentials
                .keys
                .iter()
                .any(|authorized| authorized.key_data() == key.key_data())
        })
    }
}

fn read_authorized_keys_file(user: &str, path: &Path) -> Result<Vec<PublicKey>, TransportError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| TransportError::ReadAuthorizedKeys {
            user: user.to_owned(),
            path: path.to_owned(),
            source,
        })?;
    let mut keys = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let origin = format!("{} line {}", path.display(), index + 1);
        if let Some(key) = parse_authorized_key(user, &origin, line)? {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// Parses one `authorized_keys` line (sshd(8), "AUTHORIZED_KEYS FILE
/// FORMAT"): optional options, key type, base64 key and comment. Returns
/// `None` for blank and comment lines.
fn parse_authorized_key(
    user: &str,
    origin: &str,
    line: &str,
) -> Result<Option<PublicKey>, TransportError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let invalid = |message: String| TransportError::InvalidAuthorizedKey {
        user: user.to_owned(),
        origin: origin.to_owned(),
        message,
    };

    let key_error = match PublicKey::from_openssh(line) {
        Ok(key) => return Ok(Some(key)),
        Err(err) => err,
    };
    // The line did not start with a key type, so it starts with options,
    // which end at the first space outside double quotes.
    let (options, rest) = split_options(line);
    let key = PublicKey::from_openssh(rest.trim_start())
        .map_err(|_| invalid(format!("not an OpenSSH public key ({key_error})")))?;
    for option in options.split(',') {
        if !IGNORED_KEY_OPTIONS
            .iter()
            .any(|ignored| ignored.eq_ignore_ascii_case(option))
        {
            return Err(invalid(format!(
                "option {option:?} is not supported; remove the option or the key"
            )));
        }
    }
    if !options.is_empty() {
        warn!(
            user,
            origin,
            options,
            "ignoring authorized key options, which restrict only features ztpd does not offer"
        );
    }
    Ok(Some(key))
}

fn split_options(line: &str) -> (&str, &str) {
    let mut quoted = false;
    for (index, character) in line.char_indices() {
        match character {
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => {
                return (
                    line.get(..index).unwrap_or_default(),
                    line.get(index..).unwrap_or_default(),
                );
            }
            _ => {}
        }
    }
    (line, "")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use argon2::PasswordHasher;
    use russh::keys::PrivateKey;
    use russh::keys::ssh_key::private::Ed25519Keypair;

    const PASSWORD: &str = "correct horse";

    /// Hashes `password` with small parameters so that debug-build tests
    /// stay fast. Production hashes use the argon2 defaults.
    fn cheap_hash(password: &str) -> String {
        let params = argon2::Params::new(1024, 1, 1, None).expect("params");
        Argon2::from(params)
            .hash_password(password.as_bytes())
            .expect("hash")
            .to_string()
    }

    fn public_key(seed: u8) -> PublicKey {
        let keypair = Ed25519Keypair::from_seed(&[seed; 32]);
        PrivateKey::new(keypair.into(), "test")
            .expect("key")
            .public_key()
            .clone()
    }

    fn user(name: &str, keys: Vec<String>) -> UserConfig {
        UserConfig {
            name: name.to_owned(),
            password_hash: Some(cheap_hash(PASSWORD)),
            authorized_keys: keys,
            authorized_keys_file: None,
        }
    }

    #[tokio::test]
    async fn password_checks() {
        let authenticator = Authenticator::load(&[user("admin", vec![])]).expect("load");
        assert!(authenticator.verify_password("admin", PASSWORD).await);
        assert!(!authenticator.verify_password("admin", "wrong").await);
        assert!(!authenticator.verify_password("root", PASSWORD).await);
    }

    #[test]
    fn key_lines_with_and_without_options() {
        let key = public_key(1).to_openssh().expect("openssh");
        let lines = vec![
            key.clone(),
            format!("no-pty,no-port-forwarding {key} laptop"),
            format!("# comment {key}"),
            String::new(),
        ];
        let authenticator = Authenticator::load(&[user("admin", lines)]).expect("load");
        assert!(authenticator.is_authorized_key("admin", &public_key(1)));
        assert!(!authenticator.is_authorized_key("admin", &public_key(2)));
        assert!(!authenticator.is_authorized_key("root", &public_key(1)));
    }

    #[test]
    fn enforcing_option_is_rejected() {
        let key = public_key(1).to_openssh().expect("openssh");
        let line = format!("from=\"10.0.0.1, 10.0.0.2\",no-pty {key}");
        let err = Authenticator::load(&[user("admin", vec![line])])
            .err()
            .expect("option rejected");
        let message = err.to_string();
        assert!(message.contains("from="), "{message}");
        assert!(message.contains("admin"), "{message}");
        assert!(message.contains("entry 1"), "{message}");
    }

    #[test]
    fn invalid_key_line_is_named() {
        let err = Authenticator::load(&[user("admin", vec!["ssh-ed25519 AAAAnope".into()])])
            .err()
            .expect("invalid key");
        let message = err.to_string();
        assert!(message.contains("not an OpenSSH public key"), "{message}");
    }

    #[test]
    fn keys_file_is_read() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("authorized_keys");
        let text = format!(
            "# keys\n{}\n\n{}\n",
            public_key(3).to_openssh().expect("openssh"),
            public_key(4).to_openssh().expect("openssh")
        );
        std::fs::write(&path, text).expect("write");
        let mut config = user("admin", vec![]);
        config.authorized_keys_file = Some(path);
        let authenticator = Authenticator::load(&[config]).expect("load");
        assert!(authenticator.is_authorized_key("admin", &public_key(3)));
        assert!(authenticator.is_authorized_key("admin", &public_key(4)));
    }

    #[test]
    fn missing_keys_file_is_named() {
        let mut config = user("admin", vec![]);
        config.authorized_keys_file = Some("/nonexistent/authorized_keys".into());
        let err = Authenticator::load(&[config]).err().expect("missing file");
        let message = err.to_string();
        assert!(
            message.contains("/nonexistent/authorized_keys"),
            "{message}"
        );
        assert!(message.contains("admin"), "{message}");
    }
}
