//! NETCONF `rpc-error` (RFC 6241 section 4.3 and appendix A).
//!
//! Every failure that reaches a client is one [`RpcError`], built by a
//! constructor named after its `error-tag`, and written by
//! [`RpcError::write_xml`] in the base:1.0 namespace.

use std::fmt::Write as _;

use super::xml::escape;

/// `error-type`: the protocol layer where the error occurred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    Transport,
    Rpc,
    Protocol,
    Application,
}

impl ErrorType {
    /// Returns the value as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Transport => "transport",
            ErrorType::Rpc => "rpc",
            ErrorType::Protocol => "protocol",
            ErrorType::Application => "application",
        }
    }
}

/// `error-tag` values of RFC 6241 appendix A.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorTag {
    InUse,
    InvalidValue,
    TooBig,
    MissingAttribute,
    BadAttribute,
    UnknownAttribute,
    MissingElement,
    BadElement,
    UnknownElement,
    UnknownNamespace,
    AccessDenied,
    LockDenied,
    ResourceDenied,
    RollbackFailed,
    DataExists,
    DataMissing,
    OperationNotSupported,
    OperationFailed,
    MalformedMessage,
}

impl ErrorTag {
    /// Returns the value as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorTag::InUse => "in-use",
            ErrorTag::InvalidValue => "invalid-value",
            ErrorTag::TooBig => "too-big",
            ErrorTag::MissingAttribute => "missing-attribute",
            ErrorTag::BadAttribute => "bad-attribute",
            ErrorTag::UnknownAttribute => "unknown-attribute",
            ErrorTag::MissingElement => "missing-element",
            ErrorTag::BadElement => "bad-element",
            ErrorTag::UnknownElement => "unknown-element",
            ErrorTag::UnknownNamespace => "unknown-namespace",
            ErrorTag::AccessDenied => "access-denied",
            ErrorTag::LockDenied => "lock-denied",
            ErrorTag::ResourceDenied => "resource-denied",
            ErrorTag::RollbackFailed => "rollback-failed",
            ErrorTag::DataExists => "data-exists",
            ErrorTag::DataMissing => "data-missing",
            ErrorTag::OperationNotSupported => "operation-not-supported",
            ErrorTag::OperationFailed => "operation-failed",
            ErrorTag::MalformedMessage => "malformed-message",
        }
    }
}

/// One child of `error-info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorInfo {
    /// `bad-attribute`: name of the attribute at fault.
    BadAttribute(String),
    /// `bad-element`: name of the element at fault.
    BadElement(String),
    /// `bad-namespace`: the namespace at fault.
    BadNamespace(String),
    /// `session-id`: the session holding a lock, or 0 when no NETCONF
    /// session holds it.
    SessionId(u32),
}

/// An `error-path` with the namespace declarations its prefixes need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPath {
    /// XPath of the node at fault, every step prefixed.
    pub xpath: String,
    /// `(prefix, namespace)` pairs declared on the `error-path` element.
    pub namespaces: Vec<(String, String)>,
}

/// One `rpc-error` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    pub error_type: ErrorType,
    pub tag: ErrorTag,
    pub app_tag: Option<String>,
    pub path: Option<Box<ErrorPath>>,
    pub message: String,
    pub info: Vec<ErrorInfo>,
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.tag.as_str(), self.message)
    }
}

impl std::error::Error for RpcError {}

impl RpcError {
    /// Creates an error with the given type, tag and message.
    pub fn new(error_type: ErrorType, tag: ErrorTag, message: impl Into<String>) -> Self {
        RpcError {
            error_type,
            tag,
            app_tag: None,
            path: None,
            message: message.into(),
            info: Vec::new(),
        }
    }

    /// Sets `error-app-tag`.
    pub fn with_app_tag(mut self, app_tag: impl Into<String>) -> Self {
        self.app_tag = Some(app_tag.into());
        self
    }

    /// Sets `error-path`.
    pub fn with_path(mut self, path: ErrorPath) -> Self {
        self.path = Some(Box::new(path));
        self
    }

    /// Adds an `error-info` child.
    pub fn with_info(mut self, info: ErrorInfo) -> Self {
        self.info.push(info);
        self
    }

    /// `in-use`: the resource is held by someone else.
    pub fn in_use(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self::new(error_type, ErrorTag::InUse, message)
    }

    /// `invalid-value`: a parameter or data value is unacceptable.
    pub fn invalid_value(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self::new(error_type, ErrorTag::InvalidValue, message)
    }

    /// `too-big`: a request or reply exceeds a size limit.
    pub fn too_big(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self::new(error_type, ErrorTag::TooBig, message)
    }

    /// `missing-attribute`: a required attribute of `element` is absent.
    pub fn missing_attribute(
        error_type: ErrorType,
        attribute: &str,
        element: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(error_type, ErrorTag::MissingAttribute, message)
            .with_info(ErrorInfo::BadAttribute(attribute.to_owned()))
            .with_info(ErrorInfo::BadElement(element.to_owned()))
    }

    /// `bad-attribute`: an attribute of `element` has a bad value.
    pub fn bad_attribute(
        error_type: ErrorType,
        attribute: &str,
        element: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(error_type, ErrorTag::BadAttribute, message)
            .with_info(ErrorInfo::BadAttribute(attribute.to_owned()))
            .with_info(ErrorInfo::BadElement(element.to_owned()))
    }

    /// `unknown-attribute`: an attribute of `element` is not expected.
    pub fn unknown_attribute(
        error_type: ErrorType,
        attribute: &str,
        element: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(error_type, ErrorTag::UnknownAttribute, message)
            .with_info(ErrorInfo::BadAttribute(attribute.to_owned()))
            .with_info(ErrorInfo::BadElement(element.to_owned()))
    }

