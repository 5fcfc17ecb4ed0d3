//! `edit-config` applied to a copy of a datastore (RFC 6241 section 7.2).
//!
//! libyang parses the content of `<config>` without validation into an edit
//! tree whose nodes carry `ietf-netconf:operation` metadata. [`apply`] walks
//! that tree and changes a copy of the target datastore node by node. The
//! caller validates the copy and swaps it in only when everything
//! succeeded, so a rejected edit changes nothing.

use yang3::data::{Data, DataFormat, DataParserFlags, DataTree, DataValidationFlags};
use yang3::schema::{SchemaModule, SchemaNodeKind};

use super::error::DatastoreError;
use super::libyang_error::{LibyangError, ValidationCode};
use super::raw::{Node, RawTree};

/// The `operation` attribute of an edit node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditOperation {
    Merge,
    Replace,
    Create,
    Delete,
    Remove,
    /// Only as `default-operation`: existing data stays as it is unless a
    /// descendant requests a change.
    None,
}

impl EditOperation {
    /// Parses the attribute value.
    pub fn parse(value: &str) -> Option<EditOperation> {
        match value {
            "merge" => Some(EditOperation::Merge),
            "replace" => Some(EditOperation::Replace),
            "create" => Some(EditOperation::Create),
            "delete" => Some(EditOperation::Delete),
            "remove" => Some(EditOperation::Remove),
            _ => None,
        }
    }
}

/// `default-operation` of `edit-config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DefaultOperation {
    #[default]
    Merge,
    Replace,
    None,
}

impl DefaultOperation {
    /// Parses the parameter value.
    pub fn parse(value: &str) -> Option<DefaultOperation> {
        match value {
            "merge" => Some(DefaultOperation::Merge),
            "replace" => Some(DefaultOperation::Replace),
            "none" => Some(DefaultOperation::None),
            _ => None,
        }
    }

    fn as_edit_operation(self) -> EditOperation {
        match self {
            DefaultOperation::Merge => EditOperation::Merge,
            DefaultOperation::Replace => EditOperation::Replace,
            DefaultOperation::None => EditOperation::None,
        }
    }
}

/// Parses the content of `<config>` into an edit tree.
///
/// The first parse is typed and strict. A leaf sent without a value under
/// `delete` or `remove` fails that parse, so a second parse allows opaque
/// nodes. Its result is accepted only when every opaque node is such a
/// leaf.
pub fn parse(config: &str) -> Result<DataTree<'static>, DatastoreError> {
    parse_with(config, false)
}

/// Parses like [`parse`]. With `lenient`, for `continue-on-error`, any
/// node with an invalid value or an unknown name stays in the tree as an
/// opaque node. Applying the edit then reports it and skips it, so the
/// valid parts still apply.
pub fn parse_with(config: &str, lenient: bool) -> Result<DataTree<'static>, DatastoreError> {
    let tree = parse_tree(config, lenient)?;
    check_duplicates(
        tree.reference()
            .and_then(|node| Node::from_ptr(node.as_raw())),
    )?;
    Ok(tree)
}

fn parse_tree(config: &str, lenient: bool) -> Result<DataTree<'static>, DatastoreError> {
    let context =
        crate::schema::context().map_err(|err| DatastoreError::Internal(err.to_string()))?;
    let flags =
        || DataParserFlags::NO_VALIDATION | DataParserFlags::STRICT | DataParserFlags::NO_STATE;

    LibyangError::clear();
    let typed_error = match DataTree::parse_string(
        context,
        config,
        DataFormat::XML,
        flags(),
        DataValidationFlags::empty(),
    ) {
        Ok(tree) => return Ok(tree),
        Err(_) => LibyangError::last(),
    };

    let opaque_flags = flags() | DataParserFlags::from_bits_retain(yang3::ffi::LYD_PARSE_OPAQ);
    LibyangError::clear();
    let Ok(tree) = DataTree::parse_string(
        context,
        config,
        DataFormat::XML,
        opaque_flags,
        DataValidationFlags::empty(),
    ) else {
        return Err(DatastoreError::Parse(typed_error));
    };
    let netconf = netconf_module()?;
    let raw = RawTree::from_tree(tree);
    let acceptable = lenient
        || raw
            .top_level()
            .all(|node| opaque_nodes_are_deletions(node, EditOperation::Merge, &netconf));
    if acceptable {
        Ok(raw.into_tree())
    } else {
        Err(DatastoreError::Parse(typed_error))
    }
}

