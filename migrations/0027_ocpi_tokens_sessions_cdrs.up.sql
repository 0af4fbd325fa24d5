-- OCPI Tokens (RECEIVER), Sessions (SENDER) and CDRs (SENDER), issue 14 part A.

-- ---- Tokens that partners push (or that evroam pulls from their Tokens SENDER).
-- A partner's token lives in the tokens table, in the partner's network, so that the stations
-- of that network and of every network below it (the partner's scope) authorise it. It keeps
-- the partner it came from and the eMSP party that issued it (OCPI Client Owned Object), and
-- is keyed by (partner, party, uid, type) as OCPI keys it, apart from the network's own tokens
-- (which stay unique per network and matched uid). Deleting the partner deletes its tokens.
ALTER TABLE tokens
    ADD COLUMN ocpi_partner_id uuid REFERENCES ocpi_partners (id) ON DELETE CASCADE,
    ADD COLUMN country_code    text,
    ADD COLUMN party_id        text,
    ADD COLUMN energy_contract jsonb,
    ADD CONSTRAINT tokens_partner_party_check CHECK (
        ocpi_partner_id IS NULL OR (country_code IS NOT NULL AND party_id IS NOT NULL));
ALTER TABLE tokens DROP CONSTRAINT tokens_network_uid_key;
CREATE UNIQUE INDEX tokens_network_uid_key ON tokens (network_id, match_uid) WHERE ocpi_partner_id IS NULL;
CREATE UNIQUE INDEX tokens_partner_uid_key ON tokens (ocpi_partner_id, country_code, party_id, uid, type)
    WHERE ocpi_partner_id IS NOT NULL;
-- The gateway's lookup of a roaming token: by the presented uid, whatever the network.
CREATE INDEX tokens_roaming_match_idx ON tokens (match_uid) WHERE ocpi_partner_id IS NOT NULL;

-- Lists and counts of the REST API are the network's own tokens.
CREATE OR REPLACE FUNCTION tokens_count_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT network_id, count(*) AS n FROM changed_rows WHERE ocpi_partner_id IS NULL
             GROUP BY network_id ORDER BY network_id LOOP
        PERFORM list_counts_add('tokens', r.network_id, CASE WHEN TG_OP = 'DELETE' THEN -r.n ELSE r.n END);
    END LOOP;
    RETURN NULL;
END
$$;

-- A partner's token is authorised by the stations of every network of its scope: a change
-- names all of them on tokens_changed, so that every node forgets what it decided there.
CREATE OR REPLACE FUNCTION tokens_notify_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    payload text;
BEGIN
    SELECT string_agg(DISTINCT x.id::text, E'\n') INTO payload FROM (
        SELECT network_id AS id FROM changed_tokens
        UNION
        SELECT s.network_id FROM changed_tokens c JOIN ocpi_network_scope s ON s.ancestor_id = c.network_id
        WHERE c.ocpi_partner_id IS NOT NULL) x;
    IF payload IS NOT NULL THEN
        PERFORM pg_notify('tokens_changed', payload);
    END IF;
    RETURN NULL;
END
$$;

-- ---- The partners' endpoints evroam uses now.
ALTER TABLE ocpi_partners
    ADD COLUMN tokens_url       text, -- the partner's Tokens SENDER (pulled, and asked for real-time authorisation)
    ADD COLUMN sessions_url     text, -- its Sessions RECEIVER
    ADD COLUMN cdrs_url         text, -- its CDRs RECEIVER
    ADD COLUMN tokens_synced_at timestamptz; -- the start of the last complete pull of its tokens
UPDATE ocpi_partners p SET
    tokens_url = (SELECT e->>'url' FROM jsonb_array_elements(p.endpoints) AS e
                  WHERE e->>'identifier' = 'tokens' AND e->>'role' = 'SENDER' LIMIT 1),
    sessions_url = (SELECT e->>'url' FROM jsonb_array_elements(p.endpoints) AS e
                    WHERE e->>'identifier' = 'sessions' AND e->>'role' = 'RECEIVER' LIMIT 1),
    cdrs_url = (SELECT e->>'url' FROM jsonb_array_elements(p.endpoints) AS e
                WHERE e->>'identifier' = 'cdrs' AND e->>'role' = 'RECEIVER' LIMIT 1)
WHERE p.state = 'REGISTERED';

-- ---- Real-time authorisations: every answer an eMSP gave (or did not give in time) to
-- POST {tokens}/{uid}/authorize. The session that the token then starts at the station takes
-- the newest one's authorization_reference.
CREATE TABLE ocpi_authorizations (
    id                      bigserial PRIMARY KEY,
    partner_id              uuid NOT NULL REFERENCES ocpi_partners (id) ON DELETE CASCADE,
    token_id                text NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    charge_station_id       text NOT NULL,
    location_id             text,
    allowed                 text,           -- AllowedType; NULL: no answer in time
    authorization_reference text,
    created                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ocpi_authorizations_lookup_idx ON ocpi_authorizations (charge_station_id, token_id, created);
-- The pusher forgets authorisations older than a day (a session takes one of the last hour).
CREATE INDEX ocpi_authorizations_created_idx ON ocpi_authorizations (created);

-- ---- Roaming sessions: a session started with a partner's token belongs to that partner
-- (and only that partner sees it). The row is made in the statement that records the session,
-- by the triggers below, whichever way the station reported it.
CREATE TABLE ocpi_sessions (
    session_id              uuid PRIMARY KEY REFERENCES transactions (id) ON DELETE CASCADE,
    seq                     bigserial NOT NULL UNIQUE, -- pull order: the order sessions became roaming
    partner_id              uuid NOT NULL REFERENCES ocpi_partners (id) ON DELETE CASCADE,
    token_id                text NOT NULL,
    -- the token as the session was started with it (its CDR's cdr_token): the token may
    -- change or go (its partner unregisters) while the session and its CDR stay.
    token_country_code      text NOT NULL,
    token_party_id          text NOT NULL,
    token_uid               text NOT NULL,
    token_type              text NOT NULL,
    token_contract_id       text NOT NULL,
    auth_method             text NOT NULL CHECK (auth_method IN ('AUTH_REQUEST', 'COMMAND', 'WHITELIST')),
    authorization_reference text,
    -- put_sent: the partner has the session (the first PUT was accepted): changes go as PATCH.
    put_sent                boolean NOT NULL DEFAULT false,
    -- cdr_made: the completed session has its CDR (made by the pusher, which prices it).
    cdr_made                boolean NOT NULL DEFAULT false,
    created                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ocpi_sessions_partner_idx ON ocpi_sessions (partner_id, seq);
CREATE INDEX ocpi_sessions_cdr_todo_idx ON ocpi_sessions (session_id) WHERE NOT cdr_made;

-- CDRs: made once, never changed (a correction is a credit CDR and a new one). doc is the OCPI
-- CDR as sent; location_url is the Location header the partner's receiver answered.
CREATE TABLE ocpi_cdrs (
    seq                 bigserial PRIMARY KEY,
    id                  text NOT NULL UNIQUE,
    partner_id          uuid NOT NULL REFERENCES ocpi_partners (id) ON DELETE CASCADE,
    session_id          uuid REFERENCES transactions (id) ON DELETE SET NULL,
    credit              boolean NOT NULL DEFAULT false,
    credit_reference_id text,
    doc                 jsonb NOT NULL,
    last_updated        timestamptz NOT NULL,
    location_url        text,
    sent_at             timestamptz
);
CREATE INDEX ocpi_cdrs_partner_idx ON ocpi_cdrs (partner_id, seq);

-- The push queue takes session pushes ('session': a PUT or PATCH of the session as it is when
-- sent, see ocpi.Pusher) and CDR pushes ('cdr': POST of the CDR), under the party of the
-- session's network (country_code, party_id).
ALTER TABLE ocpi_deliveries
    ADD COLUMN session_id uuid REFERENCES transactions (id) ON DELETE CASCADE,
    ADD COLUMN cdr_id     text REFERENCES ocpi_cdrs (id) ON DELETE CASCADE,
    DROP CONSTRAINT ocpi_deliveries_kind_check,
    ADD CONSTRAINT ocpi_deliveries_kind_check CHECK (CASE
        WHEN kind IN ('location', 'evse_status') THEN location_seq IS NOT NULL AND location_id IS NOT NULL AND tariff_id IS NULL
            AND session_id IS NULL AND cdr_id IS NULL
        WHEN kind IN ('tariff', 'tariff_delete') THEN tariff_id IS NOT NULL AND country_code IS NOT NULL AND party_id IS NOT NULL
            AND location_seq IS NULL AND location_id IS NULL AND session_id IS NULL AND cdr_id IS NULL
        WHEN kind = 'session' THEN session_id IS NOT NULL AND location_seq IS NULL AND tariff_id IS NULL AND cdr_id IS NULL
        WHEN kind = 'cdr' THEN cdr_id IS NOT NULL AND location_seq IS NULL AND tariff_id IS NULL AND session_id IS NULL
        ELSE false END);
CREATE INDEX ocpi_deliveries_session_idx ON ocpi_deliveries (partner_id, session_id, id) WHERE session_id IS NOT NULL;
CREATE INDEX ocpi_deliveries_cdr_idx ON ocpi_deliveries (partner_id, cdr_id, id) WHERE cdr_id IS NOT NULL;

-- ocpi_sessions_changed runs once per statement that writes sessions (the gateway writes them
-- in batches): it makes sessions started with a partner's token roaming sessions of that
-- partner (a network's own token of the same uid wins: the card is then the CPO's own), and
-- queues a push of every changed roaming session to a partner with a Sessions receiver.
CREATE FUNCTION ocpi_sessions_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ocpi_sessions (session_id, partner_id, token_id, token_country_code, token_party_id, token_uid,
        token_type, token_contract_id, auth_method, authorization_reference)
    SELECT n.id, tk.ocpi_partner_id, tk.id, tk.country_code, tk.party_id, tk.uid, tk.type, tk.contract_id,
        CASE WHEN a.id IS NOT NULL THEN 'AUTH_REQUEST' ELSE 'WHITELIST' END, a.authorization_reference
    FROM changed_sessions n
    CROSS JOIN LATERAL (
        SELECT t.id, t.ocpi_partner_id, t.country_code, t.party_id, t.uid, t.type, t.contract_id
        FROM tokens t
        JOIN ocpi_network_scope s ON s.ancestor_id = t.network_id AND s.network_id = n.network_id
        WHERE t.ocpi_partner_id IS NOT NULL AND t.match_uid IN (n.id_tag, upper(n.id_tag))
            AND (t.type = 'RFID' OR t.uid = n.id_tag)
        ORDER BY t.created, t.id
        LIMIT 1) tk
    LEFT JOIN LATERAL (
        SELECT a.id, a.authorization_reference
        FROM ocpi_authorizations a
        WHERE a.charge_station_id = n.charge_station_id AND a.token_id = tk.id
            AND a.created > now() - interval '1 hour'
        ORDER BY a.created DESC
        LIMIT 1) a ON true
    WHERE n.id_tag IS NOT NULL AND n.status <> 'INVALID'
        AND NOT EXISTS (SELECT 1 FROM ocpi_sessions x WHERE x.session_id = n.id) -- roaming already
        AND NOT EXISTS (
            SELECT 1 FROM tokens l
            WHERE l.network_id = n.network_id AND l.ocpi_partner_id IS NULL
                AND l.match_uid IN (n.id_tag, upper(n.id_tag)) AND (l.type = 'RFID' OR l.uid = n.id_tag))
    ORDER BY n.id
    ON CONFLICT (session_id) DO NOTHING;

    INSERT INTO ocpi_deliveries (partner_id, kind, session_id, country_code, party_id)
    SELECT os.partner_id, 'session', n.id, net.country_code, net.party_id
    FROM changed_sessions n
    JOIN networks net ON net.id = n.network_id
    JOIN ocpi_sessions os ON os.session_id = n.id
    JOIN ocpi_partners pt ON pt.id = os.partner_id
    WHERE pt.state = 'REGISTERED' AND pt.sessions_url IS NOT NULL
    ORDER BY n.id;
    IF FOUND THEN
        -- A session that ended is pushed (its final PUT) at once: a PATCH held back by the
        -- PATCH interval (never attempted) stops waiting.
        UPDATE ocpi_deliveries d SET next_attempt_at = now()
        FROM changed_sessions n
        WHERE d.session_id = n.id AND n.status <> 'ACTIVE' AND d.attempts = 0 AND d.next_attempt_at > now();
        PERFORM pg_notify('ocpi_deliveries', '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER ocpi_sessions_inserted AFTER INSERT ON transactions
    REFERENCING NEW TABLE AS changed_sessions FOR EACH STATEMENT EXECUTE FUNCTION ocpi_sessions_changed();
CREATE TRIGGER ocpi_sessions_updated AFTER UPDATE ON transactions
    REFERENCING NEW TABLE AS changed_sessions FOR EACH STATEMENT EXECUTE FUNCTION ocpi_sessions_changed();
