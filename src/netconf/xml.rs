//! A small namespace-resolved XML element tree for NETCONF messages.
//!
//! quick-xml reads a message into [`Element`]s whose names are resolved to
//! (namespace, local name) pairs, so operations match elements by namespace
//! and never by the prefix a client happened to choose. Subtrees that go on
//! to libyang (the content of `<config>` and `<filter>`) are written back out
//! by [`Element::write_subtree`] with every namespace declared explicitly.
//!
//! Document type declarations are rejected: NETCONF has no use for them, and
//! refusing them closes the door on entity expansion.

use std::borrow::Cow;
use std::fmt::Write as _;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{PrefixDeclaration, ResolveResult};
use quick_xml::reader::NsReader;

/// Maximum element depth of a message. A NETCONF message for these YANG
/// modules nests about ten levels; the limit keeps a hostile message from
/// exhausting the stack of the recursive writer.
pub const MAX_DEPTH: usize = 128;

/// Namespace of the NETCONF base protocol.
pub const NS_BASE: &str = "urn:ietf:params:xml:ns:netconf:base:1.0";

/// One XML element with resolved names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI, or `None` for an element in no namespace.
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
    /// Prefixed namespace declarations made on this element
    /// (`xmlns:p="uri"` as `("p", "uri")`). Values such as identityrefs may
    /// use these prefixes.
    pub prefixes: Vec<(String, String)>,
    /// Attributes other than namespace declarations.
    pub attributes: Vec<Attribute>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// Character data directly inside this element, unescaped.
    pub text: String,
}

/// One attribute with a resolved name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribute {
    /// Namespace URI; `None` for an unprefixed attribute.
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
    /// The attribute's qualified name as the client wrote it.
    pub qualified_name: String,
    /// Unescaped value.
    pub value: String,
}

/// The reason a message is not well-formed XML of the kind NETCONF accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("malformed XML: {0}")]
    Syntax(String),
    #[error("malformed XML: undeclared namespace prefix {0:?}")]
    UnknownPrefix(String),
    #[error("document type declarations are not accepted")]
    DocType,
    #[error("elements nest deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("the message contains no element")]
    Empty,
    #[error("the message contains more than one top-level element")]
    TrailingContent,
}

impl Element {
    /// Returns true when this element has the given namespace and local
    /// name.
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.namespace.as_deref() == Some(namespace) && self.name == name
    }

    /// Returns the first child with the given namespace and local name.
    pub fn child(&self, namespace: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.is(namespace, name))
    }

    /// Returns the value of the unprefixed attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|attr| attr.namespace.is_none() && attr.name == name)
            .map(|attr| attr.value.as_str())
    }

    /// Returns the value of the attribute `name` in `namespace`.
    pub fn attribute_ns(&self, namespace: &str, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|attr| attr.namespace.as_deref() == Some(namespace) && attr.name == name)
            .map(|attr| attr.value.as_str())
    }

    /// Returns the text content with surrounding white space removed.
    pub fn trimmed_text(&self) -> &str {
        self.text.trim()
    }

    /// Writes this element and its descendants as a standalone XML fragment.
    ///
    /// `inherited` contains the prefixed namespace declarations in scope at
    /// this element from its ancestors. They are declared again on the
    /// written element so that prefixes inside values keep their meaning.
    /// Element namespaces are written as default namespace declarations, and
    /// each namespaced attribute gets a generated prefix.
    pub fn write_subtree(&self, inherited: &[(String, String)], out: &mut String) {
        self.write_element(None, inherited, out);
    }

    fn write_element(
        &self,
        parent_namespace: Option<&str>,
        inherited: &[(String, String)],
        out: &mut String,
    ) {
        out.push('<');
        out.push_str(&self.name);
        if self.namespace.as_deref() != parent_namespace || parent_namespace.is_none() {
            let namespace = self.namespace.as_deref().unwrap_or("");
            let _ = write!(out, " xmlns=\"{}\"", quick_xml::escape::escape(namespace));
        }

        // A prefix declared on this element hides the same prefix inherited
        // from an ancestor, and XML forbids declaring it twice.
        let visible_inherited = inherited
            .iter()
            .filter(|(prefix, _)| !self.prefixes.iter().any(|(own, _)| own == prefix));
        for (prefix, uri) in visible_inherited.chain(self.prefixes.iter()) {
            let _ = write!(
                out,
                " xmlns:{prefix}=\"{}\"",
                quick_xml::escape::escape(uri.as_str())
            );
        }

        for (index, attr) in self.attributes.iter().enumerate() {
            match &attr.namespace {
                Some(namespace) => {
                    let _ = write!(
                        out,
                        " xmlns:ztpd-a{index}=\"{}\" ztpd-a{index}:{}=\"{}\"",
                        quick_xml::escape::escape(namespace.as_str()),
                        attr.name,
                        quick_xml::escape::escape(attr.value.as_str())
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        " {}=\"{}\"",
                        attr.name,
                        quick_xml::escape::escape(attr.value.as_str())
                    );
                }
            }
        }

        if self.children.is_empty() && self.text.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        out.push_str(&quick_xml::escape::escape(self.text.as_str()));
        for child in &self.children {
            child.write_element(self.namespace.as_deref(), &[], out);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }
}

