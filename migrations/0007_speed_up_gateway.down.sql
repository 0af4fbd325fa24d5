ALTER TABLE charge_stations DROP COLUMN ocpp_password_verifier;
