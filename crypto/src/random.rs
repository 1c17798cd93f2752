//! The one source of randomness: the operating system CSPRNG (`getrandom`).

use crate::error::CryptoError;

/// Fills `buf` with bytes from the operating system CSPRNG.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|source| CryptoError::Random { source })
}
