//! Email codes (DESIGN 7): six digits mailed to an address, proving it for one purpose.
//!
//! A code is stored as HMAC-SHA256 over (purpose, address, code) under a server key, never in
//! the clear. A slow password hash (argon2) would not help here: there are only a million
//! codes, so whoever reads the table could try them all against any unkeyed hash in seconds,
//! and argon2 on a public, unauthenticated route would hand attackers a CPU amplifier. Keyed,
//! a leaked table is useless without the key, and binding the purpose and the address into the
//! MAC means a code cannot be moved to another address or purpose even by editing rows.

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Wrong tries after which a code is burned (the right code is refused too).
pub(crate) const MAX_TRIES: i64 = 5;

/// What a code proves the address for, numbered as `EmailCodePurpose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    SignUp = 1,
    PasswordReset = 2,
}

impl Purpose {
    pub(crate) fn from_proto(value: i32) -> Option<Self> {
        match value {
            1 => Some(Self::SignUp),
            2 => Some(Self::PasswordReset),
            _ => None,
        }
    }

    pub(crate) fn as_i64(self) -> i64 {
        self as i64
    }
}

/// A new code: six decimal digits, uniformly drawn.
pub(crate) fn generate() -> String {
    format!("{:06}", rand::thread_rng().gen_range(0..1_000_000u32))
}

/// A code as typed: surrounding whitespace is forgiven; anything but six digits is no code.
pub(crate) fn parse(raw: &str) -> Result<String, String> {
    let code = raw.trim();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(code.to_owned())
    } else {
        Err("must be the 6-digit code from the mail".into())
    }
}

/// The server key codes are MACed under.
#[derive(Clone)]
pub(crate) struct CodeKey([u8; 32]);

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeKey(..)")
    }
}

impl CodeKey {
    /// A key derived from a server secret, separated from the secret's other uses by a label.
    pub(crate) fn derive(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(b"campus email code v1");
        Self(mac.finalize().into_bytes().into())
    }

    fn mac(&self, purpose: Purpose, email: &str, code: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        // Length-prefixed fields: no two (purpose, email, code) triples share an input.
        mac.update(&purpose.as_i64().to_be_bytes());
        mac.update(&(email.len() as u64).to_be_bytes());
        mac.update(email.as_bytes());
        mac.update(code.as_bytes());
        mac
    }

    /// What is stored for a code: the lower-case hex MAC.
    pub(crate) fn seal(&self, purpose: Purpose, email: &str, code: &str) -> String {
        self.mac(purpose, email, code).finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `code` is the one `stored` was sealed from, compared in constant time.
    pub(crate) fn opens(&self, stored: &str, purpose: Purpose, email: &str, code: &str) -> bool {
        let Some(bytes) = unhex(stored) else { return false };
        self.mac(purpose, email, code).verify_slice(&bytes).is_ok()
    }
}

fn unhex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

/// The subject and Korean plain-text body of the mail for a code. Body lines stay under 76
/// bytes (25 Hangul syllables) so the mail can go as readable 8-bit text.
pub(crate) fn mail_for_code(purpose: Purpose, code: &str, valid_minutes: u64) -> (String, String) {
    let valid = format!("이 인증번호는 {valid_minutes}분 동안\r\n한 번만 쓸 수 있습니다.\r\n");
    match purpose {
        Purpose::SignUp => (
            format!("[캠퍼스] 이메일 인증번호 {code}"),
            format!(
                "안녕하세요, 캠퍼스입니다.\r\n\r\n회원가입 이메일 인증번호는\r\n\r\n    {code}\r\n\r\n\
                 입니다. {valid}\r\n\
                 본인이 요청하지 않았다면\r\n이 메일을 무시해 주세요.\r\n"
            ),
        ),
        Purpose::PasswordReset => (
            format!("[캠퍼스] 비밀번호 재설정 인증번호 {code}"),
            format!(
                "안녕하세요, 캠퍼스입니다.\r\n\r\n비밀번호 재설정 인증번호는\r\n\r\n    {code}\r\n\r\n\
                 입니다. {valid}\
                 비밀번호를 바꾸면 모든 기기에서\r\n로그아웃됩니다.\r\n\r\n\
                 본인이 요청하지 않았다면\r\n이 메일을 무시해 주세요.\r\n\
                 비밀번호는 바뀌지 않습니다.\r\n"
            ),
        ),
    }
}

/// The mail for a sign-up code requested for an address that already has an account.
pub(crate) fn mail_already_registered() -> (String, String) {
    (
        "[캠퍼스] 이미 가입된 계정이 있습니다".to_owned(),
        "안녕하세요, 캠퍼스입니다.\r\n\r\n\
         이 주소로 회원가입 인증번호를\r\n요청하셨지만, 이미 가입된 계정이 있습니다.\r\n\r\n\
         비밀번호가 기억나지 않으면\r\n로그인 화면의 \"비밀번호 찾기\"로\r\n\
         재설정할 수 있습니다.\r\n\r\n\
         본인이 요청하지 않았다면\r\n이 메일을 무시해 주세요.\r\n"
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..1000 {
            let code = generate();
            assert_eq!(parse(&code).unwrap(), code);
        }
        assert_eq!(parse(" 012345 ").unwrap(), "012345");
        for bad in ["", "12345", "1234567", "12a456", "١٢٣٤٥٦"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_sealed_code_opens_only_for_its_address_and_purpose() {
        let key = CodeKey::derive(b"secret");
        let stored = key.seal(Purpose::SignUp, "kim@yonsei.ac.kr", "123456");
        assert!(key.opens(&stored, Purpose::SignUp, "kim@yonsei.ac.kr", "123456"));
        assert!(!key.opens(&stored, Purpose::SignUp, "kim@yonsei.ac.kr", "123457"));
        assert!(!key.opens(&stored, Purpose::PasswordReset, "kim@yonsei.ac.kr", "123456"));
        assert!(!key.opens(&stored, Purpose::SignUp, "lee@yonsei.ac.kr", "123456"));
        assert!(!CodeKey::derive(b"other").opens(&stored, Purpose::SignUp, "kim@yonsei.ac.kr", "123456"));
        assert!(!key.opens("zz", Purpose::SignUp, "kim@yonsei.ac.kr", "123456"));
        assert!(!stored.contains("123456"));
    }

    #[test]
    fn mails_carry_the_code_or_say_the_account_exists() {
        let (subject, body) = mail_for_code(Purpose::SignUp, "042042", 10);
        assert!(subject.contains("042042") && body.contains("042042") && body.contains("10분"));
        let (_, body) = mail_already_registered();
        assert!(body.contains("이미 가입된 계정이 있습니다"));
        assert!(!body.chars().any(|c| c.is_ascii_digit()));
        // Short lines: the mail goes as plain 8-bit UTF-8, readable in the outbox.
        for purpose in [Purpose::SignUp, Purpose::PasswordReset] {
            let (_, body) = mail_for_code(purpose, "123456", 10);
            for line in body.split("\r\n").chain(mail_already_registered().1.split("\r\n")) {
                assert!(line.len() < 76, "{} bytes: {line}", line.len());
            }
        }
    }

    proptest! {
        #[test]
        fn any_six_digits_parse(code in "[0-9]{6}") {
            prop_assert_eq!(parse(&code).unwrap(), code);
        }
    }
}
