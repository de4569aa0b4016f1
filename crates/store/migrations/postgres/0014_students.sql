-- Students of a school and the family accounts that are their guardians.
-- `public_id` is random and never changes: the `students` claim gives each
-- client a keyed hash of it, never the tax code or the row id.

CREATE TABLE students (
    id BIGSERIAL PRIMARY KEY,
    public_id TEXT NOT NULL UNIQUE,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    tax_code TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    school_order TEXT NOT NULL
        CHECK (school_order IN ('preschool', 'primary', 'lower_secondary', 'upper_secondary')),
    class_name TEXT NOT NULL,
    building TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (school_id, tax_code)
);

CREATE TABLE student_guardians (
    student_id BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (student_id, account_id)
);
CREATE INDEX student_guardians_account ON student_guardians (account_id);
