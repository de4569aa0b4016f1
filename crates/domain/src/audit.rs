//! Every event Varco writes to its audit log, as one type.
//!
//! The strings an event becomes (its `event` name, its outcome and its
//! `detail`) are a contract: operators grep and script against them and the
//! integration tests assert them, so they never change for a refactoring.
//! They are produced here and nowhere else: [`AuditEvent::name`],
//! [`AuditEvent::outcome`] and [`AuditEvent::detail`]. A detail holds short,
//! non-secret key facts; a password, a token or a session secret has no field
//! to go into.
//!
//! Who acted, on which account, from where and when are recorded next to the
//! event by `varco_app::audit::record`.

use crate::account::{AccountStatus, Role};
use crate::identity_check::{DocumentType, RecoveryChannel};
use crate::ids::{SessionId, StudentId};

/// Whether the event is something that happened or something refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It happened (`success`).
    Success,
    /// It was refused or went wrong (`failure`).
    Failure,
}

impl Outcome {
    /// The stored spelling: `success` or `failure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// How a login attempt on one account (or on no account) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Signed in.
    Success,
    /// Signed in, and the stored hash was replaced by a current Argon2id one.
    Rehashed,
    /// Signed in through bcrypt's 72-byte prefix: the hash is kept and a new
    /// password is required.
    LegacyPrefixMatch,
    /// The password was wrong.
    WrongPassword,
    /// The password was wrong, and this failure imposed the lock.
    WrongPasswordLocked,
    /// Refused unchecked: the account is delayed or locked.
    AccountLocked,
    /// The account cannot sign in (not active, or no password).
    NotActive,
    /// The login text matches no account.
    UnknownAccount,
    /// The password matched, but the account changed while it was checked
    /// (a reset, a disable): the old password does not open a session.
    ChangedDuringCheck,
    /// The password matched, but the login policy no longer lets this
    /// account use one: sign in with SPID or CIE.
    PasswordNotAllowed,
}

/// A way a new password was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewPasswordRoute {
    /// Through a reset link (`password_reset`).
    Reset,
    /// Through an activation link (`account_activated`).
    Activation,
    /// By the signed-in owner (`password_change`).
    Change,
}

/// The change a current password was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reauthentication {
    /// A new password (`password_change`).
    PasswordChange,
    /// A new email address (`email_change_requested`).
    EmailChange,
    /// A new PIN or personal code (`second_secret_regenerated`).
    SecondSecret,
}

/// Why a current password typed to confirm a change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReauthenticationRefusal {
    /// The current password was wrong.
    WrongCurrentPassword,
    /// Refused unchecked: the account is delayed or locked (or has no usable password).
    AccountLocked,
}

/// How a forgot-password request went for one account (or for none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetRequest {
    /// A link (or an activation link) goes out.
    Accepted,
    /// Too many links this hour: nothing goes out.
    Throttled,
    /// The login text matches no account.
    NoMatchingAccount,
    /// The accounts found are disabled or have no address.
    AccountNotUsable,
    /// The account may not use a password: no link, the email explains how
    /// to sign in with SPID or CIE.
    PasswordNotAllowed,
}

/// How a request to change the email address went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailChangeRequest {
    /// A confirmation link goes to the new address (shown masked).
    Accepted {
        /// The new address, masked.
        new_masked: String,
    },
    /// Too many requests this hour.
    Throttled,
}

/// How a password-expiry reminder went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryReminder {
    /// The reminder went out.
    Sent {
        /// The reminder's threshold, in days before expiry.
        threshold_days: u32,
        /// Days left before the password expires.
        days_left: u32,
    },
    /// Due, but the account has no address to send it to.
    NoEmail,
}

/// How an account came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountOrigin {
    /// By an operator, with a first password.
    WithPassword,
    /// By an operator, waiting for activation.
    PendingActivation,
    /// From a roster import.
    RosterImport,
    /// The first admin, from the setup page.
    FirstAdmin,
    /// By `varco demo`.
    Demo,
}

impl AccountOrigin {
    fn as_str(self) -> &'static str {
        match self {
            AccountOrigin::WithPassword => "with_password",
            AccountOrigin::PendingActivation => "pending_activation",
            AccountOrigin::RosterImport => "roster_import",
            AccountOrigin::FirstAdmin => "first_admin",
            AccountOrigin::Demo => "demo",
        }
    }
}

