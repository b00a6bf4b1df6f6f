//! Outgoing mail: SMTP over TLS (lettre) when `CAMPUS_SMTP_URL` is set, else RFC 5322 files
//! in an outbox directory (`$CAMPUS_DATA_DIR/outbox/<time>-<id>.eml`), so the one-command run
//! works with nothing installed.
//!
//! Mail leaves the request path: a request only puts a letter on a bounded queue, and a
//! worker delivers it. So a slow or dead SMTP server never holds a request (nor a database
//! transaction) open, and the answer to a password reset takes as long whether or not a
//! mail goes out (an address without an account gets none). Each delivery has a deadline; a
//! letter that cannot be delivered is logged and dropped (the user asks for a new code),
//! and so is one that finds the queue full.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Semaphore, mpsc};

/// Letters waiting for delivery; past this a new one is dropped (and logged).
const QUEUE: usize = 1024;
/// Deliveries in progress at once.
const PARALLEL: usize = 4;

/// Where mail goes.
#[derive(Debug, Clone)]
pub enum MailTransport {
    /// Each mail is written as `<dir>/<time>-<id>.eml`.
    Outbox(PathBuf),
    Smtp(SmtpConfig),
}

/// An SMTP relay: `smtps://` (TLS from the first byte, port 465) or `smtp://` (STARTTLS
/// required, port 587); plain text is never used. Credentials come from the URL's user info
/// or the `_FILE` variables.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub url: SecretString,
    pub username: Option<SecretString>,
    pub password: Option<SecretString>,
    /// Extra PEM roots to trust (a private relay's CA), besides the system's.
    pub ca_file: Option<PathBuf>,
    /// The deadline of one whole delivery (connect, TLS, AUTH, DATA).
    pub timeout: Duration,
}

/// The mail settings of the account service.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub transport: MailTransport,
    /// The `From:` mailbox, e.g. `캠퍼스 <no-reply@campus.example>`.
    pub from: String,
}

impl MailConfig {
    pub const DEFAULT_FROM: &'static str = "캠퍼스 <no-reply@campus.localhost>";

    /// Mail written to `dir` instead of sent.
    pub fn outbox(dir: impl Into<PathBuf>) -> Self {
        Self { transport: MailTransport::Outbox(dir.into()), from: Self::DEFAULT_FROM.into() }
    }
}

/// One mail to send.
#[derive(Debug, Clone)]
pub(crate) struct Letter {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// The sending half: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub(crate) struct Mailer {
    queue: mpsc::Sender<Letter>,
}

/// The delivering half, run by [`MailWorker::run`].
#[derive(Debug)]
pub(crate) struct MailWorker {
    letters: mpsc::Receiver<Letter>,
    deliver: Arc<Delivery>,
}

#[derive(Debug)]
struct Delivery {
    from: Mailbox,
    sink: Sink,
}

enum Sink {
    Outbox(PathBuf),
    Smtp { transport: AsyncSmtpTransport<Tokio1Executor>, timeout: Duration },
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Outbox(dir) => write!(f, "Outbox({})", dir.display()),
            Self::Smtp { .. } => f.write_str("Smtp"),
        }
    }
}

impl Mailer {
    /// A mailer and its worker; checks the configuration (and creates the outbox) now, so a
    /// bad setting stops the start instead of the first mail.
    pub(crate) fn new(config: &MailConfig) -> anyhow::Result<(Self, MailWorker)> {
        let from: Mailbox = config.from.parse().context("CAMPUS_MAIL_FROM is not a mailbox")?;
        let sink = match &config.transport {
            MailTransport::Outbox(dir) => {
                campus_shared::config::create_private_dir(dir)
                    .with_context(|| format!("create the outbox {}", dir.display()))?;
                tracing::info!(outbox = %dir.display(), "CAMPUS_SMTP_URL is not set: mail is written to the outbox");
                Sink::Outbox(dir.clone())
            }
            MailTransport::Smtp(smtp) => {
                Sink::Smtp { transport: smtp_transport(smtp)?, timeout: smtp.timeout }
            }
        };
        let (queue, letters) = mpsc::channel(QUEUE);
        Ok((Self { queue }, MailWorker { letters, deliver: Arc::new(Delivery { from, sink }) }))
    }

