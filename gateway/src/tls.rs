//! HTTPS at the gateway (DESIGN.md §11): rustls with the ring provider, ALPN `h2` and
//! `http/1.1` on one port so HTTP/JSON, gRPC and gRPC-web share it.
//!
//! The certificate comes from PEM files (`GATEWAY_TLS_CERT_FILE`, `GATEWAY_TLS_KEY_FILE`) and is
//! re-read every few seconds: a changed pair is served from the next handshake on, while open
//! connections keep the certificate they were made with. The files are opened by path on each
//! poll, so replacing them by rename or by swapping a symlink (how Kubernetes updates a mounted
//! Secret) is seen like an edit in place. A pair that does not load (a half-written file, a key
//! that does not match) is logged and the previous certificate stays in service.
//!
//! `CAMPUS_TLS=self-signed` makes a certificate for localhost in the data directory instead.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use http::HeaderValue;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::{CryptoProvider, ring};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig};

/// How often the certificate files are checked for a change (DESIGN.md promises 10 s).
pub(crate) const RELOAD_INTERVAL: Duration = Duration::from_secs(5);
/// A client that has not finished its handshake by then is disconnected, so idle sockets cannot
/// hold connection slots open before a single request.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Answers under TLS tell browsers to use HTTPS for a year.
pub(crate) const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// Where the certificate and key live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path}: {problem}")]
    Pem { path: PathBuf, problem: String },
    #[error("certificate and key: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// What the files hold, kept to notice a change without parsing again.
#[derive(Debug, PartialEq, Eq)]
struct Contents {
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl TlsFiles {
    fn read(&self) -> Result<Contents, TlsError> {
        let read =
            |path: &Path| std::fs::read(path).map_err(|source| TlsError::Read { path: path.into(), source });
        Ok(Contents { cert: read(&self.cert)?, key: read(&self.key)? })
    }

    fn load(&self, contents: &Contents) -> Result<CertifiedKey, TlsError> {
        let pem = |path: &Path, e: rustls::pki_types::pem::Error| TlsError::Pem {
            path: path.into(),
            problem: e.to_string(),
        };
        let chain = CertificateDer::pem_slice_iter(&contents.cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem(&self.cert, e))?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate { path: self.cert.clone() });
        }
        let key = PrivateKeyDer::from_pem_slice(&contents.key).map_err(|e| pem(&self.key, e))?;
        // from_der also checks that the key belongs to the certificate.
        Ok(CertifiedKey::from_der(chain, key, &provider())?)
    }

    /// `dir/tls/cert.pem` and `dir/tls/key.pem`, made on first use: a certificate for
    /// localhost, 127.0.0.1 and ::1 signed by its own key (`CAMPUS_TLS=self-signed`).
    pub(crate) fn self_signed_in(dir: &Path) -> Result<Self, TlsError> {
        let tls_dir = dir.join("tls");
        let files = Self { cert: tls_dir.join("cert.pem"), key: tls_dir.join("key.pem") };
        if files.cert.exists() && files.key.exists() {
            return Ok(files);
        }
        let names = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
        let made = rcgen::generate_simple_self_signed(names)?;
        fn io(path: &Path) -> impl FnOnce(io::Error) -> TlsError + '_ {
            move |source| TlsError::Read { path: path.into(), source }
        }
        campus_shared::config::create_private_dir(&tls_dir).map_err(io(&tls_dir))?;
        campus_shared::config::load_or_create(&files.key, || made.signing_key.serialize_pem())
            .map_err(io(&files.key))?;
        std::fs::write(&files.cert, made.cert.pem()).map_err(io(&files.cert))?;
        Ok(files)
    }
}

/// Hands every handshake the certificate loaded last.
#[derive(Debug)]
pub(crate) struct ReloadingResolver {
    files: TlsFiles,
    current: RwLock<(Contents, Arc<CertifiedKey>)>,
}

impl ReloadingResolver {
    /// Loads the files now; failing here stops the start (there is nothing to serve yet).
    pub(crate) fn new(files: TlsFiles) -> Result<Self, TlsError> {
        let contents = files.read()?;
        let key = Arc::new(files.load(&contents)?);
        Ok(Self { files, current: RwLock::new((contents, key)) })
    }

    /// Reads the files again and swaps the certificate in when they changed and load.
    /// Returns whether it was replaced.
    pub(crate) fn reload(&self) -> Result<bool, TlsError> {
        let contents = self.files.read()?;
        if self.current.read().map(|current| current.0 == contents).unwrap_or(false) {
            return Ok(false);
        }
        let key = Arc::new(self.files.load(&contents)?);
        if let Ok(mut current) = self.current.write() {
            *current = (contents, key);
        }
        Ok(true)
    }

    /// The certificate new handshakes get.
    pub(crate) fn current(&self) -> Arc<CertifiedKey> {
        match self.current.read() {
            Ok(current) => current.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }

    /// Polls the files every `interval` for as long as the resolver is in use.
    pub(crate) fn watch(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(resolver) = weak.upgrade() else { return };
                match resolver.reload() {
                    Ok(true) => {
                        tracing::info!(cert = %resolver.files.cert.display(), "TLS certificate reloaded")
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "TLS certificate not reloaded; the previous one stays")
                    }
                }
            }
        })
    }
}

impl ResolvesServerCert for ReloadingResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The gateway's TLS: the acceptor and the resolver behind it.
#[derive(Clone)]
pub(crate) struct GatewayTls {
    acceptor: TlsAcceptor,
    resolver: Arc<ReloadingResolver>,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for GatewayTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayTls").field("files", &self.resolver.files).finish_non_exhaustive()
    }
}