/// One event of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditEvent {
    /// `login`: a sign-in attempt on one account, or on none.
    Login(LoginOutcome),
    /// `logout`.
    Logout,
    /// `account_locked`: failures imposed the long lock.
    AccountLocked {
        /// Consecutive failures counted.
        failed_logins: u32,
    },
    /// `account_unlocked`: an operator lifted a lock and forgot the failures.
    AccountUnlocked {
        /// The failures forgotten.
        failed_logins: u32,
        /// Whether sign-in was blocked at that moment.
        was_blocked: bool,
    },
    /// `password_change` or `email_change_requested` (failure): the current
    /// password typed to confirm the change was refused.
    ReauthenticationRefused {
        /// The change that was asked for.
        change: Reauthentication,
        /// Why the password was refused.
        refusal: ReauthenticationRefusal,
    },
    /// `password_changed`: by the account's owner, from a session.
    PasswordChanged {
        /// The owner's other sessions that ended.
        sessions_ended: u64,
        /// The change was required (forced) rather than chosen.
        forced: bool,
    },
    /// `password_change_required`: an operator forced a change.
    PasswordChangeRequired,
    /// `password_reset_requested`.
    PasswordResetRequested(ResetRequest),
    /// `password_reset`, `account_activated` or `password_change` (failure):
    /// a new password refused because the login policy no longer lets the
    /// account use one.
    PasswordNotAllowed(NewPasswordRoute),
    /// `password_reset`: a new password through a reset link.
    PasswordReset {
        /// The sessions that ended.
        sessions_ended: u64,
    },
    /// `account_activated`: a first password through an activation link.
    AccountActivated {
        /// The sessions that ended.
        sessions_ended: u64,
    },
    /// `activation_link_sent`: an operator sent a new activation link.
    ActivationLinkSent,
    /// `password_expiry_reminder`.
    PasswordExpiryReminder(ExpiryReminder),
    /// `email_change_requested`.
    EmailChangeRequested(EmailChangeRequest),
    /// `email_changed`: a confirmation link came back.
    EmailChanged {
        /// The new address, masked.
        new_masked: String,
    },
    /// `email_change_undone`: the old address took the account back.
    EmailChangeUndone {
        /// The sessions that ended.
        sessions_ended: u64,
        /// Confirmed changes made after this one, rolled back with it.
        later_changes_undone: usize,
        /// Whether a reset link went to the restored address.
        reset_link_sent: bool,
    },
    /// `account_created`.
    AccountCreated(AccountOrigin),
    /// `account_changed`: names, kind, address or first hash from a roster.
    AccountChangedByRoster,
    /// `account_enabled`: back to `status` (active or waiting for activation).
    AccountEnabled {
        /// The status the account is back to.
        status: AccountStatus,
    },
    /// `account_disabled`.
    AccountDisabled {
        /// The sessions that ended.
        sessions_ended: u64,
    },
    /// `account_disable_scheduled`: a year-end roster import left the
    /// account out; it will be disabled from the start of `on`.
    AccountDisableScheduled {
        /// The date, `YYYY-MM-DD` (school time zone).
        on: String,
    },
    /// `account_disable_cancelled`: the account was scheduled to be
    /// disabled on `on` and is back in its school's roster.
    AccountDisableCancelled {
        /// The date that no longer applies, `YYYY-MM-DD`.
        on: String,
    },
    /// A step in the life of an account's PIN or personal code (see
    /// [`SecondSecretStep`]).
    SecondSecret {
        /// `pin` or `personal_code`.
        kind: crate::second_secret::SecondSecretKind,
        /// What happened.
        step: SecondSecretStep,
    },
    /// A step of an act confirmation a school application asked for (see
    /// [`ConfirmationStep`]); `confirmation` is its public id.
    ActConfirmation {
        /// The application.
        client_id: String,
        /// The confirmation's public id.
        confirmation: String,
        /// What happened.
        step: ConfirmationStep,
    },
    /// `roster_year_end`: the year-end part of one roster import.
    RosterYearEnd {
        /// The school's code.
        school: String,
        /// The disable date, `YYYY-MM-DD`.
        on: String,
        /// Accounts newly scheduled (or disabled now, when the date has come).
        scheduled: usize,
        /// Accounts disabled at once because the date has come.
        disabled_now: usize,
        /// Scheduled accounts back in the roster.
        cancelled: usize,
        /// Accounts left out of the roster but kept because they hold a role.
        kept_operators: usize,
    },
    /// `role_granted`; `school` is the scope's code.
    RoleGranted {
        /// The role granted.
        role: Role,
        /// The code of the school it is scoped to, if any.
        school: Option<String>,
    },
    /// `role_revoked`.
    RoleRevoked {
        /// The role revoked.
        role: Role,
        /// The code of the school it was scoped to, if any.
        school: Option<String>,
    },
    /// `school_created`.
    SchoolCreated,
    /// `roster_imported`: the summary of one import.
    RosterImported {
        /// The school's code.
        school: String,
        /// Data rows read.
        rows: usize,
        /// Accounts created.
        created: usize,
        /// Accounts changed.
        updated: usize,
        /// Rows that changed nothing.
        unchanged: usize,
        /// Rows refused.
        skipped: usize,
    },
    /// `students_imported`: the summary of one students roster import.
    StudentsImported {
        /// The school's code.
        school: String,
        /// Data rows read.
        rows: usize,
        /// Students created.
        created: usize,
        /// Students whose names, order, class or building changed.
        updated: usize,
        /// Rows that changed nothing.
        unchanged: usize,
        /// Guardian links added.
        links_added: usize,
        /// Guardian links removed.
        links_removed: usize,
        /// Rows refused.
        skipped: usize,
    },
    /// `student_created` or `student_changed`: a student of the school (the
    /// target) from a students roster; the names are not kept here.
    StudentFromRoster {
        /// The student's row id.
        student_id: StudentId,
        /// True when created, false when changed.
        created: bool,
    },
    /// `guardian_linked` or `guardian_unlinked`: a family account (the
    /// target) became, or stopped being, a guardian of a student.
    Guardianship {
        /// The student's row id.
        student_id: StudentId,
        /// True when linked, false when unlinked.
        linked: bool,
        /// Who changed it.
        via: GuardianshipChange,
    },
    /// `desk_student_search`: a desk operator searched the students of
    /// their schools; `results` is how many matched (the words typed are
    /// not kept).
    DeskStudentSearch {
        /// How many students the search showed.
        results: usize,
    },
    /// `session_ended`: the owner ended one of their other sessions.
    SessionEnded {
        /// The row id of the session ended.
        session_id: SessionId,
    },
    /// `other_sessions_ended`: the owner ended all their other sessions.
    OtherSessionsEnded {
        /// How many ended.
        count: u64,
    },
    /// `setup_link_issued`.
    SetupLinkIssued,
    /// `mail_retry`: an operator put a message back in the queue.
    MailRetry {
        /// The outbox row id.
        outbox_id: i64,
    },
    /// `mail_test_queued`: an operator queued a test message (to check the
    /// mail settings); `to` is the masked address.
    MailTestQueued {
        /// The recipient, masked.
        to: String,
    },
    /// `oidc_client_registered`, `oidc_client_removed`,
    /// `oidc_client_secret_rotated`: an operator's change to a client of
    /// Varco's OpenID Connect provider.
    OidcClient {
        /// What the operator did.
        change: ClientChange,
        /// The client's id.
        client_id: String,
    },
    /// `oidc_keys_rotated`: new signing keys; `retired` keys stay published.
    OidcKeysRotated {
        /// The new keys' ids, comma-separated.
        new_kids: String,
        /// How many keys were retired (still published for a while).
        retired: u64,
    },
    /// `oidc_authorization`: a code was issued to a client, or refused.
    OidcAuthorization {
        /// The client's id.
        client_id: String,
        /// Why no code was issued; `None` when one was.
        refusal: Option<OidcRefusal>,
    },
    /// `oidc_token`: a token request refused for a reason worth an
    /// operator's eye (a replayed code, a reused refresh token, a wrong
    /// client secret...). Plain successes are not audited one by one.
    OidcTokenRefused {
        /// The client's id.
        client_id: String,
        /// Why the request was refused.
        refusal: OidcRefusal,
    },
    /// `oidc_consent`: the person allowed a third-party application, or
    /// took it back from `/account`.
    OidcConsent {
        /// The client's id.
        client_id: String,
        /// True when allowed, false when taken back.
        granted: bool,
    },
    /// `oidc_grant_revoked`: what an application holds for the person was
    /// revoked (`reason`: logout, revoked_by_user, code_replay, refresh_reuse...).
    OidcGrantRevoked {
        /// The client's id.
        client_id: String,
        /// How many grants (sign-ins) were revoked.
        grants: u64,
        /// Why: `logout`, `revoked_by_user`, `code_replayed`...
        reason: &'static str,
    },
    /// `upstream_login_started`: a person was sent to an upstream provider
    /// (SPID/CIE) to sign in.
    UpstreamLoginStarted {
        /// The provider's configured name.
        provider: String,
    },
    /// `desk_search`: a desk operator searched the accounts; `results` is
    /// how many in the operator's scope matched (the words typed are not
    /// kept: they may be a tax code).
    DeskSearch {
        /// How many accounts the search showed.
        results: usize,
    },
    /// `desk_account_viewed`: a desk operator opened an account's page.
    DeskAccountViewed,
    /// `audit_exported`: an administrator downloaded the audit log as CSV
    /// (for the school's data-protection officer); `rows` is how many events
    /// the file held (the filters are not kept: they may name a person).
    AuditExported {
        /// How many events the file held.
        rows: usize,
    },
    /// `school_updated`: an administrator changed a school's name or
    /// helpdesk contacts; the target is the school's code.
    SchoolUpdated {
        /// The fields changed, comma-separated (`name,helpdesk_email`).
        fields: String,
    },
    /// `desk_access_refused`: a desk operator asked for an account outside
    /// their scope (another school's family, or staff where the deployment
    /// does not allow it); answered as if it did not exist.
    DeskAccessRefused {
        /// What the operator tried.
        action: DeskAction,
    },
    /// `person_corrected`: a desk operator corrected the tax code and/or
    /// names, giving a reason.
    PersonCorrected {
        /// The fields corrected, comma-separated (`tax_code,first_name,last_name`).
        fields: String,
        /// SPID/CIE identities unlinked because they vouched for the old tax code.
        identities_unlinked: u64,
        /// The operator's reason, on one line (at most 200 characters kept).
        reason: String,
    },
    /// `desk_identity_check`: a desk operator recorded an in-person identity
    /// check (document type and last 4 characters, never the number);
    /// `refused` when the tax code read from the document is not the
    /// account's.
    DeskIdentityCheck {
        /// The document seen.
        document: DocumentType,
        /// Its last 4 characters.
        last4: String,
        /// What the check was for.
        action: DeskAction,
        /// The tax code read from the document differs from the account's.
        refused: bool,
    },
    /// `desk_recovery_issued`: after an identity check a desk operator
    /// issued a recovery, as a link mailed or a printed letter.
    DeskRecoveryIssued {
        /// The document seen.
        document: DocumentType,
        /// Its last 4 characters.
        last4: String,
        /// How it reaches the person.
        channel: RecoveryChannel,
        /// The address was corrected too.
        email_changed: bool,
        /// Sessions ended.
        sessions_ended: u64,
    },
    /// `upstream_identity_unlinked`: after an identity check a desk operator
    /// unlinked the account's SPID/CIE identities.
    UpstreamIdentityUnlinked {
        /// The document seen.
        document: DocumentType,
        /// Its last 4 characters.
        last4: String,
        /// How many identities were unlinked.
        identities: u64,
    },
    /// `upstream_login`: the return from an upstream provider, signed in
    /// (with `linked` when the identity was linked just now) or refused.
    UpstreamLogin {
        /// The provider's configured name.
        provider: String,
        /// The identity was linked to the account by this sign-in.
        linked: bool,
        /// Why it was refused; `None` when the person signed in.
        refusal: Option<UpstreamRefusal>,
    },
    /// `email_change_request_*`: a step of a public email-change request
    /// (filed, looked at, its document viewed, decided, refused to an
    /// operator of another school, its document deleted).
    ChangeRequest {
        /// Which step.
        step: RequestStep,
        /// The request's number, e.g. `R-2026-7KQ2M9`.
        number: String,
    },
}

