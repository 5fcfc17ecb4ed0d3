//! `cancel-commit` (RFC 6241 section 8.4.4.1): undoes a pending confirmed
//! commit.

use crate::netconf::error::RpcError;
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::Element;

use super::{OperationContext, params};

/// Restores running from before the pending confirmed commit.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    params::reject_unknown(operation, &["persist-id"])?;
    let persist_id = params::text(operation, "persist-id").map(str::to_owned);
    context
        .datastore()
        .cancel_commit(context.session_id, persist_id)
        .await?;
    Ok(ReplyBody::Ok)
}
