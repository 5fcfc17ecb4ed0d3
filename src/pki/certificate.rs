//! Parsing of PEM certificate files into [`CertificateInfo`], and the rules
//! that a CA certificate bundle from a bootstrap server must meet.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::asn1_rs::{Any, Tag, ToDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::Oid;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// Maximum number of certificates in a CA certificate bundle.
pub const MAX_CA_CERTIFICATES: usize = 8;

/// PEM label of an X.509 certificate (RFC 7468 section 5).
const CERTIFICATE_LABEL: &str = "CERTIFICATE";

/// The fields of one X.509 certificate that the YANG state shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Subject distinguished name in RFC 4514 form.
    pub subject: String,
    /// Issuer distinguished name in RFC 4514 form.
    pub issuer: String,
    /// Serial number as colon-separated lower-case hexadecimal octets, such
    /// as `01:a3`.
    pub serial_number: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// SHA-256 digest of the DER encoding, as 64 lower-case hexadecimal
    /// digits.
    pub fingerprint_sha256: String,
    /// Whether basicConstraints is present with cA set to true.
    pub is_ca: bool,
}

/// A violation of the PEM, X.509 or CA bundle rules. Indexes count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("invalid PEM: {0}")]
    Pem(String),
    #[error("no PEM certificate found")]
    NoCertificate,
    #[error("PEM block {index} of {total} is {label:?}, but only CERTIFICATE blocks are allowed")]
    NotCertificateBlock {
        index: usize,
        total: usize,
        label: String,
    },
    #[error("{count} certificates found, but at most {max} are allowed")]
    TooManyCertificates { count: usize, max: usize },
    #[error("certificate {index} of {total} is not valid X.509: {reason}")]
    InvalidX509 {
        index: usize,
        total: usize,
        reason: String,
    },
    #[error(
        "certificate {index} of {total} is not a CA certificate (basicConstraints cA is false or missing)"
    )]
    NotCa { index: usize, total: usize },
    #[error("certificate {index} of {total} expired at {}", rfc3339(*not_after))]
    Expired {
        index: usize,
        total: usize,
        not_after: OffsetDateTime,
    },
    #[error("certificate {index} of {total} is not valid before {}", rfc3339(*not_before))]
    NotYetValid {
        index: usize,
        total: usize,
        not_before: OffsetDateTime,
    },
}

/// Parses every certificate in a PEM text.
///
/// The text must contain at least one PEM block, and every block must be a
/// CERTIFICATE that parses as X.509. Text outside the blocks is ignored, as
/// RFC 7468 allows.
pub fn inspect_pem(pem: &str) -> Result<Vec<CertificateInfo>, CertificateError> {
    let ders = certificate_ders(pem)?;
    let total = ders.len();
    ders.iter()
        .enumerate()
        .map(|(position, der)| {
            inspect_der(der).map_err(|reason| CertificateError::InvalidX509 {
                index: position + 1,
                total,
                reason,
            })
        })
        .collect()
}

/// Parses a CA certificate bundle and checks the rules for a bootstrap
/// server's response: 1 to [`MAX_CA_CERTIFICATES`] certificates, each with
/// basicConstraints cA=true and valid at `now`.
pub fn check_ca_bundle(
    pem: &str,
    now: OffsetDateTime,
) -> Result<Vec<CertificateInfo>, CertificateError> {
    let ders = certificate_ders(pem)?;
    let total = ders.len();
    if total > MAX_CA_CERTIFICATES {
        return Err(CertificateError::TooManyCertificates {
            count: total,
            max: MAX_CA_CERTIFICATES,
        });
    }

    let mut infos = Vec::with_capacity(total);
    for (position, der) in ders.iter().enumerate() {
        let index = position + 1;
        let info = inspect_der(der).map_err(|reason| CertificateError::InvalidX509 {
            index,
            total,
            reason,
        })?;
        if !info.is_ca {
            return Err(CertificateError::NotCa { index, total });
        }
        if now < info.not_before {
            return Err(CertificateError::NotYetValid {
                index,
                total,
                not_before: info.not_before,
            });
        }
        if now > info.not_after {
            return Err(CertificateError::Expired {
                index,
                total,
                not_after: info.not_after,
            });
        }
        infos.push(info);
    }
    Ok(infos)
}

/// Formats a time as RFC 3339, the form of YANG `date-and-time`.
pub fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&Rfc3339)
        .unwrap_or_else(|_| time.unix_timestamp().to_string())
}

