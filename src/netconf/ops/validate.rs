//! `validate` (RFC 6241 section 8.6.4.1): checks a datastore or inline
//! data against the schema without changing anything.

use crate::netconf::error::RpcError;
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::Element;

use super::{OperationContext, params};

/// Validates `source`.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    params::reject_unknown(operation, &["source"])?;
    let source = params::source(context.rpc, operation)?;
    context.datastore().validate(source).await?;
    Ok(ReplyBody::Ok)
}
