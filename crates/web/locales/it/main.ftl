# Varco — testi dell'interfaccia, italiano (lingua predefinita).
app-name = Varco
app-tagline = Accesso e credenziali della scuola
skip-to-content = Vai al contenuto
lang-switch-label = Lingua
lang-it = Italiano
lang-en = English
nav-login = Accedi
nav-account = Il mio account
nav-help = Assistenza
nav-logout = Esci
footer-text = Varco non invia mai una password per email e non chiede mai la tua password per telefono.

login-title = Accedi a Varco
login-intro = Entra con il codice utente, il nome utente o l'indirizzo email comunicato alla segreteria, e la tua password.
login-field-login = Codice utente, nome utente o email
login-field-password = Password
login-submit = Accedi
login-error = Codice utente (o email) o password non corretti. Controlla e riprova: dopo alcuni tentativi sbagliati l'accesso viene rallentato per proteggere l'account.
login-throttled = Troppi tentativi da questa connessione. Riprova tra { $seconds } secondi.
login-too-long = I dati inseriti sono troppo lunghi.
login-forgot = Password dimenticata?
login-help = Non riesci ad accedere? Vai all'assistenza.
login-logged-out = Hai chiuso la sessione.

account-title = Il tuo account
account-name = Nome e cognome
account-user-code = Codice utente
account-username = Nome utente
account-school = Scuola
account-email = Email
account-email-verified = verificata
account-email-unverified = non verificata
account-email-none = nessuna
account-kind = Tipo di account
account-kind-staff = Personale scolastico
account-kind-family = Famiglia
account-roles = Ruoli
account-roles-none = nessuno
role-desk = Segreteria ({ $school })
role-admin = Amministrazione
account-logout = Esci da Varco

help-title = Assistenza
help-intro = Se non riesci ad accedere o non ricevi i messaggi di Varco, contatta l'assistenza. Nessun operatore ti chiederà mai la password.
help-national = Assistenza nazionale
help-school = Assistenza della tua scuola
help-email = Email
help-phone = Telefono
help-hours = Orari
help-none = Nessun contatto configurato.
help-school-lookup = Cerca i contatti di una scuola
help-school-code = Codice meccanografico
help-school-search = Cerca
help-school-not-found = Nessuna scuola con questo codice.
help-desk-visit = In alternativa puoi rivolgerti di persona alla segreteria della scuola con un documento d'identità valido e il codice fiscale.

logout-title = Esci
logout-intro = Vuoi uscire da Varco su questo dispositivo?
logout-submit = Esci

setup-title = Prima configurazione
setup-intro = Crea la prima scuola e il primo amministratore. Questo collegamento vale una sola volta e scade dopo un'ora.
setup-school = Scuola
setup-school-code = Codice meccanografico
setup-school-name = Nome della scuola
setup-school-email = Email istituzionale
setup-admin = Amministratore
setup-first-name = Nome
setup-last-name = Cognome
setup-tax-code = Codice fiscale
setup-email = Email
setup-username = Nome utente (facoltativo)
setup-password = Password (almeno { $min } caratteri)
setup-password-confirm = Ripeti la password
setup-submit = Crea
setup-done-title = Configurazione completata
setup-done-intro = L'amministratore è stato creato. Il suo codice utente è:
setup-done-login = Vai all'accesso
setup-invalid = Questo collegamento di configurazione non è valido, è scaduto o è già stato usato. Riavvia il server per riceverne uno nuovo se non esiste ancora un amministratore.
setup-password-mismatch = Le due password non coincidono.

policy-too_short = La password è troppo corta: servono almeno { $min } caratteri.
policy-too_long = La password è troppo lunga: al massimo { $max } caratteri.
policy-personal_data = La password contiene dati personali (nome, codice fiscale, email, nome utente o nome della scuola).
policy-common = La password è tra quelle più comuni.
policy-reused = La password è già stata usata di recente.
policy-weak = La password è troppo facile da indovinare.

error-title = Si è verificato un problema
error-not-found = La pagina richiesta non esiste.
error-forbidden = Non hai i permessi per questa operazione.
error-csrf = Il modulo è scaduto o non proviene da questo sito. Ricarica la pagina e riprova.
error-internal = Si è verificato un errore interno. Riprova più tardi.
error-unavailable = Il servizio non è al momento disponibile. Riprova tra qualche minuto.
error-invalid = Dati non validi: { $detail }
error-request-id = Codice della richiesta: { $id }
error-home = Torna alla pagina di accesso

