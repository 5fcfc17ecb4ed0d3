//! Case folding of case-insensitive names before data reaches libyang.
//!
//! SSL policy names are case-insensitive, so the server stores them in lower
//! case. Folding happens on the request's XML, before libyang parses it, so
//! that list keys, references and filters all see the stored form.

use crate::netconf::xml::Element;
use crate::schema::paths::CASE_INSENSITIVE;

/// Lowercases the values of every case-insensitive leaf in `elements`, the
/// top-level elements of a `<config>` or `<filter>`.
pub fn lowercase_names(elements: &mut [Element]) {
    lowercase_all(elements, NamespaceRule::Exact);
}

/// Lowercases case-insensitive content match values in the top-level
/// elements of a subtree `<filter>`. A filter element without a namespace
/// (or in the base namespace) matches data in any module, so it is folded
/// where its name fits the path.
pub fn lowercase_filter_names(elements: &mut [Element]) {
    lowercase_all(elements, NamespaceRule::FilterWildcard);
}

/// The rule for comparing an element's namespace with the module of a path.
#[derive(Clone, Copy)]
enum NamespaceRule {
    Exact,
    FilterWildcard,
}

fn lowercase_all(elements: &mut [Element], rule: NamespaceRule) {
    for path in CASE_INSENSITIVE {
        let Some((namespace, steps)) = split_path(path) else {
            continue;
        };
        for element in elements.iter_mut() {
            lowercase_at(element, &namespace, &steps, rule);
        }
    }
}

fn split_path(path: &str) -> Option<(String, Vec<&str>)> {
    let mut steps: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let first = steps.first_mut()?;
    let (module, name) = first.split_once(':')?;
    *first = name;
    let context = crate::schema::context().ok()?;
    let namespace = context
        .get_module_implemented(module)?
        .namespace()
        .to_owned();
    Some((namespace, steps))
}

fn lowercase_at(element: &mut Element, namespace: &str, steps: &[&str], rule: NamespaceRule) {
    let Some((step, rest)) = steps.split_first() else {
        return;
    };
    let namespace_fits = match (rule, element.namespace.as_deref()) {
        (NamespaceRule::FilterWildcard, None | Some(crate::netconf::xml::NS_BASE)) => true,
        (_, element_namespace) => element_namespace == Some(namespace),
    };
    if element.name != *step || !namespace_fits {
        return;
    }
    if rest.is_empty() {
        element.text = element.text.to_lowercase();
        return;
    }
    for child in &mut element.children {
        lowercase_at(child, namespace, rest, rule);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_folded_in_keys_and_references() {
        let mut elements = vec![
            crate::netconf::xml::parse(
                r#"<ssl xmlns="urn:ztpd:yang:ztpd-ssl"><ssl-policies><ssl-policy><policy-name>ZTP_Policy</policy-name><pki-domain>Default</pki-domain></ssl-policy></ssl-policies></ssl>"#,
            )
            .expect("xml"),
            crate::netconf::xml::parse(
                r#"<ztp xmlns="urn:ztpd:yang:ztpd-ztp"><certificate-remote><vpn-instance>VPN_A</vpn-instance><ssl-policy>ZTP_Policy</ssl-policy></certificate-remote></ztp>"#,
            )
            .expect("xml"),
        ];
        lowercase_names(&mut elements);
        let policy = &elements[0].children[0].children[0];
        assert_eq!(policy.children[0].text, "ztp_policy");
        assert_eq!(
            policy.children[1].text, "Default",
            "other leaves keep their case"
        );
        let server = &elements[1].children[0];
        assert_eq!(
            server.children[0].text, "VPN_A",
            "VPN names are case-sensitive"
        );
        assert_eq!(server.children[1].text, "ztp_policy");
    }
}