/// Rejects an edit that names one list entry or leaf-list value twice
/// among the same siblings, whose operations would otherwise be applied
/// one after the other without a word.
fn check_duplicates(first: Option<Node>) -> Result<(), DatastoreError> {
    let siblings: Vec<Node> = std::iter::successors(first, |node| node.next_sibling()).collect();
    for (index, node) in siblings.iter().enumerate() {
        let repeated = node.schema().is_some_and(|schema| {
            matches!(
                schema.kind(),
                SchemaNodeKind::List | SchemaNodeKind::LeafList
            )
        }) && siblings[..index]
            .iter()
            .any(|earlier| earlier.same_instance(*node));
        if repeated {
            return Err(DatastoreError::Parse(LibyangError {
                code: ValidationCode::Data,
                message: format!(
                    "Duplicate instance of \"{}\": the request names the entry {} twice.",
                    node.name(),
                    node.path()
                ),
                data_path: Some(node.path()),
                app_tag: None,
            }));
        }
        check_duplicates(node.first_child())?;
    }
    Ok(())
}

fn opaque_nodes_are_deletions(
    node: Node,
    inherited: EditOperation,
    netconf: &SchemaModule<'_>,
) -> bool {
    let operation = node
        .annotation(netconf, "operation")
        .and_then(|value| EditOperation::parse(&value))
        .unwrap_or(inherited);
    if node.is_opaque() {
        let is_leaf = node.first_child().is_none();
        let deletes = matches!(operation, EditOperation::Delete | EditOperation::Remove);
        return is_leaf && deletes;
    }
    node.children()
        .all(|child| opaque_nodes_are_deletions(child, operation, netconf))
}

fn netconf_module() -> Result<SchemaModule<'static>, DatastoreError> {
    let context =
        crate::schema::context().map_err(|err| DatastoreError::Internal(err.to_string()))?;
    context
        .get_module_implemented("ietf-netconf")
        .ok_or_else(|| DatastoreError::Internal("module ietf-netconf is not loaded".into()))
}

fn yang_module() -> Result<SchemaModule<'static>, DatastoreError> {
    let context =
        crate::schema::context().map_err(|err| DatastoreError::Internal(err.to_string()))?;
    context
        .get_module_implemented("yang")
        .ok_or_else(|| DatastoreError::Internal("libyang's module yang is not loaded".into()))
}

/// Applies `edit` to `target` and returns the changed tree, not yet
/// validated. On error the partly changed tree is dropped.
pub fn apply(
    target: DataTree<'static>,
    edit: &DataTree<'static>,
    default_operation: DefaultOperation,
) -> Result<DataTree<'static>, DatastoreError> {
    apply_collecting(target, edit, default_operation, false).map(|(tree, _)| tree)
}

