//! Raw access to libyang data trees for what the `yang3` crate does not
//! expose: creating single nodes under a given parent, unlinking top-level
//! nodes, reading opaque nodes and their attributes, and the
//! `ietf-netconf:operation` metadata.
//!
//! Every pointer handled here belongs to a [`RawTree`] or a `DataTree` that
//! the caller keeps alive and does not touch through another path while a
//! [`Node`] from it is in use. The datastore task is the only thread that
//! uses these trees, so no other thread can free a node under us.

use std::ffi::{CStr, CString, c_char};
use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};

use yang3::context::Context;
use yang3::data::DataTree;
use yang3::ffi;
use yang3::schema::{SchemaModule, SchemaNode};
use yang3::utils::Binding;

/// A whole data tree (a list of top-level siblings) held as raw pointers, so
/// that top-level nodes can be added and removed.
pub struct RawTree {
    context: &'static Context,
    first: *mut ffi::lyd_node,
}

impl RawTree {
    /// Takes ownership of the nodes of `tree`.
    pub fn from_tree(tree: DataTree<'static>) -> RawTree {
        let context = schema_context();
        RawTree {
            context,
            first: tree.into_raw(),
        }
    }

    /// Gives the nodes back as a `DataTree`.
    pub fn into_tree(self) -> DataTree<'static> {
        let this = ManuallyDrop::new(self);
        // SAFETY: `first` is the first sibling of a tree this value owned,
        // and ownership moves to the returned tree exactly once.
        unsafe { DataTree::from_raw(this.context, this.first) }
    }

    /// Returns the first top-level node, if any.
    pub fn first(&self) -> Option<Node> {
        Node::from_ptr(self.first)
    }

    /// Top-level nodes in order.
    pub fn top_level(&self) -> Siblings {
        Siblings { next: self.first() }
    }

    /// Returns the child of `parent` (or the top-level node when `parent` is
    /// `None`) that is the instance `pattern` describes: the same schema
    /// node, and for lists the same keys, for leaf-lists the same value.
    /// `pattern` may come from another tree of the same context.
    pub fn find_instance(&self, parent: Option<Node>, pattern: Node) -> Option<Node> {
        let siblings = match parent {
            Some(parent) => parent.first_child()?,
            None => self.first()?,
        };
        let mut found: *mut ffi::lyd_node = ptr::null_mut();
        // SAFETY: both nodes are valid and share the context.
        let ret =
            unsafe { ffi::lyd_find_sibling_first(siblings.as_ptr(), pattern.as_ptr(), &mut found) };
        if ret == ffi::LY_ERR::LY_SUCCESS {
            Node::from_ptr(found)
        } else {
            None
        }
    }

    /// Returns the child of `parent` (or the top-level node) of the given
    /// schema node, for nodes that have a single instance.
    pub fn find_schema_child(&self, parent: Option<Node>, schema: &SchemaNode<'_>) -> Option<Node> {
        let siblings = match parent {
            Some(parent) => parent.first_child()?,
            None => self.first()?,
        };
        let mut found: *mut ffi::lyd_node = ptr::null_mut();
        // SAFETY: the siblings are valid; a NULL key means "any instance",
        // which for a container or leaf is its only instance.
        let ret = unsafe {
            ffi::lyd_find_sibling_val(
                siblings.as_ptr(),
                schema.as_raw(),
                ptr::null(),
                0,
                &mut found,
            )
        };
        if ret == ffi::LY_ERR::LY_SUCCESS {
            Node::from_ptr(found)
        } else {
            None
        }
    }

    /// Creates a container (or other inner node) under `parent`.
    pub fn new_inner(
        &mut self,
        parent: Option<Node>,
        schema: &SchemaNode<'_>,
    ) -> Result<Node, yang3::Error> {
        let name = c_string(schema.name());
        let mut node: *mut ffi::lyd_node = ptr::null_mut();
        // SAFETY: parent is valid or NULL; the module comes from the schema
        // node, so augmenting modules are honoured.
        let ret = unsafe {
            ffi::lyd_new_inner(
                parent.map_or(ptr::null_mut(), Node::as_ptr),
                schema.module().as_raw(),
                name.as_ptr(),
                0,
                &mut node,
            )
        };
        self.attach(parent, ret, node)
    }

    /// Creates a list instance with the given key values, in the order of
    /// the schema's keys, under `parent`. A new instance of a user-ordered
    /// list is appended at the end.
    pub fn new_list(
        &mut self,
        parent: Option<Node>,
        schema: &SchemaNode<'_>,
        keys: &[String],
    ) -> Result<Node, yang3::Error> {
        let name = c_string(schema.name());
        let keys: Vec<CString> = keys.iter().map(|key| c_string(key)).collect();
        let mut key_ptrs: Vec<*const c_char> = keys.iter().map(|key| key.as_ptr()).collect();
        let mut node: *mut ffi::lyd_node = ptr::null_mut();
        // SAFETY: key_ptrs contains one NUL-terminated string per schema key
        // and outlives the call; NULL lengths mean "use strlen".
        let ret = unsafe {
            ffi::lyd_new_list3(
                parent.map_or(ptr::null_mut(), Node::as_ptr),
                schema.module().as_raw(),
                name.as_ptr(),
                key_ptrs.as_mut_ptr(),
                ptr::null_mut(),
                0,
                &mut node,
            )
        };
        self.attach(parent, ret, node)
    }

    /// Creates a leaf or leaf-list instance with `value` under `parent`.
    pub fn new_term(
        &mut self,
        parent: Option<Node>,
        schema: &SchemaNode<'_>,
        value: &str,
    ) -> Result<Node, yang3::Error> {
        let name = c_string(schema.name());
        let value = c_string(value);
        let mut node: *mut ffi::lyd_node = ptr::null_mut();
        // SAFETY: parent is valid or NULL; the strings outlive the call.
        let ret = unsafe {
            ffi::lyd_new_term(
                parent.map_or(ptr::null_mut(), Node::as_ptr),
                schema.module().as_raw(),
                name.as_ptr(),
                value.as_ptr(),
                0,
                &mut node,
            )
        };
        self.attach(parent, ret, node)
    }

    /// Links a node created with a NULL parent in as a top-level sibling.
    fn attach(
        &mut self,
        parent: Option<Node>,
        ret: ffi::LY_ERR::Type,
        node: *mut ffi::lyd_node,
    ) -> Result<Node, yang3::Error> {
        if ret != ffi::LY_ERR::LY_SUCCESS {
            return Err(yang3::Error::new(self.context));
        }
        let Some(created) = Node::from_ptr(node) else {
            return Err(yang3::Error::new(self.context));
        };
        if parent.is_none() {
            if self.first.is_null() {
                self.first = node;
            } else {
                let mut first = self.first;
                // SAFETY: `first` heads this tree and `node` is a fresh,
                // unlinked node of the same context.
                let ret = unsafe { ffi::lyd_insert_sibling(self.first, node, &mut first) };
                if ret != ffi::LY_ERR::LY_SUCCESS {
                    // SAFETY: the node was not linked anywhere.
                    unsafe { ffi::lyd_free_tree(node) };
                    return Err(yang3::Error::new(self.context));
                }
                self.first = first;
            }
        }
        Ok(created)
    }

    /// Sets the value of a leaf or leaf-list instance. Setting the value it
    /// already has is not an error.
    pub fn change_term(&mut self, node: Node, value: &str) -> Result<(), yang3::Error> {
        let value = c_string(value);
        // SAFETY: node is a term node of this tree.
        let ret = unsafe { ffi::lyd_change_term(node.as_ptr(), value.as_ptr()) };
        match ret {
            // LY_EEXIST: same value; LY_ENOT: only the default flag changed.
            ffi::LY_ERR::LY_SUCCESS | ffi::LY_ERR::LY_EEXIST | ffi::LY_ERR::LY_ENOT => Ok(()),
            _ => Err(yang3::Error::new(self.context)),
        }
    }

    /// Returns the instances of `schema` below `parent` (or at the top
    /// level) in order.
    pub fn instances(&self, parent: Option<Node>, schema: &SchemaNode<'_>) -> Vec<Node> {
        let siblings = match parent {
            Some(parent) => parent.children(),
            None => self.top_level(),
        };
        siblings
            .filter(|node| node.as_raw_schema() == schema.as_raw().cast_const())
            .collect()
    }

    /// Returns the instance of the list or leaf-list `schema` below
    /// `parent` whose keys are `predicates` (`[key='value']...`) or, for a
    /// leaf-list, whose value is `predicates`.
    pub fn find_by_key(
        &self,
        parent: Option<Node>,
        schema: &SchemaNode<'_>,
        predicates: &str,
    ) -> Option<Node> {
        let siblings = match parent {
            Some(parent) => parent.first_child()?,
            None => self.first()?,
        };
        let mut found: *mut ffi::lyd_node = ptr::null_mut();
        // SAFETY: the siblings are valid; the pointer and length describe
        // the predicate string.
        let ret = unsafe {
            ffi::lyd_find_sibling_val(
                siblings.as_ptr(),
                schema.as_raw(),
                predicates.as_ptr().cast(),
                predicates.len(),
                &mut found,
            )
        };
        if ret == ffi::LY_ERR::LY_SUCCESS {
            Node::from_ptr(found)
        } else {
            None
        }
    }

    /// Moves `node` in front of its sibling `anchor` (user-ordered nodes).
    pub fn move_before(&mut self, anchor: Node, node: Node) -> Result<(), yang3::Error> {
        // SAFETY: both nodes belong to this tree and are siblings.
        let ret = unsafe { ffi::lyd_insert_before(anchor.as_ptr(), node.as_ptr()) };
        self.after_move(ret)
    }

    /// Moves `node` behind its sibling `anchor` (user-ordered nodes).
    pub fn move_after(&mut self, anchor: Node, node: Node) -> Result<(), yang3::Error> {
        // SAFETY: both nodes belong to this tree and are siblings.
        let ret = unsafe { ffi::lyd_insert_after(anchor.as_ptr(), node.as_ptr()) };
        self.after_move(ret)
    }

    fn after_move(&mut self, ret: ffi::LY_ERR::Type) -> Result<(), yang3::Error> {
        if ret != ffi::LY_ERR::LY_SUCCESS {
            return Err(yang3::Error::new(self.context));
        }
        // A top-level move can change which node comes first.
        if !self.first.is_null() {
            // SAFETY: `first` is a node of this tree.
            self.first = unsafe { ffi::lyd_first_sibling(self.first) };
        }
        Ok(())
    }

    /// Unlinks and frees `node` and its descendants.
    pub fn remove(&mut self, node: Node) {
        let raw = node.as_ptr();
        if raw == self.first {
            // SAFETY: raw is a valid node; `next` is its following sibling.
            self.first = unsafe { (*raw).next };
        }
        // SAFETY: the node belongs to this tree; lyd_free_tree unlinks it
        // before freeing, and no `Node` to it or below it is used again.
        unsafe { ffi::lyd_free_tree(raw) };
    }

    /// Removes every child of `node` except list keys.
    pub fn remove_children_except_keys(&mut self, node: Node) {
        let doomed: Vec<Node> = node.children().filter(|child| !child.is_key()).collect();
        for child in doomed {
            self.remove(child);
        }
    }

    /// Validates the whole tree as configuration (no state data allowed)
    /// and adds default nodes.
    pub fn validate_config(&mut self) -> Result<(), yang3::Error> {
        // SAFETY: `first` heads this tree (or is NULL for an empty one);
        // libyang may replace it, and writes the new head back.
        let ret = unsafe {
            ffi::lyd_validate_all(
                &mut self.first,
                crate::schema::raw_context(self.context),
                ffi::LYD_VALIDATE_NO_STATE,
                ptr::null_mut(),
            )
        };
        if ret != ffi::LY_ERR::LY_SUCCESS {
            return Err(yang3::Error::new(self.context));
        }
        Ok(())
    }
}

