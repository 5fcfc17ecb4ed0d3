//! `commit` (RFC 6241 section 8.3.4.1): candidate becomes running.

use crate::netconf::error::{ErrorType, RpcError};
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::{Element, NS_BASE};

use super::{OperationContext, params};

/// Commits the candidate datastore.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    if operation.child(NS_BASE, "confirmed").is_some()
        || operation.child(NS_BASE, "persist-id").is_some()
    {
        return Err(RpcError::operation_not_supported(
            ErrorType::Protocol,
            "confirmed commit is not supported by this server",
        ));
    }
    params::reject_unknown(operation, &[])?;
    context.datastore().commit(context.session_id).await?;
    Ok(ReplyBody::Ok)
}
