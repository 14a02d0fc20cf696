-- Scripts get a form agents fill during the call (one field a line; empty: none), and each
-- call attempt keeps the values typed into it (a JSON object by field name).
ALTER TABLE scripts ADD COLUMN form TEXT NOT NULL DEFAULT '';
ALTER TABLE call_attempts ADD COLUMN form TEXT NOT NULL DEFAULT '{}';
