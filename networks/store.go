package networks

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/auth"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Store keeps networks and API keys in PostgreSQL. A Store made by NewStore runs each
// statement on the pool; one made by WithTx runs in the caller's transaction.
type Store struct {
	q   sqlx.ExtContext
	now func() time.Time
}

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{q: database.Prepared(db), now: time.Now} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: database.WithTx(s.q, tx), now: s.now} }

type networkRow struct {
	ID          uuid.UUID     `db:"id"`
	Name        string        `db:"name"`
	CountryCode string        `db:"country_code"`
	PartyID     string        `db:"party_id"`
	ParentID    uuid.NullUUID `db:"parent_id"`
	AcceptUnk   bool          `db:"accept_unknown_tokens"`
	Created     time.Time     `db:"created"`
	LastUpdated time.Time     `db:"last_updated"`
}

func (r networkRow) toNetwork() Network {
	n := Network{ID: r.ID, Name: r.Name, CountryCode: r.CountryCode, PartyID: r.PartyID,
		AcceptUnknownTokens: r.AcceptUnk, Created: r.Created.UTC(), LastUpdated: r.LastUpdated.UTC()}
	if r.ParentID.Valid {
		id := r.ParentID.UUID
		n.ParentID = &id
	}
	return n
}

// EnsureRoot returns the root network, creating it on the first start with the given party.
func (s *Store) EnsureRoot(ctx context.Context, name, countryCode, partyID string) (Network, error) {
	now := s.now().UTC()
	const q = `
	INSERT INTO networks (id, name, country_code, party_id, parent_id, created, last_updated)
	VALUES ($1, $2, $3, $4, NULL, $5, $5)
	ON CONFLICT DO NOTHING`
	if _, err := s.q.ExecContext(ctx, q, uuid.New(), name, countryCode, partyID, now); err != nil {
		return Network{}, fmt.Errorf("ensure root network: %w", database.Translate(err))
	}
	var row networkRow
	const sel = `
	SELECT id, name, country_code, party_id, parent_id, accept_unknown_tokens, created, last_updated
	FROM networks
	WHERE parent_id IS NULL`
	if err := sqlx.GetContext(ctx, s.q, &row, sel); err != nil {
		return Network{}, fmt.Errorf("get root network: %w", database.Translate(err))
	}
	return row.toNetwork(), nil
}

