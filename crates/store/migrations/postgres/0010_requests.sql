-- Email-change requests filed without signing in (a parent whose registered
-- address is dead writes to the school with an identity document). The
-- document itself is a file under the data directory, encrypted; the row
-- keeps its random name until retention deletes it.

CREATE TABLE email_change_requests (
    id BIGSERIAL PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    status_token_hash TEXT NOT NULL UNIQUE,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    student_first_name TEXT NOT NULL,
    student_last_name TEXT NOT NULL,
    school_order TEXT NOT NULL,
    class_name TEXT NOT NULL,
    building TEXT NOT NULL,
    requester_first_name TEXT NOT NULL,
    requester_last_name TEXT NOT NULL,
    requester_tax_code TEXT NOT NULL,
    new_email TEXT NOT NULL,
    phone TEXT NOT NULL,
    lang TEXT NOT NULL,
    document_file TEXT,
    document_type TEXT NOT NULL,
    document_size BIGINT NOT NULL,
    document_deleted_at BIGINT,
    status TEXT NOT NULL CHECK (status IN ('received', 'approved', 'rejected')),
    reason TEXT,
    decided_at BIGINT,
    decided_by BIGINT REFERENCES accounts (id) ON DELETE SET NULL,
    account_id BIGINT REFERENCES accounts (id) ON DELETE SET NULL,
    email_change_id BIGINT REFERENCES email_changes (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX email_change_requests_queue ON email_change_requests (school_id, status, id);
CREATE INDEX email_change_requests_decided ON email_change_requests (decided_at);
CREATE INDEX email_change_requests_change ON email_change_requests (email_change_id);
