# Conferma di un atto con PIN o codice personale, chiesta da un'applicazione della scuola.
confirm-title = Conferma con il tuo codice
confirm-intro = L'applicazione «{ $client }» ti chiede di confermare quanto segue. Controlla bene: confermi esattamente questo e nient'altro.
confirm-what = Che cosa confermi
confirm-details = Tutti i dati che l'applicazione riceverà come confermati
confirm-secret-pin = PIN
confirm-secret-personal_code = Codice personale
confirm-secret-help-pin = Il PIN di 6 o più cifre che hai ricevuto per email. Non è la password.
confirm-secret-help-personal_code = Il codice personale che hai ricevuto per email. Non è la password.
confirm-submit = Conferma
confirm-cancel = Annulla e torna all'applicazione
confirm-error-wrong-pin = PIN errato. { $remaining ->
    [one] Ti resta un tentativo, poi il PIN verrà bloccato.
   *[other] Ti restano { $remaining } tentativi, poi il PIN verrà bloccato.
}
confirm-error-wrong-personal_code = Codice personale errato. { $remaining ->
    [one] Ti resta un tentativo, poi il codice verrà bloccato.
   *[other] Ti restano { $remaining } tentativi, poi il codice verrà bloccato.
}
confirm-error-malformed-pin = Il PIN è fatto solo di cifre: controlla di averlo scritto per intero.
confirm-error-malformed-personal_code = Il codice personale non è scritto correttamente: controlla lettere e cifre.
confirm-error-locked-pin = Il PIN è bloccato dopo troppi tentativi errati. Generane uno nuovo dalla pagina del tuo account, poi torna all'applicazione.
confirm-error-locked-personal_code = Il codice personale è bloccato dopo troppi tentativi errati. Generane uno nuovo dalla pagina del tuo account, poi torna all'applicazione.
confirm-error-not-issued-pin = Non hai ancora un PIN. Generalo dalla pagina del tuo account: ti arriverà per email.
confirm-error-not-issued-personal_code = Non hai ancora un codice personale. Generalo dalla pagina del tuo account: ti arriverà per email.
confirm-error-guardian-pin = Questa richiesta riguarda uno studente di cui non risulti più tutore: non può essere confermata. Se è un errore, contatta la segreteria.
confirm-error-guardian-personal_code = Questa richiesta riguarda uno studente che non è collegato al tuo account: non può essere confermata.
confirm-go-account = Vai al tuo account
confirm-state-expired = La richiesta è scaduta. Torna all'applicazione e ripeti l'operazione.
confirm-state-confirmed = Hai già confermato questa richiesta.
confirm-state-cancelled = Hai annullato questa richiesta.
confirm-state-redeemed = Hai già confermato questa richiesta.

step-up-title-pin = Conferma con il PIN
step-up-title-personal_code = Conferma con il codice personale
step-up-intro-pin = L'applicazione «{ $client }» chiede una conferma in più: inserisci il tuo PIN per continuare.
step-up-intro-personal_code = L'applicazione «{ $client }» chiede una conferma in più: inserisci il tuo codice personale per continuare.

account-second-secret-pin = PIN
account-second-secret-personal_code = Codice personale
account-second-secret-open = Cambia password e/o PIN
second-secret-title-pin = Il tuo PIN
second-secret-title-personal_code = Il tuo codice personale
second-secret-intro-pin = Il PIN conferma le operazioni che lo chiedono, come la giustificazione delle assenze. Non è la password.
second-secret-intro-personal_code = Il codice personale conferma le operazioni che lo chiedono, come l'invio di una domanda. Non è la password.
second-secret-none-pin = Non hai ancora un PIN: generalo qui sotto, ti arriverà per email.
second-secret-none-personal_code = Non hai ancora un codice personale: generalo qui sotto, ti arriverà per email.
second-secret-locked-pin = Il PIN è bloccato dopo troppi tentativi errati: generane uno nuovo.
second-secret-locked-personal_code = Il codice personale è bloccato dopo troppi tentativi errati: generane uno nuovo.
second-secret-set = Attivo dal { $time } (ora italiana).
second-secret-regenerate-pin = Rigenera PIN utente
second-secret-regenerate-personal_code = Rigenera codice personale
second-secret-regenerate-intro = Il nuovo codice sarà inviato a { $email }; quello attuale smetterà subito di funzionare.
second-secret-regenerate-submit-pin = Rigenera e invia il PIN
second-secret-regenerate-submit-personal_code = Rigenera e invia il codice
second-secret-password = Password attuale
second-secret-wrong-password = La password non è corretta.
second-secret-no-email = Il tuo account non ha un indirizzo email a cui inviare il codice: chiedi alla segreteria di registrarlo.
second-secret-needs-fresh-sign-in = Per sicurezza, senza password serve un accesso con SPID o CIE degli ultimi 5 minuti.
second-secret-sign-in-again = Accedi di nuovo con SPID o CIE
second-secret-sent-pin = Ti abbiamo inviato il nuovo PIN all'indirizzo { $email }. Il PIN precedente non vale più.
second-secret-sent-personal_code = Ti abbiamo inviato il nuovo codice personale all'indirizzo { $email }. Il codice precedente non vale più.
second-secret-changed-pin = Il PIN è stato cambiato.
second-secret-changed-personal_code = Il codice personale è stato cambiato.
second-secret-change-pin = Cambia il PIN
second-secret-change-personal_code = Cambia il codice personale
second-secret-change-rules-pin = Scegli { $length } cifre che non siano tutte uguali, in sequenza o la tua data di nascita.
second-secret-change-rules-personal_code = Scegli { $length } caratteri tra lettere e cifre (senza 0, O, 1, I, L, 5, S, 2, Z, 8, B), non tutti uguali né in sequenza.
second-secret-current-pin = PIN attuale
second-secret-current-personal_code = Codice personale attuale
second-secret-new-pin = Nuovo PIN
second-secret-new-personal_code = Nuovo codice personale
second-secret-new-again-pin = Ripeti il nuovo PIN
second-secret-new-again-personal_code = Ripeti il nuovo codice personale
second-secret-change-submit = Cambia
second-secret-mismatch = I due nuovi codici non coincidono.
second-secret-rule-length = Il codice deve avere { $length } caratteri.
second-secret-rule-digits_only = Il PIN può contenere solo cifre.
second-secret-rule-alphabet = Il codice personale può contenere solo le lettere e le cifre indicate.
second-secret-rule-repeated = Il codice non può ripetere sempre lo stesso carattere o la stessa coppia.
second-secret-rule-sequence = Il codice non può essere una sequenza (come 123456).
second-secret-rule-birth_date = Il codice non può essere la tua data di nascita.
