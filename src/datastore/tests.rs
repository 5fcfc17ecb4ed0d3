//! Datastore behaviour, driven through the store directly.

use std::sync::{Arc, Mutex};

use super::*;
use crate::netconf::error::ErrorTag;

const POLICY: &str = r#"<ssl xmlns="urn:ztpd:yang:ztpd-ssl"><ssl-policies><ssl-policy><policy-name>ztp_policy</policy-name><pki-domain>default</pki-domain></ssl-policy></ssl-policies></ssl>"#;

fn server(address: &str, port: &str) -> String {
    format!(
        r#"<certificate-remote><address>{address}</address><vpn-instance>_public_</vpn-instance><port>{port}</port><ssl-policy>ztp_policy</ssl-policy></certificate-remote>"#
    )
}

fn ztp(content: &str) -> String {
    format!(
        r#"<ztp xmlns="urn:ztpd:yang:ztpd-ztp" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">{content}</ztp>"#
    )
}

impl Store {
    /// `edit-config` with default options apart from `default_operation`,
    /// returning the first error.
    fn edit_config_default(
        &mut self,
        session: SessionId,
        target: Datastore,
        default_operation: DefaultOperation,
        config: &str,
    ) -> Result<(), RpcError> {
        let options = EditOptions {
            default_operation,
            ..EditOptions::default()
        };
        self.edit_config(session, target, options, config)
            .map_err(|mut errors| errors.swap_remove(0))
    }

    fn commit(&mut self, session: SessionId) -> Result<(), RpcError> {
        self.commit_with(session, None, None).map(|_| ())
    }

    /// `get-config` of `source` through the read path the operations use.
    pub(super) fn get_config(
        &self,
        source: Datastore,
        filter: Option<&Filter>,
    ) -> Result<String, RpcError> {
        self.read(&read::ReadRequest::new(
            read::ReadSource::Configuration(source),
            filter.cloned(),
        ))
    }

    /// `get` with the given state nodes through the read path.
    pub(super) fn get(
        &self,
        filter: Option<&Filter>,
        state: &[StateNode],
    ) -> Result<String, RpcError> {
        let source = read::ReadSource::Operational {
            state: state.to_vec(),
        };
        self.read(&read::ReadRequest::new(source, filter.cloned()))
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    published: Arc<Mutex<usize>>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let published = Arc::new(Mutex::new(0usize));
    let counter = Arc::clone(&published);
    let hook: CommitHook = Box::new(move |_| *counter.lock().expect("lock") += 1);
    let store = Store::open(RunningFile::in_dir(dir.path()), hook).expect("opens");
    Fixture {
        _dir: dir,
        store,
        published,
    }
}

fn edit(store: &mut Store, target: Datastore, config: &str) -> Result<(), RpcError> {
    store.edit_config_default(1, target, DefaultOperation::Merge, config)
}

fn config(store: &Store, source: Datastore) -> String {
    store.get_config(source, None).expect("get-config")
}

/// Returns running as `get-config` with the subtree filter `filter` shows it.
fn running_filtered(store: &Store, filter: &str) -> String {
    let filter = crate::netconf::xml::parse(filter).expect("filter");
    store
        .get_config(Datastore::Running, Some(&Filter::Subtree(vec![filter])))
        .expect("get-config")
}

#[test]
fn merge_into_candidate_then_commit() {
    let mut f = fixture();
    let content = format!("{POLICY}{}", ztp(&server("2001:DB8:1:0::1", "30217")));
    edit(&mut f.store, Datastore::Candidate, &content).expect("edit accepted");

    let candidate = config(&f.store, Datastore::Candidate);
    assert!(
        candidate.contains("<address>2001:db8:1::1</address>"),
        "{candidate}"
    );
    assert!(!config(&f.store, Datastore::Running).contains("certificate-remote"));

    let before = *f.published.lock().expect("lock");
    f.store.commit(1).expect("commit");
    assert!(config(&f.store, Datastore::Running).contains("<port>30217</port>"));
    assert_eq!(*f.published.lock().expect("lock"), before + 1);
    assert!(!f.store.candidate_modified);
}

#[test]
fn running_reloads_after_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let content = format!("{POLICY}{}", ztp(&server("10.1.1.1", "30217")));
    {
        let mut store =
            Store::open(RunningFile::in_dir(dir.path()), Box::new(|_| {})).expect("opens");
        edit(&mut store, Datastore::Running, &content).expect("edit running");
    }
    let store = Store::open(RunningFile::in_dir(dir.path()), Box::new(|_| {})).expect("reopens");
    let running = config(&store, Datastore::Running);
    assert!(running.contains("<address>10.1.1.1</address>"), "{running}");
    assert!(
        running.contains("<policy-name>ztp_policy</policy-name>"),
        "{running}"
    );
}

#[test]
fn create_of_existing_is_data_exists() {
    let mut f = fixture();
    let content = format!("{POLICY}{}", ztp(&server("10.1.1.1", "1")));
    edit(&mut f.store, Datastore::Candidate, &content).expect("first edit");
    let again = ztp(&server("10.1.1.1", "2").replace(
        "<certificate-remote>",
        r#"<certificate-remote nc:operation="create">"#,
    ));
    let err = edit(&mut f.store, Datastore::Candidate, &again).expect_err("exists");
    assert_eq!(err.tag, ErrorTag::DataExists);
    assert!(config(&f.store, Datastore::Candidate).contains("<port>1</port>"));
}

