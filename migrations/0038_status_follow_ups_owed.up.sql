-- The status follow-ups a node owes are on record, so that a node that starts finds those a
-- stopped node left without reading every EVSE.
--
-- Since 0035 the gateway's status batches leave their followers (the station rows and the
-- OCPI publication) to a follow-up right after the commit, and a node that starts found the
-- follow-ups a stopped node had left with evse_status_followers_behind, which compares every
-- EVSE with its station's document: about 5 s of PostgreSQL for 200,000 EVSEs on a busy
-- machine, paid by every node at every start, in the middle of its stations' reconnect storm.
--
-- Now a status batch that changes EVSEs records the stations it leaves to a follow-up, one
-- row per batch, in its own transaction (evse.Store.SetStatuses); the node deletes the row
-- once each of those stations was followed after that commit (stationreports:
-- statusFollower). A node that starts follows the stations of the rows it finds, whichever
-- node wrote them, and deletes those rows once it has: following a station again is
-- harmless, and a row's stations are followed from what was committed when it was read,
-- which includes that row's batch. evse_status_followers_behind stays, as the check that
-- nothing lags (tests and operators).
CREATE TABLE evse_status_follow_ups_owed (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_ids text[] NOT NULL
);

-- What lags already (written before this migration) is owed too.
INSERT INTO evse_status_follow_ups_owed (station_ids)
    SELECT array_agg(s.id ORDER BY s.id) FROM evse_status_followers_behind() AS s(id) HAVING count(*) > 0;
