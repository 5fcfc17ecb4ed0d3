//! `edit-data` (RFC 8526 section 3.1.2): `edit-config` addressed by an
//! NMDA datastore identity, applied by the same edit engine.

use crate::datastore::DefaultOperation;
use crate::netconf::error::{ErrorInfo, ErrorType, RpcError};
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::Element;

use super::edit_config::{config_content, inline_config};
use super::nmda::{self, NS_NMDA, NmdaDatastore};
use super::{OperationContext, params};

/// Applies the `<config>` content to the `datastore`.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    params::reject_unknown_in(
        operation,
        &[
            (NS_NMDA, "datastore"),
            (NS_NMDA, "default-operation"),
            (NS_NMDA, "config"),
            (NS_NMDA, "url"),
        ],
    )?;

    let target = match nmda::datastore(operation, context.rpc)? {
        NmdaDatastore::Conventional(datastore) => datastore,
        NmdaDatastore::Operational => {
            return Err(RpcError::invalid_value(
                ErrorType::Protocol,
                "datastore ds:operational is not writable; use ds:running or ds:candidate",
            )
            .with_info(ErrorInfo::BadElement("datastore".into())));
        }
    };

    let default_operation = match operation.child(NS_NMDA, "default-operation") {
        None => DefaultOperation::default(),
        Some(element) => {
            let value = element.trimmed_text();
            DefaultOperation::parse(value).ok_or_else(|| {
                RpcError::invalid_value(
                    ErrorType::Protocol,
                    format!("default-operation {value:?} is invalid; use merge, replace or none"),
                )
                .with_info(ErrorInfo::BadElement("default-operation".into()))
            })?
        }
    };

    let config = inline_config(operation, NS_NMDA)?;

    let content = config_content(&[context.rpc, operation], config)?;
    context
        .datastore()
        .edit_config(context.session_id, target, default_operation, content)
        .await?;
    Ok(ReplyBody::Ok)
}
