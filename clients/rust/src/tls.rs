//! `TlsOptions`: how [`Client::connect_tls`](crate::Client::connect_tls) checks the
//! server's certificate and which certificate it presents for mutual TLS.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::error::Error;

/// How to connect over TLS. The default trusts the operating system's certificate
/// store and presents no client certificate.
///
/// ```
/// use hypergraph_client::TlsOptions;
///
/// let tls = TlsOptions::new()
///     .ca_file("/etc/hypergraph/ca.pem")
///     .client_certificate("/etc/hypergraph/client.pem", "/etc/hypergraph/client.key");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM bundle of the certificate authorities to trust; `None`: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// This client's certificate chain and private key (PEM) for mutual TLS.
    pub client_certificate: Option<(PathBuf, PathBuf)>,
    /// The name the server's certificate must carry; `None`: the target's host.
    pub server_name: Option<String>,
}

impl TlsOptions {
    /// The system's roots, no client certificate.
    pub fn new() -> TlsOptions {
        TlsOptions::default()
    }

    /// Trusts the certificate authorities of `path` (PEM) instead of the system's.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> TlsOptions {
        self.ca_file = Some(path.into());
        self
    }

    /// Presents this certificate chain and its private key (both PEM): mutual TLS.
    pub fn client_certificate(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> TlsOptions {
        self.client_certificate = Some((cert.into(), key.into()));
        self
    }

    /// Checks the server's certificate for `name` instead of the target's host.
    pub fn server_name(mut self, name: impl Into<String>) -> TlsOptions {
        self.server_name = Some(name.into());
        self
    }

    /// The tonic TLS configuration, with every file read now.
    pub fn client_config(&self) -> Result<ClientTlsConfig, Error> {
        let mut config = ClientTlsConfig::new();
        config = match &self.ca_file {
            Some(path) => config.ca_certificate(Certificate::from_pem(read("CA file", path)?)),
            None => config.with_native_roots(),
        };
        if let Some((cert, key)) = &self.client_certificate {
            config = config.identity(Identity::from_pem(read("client certificate", cert)?, read("client key", key)?));
        }
        if let Some(name) = &self.server_name {
            config = config.domain_name(name.clone());
        }
        Ok(config)
    }
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::Tls(format!("cannot read the {what} {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_file_is_named() {
        let err = TlsOptions::new().ca_file("/nonexistent/ca.pem").client_config().unwrap_err();
        assert!(matches!(err, Error::Tls(_)), "{err:?}");
        assert!(err.to_string().contains("CA file /nonexistent/ca.pem"), "{err}");
        let err = TlsOptions::new()
            .client_certificate("/nonexistent/client.pem", "/nonexistent/client.key")
            .client_config()
            .unwrap_err();
        assert!(err.to_string().contains("client certificate /nonexistent/client.pem"), "{err}");
    }

    #[test]
    fn the_default_trusts_the_system_roots() {
        assert_eq!(TlsOptions::new(), TlsOptions { ca_file: None, client_certificate: None, server_name: None });
        TlsOptions::new().server_name("runner").client_config().expect("no file to read");
    }
}
