//! Fuzzes the rewrites of an XPath filter's `select` expression before
//! libyang parses it. A panic, a prefix translation that changes anything but
//! prefixes, or a case folding that changes anything but letter case,
//! fails the target.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ztpd::datastore::xpath::{fold_case_insensitive_literals, translate_prefixes};

fuzz_target!(|expression: &str| {
    // With no prefix declared, a translation either fails on the first
    // prefix or leaves the expression as it is.
    if let Ok(translated) = translate_prefixes(expression, &[]) {
        assert_eq!(translated, expression);
    }

    let folded = fold_case_insensitive_literals(expression);
    assert_eq!(folded.to_lowercase(), expression.to_lowercase());
});
