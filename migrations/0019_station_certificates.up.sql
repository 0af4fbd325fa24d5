-- Certificates evroam signed for stations (SignCertificate → CertificateSigned), with the
-- station's answer, so that each station's certificate expiry is on record
-- (GET /api/v1/chargestations/{id}/certificates). Kept with the station's logs: deleting the
-- station deletes them.
CREATE TABLE station_certificates (
    id                bigserial PRIMARY KEY,
    charge_station_id text NOT NULL REFERENCES charge_stations (id) ON DELETE CASCADE,
    certificate_type  text NOT NULL,
    serial_number     text NOT NULL,
    subject           text NOT NULL,
    issuer            text NOT NULL,
    not_before        timestamptz NOT NULL,
    not_after         timestamptz NOT NULL,
    status            text NOT NULL,
    created           timestamptz NOT NULL
);
CREATE INDEX station_certificates_station_idx ON station_certificates (charge_station_id, id);
