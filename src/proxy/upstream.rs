//! The proxy's side towards the target: one HTTP/1.1 connection per client connection, opened
//! when the client's first request arrives and again when the target closes it, over TLS when
//! the target's URL says `https`, trusting what `run` trusts (`--ca-file`, `--insecure`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;

use crate::error::{Error, ErrorKind};
use crate::target::Target;
use crate::transport;
use crate::wire::TransportError;

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
        let named = url
            .host_str()
            .ok_or_else(|| Error::new(ErrorKind::Usage, "the target URL names no host"))?;
        let host = named
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let https = url.scheme() == "https";
        let port = url.port_or_known_default().unwrap_or(80);
        let authority = match url.port() {
            Some(p) => format!("{named}:{p}"),
            None => named.to_owned(),
        };
        let tls = if https {
            let name = ServerName::try_from(host.clone()).map_err(|e| {
                Error::new(
                    ErrorKind::Usage,
                    format!("`{host}` is no TLS server name: {e}"),
                )
            })?;
            Some((
                tokio_rustls::TlsConnector::from(Arc::new(transport::tls_config(&target.tls)?)),
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
            timeout: transport::timeout(target),
        })
    }

    /// Opens a connection and hands its driver to the runtime.
    pub async fn connect(&self) -> Result<Connection, TransportError> {
        let addr = (self.host.as_str(), self.port);
        let tcp = tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| TransportError::Timeout(self.timeout))?
            .map_err(|e| {
                TransportError::Connect(format!("cannot connect to {}: {e}", self.authority))
            })?;
        let _ = tcp.set_nodelay(true);
        let mut builder = hyper::client::conn::http1::Builder::new();
        builder.preserve_header_case(true);
        match &self.tls {
            None => self.handshake(builder, tcp).await,
            Some((connector, name)) => {
                let stream =
                    tokio::time::timeout(self.timeout, connector.connect(name.clone(), tcp))
                        .await
                        .map_err(|_| TransportError::Timeout(self.timeout))?
                        .map_err(|e| {
                            TransportError::Tls(format!("TLS with {} failed: {e}", self.authority))
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
    ) -> Result<Connection, TransportError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        let (send, conn) = builder.handshake(TokioIo::new(stream)).await.map_err(|e| {
            TransportError::Connect(format!("HTTP with {} failed: {e}", self.authority))
        })?;
        tokio::spawn(conn);
        Ok(send)
    }
}
