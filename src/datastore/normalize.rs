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
    for path in CASE_INSENSITIVE {
        let Some((namespace, steps)) = split_path(path) else {
            continue;
        };
        for element in elements.iter_mut() {
            lowercase_at(element, &namespace, &steps);
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

fn lowercase_at(element: &mut Element, namespace: &str, steps: &[&str]) {
    let Some((step, rest)) = steps.split_first() else {
        return;
    };
    if element.name != *step || element.namespace.as_deref() != Some(namespace) {
        return;
    }
    if rest.is_empty() {
        element.text = element.text.to_lowercase();
        return;
    }
    for child in &mut element.children {
        lowercase_at(child, namespace, rest);
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