impl Drop for RawTree {
    fn drop(&mut self) {
        // SAFETY: this value owns the tree.
        unsafe { ffi::lyd_free_all(self.first) };
    }
}

/// One metadata instance of a data node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Namespace of the module that defines the annotation.
    pub namespace: String,
    /// Name of the annotation.
    pub name: String,
    /// Canonical value, `None` when libyang has no string form for it.
    pub value: Option<String>,
}

/// A node of a libyang data tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node(NonNull<ffi::lyd_node>);

/// Iterator over a node and its following siblings.
pub struct Siblings {
    next: Option<Node>,
}

impl Iterator for Siblings {
    type Item = Node;

    fn next(&mut self) -> Option<Node> {
        let current = self.next?;
        self.next = current.next_sibling();
        Some(current)
    }
}

impl Node {
    /// Wraps a raw pointer; NULL gives `None`.
    pub fn from_ptr(raw: *mut ffi::lyd_node) -> Option<Node> {
        NonNull::new(raw).map(Node)
    }

    /// Returns whether `other` is the same data instance: the same schema
    /// node, and for lists the same keys, for leaf-lists the same value.
    pub fn same_instance(self, other: Node) -> bool {
        // SAFETY: both nodes are valid and belong to the same context;
        // without options libyang compares list keys and term values only.
        unsafe {
            ffi::lyd_compare_single(self.as_ptr(), other.as_ptr(), 0) == ffi::LY_ERR::LY_SUCCESS
        }
    }

