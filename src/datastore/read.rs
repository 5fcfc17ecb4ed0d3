//! Reading data for `get`, `get-config` and `get-data`: the with-defaults
//! retrieval modes (RFC 6243), the `config-filter` and `max-depth`
//! parameters of `get-data` (RFC 8526), and the operational view, which
//! is running plus state data and the YANG library (RFC 8525).
//!
//! A read copies the source tree, applies the filter, removes what
//! `config-filter` and `max-depth` exclude, and prints the rest in the
//! requested with-defaults mode.

use std::borrow::Cow;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;
use yang3::data::DataTree;
use yang3::ffi;

use super::raw::{self, Node, RawTree};
use super::{DATASTORES, Datastore, DatastoreError, DatastoreHandle, Filter, Request, StateNode};
use super::{Store, duplicate, filter};
use crate::datastore::libyang_error::LibyangError;
use crate::netconf::error::RpcError;
use crate::netconf::xml::Element;

/// Namespace of `ietf-netconf-with-defaults`, which libyang (3.13) uses
/// for the `default` attribute of the report-all-tagged mode.
const NS_WITH_DEFAULTS_MODULE: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults";
/// Namespace of the `default` attribute on the wire (RFC 6243 section 6).
pub const NS_DEFAULT_ATTRIBUTE: &str = "urn:ietf:params:xml:ns:netconf:default:1.0";
/// Prefix the server declares for [`NS_DEFAULT_ATTRIBUTE`].
const DEFAULT_ATTRIBUTE_PREFIX: &str = "wd";

/// A with-defaults retrieval mode (RFC 6243 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithDefaults {
    /// Every node, default or not.
    ReportAll,
    /// Every node; nodes with their default value carry `wd:default="true"`.
    ReportAllTagged,
    /// No node whose value is its default.
    Trim,
    /// Only nodes set explicitly; the server's basic mode.
    Explicit,
}

impl WithDefaults {
    /// Every mode, by its name in `ietf-netconf-with-defaults`.
    pub const ALL: [WithDefaults; 4] = [
        WithDefaults::ReportAll,
        WithDefaults::ReportAllTagged,
        WithDefaults::Trim,
        WithDefaults::Explicit,
    ];

    /// Reads a `with-defaults-mode` value.
    pub fn parse(value: &str) -> Option<WithDefaults> {
        WithDefaults::ALL
            .into_iter()
            .find(|mode| mode.as_str() == value)
    }

    /// Returns the name of the mode in `ietf-netconf-with-defaults`.
    pub fn as_str(self) -> &'static str {
        match self {
            WithDefaults::ReportAll => "report-all",
            WithDefaults::ReportAllTagged => "report-all-tagged",
            WithDefaults::Trim => "trim",
            WithDefaults::Explicit => "explicit",
        }
    }

    fn printer_flags(self) -> u32 {
        match self {
            WithDefaults::ReportAll => ffi::LYD_PRINT_WD_ALL,
            WithDefaults::ReportAllTagged => ffi::LYD_PRINT_WD_ALL_TAG,
            WithDefaults::Trim => ffi::LYD_PRINT_WD_TRIM,
            WithDefaults::Explicit => ffi::LYD_PRINT_WD_EXPLICIT,
        }
    }
}

/// The data a read starts from.
#[derive(Debug, Clone)]
pub enum ReadSource {
    /// A configuration datastore.
    Configuration(Datastore),
    /// The operational view: running, the given state nodes and the YANG
    /// library data.
    Operational { state: Vec<StateNode> },
}

/// A read of `get`, `get-config` or `get-data`.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    pub source: ReadSource,
    pub filter: Option<Filter>,
    /// `None` reads in the basic mode, explicit.
    pub with_defaults: Option<WithDefaults>,
    /// `Some(true)` keeps only configuration, `Some(false)` only state
    /// data with its ancestors.
    pub config_filter: Option<bool>,
    /// Levels below each selected node to return, the node counting as
    /// one; `None` is unbounded.
    pub max_depth: Option<u16>,
}

impl ReadRequest {
    /// Creates a read of `source` with `filter` and no other parameter.
    pub fn new(source: ReadSource, filter: Option<Filter>) -> ReadRequest {
        ReadRequest {
            source,
            filter,
            with_defaults: None,
            config_filter: None,
            max_depth: None,
        }
    }
}

impl DatastoreHandle {
    /// Reads data as `request` describes and returns it as XML.
    pub async fn read(&self, request: ReadRequest) -> Result<String, RpcError> {
        self.call(|reply| Request::Read {
            request: Box::new(request),
            reply,
        })
        .await
    }
}

fn internal(message: String) -> RpcError {
    DatastoreError::Internal(message).to_rpc_error(None)
}

