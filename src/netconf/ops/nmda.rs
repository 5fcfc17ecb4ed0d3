//! Parameters of the NMDA operations (RFC 8526 section 3.1): the
//! `datastore` identity and identity values in general.

use crate::datastore::Datastore;
use crate::netconf::error::{ErrorInfo, ErrorType, RpcError};
use crate::netconf::xml::{Element, NS_BASE, in_scope_prefixes};
use crate::netconf::yang_library::NS_DATASTORES;

/// Namespace of `ietf-netconf-nmda`.
pub const NS_NMDA: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda";

/// A datastore of the NMDA (RFC 8342) that this server implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NmdaDatastore {
    /// A conventional configuration datastore.
    Conventional(Datastore),
    /// The operational state datastore: running plus all state.
    Operational,
}

impl NmdaDatastore {
    /// Returns the identity as a client would write it.
    pub fn name(self) -> String {
        match self {
            NmdaDatastore::Conventional(datastore) => format!("ds:{datastore}"),
            NmdaDatastore::Operational => "ds:operational".to_owned(),
        }
    }
}

/// An identity value resolved to its namespace and local name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub namespace: Option<String>,
    pub name: String,
}

/// Resolves an identityref value `prefix:name`, looking the prefix up in
/// the declarations of `scope`, innermost element first. An unprefixed
/// value has no namespace, because the element tree does not keep the
/// default namespace declarations.
pub fn resolve_identity(value: &str, scope: &[&Element]) -> Result<Identity, String> {
    let Some((prefix, name)) = value.split_once(':') else {
        return Ok(Identity {
            namespace: None,
            name: value.to_owned(),
        });
    };
    let outermost_first: Vec<&Element> = scope.iter().rev().copied().collect();
    let namespace = in_scope_prefixes(&outermost_first)
        .into_iter()
        .find(|(declared, _)| declared == prefix)
        .map(|(_, uri)| uri)
        .ok_or_else(|| format!("the prefix {prefix:?} of {value:?} is not declared"))?;
    Ok(Identity {
        namespace: Some(namespace),
        name: name.to_owned(),
    })
}

/// Reads the mandatory `<datastore>` parameter of `operation`. `rpc` is
/// the enclosing `<rpc>`, whose prefix declarations the value may use.
/// Every datastore the server does not implement is `invalid-value`
/// (RFC 8526 section 3.1.1 and 3.1.2).
pub fn datastore(operation: &Element, rpc: &Element) -> Result<NmdaDatastore, RpcError> {
    let Some(element) = operation.child(NS_NMDA, "datastore") else {
        return Err(RpcError::missing_element(
            ErrorType::Protocol,
            "datastore",
            format!(
                "<{}> needs a <datastore> parameter, such as ds:running with xmlns:ds=\"{NS_DATASTORES}\"",
                operation.name
            ),
        ));
    };
    datastore_value(element, &[element, operation, rpc])
}

/// Reads the `<target><datastore>` form of `lock` and `unlock` that
/// `ietf-netconf-nmda` adds. Returns `None` when the target is not in
/// that form. Only writable datastores can be locked; any other is
/// `invalid-value`, as the augment in `ietf-netconf-nmda` requires.
pub fn lock_target(operation: &Element, rpc: &Element) -> Option<Result<Datastore, RpcError>> {
    let target = operation.child(NS_BASE, "target")?;
    let element = target.child(NS_NMDA, "datastore")?;
    let scope = [element, target, operation, rpc];
    Some(match datastore_value(element, &scope) {
        Ok(NmdaDatastore::Conventional(datastore)) => Ok(datastore),
        Ok(NmdaDatastore::Operational) => Err(RpcError::invalid_value(
            ErrorType::Protocol,
            format!(
                "<{}> is not supported on ds:operational, which is not writable; use ds:running or ds:candidate",
                operation.name
            ),
        )
        .with_info(ErrorInfo::BadElement("datastore".into()))),
        Err(error) => Err(error),
    })
}

/// Resolves the identity in `element`, a `datastore` leaf, with the prefix
/// declarations of `scope`.
fn datastore_value(element: &Element, scope: &[&Element]) -> Result<NmdaDatastore, RpcError> {
    let value = element.trimmed_text();
    let invalid = |reason: String| {
        RpcError::invalid_value(ErrorType::Protocol, reason)
            .with_info(ErrorInfo::BadElement("datastore".into()))
    };
    let identity = resolve_identity(value, scope)
        .map_err(|reason| invalid(format!("datastore {value:?} is invalid: {reason}")))?;
    if identity.namespace.as_deref() != Some(NS_DATASTORES) {
        return Err(invalid(format!(
            "datastore {value:?} is not an identity of ietf-datastores; write it with a prefix bound to {NS_DATASTORES}, such as ds:running"
        )));
    }
    match identity.name.as_str() {
        "running" => Ok(NmdaDatastore::Conventional(Datastore::Running)),
        "candidate" => Ok(NmdaDatastore::Conventional(Datastore::Candidate)),
        "startup" => Ok(NmdaDatastore::Conventional(Datastore::Startup)),
        "operational" => Ok(NmdaDatastore::Operational),
        _ => Err(invalid(format!(
            "datastore {value:?} is not supported by this server; use ds:running, ds:candidate, ds:startup or ds:operational"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netconf::error::ErrorTag;
    use crate::netconf::xml;

    fn parse_datastore(text: &str) -> Result<NmdaDatastore, RpcError> {
        let rpc = xml::parse(&format!(
            r#"<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:ds="{NS_DATASTORES}"><get-data xmlns="{NS_NMDA}">{text}</get-data></rpc>"#
        ))
        .expect("well-formed");
        datastore(&rpc.children[0], &rpc)
    }

    #[test]
    fn datastore_identities_resolved() {
        assert_eq!(
            parse_datastore("<datastore>ds:running</datastore>").expect("running"),
            NmdaDatastore::Conventional(Datastore::Running)
        );
        assert_eq!(
            parse_datastore(&format!(
                r#"<datastore xmlns:x="{NS_DATASTORES}">x:operational</datastore>"#
            ))
            .expect("operational"),
            NmdaDatastore::Operational
        );
        assert_eq!(
            parse_datastore("<datastore>ds:startup</datastore>").expect("startup"),
            NmdaDatastore::Conventional(Datastore::Startup)
        );
    }

    #[test]
    fn unsupported_datastores_are_invalid_value() {
        for value in ["ds:intended", "running", "nc:running", "zz:running"] {
            let error = parse_datastore(&format!(
                r#"<datastore xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">{value}</datastore>"#
            ))
            .expect_err(value);
            assert_eq!(error.tag, ErrorTag::InvalidValue, "{value}");
            assert!(error.message.contains(value), "{}", error.message);
        }
    }

    #[test]
    fn inner_prefix_declaration_wins() {
        // The rpc binds ds to the datastores namespace; the parameter
        // binds it to another, so ds:running is no datastore identity.
        let error =
            parse_datastore(r#"<datastore xmlns:ds="urn:example:other">ds:running</datastore>"#)
                .expect_err("ds is rebound");
        assert_eq!(error.tag, ErrorTag::InvalidValue);
    }

    #[test]
    fn missing_datastore_is_missing_element() {
        let error = parse_datastore("").expect_err("no datastore");
        assert_eq!(error.tag, ErrorTag::MissingElement);
    }
}
