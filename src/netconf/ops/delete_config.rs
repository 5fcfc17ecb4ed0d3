//! `delete-config` (RFC 6241 section 7.4): deletes the startup datastore.

use crate::netconf::error::RpcError;
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::Element;

use super::{OperationContext, params};

/// Deletes `target`, which must be startup.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    params::reject_unknown(operation, &["target"])?;
    let target = params::datastore(operation, "target")?;
    context
        .datastore()
        .delete_config(context.session_id, target)
        .await?;
    Ok(ReplyBody::Ok)
}
