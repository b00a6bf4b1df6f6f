//! Mail over real SMTP: a small SMTP server started here on a loopback port (STARTTLS or TLS
//! from the first byte, AUTH PLAIN, a certificate from a CA made here) receives what the
//! account service sends, and the code it carries signs a user up.
//!
//! The sink is written here rather than taken from crates.io: the embeddable servers there
//! either bring TLS through a second crypto provider (aws-lc) or offer no TLS, and the path
//! worth testing is the TLS one production requires.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use campus_account::{MailConfig, MailTransport, SmtpConfig};
use campus_proto::account::v1::*;
use campus_testkit::status::assert_error;
use campus_testkit::{backends, mail_code};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use secrecy::SecretString;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

use crate::helpers::*;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// What the sink received in one session.
#[derive(Debug, Default)]
struct Received {
    tls: bool,
    auth: Option<(String, String)>,
    rcpt: Vec<String>,
    data: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    StartTls,
    Wrapper,
}

/// A CA and a `localhost` certificate it signed: (CA PEM, TLS acceptor).
fn tls() -> (String, TlsAcceptor) {
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, "sink test CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_pem = params.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert =
        CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&key, &issuer).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap(),
        )
        .unwrap();
    (ca_pem, TlsAcceptor::from(Arc::new(config)))
}

/// Starts the sink; each finished session arrives on the receiver.
async fn sink(mode: Mode, acceptor: TlsAcceptor) -> (u16, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (tx, acceptor) = (tx.clone(), acceptor.clone());
            tokio::spawn(async move {
                if let Ok(received) = session(mode, tcp, acceptor).await {
                    let _ = tx.send(received);
                }
            });
        }
    });
    (port, rx)
}

async fn session(mode: Mode, tcp: tokio::net::TcpStream, acceptor: TlsAcceptor) -> std::io::Result<Received> {
    let mut received = Received::default();
    let mut stream: Box<dyn Stream> = match mode {
        Mode::StartTls => Box::new(tcp),
        Mode::Wrapper => {
            received.tls = true;
            Box::new(acceptor.accept(tcp).await?)
        }
    };
    stream.write_all(b"220 sink ESMTP\r\n").await?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(received);
        }
        let command = line.trim_end().to_string();
        let verb = command.split(' ').next().unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" if received.tls => b"250-sink\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n",
            "EHLO" => b"250-sink\r\n250-8BITMIME\r\n250 STARTTLS\r\n",
            "STARTTLS" => {
                reader.get_mut().write_all(b"220 go ahead\r\n").await?;
                let plain = reader.into_inner();
                // Only the plain TCP stream can be upgraded; the box holds exactly that here.
                let tcp: Box<dyn Stream> = Box::new(acceptor.accept(plain).await?);
                received.tls = true;
                reader = BufReader::new(tcp);
                continue;
            }
            "AUTH" => {
                let encoded = command.split(' ').nth(2).unwrap_or_default();
                let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap_or_default();
                let parts: Vec<String> =
                    decoded.split(|b| *b == 0).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
                received.auth = Some((
                    parts.get(1).cloned().unwrap_or_default(),
                    parts.get(2).cloned().unwrap_or_default(),
                ));
                b"235 2.7.0 ok\r\n"
            }
            "RCPT" => {
                received.rcpt.push(command.clone());
                b"250 ok\r\n"
            }
            "DATA" => {
                reader.get_mut().write_all(b"354 go on\r\n").await?;
                loop {
                    let mut data = String::new();
                    if reader.read_line(&mut data).await? == 0 || data == ".\r\n" {
                        break;
                    }
                    received.data.push_str(&data);
                }
                b"250 queued\r\n"
            }
            "QUIT" => {
                reader.get_mut().write_all(b"221 bye\r\n").await?;
                return Ok(received);
            }
            _ => b"250 ok\r\n",
        };
        reader.get_mut().write_all(reply).await?;
    }
}

