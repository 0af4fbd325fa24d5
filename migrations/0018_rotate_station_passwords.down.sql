ALTER TABLE charge_stations
    DROP COLUMN ocpp_password_other_hash,
    DROP COLUMN ocpp_password_other_verifier,
    DROP COLUMN ocpp_password_other_is_old;
