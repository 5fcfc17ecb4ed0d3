//! `get-data` (RFC 8526 section 3.1.1): one NMDA datastore, filtered.

use crate::datastore::{Filter, ReadRequest, ReadSource, normalize};
use crate::netconf::error::{ErrorInfo, ErrorType, RpcError};
use crate::netconf::monitoring;
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::{Element, in_scope_prefixes};

use super::nmda::{self, NS_NMDA, NmdaDatastore};
use super::{OperationContext, params, with_defaults};

/// Parameters of the `origin` feature, which this server does not
/// implement.
const ORIGIN_PARAMETERS: &[&str] = &["with-origin", "origin-filter", "negated-origin-filter"];

/// Returns the data of the requested datastore inside
/// `<data xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-nmda">`.
pub async fn handle(
    context: &OperationContext<'_>,
    operation: &Element,
) -> Result<ReplyBody, RpcError> {
    params::reject_unknown_in(
        operation,
        &[
            (NS_NMDA, "datastore"),
            (NS_NMDA, "subtree-filter"),
            (NS_NMDA, "xpath-filter"),
            (NS_NMDA, "config-filter"),
            (NS_NMDA, "max-depth"),
            (NS_NMDA, "with-defaults"),
            (NS_NMDA, "with-origin"),
            (NS_NMDA, "origin-filter"),
            (NS_NMDA, "negated-origin-filter"),
        ],
    )?;
    let datastore = nmda::datastore(operation, context.rpc)?;
    reject_origin(operation, datastore)?;
    let filter = filter(context.rpc, operation)?;
    let config_filter = config_filter(operation)?;
    let max_depth = max_depth(operation)?;
    let with_defaults = with_defaults::parameter(operation, NS_NMDA)?;
    if with_defaults.is_some() && datastore == NmdaDatastore::Operational {
        // RFC 8526 section 3.1.1: with-defaults applies to operational
        // only with the :with-operational-defaults capability, which this
        // server does not advertise.
        return Err(RpcError::invalid_value(
            ErrorType::Protocol,
            "with-defaults is not supported for ds:operational; use it with ds:running or ds:candidate",
        )
        .with_info(ErrorInfo::BadElement("with-defaults".into())));
    }

    let source = match datastore {
        NmdaDatastore::Conventional(datastore) => ReadSource::Configuration(datastore),
        NmdaDatastore::Operational => ReadSource::Operational {
            state: monitoring::operational_state(context.server).await?,
        },
    };
    // The operational datastore contains the values in use, defaults included
    // (RFC 8342 section 5.3), so its default nodes are always reported.
    let with_defaults = match datastore {
        NmdaDatastore::Operational => Some(crate::datastore::read::WithDefaults::ReportAll),
        NmdaDatastore::Conventional(_) => with_defaults,
    };
    let request = ReadRequest {
        source,
        filter,
        with_defaults,
        config_filter,
        max_depth,
    };
    let data = context.datastore().read(request).await?;
    Ok(ReplyBody::Output(format!(
        "<data xmlns=\"{NS_NMDA}\">{data}</data>"
    )))
}

/// Rejects the origin parameters: on a datastore other than operational
/// with `invalid-value` as RFC 8526 section 3.1.1 requires, and on
/// operational because the server does not implement the feature.
fn reject_origin(operation: &Element, datastore: NmdaDatastore) -> Result<(), RpcError> {
    let Some(parameter) = ORIGIN_PARAMETERS
        .iter()
        .find(|name| operation.child(NS_NMDA, name).is_some())
    else {
        return Ok(());
    };
    if datastore != NmdaDatastore::Operational {
        return Err(RpcError::invalid_value(
            ErrorType::Protocol,
            format!(
                "<{parameter}> is only valid with ds:operational, not with {}",
                datastore.name()
            ),
        )
        .with_info(ErrorInfo::BadElement((*parameter).to_owned())));
    }
    Err(RpcError::operation_not_supported(
        ErrorType::Protocol,
        format!(
            "<{parameter}> is not supported: this server does not implement the origin feature of ietf-netconf-nmda"
        ),
    )
    .with_info(ErrorInfo::BadElement((*parameter).to_owned())))
}

/// Reads `subtree-filter` (its children are the filter) or `xpath-filter`
/// (an XPath expression with the prefixes in scope at that element).
fn filter(rpc: &Element, operation: &Element) -> Result<Option<Filter>, RpcError> {
    if let Some(xpath) = operation.child(NS_NMDA, "xpath-filter") {
        let namespaces = in_scope_prefixes(&[rpc, operation, xpath]);
        let filter = crate::datastore::xpath::XPathFilter::new(xpath.trimmed_text(), &namespaces)?;
        return Ok(Some(Filter::XPath(filter)));
    }
    let Some(subtree) = operation.child(NS_NMDA, "subtree-filter") else {
        return Ok(None);
    };
    let mut elements = subtree.children.clone();
    normalize::lowercase_filter_names(&mut elements);
    Ok(Some(Filter::Subtree(elements)))
}

fn config_filter(operation: &Element) -> Result<Option<bool>, RpcError> {
    let Some(element) = operation.child(NS_NMDA, "config-filter") else {
        return Ok(None);
    };
    match element.trimmed_text() {
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        other => Err(RpcError::invalid_value(
            ErrorType::Protocol,
            format!("config-filter {other:?} is not a boolean; use true or false"),
        )
        .with_info(ErrorInfo::BadElement("config-filter".into()))),
    }
}

fn max_depth(operation: &Element) -> Result<Option<u16>, RpcError> {
    let Some(element) = operation.child(NS_NMDA, "max-depth") else {
        return Ok(None);
    };
    let value = element.trimmed_text();
    if value == "unbounded" {
        return Ok(None);
    }
    match value.parse::<u16>() {
        Ok(depth) if depth >= 1 => Ok(Some(depth)),
        _ => Err(RpcError::invalid_value(
            ErrorType::Protocol,
            format!("max-depth {value:?} is invalid; use an integer in 1..65535 or unbounded"),
        )
        .with_info(ErrorInfo::BadElement("max-depth".into()))),
    }
}
