-- Password rotation (POST /api/v1/chargers/{id}/password): while a new password travels to a
-- station, and until the station has logged in with it, the station may log in with either.
-- ocpp_password_other_* is that second password (bcrypt hash and keyed verifier, as for the
-- current one). ocpp_password_other_is_old says which it is:
--   false: a new password offered to the station, not yet confirmed; a login with it makes it
--          the current one (the station evidently took it, even if its answer was lost);
--   true:  the previous password, after the station accepted the new one; a login with the
--          new (current) one forgets it.
-- A password set through the API replaces both.
ALTER TABLE charge_stations
    ADD COLUMN ocpp_password_other_hash text,
    ADD COLUMN ocpp_password_other_verifier bytea,
    ADD COLUMN ocpp_password_other_is_old boolean NOT NULL DEFAULT false;
