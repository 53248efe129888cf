//! How the harness reaches a target, `run` and `proxy` alike: one TLS client configuration (the
//! platform's roots, a `--ca-file`'s, or `--insecure`), one timeout, and one way to cut a body's
//! text for reports. The profile's headers are parsed once, by `target` ([`Header`]).
//!
//! [`Header`]: crate::target::Header

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};

use crate::error::{Error, ErrorKind};
use crate::target::{Target, Tls};

/// Bytes of a body's text that reports keep: enough to read any answer of the contract, small
/// enough that a hostile target's megabytes do not fill a report.
pub const TEXT_LIMIT: usize = 4096;

/// The per-request timeout of `target`; never zero, which the HTTP stacks read as "none".
pub(crate) fn timeout(target: &Target) -> Duration {
    target.timeout.to_std().max(Duration::from_millis(1))
}

/// A body as text for reports: invalid UTF-8 replaced, cut at [`TEXT_LIMIT`] on a character's
/// boundary, and a cut one says so with the whole length.
pub fn text_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(TEXT_LIMIT + 4)]);
    if body.len() <= TEXT_LIMIT {
        return text.into_owned();
    }
    let mut end = TEXT_LIMIT.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], body.len())
}

/// Why a connection to the target could not be made, as the proxy says it: `cannot connect to
/// 127.0.0.1:9: Connection refused (os error 111)`. The innermost cause (the operating
/// system's error, the TLS library's) is what a person can act on; the HTTP client's layers
/// around it repeat the URL and add nothing.
pub(crate) fn cannot_connect(e: &reqwest::Error) -> String {
    let authority = e.url().map_or_else(String::new, |u| {
        let host = u.host_str().unwrap_or_default();
        match u.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    });
    let mut cause: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    format!("cannot connect to {authority}: {cause}")
}

/// The TLS client settings of `run` and `proxy`: the platform's roots and the `--ca-file`'s, or
/// none checked under `--insecure`. HTTP/1.1 only, as both speak it.
pub(crate) fn tls_config(tls: &Tls) -> Result<rustls::ClientConfig, Error> {
    // ring is the provider linked in; reqwest is built without one.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Profile, format!("cannot set up TLS: {e}")))?;
    let mut config = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let mut extra = Vec::new();
        if let Some(file) = &tls.ca_file {
            let pem = std::fs::read(file).map_err(|e| {
                Error::new(
                    ErrorKind::Profile,
                    format!("cannot read the CA file {}: {e}", file.display()),
                )
            })?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                extra.push(cert.map_err(|e| {
                    Error::new(
                        ErrorKind::Profile,
                        format!("{} is not a PEM certificate bundle: {e}", file.display()),
                    )
                })?);
            }
            if extra.is_empty() {
                return Err(Error::new(
                    ErrorKind::Profile,
                    format!("{} holds no PEM certificate", file.display()),
                ));
            }
        }
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, Arc::clone(&provider))
                .map_err(|e| Error::new(ErrorKind::Profile, format!("cannot set up TLS: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `--insecure`: any certificate is accepted; signatures are still checked as TLS requires.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_on_a_character_and_says_so() {
        assert_eq!(text_of(b"{}"), "{}");
        assert_eq!(text_of(&[b'a'; TEXT_LIMIT]), "a".repeat(TEXT_LIMIT));
        // An é straddling the limit is left out whole, not split into a replacement character.
        let mut body = vec![b'a'; TEXT_LIMIT - 1];
        body.extend("é and more".as_bytes());
        let text = text_of(&body);
        assert_eq!(
            text,
            format!("{}… ({} bytes)", "a".repeat(TEXT_LIMIT - 1), body.len())
        );
        assert_eq!(text_of(&[0xff, b'x']), "\u{fffd}x");
    }

    #[test]
    fn a_ca_file_that_is_missing_or_holds_no_certificate_is_a_profile_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        for (file, says) in [
            (missing, "cannot read the CA file"),
            (empty, "holds no PEM"),
        ] {
            let tls = Tls {
                ca_file: Some(file),
                insecure: false,
            };
            let e = tls_config(&tls).expect_err("refused");
            assert_eq!(e.kind, ErrorKind::Profile);
            assert!(e.message.contains(says), "{e}");
        }
    }
}
