//! Reads through the store: with-defaults modes, config-filter,
//! max-depth and the operational view.

use super::*;
use crate::datastore::normalize;
use crate::datastore::persist::RunningFile;
use crate::netconf::xml;

const POLICY: &str = r#"<ssl xmlns="urn:ztpd:yang:ztpd-ssl"><ssl-policies><ssl-policy><policy-name>ztp_policy</policy-name><pki-domain>default</pki-domain></ssl-policy></ssl-policies></ssl>"#;

fn server(address: &str, verify_type: Option<&str>) -> String {
    let verify = verify_type
        .map(|value| format!("<verify-type>{value}</verify-type>"))
        .unwrap_or_default();
    format!(
        r#"<ztp xmlns="urn:ztpd:yang:ztpd-ztp"><certificate-remote><address>{address}</address><vpn-instance>_public_</vpn-instance><port>30217</port><ssl-policy>ztp_policy</ssl-policy>{verify}</certificate-remote></ztp>"#
    )
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
}

/// Opens a store whose running contains the policy, 10.0.0.1 without verify-type
/// and 10.0.0.2 with verify-type set to its default.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store =
        Store::open(RunningFile::in_dir(dir.path()), Box::new(|_| {})).expect("store opens");
    let content = format!(
        "{POLICY}{}{}",
        server("10.0.0.1", None),
        server("10.0.0.2", Some("ip-address"))
    );
    store
        .edit_config(
            1,
            Datastore::Running,
            crate::datastore::EditOptions::default(),
            &content,
        )
        .expect("edit accepted");
    Fixture { _dir: dir, store }
}

fn read_running(store: &Store, with_defaults: Option<WithDefaults>) -> String {
    let mut request = ReadRequest::new(ReadSource::Configuration(Datastore::Running), None);
    request.with_defaults = with_defaults;
    store.read(&request).expect("read")
}

/// Returns the `certificate-remote` entry of `address` in printed data.
fn entry(data: &str, address: &str) -> xml::Element {
    let wrapped = format!("<data>{data}</data>");
    let root = xml::parse(&wrapped).expect("printed data parses");
    root.children
        .iter()
        .filter(|top| top.name == "ztp")
        .flat_map(|ztp| ztp.children.iter())
        .find(|entry| {
            entry
                .children
                .iter()
                .any(|child| child.name == "address" && child.trimmed_text() == address)
        })
        .cloned()
        .unwrap_or_else(|| panic!("no entry for {address} in {data}"))
}

fn verify_type(data: &str, address: &str) -> Option<xml::Element> {
    entry(data, address)
        .children
        .into_iter()
        .find(|child| child.name == "verify-type")
}

#[test]
fn explicit_omits_server_defaults() {
    let f = fixture();
    for mode in [None, Some(WithDefaults::Explicit)] {
        let data = read_running(&f.store, mode);
        assert!(verify_type(&data, "10.0.0.1").is_none(), "{mode:?}: {data}");
        let set = verify_type(&data, "10.0.0.2").expect("explicitly set value reported");
        assert_eq!(set.trimmed_text(), "ip-address");
    }
}

#[test]
fn report_all_adds_defaults_untagged() {
    let f = fixture();
    let data = read_running(&f.store, Some(WithDefaults::ReportAll));
    for address in ["10.0.0.1", "10.0.0.2"] {
        let leaf = verify_type(&data, address).expect("default reported");
        assert_eq!(leaf.trimmed_text(), "ip-address");
        assert!(leaf.attributes.is_empty(), "{data}");
    }
}

#[test]
fn report_all_tagged_uses_rfc_namespace() {
    let f = fixture();
    let data = read_running(&f.store, Some(WithDefaults::ReportAllTagged));
    for address in ["10.0.0.1", "10.0.0.2"] {
        let leaf = verify_type(&data, address).expect("default reported");
        assert_eq!(
            leaf.attribute_ns(NS_DEFAULT_ATTRIBUTE, "default"),
            Some("true"),
            "{data}"
        );
        assert!(
            leaf.attribute_ns(NS_WITH_DEFAULTS_MODULE, "default")
                .is_none(),
            "{data}"
        );
    }
    let port = entry(&data, "10.0.0.1")
        .children
        .into_iter()
        .find(|child| child.name == "port")
        .expect("port");
    assert!(port.attributes.is_empty(), "{data}");
    assert!(!data.contains(NS_WITH_DEFAULTS_MODULE), "{data}");
}

#[test]
fn trim_drops_default_values() {
    let f = fixture();
    let data = read_running(&f.store, Some(WithDefaults::Trim));
    assert!(verify_type(&data, "10.0.0.1").is_none(), "{data}");
    assert!(verify_type(&data, "10.0.0.2").is_none(), "{data}");
    assert!(data.contains("<port>30217</port>"), "{data}");
}

