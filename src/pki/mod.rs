//! Certificate inspection and the PKI domain store.
//!
//! [`certificate`] parses PEM certificate files into the fields that the
//! `ztpd-pki` and `ztpd-ztp` YANG state shows, and checks the rules for a CA
//! certificate bundle. [`store`] keeps the PKI domains as directories of
//! PEM files.

pub mod certificate;
pub mod store;

pub use certificate::{
    CertificateError, CertificateInfo, MAX_CA_CERTIFICATES, check_ca_bundle, inspect_pem,
};
pub use store::{
    CertificateKind, DEFAULT_DOMAIN, Domain, PkiStore, PkiStoreError, StoredCertificate,
};