#[test]
fn delete_of_missing_is_data_missing() {
    let mut f = fixture();
    let content = ztp(
        r#"<certificate-remote nc:operation="delete"><address>10.9.9.9</address><vpn-instance>_public_</vpn-instance></certificate-remote>"#,
    );
    let err = edit(&mut f.store, Datastore::Candidate, &content).expect_err("missing");
    assert_eq!(err.tag, ErrorTag::DataMissing);
    let path = err.path.expect("error-path");
    assert!(
        path.xpath.contains("ztpd-ztp:address='10.9.9.9'"),
        "{}",
        path.xpath
    );

    let remove = content.replace("\"delete\"", "\"remove\"");
    edit(&mut f.store, Datastore::Candidate, &remove).expect("remove of missing is fine");
}

#[test]
fn delete_and_remove_of_valueless_leaf() {
    let mut f = fixture();
    let content = format!(
        "{POLICY}{}",
        ztp(&server("10.1.1.1", "1").replace(
            "</ssl-policy>",
            "</ssl-policy><verify-type>esn</verify-type>"
        ))
    );
    edit(&mut f.store, Datastore::Candidate, &content).expect("edit");
    assert!(config(&f.store, Datastore::Candidate).contains("<verify-type>esn</verify-type>"));

    let delete = ztp(
        r#"<certificate-remote><address>10.1.1.1</address><vpn-instance>_public_</vpn-instance><verify-type nc:operation="delete"/></certificate-remote>"#,
    );
    edit(&mut f.store, Datastore::Candidate, &delete).expect("delete valueless leaf");
    assert!(!config(&f.store, Datastore::Candidate).contains("verify-type"));

    let err = edit(&mut f.store, Datastore::Candidate, &delete).expect_err("already gone");
    assert_eq!(err.tag, ErrorTag::DataMissing);
    edit(
        &mut f.store,
        Datastore::Candidate,
        &delete.replace("\"delete\"", "\"remove\""),
    )
    .expect("remove is idempotent");
}

#[test]
fn eleventh_server_rejected_with_limit() {
    let mut f = fixture();
    let ten: String = (1..=10)
        .map(|i| server(&format!("10.0.0.{i}"), "1"))
        .collect();
    edit(
        &mut f.store,
        Datastore::Candidate,
        &format!("{POLICY}{}", ztp(&ten)),
    )
    .expect("ten servers");
    let before = config(&f.store, Datastore::Candidate);

    let err = edit(
        &mut f.store,
        Datastore::Candidate,
        &ztp(&server("10.0.0.11", "1")),
    )
    .expect_err("eleventh");
    assert_eq!(err.tag, ErrorTag::OperationFailed);
    assert_eq!(err.app_tag.as_deref(), Some("too-many-elements"));
    assert!(err.message.contains("at most 10"), "{}", err.message);
    assert!(err.message.contains("10.0.0.11"), "{}", err.message);
    assert_eq!(config(&f.store, Datastore::Candidate), before);
}

#[test]
fn port_zero_rejected_naming_value() {
    let mut f = fixture();
    let err = edit(
        &mut f.store,
        Datastore::Candidate,
        &format!("{POLICY}{}", ztp(&server("10.0.0.1", "0"))),
    )
    .expect_err("port 0");
    assert_eq!(err.tag, ErrorTag::InvalidValue);
    assert!(err.message.contains("\"0\""), "{}", err.message);
    assert!(
        err.path
            .expect("error-path")
            .xpath
            .ends_with("/ztpd-ztp:port")
    );
    assert!(!config(&f.store, Datastore::Candidate).contains("ssl-policy"));
}

#[test]
fn policy_must_be_bound_to_default() {
    let mut f = fixture();
    let policy = POLICY.replace(
        "<pki-domain>default</pki-domain>",
        "<pki-domain>other</pki-domain>",
    );
    let err = edit(
        &mut f.store,
        Datastore::Candidate,
        &format!("{policy}{}", ztp(&server("10.0.0.1", "1"))),
    )
    .expect_err("unbound");
    assert_eq!(err.tag, ErrorTag::OperationFailed);
    assert_eq!(err.app_tag.as_deref(), Some("policy-not-bound-to-default"));
    assert!(err.message.contains("ztp_policy"), "{}", err.message);
}

#[test]
fn missing_policy_is_data_missing() {
    let mut f = fixture();
    let err = edit(
        &mut f.store,
        Datastore::Candidate,
        &ztp(&server("10.0.0.1", "1")),
    )
    .expect_err("no policy");
    assert_eq!(err.tag, ErrorTag::DataMissing);
    assert_eq!(err.app_tag.as_deref(), Some("instance-required"));
}

#[test]
fn multicast_address_rejected() {
    let mut f = fixture();
    let err = edit(
        &mut f.store,
        Datastore::Candidate,
        &format!("{POLICY}{}", ztp(&server("224.0.0.5", "1"))),
    )
    .expect_err("multicast");
    assert_eq!(err.app_tag.as_deref(), Some("multicast-address"));
    assert!(err.message.contains("224.0.0.5"), "{}", err.message);
}

