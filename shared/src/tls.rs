//! TLS between campus processes (DESIGN.md §11), with tonic's rustls support.
//!
//! A service serves TLS when `<SERVICE>_TLS_CERT_FILE` and `<SERVICE>_TLS_KEY_FILE` name a PEM
//! certificate chain and its key. Callers (the gateway, messaging, timetable, the health probe)
//! reach `https://` upstream addresses and verify them against `CAMPUS_TLS_CA_FILE`, presenting
//! `CAMPUS_TLS_CLIENT_CERT_FILE` / `CAMPUS_TLS_CLIENT_KEY_FILE` when set. With
//! `CAMPUS_TLS_CLIENT_AUTH=require` a service also demands a client certificate signed by that
//! CA (mutual TLS), so only campus processes can call it.

use std::fmt;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

use crate::env::{ConfigError, var};

/// A PEM certificate chain and its private key.
#[derive(Clone)]
pub struct PemPair {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

impl fmt::Debug for PemPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PemPair").field("cert_bytes", &self.cert.len()).finish_non_exhaustive()
    }
}

fn read_file(name: &str, path: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| ConfigError { name: name.into(), problem: format!("{path}: {e}") })
}

impl PemPair {
    /// The files named by `cert_var` and `key_var`: both set, or neither.
    pub fn from_env(cert_var: &str, key_var: &str) -> Result<Option<Self>, ConfigError> {
        match (var(cert_var), var(key_var)) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => {
                Ok(Some(Self { cert: read_file(cert_var, &cert)?, key: read_file(key_var, &key)? }))
            }
            (Some(_), None) => {
                Err(ConfigError { name: key_var.into(), problem: format!("needed with {cert_var}") })
            }
            (None, Some(_)) => {
                Err(ConfigError { name: cert_var.into(), problem: format!("needed with {key_var}") })
            }
        }
    }

    fn identity(&self) -> Identity {
        Identity::from_pem(&self.cert, &self.key)
    }
}

/// How a gRPC server serves TLS.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub identity: PemPair,
    /// PEM of the CA whose client certificates are required; `None` accepts any client.
    pub client_ca: Option<Vec<u8>>,
}

impl ServerTls {
    /// `<PREFIX>_TLS_CERT_FILE` and `<PREFIX>_TLS_KEY_FILE`; with `CAMPUS_TLS_CLIENT_AUTH=require`
    /// also client certificates signed by `CAMPUS_TLS_CA_FILE`.
    pub fn from_env(prefix: &str) -> Result<Option<Self>, ConfigError> {
        let Some(identity) =
            PemPair::from_env(&format!("{prefix}_TLS_CERT_FILE"), &format!("{prefix}_TLS_KEY_FILE"))?
        else {
            return Ok(None);
        };
        let client_ca = match var("CAMPUS_TLS_CLIENT_AUTH").as_deref() {
            None | Some("none") => None,
            Some("require") => match var("CAMPUS_TLS_CA_FILE") {
                Some(path) => Some(read_file("CAMPUS_TLS_CA_FILE", &path)?),
                None => {
                    return Err(ConfigError {
                        name: "CAMPUS_TLS_CA_FILE".into(),
                        problem: "needed with CAMPUS_TLS_CLIENT_AUTH=require".into(),
                    });
                }
            },
            Some(other) => {
                return Err(ConfigError {
                    name: "CAMPUS_TLS_CLIENT_AUTH".into(),
                    problem: format!("{other:?}: must be none or require"),
                });
            }
        };
        Ok(Some(Self { identity, client_ca }))
    }

    /// tonic's server configuration: ALPN h2, and a required client certificate under mTLS.
    pub fn config(&self) -> ServerTlsConfig {
        let config = ServerTlsConfig::new().identity(self.identity.identity());
        match &self.client_ca {
            Some(ca) => config.client_ca_root(Certificate::from_pem(ca)).client_auth_optional(false),
            None => config,
        }
    }
}

/// What a caller trusts and presents when an upstream address is `https://`.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// PEM of the CA that signed the upstreams' certificates.
    pub ca: Option<Vec<u8>>,
    /// The client certificate for upstreams that require one (mTLS).
    pub identity: Option<PemPair>,
}

impl ClientTls {
    /// `CAMPUS_TLS_CA_FILE`, `CAMPUS_TLS_CLIENT_CERT_FILE` and `CAMPUS_TLS_CLIENT_KEY_FILE`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            ca: var("CAMPUS_TLS_CA_FILE").map(|path| read_file("CAMPUS_TLS_CA_FILE", &path)).transpose()?,
            identity: PemPair::from_env("CAMPUS_TLS_CLIENT_CERT_FILE", "CAMPUS_TLS_CLIENT_KEY_FILE")?,
        })
    }

    /// An endpoint for `url`: plain for `http://`, TLS verified against the CA (with the client
    /// certificate, if any) for `https://`. The name checked is the URL's host.
    pub fn endpoint(&self, url: &str) -> Result<Endpoint, ConfigError> {
        let problem = |e: tonic::transport::Error| ConfigError { name: url.into(), problem: e.to_string() };
        let endpoint = Endpoint::from_shared(url.to_string()).map_err(problem)?;
        if !url.starts_with("https://") {
            return Ok(endpoint);
        }
        let Some(ca) = &self.ca else {
            return Err(ConfigError {
                name: "CAMPUS_TLS_CA_FILE".into(),
                problem: format!("needed to verify {url}"),
            });
        };
        let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
        if let Some(identity) = &self.identity {
            tls = tls.identity(identity.identity());
        }
        endpoint.tls_config(tls).map_err(problem)
    }
}
