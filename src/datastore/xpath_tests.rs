//! XPath filters: prefix translation and evaluation on the data of the
//! subtree filter tests.

use yang3::data::DataTree;

use super::{XPathFilter, select, translate_prefixes};
use crate::datastore::filter::tests::data;
use crate::datastore::raw::print_xml;
use crate::datastore::{Datastore, Filter, StateNode, Store};
use crate::netconf::error::{ErrorTag, ErrorType};

const NS_ZTP: &str = "urn:ztpd:yang:ztpd-ztp";
const NS_SSL: &str = "urn:ztpd:yang:ztpd-ssl";

fn scope(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(prefix, namespace)| ((*prefix).to_owned(), (*namespace).to_owned()))
        .collect()
}

/// Builds an XPath filter whose `select` is already in libyang's form.
fn xpath(expression: &str) -> XPathFilter {
    XPathFilter {
        select: expression.to_owned(),
        expression: expression.to_owned(),
    }
}

fn selected(tree: &DataTree<'static>, expression: &str) -> String {
    let result = select(tree, &xpath(expression)).expect("expression evaluates");
    print_xml(&result, yang3::ffi::LYD_PRINT_SHRINK).expect("prints")
}

#[test]
fn prefixes_become_module_names() {
    let translated = translate_prefixes(
        "/z:ztp/z:certificate-remote[z:port='30217']/s:x | //z:*",
        &scope(&[("z", NS_ZTP), ("s", NS_SSL)]),
    )
    .expect("translates");
    assert_eq!(
        translated,
        "/ztpd-ztp:ztp/ztpd-ztp:certificate-remote[ztpd-ztp:port='30217']/ztpd-ssl:x | //ztpd-ztp:*"
    );
}

#[test]
fn literals_axes_and_operators_kept() {
    let translated = translate_prefixes(
        r#"/z:ztp/child::z:certificate-remote[z:ssl-policy = "a:b" or z:port='x:y' and 1 div 2 > .5]"#,
        &scope(&[("z", NS_ZTP)]),
    )
    .expect("translates");
    assert_eq!(
        translated,
        r#"/ztpd-ztp:ztp/child::ztpd-ztp:certificate-remote[ztpd-ztp:ssl-policy = "a:b" or ztpd-ztp:port='x:y' and 1 div 2 > .5]"#
    );
}

#[test]
fn innermost_declaration_wins() {
    let translated =
        translate_prefixes("/p:ssl", &scope(&[("p", NS_ZTP), ("p", NS_SSL)])).expect("translates");
    assert_eq!(translated, "/ztpd-ssl:ssl");
}

#[test]
fn unknown_prefix_named() {
    let error = translate_prefixes("/z:ztp/q:certificate-remote", &scope(&[("z", NS_ZTP)]))
        .expect_err("q is not declared");
    assert_eq!(error.tag, ErrorTag::InvalidValue);
    assert_eq!(error.error_type, ErrorType::Protocol);
    assert!(
        error
            .message
            .contains("prefix \"q\", which is not declared"),
        "{}",
        error.message
    );
}

#[test]
fn prefix_of_foreign_namespace_named() {
    let error =
        translate_prefixes("/x:ztp", &scope(&[("x", "urn:example:other")])).expect_err("no module");
    assert_eq!(error.tag, ErrorTag::InvalidValue);
    assert!(
        error.message.contains("urn:example:other"),
        "{}",
        error.message
    );
    assert!(error.message.contains("\"x\""), "{}", error.message);
}

#[test]
fn unterminated_literal_left_to_libyang() {
    let translated =
        translate_prefixes("/z:ztp[z:a='b:c", &scope(&[("z", NS_ZTP)])).expect("translates");
    assert_eq!(translated, "/ztpd-ztp:ztp[ztpd-ztp:a='b:c");
    let error = select(&data(), &xpath(&translated)).expect_err("libyang rejects it");
    assert_eq!(error.tag, ErrorTag::InvalidValue);
}

#[test]
fn overlong_expression_rejected() {
    let long = format!("/z:ztp{}", " ".repeat(super::MAX_EXPRESSION_LENGTH));
    let error = translate_prefixes(&long, &scope(&[("z", NS_ZTP)])).expect_err("too long");
    assert_eq!(error.tag, ErrorTag::InvalidValue);
}

#[test]
fn predicate_selects_whole_entries() {
    let out = selected(
        &data(),
        "/ztpd-ztp:ztp/ztpd-ztp:certificate-remote[ztpd-ztp:port='30217']",
    );
    assert!(out.contains("<address>10.1.1.1</address>"), "{out}");
    assert!(out.contains("<address>2001:db8::1</address>"), "{out}");
    assert!(out.contains("<ssl-policy>spare</ssl-policy>"), "{out}");
    assert!(!out.contains("10.1.1.2"), "{out}");
    assert!(!out.contains("ztpd-ssl"), "{out}");
}

#[test]
fn leaf_selected_with_ancestors_and_keys() {
    let out = selected(
        &data(),
        "/ztpd-ztp:ztp/ztpd-ztp:certificate-remote[ztpd-ztp:address='10.1.1.2']/ztpd-ztp:port",
    );
    assert_eq!(
        out,
        r#"<ztp xmlns="urn:ztpd:yang:ztpd-ztp"><certificate-remote><address>10.1.1.2</address><vpn-instance>_public_</vpn-instance><port>443</port></certificate-remote></ztp>"#
    );
}

