//! Envelope faults that have broken NETCONF clients and servers, sent as
//! raw bytes over real SSH to the real daemon. The tests cover stray white
//! space, framing split across writes, long chunk sizes and chunked hellos.
//! They also check the namespaces of replies, the message-id on error
//! replies, close-session, prefixes in requests, multi-megabyte replies and
//! the maximum message size.

mod common;

use std::time::Duration;

use common::*;
use ztpd::netconf::xml::{self, Element};

/// Builds a `get-config` of running inside an `<rpc>` with `message_id`.
fn get_config(message_id: &str) -> String {
    rpc(
        message_id,
        "<get-config><source><running/></source></get-config>",
    )
}

fn rpc(message_id: &str, operation: &str) -> String {
    format!(r#"<rpc xmlns="{NS_BASE}" message-id="{message_id}">{operation}</rpc>"#)
}

/// Checks that `reply` is the reply to `message_id` and carries `<data>`,
/// and returns that element.
fn assert_data(reply: &str, message_id: &str) -> Element {
    let parsed = parse_reply(reply);
    assert_eq!(parsed.attribute("message-id"), Some(message_id), "{reply}");
    parsed
        .child(NS_BASE, "data")
        .cloned()
        .unwrap_or_else(|| panic!("no <data> in {reply}"))
}

/// Checks that `reply` is the reply to `message_id` and carries `<ok/>`.
fn assert_ok(reply: &str, message_id: &str) {
    let parsed = parse_reply(reply);
    assert_eq!(parsed.attribute("message-id"), Some(message_id), "{reply}");
    assert!(parsed.child(NS_BASE, "ok").is_some(), "{reply}");
}

/// Returns the error-tag of the single `rpc-error` of `reply`.
fn error_tag(reply: &Element) -> String {
    let errors = rpc_errors(reply);
    assert_eq!(errors.len(), 1, "{reply:?}");
    text(errors[0], &["error-tag"]).unwrap_or_default()
}

/// Starts the daemon, with `max-message-size` set when given.
fn start_daemon(lab: &Lab, max_message_size: Option<usize>) -> Daemon {
    let path = lab.write_config("");
    if let Some(size) = max_message_size {
        let config = std::fs::read_to_string(&path).expect("read configuration");
        let config = config.replace(
            "[netconf]\n",
            &format!("[netconf]\nmax-message-size = {size}\n"),
        );
        std::fs::write(&path, config).expect("write configuration");
    }
    Daemon::start(&path)
}

/// Opens a chunked session: the hello exchange in end-of-message framing,
/// then chunked framing.
async fn chunked_session(daemon: &Daemon, lab: &Lab) -> RawChannel {
    RawChannel::open_with_hello(daemon.address, &lab.client_key, HELLO_1_1)
        .await
        .0
}

/// Opens an end-of-message framed (base:1.0) session.
async fn end_of_message_session(daemon: &Daemon, lab: &Lab) -> RawChannel {
    RawChannel::open_with_hello(daemon.address, &lab.client_key, HELLO_1_0)
        .await
        .0
}

#[tokio::test]
async fn hello_comes_first_without_message_id() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = start_daemon(&lab, None);
        let mut channel = RawChannel::open(daemon.address, &lab.client_key).await;
        let hello = channel.read_end_of_message().await;
        assert!(
            hello.starts_with("<hello "),
            "bytes before the hello: {hello:?}"
        );
        let parsed = xml::parse(&hello).expect("hello is XML");
        assert!(parsed.is(NS_BASE, "hello"), "{hello}");
        assert!(
            parsed.attributes.is_empty(),
            "hello has attributes: {hello}"
        );
        let session_id = text(&parsed, &["session-id"]).expect("session-id");
        assert!(session_id.parse::<u32>().expect("number") > 0);

        // Nothing else arrives before the client's hello.
        let more =
            tokio::time::timeout(Duration::from_millis(300), channel.read_end_of_message()).await;
        assert!(more.is_err(), "unexpected message: {more:?}");

        channel.write(client_hello(HELLO_1_1).as_bytes()).await;
        channel.write(b"]]>]]>").await;
        channel.write(&chunk(&get_config("1"))).await;
        assert_data(&channel.read_chunked().await, "1");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn chunked_client_hello_accepted() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = start_daemon(&lab, None);
        let mut channel = RawChannel::open(daemon.address, &lab.client_key).await;
        channel.read_end_of_message().await;
        channel.write(&chunk(&client_hello(HELLO_1_1))).await;
        channel.write(&chunk(&get_config("1"))).await;
        assert_data(&channel.read_chunked().await, "1");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn stray_whitespace_end_of_message() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = start_daemon(&lab, None);
        let mut channel = RawChannel::open(daemon.address, &lab.client_key).await;
        channel.read_end_of_message().await;
        let hello = client_hello(HELLO_1_0);
        channel
            .write(format!("\r\n  {hello}\n]]>]]>\n\n").as_bytes())
            .await;
        channel
            .write(format!(" \t\r\n{}]]>]]>\n\r\n", get_config("1")).as_bytes())
            .await;
        assert_data(&channel.read_end_of_message().await, "1");
        channel
            .write(format!("\n\n{}\n]]>]]>  ", get_config("2")).as_bytes())
            .await;
        assert_data(&channel.read_end_of_message().await, "2");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn stray_whitespace_around_chunk_headers() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = start_daemon(&lab, None);
        let mut channel = chunked_session(&daemon, &lab).await;

        // White space before the first header and after the last.
        let message = get_config("1");
        channel
            .write(format!("\r\n \n#{}\n{message}\n##\n\n\r\n", message.len()).as_bytes())
            .await;
        assert_data(&channel.read_chunked().await, "1");

        // White space between chunks and before the end-of-chunks marker.
        let message = get_config("2");
        let (first, second) = message.split_at(10);
        let framed = format!(
            "\n#{}\n{first}\n\n \r\n#{}\n{second} \t\n##\n",
            first.len(),
            second.len()
        );
        channel.write(framed.as_bytes()).await;
        assert_data(&channel.read_chunked().await, "2");

        // The session goes on.
        channel.write(&chunk(&get_config("3"))).await;
        assert_data(&channel.read_chunked().await, "3");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn end_of_message_delimiter_split_across_writes() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = start_daemon(&lab, None);
        let mut channel = end_of_message_session(&daemon, &lab).await;
        for split in 1..6 {
            let message_id = split.to_string();
            let message = get_config(&message_id);
            let (head, tail) = b"]]>]]>".split_at(split);
            channel
                .write_pieces(&[message.as_bytes(), head, tail])
                .await;
            assert_data(&channel.read_end_of_message().await, &message_id);
        }
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn chunked_message_written_byte_by_byte() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = start_daemon(&lab, None);
        let mut channel = chunked_session(&daemon, &lab).await;

        channel.write_bytewise(&chunk(&get_config("1"))).await;
        assert_data(&channel.read_chunked().await, "1");

        // Several chunks, the headers split byte by byte.
        let message = get_config("2");
        let (first, second) = message.split_at(17);
        for (index, piece) in [first, second].iter().enumerate() {
            channel
                .write_bytewise(format!("\n#{}\n", piece.len()).as_bytes())
                .await;
            channel.write(piece.as_bytes()).await;
            if index == 1 {
                channel.write_bytewise(b"\n##\n").await;
            }
        }
        assert_data(&channel.read_chunked().await, "2");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn chunk_sizes_with_many_digits() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = start_daemon(&lab, None);
        let mut channel = chunked_session(&daemon, &lab).await;

        // An 8-digit chunk-size: one chunk of 12345678 bytes, a get-config
        // followed by white space, within the default maximum of 16 MiB.
        let mut message = get_config("1");
        let size = 12_345_678;
        message.push_str(&" ".repeat(size - message.len()));
        channel.write(&chunk(&message)).await;
        assert_data(&channel.read_chunked().await, "1");

        // A 10-digit chunk-size is valid framing; the message is too big.
        let start = get_config("2");
        channel
            .write(format!("\n#4294967295\n{start}").as_bytes())
            .await;
        channel
            .write(
                " ".repeat(ztpd::netconf::framing::TOO_BIG_PREFIX_SIZE)
                    .as_bytes(),
            )
            .await;
        let reply = parse_reply(&channel.read_chunked().await);
        assert_eq!(error_tag(&reply), "too-big", "{reply:?}");
        assert_eq!(reply.attribute("message-id"), Some("2"));
        daemon.stop();
    })
    .await;
}

