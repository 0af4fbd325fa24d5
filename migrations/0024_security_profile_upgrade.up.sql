-- Raising a station's security profile remotely (POST /api/v1/chargers/{id}/security-profile):
-- security_profile_pending is the profile the station was told to move to; until it has
-- reconnected with it, it may log in with either. Its first login that meets the pending
-- profile makes it the station's security_profile. security_profile_error says why the last
-- upgrade failed (the station refused it); the old profile then keeps working.
ALTER TABLE charge_stations
    ADD COLUMN security_profile_pending smallint CHECK (security_profile_pending BETWEEN 1 AND 3),
    ADD COLUMN security_profile_error text;
