//! Passwords: how they enter the system, what they must not be, and how they
//! are stored.
//!
//! Invariant: a password exists in memory only as a [`PasswordInput`] (at most
//! 1 KiB as typed, NFC-normalised, never printed, never serialised), is judged
//! by [`PasswordPolicy`], and leaves only as an Argon2id PHC string made by
//! [`PasswordHasher`]. Nothing in this module logs, displays or returns the
//! password itself.

pub mod hashing;
pub mod input;
pub mod policy;

pub use hashing::{HashError, HashParams, PasswordHasher, Verification};
pub use input::{MAX_PASSWORD_INPUT_BYTES, PasswordInput, PasswordInputError};
pub use policy::{PasswordPolicy, PolicyViolation};
