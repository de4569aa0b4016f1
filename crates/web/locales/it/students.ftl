# Students and their guardians: /account, the desk, the consent page.

students-children = I tuoi figli
students-children-intro = Gli studenti di cui sei genitore o tutore, come risultano alla segreteria della scuola. Se manca qualcuno o qualcosa non è giusto, rivolgiti alla segreteria.
students-class = classe { $class }
students-building = plesso { $building }
students-order-preschool = scuola dell'infanzia
students-order-primary = scuola primaria
students-order-lower_secondary = scuola secondaria di I grado
students-order-upper_secondary = scuola secondaria di II grado

students-desk-children = Studenti di cui è genitore o tutore
students-desk-children-none = Nessuno studente è collegato a questo account.
students-desk-unlink = Scollega da { $name }
students-desk-results = { $count ->
    [one] 1 studente
   *[other] { $count } studenti
}
students-class-label = Classe
students-guardians = Genitori e tutori
students-guardians-none = Nessun genitore o tutore collegato
desk-done-student-unlinked = Collegamento rimosso: l'account non è più genitore o tutore di questo studente.

oidc-scope-students = i tuoi figli: nome e cognome, scuola, ordine di scuola, classe e plesso, con un identificativo diverso per ogni applicazione (mai il codice fiscale)
