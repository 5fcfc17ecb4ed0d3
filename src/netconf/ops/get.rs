//! `get` (RFC 6241 section 7.7): running configuration and state data.

use crate::netconf::error::RpcError;
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::Element;

use super::{OperationContext, params};

/// Returns running plus operational state, filtered.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    params::reject_unknown(operation, &["filter"])?;
    let filter = params::filter(context.rpc, operation)?;
    let state = context.server.state().state_nodes();
    let data = context.datastore().get(filter, state).await?;
    Ok(ReplyBody::Data(data))
}
