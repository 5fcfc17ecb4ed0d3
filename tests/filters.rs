//! XPath and subtree filters of `get` and `get-config` against the real
//! daemon: the `:xpath` capability, prefixes declared on `<rpc>` or on
//! `<filter>`, state data, and the errors of bad filters.

mod common;

use common::*;
use ztpd::netconf::xml::{self, Element};

const XPATH: &str = "urn:ietf:params:netconf:capability:xpath:1.0";

/// Two policies and three servers in running, two of them on port 30217.
/// The servers are loopback addresses, where the downloads that the commit
/// starts fail at once.
async fn configure(client: &mut Netconf) {
    let servers = format!(
        "{}{}{}",
        server_entry("127.0.0.1", 30217, "ztp_policy", None),
        server_entry("127.0.0.2", 443, "ztp_policy", Some("esn")),
        server_entry("127.0.0.3", 30217, "ztp_policy", None)
    );
    let reply = client
        .edit(
            "candidate",
            &format!(
                "{}{}{}",
                policy_config("ztp_policy"),
                policy_config("spare"),
                ztp_config(&servers)
            ),
        )
        .await;
    assert!(reply.child(NS_BASE, "ok").is_some(), "{reply:?}");
    client.rpc_ok("<commit/>").await;
}

/// Sends `message` and returns the parsed reply.
async fn exchange(client: &mut Netconf, message: &str) -> Element {
    let reply = client.exchange(message).await;
    xml::parse(&reply).expect("reply XML")
}

