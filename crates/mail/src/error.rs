//! Errors of the mail crate, other than a failed delivery (that is
//! [`SendError`](crate::SendError), which also says whether to retry).
//!
//! Invariant: no message here ever contains the SMTP password; configuration
//! errors show the URL with its password replaced by `***`.

use thiserror::Error;
use varco_store::StoreError;

#[derive(Debug, Error)]
pub enum MailError {
    /// The mail configuration cannot work (bad SMTP URL, bad `From`, unusable directory).
    #[error("mail configuration: {0}")]
    Config(String),
    /// A message could not be built: unknown template, a template error,
    /// a payload that is not a JSON object, an invalid recipient.
    #[error("cannot render the message: {0}")]
    Render(String),
    /// The outbox could not be read or updated.
    #[error(transparent)]
    Store(#[from] StoreError),
}
