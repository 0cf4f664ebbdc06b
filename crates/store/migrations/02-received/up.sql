-- Homework handed in to a class server (the server's side of the students' outboxes): one
-- row per idempotency key, so a hand-in sent again after a lost answer is recorded once.
CREATE TABLE received_submissions (
    key TEXT PRIMARY KEY NOT NULL CHECK (length(key) BETWEEN 1 AND 64),
    course_id TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    -- Who handed it in (the token's identity).
    student TEXT NOT NULL,
    file_name TEXT NOT NULL,
    hash TEXT NOT NULL CHECK (length(hash) = 64),
    size INTEGER NOT NULL CHECK (size >= 0),
    received_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX received_by_assignment ON received_submissions(course_id, assignment_id);
