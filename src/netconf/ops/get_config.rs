//! `get-config` (RFC 6241 section 7.1): one configuration datastore.

use crate::datastore::{ReadRequest, ReadSource};
use crate::netconf::error::RpcError;
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::{Element, NS_BASE};

use super::with_defaults::{self, NS_WITH_DEFAULTS};
use super::{OperationContext, params};

/// Returns the `source` datastore, filtered.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    params::reject_unknown_in(
        operation,
        &[
            (NS_BASE, "source"),
            (NS_BASE, "filter"),
            (NS_WITH_DEFAULTS, "with-defaults"),
        ],
    )?;
    let source = params::datastore(operation, "source")?;
    let filter = params::filter(context.rpc, operation)?;
    let with_defaults = with_defaults::parameter(operation, NS_WITH_DEFAULTS)?;
    let mut request = ReadRequest::new(ReadSource::Configuration(source), filter);
    request.with_defaults = with_defaults;
    let data = context.datastore().read(request).await?;
    Ok(ReplyBody::Data(data))
}