/// The account service mailing through the sink at `url`, trusting the CA in `ca_pem`.
async fn app_mailing_to(
    backend: campus_shared::db::Backend,
    url: String,
    ca_pem: &str,
    dir: &std::path::Path,
) -> TestApp {
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    spawn_app_with(backend, move |c| {
        c.mail = MailConfig {
            transport: MailTransport::Smtp(SmtpConfig {
                url: SecretString::from(url),
                username: Some(SecretString::from("mailer".to_string())),
                password: Some(SecretString::from("s3cret: with spaces".to_string())),
                ca_file: Some(ca_file),
                timeout: Duration::from_secs(20),
            }),
            from: "캠퍼스 <no-reply@campus.example>".into(),
        };
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_go_out_over_smtp_with_starttls_or_tls() {
    for backend in backends() {
        for mode in [Mode::StartTls, Mode::Wrapper] {
            let (ca_pem, acceptor) = tls();
            let (port, mut received) = sink(mode, acceptor).await;
            let scheme = if mode == Mode::Wrapper { "smtps" } else { "smtp" };
            let dir = tempfile::tempdir().unwrap();
            let app =
                app_mailing_to(backend, format!("{scheme}://localhost:{port}"), &ca_pem, dir.path()).await;
            let school = app.create_school("Yonsei", "yonsei.ac.kr").await;
            app.send_code("kimsu@yonsei.ac.kr", EmailCodePurpose::SignUp, school.id, "10.0.0.1")
                .await
                .unwrap();

            let mail = tokio::time::timeout(Duration::from_secs(30), received.recv())
                .await
                .expect("the sink got a session")
                .expect("a session");
            assert!(mail.tls, "{mode:?}: TLS before anything else");
            assert_eq!(mail.auth, Some(("mailer".into(), "s3cret: with spaces".into())));
            assert_eq!(mail.rcpt, ["RCPT TO:<kimsu@yonsei.ac.kr>"]);
            let (head, body) = mail.data.split_once("\r\n\r\n").expect("head and body");
            assert!(head.contains("To: kimsu@yonsei.ac.kr") && head.contains("Date: "), "{head}");
            assert!(head.contains("Message-ID: <") && head.contains("@campus.example>"), "{head}");
            assert!(head.contains("From: =?"), "the Korean display name is an encoded word: {head}");
            assert!(body.contains("회원가입 이메일 인증번호"), "UTF-8 body: {body}");
            let code = mail_code(&mail.data).expect("a code");

            let mut request = signup_request(&school, "kimsu");
            request.email_code = code;
            app.try_signup(request).await.unwrap_or_else(|e| panic!("{backend:?} {mode:?}: {e:?}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_smtp_server_does_not_hold_the_request() {
    let backend = campus_shared::db::Backend::Sqlite;
    // Accepts connections and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            open.push(tcp);
        }
    });
    let (ca_pem, _) = tls();
    let dir = tempfile::tempdir().unwrap();
    let app = app_mailing_to(backend, format!("smtp://localhost:{port}"), &ca_pem, dir.path()).await;
    let school = app.create_school("Yonsei", "yonsei.ac.kr").await;
    // The answer comes while the delivery still waits for the silent server (20 s deadline).
    let answered = tokio::time::timeout(
        Duration::from_secs(10),
        app.send_code("kim@yonsei.ac.kr", EmailCodePurpose::SignUp, school.id, ""),
    )
    .await
    .expect("the request does not wait for SMTP");
    assert!(answered.unwrap().expires_at.is_some());
    assert!(!held.is_finished());
}

#[tokio::test]
async fn codes_per_address_and_client_are_limited() {
    for backend in backends() {
        let app = spawn_app_with(backend, |c| {
            c.codes = campus_account::CodeRules {
                interval: Duration::ZERO,
                per_client_per_hour: 2,
                per_address_per_day: 3,
                ..Default::default()
            }
        })
        .await;
        let school = app.create_school("Yonsei", "yonsei.ac.kr").await;
        let send = |client: &'static str| {
            app.send_code("kim@yonsei.ac.kr", EmailCodePurpose::SignUp, school.id, client)
        };
        send("10.0.0.1").await.unwrap();
        send("10.0.0.1").await.unwrap();
        assert_error(send("10.0.0.1").await, tonic::Code::ResourceExhausted, "RATE_LIMITED");
        // Another client has its own share, but the address as a whole has a cap.
        send("10.0.0.2").await.unwrap();
        assert_error(send("10.0.0.3").await, tonic::Code::ResourceExhausted, "RATE_LIMITED");
        // Another address is not affected.
        app.send_code("lee@yonsei.ac.kr", EmailCodePurpose::SignUp, school.id, "10.0.0.1").await.unwrap();
    }
}

#[tokio::test]
async fn a_refused_request_spends_no_quota() {
    for backend in backends() {
        let app = spawn_app_with(backend, |c| {
            c.codes = campus_account::CodeRules { per_client_per_hour: 1, ..Default::default() }
        })
        .await;
        let school = app.create_school("Yonsei", "yonsei.ac.kr").await;
        app.send_code("kim@yonsei.ac.kr", EmailCodePurpose::SignUp, school.id, "10.0.0.1").await.unwrap();
        for _ in 0..3 {
            let again =
                app.send_code("kim@yonsei.ac.kr", EmailCodePurpose::SignUp, school.id, "10.0.0.1").await;
            assert_error(again, tonic::Code::ResourceExhausted, "EMAIL_CODE_TOO_SOON");
        }
        let (sent,): (i64,) = sqlx::query_as("SELECT sent FROM email_code_quota WHERE client = '10.0.0.1'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(sent, 1, "{backend:?}");
    }
}
