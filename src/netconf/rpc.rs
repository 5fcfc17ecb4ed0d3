//! The `<rpc>` envelope: reading a request and writing its `<rpc-reply>`.
//!
//! Every reply carries the request's `message-id` and every other attribute
//! of `<rpc>` (RFC 6241 section 4.2), with the namespace declarations those
//! attributes need, and is in the base:1.0 namespace.

use std::fmt::Write as _;

use super::error::{ErrorType, RpcError};
use super::xml::{self, Element, NS_BASE, escape};

/// A parsed request.
#[derive(Debug)]
pub struct Request {
    /// The whole `<rpc>` element; its single child is the operation.
    pub rpc: Element,
}

/// A message that is not a usable request, with the `<rpc>` element when
/// it could be read, so the error reply can echo its attributes.
#[derive(Debug)]
pub struct Rejected {
    pub rpc: Option<Box<Element>>,
    pub error: RpcError,
}

impl Rejected {
    fn new(rpc: Option<Element>, error: RpcError) -> Rejected {
        Rejected {
            rpc: rpc.map(Box::new),
            error,
        }
    }
}

/// Body of the reply to one request.
#[derive(Debug)]
pub enum ReplyBody {
    /// `<ok/>`.
    Ok,
    /// `<data>` with the given XML content.
    Data(String),
    /// The output parameters of an operation defined in a YANG module, as
    /// XML elements that declare their own namespace.
    Output(String),
    /// One or more `rpc-error`s.
    Errors(Vec<RpcError>),
}

impl Request {
    /// Parses a message.
    ///
    /// A message that is not well-formed, or whose root is an `<rpc>` in
    /// another namespace, is rejected with the root's start tag when that
    /// tag could be read and is named `rpc`. The error reply then still
    /// echoes the `message-id`.
    pub fn parse(message: &[u8]) -> Result<Request, Rejected> {
        let text = match std::str::from_utf8(message) {
            Ok(text) => text,
            Err(err) => {
                let valid = message.get(..err.valid_up_to()).unwrap_or_default();
                let start = std::str::from_utf8(valid).ok().and_then(recover_rpc_start);
                return Err(Rejected::new(
                    start,
                    RpcError::malformed_message(format!("the message is not UTF-8: {err}")),
                ));
            }
        };
        let rpc = xml::parse(text).map_err(|err| {
            Rejected::new(
                recover_rpc_start(text),
                RpcError::malformed_message(err.to_string()),
            )
        })?;

        if !rpc.is(NS_BASE, "rpc") {
            let message = format!(
                "expected an <rpc> element in namespace {NS_BASE}, got <{}> in {}",
                rpc.name,
                rpc.namespace.as_deref().unwrap_or("no namespace")
            );
            let start = (rpc.name == "rpc").then(|| Element {
                children: Vec::new(),
                text: String::new(),
                ..rpc
            });
            return Err(Rejected::new(start, RpcError::malformed_message(message)));
        }
        if rpc.attribute("message-id").is_none() {
            let error = RpcError::missing_attribute(
                ErrorType::Rpc,
                "message-id",
                "rpc",
                "the <rpc> element has no message-id attribute",
            );
            return Err(Rejected::new(Some(rpc), error));
        }
        Ok(Request { rpc })
    }

    /// Returns the operation element, the single child of `<rpc>`.
    pub fn operation(&self) -> Result<&Element, RpcError> {
        match self.rpc.children.as_slice() {
            [operation] => Ok(operation),
            [] => Err(RpcError::malformed_message(
                "the <rpc> element contains no operation",
            )),
            [_, second, ..] => Err(RpcError::unknown_element(
                ErrorType::Rpc,
                &second.name,
                format!(
                    "the <rpc> element contains more than one operation; <{}> is extra",
                    second.name
                ),
            )),
        }
    }
}

/// Reads the `<rpc ...>` start tag at the beginning of `text`, a message
/// that could not be parsed as a whole, for the attributes the error reply
/// echoes. Returns `None` unless the root element's local name is `rpc`.
pub fn recover_rpc_start(text: &str) -> Option<Element> {
    xml::parse_root_start(text).filter(|start| start.name == "rpc")
}