/// Returns the prefixed namespace declarations in scope at the last of
/// `elements`, which lists an element's ancestors from the outermost down
/// and then the element itself. Each prefix appears once, with its
/// innermost declaration.
pub fn in_scope_prefixes(elements: &[&Element]) -> Vec<(String, String)> {
    let mut in_scope: Vec<(String, String)> = Vec::new();
    for (prefix, uri) in elements.iter().flat_map(|element| &element.prefixes) {
        in_scope.retain(|(declared, _)| declared != prefix);
        in_scope.push((prefix.clone(), uri.clone()));
    }
    in_scope
}

/// Parses one XML document into its root element.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;

    loop {
        let event = reader
            .read_event()
            .map_err(|err| XmlError::Syntax(err.to_string()))?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() && stack.is_empty() => {
                let _ = start;
                return Err(XmlError::TrailingContent);
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(read_start(&reader, &start)?);
            }
            Event::Empty(start) => {
                let element = read_start(&reader, &start)?;
                close_element(element, &mut stack, &mut root);
            }
            Event::End(_) => {
                // The reader checks that end tags match their start tags.
                let Some(element) = stack.pop() else {
                    return Err(XmlError::Syntax("unexpected end tag".into()));
                };
                close_element(element, &mut stack, &mut root);
            }
            Event::Text(text) => {
                let content = text.xml10_content();
                append_text(&mut stack, &content)?;
            }
            Event::CData(data) => {
                let content = data.xml10_content();
                match stack.last_mut() {
                    Some(element) => element.text.push_str(&content),
                    None => {
                        return Err(XmlError::Syntax(
                            "character data outside the root element".into(),
                        ));
                    }
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    reference
                        .resolve_char_ref()
                        .map_err(|err| XmlError::Syntax(err.to_string()))?
                        .map(String::from)
                } else {
                    predefined_entity(&reference).map(str::to_owned)
                };
                let Some(resolved) = resolved else {
                    return Err(XmlError::Syntax(format!(
                        "unknown entity reference &{};",
                        &*reference
                    )));
                };
                append_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err(XmlError::DocType),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }

    if !stack.is_empty() {
        return Err(XmlError::Syntax(
            "unexpected end of message inside an element".into(),
        ));
    }
    root.ok_or(XmlError::Empty)
}

/// Reads the start tag of the root element of `text`, with its attributes
/// and namespace declarations but no content, even when the document is
/// malformed or cut off after that tag. Returns `None` when the text does
/// not start with a well-formed start tag (after an optional XML
/// declaration, comments and white space).
pub fn parse_root_start(text: &str) -> Option<Element> {
    let mut reader = NsReader::from_str(text);
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) | Event::Empty(start) => {
                return read_start(&reader, &start).ok();
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Text(text) if text.xml10_content().trim().is_empty() => {}
            _ => return None,
        }
    }
}

fn close_element(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn append_text(stack: &mut [Element], content: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(element) => {
            element.text.push_str(content);
            Ok(())
        }
        None if content.trim().is_empty() => Ok(()),
        None => Err(XmlError::Syntax("text outside the root element".into())),
    }
}

fn predefined_entity(name: &str) -> Option<&'static str> {
    match name {
        "lt" => Some("<"),
        "gt" => Some(">"),
        "amp" => Some("&"),
        "apos" => Some("'"),
        "quot" => Some("\""),
        _ => None,
    }
}

fn read_start(reader: &NsReader<&[u8]>, start: &BytesStart<'_>) -> Result<Element, XmlError> {
    let resolver = reader.resolver();
    let (namespace, local) = resolver.resolve_element(start.name());
    let namespace = resolved_namespace(namespace)?;
    let mut element = Element {
        namespace,
        name: local.as_ref().to_owned(),
        ..Element::default()
    };

    for attr in start.attributes() {
        let attr = attr.map_err(|err| XmlError::Syntax(err.to_string()))?;
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|err| XmlError::Syntax(err.to_string()))?
            .into_owned();
        match attr.key.as_namespace_binding() {
            Some(PrefixDeclaration::Named(prefix)) => {
                element.prefixes.push((prefix.to_owned(), value));
                continue;
            }
            Some(PrefixDeclaration::Default) => continue,
            None => {}
        }
        let (attr_namespace, attr_local) = resolver.resolve_attribute(attr.key);
        element.attributes.push(Attribute {
            namespace: resolved_namespace(attr_namespace)?,
            name: attr_local.as_ref().to_owned(),
            qualified_name: attr.key.as_ref().to_owned(),
            value,
        });
    }
    Ok(element)
}