/// What linked or unlinked a guardian and a student.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardianshipChange {
    /// A students roster import (`varco import --students`).
    RosterImport,
    /// An operator (the desk, or the command line).
    Operator,
}

impl GuardianshipChange {
    /// The stable string of the audit detail.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardianshipChange::RosterImport => "roster_import",
            GuardianshipChange::Operator => "operator",
        }
    }
}

/// A step in the life of a PIN or personal code, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondSecretStep {
    /// A first one was issued and emailed (`second_secret_issued`), at
    /// activation or at the first SPID/CIE sign-in.
    Issued,
    /// The owner had a new one emailed; the old one died (`second_secret_regenerated`).
    Regenerated,
    /// The owner chose a new one (`second_secret_changed`).
    Changed,
    /// A wrong entry (`second_secret_failed`); so many remain before the lock.
    Failed {
        /// Entries left before the lock.
        remaining: u32,
    },
    /// The fifth wrong entry in a row locked it (`second_secret_locked`).
    Locked,
    /// A regeneration or change refused: wrong password, no fresh SPID/CIE
    /// sign-in, a trivial new code (`second_secret_change_refused`).
    Refused,
}

impl SecondSecretStep {
    /// The event name of the step.
    pub fn event_name(self) -> &'static str {
        match self {
            SecondSecretStep::Issued => "second_secret_issued",
            SecondSecretStep::Regenerated => "second_secret_regenerated",
            SecondSecretStep::Changed => "second_secret_changed",
            SecondSecretStep::Failed { .. } => "second_secret_failed",
            SecondSecretStep::Locked => "second_secret_locked",
            SecondSecretStep::Refused => "second_secret_change_refused",
        }
    }
}

/// A step of an act confirmation, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmationStep {
    /// An application asked for it (`act_confirmation_requested`).
    Requested,
    /// The person confirmed it with their second secret (`act_confirmed`).
    Confirmed,
    /// The person declined (`act_confirmation_cancelled`).
    Cancelled,
    /// The application redeemed its code (`act_confirmation_redeemed`).
    Redeemed,
    /// A redemption or confirmation was refused (`act_confirmation_refused`).
    Refused(ConfirmationRefusal),
}

/// Why a step of an act confirmation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmationRefusal {
    /// No confirmation has that code.
    UnknownCode,
    /// The confirmation, or its code, expired.
    Expired,
    /// The code was redeemed before (a replay).
    AlreadyRedeemed,
    /// Another application presented the code.
    OtherClient,
    /// The payload presented is not the one confirmed.
    PayloadMismatch,
    /// A student named in the payload is no longer the person's child.
    GuardianLinkGone,
    /// Someone else than the person it is for opened it.
    OtherAccount,
}

impl ConfirmationRefusal {
    /// As recorded in the detail.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfirmationRefusal::UnknownCode => "unknown_code",
            ConfirmationRefusal::Expired => "expired",
            ConfirmationRefusal::AlreadyRedeemed => "already_redeemed",
            ConfirmationRefusal::OtherClient => "other_client",
            ConfirmationRefusal::PayloadMismatch => "payload_mismatch",
            ConfirmationRefusal::GuardianLinkGone => "guardian_link_gone",
            ConfirmationRefusal::OtherAccount => "other_account",
        }
    }
}

impl ConfirmationStep {
    /// The event name of the step.
    pub fn event_name(self) -> &'static str {
        match self {
            ConfirmationStep::Requested => "act_confirmation_requested",
            ConfirmationStep::Confirmed => "act_confirmed",
            ConfirmationStep::Cancelled => "act_confirmation_cancelled",
            ConfirmationStep::Redeemed => "act_confirmation_redeemed",
            ConfirmationStep::Refused(_) => "act_confirmation_refused",
        }
    }
}

/// A step of a public email-change request, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStep {
    /// Filed by someone not signed in (`email_change_request_submitted`).
    Submitted,
    /// An operator opened it (`email_change_request_viewed`).
    Viewed,
    /// An operator opened its identity document (`email_change_request_document_viewed`).
    DocumentViewed,
    /// Approved (`email_change_request_approved`).
    Approved,
    /// Rejected (`email_change_request_rejected`).
    Rejected,
    /// Refused to an account that is no operator of its school (`email_change_request_out_of_scope`).
    OutOfScope,
    /// Its document was deleted by retention (`email_change_request_document_deleted`).
    DocumentDeleted,
}

impl RequestStep {
    /// The event name of the step.
    pub fn event_name(self) -> &'static str {
        match self {
            RequestStep::Submitted => "email_change_request_submitted",
            RequestStep::Viewed => "email_change_request_viewed",
            RequestStep::DocumentViewed => "email_change_request_document_viewed",
            RequestStep::Approved => "email_change_request_approved",
            RequestStep::Rejected => "email_change_request_rejected",
            RequestStep::OutOfScope => "email_change_request_out_of_scope",
            RequestStep::DocumentDeleted => "email_change_request_document_deleted",
        }
    }
}

/// Why a return from an upstream provider (SPID/CIE) did not sign anyone in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamRefusal {
    /// No pending sign-in for the `state` (unknown, replayed, or another browser's).
    BadState,
    /// The pending sign-in is older than its limit.
    Expired,
    /// The provider is not configured (or its trust cannot be resolved).
    ProviderUnavailable,
    /// The provider answered with an error (the person cancelled, ...).
    ProviderError,
    /// The callback's `iss` is missing or not the provider.
    BadIssuer,
    /// The token exchange or its answer failed.
    Token,
    /// The ID token's signature does not verify.
    IdTokenSignature,
    /// The ID token's nonce is not the pending one.
    Nonce,
    /// The ID token is otherwise invalid (aud, exp, iat, at_hash, sub, ...).
    IdTokenInvalid,
    /// The level of assurance is missing, unknown or below the minimum.
    AcrTooLow,
    /// The userinfo answer is missing or invalid.
    Userinfo,
    /// The fiscal number is missing or not a valid tax code.
    FiscalNumberInvalid,
    /// No account has the person's tax code.
    NoAccount,
    /// The linked account's tax code is no longer the person's.
    TaxCodeMismatch,
    /// The account is disabled (or not active).
    AccountNotActive,
    /// The account's login policy does not allow SPID/CIE.
    MethodNotAllowed,
    /// The school choice is unknown, expired or not one of those offered.
    BadChoice,
}

