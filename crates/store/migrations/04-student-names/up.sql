-- The name a hand-in's student had in the class when it arrived (the roster's, or the one
-- they joined with), so a teacher sees names, not token identities, after the class ended.
ALTER TABLE received_submissions ADD COLUMN student_name TEXT;
