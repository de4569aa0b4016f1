# The desk (segreteria): search, account page, actions.

desk-title = Segreteria
desk-scope = Account delle famiglie e del personale di: { $schools }.
desk-scope-staff-any = Puoi trovare anche il personale scolastico di qualsiasi scuola statale, per il recupero delle credenziali.
desk-scope-admin = Come amministratore vedi tutti gli account.
desk-search-label = Cerca un account
desk-search-hint = Codice fiscale, nome e cognome, codice utente o indirizzo email.
desk-search-submit = Cerca
desk-search-invalid = Scrivi un codice fiscale, un codice utente, un indirizzo email o almeno due lettere del nome.
desk-search-too-long = La ricerca è troppo lunga: al massimo 100 caratteri.
desk-results = { $count ->
    [0] Nessun risultato
    [one] 1 risultato
   *[other] { $count } risultati
}
desk-no-results = Nessun account corrisponde alla ricerca. Controlla quello che hai scritto: le famiglie delle altre scuole non sono visibili da questa segreteria.
desk-tax-code = Codice fiscale
desk-status = Stato
desk-status-active = Attivo
desk-status-pending_activation = In attesa di attivazione
desk-status-disabled = Disattivato
desk-locked = Accesso bloccato per troppi tentativi
desk-disable-on = Sarà disattivato dal { $date }: non compare nell'elenco del nuovo anno scolastico. Per mantenerlo attivo, importa di nuovo l'elenco con questa persona.
desk-not-locked = Non bloccato
desk-lock = Blocco
desk-failed-logins = { $count ->
    [one] 1 tentativo errato
   *[other] { $count } tentativi errati
}

desk-account-title = Account
desk-back = Torna alla ricerca
desk-methods = Modi di accesso
desk-password-set = Password impostata
desk-password-none = Nessuna password impostata
desk-identity = { $provider }, collegata dal { $since }
desk-identity-none = Nessuna identità SPID o CIE collegata
desk-actions = Azioni
desk-actions-not-here = Su questo account la segreteria non può intervenire: il tuo account, o quello di un operatore, si gestisce dall'amministrazione.
desk-unlock = Sblocca l'accesso
desk-disable = Disattiva l'account
desk-enable = Riattiva l'account
desk-resend-activation = Invia di nuovo il collegamento di attivazione
desk-sessions = Sessioni aperte
desk-session = Dal { $started }, ultimo uso { $seen }
desk-sessions-none = Nessuna sessione aperta.
desk-sign-ins = Accessi recenti
desk-sign-in-ok = accesso riuscito
desk-sign-in-failed = accesso non riuscito
desk-sign-ins-none = Nessun accesso registrato.
desk-events = Registro degli eventi
desk-event-at = Quando
desk-event = Evento
desk-event-actor = Chi
desk-event-detail = Dettagli

desk-done-unlocked = Accesso sbloccato: la persona può riprovare subito.
desk-done-disabled = Account disattivato: le sue sessioni sono state chiuse.
desk-done-enabled = Account riattivato.
desk-done-activation-sent = Abbiamo inviato un nuovo collegamento di attivazione all'indirizzo dell'account.
desk-done-unchanged = Non c'era niente da cambiare.
desk-done-refused = Questa azione non è possibile su questo account.

desk-confirm-disable-title = Disattivare l'account?
desk-confirm-disable = { $name } (codice utente { $user_code }) non potrà più accedere finché l'account non viene riattivato. Le sessioni aperte verranno chiuse.
desk-confirm-disable-submit = Sì, disattiva l'account
desk-cancel = Annulla

desk-correct = Correggi i dati
desk-correct-intro = Correggi il codice fiscale o il nome solo dopo averli controllati su un documento. La persona riceverà un avviso all'indirizzo dell'account.
desk-first-name = Nome
desk-last-name = Cognome
desk-correct-reason = Motivo della correzione
desk-correct-reason-hint = Obbligatorio: per esempio il documento che hai visto. Resta nel registro degli eventi.
desk-correct-submit = Salva la correzione
desk-correct-tax-code-invalid = Il codice fiscale non è valido: controlla i 16 caratteri, l'ultimo è un carattere di controllo.
desk-correct-tax-code-taken = Un altro account di questa scuola ha già questo codice fiscale.
desk-correct-name-invalid = Scrivi il nome e il cognome per intero, al massimo 100 caratteri.
desk-correct-reason-missing = Scrivi il motivo della correzione.
desk-correct-reason-too-long = Il motivo è troppo lungo: al massimo 500 caratteri.
desk-done-corrected = Dati corretti. Abbiamo avvisato la persona all'indirizzo dell'account.
desk-open = Apri la console della segreteria
