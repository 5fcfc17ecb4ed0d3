//! The capabilities the server advertises in its hello.

use crate::schema;

/// NETCONF base protocol 1.0, end-of-message framing.
pub const BASE_1_0: &str = "urn:ietf:params:netconf:base:1.0";
/// NETCONF base protocol 1.1, chunked framing.
pub const BASE_1_1: &str = "urn:ietf:params:netconf:base:1.1";
/// `edit-config` may target running directly.
pub const WRITABLE_RUNNING: &str = "urn:ietf:params:netconf:capability:writable-running:1.0";
/// The candidate datastore with `commit` and `discard-changes`.
pub const CANDIDATE: &str = "urn:ietf:params:netconf:capability:candidate:1.0";
/// Confirmed commits with `persist`, `persist-id` and `cancel-commit`.
pub const CONFIRMED_COMMIT: &str = "urn:ietf:params:netconf:capability:confirmed-commit:1.1";
/// `error-option` `rollback-on-error`.
pub const ROLLBACK_ON_ERROR: &str = "urn:ietf:params:netconf:capability:rollback-on-error:1.0";
/// The `validate` operation and `test-option`.
pub const VALIDATE: &str = "urn:ietf:params:netconf:capability:validate:1.1";
/// The startup datastore, loaded at boot.
pub const STARTUP: &str = "urn:ietf:params:netconf:capability:startup:1.0";
/// The with-defaults capability (RFC 6243 section 4): explicit is the basic
/// mode, and a `get`, `get-config` or `get-data` may request every other
/// mode.
pub const WITH_DEFAULTS: &str = "urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit&also-supported=report-all,report-all-tagged,trim";
/// Event notifications with `create-subscription` (RFC 5277).
pub const NOTIFICATION: &str = "urn:ietf:params:netconf:capability:notification:1.0";
/// Requests are served while a subscription is active (RFC 5277 section 6).
pub const INTERLEAVE: &str = "urn:ietf:params:netconf:capability:interleave:1.0";
/// XPath filters in `get` and `get-config` (RFC 6241 section 8.9).
pub const XPATH: &str = "urn:ietf:params:netconf:capability:xpath:1.0";

/// Returns every capability URI of the server hello: the protocol
/// capabilities, then one per YANG module in the form of RFC 6020 section
/// 5.6.4 (`namespace?module=name&revision=date[&features=a,b]`).
pub fn server_capabilities() -> Result<Vec<String>, schema::SchemaError> {
    let mut capabilities: Vec<String> = [
        BASE_1_0,
        BASE_1_1,
        WRITABLE_RUNNING,
        CANDIDATE,
        CONFIRMED_COMMIT,
        ROLLBACK_ON_ERROR,
        VALIDATE,
        STARTUP,
        NOTIFICATION,
        INTERLEAVE,
        XPATH,
    ]
    .iter()
    .map(|uri| (*uri).to_owned())
    .collect();

    let context = schema::context()?;
    capabilities.push(WITH_DEFAULTS.to_owned());
    capabilities.push(super::yang_library::capability(context));
    for module in context.modules(false) {
        let mut uri = format!("{}?module={}", module.namespace(), module.name());
        if let Some(revision) = module.revision() {
            uri.push_str("&revision=");
            uri.push_str(revision);
        }
        let features: Vec<&str> = schema::MODULES
            .iter()
            .find(|source| source.name == module.name())
            .map(|source| source.features.to_vec())
            .unwrap_or_default();
        if !features.is_empty() {
            uri.push_str("&features=");
            uri.push_str(&features.join(","));
        }
        capabilities.push(uri);
    }
    Ok(capabilities)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_advertised_with_revision() {
        let capabilities = server_capabilities().expect("schema loads");
        assert!(
            capabilities
                .contains(&"urn:ztpd:yang:ztpd-ztp?module=ztpd-ztp&revision=2026-12-04".to_owned())
        );
        assert!(capabilities.contains(
            &"urn:ietf:params:xml:ns:netconf:base:1.0?module=ietf-netconf&revision=2011-06-01&features=writable-running,candidate,confirmed-commit,rollback-on-error,validate,startup,xpath".to_owned()
        ));
        assert!(
            capabilities
                .iter()
                .any(|uri| uri.contains("module=ietf-inet-types"))
        );
        // libyang's own modules are listed too, as in the YANG library.
        assert!(
            capabilities
                .iter()
                .any(|uri| uri.contains("module=ietf-yang-metadata&"))
        );
    }

    #[test]
    fn with_defaults_and_yang_library_advertised() {
        let capabilities = server_capabilities().expect("schema loads");
        assert!(capabilities.contains(&WITH_DEFAULTS.to_owned()));
        let context = schema::context().expect("schema loads");
        let library = format!(
            "urn:ietf:params:netconf:capability:yang-library:1.1?revision=2019-01-04&content-id={}",
            super::super::yang_library::content_id(context)
        );
        assert!(capabilities.contains(&library), "{capabilities:?}");
        assert!(capabilities.iter().any(|uri| {
            uri.ends_with("?module=ietf-netconf-nmda&revision=2019-01-07&features=with-defaults")
        }));
    }
}
