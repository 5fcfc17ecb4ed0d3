//! Subtree filter rules of RFC 6241 section 6, one test each, and the
//! examples of section 6.4 adapted to the ztpd modules: SSL policies stand
//! for the users of the RFC, bootstrap servers for the interfaces.

use yang3::data::{DataFormat, DataParserFlags, DataTree, DataValidationFlags};

use super::subtree;
use crate::datastore::raw::print_xml;
use crate::netconf::xml::{Element, parse};

const SSL: &str = r#"xmlns="urn:ztpd:yang:ztpd-ssl""#;
const ZTP: &str = r#"xmlns="urn:ztpd:yang:ztpd-ztp""#;

/// Three SSL policies and three bootstrap servers. The server 10.1.1.1
/// carries `ietf-netconf:operation` metadata on its entry and its port,
/// the only annotations of the loaded modules that data can carry, to
/// stand for metadata such as the with-defaults `default` attribute.
pub(in crate::datastore) fn data() -> DataTree<'static> {
    let xml = format!(
        r#"<ssl {SSL}><ssl-policies>
  <ssl-policy><policy-name>ztp_policy</policy-name><pki-domain>default</pki-domain></ssl-policy>
  <ssl-policy><policy-name>backup</policy-name><pki-domain>lab</pki-domain></ssl-policy>
  <ssl-policy><policy-name>spare</policy-name><pki-domain>default</pki-domain></ssl-policy>
</ssl-policies></ssl>
<ztp {ZTP} xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">
  <certificate-remote nc:operation="merge"><address>10.1.1.1</address><vpn-instance>_public_</vpn-instance><port nc:operation="replace">30217</port><ssl-policy>ztp_policy</ssl-policy><verify-type>esn</verify-type></certificate-remote>
  <certificate-remote><address>10.1.1.2</address><vpn-instance>_public_</vpn-instance><port>443</port><ssl-policy>ztp_policy</ssl-policy></certificate-remote>
  <certificate-remote><address>2001:db8::1</address><vpn-instance>vpn_a</vpn-instance><port>30217</port><ssl-policy>spare</ssl-policy></certificate-remote>
</ztp>"#
    );
    let context = crate::schema::context().expect("schema");
    DataTree::parse_string(
        context,
        xml,
        DataFormat::XML,
        DataParserFlags::STRICT | DataParserFlags::NO_STATE,
        DataValidationFlags::NO_STATE,
    )
    .expect("test data parses")
}

/// Parses `filter`, the content of a `<filter>` element, and returns what
/// it selects from [`data`] as compact XML.
fn filtered(filter: &str) -> String {
    let wrapper = parse(&format!(
        r#"<filter xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" type="subtree">{filter}</filter>"#
    ))
    .expect("filter is well-formed");
    run(&wrapper.children)
}

fn run(filter: &[Element]) -> String {
    let selected = subtree(&data(), filter).expect("filter runs");
    print_xml(&selected, yang3::ffi::LYD_PRINT_SHRINK).expect("prints")
}

fn policy(name: &str, domain: &str) -> String {
    format!(
        "<ssl-policy><policy-name>{name}</policy-name><pki-domain>{domain}</pki-domain></ssl-policy>"
    )
}

fn policies(entries: &str) -> String {
    format!("<ssl {SSL}><ssl-policies>{entries}</ssl-policies></ssl>")
}

fn servers(entries: &str) -> String {
    format!("<ztp {ZTP}>{entries}</ztp>")
}

/// Builds a server entry as printed: keys first, then `rest`.
fn server(address: &str, vpn: &str, rest: &str) -> String {
    format!(
        "<certificate-remote><address>{address}</address><vpn-instance>{vpn}</vpn-instance>{rest}</certificate-remote>"
    )
}

const NC: &str = r#"xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0""#;

/// Builds the entry of 10.1.1.1 as printed: keys first, then `rest`. Copies of
/// selected nodes keep the metadata of their ancestors, so its entry
/// always shows its annotation.
fn server_one(rest: &str) -> String {
    format!(
        r#"<certificate-remote {NC} nc:operation="merge"><address>10.1.1.1</address><vpn-instance>_public_</vpn-instance>{rest}</certificate-remote>"#
    )
}

/// The port of 10.1.1.1 as printed inside its entry.
const PORT_ONE: &str = r#"<port nc:operation="replace">30217</port>"#;

