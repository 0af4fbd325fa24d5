package commands

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/ocpp"
	"github.com/jmoiron/sqlx"
)

// Store keeps the DataTransfer history in the data_transfers table. The gateway's
// Registry calls RecordDataTransfer for every exchange (both directions); the handlers read
// it with ListDataTransfers.
type Store struct {
	db sqlx.ExtContext
}

// NewStore returns a Store on db.
func NewStore(db sqlx.ExtContext) *Store { return &Store{db: db} }

// RecordDataTransfer stores one exchange. It has the signature of
// ocpp.Registry.RecordDataTransfer, so the registry can delegate to it.
func (s *Store) RecordDataTransfer(ctx context.Context, d ocpp.DataTransfer) error {
	const q = `
	INSERT INTO data_transfers
		(charge_station_id, direction, vendor_id, message_id, data, status, response_data, error, created)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	at := d.At
	if at.IsZero() {
		at = time.Now()
	}
	_, err := s.db.ExecContext(ctx, q, d.Identity, d.Direction, d.VendorID, d.MessageID,
		jsonArg(d.Data), d.Status, jsonArg(d.ResponseData), d.Error, database.Timestamp(at))
	if err != nil {
		return fmt.Errorf("record data transfer of %s: %w", d.Identity, database.Translate(err))
	}
	return nil
}

// ListDataTransfers returns a station's exchanges, newest first, at most limit.
func (s *Store) ListDataTransfers(ctx context.Context, identity string, limit int) ([]DataTransfer, error) {
	const q = `
	SELECT id, charge_station_id, direction, vendor_id, message_id, data, status, response_data, error, created
	FROM data_transfers
	WHERE charge_station_id = $1
	ORDER BY created DESC, id DESC
	LIMIT $2`
	var rows []struct {
		ID           int64          `db:"id"`
		Identity     string         `db:"charge_station_id"`
		Direction    string         `db:"direction"`
		VendorID     string         `db:"vendor_id"`
		MessageID    string         `db:"message_id"`
		Data         sql.NullString `db:"data"`
		Status       string         `db:"status"`
		ResponseData sql.NullString `db:"response_data"`
		Error        string         `db:"error"`
		Created      time.Time      `db:"created"`
	}
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, identity, limit); err != nil {
		return nil, fmt.Errorf("list data transfers of %s: %w", identity, database.Translate(err))
	}
	out := make([]DataTransfer, len(rows))
	for i, r := range rows {
		out[i] = DataTransfer{ID: r.ID, DataTransfer: ocpp.DataTransfer{
			Identity: r.Identity, Direction: r.Direction, VendorID: r.VendorID, MessageID: r.MessageID,
			Data: rawOrNil(r.Data), Status: r.Status, ResponseData: rawOrNil(r.ResponseData), Error: r.Error,
			At: r.Created.UTC(),
		}}
	}
	return out, nil
}

// jsonArg passes JSON text to a json column; absent or invalid JSON is stored as NULL.
func jsonArg(raw json.RawMessage) any {
	if len(raw) == 0 || !json.Valid(raw) {
		return nil
	}
	return string(raw)
}

func rawOrNil(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return nil
	}
	return json.RawMessage(s.String)
}

var _ DataTransfers = (*Store)(nil)
