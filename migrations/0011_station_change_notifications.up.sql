-- Every change of charge-station rows sends one notification per statement at commit, on
-- channel charge_stations_changed, naming the stations (ids separated by newlines, in
-- payloads under NOTIFY's 8000-byte limit). Each evroam node listens and forgets its cached
-- answers for them (chargestations.AnswerCache). EVSE changes rewrite the station row's
-- evses_doc, so they are covered too. New rows need no notification: nothing is cached for
-- a station that does not exist.
CREATE FUNCTION charge_stations_notify_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    payload text;
BEGIN
    FOR payload IN
        SELECT string_agg(id, E'\n')
        FROM (SELECT id, sum(length(id) + 1) OVER (ORDER BY id) / 7000 AS part FROM changed_stations) c
        GROUP BY part
    LOOP
        PERFORM pg_notify('charge_stations_changed', payload);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER charge_stations_notify_updated AFTER UPDATE ON charge_stations
    REFERENCING NEW TABLE AS changed_stations
    FOR EACH STATEMENT EXECUTE FUNCTION charge_stations_notify_changed();
CREATE TRIGGER charge_stations_notify_deleted AFTER DELETE ON charge_stations
    REFERENCING OLD TABLE AS changed_stations
    FOR EACH STATEMENT EXECUTE FUNCTION charge_stations_notify_changed();
