-- Files kept in PostgreSQL (package files), so that every evroam node serves them with
-- nothing else to run: firmware images that operators upload, and log files that
-- stations upload. A file's bytes are rows of file_chunks of chunk_size bytes each (the last
-- one shorter), written and read one chunk at a time so that memory stays flat whatever the
-- size; a byte offset maps onto a chunk by division, which is what HTTP Range needs. A log
-- file belongs to the station that uploaded it (and goes with it).
CREATE TABLE files (
    id                uuid PRIMARY KEY,
    network_id        uuid NOT NULL REFERENCES networks (id),
    charge_station_id text REFERENCES charge_stations (id) ON DELETE CASCADE,
    kind              text NOT NULL CHECK (kind IN ('firmware', 'log')),
    name              text NOT NULL,
    content_type      text NOT NULL,
    size              bigint NOT NULL CHECK (size >= 0),
    chunk_size        integer NOT NULL CHECK (chunk_size > 0),
    sha256            bytea NOT NULL,
    created           timestamptz NOT NULL
);
CREATE INDEX files_station_idx ON files (charge_station_id, created, id) WHERE charge_station_id IS NOT NULL;

CREATE TABLE file_chunks (
    file_id uuid NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    seq     integer NOT NULL CHECK (seq >= 0),
    data    bytea NOT NULL,
    PRIMARY KEY (file_id, seq)
);
-- Firmware images are compressed already: skip PostgreSQL's attempt to compress each chunk.
ALTER TABLE file_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- Firmware images (package firmware): what an image is for, and the 2.0.1 signed-firmware
-- fields a station needs to check it.
CREATE TABLE firmware (
    id                  uuid PRIMARY KEY,
    network_id          uuid NOT NULL REFERENCES networks (id),
    file_id             uuid NOT NULL REFERENCES files (id),
    vendor              text NOT NULL,
    model               text NOT NULL,
    version             text NOT NULL,
    signing_certificate text,
    signature           text,
    created             timestamptz NOT NULL,
    last_updated        timestamptz NOT NULL
);
CREATE INDEX firmware_sync_idx ON firmware (network_id, last_updated, id);

-- What stations report of a firmware update (FirmwareStatusNotification, 1.6 and 2.0.1):
-- the latest status on the station (read-only firmware_update_status) and every report in
-- its firmware history.
-- DiagnosticsStatusNotification (1.6) and LogStatusNotification (2.0.1) likewise set
-- diagnostics_status.
ALTER TABLE charge_stations ADD COLUMN firmware_update_status text, ADD COLUMN diagnostics_status text;
CREATE TABLE firmware_status_log (
    id                bigserial PRIMARY KEY,
    charge_station_id text NOT NULL REFERENCES charge_stations (id) ON DELETE CASCADE,
    status            text NOT NULL,
    request_id        integer,
    created           timestamptz NOT NULL
);
CREATE INDEX firmware_status_log_station_idx ON firmware_status_log (charge_station_id, id);
