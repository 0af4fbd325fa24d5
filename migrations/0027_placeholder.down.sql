-- Placeholder: migration 0027 is another branch's (issue 14 part A and others). Replace this
-- pair with the migration merged under this number.
SELECT 1;