#[test]
fn tagged_defaults_survive_subtree_filter() {
    let f = fixture();
    let filter = xml::parse(r#"<ztp xmlns="urn:ztpd:yang:ztpd-ztp"><certificate-remote><address>10.0.0.1</address></certificate-remote></ztp>"#)
        .expect("filter parses");
    let mut elements = vec![filter];
    normalize::lowercase_names(&mut elements);
    let mut request = ReadRequest::new(
        ReadSource::Configuration(Datastore::Running),
        Some(Filter::Subtree(elements)),
    );
    request.with_defaults = Some(WithDefaults::ReportAllTagged);
    let data = f.store.read(&request).expect("read");
    let leaf = verify_type(&data, "10.0.0.1").expect("default reported");
    assert_eq!(
        leaf.attribute_ns(NS_DEFAULT_ATTRIBUTE, "default"),
        Some("true")
    );
    assert!(!data.contains("10.0.0.2"), "{data}");
}

fn operational(state: Vec<StateNode>) -> ReadRequest {
    ReadRequest::new(ReadSource::Operational { state }, None)
}

fn certificate_status(value: &str) -> StateNode {
    StateNode {
        path: "/ztpd-ztp:ztp/certificate-remote-state/certificate-status".into(),
        value: Some(value.into()),
    }
}

#[test]
fn operational_has_running_state_and_library() {
    let f = fixture();
    let request = operational(vec![certificate_status("installed")]);
    let data = f.store.read(&request).expect("read");
    assert!(
        data.contains("<certificate-status>installed</certificate-status>"),
        "{data}"
    );
    assert!(data.contains("<address>10.0.0.1</address>"), "{data}");
    assert!(
        data.contains(r#"<yang-library xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library">"#),
        "{data}"
    );
}

#[test]
fn configuration_reads_have_no_library() {
    let f = fixture();
    for datastore in [Datastore::Running, Datastore::Candidate] {
        for mode in WithDefaults::ALL {
            let mut request = ReadRequest::new(ReadSource::Configuration(datastore), None);
            request.with_defaults = Some(mode);
            let data = f.store.read(&request).expect("read");
            assert!(
                !data.contains("yang-library"),
                "{datastore} {mode:?}: {data}"
            );
            assert!(
                !data.contains("modules-state"),
                "{datastore} {mode:?}: {data}"
            );
        }
    }
}

#[test]
fn config_filter_false_keeps_state_with_ancestors() {
    let f = fixture();
    let mut request = operational(vec![certificate_status("failed")]);
    request.config_filter = Some(false);
    let data = f.store.read(&request).expect("read");
    assert!(
        data.contains("<certificate-status>failed</certificate-status>"),
        "{data}"
    );
    assert!(!data.contains("certificate-remote>"), "{data}");
    assert!(!data.contains("ssl-policies"), "{data}");
    assert!(data.contains("<yang-library"), "{data}");
}

#[test]
fn config_filter_true_drops_state() {
    let f = fixture();
    let mut request = operational(vec![certificate_status("failed")]);
    request.config_filter = Some(true);
    let data = f.store.read(&request).expect("read");
    assert!(!data.contains("certificate-status"), "{data}");
    assert!(!data.contains("yang-library"), "{data}");
    assert!(data.contains("<address>10.0.0.1</address>"), "{data}");
}

#[test]
fn config_filter_false_on_running_is_empty() {
    let f = fixture();
    let mut request = ReadRequest::new(ReadSource::Configuration(Datastore::Running), None);
    request.config_filter = Some(false);
    assert_eq!(f.store.read(&request).expect("read"), "");
}

#[test]
fn max_depth_counts_from_top_level() {
    let f = fixture();
    let mut request = ReadRequest::new(ReadSource::Configuration(Datastore::Running), None);
    request.max_depth = Some(1);
    let data = f.store.read(&request).expect("read");
    assert!(
        data.contains(r#"<ztp xmlns="urn:ztpd:yang:ztpd-ztp"/>"#),
        "{data}"
    );
    assert!(!data.contains("certificate-remote"), "{data}");

    request.max_depth = Some(2);
    let data = f.store.read(&request).expect("read");
    // Depth 2 reaches the list entries, which keep their keys only.
    assert!(data.contains("<address>10.0.0.1</address>"), "{data}");
    assert!(
        data.contains("<vpn-instance>_public_</vpn-instance>"),
        "{data}"
    );
    assert!(!data.contains("<port>"), "{data}");
}

#[test]
fn max_depth_counts_from_filter_selection() {
    let f = fixture();
    let filter = xml::parse(r#"<ztp xmlns="urn:ztpd:yang:ztpd-ztp"><certificate-remote/></ztp>"#)
        .expect("filter parses");
    let mut request = ReadRequest::new(
        ReadSource::Configuration(Datastore::Running),
        Some(Filter::Subtree(vec![filter])),
    );
    request.max_depth = Some(2);
    let data = f.store.read(&request).expect("read");
    assert!(data.contains("<port>30217</port>"), "{data}");

    request.max_depth = Some(1);
    let data = f.store.read(&request).expect("read");
    assert!(data.contains("<address>10.0.0.2</address>"), "{data}");
    assert!(!data.contains("<port>"), "{data}");
}

#[test]
fn tag_defaults_rewrites_only_tags() {
    let printed = concat!(
        r#"<top xmlns="urn:t"><leaf xmlns:ncwd="urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults" ncwd:default="true">v</leaf>"#,
        r#"<text>ncwd:default="true" &amp; more</text></top>"#
    );
    let out = tag_defaults(printed).expect("rewrites");
    assert_eq!(
        out,
        concat!(
            r#"<top xmlns="urn:t"><leaf xmlns:wd="urn:ietf:params:xml:ns:netconf:default:1.0" wd:default="true">v</leaf>"#,
            r#"<text>ncwd:default="true" &amp; more</text></top>"#
        )
    );
}

#[test]
fn with_defaults_names_round_trip() {
    for mode in WithDefaults::ALL {
        assert_eq!(WithDefaults::parse(mode.as_str()), Some(mode));
    }
    assert_eq!(WithDefaults::parse("report-none"), None);
}
