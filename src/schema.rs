//! The YANG schema: the modules compiled into the binary, the libyang
//! context built from them, and typed paths of the nodes the code addresses.
//!
//! The context is built once at start and then only read. It is leaked on
//! purpose so that data trees, which borrow it, can live for the whole run.

use std::collections::HashMap;
use std::sync::OnceLock;

use yang3::context::{Context, ContextFlags, EmbeddedModuleKey, EmbeddedModules};

/// One YANG module the agent implements.
#[derive(Debug, Clone, Copy)]
pub struct ModuleSource {
    pub name: &'static str,
    pub revision: &'static str,
    /// Features enabled in this module.
    pub features: &'static [&'static str],
    /// The module text, as shipped in `yang/`.
    pub text: &'static str,
}

/// Modules loaded into the context, in load order.
pub const MODULES: &[ModuleSource] = &[
    ModuleSource {
        name: "ietf-netconf",
        revision: "2011-06-01",
        features: &[
            "writable-running",
            "candidate",
            "confirmed-commit",
            "rollback-on-error",
            "validate",
            "startup",
            "xpath",
        ],
        text: include_str!("../yang/ietf/ietf-netconf.yang"),
    },
    ModuleSource {
        name: "ietf-netconf-notifications",
        revision: "2012-02-06",
        features: &[],
        text: include_str!("../yang/ietf/ietf-netconf-notifications.yang"),
    },
    ModuleSource {
        name: "nc-notifications",
        revision: "2008-07-14",
        features: &[],
        text: include_str!("../yang/nc-notifications.yang"),
    },
    ModuleSource {
        name: "ztpd-ssl",
        revision: "2026-12-04",
        features: &[],
        text: include_str!("../yang/ztpd-ssl.yang"),
    },
    ModuleSource {
        name: "ztpd-pki",
        revision: "2026-12-04",
        features: &[],
        text: include_str!("../yang/ztpd-pki.yang"),
    },
    ModuleSource {
        name: "ztpd-ztp",
        revision: "2026-12-04",
        features: &[],
        text: include_str!("../yang/ztpd-ztp.yang"),
    },
    ModuleSource {
        name: "ietf-netconf-with-defaults",
        revision: "2011-06-01",
        features: &[],
        text: include_str!("../yang/ietf/ietf-netconf-with-defaults.yang"),
    },
    ModuleSource {
        name: "ietf-netconf-monitoring",
        revision: "2010-10-04",
        features: &[],
        text: include_str!("../yang/ietf/ietf-netconf-monitoring.yang"),
    },
    ModuleSource {
        name: "ietf-origin",
        revision: "2018-02-14",
        features: &[],
        text: include_str!("../yang/ietf/ietf-origin.yang"),
    },
    ModuleSource {
        name: "ietf-netconf-nmda",
        revision: "2019-01-07",
        features: &["with-defaults"],
        text: include_str!("../yang/ietf/ietf-netconf-nmda.yang"),
    },
];

/// Modules that libyang builds into every context, with the published
/// text of the same revision. libyang loads its own copies; these texts
/// are only what `get-schema` returns for them.
pub const BUILT_IN_MODULES: &[ModuleSource] = &[
    ModuleSource {
        name: "ietf-inet-types",
        revision: "2013-07-15",
        features: &[],
        text: include_str!("../yang/ietf/ietf-inet-types.yang"),
    },
    ModuleSource {
        name: "ietf-yang-types",
        revision: "2013-07-15",
        features: &[],
        text: include_str!("../yang/ietf/ietf-yang-types.yang"),
    },
    ModuleSource {
        name: "ietf-datastores",
        revision: "2018-02-14",
        features: &[],
        text: include_str!("../yang/ietf/ietf-datastores.yang"),
    },
    ModuleSource {
        name: "ietf-yang-library",
        revision: "2019-01-04",
        features: &[],
        text: include_str!("../yang/ietf/ietf-yang-library.yang"),
    },
    ModuleSource {
        name: "ietf-yang-metadata",
        revision: "2016-08-05",
        features: &[],
        text: include_str!("../yang/ietf/ietf-yang-metadata.yang"),
    },
    ModuleSource {
        name: "ietf-yang-schema-mount",
        revision: "2019-01-14",
        features: &[],
        text: include_str!("../yang/ietf/ietf-yang-schema-mount.yang"),
    },
    ModuleSource {
        name: "ietf-yang-structure-ext",
        revision: "2020-06-17",
        features: &[],
        text: include_str!("../yang/ietf/ietf-yang-structure-ext.yang"),
    },
];

/// Returns the text of module `name` at `revision` as shipped in `yang/`,
/// or `None` for a module this binary has no text of.
pub fn module_text(name: &str, revision: Option<&str>) -> Option<&'static str> {
    MODULES
        .iter()
        .chain(BUILT_IN_MODULES)
        .find(|source| source.name == name && Some(source.revision) == revision)
        .map(|source| source.text)
}

