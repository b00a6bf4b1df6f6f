//! Mail as the account service leaves it without SMTP: how tests read email codes.

/// A mail outbox as the account service writes it without `CAMPUS_SMTP_URL`
/// (`<dir>/<time>-<id>.eml`): the one way tests get email codes, through the real flow.
/// Each mail is handed out once, oldest first, so a test that asks for two codes gets both.
#[derive(Debug)]
pub struct Outbox {
    dir: std::path::PathBuf,
    _temp: Option<tempfile::TempDir>,
    taken: std::sync::Mutex<std::collections::HashSet<std::ffi::OsString>>,
}

/// How long [`Outbox::next_mail`] waits for a mail (delivery is asynchronous).
const MAIL_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

impl Default for Outbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Outbox {
    /// A fresh outbox in a temporary directory, removed when dropped.
    pub fn new() -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        Self { dir: temp.path().join("outbox"), _temp: Some(temp), taken: Default::default() }
    }

    /// The outbox a running system writes to, e.g. `$CAMPUS_DATA_DIR/outbox`.
    pub fn at(dir: impl Into<std::path::PathBuf>) -> Self {
        Self { dir: dir.into(), _temp: None, taken: Default::default() }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.dir
    }

    /// The oldest mail to `email` not handed out yet (the whole RFC 5322 text), waiting for it.
    pub async fn next_mail(&self, email: &str) -> String {
        let to = format!("to: {}", email.to_lowercase());
        let deadline = tokio::time::Instant::now() + MAIL_WAIT;
        loop {
            if let Some(mail) = self.take_mail(&to) {
                return mail;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no mail to {email} in {} within {MAIL_WAIT:?}",
                self.dir.display()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    fn take_mail(&self, to: &str) -> Option<String> {
        let mut names: Vec<_> = std::fs::read_dir(&self.dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .filter(|n| n.to_string_lossy().ends_with(".eml"))
            .collect();
        names.sort();
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        for name in names {
            if taken.contains(&name) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(self.dir.join(&name)) else { continue };
            let head = text.split("\r\n\r\n").next().unwrap_or_default().to_lowercase();
            if head.lines().any(|line| line.trim_end() == to) {
                taken.insert(name);
                return Some(text);
            }
        }
        None
    }

    /// The code in the next mail to `email` (see [`Outbox::next_mail`]).
    pub async fn code_for(&self, email: &str) -> String {
        let mail = self.next_mail(email).await;
        mail_code(&mail).unwrap_or_else(|| panic!("the mail to {email} carries no code:\n{mail}"))
    }
}

/// The 6-digit code in a mail's body, if it has one.
pub fn mail_code(mail: &str) -> Option<String> {
    let body = mail.split_once("\r\n\r\n").map_or(mail, |(_, body)| body);
    let bytes = body.as_bytes();
    (0..bytes.len().saturating_sub(5)).find_map(|i| {
        let run = &bytes[i..i + 6];
        let bounded = (i == 0 || !bytes[i - 1].is_ascii_digit())
            && bytes.get(i + 6).is_none_or(|b| !b.is_ascii_digit());
        (bounded && run.iter().all(u8::is_ascii_digit)).then(|| String::from_utf8_lossy(run).into_owned())
    })
}