impl Store {
    pub(super) fn read(&self, request: &ReadRequest) -> Result<String, RpcError> {
        let data = match &request.source {
            ReadSource::Configuration(datastore) => {
                duplicate(self.tree(*datastore)).map_err(|err| internal(err.to_string()))?
            }
            ReadSource::Operational { state } => self.operational(state)?,
        };
        let selected = match &request.filter {
            None => data,
            Some(filter) => filter.select(&data).map_err(|err| err.to_rpc_error(None))?,
        };

        let mut tree = RawTree::from_tree(selected);
        if let Some(config) = request.config_filter {
            keep_config(&mut tree, config);
        }
        if let Some(depth) = request.max_depth {
            limit_depth(&mut tree, request.filter.as_ref(), depth);
        }
        let tree = tree.into_tree();

        let mode = request.with_defaults.unwrap_or(WithDefaults::Explicit);
        let mut flags = ffi::LYD_PRINT_SHRINK | mode.printer_flags();
        if request.max_depth.is_some() && mode == WithDefaults::Trim {
            // Trim mode prints no empty non-presence container without
            // this flag, so a container whose children max-depth cut
            // would vanish. Implicit containers still carry the default
            // flag, so trim mode drops them anyway.
            flags |= ffi::LYD_PRINT_KEEPEMPTYCONT;
        }
        let xml = raw::print_xml(&tree, flags).map_err(|err| internal(err.to_string()))?;
        if mode == WithDefaults::ReportAllTagged {
            return tag_defaults(&xml)
                .map_err(|err| internal(format!("cannot tag default nodes: {err}")));
        }
        Ok(xml)
    }

    /// Builds the operational view: running, the YANG library and `state`.
    fn operational(&self, state: &[StateNode]) -> Result<DataTree<'static>, RpcError> {
        let mut data = duplicate(&self.running).map_err(|err| internal(err.to_string()))?;
        let context = crate::schema::context().map_err(|err| internal(err.to_string()))?;
        let library = crate::netconf::yang_library::data(context, DATASTORES)
            .map_err(|err| internal(format!("cannot build the YANG library data: {err}")))?;
        data.merge(&library)
            .map_err(|err| internal(format!("cannot merge the YANG library data: {err}")))?;

        LibyangError::clear();
        for node in state {
            data.new_path(&node.path, node.value.as_deref(), false)
                .map_err(|_| {
                    internal(format!(
                        "cannot build state node {}: {}",
                        node.path,
                        LibyangError::last()
                    ))
                })?;
        }
        Ok(data)
    }
}

