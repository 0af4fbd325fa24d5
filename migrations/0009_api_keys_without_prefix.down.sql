-- The prefixes cannot be recovered from the hashes; rows get an empty one, which the old
-- lookup never matches: keys must be made again after going down.
ALTER TABLE api_keys ADD COLUMN prefix text NOT NULL DEFAULT '';
CREATE INDEX api_keys_prefix_idx ON api_keys (prefix);
