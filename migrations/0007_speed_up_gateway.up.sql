-- The OCPP gateway at a CPO's size (thousands of stations connecting at once).

-- A station password's keyed verifier (package secret): with EVROAM_SECRET_KEY, a password
-- check compares verifiers instead of paying bcrypt. NULL: set before a key existed, or made
-- with another key; bcrypt decides then, and the verifier is renewed.
ALTER TABLE charge_stations ADD COLUMN ocpp_password_verifier bytea;
