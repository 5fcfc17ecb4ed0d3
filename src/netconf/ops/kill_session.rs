//! `kill-session` (RFC 6241 section 7.9): ends another session, releasing
//! its locks and undoing its non-persistent confirmed commit.

use crate::netconf::error::{ErrorType, RpcError};
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::Element;

use super::{OperationContext, params};

/// Ends the session named by `session-id`.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    params::reject_unknown(operation, &["session-id"])?;

    // session-id: another open session.
    let Some(value) = params::text(operation, "session-id") else {
        return Err(RpcError::missing_element(
            ErrorType::Protocol,
            "session-id",
            "<kill-session> needs a <session-id> parameter",
        ));
    };
    let target = match value.parse::<u32>() {
        Ok(id) if id >= 1 => id,
        _ => {
            return Err(RpcError::invalid_value(
                ErrorType::Protocol,
                format!("session-id {value:?} is invalid; give the number of an open session"),
            )
            .with_info(crate::netconf::error::ErrorInfo::BadElement(
                "session-id".into(),
            )));
        }
    };
    if target == context.session_id {
        return Err(RpcError::invalid_value(
            ErrorType::Protocol,
            format!("session-id {target} is this session; use <close-session> to end it"),
        ));
    }
    if !context
        .server
        .sessions()
        .kill_by(target, context.session_id)
    {
        return Err(RpcError::invalid_value(
            ErrorType::Protocol,
            format!("no session with session-id {target} is open"),
        ));
    }

    // Release its locks and confirmed commit now, so they are free when
    // the reply arrives; the killed session's own clean-up finds nothing.
    context.datastore().end_session(target).await;
    tracing::info!(
        session_id = context.session_id,
        killed_session_id = target,
        "session killed"
    );
    Ok(ReplyBody::Ok)
}
