package tokens

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/evroam/evroam/internal/database"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// RoamingToken is a token of a roaming partner's driver: pushed by the partner (OCPI Tokens
// RECEIVER, package ocpi) or pulled from its Tokens SENDER. It lives in the partner's network
// (Token.NetworkID) and is authorised by the stations of that network and of every network
// below it. It is keyed as OCPI keys it: the partner, the eMSP party that issued it
// (CountryCode, PartyID), its uid and its type; a network's own token with the same uid wins
// over it at the network's stations. The REST API neither lists nor changes roaming tokens:
// the partner owns them.
type RoamingToken struct {
	Token
	PartnerID      uuid.UUID
	CountryCode    string
	PartyID        string
	EnergyContract *EnergyContract
}

// RoamingKey names a roaming token.
type RoamingKey struct {
	PartnerID   uuid.UUID
	CountryCode string
	PartyID     string
	UID         string
	Type        string
}

// EnergyContract is the OCPI EnergyContract of a token.
type EnergyContract struct {
	SupplierName string  `json:"supplier_name"`
	ContractID   *string `json:"contract_id,omitempty"`
}

type roamingRow struct {
	tokenRow
	PartnerID      uuid.UUID                      `db:"ocpi_partner_id"`
	CountryCode    string                         `db:"country_code"`
	PartyID        string                         `db:"party_id"`
	EnergyContract database.JSON[*EnergyContract] `db:"energy_contract"`
}

const roamingColumns = columns + `, ocpi_partner_id, country_code, party_id, energy_contract`

func (r roamingRow) toRoaming() RoamingToken {
	return RoamingToken{Token: r.tokenRow.toToken(), PartnerID: r.PartnerID, CountryCode: r.CountryCode,
		PartyID: r.PartyID, EnergyContract: r.EnergyContract.V}
}

// GetRoaming returns the roaming token k. Errors: ErrNotFound.
func (s *Store) GetRoaming(ctx context.Context, k RoamingKey) (RoamingToken, error) {
	return s.getRoaming(ctx, k, false)
}

// GetRoamingForUpdate is GetRoaming with the row locked until the transaction ends.
func (s *Store) GetRoamingForUpdate(ctx context.Context, k RoamingKey) (RoamingToken, error) {
	return s.getRoaming(ctx, k, true)
}

func (s *Store) getRoaming(ctx context.Context, k RoamingKey, forUpdate bool) (RoamingToken, error) {
	q := `
	SELECT ` + roamingColumns + `
	FROM tokens
	WHERE ocpi_partner_id = $1 AND country_code = $2 AND party_id = $3 AND uid = $4 AND type = $5`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var r roamingRow
	err := sqlx.GetContext(ctx, s.q, &r, q, k.PartnerID, k.CountryCode, k.PartyID, k.UID, k.Type)
	if errors.Is(err, sql.ErrNoRows) {
		return RoamingToken{}, ErrNotFound
	}
	if err != nil {
		return RoamingToken{}, fmt.Errorf("get roaming token %s: %w", k.UID, database.Translate(err))
	}
	return r.toRoaming(), nil
}

// roamingBulkRow is a roaming token as the upsert reads it from JSON.
type roamingBulkRow struct {
	bulkRow
	PartnerID      uuid.UUID       `json:"ocpi_partner_id"`
	CountryCode    string          `json:"country_code"`
	PartyID        string          `json:"party_id"`
	EnergyContract *EnergyContract `json:"energy_contract"`
}