#[test]
fn replace_drops_unsent_leaves() {
    let mut f = fixture();
    let content = format!(
        "{POLICY}{}",
        ztp(&server("10.1.1.1", "1").replace(
            "</ssl-policy>",
            "</ssl-policy><verify-type>esn</verify-type>"
        ))
    );
    edit(&mut f.store, Datastore::Candidate, &content).expect("edit");
    let replace = ztp(&server("10.1.1.1", "2").replace(
        "<certificate-remote>",
        r#"<certificate-remote nc:operation="replace">"#,
    ));
    edit(&mut f.store, Datastore::Candidate, &replace).expect("replace");
    let candidate = config(&f.store, Datastore::Candidate);
    assert!(candidate.contains("<port>2</port>"), "{candidate}");
    assert!(!candidate.contains("verify-type"), "{candidate}");
}

#[test]
fn default_operation_none_only_applies_explicit_operations() {
    let mut f = fixture();
    edit(
        &mut f.store,
        Datastore::Candidate,
        &format!("{POLICY}{}", ztp(&server("10.1.1.1", "1"))),
    )
    .expect("edit");
    let content = ztp(&format!(
        "{}{}",
        server("10.1.1.1", "9"),
        server("10.2.2.2", "2").replace(
            "<certificate-remote>",
            r#"<certificate-remote nc:operation="create">"#
        )
    ));
    f.store
        .edit_config_default(1, Datastore::Candidate, DefaultOperation::None, &content)
        .expect("edit with none");
    let candidate = config(&f.store, Datastore::Candidate);
    assert!(
        candidate.contains("<port>1</port>"),
        "port of first server untouched: {candidate}"
    );
    assert!(
        candidate.contains("<address>10.2.2.2</address>"),
        "{candidate}"
    );
}

#[test]
fn default_operation_replace_replaces_datastore() {
    let mut f = fixture();
    edit(
        &mut f.store,
        Datastore::Candidate,
        &format!("{POLICY}{}", ztp(&server("10.1.1.1", "1"))),
    )
    .expect("edit");
    f.store
        .edit_config_default(1, Datastore::Candidate, DefaultOperation::Replace, POLICY)
        .expect("replace");
    let candidate = config(&f.store, Datastore::Candidate);
    assert!(!candidate.contains("certificate-remote"), "{candidate}");
    assert!(candidate.contains("ztp_policy"), "{candidate}");
}

#[test]
fn unknown_element_named() {
    let mut f = fixture();
    let err =
        edit(&mut f.store, Datastore::Candidate, &ztp("<bogus>1</bogus>")).expect_err("unknown");
    assert_eq!(err.tag, ErrorTag::UnknownElement);
    assert!(err.message.contains("bogus"), "{}", err.message);
}

#[test]
fn bad_operation_attribute_rejected() {
    let mut f = fixture();
    let content = format!(
        "{POLICY}{}",
        ztp(&server("10.1.1.1", "1").replace(
            "<certificate-remote>",
            r#"<certificate-remote nc:operation="frobnicate">"#
        ))
    );
    let err = edit(&mut f.store, Datastore::Candidate, &content).expect_err("bad operation");
    assert!(
        matches!(err.tag, ErrorTag::BadAttribute | ErrorTag::InvalidValue),
        "{err}"
    );
    assert!(err.message.contains("frobnicate"), "{}", err.message);
}

#[test]
fn locks_exclude_other_sessions() {
    let mut f = fixture();
    f.store.lock(1, Datastore::Running).expect("lock");
    let err = f.store.lock(2, Datastore::Running).expect_err("held");
    assert_eq!(err.tag, ErrorTag::LockDenied);
    assert!(
        err.info
            .contains(&crate::netconf::error::ErrorInfo::SessionId(1))
    );

    let err = f
        .store
        .edit_config_default(2, Datastore::Running, DefaultOperation::Merge, POLICY)
        .expect_err("locked");
    assert_eq!(err.tag, ErrorTag::InUse);
    f.store
        .edit_config_default(1, Datastore::Running, DefaultOperation::Merge, POLICY)
        .expect("holder edits");

    assert_eq!(
        f.store
            .unlock(2, Datastore::Running)
            .expect_err("not holder")
            .tag,
        ErrorTag::OperationFailed
    );
    f.store.end_session(1);
    f.store
        .lock(2, Datastore::Running)
        .expect("released with session");
}

#[test]
fn candidate_lock_release_discards_changes() {
    let mut f = fixture();
    f.store.lock(1, Datastore::Candidate).expect("lock");
    edit(&mut f.store, Datastore::Candidate, POLICY).expect("edit");
    assert!(f.store.lock(2, Datastore::Candidate).is_err());
    f.store.end_session(1);
    assert!(!config(&f.store, Datastore::Candidate).contains("ztp_policy"));
    let err = {
        edit(&mut f.store, Datastore::Candidate, POLICY).expect("edit by 1");
        f.store
            .lock(2, Datastore::Candidate)
            .expect_err("modified candidate")
    };
    assert_eq!(err.tag, ErrorTag::LockDenied);
}

