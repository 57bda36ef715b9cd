//! Password encryption of the sensitive variables: the `age` format with an scrypt
//! passphrase recipient (random salt, memory-hard KDF, ChaCha20-Poly1305).
//!
//! The scrypt work factor is fixed ([`SCRYPT_LOG_N`]) rather than calibrated at run time, so a
//! drop written by a release build of the Space opens in a debug build of the runner and the
//! other way round (the workspace also builds `scrypt` optimised in dev profiles).

use std::io::{Read, Write};

use age::secrecy::SecretString;

use super::DropError;

/// scrypt N = 2^16 (64 MiB of memory, r = 8): about 0.2 s on a current machine.
pub const SCRYPT_LOG_N: u8 = 16;
/// The largest work factor the runner accepts (2^20: about 1 GiB, seconds of work).
const MAX_LOG_N: u8 = 20;

/// Encrypts `plain` for `password`.
pub fn encrypt(plain: &[u8], password: &SecretString) -> Result<Vec<u8>, DropError> {
    let err = |e: &dyn std::fmt::Display| DropError::Crypto {
        what: "encrypt",
        reason: e.to_string(),
    };
    let mut recipient = age::scrypt::Recipient::new(password.clone());
    recipient.set_work_factor(SCRYPT_LOG_N);
    let enc = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
        .map_err(|e| err(&e))?;
    let mut out = Vec::with_capacity(plain.len() + 256);
    let mut w = enc.wrap_output(&mut out).map_err(|e| err(&e))?;
    w.write_all(plain).map_err(|e| err(&e))?;
    w.finish().map_err(|e| err(&e))?;
    Ok(out)
}

/// Decrypts what [`encrypt`] wrote; a wrong password is [`DropError::WrongPassword`].
pub fn decrypt(cipher: &[u8], password: &SecretString) -> Result<Vec<u8>, DropError> {
    let err = |e: &dyn std::fmt::Display| DropError::Crypto {
        what: "decrypt",
        reason: e.to_string(),
    };
    let dec = age::Decryptor::new_buffered(cipher).map_err(|e| err(&e))?;
    if !dec.is_scrypt() {
        return Err(err(&"the file is not password-encrypted"));
    }
    let mut identity = age::scrypt::Identity::new(password.clone());
    identity.set_max_work_factor(MAX_LOG_N);
    let mut r = dec
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys
            | age::DecryptError::DecryptionFailed
            | age::DecryptError::KeyDecryptionFailed => DropError::WrongPassword,
            e => err(&e),
        })?;
    let mut plain = Vec::new();
    r.read_to_end(&mut plain).map_err(|e| err(&e))?;
    Ok(plain)
}
