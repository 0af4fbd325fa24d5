package tokens

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Store keeps tokens in PostgreSQL. A Store made by NewStore runs each statement on the pool;
// one made by WithTx runs in the caller's transaction.
type Store struct{ q sqlx.ExtContext }

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{q: database.Prepared(db)} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: database.WithTx(s.q, tx)} }

type tokenRow struct {
	ID                 string         `db:"id" json:"id"`
	NetworkID          uuid.UUID      `db:"network_id" json:"network_id"`
	UID                string         `db:"uid" json:"uid"`
	Type               string         `db:"type" json:"type"`
	ContractID         string         `db:"contract_id" json:"contract_id"`
	VisualNumber       sql.NullString `db:"visual_number" json:"-"`
	Issuer             string         `db:"issuer" json:"issuer"`
	GroupID            sql.NullString `db:"group_id" json:"-"`
	Valid              bool           `db:"valid" json:"valid"`
	Whitelist          string         `db:"whitelist" json:"whitelist"`
	Language           sql.NullString `db:"language" json:"-"`
	DefaultProfileType sql.NullString `db:"default_profile_type" json:"-"`
	ExpiryDate         sql.NullTime   `db:"expiry_date" json:"-"`
	ETag               uuid.UUID      `db:"etag" json:"etag"`
	Created            time.Time      `db:"created" json:"created"`
	LastUpdated        time.Time      `db:"last_updated" json:"last_updated"`
}

const columns = `id, network_id, uid, type, contract_id, visual_number, issuer, group_id, valid, whitelist,
	language, default_profile_type, expiry_date, etag, created, last_updated`

func toRow(t Token) tokenRow {
	return tokenRow{ID: t.ID, NetworkID: t.NetworkID, UID: t.UID, Type: t.Type, ContractID: t.ContractID,
		VisualNumber: database.NullString(t.VisualNumber), Issuer: t.Issuer, GroupID: database.NullString(t.GroupID),
		Valid: t.Valid, Whitelist: t.Whitelist, Language: database.NullString(t.Language),
		DefaultProfileType: database.NullString(t.DefaultProfileType), ExpiryDate: database.NullTime(t.ExpiryDate),
		ETag: t.ETag, Created: t.Created, LastUpdated: t.LastUpdated}
}

func (r tokenRow) toToken() Token {
	return Token{ID: r.ID, NetworkID: r.NetworkID, UID: r.UID, Type: r.Type, ContractID: r.ContractID,
		VisualNumber: database.StringPtr[string](r.VisualNumber), Issuer: r.Issuer, GroupID: database.StringPtr[string](r.GroupID),
		Valid: r.Valid, Whitelist: r.Whitelist, Language: database.StringPtr[string](r.Language),
		DefaultProfileType: database.StringPtr[string](r.DefaultProfileType), ExpiryDate: database.TimePtr(r.ExpiryDate),
		ETag: r.ETag, Created: r.Created.UTC(), LastUpdated: r.LastUpdated.UTC()}
}

// matches is the condition under which a token matches the presented uid $n: an RFID token
// whatever the case, another type exactly (match_uid is upper(uid) for RFID, uid otherwise,
// so the unique key serves both).
func matches(n int) string {
	return fmt.Sprintf("t.match_uid IN ($%d, upper($%d)) AND (t.type = 'RFID' OR t.uid = $%d)", n, n, n)
}

// Get returns the visible token with uid, in network when it is given. Errors: ErrNotFound,
// ErrAmbiguous (tokens of several visible networks have that uid and no network was given).
func (s *Store) Get(ctx context.Context, visible []uuid.UUID, uid string, network *uuid.UUID) (Token, error) {
	return s.get(ctx, visible, uid, network, false)
}

// GetForUpdate is Get with the token's row locked until the transaction ends (the store must
// be one made by WithTx). Errors: ErrNotFound, ErrAmbiguous.
func (s *Store) GetForUpdate(ctx context.Context, visible []uuid.UUID, uid string, network *uuid.UUID) (Token, error) {
	return s.get(ctx, visible, uid, network, true)
}

func (s *Store) get(ctx context.Context, visible []uuid.UUID, uid string, network *uuid.UUID, forUpdate bool) (Token, error) {
	q := `
	SELECT ` + columns + `
	FROM tokens t
	WHERE t.network_id = ANY($2) AND t.ocpi_partner_id IS NULL AND ` + matches(1) + ` AND ($3::uuid IS NULL OR t.network_id = $3)
	ORDER BY t.network_id, t.uid = $1 DESC
	LIMIT 4`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var rows []tokenRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, q, uid, pq.Array(visible), network); err != nil {
		return Token{}, fmt.Errorf("get token %s: %w", uid, database.Translate(err))
	}
	if len(rows) == 0 {
		return Token{}, ErrNotFound
	}
	for _, r := range rows[1:] {
		if r.NetworkID != rows[0].NetworkID {
			return Token{}, ErrAmbiguous
		}
	}
	return rows[0].toToken(), nil
}