fn server_one_full() -> String {
    server_one(&format!(
        "{PORT_ONE}<ssl-policy>ztp_policy</ssl-policy><verify-type>esn</verify-type>"
    ))
}

fn all_policies() -> String {
    // The list is ordered by the system, which sorts it by name.
    policies(&format!(
        "{}{}{}",
        policy("backup", "lab"),
        policy("spare", "default"),
        policy("ztp_policy", "default")
    ))
}

// RFC 6241 section 6.4.1: no filter returns everything; the datastore
// returns the tree unfiltered, so the data here is printed whole.
#[test]
fn example_no_filter_is_whole_tree() {
    let whole = print_xml(&data(), yang3::ffi::LYD_PRINT_SHRINK).expect("prints");
    assert!(whole.starts_with(&all_policies()), "{whole}");
    assert!(whole.contains("2001:db8::1"), "{whole}");
}

// Section 6.4.2: an empty filter selects nothing.
#[test]
fn example_empty_filter_selects_nothing() {
    assert_eq!(filtered(""), "");
    assert_eq!(filtered("  \n  "), "");
    assert_eq!(run(&[]), "");
}

// Section 6.4.3: select the entire users subtree.
#[test]
fn example_entire_subtree() {
    assert_eq!(
        filtered(&format!("<ssl {SSL}><ssl-policies/></ssl>")),
        all_policies()
    );
}

// Section 6.4.4: select all name elements within the users subtree.
#[test]
fn example_all_names() {
    let names = "<ssl-policy><policy-name>backup</policy-name></ssl-policy><ssl-policy><policy-name>spare</policy-name></ssl-policy><ssl-policy><policy-name>ztp_policy</policy-name></ssl-policy>";
    assert_eq!(
        filtered(&format!(
            "<ssl {SSL}><ssl-policies><ssl-policy><policy-name/></ssl-policy></ssl-policies></ssl>"
        )),
        policies(names)
    );
}

// Section 6.4.5: one specific user entry, by a content match node alone.
#[test]
fn example_one_entry() {
    assert_eq!(
        filtered(&format!(
            "<ssl {SSL}><ssl-policies><ssl-policy><policy-name>backup</policy-name></ssl-policy></ssl-policies></ssl>"
        )),
        policies(&policy("backup", "lab"))
    );
}

// Section 6.4.6: specific elements from a specific entry.
#[test]
fn example_specific_elements_of_entry() {
    assert_eq!(
        filtered(&format!(
            "<ztp {ZTP}><certificate-remote><address>10.1.1.2</address><port/><verify-type/></certificate-remote></ztp>"
        )),
        servers(&server("10.1.1.2", "_public_", "<port>443</port>"))
    );
}

// Section 6.4.7: multiple subtrees, each filtering another entry of the
// same list, the last one with a content match that fails.
#[test]
fn example_multiple_subtrees() {
    let filter = format!(
        "<ztp {ZTP}>\
           <certificate-remote><address>10.1.1.2</address><ssl-policy/></certificate-remote>\
           <certificate-remote><address>2001:db8::1</address><port/></certificate-remote>\
           <certificate-remote><address>10.1.1.1</address><port>443</port><ssl-policy/></certificate-remote>\
         </ztp>"
    );
    assert_eq!(
        filtered(&filter),
        servers(&format!(
            "{}{}",
            server(
                "10.1.1.2",
                "_public_",
                "<ssl-policy>ztp_policy</ssl-policy>"
            ),
            server("2001:db8::1", "vpn_a", "<port>30217</port>")
        ))
    );
}

