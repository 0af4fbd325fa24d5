-- Tariffs (issue 13 item 7): the OCPI 2.2.1 Tariff objects of a network, which connectors'
-- tariff_ids and stations' default_charge_station_tariff_id refer to. The id is unique across
-- the whole system (it is the tariff's URL, like a location's id); a tariff never changes
-- network. The OCPI class trees (elements, alt texts, prices, energy mix) are JSON documents:
-- always read and written whole. seq is the order in which tariffs were created, the stable
-- order of an OCPI pull: a change never moves a tariff. last_updated has milliseconds, the
-- precision OCPI pulls compare date_from/date_to with.
CREATE TABLE tariffs (
    id              text PRIMARY KEY,
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    network_id      uuid NOT NULL REFERENCES networks (id),
    currency        text NOT NULL,
    type            text,
    tariff_alt_text jsonb,
    tariff_alt_url  text,
    min_price       jsonb,
    max_price       jsonb,
    elements        jsonb NOT NULL,
    start_date_time timestamptz,
    end_date_time   timestamptz,
    energy_mix      jsonb,
    etag            uuid NOT NULL,
    created         timestamptz NOT NULL,
    last_updated    timestamptz NOT NULL,
    CONSTRAINT tariffs_seq_key UNIQUE (seq)
);
-- REST lists: (last_updated, id) across the networks a key sees. OCPI pulls: seq per network.
CREATE INDEX tariffs_sync_idx ON tariffs (network_id, last_updated, id);
CREATE INDEX tariffs_pull_idx ON tariffs (network_id, seq);

-- Unfiltered list totals from the kept counts (migration 0006), like locations and stations.
CREATE CONSTRAINT TRIGGER tariffs_counted AFTER INSERT OR DELETE ON tariffs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION list_counts_changed('tariffs');
