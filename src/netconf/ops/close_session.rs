//! `close-session` (RFC 6241 section 7.8).

use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::Element;

use super::{OperationContext, Outcome, params};

/// Replies `<ok/>`. The session then releases its locks and ends.
pub fn handle(context: &OperationContext<'_>, operation: &Element) -> Outcome {
    if let Err(error) = params::reject_unknown(operation, &[]) {
        return Outcome::Reply(ReplyBody::Errors(vec![error]));
    }
    tracing::debug!(session_id = context.session_id, "close-session requested");
    Outcome::Close(ReplyBody::Ok)
}
