//! `edit-config` (RFC 6241 section 7.2).

use crate::datastore::{DefaultOperation, EditOptions, ErrorOption, TestOption, normalize};
use crate::netconf::error::{ErrorInfo, ErrorType, RpcError};
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::{Element, NS_BASE, in_scope_prefixes};

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
    let default_operation = match params::text(operation, "default-operation") {
        None => DefaultOperation::default(),
        Some(value) => DefaultOperation::parse(value).ok_or_else(|| {
            RpcError::invalid_value(
                ErrorType::Protocol,
                format!("default-operation {value:?} is invalid; use merge, replace or none"),
            )
            .with_info(ErrorInfo::BadElement("default-operation".into()))
        })?,
    };

    // test-option: test-then-set (the default), set or test-only.
    let test_option = match params::text(operation, "test-option") {
        None | Some("test-then-set") => TestOption::TestThenSet,
        Some("set") => TestOption::Set,
        Some("test-only") => TestOption::TestOnly,
        Some(other) => {
            return Err(RpcError::invalid_value(
                ErrorType::Protocol,
                format!("test-option {other:?} is invalid; use test-then-set, set or test-only"),
            )
            .with_info(ErrorInfo::BadElement("test-option".into())));
        }
    };

    // error-option: stop-on-error (the default), continue-on-error or
    // rollback-on-error.
    let error_option = match params::text(operation, "error-option") {
        None | Some("stop-on-error") => ErrorOption::StopOnError,
        Some("continue-on-error") => ErrorOption::ContinueOnError,
        Some("rollback-on-error") => ErrorOption::RollbackOnError,
        Some(other) => {
            return Err(RpcError::invalid_value(
                ErrorType::Protocol,
                format!(
                    "error-option {other:?} is invalid; use stop-on-error, continue-on-error or rollback-on-error"
                ),
            )
            .with_info(ErrorInfo::BadElement("error-option".into())));
        }
    };

    let config = inline_config(operation, NS_BASE)?;
    let content = config_content(&[context.rpc, operation], config)?;
    let options = EditOptions {
        default_operation,
        test_option,
        error_option,
    };
    match context
        .datastore()
        .edit_config_with(context.session_id, target, options, content)
        .await
    {
        Ok(()) => Ok(ReplyBody::Ok),
        Err(errors) => Ok(ReplyBody::Errors(errors)),
    }
}

/// Returns the `<config>` parameter, in `namespace`, of `edit-config` or
/// `edit-data`. The `<url>` alternative is `operation-not-supported`.
pub fn inline_config<'a>(operation: &'a Element, namespace: &str) -> Result<&'a Element, RpcError> {
    if operation.child(namespace, "url").is_some() {
        return Err(RpcError::operation_not_supported(
            ErrorType::Protocol,
            "<url> is not supported by this server; send the data in <config>",
        ));
    }
    operation.child(namespace, "config").ok_or_else(|| {
        RpcError::missing_element(
            ErrorType::Protocol,
            "config",
            format!("<{}> needs a <config> parameter", operation.name),
        )
    })
}

/// Checks the elements of a `<config>` parameter and writes them out as a
/// standalone XML document for libyang. `ancestors` are the elements around
/// `config` from `<rpc>` down; their namespace prefixes stay in scope for
/// values inside.
pub fn config_content(ancestors: &[&Element], config: &Element) -> Result<String, RpcError> {
    let mut elements = config.children.clone();
    for element in &elements {
        check_namespaces(element, "config")?;
    }
    normalize::lowercase_names(&mut elements);

    let mut scope = ancestors.to_vec();
    scope.push(config);
    let inherited = in_scope_prefixes(&scope);
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