impl Filter {
    /// Returns the parts of `data` this filter selects.
    pub fn select(&self, data: &DataTree<'static>) -> Result<DataTree<'static>, DatastoreError> {
        match self {
            Filter::Subtree(elements) => filter::subtree(data, elements),
            Filter::XPath(filter) => {
                super::xpath::select(data, filter).map_err(DatastoreError::Filter)
            }
        }
    }
}

/// Removes what `config-filter` excludes: with `config` true every state
/// node, with `config` false every configuration node that has no state
/// node below it. List keys stay with their entries.
fn keep_config(tree: &mut RawTree, config: bool) {
    let top: Vec<Node> = tree.top_level().collect();
    for node in top {
        if !filter_config(tree, node, config) {
            tree.remove(node);
        }
    }
}

/// Filters the children of `node` and returns whether `node` stays.
fn filter_config(tree: &mut RawTree, node: Node, config: bool) -> bool {
    let Some(schema) = node.schema() else {
        return true;
    };
    if !schema.is_config() {
        // A state node has only state nodes below it.
        return !config;
    }
    let children: Vec<Node> = node.children().filter(|child| !child.is_key()).collect();
    if children.is_empty() {
        return config;
    }
    let mut kept_any = false;
    for child in children {
        if filter_config(tree, child, config) {
            kept_any = true;
        } else {
            tree.remove(child);
        }
    }
    config || kept_any
}

/// Cuts every subtree below the selected nodes after `depth` levels. The
/// selected nodes are the top-level nodes, or with a subtree filter the
/// nodes its selection and content match nodes chose.
fn limit_depth(tree: &mut RawTree, filter: Option<&Filter>, depth: u16) {
    let top: Vec<Node> = tree.top_level().collect();
    for node in top {
        // NOTE: filters other than subtree count levels from the top-level
        // nodes, which equals the RFC 8526 rule only when they select
        // whole top-level subtrees.
        let filter_element = match filter {
            Some(Filter::Subtree(elements)) => elements
                .iter()
                .find(|element| element_matches(element, node)),
            _ => None,
        };
        match filter_element {
            Some(element) => limit_below_filter(tree, node, element, depth),
            None => limit_subtree(tree, node, depth),
        }
    }
}

/// Walks the containment nodes of a subtree filter down to the selected
/// nodes and limits each of them. A data node that several filter
/// elements match is limited by the first of them.
fn limit_below_filter(tree: &mut RawTree, node: Node, filter: &Element, depth: u16) {
    if selects_whole_node(filter) {
        limit_subtree(tree, node, depth);
        return;
    }
    let children: Vec<Node> = node.children().filter(|child| !child.is_key()).collect();
    for child in children {
        match filter
            .children
            .iter()
            .find(|element| element_matches(element, child))
        {
            Some(element) => limit_below_filter(tree, child, element, depth),
            None => limit_subtree(tree, child, depth),
        }
    }
}

/// True for a selection node, and for a containment node with only
/// content match nodes, which selects its whole parent entry.
fn selects_whole_node(filter: &Element) -> bool {
    filter
        .children
        .iter()
        .all(|child| child.children.is_empty() && !child.trimmed_text().is_empty())
}

fn element_matches(filter: &Element, node: Node) -> bool {
    if node.name() != filter.name {
        return false;
    }
    match &filter.namespace {
        Some(namespace) => node.namespace().as_deref() == Some(namespace.as_str()),
        None => true,
    }
}

/// Keeps `depth` levels of `node`'s subtree, `node` being the first. List
/// keys stay, because an entry cannot be identified without them.
fn limit_subtree(tree: &mut RawTree, node: Node, depth: u16) {
    let children: Vec<Node> = node.children().filter(|child| !child.is_key()).collect();
    if depth <= 1 {
        if !children.is_empty() {
            for child in children {
                tree.remove(child);
            }
            mark_not_default(node);
        }
        return;
    }
    for child in children {
        limit_subtree(tree, child, depth - 1);
    }
}

/// Clears the default flag of `node` and its ancestors. libyang sets it on
/// a non-presence container whose last child was removed, which would
/// hide a container that max-depth cut.
fn mark_not_default(node: Node) {
    let mut current = node.as_ptr();
    while !current.is_null() {
        // SAFETY: `current` is `node` or one of its ancestors in a tree
        // the caller owns; `parent` of an inner node is its parent or NULL.
        unsafe {
            (*current).flags &= !ffi::LYD_DEFAULT;
            current = (*current).parent.cast();
        }
    }
}

/// Moves the `default` attributes that libyang prints for
/// report-all-tagged into the namespace RFC 6243 defines for them.
///
/// libyang 3.13 writes `ncwd:default="true"` with `ncwd` bound to the
/// `ietf-netconf-with-defaults` module namespace, declared on the same
/// leaf element. Only start tags are rewritten, so values are never
/// touched.
fn tag_defaults(xml: &str) -> Result<String, quick_xml::Error> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut writer = quick_xml::Writer::new(Vec::with_capacity(xml.len()));
    loop {
        let event = reader.read_event()?;
        let event = match event {
            Event::Eof => break,
            Event::Start(start) => Event::Start(retag(start)?),
            Event::Empty(start) => Event::Empty(retag(start)?),
            other => other,
        };
        writer.write_event(event)?;
    }
    Ok(String::from_utf8_lossy(&writer.into_inner()).into_owned())
}

/// Rewrites one start tag; tags without the attribute come back as they
/// are.
fn retag(start: BytesStart<'_>) -> Result<BytesStart<'_>, quick_xml::Error> {
    let attributes: Vec<Attribute<'_>> = start
        .attributes()
        .collect::<Result<_, _>>()
        .map_err(quick_xml::Error::InvalidAttr)?;
    let module_prefixes: Vec<String> = attributes
        .iter()
        .filter(|attribute| attribute.value == NS_WITH_DEFAULTS_MODULE)
        .filter_map(|attribute| {
            attribute
                .key
                .as_ref()
                .strip_prefix("xmlns:")
                .map(str::to_owned)
        })
        .collect();
    if module_prefixes.is_empty() {
        return Ok(start);
    }

    let name = start.name().as_ref().to_owned();
    let mut retagged = BytesStart::new(name);
    let default_key = format!("{DEFAULT_ATTRIBUTE_PREFIX}:default");
    let declaration_key = format!("xmlns:{DEFAULT_ATTRIBUTE_PREFIX}");
    retagged.push_attribute((declaration_key.as_str(), NS_DEFAULT_ATTRIBUTE));
    for attribute in &attributes {
        let key = attribute.key.as_ref();
        if let Some(prefix) = key.strip_prefix("xmlns:")
            && module_prefixes.iter().any(|own| own == prefix)
        {
            continue;
        }
        let is_default = key.split_once(':').is_some_and(|(prefix, local)| {
            local == "default" && module_prefixes.iter().any(|own| own == prefix)
        });
        if is_default {
            retagged.push_attribute(Attribute {
                key: QName(&default_key),
                value: Cow::Borrowed(attribute.value.as_ref()),
            });
        } else {
            retagged.push_attribute(attribute.clone());
        }
    }
    Ok(retagged.into_owned())
}

#[cfg(test)]
mod tests;
