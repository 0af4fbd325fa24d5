
-- A network is a CPO or one of its sub-clients; each is an OCPI party. Exactly one root.
CREATE TABLE networks (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    country_code text NOT NULL,
    party_id     text NOT NULL,
    parent_id    uuid REFERENCES networks (id),
    created      timestamptz NOT NULL,
    last_updated timestamptz NOT NULL,
    CONSTRAINT networks_party_key UNIQUE (country_code, party_id)
);
CREATE UNIQUE INDEX networks_single_root ON networks ((parent_id IS NULL)) WHERE parent_id IS NULL;
CREATE INDEX networks_parent_idx ON networks (parent_id);

-- API keys are stored as SHA-256 hashes. prefix (the key's first characters) finds the
-- candidate rows; the hash is then compared in constant time.
CREATE TABLE api_keys (
    id         uuid PRIMARY KEY,
    network_id uuid NOT NULL REFERENCES networks (id),
    name       text NOT NULL DEFAULT '',
    prefix     text NOT NULL,
    hash       bytea NOT NULL,
    admin      boolean NOT NULL DEFAULT false,
    created    timestamptz NOT NULL,
    CONSTRAINT api_keys_hash_key UNIQUE (hash)
);
CREATE INDEX api_keys_prefix_idx ON api_keys (prefix);

CREATE TABLE locations (
    id                   text PRIMARY KEY,
    network_id           uuid NOT NULL REFERENCES networks (id),
    name                 text NOT NULL,
    address              text NOT NULL,
    city                 text NOT NULL,
    postal_code          text,
    state                text,
    country              text NOT NULL,
    latitude             text NOT NULL,
    longitude            text NOT NULL,
    time_zone            text NOT NULL,
    parking_type         text,
    facilities           text[] NOT NULL DEFAULT '{}',
    opening_times        jsonb,
    directions           jsonb,
    operator             jsonb,
    suboperator          jsonb,
    owner                jsonb,
    charging_when_closed boolean,
    publish              boolean NOT NULL DEFAULT true,
    etag                 uuid NOT NULL,
    created              timestamptz NOT NULL,
    last_updated         timestamptz NOT NULL
);
CREATE INDEX locations_sync_idx ON locations (network_id, last_updated, id);

-- Hardware templates keep their EVSE/connector tree as one JSON document: it is always read
-- and written whole, and stations copy it rather than reference it.
CREATE TABLE templates (
    template_id    text PRIMARY KEY,
    network_id     uuid NOT NULL REFERENCES networks (id),
    name           text NOT NULL,
    evse_templates jsonb NOT NULL,
    etag           uuid NOT NULL,
    created        timestamptz NOT NULL,
    last_updated   timestamptz NOT NULL
);
CREATE INDEX templates_sync_idx ON templates (network_id, last_updated, template_id);