/// Applies `edit` like [`apply`]. With `continue_on_error`, a node that
/// fails is skipped with its subtree, the rest is applied, and the errors
/// are returned beside the changed tree (RFC 6241 `continue-on-error`).
pub fn apply_collecting(
    target: DataTree<'static>,
    edit: &DataTree<'static>,
    default_operation: DefaultOperation,
    continue_on_error: bool,
) -> Result<(DataTree<'static>, Vec<DatastoreError>), DatastoreError> {
    let netconf = netconf_module()?;
    // With default-operation "replace" the <config> content becomes the
    // whole datastore, so nodes it does not mention are dropped.
    let target = match default_operation {
        DefaultOperation::Replace => DataTree::new(target.context()),
        _ => target,
    };
    let mut tree = RawTree::from_tree(target);
    let yang = yang_module()?;
    let mut editor = Editor {
        tree: &mut tree,
        netconf,
        yang,
        continue_on_error,
        errors: Vec::new(),
    };
    let edit_nodes = edit.reference().map(|node| Node::from_ptr(node.as_raw()));
    if let Some(Some(first)) = edit_nodes {
        let mut next = Some(first);
        while let Some(node) = next {
            editor.apply_or_record(None, node, default_operation.as_edit_operation())?;
            next = node.next_sibling();
        }
    }
    let errors = std::mem::take(&mut editor.errors);
    Ok((tree.into_tree(), errors))
}

struct Editor<'t> {
    tree: &'t mut RawTree,
    netconf: SchemaModule<'static>,
    /// libyang's internal `yang` module, which defines the `insert`, `key`
    /// and `value` attributes.
    yang: SchemaModule<'static>,
    continue_on_error: bool,
    /// Errors skipped over with `continue_on_error`.
    errors: Vec<DatastoreError>,
}

/// The new position of a moved list entry.
enum Anchor {
    Before(Option<Node>),
    After(Option<Node>),
}

/// Removes namespace prefixes from the key names of `[p:key='value']`
/// predicates. The XML prefixes of the request mean nothing to libyang's
/// path parser, and all keys of a list are in its module.
fn strip_predicate_prefixes(predicates: &str) -> String {
    let mut out = String::with_capacity(predicates.len());
    let mut quote: Option<char> = None;
    let mut name_start: Option<usize> = None;
    for ch in predicates.chars() {
        match quote {
            Some(open) => {
                out.push(ch);
                if ch == open {
                    quote = None;
                }
            }
            None => match ch {
                '\'' | '"' => {
                    quote = Some(ch);
                    out.push(ch);
                }
                '[' => {
                    out.push(ch);
                    name_start = Some(out.len());
                }
                ':' if name_start.is_some() => {
                    if let Some(start) = name_start {
                        out.truncate(start);
                    }
                }
                '=' => {
                    name_start = None;
                    out.push(ch);
                }
                _ => out.push(ch),
            },
        }
    }
    out
}

