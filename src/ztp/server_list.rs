//! The committed bootstrap server list, read from the running datastore.
//!
//! The datastore's commit hook extracts a [`ServerList`] from every new
//! running tree and publishes it on a watch channel. The reconciler wakes
//! when the published value changes. Each entry carries the PKI domain of
//! its SSL policy, so a change of a policy that a server uses is a change
//! of the list.

use std::net::IpAddr;

use tokio::sync::watch;
use yang3::data::{Data, DataTree};

use crate::schema::paths;

/// Identity a bootstrap server must echo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyType {
    /// The server's own address.
    IpAddress,
    /// The device ESN.
    Esn,
}

/// One configured bootstrap server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub address: IpAddr,
    pub vpn_instance: String,
    pub port: u16,
    pub ssl_policy: String,
    /// PKI domain of the SSL policy, `None` when the policy names none.
    pub pki_domain: Option<String>,
    pub verify_type: VerifyType,
}

impl ServerConfig {
    /// Returns the server as log lines and messages name it.
    pub fn label(&self) -> String {
        format!("{} (VPN instance {})", self.address, self.vpn_instance)
    }
}

/// The bootstrap servers in list order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerList {
    pub servers: Vec<ServerConfig>,
}

impl ServerList {
    /// Reads the server list from a running tree. Entries that do not have
    /// every leaf the schema makes mandatory cannot occur in a validated
    /// tree and are skipped.
    pub fn from_running(tree: &DataTree<'static>) -> ServerList {
        let Ok(entries) = tree.find_xpath(paths::CERTIFICATE_REMOTE) else {
            return ServerList::default();
        };
        let mut servers = Vec::new();
        for entry in entries {
            let leaf = |name: &str| {
                entry
                    .children()
                    .find(|child| child.schema().name() == name)
                    .and_then(|child| child.value_canonical())
            };
            let (Some(address), Some(vpn_instance), Some(port), Some(ssl_policy)) = (
                leaf("address"),
                leaf("vpn-instance"),
                leaf("port"),
                leaf("ssl-policy"),
            ) else {
                continue;
            };
            let (Ok(address), Ok(port)) = (address.parse::<IpAddr>(), port.parse::<u16>()) else {
                continue;
            };
            let verify_type = match leaf("verify-type").as_deref() {
                Some("esn") => VerifyType::Esn,
                _ => VerifyType::IpAddress,
            };
            let pki_domain = policy_domain(tree, &ssl_policy);
            servers.push(ServerConfig {
                address,
                vpn_instance,
                port,
                ssl_policy,
                pki_domain,
                verify_type,
            });
        }
        ServerList { servers }
    }
}

fn policy_domain(tree: &DataTree<'static>, policy: &str) -> Option<String> {
    let entries = tree.find_xpath(paths::SSL_POLICY).ok()?;
    for entry in entries {
        let name = entry
            .children()
            .find(|child| child.schema().name() == "policy-name")
            .and_then(|child| child.value_canonical());
        if name.as_deref() == Some(policy) {
            return entry
                .children()
                .find(|child| child.schema().name() == "pki-domain")
                .and_then(|child| child.value_canonical());
        }
    }
    None
}

/// Returns the datastore commit hook that publishes the server list on
/// `sender` when it changed.
pub fn commit_hook(sender: watch::Sender<ServerList>) -> crate::datastore::CommitHook {
    Box::new(move |running| {
        let list = ServerList::from_running(running);
        sender.send_if_modified(|current| {
            if *current == list {
                return false;
            }
            tracing::debug!(
                servers = list.servers.len(),
                "bootstrap server list changed"
            );
            *current = list;
            true
        });
    })
}