    /// Returns the raw pointer.
    pub fn as_ptr(self) -> *mut ffi::lyd_node {
        self.0.as_ptr()
    }

    fn raw(&self) -> &ffi::lyd_node {
        // SAFETY: a `Node` is only used while its tree is alive.
        unsafe { self.0.as_ref() }
    }

    /// Returns the schema node, or `None` for an opaque node.
    pub fn schema(self) -> Option<SchemaNode<'static>> {
        let schema = self.raw().schema;
        if schema.is_null() {
            return None;
        }
        // SAFETY: schema nodes live as long as the context, which is static.
        Some(unsafe { SchemaNode::from_raw(schema_context(), schema as *mut _) })
    }

    fn as_raw_schema(self) -> *const ffi::lysc_node {
        self.raw().schema
    }

    /// True for a node that libyang could not match to the schema or whose
    /// value did not parse.
    pub fn is_opaque(self) -> bool {
        self.raw().schema.is_null()
    }

    /// Returns the following sibling.
    pub fn next_sibling(self) -> Option<Node> {
        Node::from_ptr(self.raw().next)
    }

    /// Returns the first child of an inner or opaque node.
    pub fn first_child(self) -> Option<Node> {
        let raw = self.as_ptr();
        let schema = self.raw().schema;
        if schema.is_null() {
            // SAFETY: a node without schema is a `lyd_node_opaq`.
            return Node::from_ptr(unsafe { (*raw.cast::<ffi::lyd_node_opaq>()).child });
        }
        // SAFETY: schema is valid; inner node types are `lyd_node_inner`.
        let nodetype = u32::from(unsafe { (*schema).nodetype });
        let inner =
            ffi::LYS_CONTAINER | ffi::LYS_LIST | ffi::LYS_RPC | ffi::LYS_ACTION | ffi::LYS_NOTIF;
        if nodetype & inner != 0 {
            // SAFETY: checked above that the node is an inner node.
            Node::from_ptr(unsafe { (*raw.cast::<ffi::lyd_node_inner>()).child })
        } else {
            None
        }
    }

    /// Returns the children in order.
    pub fn children(self) -> Siblings {
        Siblings {
            next: self.first_child(),
        }
    }

    /// True when libyang added the node as a default (or a non-presence
    /// container holding only defaults); such nodes are not explicitly set.
    pub fn is_default(self) -> bool {
        self.raw().flags & ffi::LYD_DEFAULT != 0
    }

    /// True for a list key leaf.
    pub fn is_key(self) -> bool {
        self.schema().is_some_and(|schema| schema.is_list_key())
    }

    /// Local name of the node.
    pub fn name(self) -> String {
        match self.schema() {
            Some(schema) => schema.name().to_owned(),
            // SAFETY: opaque node; its name is a NUL-terminated string.
            None => unsafe {
                let opaque = self.as_ptr().cast::<ffi::lyd_node_opaq>();
                c_str_to_string((*opaque).name.name)
            },
        }
    }

    /// Namespace of the node's module (or the namespace an opaque node was
    /// written in).
    pub fn namespace(self) -> Option<String> {
        match self.schema() {
            Some(schema) => Some(schema.module().namespace().to_owned()),
            // SAFETY: opaque nodes parsed from XML carry the namespace URI.
            None => unsafe {
                let opaque = self.as_ptr().cast::<ffi::lyd_node_opaq>();
                let ns = (*opaque).name.__bindgen_anon_1.module_ns;
                (!ns.is_null()).then(|| c_str_to_string(ns))
            },
        }
    }

    /// Canonical value of a leaf or leaf-list, or the text of an opaque
    /// node.
    pub fn value(self) -> Option<String> {
        let raw = self.as_ptr();
        match self.schema() {
            None => {
                // SAFETY: opaque node; `value` is a NUL-terminated string.
                let value = unsafe { (*raw.cast::<ffi::lyd_node_opaq>()).value };
                (!value.is_null()).then(|| c_str_to_string(value))
            }
            Some(schema) => {
                let nodetype = u32::from(unsafe { (*schema.as_raw()).nodetype });
                if nodetype & (ffi::LYS_LEAF | ffi::LYS_LEAFLIST) == 0 {
                    return None;
                }
                // SAFETY: term nodes are `lyd_node_term`; the canonical
                // string is computed on demand and cached by libyang.
                unsafe {
                    let term = raw.cast::<ffi::lyd_node_term>();
                    let mut canonical = (*term).value._canonical;
                    if canonical.is_null() {
                        canonical =
                            ffi::lyd_value_get_canonical(schema_context_raw(), &(*term).value);
                    }
                    (!canonical.is_null()).then(|| c_str_to_string(canonical))
                }
            }
        }
    }

    /// Value of the metadata `module:name` on this node, or for an opaque
    /// node the value of the attribute `name` in the module's namespace.
    pub fn annotation(self, module: &SchemaModule<'_>, name: &str) -> Option<String> {
        if self.is_opaque() {
            return self.opaque_attribute(module.namespace(), name);
        }
        let c_name = c_string(name);
        // SAFETY: the node and module are valid; lyd_find_meta only reads.
        let meta = unsafe { ffi::lyd_find_meta(self.raw().meta, module.as_raw(), c_name.as_ptr()) };
        if meta.is_null() {
            return None;
        }
        // SAFETY: meta is valid; its value has a canonical form.
        unsafe {
            let mut canonical = (*meta).value._canonical;
            if canonical.is_null() {
                canonical = ffi::lyd_value_get_canonical(schema_context_raw(), &(*meta).value);
            }
            (!canonical.is_null()).then(|| c_str_to_string(canonical))
        }
    }

    /// Returns the metadata (RFC 7952 annotations) of a schema node
    /// instance; an opaque node has none.
    pub fn metadata(self) -> Vec<Metadata> {
        if self.is_opaque() {
            return Vec::new();
        }
        let mut found = Vec::new();
        let mut meta = self.raw().meta;
        // SAFETY: `meta` is NULL or an entry of the node's metadata list,
        // which lives as long as the node. The annotation and its module
        // belong to the static context.
        unsafe {
            while !meta.is_null() {
                let annotation = (*meta).annotation;
                let module = if annotation.is_null() {
                    ptr::null_mut()
                } else {
                    (*annotation).module
                };
                if !module.is_null() && !(*module).ns.is_null() && !(*meta).name.is_null() {
                    let mut canonical = (*meta).value._canonical;
                    if canonical.is_null() {
                        canonical =
                            ffi::lyd_value_get_canonical(schema_context_raw(), &(*meta).value);
                    }
                    found.push(Metadata {
                        namespace: c_str_to_string((*module).ns),
                        name: c_str_to_string((*meta).name),
                        value: (!canonical.is_null()).then(|| c_str_to_string(canonical)),
                    });
                }
                meta = (*meta).next;
            }
        }
        found
    }

    fn opaque_attribute(self, namespace: &str, name: &str) -> Option<String> {
        // SAFETY: opaque node; attributes form a NULL-terminated list.
        unsafe {
            let opaque = self.as_ptr().cast::<ffi::lyd_node_opaq>();
            let mut attr = (*opaque).attr;
            while !attr.is_null() {
                let attr_name = c_str_to_string((*attr).name.name);
                let attr_ns = (*attr).name.__bindgen_anon_1.module_ns;
                if attr_name == name && !attr_ns.is_null() && c_str_to_string(attr_ns) == namespace
                {
                    let value = (*attr).value;
                    return Some(if value.is_null() {
                        String::new()
                    } else {
                        c_str_to_string(value)
                    });
                }
                attr = (*attr).next;
            }
        }
        None
    }

    /// Data path of the node, with the module name on the first node and
    /// wherever the module changes.
    pub fn path(self) -> String {
        // SAFETY: a NULL buffer makes libyang allocate the result, which is
        // then freed here.
        unsafe {
            let path = ffi::lyd_path(
                self.as_ptr(),
                ffi::LYD_PATH_TYPE::LYD_PATH_STD,
                ptr::null_mut(),
                0,
            );
            if path.is_null() {
                return String::new();
            }
            let text = c_str_to_string(path);
            ffi::free(path.cast());
            text
        }
    }
}

