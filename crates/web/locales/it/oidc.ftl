# Varco come fornitore OpenID Connect: accesso alle applicazioni della scuola.
oidc-error-title = Accesso all'applicazione non riuscito
oidc-error-unknown-client = L'applicazione che ti ha mandato qui non è registrata presso Varco.
oidc-error-redirect-uri = L'applicazione che ti ha mandato qui ha indicato un indirizzo di ritorno non registrato. Per sicurezza non ti rimandiamo lì.
oidc-error-too-long = La richiesta dell'applicazione è troppo lunga.
oidc-error-not-served = L'applicazione «{ $client }» non è disponibile per il tuo account: non serve la tua scuola.
oidc-error-advice = Se il problema continua, segnalalo alla segreteria della scuola o a chi gestisce l'applicazione.
oidc-error-home = Vai al tuo account

oidc-consent-title = Consenti l'accesso a «{ $client }»?
oidc-consent-intro = L'applicazione «{ $client }» chiede di accedere con il tuo account Varco ({ $name }).
oidc-consent-data = L'applicazione riceverà:
oidc-scope-openid = un identificativo del tuo account, che non rivela il codice utente né il codice fiscale
oidc-scope-profile = nome e cognome
oidc-scope-email = l'indirizzo email e se è stato verificato
oidc-scope-school = la scuola, il tipo di account e i ruoli
oidc-scope-fiscal_number = il codice fiscale
oidc-scope-offline_access = l'accesso anche quando non sei collegato, finché non lo revochi
oidc-consent-revoke-later = Potrai revocare questo consenso in qualsiasi momento dalla pagina del tuo account.
oidc-consent-allow = Consenti
oidc-consent-deny = Non consentire

oidc-logout-title = Uscire da Varco?
oidc-logout-intro = Confermi di voler uscire da Varco? Uscirai anche dalle applicazioni in cui sei entrato con Varco.
oidc-logout-intro-client = L'applicazione «{ $client }» chiede di farti uscire da Varco. Uscirai anche dalle altre applicazioni in cui sei entrato con Varco.
oidc-logout-submit = Esci
oidc-logout-stay = Resta collegato

account-applications = Applicazioni collegate
account-applications-intro = Le applicazioni della scuola in cui sei entrato con questo account. Revocando l'accesso, l'applicazione non potrà più usare il tuo account finché non entri di nuovo.
account-applications-none = Non sei entrato in nessuna applicazione con questo account.
account-applications-since = Primo accesso: { $time } (ora italiana)
account-applications-last = Ultimo uso: { $time } (ora italiana)
account-applications-revoke = Revoca l'accesso a { $client }
account-applications-revoked = L'accesso dell'applicazione è stato revocato.
