# Recovery: forgot password, reset, activation.
forgot-title = Password dimenticata
forgot-intro = Scrivi il tuo codice utente, il nome utente o l'indirizzo email che hai comunicato alla segreteria. Se corrisponde a un account, ti invieremo un collegamento per scegliere una nuova password.
forgot-field = Codice utente, nome utente o email
forgot-submit = Invia il collegamento
forgot-sent-title = Controlla la tua email
forgot-sent = Se quanto hai scritto corrisponde a un account con un indirizzo email, ti abbiamo appena inviato un messaggio con un collegamento per scegliere una nuova password. Il collegamento vale 30 minuti e si usa una sola volta.
forgot-spam = Se non lo trovi entro qualche minuto, controlla anche la cartella della posta indesiderata (spam).
forgot-nothing = Non arriva nulla, o l'indirizzo registrato non è più in uso?
forgot-nothing-email-change = Chiedi alla segreteria della tua scuola di cambiare l'indirizzo email
forgot-nothing-help = Contatta l'assistenza
forgot-back = Torna all'accesso
forgot-throttled = Troppe richieste da questa connessione. Riprova tra { $seconds } secondi.

reset-title = Scegli una nuova password
activate-title = Attiva il tuo account
reset-intro = Ciao { $name }, scegli la nuova password per l'account { $user_code }. Deve avere almeno { $min } caratteri: alcune parole a caso sono una buona scelta.
activate-intro = Ciao { $name }, scegli la password per attivare l'account { $user_code }. Deve avere almeno { $min } caratteri: alcune parole a caso sono una buona scelta.
reset-new = Nuova password
reset-confirm = Ripeti la nuova password
reset-submit = Salva la password
reset-mismatch = Le due password non coincidono.
reset-done-title = Password salvata
reset-done = La password è stata salvata e per sicurezza abbiamo chiuso l'accesso su tutti i dispositivi. Ora puoi accedere con la nuova password.
activate-done = Il tuo account è attivo. Ora puoi accedere con il codice utente { $user_code } e la password che hai scelto.
reset-login = Vai all'accesso
link-invalid-title = Collegamento non valido
link-invalid = Questo collegamento non è valido, è scaduto oppure è già stato usato. Per sicurezza ogni collegamento funziona una sola volta e per poco tempo.
link-invalid-again = Chiedi un nuovo collegamento

forgot-blank = Scrivi il codice utente, il nome utente o l'email.
activate-done-title = Account attivato
activate-submit = Attiva l'account
