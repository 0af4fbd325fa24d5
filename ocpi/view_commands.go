package ocpi

import (
	"context"
	"fmt"
	"strings"

	"github.com/evroam/evroam/internal/database"
	"github.com/google/uuid"
)

// commandEVSE is a published EVSE a command may address: where it is in the registry
// (station and evse_sequence_number) and what partners see of it.
type commandEVSE struct {
	StationID      string
	SequenceNumber int
	EVSE           EVSE
}

// commandEVSEs returns the live EVSEs of the live copy of location id that a partner of
// network sees, in the order partners see them; only evseUID when it is not "". None: the
// location or EVSE is unknown to the partner (not published, or outside its scope).
func (v *View) commandEVSEs(ctx context.Context, network uuid.UUID, locationID, evseUID string) ([]commandEVSE, error) {
	const q = `
	SELECT e.charge_station_id, ev.evse_sequence_number, e.status, e.doc, e.last_updated
	FROM ocpi_locations c
	JOIN ocpi_network_scope s ON s.network_id = c.network_id AND s.ancestor_id = $1
	JOIN ocpi_evses e ON e.location_seq = c.seq AND e.live
	JOIN evses ev ON ev.uid = e.evse_uid AND ev.charge_station_id = e.charge_station_id
	WHERE NOT c.retired AND lower(c.location_id) = lower($2) AND ($3 = '' OR lower(e.evse_uid) = lower($3))
		AND coalesce((c.doc->>'publish')::boolean, true)
	ORDER BY e.sort_key, e.evse_uid`
	var rows []struct {
		StationID string `db:"charge_station_id"`
		Seq       int    `db:"evse_sequence_number"`
		viewEVSERow
	}
	if err := v.db.SelectContext(ctx, &rows, q, network, locationID, evseUID); err != nil {
		return nil, fmt.Errorf("find EVSEs of location %q for a command: %w", locationID, database.Translate(err))
	}
	out := make([]commandEVSE, 0, len(rows))
	for _, r := range rows {
		e, err := decodeEVSE(r.Status, r.Doc, r.LastUpdated)
		if err != nil {
			return nil, fmt.Errorf("published EVSE of location %q: %w", locationID, err)
		}
		out = append(out, commandEVSE{StationID: r.StationID, SequenceNumber: r.Seq, EVSE: e})
	}
	return out, nil
}

// commandSession is a session a STOP_SESSION may address.
type commandSession struct {
	StationID     string
	TransactionID string
	Active        bool
}

// sessionForCommand returns session id (evroam's session id, which is the OCPI Session.id) if its
// network is in the scope of network; ok is false otherwise.
func (v *View) sessionForCommand(ctx context.Context, network uuid.UUID, id string) (commandSession, bool, error) {
	sid, err := uuid.Parse(strings.TrimSpace(id))
	if err != nil {
		return commandSession{}, false, nil
	}
	const q = `
	SELECT t.charge_station_id, t.transaction_id, t.status = 'ACTIVE' AS active
	FROM transactions t
	JOIN ocpi_network_scope s ON s.network_id = t.network_id AND s.ancestor_id = $1
	WHERE t.id = $2`
	var rows []struct {
		StationID     string `db:"charge_station_id"`
		TransactionID string `db:"transaction_id"`
		Active        bool   `db:"active"`
	}
	if err := v.db.SelectContext(ctx, &rows, q, network, sid); err != nil {
		return commandSession{}, false, fmt.Errorf("find session %s for a command: %w", sid, database.Translate(err))
	}
	if len(rows) == 0 {
		return commandSession{}, false, nil
	}
	r := rows[0]
	return commandSession{StationID: r.StationID, TransactionID: r.TransactionID, Active: r.Active}, true, nil
}
