-- Placeholder: migration numbers 0017-0019 belong to other branches merged before this one.
-- Drop this file when those land (numbers must be contiguous for 0020 to apply).
SELECT 1;