/// Reads the `<rpc ...>` start tag from the first bytes of a message that
/// was too big to read (see [`recover_rpc_start`]). The bytes may end in
/// the middle of a UTF-8 sequence.
pub fn recover_rpc_start_from_prefix(prefix: &[u8]) -> Option<Element> {
    let valid = match std::str::from_utf8(prefix) {
        Ok(text) => text,
        Err(err) => {
            std::str::from_utf8(prefix.get(..err.valid_up_to()).unwrap_or_default()).ok()?
        }
    };
    recover_rpc_start(valid)
}

/// Writes an `<rpc-reply>` for a request whose `<rpc>` element is `rpc`
/// (or `None` when the request could not be read far enough).
pub fn write_reply(rpc: Option<&Element>, body: &ReplyBody, out: &mut String) {
    out.push_str("<rpc-reply xmlns=\"");
    out.push_str(NS_BASE);
    out.push('"');
    if let Some(rpc) = rpc {
        write_echoed_attributes(rpc, out);
    }
    out.push('>');
    match body {
        ReplyBody::Ok => out.push_str("<ok/>"),
        ReplyBody::Data(content) => {
            out.push_str("<data>");
            out.push_str(content);
            out.push_str("</data>");
        }
        ReplyBody::Output(content) => out.push_str(content),
        ReplyBody::Errors(errors) => {
            for error in errors {
                error.write_xml(out);
            }
        }
    }
    out.push_str("</rpc-reply>");
}

