//! The YANG library (RFC 8525): its content-id, the `yang-library:1.1`
//! capability (RFC 8526 section 2) and the library data that `get` and
//! the operational datastore show.
//!
//! libyang builds the module list itself (`ly_ctx_get_yanglib_data`);
//! this module adds the content-id and the datastores, which libyang does
//! not know.

use std::ffi::CString;
use std::ptr;

use sha2::{Digest, Sha256};
use yang3::context::Context;
use yang3::data::DataTree;
use yang3::ffi;
use yang3::utils::Binding;

use crate::datastore::Datastore;
use crate::datastore::libyang_error::LibyangError;
use crate::schema;

/// The capability of a server that implements the YANG library for NMDA.
pub const CAPABILITY: &str = "urn:ietf:params:netconf:capability:yang-library:1.1";
/// Revision of `ietf-yang-library` that libyang implements.
pub const REVISION: &str = "2019-01-04";
/// Namespace of `ietf-yang-library`.
pub const NS_YANG_LIBRARY: &str = "urn:ietf:params:xml:ns:yang:ietf-yang-library";
/// Namespace of `ietf-datastores`, whose identities name the datastores.
pub const NS_DATASTORES: &str = "urn:ietf:params:xml:ns:yang:ietf-datastores";

/// Number of SHA-256 bytes the content-id keeps. 16 bytes make an
/// accidental collision between two module sets practically impossible.
const CONTENT_ID_BYTES: usize = 16;

/// Returns the content-id of the module set of `context`: a hash of every
/// module's name, revision, conformance and enabled features, so it
/// changes exactly when the module set changes.
pub fn content_id(context: &Context) -> String {
    let mut hasher = Sha256::new();
    for module in context.modules(false) {
        let features = schema::MODULES
            .iter()
            .find(|source| source.name == module.name())
            .map(|source| source.features.join(","))
            .unwrap_or_default();
        let line = format!(
            "{}@{}:{}:{}\n",
            module.name(),
            module.revision().unwrap_or(""),
            if module.is_implemented() {
                "implement"
            } else {
                "import"
            },
            features
        );
        hasher.update(line.as_bytes());
    }
    let digest = hasher.finalize();
    digest
        .iter()
        .take(CONTENT_ID_BYTES)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Returns the `yang-library:1.1` capability URI with the revision and the
/// content-id.
pub fn capability(context: &Context) -> String {
    format!(
        "{CAPABILITY}?revision={REVISION}&content-id={}",
        content_id(context)
    )
}

/// Returns the identity of `ietf-datastores` that names `datastore`, in the JSON
/// form libyang paths use.
fn datastore_identity(datastore: Datastore) -> String {
    format!("ietf-datastores:{datastore}")
}

/// Builds the YANG library data of `context`: `yang-library` with the
/// module set, the schema and one entry per datastore in `datastores`
/// plus operational, and the deprecated `modules-state` that libyang also
/// fills in.
pub fn data(
    context: &'static Context,
    datastores: &[Datastore],
) -> Result<DataTree<'static>, LibyangError> {
    let content_id = CString::new(content_id(context)).unwrap_or_default();
    let mut root: *mut ffi::lyd_node = ptr::null_mut();
    LibyangError::clear();
    // SAFETY: the context is valid for the whole run; the format "%s"
    // takes exactly the one NUL-terminated string passed after it.
    let ret = unsafe {
        ffi::ly_ctx_get_yanglib_data(
            schema::raw_context(context),
            &mut root,
            c"%s".as_ptr(),
            content_id.as_ptr(),
        )
    };
    if ret != ffi::LY_ERR::LY_SUCCESS {
        return Err(LibyangError::last());
    }
    // SAFETY: libyang allocated the tree for the caller, which now owns it.
    let mut tree = unsafe { DataTree::from_raw(context, root) };

    let identities = datastores
        .iter()
        .map(|datastore| datastore_identity(*datastore))
        .chain(std::iter::once("ietf-datastores:operational".to_owned()));
    for identity in identities {
        let path = format!("/ietf-yang-library:yang-library/datastore[name='{identity}']/schema");
        tree.new_path(&path, Some("complete"), false)
            .map_err(|_| LibyangError::last())?;
    }
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datastore::DATASTORES;
    use yang3::data::Data;

    #[test]
    fn content_id_is_stable_hex() {
        let context = schema::context().expect("schema loads");
        let first = content_id(context);
        assert_eq!(first.len(), CONTENT_ID_BYTES * 2);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(first, content_id(context));
    }

    #[test]
    fn data_lists_modules_datastores_and_content_id() {
        let context = schema::context().expect("schema loads");
        let tree = data(context, DATASTORES).expect("library data");
        let xml = tree
            .print_string(
                yang3::data::DataFormat::XML,
                yang3::data::DataPrinterFlags::WITH_SIBLINGS,
            )
            .expect("prints");
        assert!(
            xml.contains(&format!("<content-id>{}</content-id>", content_id(context))),
            "{xml}"
        );
        for name in ["running", "candidate", "operational"] {
            assert!(
                xml.contains(&format!(":{name}</name>")),
                "datastore {name} missing: {xml}"
            );
        }
        assert!(xml.contains("<name>ztpd-ztp</name>"), "{xml}");
        assert!(xml.contains("<name>ietf-netconf-nmda</name>"), "{xml}");
        assert!(xml.contains("<feature>with-defaults</feature>"), "{xml}");
    }

    #[test]
    fn data_is_valid_against_the_module() {
        let context = schema::context().expect("schema loads");
        let mut tree = data(context, DATASTORES).expect("library data");
        tree.validate(yang3::data::DataValidationFlags::PRESENT)
            .expect("valid yang-library data");
    }
}
