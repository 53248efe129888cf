//! The proxy's side towards the target: one HTTP/1.1 connection per client connection, opened
//! when the client's first request arrives and again when the target closes it, over TLS when
//! the target's URL says `https`, trusting what `run` trusts (`--ca-file`, `--insecure`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};

use crate::error::{Error, ErrorKind};
use crate::target::Target;

/// Where the target is and how to reach it.
#[derive(Clone)]
pub struct Upstream {
    host: String,
    port: u16,
    /// `host[:port]` as the `Host` header names it.
    pub authority: String,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    timeout: Duration,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("authority", &self.authority)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Why the target could not be reached.
#[derive(Debug)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An open connection to the target.
pub type Connection = SendRequest<Full<Bytes>>;

impl Upstream {
    /// The target of `target.base_url`, with its TLS settings.
    pub fn new(target: &Target) -> Result<Self, Error> {
        let url = reqwest::Url::parse(&target.base_url).map_err(|e| {
            Error::new(
                ErrorKind::Usage,
                format!("the target `{}` is not a URL: {e}", target.base_url),
            )
        })?;
        let host = url
            .host_str()
            .ok_or_else(|| Error::new(ErrorKind::Usage, "the target URL names no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let https = url.scheme() == "https";
        let port = url.port_or_known_default().unwrap_or(80);
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let tls = if https {
            let name = ServerName::try_from(host.clone()).map_err(|e| {
                Error::new(
                    ErrorKind::Usage,
                    format!("`{host}` is no TLS server name: {e}"),
                )
            })?;
            Some((
                tokio_rustls::TlsConnector::from(Arc::new(tls_config(target)?)),
                name,
            ))
        } else {
            None
        };
        Ok(Self {
            host,
            port,
            authority,
            tls,
            timeout: target.timeout.to_std().max(Duration::from_millis(1)),
        })
    }

    /// Opens a connection and hands its driver to the runtime.
    pub async fn connect(&self) -> Result<Connection, Unreachable> {
        let addr = (self.host.as_str(), self.port);
        let tcp = tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| {
                Unreachable(format!(
                    "no connection to {} within the timeout",
                    self.authority
                ))
            })?
            .map_err(|e| Unreachable(format!("cannot connect to {}: {e}", self.authority)))?;
        let _ = tcp.set_nodelay(true);
        let mut builder = hyper::client::conn::http1::Builder::new();
        builder.preserve_header_case(true);
        match &self.tls {
            None => self.handshake(builder, tcp).await,
            Some((connector, name)) => {
                let stream =
                    tokio::time::timeout(self.timeout, connector.connect(name.clone(), tcp))
                        .await
                        .map_err(|_| {
                            Unreachable(format!(
                                "no TLS handshake with {} within the timeout",
                                self.authority
                            ))
                        })?
                        .map_err(|e| {
                            Unreachable(format!("TLS with {} failed: {e}", self.authority))
                        })?;
                self.handshake(builder, stream).await
            }
        }
    }

    /// HTTP/1.1 over an open stream, plain or TLS; its driver goes to the runtime.
    async fn handshake<S>(
        &self,
        builder: hyper::client::conn::http1::Builder,
        stream: S,
    ) -> Result<Connection, Unreachable>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        let (send, conn) = builder
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Unreachable(format!("HTTP with {} failed: {e}", self.authority)))?;
        tokio::spawn(conn);
        Ok(send)
    }
}

/// The TLS client settings `run` uses: the platform's roots and the `--ca-file`'s, or none
/// checked under `--insecure`.
fn tls_config(target: &Target) -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Profile, format!("cannot set up TLS: {e}")))?;
    let mut config = if target.tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let mut extra = Vec::new();
        if let Some(file) = &target.tls.ca_file {
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