    /// `missing-element`: an expected element is absent.
    pub fn missing_element(
        error_type: ErrorType,
        element: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(error_type, ErrorTag::MissingElement, message)
            .with_info(ErrorInfo::BadElement(element.to_owned()))
    }

    /// `bad-element`: an element has a bad value.
    pub fn bad_element(error_type: ErrorType, element: &str, message: impl Into<String>) -> Self {
        Self::new(error_type, ErrorTag::BadElement, message)
            .with_info(ErrorInfo::BadElement(element.to_owned()))
    }

    /// `unknown-element`: an element is not expected here.
    pub fn unknown_element(
        error_type: ErrorType,
        element: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(error_type, ErrorTag::UnknownElement, message)
            .with_info(ErrorInfo::BadElement(element.to_owned()))
    }

    /// `unknown-namespace`: an element's namespace is not known.
    pub fn unknown_namespace(
        error_type: ErrorType,
        element: &str,
        namespace: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(error_type, ErrorTag::UnknownNamespace, message)
            .with_info(ErrorInfo::BadElement(element.to_owned()))
            .with_info(ErrorInfo::BadNamespace(namespace.to_owned()))
    }

    /// `lock-denied`: the lock is held by session `holder`.
    pub fn lock_denied(holder: u32, message: impl Into<String>) -> Self {
        Self::new(ErrorType::Protocol, ErrorTag::LockDenied, message)
            .with_info(ErrorInfo::SessionId(holder))
    }

    /// `resource-denied`: the request cannot be served for lack of a
    /// resource.
    pub fn resource_denied(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self::new(error_type, ErrorTag::ResourceDenied, message)
    }

    /// `data-exists`: a `create` names data that already exists.
    pub fn data_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorType::Application, ErrorTag::DataExists, message)
    }

    /// `data-missing`: a `delete` names data that does not exist.
    pub fn data_missing(message: impl Into<String>) -> Self {
        Self::new(ErrorType::Application, ErrorTag::DataMissing, message)
    }

    /// `operation-not-supported`: the request is not implemented.
    pub fn operation_not_supported(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self::new(error_type, ErrorTag::OperationNotSupported, message)
    }

    /// `operation-failed`: the request failed for a reason no other tag
    /// covers.
    pub fn operation_failed(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self::new(error_type, ErrorTag::OperationFailed, message)
    }

    /// `malformed-message`: the message is not well-formed XML or not an
    /// `rpc`.
    pub fn malformed_message(message: impl Into<String>) -> Self {
        Self::new(ErrorType::Rpc, ErrorTag::MalformedMessage, message)
    }

    /// Appends this error as an `<rpc-error>` element. The element inherits
    /// the base:1.0 default namespace from the enclosing `rpc-reply`.
    pub fn write_xml(&self, out: &mut String) {
        out.push_str("<rpc-error>");
        let _ = write!(out, "<error-type>{}</error-type>", self.error_type.as_str());
        let _ = write!(out, "<error-tag>{}</error-tag>", self.tag.as_str());
        out.push_str("<error-severity>error</error-severity>");
        if let Some(app_tag) = &self.app_tag {
            let _ = write!(out, "<error-app-tag>{}</error-app-tag>", escape(app_tag));
        }
        if let Some(path) = &self.path {
            out.push_str("<error-path");
            for (prefix, namespace) in &path.namespaces {
                let _ = write!(out, " xmlns:{prefix}=\"{}\"", escape(namespace));
            }
            let _ = write!(out, ">{}</error-path>", escape(&path.xpath));
        }
        let _ = write!(
            out,
            "<error-message xml:lang=\"en\">{}</error-message>",
            escape(&self.message)
        );
        if !self.info.is_empty() {
            out.push_str("<error-info>");
            for info in &self.info {
                match info {
                    ErrorInfo::BadAttribute(name) => {
                        let _ = write!(out, "<bad-attribute>{}</bad-attribute>", escape(name));
                    }
                    ErrorInfo::BadElement(name) => {
                        let _ = write!(out, "<bad-element>{}</bad-element>", escape(name));
                    }
                    ErrorInfo::BadNamespace(name) => {
                        let _ = write!(out, "<bad-namespace>{}</bad-namespace>", escape(name));
                    }
                    ErrorInfo::SessionId(id) => {
                        let _ = write!(out, "<session-id>{id}</session-id>");
                    }
                }
            }
            out.push_str("</error-info>");
        }
        out.push_str("</rpc-error>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_denied_carries_holder() {
        let mut out = String::new();
        RpcError::lock_denied(7, "running is locked by session 7").write_xml(&mut out);
        assert!(out.contains("<error-tag>lock-denied</error-tag>"), "{out}");
        assert!(out.contains("<error-type>protocol</error-type>"), "{out}");
        assert!(
            out.contains("<error-info><session-id>7</session-id></error-info>"),
            "{out}"
        );
    }

    #[test]
    fn path_declares_prefixes_and_escapes() {
        let mut out = String::new();
        RpcError::invalid_value(ErrorType::Application, "port \"0\" < 1")
            .with_path(ErrorPath {
                xpath: "/ztpd-ztp:ztp/ztpd-ztp:certificate-remote[ztpd-ztp:address='10.0.0.1']"
                    .into(),
                namespaces: vec![("ztpd-ztp".into(), "urn:ztpd:yang:ztpd-ztp".into())],
            })
            .write_xml(&mut out);
        assert!(
            out.contains(r#"<error-path xmlns:ztpd-ztp="urn:ztpd:yang:ztpd-ztp">"#),
            "{out}"
        );
        assert!(out.contains("port &quot;0&quot; &lt; 1"), "{out}");
    }
}
