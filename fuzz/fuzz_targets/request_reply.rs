//! Fuzzes request parsing and the reply built from it. The reply echoes
//! the attributes of `<rpc>` and its error messages quote the input. A
//! panic, or a reply that is not well-formed XML in the base namespace
//! with the request's `message-id`, fails the target.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ztpd::netconf::rpc::{ReplyBody, Request, write_reply};
use ztpd::netconf::xml::{self, NS_BASE};

fuzz_target!(|data: &[u8]| {
    let (rpc, body) = match Request::parse(data) {
        Ok(request) => {
            // The operation lookup reads the children of any well-formed
            // rpc.
            let body = match request.operation() {
                Ok(_) => ReplyBody::Ok,
                Err(error) => ReplyBody::Errors(vec![error]),
            };
            (Some(request.rpc), body)
        }
        Err(rejected) => (
            rejected.rpc.map(|rpc| *rpc),
            ReplyBody::Errors(vec![rejected.error]),
        ),
    };

    let mut reply = String::new();
    write_reply(rpc.as_ref(), &body, &mut reply);
    let parsed = match xml::parse(&reply) {
        Ok(parsed) => parsed,
        Err(err) => panic!("the reply is not well-formed ({err}): {reply}"),
    };
    assert!(parsed.is(NS_BASE, "rpc-reply"), "{reply}");
    assert_eq!(
        parsed.attribute("message-id"),
        rpc.as_ref().and_then(|rpc| rpc.attribute("message-id")),
        "{reply}"
    );
});