// Section 6.4.8: elements with attribute naming; the attribute selects the
// entry that carries it.
#[test]
fn example_attribute_naming() {
    let filter = format!(r#"<ztp {ZTP} {NC}><certificate-remote nc:operation="merge"/></ztp>"#);
    assert_eq!(filtered(&filter), servers(&server_one_full()));
}

#[test]
fn namespace_absent_matches_any_module() {
    assert_eq!(filtered("<ssl><ssl-policies/></ssl>"), all_policies());
}

#[test]
fn namespace_base_treated_as_absent() {
    let wrapper = parse(
        r#"<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><filter><ssl><ssl-policies/></ssl></filter></rpc>"#,
    )
    .expect("well-formed");
    assert_eq!(run(&wrapper.children[0].children), all_policies());
}

#[test]
fn namespace_other_module_selects_nothing() {
    assert_eq!(filtered(&format!("<ssl {ZTP}/>")), "");
    assert_eq!(filtered(r#"<ssl xmlns="urn:example:other"/>"#), "");
}

#[test]
fn namespace_prefixed_elements_match() {
    assert_eq!(
        filtered(
            r#"<s:ssl xmlns:s="urn:ztpd:yang:ztpd-ssl"><s:ssl-policies><s:ssl-policy><s:policy-name>spare</s:policy-name></s:ssl-policy></s:ssl-policies></s:ssl>"#
        ),
        policies(&policy("spare", "default"))
    );
}

#[test]
fn attribute_on_leaf_selects_only_annotated() {
    let filter = format!(
        r#"<ztp {ZTP} {NC}><certificate-remote><port nc:operation="replace"/></certificate-remote></ztp>"#
    );
    assert_eq!(filtered(&filter), servers(&server_one(PORT_ONE)));
}

#[test]
fn attribute_unqualified_matches_any_module() {
    let filter = format!(
        r#"<ztp {ZTP}><certificate-remote><port operation="replace"/></certificate-remote></ztp>"#
    );
    assert!(filtered(&filter).contains("10.1.1.1"));
    assert!(!filtered(&filter).contains("10.1.1.2"));
}

#[test]
fn attribute_in_other_namespace_no_match() {
    let filter = format!(
        r#"<ztp {ZTP} xmlns:x="urn:example:other"><certificate-remote><port x:operation="replace"/></certificate-remote></ztp>"#
    );
    assert_eq!(filtered(&filter), "");
}

#[test]
fn attribute_with_other_value_no_match() {
    let filter = format!(r#"<ztp {ZTP} {NC}><certificate-remote nc:operation="delete"/></ztp>"#);
    assert_eq!(filtered(&filter), "");
}

#[test]
fn attribute_data_lacks_no_match() {
    // The ssl container carries no metadata at all.
    let filter = format!(r#"<ssl {SSL} {NC} nc:operation="merge"/>"#);
    assert_eq!(filtered(&filter), "");
}

#[test]
fn attribute_on_containment_node() {
    let filter = format!(
        r#"<ztp {ZTP} {NC}><certificate-remote nc:operation="merge"><ssl-policy/></certificate-remote></ztp>"#
    );
    assert_eq!(
        filtered(&filter),
        servers(&format!(
            r#"<certificate-remote {NC} nc:operation="merge"><address>10.1.1.1</address><vpn-instance>_public_</vpn-instance><ssl-policy>ztp_policy</ssl-policy></certificate-remote>"#
        ))
    );
}

#[test]
fn attribute_on_content_match_node() {
    let matching = format!(
        r#"<ztp {ZTP} {NC}><certificate-remote><port nc:operation="replace">30217</port></certificate-remote></ztp>"#
    );
    assert_eq!(filtered(&matching), servers(&server_one_full()));
    // 2001:db8::1 has port 30217 too, but without the metadata.
    assert!(!filtered(&matching).contains("2001:db8::1"));
}

#[test]
fn containment_selecting_nothing_drops_parent() {
    assert_eq!(
        filtered(&format!(
            "<ztp {ZTP}><certificate-remote-state><server/></certificate-remote-state></ztp>"
        )),
        ""
    );
    assert_eq!(
        filtered(&format!(
            "<ssl {SSL}><ssl-policies><ssl-policy><no-such-leaf/></ssl-policy></ssl-policies></ssl>"
        )),
        ""
    );
}

#[test]
fn selection_node_selects_whole_subtree() {
    assert_eq!(filtered(&format!("<ssl {SSL}/>")), all_policies());
}

#[test]
fn selection_of_missing_node_selects_nothing() {
    assert_eq!(
        filtered(&format!("<ztp {ZTP}><certificate-remote-state/></ztp>")),
        ""
    );
    assert_eq!(filtered("<no-such-container/>"), "");
}

#[test]
fn content_matches_all_must_match() {
    let both = format!(
        "<ztp {ZTP}><certificate-remote><port>30217</port><ssl-policy>spare</ssl-policy></certificate-remote></ztp>"
    );
    assert_eq!(
        filtered(&both),
        servers(&server(
            "2001:db8::1",
            "vpn_a",
            "<port>30217</port><ssl-policy>spare</ssl-policy>"
        ))
    );
    let one_fails = format!(
        "<ztp {ZTP}><certificate-remote><port>443</port><ssl-policy>spare</ssl-policy></certificate-remote></ztp>"
    );
    assert_eq!(filtered(&one_fails), "");
}

#[test]
fn content_match_only_level_returns_whole_entry() {
    let filter = format!(
        "<ztp {ZTP}><certificate-remote><port>30217</port><vpn-instance>_public_</vpn-instance></certificate-remote></ztp>"
    );
    assert_eq!(filtered(&filter), servers(&server_one_full()));
}

#[test]
fn content_match_failing_suppresses_siblings() {
    let filter = format!(
        "<ztp {ZTP}><certificate-remote><address>10.9.9.9</address><port/></certificate-remote></ztp>"
    );
    assert_eq!(filtered(&filter), "");
}

#[test]
fn content_match_with_selection_outputs_both() {
    let filter = format!(
        "<ztp {ZTP}><certificate-remote><port>30217</port><verify-type/></certificate-remote></ztp>"
    );
    // 2001:db8::1 has no verify-type set; its entry shows the matched port.
    assert_eq!(
        filtered(&filter),
        servers(&format!(
            "{}{}",
            server_one(&format!("{PORT_ONE}<verify-type>esn</verify-type>")),
            server("2001:db8::1", "vpn_a", "<port>30217</port>")
        ))
    );
}

#[test]
fn content_match_compares_canonical_values() {
    let filter = format!(
        "<ztp {ZTP}><certificate-remote><address>2001:DB8:0::1</address><port/></certificate-remote></ztp>"
    );
    assert_eq!(
        filtered(&filter),
        servers(&server("2001:db8::1", "vpn_a", "<port>30217</port>"))
    );
}

#[test]
fn content_match_ignores_surrounding_whitespace() {
    assert_eq!(
        filtered(&format!(
            "<ssl {SSL}><ssl-policies><ssl-policy><policy-name>\n  backup  \n</policy-name></ssl-policy></ssl-policies></ssl>"
        )),
        policies(&policy("backup", "lab"))
    );
}

#[test]
fn content_match_on_container_no_match() {
    assert_eq!(
        filtered(&format!("<ssl {SSL}><ssl-policies>x</ssl-policies></ssl>")),
        ""
    );
}

#[test]
fn duplicate_sibling_filters_add_up() {
    let filter = format!(
        "<ssl {SSL}><ssl-policies>\
           <ssl-policy><policy-name>spare</policy-name></ssl-policy>\
           <ssl-policy><policy-name>backup</policy-name></ssl-policy>\
           <ssl-policy><policy-name>backup</policy-name></ssl-policy>\
         </ssl-policies></ssl>"
    );
    // The output keeps the data order, not the filter order.
    assert_eq!(
        filtered(&filter),
        policies(&format!(
            "{}{}",
            policy("backup", "lab"),
            policy("spare", "default")
        ))
    );
}

#[test]
fn duplicate_selection_nodes_select_once() {
    let filter = format!(
        "<ztp {ZTP}><certificate-remote><address>10.1.1.2</address><port/><port/></certificate-remote></ztp>"
    );
    assert_eq!(
        filtered(&filter),
        servers(&server("10.1.1.2", "_public_", "<port>443</port>"))
    );
    assert_eq!(filtered(&format!("<ssl {SSL}/><ssl/>")), all_policies());
}

#[test]
fn multiple_top_level_subtrees_union() {
    let filter = format!(
        "<ztp {ZTP}><certificate-remote><address>10.1.1.2</address><port/></certificate-remote></ztp>\
         <ssl {SSL}><ssl-policies><ssl-policy><policy-name>spare</policy-name></ssl-policy></ssl-policies></ssl>"
    );
    assert_eq!(
        filtered(&filter),
        format!(
            "{}{}",
            policies(&policy("spare", "default")),
            servers(&server("10.1.1.2", "_public_", "<port>443</port>"))
        )
    );
}

#[test]
fn key_selection_outputs_keys_only() {
    let filter = format!("<ztp {ZTP}><certificate-remote><address/></certificate-remote></ztp>");
    assert_eq!(
        filtered(&filter),
        servers(&format!(
            "{}{}{}",
            server_one(""),
            server("10.1.1.2", "_public_", ""),
            server("2001:db8::1", "vpn_a", "")
        ))
    );
}