#[test]
fn subtree_filter_selects_and_matches() {
    let mut f = fixture();
    let servers = format!("{}{}", server("10.1.1.1", "1"), server("10.2.2.2", "2"));
    edit(
        &mut f.store,
        Datastore::Running,
        &format!("{POLICY}{}", ztp(&servers)),
    )
    .expect("edit");

    let out = running_filtered(&f.store, r#"<ztp xmlns="urn:ztpd:yang:ztpd-ztp"/>"#);
    assert!(out.contains("10.2.2.2"), "{out}");
    assert!(!out.contains("urn:ztpd:yang:ztpd-ssl"), "{out}");

    let out = running_filtered(
        &f.store,
        r#"<ztp xmlns="urn:ztpd:yang:ztpd-ztp"><certificate-remote><address>10.2.2.2</address><port/></certificate-remote></ztp>"#,
    );
    assert!(out.contains("<port>2</port>"), "{out}");
    assert!(!out.contains("10.1.1.1"), "{out}");
    assert!(!out.contains("ssl-policy"), "{out}");

    let out = running_filtered(
        &f.store,
        r#"<ztp xmlns="urn:ztpd:yang:ztpd-ztp"><certificate-remote><address>10.1.1.1</address></certificate-remote></ztp>"#,
    );
    assert!(out.contains("<ssl-policy>ztp_policy</ssl-policy>"), "{out}");
    assert!(!out.contains("10.2.2.2"), "{out}");
}

#[test]
fn get_includes_state_nodes() {
    let f = fixture();
    let state = vec![StateNode {
        path: "/ztpd-ztp:ztp/certificate-remote-state/certificate-status".into(),
        value: Some("absent".into()),
    }];
    let out = f.store.get(None, &state).expect("get");
    assert!(
        out.contains("<certificate-status>absent</certificate-status>"),
        "{out}"
    );
}

#[test]
fn invalid_values_name_allowed_values() {
    let mut f = fixture();
    let cases = [
        (server("10.0.0.1", "0"), "Allowed: an integer in 1..65535"),
        (
            server("10.0.0.1", "70000"),
            "Allowed: an integer in 1..65535",
        ),
        (
            server("abc", "1"),
            "ipv4-address-no-zone or ipv6-address-no-zone",
        ),
        (
            server("10.0.0.1", "1").replace(
                "</ssl-policy>",
                "</ssl-policy><verify-type>serial</verify-type>",
            ),
            "Allowed: one of ip-address, esn",
        ),
    ];
    for (entry, expected) in cases {
        let err = edit(
            &mut f.store,
            Datastore::Candidate,
            &format!("{POLICY}{}", ztp(&entry)),
        )
        .expect_err("invalid");
        assert_eq!(err.tag, ErrorTag::InvalidValue, "{entry}");
        assert!(err.message.contains(expected), "{}", err.message);
    }
    let long = POLICY.replace("ztp_policy", "a_policy_name_longer_than_23");
    let err = edit(&mut f.store, Datastore::Candidate, &long).expect_err("too long");
    assert!(err.message.contains("1..23 characters"), "{}", err.message);
}

#[test]
fn subtree_filter_compares_canonical_values() {
    let mut f = fixture();
    edit(
        &mut f.store,
        Datastore::Running,
        &format!("{POLICY}{}", ztp(&server("2001:db8::1", "1"))),
    )
    .expect("edit");
    let out = running_filtered(
        &f.store,
        r#"<ztp xmlns="urn:ztpd:yang:ztpd-ztp"><certificate-remote><address>2001:DB8:0::1</address></certificate-remote></ztp>"#,
    );
    assert!(out.contains("<port>1</port>"), "{out}");
}

fn order(store: &Store) -> Vec<String> {
    let running = config(store, Datastore::Candidate);
    running
        .split("<address>")
        .skip(1)
        .filter_map(|rest| rest.split("</address>").next())
        .map(str::to_owned)
        .collect()
}

fn with_insert(entry: &str, attributes: &str) -> String {
    entry.replacen(
        "<certificate-remote>",
        &format!(r#"<certificate-remote xmlns:yang="urn:ietf:params:xml:ns:yang:1" {attributes}>"#),
        1,
    )
}

#[test]
fn insert_places_new_and_moves_existing_entries() {
    let mut f = fixture();
    let servers: String = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        .iter()
        .map(|a| server(a, "1"))
        .collect();
    edit(
        &mut f.store,
        Datastore::Candidate,
        &format!("{POLICY}{}", ztp(&servers)),
    )
    .expect("edit");
    assert_eq!(order(&f.store), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);

    let first = with_insert(&server("10.0.0.9", "1"), r#"yang:insert="first""#);
    edit(&mut f.store, Datastore::Candidate, &ztp(&first)).expect("insert first");
    assert_eq!(
        order(&f.store),
        ["10.0.0.9", "10.0.0.1", "10.0.0.2", "10.0.0.3"]
    );

    let before = with_insert(
        &server("10.0.0.8", "1"),
        r#"yang:insert="before" yang:key="[z:address='10.0.0.3'][z:vpn-instance='_public_']" xmlns:z="urn:ztpd:yang:ztpd-ztp""#,
    );
    edit(&mut f.store, Datastore::Candidate, &ztp(&before)).expect("insert before");
    assert_eq!(
        order(&f.store),
        ["10.0.0.9", "10.0.0.1", "10.0.0.2", "10.0.0.8", "10.0.0.3"]
    );

    let move_last = with_insert(
        r#"<certificate-remote><address>10.0.0.9</address><vpn-instance>_public_</vpn-instance></certificate-remote>"#,
        r#"yang:insert="last""#,
    );
    edit(&mut f.store, Datastore::Candidate, &ztp(&move_last)).expect("move last");
    assert_eq!(
        order(&f.store),
        ["10.0.0.1", "10.0.0.2", "10.0.0.8", "10.0.0.3", "10.0.0.9"]
    );

    let after = with_insert(
        r#"<certificate-remote><address>10.0.0.3</address><vpn-instance>_public_</vpn-instance></certificate-remote>"#,
        r#"yang:insert="after" yang:key="[address='10.0.0.1'][vpn-instance='_public_']""#,
    );
    edit(&mut f.store, Datastore::Candidate, &ztp(&after)).expect("move after");
    assert_eq!(
        order(&f.store),
        ["10.0.0.1", "10.0.0.3", "10.0.0.2", "10.0.0.8", "10.0.0.9"]
    );
}

#[test]
fn insert_before_missing_entry_rejected() {
    let mut f = fixture();
    edit(
        &mut f.store,
        Datastore::Candidate,
        &format!("{POLICY}{}", ztp(&server("10.0.0.1", "1"))),
    )
    .expect("edit");
    let before = with_insert(
        &server("10.0.0.2", "1"),
        r#"yang:insert="before" yang:key="[address='10.9.9.9'][vpn-instance='_public_']""#,
    );
    let err = edit(&mut f.store, Datastore::Candidate, &ztp(&before)).expect_err("no such entry");
    assert_eq!(err.tag, ErrorTag::BadAttribute);
    assert_eq!(err.app_tag.as_deref(), Some("missing-instance"));
    assert!(err.message.contains("10.9.9.9"), "{}", err.message);
    assert_eq!(order(&f.store), ["10.0.0.1"]);

    let policy_insert = POLICY.replace(
        "<ssl-policy>",
        r#"<ssl-policy xmlns:yang="urn:ietf:params:xml:ns:yang:1" yang:insert="first">"#,
    );
    let err =
        edit(&mut f.store, Datastore::Candidate, &policy_insert).expect_err("not user-ordered");
    assert_eq!(err.tag, ErrorTag::BadAttribute);
}

fn confirmed(persist: Option<&str>) -> Option<Confirmed> {
    Some(Confirmed {
        timeout: std::time::Duration::from_secs(600),
        persist: persist.map(str::to_owned),
    })
}

fn with_servers(f: &mut Fixture, session: SessionId, addresses: &[&str]) {
    let servers: String = addresses
        .iter()
        .map(|address| server(address, "1"))
        .collect();
    f.store
        .edit_config_default(
            session,
            Datastore::Candidate,
            DefaultOperation::Merge,
            &format!("{POLICY}{}", ztp(&servers)),
        )
        .expect("edit candidate");
}

#[test]
fn copy_config_between_datastores() {
    let mut f = fixture();
    with_servers(&mut f, 1, &["10.0.0.1"]);
    f.store
        .copy_config(
            1,
            &Source::Datastore(Datastore::Candidate),
            Datastore::Running,
        )
        .expect("candidate to running");
    assert!(config(&f.store, Datastore::Running).contains("10.0.0.1"));

    f.store
        .copy_config(
            1,
            &Source::Datastore(Datastore::Running),
            Datastore::Startup,
        )
        .expect("running to startup");
    assert!(config(&f.store, Datastore::Startup).contains("10.0.0.1"));
    assert!(f._dir.path().join(persist::STARTUP_FILE).exists());

    let err = f
        .store
        .copy_config(
            1,
            &Source::Datastore(Datastore::Running),
            Datastore::Running,
        )
        .expect_err("same source and target");
    assert_eq!(err.tag, ErrorTag::InvalidValue);

    let inline = format!("{POLICY}{}", ztp(&server("10.0.0.7", "7")));
    f.store
        .copy_config(1, &Source::Config(inline), Datastore::Candidate)
        .expect("inline to candidate");
    let candidate = config(&f.store, Datastore::Candidate);
    assert!(
        candidate.contains("10.0.0.7") && !candidate.contains("10.0.0.1"),
        "{candidate}"
    );
}

#[test]
fn startup_loaded_at_boot() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let mut store =
            Store::open(RunningFile::in_dir(dir.path()), Box::new(|_| {})).expect("opens");
        let content = format!("{POLICY}{}", ztp(&server("10.0.0.1", "1")));
        store
            .edit_config_default(1, Datastore::Running, DefaultOperation::Merge, &content)
            .expect("edit running");
        store
            .copy_config(
                1,
                &Source::Datastore(Datastore::Running),
                Datastore::Startup,
            )
            .expect("save startup");
        let more = ztp(&server("10.0.0.2", "2"));
        store
            .edit_config_default(1, Datastore::Running, DefaultOperation::Merge, &more)
            .expect("edit running again");
    }
    let store = Store::open(RunningFile::in_dir(dir.path()), Box::new(|_| {})).expect("reopens");
    let running = config(&store, Datastore::Running);
    assert!(running.contains("10.0.0.1"), "{running}");
    assert!(
        !running.contains("10.0.0.2"),
        "boot from startup: {running}"
    );
}

#[test]
fn delete_config_only_for_startup() {
    let mut f = fixture();
    for target in [Datastore::Running, Datastore::Candidate] {
        let err = f.store.delete_config(1, target).expect_err("cannot delete");
        assert_eq!(err.tag, ErrorTag::InvalidValue);
    }
    f.store
        .copy_config(1, &Source::Config(POLICY.to_owned()), Datastore::Startup)
        .expect("startup");
    f.store
        .delete_config(1, Datastore::Startup)
        .expect("delete startup");
    assert!(!f._dir.path().join(persist::STARTUP_FILE).exists());
    assert!(!config(&f.store, Datastore::Startup).contains("ztp_policy"));
}

#[test]
fn validate_checks_inline_and_datastores() {
    let f = fixture();
    f.store
        .validate_source(&Source::Config(format!(
            "{POLICY}{}",
            ztp(&server("10.0.0.1", "1"))
        )))
        .expect("valid");
    let err = f
        .store
        .validate_source(&Source::Config(ztp(&server("10.0.0.1", "1"))))
        .expect_err("missing policy");
    assert_eq!(err.tag, ErrorTag::DataMissing);
    f.store
        .validate_source(&Source::Datastore(Datastore::Running))
        .expect("running valid");
}

#[test]
fn confirmed_commit_times_out_and_restores() {
    let mut f = fixture();
    with_servers(&mut f, 1, &["10.0.0.1"]);
    let generation = f
        .store
        .commit_with(1, confirmed(None), None)
        .expect("confirmed commit")
        .expect("timer");
    assert!(config(&f.store, Datastore::Running).contains("10.0.0.1"));
    assert!(f._dir.path().join(persist::ROLLBACK_FILE).exists());

    f.store.confirm_timeout(generation + 1);
    assert!(
        config(&f.store, Datastore::Running).contains("10.0.0.1"),
        "stale timer does nothing"
    );

    f.store.confirm_timeout(generation);
    assert!(!config(&f.store, Datastore::Running).contains("10.0.0.1"));
    assert!(!config(&f.store, Datastore::Candidate).contains("10.0.0.1"));
    assert!(!f._dir.path().join(persist::ROLLBACK_FILE).exists());
}

#[test]
fn confirming_commit_keeps_configuration() {
    let mut f = fixture();
    with_servers(&mut f, 1, &["10.0.0.1"]);
    let generation = f
        .store
        .commit_with(1, confirmed(None), None)
        .expect("confirmed")
        .expect("timer");
    f.store
        .commit_with(1, None, None)
        .expect("confirming commit");
    f.store.confirm_timeout(generation);
    assert!(config(&f.store, Datastore::Running).contains("10.0.0.1"));
    assert!(!f._dir.path().join(persist::ROLLBACK_FILE).exists());
}

#[test]
fn non_persistent_confirmed_commit_belongs_to_session() {
    let mut f = fixture();
    with_servers(&mut f, 1, &["10.0.0.1"]);
    f.store
        .commit_with(1, confirmed(None), None)
        .expect("confirmed");

    let err = f
        .store
        .commit_with(2, None, None)
        .expect_err("other session");
    assert_eq!(err.tag, ErrorTag::InUse);
    let err = f
        .store
        .cancel_commit(2, None)
        .expect_err("other session cancels");
    assert_eq!(err.tag, ErrorTag::InUse);
    let err = f
        .store
        .lock(2, Datastore::Running)
        .expect_err("lock while pending");
    assert_eq!(err.tag, ErrorTag::LockDenied);
    assert!(
        err.info
            .contains(&crate::netconf::error::ErrorInfo::SessionId(1))
    );

    f.store.end_session(1);
    assert!(
        !config(&f.store, Datastore::Running).contains("10.0.0.1"),
        "rolled back with its session"
    );
    f.store
        .lock(2, Datastore::Running)
        .expect("lock after rollback");
}

#[test]
fn persistent_confirmed_commit_needs_persist_id() {
    let mut f = fixture();
    with_servers(&mut f, 1, &["10.0.0.1"]);
    f.store
        .commit_with(1, confirmed(Some("token-1")), None)
        .expect("persistent confirmed");
    f.store.end_session(1);
    assert!(
        config(&f.store, Datastore::Running).contains("10.0.0.1"),
        "survives its session"
    );

    let err = f
        .store
        .commit_with(2, None, Some("wrong".into()))
        .expect_err("wrong id");
    assert_eq!(err.tag, ErrorTag::InvalidValue);
    let err = f.store.commit_with(2, None, None).expect_err("no id");
    assert_eq!(err.tag, ErrorTag::InUse);
    let err = f
        .store
        .cancel_commit(2, Some("wrong"))
        .expect_err("wrong id");
    assert_eq!(err.tag, ErrorTag::InvalidValue);

    f.store
        .cancel_commit(2, Some("token-1"))
        .expect("cancel with id");
    assert!(!config(&f.store, Datastore::Running).contains("10.0.0.1"));
    let err = f.store.cancel_commit(2, None).expect_err("nothing pending");
    assert_eq!(err.tag, ErrorTag::OperationFailed);
    let err = f
        .store
        .commit_with(2, None, Some("token-1".into()))
        .expect_err("nothing pending");
    assert_eq!(err.tag, ErrorTag::InvalidValue);
}

#[test]
fn persistent_confirmed_commit_confirmed_by_other_session() {
    let mut f = fixture();
    with_servers(&mut f, 1, &["10.0.0.1"]);
    let generation = f
        .store
        .commit_with(1, confirmed(Some("t")), None)
        .expect("confirmed")
        .expect("timer");
    f.store
        .commit_with(2, None, Some("t".into()))
        .expect("confirmed by session 2");
    f.store.confirm_timeout(generation);
    assert!(config(&f.store, Datastore::Running).contains("10.0.0.1"));
}

#[test]
fn unconfirmed_commit_undone_at_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let mut store =
            Store::open(RunningFile::in_dir(dir.path()), Box::new(|_| {})).expect("opens");
        let content = format!("{POLICY}{}", ztp(&server("10.0.0.1", "1")));
        store
            .edit_config_default(1, Datastore::Candidate, DefaultOperation::Merge, &content)
            .expect("edit");
        store
            .commit_with(1, confirmed(Some("t")), None)
            .expect("confirmed");
    }
    let store = Store::open(RunningFile::in_dir(dir.path()), Box::new(|_| {})).expect("reopens");
    assert!(!config(&store, Datastore::Running).contains("10.0.0.1"));
    assert!(!dir.path().join(persist::ROLLBACK_FILE).exists());
}