account-password = Password
account-password-expires = La password scade tra { $days ->
    [one] 1 giorno
   *[other] { $days } giorni
}.
account-password-expired = La password è scaduta.
account-password-never = La password non ha scadenza.
account-password-change = Cambia password

password-change-title = Cambia la password
password-change-intro = Scegli una password lunga e facile da ricordare per te, per esempio alcune parole a caso: almeno { $min } caratteri. Puoi incollarla da un gestore di password.
password-change-expired = La tua password è scaduta. Per continuare scegline una nuova.
password-change-expiring = La tua password scade tra { $days ->
    [one] 1 giorno
   *[other] { $days } giorni
}.
password-change-current = Password attuale
password-change-new = Nuova password
password-change-confirm = Ripeti la nuova password
password-change-submit = Cambia password
password-change-mismatch = Le due nuove password non coincidono.
password-change-wrong-current = La password attuale non è corretta.
password-change-done-title = Password cambiata
password-change-done = La password è stata cambiata. Ti abbiamo inviato un'email di conferma; le altre sessioni aperte sono state chiuse.
password-change-continue = Vai al tuo account

feedback-straight_rows_of_keys_are_easy_to_guess = Le righe di tasti consecutivi sono facili da indovinare.
feedback-short_keyboard_patterns_are_easy_to_guess = Le brevi sequenze sulla tastiera sono facili da indovinare.
feedback-repeats_like_aaa_are_easy_to_guess = Le ripetizioni come "aaa" sono facili da indovinare.
feedback-repeats_like_abc_abc_are_only_slightly_harder_to_guess = Le ripetizioni come "abcabc" sono solo poco più difficili da indovinare.
feedback-this_is_a_top_10_password = È una delle 10 password più usate.
feedback-this_is_a_top_100_password = È una delle 100 password più usate.
feedback-this_is_a_common_password = È una password molto comune.
feedback-this_is_similar_to_a_commonly_used_password = Somiglia a una password molto usata.
feedback-sequences_like_abc_are_easy_to_guess = Le sequenze come "abc" o "6543" sono facili da indovinare.
feedback-recent_years_are_easy_to_guess = Gli anni recenti sono facili da indovinare.
feedback-a_word_by_itself_is_easy_to_guess = Una sola parola è facile da indovinare.
feedback-dates_are_often_easy_to_guess = Le date sono spesso facili da indovinare.
feedback-names_and_surnames_by_themselves_are_easy_to_guess = Nomi e cognomi da soli sono facili da indovinare.
feedback-common_names_and_surnames_are_easy_to_guess = I nomi e cognomi comuni sono facili da indovinare.
feedback-use_a_few_words_avoid_common_phrases = Usa alcune parole, evitando le frasi fatte.
feedback-no_need_for_symbols_digits_or_uppercase_letters = Non servono simboli, cifre o maiuscole.
feedback-add_another_word_or_two = Aggiungi ancora una o due parole poco comuni.
feedback-capitalization_doesnt_help_very_much = Le maiuscole non aiutano molto.
feedback-all_uppercase_is_almost_as_easy_to_guess_as_all_lowercase = Tutto maiuscolo è facile da indovinare quasi quanto tutto minuscolo.
feedback-reversed_words_arent_much_harder_to_guess = Le parole scritte al contrario non sono molto più difficili da indovinare.
feedback-predictable_substitutions_dont_help_very_much = Sostituzioni prevedibili come "@" al posto di "a" non aiutano molto.
feedback-use_a_longer_keyboard_pattern_with_more_turns = Usa una sequenza di tasti più lunga e con più cambi di direzione.
feedback-avoid_repeated_words_and_characters = Evita parole e caratteri ripetuti.
feedback-avoid_sequences = Evita le sequenze.
feedback-avoid_recent_years = Evita gli anni recenti.
feedback-avoid_years_that_are_associated_with_you = Evita gli anni legati a te.
feedback-avoid_dates_and_years_that_are_associated_with_you = Evita date e anni legati a te.

