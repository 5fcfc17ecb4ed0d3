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
            let _ = write!(out, " xmlns=\"{}\"", escape(namespace));
        }

        // A prefix declared on this element hides the same prefix inherited
        // from an ancestor, and XML forbids declaring it twice.
        let visible_inherited = inherited
            .iter()
            .filter(|(prefix, _)| !self.prefixes.iter().any(|(own, _)| own == prefix));
        for (prefix, uri) in visible_inherited.chain(self.prefixes.iter()) {
            let _ = write!(out, " xmlns:{prefix}=\"{}\"", escape(uri.as_str()));
        }

        for (index, attr) in self.attributes.iter().enumerate() {
            match &attr.namespace {
                Some(namespace) if namespace == NS_XML => {
                    let _ = write!(
                        out,
                        " xml:{}=\"{}\"",
                        attr.name,
                        escape(attr.value.as_str())
                    );
                }
                Some(namespace) => {
                    let _ = write!(
                        out,
                        " xmlns:ztpd-a{index}=\"{}\" ztpd-a{index}:{}=\"{}\"",
                        escape(namespace.as_str()),
                        attr.name,
                        escape(attr.value.as_str())
                    );
                }
                None => {
                    let _ = write!(out, " {}=\"{}\"", attr.name, escape(attr.value.as_str()));
                }
            }
        }

        if self.children.is_empty() && self.text.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        out.push_str(&escape(self.text.as_str()));
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
    check_chars(text)?;
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
                stack.push(read_start(&reader, &start, InvalidAttributes::Reject)?);
            }
            Event::Empty(start) => {
                let element = read_start(&reader, &start, InvalidAttributes::Reject)?;
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
                check_resolved(&resolved, &format!("the reference &{};", &*reference))?;
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
                return read_start(&reader, &start, InvalidAttributes::Skip).ok();
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

/// Handling of an attribute that [`read_start`] cannot keep as written.
/// Its name is not a valid qualified name, because quick-xml reads names
/// up to the next delimiter without checking their characters, or its
/// value has a character that XML 1.0 does not allow. Echoed in a reply,
/// such an attribute would make the reply malformed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum InvalidAttributes {
    /// Fail, for a message that is parsed as a whole.
    Reject,
    /// Leave the attribute out, for the start tag that an error reply
    /// echoes.
    Skip,
}

/// Returns whether `name` is a qualified name (Namespaces in XML 1.0,
/// section 4): an NCName, or two joined by one colon.
pub fn is_qualified_name(name: &str) -> bool {
    match name.split_once(':') {
        Some((prefix, local)) => is_ncname(prefix) && is_ncname(local),
        None => is_ncname(name),
    }
}

/// Returns whether `name` is an NCName: an XML 1.0 Name (section 2.3 of
/// XML 1.0) without colons.
fn is_ncname(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char)
}

fn is_name_start_char(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c,
            '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Checks that `name` is a valid qualified name, or returns the error that
/// names it.
fn check_name(name: &str, subject: &str) -> Result<(), XmlError> {
    if is_qualified_name(name) {
        Ok(())
    } else {
        Err(XmlError::Syntax(format!(
            "{subject} {name:?} is not a valid XML name"
        )))
    }
}

fn read_start(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    invalid_attributes: InvalidAttributes,
) -> Result<Element, XmlError> {
    let resolver = reader.resolver();
    check_name(start.name().as_ref(), "element name")?;
    let (namespace, local) = resolver.resolve_element(start.name());
    let namespace = resolved_namespace(namespace)?;
    let mut element = Element {
        namespace,
        name: local.as_ref().to_owned(),
        ..Element::default()
    };

    for attr in start.attributes() {
        let attr = attr.map_err(|err| XmlError::Syntax(err.to_string()))?;
        if let Err(err) = check_name(attr.key.as_ref(), "attribute name") {
            match invalid_attributes {
                InvalidAttributes::Reject => return Err(err),
                InvalidAttributes::Skip => continue,
            }
        }
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|err| XmlError::Syntax(err.to_string()))?
            .into_owned();
        // In a start tag read for an error reply, an attribute that could
        // not be echoed as it was sent is left out.
        if let Err(err) = check_resolved(&value, &format!("the value of {:?}", attr.key.as_ref())) {
            match invalid_attributes {
                InvalidAttributes::Reject => return Err(err),
                InvalidAttributes::Skip => continue,
            }
        }
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
        // The resolver returns the declaration's value as written, with
        // its character and entity references still in place.
        ResolveResult::Bound(namespace) => {
            let uri = quick_xml::escape::unescape(namespace.as_ref()).map_err(|err| {
                XmlError::Syntax(format!("namespace {:?}: {err}", namespace.as_ref()))
            })?;
            check_resolved(&uri, &format!("the namespace {:?}", namespace.as_ref()))?;
            Ok(Some(uri.into_owned()))
        }
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(XmlError::UnknownPrefix(prefix)),
    }
}