/// Returns the `(address, port)` pairs of the servers in `data`.
fn server_ports(data: &Element) -> Vec<(String, String)> {
    find(data, &["ztp"])
        .map(|ztp| {
            ztp.children
                .iter()
                .filter(|child| child.name == "certificate-remote")
                .map(|entry| {
                    (
                        text(entry, &["address"]).unwrap_or_default(),
                        text(entry, &["port"]).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn data_of(reply: &Element) -> &Element {
    reply
        .child(NS_BASE, "data")
        .unwrap_or_else(|| panic!("no data in {reply:?}"))
}

#[tokio::test]
async fn xpath_capability_advertised() {
    with_timeout(async {
        let (_lab, daemon, client) = start_daemon_with_client().await;
        let advertised: Vec<String> = find(&client.server_hello, &["capabilities"])
            .map(|list| {
                list.children
                    .iter()
                    .map(|child| child.trimmed_text().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert!(advertised.iter().any(|uri| uri == XPATH), "{advertised:?}");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn xpath_prefix_declared_on_rpc() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        configure(&mut client).await;
        let reply = exchange(
            &mut client,
            &format!(
                r#"<rpc xmlns="{NS_BASE}" xmlns:z="{NS_ZTP}" message-id="x1"><get-config><source><running/></source><filter type="xpath" select="/z:ztp/z:certificate-remote[z:port='30217']"/></get-config></rpc>"#
            ),
        )
        .await;
        assert_eq!(reply.attribute("message-id"), Some("x1"));
        let data = data_of(&reply);
        assert_eq!(
            server_ports(data),
            [
                ("127.0.0.1".to_owned(), "30217".to_owned()),
                ("127.0.0.3".to_owned(), "30217".to_owned())
            ]
        );
        let entry = &find(data, &["ztp"]).expect("ztp").children[0];
        assert_eq!(text(entry, &["ssl-policy"]).as_deref(), Some("ztp_policy"));
        assert!(find(data, &["ssl"]).is_none(), "{data:?}");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn xpath_policy_name_case_insensitive() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        configure(&mut client).await;
        let reply = client
            .rpc(&format!(
                r#"<get-config><source><running/></source><filter type="xpath" xmlns:s="{NS_SSL}" xmlns:z="{NS_ZTP}" select="/s:ssl/s:ssl-policies/s:ssl-policy[s:policy-name='ZTP_Policy'] | /z:ztp/z:certificate-remote[z:ssl-policy='ZTP_POLICY']/z:port"/></get-config>"#
            ))
            .await;
        let data = data_of(&reply);
        let policies = find(data, &["ssl", "ssl-policies"]).expect("policies selected");
        let names: Vec<String> = policies
            .children
            .iter()
            .filter_map(|policy| text(policy, &["policy-name"]))
            .collect();
        assert_eq!(names, ["ztp_policy"]);
        assert_eq!(server_ports(data).len(), 3, "{data:?}");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn xpath_prefix_declared_on_filter_in_get() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        configure(&mut client).await;
        // The nc prefix of the envelope is unrelated to the one in select;
        // the filter's own declaration of z wins over the one on <rpc>.
        let reply = exchange(
            &mut client,
            &format!(
                r#"<nc:rpc xmlns:nc="{NS_BASE}" xmlns:z="{NS_SSL}" message-id="x2"><nc:get><nc:filter nc:type="xpath" xmlns:z="{NS_ZTP}" select="/z:ztp/z:certificate-remote[z:verify-type='esn']/z:port | /z:ztp/z:certificate-remote-state/z:certificate-status"/></nc:get></nc:rpc>"#
            ),
        )
        .await;
        let data = data_of(&reply);
        assert_eq!(
            server_ports(data),
            [("127.0.0.2".to_owned(), "443".to_owned())]
        );
        let status = text(data, &["ztp", "certificate-remote-state", "certificate-status"]);
        assert!(status.is_some(), "no state in {data:?}");
        daemon.stop();
    })
    .await;
}

/// Sends a `get-config` with `filter` and returns the single `rpc-error`.
async fn filter_error(client: &mut Netconf, filter: &str) -> Element {
    let reply = client
        .rpc(&format!(
            "<get-config><source><running/></source>{filter}</get-config>"
        ))
        .await;
    let errors = rpc_errors(&reply);
    assert_eq!(errors.len(), 1, "{reply:?}");
    errors[0].clone()
}

#[tokio::test]
async fn xpath_filter_errors() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;

        let error = filter_error(&mut client, r#"<filter type="xpath"/>"#).await;
        assert_eq!(
            text(&error, &["error-tag"]).as_deref(),
            Some("missing-attribute")
        );
        assert_eq!(
            text(&error, &["error-info", "bad-attribute"]).as_deref(),
            Some("select")
        );
        assert_eq!(
            text(&error, &["error-info", "bad-element"]).as_deref(),
            Some("filter")
        );

        let error = filter_error(
            &mut client,
            &format!(r#"<filter type="xpath" xmlns:z="{NS_ZTP}" select="/z:ztp/q:port"/>"#),
        )
        .await;
        assert_eq!(
            text(&error, &["error-tag"]).as_deref(),
            Some("invalid-value")
        );
        assert_eq!(text(&error, &["error-type"]).as_deref(), Some("protocol"));
        let message = text(&error, &["error-message"]).unwrap_or_default();
        assert!(message.contains(r#"prefix "q""#), "{message}");

        let error = filter_error(
            &mut client,
            &format!(r#"<filter type="xpath" xmlns:z="{NS_ZTP}" select="/z:ztp/["/>"#),
        )
        .await;
        assert_eq!(
            text(&error, &["error-tag"]).as_deref(),
            Some("invalid-value")
        );
        let message = text(&error, &["error-message"]).unwrap_or_default();
        assert_eq!(
            message,
            r#"the XPath filter "/z:ztp/[" is invalid: Unexpected XPath token "[" ("[")."#
        );

        let error = filter_error(&mut client, r#"<filter type="regex"/>"#).await;
        assert_eq!(
            text(&error, &["error-tag"]).as_deref(),
            Some("bad-attribute")
        );
        assert_eq!(
            text(&error, &["error-info", "bad-attribute"]).as_deref(),
            Some("type")
        );

        // The session goes on.
        client.rpc_ok("<discard-changes/>").await;
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn subtree_filter_without_namespace_under_default_base() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        configure(&mut client).await;
        // <ssl> inherits the base namespace of <rpc>, and the policy name
        // in the wrong case still matches the stored lower-case name.
        let reply = client
            .rpc(
                "<get-config><source><running/></source><filter><ssl><ssl-policies><ssl-policy><policy-name>SPARE</policy-name></ssl-policy></ssl-policies></ssl></filter></get-config>",
            )
            .await;
        let data = data_of(&reply);
        let policies = find(data, &["ssl", "ssl-policies"]).expect("policies");
        assert_eq!(policies.children.len(), 1, "{data:?}");
        assert_eq!(
            text(&policies.children[0], &["policy-name"]).as_deref(),
            Some("spare")
        );
        daemon.stop();
    })
    .await;
}
