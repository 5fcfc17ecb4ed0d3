//! The edits between two versions of the running configuration, read from
//! libyang's diff, and the listener that the datastore thread calls with
//! them (for `netconf-config-change`, RFC 6470).
//!
//! libyang marks the topmost node of each change with an `operation`
//! (`create`, `delete` or `replace`, which also stands for a moved entry of
//! a user-ordered list) and lets the descendants inherit it, so each marked
//! node is one edit. A non-presence container is no configuration of its own: libyang
//! reports it as created when its first child is created (before that it
//! only existed implicitly), so the edits name its children instead.

use std::ffi::{CStr, c_char};
use std::ptr;

use yang3::data::{Data, DataDiffFlags, DataNodeRef, DataTree};
use yang3::ffi;

use super::SessionId;

/// The operation of one edit, as `nc:edit-operation-type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditOperation {
    Create,
    Delete,
    Replace,
}

impl EditOperation {
    /// Returns the value of `nc:edit-operation-type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EditOperation::Create => "create",
            EditOperation::Delete => "delete",
            EditOperation::Replace => "replace",
        }
    }
}

/// One changed node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEdit {
    /// Instance-identifier of the node in libyang's JSON form, with module
    /// names as prefixes, such as
    /// `/ztpd-ssl:ssl/ssl-policies/ssl-policy[policy-name='p1']`.
    pub target: String,
    pub operation: EditOperation,
}

/// A change of running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningChange {
    /// The session that made the change, or 0 for the server itself.
    pub session: SessionId,
    /// The changed nodes in document order. The list is never empty.
    pub edits: Vec<ConfigEdit>,
}

/// Called on the datastore thread after every change of running that
/// changed at least one node. It must not block, because every datastore
/// request waits for it.
pub type ChangeListener = Box<dyn FnMut(&RunningChange) + Send>;

/// Returns the edits that turn `old` into `new`. Default nodes are left
/// out: they change only with the explicit nodes that they depend on.
pub fn edits(old: &DataTree<'static>, new: &DataTree<'static>) -> Result<Vec<ConfigEdit>, String> {
    let diff = old
        .diff(new, DataDiffFlags::empty())
        .map_err(|err| format!("cannot compare the configurations: {err}"))?;
    let mut edits = Vec::new();
    for node in diff.tree().traverse() {
        if let Some(operation) = own_operation(&node) {
            add_edits(&node, operation, &mut edits)?;
        }
    }
    Ok(edits)
}

/// Adds the edit of `node`, or of its explicit children when it is a
/// created or deleted non-presence container.
fn add_edits(
    node: &DataNodeRef<'_>,
    operation: EditOperation,
    edits: &mut Vec<ConfigEdit>,
) -> Result<(), String> {
    if operation != EditOperation::Replace && node.schema().is_np_container() {
        for child in node.children().filter(|child| !child.is_default()) {
            add_edits(&child, operation, edits)?;
        }
        return Ok(());
    }
    edits.push(ConfigEdit {
        target: data_path(node)?,
        operation,
    });
    Ok(())
}

/// Returns the operation that libyang set on `node` itself, if any.
fn own_operation(node: &DataNodeRef<'_>) -> Option<EditOperation> {
    let meta = node.meta().find(|meta| meta.name() == "operation")?;
    match meta.value() {
        "create" => Some(EditOperation::Create),
        "delete" => Some(EditOperation::Delete),
        "replace" => Some(EditOperation::Replace),
        // "none" marks the unchanged parents of changed nodes.
        _ => None,
    }
}

