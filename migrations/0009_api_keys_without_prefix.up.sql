-- An API key is found by its SHA-256 hash alone (unique, indexed). The clear-text prefix
-- kept the first characters of every key next to an unsalted hash of it; nothing of a key
-- is stored now. A keyed lookup by hash leaks nothing useful: the keys are random (32 bytes
-- for made keys, at least 32 characters for EVROAM_ADMIN_API_KEY), so a hash cannot be
-- turned back into its key, and matching one by timing would need its preimage.
DROP INDEX api_keys_prefix_idx;
ALTER TABLE api_keys DROP COLUMN prefix;