#[test]
fn running_lock_denied_while_other_session_edits_candidate() {
    let mut f = fixture();
    with_servers(&mut f, 3, &["10.0.0.1"]);
    let err = f
        .store
        .lock(4, Datastore::Running)
        .expect_err("candidate edits of 3");
    assert_eq!(err.tag, ErrorTag::LockDenied);
    assert!(
        err.info
            .contains(&crate::netconf::error::ErrorInfo::SessionId(3))
    );
    f.store
        .lock(3, Datastore::Running)
        .expect("the editor itself may lock");
}

#[test]
fn continue_on_error_applies_what_succeeds() {
    let mut f = fixture();
    with_servers(&mut f, 1, &["10.0.0.1"]);
    let content = ztp(&format!(
        "{}{}",
        server("10.0.0.1", "5").replace(
            "<certificate-remote>",
            r#"<certificate-remote nc:operation="create">"#
        ),
        server("10.0.0.2", "2")
    ));
    let options = EditOptions {
        error_option: ErrorOption::ContinueOnError,
        ..EditOptions::default()
    };
    let errors = f
        .store
        .edit_config(1, Datastore::Candidate, options, &content)
        .expect_err("one error");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].tag, ErrorTag::DataExists);
    let candidate = config(&f.store, Datastore::Candidate);
    assert!(candidate.contains("10.0.0.2"), "{candidate}");
    assert!(candidate.contains("<port>1</port>"), "{candidate}");

    let options = EditOptions {
        error_option: ErrorOption::RollbackOnError,
        ..EditOptions::default()
    };
    let content = content.replace("10.0.0.2", "10.0.0.3");
    f.store
        .edit_config(1, Datastore::Candidate, options, &content)
        .expect_err("rolled back");
    assert!(!config(&f.store, Datastore::Candidate).contains("10.0.0.3"));
}

