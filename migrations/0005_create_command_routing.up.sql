-- Charger commands across nodes (package cluster). Charge stations are referred to by
-- their OCPP identity, without a foreign key: these rows follow connections and calls,
-- not the registry's lifecycle.

-- Which evroam node holds each connected station's WebSocket. A node writes its row when a
-- station connects (the newest connection overwrites any older row, also one left by a
-- node that died) and deletes it, if it is still its own, when the station disconnects.
CREATE TABLE station_sessions (
    charge_station_id text PRIMARY KEY,
    node_id           text NOT NULL,
    session_id        uuid NOT NULL,
    protocol_version  text NOT NULL,
    connected_at      timestamptz NOT NULL
);
CREATE INDEX station_sessions_node_idx ON station_sessions (node_id);

-- Commands forwarded to the node holding the station, and their answers. NOTIFY carries
-- only a row's id (payloads may exceed NOTIFY's 8000 bytes). The caller deletes its row
-- once answered or timed out; rows left behind by a node that died are swept. Unlogged:
-- after a crash of the database no caller is waiting for them anyway.
CREATE UNLOGGED TABLE command_calls (
    id                uuid PRIMARY KEY,
    charge_station_id text NOT NULL,
    caller_node       text NOT NULL,
    target_node       text NOT NULL,
    action            text NOT NULL,
    payload           json NOT NULL,
    timeout_ms        integer NOT NULL CHECK (timeout_ms > 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    picked_at         timestamptz,
    answered_at       timestamptz,
    result            json,
    error_kind        text,
    error_code        text,
    error_message     text,
    error_details     json
);
CREATE INDEX command_calls_pending_idx ON command_calls (target_node) WHERE picked_at IS NULL;
CREATE INDEX command_calls_created_idx ON command_calls (created_at);