fn resolved_namespace(result: ResolveResult<'_>) -> Result<Option<String>, XmlError> {
    match result {
        ResolveResult::Bound(namespace) => Ok(Some(namespace.as_ref().to_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(XmlError::UnknownPrefix(prefix)),
    }
}

/// Escapes text for use in XML character data and attribute values.
pub fn escape(text: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_and_default_namespaces_resolve() {
        let root = parse(
            r#"<?xml version="1.0"?>
<nc:rpc xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="7">
  <nc:get-config><nc:source><nc:running/></nc:source></nc:get-config>
</nc:rpc>"#,
        )
        .expect("well-formed");
        assert!(root.is(NS_BASE, "rpc"));
        assert_eq!(root.attribute("message-id"), Some("7"));
        let op = &root.children[0];
        assert!(op.is(NS_BASE, "get-config"));
        assert!(op.child(NS_BASE, "source").is_some());
    }

    #[test]
    fn entities_and_char_refs_unescape() {
        let root = parse("<a xmlns=\"u\">x &amp; y &#65;&lt;</a>").expect("well-formed");
        assert_eq!(root.text, "x & y A<");
    }

    #[test]
    fn doctype_rejected() {
        let err = parse("<!DOCTYPE a [<!ENTITY x \"y\">]><a/>").expect_err("doctype");
        assert_eq!(err, XmlError::DocType);
    }

    #[test]
    fn unknown_prefix_rejected() {
        let err = parse("<x:a/>").expect_err("unknown prefix");
        assert_eq!(err, XmlError::UnknownPrefix("x".into()));
    }

    #[test]
    fn second_root_rejected() {
        assert_eq!(parse("<a/><b/>"), Err(XmlError::TrailingContent));
    }

    #[test]
    fn depth_limited() {
        let text = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(&text), Err(XmlError::TooDeep));
    }

    #[test]
    fn mismatched_end_tag_rejected() {
        assert!(matches!(parse("<a><b></a>"), Err(XmlError::Syntax(_))));
    }

    #[test]
    fn root_start_read_from_malformed_document() {
        let root = parse_root_start(
            "<?xml version=\"1.0\"?>\n<!-- c --><nc:rpc xmlns:nc=\"urn:ietf:params:xml:ns:netconf:base:1.0\" message-id=\"5\"><get></rpc>",
        )
        .expect("start tag");
        assert!(root.is(NS_BASE, "rpc"));
        assert_eq!(root.attribute("message-id"), Some("5"));
        assert!(root.children.is_empty());
        assert_eq!(parse_root_start("<rpc message-id=\"5"), None);
        assert_eq!(parse_root_start("text<rpc/>"), None);
        assert_eq!(parse_root_start("<x:rpc/>"), None, "undeclared prefix");
    }

    #[test]
    fn subtree_written_with_explicit_namespaces() {
        let root = parse(
            r#"<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:t="urn:t"><config><t:top xmlns:v="urn:v"><t:leaf operation="delete">v:x</t:leaf></t:top></config></rpc>"#,
        )
        .expect("well-formed");
        let config = &root.children[0];
        let top = &config.children[0];
        let mut out = String::new();
        top.write_subtree(&[("t".into(), "urn:t".into())], &mut out);
        assert_eq!(
            out,
            r#"<top xmlns="urn:t" xmlns:t="urn:t" xmlns:v="urn:v"><leaf operation="delete">v:x</leaf></top>"#
        );
        let reparsed = parse(&out).expect("written subtree parses");
        assert!(reparsed.is("urn:t", "top"));
    }

    #[test]
    fn namespaced_attribute_keeps_namespace() {
        let root = parse(
            r#"<a xmlns="urn:a" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="merge"/>"#,
        )
        .expect("well-formed");
        assert_eq!(root.attribute_ns(NS_BASE, "operation"), Some("merge"));
        let mut out = String::new();
        root.write_subtree(&[], &mut out);
        let reparsed = parse(&out).expect("parses");
        assert_eq!(reparsed.attribute_ns(NS_BASE, "operation"), Some("merge"));
    }
    #[test]
    fn inner_prefix_declaration_wins() {
        let root = parse(
            r#"<rpc xmlns:p="urn:outer" xmlns:q="urn:q"><config xmlns:p="urn:inner"><p:top/></config></rpc>"#,
        )
        .expect("well-formed");
        let config = &root.children[0];
        let in_scope = in_scope_prefixes(&[&root, config]);
        assert_eq!(
            in_scope,
            [
                ("q".to_owned(), "urn:q".to_owned()),
                ("p".to_owned(), "urn:inner".to_owned())
            ]
        );

        let mut out = String::new();
        config.children[0].write_subtree(&in_scope, &mut out);
        let reparsed = parse(&out).expect("written subtree parses");
        assert!(reparsed.is("urn:inner", "top"), "{out}");
    }
}
