//! Errors of datastore requests and their one mapping to `rpc-error`.
//!
//! libyang's messages already name the value that failed. The mapping adds
//! the rule where libyang leaves it out (the list size limit, the value a
//! `must` expression rejected). It also turns libyang's data paths into
//! `error-path` XPath with every step prefixed.

use yang3::data::{Data, DataTree};

use super::Datastore;
use super::libyang_error::{LibyangError, ValidationCode};
use crate::netconf::error::{ErrorPath, ErrorType, RpcError};

/// Errors of datastore requests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatastoreError {
    /// The edit content does not parse against the schema.
    #[error("invalid edit: {0}")]
    Parse(LibyangError),
    /// A node could not be created or changed while applying an edit.
    #[error("edit failed: {0}")]
    Apply(LibyangError),
    /// The result of a change breaks a schema rule.
    #[error("validation failed: {0}")]
    Validation(LibyangError),
    /// `create` of data that exists.
    #[error("data exists at {path}")]
    DataExists { path: String },
    /// `delete` of data that does not exist.
    #[error("no data at {path}")]
    DataMissing { path: String },
    /// An `operation` attribute with an unknown value.
    #[error("invalid operation {value:?} on element {element}")]
    BadOperation { value: String, element: String },
    /// An operation on a list key leaf, which only its entry can carry.
    #[error("the list key {element} cannot be deleted on its own")]
    KeyEdit { element: String },
    /// A `yang:insert` attribute that cannot be followed.
    #[error("{message}")]
    BadInsert {
        element: String,
        app_tag: Option<String>,
        message: String,
    },
    /// Another session holds the lock needed for the request.
    #[error("{datastore} is locked by session {holder}")]
    Locked { datastore: Datastore, holder: u32 },
    /// A lock request that cannot be granted.
    #[error("{message}")]
    LockDenied { holder: u32, message: String },
    /// An unlock of a lock this session does not hold.
    #[error("{message}")]
    NotLocked { message: String },
    /// A datastore this server does not have for the request.
    #[error("{0}")]
    Unsupported(String),
    /// The running configuration could not be saved.
    #[error("cannot save the running configuration: {0}")]
    Storage(String),
    /// A filter that cannot be applied; the error is ready for the wire.
    #[error("{0}")]
    Filter(RpcError),
    /// A fault of the server itself.
    #[error("internal error: {0}")]
    Internal(String),
}

impl DatastoreError {
    /// Converts to the `rpc-error` sent to the client. `tree` is the data
    /// the error refers to, when the error names a node in it, so the
    /// message can show the rejected value.
    pub fn to_rpc_error(&self, tree: Option<&DataTree<'static>>) -> RpcError {
        match self {
            DatastoreError::Parse(err) => parse_error(err),
            DatastoreError::Apply(err) => {
                RpcError::invalid_value(ErrorType::Application, err.message.clone())
                    .with_optional_path(err.data_path.as_deref())
            }
            DatastoreError::Validation(err) => validation_error(err, tree),
            DatastoreError::DataExists { path } => {
                RpcError::data_exists(format!("cannot create {path}: the data already exists"))
                    .with_optional_path(Some(path))
            }
            DatastoreError::DataMissing { path } => {
                RpcError::data_missing(format!("cannot delete {path}: the data does not exist"))
                    .with_optional_path(Some(path))
            }
            DatastoreError::BadOperation { value, element } => RpcError::bad_attribute(
                ErrorType::Protocol,
                "operation",
                element,
                format!(
                    "invalid operation {value:?} on element {element}: expected merge, replace, create, delete or remove"
                ),
            ),
            DatastoreError::KeyEdit { element } => RpcError::bad_attribute(
                ErrorType::Protocol,
                "operation",
                element,
                format!(
                    "the list key <{element}> cannot be deleted or removed on its own; put the operation on the list entry"
                ),
            ),
            DatastoreError::BadInsert {
                element,
                app_tag,
                message,
            } => {
                let error = RpcError::bad_attribute(
                    ErrorType::Application,
                    "insert",
                    element,
                    message.clone(),
                );
                match app_tag {
                    Some(app_tag) => error.with_app_tag(app_tag.clone()),
                    None => error,
                }
            }
            DatastoreError::Locked { datastore, holder } => RpcError::in_use(
                ErrorType::Protocol,
                format!("the {datastore} datastore is locked by session {holder}"),
            )
            .with_info(crate::netconf::error::ErrorInfo::SessionId(*holder)),
            DatastoreError::LockDenied { holder, message } => {
                RpcError::lock_denied(*holder, message.clone())
            }
            DatastoreError::NotLocked { message } => {
                RpcError::operation_failed(ErrorType::Protocol, message.clone())
            }
            DatastoreError::Unsupported(message) => {
                RpcError::operation_not_supported(ErrorType::Protocol, message.clone())
            }
            DatastoreError::Filter(error) => error.clone(),
            DatastoreError::Storage(_) | DatastoreError::Internal(_) => {
                RpcError::operation_failed(ErrorType::Application, self.to_string())
            }
        }
    }
}