// UpsertRoaming creates or replaces roaming tokens in one statement, matched by their
// RoamingKey (ts must not hold two with the same key); a replaced one keeps its id and created
// time. It returns the networks whose stations authorise them: the partners' networks and the
// networks below them.
func (s *Store) UpsertRoaming(ctx context.Context, ts []RoamingToken) ([]uuid.UUID, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	rows := make([]roamingBulkRow, len(ts))
	for i, t := range ts {
		rows[i] = roamingBulkRow{bulkRow: bulkRow{tokenRow: toRow(t.Token), VisualNumber: t.VisualNumber, GroupID: t.GroupID,
			Language: t.Language, DefaultProfileType: t.DefaultProfileType, ExpiryDate: t.ExpiryDate},
			PartnerID: t.PartnerID, CountryCode: t.CountryCode, PartyID: t.PartyID, EnergyContract: t.EnergyContract}
	}
	doc, err := json.Marshal(rows)
	if err != nil {
		return nil, fmt.Errorf("encode roaming tokens: %w", err)
	}
	const q = `
	WITH up AS (
		INSERT INTO tokens (` + roamingColumns + `)
		SELECT id, network_id, uid, type, contract_id, visual_number, issuer, group_id, valid, whitelist,
			language, default_profile_type, expiry_date, etag, created, last_updated,
			ocpi_partner_id, country_code, party_id, energy_contract
		FROM jsonb_to_recordset($1::jsonb) AS r(id text, network_id uuid, uid text, type text, contract_id text,
			visual_number text, issuer text, group_id text, valid boolean, whitelist text, language text,
			default_profile_type text, expiry_date timestamptz, etag uuid, created timestamptz, last_updated timestamptz,
			ocpi_partner_id uuid, country_code text, party_id text, energy_contract jsonb)
		ON CONFLICT (ocpi_partner_id, country_code, party_id, uid, type) WHERE ocpi_partner_id IS NOT NULL DO UPDATE SET
			contract_id = excluded.contract_id, visual_number = excluded.visual_number, issuer = excluded.issuer,
			group_id = excluded.group_id, valid = excluded.valid, whitelist = excluded.whitelist,
			language = excluded.language, default_profile_type = excluded.default_profile_type,
			energy_contract = excluded.energy_contract, etag = excluded.etag, last_updated = excluded.last_updated
		RETURNING network_id
	), nets AS (SELECT DISTINCT network_id FROM up)
	SELECT DISTINCT d.id FROM nets, LATERAL (
		WITH RECURSIVE down (id) AS (
			SELECT nets.network_id
			UNION ALL
			SELECT n.id FROM networks n JOIN down ON n.parent_id = down.id
		)
		SELECT id FROM down) d`
	var nets []uuid.UUID
	if err := sqlx.SelectContext(ctx, s.q, &nets, q, doc); err != nil {
		return nil, fmt.Errorf("upsert %d roaming tokens: %w", len(ts), database.Translate(err))
	}
	return nets, nil
}

// PutRoaming creates or replaces roaming tokens (a partner's PUT, or a page of a pull). Their
// last_updated is the partner's; id, etag and created are made here.
func (s *Service) PutRoaming(ctx context.Context, ts []RoamingToken) error {
	now := database.Timestamp(s.now())
	for i := range ts {
		ts[i].ID, ts[i].ETag, ts[i].Created = uuid.NewString(), uuid.New(), now
		ts[i].LastUpdated = database.Timestamp(ts[i].LastUpdated)
	}
	nets, err := s.store.UpsertRoaming(ctx, ts)
	if err == nil {
		s.changed(nets...)
	}
	return err
}

// GetRoaming returns roaming token k. Errors: ErrNotFound.
func (s *Service) GetRoaming(ctx context.Context, k RoamingKey) (RoamingToken, error) {
	return s.store.GetRoaming(ctx, k)
}

// PatchRoaming changes roaming token k under its row lock: change edits it (or fails, which
// aborts). Errors: ErrNotFound and change's errors.
func (s *Service) PatchRoaming(ctx context.Context, k RoamingKey, change func(t *RoamingToken) error) (RoamingToken, error) {
	var out RoamingToken
	var nets []uuid.UUID
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := s.store.WithTx(tx)
		cur, err := st.GetRoamingForUpdate(ctx, k)
		if err != nil {
			return err
		}
		if err := change(&cur); err != nil {
			return err
		}
		cur.ETag, cur.LastUpdated = uuid.New(), database.Timestamp(cur.LastUpdated)
		if nets, err = st.UpsertRoaming(ctx, []RoamingToken{cur}); err != nil {
			return err
		}
		out = cur
		return nil
	})
	if err == nil {
		s.changed(nets...)
	}
	return out, err
}