impl GatewayTls {
    /// TLS 1.2 and 1.3 with ring's safe defaults, ALPN `h2` then `http/1.1`.
    pub(crate) fn new(files: TlsFiles) -> Result<Self, TlsError> {
        let resolver = Arc::new(ReloadingResolver::new(files)?);
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            resolver,
            handshake_timeout: HANDSHAKE_TIMEOUT,
        })
    }

    /// A shorter or longer bound on the handshake than [`HANDSHAKE_TIMEOUT`].
    pub(crate) fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    pub(crate) fn resolver(&self) -> &Arc<ReloadingResolver> {
        &self.resolver
    }

    /// The server side of a handshake, bounded by the handshake timeout.
    pub(crate) async fn accept<IO>(&self, stream: IO) -> io::Result<tokio_rustls::server::TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        match tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(stream)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> (TlsFiles, Vec<u8>) {
        let made = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
        let files = TlsFiles { cert: dir.join(format!("{name}.crt")), key: dir.join(format!("{name}.key")) };
        std::fs::write(&files.cert, made.cert.pem()).unwrap();
        std::fs::write(&files.key, made.signing_key.serialize_pem()).unwrap();
        (files, made.cert.der().to_vec())
    }

    fn served(resolver: &ReloadingResolver) -> Vec<u8> {
        resolver.current().end_entity_cert().unwrap().to_vec()
    }

    #[test]
    fn a_changed_pair_is_served_after_a_reload_and_an_unchanged_one_is_not_reparsed() {
        let dir = tempfile::tempdir().unwrap();
        let (files, first) = write_pair(dir.path(), "one.test");
        let resolver = ReloadingResolver::new(files.clone()).unwrap();
        assert_eq!(served(&resolver), first);
        assert!(!resolver.reload().unwrap());

        let (other, second) = write_pair(dir.path(), "two.test");
        std::fs::copy(&other.cert, &files.cert).unwrap();
        std::fs::copy(&other.key, &files.key).unwrap();
        assert!(resolver.reload().unwrap());
        assert_eq!(served(&resolver), second);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_swap_like_a_kubernetes_secret_update_is_seen() {
        // Kubernetes mounts a Secret as ..data -> ..<timestamp>/ and swaps the ..data link.
        let dir = tempfile::tempdir().unwrap();
        let v1 = dir.path().join("v1");
        let v2 = dir.path().join("v2");
        std::fs::create_dir_all(&v1).unwrap();
        std::fs::create_dir_all(&v2).unwrap();
        let (a, first) = write_pair(&v1, "tls");
        let (b, second) = write_pair(&v2, "tls");
        let _ = (a, b);
        std::os::unix::fs::symlink("v1", dir.path().join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/tls.crt", dir.path().join("tls.crt")).unwrap();
        std::os::unix::fs::symlink("..data/tls.key", dir.path().join("tls.key")).unwrap();
        let files = TlsFiles { cert: dir.path().join("tls.crt"), key: dir.path().join("tls.key") };
        let resolver = ReloadingResolver::new(files).unwrap();
        assert_eq!(served(&resolver), first);

        std::os::unix::fs::symlink("v2", dir.path().join("..data_tmp")).unwrap();
        std::fs::rename(dir.path().join("..data_tmp"), dir.path().join("..data")).unwrap();
        assert!(resolver.reload().unwrap());
        assert_eq!(served(&resolver), second);
    }

    #[test]
    fn a_broken_or_mismatched_pair_keeps_the_previous_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (files, first) = write_pair(dir.path(), "one.test");
        let (other, _) = write_pair(dir.path(), "two.test");
        let resolver = ReloadingResolver::new(files.clone()).unwrap();

        // A new certificate with the old key: the pair does not match.
        std::fs::copy(&other.cert, &files.cert).unwrap();
        assert!(resolver.reload().is_err());
        assert_eq!(served(&resolver), first);

        std::fs::write(&files.cert, b"-----BEGIN CERTIFICATE-----\ntruncated").unwrap();
        assert!(resolver.reload().is_err());
        assert_eq!(served(&resolver), first);

        std::fs::write(&files.cert, b"no pem at all").unwrap();
        assert!(matches!(resolver.reload(), Err(TlsError::NoCertificate { .. })));
        assert_eq!(served(&resolver), first);
    }

    #[test]
    fn missing_files_fail_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles { cert: dir.path().join("none.crt"), key: dir.path().join("none.key") };
        assert!(matches!(ReloadingResolver::new(files), Err(TlsError::Read { .. })));
    }

    #[test]
    fn self_signed_is_made_once_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles::self_signed_in(dir.path()).unwrap();
        let first = std::fs::read(&files.cert).unwrap();
        let resolver = ReloadingResolver::new(files.clone()).unwrap();
        assert!(!served(&resolver).is_empty());
        assert_eq!(TlsFiles::self_signed_in(dir.path()).unwrap(), files);
        assert_eq!(std::fs::read(&files.cert).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files.key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_handshake_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let (files, _) = write_pair(dir.path(), "localhost");
        let tls = GatewayTls::new(files).unwrap().with_handshake_timeout(Duration::from_millis(50));
        // The client end stays silent: no ClientHello ever arrives.
        let (_client, server) = tokio::io::duplex(1024);
        let Err(err) = tls.accept(server).await else { panic!("the handshake must not succeed") };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