#[test]
fn test_only_and_set_options() {
    let mut f = fixture();
    let content = format!("{POLICY}{}", ztp(&server("10.0.0.1", "1")));
    let test_only = EditOptions {
        test_option: TestOption::TestOnly,
        ..EditOptions::default()
    };
    f.store
        .edit_config(1, Datastore::Candidate, test_only, &content)
        .expect("valid edit");
    assert!(!config(&f.store, Datastore::Candidate).contains("10.0.0.1"));
    let errors = f
        .store
        .edit_config(
            1,
            Datastore::Candidate,
            test_only,
            &ztp(&server("10.0.0.1", "1")),
        )
        .expect_err("invalid edit");
    assert_eq!(errors[0].tag, ErrorTag::DataMissing);

    let set = EditOptions {
        test_option: TestOption::Set,
        ..EditOptions::default()
    };
    f.store
        .edit_config(1, Datastore::Candidate, set, &ztp(&server("10.0.0.1", "1")))
        .expect("set skips validation of the candidate");
    assert!(config(&f.store, Datastore::Candidate).contains("10.0.0.1"));
    let err = f
        .store
        .commit(1)
        .expect_err("invalid candidate cannot be committed");
    assert_eq!(err.tag, ErrorTag::DataMissing);
    let errors = f
        .store
        .edit_config(1, Datastore::Running, set, &ztp(&server("10.0.0.9", "1")))
        .expect_err("running is always validated");
    assert_eq!(errors[0].tag, ErrorTag::DataMissing);
}

