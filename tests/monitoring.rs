//! Monitoring against the real daemon: the with-defaults and YANG library
//! capabilities, `get-schema` (RFC 6022), `netconf-state` in `get`, and the
//! with-defaults retrieval modes (RFC 6243).

mod common;

use std::path::Path;

use common::*;
use ztpd::netconf::xml::Element;

const NS_MONITORING: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring";
const NS_WITH_DEFAULTS: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults";
const NS_DEFAULT_ATTRIBUTE: &str = "urn:ietf:params:xml:ns:netconf:default:1.0";
const WITH_DEFAULTS_CAPABILITY: &str = "urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit&also-supported=report-all,report-all-tagged,trim";

fn capabilities(hello: &Element) -> Vec<String> {
    find(hello, &["capabilities"])
        .map(|list| {
            list.children
                .iter()
                .map(|child| child.trimmed_text().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// (name, revision) of every module capability of a hello.
fn advertised_modules(hello: &Element) -> Vec<(String, String)> {
    capabilities(hello)
        .iter()
        .filter_map(|uri| {
            let query = uri.split_once('?')?.1;
            let parameter = |name: &str| {
                query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                    .map(str::to_owned)
            };
            Some((parameter("module")?, parameter("revision")?))
        })
        .collect()
}

/// Reads the file of module `name` under `yang/`, or `None` for libyang's
/// own module `yang`, which has no published text.
fn module_file(name: &str) -> Option<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("yang");
    let path = [
        root.join(format!("{name}.yang")),
        root.join("ietf").join(format!("{name}.yang")),
    ]
    .into_iter()
    .find(|path| path.exists());
    match path {
        Some(path) => Some(std::fs::read_to_string(path).expect("module file")),
        None => {
            assert_eq!(name, "yang", "no file for module {name} under yang/");
            None
        }
    }
}

async fn get_schema(client: &mut Netconf, parameters: &str) -> Element {
    client
        .rpc(&format!(
            r#"<get-schema xmlns="{NS_MONITORING}">{parameters}</get-schema>"#
        ))
        .await
}

fn error_tag(reply: &Element) -> Option<String> {
    rpc_errors(reply)
        .first()
        .and_then(|error| text(error, &["error-tag"]))
}

#[tokio::test]
async fn hello_advertises_with_defaults_and_yang_library() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let advertised = capabilities(&client.server_hello);
        assert!(
            advertised.iter().any(|uri| uri == WITH_DEFAULTS_CAPABILITY),
            "{advertised:?}"
        );
        for module in [
            "ietf-netconf-with-defaults",
            "ietf-netconf-monitoring",
            "ietf-netconf-nmda",
            "ietf-yang-library",
        ] {
            assert!(
                advertised
                    .iter()
                    .any(|uri| uri.contains(&format!("?module={module}&"))),
                "{module} missing from {advertised:?}"
            );
        }
        let library = advertised
            .iter()
            .find(|uri| uri.starts_with("urn:ietf:params:netconf:capability:yang-library:1.1?"))
            .expect("yang-library:1.1 advertised");
        let content_id = library
            .split_once("&content-id=")
            .map(|(_, id)| id.to_owned())
            .expect("content-id parameter");
        assert!(library.contains("?revision=2019-01-04&"), "{library}");

        let data = client
            .get(r#"<yang-library xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"><content-id/></yang-library>"#)
            .await;
        assert_eq!(
            text(&data, &["yang-library", "content-id"]),
            Some(content_id)
        );
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn get_schema_returns_every_advertised_module() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let modules = advertised_modules(&client.server_hello);
        assert!(modules.len() >= 12, "{modules:?}");
        for (name, revision) in &modules {
            let reply = get_schema(&mut client, &format!("<identifier>{name}</identifier>")).await;
            let data = reply
                .child(NS_MONITORING, "data")
                .unwrap_or_else(|| panic!("no data for {name}: {reply:?}"));
            match module_file(name) {
                Some(text) => assert_eq!(data.text, text, "{name}"),
                None => assert!(data.text.starts_with(&format!("module {name} ")), "{name}"),
            }

            // With the version and format named, the text is the same.
            let reply = get_schema(
                &mut client,
                &format!(
                    "<identifier>{name}</identifier><version>{revision}</version><format>yang</format>"
                ),
            )
            .await;
            let data = reply.child(NS_MONITORING, "data").expect("data");
            if let Some(text) = module_file(name) {
                assert_eq!(data.text, text, "{name}@{revision}");
            }
        }
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn get_schema_yin_and_errors() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;

        let reply = get_schema(
            &mut client,
            r#"<identifier>ztpd-ztp</identifier><format xmlns:ncm="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring">ncm:yin</format>"#,
        )
        .await;
        let yin = reply
            .child(NS_MONITORING, "data")
            .map(|data| data.text.clone())
            .expect("YIN text");
        assert!(yin.contains(r#"<module name="ztpd-ztp""#), "{yin}");
        assert!(yin.contains("urn:ietf:params:xml:ns:yang:yin:1"), "{yin}");

        let cases = [
            ("<identifier>no-such-module</identifier>", "invalid-value"),
            (
                "<identifier>ztpd-ztp</identifier><version>1999-01-01</version>",
                "invalid-value",
            ),
            (
                "<identifier>ztpd-ztp</identifier><format>xsd</format>",
                "invalid-value",
            ),
            ("<version>2026-12-04</version>", "missing-element"),
            (
                "<identifier>ztpd-ztp</identifier><extra/>",
                "unknown-element",
            ),
        ];
        for (parameters, tag) in cases {
            let reply = get_schema(&mut client, parameters).await;
            assert_eq!(error_tag(&reply).as_deref(), Some(tag), "{parameters}: {reply:?}");
            let error = rpc_errors(&reply)[0];
            let expected_type = if tag == "invalid-value" && !parameters.contains("format") {
                "application"
            } else {
                "protocol"
            };
            assert_eq!(
                text(error, &["error-type"]).as_deref(),
                Some(expected_type),
                "{parameters}"
            );
        }
        daemon.stop();
    })
    .await;
}

/// Returns the `netconf-state` subtree of a `get` with `filter` inside it.
async fn netconf_state(client: &mut Netconf, filter: &str) -> Element {
    let data = client
        .get(&format!(
            r#"<netconf-state xmlns="{NS_MONITORING}">{filter}</netconf-state>"#
        ))
        .await;
    find(&data, &["netconf-state"])
        .cloned()
        .expect("netconf-state in reply")
}

/// Resolves an identityref value to its namespace and name. An unprefixed value is
/// in the element's own namespace, which libyang leaves as the default.
fn identity(element: &Element) -> (String, String) {
    let value = element.trimmed_text();
    match value.split_once(':') {
        Some((prefix, name)) => {
            let namespace = element
                .prefixes
                .iter()
                .find(|(declared, _)| declared == prefix)
                .map(|(_, uri)| uri.clone())
                .unwrap_or_else(|| panic!("prefix of {value} undeclared"));
            (namespace, name.to_owned())
        }
        None => (
            element.namespace.clone().unwrap_or_default(),
            value.to_owned(),
        ),
    }
}

fn session_entry<'a>(state: &'a Element, session_id: &str) -> Option<&'a Element> {
    find(state, &["sessions"])?
        .children
        .iter()
        .find(|entry| text(entry, &["session-id"]).as_deref() == Some(session_id))
}

fn counter(entry: &Element, name: &str) -> u32 {
    text(entry, &[name])
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from {entry:?}"))
}

#[tokio::test]
async fn netconf_state_shows_own_session_and_counters() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let session_id = text(&client.server_hello, &["session-id"]).expect("session-id");

        let first = netconf_state(&mut client, "<sessions/>").await;
        let entry = session_entry(&first, &session_id).expect("own session listed");
        assert_eq!(text(entry, &["username"]).as_deref(), Some(USER));
        assert_eq!(text(entry, &["source-host"]).as_deref(), Some("127.0.0.1"));
        let transport = find(entry, &["transport"]).expect("transport");
        assert_eq!(
            identity(transport),
            (NS_MONITORING.to_owned(), "netconf-ssh".to_owned())
        );
        assert!(text(entry, &["login-time"]).is_some());
        let rpcs_before = counter(entry, "in-rpcs");
        let errors_before = counter(entry, "out-rpc-errors");

        // One failing request moves both counters.
        let reply = client.rpc("<get-config/>").await;
        assert_eq!(error_tag(&reply).as_deref(), Some("missing-element"));

        let second = netconf_state(&mut client, "<sessions/>").await;
        let entry = session_entry(&second, &session_id).expect("own session listed");
        assert_eq!(counter(entry, "in-rpcs"), rpcs_before + 2);
        assert_eq!(counter(entry, "out-rpc-errors"), errors_before + 1);

        let statistics = netconf_state(&mut client, "<statistics/>").await;
        let statistics = find(&statistics, &["statistics"]).expect("statistics");
        assert!(counter(statistics, "in-sessions") >= 1);
        assert!(counter(statistics, "in-rpcs") >= rpcs_before + 2);
        assert!(text(statistics, &["netconf-start-time"]).is_some());
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn netconf_state_lists_schemas_capabilities_and_locks() {
    with_timeout(async {
        let (_lab, daemon, mut holder, mut observer) = start_daemon_with_two_clients().await;
        let holder_id = text(&holder.server_hello, &["session-id"]).expect("session-id");

        let state = netconf_state(&mut observer, "").await;
        let listed: Vec<String> = find(&state, &["capabilities"])
            .expect("capabilities")
            .children
            .iter()
            .map(|capability| capability.trimmed_text().to_owned())
            .collect();
        assert_eq!(listed, capabilities(&observer.server_hello));

        let schemas = &find(&state, &["schemas"]).expect("schemas").children;
        for (name, revision) in advertised_modules(&observer.server_hello) {
            let formats: Vec<(String, String)> = schemas
                .iter()
                .filter(|schema| {
                    text(schema, &["identifier"]).as_deref() == Some(name.as_str())
                        && text(schema, &["version"]).as_deref() == Some(revision.as_str())
                })
                .filter_map(|schema| find(schema, &["format"]).map(identity))
                .collect();
            let expected: Vec<(String, String)> = ["yang", "yin"]
                .iter()
                .map(|format| (NS_MONITORING.to_owned(), (*format).to_owned()))
                .collect();
            assert_eq!(formats, expected, "{name}");
        }
        let ztp = schemas
            .iter()
            .find(|schema| text(schema, &["identifier"]).as_deref() == Some("ztpd-ztp"))
            .expect("ztpd-ztp listed");
        assert_eq!(text(ztp, &["namespace"]).as_deref(), Some(NS_ZTP));
        assert_eq!(text(ztp, &["location"]).as_deref(), Some("NETCONF"));

        // Unlocked datastores have no locks container.
        let datastores = find(&state, &["datastores"]).expect("datastores");
        let names: Vec<String> = datastores
            .children
            .iter()
            .filter_map(|entry| text(entry, &["name"]))
            .collect();
        assert_eq!(names, ["running", "candidate", "startup"]);
        assert!(
            datastores
                .children
                .iter()
                .all(|entry| find(entry, &["locks"]).is_none()),
            "{datastores:?}"
        );

        holder
            .rpc_ok("<lock><target><candidate/></target></lock>")
            .await;
        let state = netconf_state(&mut observer, "<datastores/>").await;
        let candidate = find(&state, &["datastores"])
            .expect("datastores")
            .children
            .iter()
            .find(|entry| text(entry, &["name"]).as_deref() == Some("candidate"))
            .cloned()
            .expect("candidate listed");
        assert_eq!(
            text(&candidate, &["locks", "global-lock", "locked-by-session"]),
            Some(holder_id.clone())
        );
        let locked_time =
            text(&candidate, &["locks", "global-lock", "locked-time"]).expect("locked-time");
        assert!(
            time::OffsetDateTime::parse(
                &locked_time,
                &time::format_description::well_known::Rfc3339
            )
            .is_ok(),
            "{locked_time}"
        );

        holder
            .rpc_ok("<unlock><target><candidate/></target></unlock>")
            .await;
        let state = netconf_state(&mut observer, "<datastores/>").await;
        assert!(
            !format!("{state:?}").contains("global-lock"),
            "lock still listed: {state:?}"
        );
        daemon.stop();
    })
    .await;
}

/// Returns `verify-type` of the server entry in a reply's `<data>`.
fn verify_type(data: &Element) -> Option<Element> {
    find(data, &["ztp", "certificate-remote", "verify-type"]).cloned()
}

#[tokio::test]
async fn with_defaults_modes_on_get_config_and_get() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        let config = format!(
            "{}{}",
            policy_config("p1"),
            ztp_config(&server_entry("127.0.10.1", 30217, "p1", None))
        );
        let reply = client.edit("running", &config).await;
        assert!(reply.child(NS_BASE, "ok").is_some(), "{reply:?}");

        let filter = format!(r#"<filter type="subtree"><ztp xmlns="{NS_ZTP}"><certificate-remote/></ztp></filter>"#);
        for operation in ["get-config", "get"] {
            let source = if operation == "get-config" {
                "<source><running/></source>"
            } else {
                ""
            };
            let read = |mode: Option<&str>| {
                let parameter = mode
                    .map(|mode| {
                        format!(r#"<with-defaults xmlns="{NS_WITH_DEFAULTS}">{mode}</with-defaults>"#)
                    })
                    .unwrap_or_default();
                format!("<{operation}>{source}{filter}{parameter}</{operation}>")
            };

            for mode in [None, Some("explicit"), Some("trim")] {
                let reply = client.rpc(&read(mode)).await;
                let data = reply.child(NS_BASE, "data").expect("data");
                assert!(verify_type(data).is_none(), "{operation} {mode:?}: {data:?}");
                assert_eq!(
                    text(data, &["ztp", "certificate-remote", "port"]).as_deref(),
                    Some("30217")
                );
            }

            let reply = client.rpc(&read(Some("report-all"))).await;
            let leaf = verify_type(reply.child(NS_BASE, "data").expect("data"))
                .expect("report-all shows the default");
            assert_eq!(leaf.trimmed_text(), "ip-address");
            assert!(leaf.attributes.is_empty(), "{leaf:?}");

            let reply = client.rpc(&read(Some("report-all-tagged"))).await;
            let leaf = verify_type(reply.child(NS_BASE, "data").expect("data"))
                .expect("report-all-tagged shows the default");
            assert_eq!(leaf.trimmed_text(), "ip-address");
            assert_eq!(
                leaf.attribute_ns(NS_DEFAULT_ATTRIBUTE, "default"),
                Some("true"),
                "{leaf:?}"
            );

            let reply = client.rpc(&read(Some("report-none"))).await;
            assert_eq!(error_tag(&reply).as_deref(), Some("invalid-value"), "{reply:?}");
        }

        // Set explicitly to its default: explicit reports it, trim does not.
        let reply = client
            .edit(
                "running",
                &ztp_config(&server_entry("127.0.10.1", 30217, "p1", Some("ip-address"))),
            )
            .await;
        assert!(reply.child(NS_BASE, "ok").is_some(), "{reply:?}");
        let reply = client
            .rpc(&format!(
                r#"<get-config><source><running/></source>{filter}<with-defaults xmlns="{NS_WITH_DEFAULTS}">explicit</with-defaults></get-config>"#
            ))
            .await;
        assert!(verify_type(reply.child(NS_BASE, "data").expect("data")).is_some());
        let reply = client
            .rpc(&format!(
                r#"<get-config><source><running/></source>{filter}<with-defaults xmlns="{NS_WITH_DEFAULTS}">trim</with-defaults></get-config>"#
            ))
            .await;
        assert!(verify_type(reply.child(NS_BASE, "data").expect("data")).is_none());

        // The parameter exists only in the with-defaults namespace.
        let reply = client
            .rpc("<get-config><source><running/></source><with-defaults>report-all</with-defaults></get-config>")
            .await;
        assert_eq!(error_tag(&reply).as_deref(), Some("unknown-element"), "{reply:?}");
        daemon.stop();
    })
    .await;
}

#[tokio::test]
async fn get_config_has_no_state_or_library() {
    with_timeout(async {
        let (_lab, daemon, mut client) = start_daemon_with_client().await;
        for mode in ["explicit", "report-all", "report-all-tagged", "trim"] {
            let reply = client
                .rpc(&format!(
                    r#"<get-config><source><running/></source><with-defaults xmlns="{NS_WITH_DEFAULTS}">{mode}</with-defaults></get-config>"#
                ))
                .await;
            let data = reply.child(NS_BASE, "data").expect("data");
            for top in &data.children {
                assert!(
                    ["ssl", "ztp"].contains(&top.name.as_str()),
                    "{mode}: unexpected <{}> in get-config",
                    top.name
                );
            }
        }

        // get without a filter has both, and the running configuration.
        let reply = client.rpc("<get/>").await;
        let data = reply.child(NS_BASE, "data").expect("data");
        for name in ["netconf-state", "yang-library", "ztp"] {
            assert!(
                data.children.iter().any(|top| top.name == name),
                "<{name}> missing from get"
            );
        }
        daemon.stop();
    })
    .await;
}
