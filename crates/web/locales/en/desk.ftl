# The desk (secretariat): search, account page, actions.

desk-title = School office
desk-scope = Family and staff accounts of: { $schools }.
desk-scope-staff-any = You can also find staff of any state school, to recover their credentials.
desk-scope-admin = As an administrator you see every account.
desk-search-label = Find an account
desk-search-hint = Tax code, name, user code or email address.
desk-search-submit = Search
desk-search-invalid = Type a tax code, a user code, an email address or at least two letters of a name.
desk-search-too-long = The search is too long: 100 characters at most.
desk-results = { $count ->
    [0] No results
    [one] 1 result
   *[other] { $count } results
}
desk-no-results = No account matches the search. Check what you typed: families of other schools are not visible from this office.
desk-tax-code = Tax code
desk-status = Status
desk-status-active = Active
desk-status-pending_activation = Waiting for activation
desk-status-disabled = Disabled
desk-locked = Sign-in locked after too many attempts
desk-disable-on = Will be disabled from { $date }: not on the new school year's roster. To keep it active, import the roster again with this person in it.
desk-not-locked = Not locked
desk-lock = Lock
desk-failed-logins = { $count ->
    [one] 1 wrong attempt
   *[other] { $count } wrong attempts
}

desk-account-title = Account
desk-back = Back to the search
desk-methods = Ways to sign in
desk-password-set = Password set
desk-password-none = No password set
desk-identity = { $provider }, linked since { $since }
desk-identity-none = No SPID or CIE identity linked
desk-actions = Actions
desk-actions-not-here = The office cannot act on this account: your own account, or an operator's, is managed by an administrator.
desk-unlock = Unlock sign-in
desk-disable = Disable the account
desk-enable = Enable the account again
desk-resend-activation = Send the activation link again
desk-sessions = Open sessions
desk-session = Since { $started }, last used { $seen }
desk-sessions-none = No open session.
desk-sign-ins = Recent sign-ins
desk-sign-in-ok = signed in
desk-sign-in-failed = sign-in failed
desk-sign-ins-none = No sign-in recorded.
desk-events = Event log
desk-event-at = When
desk-event = Event
desk-event-actor = Who
desk-event-detail = Details

desk-done-unlocked = Sign-in unlocked: the person can try again now.
desk-done-disabled = Account disabled: its sessions were ended.
desk-done-enabled = Account enabled again.
desk-done-activation-sent = A new activation link was sent to the account's address.
desk-done-unchanged = There was nothing to change.
desk-done-refused = This action is not possible on this account.

desk-confirm-disable-title = Disable the account?
desk-confirm-disable = { $name } (user code { $user_code }) will not be able to sign in until the account is enabled again. Open sessions will be ended.
desk-confirm-disable-submit = Yes, disable the account
desk-cancel = Cancel

desk-correct = Correct the details
desk-correct-intro = Correct the tax code or the name only after checking them on a document. The person will be told at the account's address.
desk-first-name = First name
desk-last-name = Last name
desk-correct-reason = Reason for the correction
desk-correct-reason-hint = Required: for example the document you saw. It stays in the event log.
desk-correct-submit = Save the correction
desk-correct-tax-code-invalid = The tax code is not valid: check the 16 characters; the last one is a check character.
desk-correct-tax-code-taken = Another account of this school already has this tax code.
desk-correct-name-invalid = Write the first and last name in full, 100 characters at most.
desk-correct-reason-missing = Write the reason for the correction.
desk-correct-reason-too-long = The reason is too long: 500 characters at most.
desk-done-corrected = Details corrected. The person was told at the account's address.
desk-open = Open the school office console