fn schema_context() -> &'static Context {
    // The datastore only exists after the context was built, so this
    // lookup cannot fail where it is used.
    match crate::schema::context() {
        Ok(context) => context,
        Err(err) => unreachable_context(&err),
    }
}

#[cold]
fn unreachable_context(err: &crate::schema::SchemaError) -> ! {
    // The context is built before any tree exists; reaching this means the
    // program was wired wrongly, not that input was bad.
    panic!("libyang context unavailable: {err}")
}

fn schema_context_raw() -> *const ffi::ly_ctx {
    crate::schema::raw_context(schema_context())
}

fn c_string(text: &str) -> CString {
    // Values come from parsed XML or libyang, which contain no NUL bytes;
    // a NUL would cut the string there.
    CString::new(text).unwrap_or_else(|err| {
        let end = err.nul_position();
        CString::new(&text[..end]).unwrap_or_default()
    })
}

fn c_str_to_string(raw: *const c_char) -> String {
    // SAFETY: callers pass NUL-terminated strings owned by libyang.
    unsafe { CStr::from_ptr(raw) }
        .to_string_lossy()
        .into_owned()
}

/// Prints `tree` with all its top-level siblings as XML. Unlike
/// `yang3`'s printer this handles a tree that prints as nothing (only
/// default nodes), for which libyang returns no string at all.
pub fn print_xml(tree: &DataTree<'static>, options: u32) -> Result<String, yang3::Error> {
    use yang3::data::Data;

    let Some(first) = tree.reference() else {
        return Ok(String::new());
    };
    let mut text: *mut c_char = ptr::null_mut();
    // SAFETY: the tree is valid; libyang allocates the output string, which
    // is copied and freed here.
    let ret = unsafe {
        ffi::lyd_print_mem(
            &mut text,
            first.as_raw(),
            ffi::LYD_FORMAT::LYD_XML,
            options | ffi::LYD_PRINT_WITHSIBLINGS,
        )
    };
    if ret != ffi::LY_ERR::LY_SUCCESS {
        return Err(yang3::Error::new(tree.context()));
    }
    if text.is_null() {
        return Ok(String::new());
    }
    let printed = c_str_to_string(text);
    // SAFETY: the string was allocated by libyang with malloc.
    unsafe { ffi::free(text.cast()) };
    Ok(printed)
}

