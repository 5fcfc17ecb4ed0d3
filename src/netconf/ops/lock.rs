//! `lock` and `unlock` (RFC 6241 sections 7.5 and 7.6).

use crate::datastore::Datastore;
use crate::netconf::error::RpcError;
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::Element;

use super::{OperationContext, nmda, params};

/// Locks the `target` datastore for this session.
pub async fn handle_lock(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    let target = target(context, operation)?;
    context.datastore().lock(context.session_id, target).await?;
    Ok(ReplyBody::Ok)
}

/// Releases this session's lock on the `target` datastore.
pub async fn handle_unlock(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    let target = target(context, operation)?;
    context
        .datastore()
        .unlock(context.session_id, target)
        .await?;
    Ok(ReplyBody::Ok)
}

/// Reads the `target` of `lock` or `unlock`, in the RFC 6241 form or in the
/// `<datastore>` form of `ietf-netconf-nmda`.
fn target(context: &OperationContext<'_>, operation: &Element) -> Result<Datastore, RpcError> {
    params::reject_unknown(operation, &["target"])?;
    match nmda::lock_target(operation, context.rpc) {
        Some(target) => target,
        None => params::datastore(operation, "target"),
    }
}
