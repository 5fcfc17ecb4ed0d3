//! `copy-config` (RFC 6241 section 7.3): one datastore, or inline data,
//! replaces another datastore.

use crate::netconf::error::RpcError;
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::Element;

use super::{OperationContext, params};

/// Replaces `target` with `source`.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    params::reject_unknown(operation, &["target", "source"])?;
    let target = params::datastore(operation, "target")?;
    let source = params::source(context.rpc, operation)?;
    context
        .datastore()
        .copy_config(context.session_id, source, target)
        .await?;
    Ok(ReplyBody::Ok)
}
