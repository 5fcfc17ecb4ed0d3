//! NETCONF operations, one module each, behind one dispatcher.
//!
//! Every request goes through [`dispatch`]: the operation is identified by
//! namespace and local name, its parameters are read by its module, the
//! datastore thread does the work, and the result becomes the reply body.

mod cancel_commit;
mod close_session;
mod commit;
mod copy_config;
mod create_subscription;
mod delete_config;
mod discard_changes;
mod edit_config;
mod edit_data;
mod get;
mod get_config;
mod get_data;
mod get_schema;
mod kill_session;
mod lock;
mod nmda;
mod params;
mod validate;
pub mod with_defaults;
mod ztp_rpcs;

use super::error::{ErrorType, RpcError};
use super::monitoring::NS_MONITORING;
use super::notifications::NS_NOTIFICATION;
use super::notifications::subscription::SessionSubscription;
use super::rpc::ReplyBody;
use super::session::Server;
use super::xml::{Element, NS_BASE};
use crate::datastore::{DatastoreHandle, SessionId, StateNode};
use crate::schema::namespaces;

/// Supplies the operational state that `get` adds to the configuration.
pub trait StateSource: Send + Sync {
    /// Returns the current state as data nodes.
    fn state_nodes(&self) -> Vec<StateNode>;
}

/// What an operation needs from its session.
pub struct OperationContext<'a> {
    pub session_id: SessionId,
    pub server: &'a Server,
    /// The `<rpc>` element, for namespace declarations that parameters
    /// inherit.
    pub rpc: &'a Element,
    /// The session's notification subscription (RFC 5277).
    pub subscription: &'a SessionSubscription,
}

impl OperationContext<'_> {
    /// Returns the datastore thread's handle.
    pub fn datastore(&self) -> &DatastoreHandle {
        self.server.datastore()
    }
}

/// The result of an operation.
pub enum Outcome {
    /// Send the reply and go on.
    Reply(ReplyBody),
    /// Send the reply, then end the session.
    Close(ReplyBody),
}

/// The operations this server implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Get,
    GetConfig,
    EditConfig,
    Commit,
    DiscardChanges,
    Lock,
    Unlock,
    CloseSession,
    KillSession,
    CopyConfig,
    DeleteConfig,
    Validate,
    CancelCommit,
    DownloadCertificate,
    DeleteCertificate,
    GetSchema,
    GetData,
    EditData,
    CreateSubscription,
}

impl Operation {
    /// Identifies the operation of an operation element.
    pub fn from_element(element: &Element) -> Option<Operation> {
        match (element.namespace.as_deref(), element.name.as_str()) {
            (Some(namespaces::ZTP), "download-certificate") => {
                return Some(Operation::DownloadCertificate);
            }
            (Some(namespaces::PKI), "delete-certificate") => {
                return Some(Operation::DeleteCertificate);
            }
            (Some(NS_MONITORING), "get-schema") => return Some(Operation::GetSchema),
            (Some(nmda::NS_NMDA), "get-data") => return Some(Operation::GetData),
            (Some(nmda::NS_NMDA), "edit-data") => return Some(Operation::EditData),
            _ => {}
        }
        if element.is(NS_NOTIFICATION, "create-subscription") {
            return Some(Operation::CreateSubscription);
        }
        if element.namespace.as_deref() != Some(NS_BASE) {
            return None;
        }
        let operation = match element.name.as_str() {
            "get" => Operation::Get,
            "get-config" => Operation::GetConfig,
            "edit-config" => Operation::EditConfig,
            "commit" => Operation::Commit,
            "discard-changes" => Operation::DiscardChanges,
            "lock" => Operation::Lock,
            "unlock" => Operation::Unlock,
            "close-session" => Operation::CloseSession,
            "kill-session" => Operation::KillSession,
            "copy-config" => Operation::CopyConfig,
            "delete-config" => Operation::DeleteConfig,
            "validate" => Operation::Validate,
            "cancel-commit" => Operation::CancelCommit,
            _ => return None,
        };
        Some(operation)
    }
}

/// Runs the operation `element` and returns the reply to send.
pub async fn dispatch(context: &OperationContext<'_>, element: &Element) -> Outcome {
    let Some(operation) = Operation::from_element(element) else {
        let namespace = element.namespace.as_deref().unwrap_or("no namespace");
        let error = RpcError::operation_not_supported(
            ErrorType::Protocol,
            format!(
                "operation <{}> in {namespace} is not supported",
                element.name
            ),
        );
        return Outcome::Reply(ReplyBody::Errors(vec![error]));
    };

    let result = match operation {
        Operation::Get => get::handle(context, element).await,
        Operation::GetConfig => get_config::handle(context, element).await,
        Operation::EditConfig => edit_config::handle(context, element).await,
        Operation::Commit => commit::handle(context, element).await,
        Operation::DiscardChanges => discard_changes::handle(context, element).await,
        Operation::Lock => lock::handle_lock(context, element).await,
        Operation::Unlock => lock::handle_unlock(context, element).await,
        Operation::KillSession => kill_session::handle(context, element).await,
        Operation::CopyConfig => copy_config::handle(context, element).await,
        Operation::DeleteConfig => delete_config::handle(context, element).await,
        Operation::Validate => validate::handle(context, element).await,
        Operation::CancelCommit => cancel_commit::handle(context, element).await,
        Operation::DownloadCertificate => ztp_rpcs::download_certificate(context, element).await,
        Operation::DeleteCertificate => ztp_rpcs::delete_certificate(context, element).await,
        Operation::GetSchema => get_schema::handle(context, element),
        Operation::GetData => get_data::handle(context, element).await,
        Operation::EditData => edit_data::handle(context, element).await,
        Operation::CloseSession => return close_session::handle(context, element),
        Operation::CreateSubscription => create_subscription::handle(context, element),
    };
    match result {
        Ok(body) => Outcome::Reply(body),
        Err(error) => {
            tracing::info!(
                session_id = context.session_id,
                operation = ?operation,
                error_tag = error.tag.as_str(),
                error = %error.message,
                "operation failed"
            );
            Outcome::Reply(ReplyBody::Errors(vec![error]))
        }
    }
}
