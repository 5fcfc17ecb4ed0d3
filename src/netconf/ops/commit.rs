//! `commit` (RFC 6241 sections 8.3.4.1 and 8.4.5.1): candidate becomes
//! running, optionally as a confirmed commit.

use std::time::Duration;

use crate::datastore::Confirmed;
use crate::netconf::error::{ErrorType, RpcError};
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::{Element, NS_BASE};

use super::{OperationContext, params};

/// `confirm-timeout` when the request gives none (RFC 6241: 600 seconds).
pub const DEFAULT_CONFIRM_TIMEOUT: Duration = Duration::from_secs(600);

/// Commits the candidate datastore.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    params::reject_unknown(
        operation,
        &["confirmed", "confirm-timeout", "persist", "persist-id"],
    )?;

    // confirmed, confirm-timeout, persist: a confirmed commit.
    let confirmed = operation.child(NS_BASE, "confirmed").is_some();
    let timeout = params::text(operation, "confirm-timeout")
        .map(|value| match value.parse::<u32>() {
            Ok(seconds) if seconds >= 1 => Ok(Duration::from_secs(u64::from(seconds))),
            _ => Err(RpcError::invalid_value(
                ErrorType::Protocol,
                format!("confirm-timeout {value:?} is invalid; give 1 to 4294967295 seconds"),
            )),
        })
        .transpose()?;
    let persist = params::text(operation, "persist").map(str::to_owned);
    if !confirmed && (timeout.is_some() || persist.is_some()) {
        return Err(RpcError::missing_element(
            ErrorType::Protocol,
            "confirmed",
            "confirm-timeout and persist apply only to a confirmed commit; add <confirmed/>",
        ));
    }
    let confirmed = confirmed.then(|| Confirmed {
        timeout: timeout.unwrap_or(DEFAULT_CONFIRM_TIMEOUT),
        persist,
    });

    // persist-id: confirms a persistent confirmed commit.
    let persist_id = params::text(operation, "persist-id").map(str::to_owned);

    context
        .datastore()
        .commit_with(context.session_id, confirmed, persist_id)
        .await?;
    Ok(ReplyBody::Ok)
}
