//! NMDA operations against the real daemon (RFC 8526): `get-data` of the
//! running, candidate and operational datastores, `edit-data`, the NMDA
//! form of `lock`, and the errors of section 3.1.

mod common;

use common::*;
use ztpd::netconf::xml::Element;

const NS_NMDA: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda";
const NS_DS: &str = "urn:ietf:params:xml:ns:yang:ietf-datastores";
const NS_DEFAULT_ATTRIBUTE: &str = "urn:ietf:params:xml:ns:netconf:default:1.0";

/// Builds a `get-data` of `datastore` (an identity with the prefix `ds`) with
/// further `parameters`.
fn get_data(datastore: &str, parameters: &str) -> String {
    format!(
        r#"<get-data xmlns="{NS_NMDA}" xmlns:ds="{NS_DS}"><datastore>{datastore}</datastore>{parameters}</get-data>"#
    )
}

fn edit_data(datastore: &str, parameters: &str) -> String {
    format!(
        r#"<edit-data xmlns="{NS_NMDA}" xmlns:ds="{NS_DS}"><datastore>{datastore}</datastore>{parameters}</edit-data>"#
    )
}

/// Sends `request` and returns the `<data>` of the reply, which must be in
/// the NMDA namespace.
async fn data(client: &mut Netconf, request: &str) -> Element {
    let reply = client.rpc(request).await;
    assert!(
        reply.child(NS_BASE, "data").is_none(),
        "data must be in the NMDA namespace: {reply:?}"
    );
    reply
        .child(NS_NMDA, "data")
        .cloned()
        .unwrap_or_else(|| panic!("no data in {reply:?}"))
}

fn servers(data: &Element) -> Vec<String> {
    find(data, &["ztp"])
        .map(|ztp| {
            ztp.children
                .iter()
                .filter(|entry| entry.name == "certificate-remote")
                .filter_map(|entry| text(entry, &["address"]))
                .collect()
        })
        .unwrap_or_default()
}

/// Resolves a prefixed identityref value to its namespace and name.
fn identity(element: &Element) -> (String, String) {
    let value = element.trimmed_text();
    let (prefix, name) = value.split_once(':').expect("prefixed identity");
    let namespace = element
        .prefixes
        .iter()
        .find(|(declared, _)| declared == prefix)
        .map(|(_, uri)| uri.clone())
        .unwrap_or_else(|| panic!("prefix of {value} undeclared"));
    (namespace, name.to_owned())
}

fn top_names(data: &Element) -> Vec<String> {
    data.children.iter().map(|top| top.name.clone()).collect()
}

/// Asserts one `rpc-error` with `tag` and `error_type` whose message names
/// `named`.
fn assert_error(reply: &Element, tag: &str, error_type: &str, named: &str) {
    let errors = rpc_errors(reply);
    assert_eq!(errors.len(), 1, "{reply:?}");
    assert_eq!(
        text(errors[0], &["error-tag"]).as_deref(),
        Some(tag),
        "{reply:?}"
    );
    assert_eq!(
        text(errors[0], &["error-type"]).as_deref(),
        Some(error_type),
        "{reply:?}"
    );
    let message = text(errors[0], &["error-message"]).unwrap_or_default();
    assert!(message.contains(named), "{named} not in {message:?}");
}

