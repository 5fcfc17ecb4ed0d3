//! `discard-changes` (RFC 6241 section 8.3.4.2): candidate becomes running
//! again.

use crate::netconf::error::RpcError;
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::Element;

use super::{OperationContext, params};

/// Discards uncommitted candidate changes.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    params::reject_unknown(operation, &[])?;
    context
        .datastore()
        .discard_changes(context.session_id)
        .await?;
    Ok(ReplyBody::Ok)
}