#[test]
fn key_leaf_selected_once() {
    let out = selected(
        &data(),
        "/ztpd-ssl:ssl/ztpd-ssl:ssl-policies/ztpd-ssl:ssl-policy/ztpd-ssl:policy-name[.='spare']",
    );
    assert_eq!(
        out,
        r#"<ssl xmlns="urn:ztpd:yang:ztpd-ssl"><ssl-policies><ssl-policy><policy-name>spare</policy-name></ssl-policy></ssl-policies></ssl>"#
    );
}

#[test]
fn union_and_descendant_axis() {
    let out = selected(
        &data(),
        "//ztpd-ssl:pki-domain[.='lab'] | /ztpd-ztp:ztp/ztpd-ztp:certificate-remote/ztpd-ztp:verify-type[.='esn']",
    );
    assert!(
        out.contains("<policy-name>backup</policy-name><pki-domain>lab</pki-domain>"),
        "{out}"
    );
    assert!(out.contains("<verify-type>esn</verify-type>"), "{out}");
    assert!(!out.contains("spare"), "{out}");
}

#[test]
fn non_node_set_is_invalid_value() {
    let error = select(&data(), &xpath("count(//ztpd-ssl:ssl-policy)")).expect_err("a number");
    assert_eq!(error.tag, ErrorTag::InvalidValue);
    assert!(
        error.message.contains("not a node set"),
        "{}",
        error.message
    );
}

#[test]
fn syntax_error_is_invalid_value_with_reason() {
    let error = select(&data(), &xpath("/ztpd-ztp:ztp/[")).expect_err("invalid");
    assert_eq!(error.tag, ErrorTag::InvalidValue);
    assert_eq!(error.error_type, ErrorType::Protocol);
    assert_eq!(
        error.message,
        r#"the XPath filter "/ztpd-ztp:ztp/[" is invalid: Unexpected XPath token "[" ("[")."#
    );
}

#[test]
fn unknown_module_is_invalid_value() {
    let error = select(&data(), &xpath("/no-such-module:top")).expect_err("invalid");
    assert_eq!(error.tag, ErrorTag::InvalidValue);
}

#[test]
fn empty_tree_checks_expression() {
    let context = crate::schema::context().expect("schema");
    let empty = DataTree::new(context);
    assert_eq!(selected(&empty, "/ztpd-ztp:ztp"), "");
    let error = select(&empty, &xpath("/ztpd-ztp:ztp/[")).expect_err("invalid");
    assert_eq!(error.tag, ErrorTag::InvalidValue);
}

#[test]
fn get_filters_state_and_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(
        crate::datastore::persist::RunningFile::in_dir(dir.path()),
        Box::new(|_| {}),
    )
    .expect("opens");
    let state = vec![
        StateNode {
            path: "/ztpd-ztp:ztp/certificate-remote-state/certificate-status".into(),
            value: Some("failed".into()),
        },
        StateNode {
            path: "/ztpd-ztp:ztp/certificate-remote-state/server[address='10.1.1.1'][vpn-instance='_public_']/status".into(),
            value: Some("failed".into()),
        },
    ];
    let filter = Filter::XPath(
        XPathFilter::new(
            "/z:ztp/z:certificate-remote-state/z:certificate-status",
            &scope(&[("z", NS_ZTP)]),
        )
        .expect("translates"),
    );
    let out = store.get(Some(&filter), &state).expect("get");
    assert_eq!(
        out,
        r#"<ztp xmlns="urn:ztpd:yang:ztpd-ztp"><certificate-remote-state><certificate-status>failed</certificate-status></certificate-remote-state></ztp>"#
    );
    let out = store
        .get_config(Datastore::Running, Some(&filter))
        .expect("get-config");
    assert_eq!(out, "", "running has no state");
}

#[test]
fn unknown_node_selects_nothing() {
    assert_eq!(selected(&data(), "/ztpd-ztp:no-such-node"), "");
}

#[test]
fn policy_name_literals_lowercased() {
    for (expression, expected) in [
        (
            "/ztpd-ssl:ssl/ssl-policies/ssl-policy[ztpd-ssl:policy-name='ZTP_Policy']",
            "/ztpd-ssl:ssl/ssl-policies/ssl-policy[ztpd-ssl:policy-name='ztp_policy']",
        ),
        (
            r#"//certificate-remote[ssl-policy != "ZTP_Policy"]"#,
            r#"//certificate-remote[ssl-policy != "ztp_policy"]"#,
        ),
        (
            "//certificate-remote['ZTP_Policy' = ztpd-ztp:ssl-policy]",
            "//certificate-remote['ztp_policy' = ztpd-ztp:ssl-policy]",
        ),
        (
            "'ZTP_Policy'=/ztpd-ssl:ssl/ssl-policies/ssl-policy/policy-name",
            "'ztp_policy'=/ztpd-ssl:ssl/ssl-policies/ssl-policy/policy-name",
        ),
    ] {
        assert_eq!(super::fold_case_insensitive_literals(expression), expected);
    }
}

#[test]
fn other_literals_kept() {
    for expression in [
        "//certificate-remote[port='ABC']",
        "//ssl-policy[contains(policy-name, 'ZTP')]",
        "//ssl-policy[policy-name >= 'ZTP']",
        "//ssl-policy[pki-domain='Default']/policy-name",
        "//ssl-policy['ZTP' = policy-name-other]",
    ] {
        assert_eq!(
            super::fold_case_insensitive_literals(expression),
            expression
        );
    }
}