/// Returns the data path of `node`. Unlike `DataNodeRef::path`, this has no
/// length limit, because libyang allocates the string.
fn data_path(node: &DataNodeRef<'_>) -> Result<String, String> {
    // SAFETY: the node belongs to the diff tree, which outlives this call;
    // with a NULL buffer libyang returns a malloc'd string or NULL.
    let raw: *mut c_char = unsafe {
        ffi::lyd_path(
            node.as_raw(),
            ffi::LYD_PATH_TYPE::LYD_PATH_STD,
            ptr::null_mut(),
            0,
        )
    };
    if raw.is_null() {
        return Err("cannot build the path of a changed node".to_owned());
    }
    // SAFETY: `raw` is a NUL-terminated string that libyang allocated for
    // the caller, copied and then freed exactly once.
    let path = unsafe { CStr::from_ptr(raw) }
        .to_string_lossy()
        .into_owned();
    unsafe { ffi::free(raw.cast()) };
    Ok(path)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use yang3::data::{DataFormat, DataParserFlags, DataValidationFlags};

    use super::super::Datastore;
    use super::*;

    fn tree(xml: &str) -> DataTree<'static> {
        let context = crate::schema::context().expect("schema");
        DataTree::parse_string(
            context,
            xml,
            DataFormat::XML,
            DataParserFlags::STRICT | DataParserFlags::NO_STATE,
            DataValidationFlags::NO_STATE,
        )
        .expect("valid configuration")
    }

    fn policies(names: &[&str]) -> String {
        let entries: String = names
            .iter()
            .map(|name| {
                format!(
                    "<ssl-policy><policy-name>{name}</policy-name><pki-domain>default</pki-domain></ssl-policy>"
                )
            })
            .collect();
        format!(
            r#"<ssl xmlns="urn:ztpd:yang:ztpd-ssl"><ssl-policies>{entries}</ssl-policies></ssl>"#
        )
    }

    const P1: &str = "/ztpd-ssl:ssl/ssl-policies/ssl-policy[policy-name='p1']";
    const P2: &str = "/ztpd-ssl:ssl/ssl-policies/ssl-policy[policy-name='p2']";

    #[test]
    fn created_and_deleted_entries_are_one_edit_each() {
        let old = tree(&policies(&["p1"]));
        let new = tree(&policies(&["p2"]));
        let found = edits(&old, &new).expect("diff");
        assert_eq!(
            found,
            [
                ConfigEdit {
                    target: P1.into(),
                    operation: EditOperation::Delete
                },
                ConfigEdit {
                    target: P2.into(),
                    operation: EditOperation::Create
                },
            ]
        );
    }

    #[test]
    fn changed_leaf_is_replace() {
        let old = tree(&policies(&["p1"]));
        let new = tree(&policies(&["p1"]).replace("default", "other"));
        let found = edits(&old, &new).expect("diff");
        assert_eq!(
            found,
            [ConfigEdit {
                target: format!("{P1}/pki-domain"),
                operation: EditOperation::Replace
            }]
        );
    }

    #[test]
    fn created_containers_report_their_entries() {
        let old = DataTree::new(crate::schema::context().expect("schema"));
        let new = tree(&policies(&["p1", "p2"]));
        let found = edits(&old, &new).expect("diff");
        assert_eq!(
            found,
            [
                ConfigEdit {
                    target: P1.into(),
                    operation: EditOperation::Create
                },
                ConfigEdit {
                    target: P2.into(),
                    operation: EditOperation::Create
                },
            ]
        );
    }

    #[test]
    fn deleting_last_entry_reports_the_entry() {
        let old = tree(&policies(&["p1"]));
        let mut new = DataTree::new(crate::schema::context().expect("schema"));
        new.validate(DataValidationFlags::NO_STATE).expect("valid");
        let found = edits(&old, &new).expect("diff");
        assert_eq!(
            found,
            [ConfigEdit {
                target: P1.into(),
                operation: EditOperation::Delete
            }]
        );
    }

    /// Opens a store whose change listener records every change.
    fn recording_store(
        dir: &std::path::Path,
    ) -> (super::super::Store, Arc<Mutex<Vec<RunningChange>>>) {
        let mut store = super::super::Store::open(
            super::super::persist::RunningFile::in_dir(dir),
            Box::new(|_| {}),
        )
        .expect("opens");
        let changes = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&changes);
        store.change_listener = Some(Box::new(move |change: &RunningChange| {
            sink.lock().expect("lock").push(change.clone());
        }));
        (store, changes)
    }

    #[test]
    fn store_reports_running_changes_with_session() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (mut store, changes) = recording_store(dir.path());
        let merge = super::super::EditOptions::default();

        store
            .edit_config(3, Datastore::Running, merge, &policies(&["p1"]))
            .expect("edit running");
        store
            .edit_config(4, Datastore::Candidate, merge, &policies(&["p2"]))
            .expect("edit candidate");
        assert_eq!(
            changes.lock().expect("lock").len(),
            1,
            "candidate edits are no change of running"
        );
        store.commit_with(4, None, None).expect("commit");
        // Merging what running has already changes nothing.
        store
            .edit_config(3, Datastore::Running, merge, &policies(&["p1"]))
            .expect("edit running");

        let changes = changes.lock().expect("lock").clone();
        assert_eq!(
            changes,
            [
                RunningChange {
                    session: 3,
                    edits: vec![ConfigEdit {
                        target: P1.into(),
                        operation: EditOperation::Create
                    }]
                },
                RunningChange {
                    session: 4,
                    edits: vec![ConfigEdit {
                        target: P2.into(),
                        operation: EditOperation::Create
                    }]
                },
            ]
        );
    }

    #[test]
    fn equal_trees_have_no_edits() {
        let old = tree(&policies(&["p1"]));
        let new = tree(&policies(&["p1"]));
        assert!(edits(&old, &new).expect("diff").is_empty());
    }
}