    /// Queues a letter; never waits. A full queue drops it (logged): the caller's answer must
    /// not depend on the mail system.
    pub(crate) fn send(&self, letter: Letter) {
        if self.queue.try_send(letter).is_err() {
            tracing::error!("mail queue full or closed: a mail was dropped");
        }
    }
}

impl MailWorker {
    /// Delivers letters until every [`Mailer`] is dropped and the queue is empty.
    pub(crate) async fn run(mut self) {
        let permits = Arc::new(Semaphore::new(PARALLEL));
        let mut running = tokio::task::JoinSet::new();
        while let Some(letter) = self.letters.recv().await {
            let Ok(permit) = permits.clone().acquire_owned().await else { break };
            let deliver = self.deliver.clone();
            running.spawn(async move {
                if let Err(e) = deliver.deliver(letter).await {
                    tracing::error!(error = format!("{e:#}"), "mail not delivered");
                }
                drop(permit);
            });
            while running.try_join_next().is_some() {}
        }
        while running.join_next().await.is_some() {}
    }
}

impl Delivery {
    async fn deliver(&self, letter: Letter) -> anyhow::Result<()> {
        let message = self.message(&letter)?;
        match &self.sink {
            Sink::Outbox(dir) => {
                let dir = dir.clone();
                let bytes = message.formatted();
                let path = tokio::task::spawn_blocking(move || write_eml(&dir, &bytes)).await??;
                tracing::info!(path = %path.display(), "mail written to the outbox");
            }
            Sink::Smtp { transport, timeout } => {
                tokio::time::timeout(*timeout, transport.send(message))
                    .await
                    .map_err(|_| anyhow::anyhow!("SMTP delivery took longer than {timeout:?}"))?
                    .context("SMTP delivery")?;
                tracing::info!("mail handed to the SMTP relay");
            }
        }
        Ok(())
    }

    /// The RFC 5322 message: UTF-8 plain text, a `Date`, and a `Message-ID` at the sender's
    /// domain. The body goes as 8 bits (readable as it is in the outbox) when its lines are
    /// short enough for that (the texts in `domain::email_code` are), else encoded.
    fn message(&self, letter: &Letter) -> anyhow::Result<Message> {
        let to: Mailbox = letter.to.parse().context("recipient is not a mailbox")?;
        let domain = self.from.email.domain().to_owned();
        let body = Body::new_with_encoding(letter.body.clone(), ContentTransferEncoding::EightBit)
            .unwrap_or_else(Body::new);
        Ok(Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(letter.subject.clone())
            .date_now()
            .message_id(Some(format!("<{}@{domain}>", campus_shared::identity::random_token())))
            .header(ContentType::TEXT_PLAIN)
            .body(body)?)
    }
}

/// Writes `bytes` as `<dir>/<time>-<id>.eml`, readable by the owner only, through a temporary
/// name so a reader never sees half a file.
fn write_eml(dir: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let name = format!("{:016}-{}.eml", now.as_micros(), campus_shared::id::next_id());
    let path = dir.join(&name);
    let partial = dir.join(format!(".{name}.partial"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&partial)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&partial, &path)?;
    Ok(path)
}

/// The parts of an `smtp://` or `smtps://` URL.
#[derive(Debug, PartialEq, Eq)]
struct SmtpUrl {
    wrapper: bool,
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
}

fn parse_smtp_url(url: &str) -> Result<SmtpUrl, String> {
    let (wrapper, rest) = if let Some(rest) = url.strip_prefix("smtps://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("smtp://") {
        (false, rest)
    } else {
        return Err("must start with smtp:// (STARTTLS) or smtps:// (TLS)".into());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(info) => {
            let (user, pass) = match info.split_once(':') {
                Some((user, pass)) => (user, Some(pass)),
                None => (info, None),
            };
            (Some(percent_decode(user)?), pass.map(percent_decode).transpose()?)
        }
    };
    let default_port = if wrapper { 465 } else { 587 };
    // `[v6]:port`, `[v6]`, `host:port` or `host`.
    let (host, port) = match hostport.strip_prefix('[') {
        Some(bracketed) => {
            let (host, rest) = bracketed.split_once(']').ok_or("has an unclosed [")?;
            match rest.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if rest.is_empty() => (host, None),
                None => return Err("has something after ]".into()),
            }
        }
        None => match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        },
    };
    let port = match port {
        Some(port) => port.parse::<u16>().map_err(|_| format!("`{port}` is not a port"))?,
        None => default_port,
    };
    if host.is_empty() {
        return Err("names no host".into());
    }
    Ok(SmtpUrl { wrapper, host: host.to_owned(), port, username, password })
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("a bad %-escape in the user info")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "a bad %-escape in the user info")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the user info is not UTF-8".into())
}

