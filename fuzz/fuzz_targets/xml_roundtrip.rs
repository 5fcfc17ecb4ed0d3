//! Fuzzes the request XML parser and the subtree writer. A panic, or an
//! element that parses to other names, namespaces, attributes or text
//! after it is written out, fails the target.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ztpd::netconf::xml::{self, Element};

fuzz_target!(|text: &str| {
    let Ok(element) = xml::parse(text) else {
        return;
    };
    let mut written = String::new();
    element.write_subtree(&[], &mut written);
    let reparsed = match xml::parse(&written) {
        Ok(reparsed) => reparsed,
        Err(err) => panic!("written subtree does not parse ({err}): {written}"),
    };
    assert_same(&element, &reparsed, &written);
});

/// Asserts that `copy` has the names, namespaces, attributes and text of
/// `original`. Prefixes and the qualified names of attributes may change
/// when an element is written out, so they are not compared.
fn assert_same(original: &Element, copy: &Element, written: &str) {
    assert_eq!(original.namespace, copy.namespace, "{written}");
    assert_eq!(original.name, copy.name, "{written}");
    assert_eq!(original.text, copy.text, "{written}");
    let attributes = |element: &Element| {
        let mut attributes: Vec<_> = element
            .attributes
            .iter()
            .map(|attribute| {
                (
                    attribute.namespace.clone(),
                    attribute.name.clone(),
                    attribute.value.clone(),
                )
            })
            .collect();
        attributes.sort();
        attributes
    };
    assert_eq!(attributes(original), attributes(copy), "{written}");
    assert_eq!(original.children.len(), copy.children.len(), "{written}");
    for (child, copied) in original.children.iter().zip(&copy.children) {
        assert_same(child, copied, written);
    }
}
