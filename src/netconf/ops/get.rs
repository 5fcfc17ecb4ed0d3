//! `get` (RFC 6241 section 7.7): running configuration and state data.

use crate::datastore::{ReadRequest, ReadSource};
use crate::netconf::error::RpcError;
use crate::netconf::monitoring;
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::{Element, NS_BASE};

use super::with_defaults::{self, NS_WITH_DEFAULTS};
use super::{OperationContext, params};

/// Returns running plus operational state (including `netconf-state` and
/// the YANG library), filtered.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    params::reject_unknown_in(
        operation,
        &[(NS_BASE, "filter"), (NS_WITH_DEFAULTS, "with-defaults")],
    )?;
    let filter = params::filter(context.rpc, operation)?;
    let with_defaults = with_defaults::parameter(operation, NS_WITH_DEFAULTS)?;
    let state = monitoring::operational_state(context.server).await?;
    let mut request = ReadRequest::new(ReadSource::Operational { state }, filter);
    request.with_defaults = with_defaults;
    let data = context.datastore().read(request).await?;
    Ok(ReplyBody::Data(data))
}
