//! NETCONF monitoring state (RFC 6022 `netconf-state`): capabilities,
//! datastores with their locks, schemas, sessions and statistics, as data
//! nodes of `ietf-netconf-monitoring`.
//!
//! The nodes are libyang data paths with values, which the datastore
//! thread creates against the module, so a value that does not fit its
//! type fails there instead of reaching a client.

use std::sync::atomic::{AtomicU32, Ordering};

use super::error::RpcError;
use super::session::Server;
use super::sessions::{Counters, SessionEntry};
use crate::datastore::{DATASTORES, LockInfo, SessionId, StateNode};
use crate::pki::certificate::rfc3339;

/// Namespace of `ietf-netconf-monitoring`.
pub const NS_MONITORING: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring";

/// Root of the monitoring state.
const ROOT: &str = "/ietf-netconf-monitoring:netconf-state";

/// Schema formats that `get-schema` returns, as identities of
/// `ietf-netconf-monitoring`.
pub const SCHEMA_FORMATS: &[&str] = &["yang", "yin"];

/// One YANG module the server advertises in its hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertisedModule {
    pub name: String,
    pub revision: Option<String>,
    pub namespace: String,
}

/// Reads the modules from the module capabilities of a hello
/// (`namespace?module=name&revision=date...`, RFC 7950 section 5.6.4).
/// Other capabilities are skipped.
pub fn advertised_modules(capabilities: &[String]) -> Vec<AdvertisedModule> {
    capabilities
        .iter()
        .filter_map(|uri| {
            let (namespace, query) = uri.split_once('?')?;
            let mut name = None;
            let mut revision = None;
            for parameter in query.split('&') {
                match parameter.split_once('=') {
                    Some(("module", value)) => name = Some(value.to_owned()),
                    Some(("revision", value)) => revision = Some(value.to_owned()),
                    _ => {}
                }
            }
            Some(AdvertisedModule {
                name: name?,
                revision,
                namespace: namespace.to_owned(),
            })
        })
        .collect()
}

/// Returns the operational state of `get` and of the operational
/// datastore: what the server's state source supplies, `netconf-state`
/// and the notification streams.
pub async fn operational_state(server: &Server) -> Result<Vec<StateNode>, RpcError> {
    let mut nodes = server.state().state_nodes();
    let locks = server.datastore().locks().await?;
    nodes.extend(netconf_state(server, &locks));
    nodes.extend(server.notifications().streams_state());
    Ok(nodes)
}

/// Builds `netconf-state` from the server and the `locks` held now.
pub fn netconf_state(server: &Server, locks: &[LockInfo]) -> Vec<StateNode> {
    let mut nodes = Vec::new();
    push_capabilities(server.capabilities(), &mut nodes);
    push_datastores(locks, &mut nodes);
    push_schemas(&advertised_modules(server.capabilities()), &mut nodes);
    for (id, entry) in server.sessions().sessions() {
        push_session(id, &entry, &mut nodes);
    }
    push_statistics(server, &mut nodes);
    nodes
}

fn push(nodes: &mut Vec<StateNode>, path: String, value: impl Into<String>) {
    nodes.push(StateNode {
        path,
        value: Some(value.into()),
    });
}

fn count(counter: &AtomicU32) -> String {
    counter.load(Ordering::Relaxed).to_string()
}

fn push_capabilities(capabilities: &[String], nodes: &mut Vec<StateNode>) {
    for capability in capabilities {
        push(
            nodes,
            format!("{ROOT}/capabilities/capability"),
            capability.clone(),
        );
    }
}

fn push_datastores(locks: &[LockInfo], nodes: &mut Vec<StateNode>) {
    for datastore in DATASTORES {
        let entry = format!("{ROOT}/datastores/datastore[name='{datastore}']");
        match locks.iter().find(|lock| lock.datastore == *datastore) {
            Some(lock) => {
                let global = format!("{entry}/locks/global-lock");
                push(
                    nodes,
                    format!("{global}/locked-by-session"),
                    lock.session.to_string(),
                );
                push(
                    nodes,
                    format!("{global}/locked-time"),
                    rfc3339(lock.locked_at),
                );
            }
            None => nodes.push(StateNode {
                path: entry,
                value: None,
            }),
        }
    }
}

fn push_schemas(modules: &[AdvertisedModule], nodes: &mut Vec<StateNode>) {
    for module in modules {
        // Module names and revision dates are YANG identifiers and dates,
        // which contain no quote that could end the predicate.
        let version = module.revision.as_deref().unwrap_or("");
        for format in SCHEMA_FORMATS {
            let entry = format!(
                "{ROOT}/schemas/schema[identifier='{}'][version='{version}'][format='ietf-netconf-monitoring:{format}']",
                module.name
            );
            push(
                nodes,
                format!("{entry}/namespace"),
                module.namespace.clone(),
            );
            push(nodes, format!("{entry}/location"), "NETCONF");
        }
    }
}