/// Checks that `element` and every descendant, except the content of
/// `<data>`, is in the base namespace.
fn assert_all_in_base_namespace(element: &Element, path: &str) {
    let path = format!("{path}/{}", element.name);
    assert!(
        element.namespace.as_deref() == Some(NS_BASE),
        "{path} is in {:?}",
        element.namespace
    );
    if element.name == "data" {
        return;
    }
    for child in &element.children {
        assert_all_in_base_namespace(child, &path);
    }
}

#[tokio::test]
async fn replies_in_base_namespace() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = start_daemon(&lab, None);
        let mut channel = chunked_session(&daemon, &lab).await;
        // The requests use a prefix, so nothing leaks from their default
        // namespace into the replies.
        let prefixed = |message_id: &str, operation: &str| {
            format!(
                r#"<nc:rpc xmlns:nc="{NS_BASE}" message-id="{message_id}">{operation}</nc:rpc>"#
            )
        };
        let policy = format!(
            r#"<s:ssl xmlns:s="{NS_SSL}"><s:ssl-policies><s:ssl-policy><s:policy-name>p1</s:policy-name><s:pki-domain>default</s:pki-domain></s:ssl-policy></s:ssl-policies></s:ssl>"#
        );
        let multicast = format!(
            r#"<z:ztp xmlns:z="{NS_ZTP}"><z:certificate-remote><z:address>224.0.0.1</z:address><z:vpn-instance>_public_</z:vpn-instance><z:port>1</z:port><z:ssl-policy>p1</z:ssl-policy></z:certificate-remote></z:ztp>"#
        );
        let requests = [
            (
                "ok",
                prefixed(
                    "1",
                    &format!("<nc:edit-config><nc:target><nc:running/></nc:target><nc:config>{policy}</nc:config></nc:edit-config>"),
                ),
            ),
            (
                "data",
                prefixed("2", "<nc:get-config><nc:source><nc:running/></nc:source></nc:get-config>"),
            ),
            (
                "rpc-error with app-tag and path",
                prefixed(
                    "3",
                    &format!("<nc:edit-config><nc:target><nc:running/></nc:target><nc:config>{multicast}</nc:config></nc:edit-config>"),
                ),
            ),
            (
                "rpc-error with error-info",
                format!(r#"<nc:rpc xmlns:nc="{NS_BASE}"><nc:get/></nc:rpc>"#),
            ),
        ];
        let mut seen_app_tag = false;
        let mut seen_path = false;
        let mut seen_info = false;
        for (expected, request) in requests {
            channel.write(&chunk(&request)).await;
            let reply = channel.read_chunked().await;
            let parsed = parse_reply(&reply);
            assert_all_in_base_namespace(&parsed, "");
            for error in rpc_errors(&parsed) {
                seen_app_tag |= error.child(NS_BASE, "error-app-tag").is_some();
                seen_path |= error.child(NS_BASE, "error-path").is_some();
                seen_info |= error
                    .child(NS_BASE, "error-info")
                    .is_some_and(|info| !info.children.is_empty());
                for child in ["error-type", "error-tag", "error-severity", "error-message"] {
                    assert!(error.child(NS_BASE, child).is_some(), "{expected}: no {child} in {reply}");
                }
            }
            match expected {
                "ok" => assert!(parsed.child(NS_BASE, "ok").is_some(), "{reply}"),
                "data" => assert!(parsed.child(NS_BASE, "data").is_some(), "{reply}"),
                _ => assert!(!rpc_errors(&parsed).is_empty(), "{expected}: {reply}"),
            }
        }
        assert!(seen_app_tag, "no reply carried an error-app-tag");
        assert!(seen_path, "no reply carried an error-path");
        assert!(seen_info, "no reply carried error-info");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn message_id_echoed_on_malformed_requests() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = start_daemon(&lab, None);
        let mut channel = chunked_session(&daemon, &lab).await;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "m-1",
                format!(
                    r#"<rpc xmlns="{NS_BASE}" xmlns:ex="urn:example" message-id="m-1" ex:user-id="fred"><get></rpc>"#
                )
                .into_bytes(),
            ),
            (
                "m-2",
                [
                    format!(r#"<rpc xmlns="{NS_BASE}" message-id="m-2"><get>"#).as_bytes(),
                    b"\xff\xfe",
                    b"</get></rpc>",
                ]
                .concat(),
            ),
            (
                "m-3",
                format!(r#"<rpc xmlns="{NS_BASE}" message-id="m-3"><get-config>"#).into_bytes(),
            ),
            (
                "m-4",
                format!(r#"<rpc xmlns="{NS_BASE}" message-id="m-4"><x:get/></rpc>"#).into_bytes(),
            ),
            (
                "m-5",
                br#"<rpc message-id="m-5"><get/></rpc>"#.to_vec(),
            ),
        ];
        for (message_id, message) in cases {
            let mut framed = format!("\n#{}\n", message.len()).into_bytes();
            framed.extend_from_slice(&message);
            framed.extend_from_slice(b"\n##\n");
            channel.write(&framed).await;
            let reply = channel.read_chunked().await;
            let parsed = parse_reply(&reply);
            assert_eq!(parsed.attribute("message-id"), Some(message_id), "{reply}");
            assert_eq!(error_tag(&parsed), "malformed-message", "{reply}");
            assert_eq!(
                text(rpc_errors(&parsed)[0], &["error-type"]).as_deref(),
                Some("rpc")
            );
            if message_id == "m-1" {
                assert_eq!(
                    parsed.attribute_ns("urn:example", "user-id"),
                    Some("fred"),
                    "{reply}"
                );
            }
        }

        // A start tag that cannot be read leaves nothing to echo; the reply
        // still comes, and the session goes on.
        channel
            .write(&chunk(&format!(r#"<rpc xmlns="{NS_BASE}" message-id="m-6"#)))
            .await;
        let reply = parse_reply(&channel.read_chunked().await);
        assert_eq!(reply.attribute("message-id"), None);
        assert_eq!(error_tag(&reply), "malformed-message");

        channel.write(&chunk(&get_config("7"))).await;
        assert_data(&channel.read_chunked().await, "7");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn missing_message_id_is_missing_attribute() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = start_daemon(&lab, None);
        let mut channel = end_of_message_session(&daemon, &lab).await;
        channel
            .write(format!(r#"<rpc xmlns="{NS_BASE}"><get/></rpc>]]>]]>"#).as_bytes())
            .await;
        let reply = channel.read_end_of_message().await;
        let parsed = parse_reply(&reply);
        assert!(parsed.attributes.is_empty(), "{reply}");
        assert_eq!(error_tag(&parsed), "missing-attribute");
        let error = rpc_errors(&parsed)[0];
        assert_eq!(text(error, &["error-type"]).as_deref(), Some("rpc"));
        assert_eq!(
            text(error, &["error-info", "bad-attribute"]).as_deref(),
            Some("message-id")
        );
        assert_eq!(
            text(error, &["error-info", "bad-element"]).as_deref(),
            Some("rpc")
        );

        channel
            .write(format!("{}]]>]]>", get_config("2")).as_bytes())
            .await;
        assert_data(&channel.read_end_of_message().await, "2");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn close_session_ok_arrives_before_close() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = start_daemon(&lab, None);

        let mut channel = chunked_session(&daemon, &lab).await;
        channel.write(&chunk(&rpc("c-1", "<close-session/>"))).await;
        let reply = channel.read_chunked().await;
        assert_ok(&reply, "c-1");
        let rest = channel.read_to_end().await;
        assert!(rest.is_empty(), "bytes after the reply: {rest:?}");

        let mut channel = end_of_message_session(&daemon, &lab).await;
        channel
            .write(format!("{}]]>]]>", rpc("c-2", "<close-session/>")).as_bytes())
            .await;
        let everything = channel.read_to_end().await;
        let everything = String::from_utf8(everything).expect("UTF-8");
        let reply = everything
            .strip_suffix("]]>]]>")
            .unwrap_or_else(|| panic!("not one framed reply: {everything:?}"));
        assert_ok(reply, "c-2");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn prefixes_anywhere_in_request() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = start_daemon(&lab, None);
        let mut channel = chunked_session(&daemon, &lab).await;
        let requests = [
            // Everything prefixed, with different prefixes for one namespace.
            format!(
                r#"<a:rpc xmlns:a="{NS_BASE}" message-id="1"><b:edit-config xmlns:b="{NS_BASE}"><a:target><b:running/></a:target><a:config><s:ssl xmlns:s="{NS_SSL}"><s:ssl-policies><s:ssl-policy><s:policy-name>P1</s:policy-name><s:pki-domain>default</s:pki-domain></s:ssl-policy></s:ssl-policies></s:ssl></a:config></b:edit-config></a:rpc>"#
            ),
            // Data prefix declared on <rpc>, base namespace as default.
            format!(
                r#"<rpc xmlns="{NS_BASE}" xmlns:s="{NS_SSL}" message-id="2"><edit-config><target><running/></target><config><s:ssl><s:ssl-policies><s:ssl-policy><s:policy-name>p2</s:policy-name><s:pki-domain>lab</s:pki-domain></s:ssl-policy></s:ssl-policies></s:ssl></config></edit-config></rpc>"#
            ),
            // Default namespace switched to the data module, operation
            // attribute with a prefix declared on <rpc>.
            format!(
                r#"<nc:rpc xmlns:nc="{NS_BASE}" message-id="3"><nc:edit-config><nc:target><nc:running/></nc:target><nc:config><ssl xmlns="{NS_SSL}"><ssl-policies><ssl-policy nc:operation="delete"><policy-name>p2</policy-name></ssl-policy></ssl-policies></ssl></nc:config></nc:edit-config></nc:rpc>"#
            ),
            // A prefix declared on <rpc> and declared again, for another
            // namespace, on <config>: the inner declaration applies.
            format!(
                r#"<rpc xmlns="{NS_BASE}" xmlns:s="urn:example:unused" message-id="4"><edit-config><target><running/></target><config xmlns:s="{NS_SSL}"><s:ssl><s:ssl-policies><s:ssl-policy><s:policy-name>p1</s:policy-name><s:pki-domain>default</s:pki-domain></s:ssl-policy></s:ssl-policies></s:ssl></config></edit-config></rpc>"#
            ),
        ];
        for (index, request) in requests.iter().enumerate() {
            channel.write(&chunk(request)).await;
            assert_ok(&channel.read_chunked().await, &(index + 1).to_string());
        }

        // Filters: prefixed filter element and type attribute, prefixed
        // and unprefixed data elements.
        let filters = [
            format!(
                r#"<nc:rpc xmlns:nc="{NS_BASE}" message-id="5"><nc:get-config><nc:source><nc:running/></nc:source><nc:filter nc:type="subtree"><s:ssl xmlns:s="{NS_SSL}"><s:ssl-policies/></s:ssl></nc:filter></nc:get-config></nc:rpc>"#
            ),
            format!(
                r#"<rpc xmlns="{NS_BASE}" message-id="6"><get><filter type="subtree"><ssl xmlns="{NS_SSL}"><ssl-policies><ssl-policy><policy-name>P1</policy-name></ssl-policy></ssl-policies></ssl></filter></get></rpc>"#
            ),
        ];
        for (index, request) in filters.iter().enumerate() {
            channel.write(&chunk(request)).await;
            let message_id = (index + 5).to_string();
            let data = assert_data(&channel.read_chunked().await, &message_id);
            let names: Vec<String> = find(&data, &["ssl", "ssl-policies"])
                .map(|policies| {
                    policies
                        .children
                        .iter()
                        .filter_map(|policy| text(policy, &["policy-name"]))
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(names, ["p1"], "request {message_id}");
            let ssl = find(&data, &["ssl"]).expect("ssl");
            assert_eq!(ssl.namespace.as_deref(), Some(NS_SSL));
        }
        daemon.stop();
    })
    .await;
}

/// Number of SSL policies for the multi-megabyte reply; each prints as
/// about 150 bytes.
const MANY_POLICIES: usize = 30_000;

#[tokio::test]
async fn multi_megabyte_replies_both_framings() {
    with_timeout(async {
        let lab = Lab::new();
        let daemon = start_daemon(&lab, None);
        let domain = "d".repeat(64);
        let mut policies = String::new();
        for index in 0..MANY_POLICIES {
            policies.push_str(&format!(
                "<ssl-policy><policy-name>policy_{index:06}</policy-name><pki-domain>{domain}</pki-domain></ssl-policy>"
            ));
        }
        let edit = rpc(
            "1",
            &format!(
                r#"<edit-config><target><running/></target><config><ssl xmlns="{NS_SSL}"><ssl-policies>{policies}</ssl-policies></ssl></config></edit-config>"#
            ),
        );

        let mut chunked = chunked_session(&daemon, &lab).await;
        chunked.write(&chunk(&edit)).await;
        assert_ok(&chunked.read_chunked().await, "1");
        chunked.write(&chunk(&get_config("2"))).await;
        let reply = chunked.read_chunked().await;
        assert!(reply.len() > 4_000_000, "reply of {} bytes", reply.len());
        let data = assert_data(&reply, "2");
        let count = find(&data, &["ssl", "ssl-policies"])
            .map(|list| list.children.len())
            .unwrap_or_default();
        assert_eq!(count, MANY_POLICIES);

        let mut end_of_message = end_of_message_session(&daemon, &lab).await;
        end_of_message
            .write(format!("{}]]>]]>", get_config("3")).as_bytes())
            .await;
        let reply_1_0 = end_of_message.read_end_of_message().await;
        assert_data(&reply_1_0, "3");
        assert_eq!(
            reply_1_0.replace(r#"message-id="3""#, r#"message-id="2""#),
            reply,
            "both framings carry the same reply"
        );
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn max_message_size_enforced_both_framings() {
    with_timeout(async {
        let lab = Lab::new();
        let limit = 4096;
        let daemon = start_daemon(&lab, Some(limit));
        let policies: String = (0..100)
            .map(|index| {
                format!(
                    "<ssl-policy><policy-name>big_{index}</policy-name><pki-domain>default</pki-domain></ssl-policy>"
                )
            })
            .collect();
        let big = rpc(
            "big",
            &format!(
                r#"<edit-config><target><running/></target><config><ssl xmlns="{NS_SSL}"><ssl-policies>{policies}</ssl-policies></ssl></config></edit-config>"#
            ),
        );
        assert!(big.len() > 2 * limit);

        let check_too_big = |reply: &str| {
            let parsed = parse_reply(reply);
            assert_eq!(parsed.attribute("message-id"), Some("big"), "{reply}");
            assert_eq!(error_tag(&parsed), "too-big", "{reply}");
            let error = rpc_errors(&parsed)[0];
            assert_eq!(text(error, &["error-type"]).as_deref(), Some("rpc"));
            let message = text(error, &["error-message"]).unwrap_or_default();
            assert!(message.contains("4096"), "{message}");
        };

        let mut chunked = chunked_session(&daemon, &lab).await;
        chunked.write(&chunk(&big)).await;
        check_too_big(&chunked.read_chunked().await);
        chunked.write(&chunk(&get_config("after"))).await;
        let data = assert_data(&chunked.read_chunked().await, "after");
        assert!(data.children.is_empty(), "the big edit changed running: {data:?}");

        let mut end_of_message = end_of_message_session(&daemon, &lab).await;
        end_of_message
            .write(format!("{big}]]>]]>").as_bytes())
            .await;
        check_too_big(&end_of_message.read_end_of_message().await);
        end_of_message
            .write(format!("{}]]>]]>", get_config("after")).as_bytes())
            .await;
        let data = assert_data(&end_of_message.read_end_of_message().await, "after");
        assert!(data.children.is_empty(), "the big edit changed running: {data:?}");
        daemon.stop();
    })
    .await;
}
