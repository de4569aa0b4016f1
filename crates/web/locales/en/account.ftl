# Account settings: email change, sessions.

account-email-change = Change email address
account-sessions = Signed-in devices
account-sessions-intro = Check where you are signed in and end the sessions you do not recognise.
account-sessions-open = See signed-in devices

email-change-title = Change your email address
email-change-intro = Type the new address twice and, for your security, your current password. We will send a link to the new address: until you open it, we keep using the current one.
email-change-current-address = Current address
email-change-current-none = No address on record.
email-change-new = New email address
email-change-new-confirm = New email address again
email-change-password = Current password
email-change-submit = Send the confirmation link
email-change-mismatch = The two addresses do not match.
email-change-invalid = The new email address is not valid. Check that you typed all of it, for example name.surname@example.it.
email-change-same = The new address is the same as the current one.
email-change-wrong-password = The current password is not correct.
email-change-throttled = You asked for too many address changes in a short time. Try again in an hour.
email-change-back = Back to your account

email-change-sent-title = Confirm the new address
email-change-sent = We sent a link to { $email }. Open it within { $hours ->
    [one] 1 hour
   *[other] { $hours } hours
} to confirm the change.
email-change-sent-until = Until you confirm, the new address is not used and messages keep going to the current address.
email-change-sent-spam = If you cannot find it within a few minutes, check your spam folder too.

email-confirm-title = Confirm the new email address
email-confirm-intro = Hello { $name }, you are about to make { $email } the email address of account { $user_code }.
email-confirm-submit = Confirm the new address
email-confirmed-title = Email address changed
email-confirmed = Done: { $email } is now the email address of your account. We told the old address.
email-confirmed-continue = Go to your account

email-undo-title = Undo the email address change
email-undo-intro = Hello { $name }, the email address of account { $user_code } was changed. If you did not make this change, undo it: we will put back the previous address and sign out every device.
email-undo-restore = Address that will be restored: { $email }
email-undo-restore-none = The account will have no email address again, as before the change.
email-undo-submit = Undo the change
email-undone-title = Change undone
email-undone = We put back the previous email address and signed out every device.
email-undone-password = If you did not make the change, someone knows your password: choose a new one now.
email-undone-reset = Choose a new password

email-link-invalid-title = Invalid link
email-link-invalid = This link is not valid, has expired or has already been used. For your security every link works only once and for a limited time.
email-link-invalid-again = Ask for a new link
email-link-invalid-undo = If someone changed your email address without your permission, contact the helpdesk or your school's office.
email-link-invalid-help = Contact the helpdesk

sessions-title = Signed-in devices
sessions-intro = These are the open sessions of your account. If you do not recognise a device, end its session and change your password.
sessions-device = Device
sessions-device-unknown = Unknown device
sessions-ip = IP address
sessions-ip-unknown = unknown
sessions-started = Signed in
sessions-last-seen = Last activity
sessions-current = This device
sessions-end = End this session
sessions-end-others = End all other sessions
sessions-none-others = There are no other open sessions.
sessions-ended = The session was ended.
sessions-ended-others = { $count ->
    [0] There were no other sessions to end.
    [one] 1 session was ended.
   *[other] { $count } sessions were ended.
}
sessions-back = Back to your account

email-change-blank = Type the new email address.