impl UpstreamRefusal {
    /// The stable string of the audit detail.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamRefusal::BadState => "bad_state",
            UpstreamRefusal::Expired => "expired",
            UpstreamRefusal::ProviderUnavailable => "provider_unavailable",
            UpstreamRefusal::ProviderError => "provider_error",
            UpstreamRefusal::BadIssuer => "bad_issuer",
            UpstreamRefusal::Token => "token",
            UpstreamRefusal::IdTokenSignature => "id_token_signature",
            UpstreamRefusal::Nonce => "nonce",
            UpstreamRefusal::IdTokenInvalid => "id_token_invalid",
            UpstreamRefusal::AcrTooLow => "acr_too_low",
            UpstreamRefusal::Userinfo => "userinfo",
            UpstreamRefusal::FiscalNumberInvalid => "fiscal_number_invalid",
            UpstreamRefusal::NoAccount => "no_account",
            UpstreamRefusal::TaxCodeMismatch => "tax_code_mismatch",
            UpstreamRefusal::AccountNotActive => "account_not_active",
            UpstreamRefusal::MethodNotAllowed => "method_not_allowed",
            UpstreamRefusal::BadChoice => "bad_choice",
        }
    }
}

/// What a desk operator did (or tried) on an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeskAction {
    /// Open the account's page.
    View,
    /// Lift the login lock.
    Unlock,
    /// Disable the account.
    Disable,
    /// Enable the account again.
    Enable,
    /// Send a new activation link.
    ResendActivation,
    /// Correct the tax code or names.
    CorrectPerson,
    /// Check a person's identity and issue a recovery.
    Recover,
    /// Check a person's identity and unlink SPID/CIE identities.
    UnlinkIdentity,
    /// Check a person's identity only (an account without a password).
    CheckIdentity,
    /// Unlink a guardian (the account) from one of their students.
    UnlinkStudent,
}

impl DeskAction {
    /// The stable string of the audit detail.
    pub fn as_str(self) -> &'static str {
        match self {
            DeskAction::View => "view",
            DeskAction::Unlock => "unlock",
            DeskAction::Disable => "disable",
            DeskAction::Enable => "enable",
            DeskAction::ResendActivation => "resend_activation",
            DeskAction::CorrectPerson => "correct_person",
            DeskAction::Recover => "recover",
            DeskAction::UnlinkIdentity => "unlink_identity",
            DeskAction::CheckIdentity => "check_identity",
            DeskAction::UnlinkStudent => "unlink_student",
        }
    }
}

/// An operator's change to an OpenID Connect client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientChange {
    /// `varco client add`.
    Registered,
    /// `varco client remove`.
    Removed,
    /// `varco client rotate-secret`.
    SecretRotated,
}

/// Why the provider refused an authorization or a token request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OidcRefusal {
    /// No such client: an error page, no redirect.
    UnknownClient,
    /// A redirect URI the client did not register: an error page, no redirect.
    RedirectUriMismatch,
    /// A malformed request (PKCE missing or `plain`, no `openid` scope, a
    /// response type other than `code`, a request object, an oversized value).
    InvalidRequest,
    /// The account is not in the schools the client serves.
    SchoolNotServed,
    /// The person declined the consent page.
    ConsentDeclined,
    /// The person did not confirm the step-up with their PIN or personal code.
    StepUpDeclined,
    /// `prompt=none` but the person must sign in or consent.
    InteractionRequired,
    /// A code presented a second time (what it issued is revoked).
    CodeReplayed,
    /// A code past its 60 seconds, for another client or another redirect URI.
    CodeInvalid,
    /// The PKCE verifier does not match the challenge.
    PkceMismatch,
    /// A refresh token presented after it was rotated (the grant is revoked).
    RefreshReused,
    /// The client's authentication failed.
    ClientAuthentication,
}

impl OidcRefusal {
    /// The stable string of the audit detail.
    pub fn as_str(self) -> &'static str {
        match self {
            OidcRefusal::UnknownClient => "unknown_client",
            OidcRefusal::RedirectUriMismatch => "redirect_uri_mismatch",
            OidcRefusal::InvalidRequest => "invalid_request",
            OidcRefusal::SchoolNotServed => "school_not_served",
            OidcRefusal::ConsentDeclined => "consent_declined",
            OidcRefusal::StepUpDeclined => "step_up_declined",
            OidcRefusal::InteractionRequired => "interaction_required",
            OidcRefusal::CodeReplayed => "code_replayed",
            OidcRefusal::CodeInvalid => "code_invalid",
            OidcRefusal::PkceMismatch => "pkce_mismatch",
            OidcRefusal::RefreshReused => "refresh_token_reused",
            OidcRefusal::ClientAuthentication => "client_authentication_failed",
        }
    }
}