#[test]
fn deleting_used_policy_names_server() {
    let mut f = fixture();
    with_servers(&mut f, 1, &["10.0.0.1"]);
    let delete = r#"<ssl xmlns="urn:ztpd:yang:ztpd-ssl" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"><ssl-policies><ssl-policy nc:operation="delete"><policy-name>ztp_policy</policy-name></ssl-policy></ssl-policies></ssl>"#;
    let err = edit(&mut f.store, Datastore::Candidate, delete).expect_err("policy in use");
    assert_eq!(err.tag, ErrorTag::DataMissing);
    assert!(err.message.contains("\"ztp_policy\""), "{}", err.message);
    assert!(err.message.contains("10.0.0.1"), "{}", err.message);
    assert!(
        config(&f.store, Datastore::Candidate).contains("<policy-name>ztp_policy</policy-name>")
    );
}

#[test]
fn pattern_errors_name_value() {
    let mut f = fixture();
    let cases = [
        (POLICY.replace("ztp_policy", "bad name"), "bad name"),
        (
            format!(
                "{POLICY}{}",
                ztp(&server("10.0.0.1", "1").replace("_public_", "vpn with space"))
            ),
            "vpn with space",
        ),
    ];
    for (content, value) in cases {
        let err = edit(&mut f.store, Datastore::Candidate, &content).expect_err("invalid");
        assert!(err.message.contains(value), "{}", err.message);
    }
}

