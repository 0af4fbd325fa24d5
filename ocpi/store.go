package ocpi

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Errors of the partner store.
var (
	ErrPartnerNotFound = fmt.Errorf("OCPI partner %w", apperr.NotFound)
	// errStateChanged: the partner is no longer in the state the operation expected (a
	// concurrent registration, rotation or unregistration won).
	errStateChanged = errors.New("partner state changed")
)

// Store keeps OCPI partners. A Store made by NewStore runs each statement on the pool; one
// made by WithTx runs in the caller's transaction.
type Store struct {
	q   sqlx.ExtContext
	now func() time.Time
}

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{q: database.Prepared(db), now: time.Now} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: database.WithTx(s.q, tx), now: s.now} }

type partnerRow struct {
	ID                 uuid.UUID                        `db:"id"`
	NetworkID          uuid.UUID                        `db:"network_id"`
	Name               string                           `db:"name"`
	Initiator          string                           `db:"initiator"`
	State              string                           `db:"state"`
	OutboundToken      sql.NullString                   `db:"outbound_token"`
	PartnerVersionsURL sql.NullString                   `db:"partner_versions_url"`
	Version            sql.NullString                   `db:"version"`
	Endpoints          database.JSON[[]Endpoint]        `db:"endpoints"`
	Roles              database.JSON[[]CredentialsRole] `db:"roles"`
	LocationsURL       sql.NullString                   `db:"locations_url"`
	TariffsURL         sql.NullString                   `db:"tariffs_url"`
	TokensURL          sql.NullString                   `db:"tokens_url"`
	SessionsURL        sql.NullString                   `db:"sessions_url"`
	CDRsURL            sql.NullString                   `db:"cdrs_url"`
	AnnouncedParties   pq.StringArray                   `db:"announced_parties"`
	OurVersionsURL     sql.NullString                   `db:"our_versions_url"`
	LastError          sql.NullString                   `db:"last_error"`
	Created            time.Time                        `db:"created"`
	LastUpdated        time.Time                        `db:"last_updated"`
}

const partnerColumns = `id, network_id, name, initiator, state, outbound_token, partner_versions_url, version,
	endpoints, roles, locations_url, tariffs_url, tokens_url, sessions_url, cdrs_url, announced_parties, our_versions_url, last_error, created, last_updated`

