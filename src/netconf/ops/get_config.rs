//! `get-config` (RFC 6241 section 7.1): one configuration datastore.

use crate::netconf::error::RpcError;
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::Element;

use super::{OperationContext, params};

/// Returns the `source` datastore, filtered.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    params::reject_unknown(operation, &["source", "filter"])?;
    let source = params::datastore(operation, "source")?;
    let filter = params::filter(context.rpc, operation)?;
    let data = context.datastore().get_config(source, filter).await?;
    Ok(ReplyBody::Data(data))
}
