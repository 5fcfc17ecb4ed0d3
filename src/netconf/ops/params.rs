//! Parameters shared by several operations.

use crate::datastore::xpath::XPathFilter;
use crate::datastore::{Datastore, Filter, Source};
use crate::netconf::error::{ErrorType, RpcError};
use crate::netconf::xml::{Element, NS_BASE, in_scope_prefixes};

/// Reads a datastore parameter such as `<target><candidate/></target>`.
pub fn datastore(operation: &Element, parameter: &str) -> Result<Datastore, RpcError> {
    let Some(element) = operation.child(NS_BASE, parameter) else {
        return Err(RpcError::missing_element(
            ErrorType::Protocol,
            parameter,
            format!("<{}> needs a <{parameter}> parameter", operation.name),
        ));
    };
    let [choice] = element.children.as_slice() else {
        return Err(RpcError::missing_element(
            ErrorType::Protocol,
            parameter,
            format!(
                "<{parameter}> must name exactly one datastore, such as <running/> or <candidate/>"
            ),
        ));
    };
    if choice.namespace.as_deref() != Some(NS_BASE) {
        return Err(RpcError::unknown_element(
            ErrorType::Protocol,
            &choice.name,
            format!("<{}> is not a datastore of this server", choice.name),
        ));
    }
    match choice.name.as_str() {
        "running" => Ok(Datastore::Running),
        "candidate" => Ok(Datastore::Candidate),
        "startup" => Ok(Datastore::Startup),
        "url" => Err(RpcError::operation_not_supported(
            ErrorType::Protocol,
            "<url> is not supported by this server (no :url capability)",
        )),
        other => Err(RpcError::bad_element(
            ErrorType::Protocol,
            other,
            format!("<{other}> is not a datastore; use <running/>, <candidate/> or <startup/>"),
        )),
    }
}

/// Reads the optional `<filter>` parameter of `operation`, the operation
/// element inside `rpc`.
///
/// A subtree filter keeps the children of `<filter>`. An XPath filter
/// (`type="xpath"`) has its `select` expression translated to module-name
/// prefixes with the namespace declarations in scope at `<filter>`.
pub fn filter(rpc: &Element, operation: &Element) -> Result<Option<Filter>, RpcError> {
    let Some(filter) = operation.child(NS_BASE, "filter") else {
        return Ok(None);
    };
    let kind = filter_attribute(filter, "type").unwrap_or("subtree");
    match kind {
        "subtree" => {
            let mut elements = filter.children.clone();
            crate::datastore::normalize::lowercase_filter_names(&mut elements);
            Ok(Some(Filter::Subtree(elements)))
        }
        "xpath" => Ok(Some(Filter::XPath(xpath_filter(
            &[rpc, operation],
            filter,
        )?))),
        other => Err(RpcError::bad_attribute(
            ErrorType::Protocol,
            "type",
            "filter",
            format!("filter type {other:?} is invalid; use \"subtree\" or \"xpath\""),
        )),
    }
}

/// Rejects parameters other than `allowed`, given as (namespace, local
/// name) pairs, naming the first unknown one.
pub fn reject_unknown_in(operation: &Element, allowed: &[(&str, &str)]) -> Result<(), RpcError> {
    for child in &operation.children {
        let namespace = child.namespace.as_deref().unwrap_or("");
        if !allowed.contains(&(namespace, child.name.as_str())) {
            return Err(RpcError::unknown_element(
                ErrorType::Protocol,
                &child.name,
                format!(
                    "<{}> in namespace {namespace:?} is not a parameter of <{}>",
                    child.name, operation.name
                ),
            ));
        }
    }
    Ok(())
}

/// Returns the attribute `name` of `<filter>`, unprefixed or in the base
/// namespace.
pub fn filter_attribute<'a>(filter: &'a Element, name: &str) -> Option<&'a str> {
    filter
        .attribute(name)
        .or_else(|| filter.attribute_ns(NS_BASE, name))
}

/// Reads the `select` expression of an XPath `<filter>`. `ancestors` are
/// the elements around the filter from `<rpc>` down; their namespace
/// declarations, and the filter's own, give the expression's prefixes.
pub fn xpath_filter(ancestors: &[&Element], filter: &Element) -> Result<XPathFilter, RpcError> {
    let Some(select) = filter_attribute(filter, "select") else {
        return Err(RpcError::missing_attribute(
            ErrorType::Protocol,
            "select",
            "filter",
            "an XPath filter needs a select attribute with the XPath expression",
        ));
    };
    let mut scope = ancestors.to_vec();
    scope.push(filter);
    XPathFilter::new(select, &in_scope_prefixes(&scope))
}

/// Rejects parameters other than `allowed`, naming the first unknown one.
pub fn reject_unknown(operation: &Element, allowed: &[&str]) -> Result<(), RpcError> {
    for child in &operation.children {
        let in_base = child.namespace.as_deref() == Some(NS_BASE);
        let name_allowed = allowed.contains(&child.name.as_str());
        if !in_base && name_allowed {
            let namespace = child.namespace.as_deref().unwrap_or("");
            let shown = if namespace.is_empty() {
                "no namespace"
            } else {
                namespace
            };
            return Err(RpcError::unknown_namespace(
                ErrorType::Protocol,
                &child.name,
                namespace,
                format!(
                    "<{}> of <{}> must be in the NETCONF namespace {NS_BASE}, not in {shown}",
                    child.name, operation.name
                ),
            ));
        }
        if !in_base || !name_allowed {
            return Err(RpcError::unknown_element(
                ErrorType::Protocol,
                &child.name,
                format!(
                    "<{}> is not a parameter of <{}>",
                    child.name, operation.name
                ),
            ));
        }
    }
    Ok(())
}

/// Reads a source parameter that may also hold inline data:
/// `<source><running/></source>` or `<source><config>...</config></source>`
/// (`copy-config`, `validate`). `rpc` supplies the namespace prefixes that
/// the inline data inherits.
pub fn source(rpc: &Element, operation: &Element) -> Result<Source, RpcError> {
    let inline = operation.child(NS_BASE, "source").and_then(|source| {
        source
            .child(NS_BASE, "config")
            .map(|config| (source, config))
    });
    match inline {
        Some((source, config)) => {
            let content = super::edit_config::config_content(&[rpc, operation, source], config)?;
            Ok(Source::Config(content))
        }
        None => datastore(operation, "source").map(Source::Datastore),
    }
}

/// Returns the trimmed text of an optional leaf parameter.
pub fn text<'a>(operation: &'a Element, name: &str) -> Option<&'a str> {
    operation.child(NS_BASE, name).map(Element::trimmed_text)
}
