# Varco — interface texts, English.
app-name = Varco
app-tagline = School sign-in and credentials
skip-to-content = Skip to content
lang-switch-label = Language
lang-it = Italiano
lang-en = English
nav-login = Sign in
nav-account = My account
nav-help = Help
nav-logout = Sign out
footer-text = Varco never sends a password by email and never asks for your password on the phone.

login-title = Sign in to Varco
login-intro = Sign in with your user code, username or the email address you gave the school office, and your password.
login-field-login = User code, username or email
login-field-password = Password
login-submit = Sign in
login-error = User code (or email) or password not correct. Check and try again: after a few wrong attempts sign-in is slowed down to protect the account.
login-throttled = Too many attempts from this connection. Try again in { $seconds } seconds.
login-too-long = What you typed is too long.
login-forgot = Forgot your password?
login-help = Cannot sign in? Get help.
login-logged-out = You have signed out.

account-title = Your account
account-name = Name
account-user-code = User code
account-username = Username
account-school = School
account-email = Email
account-email-verified = verified
account-email-unverified = not verified
account-email-none = none
account-kind = Account type
account-kind-staff = School staff
account-kind-family = Family
account-roles = Roles
account-roles-none = none
role-desk = School office ({ $school })
role-admin = Administration
account-logout = Sign out of Varco

help-title = Help
help-intro = If you cannot sign in or do not receive Varco's messages, contact the helpdesk. No operator will ever ask for your password.
help-national = National helpdesk
help-school = Your school's helpdesk
help-email = Email
help-phone = Phone
help-hours = Opening hours
help-none = No contact configured.
help-school-lookup = Find a school's contacts
help-school-code = School code (codice meccanografico)
help-school-search = Search
help-school-not-found = No school has this code.
help-desk-visit = You can also go in person to the school office with a valid identity document and your tax code.

logout-title = Sign out
logout-intro = Do you want to sign out of Varco on this device?
logout-submit = Sign out

setup-title = First-time setup
setup-intro = Create the first school and the first administrator. This link works once and expires after one hour.
setup-school = School
setup-school-code = School code (codice meccanografico)
setup-school-name = School name
setup-school-email = Institutional email
setup-admin = Administrator
setup-first-name = First name
setup-last-name = Last name
setup-tax-code = Tax code (codice fiscale)
setup-email = Email
setup-username = Username (optional)
setup-password = Password (at least { $min } characters)
setup-password-confirm = Repeat the password
setup-submit = Create
setup-done-title = Setup complete
setup-done-intro = The administrator has been created. Their user code is:
setup-done-login = Go to sign-in
setup-invalid = This setup link is invalid, expired or already used. Restart the server to get a new one if no administrator exists yet.
setup-password-mismatch = The two passwords do not match.

policy-too_short = The password is too short: at least { $min } characters are needed.
policy-too_long = The password is too long: at most { $max } characters.
policy-personal_data = The password contains personal data (name, tax code, email, username or school name).
policy-common = The password is one of the most common ones.
policy-reused = The password was used recently.
policy-weak = The password is too easy to guess.

error-title = Something went wrong
error-not-found = The page you asked for does not exist.
error-forbidden = You are not allowed to do this.
error-csrf = The form has expired or does not come from this site. Reload the page and try again.
error-internal = An internal error occurred. Please try again later.
error-unavailable = The service is not available right now. Please try again in a few minutes.
error-invalid = Invalid data: { $detail }
error-request-id = Request code: { $id }
error-home = Back to sign-in

account-password = Password
account-password-expires = Your password expires in { $days ->
    [one] 1 day
   *[other] { $days } days
}.
account-password-expired = Your password has expired.
account-password-never = Your password does not expire.
account-password-change = Change password

password-change-title = Change your password
password-change-intro = Choose a long password that is easy for you to remember, for example a few random words: at least { $min } characters. You can paste it from a password manager.
password-change-expired = Your password has expired. Choose a new one to continue.
password-change-expiring = Your password expires in { $days ->
    [one] 1 day
   *[other] { $days } days
}.
password-change-current = Current password
password-change-new = New password
password-change-confirm = Repeat the new password
password-change-submit = Change password
password-change-mismatch = The two new passwords do not match.
password-change-wrong-current = The current password is not correct.
password-change-done-title = Password changed
password-change-done = Your password has been changed. We sent you a confirmation email; your other open sessions have been closed.
password-change-continue = Go to your account

