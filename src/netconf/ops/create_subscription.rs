//! `create-subscription` (RFC 5277 section 2.1.1): subscribe the session to
//! the `NETCONF` event stream.
//!
//! The parameters are in the RFC 5277 namespace. `<filter>` is also
//! accepted in the base namespace, where ncclient puts it.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::netconf::error::{ErrorType, RpcError};
use crate::netconf::notifications::subscription::{EventFilter, SubscriptionRequest};
use crate::netconf::notifications::{NS_NOTIFICATION, STREAM_NETCONF, format_event_time};
use crate::netconf::rpc::ReplyBody;
use crate::netconf::xml::{Element, NS_BASE};

use super::{OperationContext, params};

/// Subscribes the session. Its notifications start after the reply.
pub fn handle(context: &OperationContext<'_>, operation: &Element) -> Result<ReplyBody, RpcError> {
    let request = parse_in(&[context.rpc], operation, OffsetDateTime::now_utc())?;
    context.subscription.create(request)?;
    Ok(ReplyBody::Ok)
}

/// Reads and checks the parameters, in the order of the error cases of RFC
/// 5277 section 2.1.1. `now` is the current time, which `startTime` must
/// not be later than.
#[cfg(test)]
fn parse(operation: &Element, now: OffsetDateTime) -> Result<SubscriptionRequest, RpcError> {
    parse_in(&[], operation, now)
}

/// Parses like [`parse`]. `scope` contains the elements around `operation`
/// whose namespace declarations an XPath filter's prefixes may use.
fn parse_in(
    scope: &[&Element],
    operation: &Element,
    now: OffsetDateTime,
) -> Result<SubscriptionRequest, RpcError> {
    for child in &operation.children {
        let known = (child.namespace.as_deref() == Some(NS_NOTIFICATION)
            && ["stream", "filter", "startTime", "stopTime"].contains(&child.name.as_str()))
            || child.is(NS_BASE, "filter");
        if !known {
            return Err(RpcError::unknown_element(
                ErrorType::Protocol,
                &child.name,
                format!(
                    "<{}> is not a parameter of <create-subscription>",
                    child.name
                ),
            ));
        }
    }

    // stream: only NETCONF, the default.
    if let Some(stream) = operation.child(NS_NOTIFICATION, "stream") {
        let name = stream.trimmed_text();
        if name != STREAM_NETCONF {
            return Err(RpcError::invalid_value(
                ErrorType::Protocol,
                format!(
                    "the event stream {name:?} does not exist; this server has only the stream \"{STREAM_NETCONF}\""
                ),
            ));
        }
    }

    let filter = match operation
        .child(NS_NOTIFICATION, "filter")
        .or_else(|| operation.child(NS_BASE, "filter"))
    {
        None => EventFilter::All,
        Some(filter) => event_filter(scope, operation, filter)?,
    };

    let start_time = time_parameter(operation, "startTime")?;
    let stop_time = time_parameter(operation, "stopTime")?;
    if stop_time.is_some() && start_time.is_none() {
        return Err(RpcError::missing_element(
            ErrorType::Protocol,
            "startTime",
            "<stopTime> needs a <startTime>: a stop time applies only to a replay",
        ));
    }
    if let Some(start) = start_time
        && start > now
    {
        return Err(RpcError::bad_element(
            ErrorType::Protocol,
            "startTime",
            format!(
                "startTime {} is later than the current time {}; a replay can only start in the past",
                format_event_time(start),
                format_event_time(now)
            ),
        ));
    }
    if let (Some(start), Some(stop)) = (start_time, stop_time)
        && stop <= start
    {
        return Err(RpcError::bad_element(
            ErrorType::Protocol,
            "stopTime",
            format!(
                "stopTime {} is not later than startTime {}",
                format_event_time(stop),
                format_event_time(start)
            ),
        ));
    }

    Ok(SubscriptionRequest {
        filter,
        start_time,
        stop_time,
    })
}

fn event_filter(
    scope: &[&Element],
    operation: &Element,
    filter: &Element,
) -> Result<EventFilter, RpcError> {
    let kind = params::filter_attribute(filter, "type").unwrap_or("subtree");
    match kind {
        "subtree" => Ok(EventFilter::Subtree(filter.children.clone())),
        "xpath" => {
            let mut ancestors = scope.to_vec();
            ancestors.push(operation);
            let filter = params::xpath_filter(&ancestors, filter)?;
            filter.check()?;
            Ok(EventFilter::XPath(filter))
        }
        other => Err(RpcError::bad_attribute(
            ErrorType::Protocol,
            "type",
            "filter",
            format!("filter type {other:?} is invalid; use \"subtree\" or \"xpath\""),
        )),
    }
}