// Create inserts a network. Errors: ErrPartyTaken, ErrNotFound (unknown parent).
func (s *Store) Create(ctx context.Context, n Network) (Network, error) {
	now := s.now().UTC()
	n.Created, n.LastUpdated = now, now
	if n.ID == uuid.Nil {
		n.ID = uuid.New()
	}
	const q = `
	INSERT INTO networks (id, name, country_code, party_id, parent_id, accept_unknown_tokens, created, last_updated)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	_, err := s.q.ExecContext(ctx, q, n.ID, n.Name, n.CountryCode, n.PartyID, n.ParentID, n.AcceptUnknownTokens, n.Created, n.LastUpdated)
	switch {
	case database.IsUniqueViolation(err, "networks_party_key"):
		return Network{}, ErrPartyTaken
	case database.IsForeignKeyViolation(err):
		return Network{}, fmt.Errorf("parent %w", ErrNotFound)
	case err != nil:
		return Network{}, fmt.Errorf("insert network: %w", database.Translate(err))
	}
	return n, nil
}

// Get returns the network id if it is among visible. Errors: ErrNotFound.
func (s *Store) Get(ctx context.Context, visible []uuid.UUID, id uuid.UUID) (Network, error) {
	const q = `
	SELECT id, name, country_code, party_id, parent_id, accept_unknown_tokens, created, last_updated
	FROM networks
	WHERE id = $1 AND id = ANY($2)`
	var row networkRow
	err := sqlx.GetContext(ctx, s.q, &row, q, id, pq.Array(visible))
	if errors.Is(err, sql.ErrNoRows) {
		return Network{}, ErrNotFound
	}
	if err != nil {
		return Network{}, fmt.Errorf("get network %s: %w", id, database.Translate(err))
	}
	return row.toNetwork(), nil
}

// List returns a page of the visible networks in (last_updated, id) order and the total.
func (s *Store) List(ctx context.Context, visible []uuid.UUID, p paging.Page) ([]Network, paging.Meta, error) {
	var w database.Where
	w.Add("id = ANY(%s)", pq.Array(visible))
	w.Window("last_updated", p.DateFrom, p.DateTo)
	var rows []networkRow
	more, err := database.SelectPage(ctx, s.q, &rows, "id, name, country_code, party_id, parent_id, accept_unknown_tokens, created, last_updated",
		"networks", &w, database.Order{Updated: "last_updated", ID: "id"}, p)
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("list networks: %w", err)
	}
	var m paging.Meta
	if m.Total, err = database.Count(ctx, s.q, "networks", &w); err != nil {
		return nil, paging.Meta{}, fmt.Errorf("count networks: %w", err)
	}
	out := make([]Network, len(rows))
	for i, r := range rows {
		out[i] = r.toNetwork()
	}
	if more {
		last := out[len(out)-1]
		m.Next = &paging.Cursor{Updated: last.LastUpdated, ID: last.ID.String()}
	}
	return out, m, nil
}

// Update writes name, country_code, party_id and accept_unknown_tokens of a visible network.
// Errors: ErrNotFound, ErrPartyTaken.
func (s *Store) Update(ctx context.Context, visible []uuid.UUID, n Network) (Network, error) {
	const q = `
	UPDATE networks
	SET name = $2, country_code = $3, party_id = $4, accept_unknown_tokens = $7, last_updated = $5
	WHERE id = $1 AND id = ANY($6)`
	res, err := s.q.ExecContext(ctx, q, n.ID, n.Name, n.CountryCode, n.PartyID, s.now().UTC(), pq.Array(visible), n.AcceptUnknownTokens)
	if database.IsUniqueViolation(err, "networks_party_key") {
		return Network{}, ErrPartyTaken
	}
	if err != nil {
		return Network{}, fmt.Errorf("update network %s: %w", n.ID, database.Translate(err))
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return Network{}, ErrNotFound
	}
	return s.Get(ctx, visible, n.ID)
}

// MinKeyLength is the shortest API key accepted (e.g. from EVROAM_ADMIN_API_KEY): with at
// least 32 characters, a key cannot be guessed and its unsalted hash cannot be reversed.
const MinKeyLength = 32

func hashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// CreateKey makes a new random API key for network and returns it; only its hash is stored.
// Errors: ErrNotFound (unknown network).
func (s *Store) CreateKey(ctx context.Context, networkID uuid.UUID, name string, admin bool) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	key := "evr_" + base64.RawURLEncoding.EncodeToString(b)
	if err := s.EnsureKey(ctx, networkID, key, name, admin); err != nil {
		return "", err
	}
	return key, nil
}

// EnsureKey stores key (its hash) for network unless it is stored already.
func (s *Store) EnsureKey(ctx context.Context, networkID uuid.UUID, key, name string, admin bool) error {
	if len(key) < MinKeyLength {
		return fmt.Errorf("an API key needs at least %d characters", MinKeyLength)
	}
	const q = `
	INSERT INTO api_keys (id, network_id, name, hash, admin, created)
	VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (hash) DO NOTHING`
	_, err := s.q.ExecContext(ctx, q, uuid.New(), networkID, name, hashKey(key), admin, s.now().UTC())
	if database.IsForeignKeyViolation(err) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("insert API key: %w", database.Translate(err))
	}
	return nil
}

// Authenticate resolves key to its network and the networks below it. The key's row is found
// by its SHA-256 hash (no part of a key is stored). Errors: ErrBadKey.
func (s *Store) Authenticate(ctx context.Context, key string) (auth.Principal, error) {
	if len(key) < MinKeyLength {
		return auth.Principal{}, ErrBadKey
	}
	const q = `
	WITH RECURSIVE k AS (
		SELECT id, network_id, admin FROM api_keys WHERE hash = $1
	), tree AS (
		SELECT n.id, k.id AS key_id FROM networks n JOIN k ON n.id = k.network_id
		UNION ALL
		SELECT c.id, tree.key_id FROM networks c JOIN tree ON c.parent_id = tree.id
	)
	SELECT k.id, k.network_id, k.admin,
		ARRAY(SELECT tree.id::text FROM tree WHERE tree.key_id = k.id) AS networks
	FROM k`
	var (
		p    auth.Principal
		nets pq.StringArray
	)
	err := s.q.QueryRowxContext(ctx, q, hashKey(key)).Scan(&p.KeyID, &p.NetworkID, &p.Admin, &nets)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Principal{}, ErrBadKey
	}
	if err != nil {
		return auth.Principal{}, fmt.Errorf("authenticate: %w", database.Translate(err))
	}
	for _, n := range nets {
		p.Networks = append(p.Networks, uuid.MustParse(n))
	}
	return p, nil
}
