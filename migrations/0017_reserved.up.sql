-- Number 0017 belongs to a migration of a branch developed alongside this one (migrations are
-- numbered contiguously). This empty placeholder keeps the numbers contiguous until that
-- branch is merged; the merge replaces it with the real 0017.
SELECT 1;