feedback-straight_rows_of_keys_are_easy_to_guess = Straight rows of keys are easy to guess.
feedback-short_keyboard_patterns_are_easy_to_guess = Short keyboard patterns are easy to guess.
feedback-repeats_like_aaa_are_easy_to_guess = Repeats like "aaa" are easy to guess.
feedback-repeats_like_abc_abc_are_only_slightly_harder_to_guess = Repeats like "abcabc" are only slightly harder to guess.
feedback-this_is_a_top_10_password = This is one of the 10 most common passwords.
feedback-this_is_a_top_100_password = This is one of the 100 most common passwords.
feedback-this_is_a_common_password = This is a very common password.
feedback-this_is_similar_to_a_commonly_used_password = This is similar to a commonly used password.
feedback-sequences_like_abc_are_easy_to_guess = Sequences like "abc" or "6543" are easy to guess.
feedback-recent_years_are_easy_to_guess = Recent years are easy to guess.
feedback-a_word_by_itself_is_easy_to_guess = A word by itself is easy to guess.
feedback-dates_are_often_easy_to_guess = Dates are often easy to guess.
feedback-names_and_surnames_by_themselves_are_easy_to_guess = Names and surnames by themselves are easy to guess.
feedback-common_names_and_surnames_are_easy_to_guess = Common names and surnames are easy to guess.
feedback-use_a_few_words_avoid_common_phrases = Use a few words, avoid common phrases.
feedback-no_need_for_symbols_digits_or_uppercase_letters = No need for symbols, digits or uppercase letters.
feedback-add_another_word_or_two = Add another word or two. Uncommon words are better.
feedback-capitalization_doesnt_help_very_much = Capitalization doesn't help very much.
feedback-all_uppercase_is_almost_as_easy_to_guess_as_all_lowercase = All-uppercase is almost as easy to guess as all-lowercase.
feedback-reversed_words_arent_much_harder_to_guess = Reversed words aren't much harder to guess.
feedback-predictable_substitutions_dont_help_very_much = Predictable substitutions like "@" instead of "a" don't help very much.
feedback-use_a_longer_keyboard_pattern_with_more_turns = Use a longer keyboard pattern with more turns.
feedback-avoid_repeated_words_and_characters = Avoid repeated words and characters.
feedback-avoid_sequences = Avoid sequences.
feedback-avoid_recent_years = Avoid recent years.
feedback-avoid_years_that_are_associated_with_you = Avoid years that are associated with you.
feedback-avoid_dates_and_years_that_are_associated_with_you = Avoid dates and years that are associated with you.

# setup — first-run configuration (/setup): field names and error messages
setup-field-school_code = School code
setup-field-school_name = School name
setup-field-school_email = Institutional email
setup-field-first_name = First name
setup-field-last_name = Last name
setup-field-tax_code = Tax code
setup-field-email = Email
setup-field-username = Username
setup-field-password = Password
setup-field-password_confirm = Repeat the password
setup-errors-title = Please check these fields:
setup-error-required = “{ $field }” is required.
setup-error-school-code = A school code has 10 characters: 4 letters, then 6 letters or digits (for example RMIC81200X).
setup-error-text = “{ $field }” can have at most { $max } characters, without line breaks or control characters.
setup-error-email = “{ $field }” is not a valid email address.
setup-error-name-too-long = “{ $field }” can have at most 100 characters.
setup-error-name-invalid = “{ $field }” contains characters that are not allowed.
setup-error-tax-code-length = A tax code has 16 characters; { $found } were entered.
setup-error-tax-code-character = The tax code has a character that is not allowed at position { $position }.
setup-error-tax-code-month = The 9th character of the tax code (the month of birth) is not valid.
setup-error-tax-code-day = The 10th and 11th characters of the tax code (the day of birth) are not valid.
setup-error-tax-code-check = The last character of the tax code does not match the others: check that it was copied correctly.
setup-error-username-length = A username has 3 to 64 characters.
setup-error-username-character = A username uses only letters a-z, digits, dot, underscore and dash, and starts with a letter or a digit.
setup-error-username-user-code = A username cannot have the form of a user code.
setup-error-field = “{ $field }” is not valid.
setup-error-conflict = A school with this code already exists.
error-busy = The service is very busy right now. Please try again in a few seconds.
login-setup-pending = Varco has no administrator yet: the first-run setup is pending. The link to complete it was written to the server's log at start-up (the standard error of “varco serve”); it is valid for one hour: if it has expired, restart the server to get a new one.
# Form errors, advice and the show-password button.
form-error-summary = Some details need correcting
form-advice = Tips for a password that is harder to guess
password-show = Show password
password-hide = Hide password
login-blank-login = Type your user code, username or email.
login-blank-password = Type your password.
# The wait after several wrong attempts, shown even when the password is right.
error-login-wait = Too many attempts: try again in { $seconds ->
    [one] 1 second
   *[other] { $seconds } seconds
}, even if the password is right.
password-change-expired-on = Your password expired on { $date }. Choose a new one to continue.
password-change-required = The school office asked for this account's password to be changed. Choose a new one to continue.

# Times are shown in the schools' zone and say so.
time-local = { $time } (Italian time)

# Header and footer.
nav-label = Main menu
app-brand-tagline = Sign-in to the school's services
footer-links-label = Legal information
footer-privacy = Privacy
footer-legal-notes = Legal notes
footer-accessibility = Accessibility statement
help-school-code-hint = The school's 10-character code, for example RMIC81500N: you find it on the school's website or in the school office's letters.

# help search
help-name-lookup = Find your school by name or town
help-school-name = School name or town
help-school-name-hint = Even just a part, for example "Manzoni", "Via Roma" or "Frascati"; capital and small letters are the same.
help-name-search = Search by name or town
help-name-results = { $count ->
    [0] No school found
    [one] 1 school found
   *[other] { $count } schools found
}
help-name-code = code
help-name-none = No school has this name or is in this town. Try a shorter part of the name, or ask the school office for the school code.
help-name-more = Only the first { $limit } schools are listed: type a longer part of the name or town to narrow the search.
help-name-too-short = Type at least 2 characters of the school's name or town.
help-name-town = town
