-- See 0017_reserved.up.sql: nothing to undo.
SELECT 1;