fn parse_error(err: &LibyangError) -> RpcError {
    let message = first_line(&err.message);
    if let Some(error) = attribute_error(err, &message) {
        return error;
    }
    if err.code == ValidationCode::Reference
        && let Some(name) = quoted(&err.message, "Node \"")
    {
        return RpcError::unknown_element(ErrorType::Application, &name, message)
            .with_optional_path(err.data_path.as_deref());
    }
    if let Some(namespace) = quoted(&err.message, "No module with namespace \"") {
        return RpcError::unknown_namespace(ErrorType::Application, "", &namespace, message);
    }
    if let Some(key) = quoted(&err.message, "missing its key \"") {
        return RpcError::missing_element(ErrorType::Application, &key, message)
            .with_optional_path(err.data_path.as_deref());
    }
    RpcError::invalid_value(
        ErrorType::Application,
        with_allowed_values(message, err.data_path.as_deref()),
    )
    .with_optional_path(err.data_path.as_deref())
}

/// Appends what the leaf at `data_path` accepts to a message about a
/// rejected value.
fn with_allowed_values(message: String, data_path: Option<&str>) -> String {
    let description = data_path.and_then(|path| {
        let context = crate::schema::context().ok()?;
        let schema = context.find_path(&strip_predicates(path)).ok()?;
        super::raw::describe_type(&schema)
    });
    match description {
        Some(description) => format!("{}. Allowed: {description}.", message.trim_end_matches('.')),
        None => message,
    }
}

/// Maps a bad value of an edit attribute (`nc:operation`, `yang:insert`),
/// which libyang reports at a path ending in `/@module:name`, to
/// `bad-attribute` naming the attribute and its element.
fn attribute_error(err: &LibyangError, message: &str) -> Option<RpcError> {
    let path = err.data_path.as_deref()?;
    let (element_path, attribute) = path.rsplit_once("/@")?;
    let attribute = attribute.rsplit(':').next().unwrap_or(attribute);
    let element = split_steps(element_path)
        .last()
        .map(|step| {
            let name = step.split('[').next().unwrap_or(step);
            name.rsplit(':').next().unwrap_or(name).to_owned()
        })
        .unwrap_or_default();
    let expected = match attribute {
        "operation" => "merge, replace, create, delete or remove",
        "insert" => "first, last, before or after",
        _ => "a value the attribute allows",
    };
    let error = RpcError::bad_attribute(
        ErrorType::Protocol,
        attribute,
        &element,
        format!("{message} The {attribute} attribute of <{element}> must be {expected}."),
    );
    Some(error.with_optional_path(Some(element_path)))
}