// List returns a page of visible tokens in (last_updated, id) order, and the total: from the
// kept counts (database.CountOf), less what lies outside a date window when that is little
// (database.CountWindow); counted when another filter is set.
func (s *Store) List(ctx context.Context, visible []uuid.UUID, f Filter, p paging.Page) ([]Token, paging.Meta, error) {
	var base database.Where // the tokens the kept counts count
	base.AddNetworks("network_id", visible)
	base.Add("ocpi_partner_id IS NULL") // roaming partners' tokens are the partners' (package ocpi)
	w := base.Clone()
	filtered := p.DateFrom != nil || p.DateTo != nil || f.NetworkID != nil || f.Type != nil
	if f.NetworkID != nil {
		w.Add("network_id = %s", *f.NetworkID)
	}
	if f.Type != nil {
		w.Add("type = %s", *f.Type)
	}
	w.Window("last_updated", p.DateFrom, p.DateTo)
	var rows []tokenRow
	more, err := database.SelectPage(ctx, s.q, &rows, columns, "tokens", &w, database.Order{Updated: "last_updated", ID: "id"}, p)
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("list tokens: %w", err)
	}
	var m paging.Meta
	all := func() (int, error) { return database.CountOf(ctx, s.q, "tokens", visible) }
	switch {
	case f.NetworkID == nil && f.Type == nil:
		// The kept count (the networks' own tokens, as base), less what lies outside a date
		// window when that is little (database.CountWindow).
		m.Total, err = database.CountWindow(ctx, s.q, "tokens", &base, "last_updated", p.DateFrom, p.DateTo, all)
	case filtered:
		m.Total, err = database.Count(ctx, s.q, "tokens", &w)
	default:
		m.Total, err = all()
	}
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("count tokens: %w", err)
	}
	out := make([]Token, len(rows))
	for i, r := range rows {
		out[i] = r.toToken()
	}
	if more {
		last := out[len(out)-1]
		m.Next = &paging.Cursor{Updated: last.LastUpdated, ID: last.ID}
	}
	return out, m, nil
}

// Create inserts t as it is. Errors: ErrUIDTaken.
func (s *Store) Create(ctx context.Context, t Token) error {
	const q = `
	INSERT INTO tokens (` + columns + `)
	VALUES (:id, :network_id, :uid, :type, :contract_id, :visual_number, :issuer, :group_id, :valid, :whitelist,
		:language, :default_profile_type, :expiry_date, :etag, :created, :last_updated)`
	_, err := sqlx.NamedExecContext(ctx, s.q, q, toRow(t))
	if database.IsUniqueViolation(err, "tokens_network_uid_key") {
		return ErrUIDTaken
	}
	if err != nil {
		return fmt.Errorf("insert token %s: %w", t.UID, database.Translate(err))
	}
	return nil
}

// Update writes t (found by t.ID) as it is. Errors: ErrUIDTaken (a new type makes the uid
// clash with another token of the network).
func (s *Store) Update(ctx context.Context, t Token) error {
	const q = `
	UPDATE tokens SET
		uid = :uid, type = :type, contract_id = :contract_id, visual_number = :visual_number,
		issuer = :issuer, group_id = :group_id, valid = :valid, whitelist = :whitelist, language = :language,
		default_profile_type = :default_profile_type, expiry_date = :expiry_date, etag = :etag,
		last_updated = :last_updated
	WHERE id = :id`
	_, err := sqlx.NamedExecContext(ctx, s.q, q, toRow(t))
	if database.IsUniqueViolation(err, "tokens_network_uid_key") {
		return ErrUIDTaken
	}
	if err != nil {
		return fmt.Errorf("update token %s: %w", t.UID, database.Translate(err))
	}
	return nil
}

// Delete removes the token with internal id.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.q.ExecContext(ctx, `DELETE FROM tokens WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete token: %w", database.Translate(err))
	}
	return nil
}

// bulkRow is a token as the bulk statement reads it from JSON (jsonb_to_recordset).
type bulkRow struct {
	tokenRow
	VisualNumber       *string    `json:"visual_number"`
	GroupID            *string    `json:"group_id"`
	Language           *string    `json:"language"`
	DefaultProfileType *string    `json:"default_profile_type"`
	ExpiryDate         *time.Time `json:"expiry_date"`
}