# setup — la prima configurazione (/setup): nomi dei campi e messaggi di errore
setup-field-school_code = Codice meccanografico
setup-field-school_name = Nome della scuola
setup-field-school_email = Email istituzionale
setup-field-first_name = Nome
setup-field-last_name = Cognome
setup-field-tax_code = Codice fiscale
setup-field-email = Email
setup-field-username = Nome utente
setup-field-password = Password
setup-field-password_confirm = Ripeti la password
setup-errors-title = Controlla questi campi:
setup-error-required = Il campo «{ $field }» è obbligatorio.
setup-error-school-code = Il codice meccanografico ha 10 caratteri: 4 lettere, poi 6 lettere o cifre (per esempio RMIC81200X).
setup-error-text = Il campo «{ $field }» può avere al massimo { $max } caratteri, senza a capo né caratteri di controllo.
setup-error-email = Il campo «{ $field }» non contiene un indirizzo email valido.
setup-error-name-too-long = Il campo «{ $field }» può avere al massimo 100 caratteri.
setup-error-name-invalid = Il campo «{ $field }» contiene caratteri non ammessi.
setup-error-tax-code-length = Il codice fiscale ha 16 caratteri; qui ne sono stati scritti { $found }.
setup-error-tax-code-character = Il codice fiscale contiene un carattere non ammesso in posizione { $position }.
setup-error-tax-code-month = Il 9° carattere del codice fiscale (la lettera del mese di nascita) non è valido.
setup-error-tax-code-day = Il 10° e l'11° carattere del codice fiscale (il giorno di nascita) non sono validi.
setup-error-tax-code-check = L'ultimo carattere del codice fiscale non corrisponde ai precedenti: controlla di averlo copiato bene.
setup-error-username-length = Il nome utente deve avere da 3 a 64 caratteri.
setup-error-username-character = Il nome utente può contenere solo lettere a-z, cifre, punto, trattino basso e trattino, e deve iniziare con una lettera o una cifra.
setup-error-username-user-code = Il nome utente non può avere la forma di un codice utente.
setup-error-field = Il campo «{ $field }» non è valido.
setup-error-conflict = Esiste già una scuola con questo codice meccanografico.
error-busy = Il servizio è molto occupato in questo momento. Riprova tra qualche secondo.
login-setup-pending = Varco non ha ancora un amministratore: la prima configurazione è in attesa. Il collegamento per completarla è stato scritto all'avvio nel registro del server (lo standard error di «varco serve»); vale un'ora: se è scaduto, riavvia il server per riceverne uno nuovo.
# Form errors, advice and the show-password button.
form-error-summary = Ci sono dei dati da correggere
form-advice = Consigli per una password più difficile da indovinare
password-show = Mostra la password
password-hide = Nascondi la password
login-blank-login = Scrivi il codice utente, il nome utente o l'email.
login-blank-password = Scrivi la password.
# The wait after several wrong attempts, shown even when the password is right.
error-login-wait = Troppi tentativi: riprova tra { $seconds ->
    [one] 1 secondo
   *[other] { $seconds } secondi
}, anche se la password è giusta.
password-change-expired-on = La tua password è scaduta il { $date }. Per continuare scegline una nuova.
password-change-required = La segreteria ha chiesto di cambiare la password di questo account. Per continuare scegline una nuova.

# Times are shown in the schools' zone and say so.
time-local = { $time } (ora italiana)

# Header and footer.
nav-label = Menu principale
app-brand-tagline = Accesso ai servizi della scuola
footer-links-label = Informazioni legali
footer-privacy = Privacy
footer-legal-notes = Note legali
footer-accessibility = Dichiarazione di accessibilità
help-school-code-hint = Il codice di 10 caratteri della scuola, per esempio RMIC81500N: lo trovi sul sito della scuola o nelle comunicazioni della segreteria.

# help search
help-name-lookup = Cerca la scuola per nome o comune
help-school-name = Nome della scuola o comune
help-school-name-hint = Anche solo una parte, per esempio «Manzoni», «Via Roma» o «Frascati»; maiuscole e minuscole sono uguali.
help-name-search = Cerca per nome o comune
help-name-results = { $count ->
    [0] Nessuna scuola trovata
    [one] 1 scuola trovata
   *[other] { $count } scuole trovate
}
help-name-code = codice
help-name-none = Nessuna scuola ha questo nome o è in questo comune. Prova con una parte più breve del nome, oppure chiedi il codice meccanografico alla segreteria.
help-name-more = Sono elencate solo le prime { $limit } scuole: scrivi una parte più lunga del nome o del comune per restringere la ricerca.
help-name-too-short = Scrivi almeno 2 caratteri del nome della scuola o del comune.
help-name-town = comune
