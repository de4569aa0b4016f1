//! The life of a queued email: waiting, delivered, or given up on.
//!
//! Invariant: as with the account vocabularies, each variant has exactly one
//! spelling, used alike in the database, JSON and the CLI.

use std::fmt;

use crate::account::{UnknownVariant, vocabulary};

vocabulary! {
    /// Where a message of the outbox stands.
    OutboxStatus, "outbox status" {
        /// Waiting for (another) delivery attempt.
        Pending => "pending",
        /// Delivered; its payload has been emptied.
        Sent => "sent",
        /// Given up on after the last attempt; an operator may retry it.
        Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_are_the_stored_ones() {
        assert_eq!(OutboxStatus::Pending.as_str(), "pending");
        assert_eq!(OutboxStatus::Sent.to_string(), "sent");
        assert_eq!(OutboxStatus::parse("failed"), Some(OutboxStatus::Failed));
        assert_eq!(OutboxStatus::parse("Failed"), None);
        for status in OutboxStatus::ALL {
            assert_eq!(status.as_str().parse::<OutboxStatus>(), Ok(*status));
            assert_eq!(serde_json::to_string(status).unwrap(), format!("\"{status}\""));
        }
    }
}