// Upsert creates or replaces many tokens in one statement, matched by network and uid (as
// MatchUID keys them; ts must not hold two with the same key). Every written token gets the
// etag and timestamps ts carry; a replaced one keeps its id and created time.
func (s *Store) Upsert(ctx context.Context, ts []Token) (BulkResult, error) {
	rows := make([]bulkRow, len(ts))
	for i, t := range ts {
		rows[i] = bulkRow{tokenRow: toRow(t), VisualNumber: t.VisualNumber, GroupID: t.GroupID, Language: t.Language,
			DefaultProfileType: t.DefaultProfileType, ExpiryDate: t.ExpiryDate}
	}
	doc, err := json.Marshal(rows)
	if err != nil {
		return BulkResult{}, fmt.Errorf("encode tokens: %w", err)
	}
	const q = `
	WITH up AS (
		INSERT INTO tokens (` + columns + `)
		SELECT id, network_id, uid, type, contract_id, visual_number, issuer, group_id, valid, whitelist,
			language, default_profile_type, expiry_date, etag, created, last_updated
		FROM jsonb_to_recordset($1::jsonb) AS r(id text, network_id uuid, uid text, type text, contract_id text,
			visual_number text, issuer text, group_id text, valid boolean, whitelist text, language text,
			default_profile_type text, expiry_date timestamptz, etag uuid, created timestamptz, last_updated timestamptz)
		ON CONFLICT (network_id, match_uid) WHERE ocpi_partner_id IS NULL DO UPDATE SET
			uid = excluded.uid, type = excluded.type, contract_id = excluded.contract_id,
			visual_number = excluded.visual_number, issuer = excluded.issuer, group_id = excluded.group_id,
			valid = excluded.valid, whitelist = excluded.whitelist, language = excluded.language,
			default_profile_type = excluded.default_profile_type, expiry_date = excluded.expiry_date,
			etag = excluded.etag, last_updated = excluded.last_updated
		RETURNING xmax = 0 AS inserted
	)
	SELECT count(*) FILTER (WHERE inserted) AS created, count(*) FILTER (WHERE NOT inserted) AS updated FROM up`
	var res struct {
		Created int `db:"created"`
		Updated int `db:"updated"`
	}
	if err := sqlx.GetContext(ctx, s.q, &res, q, doc); err != nil {
		if database.IsUniqueViolation(err, "tokens_network_uid_key") {
			return BulkResult{}, ErrUIDTaken
		}
		return BulkResult{}, fmt.Errorf("upsert %d tokens: %w", len(ts), database.Translate(err))
	}
	return BulkResult{Created: res.Created, Updated: res.Updated}, nil
}

// facts is what deciding on a presented id token at a station needs: the station's network
// and its accept_unknown_tokens setting, and the matching token if there is one.
type facts struct {
	NetworkID     uuid.UUID      `db:"network_id"`
	AcceptUnknown bool           `db:"accept_unknown_tokens"`
	Found         bool           `db:"found"`
	Valid         sql.NullBool   `db:"valid"`
	GroupID       sql.NullString `db:"group_id"`
	ExpiryDate    sql.NullTime   `db:"expiry_date"`
	// Of a roaming partner's token (PartnerID valid): what deciding with its eMSP needs.
	TokenID   sql.NullString `db:"token_id"`
	Whitelist sql.NullString `db:"whitelist"`
	PartnerID uuid.NullUUID  `db:"ocpi_partner_id"`
	UID       sql.NullString `db:"uid"`
	Type      sql.NullString `db:"type"`
}

// errNoStation: the station presenting a token is not registered (it was deleted while
// connected).
var errNoStation = errors.New("charge station not found")

// authorizationFacts reads, in one round trip, the facts of idToken presented at station
// identity. Errors: errNoStation.
func (s *Store) authorizationFacts(ctx context.Context, identity, idToken string) (facts, error) {
	// The network's own token wins; else a roaming partner's token of the station's network
	// or of a network above it (a partner's tokens are authorised in its whole scope).
	q := `
	WITH RECURSIVE up (id, parent_id) AS (
		SELECT n.id, n.parent_id FROM charge_stations cs JOIN networks n ON n.id = cs.network_id WHERE cs.id = $1
		UNION ALL
		SELECT n.id, n.parent_id FROM networks n JOIN up ON n.id = up.parent_id
	)
	SELECT cs.network_id, n.accept_unknown_tokens, t.valid IS NOT NULL AS found, t.valid, t.group_id, t.expiry_date,
		t.id AS token_id, t.whitelist, t.ocpi_partner_id, t.uid, t.type
	FROM charge_stations cs
	JOIN networks n ON n.id = cs.network_id
	LEFT JOIN LATERAL (
		SELECT t.id, t.valid, t.group_id, t.expiry_date, t.whitelist, t.ocpi_partner_id, t.uid, t.type
		FROM tokens t
		WHERE ((t.network_id = cs.network_id AND t.ocpi_partner_id IS NULL)
			OR (t.ocpi_partner_id IS NOT NULL AND t.network_id IN (SELECT id FROM up))) AND ` + matches(2) + `
		ORDER BY t.ocpi_partner_id IS NOT NULL, t.uid = $2 DESC, t.created, t.id
		LIMIT 1
	) t ON true
	WHERE cs.id = $1`
	var f facts
	err := sqlx.GetContext(ctx, s.q, &f, q, identity, idToken)
	if errors.Is(err, sql.ErrNoRows) {
		return facts{}, errNoStation
	}
	if err != nil {
		return facts{}, fmt.Errorf("authorize at %s: %w", identity, database.Translate(err))
	}
	return f, nil
}
