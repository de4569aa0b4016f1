# Recovery: forgot password, reset, activation.
forgot-title = Forgot your password
forgot-intro = Type your user code, your username or the email address you gave the school office. If it matches an account, we will send you a link to choose a new password.
forgot-field = User code, username or email
forgot-submit = Send the link
forgot-sent-title = Check your email
forgot-sent = If what you typed matches an account with an email address, we have just sent it a message with a link to choose a new password. The link works for 30 minutes and only once.
forgot-spam = If you cannot find it within a few minutes, also look in your spam folder.
forgot-nothing = Nothing arrives, or the registered address is no longer in use?
forgot-nothing-email-change = Ask your school office to change your email address
forgot-nothing-help = Contact the helpdesk
forgot-back = Back to sign-in
forgot-throttled = Too many requests from this connection. Try again in { $seconds } seconds.

reset-title = Choose a new password
activate-title = Activate your account
reset-intro = Hello { $name }, choose the new password for account { $user_code }. It needs at least { $min } characters: a few random words are a good choice.
activate-intro = Hello { $name }, choose the password that activates account { $user_code }. It needs at least { $min } characters: a few random words are a good choice.
reset-new = New password
reset-confirm = Repeat the new password
reset-submit = Save the password
reset-mismatch = The two passwords do not match.
reset-done-title = Password saved
reset-done = Your password has been saved and, for safety, every device has been signed out. You can now sign in with the new password.
activate-done = Your account is active. You can now sign in with user code { $user_code } and the password you chose.
reset-login = Go to sign-in
link-invalid-title = Invalid link
link-invalid = This link is invalid, has expired or has already been used. For safety each link works only once and for a short time.
link-invalid-again = Ask for a new link

forgot-blank = Type your user code, username or email.
activate-done-title = Account activated
activate-submit = Activate the account