/// Reads an optional `yang:date-and-time` parameter (RFC 3339, with a time
/// zone).
fn time_parameter(operation: &Element, name: &str) -> Result<Option<OffsetDateTime>, RpcError> {
    let Some(element) = operation.child(NS_NOTIFICATION, name) else {
        return Ok(None);
    };
    let text = element.trimmed_text();
    OffsetDateTime::parse(text, &Rfc3339).map(Some).map_err(|err| {
        RpcError::bad_element(
            ErrorType::Protocol,
            name,
            format!(
                "{name} {text:?} is not an RFC 3339 date and time such as 2026-01-31T12:00:00Z: {err}"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netconf::error::{ErrorInfo, ErrorTag};
    use crate::netconf::xml;

    const NOW: OffsetDateTime = time::macros::datetime!(2026-06-01 12:00 UTC);

    fn operation(parameters: &str) -> Element {
        xml::parse(&format!(
            r#"<create-subscription xmlns="{NS_NOTIFICATION}">{parameters}</create-subscription>"#
        ))
        .expect("XML")
    }

    fn rejected(parameters: &str) -> RpcError {
        parse(&operation(parameters), NOW).expect_err("rejected")
    }

    #[test]
    fn defaults_to_all_events_without_replay() {
        let request = parse(&operation(""), NOW).expect("accepted");
        assert!(matches!(request.filter, EventFilter::All));
        assert_eq!(request.start_time, None);
        assert_eq!(request.stop_time, None);
    }

    #[test]
    fn netconf_stream_and_times_accepted() {
        let request = parse(
            &operation(
                "<stream>NETCONF</stream><startTime>2026-06-01T13:00:00+02:00</startTime><stopTime>2026-06-01T11:30:00Z</stopTime>",
            ),
            NOW,
        )
        .expect("accepted");
        assert_eq!(
            request.start_time,
            Some(time::macros::datetime!(2026-06-01 11:00 UTC))
        );
        assert_eq!(
            request.stop_time,
            Some(time::macros::datetime!(2026-06-01 11:30 UTC))
        );
    }

    #[test]
    fn unknown_stream_rejected_by_name() {
        let error = rejected("<stream>SYSLOG</stream>");
        assert_eq!(error.tag, ErrorTag::InvalidValue);
        assert_eq!(error.error_type, ErrorType::Protocol);
        assert!(error.message.contains("\"SYSLOG\""), "{}", error.message);
    }

    #[test]
    fn stop_time_without_start_time_is_missing_element() {
        let error = rejected("<stopTime>2026-06-01T11:00:00Z</stopTime>");
        assert_eq!(error.tag, ErrorTag::MissingElement);
        assert_eq!(error.error_type, ErrorType::Protocol);
        assert_eq!(error.info, [ErrorInfo::BadElement("startTime".into())]);
    }

    #[test]
    fn start_time_in_future_is_bad_element() {
        let error = rejected("<startTime>2026-06-01T12:00:01Z</startTime>");
        assert_eq!(error.tag, ErrorTag::BadElement);
        assert_eq!(error.error_type, ErrorType::Protocol);
        assert_eq!(error.info, [ErrorInfo::BadElement("startTime".into())]);
    }

    #[test]
    fn early_stop_time_is_bad_element() {
        for stop in ["2026-06-01T10:00:00Z", "2026-06-01T11:00:00Z"] {
            let error = rejected(&format!(
                "<startTime>2026-06-01T11:00:00Z</startTime><stopTime>{stop}</stopTime>"
            ));
            assert_eq!(error.tag, ErrorTag::BadElement);
            assert_eq!(error.info, [ErrorInfo::BadElement("stopTime".into())]);
        }
    }

    #[test]
    fn malformed_time_is_bad_element() {
        let error = rejected("<startTime>yesterday</startTime>");
        assert_eq!(error.tag, ErrorTag::BadElement);
        assert!(error.message.contains("\"yesterday\""), "{}", error.message);
    }

    #[test]
    fn filter_in_base_namespace_accepted() {
        let request = parse(
            &operation(&format!(
                r#"<filter xmlns="{NS_BASE}" type="subtree"><netconf-session-start xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"/></filter>"#
            )),
            NOW,
        )
        .expect("accepted");
        let EventFilter::Subtree(elements) = request.filter else {
            panic!("expected a subtree filter");
        };
        assert_eq!(elements.len(), 1);
        assert_eq!(elements[0].name, "netconf-session-start");
    }

    #[test]
    fn xpath_filter_read() {
        let request =
            parse(&operation(r#"<filter type="xpath" select="/*"/>"#), NOW).expect("accepted");
        assert!(
            matches!(request.filter, EventFilter::XPath(_)),
            "{:?}",
            request.filter
        );
        let error = rejected(r#"<filter type="xpath"/>"#);
        assert_eq!(error.tag, ErrorTag::MissingAttribute);
    }

    #[test]
    fn unknown_parameter_rejected() {
        let error = rejected("<priority>high</priority>");
        assert_eq!(error.tag, ErrorTag::UnknownElement);
        assert_eq!(error.info, [ErrorInfo::BadElement("priority".into())]);
    }
}