/// Copies the attributes of `<rpc>`, declaring the prefixes of namespaced
/// attributes under the names the client used.
fn write_echoed_attributes(rpc: &Element, out: &mut String) {
    let mut declared: Vec<&str> = Vec::new();
    for attribute in &rpc.attributes {
        if let (Some(namespace), Some((prefix, _))) = (
            &attribute.namespace,
            attribute.qualified_name.split_once(':'),
        ) && !declared.contains(&prefix)
            && prefix != "xml"
        {
            declared.push(prefix);
            let _ = write!(out, " xmlns:{prefix}=\"{}\"", escape(namespace));
        }
        let _ = write!(
            out,
            " {}=\"{}\"",
            attribute.qualified_name,
            escape(&attribute.value)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(message: &str, body: ReplyBody) -> String {
        let request = Request::parse(message.as_bytes()).expect("valid rpc");
        let mut out = String::new();
        write_reply(Some(&request.rpc), &body, &mut out);
        out
    }

    #[test]
    fn reply_echoes_message_id_and_attributes() {
        let out = reply(
            r#"<rpc message-id="101" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:ex="http://example.net/content/1.0" ex:user-id="fred"><get/></rpc>"#,
            ReplyBody::Ok,
        );
        assert_eq!(
            out,
            r#"<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="101" xmlns:ex="http://example.net/content/1.0" ex:user-id="fred"><ok/></rpc-reply>"#
        );
    }

    #[test]
    fn missing_message_id_rejected() {
        let rejected =
            Request::parse(br#"<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get/></rpc>"#)
                .expect_err("no message-id");
        assert!(rejected.rpc.is_some());
        assert_eq!(
            rejected.error.tag,
            super::super::error::ErrorTag::MissingAttribute
        );
    }

    #[test]
    fn rpc_in_wrong_namespace_is_malformed() {
        let rejected =
            Request::parse(br#"<rpc message-id="1"><get/></rpc>"#).expect_err("no namespace");
        assert_eq!(
            rejected.error.tag,
            super::super::error::ErrorTag::MalformedMessage
        );
        let start = rejected.rpc.expect("start tag kept");
        assert_eq!(start.attribute("message-id"), Some("1"));
        assert!(start.children.is_empty());
    }

    #[test]
    fn malformed_after_start_tag_keeps_attributes() {
        let rejected = Request::parse(
            br#"<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:ex="urn:ex" message-id="7" ex:user="fred"><get></rpc>"#,
        )
        .expect_err("malformed");
        assert_eq!(
            rejected.error.tag,
            super::super::error::ErrorTag::MalformedMessage
        );
        let mut out = String::new();
        write_reply(
            rejected.rpc.as_deref(),
            &ReplyBody::Errors(vec![rejected.error]),
            &mut out,
        );
        assert!(
            out.starts_with(r#"<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="7" xmlns:ex="urn:ex" ex:user="fred"><rpc-error>"#),
            "{out}"
        );
    }

    #[test]
    fn non_utf8_after_start_tag_keeps_message_id() {
        let rejected = Request::parse(
            b"<rpc xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\" message-id=\"8\"><get>\xff</get></rpc>",
        )
        .expect_err("not UTF-8");
        assert_eq!(
            rejected.rpc.expect("start tag").attribute("message-id"),
            Some("8")
        );
    }

    #[test]
    fn other_root_not_echoed() {
        let rejected = Request::parse(br#"<hello message-id="3"><get></hello>"#).expect_err("no");
        assert!(rejected.rpc.is_none());
        let rejected = Request::parse(br#"<hello message-id="3"/>"#).expect_err("not rpc");
        assert!(rejected.rpc.is_none());
    }

    #[test]
    fn prefix_cut_inside_utf8_sequence_recovered() {
        let mut prefix = "<rpc message-id=\"é\"><get-config>é".as_bytes().to_vec();
        prefix.pop();
        let start = recover_rpc_start_from_prefix(&prefix).expect("start tag");
        assert_eq!(start.attribute("message-id"), Some("é"));
    }

    /// Returns the reply to `message`, accepted or not, and asserts that it
    /// is well-formed.
    fn any_reply(message: &str) -> String {
        let (rpc, body) = match Request::parse(message.as_bytes()) {
            Ok(request) => (Some(request.rpc), ReplyBody::Ok),
            Err(rejected) => (
                rejected.rpc.map(|rpc| *rpc),
                ReplyBody::Errors(vec![rejected.error]),
            ),
        };
        let mut out = String::new();
        write_reply(rpc.as_ref(), &body, &mut out);
        if let Err(err) = xml::parse(&out) {
            panic!("reply is not well-formed ({err}): {out}");
        }
        out
    }

    #[test]
    fn invalid_attribute_name_rejected() {
        let out = any_reply(
            r#"<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="5" a~b="x"><get/></rpc>"#,
        );
        assert!(out.contains("malformed-message"), "{out}");
        assert!(out.contains("a~b"), "the error names the attribute: {out}");
        // The valid attributes of the start tag are still echoed.
        assert!(out.contains(r#" message-id="5""#), "{out}");
    }

    #[test]
    fn invalid_attribute_name_in_cut_message_skipped() {
        let out = any_reply(
            r#"<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="6" a~b="1"><get>"#,
        );
        assert!(out.contains(r#" message-id="6""#), "{out}");
        assert!(!out.contains("a~b=\""), "{out}");
        assert!(out.contains("malformed-message"), "{out}");
    }

    #[test]
    fn invalid_element_name_rejected() {
        let out = any_reply(
            r#"<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="9"><get~x/></rpc>"#,
        );
        assert!(out.contains("malformed-message"), "{out}");
        assert!(out.contains("get~x"), "the error names the element: {out}");
        assert!(out.contains(r#" message-id="9""#), "{out}");
    }

    #[test]
    fn control_character_not_echoed() {
        let out = any_reply(
            "<rpc xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\" message-id=\"1\u{1}\"><get/></rpc>",
        );
        assert!(out.contains("malformed-message"), "{out}");
        assert!(
            out.contains("U+0001"),
            "the error names the character: {out}"
        );
        assert!(!out.contains('\u{1}'), "{out:?}");
        // The message-id cannot be echoed as it was sent, so it is left out.
        assert!(!out.contains("message-id"), "{out}");
    }

    #[test]
    fn message_id_escaped_in_reply() {
        let out = reply(
            r#"<nc:rpc xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="a&amp;b&quot;"><nc:get/></nc:rpc>"#,
            ReplyBody::Ok,
        );
        assert!(out.contains(r#"message-id="a&amp;b&quot;""#), "{out}");
    }
}
