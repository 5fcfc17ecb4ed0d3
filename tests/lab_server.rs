//! The lab bootstrap server's responses to valid and invalid RPC calls,
//! sent over real TLS on loopback.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use ztpd::lab::pki::LabPki;
use ztpd::lab::server::{LabServer, LabServerHandle, LabServerSettings, MAX_REQUEST_BODY_SIZE};
use ztpd::ztp::download::{RPC_PATH, YANG_DATA_JSON};

const ESN: &str = "ESN-LAB-SERVER";
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

struct Setup {
    pki: LabPki,
    _dir: TempDir,
    server: LabServerHandle,
}

async fn setup() -> Setup {
    let pki = LabPki::generate(ESN, &[LOCALHOST]).expect("lab PKI");
    let dir = tempfile::tempdir().expect("tempdir");
    pki.write_to(dir.path()).expect("write lab PKI");
    let server = LabServer::bind(LabServerSettings {
        listen: SocketAddr::new(LOCALHOST, 0),
        cert_pem: pki.server.certificate_pem.clone(),
        key_pem: pki.server.key_pem.clone(),
        client_ca_pem: Some(pki.vendor_ca.certificate_pem().to_owned()),
        store_dir: dir.path().join("store"),
        fault: None,
    })
    .await
    .expect("bind lab server")
    .spawn();
    Setup {
        pki,
        _dir: dir,
        server,
    }
}

fn client(pki: &LabPki, with_identity: bool) -> reqwest::Client {
    let roots =
        reqwest::Certificate::from_pem_bundle(pki.bootstrap_ca.certificate_pem().as_bytes())
            .expect("bootstrap CA");
    let mut builder = reqwest::Client::builder()
        .tls_certs_only(roots)
        .no_proxy()
        .timeout(Duration::from_secs(5));
    if with_identity {
        let identity_pem = format!("{}{}", pki.device.certificate_pem, pki.device.key_pem);
        let identity = reqwest::Identity::from_pem(identity_pem.as_bytes()).expect("identity");
        builder = builder.identity(identity);
    }
    builder.build().expect("client")
}

fn url(setup: &Setup, path: &str) -> String {
    format!("https://{}{path}", setup.server.local_addr())
}

/// Sends a request and returns the status and the RESTCONF error-tag.
async fn error_of(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.expect("response");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    assert_eq!(content_type.as_deref(), Some(YANG_DATA_JSON));
    let body: Value = response.json().await.expect("JSON error body");
    let tag = body["ietf-restconf:errors"]["error"][0]["error-tag"]
        .as_str()
        .expect("error-tag")
        .to_owned();
    (status, tag)
}

#[tokio::test]
async fn valid_call_echoes_identity() {
    let setup = setup().await;
    let response = client(&setup.pki, true)
        .post(url(&setup, RPC_PATH))
        .header("Content-Type", YANG_DATA_JSON)
        .body(r#"{"ztpd-bootstrap:input":{"server-address":"127.0.0.1"}}"#)
        .send()
        .await
        .expect("response");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("JSON");
    let output = &body["ztpd-bootstrap:output"];
    assert_eq!(output["server-address"], "127.0.0.1");
    assert_eq!(output["ca-certificate"], setup.pki.nce_ca.certificate_pem());
    setup.server.shutdown().await;
}

#[tokio::test]
async fn invalid_requests_get_restconf_errors() {
    let setup = setup().await;
    let client = client(&setup.pki, true);
    let rpc = url(&setup, RPC_PATH);

    let bad_json = client
        .post(&rpc)
        .header("Content-Type", YANG_DATA_JSON)
        .body("{not json");
    assert_eq!(
        error_of(bad_json).await,
        (400, "malformed-message".to_owned())
    );

    let unknown_address = client
        .post(&rpc)
        .header("Content-Type", YANG_DATA_JSON)
        .body(r#"{"ztpd-bootstrap:input":{"server-address":"::2"}}"#);
    assert_eq!(
        error_of(unknown_address).await,
        (404, "invalid-value".to_owned())
    );

    let wrong_path = client
        .post(url(&setup, "/restconf/operations/other:rpc"))
        .header("Content-Type", YANG_DATA_JSON)
        .body("{}");
    assert_eq!(
        error_of(wrong_path).await,
        (404, "invalid-value".to_owned())
    );

    let wrong_method = client.get(&rpc);
    assert_eq!(
        error_of(wrong_method).await,
        (405, "operation-not-supported".to_owned())
    );

    let wrong_type = client
        .post(&rpc)
        .header("Content-Type", "text/plain")
        .body("x");
    assert_eq!(
        error_of(wrong_type).await,
        (415, "invalid-value".to_owned())
    );

    let too_big = client
        .post(&rpc)
        .header("Content-Type", YANG_DATA_JSON)
        .body(vec![b' '; MAX_REQUEST_BODY_SIZE + 1]);
    assert_eq!(error_of(too_big).await, (413, "too-big".to_owned()));

    setup.server.shutdown().await;
}

#[tokio::test]
async fn client_without_certificate_rejected() {
    let setup = setup().await;
    let result = client(&setup.pki, false)
        .post(url(&setup, RPC_PATH))
        .header("Content-Type", YANG_DATA_JSON)
        .body(format!(r#"{{"ztpd-bootstrap:input":{{"esn":"{ESN}"}}}}"#))
        .send()
        .await;
    assert!(
        result.is_err(),
        "the server must require a client certificate"
    );
    setup.server.shutdown().await;
}
