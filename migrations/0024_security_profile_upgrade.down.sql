ALTER TABLE charge_stations
    DROP COLUMN security_profile_pending,
    DROP COLUMN security_profile_error;