/// Typed paths of the schema nodes the agent reads or writes, in libyang's
/// data path format (module name on the first node).
pub mod paths {
    /// The list of SSL policies.
    pub const SSL_POLICY: &str = "/ztpd-ssl:ssl/ssl-policies/ssl-policy";
    /// Key of an SSL policy; names are case-insensitive.
    pub const SSL_POLICY_NAME: &str = "/ztpd-ssl:ssl/ssl-policies/ssl-policy/policy-name";
    /// The list of bootstrap servers.
    pub const CERTIFICATE_REMOTE: &str = "/ztpd-ztp:ztp/certificate-remote";
    /// The SSL policy a bootstrap server names; a policy name.
    pub const CERTIFICATE_REMOTE_SSL_POLICY: &str = "/ztpd-ztp:ztp/certificate-remote/ssl-policy";
    /// Operational state of the certificate download.
    pub const CERTIFICATE_REMOTE_STATE: &str = "/ztpd-ztp:ztp/certificate-remote-state";
    /// PKI domains.
    pub const PKI_DOMAIN: &str = "/ztpd-pki:pki/domain";

    /// Schema nodes whose values are case-insensitive names, which the
    /// server stores in lower case.
    pub const CASE_INSENSITIVE: &[&str] = &[SSL_POLICY_NAME, CERTIFICATE_REMOTE_SSL_POLICY];
}

/// Namespaces of the modules in [`MODULES`] that hold ztpd data.
pub mod namespaces {
    pub const SSL: &str = "urn:ztpd:yang:ztpd-ssl";
    pub const PKI: &str = "urn:ztpd:yang:ztpd-pki";
    pub const ZTP: &str = "urn:ztpd:yang:ztpd-ztp";
}

/// True when `namespace` belongs to a module that defines data nodes on
/// this server.
pub fn is_data_namespace(namespace: &str) -> bool {
    [namespaces::SSL, namespaces::PKI, namespaces::ZTP].contains(&namespace)
}

/// Error of building the schema.
#[derive(Debug, thiserror::Error)]
#[error("cannot load YANG module {module}: {message}")]
pub struct SchemaError {
    pub module: String,
    pub message: String,
}

static CONTEXT: OnceLock<&'static Context> = OnceLock::new();

/// Returns the raw libyang context pointer, for the libyang calls that
/// `yang3` does not wrap. `yang3` keeps the pointer private, so it is read from a
/// module's back pointer to its context.
pub fn raw_context(context: &Context) -> *const yang3::ffi::ly_ctx {
    match context.modules(false).next() {
        // SAFETY: a module points to its context for the context's life.
        Some(module) => unsafe { (*module.as_raw()).ctx },
        None => std::ptr::null(),
    }
}

/// Returns the process-wide libyang context, building it on first use.
pub fn context() -> Result<&'static Context, SchemaError> {
    if let Some(context) = CONTEXT.get() {
        return Ok(context);
    }
    let built = build_context()?;
    // Another thread may have won the race; its context is used and this
    // one stays leaked, which only happens once per process at most.
    Ok(CONTEXT.get_or_init(|| built))
}

fn build_context() -> Result<&'static Context, SchemaError> {
    let error = |module: &str, err: yang3::Error| SchemaError {
        module: module.to_owned(),
        message: err.to_string(),
    };

    // libyang implements ietf-yang-library (and ietf-datastores) itself,
    // which the YANG library data of RFC 8525 needs.
    let flags = ContextFlags::DISABLE_SEARCHDIRS;
    let mut context = Context::new(flags).map_err(|err| error("(context)", err))?;

    // libyang keeps a pointer to the embedded module table for the life of
    // the context, so the table is leaked together with it.
    let embedded: &'static EmbeddedModules = Box::leak(Box::new(
        MODULES
            .iter()
            .map(|module| {
                (
                    EmbeddedModuleKey::new(module.name, Some(module.revision), None, None),
                    module.text,
                )
            })
            .collect::<HashMap<_, _>>(),
    ));
    context.set_embedded_modules(embedded);

    for module in MODULES {
        context
            .load_module(module.name, Some(module.revision), module.features)
            .map_err(|err| error(module.name, err))?;
    }
    Ok(Box::leak(Box::new(context)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_loads_every_module() {
        let context = context().expect("modules compile");
        for module in MODULES {
            let loaded = context
                .get_module_implemented(module.name)
                .unwrap_or_else(|| panic!("{} is implemented", module.name));
            assert_eq!(loaded.revision(), Some(module.revision));
        }
    }

    #[test]
    fn built_in_texts_match_loaded_modules() {
        let context = context().expect("modules compile");
        for module in BUILT_IN_MODULES {
            assert!(
                context
                    .get_module(module.name, Some(module.revision))
                    .is_some(),
                "libyang has no {}@{}",
                module.name,
                module.revision
            );
            assert!(module.text.contains(&format!("module {} {{", module.name)));
            assert!(
                module
                    .text
                    .contains(&format!("revision {}", module.revision))
            );
        }
    }

    #[test]
    fn typed_paths_exist_in_schema() {
        let context = context().expect("modules compile");
        for path in [
            paths::SSL_POLICY,
            paths::SSL_POLICY_NAME,
            paths::CERTIFICATE_REMOTE,
            paths::CERTIFICATE_REMOTE_SSL_POLICY,
            paths::CERTIFICATE_REMOTE_STATE,
            paths::PKI_DOMAIN,
        ] {
            assert!(context.find_path(path).is_ok(), "{path} not in schema");
        }
    }
}
