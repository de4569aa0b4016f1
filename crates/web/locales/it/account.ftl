# Account settings: email change, sessions.

account-email-change = Cambia indirizzo email
account-sessions = Dispositivi collegati
account-sessions-intro = Controlla dove hai effettuato l'accesso e chiudi le sessioni che non riconosci.
account-sessions-open = Vedi i dispositivi collegati

email-change-title = Cambia l'indirizzo email
email-change-intro = Scrivi due volte il nuovo indirizzo e, per sicurezza, la tua password attuale. Ti invieremo un collegamento al nuovo indirizzo: finché non lo apri continueremo a usare quello attuale.
email-change-current-address = Indirizzo attuale
email-change-current-none = Nessun indirizzo registrato.
email-change-new = Nuovo indirizzo email
email-change-new-confirm = Ripeti il nuovo indirizzo email
email-change-password = Password attuale
email-change-submit = Invia il collegamento di conferma
email-change-mismatch = I due indirizzi non coincidono.
email-change-invalid = Il nuovo indirizzo email non è valido. Controlla di averlo scritto per intero, per esempio nome.cognome@esempio.it.
email-change-same = Il nuovo indirizzo è uguale a quello attuale.
email-change-wrong-password = La password attuale non è corretta.
email-change-throttled = Hai chiesto troppi cambi di indirizzo in poco tempo. Riprova tra un'ora.
email-change-back = Torna al tuo account

email-change-sent-title = Conferma il nuovo indirizzo
email-change-sent = Abbiamo inviato un collegamento a { $email }. Aprilo entro { $hours ->
    [one] 1 ora
   *[other] { $hours } ore
} per confermare il cambio.
email-change-sent-until = Finché non confermi, il nuovo indirizzo non viene usato e i messaggi continuano ad arrivare all'indirizzo attuale.
email-change-sent-spam = Se non lo trovi entro qualche minuto, controlla anche la cartella della posta indesiderata (spam).

email-confirm-title = Conferma il nuovo indirizzo email
email-confirm-intro = Ciao { $name }, stai per rendere { $email } l'indirizzo email dell'account { $user_code }.
email-confirm-submit = Conferma il nuovo indirizzo
email-confirmed-title = Indirizzo email cambiato
email-confirmed = Fatto: { $email } è ora l'indirizzo email del tuo account. Abbiamo avvisato il vecchio indirizzo.
email-confirmed-continue = Vai al tuo account

email-undo-title = Annulla il cambio di indirizzo email
email-undo-intro = Ciao { $name }, l'indirizzo email dell'account { $user_code } è stato cambiato. Se il cambio non l'hai fatto tu, annullalo: rimetteremo l'indirizzo precedente e chiuderemo l'accesso su tutti i dispositivi.
email-undo-restore = Indirizzo che verrà ripristinato: { $email }
email-undo-restore-none = L'account tornerà senza indirizzo email, come prima del cambio.
email-undo-submit = Annulla il cambio
email-undone-title = Cambio annullato
email-undone = Abbiamo rimesso l'indirizzo email precedente e chiuso l'accesso su tutti i dispositivi.
email-undone-password = Se il cambio non l'hai fatto tu, qualcuno conosce la tua password: scegline subito una nuova.
email-undone-reset = Scegli una nuova password

email-link-invalid-title = Collegamento non valido
email-link-invalid = Questo collegamento non è valido, è scaduto oppure è già stato usato. Per sicurezza ogni collegamento funziona una sola volta e per un tempo limitato.
email-link-invalid-again = Chiedi un nuovo collegamento
email-link-invalid-undo = Se qualcuno ha cambiato il tuo indirizzo email senza il tuo permesso, contatta l'assistenza o la segreteria della tua scuola.
email-link-invalid-help = Contatta l'assistenza

sessions-title = Dispositivi collegati
sessions-intro = Queste sono le sessioni aperte con il tuo account. Se non riconosci un dispositivo, chiudi la sua sessione e cambia la password.
sessions-device = Dispositivo
sessions-device-unknown = Dispositivo sconosciuto
sessions-ip = Indirizzo IP
sessions-ip-unknown = sconosciuto
sessions-started = Accesso
sessions-last-seen = Ultima attività
sessions-current = Questo dispositivo
sessions-end = Chiudi questa sessione
sessions-end-others = Chiudi tutte le altre sessioni
sessions-none-others = Non ci sono altre sessioni aperte.
sessions-ended = La sessione è stata chiusa.
sessions-ended-others = { $count ->
    [0] Non c'erano altre sessioni da chiudere.
    [one] È stata chiusa 1 sessione.
   *[other] Sono state chiuse { $count } sessioni.
}
sessions-back = Torna al tuo account

email-change-blank = Scrivi il nuovo indirizzo email.
