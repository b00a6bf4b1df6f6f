//! A certificate authority made in the test, and certificates it signs, as PEM. Shared with
//! `standalone/tests/gateway` (service TLS), so each binary uses a part of it.

#![allow(dead_code)]

use std::path::Path;

use campus_gateway::TlsFiles;
use campus_shared::tls::{ClientTls, PemPair, ServerTls};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A CA and a folder for the files it signs.
pub(crate) struct Pki {
    pub(crate) ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and key as PEM.
#[derive(Clone)]
pub(crate) struct Issued {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
    pub(crate) der: Vec<u8>,
}

impl Issued {
    pub(crate) fn pair(&self) -> PemPair {
        PemPair { cert: self.cert_pem.clone().into_bytes(), key: self.key_pem.clone().into_bytes() }
    }
}

impl Issued {
    /// Writes `<name>.crt` and `<name>.key` into `dir`.
    pub(crate) fn write(&self, dir: &Path, name: &str) -> TlsFiles {
        let files = TlsFiles { cert: dir.join(format!("{name}.crt")), key: dir.join(format!("{name}.key")) };
        std::fs::write(&files.cert, &self.cert_pem).unwrap();
        std::fs::write(&files.key, &self.key_pem).unwrap();
        files
    }
}

impl Pki {
    pub(crate) fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_pem = params.self_signed(&key).unwrap().pem();
        Self { ca_pem, issuer: Issuer::new(params, key) }
    }

    fn issue(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> Issued {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("client"));
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem(), der: cert.der().to_vec() }
    }

    /// A server certificate for localhost and 127.0.0.1.
    pub(crate) fn server(&self) -> Issued {
        self.issue(&["localhost", "127.0.0.1"], ExtendedKeyUsagePurpose::ServerAuth)
    }

    pub(crate) fn client(&self) -> Issued {
        self.issue(&[], ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// What a service serves with; `mtls` also requires client certificates from this CA.
    pub(crate) fn server_tls(&self, mtls: bool) -> ServerTls {
        ServerTls {
            identity: self.server().pair(),
            client_ca: mtls.then(|| self.ca_pem.clone().into_bytes()),
        }
    }

    /// What a caller trusts (this CA), with a client certificate when `with_cert`.
    pub(crate) fn client_tls(&self, with_cert: bool) -> ClientTls {
        ClientTls {
            ca: Some(self.ca_pem.clone().into_bytes()),
            identity: with_cert.then(|| self.client().pair()),
        }
    }
}
