//! Passwords of Space users (web sign-in): stored only as scrypt hashes with a random salt
//! (`scrypt$LOG_N$R$P$SALT$HASH`, hex), checked in constant time. The cost is fixed per hash, so
//! a stored hash keeps working when the default changes.

use crate::{SecretError, constant_time_eq, random_bytes};

/// The cost of new hashes: N = 2^15, r = 8, p = 1 (about 32 MiB and 0.1 s).
const LOG_N: u8 = 15;
const R: u32 = 8;
const P: u32 = 1;
/// Passwords shorter than this are refused.
pub const MIN_LEN: usize = 12;
/// Longer ones too (hashing cost is per byte of input, and nobody types more).
pub const MAX_LEN: usize = 1024;

/// Why a password is not accepted as a new one.
pub fn check_new(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(format!(
            "a password needs at least {MIN_LEN} characters (a passphrase of a few words is best)"
        ));
    }
    if password.len() > MAX_LEN {
        return Err(format!("a password is at most {MAX_LEN} bytes"));
    }
    Ok(())
}

fn derive(password: &str, salt: &[u8], log_n: u8, r: u32, p: u32) -> Result<[u8; 32], SecretError> {
    let params = scrypt::Params::new(log_n, r, p, 32)
        .map_err(|e| SecretError::Crypto(format!("scrypt parameters: {e}")))?;
    let mut out = [0u8; 32];
    scrypt::scrypt(password.as_bytes(), salt, &params, &mut out)
        .map_err(|e| SecretError::Crypto(format!("scrypt: {e}")))?;
    Ok(out)
}

/// The hash to store for `password`.
pub fn hash(password: &str) -> Result<String, SecretError> {
    let mut salt = [0u8; 16];
    random_bytes(&mut salt)?;
    let h = derive(password, &salt, LOG_N, R, P)?;
    Ok(format!(
        "scrypt${LOG_N}${R}${P}${}${}",
        hex::encode(salt),
        hex::encode(h)
    ))
}

/// Whether `password` matches the stored `hash` (a malformed hash matches nothing).
pub fn verify(password: &str, hash: &str) -> bool {
    if password.len() > MAX_LEN {
        return false;
    }
    let parts: Vec<&str> = hash.split('$').collect();
    let [kind, log_n, r, p, salt, want] = parts[..] else {
        return false;
    };
    let (Ok(log_n), Ok(r), Ok(p), Ok(salt), Ok(want)) = (
        log_n.parse::<u8>(),
        r.parse::<u32>(),
        p.parse::<u32>(),
        hex::decode(salt),
        hex::decode(want),
    ) else {
        return false;
    };
    // A stored hash cannot make a check arbitrarily expensive.
    if kind != "scrypt" || log_n > 20 || r > 16 || p > 4 {
        return false;
    }
    derive(password, &salt, log_n, r, p).is_ok_and(|got| constant_time_eq(&got, &want))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("scrypt$15$8$1$"));
        assert!(!h.contains("correct"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterz", &h));
        assert_ne!(h, hash("correct horse battery").unwrap(), "salted");
        assert!(!verify("x", "scrypt$15$8$1$zz$zz"));
        assert!(
            !verify("x", "scrypt$30$8$1$00$00"),
            "a cost too high is refused"
        );
        assert!(!verify("x", "nonsense"));
        assert!(check_new("short").is_err());
        assert!(check_new("twelve chars").is_ok());
    }
}