fn push_counters(prefix: &str, counters: &Counters, nodes: &mut Vec<StateNode>) {
    push(nodes, format!("{prefix}/in-rpcs"), count(&counters.in_rpcs));
    push(
        nodes,
        format!("{prefix}/in-bad-rpcs"),
        count(&counters.in_bad_rpcs),
    );
    push(
        nodes,
        format!("{prefix}/out-rpc-errors"),
        count(&counters.out_rpc_errors),
    );
    push(
        nodes,
        format!("{prefix}/out-notifications"),
        count(&counters.out_notifications),
    );
}

fn push_session(id: SessionId, entry: &SessionEntry, nodes: &mut Vec<StateNode>) {
    let session = format!("{ROOT}/sessions/session[session-id='{id}']");
    push(
        nodes,
        format!("{session}/transport"),
        "ietf-netconf-monitoring:netconf-ssh",
    );
    push(nodes, format!("{session}/username"), entry.user.clone());
    if let Some(peer) = entry.peer {
        push(
            nodes,
            format!("{session}/source-host"),
            peer.ip().to_string(),
        );
    }
    push(
        nodes,
        format!("{session}/login-time"),
        rfc3339(entry.login_time),
    );
    push_counters(&session, &entry.counters, nodes);
}

fn push_statistics(server: &Server, nodes: &mut Vec<StateNode>) {
    let statistics = server.sessions().statistics();
    let base = format!("{ROOT}/statistics");
    push(
        nodes,
        format!("{base}/netconf-start-time"),
        rfc3339(statistics.start_time),
    );
    push(
        nodes,
        format!("{base}/in-bad-hellos"),
        count(&statistics.in_bad_hellos),
    );
    push(
        nodes,
        format!("{base}/in-sessions"),
        count(&statistics.in_sessions),
    );
    push(
        nodes,
        format!("{base}/dropped-sessions"),
        count(&statistics.dropped_sessions),
    );
    push_counters(&base, &statistics.counters, nodes);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::datastore::{Datastore, DatastoreHandle};
    use crate::netconf::capabilities::server_capabilities;
    use crate::netconf::ops::StateSource;
    use crate::netconf::session::SessionSettings;

    struct NoState;

    impl StateSource for NoState {
        fn state_nodes(&self) -> Vec<StateNode> {
            Vec::new()
        }
    }

    fn server(datastore: DatastoreHandle) -> Arc<Server> {
        Server::new(
            datastore,
            Arc::new(NoState),
            server_capabilities().expect("schema loads"),
            SessionSettings {
                max_message_size: 1024,
                hello_timeout: Duration::from_secs(1),
            },
            CancellationToken::new(),
            crate::ztp::reconciler::Control::channel().0,
        )
    }

    #[tokio::test]
    async fn netconf_state_is_valid_data() {
        let dir = tempfile::tempdir().expect("temp dir");
        let datastore = DatastoreHandle::open(dir.path(), Box::new(|_| {})).expect("datastore");
        let server = server(datastore.clone());
        let entry = SessionEntry {
            user: "admin".into(),
            peer: Some("127.0.0.2:40000".parse().expect("address")),
            login_time: time::OffsetDateTime::now_utc(),
            counters: Arc::default(),
            kill: CancellationToken::new(),
        };
        server.sessions().register(7, entry.clone());
        server.sessions().count_rpc(&entry.counters, false, true);
        datastore
            .lock(7, Datastore::Candidate)
            .await
            .expect("lock granted");
        let locks = datastore.locks().await.expect("locks");

        let xml = crate::datastore::valid_state_xml(&netconf_state(&server, &locks));

        for expected in [
            "<session-id>7</session-id>",
            "<username>admin</username>",
            "<source-host>127.0.0.2</source-host>",
            "<in-rpcs>1</in-rpcs>",
            "<out-rpc-errors>1</out-rpc-errors>",
            "<in-sessions>1</in-sessions>",
            "<locked-by-session>7</locked-by-session>",
            "<identifier>ztpd-ztp</identifier>",
            "<location>NETCONF</location>",
            "urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit&amp;also-supported=report-all,report-all-tagged,trim",
        ] {
            assert!(xml.contains(expected), "{expected} missing from {xml}");
        }
        assert_eq!(xml.matches("<locked-by-session>").count(), 1, "{xml}");
    }

    #[test]
    fn advertised_modules_read_from_capabilities() {
        let modules = advertised_modules(&[
            "urn:ietf:params:netconf:base:1.1".to_owned(),
            "urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit".to_owned(),
            "urn:x?module=x&revision=2020-01-01&features=a,b".to_owned(),
            "urn:y?module=y".to_owned(),
        ]);
        assert_eq!(
            modules,
            vec![
                AdvertisedModule {
                    name: "x".into(),
                    revision: Some("2020-01-01".into()),
                    namespace: "urn:x".into(),
                },
                AdvertisedModule {
                    name: "y".into(),
                    revision: None,
                    namespace: "urn:y".into(),
                },
            ]
        );
    }
}
