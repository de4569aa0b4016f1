# Login policy: which ways in each kind of account may use (password, SPID/CIE).
policy-ends-staff = Personale scolastico: dal { $date } si accede solo con SPID o CIE.
policy-ends-family = Famiglie: dal { $date } si accede solo con SPID o CIE.
policy-ended-staff = Personale scolastico: si accede solo con SPID o CIE, la password non si usa più.
policy-ended-family = Famiglie: si accede solo con SPID o CIE, la password non si usa più.
policy-roles-keep = Gli operatori di segreteria e gli amministratori continuano ad accedere con la password.
policy-schools-differ = Alcune scuole hanno scelto date diverse: dopo l'accesso, la pagina del tuo account indica quella che vale per te.
policy-login-refused = Per questo account la password non si usa più: accedi con SPID o CIE.
policy-account-ends = Dal { $date } si accede solo con SPID o CIE: da quel giorno la password di questo account non funzionerà più.
policy-account-spid-cie-only = Questo account accede solo con SPID o CIE: la password non si usa più.
spid-cie-only-title = Accedi con SPID o CIE
spid-cie-only = Per questo account la password non si usa più, quindi non se ne può scegliere una nuova: accedi con SPID o CIE.
spid-cie-only-login = Vai alla pagina di accesso