impl AuditEvent {
    /// The stable event name operators grep for.
    pub fn name(&self) -> &'static str {
        match self {
            AuditEvent::Login(_) => "login",
            AuditEvent::Logout => "logout",
            AuditEvent::AccountLocked { .. } => "account_locked",
            AuditEvent::AccountUnlocked { .. } => "account_unlocked",
            AuditEvent::ReauthenticationRefused { change, .. } => match change {
                Reauthentication::PasswordChange => "password_change",
                Reauthentication::EmailChange => "email_change_requested",
                Reauthentication::SecondSecret => "second_secret_regenerated",
            },
            AuditEvent::PasswordChanged { .. } => "password_changed",
            AuditEvent::PasswordChangeRequired => "password_change_required",
            AuditEvent::PasswordResetRequested(_) => "password_reset_requested",
            AuditEvent::PasswordNotAllowed(route) => match route {
                NewPasswordRoute::Reset => "password_reset",
                NewPasswordRoute::Activation => "account_activated",
                NewPasswordRoute::Change => "password_change",
            },
            AuditEvent::PasswordReset { .. } => "password_reset",
            AuditEvent::AccountActivated { .. } => "account_activated",
            AuditEvent::ActivationLinkSent => "activation_link_sent",
            AuditEvent::PasswordExpiryReminder(_) => "password_expiry_reminder",
            AuditEvent::EmailChangeRequested(_) => "email_change_requested",
            AuditEvent::EmailChanged { .. } => "email_changed",
            AuditEvent::EmailChangeUndone { .. } => "email_change_undone",
            AuditEvent::AccountCreated(_) => "account_created",
            AuditEvent::AccountChangedByRoster => "account_changed",
            AuditEvent::AccountEnabled { .. } => "account_enabled",
            AuditEvent::AccountDisabled { .. } => "account_disabled",
            AuditEvent::AccountDisableScheduled { .. } => "account_disable_scheduled",
            AuditEvent::AccountDisableCancelled { .. } => "account_disable_cancelled",
            AuditEvent::RosterYearEnd { .. } => "roster_year_end",
            AuditEvent::RoleGranted { .. } => "role_granted",
            AuditEvent::RoleRevoked { .. } => "role_revoked",
            AuditEvent::SchoolCreated => "school_created",
            AuditEvent::RosterImported { .. } => "roster_imported",
            AuditEvent::StudentsImported { .. } => "students_imported",
            AuditEvent::StudentFromRoster { created: true, .. } => "student_created",
            AuditEvent::StudentFromRoster { created: false, .. } => "student_changed",
            AuditEvent::Guardianship { linked: true, .. } => "guardian_linked",
            AuditEvent::Guardianship { linked: false, .. } => "guardian_unlinked",
            AuditEvent::DeskStudentSearch { .. } => "desk_student_search",
            AuditEvent::SessionEnded { .. } => "session_ended",
            AuditEvent::OtherSessionsEnded { .. } => "other_sessions_ended",
            AuditEvent::SetupLinkIssued => "setup_link_issued",
            AuditEvent::MailRetry { .. } => "mail_retry",
            AuditEvent::MailTestQueued { .. } => "mail_test_queued",
            AuditEvent::OidcClient { change, .. } => match change {
                ClientChange::Registered => "oidc_client_registered",
                ClientChange::Removed => "oidc_client_removed",
                ClientChange::SecretRotated => "oidc_client_secret_rotated",
            },
            AuditEvent::OidcKeysRotated { .. } => "oidc_keys_rotated",
            AuditEvent::OidcAuthorization { .. } => "oidc_authorization",
            AuditEvent::OidcTokenRefused { .. } => "oidc_token",
            AuditEvent::OidcConsent { .. } => "oidc_consent",
            AuditEvent::OidcGrantRevoked { .. } => "oidc_grant_revoked",
            AuditEvent::UpstreamLoginStarted { .. } => "upstream_login_started",
            AuditEvent::UpstreamLogin { .. } => "upstream_login",
            AuditEvent::DeskSearch { .. } => "desk_search",
            AuditEvent::DeskAccountViewed => "desk_account_viewed",
            AuditEvent::AuditExported { .. } => "audit_exported",
            AuditEvent::SchoolUpdated { .. } => "school_updated",
            AuditEvent::DeskAccessRefused { .. } => "desk_access_refused",
            AuditEvent::PersonCorrected { .. } => "person_corrected",
            AuditEvent::ChangeRequest { step, .. } => step.event_name(),
            AuditEvent::ActConfirmation { step, .. } => step.event_name(),
            AuditEvent::SecondSecret { step, .. } => step.event_name(),
            AuditEvent::DeskIdentityCheck { .. } => "desk_identity_check",
            AuditEvent::DeskRecoveryIssued { .. } => "desk_recovery_issued",
            AuditEvent::UpstreamIdentityUnlinked { .. } => "upstream_identity_unlinked",
        }
    }

    /// Whether it happened or was refused.
    pub fn outcome(&self) -> Outcome {
        let failed = match self {
            AuditEvent::Login(outcome) => !matches!(
                outcome,
                LoginOutcome::Success | LoginOutcome::Rehashed | LoginOutcome::LegacyPrefixMatch
            ),
            AuditEvent::ReauthenticationRefused { .. } | AuditEvent::PasswordNotAllowed(_) => true,
            AuditEvent::PasswordResetRequested(request) => *request != ResetRequest::Accepted,
            AuditEvent::PasswordExpiryReminder(reminder) => *reminder == ExpiryReminder::NoEmail,
            AuditEvent::EmailChangeRequested(request) => *request == EmailChangeRequest::Throttled,
            AuditEvent::OidcAuthorization { refusal, .. } => refusal.is_some(),
            AuditEvent::OidcTokenRefused { .. } => true,
            AuditEvent::UpstreamLogin { refusal, .. } => refusal.is_some(),
            AuditEvent::DeskAccessRefused { .. } => true,
            AuditEvent::ChangeRequest { step, .. } => *step == RequestStep::OutOfScope,
            AuditEvent::ActConfirmation { step, .. } => matches!(step, ConfirmationStep::Refused(_)),
            AuditEvent::SecondSecret { step, .. } => matches!(
                step,
                SecondSecretStep::Failed { .. } | SecondSecretStep::Locked | SecondSecretStep::Refused
            ),
            AuditEvent::DeskIdentityCheck { refused, .. } => *refused,
            _ => false,
        };
        if failed { Outcome::Failure } else { Outcome::Success }
    }

    /// The short key facts recorded with the event, if any.
    pub fn detail(&self) -> Option<String> {
        let fixed = |text: &str| Some(text.to_owned());
        match self {
            AuditEvent::Login(outcome) => match outcome {
                LoginOutcome::Success => None,
                LoginOutcome::Rehashed => fixed("password_rehashed"),
                LoginOutcome::LegacyPrefixMatch => fixed("legacy_prefix_match_change_required"),
                LoginOutcome::WrongPassword => fixed("wrong_password"),
                LoginOutcome::WrongPasswordLocked => fixed("wrong_password_locked"),
                LoginOutcome::AccountLocked => fixed("account_locked"),
                LoginOutcome::NotActive => fixed("account_not_active"),
                LoginOutcome::UnknownAccount => fixed("unknown_account"),
                LoginOutcome::ChangedDuringCheck => fixed("account_changed_during_check"),
                LoginOutcome::PasswordNotAllowed => fixed("password_not_allowed"),
            },
            AuditEvent::Logout
            | AuditEvent::PasswordChangeRequired
            | AuditEvent::ActivationLinkSent
            | AuditEvent::SchoolCreated
            | AuditEvent::SetupLinkIssued
            | AuditEvent::DeskAccountViewed => None,
            AuditEvent::DeskSearch { results } => Some(format!("results={results}")),
            AuditEvent::AuditExported { rows } => Some(format!("rows={rows}")),
            AuditEvent::SchoolUpdated { fields } => Some(format!("fields={fields}")),
            AuditEvent::DeskAccessRefused { action } => Some(format!("action={}", action.as_str())),
            AuditEvent::DeskIdentityCheck {
                document,
                last4,
                action,
                refused,
            } => {
                let refused = if *refused { " refused=tax_code_mismatch" } else { "" };
                Some(format!(
                    "document={} last4={last4} action={}{refused}",
                    document.as_str(),
                    action.as_str()
                ))
            }
            AuditEvent::DeskRecoveryIssued {
                document,
                last4,
                channel,
                email_changed,
                sessions_ended,
            } => Some(format!(
                "document={} last4={last4} channel={} email_changed={email_changed} sessions_ended={sessions_ended}",
                document.as_str(),
                channel.as_str()
            )),
            AuditEvent::UpstreamIdentityUnlinked {
                document,
                last4,
                identities,
            } => Some(format!(
                "document={} last4={last4} identities={identities}",
                document.as_str()
            )),
            AuditEvent::PersonCorrected {
                fields,
                identities_unlinked,
                reason,
            } => {
                let reason: String = reason
                    .chars()
                    .map(|c| if c.is_control() || c == '"' { ' ' } else { c })
                    .take(200)
                    .collect();
                Some(format!(
                    "fields={fields} identities_unlinked={identities_unlinked} reason=\"{}\"",
                    reason.trim()
                ))
            }
            AuditEvent::AccountLocked { failed_logins } => Some(format!("failed_logins={failed_logins}")),
            AuditEvent::AccountUnlocked {
                failed_logins,
                was_blocked,
            } => Some(format!("failed_logins={failed_logins} was_blocked={was_blocked}")),
            AuditEvent::ReauthenticationRefused { refusal, .. } => match refusal {
                ReauthenticationRefusal::WrongCurrentPassword => fixed("wrong_current_password"),
                ReauthenticationRefusal::AccountLocked => fixed("account_locked"),
            },
            AuditEvent::PasswordChanged { sessions_ended, forced } => {
                let forced = if *forced { " forced=true" } else { "" };
                Some(format!("sessions_ended={sessions_ended}{forced}"))
            }
            AuditEvent::PasswordResetRequested(request) => match request {
                ResetRequest::Accepted => None,
                ResetRequest::Throttled => fixed("throttled"),
                ResetRequest::NoMatchingAccount => fixed("no_matching_account"),
                ResetRequest::AccountNotUsable => fixed("account_not_usable"),
                ResetRequest::PasswordNotAllowed => fixed("password_not_allowed"),
            },
            AuditEvent::PasswordNotAllowed(_) => fixed("password_not_allowed"),
            AuditEvent::PasswordReset { sessions_ended } | AuditEvent::AccountActivated { sessions_ended } => {
                Some(format!("sessions_ended={sessions_ended}"))
            }
            AuditEvent::PasswordExpiryReminder(reminder) => match reminder {
                ExpiryReminder::Sent {
                    threshold_days,
                    days_left,
                } => Some(format!("threshold_days={threshold_days} days_left={days_left}")),
                ExpiryReminder::NoEmail => fixed("no_email"),
            },
            AuditEvent::EmailChangeRequested(request) => match request {
                EmailChangeRequest::Accepted { new_masked } => Some(format!("new={new_masked}")),
                EmailChangeRequest::Throttled => fixed("throttled"),
            },
            AuditEvent::EmailChanged { new_masked } => Some(format!("new={new_masked}")),
            AuditEvent::EmailChangeUndone {
                sessions_ended,
                later_changes_undone,
                reset_link_sent,
            } => Some(format!(
                "sessions_ended={sessions_ended} later_changes_undone={later_changes_undone} \
                 password_removed=true reset_link_sent={reset_link_sent}"
            )),
            AuditEvent::AccountCreated(origin) => fixed(origin.as_str()),
            AuditEvent::AccountChangedByRoster => fixed("roster_import"),
            AuditEvent::AccountEnabled { status } => Some(format!("status={} sessions_ended=0", status.as_str())),
            AuditEvent::AccountDisabled { sessions_ended } => Some(format!(
                "status={} sessions_ended={sessions_ended}",
                AccountStatus::Disabled.as_str()
            )),
            AuditEvent::AccountDisableScheduled { on } | AuditEvent::AccountDisableCancelled { on } => {
                Some(format!("on={on}"))
            }
            AuditEvent::RosterYearEnd {
                school,
                on,
                scheduled,
                disabled_now,
                cancelled,
                kept_operators,
            } => Some(format!(
                "school={school} on={on} scheduled={scheduled} disabled_now={disabled_now} cancelled={cancelled} kept_operators={kept_operators}"
            )),
            AuditEvent::RoleGranted { role, school } | AuditEvent::RoleRevoked { role, school } => Some(match school {
                Some(school) => format!("role={} school={school}", role.as_str()),
                None => format!("role={}", role.as_str()),
            }),
            AuditEvent::RosterImported {
                school,
                rows,
                created,
                updated,
                unchanged,
                skipped,
            } => Some(format!(
                "school={school} rows={rows} created={created} updated={updated} unchanged={unchanged} skipped={skipped}"
            )),
            AuditEvent::StudentsImported {
                school,
                rows,
                created,
                updated,
                unchanged,
                links_added,
                links_removed,
                skipped,
            } => Some(format!(
                "school={school} rows={rows} created={created} updated={updated} unchanged={unchanged} \
                 links_added={links_added} links_removed={links_removed} skipped={skipped}"
            )),
            AuditEvent::StudentFromRoster { student_id, .. } => Some(format!("student_id={student_id}")),
            AuditEvent::Guardianship { student_id, via, .. } => {
                Some(format!("student_id={student_id} via={}", via.as_str()))
            }
            AuditEvent::DeskStudentSearch { results } => Some(format!("results={results}")),
            AuditEvent::SessionEnded { session_id } => Some(format!("session_id={session_id}")),
            AuditEvent::OtherSessionsEnded { count } => Some(format!("count={count}")),
            AuditEvent::MailRetry { outbox_id } => Some(format!("outbox_id={outbox_id}")),
            AuditEvent::MailTestQueued { to } => Some(format!("to={to}")),
            AuditEvent::OidcClient { client_id, .. } => Some(format!("client_id={client_id}")),
            AuditEvent::OidcKeysRotated { new_kids, retired } => Some(format!("new={new_kids} retired={retired}")),
            AuditEvent::OidcAuthorization { client_id, refusal } => Some(match refusal {
                None => format!("client_id={client_id}"),
                Some(refusal) => format!("client_id={client_id} refused={}", refusal.as_str()),
            }),
            AuditEvent::OidcTokenRefused { client_id, refusal } => {
                Some(format!("client_id={client_id} refused={}", refusal.as_str()))
            }
            AuditEvent::OidcConsent { client_id, granted } => Some(format!("client_id={client_id} granted={granted}")),
            AuditEvent::OidcGrantRevoked {
                client_id,
                grants,
                reason,
            } => Some(format!("client_id={client_id} grants={grants} reason={reason}")),
            AuditEvent::UpstreamLoginStarted { provider } => Some(format!("provider={provider}")),
            AuditEvent::UpstreamLogin {
                provider,
                linked,
                refusal,
            } => Some(match refusal {
                None if *linked => format!("provider={provider} linked=true"),
                None => format!("provider={provider}"),
                Some(refusal) => format!("provider={provider} refused={}", refusal.as_str()),
            }),
            AuditEvent::ChangeRequest { number, .. } => Some(format!("request={number}")),
            AuditEvent::SecondSecret { kind, step } => Some(match step {
                SecondSecretStep::Failed { remaining } => format!("kind={} remaining={remaining}", kind.as_str()),
                _ => format!("kind={}", kind.as_str()),
            }),
            AuditEvent::ActConfirmation {
                client_id,
                confirmation,
                step,
            } => Some(match step {
                ConfirmationStep::Refused(why) => {
                    format!("client={client_id} confirmation={confirmation} reason={}", why.as_str())
                }
                _ => format!("client={client_id} confirmation={confirmation}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The students' events, with the exact strings operators rely on.
    #[test]
    fn student_events_keep_their_names_outcomes_and_details() {
        use AuditEvent as E;
        let cases = [
            (
                E::StudentsImported {
                    school: "RMIC81200X".into(),
                    rows: 4,
                    created: 2,
                    updated: 1,
                    unchanged: 1,
                    links_added: 3,
                    links_removed: 1,
                    skipped: 0,
                },
                "students_imported",
                Some(
                    "school=RMIC81200X rows=4 created=2 updated=1 unchanged=1 links_added=3 links_removed=1 skipped=0",
                ),
            ),
            (
                E::StudentFromRoster {
                    student_id: StudentId(7),
                    created: true,
                },
                "student_created",
                Some("student_id=7"),
            ),
            (
                E::StudentFromRoster {
                    student_id: StudentId(7),
                    created: false,
                },
                "student_changed",
                Some("student_id=7"),
            ),
            (
                E::Guardianship {
                    student_id: StudentId(7),
                    linked: true,
                    via: GuardianshipChange::RosterImport,
                },
                "guardian_linked",
                Some("student_id=7 via=roster_import"),
            ),
            (
                E::Guardianship {
                    student_id: StudentId(7),
                    linked: false,
                    via: GuardianshipChange::Operator,
                },
                "guardian_unlinked",
                Some("student_id=7 via=operator"),
            ),
            (
                E::DeskStudentSearch { results: 2 },
                "desk_student_search",
                Some("results=2"),
            ),
        ];
        for (event, name, detail) in cases {
            assert_eq!(event.name(), name, "{event:?}");
            assert_eq!(event.outcome(), Outcome::Success, "{event:?}");
            assert_eq!(event.detail().as_deref(), detail, "{event:?}");
        }
    }

    /// Every event with the exact strings operators and tests rely on.
    #[test]
    fn events_keep_their_names_outcomes_and_details() {
        use AuditEvent as E;
        let cases: Vec<(AuditEvent, &str, &str, Option<&str>)> = vec![
            (E::Login(LoginOutcome::Success), "login", "success", None),
            (
                E::Login(LoginOutcome::Rehashed),
                "login",
                "success",
                Some("password_rehashed"),
            ),
            (
                E::Login(LoginOutcome::LegacyPrefixMatch),
                "login",
                "success",
                Some("legacy_prefix_match_change_required"),
            ),
            (
                E::Login(LoginOutcome::WrongPassword),
                "login",
                "failure",
                Some("wrong_password"),
            ),
            (
                E::Login(LoginOutcome::WrongPasswordLocked),
                "login",
                "failure",
                Some("wrong_password_locked"),
            ),
            (
                E::Login(LoginOutcome::AccountLocked),
                "login",
                "failure",
                Some("account_locked"),
            ),
            (
                E::Login(LoginOutcome::NotActive),
                "login",
                "failure",
                Some("account_not_active"),
            ),
            (
                E::Login(LoginOutcome::UnknownAccount),
                "login",
                "failure",
                Some("unknown_account"),
            ),
            (
                E::Login(LoginOutcome::ChangedDuringCheck),
                "login",
                "failure",
                Some("account_changed_during_check"),
            ),
            (
                E::Login(LoginOutcome::PasswordNotAllowed),
                "login",
                "failure",
                Some("password_not_allowed"),
            ),
            (
                E::PasswordResetRequested(ResetRequest::PasswordNotAllowed),
                "password_reset_requested",
                "failure",
                Some("password_not_allowed"),
            ),
            (
                E::PasswordNotAllowed(NewPasswordRoute::Reset),
                "password_reset",
                "failure",
                Some("password_not_allowed"),
            ),
            (
                E::PasswordNotAllowed(NewPasswordRoute::Activation),
                "account_activated",
                "failure",
                Some("password_not_allowed"),
            ),
            (
                E::PasswordNotAllowed(NewPasswordRoute::Change),
                "password_change",
                "failure",
                Some("password_not_allowed"),
            ),
            (E::Logout, "logout", "success", None),
            (
                E::AccountLocked { failed_logins: 10 },
                "account_locked",
                "success",
                Some("failed_logins=10"),
            ),
            (
                E::AccountUnlocked {
                    failed_logins: 4,
                    was_blocked: true,
                },
                "account_unlocked",
                "success",
                Some("failed_logins=4 was_blocked=true"),
            ),
            (
                E::ReauthenticationRefused {
                    change: Reauthentication::PasswordChange,
                    refusal: ReauthenticationRefusal::WrongCurrentPassword,
                },
                "password_change",
                "failure",
                Some("wrong_current_password"),
            ),
            (
                E::ReauthenticationRefused {
                    change: Reauthentication::EmailChange,
                    refusal: ReauthenticationRefusal::AccountLocked,
                },
                "email_change_requested",
                "failure",
                Some("account_locked"),
            ),
            (
                E::PasswordChanged {
                    sessions_ended: 2,
                    forced: false,
                },
                "password_changed",
                "success",
                Some("sessions_ended=2"),
            ),
            (
                E::PasswordChanged {
                    sessions_ended: 0,
                    forced: true,
                },
                "password_changed",
                "success",
                Some("sessions_ended=0 forced=true"),
            ),
            (E::PasswordChangeRequired, "password_change_required", "success", None),
            (
                E::PasswordResetRequested(ResetRequest::Accepted),
                "password_reset_requested",
                "success",
                None,
            ),
            (
                E::PasswordResetRequested(ResetRequest::Throttled),
                "password_reset_requested",
                "failure",
                Some("throttled"),
            ),
            (
                E::PasswordResetRequested(ResetRequest::NoMatchingAccount),
                "password_reset_requested",
                "failure",
                Some("no_matching_account"),
            ),
            (
                E::PasswordResetRequested(ResetRequest::AccountNotUsable),
                "password_reset_requested",
                "failure",
                Some("account_not_usable"),
            ),
            (
                E::PasswordReset { sessions_ended: 3 },
                "password_reset",
                "success",
                Some("sessions_ended=3"),
            ),
            (
                E::AccountActivated { sessions_ended: 0 },
                "account_activated",
                "success",
                Some("sessions_ended=0"),
            ),
            (E::ActivationLinkSent, "activation_link_sent", "success", None),
            (
                E::PasswordExpiryReminder(ExpiryReminder::Sent {
                    threshold_days: 7,
                    days_left: 6,
                }),
                "password_expiry_reminder",
                "success",
                Some("threshold_days=7 days_left=6"),
            ),
            (
                E::PasswordExpiryReminder(ExpiryReminder::NoEmail),
                "password_expiry_reminder",
                "failure",
                Some("no_email"),
            ),
            (
                E::EmailChangeRequested(EmailChangeRequest::Accepted {
                    new_masked: "m•••o@example.it".into(),
                }),
                "email_change_requested",
                "success",
                Some("new=m•••o@example.it"),
            ),
            (
                E::EmailChangeRequested(EmailChangeRequest::Throttled),
                "email_change_requested",
                "failure",
                Some("throttled"),
            ),
            (
                E::EmailChanged {
                    new_masked: "m•••o@example.it".into(),
                },
                "email_changed",
                "success",
                Some("new=m•••o@example.it"),
            ),
            (
                E::EmailChangeUndone {
                    sessions_ended: 1,
                    later_changes_undone: 2,
                    reset_link_sent: true,
                },
                "email_change_undone",
                "success",
                Some("sessions_ended=1 later_changes_undone=2 password_removed=true reset_link_sent=true"),
            ),
            (
                E::AccountCreated(AccountOrigin::WithPassword),
                "account_created",
                "success",
                Some("with_password"),
            ),
            (
                E::AccountCreated(AccountOrigin::PendingActivation),
                "account_created",
                "success",
                Some("pending_activation"),
            ),
            (
                E::AccountCreated(AccountOrigin::RosterImport),
                "account_created",
                "success",
                Some("roster_import"),
            ),
            (
                E::AccountCreated(AccountOrigin::FirstAdmin),
                "account_created",
                "success",
                Some("first_admin"),
            ),
            (
                E::AccountCreated(AccountOrigin::Demo),
                "account_created",
                "success",
                Some("demo"),
            ),
            (
                E::AccountChangedByRoster,
                "account_changed",
                "success",
                Some("roster_import"),
            ),
            (
                E::AccountEnabled {
                    status: AccountStatus::PendingActivation,
                },
                "account_enabled",
                "success",
                Some("status=pending_activation sessions_ended=0"),
            ),
            (
                E::AccountDisabled { sessions_ended: 2 },
                "account_disabled",
                "success",
                Some("status=disabled sessions_ended=2"),
            ),
            (
                E::SecondSecret {
                    kind: crate::second_secret::SecondSecretKind::Pin,
                    step: SecondSecretStep::Failed { remaining: 3 },
                },
                "second_secret_failed",
                "failure",
                Some("kind=pin remaining=3"),
            ),
            (
                E::SecondSecret {
                    kind: crate::second_secret::SecondSecretKind::PersonalCode,
                    step: SecondSecretStep::Regenerated,
                },
                "second_secret_regenerated",
                "success",
                Some("kind=personal_code"),
            ),
            (
                E::ActConfirmation {
                    client_id: "registro".into(),
                    confirmation: "c1".into(),
                    step: ConfirmationStep::Confirmed,
                },
                "act_confirmed",
                "success",
                Some("client=registro confirmation=c1"),
            ),
            (
                E::ActConfirmation {
                    client_id: "registro".into(),
                    confirmation: "c1".into(),
                    step: ConfirmationStep::Refused(ConfirmationRefusal::PayloadMismatch),
                },
                "act_confirmation_refused",
                "failure",
                Some("client=registro confirmation=c1 reason=payload_mismatch"),
            ),
            (
                E::AccountDisableScheduled {
                    on: "2027-08-31".into(),
                },
                "account_disable_scheduled",
                "success",
                Some("on=2027-08-31"),
            ),
            (
                E::AccountDisableCancelled {
                    on: "2027-08-31".into(),
                },
                "account_disable_cancelled",
                "success",
                Some("on=2027-08-31"),
            ),
            (
                E::RosterYearEnd {
                    school: "RMIC81200X".into(),
                    on: "2027-08-31".into(),
                    scheduled: 3,
                    disabled_now: 0,
                    cancelled: 1,
                    kept_operators: 1,
                },
                "roster_year_end",
                "success",
                Some("school=RMIC81200X on=2027-08-31 scheduled=3 disabled_now=0 cancelled=1 kept_operators=1"),
            ),
            (
                E::RoleGranted {
                    role: Role::Desk,
                    school: Some("RMIC81200X".into()),
                },
                "role_granted",
                "success",
                Some("role=desk school=RMIC81200X"),
            ),
            (
                E::RoleRevoked {
                    role: Role::Admin,
                    school: None,
                },
                "role_revoked",
                "success",
                Some("role=admin"),
            ),
            (E::SchoolCreated, "school_created", "success", None),
            (
                E::RosterImported {
                    school: "RMIC81200X".into(),
                    rows: 5,
                    created: 2,
                    updated: 1,
                    unchanged: 1,
                    skipped: 1,
                },
                "roster_imported",
                "success",
                Some("school=RMIC81200X rows=5 created=2 updated=1 unchanged=1 skipped=1"),
            ),
            (
                E::SessionEnded {
                    session_id: SessionId(42),
                },
                "session_ended",
                "success",
                Some("session_id=42"),
            ),
            (
                E::OtherSessionsEnded { count: 3 },
                "other_sessions_ended",
                "success",
                Some("count=3"),
            ),
            (E::SetupLinkIssued, "setup_link_issued", "success", None),
            (
                E::MailRetry { outbox_id: 7 },
                "mail_retry",
                "success",
                Some("outbox_id=7"),
            ),
            (
                E::MailTestQueued {
                    to: "a•••a@example.it".into(),
                },
                "mail_test_queued",
                "success",
                Some("to=a•••a@example.it"),
            ),
            (
                E::OidcClient {
                    change: ClientChange::Registered,
                    client_id: "registro".into(),
                },
                "oidc_client_registered",
                "success",
                Some("client_id=registro"),
            ),
            (
                E::OidcClient {
                    change: ClientChange::Removed,
                    client_id: "registro".into(),
                },
                "oidc_client_removed",
                "success",
                Some("client_id=registro"),
            ),
            (
                E::OidcClient {
                    change: ClientChange::SecretRotated,
                    client_id: "registro".into(),
                },
                "oidc_client_secret_rotated",
                "success",
                Some("client_id=registro"),
            ),
            (
                E::OidcKeysRotated {
                    new_kids: "k1,k2".into(),
                    retired: 2,
                },
                "oidc_keys_rotated",
                "success",
                Some("new=k1,k2 retired=2"),
            ),
            (
                E::OidcAuthorization {
                    client_id: "registro".into(),
                    refusal: None,
                },
                "oidc_authorization",
                "success",
                Some("client_id=registro"),
            ),
            (
                E::OidcAuthorization {
                    client_id: "registro".into(),
                    refusal: Some(OidcRefusal::SchoolNotServed),
                },
                "oidc_authorization",
                "failure",
                Some("client_id=registro refused=school_not_served"),
            ),
            (
                E::OidcAuthorization {
                    client_id: "sconosciuto".into(),
                    refusal: Some(OidcRefusal::RedirectUriMismatch),
                },
                "oidc_authorization",
                "failure",
                Some("client_id=sconosciuto refused=redirect_uri_mismatch"),
            ),
            (
                E::OidcTokenRefused {
                    client_id: "registro".into(),
                    refusal: OidcRefusal::CodeReplayed,
                },
                "oidc_token",
                "failure",
                Some("client_id=registro refused=code_replayed"),
            ),
            (
                E::OidcConsent {
                    client_id: "biblioteca".into(),
                    granted: false,
                },
                "oidc_consent",
                "success",
                Some("client_id=biblioteca granted=false"),
            ),
            (
                E::OidcGrantRevoked {
                    client_id: "registro".into(),
                    grants: 1,
                    reason: "refresh_token_reused",
                },
                "oidc_grant_revoked",
                "success",
                Some("client_id=registro grants=1 reason=refresh_token_reused"),
            ),
            (
                E::UpstreamLoginStarted {
                    provider: "gateway".into(),
                },
                "upstream_login_started",
                "success",
                Some("provider=gateway"),
            ),
            (
                E::UpstreamLogin {
                    provider: "gateway".into(),
                    linked: true,
                    refusal: None,
                },
                "upstream_login",
                "success",
                Some("provider=gateway linked=true"),
            ),
            (
                E::UpstreamLogin {
                    provider: "gateway".into(),
                    linked: false,
                    refusal: None,
                },
                "upstream_login",
                "success",
                Some("provider=gateway"),
            ),
            (
                E::UpstreamLogin {
                    provider: "gateway".into(),
                    linked: false,
                    refusal: Some(UpstreamRefusal::AcrTooLow),
                },
                "upstream_login",
                "failure",
                Some("provider=gateway refused=acr_too_low"),
            ),
            (
                E::DeskSearch { results: 3 },
                "desk_search",
                "success",
                Some("results=3"),
            ),
            (E::DeskAccountViewed, "desk_account_viewed", "success", None),
            (
                E::SchoolUpdated {
                    fields: "name,helpdesk_phone".into(),
                },
                "school_updated",
                "success",
                Some("fields=name,helpdesk_phone"),
            ),
            (
                E::AuditExported { rows: 12 },
                "audit_exported",
                "success",
                Some("rows=12"),
            ),
            (
                E::PersonCorrected {
                    fields: "tax_code,last_name".into(),
                    identities_unlinked: 1,
                    reason: "CF errato \"sul\"\nmodulo".into(),
                },
                "person_corrected",
                "success",
                Some("fields=tax_code,last_name identities_unlinked=1 reason=\"CF errato  sul  modulo\""),
            ),
            (
                E::DeskAccessRefused {
                    action: DeskAction::Disable,
                },
                "desk_access_refused",
                "failure",
                Some("action=disable"),
            ),
            (
                E::ChangeRequest {
                    step: RequestStep::DocumentViewed,
                    number: "R-2026-7KQ2M9".into(),
                },
                "email_change_request_document_viewed",
                "success",
                Some("request=R-2026-7KQ2M9"),
            ),
            (
                E::ChangeRequest {
                    step: RequestStep::OutOfScope,
                    number: "R-2026-7KQ2M9".into(),
                },
                "email_change_request_out_of_scope",
                "failure",
                Some("request=R-2026-7KQ2M9"),
            ),
        ];
        let desk_cases = [
            (
                E::DeskIdentityCheck {
                    document: DocumentType::Cie,
                    last4: "AB12".into(),
                    action: DeskAction::Recover,
                    refused: true,
                },
                "desk_identity_check",
                "failure",
                Some("document=cie last4=AB12 action=recover refused=tax_code_mismatch"),
            ),
            (
                E::DeskRecoveryIssued {
                    document: DocumentType::Passaporto,
                    last4: "YA77".into(),
                    channel: RecoveryChannel::Letter,
                    email_changed: false,
                    sessions_ended: 2,
                },
                "desk_recovery_issued",
                "success",
                Some("document=passaporto last4=YA77 channel=letter email_changed=false sessions_ended=2"),
            ),
            (
                E::UpstreamIdentityUnlinked {
                    document: DocumentType::Patente,
                    last4: "0001".into(),
                    identities: 1,
                },
                "upstream_identity_unlinked",
                "success",
                Some("document=patente last4=0001 identities=1"),
            ),
        ];
        for (event, name, outcome, detail) in cases.into_iter().chain(desk_cases) {
            assert_eq!(event.name(), name, "{event:?}");
            assert_eq!(event.outcome().as_str(), outcome, "{event:?}");
            assert_eq!(event.detail().as_deref(), detail, "{event:?}");
        }
    }
}
