//! `get-schema` (RFC 6022 section 3.1): the text of a YANG module.
//!
//! Modules shipped in `yang/` are returned byte for byte. libyang's own
//! modules without a shipped text, and every module in YIN, are printed
//! by libyang from the parsed module.

use std::borrow::Cow;

use yang3::schema::{SchemaModule, SchemaOutputFormat, SchemaPrinterFlags};

use crate::netconf::error::{ErrorInfo, ErrorType, RpcError};
use crate::netconf::monitoring::NS_MONITORING;
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::{Element, escape};
use crate::schema;

use super::nmda::resolve_identity;
use super::{OperationContext, params};

/// A schema language `get-schema` can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Yang,
    Yin,
}

/// Returns the schema named by `identifier`, `version` and `format`.
pub fn handle(context: &OperationContext<'_>, operation: &Element) -> Result<ReplyBody, RpcError> {
    params::reject_unknown_in(
        operation,
        &[
            (NS_MONITORING, "identifier"),
            (NS_MONITORING, "version"),
            (NS_MONITORING, "format"),
        ],
    )?;
    let Some(identifier) = operation.child(NS_MONITORING, "identifier") else {
        return Err(RpcError::missing_element(
            ErrorType::Protocol,
            "identifier",
            "<get-schema> needs an <identifier> parameter: the name of a YANG module",
        ));
    };
    let identifier = identifier.trimmed_text();
    let version = operation
        .child(NS_MONITORING, "version")
        .map(Element::trimmed_text);
    let format = format(operation, context.rpc)?;

    let yang_context = schema::context().map_err(|err| {
        RpcError::operation_failed(ErrorType::Application, format!("schema unavailable: {err}"))
    })?;
    let modules: Vec<SchemaModule<'_>> = yang_context
        .modules(false)
        .filter(|module| module.name() == identifier)
        .collect();
    let revisions: Vec<Option<&str>> = modules.iter().map(SchemaModule::revision).collect();
    let index = select_version(identifier, &revisions, version)?;
    let Some(module) = modules.get(index) else {
        return Err(RpcError::operation_failed(
            ErrorType::Application,
            format!("schema {identifier:?} vanished while it was read"),
        ));
    };

    let text = module_text(module, format)?;
    Ok(ReplyBody::Output(format!(
        "<data xmlns=\"{NS_MONITORING}\">{}</data>",
        escape(&text)
    )))
}

/// Reads the optional `<format>` identity; `yang` when absent.
fn format(operation: &Element, rpc: &Element) -> Result<Format, RpcError> {
    let Some(element) = operation.child(NS_MONITORING, "format") else {
        return Ok(Format::Yang);
    };
    let value = element.trimmed_text();
    let invalid = |reason: String| {
        RpcError::invalid_value(ErrorType::Protocol, reason)
            .with_info(ErrorInfo::BadElement("format".into()))
    };
    let identity = resolve_identity(value, &[element, operation, rpc])
        .map_err(|reason| invalid(format!("format {value:?} is invalid: {reason}")))?;
    // An unprefixed value is in the namespace of <format>, which is
    // ietf-netconf-monitoring.
    let namespace = identity.namespace.as_deref().unwrap_or(NS_MONITORING);
    match (namespace, identity.name.as_str()) {
        (NS_MONITORING, "yang") => Ok(Format::Yang),
        (NS_MONITORING, "yin") => Ok(Format::Yin),
        _ => Err(invalid(format!(
            "format {value:?} is not available on this server; use yang or yin"
        ))),
    }
}