func (r partnerRow) toPartner() Partner {
	return Partner{
		ID: r.ID, NetworkID: r.NetworkID, Name: r.Name, Initiator: Initiator(r.Initiator), State: State(r.State),
		OutboundToken: r.OutboundToken.String, PartnerVersionsURL: r.PartnerVersionsURL.String,
		Version: r.Version.String, Endpoints: r.Endpoints.V, Roles: r.Roles.V,
		LocationsURL: r.LocationsURL.String, TariffsURL: r.TariffsURL.String, TokensURL: r.TokensURL.String,
		SessionsURL: r.SessionsURL.String, CDRsURL: r.CDRsURL.String, AnnouncedParties: []string(r.AnnouncedParties),
		OurVersionsURL: r.OurVersionsURL.String, LastError: r.LastError.String,
		Created: r.Created.UTC(), LastUpdated: r.LastUpdated.UTC(),
	}
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// CreateInvited makes a partner of network that will register with us and returns it with
// the TOKEN_A to hand over; only the token's hash is stored.
func (s *Store) CreateInvited(ctx context.Context, network uuid.UUID, name string) (Partner, string, error) {
	tokenA := newToken()
	p, err := s.insert(ctx, network, name, InitiatorPartner, hashToken(tokenA), nil, "")
	return p, tokenA, err
}

// CreateInviting makes a partner of network we are about to register with, and returns the
// TOKEN_B that the partner will use to call us (it must be valid before we POST our
// credentials, because the partner calls our versions endpoint with it while answering).
func (s *Store) CreateInviting(ctx context.Context, network uuid.UUID, name, versionsURL string) (Partner, string, error) {
	tokenB := newToken()
	p, err := s.insert(ctx, network, name, InitiatorEvroam, nil, hashToken(tokenB), versionsURL)
	return p, tokenB, err
}

func (s *Store) insert(ctx context.Context, network uuid.UUID, name string, initiator Initiator, tokenAHash, inboundHash []byte, versionsURL string) (Partner, error) {
	now := database.Timestamp(s.now())
	p := Partner{ID: uuid.New(), NetworkID: network, Name: name, Initiator: initiator, State: StatePending,
		PartnerVersionsURL: versionsURL, Endpoints: []Endpoint{}, Roles: []CredentialsRole{}, AnnouncedParties: []string{},
		Created: now, LastUpdated: now}
	const q = `
	INSERT INTO ocpi_partners (id, network_id, name, initiator, state, token_a_hash, inbound_token_hash,
		partner_versions_url, created, last_updated)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`
	if _, err := s.q.ExecContext(ctx, q, p.ID, network, name, initiator, p.State, tokenAHash, inboundHash, nullString(versionsURL), now); err != nil {
		return Partner{}, fmt.Errorf("insert OCPI partner: %w", database.Translate(err))
	}
	return p, nil
}

// Get returns partner id if its network is among visible. Errors: ErrPartnerNotFound.
func (s *Store) Get(ctx context.Context, visible []uuid.UUID, id uuid.UUID) (Partner, error) {
	var row partnerRow
	const q = `SELECT ` + partnerColumns + ` FROM ocpi_partners WHERE id = $1 AND network_id = ANY($2)`
	err := sqlx.GetContext(ctx, s.q, &row, q, id, pq.Array(visible))
	if errors.Is(err, sql.ErrNoRows) {
		return Partner{}, ErrPartnerNotFound
	}
	if err != nil {
		return Partner{}, fmt.Errorf("get OCPI partner %s: %w", id, database.Translate(err))
	}
	return row.toPartner(), nil
}

// get returns partner id, whatever its network. Errors: ErrPartnerNotFound.
func (s *Store) get(ctx context.Context, id uuid.UUID) (Partner, error) {
	var row partnerRow
	err := sqlx.GetContext(ctx, s.q, &row, `SELECT `+partnerColumns+` FROM ocpi_partners WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Partner{}, ErrPartnerNotFound
	}
	if err != nil {
		return Partner{}, fmt.Errorf("get OCPI partner %s: %w", id, database.Translate(err))
	}
	return row.toPartner(), nil
}

// List returns a page of the partners of the visible networks in (last_updated, id) order
// and the total.
func (s *Store) List(ctx context.Context, visible []uuid.UUID, p paging.Page) ([]Partner, paging.Meta, error) {
	var w database.Where
	w.AddNetworks("network_id", visible)
	w.Window("last_updated", p.DateFrom, p.DateTo)
	var rows []partnerRow
	more, err := database.SelectPage(ctx, s.q, &rows, partnerColumns, "ocpi_partners", &w, database.Order{Updated: "last_updated", ID: "id"}, p)
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("list OCPI partners: %w", err)
	}
	var m paging.Meta
	if m.Total, err = database.Count(ctx, s.q, "ocpi_partners", &w); err != nil {
		return nil, paging.Meta{}, fmt.Errorf("count OCPI partners: %w", err)
	}
	out := make([]Partner, len(rows))
	for i, r := range rows {
		out[i] = r.toPartner()
	}
	if more {
		last := out[len(out)-1]
		m.Next = &paging.Cursor{Updated: last.LastUpdated, ID: last.ID.String()}
	}
	return out, m, nil
}

// caller is who an OCPI request comes from: the partner and which of its tokens it used.
type caller struct {
	Partner Partner
	TokenA  bool   // the request carries the partner's TOKEN_A (only versions and credentials accept it)
	Token   string // the token the request carried
}

// Authenticate finds the partner that owns one of the candidate tokens: a TOKEN_A of a
// pending invitation, or the token a pending or registered partner uses with us (or the one
// we offered it in a credentials update under way). ok is false when no partner owns any of
// them.
func (s *Store) Authenticate(ctx context.Context, candidates []string) (caller, bool, error) {
	if len(candidates) == 0 {
		return caller{}, false, nil
	}
	hashes := make([][]byte, len(candidates))
	for i, c := range candidates {
		hashes[i] = hashToken(c)
	}
	var row struct {
		partnerRow
		TokenAHash  []byte `db:"token_a_hash"`
		InboundHash []byte `db:"inbound_token_hash"`
		NextHash    []byte `db:"next_inbound_token_hash"`
	}
	const q = `
	SELECT ` + partnerColumns + `, token_a_hash, inbound_token_hash, next_inbound_token_hash
	FROM ocpi_partners
	WHERE state IN ('PENDING', 'REGISTERED')
		AND (token_a_hash = ANY($1) OR inbound_token_hash = ANY($1) OR next_inbound_token_hash = ANY($1))
	LIMIT 1`
	err := sqlx.GetContext(ctx, s.q, &row, q, pq.ByteaArray(hashes))
	if errors.Is(err, sql.ErrNoRows) {
		return caller{}, false, nil
	}
	if err != nil {
		return caller{}, false, fmt.Errorf("authenticate OCPI token: %w", database.Translate(err))
	}
	c := caller{Partner: row.toPartner()}
	for i, h := range hashes {
		switch {
		case row.TokenAHash != nil && string(h) == string(row.TokenAHash):
			c.TokenA, c.Token = true, candidates[i]
		case row.InboundHash != nil && string(h) == string(row.InboundHash),
			row.NextHash != nil && string(h) == string(row.NextHash):
			c.Token = candidates[i]
		default:
			continue
		}
		break
	}
	return c, true, nil
}

// registration is what a completed handshake stores.
type registration struct {
	InboundToken       string // the token the partner will use with us (we store its hash)
	OutboundToken      string // the token we use with the partner
	PartnerVersionsURL string
	Version            string
	Endpoints          []Endpoint
	Roles              []CredentialsRole
	Announced          []string // the parties our credentials named (partyKey)
	OurVersionsURL     string   // the versions URL our credentials named
}

// moduleURLs are the partner's endpoints evroam uses, from its version details.
type moduleURLs struct {
	Locations, Tariffs, Tokens, Sessions, CDRs string
}

func modulesOf(endpoints []Endpoint) moduleURLs {
	return moduleURLs{
		Locations: endpointURL(endpoints, "locations", RoleReceiver),
		Tariffs:   endpointURL(endpoints, "tariffs", RoleReceiver),
		Tokens:    endpointURL(endpoints, "tokens", RoleSender),
		Sessions:  endpointURL(endpoints, "sessions", RoleReceiver),
		CDRs:      endpointURL(endpoints, "cdrs", RoleReceiver),
	}
}

// setRegistered records a completed handshake (POST or PUT of credentials, or our own
// registration) for partner id, provided the partner is still in state from and, when
// matchHash is a column name, that column still holds hash: the check that makes two racing
// registrations end with exactly one winner. The TOKEN_A is forgotten. Errors: errStateChanged.
func (s *Store) setRegistered(ctx context.Context, id uuid.UUID, from State, matchColumn string, matchHash []byte, r registration) error {
	q := `
	UPDATE ocpi_partners SET
		state = 'REGISTERED', token_a_hash = NULL, inbound_token_hash = $3, outbound_token = $4,
		partner_versions_url = $5, version = $6, endpoints = $7, roles = $8, locations_url = $9,
		announced_parties = $10, our_versions_url = $11, next_inbound_token_hash = NULL,
		last_error = NULL, last_updated = $12, tariffs_url = $13, tokens_url = $14, sessions_url = $15, cdrs_url = $16
	WHERE id = $1 AND state = $2`
	m := modulesOf(r.Endpoints)
	args := []any{id, from, hashToken(r.InboundToken), r.OutboundToken, r.PartnerVersionsURL, r.Version,
		database.JSON[[]Endpoint]{V: r.Endpoints}, database.JSON[[]CredentialsRole]{V: r.Roles},
		nullString(m.Locations), pq.StringArray(nonNilStrings(r.Announced)), nullString(r.OurVersionsURL),
		database.Timestamp(s.now()), nullString(m.Tariffs), nullString(m.Tokens), nullString(m.Sessions), nullString(m.CDRs)}
	switch matchColumn {
	case "":
	case "token_a_hash", "inbound_token_hash", "next_inbound_token_hash":
		q += ` AND ` + matchColumn + ` = $17`
		args = append(args, matchHash)
	default:
		panic("ocpi: setRegistered: bad column " + matchColumn)
	}
	res, err := s.q.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("register OCPI partner %s: %w", id, database.Translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errStateChanged
	}
	return nil
}

// setFailed records that our registration with partner id failed.
func (s *Store) setFailed(ctx context.Context, id uuid.UUID, reason string) error {
	const q = `
	UPDATE ocpi_partners SET state = 'FAILED', inbound_token_hash = NULL, last_error = $2, last_updated = $3
	WHERE id = $1 AND state = 'PENDING'`
	if _, err := s.q.ExecContext(ctx, q, id, reason, database.Timestamp(s.now())); err != nil {
		return fmt.Errorf("mark OCPI partner %s failed: %w", id, database.Translate(err))
	}
	return nil
}

// setUnregistered forgets every token of partner id and drops its queued pushes, provided the
// partner is registered (and, when inboundHash is not nil, still uses that token).
// Errors: errStateChanged.
func (s *Store) setUnregistered(ctx context.Context, id uuid.UUID, inboundHash []byte) error {
	// One statement, so the state change and the dropped pushes commit together.
	q := `
	WITH unregistered AS (
		UPDATE ocpi_partners SET state = 'UNREGISTERED', token_a_hash = NULL, inbound_token_hash = NULL,
			next_inbound_token_hash = NULL, outbound_token = NULL, locations_url = NULL, tariffs_url = NULL,
			tokens_url = NULL, sessions_url = NULL, cdrs_url = NULL, tokens_synced_at = NULL,
			last_updated = $2
		WHERE id = $1 AND state = 'REGISTERED' AND ($3::bytea IS NULL OR inbound_token_hash = $3)
		RETURNING id
	), dropped AS (
		DELETE FROM ocpi_deliveries WHERE partner_id IN (SELECT id FROM unregistered)
	), forgotten AS (
		-- Its tokens authorise no more (every node hears it on tokens_changed); its sessions
		-- and CDRs stay, with the token they were started with.
		DELETE FROM tokens WHERE ocpi_partner_id IN (SELECT id FROM unregistered)
	)
	SELECT count(*) FROM unregistered`
	var hash any // NULL: any token
	if inboundHash != nil {
		hash = inboundHash
	}
	var n int
	if err := sqlx.GetContext(ctx, s.q, &n, q, id, database.Timestamp(s.now()), hash); err != nil {
		return fmt.Errorf("unregister OCPI partner %s: %w", id, database.Translate(err))
	}
	if n == 0 {
		return errStateChanged
	}
	return nil
}

// Delete removes partner id, if its network is among visible, and its queued pushes.
// Errors: ErrPartnerNotFound.
func (s *Store) Delete(ctx context.Context, visible []uuid.UUID, id uuid.UUID) error {
	res, err := s.q.ExecContext(ctx, `DELETE FROM ocpi_partners WHERE id = $1 AND network_id = ANY($2)`, id, pq.Array(visible))
	if err != nil {
		return fmt.Errorf("delete OCPI partner %s: %w", id, database.Translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrPartnerNotFound
	}
	return nil
}

// ourRoles returns evroam's parties for the Credentials object a partner of network gets:
// that network and every network below it, each a CPO, the partner's own first.
func (s *Store) ourRoles(ctx context.Context, network uuid.UUID) ([]CredentialsRole, error) {
	var rows []struct {
		Name        string `db:"name"`
		CountryCode string `db:"country_code"`
		PartyID     string `db:"party_id"`
	}
	const q = `
	SELECT n.name, n.country_code, n.party_id
	FROM ocpi_network_scope s
	JOIN networks n ON n.id = s.network_id
	WHERE s.ancestor_id = $1
	ORDER BY n.id <> $1, n.created, n.id`
	if err := sqlx.SelectContext(ctx, s.q, &rows, q, network); err != nil {
		return nil, fmt.Errorf("list networks for OCPI roles: %w", database.Translate(err))
	}
	out := make([]CredentialsRole, len(rows))
	for i, r := range rows {
		out[i] = CredentialsRole{Role: "CPO", CountryCode: r.CountryCode, PartyID: r.PartyID}
		out[i].BusinessDetails.Name = truncate(r.Name, 100)
	}
	return out, nil
}

// staleAnnouncements returns the registered partners whose scope's parties are no longer
// the ones our credentials named, with the parties they have now, provided none of their
// pushes waits under a party that would no longer be named (it goes first: pushes go only
// under named parties).
func (s *Store) staleAnnouncements(ctx context.Context) ([]Partner, [][]string, error) {
	var rows []struct {
		partnerRow
		Current pq.StringArray `db:"current_parties"`
	}
	const q = `
	WITH cur AS (
		SELECT pt.id, ARRAY(
			SELECT upper(n.country_code || '*' || n.party_id)
			FROM ocpi_network_scope s
			JOIN networks n ON n.id = s.network_id
			WHERE s.ancestor_id = pt.network_id) AS parties
		FROM ocpi_partners pt
		WHERE pt.state = 'REGISTERED' AND pt.outbound_token IS NOT NULL
	)
	SELECT ` + partnerColumns + `, cur.parties AS current_parties
	FROM ocpi_partners
	JOIN cur USING (id)
	WHERE NOT (cur.parties @> announced_parties AND cur.parties <@ announced_parties)
		AND NOT EXISTS (
			SELECT 1
			FROM ocpi_deliveries d
			LEFT JOIN ocpi_locations c ON c.seq = d.location_seq
			CROSS JOIN LATERAL (SELECT upper(coalesce(c.country_code, d.country_code) || '*' ||
				coalesce(c.party_id, d.party_id)) AS party) x
			WHERE d.partner_id = ocpi_partners.id
				AND x.party = ANY(announced_parties)
				AND NOT x.party = ANY(cur.parties))`
	if err := sqlx.SelectContext(ctx, s.q, &rows, q); err != nil {
		return nil, nil, fmt.Errorf("find OCPI partners to tell of new parties: %w", database.Translate(err))
	}
	ps, current := make([]Partner, len(rows)), make([][]string, len(rows))
	for i, r := range rows {
		ps[i], current[i] = r.toPartner(), []string(r.Current)
	}
	return ps, current, nil
}

// offerToken records tokenHash as the token we offer registered partner id in a
// credentials update: the partner may call us with it (as well as with its current token)
// until the update ends.
func (s *Store) offerToken(ctx context.Context, id uuid.UUID, tokenHash []byte) error {
	const q = `UPDATE ocpi_partners SET next_inbound_token_hash = $2 WHERE id = $1 AND state = 'REGISTERED'`
	res, err := s.q.ExecContext(ctx, q, id, tokenHash)
	if err != nil {
		return fmt.Errorf("offer a token to OCPI partner %s: %w", id, database.Translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errStateChanged
	}
	return nil
}

// withdrawToken forgets the token offered to partner id in a credentials update that failed,
// and records why.
func (s *Store) withdrawToken(ctx context.Context, id uuid.UUID, tokenHash []byte, reason string) error {
	const q = `
	UPDATE ocpi_partners SET next_inbound_token_hash = NULL, last_error = $3
	WHERE id = $1 AND next_inbound_token_hash = $2`
	if _, err := s.q.ExecContext(ctx, q, id, tokenHash, reason); err != nil {
		return fmt.Errorf("withdraw the token offered to OCPI partner %s: %w", id, database.Translate(err))
	}
	return nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// truncate cuts s to at most n characters (OCPI string(n) counts characters).
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
