-- A teacher's marking of a hand-in, on the class server: the marked copy (a file, like the
-- hand-in itself), the mark and the words, and when it was returned. A hand-in marked again
-- keeps only the latest marking.
ALTER TABLE received_submissions ADD COLUMN returned_hash TEXT
    CHECK (returned_hash IS NULL OR length(returned_hash) = 64);
ALTER TABLE received_submissions ADD COLUMN mark TEXT;
ALTER TABLE received_submissions ADD COLUMN feedback TEXT;
ALTER TABLE received_submissions ADD COLUMN returned_ms INTEGER;
