//! The RPCs of the ztpd modules: `ztpd-ztp:download-certificate` and
//! `ztpd-pki:delete-certificate`. The reconciler carries them out, so they
//! never race a download.

use crate::netconf::error::{ErrorType, RpcError};
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::Element;
use crate::pki::store::{validate_domain_name, validate_file_name};
use crate::schema::namespaces;
use crate::ztp::reconciler::ControlError;

use super::OperationContext;

/// Starts a download round now.
pub async fn download_certificate(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    if let Some(child) = operation.children.first() {
        return Err(RpcError::unknown_element(
            ErrorType::Application,
            &child.name,
            format!(
                "<download-certificate> takes no input; <{}> is not expected",
                child.name
            ),
        ));
    }
    context
        .server
        .ztp()
        .download_now()
        .await
        .map_err(control_error)?;
    Ok(ReplyBody::Ok)
}

/// Deletes a certificate file from a PKI domain.
pub async fn delete_certificate(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    let mut domain = None;
    let mut name = None;
    for child in &operation.children {
        let slot = match (child.namespace.as_deref(), child.name.as_str()) {
            (Some(namespaces::PKI), "domain") => &mut domain,
            (Some(namespaces::PKI), "name") => &mut name,
            _ => {
                return Err(RpcError::unknown_element(
                    ErrorType::Application,
                    &child.name,
                    format!("<{}> is not an input of <delete-certificate>", child.name),
                ));
            }
        };
        *slot = Some(child.trimmed_text().to_owned());
    }
    let missing = |leaf: &str| {
        RpcError::missing_element(
            ErrorType::Application,
            leaf,
            format!("<delete-certificate> needs the input leaf <{leaf}>"),
        )
    };
    let domain = domain.ok_or_else(|| missing("domain"))?;
    let name = name.ok_or_else(|| missing("name"))?;
    for result in [validate_domain_name(&domain), validate_file_name(&name)] {
        result.map_err(|err| RpcError::invalid_value(ErrorType::Application, err.to_string()))?;
    }

    context
        .server
        .ztp()
        .delete_certificate(domain, name)
        .await
        .map_err(control_error)?;
    Ok(ReplyBody::Ok)
}

fn control_error(err: ControlError) -> RpcError {
    let message = err.to_string();
    match err {
        ControlError::NotFound { .. } | ControlError::Invalid(_) => {
            RpcError::invalid_value(ErrorType::Application, message)
        }
        ControlError::Installed | ControlError::NoServers | ControlError::Stopped => {
            RpcError::operation_failed(ErrorType::Application, message)
        }
    }
}
