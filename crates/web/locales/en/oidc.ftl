# Varco as an OpenID Connect provider: signing in to the school's applications.
oidc-error-title = Could not sign in to the application
oidc-error-unknown-client = The application that sent you here is not registered with Varco.
oidc-error-redirect-uri = The application that sent you here gave a return address that is not registered. For your safety you are not sent there.
oidc-error-too-long = The application's request is too long.
oidc-error-not-served = The application “{ $client }” is not available to your account: it does not serve your school.
oidc-error-advice = If the problem persists, tell the school office or whoever runs the application.
oidc-error-home = Go to your account

oidc-consent-title = Allow “{ $client }” to sign you in?
oidc-consent-intro = The application “{ $client }” asks to sign you in with your Varco account ({ $name }).
oidc-consent-data = The application will receive:
oidc-scope-openid = an identifier of your account that reveals neither your user code nor your tax code
oidc-scope-profile = your first and last name
oidc-scope-email = your email address and whether it was verified
oidc-scope-school = your school, the kind of account and its roles
oidc-scope-fiscal_number = your tax code
oidc-scope-offline_access = access even while you are not signed in, until you revoke it
oidc-consent-revoke-later = You can revoke this consent at any time from your account page.
oidc-consent-allow = Allow
oidc-consent-deny = Do not allow

oidc-logout-title = Sign out of Varco?
oidc-logout-intro = Do you want to sign out of Varco? You will also be signed out of the applications you entered with Varco.
oidc-logout-intro-client = The application “{ $client }” asks to sign you out of Varco. You will also be signed out of the other applications you entered with Varco.
oidc-logout-submit = Sign out
oidc-logout-stay = Stay signed in

account-applications = Connected applications
account-applications-intro = The school's applications you signed in to with this account. Revoking access stops an application from using your account until you sign in to it again.
account-applications-none = You have not signed in to any application with this account.
account-applications-since = First sign-in: { $time } (Italian time)
account-applications-last = Last used: { $time } (Italian time)
account-applications-revoke = Revoke access of { $client }
account-applications-revoked = The application's access was revoked.
