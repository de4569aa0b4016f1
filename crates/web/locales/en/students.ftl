# Students and their guardians: /account, the desk, the consent page.

students-children = Your children
students-children-intro = The students you are a parent or guardian of, as the school office has them. If someone is missing or something is wrong, contact the school office.
students-class = class { $class }
students-building = building { $building }
students-order-preschool = preschool
students-order-primary = primary school
students-order-lower_secondary = lower secondary school
students-order-upper_secondary = upper secondary school

students-desk-children = Students this account is a parent or guardian of
students-desk-children-none = No student is linked to this account.
students-desk-unlink = Unlink from { $name }
students-desk-results = { $count ->
    [one] 1 student
   *[other] { $count } students
}
students-class-label = Class
students-guardians = Parents and guardians
students-guardians-none = No parent or guardian linked
desk-done-student-unlinked = Link removed: the account is no longer a parent or guardian of this student.

oidc-scope-students = your children: name, school, school order, class and building, under an identifier that differs for each application (never the tax code)