impl Editor<'_> {
    /// Applies one edit node below `parent` (top level when `None`) and
    /// returns whether the target changed.
    fn apply_node(
        &mut self,
        parent: Option<Node>,
        edit: Node,
        inherited: EditOperation,
    ) -> Result<bool, DatastoreError> {
        let operation = match edit.annotation(&self.netconf, "operation") {
            Some(value) => {
                EditOperation::parse(&value).ok_or_else(|| DatastoreError::BadOperation {
                    value,
                    element: edit.name(),
                })?
            }
            None => inherited,
        };

        if edit.is_opaque() {
            return self.delete_opaque(parent, edit, operation);
        }
        let Some(schema) = edit.schema() else {
            return Ok(false);
        };

        let existing = match schema.kind() {
            SchemaNodeKind::List | SchemaNodeKind::LeafList => {
                self.tree.find_instance(parent, edit)
            }
            _ => self.tree.find_schema_child(parent, &schema),
        };
        // A default leaf or a non-presence container holding only defaults
        // was not set by anyone: `create` may set it and `delete` finds
        // nothing to delete.
        let explicit = existing.filter(|node| !node.is_default());

        match operation {
            EditOperation::Delete => {
                let Some(node) = explicit else {
                    return Err(DatastoreError::DataMissing { path: edit.path() });
                };
                self.tree.remove(node);
                Ok(true)
            }
            EditOperation::Remove => {
                if let Some(node) = explicit {
                    self.tree.remove(node);
                    return Ok(true);
                }
                Ok(false)
            }
            EditOperation::Create => {
                if explicit.is_some() {
                    return Err(DatastoreError::DataExists { path: edit.path() });
                }
                let node = self.set_node(parent, edit, existing)?;
                self.position(parent, edit, node)?;
                let errors_before = self.errors.len();
                self.apply_children(node, edit, EditOperation::Merge)?;
                Ok(!self.drop_if_incomplete(node, existing, errors_before))
            }
            EditOperation::Merge => {
                let node = self.set_node(parent, edit, existing)?;
                let moved = self.position(parent, edit, node)?;
                let errors_before = self.errors.len();
                let children_changed = self.apply_children(node, edit, EditOperation::Merge)?;
                if self.drop_if_incomplete(node, existing, errors_before) {
                    return Ok(false);
                }
                Ok(existing.is_none() || is_term(edit) || moved || children_changed)
            }
            EditOperation::Replace => {
                if let Some(node) = existing
                    && !is_term(edit)
                {
                    self.tree.remove_children_except_keys(node);
                }
                let node = self.set_node(parent, edit, existing)?;
                self.position(parent, edit, node)?;
                self.apply_children(node, edit, EditOperation::Replace)?;
                Ok(true)
            }
            EditOperation::None => {
                if is_term(edit) {
                    return Ok(false);
                }
                if let Some(node) = existing {
                    return self.apply_children(node, edit, EditOperation::None);
                }
                // The node is created only if a descendant writes below it.
                // Otherwise it names data the target lacks, for which RFC 6241
                // section 7.2 requires a data-missing error.
                let node = self.set_node(parent, edit, None)?;
                let changed = self.apply_children(node, edit, EditOperation::None)?;
                if !changed {
                    self.tree.remove(node);
                    return Err(DatastoreError::DataMissing { path: edit.path() });
                }
                Ok(changed)
            }
        }
    }

    /// Moves `node`, an instance of a user-ordered list or leaf-list, where
    /// the `yang:insert` attribute of `edit` requests (RFC 7950 section
    /// 7.8.6). Without the attribute a new instance stays last and an
    /// existing one stays where it is. Returns whether the node moved.
    fn position(
        &mut self,
        parent: Option<Node>,
        edit: Node,
        node: Node,
    ) -> Result<bool, DatastoreError> {
        let Some(insert) = edit.annotation(&self.yang, "insert") else {
            return Ok(false);
        };
        let element = edit.name();
        let Some(schema) = edit.schema() else {
            return Ok(false);
        };
        if !schema.is_user_ordered() {
            return Err(DatastoreError::BadInsert {
                element,
                app_tag: None,
                message: format!(
                    "insert={insert:?} applies only to ordered-by user lists and leaf-lists"
                ),
            });
        }
        let instances: Vec<Node> = self.tree.instances(parent, &schema);
        let anchor = match insert.as_str() {
            "first" => Anchor::Before(instances.first().copied()),
            "last" => Anchor::After(instances.last().copied()),
            "before" | "after" => {
                let (attribute, reference) = if schema.kind() == SchemaNodeKind::List {
                    (
                        "key",
                        edit.annotation(&self.yang, "key")
                            .map(|key| strip_predicate_prefixes(&key)),
                    )
                } else {
                    ("value", edit.annotation(&self.yang, "value"))
                };
                let Some(reference) = reference else {
                    return Err(DatastoreError::BadInsert {
                        element,
                        app_tag: None,
                        message: format!(
                            "insert={insert:?} needs the yang:{attribute} attribute naming an existing entry"
                        ),
                    });
                };
                let found = self.tree.find_by_key(parent, &schema, &reference);
                if found == Some(node) {
                    return Err(DatastoreError::BadInsert {
                        element,
                        app_tag: None,
                        message: format!(
                            "insert={insert:?} names the entry {reference} itself; name another entry of <{}>",
                            schema.name()
                        ),
                    });
                }
                let Some(found) = found else {
                    return Err(DatastoreError::BadInsert {
                        element,
                        app_tag: Some("missing-instance".into()),
                        message: format!(
                            "insert={insert:?} names {reference}, which is not an existing entry of <{}>",
                            schema.name()
                        ),
                    });
                };
                if insert == "before" {
                    Anchor::Before(Some(found))
                } else {
                    Anchor::After(Some(found))
                }
            }
            other => {
                return Err(DatastoreError::BadInsert {
                    element,
                    app_tag: None,
                    message: format!(
                        "insert={other:?} is invalid; use first, last, before or after"
                    ),
                });
            }
        };
        LibyangError::clear();
        let moved = match anchor {
            Anchor::Before(Some(anchor)) if anchor != node => self.tree.move_before(anchor, node),
            Anchor::After(Some(anchor)) if anchor != node => self.tree.move_after(anchor, node),
            _ => return Ok(false),
        };
        moved.map_err(|_| DatastoreError::Apply(LibyangError::last()))?;
        Ok(true)
    }

    fn apply_children(
        &mut self,
        target: Node,
        edit: Node,
        inherited: EditOperation,
    ) -> Result<bool, DatastoreError> {
        let mut changed = false;
        for child in edit.children() {
            // Keys name the list instance; they are not edited on their own.
            if child.is_key() {
                let operation = child
                    .annotation(&self.netconf, "operation")
                    .and_then(|value| EditOperation::parse(&value));
                if matches!(
                    operation,
                    Some(EditOperation::Delete | EditOperation::Remove)
                ) {
                    let error = DatastoreError::KeyEdit {
                        element: child.name(),
                    };
                    if !self.continue_on_error {
                        return Err(error);
                    }
                    self.errors.push(error);
                }
                continue;
            }
            changed |= self.apply_or_record(Some(target), child, inherited)?;
        }
        Ok(changed)
    }

    /// With `continue_on_error`, removes a node this edit created when part
    /// of its content failed, so that no half-made entry remains. Returns
    /// whether it did.
    fn drop_if_incomplete(
        &mut self,
        node: Node,
        existing: Option<Node>,
        errors_before: usize,
    ) -> bool {
        let incomplete = self.errors.len() > errors_before;
        if incomplete && existing.is_none() {
            self.tree.remove(node);
            return true;
        }
        false
    }

    /// Applies one edit node; with `continue_on_error` a failure is
    /// recorded and counts as no change.
    fn apply_or_record(
        &mut self,
        parent: Option<Node>,
        edit: Node,
        inherited: EditOperation,
    ) -> Result<bool, DatastoreError> {
        match self.apply_node(parent, edit, inherited) {
            Err(err) if self.continue_on_error => {
                self.errors.push(err);
                Ok(false)
            }
            result => result,
        }
    }

    /// Makes the target node for `edit` exist, with the edit's value for a
    /// leaf, reusing `existing` when there is one.
    fn set_node(
        &mut self,
        parent: Option<Node>,
        edit: Node,
        existing: Option<Node>,
    ) -> Result<Node, DatastoreError> {
        let Some(schema) = edit.schema() else {
            return Err(DatastoreError::Internal(format!(
                "edit node {} has no schema",
                edit.name()
            )));
        };
        let libyang = |_| DatastoreError::Apply(LibyangError::last());

        if let Some(node) = existing {
            if is_term(edit) {
                let value = edit.value().unwrap_or_default();
                self.tree.change_term(node, &value).map_err(libyang)?;
            }
            return Ok(node);
        }

        LibyangError::clear();
        match schema.kind() {
            SchemaNodeKind::Container => self.tree.new_inner(parent, &schema).map_err(libyang),
            SchemaNodeKind::List => {
                let keys: Vec<String> = edit
                    .children()
                    .filter(|child| child.is_key())
                    .map(|key| key.value().unwrap_or_default())
                    .collect();
                self.tree.new_list(parent, &schema, &keys).map_err(libyang)
            }
            SchemaNodeKind::Leaf | SchemaNodeKind::LeafList => {
                let value = edit.value().unwrap_or_default();
                self.tree.new_term(parent, &schema, &value).map_err(libyang)
            }
            other => Err(DatastoreError::Unsupported(format!(
                "editing {other:?} node {} is not supported",
                schema.name()
            ))),
        }
    }

    /// Handles a leaf sent without a value, which only `delete` and
    /// `remove` allow.
    fn delete_opaque(
        &mut self,
        parent: Option<Node>,
        edit: Node,
        operation: EditOperation,
    ) -> Result<bool, DatastoreError> {
        let name = edit.name();
        let namespace = edit.namespace();
        let candidates = match parent {
            Some(parent) => parent.children(),
            None => self.tree.top_level(),
        };
        // Only a leaf is deleted by name alone; a list entry or leaf-list
        // value needs its identity, which an opaque node may not carry.
        let found = candidates
            .filter(|node| !node.is_default())
            .find(|node| node.name() == name && node.namespace() == namespace);
        let is_leaf = edit.first_child().is_none()
            && found.is_none_or(|node| {
                node.schema()
                    .is_some_and(|schema| schema.kind() == SchemaNodeKind::Leaf)
            });
        if !is_leaf {
            return Err(self.opaque_error(parent, edit));
        }
        match (operation, found) {
            (EditOperation::Delete | EditOperation::Remove, Some(node)) => {
                self.tree.remove(node);
                Ok(true)
            }
            (EditOperation::Remove, None) => Ok(false),
            (EditOperation::Delete, None) => Err(DatastoreError::DataMissing {
                path: opaque_path(parent, &name),
            }),
            _ => Err(self.opaque_error(parent, edit)),
        }
    }

    /// Describes an opaque node that is not a deletion: an element whose
    /// name the schema lacks, or one whose value is invalid. Such nodes are
    /// in the edit tree only with a lenient parse.
    fn opaque_error(&self, parent: Option<Node>, edit: Node) -> DatastoreError {
        let name = edit.name();
        let path = opaque_path(parent, &name);
        let schema_path = match parent.and_then(Node::schema) {
            Some(schema) => format!(
                "{}/{}:{name}",
                schema.path(yang3::schema::SchemaPathFormat::DATA),
                schema.module().name()
            ),
            None => String::new(),
        };
        let context = crate::schema::context().ok();
        let schema = context
            .filter(|_| !schema_path.is_empty())
            .and_then(|context| context.find_path(&schema_path).ok());
        let missing_key = schema
            .as_ref()
            .filter(|schema| schema.kind() == SchemaNodeKind::List)
            .and_then(|schema| schema.list_keys().next().map(|key| key.name().to_owned()));
        let known = schema.is_some();
        let (code, message) = if let Some(key) = missing_key {
            (
                ValidationCode::Data,
                format!("List instance <{name}> is missing its key \"{key}\"."),
            )
        } else if known {
            let value = edit.value().unwrap_or_default();
            (
                ValidationCode::Data,
                format!("Invalid value {value:?} of <{name}>"),
            )
        } else {
            (
                ValidationCode::Reference,
                format!("Node \"{name}\" not found as a child of the edited node."),
            )
        };
        DatastoreError::Parse(LibyangError {
            code,
            message,
            data_path: Some(path),
            app_tag: None,
        })
    }
}

fn is_term(node: Node) -> bool {
    node.schema().is_some_and(|schema| {
        matches!(
            schema.kind(),
            SchemaNodeKind::Leaf | SchemaNodeKind::LeafList
        )
    })
}

fn opaque_path(parent: Option<Node>, name: &str) -> String {
    match parent {
        Some(parent) => format!("{}/{name}", parent.path()),
        None => format!("/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicate_prefixes_stripped() {
        assert_eq!(
            strip_predicate_prefixes("[z:address='10.0.0.1'][z:vpn-instance='a:b']"),
            "[address='10.0.0.1'][vpn-instance='a:b']"
        );
        assert_eq!(
            strip_predicate_prefixes("[address=\"x'y\"]"),
            "[address=\"x'y\"]"
        );
    }
}
