-- Tariffs (issue 13 item 7): the OCPI 2.2.1 Tariff objects of a network, which connectors'
-- tariff_ids and stations' default_charge_station_tariff_id refer to. The id is unique across
-- the whole system (it is the tariff's URL, like a location's id); a tariff never changes
-- network. The OCPI class trees (elements, alt texts, prices, energy mix) are JSON documents:
-- always read and written whole. seq is the order in which tariffs were created, the stable
-- order of an OCPI pull: a change never moves a tariff. last_updated has milliseconds, the
-- precision OCPI pulls compare date_from/date_to with, and is stamped at commit (below).
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
-- Stamping: the latest last_updated.
CREATE INDEX tariffs_sync_idx ON tariffs (network_id, last_updated, id);
CREATE INDEX tariffs_pull_idx ON tariffs (network_id, seq);
CREATE INDEX tariffs_updated_idx ON tariffs (last_updated);

-- A change's last_updated is stamped at commit, like the published locations' (0012): under
-- an advisory lock held until the commit is done, with a millisecond time later than every
-- stamp before it. So a change that becomes visible later always has a later last_updated,
-- and a partner syncing from the greatest last_updated it has seen misses none. (The stamp
-- replaces the time the writer gave; the trigger's own update does not trigger it again.)
CREATE FUNCTION tariffs_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_ts timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(8386109778156549229); -- "tarifstm"
    SELECT greatest(date_trunc('milliseconds', clock_timestamp()),
            coalesce(max(last_updated), '-infinity') + interval '1 millisecond')
    INTO v_ts
    FROM tariffs;
    UPDATE tariffs SET last_updated = v_ts WHERE id = NEW.id;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER tariffs_stamp AFTER INSERT OR UPDATE ON tariffs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION tariffs_stamp();

-- Unfiltered list totals from the kept counts (migration 0006), like locations and stations.
CREATE CONSTRAINT TRIGGER tariffs_counted AFTER INSERT OR DELETE ON tariffs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION list_counts_changed('tariffs');

-- ---- Pushes to partners' Tariffs receivers.

-- tariffs_url: the partner's Tariffs RECEIVER endpoint, like locations_url (kept from its
-- version details at every credentials exchange; here from those already stored).
ALTER TABLE ocpi_partners ADD COLUMN tariffs_url text;
UPDATE ocpi_partners p SET tariffs_url = (
    SELECT e->>'url' FROM jsonb_array_elements(p.endpoints) AS e
    WHERE e->>'identifier' = 'tariffs' AND e->>'role' = 'RECEIVER' LIMIT 1)
WHERE p.state = 'REGISTERED';

-- The push queue takes tariff pushes too: 'tariff' (PUT of the tariff as it is when sent) and
-- 'tariff_delete' (DELETE). They name the tariff and the party it was queued under (the party
-- a DELETE goes to once the tariff and maybe its network are gone) instead of a location
-- copy. The pushes of one (partner, tariff) go in id order, like those of a location.
ALTER TABLE ocpi_deliveries
    ALTER COLUMN location_id DROP NOT NULL,
    ALTER COLUMN location_seq DROP NOT NULL,
    ADD COLUMN tariff_id text,
    ADD COLUMN country_code text,
    ADD COLUMN party_id text,
    DROP CONSTRAINT ocpi_deliveries_kind_check,
    ADD CONSTRAINT ocpi_deliveries_kind_check CHECK (CASE
        WHEN kind IN ('location', 'evse_status') THEN location_seq IS NOT NULL AND location_id IS NOT NULL AND tariff_id IS NULL
        WHEN kind IN ('tariff', 'tariff_delete') THEN tariff_id IS NOT NULL AND country_code IS NOT NULL AND party_id IS NOT NULL
            AND location_seq IS NULL AND location_id IS NULL
        ELSE false END);
CREATE INDEX ocpi_deliveries_tariff_idx ON ocpi_deliveries (partner_id, tariff_id, id) WHERE tariff_id IS NOT NULL;

-- Every change of a tariff queues its push, in the transaction that makes it (whichever path
-- writes the table), for every registered partner with a Tariffs receiver whose scope holds
-- the tariff's network. Tariffs change rarely and one at a time: a row trigger is enough.
CREATE FUNCTION ocpi_tariffs_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_id      text;
    v_network uuid;
    v_kind    text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        v_id := OLD.id; v_network := OLD.network_id; v_kind := 'tariff_delete';
    ELSE
        v_id := NEW.id; v_network := NEW.network_id; v_kind := 'tariff';
    END IF;
    INSERT INTO ocpi_deliveries (partner_id, kind, tariff_id, country_code, party_id)
    SELECT pt.id, v_kind, v_id, n.country_code, n.party_id
    FROM networks n
    JOIN ocpi_network_scope s ON s.network_id = n.id
    JOIN ocpi_partners pt ON pt.network_id = s.ancestor_id
    WHERE n.id = v_network AND pt.state = 'REGISTERED' AND pt.tariffs_url IS NOT NULL
    ORDER BY pt.id;
    IF FOUND THEN
        PERFORM pg_notify('ocpi_deliveries', '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER ocpi_tariffs_push AFTER INSERT OR UPDATE OR DELETE ON tariffs
    FOR EACH ROW WHEN (pg_trigger_depth() = 0) -- not the commit stamp's own update
    EXECUTE FUNCTION ocpi_tariffs_changed();

-- A network that changes its party takes its tariffs along: each is deleted at the partners
-- under the old party and put under the new one, in that order. (The pusher sends pushes
-- under the old party before it tells the partner of the new one, and those under the new
-- party only after: see Pusher.)
CREATE FUNCTION ocpi_tariffs_party_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ocpi_deliveries (partner_id, kind, tariff_id, country_code, party_id)
    SELECT pt.id, k.kind, t.id,
        CASE k.kind WHEN 'tariff_delete' THEN OLD.country_code ELSE NEW.country_code END,
        CASE k.kind WHEN 'tariff_delete' THEN OLD.party_id ELSE NEW.party_id END
    FROM tariffs t
    CROSS JOIN (VALUES (1, 'tariff_delete'), (2, 'tariff')) AS k (ord, kind)
    JOIN ocpi_network_scope s ON s.network_id = t.network_id
    JOIN ocpi_partners pt ON pt.network_id = s.ancestor_id
    WHERE t.network_id = NEW.id AND pt.state = 'REGISTERED' AND pt.tariffs_url IS NOT NULL
    ORDER BY pt.id, t.seq, k.ord;
    IF FOUND THEN
        PERFORM pg_notify('ocpi_deliveries', '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER ocpi_tariffs_party AFTER UPDATE OF country_code, party_id ON networks
    FOR EACH ROW WHEN ((OLD.country_code, OLD.party_id) IS DISTINCT FROM (NEW.country_code, NEW.party_id))
    EXECUTE FUNCTION ocpi_tariffs_party_changed();