/// Namespace of the `xml` prefix, which is bound without a declaration
/// (Namespaces in XML 1.0, section 3).
pub const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

/// Returns whether XML 1.0 allows `c` in a document (the `Char` production
/// of section 2.2). Rust strings hold no surrogates, so only control
/// characters and U+FFFE and U+FFFF fail.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes text for use in XML character data and attribute values.
/// Characters that XML 1.0 does not allow at all, which can reach a reply
/// only from a client's malformed input, become U+FFFD, so that every
/// message the server writes stays well-formed.
pub fn escape(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        return quick_xml::escape::escape(text);
    }
    let allowed: String = text
        .chars()
        .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
        .collect();
    Cow::Owned(quick_xml::escape::escape(allowed.as_str()).into_owned())
}

/// Rejects a document that contains a character XML 1.0 does not allow,
/// naming its code point and byte offset. quick-xml does not check this.
fn check_chars(text: &str) -> Result<(), XmlError> {
    match text.char_indices().find(|(_, c)| !is_xml_char(*c)) {
        Some((offset, c)) => Err(XmlError::Syntax(format!(
            "the character U+{:04X} at byte {offset} is not allowed in XML 1.0",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

/// Rejects a value whose character references resolved to a character
/// that XML 1.0 does not allow, such as `&#4;`.
fn check_resolved(value: &str, subject: &str) -> Result<(), XmlError> {
    match value.chars().find(|c| !is_xml_char(*c)) {
        Some(c) => Err(XmlError::Syntax(format!(
            "{subject} refers to the character U+{:04X}, which XML 1.0 does not allow",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_references_resolved() {
        let root = parse(r#"<a xmlns="urn:a&amp;b" xmlns:p="urn:x&#39;y"><p:c/></a>"#)
            .expect("well-formed");
        assert_eq!(root.namespace.as_deref(), Some("urn:a&b"));
        assert_eq!(root.children[0].namespace.as_deref(), Some("urn:x'y"));
    }

    #[test]
    fn control_character_rejected() {
        let err = parse("<a>x\u{1}</a>").expect_err("U+0001 is not XML");
        assert!(err.to_string().contains("U+0001 at byte 4"), "{err}");
    }

    #[test]
    fn reference_to_control_character_rejected() {
        for document in [
            r#"<a xmlns="urn:&#4;"/>"#,
            "<a>&#4;</a>",
            r#"<a b="&#x1F;"/>"#,
            r#"<a xmlns:p="urn:&#4;"/>"#,
        ] {
            let err = parse(document).expect_err(document);
            assert!(
                err.to_string().contains("which XML 1.0 does not allow"),
                "{document}: {err}"
            );
        }
    }

    #[test]
    fn escape_replaces_disallowed_characters() {
        assert_eq!(escape("a\u{1}<\u{FFFF}"), "a\u{FFFD}&lt;\u{FFFD}");
        assert!(matches!(escape("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn xml_attribute_keeps_xml_prefix() {
        let root = parse(r#"<a xmlns="urn:a" xml:lang="en"/>"#).expect("well-formed");
        let mut out = String::new();
        root.write_subtree(&[], &mut out);
        assert_eq!(out, r#"<a xmlns="urn:a" xml:lang="en"/>"#);
        assert_eq!(parse(&out).expect("written XML parses"), root);
    }

    #[test]
    fn qualified_names_checked() {
        for valid in ["a", "nc:rpc", "_x-1.2", "é", "a·b"] {
            assert!(is_qualified_name(valid), "{valid:?}");
        }
        for invalid in ["", ":a", "a:", "a:b:c", "1a", "-a", "a~b", "a\"b", "a<b"] {
            assert!(!is_qualified_name(invalid), "{invalid:?}");
        }
    }

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
