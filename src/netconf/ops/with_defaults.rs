//! The `with-defaults` parameter (RFC 6243 section 4.5) that selects how
//! a retrieval reports default values.

use crate::datastore::WithDefaults;
use crate::netconf::error::{ErrorInfo, ErrorType, RpcError};
use crate::netconf::xml::Element;

/// Namespace of `ietf-netconf-with-defaults`, which adds the parameter to
/// `get`, `get-config` and `copy-config`.
pub const NS_WITH_DEFAULTS: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults";

/// Reads the optional `<with-defaults>` child of `operation` in
/// `namespace`. Every mode of the enumeration is supported, so any other
/// value is `invalid-value`.
pub fn parameter(operation: &Element, namespace: &str) -> Result<Option<WithDefaults>, RpcError> {
    let Some(element) = operation.child(namespace, "with-defaults") else {
        return Ok(None);
    };
    let value = element.trimmed_text();
    match WithDefaults::parse(value) {
        Some(mode) => Ok(Some(mode)),
        None => Err(RpcError::invalid_value(
            ErrorType::Protocol,
            format!(
                "with-defaults {value:?} is not a retrieval mode; use report-all, report-all-tagged, trim or explicit"
            ),
        )
        .with_info(ErrorInfo::BadElement("with-defaults".into()))),
    }
}
