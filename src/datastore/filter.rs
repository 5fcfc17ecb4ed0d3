//! Subtree filtering (RFC 6241 section 6).
//!
//! A filter element matches a data node with the same local name, and with
//! the same namespace when the filter element has one. At each level of the
//! filter, an element with text is a content match node: the data must
//! equal it for its parent to be selected. An empty element is a selection
//! node, which selects the whole subtree. An element with children is a
//! containment node, filtered recursively. A level of only content match
//! nodes selects the whole parent.
//!
//! Selected nodes are copied with their ancestors (and list keys) into a
//! new tree, so the result is valid instance data of the same schema.

use yang3::data::{Data, DataNodeRef, DataTree};

use super::error::DatastoreError;
use crate::netconf::xml::Element;

/// Returns the parts of `data` that `filter` (the children of `<filter>`)
/// selects.
pub fn subtree(
    data: &DataTree<'static>,
    filter: &[Element],
) -> Result<DataTree<'static>, DatastoreError> {
    let mut selected: Vec<DataNodeRef<'_>> = Vec::new();
    if let Some(first) = data.reference() {
        for filter_node in filter {
            for node in first.inclusive_siblings() {
                if name_matches(filter_node, &node) {
                    evaluate(&node, filter_node, &mut selected);
                }
            }
        }
    }

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

/// Evaluates `filter` against `node`, which matches it by name, and adds
/// the selected nodes to `out`. Returns whether `node` is selected.
fn evaluate<'a>(node: &DataNodeRef<'a>, filter: &Element, out: &mut Vec<DataNodeRef<'a>>) -> bool {
    if filter.children.is_empty() {
        let text = filter.trimmed_text();
        if text.is_empty() {
            out.push(node.clone());
            return true;
        }
        // A content match node at the top of the filter, or below a node
        // that is not a container, compares the node's own value.
        if value_matches(node, text) {
            out.push(node.clone());
            return true;
        }
        return false;
    }

    let (content_matches, others): (Vec<&Element>, Vec<&Element>) = filter
        .children
        .iter()
        .partition(|child| child.children.is_empty() && !child.trimmed_text().is_empty());

    let mut local: Vec<DataNodeRef<'a>> = Vec::new();
    for content_match in &content_matches {
        let text = content_match.trimmed_text();
        let matching: Vec<DataNodeRef<'a>> = node
            .children()
            .filter(|child| name_matches(content_match, child))
            .filter(|child| value_matches(child, text))
            .collect();
        if matching.is_empty() {
            return false;
        }
        local.extend(matching);
    }

    if others.is_empty() {
        out.push(node.clone());
        return true;
    }

    let mut any_selected = false;
    for other in &others {
        for child in node.children().filter(|child| name_matches(other, child)) {
            any_selected |= evaluate(&child, other, &mut local);
        }
    }
    if any_selected || !content_matches.is_empty() {
        if local.is_empty() {
            out.push(node.clone());
        } else {
            out.extend(local);
        }
        return true;
    }
    false
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
    super::raw::canonical_value(&node.schema(), text).is_some_and(|canonical| canonical == value)
}

fn name_matches(filter: &Element, node: &DataNodeRef<'_>) -> bool {
    let schema = node.schema();
    if schema.name() != filter.name {
        return false;
    }
    match &filter.namespace {
        Some(namespace) => schema.module().namespace() == namespace,
        None => true,
    }
}