#[tokio::test]
async fn edit_data_and_get_data_per_datastore() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let config = format!(
            "<config>{}{}</config>",
            policy_config("p1"),
            ztp_config(&server_entry("127.0.10.2", 30217, "p1", None))
        );
        client.rpc_ok(&edit_data("ds:candidate", &config)).await;

        let candidate = data(&mut client, &get_data("ds:candidate", "")).await;
        assert_eq!(servers(&candidate), ["127.0.10.2"]);
        let running = data(&mut client, &get_data("ds:running", "")).await;
        assert!(servers(&running).is_empty(), "{running:?}");

        client.rpc_ok("<commit/>").await;
        let running = data(&mut client, &get_data("ds:running", "")).await;
        assert_eq!(servers(&running), ["127.0.10.2"]);

        // edit-data on running with replace replaces the whole datastore.
        let replacement = format!(
            "<default-operation>replace</default-operation><config>{}{}</config>",
            policy_config("p1"),
            ztp_config(&server_entry("127.0.10.3", 30217, "p1", None))
        );
        client.rpc_ok(&edit_data("ds:running", &replacement)).await;
        let running = data(&mut client, &get_data("ds:running", "")).await;
        assert_eq!(servers(&running), ["127.0.10.3"]);
        let config = client
            .rpc("<get-config><source><running/></source></get-config>")
            .await;
        assert_eq!(
            servers(config.child(NS_BASE, "data").expect("data")),
            ["127.0.10.3"]
        );
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn operational_has_state_library_and_monitoring() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let config = format!(
            "<config>{}{}</config>",
            policy_config("p1"),
            ztp_config(&server_entry("127.0.10.4", 30217, "p1", None))
        );
        client.rpc_ok(&edit_data("ds:running", &config)).await;

        let operational = data(&mut client, &get_data("ds:operational", "")).await;
        let names = top_names(&operational);
        for expected in ["ssl", "ztp", "netconf-state", "yang-library"] {
            assert!(
                names.iter().any(|name| name == expected),
                "{expected} in {names:?}"
            );
        }
        assert_eq!(servers(&operational), ["127.0.10.4"]);
        assert!(
            text(
                &operational,
                &["ztp", "certificate-remote-state", "certificate-status"]
            )
            .is_some(),
            "{operational:?}"
        );
        let datastores: Vec<(String, String)> = find(&operational, &["yang-library"])
            .expect("yang-library")
            .children
            .iter()
            .filter(|child| child.name == "datastore")
            .filter_map(|entry| find(entry, &["name"]).map(identity))
            .collect();
        let expected: Vec<(String, String)> = ["running", "candidate", "startup", "operational"]
            .iter()
            .map(|name| (NS_DS.to_owned(), (*name).to_owned()))
            .collect();
        assert_eq!(datastores, expected);

        // config-filter false: state only, with its ancestors.
        let state = data(
            &mut client,
            &get_data("ds:operational", "<config-filter>false</config-filter>"),
        )
        .await;
        assert!(servers(&state).is_empty(), "{state:?}");
        assert!(find(&state, &["ssl"]).is_none(), "{state:?}");
        assert!(find(&state, &["ztp", "certificate-remote-state"]).is_some());

        // config-filter true: configuration only.
        let config_only = data(
            &mut client,
            &get_data("ds:operational", "<config-filter>true</config-filter>"),
        )
        .await;
        assert_eq!(top_names(&config_only), ["ssl", "ztp"]);
        assert!(find(&config_only, &["ztp", "certificate-remote-state"]).is_none());
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn get_data_filters_depth_and_defaults() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let config = format!(
            "<config>{}{}</config>",
            policy_config("p1"),
            ztp_config(&format!(
                "{}{}",
                server_entry("127.0.10.5", 30217, "p1", None),
                server_entry("127.0.10.6", 30218, "p1", Some("esn"))
            ))
        );
        client.rpc_ok(&edit_data("ds:running", &config)).await;

        let filter = format!(
            r#"<subtree-filter><ztp xmlns="{NS_ZTP}"><certificate-remote><address>127.0.10.6</address></certificate-remote></ztp></subtree-filter>"#
        );
        let selected = data(&mut client, &get_data("ds:running", &filter)).await;
        assert_eq!(servers(&selected), ["127.0.10.6"]);
        assert_eq!(top_names(&selected), ["ztp"]);
        assert_eq!(
            text(&selected, &["ztp", "certificate-remote", "verify-type"]).as_deref(),
            Some("esn")
        );

        // max-depth 1 keeps the selected entry and its keys only.
        let shallow = data(
            &mut client,
            &get_data("ds:running", &format!("{filter}<max-depth>1</max-depth>")),
        )
        .await;
        let entry = find(&shallow, &["ztp", "certificate-remote"]).expect("entry");
        let children: Vec<&str> = entry.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(children, ["address", "vpn-instance"]);

        // with-defaults on a conventional datastore.
        let tagged = data(
            &mut client,
            &get_data(
                "ds:running",
                "<with-defaults>report-all-tagged</with-defaults>",
            ),
        )
        .await;
        let first = find(&tagged, &["ztp", "certificate-remote"]).expect("entry");
        let verify = find(first, &["verify-type"]).expect("default reported");
        assert_eq!(verify.trimmed_text(), "ip-address");
        assert_eq!(
            verify.attribute_ns(NS_DEFAULT_ATTRIBUTE, "default"),
            Some("true")
        );
        let untagged = data(&mut client, &get_data("ds:running", "")).await;
        let first = find(&untagged, &["ztp", "certificate-remote"]).expect("entry");
        assert!(find(first, &["verify-type"]).is_none(), "{first:?}");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn get_data_errors_follow_rfc_8526() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                &get_data("ds:intended", ""),
                "invalid-value",
                "protocol",
                "ds:intended",
            ),
            (
                &get_data("xx:running", ""),
                "invalid-value",
                "protocol",
                "xx",
            ),
            (
                &get_data("running", ""),
                "invalid-value",
                "protocol",
                "running",
            ),
            (
                &get_data("ds:running", "<with-origin/>"),
                "invalid-value",
                "protocol",
                "with-origin",
            ),
            (
                &get_data("ds:operational", "<with-origin/>"),
                "operation-not-supported",
                "protocol",
                "origin",
            ),
            (
                &get_data(
                    "ds:operational",
                    "<with-defaults>report-all</with-defaults>",
                ),
                "invalid-value",
                "protocol",
                "with-defaults",
            ),
            (
                &get_data("ds:running", "<with-defaults>everything</with-defaults>"),
                "invalid-value",
                "protocol",
                "everything",
            ),
            (
                &get_data("ds:running", "<xpath-filter>/undeclared:ztp</xpath-filter>"),
                "invalid-value",
                "protocol",
                "undeclared",
            ),
            (
                &get_data("ds:running", "<max-depth>0</max-depth>"),
                "invalid-value",
                "protocol",
                "\"0\"",
            ),
            (
                &get_data("ds:running", "<config-filter>maybe</config-filter>"),
                "invalid-value",
                "protocol",
                "maybe",
            ),
            (
                &get_data("ds:running", "<depth>1</depth>"),
                "unknown-element",
                "protocol",
                "depth",
            ),
            (
                &format!(r#"<get-data xmlns="{NS_NMDA}"/>"#),
                "missing-element",
                "protocol",
                "datastore",
            ),
        ];
        for (request, tag, error_type, named) in cases {
            let reply = client.rpc(request).await;
            assert_error(&reply, tag, error_type, named);
        }
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn edit_data_errors_and_locks() {
    with_timeout(async {
        let (_lab, daemon, mut holder, mut other) = start_daemon_with_two_clients().await;
        let config = format!("<config>{}</config>", policy_config("p1"));

        let cases: &[(&str, &str, &str)] = &[
            ("ds:operational", "invalid-value", "ds:operational"),
            ("ds:startup", "invalid-value", "startup datastore cannot be edited"),
            ("ds:intended", "invalid-value", "ds:intended"),
        ];
        for (datastore, tag, named) in cases {
            let reply = other.rpc(&edit_data(datastore, &config)).await;
            assert_error(&reply, tag, "protocol", named);
        }
        let reply = other.rpc(&edit_data("ds:running", "")).await;
        assert_error(&reply, "missing-element", "protocol", "config");
        let reply = other
            .rpc(&edit_data(
                "ds:running",
                &format!("<default-operation>delete</default-operation>{config}"),
            ))
            .await;
        assert_error(&reply, "invalid-value", "protocol", "delete");

        // The NMDA form of lock: another session's edit-data is in-use.
        holder
            .rpc_ok(&format!(
                r#"<lock><target><datastore xmlns="{NS_NMDA}" xmlns:ds="{NS_DS}">ds:running</datastore></target></lock>"#
            ))
            .await;
        let reply = other.rpc(&edit_data("ds:running", &config)).await;
        assert_error(&reply, "in-use", "protocol", "locked");
        let running = data(&mut other, &get_data("ds:running", "")).await;
        assert!(find(&running, &["ssl", "ssl-policies", "ssl-policy"]).is_none());

        let reply = holder
            .rpc(&format!(
                r#"<lock><target><datastore xmlns="{NS_NMDA}" xmlns:ds="{NS_DS}">ds:operational</datastore></target></lock>"#
            ))
            .await;
        assert_error(&reply, "invalid-value", "protocol", "ds:operational");

        holder
            .rpc_ok(&format!(
                r#"<unlock><target><datastore xmlns="{NS_NMDA}" xmlns:ds="{NS_DS}">ds:running</datastore></target></unlock>"#
            ))
            .await;
        other.rpc_ok(&edit_data("ds:running", &config)).await;
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn get_data_with_xpath_filter() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let config = format!(
            "{}{}",
            policy_config("p1"),
            ztp_config(&format!(
                "{}{}",
                server_entry("127.0.2.1", 1, "p1", None),
                server_entry("127.0.2.2", 2, "p1", None)
            ))
        );
        client.edit("running", &config).await;
        let reply = client
            .rpc(&get_data(
                "ds:operational",
                r#"<xpath-filter xmlns:z="urn:ztpd:yang:ztpd-ztp">/z:ztp/z:certificate-remote[z:port='2']</xpath-filter>"#,
            ))
            .await;
        let data = reply
            .children
            .iter()
            .find(|child| child.name == "data")
            .expect("data");
        let ztp = find(data, &["ztp"]).expect("ztp selected");
        let addresses: Vec<String> = ztp
            .children
            .iter()
            .filter(|child| child.name == "certificate-remote")
            .filter_map(|entry| text(entry, &["address"]))
            .collect();
        assert_eq!(addresses, ["127.0.2.2"]);
        assert!(find(data, &["ssl"]).is_none(), "{data:?}");
        daemon.stop();
    })
    .await;
}
