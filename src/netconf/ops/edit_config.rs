//! `edit-config` (RFC 6241 section 7.2).

use crate::datastore::{DefaultOperation, normalize};
use crate::netconf::error::{ErrorType, RpcError};
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::{Element, NS_BASE};

use super::{OperationContext, params};

/// Applies the `<config>` content to the `target` datastore.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    params::reject_unknown(
        operation,
        &[
            "target",
            "default-operation",
            "test-option",
            "error-option",
            "config",
            "url",
        ],
    )?;

    // target: running or candidate.
    let target = params::datastore(operation, "target")?;

    // default-operation: merge (the default), replace or none.
    let default_operation = match operation.child(NS_BASE, "default-operation") {
        None => DefaultOperation::default(),
        Some(element) => {
            let value = element.trimmed_text();
            DefaultOperation::parse(value).ok_or_else(|| {
                RpcError::invalid_value(
                    ErrorType::Protocol,
                    format!("default-operation {value:?} is invalid; use merge, replace or none"),
                )
            })?
        }
    };

    // test-option: only the default, test-then-set, which this server
    // always does.
    if let Some(element) = operation.child(NS_BASE, "test-option")
        && element.trimmed_text() != "test-then-set"
    {
        return Err(RpcError::operation_not_supported(
            ErrorType::Protocol,
            format!(
                "test-option {:?} is not supported; every edit is validated before it is applied",
                element.trimmed_text()
            ),
        ));
    }

    // error-option: only the default, stop-on-error. An edit with an error
    // changes nothing.
    if let Some(element) = operation.child(NS_BASE, "error-option")
        && element.trimmed_text() != "stop-on-error"
    {
        return Err(RpcError::operation_not_supported(
            ErrorType::Protocol,
            format!(
                "error-option {:?} is not supported; use stop-on-error",
                element.trimmed_text()
            ),
        ));
    }

    // config: inline data only.
    if operation.child(NS_BASE, "url").is_some() {
        return Err(RpcError::operation_not_supported(
            ErrorType::Protocol,
            "<url> is not supported by this server; send the data in <config>",
        ));
    }
    let Some(config) = operation.child(NS_BASE, "config") else {
        return Err(RpcError::missing_element(
            ErrorType::Protocol,
            "config",
            "<edit-config> needs a <config> parameter",
        ));
    };

    let content = config_content(context.rpc, operation, config)?;
    context
        .datastore()
        .edit_config(context.session_id, target, default_operation, content)
        .await?;
    Ok(ReplyBody::Ok)
}

/// Checks the top-level elements of `<config>` and writes them out as a
/// standalone XML document for libyang.
pub(super) fn config_content(
    rpc: &Element,
    operation: &Element,
    config: &Element,
) -> Result<String, RpcError> {
    let mut elements = config.children.clone();
    for element in &elements {
        check_namespaces(element, "config")?;
    }
    normalize::lowercase_names(&mut elements);

    // Prefixes declared on the envelope stay in scope for values inside.
    let inherited: Vec<(String, String)> = [rpc, operation, config]
        .iter()
        .flat_map(|element| element.prefixes.iter().cloned())
        .collect();
    let mut content = String::new();
    for element in &elements {
        element.write_subtree(&inherited, &mut content);
    }
    Ok(content)
}

/// Checks that `element` and its descendants are in namespaces of this
/// server's YANG modules, naming the first element that is not.
fn check_namespaces(element: &Element, parent: &str) -> Result<(), RpcError> {
    let Some(namespace) = element.namespace.as_deref() else {
        return Err(RpcError::unknown_namespace(
            ErrorType::Application,
            &element.name,
            "",
            format!(
                "element <{}> inside <{parent}> has no namespace; declare the namespace of its YANG module with xmlns",
                element.name
            ),
        ));
    };
    if !crate::schema::is_data_namespace(namespace) {
        return Err(RpcError::unknown_namespace(
            ErrorType::Application,
            &element.name,
            namespace,
            format!(
                "element <{}> inside <{parent}> is in namespace {namespace:?}, which no YANG module of this server defines",
                element.name
            ),
        ));
    }
    for child in &element.children {
        check_namespaces(child, &element.name)?;
    }
    Ok(())
}
