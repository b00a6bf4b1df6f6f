//! How strong a new password must be: zxcvbn's estimate of the guesses a cracker needs, with
//! its ranked list of the 30,000 most common passwords (and l33t, reversed and capitalised
//! forms of them) as the first thing it tries.

use zxcvbn::Score;
use zxcvbn::feedback::Warning;

/// The weakest estimate accepted: about 10^10 guesses, beyond an online attacker and slow
/// (argon2) even offline. Scores 0 to 2 fall to 10^8 guesses or fewer, and every entry of the
/// common-password list, in any of the forms zxcvbn tries, scores 2 or less.
const MIN_SCORE: Score = Score::Three;

/// Refuses a password that zxcvbn rates below [`MIN_SCORE`]. `user_inputs` (the login id,
/// nickname and email) count as known words, so `minjikim2024` is weak for minji. The reason
/// names a common password as such, and otherwise says what is weak and how to do better.
pub(super) fn check(password: &str, user_inputs: &[&str]) -> Result<(), String> {
    let estimate = zxcvbn::zxcvbn(password, user_inputs);
    if estimate.score() >= MIN_SCORE {
        return Ok(());
    }
    let feedback = estimate.feedback();
    match feedback.and_then(|f| f.warning()) {
        Some(
            Warning::ThisIsATop10Password | Warning::ThisIsATop100Password | Warning::ThisIsACommonPassword,
        ) => Err("is one of the most common passwords; choose another".into()),
        Some(Warning::ThisIsSimilarToACommonlyUsedPassword) => {
            Err("is a common password with small changes; choose another".into())
        }
        warning => {
            let mut reason = String::from("is too easy to guess");
            if let Some(warning) = warning {
                reason.push_str(&format!(": {warning}"));
            }
            if let Some(suggestion) = feedback.and_then(|f| f.suggestions().first()) {
                reason.push_str(&format!(" {suggestion}"));
            }
            Err(reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_refused_by_name() {
        for common in ["password1", "P@ssw0rd1", "qwerty123", "iloveyou1"] {
            let reason = check(common, &[]).unwrap_err();
            assert!(reason.contains("common password"), "{common}: {reason}");
        }
        assert_eq!(
            check("password1", &[]).unwrap_err(),
            "is one of the most common passwords; choose another"
        );
    }

    #[test]
    fn weak_patterns_are_refused_with_advice() {
        for weak in ["abcd1234", "aaaaaaaa1", "qwertyuiop1", "hunter2hunter2", "19990101a"] {
            assert!(check(weak, &[]).is_err(), "{weak}");
        }
        let reason = check("abcdefgh1", &[]).unwrap_err();
        assert!(reason.starts_with("is too easy to guess"), "{reason}");
    }

    #[test]
    fn what_the_account_says_about_its_owner_counts_against_it() {
        assert!(check("minjikim2024", &[]).is_ok());
        assert!(check("minjikim2024", &["minjikim", "민지", "minjikim@hanbit.ac.kr"]).is_err());
    }

    #[test]
    fn passphrases_and_random_strings_pass() {
        for strong in [
            "correct-horse-42",
            "correct-horse-battery-42",
            "correct horse battery 9",
            "bench password 1",
            "correct horse 1",
            "quiet-river-campus-42",
            "bright-harbor-lantern-58",
            "a-brand-new-passphrase-7",
            "new password 2",
            "v8#Lq2!zR7",
            "비밀번호는길수록좋다7",
        ] {
            assert_eq!(check(strong, &[]), Ok(()), "{strong}");
        }
    }
}