/// Returns the canonical form of `value` for the leaf or leaf-list
/// `schema`, or `None` when the value is invalid for it. Values that need a
/// data tree to check (leafrefs) are returned in the form libyang stores
/// them when it can tell, else `None`.
pub fn canonical_value(schema: &SchemaNode<'_>, value: &str) -> Option<String> {
    let context = crate::schema::raw_context(schema_context());
    let mut canonical: *const c_char = ptr::null();
    // SAFETY: the schema node belongs to the static context, and the value
    // pointer and length describe a valid string. The canonical string is
    // a dictionary entry, copied and then released here.
    unsafe {
        let ret = ffi::lyd_value_validate(
            ptr::null(),
            schema.as_raw(),
            value.as_ptr().cast(),
            value.len(),
            ptr::null(),
            ptr::null_mut(),
            &mut canonical,
        );
        if canonical.is_null() {
            return None;
        }
        let text = c_str_to_string(canonical);
        ffi::lydict_remove(context, canonical);
        matches!(ret, ffi::LY_ERR::LY_SUCCESS | ffi::LY_ERR::LY_EINCOMPLETE).then_some(text)
    }
}

/// Describes the values a leaf or leaf-list accepts, for error messages:
/// the range of a number, the length and patterns of a string, the names
/// of an enumeration, or the member types of a union.
pub fn describe_type(schema: &SchemaNode<'_>) -> Option<String> {
    let raw = schema.as_raw();
    // SAFETY: the schema node is valid for the static context. Leaf and
    // leaf-list nodes are `lysc_node_leaf` and `lysc_node_leaflist`, and
    // each type structure is read according to its `basetype`.
    unsafe {
        let nodetype = u32::from((*raw).nodetype);
        let type_ = if nodetype == ffi::LYS_LEAF {
            (*raw.cast::<ffi::lysc_node_leaf>()).type_
        } else if nodetype == ffi::LYS_LEAFLIST {
            (*raw.cast::<ffi::lysc_node_leaflist>()).type_
        } else {
            return None;
        };
        describe_lysc_type(type_)
    }
}