fn smtp_transport(config: &SmtpConfig) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let url =
        parse_smtp_url(config.url.expose_secret()).map_err(|e| anyhow::anyhow!("CAMPUS_SMTP_URL {e}"))?;
    let mut tls = TlsParameters::builder(url.host.clone());
    if let Some(file) = &config.ca_file {
        let pem =
            std::fs::read(file).with_context(|| format!("read CAMPUS_SMTP_CA_FILE {}", file.display()))?;
        tls = tls.add_root_certificate(Certificate::from_pem(&pem).context("CAMPUS_SMTP_CA_FILE")?);
    }
    let tls = tls.build_rustls().context("SMTP TLS settings")?;
    let tls = if url.wrapper { Tls::Wrapper(tls) } else { Tls::Required(tls) };
    // Each network step gets the whole deadline at most; the worker bounds the delivery too.
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host.clone())
        .port(url.port)
        .tls(tls)
        .timeout(Some(config.timeout));
    let username = config.username.as_ref().map(|s| s.expose_secret().to_owned()).or(url.username);
    let password = config.password.as_ref().map(|s| s.expose_secret().to_owned()).or(url.password);
    match (username, password) {
        (Some(user), Some(pass)) => builder = builder.credentials(Credentials::new(user, pass)),
        (None, None) => {}
        _ => anyhow::bail!("CAMPUS_SMTP_URL: a user name needs a password and a password a user name"),
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let url = parse_smtp_url("smtps://mailer%40campus:p%3Ass@smtp.example.com").unwrap();
        assert_eq!(
            url,
            SmtpUrl {
                wrapper: true,
                host: "smtp.example.com".into(),
                port: 465,
                username: Some("mailer@campus".into()),
                password: Some("p:ss".into()),
            }
        );
        let url = parse_smtp_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (url.wrapper, url.host.as_str(), url.port, url.username),
            (false, "127.0.0.1", 2525, None)
        );
        assert_eq!(parse_smtp_url("smtp://[::1]:25").unwrap().host, "::1");
        assert_eq!(parse_smtp_url("smtps://[::1]").unwrap().port, 465);
        assert_eq!(parse_smtp_url("smtp://mail.example/").unwrap().port, 587);
        for bad in ["http://x", "smtp://", "smtp://host:port", "smtp://u:%zz@host"] {
            assert!(parse_smtp_url(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_outbox_gets_a_utf8_rfc5322_file() {
        let dir = tempfile::tempdir().unwrap();
        let (mailer, worker) = Mailer::new(&MailConfig::outbox(dir.path())).unwrap();
        mailer.send(Letter {
            to: "kim@yonsei.ac.kr".into(),
            subject: "[캠퍼스] 인증번호 123456".into(),
            body: "인증번호는 123456입니다.\r\n".into(),
        });
        drop(mailer);
        worker.run().await;
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].extension().is_some_and(|e| e == "eml"));
        let text = std::fs::read_to_string(&files[0]).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("To: kim@yonsei.ac.kr"), "{head}");
        assert!(head.contains("\r\nDate: ") && head.contains("\r\nMessage-ID: <"), "{head}");
        assert!(head.contains("Content-Type: text/plain; charset=utf-8"), "{head}");
        assert!(head.contains("Content-Transfer-Encoding: 8bit"), "{head}");
        assert!(head.is_ascii(), "headers are encoded words: {head}");
        assert_eq!(body, "인증번호는 123456입니다.\r\n");
    }
}
