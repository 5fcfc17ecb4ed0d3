//! XPath filters (RFC 6241 section 8.9, capability `:xpath`).
//!
//! A client writes the `select` expression with XML namespace prefixes
//! that are in scope at its `<filter>` element. libyang evaluates XPath with
//! module names as prefixes, so [`XPathFilter::new`] rewrites every prefix
//! of a name test to the name of the module with that namespace before
//! [`select`] evaluates the expression on a datastore. The selected nodes
//! are copied with their ancestors and list keys, as for subtree filters.
//!
//! SSL policy names are stored in lower case, so a string literal compared
//! with a policy-name leaf (`[policy-name='ZTP_Policy']`) is lowercased as
//! well. Literals in function calls, such as `contains()`, stay as written.

use std::ffi::CString;

use yang3::data::DataTree;

use super::filter::copy_selected;
use super::libyang_error::LibyangError;
use super::raw;
use crate::netconf::error::{ErrorType, RpcError};
use crate::schema::paths::CASE_INSENSITIVE;

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
            expression: fold_case_insensitive_literals(&translate_prefixes(select, namespaces)?),
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
    let tokens = tokenize(select);
    let mut out = String::with_capacity(select.len());
    for (index, token) in tokens.iter().enumerate() {
        // A name followed by one colon, not two (an axis such as
        // `child::`), is the prefix of a qualified name.
        let is_prefix = token.kind == TokenKind::Name
            && tokens.get(index + 1).is_some_and(|next| next.text == ":")
            && tokens.get(index + 2).is_none_or(|after| after.text != ":");
        if is_prefix {
            out.push_str(&module_name(select, token.text, namespaces)?);
        } else {
            out.push_str(token.text);
        }
    }
    Ok(out)
}

/// The kinds of XPath tokens that the rewrites here tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    /// A string literal with its quotes.
    Literal,
    /// An NCName: a name test, prefix, axis or function name.
    Name,
    /// White space.
    Space,
    /// One other character, such as `=`, `:`, `/` or `[`.
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: TokenKind,
    text: &'a str,
}

/// Splits `expression` into literals, names, white space and single other
/// characters. Concatenating the texts gives `expression` back.
fn tokenize(expression: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut rest = expression;
    while let Some(first) = rest.chars().next() {
        let (kind, end) = if first == '\'' || first == '"' {
            // A literal runs to the next quote of the same kind; an
            // unterminated one is left for libyang to reject.
            let end = rest
                .char_indices()
                .skip(1)
                .find(|&(_, c)| c == first)
                .map_or(rest.len(), |(at, _)| at + 1);
            (TokenKind::Literal, end)
        } else if is_name_start(first) {
            let end = rest
                .char_indices()
                .find(|&(_, c)| !is_name_char(c))
                .map_or(rest.len(), |(at, _)| at);
            (TokenKind::Name, end)
        } else if first.is_whitespace() {
            (TokenKind::Space, first.len_utf8())
        } else {
            (TokenKind::Other, first.len_utf8())
        };
        let (text, after) = rest.split_at_checked(end).unwrap_or((rest, ""));
        tokens.push(Token { kind, text });
        rest = after;
    }
    tokens
}

/// Lowercases every string literal that `expression` compares with `=` or
/// `!=` to a case-insensitive leaf ([`CASE_INSENSITIVE`]), on either side
/// of the operator.
pub fn fold_case_insensitive_literals(expression: &str) -> String {
    let tokens = tokenize(expression);
    // Indexes of the tokens other than white space, in order.
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&index| tokens[index].kind != TokenKind::Space)
        .collect();
    let text = |position: usize| significant.get(position).map(|&index| tokens[index].text);
    let is_folded_leaf = |position: usize| {
        significant.get(position).is_some_and(|&index| {
            tokens[index].kind == TokenKind::Name && case_insensitive_leaf(tokens[index].text)
        })
    };

    let mut folded = vec![false; tokens.len()];
    for (position, &index) in significant.iter().enumerate() {
        if tokens[index].kind != TokenKind::Literal {
            continue;
        }
        // Left of the literal: `leaf = 'x'` or `leaf != 'x'`.
        let left = position.checked_sub(1).filter(|&at| text(at) == Some("="));
        let left_leaf = left.and_then(|at| {
            let before = at.checked_sub(1)?;
            let name = if text(before) == Some("!") {
                before.checked_sub(1)?
            } else {
                before
            };
            is_folded_leaf(name).then_some(())
        });
        // Right of the literal: `'x' = leaf`, `'x' != p:leaf` or
        // `'x' = a/b/leaf`, whose last name step is the leaf.
        let operator_end = match (text(position + 1), text(position + 2)) {
            (Some("="), _) => Some(position + 1),
            (Some("!"), Some("=")) => Some(position + 2),
            _ => None,
        };
        let right_leaf = operator_end.and_then(|end| {
            let mut last_name = None;
            let mut at = end + 1;
            while let Some(&index) = significant.get(at) {
                match tokens[index].kind {
                    TokenKind::Name => last_name = Some(at),
                    TokenKind::Other if matches!(tokens[index].text, ":" | "/") => {}
                    _ => break,
                }
                at += 1;
            }
            last_name.filter(|&name| is_folded_leaf(name)).map(|_| ())
        });
        if left_leaf.is_some() || right_leaf.is_some() {
            folded[index] = true;
        }
    }

    tokens
        .iter()
        .zip(folded)
        .map(|(token, fold)| {
            if fold {
                token.text.to_lowercase()
            } else {
                token.text.to_owned()
            }
        })
        .collect()
}

/// Returns whether `name` is the name of a leaf in [`CASE_INSENSITIVE`].
fn case_insensitive_leaf(name: &str) -> bool {
    CASE_INSENSITIVE
        .iter()
        .any(|path| path.rsplit('/').next() == Some(name))
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