/// Picks the schema among the `revisions` of module `identifier` that are
/// loaded, following RFC 6022 section 3.1: no match is `invalid-value`, and
/// several matches without a `version` is `operation-failed` with
/// `data-not-unique`. A module without revision has the version "".
fn select_version(
    identifier: &str,
    revisions: &[Option<&str>],
    version: Option<&str>,
) -> Result<usize, RpcError> {
    let available = || {
        revisions
            .iter()
            .map(|revision| format!("{:?}", revision.unwrap_or("")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if revisions.is_empty() {
        return Err(RpcError::invalid_value(
            ErrorType::Application,
            format!("no schema {identifier:?} exists on this server"),
        )
        .with_info(ErrorInfo::BadElement("identifier".into())));
    }
    match version {
        Some(version) => revisions
            .iter()
            .position(|revision| revision.unwrap_or("") == version)
            .ok_or_else(|| {
                RpcError::invalid_value(
                    ErrorType::Application,
                    format!(
                        "schema {identifier:?} has no version {version:?}; available: {}",
                        available()
                    ),
                )
                .with_info(ErrorInfo::BadElement("version".into()))
            }),
        None if revisions.len() == 1 => Ok(0),
        None => Err(RpcError::operation_failed(
            ErrorType::Application,
            format!(
                "schema {identifier:?} exists in more than one version ({}); name one in <version>",
                available()
            ),
        )
        .with_app_tag("data-not-unique")),
    }
}

/// Returns the module text in `format`.
fn module_text(module: &SchemaModule<'_>, format: Format) -> Result<Cow<'static, str>, RpcError> {
    if format == Format::Yang
        && let Some(text) = schema::module_text(module.name(), module.revision())
    {
        return Ok(Cow::Borrowed(text));
    }
    let output = match format {
        Format::Yang => SchemaOutputFormat::YANG,
        Format::Yin => SchemaOutputFormat::YIN,
    };
    module
        .print_string(output, SchemaPrinterFlags::empty())
        .map(Cow::Owned)
        .map_err(|err| {
            RpcError::operation_failed(
                ErrorType::Application,
                format!("cannot print schema {}: {err}", module.name()),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netconf::error::ErrorTag;

    #[test]
    fn single_version_selected_without_version() {
        assert_eq!(
            select_version("m", &[Some("2020-01-01")], None).expect("one"),
            0
        );
    }

    #[test]
    fn version_selects_among_several() {
        let revisions = [Some("2019-01-01"), Some("2020-01-01")];
        assert_eq!(
            select_version("m", &revisions, Some("2020-01-01")).expect("found"),
            1
        );
    }

    #[test]
    fn several_versions_without_version_not_unique() {
        let revisions = [Some("2019-01-01"), Some("2020-01-01")];
        let error = select_version("m", &revisions, None).expect_err("ambiguous");
        assert_eq!(error.tag, ErrorTag::OperationFailed);
        assert_eq!(error.app_tag.as_deref(), Some("data-not-unique"));
    }

    #[test]
    fn unknown_schema_or_version_invalid_value() {
        let error = select_version("m", &[], None).expect_err("unknown");
        assert_eq!(error.tag, ErrorTag::InvalidValue);
        let error =
            select_version("m", &[Some("2020-01-01")], Some("2021-01-01")).expect_err("version");
        assert_eq!(error.tag, ErrorTag::InvalidValue);
        assert!(error.message.contains("2021-01-01"), "{}", error.message);
    }

    #[test]
    fn module_without_revision_has_empty_version() {
        assert_eq!(select_version("m", &[None], Some("")).expect("found"), 0);
    }

    #[test]
    fn yin_printed_by_libyang() {
        let context = schema::context().expect("schema");
        let module = context
            .get_module_implemented("ztpd-ztp")
            .expect("ztpd-ztp");
        let text = module_text(&module, Format::Yin).expect("prints");
        assert!(
            text.contains(r#"<module name="ztpd-ztp""#),
            "{}",
            &text[..text.len().min(300)]
        );
    }

    #[test]
    fn yang_text_is_the_shipped_file() {
        let context = schema::context().expect("schema");
        for source in schema::MODULES.iter().chain(schema::BUILT_IN_MODULES) {
            let module = context
                .get_module(source.name, Some(source.revision))
                .unwrap_or_else(|| panic!("{} loaded", source.name));
            let text = module_text(&module, Format::Yang).expect("text");
            assert_eq!(text, source.text, "{}", source.name);
        }
    }
}
