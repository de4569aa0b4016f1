//! Passwords: how they enter the system, what they must not be, and how they
//! are stored.
//!
//! Invariant: a password exists in memory only as a [`PasswordInput`] (at most
//! 1 KiB as typed, NFC-normalised, never printed, never serialised), is judged
//! by [`PasswordPolicy`], and leaves only as an Argon2id PHC string made by
//! [`PasswordHasher`] (legacy hashes from a previous register are verified,
//! never made, and replaced at the next successful login). Nothing in this
//! module logs, displays or returns the password itself.

pub mod common;
pub mod expiry;
pub mod format;
pub mod hashing;
pub mod input;
pub mod legacy;
pub mod policy;
pub mod strength;

pub use common::CommonPasswords;
pub use expiry::{ExpiryPolicy, ExpiryStatus};
pub use format::{HashFormat, recognise_stored_hash};
pub use hashing::{HashError, HashParams, PasswordHasher, Verification, release_hash_memory};
pub use input::{MAX_PASSWORD_INPUT_BYTES, PasswordInput, PasswordInputError};
pub use legacy::{MAX_BCRYPT_COST, MAX_PBKDF2_ITERATIONS};
pub use policy::{PasswordPolicy, PolicyContext, PolicyRefusal, PolicyViolation};
pub use strength::{FEEDBACK_CODES, StrengthFeedback};