/// Reads the number of entries of a libyang sized array, which libyang
/// stores just before its first entry.
///
/// # Safety
/// `array` must be NULL or a libyang sized array.
unsafe fn sized_array_count<T>(array: *const T) -> usize {
    if array.is_null() {
        return 0;
    }
    // SAFETY: libyang sized arrays start with a u64 count (LY_ARRAY_COUNT).
    unsafe { *(array.cast::<u64>()).offset(-1) as usize }
}

/// # Safety
/// `type_` must be NULL or a valid compiled type.
unsafe fn describe_lysc_type(type_: *const ffi::lysc_type) -> Option<String> {
    if type_.is_null() {
        return None;
    }
    // SAFETY: the caller passes a valid type; the casts follow `basetype`.
    unsafe {
        let basetype = (*type_).basetype;
        match basetype {
            ffi::LY_DATA_TYPE::LY_TYPE_INT8
            | ffi::LY_DATA_TYPE::LY_TYPE_INT16
            | ffi::LY_DATA_TYPE::LY_TYPE_INT32
            | ffi::LY_DATA_TYPE::LY_TYPE_INT64 => {
                let range = (*type_.cast::<ffi::lysc_type_num>()).range;
                Some(match range_text(range, true) {
                    Some(text) => format!("an integer in {text}"),
                    None => "an integer".to_owned(),
                })
            }
            ffi::LY_DATA_TYPE::LY_TYPE_UINT8
            | ffi::LY_DATA_TYPE::LY_TYPE_UINT16
            | ffi::LY_DATA_TYPE::LY_TYPE_UINT32
            | ffi::LY_DATA_TYPE::LY_TYPE_UINT64 => {
                let range = (*type_.cast::<ffi::lysc_type_num>()).range;
                let bounds = match basetype {
                    ffi::LY_DATA_TYPE::LY_TYPE_UINT8 => "0..255",
                    ffi::LY_DATA_TYPE::LY_TYPE_UINT16 => "0..65535",
                    ffi::LY_DATA_TYPE::LY_TYPE_UINT32 => "0..4294967295",
                    _ => "0..18446744073709551615",
                };
                Some(format!(
                    "an integer in {}",
                    range_text(range, false).unwrap_or_else(|| bounds.to_owned())
                ))
            }
            ffi::LY_DATA_TYPE::LY_TYPE_STRING => {
                let string = type_.cast::<ffi::lysc_type_str>();
                let mut parts = Vec::new();
                if let Some(length) = range_text((*string).length, false) {
                    parts.push(format!("{length} characters"));
                }
                let patterns = (*string).patterns;
                for index in 0..sized_array_count(patterns) {
                    let pattern = *patterns.add(index);
                    if !pattern.is_null() && !(*pattern).expr.is_null() {
                        parts.push(format!("matching {}", c_str_to_string((*pattern).expr)));
                    }
                }
                Some(if parts.is_empty() {
                    "a string".to_owned()
                } else {
                    format!("a string of {}", parts.join(", "))
                })
            }
            ffi::LY_DATA_TYPE::LY_TYPE_ENUM => {
                let enums = (*type_.cast::<ffi::lysc_type_enum>()).enums;
                let names: Vec<String> = (0..sized_array_count(enums))
                    .map(|index| c_str_to_string((*enums.add(index)).name))
                    .collect();
                Some(format!("one of {}", names.join(", ")))
            }
            ffi::LY_DATA_TYPE::LY_TYPE_UNION => {
                let types = (*type_.cast::<ffi::lysc_type_union>()).types;
                let names: Vec<String> = (0..sized_array_count(types))
                    .filter_map(|index| {
                        let member = *types.add(index);
                        let name = (*member).name;
                        (!name.is_null()).then(|| c_str_to_string(name))
                    })
                    .collect();
                (!names.is_empty()).then(|| format!("a value of type {}", names.join(" or ")))
            }
            _ => {
                let name = (*type_).name;
                (!name.is_null()).then(|| format!("a value of type {}", c_str_to_string(name)))
            }
        }
    }
}