#[test]
fn continue_on_error_skips_invalid_values() {
    let mut f = fixture();
    with_servers(&mut f, 1, &["10.0.0.1"]);
    let content = ztp(&format!(
        "{}{}",
        server("10.0.0.2", "99999"),
        server("10.0.0.3", "3")
    ));
    let options = EditOptions {
        error_option: ErrorOption::ContinueOnError,
        ..EditOptions::default()
    };
    let errors = f
        .store
        .edit_config(1, Datastore::Candidate, options, &content)
        .expect_err("one error");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].tag, ErrorTag::InvalidValue);
    assert!(errors[0].message.contains("99999"), "{}", errors[0].message);
    assert!(
        errors[0].message.contains("1..65535"),
        "{}",
        errors[0].message
    );
    let candidate = config(&f.store, Datastore::Candidate);
    assert!(candidate.contains("10.0.0.3"), "{candidate}");
}

#[test]
fn none_operation_on_missing_entry_is_data_missing() {
    let mut f = fixture();
    with_servers(&mut f, 1, &["10.0.0.1"]);
    let before = config(&f.store, Datastore::Candidate);
    let err = f
        .store
        .edit_config_default(
            1,
            Datastore::Candidate,
            DefaultOperation::None,
            &ztp(&server("10.0.0.9", "9")),
        )
        .expect_err("no such entry");
    assert_eq!(err.tag, ErrorTag::DataMissing);
    assert_eq!(config(&f.store, Datastore::Candidate), before);
}

#[test]
fn key_cannot_be_deleted_alone() {
    let mut f = fixture();
    with_servers(&mut f, 1, &["10.0.0.1"]);
    let content = ztp(
        r#"<certificate-remote><address nc:operation="delete">10.0.0.1</address><vpn-instance>_public_</vpn-instance></certificate-remote>"#,
    );
    let err = edit(&mut f.store, Datastore::Candidate, &content).expect_err("key delete");
    assert_eq!(err.tag, ErrorTag::BadAttribute);
    assert!(err.message.contains("<address>"), "{}", err.message);
}

#[test]
fn delete_without_keys_deletes_nothing() {
    let mut f = fixture();
    with_servers(&mut f, 1, &["10.0.0.1", "10.0.0.2"]);
    let content = ztp(r#"<certificate-remote nc:operation="delete"/>"#);
    let err = edit(&mut f.store, Datastore::Candidate, &content).expect_err("no keys");
    assert_eq!(err.tag, ErrorTag::MissingElement, "{err}");
    assert_eq!(order(&f.store), ["10.0.0.1", "10.0.0.2"]);
}

#[test]
fn invalid_operation_is_bad_attribute() {
    let mut f = fixture();
    let content = format!(
        "{POLICY}{}",
        ztp(&server("10.1.1.1", "1").replace(
            "<certificate-remote>",
            r#"<certificate-remote nc:operation="frobnicate">"#
        ))
    );
    let err = edit(&mut f.store, Datastore::Candidate, &content).expect_err("bad operation");
    assert_eq!(err.tag, ErrorTag::BadAttribute);
    assert!(
        err.info
            .contains(&crate::netconf::error::ErrorInfo::BadAttribute(
                "operation".into()
            ))
    );
    assert!(
        err.info
            .contains(&crate::netconf::error::ErrorInfo::BadElement(
                "certificate-remote".into()
            ))
    );
    assert!(err.message.contains("frobnicate"), "{}", err.message);
}

#[test]
fn insert_relative_to_itself_named() {
    let mut f = fixture();
    with_servers(&mut f, 1, &["10.0.0.1", "10.0.0.2"]);
    let itself = with_insert(
        r#"<certificate-remote><address>10.0.0.2</address><vpn-instance>_public_</vpn-instance></certificate-remote>"#,
        r#"yang:insert="before" yang:key="[address='10.0.0.2'][vpn-instance='_public_']""#,
    );
    let err = edit(&mut f.store, Datastore::Candidate, &ztp(&itself)).expect_err("itself");
    assert!(err.message.contains("itself"), "{}", err.message);
}

#[test]
fn same_entry_twice_rejected() {
    let mut f = fixture();
    let content = format!(
        "{POLICY}{}",
        ztp(&format!(
            "{}{}",
            server("10.0.0.1", "1"),
            server("10.0.0.1", "2")
        ))
    );
    let err = edit(&mut f.store, Datastore::Candidate, &content).expect_err("duplicate");
    assert_eq!(err.tag, ErrorTag::InvalidValue);
    assert!(err.message.contains("twice"), "{}", err.message);
    assert!(!config(&f.store, Datastore::Candidate).contains("10.0.0.1"));
}
