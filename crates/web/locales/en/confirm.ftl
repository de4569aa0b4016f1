# Confirming an act with the PIN or personal code, asked by a school application.
confirm-title = Confirm with your code
confirm-intro = The application “{ $client }” asks you to confirm the following. Check it carefully: you confirm exactly this and nothing else.
confirm-what = What you confirm
confirm-details = All the data the application will receive as confirmed
confirm-secret-pin = PIN
confirm-secret-personal_code = Personal code
confirm-secret-help-pin = The PIN of 6 or more digits you received by email. It is not your password.
confirm-secret-help-personal_code = The personal code you received by email. It is not your password.
confirm-submit = Confirm
confirm-cancel = Cancel and go back to the application
confirm-error-wrong-pin = Wrong PIN. { $remaining ->
    [one] One attempt left, then the PIN will be locked.
   *[other] { $remaining } attempts left, then the PIN will be locked.
}
confirm-error-wrong-personal_code = Wrong personal code. { $remaining ->
    [one] One attempt left, then the code will be locked.
   *[other] { $remaining } attempts left, then the code will be locked.
}
confirm-error-malformed-pin = A PIN is made of digits only: check you typed all of it.
confirm-error-malformed-personal_code = The personal code is not written correctly: check its letters and digits.
confirm-error-locked-pin = The PIN is locked after too many wrong attempts. Generate a new one from your account page, then go back to the application.
confirm-error-locked-personal_code = The personal code is locked after too many wrong attempts. Generate a new one from your account page, then go back to the application.
confirm-error-not-issued-pin = You do not have a PIN yet. Generate it from your account page: it will arrive by email.
confirm-error-not-issued-personal_code = You do not have a personal code yet. Generate it from your account page: it will arrive by email.
confirm-error-guardian-pin = This request is about a student you are no longer a guardian of: it cannot be confirmed. If this is a mistake, contact the school office.
confirm-error-guardian-personal_code = This request is about a student not linked to your account: it cannot be confirmed.
confirm-go-account = Go to your account
confirm-state-expired = The request has expired. Go back to the application and try again.
confirm-state-confirmed = You have already confirmed this request.
confirm-state-cancelled = You cancelled this request.
confirm-state-redeemed = You have already confirmed this request.

step-up-title-pin = Confirm with your PIN
step-up-title-personal_code = Confirm with your personal code
step-up-intro-pin = The application “{ $client }” asks for one more confirmation: enter your PIN to go on.
step-up-intro-personal_code = The application “{ $client }” asks for one more confirmation: enter your personal code to go on.

account-second-secret-pin = PIN
account-second-secret-personal_code = Personal code
account-second-secret-open = Change password and/or PIN
second-secret-title-pin = Your PIN
second-secret-title-personal_code = Your personal code
second-secret-intro-pin = The PIN confirms the operations that ask for it, such as justifying absences. It is not your password.
second-secret-intro-personal_code = The personal code confirms the operations that ask for it, such as sending an application. It is not your password.
second-secret-none-pin = You do not have a PIN yet: generate it below, it will arrive by email.
second-secret-none-personal_code = You do not have a personal code yet: generate it below, it will arrive by email.
second-secret-locked-pin = The PIN is locked after too many wrong attempts: generate a new one.
second-secret-locked-personal_code = The personal code is locked after too many wrong attempts: generate a new one.
second-secret-set = Active since { $time } (Italian time).
second-secret-regenerate-pin = Regenerate user PIN
second-secret-regenerate-personal_code = Regenerate personal code
second-secret-regenerate-intro = The new code will be sent to { $email }; the current one stops working at once.
second-secret-regenerate-submit-pin = Regenerate and send the PIN
second-secret-regenerate-submit-personal_code = Regenerate and send the code
second-secret-password = Current password
second-secret-wrong-password = The password is not right.
second-secret-no-email = Your account has no email address to send the code to: ask the school office to record one.
second-secret-needs-fresh-sign-in = For safety, without a password a SPID or CIE sign-in of the last 5 minutes is needed.
second-secret-sign-in-again = Sign in again with SPID or CIE
second-secret-sent-pin = We sent the new PIN to { $email }. The previous PIN no longer works.
second-secret-sent-personal_code = We sent the new personal code to { $email }. The previous code no longer works.
second-secret-changed-pin = The PIN was changed.
second-secret-changed-personal_code = The personal code was changed.
second-secret-change-pin = Change the PIN
second-secret-change-personal_code = Change the personal code
second-secret-change-rules-pin = Choose { $length } digits that are not all the same, not a sequence and not your birth date.
second-secret-change-rules-personal_code = Choose { $length } letters and digits (without 0, O, 1, I, L, 5, S, 2, Z, 8, B), not all the same nor a sequence.
second-secret-current-pin = Current PIN
second-secret-current-personal_code = Current personal code
second-secret-new-pin = New PIN
second-secret-new-personal_code = New personal code
second-secret-new-again-pin = Repeat the new PIN
second-secret-new-again-personal_code = Repeat the new personal code
second-secret-change-submit = Change
second-secret-mismatch = The two new codes differ.
second-secret-rule-length = The code must have { $length } characters.
second-secret-rule-digits_only = A PIN holds digits only.
second-secret-rule-alphabet = A personal code holds only the letters and digits listed.
second-secret-rule-repeated = The code cannot repeat one character or one pair.
second-secret-rule-sequence = The code cannot be a sequence (like 123456).
second-secret-rule-birth_date = The code cannot be your birth date.
