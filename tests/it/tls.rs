//! HTTPS targets, as vendors' instances are: a private CA given with `--ca-file`, the explicit
//! `--insecure` switch, and a clear exit 3 when the certificate is not trusted.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use tokio_rustls::rustls;

const USER: &str = "tls@example.com";
const PASSWORD: &str = "tls-test-password-7";

/// A TLS front on `127.0.0.1:0` that forwards every connection to `backend`; returns its port.
async fn tls_front(backend: std::net::SocketAddr, cert_der: Vec<u8>, key_der: Vec<u8>) -> u16 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = rustls::pki_types::CertificateDer::from(cert_der);
    let key = rustls::pki_types::PrivateKeyDer::try_from(key_der).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
}

fn run(args: Vec<String>) -> (i32, String) {
    let o = common::command(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(&args)
        .env("TOKEN_CONFORMANCE_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), common::text(&o))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_ca_with_insecure_and_untrusted() {
    let dir = tempfile::tempdir().unwrap();
    // A private CA and a certificate for localhost signed by it.
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();

    let server = reference_server::spawn(reference_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        users: vec![(USER.into(), PASSWORD.into())],
        test_control: true,
        ..reference_server::Config::new(dir.path().join("db.sqlite"))
    })
    .await
    .unwrap();
    let port = tls_front(server.addr(), leaf.der().to_vec(), leaf_key.serialize_der()).await;
    let url = format!("https://localhost:{port}");
    let base = vec![
        "run".to_owned(),
        "--target".into(),
        url.clone(),
        "--control-url".into(),
        format!("{url}/conformance/v1"),
        "--username".into(),
        USER.into(),
        "--tag".into(),
        "smoke".into(),
    ];
    let with = |extra: &[&str]| {
        let mut a = base.clone();
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    };

    let trusted = with(&["--ca-file", ca_file.to_str().unwrap()]);
    let (code, out) = tokio::task::spawn_blocking(move || run(trusted))
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("against {url}")), "{out}");

    let untrusted = with(&[]);
    let (code, out) = tokio::task::spawn_blocking(move || run(untrusted))
        .await
        .unwrap();
    assert_eq!(code, 3, "an untrusted certificate must not pass: {out}");
    assert!(
        out.contains("invalid peer certificate: UnknownIssuer"),
        "{out}"
    );
    assert!(
        out.contains("hint: the target's certificate is not trusted: give --ca-file"),
        "{out}"
    );

    let insecure = with(&["--insecure"]);
    let (code, out) = tokio::task::spawn_blocking(move || run(insecure))
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");

    let bad_ca = dir.path().join("not-a-cert.pem");
    std::fs::write(&bad_ca, "hello").unwrap();
    let broken = with(&["--ca-file", bad_ca.to_str().unwrap()]);
    let (code, out) = tokio::task::spawn_blocking(move || run(broken))
        .await
        .unwrap();
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("holds no PEM certificate"), "{out}");
    server.shutdown().await;
}
