//! `copy-config` (RFC 6241 section 7.3): one datastore, or inline data,
//! replaces another datastore.

use crate::netconf::error::RpcError;
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::{Element, NS_BASE};

use super::with_defaults::{self, NS_WITH_DEFAULTS};
use super::{OperationContext, params};

/// Replaces `target` with `source`.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    params::reject_unknown_in(
        operation,
        &[
            (NS_BASE, "target"),
            (NS_BASE, "source"),
            (NS_WITH_DEFAULTS, "with-defaults"),
        ],
    )?;
    // with-defaults (RFC 6243 section 4.5.3) shapes the copy only when the
    // target is a URL, which this server does not have. A datastore target
    // always receives the source's explicit data, so the value is only
    // checked.
    with_defaults::parameter(operation, NS_WITH_DEFAULTS)?;
    let target = params::datastore(operation, "target")?;
    let source = params::source(context.rpc, operation)?;
    context
        .datastore()
        .copy_config(context.session_id, source, target)
        .await?;
    Ok(ReplyBody::Ok)
}
