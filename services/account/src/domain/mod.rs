//! The account rules, free of I/O: what a valid login id, password, nickname, email, school
//! and domain look like, how refresh tokens are stored, and how failed logins slow down.

pub(crate) mod email_code;
mod password;
mod strength;
mod throttle;

pub(crate) use password::Passwords;
pub(crate) use throttle::{Throttle, client_key};

use campus_shared::text::{self, Text};
use sha2::{Digest, Sha256};

/// A login id: 4–20 characters of `[a-z0-9_]`, stored lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoginId(String);

impl LoginId {
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let id = normalize_login_id(raw);
        let len = id.chars().count();
        if !(4..=20).contains(&len) {
            return Err("must be 4 to 20 characters".into());
        }
        if !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err("may contain only letters, digits and underscores".into());
        }
        Ok(Self(id))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The form a login id is looked up and throttled under, valid or not: lower-cased, so
/// `Alice` and `alice` are one account and share one throttle.
pub(crate) fn normalize_login_id(raw: &str) -> String {
    raw.to_lowercase()
}

/// A new password: 8–64 characters with at least one letter and one digit, and strong
/// enough (see [`strength`]) given what else the account says about its owner.
pub(crate) fn check_password(password: &str, user_inputs: &[&str]) -> Result<(), String> {
    let len = password.chars().count();
    if !(8..=64).contains(&len) {
        return Err("must be 8 to 64 characters".into());
    }
    if !password.chars().any(char::is_alphabetic) || !password.chars().any(|c| c.is_ascii_digit()) {
        return Err("must contain at least one letter and one digit".into());
    }
    strength::check(password, user_inputs)
}

/// A nickname: 2–20 characters of one line of text, no surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Nickname(String);

impl Nickname {
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if !(2..=20).contains(&len) {
            return Err("must be 2 to 20 characters".into());
        }
        if let Some(problem) = text::problem(raw, Text::Line) {
            return Err(problem);
        }
        if raw.trim() != raw {
            return Err("must not start or end with whitespace".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, lower-cased, split at its `@`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Email {
    address: String,
    at: usize,
}

impl Email {
    /// A plain `local@domain` address (no quoting, no comments): what a school issues.
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let address = raw.to_lowercase();
        if address.chars().count() > 254 {
            return Err("must be at most 254 characters".into());
        }
        let Some((local, domain)) = address.split_once('@') else {
            return Err("must be an email address".into());
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        if !local_ok || EmailDomain::parse(domain).is_err() {
            return Err("must be an email address".into());
        }
        let at = local.len();
        Ok(Self { address, at })
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.address
    }

    pub(crate) fn domain(&self) -> &str {
        &self.address[self.at + 1..]
    }
}

/// A school's email domain such as `yonsei.ac.kr`: lower-case labels of letters, digits and
/// inner hyphens, at least two of them, the last alphabetic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EmailDomain(String);

impl EmailDomain {
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let domain = raw.to_lowercase();
        let bad = || "must be a domain name such as yonsei.ac.kr".to_string();
        if domain.len() > 253 {
            return Err(bad());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(bad());
        }
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if !labels.iter().all(label_ok) {
            return Err(bad());
        }
        let tld = labels[labels.len() - 1];
        if tld.len() < 2 || !tld.chars().all(|c| c.is_ascii_lowercase()) {
            return Err(bad());
        }
        Ok(Self(domain))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// A school name: 1–50 characters of one line of text, no surrounding whitespace.
pub(crate) fn check_school_name(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if !(1..=50).contains(&len) {
        return Err("must be 1 to 50 characters".into());
    }
    if let Some(problem) = text::problem(name, Text::Line) {
        return Err(problem);
    }
    if name.trim() != name {
        return Err("must not start or end with whitespace".into());
    }
    Ok(())
}

/// How a refresh token is stored: the lower-case hex SHA-256 of its text. The token carries
/// 256 random bits, so a plain (unsalted, fast) hash is enough to make a leaked table useless.
pub(crate) fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The absolute lifetime of a refresh-token family, counted from the login.
pub(crate) const SESSION_TTL_MICROS: i64 = 14 * 24 * 3600 * 1_000_000;

/// The login id of `CAMPUS_BOOTSTRAP_ADMIN`'s admin, and the school id meaning "no school".
pub(crate) const NO_SCHOOL: i64 = 0;

/// The made-up, never-deliverable address of a bootstrap admin.
pub(crate) fn admin_email(login_id: &LoginId) -> String {
    format!("{}@admin.campus.invalid", login_id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn login_ids_are_lower_cased_and_checked() {
        assert_eq!(LoginId::parse("Alice_01").unwrap().as_str(), "alice_01");
        for bad in ["abc", "a23456789012345678901", "al ice", "alice!", "", "앨리스앨리"] {
            assert!(LoginId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_need_length_a_letter_a_digit_and_strength() {
        assert!(check_password("correct-horse-42", &[]).is_ok());
        assert!(check_password("비밀번호는길수록좋다7", &[]).is_ok());
        for bad in ["short1", "only letters here", "1234567890", &format!("a1{}", "x".repeat(63))] {
            assert!(check_password(bad, &[]).is_err(), "{bad}");
        }
        assert_eq!(
            check_password("password1", &[]).unwrap_err(),
            "is one of the most common passwords; choose another"
        );
        assert!(check_password("minjikim2024", &["minjikim"]).is_err());
        // The benchmark's user signs up with its login id, nickname and email as known words.
        assert!(check_password("bench password 1", &["bencher", "bencher", "bencher@bench.ac.kr"]).is_ok());
    }

    #[test]
    fn nicknames_are_counted_in_characters() {
        assert!(Nickname::parse("새내기").is_ok());
        assert!(Nickname::parse(&"가".repeat(20)).is_ok());
        for bad in ["x", " neo", "neo ", "ne\u{0}o", "ad\u{202E}min", &"가".repeat(21)] {
            assert!(Nickname::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn emails_are_lower_cased_and_split() {
        let email = Email::parse("Kim.S@Yonsei.AC.kr").unwrap();
        assert_eq!(email.as_str(), "kim.s@yonsei.ac.kr");
        assert_eq!(email.domain(), "yonsei.ac.kr");
        for bad in ["kim", "@yonsei.ac.kr", "kim@", "kim@@yonsei.ac.kr", "ki m@yonsei.ac.kr", ".kim@x.kr"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domains_are_checked() {
        assert_eq!(EmailDomain::parse("Yonsei.ac.kr").unwrap().as_str(), "yonsei.ac.kr");
        for bad in ["kr", "-a.kr", "a-.kr", "a..kr", "a.k", "a.12", "a_b.kr", "@a.kr"] {
            assert!(EmailDomain::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_hashes_are_sha256_hex() {
        assert_eq!(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    proptest! {
        #[test]
        fn valid_login_ids_round_trip(id in "[a-z0-9_]{4,20}") {
            let parsed = LoginId::parse(&id).unwrap();
            prop_assert_eq!(parsed.as_str(), id.as_str());
        }

        #[test]
        fn parsed_emails_keep_their_domain(local in "[a-z0-9]{1,20}", domain in "[a-z]{1,10}\\.[a-z]{2,4}") {
            let email = Email::parse(&format!("{local}@{domain}")).unwrap();
            prop_assert_eq!(email.domain(), domain.as_str());
        }
    }
}