/// Writes a range or length restriction as `1..65535` or `1..4 | 8..10`.
///
/// # Safety
/// `range` must be NULL or a valid compiled range.
unsafe fn range_text(range: *const ffi::lysc_range, signed: bool) -> Option<String> {
    if range.is_null() {
        return None;
    }
    // SAFETY: the caller passes a valid range; its parts form a sized array.
    unsafe {
        let parts = (*range).parts;
        let texts: Vec<String> = (0..sized_array_count(parts))
            .map(|index| {
                let part = &*parts.add(index);
                if signed {
                    format!(
                        "{}..{}",
                        part.__bindgen_anon_1.min_64, part.__bindgen_anon_2.max_64
                    )
                } else {
                    format!(
                        "{}..{}",
                        part.__bindgen_anon_1.min_u64, part.__bindgen_anon_2.max_u64
                    )
                }
            })
            .collect();
        (!texts.is_empty()).then(|| texts.join(" | "))
    }
}

/// Selects the nodes of `tree` that the XPath 1.0 `expression` (module names
/// as prefixes, libyang's JSON form) evaluates to, in document order, with
/// the root as context node. An expression that evaluates to a number,
/// string or boolean is an error. On `Err`, libyang's last error gives the
/// reason.
///
/// An empty tree has no root node to evaluate on, so there the expression
/// is only checked against the schema.
pub fn find_xpath<'a>(
    tree: &'a DataTree<'static>,
    expression: &CStr,
) -> Result<Vec<yang3::data::DataNodeRef<'a>>, ()> {
    use yang3::data::DataNodeRef;

    let mut set: *mut ffi::ly_set = ptr::null_mut();
    let Some(first) = tree.reference() else {
        // SAFETY: the context is static and the expression NUL-terminated;
        // the set is freed here.
        let ret = unsafe {
            ffi::lys_find_xpath(
                schema_context_raw(),
                ptr::null(),
                expression.as_ptr(),
                0,
                &mut set,
            )
        };
        // SAFETY: `set` is NULL or a set that lys_find_xpath allocated.
        unsafe { ffi::ly_set_free(set, None) };
        return if ret == ffi::LY_ERR::LY_SUCCESS {
            Ok(Vec::new())
        } else {
            Err(())
        };
    };

    // SAFETY: `first` heads a valid tree; a NULL context node means the
    // root. The set holds pointers into `tree`, which outlives the
    // returned references, and is freed here (its nodes are not).
    unsafe {
        let ret = ffi::lyd_find_xpath3(
            ptr::null(),
            first.as_raw(),
            expression.as_ptr(),
            ffi::LY_VALUE_FORMAT::LY_VALUE_JSON,
            ptr::null_mut(),
            ptr::null(),
            &mut set,
        );
        if ret != ffi::LY_ERR::LY_SUCCESS || set.is_null() {
            ffi::ly_set_free(set, None);
            return Err(());
        }
        let count = (*set).count as usize;
        let nodes = (*set).__bindgen_anon_1.dnodes;
        let mut selected = Vec::with_capacity(count);
        for index in 0..count {
            let node = *nodes.add(index);
            if !node.is_null() {
                selected.push(DataNodeRef::from_raw(tree, node));
            }
        }
        ffi::ly_set_free(set, None);
        Ok(selected)
    }
}