fn validation_error(err: &LibyangError, tree: Option<&DataTree<'static>>) -> RpcError {
    let path = err.data_path.as_deref();
    let value = path.and_then(|path| leaf_value(tree, path));
    let rpc_error = match err.app_tag.as_deref() {
        Some("too-many-elements") => {
            let limit = path.and_then(max_elements);
            let entry = path.map(last_step_keys).unwrap_or_default();
            let message = match limit {
                Some(limit) => format!(
                    "{} The list allows at most {limit} entries, so entry {entry} is rejected.",
                    first_line(&err.message)
                ),
                None => first_line(&err.message),
            };
            RpcError::operation_failed(ErrorType::Application, message)
        }
        Some("instance-required") => {
            RpcError::data_missing(missing_reference_message(err, path, value.as_deref()))
        }
        Some("missing-choice") => RpcError::data_missing(first_line(&err.message)),
        Some(_) => {
            // A `must` expression or another rule with an app tag; its
            // message is static, so the rejected value is added.
            let message = match &value {
                Some(value) => format!("{} Rejected value: {value:?}.", first_line(&err.message)),
                None => first_line(&err.message),
            };
            RpcError::operation_failed(ErrorType::Application, message)
        }
        None if err.message.starts_with("Mandatory node") => {
            RpcError::data_missing(first_line(&err.message))
        }
        None => RpcError::invalid_value(
            ErrorType::Application,
            with_allowed_values(first_line(&err.message), path),
        ),
    };
    let rpc_error = match &err.app_tag {
        Some(app_tag) => rpc_error.with_app_tag(app_tag.clone()),
        None => rpc_error,
    };
    rpc_error.with_optional_path(path)
}

/// Words a reference to a missing instance. A bootstrap server naming an
/// SSL policy that does not exist gets a message naming both, since the
/// usual cause is deleting a policy that a server still uses.
fn missing_reference_message(
    err: &LibyangError,
    path: Option<&str>,
    value: Option<&str>,
) -> String {
    let Some(path) = path else {
        return first_line(&err.message);
    };
    if strip_predicates(path) != crate::schema::paths::CERTIFICATE_REMOTE_SSL_POLICY {
        return first_line(&err.message);
    }
    let server = split_steps(path)
        .iter()
        .rev()
        .nth(1)
        .map(|step| last_step_keys(step))
        .unwrap_or_default();
    format!(
        "SSL policy {:?} does not exist, but bootstrap server {server} uses it; create the policy, or change or delete the server first",
        value.unwrap_or("")
    )
}

/// Extension for attaching a libyang data path as `error-path`.
trait WithOptionalPath {
    fn with_optional_path(self, path: Option<&str>) -> Self;
}

impl WithOptionalPath for RpcError {
    fn with_optional_path(self, path: Option<&str>) -> Self {
        match path.and_then(error_path) {
            Some(path) => self.with_path(path),
            None => self,
        }
    }
}

/// Turns a libyang data path (module name on the first node and where the
/// module changes) into XPath with every node and key prefixed by its module
/// name, plus the namespace declarations for those prefixes.
pub fn error_path(data_path: &str) -> Option<ErrorPath> {
    let context = crate::schema::context().ok()?;
    let mut xpath = String::new();
    let mut modules: Vec<String> = Vec::new();
    let mut module = String::new();

    for step in split_steps(data_path) {
        let (name, predicates) = match step.find('[') {
            Some(at) => step.split_at(at),
            None => (step, ""),
        };
        let name = match name.split_once(':') {
            Some((prefix, local)) => {
                module = prefix.to_owned();
                local
            }
            None => name,
        };
        if module.is_empty() {
            return None;
        }
        if !modules.contains(&module) {
            modules.push(module.clone());
        }
        xpath.push('/');
        xpath.push_str(&module);
        xpath.push(':');
        xpath.push_str(name);
        xpath.push_str(&prefix_predicates(predicates, &module));
    }

    let namespaces = modules
        .into_iter()
        .filter_map(|name| {
            let namespace = context
                .get_module_implemented(&name)?
                .namespace()
                .to_owned();
            Some((name, namespace))
        })
        .collect();
    Some(ErrorPath { xpath, namespaces })
}

