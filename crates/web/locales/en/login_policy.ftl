# Login policy: which ways in each kind of account may use (password, SPID/CIE).
policy-ends-staff = School staff: from { $date } you sign in only with SPID or CIE.
policy-ends-family = Families: from { $date } you sign in only with SPID or CIE.
policy-ended-staff = School staff: you sign in only with SPID or CIE; passwords are no longer used.
policy-ended-family = Families: you sign in only with SPID or CIE; passwords are no longer used.
policy-roles-keep = School office operators and administrators keep signing in with their password.
policy-schools-differ = Some schools chose other dates: once signed in, your account page shows the one that applies to you.
policy-login-refused = This account no longer uses a password: sign in with SPID or CIE.
policy-account-ends = From { $date } you sign in only with SPID or CIE: from that day the password of this account will stop working.
policy-account-spid-cie-only = This account signs in only with SPID or CIE: the password is no longer used.
spid-cie-only-title = Sign in with SPID or CIE
spid-cie-only = This account no longer uses a password, so no new one can be chosen: sign in with SPID or CIE.
spid-cie-only-login = Go to the sign-in page
