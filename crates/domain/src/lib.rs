//! Varco's rules and value types: tax codes, school codes, user codes, email
//! addresses, names, passwords, one-time tokens and the login lockout state
//! machine.
//!
//! Invariant: this crate does no IO, no async, no SQL and no HTTP. Every value
//! type validates at construction, so a `TaxCode`, `UserCode`, `EmailAddress`
//! and friends that exist are valid, and the rest of the workspace never
//! re-checks a string. Time and randomness come in from the caller (a
//! [`Clock`] and an RNG), so every rule here is deterministic under test.

pub mod account;
pub mod audit;
pub mod clock;
pub mod email;
pub mod federation_log;
pub mod helpdesk;
pub mod identity_check;
pub mod ids;
pub mod lang;
pub mod lockout;
pub mod login_policy;
pub mod outbound;
pub mod outbox;
pub mod password;
pub mod person;
pub mod school_code;
pub mod second_secret;
pub mod student;
pub mod tax_code;
pub mod token;
pub mod user_code;

pub use account::{AccountKind, AccountStatus, Role, UnknownVariant};
pub use audit::AuditEvent;
pub use clock::{Clock, FixedClock, SystemClock, Timestamp};
pub use email::{EmailAddress, EmailError};
pub use ids::{AccountId, SchoolId, SessionId};
pub use lang::Lang;
pub use lockout::{Admission, FailureOutcome, LockState, LockoutPolicy};
pub use outbound::OutboundMessage;
pub use outbox::OutboxStatus;
pub use password::{
    CommonPasswords, ExpiryPolicy, ExpiryStatus, FEEDBACK_CODES, HashError, HashFormat, HashParams,
    MAX_PASSWORD_INPUT_BYTES, PasswordHasher, PasswordInput, PasswordInputError, PasswordPolicy, PolicyContext,
    PolicyRefusal, PolicyViolation, StrengthFeedback, Verification, recognise_stored_hash,
};
pub use person::{PersonName, PersonNameError, Username, UsernameError};
pub use school_code::{SchoolCode, SchoolCodeError};
pub use student::{Building, ClassName, SchoolOrder};
pub use tax_code::{TaxCode, TaxCodeError};
pub use token::{SecretToken, TokenHash, TokenPurpose};
pub use user_code::{USER_CODE_ALPHABET, UserCode, UserCodeError};
