-- Placeholder so that this branch's migration 0029 is contiguous; the lead drops it at merge.
SELECT 1;