/// Splits PEM text into the DER contents of its CERTIFICATE blocks.
fn certificate_ders(pem: &str) -> Result<Vec<Vec<u8>>, CertificateError> {
    let blocks = pem::parse_many(pem).map_err(|err| CertificateError::Pem(err.to_string()))?;

    // The pem crate stops quietly at a BEGIN line without a matching END
    // line, so a truncated last block would otherwise go unnoticed.
    let begin_lines = pem.matches("-----BEGIN ").count();
    if begin_lines != blocks.len() {
        return Err(CertificateError::Pem(format!(
            "{begin_lines} BEGIN lines but {} complete blocks; a block is truncated or lacks its END line",
            blocks.len()
        )));
    }
    if blocks.is_empty() {
        return Err(CertificateError::NoCertificate);
    }

    let total = blocks.len();
    blocks
        .into_iter()
        .enumerate()
        .map(|(position, block)| {
            if block.tag() == CERTIFICATE_LABEL {
                Ok(block.into_contents())
            } else {
                Err(CertificateError::NotCertificateBlock {
                    index: position + 1,
                    total,
                    label: block.tag().to_owned(),
                })
            }
        })
        .collect()
}

/// Parses one DER certificate. The error is a reason for a message.
pub(crate) fn inspect_der(der: &[u8]) -> Result<CertificateInfo, String> {
    let (rest, certificate) =
        x509_parser::parse_x509_certificate(der).map_err(|err| err.to_string())?;
    if !rest.is_empty() {
        return Err(format!(
            "{} bytes follow the certificate in its PEM block",
            rest.len()
        ));
    }
    let is_ca = basic_constraints_ca(&certificate)?;
    let validity = certificate.validity();

    Ok(CertificateInfo {
        subject: rfc4514_name(certificate.subject()),
        issuer: rfc4514_name(certificate.issuer()),
        serial_number: serial_number_text(certificate.raw_serial()),
        not_before: validity.not_before.to_datetime(),
        not_after: validity.not_after.to_datetime(),
        fingerprint_sha256: hex_lower(&Sha256::digest(der)),
        is_ca,
    })
}

fn basic_constraints_ca(certificate: &X509Certificate<'_>) -> Result<bool, String> {
    let constraints = certificate
        .basic_constraints()
        .map_err(|err| format!("invalid basicConstraints extension: {err}"))?;
    Ok(constraints.is_some_and(|extension| extension.value.ca))
}

