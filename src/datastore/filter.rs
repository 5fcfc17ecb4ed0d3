//! Subtree filtering (RFC 6241 section 6).
//!
//! Each child of `<filter>` is one filter subtree, evaluated on its own
//! against the top-level data nodes. The output is the union of what every
//! subtree selects, so duplicate filter elements add up. Within a subtree:
//!
//! - A filter element matches a data node with the same local name. An
//!   element without a namespace matches in any module, one with a
//!   namespace only in the module of that namespace.
//! - Every attribute of a filter element (an attribute match expression) must
//!   equal metadata of the data node with the same name, and the same
//!   namespace when the attribute has one. A node without such metadata
//!   does not match.
//! - An element with child elements is a containment node, an element with
//!   text is a content match node, and an empty element is a selection node,
//!   which selects the whole data subtree.
//! - At one level, every content match node must match a child of the data
//!   node, or nothing at that level is selected. When they all match, the
//!   output has the matching content match nodes, every selection node, and
//!   what each containment node selects. A level with content match nodes
//!   only selects the whole data node.
//!
//! Selected nodes are copied with their ancestors and list keys into a new
//! tree, so the result is valid instance data of the same schema.

use yang3::data::{Data, DataNodeRef, DataTree};

use super::error::DatastoreError;
use super::raw::{self, Node};
use crate::netconf::xml::{Element, NS_BASE};

/// Returns the parts of `data` that `filter` (the children of `<filter>`)
/// selects. An empty filter selects nothing.
pub fn subtree(
    data: &DataTree<'static>,
    filter: &[Element],
) -> Result<DataTree<'static>, DatastoreError> {
    let mut selected: Vec<DataNodeRef<'_>> = Vec::new();
    if let Some(first) = data.reference() {
        for filter_node in filter {
            for node in first.inclusive_siblings() {
                if matches_node(filter_node, &node) {
                    select_top_level(&node, filter_node, &mut selected);
                }
            }
        }
    }
    copy_selected(data, &selected)
}

/// Copies each of `selected` with its ancestors and list keys into a new
/// tree of the context of `data`.
pub(crate) fn copy_selected(
    data: &DataTree<'static>,
    selected: &[DataNodeRef<'_>],
) -> Result<DataTree<'static>, DatastoreError> {
    let mut result = DataTree::new(data.context());
    for node in selected {
        let copy = node
            .duplicate(true)
            .map_err(|err| DatastoreError::Internal(format!("cannot copy selected data: {err}")))?;
        result.merge(&copy).map_err(|err| {
            DatastoreError::Internal(format!("cannot merge selected data: {err}"))
        })?;
    }
    Ok(result)
}

/// The three kinds of filter nodes of RFC 6241 sections 6.2.3 to 6.2.5.
enum Kind<'f> {
    /// An empty element: selects the whole data subtree.
    Selection,
    /// An element with non-whitespace text and no child elements: the data
    /// value must equal the text (surrounding white space ignored).
    ContentMatch(&'f str),
    /// An element with child elements, which filter the data node's
    /// children.
    Containment,
}

fn kind(filter: &Element) -> Kind<'_> {
    if !filter.children.is_empty() {
        return Kind::Containment;
    }
    match filter.trimmed_text() {
        "" => Kind::Selection,
        text => Kind::ContentMatch(text),
    }
}

/// Evaluates a filter subtree against a top-level data node it matches by
/// name and attributes.
fn select_top_level<'a>(node: &DataNodeRef<'a>, filter: &Element, out: &mut Vec<DataNodeRef<'a>>) {
    match kind(filter) {
        Kind::Selection => out.push(node.clone()),
        Kind::ContentMatch(text) => {
            if value_matches(node, text) {
                out.push(node.clone());
            }
        }
        Kind::Containment => {
            select_children(node, &filter.children, out);
        }
    }
}

/// Evaluates the sibling set `filters` against the children of `parent`
/// and adds what it selects to `out`. Returns whether anything of `parent`
/// is selected.
fn select_children<'a>(
    parent: &DataNodeRef<'a>,
    filters: &[Element],
    out: &mut Vec<DataNodeRef<'a>>,
) -> bool {
    let mut selected: Vec<DataNodeRef<'a>> = Vec::new();

    // Content match nodes first: one that fails stops this whole level.
    let mut has_content_match = false;
    let mut has_other = false;
    for filter in filters {
        let Kind::ContentMatch(text) = kind(filter) else {
            has_other = true;
            continue;
        };
        has_content_match = true;
        let before = selected.len();
        selected.extend(
            parent
                .children()
                .filter(|child| matches_node(filter, child) && value_matches(child, text)),
        );
        if selected.len() == before {
            return false;
        }
    }
    if !has_other {
        // Only content match nodes, and all of them match.
        out.push(parent.clone());
        return true;
    }

    for filter in filters {
        match kind(filter) {
            Kind::ContentMatch(_) => {}
            Kind::Selection => selected.extend(
                parent
                    .children()
                    .filter(|child| matches_node(filter, child)),
            ),
            Kind::Containment => {
                for child in parent
                    .children()
                    .filter(|child| matches_node(filter, child))
                {
                    select_children(&child, &filter.children, &mut selected);
                }
            }
        }
    }

    // With matching content match nodes the parent is selected even when
    // the other filter nodes select nothing below it.
    if selected.is_empty() && !has_content_match {
        return false;
    }
    out.extend(selected);
    true
}

/// Returns whether `filter` names `node` and its attribute match
/// expressions hold.
fn matches_node(filter: &Element, node: &DataNodeRef<'_>) -> bool {
    name_matches(filter, node) && attributes_match(filter, node)
}

fn name_matches(filter: &Element, node: &DataNodeRef<'_>) -> bool {
    let schema = node.schema();
    if schema.name() != filter.name {
        return false;
    }
    match filter.namespace.as_deref() {
        // No YANG module of this server defines data in the NETCONF base
        // namespace (ietf-netconf defines only operations), so a filter
        // element in it was written under a default base namespace
        // declaration without its own xmlns, and is taken as having no
        // namespace.
        None | Some(NS_BASE) => true,
        Some(namespace) => schema.module().namespace() == namespace,
    }
}

/// Checks every attribute of `filter` against the metadata of `node`
/// (RFC 6241 section 6.2.2). An attribute with a namespace matches
/// metadata of the module with that namespace; one without matches
/// metadata of that name in any module.
fn attributes_match(filter: &Element, node: &DataNodeRef<'_>) -> bool {
    if filter.attributes.is_empty() {
        return true;
    }
    let Some(raw_node) = Node::from_ptr(node.as_raw()) else {
        return false;
    };
    let metadata = raw_node.metadata();
    filter.attributes.iter().all(|attribute| {
        metadata.iter().any(|meta| {
            meta.name == attribute.name
                && attribute
                    .namespace
                    .as_deref()
                    .is_none_or(|namespace| meta.namespace == namespace)
                && meta.value.as_deref() == Some(attribute.value.trim())
        })
    })
}

/// Compares a node's value with a content match value in canonical form,
/// so that `2001:DB8::1` matches `2001:db8::1`.
fn value_matches(node: &DataNodeRef<'_>, text: &str) -> bool {
    let Some(value) = node.value_canonical() else {
        return false;
    };
    if value == text {
        return true;
    }
    raw::canonical_value(&node.schema(), text).is_some_and(|canonical| canonical == value)
}

#[cfg(test)]
#[path = "filter_tests.rs"]
pub(in crate::datastore) mod tests;