/// Splits a data path at the slashes outside quotes and predicates.
fn split_steps(path: &str) -> Vec<&str> {
    let mut steps = Vec::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let mut start = 0usize;
    for (at, ch) in path.char_indices() {
        match (quote, ch) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(ch),
            (None, '[') => depth += 1,
            (None, ']') => depth = depth.saturating_sub(1),
            (None, '/') if depth == 0 => {
                if at > start {
                    steps.push(&path[start..at]);
                }
                start = at + 1;
            }
            _ => {}
        }
    }
    if start < path.len() {
        steps.push(&path[start..]);
    }
    steps
}

/// Prefixes the key names in `[key='value']` predicates.
fn prefix_predicates(predicates: &str, module: &str) -> String {
    let mut out = String::with_capacity(predicates.len() + 16);
    let mut quote: Option<char> = None;
    let mut after_bracket = false;
    for ch in predicates.chars() {
        match quote {
            Some(open) => {
                if ch == open {
                    quote = None;
                }
                out.push(ch);
            }
            None => {
                if after_bracket && ch != '.' && !ch.is_ascii_digit() {
                    out.push_str(module);
                    out.push(':');
                }
                after_bracket = ch == '[';
                if ch == '\'' || ch == '"' {
                    quote = Some(ch);
                }
                out.push(ch);
            }
        }
    }
    out
}

fn leaf_value(tree: Option<&DataTree<'static>>, path: &str) -> Option<String> {
    tree?.find_path(path).ok()?.value_canonical()
}

fn max_elements(path: &str) -> Option<u32> {
    let context = crate::schema::context().ok()?;
    let schema_path = strip_predicates(path);
    context.find_path(&schema_path).ok()?.max_elements()
}

fn strip_predicates(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    for ch in path.chars() {
        match (quote, ch) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') if depth > 0 => quote = Some(ch),
            (None, '[') => depth += 1,
            (None, ']') => depth = depth.saturating_sub(1),
            (None, c) if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Returns the predicates of the last step, as `address='10.0.0.1' vpn-instance='x'`.
fn last_step_keys(path: &str) -> String {
    let steps = split_steps(path);
    let Some(last) = steps.last() else {
        return String::new();
    };
    match last.find('[') {
        Some(at) => last[at..]
            .replace("][", " ")
            .trim_matches(['[', ']'])
            .to_owned(),
        None => (*last).to_owned(),
    }
}

fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message).trim_end();
    line.strip_suffix(':').unwrap_or(line).to_owned()
}

/// Returns the text between `prefix` and the next double quote.
fn quoted(message: &str, prefix: &str) -> Option<String> {
    let start = message.find(prefix)? + prefix.len();
    let rest = &message[start..];
    let end = rest.find('"')?;
    Some(rest[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_path_prefixes_every_step() {
        let path = error_path(
            "/ztpd-ztp:ztp/certificate-remote[address='10.0.0.1'][vpn-instance='a/b']/port",
        )
        .expect("known module");
        assert_eq!(
            path.xpath,
            "/ztpd-ztp:ztp/ztpd-ztp:certificate-remote[ztpd-ztp:address='10.0.0.1'][ztpd-ztp:vpn-instance='a/b']/ztpd-ztp:port"
        );
        assert_eq!(
            path.namespaces,
            vec![("ztpd-ztp".to_owned(), "urn:ztpd:yang:ztpd-ztp".to_owned())]
        );
    }

    #[test]
    fn strip_predicates_keeps_schema_path() {
        assert_eq!(
            strip_predicates(
                "/ztpd-ztp:ztp/certificate-remote[address='1.1.1.1'][vpn-instance='x]y']"
            ),
            "/ztpd-ztp:ztp/certificate-remote"
        );
    }

    #[test]
    fn last_step_keys_lists_predicates() {
        assert_eq!(
            last_step_keys(
                "/ztpd-ztp:ztp/certificate-remote[address='10.0.0.11'][vpn-instance='_public_']"
            ),
            "address='10.0.0.11' vpn-instance='_public_'"
        );
    }

    #[test]
    fn first_line_drops_detail_lines() {
        assert_eq!(
            first_line("Invalid union value \"x\" - no matching subtype found:\n    detail"),
            "Invalid union value \"x\" - no matching subtype found"
        );
    }
}
