//! XPath filters (RFC 6241 section 8.9, capability `:xpath`).
//!
//! A client writes the `select` expression with XML namespace prefixes
//! that are in scope at its `<filter>` element. libyang evaluates XPath with
//! module names as prefixes, so [`XPathFilter::new`] rewrites every prefix
//! of a name test to the name of the module with that namespace before
//! [`select`] evaluates the expression on a datastore. The selected nodes
//! are copied with their ancestors and list keys, as for subtree filters.

use std::ffi::CString;

use yang3::data::DataTree;

use super::filter::copy_selected;
use super::libyang_error::LibyangError;
use super::raw;
use crate::netconf::error::{ErrorType, RpcError};

/// Maximum length of a `select` expression, in bytes. libyang parses and
/// evaluates an expression without a time limit, so the length bounds that
/// work. Expressions for these YANG modules need well under 1 KiB (an
/// estimate from the paths and key values they contain).
pub const MAX_EXPRESSION_LENGTH: usize = 16 * 1024;

/// An XPath filter ready for libyang.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XPathFilter {
    /// The `select` attribute as the client wrote it, for error messages.
    pub select: String,
    /// The expression with module names as prefixes (libyang's JSON form).
    pub expression: String,
}

impl XPathFilter {
    /// Translates the `select` attribute of a `<filter>` element with the
    /// namespace declarations in scope there (see [`translate_prefixes`]).
    pub fn new(select: &str, namespaces: &[(String, String)]) -> Result<XPathFilter, RpcError> {
        Ok(XPathFilter {
            select: select.to_owned(),
            expression: translate_prefixes(select, namespaces)?,
        })
    }

    /// Checks that the expression parses and yields a node set, by
    /// evaluating it on a tree that holds only the schema's non-presence
    /// containers. Filters kept for later use, such as a subscription's,
    /// are checked this way when they are made.
    pub fn check(&self) -> Result<(), RpcError> {
        let context = crate::schema::context().map_err(|err| {
            RpcError::operation_failed(ErrorType::Application, format!("internal error: {err}"))
        })?;
        let mut tree = DataTree::new(context);
        // Without a node libyang checks only against the schema, which
        // lets an expression that is no node set through.
        let _ = tree.add_implicit(yang3::data::DataImplicitFlags::NO_STATE);
        select(&tree, self).map(|_| ())
    }
}

/// Rewrites the namespace prefixes of `select` to module names.
///
/// `namespaces` contains the `(prefix, namespace)` declarations in scope at the
/// `<filter>` element, outermost first, so a later declaration of a prefix
/// hides an earlier one. Text inside string literals stays as it is. An
/// undeclared prefix, or one bound to a namespace of no YANG module of this
/// server, is an `invalid-value` error that names it.
pub fn translate_prefixes(
    select: &str,
    namespaces: &[(String, String)],
) -> Result<String, RpcError> {
    if select.len() > MAX_EXPRESSION_LENGTH {
        return Err(RpcError::invalid_value(
            ErrorType::Protocol,
            format!(
                "the XPath filter is {} bytes long; the maximum is {MAX_EXPRESSION_LENGTH}",
                select.len()
            ),
        ));
    }
    let mut out = String::with_capacity(select.len());
    let mut rest = select;
    while let Some(first) = rest.chars().next() {
        let token_end = if first == '\'' || first == '"' {
            // A literal runs to the next quote of the same kind; an
            // unterminated one is left for libyang to reject.
            rest.char_indices()
                .skip(1)
                .find(|&(_, c)| c == first)
                .map_or(rest.len(), |(at, _)| at + 1)
        } else if is_name_start(first) {
            rest.char_indices()
                .find(|&(_, c)| !is_name_char(c))
                .map_or(rest.len(), |(at, _)| at)
        } else {
            first.len_utf8()
        };
        let (token, after) = rest.split_at_checked(token_end).unwrap_or((rest, ""));
        rest = after;
        // A name followed by one colon, not two (an axis such as
        // `child::`), is the prefix of a qualified name.
        if is_name_start(first) && after.starts_with(':') && !after.starts_with("::") {
            out.push_str(&module_name(select, token, namespaces)?);
        } else {
            out.push_str(token);
        }
    }
    Ok(out)
}

fn module_name(
    select: &str,
    prefix: &str,
    namespaces: &[(String, String)],
) -> Result<String, RpcError> {
    let Some((_, namespace)) = namespaces.iter().rev().find(|(known, _)| known == prefix) else {
        return Err(RpcError::invalid_value(
            ErrorType::Protocol,
            format!(
                "the XPath filter {select:?} uses the prefix {prefix:?}, which is not declared; declare it with xmlns:{prefix} on <filter> or an enclosing element"
            ),
        ));
    };
    let context = crate::schema::context().map_err(|err| {
        RpcError::operation_failed(ErrorType::Application, format!("internal error: {err}"))
    })?;
    context
        .modules(false)
        .find(|module| module.namespace() == namespace)
        .map(|module| module.name().to_owned())
        .ok_or_else(|| {
            RpcError::invalid_value(
                ErrorType::Protocol,
                format!(
                    "the XPath filter {select:?} uses the prefix {prefix:?} for namespace {namespace:?}, which no YANG module of this server defines"
                ),
            )
        })
}

/// XPath 1.0 `NCName` start characters (letters and `_`).
fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

/// XPath 1.0 `NCName` characters.
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.') || c == '\u{b7}'
}

/// Returns the nodes of `data` that `filter` selects, with their ancestors
/// and list keys. An expression libyang cannot parse or evaluate, or one
/// that does not evaluate to a node set, is an `invalid-value` error
/// carrying libyang's reason.
pub fn select(
    data: &DataTree<'static>,
    filter: &XPathFilter,
) -> Result<DataTree<'static>, RpcError> {
    let invalid = |reason: String| {
        RpcError::invalid_value(
            ErrorType::Protocol,
            format!("the XPath filter {:?} is invalid: {reason}", filter.select),
        )
    };
    // XPath's root "/" selects the whole document, which libyang's set of
    // data nodes cannot hold.
    if filter.expression.trim() == "/" {
        return data.duplicate().map_err(|err| {
            RpcError::operation_failed(ErrorType::Application, format!("internal error: {err}"))
        });
    }
    let c_expression = CString::new(filter.expression.as_str())
        .map_err(|_| invalid("it contains a NUL character".into()))?;
    LibyangError::clear();
    let selected =
        raw::find_xpath(data, &c_expression).map_err(|()| invalid(LibyangError::last().message))?;
    copy_selected(data, &selected).map_err(|err| err.to_rpc_error(None))
}

#[cfg(test)]
#[path = "xpath_tests.rs"]
mod tests;
