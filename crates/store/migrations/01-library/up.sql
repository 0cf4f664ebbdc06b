-- The offline library: courses, lessons and their materials, homework, annotation documents
-- and the outbox. Files live beside the database, named by the SHA-256 of their content; a row
-- in `blobs` means that file is complete and matched its hash when it was written.

CREATE TABLE courses (
    id TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    teacher TEXT NOT NULL DEFAULT '',
    -- Where the course came from (the class server's address).
    origin TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE lessons (
    id TEXT PRIMARY KEY NOT NULL,
    course_id TEXT NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL DEFAULT 0,
    updated_ms INTEGER NOT NULL,
    -- Pinned lessons are never evicted to make room.
    pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    -- When the student last opened it: eviction takes the least recently used first.
    last_used_ms INTEGER NOT NULL DEFAULT 0,
    -- Its materials, and those on this computer, counted and summed by the triggers below
    -- (so listing 10,000 lessons reads one table).
    materials INTEGER NOT NULL DEFAULT 0,
    materials_offline INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    bytes_offline INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX lessons_by_course ON lessons(course_id, position, id);
CREATE INDEX lessons_by_use ON lessons(pinned, last_used_ms);

CREATE TABLE blobs (
    hash TEXT PRIMARY KEY NOT NULL CHECK (length(hash) = 64),
    size INTEGER NOT NULL CHECK (size >= 0),
    added_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE materials (
    id TEXT PRIMARY KEY NOT NULL,
    lesson_id TEXT NOT NULL REFERENCES lessons(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('pdf', 'slides', 'image', 'video', 'other')),
    title TEXT NOT NULL,
    -- The content it must have (the server's strong ETag); present when `blobs` has it.
    hash TEXT NOT NULL CHECK (length(hash) = 64),
    size INTEGER NOT NULL CHECK (size >= 0),
    mime TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX materials_by_lesson ON materials(lesson_id, position);
CREATE INDEX materials_by_hash ON materials(hash);

-- Each lesson's counts follow its materials and the files present.
CREATE TRIGGER materials_counted_insert AFTER INSERT ON materials BEGIN
    UPDATE lessons SET
        materials = (SELECT count(*) FROM materials m WHERE m.lesson_id = lessons.id),
        bytes = (SELECT coalesce(sum(m.size), 0) FROM materials m WHERE m.lesson_id = lessons.id),
        materials_offline = (SELECT count(*) FROM materials m JOIN blobs b ON b.hash = m.hash
                             WHERE m.lesson_id = lessons.id),
        bytes_offline = (SELECT coalesce(sum(m.size), 0) FROM materials m
                         JOIN blobs b ON b.hash = m.hash WHERE m.lesson_id = lessons.id)
    WHERE id = new.lesson_id;
END;
CREATE TRIGGER materials_counted_delete AFTER DELETE ON materials BEGIN
    UPDATE lessons SET
        materials = (SELECT count(*) FROM materials m WHERE m.lesson_id = lessons.id),
        bytes = (SELECT coalesce(sum(m.size), 0) FROM materials m WHERE m.lesson_id = lessons.id),
        materials_offline = (SELECT count(*) FROM materials m JOIN blobs b ON b.hash = m.hash
                             WHERE m.lesson_id = lessons.id),
        bytes_offline = (SELECT coalesce(sum(m.size), 0) FROM materials m
                         JOIN blobs b ON b.hash = m.hash WHERE m.lesson_id = lessons.id)
    WHERE id = old.lesson_id;
END;
CREATE TRIGGER materials_counted_update AFTER UPDATE ON materials BEGIN
    UPDATE lessons SET
        materials = (SELECT count(*) FROM materials m WHERE m.lesson_id = lessons.id),
        bytes = (SELECT coalesce(sum(m.size), 0) FROM materials m WHERE m.lesson_id = lessons.id),
        materials_offline = (SELECT count(*) FROM materials m JOIN blobs b ON b.hash = m.hash
                             WHERE m.lesson_id = lessons.id),
        bytes_offline = (SELECT coalesce(sum(m.size), 0) FROM materials m
                         JOIN blobs b ON b.hash = m.hash WHERE m.lesson_id = lessons.id)
    WHERE id IN (old.lesson_id, new.lesson_id);
END;
CREATE TRIGGER blobs_counted_insert AFTER INSERT ON blobs BEGIN
    UPDATE lessons SET
        materials = (SELECT count(*) FROM materials m WHERE m.lesson_id = lessons.id),
        bytes = (SELECT coalesce(sum(m.size), 0) FROM materials m WHERE m.lesson_id = lessons.id),
        materials_offline = (SELECT count(*) FROM materials m JOIN blobs b ON b.hash = m.hash
                             WHERE m.lesson_id = lessons.id),
        bytes_offline = (SELECT coalesce(sum(m.size), 0) FROM materials m
                         JOIN blobs b ON b.hash = m.hash WHERE m.lesson_id = lessons.id)
    WHERE id IN (SELECT lesson_id FROM materials WHERE hash = new.hash);
END;
CREATE TRIGGER blobs_counted_delete AFTER DELETE ON blobs BEGIN
    UPDATE lessons SET
        materials = (SELECT count(*) FROM materials m WHERE m.lesson_id = lessons.id),
        bytes = (SELECT coalesce(sum(m.size), 0) FROM materials m WHERE m.lesson_id = lessons.id),
        materials_offline = (SELECT count(*) FROM materials m JOIN blobs b ON b.hash = m.hash
                             WHERE m.lesson_id = lessons.id),
        bytes_offline = (SELECT coalesce(sum(m.size), 0) FROM materials m
                         JOIN blobs b ON b.hash = m.hash WHERE m.lesson_id = lessons.id)
    WHERE id IN (SELECT lesson_id FROM materials WHERE hash = old.hash);
END;

CREATE TABLE assignments (
    id TEXT PRIMARY KEY NOT NULL,
    course_id TEXT NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
    lesson_id TEXT REFERENCES lessons(id) ON DELETE SET NULL,
    title TEXT NOT NULL,
    instructions TEXT NOT NULL DEFAULT '',
    due_ms INTEGER
) STRICT;

-- This student's own hand-ins only: other students' homework is never stored here.
CREATE TABLE submissions (
    id TEXT PRIMARY KEY NOT NULL,
    assignment_id TEXT NOT NULL REFERENCES assignments(id) ON DELETE CASCADE,
    hash TEXT NOT NULL CHECK (length(hash) = 64),
    file_name TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size >= 0),
    submitted_ms INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'returned')),
    mark TEXT,
    feedback TEXT,
    -- The teacher's marked-up copy, once returned.
    returned_hash TEXT CHECK (returned_hash IS NULL OR length(returned_hash) = 64)
) STRICT;
CREATE INDEX submissions_by_assignment ON submissions(assignment_id);

CREATE TABLE annotations (
    id TEXT PRIMARY KEY NOT NULL,
    -- What it marks up: a submission, or a lesson's material (the student's own notes).
    submission_id TEXT REFERENCES submissions(id) ON DELETE CASCADE,
    material_id TEXT REFERENCES materials(id) ON DELETE CASCADE,
    document BLOB NOT NULL,
    updated_ms INTEGER NOT NULL,
    CHECK ((submission_id IS NULL) <> (material_id IS NULL))
) STRICT;

-- What was done offline, sent once the network is back. The key is the idempotency key the
-- server honours, so a resend after a crash is applied once.
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL CHECK (json_valid(payload)),
    created_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error TEXT
) STRICT;
CREATE INDEX outbox_by_due ON outbox(next_attempt_ms);

CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

-- Lesson titles and notes, searchable in any script. The store writes them here as indexed
-- text (Chinese, Japanese and Korean as overlapping character pairs, see src/search.rs), under
-- the lesson's rowid; removing a lesson removes its entry.
CREATE VIRTUAL TABLE lesson_search USING fts5(
    title, notes,
    tokenize = 'unicode61 remove_diacritics 2'
);
-- A removed entry's words leave the index at once (not at the next merge).
INSERT INTO lesson_search(lesson_search, rank) VALUES ('secure-delete', 1);
-- Ranked by BM25 with a title match worth four in the notes.
INSERT INTO lesson_search(lesson_search, rank) VALUES ('rank', 'bm25(4.0, 1.0)');
CREATE TRIGGER lessons_search_delete AFTER DELETE ON lessons BEGIN
    DELETE FROM lesson_search WHERE rowid = old.rowid;
END;