/// Formats the serial number octets. A leading zero octet that DER adds only
/// to keep a positive INTEGER's high bit clear is dropped, as OpenSSL does.
fn serial_number_text(raw: &[u8]) -> String {
    let octets = match raw {
        [0, rest @ ..] if rest.first().is_some_and(|octet| *octet >= 0x80) => rest,
        [] => &[0u8][..],
        _ => raw,
    };
    octets
        .iter()
        .map(|octet| format!("{octet:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn hex_lower(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// Formats a distinguished name as RFC 4514 section 2 describes: the last
/// RDN of the DER sequence first, RDNs separated by `,`, multi-valued RDNs
/// joined by `+`.
pub(crate) fn rfc4514_name(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(rfc4514_attribute)
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn rfc4514_attribute(attribute: &AttributeTypeAndValue<'_>) -> String {
    let value = attribute.attr_value();
    match (short_name(attribute.attr_type()), string_value(value)) {
        (Some(name), Some(text)) => format!("{name}={}", escape_rfc4514(&text)),
        // RFC 4514 section 2.4: a type without a short name, or a value
        // without a string form, is written as `#` and the hex of the BER
        // value.
        (name, _) => {
            let type_text =
                name.map_or_else(|| attribute.attr_type().to_id_string(), str::to_owned);
            let encoded = value.to_der_vec().unwrap_or_default();
            format!("{type_text}=#{}", hex_lower(&encoded))
        }
    }
}

/// Returns the attribute type name of RFC 4514 section 3 for an OID, if it has one.
fn short_name(oid: &Oid<'_>) -> Option<&'static str> {
    const NAMES: &[(&str, &str)] = &[
        ("2.5.4.3", "CN"),
        ("2.5.4.7", "L"),
        ("2.5.4.8", "ST"),
        ("2.5.4.10", "O"),
        ("2.5.4.11", "OU"),
        ("2.5.4.6", "C"),
        ("2.5.4.9", "STREET"),
        ("0.9.2342.19200300.100.1.25", "DC"),
        ("0.9.2342.19200300.100.1.1", "UID"),
    ];
    let id = oid.to_id_string();
    NAMES
        .iter()
        .find(|(dotted, _)| *dotted == id)
        .map(|(_, name)| *name)
}

/// Decodes the ASN.1 string types that carry text. Other types return None.
fn string_value(value: &Any<'_>) -> Option<String> {
    let data = value.data;
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::NumericString => {
            std::str::from_utf8(data).ok().map(str::to_owned)
        }
        Tag::BmpString => {
            let (units, rest) = data.as_chunks::<2>();
            if !rest.is_empty() {
                return None;
            }
            let units: Vec<u16> = units.iter().map(|unit| u16::from_be_bytes(*unit)).collect();
            String::from_utf16(&units).ok()
        }
        Tag::UniversalString => {
            let (units, rest) = data.as_chunks::<4>();
            if !rest.is_empty() {
                return None;
            }
            units
                .iter()
                .map(|unit| char::from_u32(u32::from_be_bytes(*unit)))
                .collect()
        }
        _ => None,
    }
}

/// Escapes a value as RFC 4514 section 2.4 requires.
fn escape_rfc4514(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut escaped = String::with_capacity(value.len());
    for (position, character) in value.chars().enumerate() {
        match character {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                escaped.push('\\');
                escaped.push(character);
            }
            '#' if position == 0 => escaped.push_str("\\#"),
            ' ' if position == 0 || position == last => escaped.push_str("\\ "),
            '\0' => escaped.push_str("\\00"),
            _ => escaped.push(character),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    use time::Duration;

    fn certificate(is_ca: bool, not_before: OffsetDateTime, not_after: OffsetDateTime) -> String {
        let key = KeyPair::generate().expect("key generation");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "Test, CA");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "ztpd");
        params.not_before = not_before;
        params.not_after = not_after;
        if is_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        params.self_signed(&key).expect("self-signed").pem()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn valid_ca() -> String {
        certificate(true, now() - Duration::hours(1), now() + Duration::days(30))
    }

    #[test]
    fn valid_ca_bundle_accepted() {
        let bundle = format!("{}{}", valid_ca(), valid_ca());
        let infos = check_ca_bundle(&bundle, now()).expect("two valid CA certificates");
        assert_eq!(infos.len(), 2);
        assert!(infos[0].is_ca);
        assert_eq!(infos[0].subject, "O=ztpd,CN=Test\\, CA");
        assert_eq!(infos[0].issuer, infos[0].subject);
        assert_eq!(infos[0].fingerprint_sha256.len(), 64);
        assert!(
            infos[0]
                .serial_number
                .split(':')
                .all(|octet| octet.len() == 2)
        );
    }

    #[test]
    fn fingerprint_is_sha256_of_der() {
        let text = valid_ca();
        let der = pem::parse(&text).expect("pem").into_contents();
        let infos = inspect_pem(&text).expect("parses");
        assert_eq!(
            infos[0].fingerprint_sha256,
            hex_lower(&Sha256::digest(&der))
        );
    }

    #[test]
    fn non_ca_rejected_with_index() {
        let leaf = certificate(false, now() - Duration::hours(1), now() + Duration::days(1));
        let bundle = format!("{}{}{}", valid_ca(), leaf, valid_ca());
        let err = check_ca_bundle(&bundle, now()).expect_err("leaf is not a CA");
        assert_eq!(err, CertificateError::NotCa { index: 2, total: 3 });
        assert_eq!(
            err.to_string(),
            "certificate 2 of 3 is not a CA certificate (basicConstraints cA is false or missing)"
        );
    }

    #[test]
    fn expired_ca_rejected() {
        let expired = certificate(
            true,
            time::macros::datetime!(2019-01-01 00:00 UTC),
            time::macros::datetime!(2020-01-01 00:00 UTC),
        );
        let err = check_ca_bundle(&expired, now()).expect_err("expired");
        assert_eq!(
            err.to_string(),
            "certificate 1 of 1 expired at 2020-01-01T00:00:00Z"
        );
    }

    #[test]
    fn not_yet_valid_ca_rejected() {
        let future = certificate(true, now() + Duration::days(1), now() + Duration::days(2));
        let err = check_ca_bundle(&future, now()).expect_err("not yet valid");
        assert!(matches!(
            err,
            CertificateError::NotYetValid {
                index: 1,
                total: 1,
                ..
            }
        ));
    }

    #[test]
    fn nine_certificates_rejected() {
        let one = valid_ca();
        let bundle = one.repeat(9);
        let err = check_ca_bundle(&bundle, now()).expect_err("too many");
        assert_eq!(
            err,
            CertificateError::TooManyCertificates { count: 9, max: 8 }
        );
        let eight = one.repeat(8);
        assert_eq!(
            check_ca_bundle(&eight, now()).expect("eight allowed").len(),
            8
        );
    }

    #[test]
    fn garbage_rejected() {
        let err = check_ca_bundle("hello, world", now()).expect_err("no PEM");
        assert_eq!(err, CertificateError::NoCertificate);
        let err = check_ca_bundle("", now()).expect_err("empty");
        assert_eq!(err, CertificateError::NoCertificate);
    }

    #[test]
    fn bad_base64_rejected() {
        let text = "-----BEGIN CERTIFICATE-----\n!!!notbase64!!!\n-----END CERTIFICATE-----\n";
        let err = inspect_pem(text).expect_err("bad base64");
        assert!(matches!(err, CertificateError::Pem(_)), "{err}");
    }

    #[test]
    fn truncated_block_rejected() {
        let text = valid_ca();
        let cut = &text[..text.len() / 2];
        let bundle = format!("{}{}", valid_ca(), cut);
        let err = inspect_pem(&bundle).expect_err("truncated");
        assert!(matches!(err, CertificateError::Pem(_)), "{err}");
    }

    #[test]
    fn der_garbage_in_certificate_block_rejected() {
        let text = pem::encode(&pem::Pem::new(
            "CERTIFICATE",
            vec![0x30, 0x03, 0x02, 0x01, 0x01],
        ));
        let err = inspect_pem(&text).expect_err("not X.509");
        assert!(
            matches!(
                err,
                CertificateError::InvalidX509 {
                    index: 1,
                    total: 1,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn private_key_block_rejected() {
        let key = KeyPair::generate().expect("key generation");
        let bundle = format!("{}{}", valid_ca(), key.serialize_pem());
        let err = check_ca_bundle(&bundle, now()).expect_err("key block");
        assert_eq!(
            err,
            CertificateError::NotCertificateBlock {
                index: 2,
                total: 2,
                label: "PRIVATE KEY".to_owned()
            }
        );
        // The message names the label, never the key material.
        assert!(!err.to_string().contains("MII"), "{err}");
    }

    #[test]
    fn inspect_accepts_leaf() {
        let leaf = certificate(false, now() - Duration::hours(1), now() + Duration::days(1));
        let infos = inspect_pem(&leaf).expect("leaf parses");
        assert!(!infos[0].is_ca);
    }

    #[test]
    fn serial_number_formatting() {
        assert_eq!(serial_number_text(&[0x01, 0xa3]), "01:a3");
        assert_eq!(serial_number_text(&[0x00, 0x80, 0x01]), "80:01");
        assert_eq!(serial_number_text(&[0x00, 0x01]), "00:01");
        assert_eq!(serial_number_text(&[]), "00");
    }

    #[test]
    fn bmp_string_decoded() {
        let text = Any::from_tag_and_data(Tag::BmpString, &[0x00, 0x41, 0x00, 0xe9]);
        assert_eq!(string_value(&text).as_deref(), Some("A\u{e9}"));
        let odd_length = Any::from_tag_and_data(Tag::BmpString, &[0x00]);
        assert_eq!(string_value(&odd_length), None);
    }

    #[test]
    fn unknown_attribute_type_is_hex() {
        let oid = Oid::from(&[1, 2, 3, 4]).expect("OID");
        let value = Any::from_tag_and_data(Tag::Utf8String, b"x");
        let attribute = AttributeTypeAndValue::new(oid, value);
        assert_eq!(rfc4514_attribute(&attribute), "1.2.3.4=#0c0178");
    }

    #[test]
    fn rfc4514_escaping() {
        assert_eq!(escape_rfc4514("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape_rfc4514("#x"), "\\#x");
        assert_eq!(escape_rfc4514(" padded "), "\\ padded\\ ");
        assert_eq!(escape_rfc4514("x#y"), "x#y");
    }
}
