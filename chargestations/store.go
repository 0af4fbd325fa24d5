package chargestations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/evroam/evroam/evse"
	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/schema"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Store keeps charge-station records (without their EVSEs, which package evse stores) in
// PostgreSQL. A Store made by NewStore runs each statement on the pool; one made by WithTx
// runs in the caller's transaction.
type Store struct {
	q   sqlx.ExtContext
	now func() time.Time
}

// NewStore returns a Store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{q: database.Prepared(db), now: time.Now} }

// WithTx returns a Store whose statements run in tx.
func (s *Store) WithTx(tx *sqlx.Tx) *Store { return &Store{q: database.WithTx(s.q, tx), now: s.now} }

type stationRow struct {
	ID                      string                              `db:"id"`
	NetworkID               uuid.UUID                           `db:"network_id"`
	LocationID              string                              `db:"location_id"`
	Name                    sql.NullString                      `db:"name"`
	DeployState             string                              `db:"deploy_state"`
	InstallationDate        sql.NullTime                        `db:"installation_date"`
	DefaultTariffID         string                              `db:"default_charge_station_tariff_id"`
	ChargerType             string                              `db:"charger_type"`
	Capabilities            pq.StringArray                      `db:"capabilities"`
	ContactlessType         sql.NullString                      `db:"contactless_type"`
	TapToStop               sql.NullBool                        `db:"tap_to_stop"`
	StopOnParking           sql.NullBool                        `db:"stop_on_parking"`
	DefaultDirections       database.JSON[[]schema.DisplayText] `db:"default_charge_station_directions"`
	DefaultFloorLevel       sql.NullString                      `db:"default_charge_station_floor_level"`
	MaintenanceInfo         sql.NullString                      `db:"maintenance_info"`
	Remarks                 sql.NullString                      `db:"remarks"`
	SecurityProfile         int                                 `db:"security_profile"`
	PasswordHash            sql.NullString                      `db:"ocpp_password_hash"`
	PasswordVerifier        []byte                              `db:"ocpp_password_verifier"`
	HeartbeatInterval       sql.NullInt64                       `db:"heartbeat_interval"`
	ChargePointVendor       sql.NullString                      `db:"charge_point_vendor"`
	ChargePointModel        sql.NullString                      `db:"charge_point_model"`
	ChargePointSerialNumber sql.NullString                      `db:"charge_point_serial_number"`
	ChargeBoxSerialNumber   sql.NullString                      `db:"charge_box_serial_number"`
	FirmwareVersion         sql.NullString                      `db:"firmware_version"`
	ICCID                   sql.NullString                      `db:"iccid"`
	IMSI                    sql.NullString                      `db:"imsi"`
	MeterType               sql.NullString                      `db:"meter_type"`
	MeterSerialNumber       sql.NullString                      `db:"meter_serial_number"`
	ClientIPAddress         sql.NullString                      `db:"client_ip_address"`
	RemoteManageable        sql.NullBool                        `db:"remote_manageable"`
	ConnectivityStatus      sql.NullString                      `db:"connectivity_status"`
	ProtocolVersion         sql.NullString                      `db:"protocol_version"`
	Endpoint                sql.NullString                      `db:"endpoint"`
	OnboardingState         string                              `db:"onboarding_state"`
	LastBootAt              sql.NullTime                        `db:"last_boot_at"`
	LastHeartbeatAt         sql.NullTime                        `db:"last_heartbeat_at"`
	LastAttemptAt           sql.NullTime                        `db:"last_connection_attempt_at"`
	LastConnectionError     sql.NullString                      `db:"last_connection_error"`
	ProfilePending          sql.NullInt64                       `db:"security_profile_pending"`
	ProfileError            sql.NullString                      `db:"security_profile_error"`
	FirmwareUpdateStatus    sql.NullString                      `db:"firmware_update_status"`
	DiagnosticsStatus       sql.NullString                      `db:"diagnostics_status"`
	ETag                    uuid.UUID                           `db:"etag"`
	Created                 time.Time                           `db:"created"`
	LastUpdated             time.Time                           `db:"last_updated"`
	StationUpdated          time.Time                           `db:"station_last_updated"`
	// EVSEs is the station's EVSEs as kept in evses_doc (migration 0006), so a station is
	// read with its EVSEs in one primary-key lookup.
	EVSEs []byte `db:"evses_doc"`
	// RowVersion is the row version read (PostgreSQL's xmin, see ChargeStation.RowVersion).
	RowVersion int64 `db:"row_version"`
}

const columns = `id, network_id, location_id, name, deploy_state, installation_date,
	default_charge_station_tariff_id, charger_type, capabilities, contactless_type, tap_to_stop,
	stop_on_parking, default_charge_station_directions, default_charge_station_floor_level,
	maintenance_info, remarks, security_profile, ocpp_password_hash, ocpp_password_verifier, heartbeat_interval,
	charge_point_vendor, charge_point_model, charge_point_serial_number, charge_box_serial_number,
	firmware_version, iccid, imsi, meter_type, meter_serial_number, client_ip_address,
	remote_manageable, connectivity_status, protocol_version, endpoint, onboarding_state,
	last_boot_at, last_heartbeat_at, last_connection_attempt_at, last_connection_error,
	security_profile_pending, security_profile_error, firmware_update_status, diagnostics_status,
	etag, created, last_updated, station_last_updated, evses_doc, xmin::text::bigint AS row_version`

func toRow(cs ChargeStation) stationRow {
	caps := make(pq.StringArray, len(cs.Capabilities))
	for i, c := range cs.Capabilities {
		caps[i] = string(c)
	}
	g := cs.Gateway
	r := stationRow{
		ID: cs.ID, NetworkID: cs.NetworkID, LocationID: cs.LocationID, Name: database.NullString(cs.Name),
		DeployState: string(cs.DeployState), InstallationDate: database.NullTime(cs.InstallationDate),
		DefaultTariffID: cs.DefaultTariffID, ChargerType: string(cs.ChargerType), Capabilities: caps,
		ContactlessType: database.NullString(cs.ContactlessType), TapToStop: database.NullBool(cs.TapToStop),
		StopOnParking:     database.NullBool(cs.StopOnParking),
		DefaultDirections: database.JSON[[]schema.DisplayText]{V: cs.DefaultDirections},
		DefaultFloorLevel: database.NullString(cs.DefaultFloorLevel), MaintenanceInfo: database.NullString(cs.MaintenanceInfo),
		Remarks: database.NullString(cs.Remarks), SecurityProfile: int(cs.SecurityProfile),
		ChargePointVendor: database.NullString(g.ChargePointVendor), ChargePointModel: database.NullString(g.ChargePointModel),
		ChargePointSerialNumber: database.NullString(g.ChargePointSerialNumber),
		ChargeBoxSerialNumber:   database.NullString(g.ChargeBoxSerialNumber), FirmwareVersion: database.NullString(g.FirmwareVersion),
		ICCID: database.NullString(g.ICCID), IMSI: database.NullString(g.IMSI), MeterType: database.NullString(g.MeterType),
		MeterSerialNumber: database.NullString(g.MeterSerialNumber), ClientIPAddress: database.NullString(g.ClientIPAddress),
		RemoteManageable: database.NullBool(g.RemoteManageable), ConnectivityStatus: database.NullString(g.ConnectivityStatus),
		ProtocolVersion: database.NullString(g.ProtocolVersion), Endpoint: database.NullString(g.Endpoint),
		OnboardingState: string(g.OnboardingState), LastBootAt: database.NullTime(g.LastBootAt),
		LastHeartbeatAt: database.NullTime(g.LastHeartbeatAt),
		ETag:            cs.ETag, Created: cs.Created, LastUpdated: cs.LastUpdated, StationUpdated: cs.StationUpdated,
	}
	r.PasswordVerifier = cs.PasswordVerifier
	if cs.PasswordHash != "" {
		r.PasswordHash = sql.NullString{String: cs.PasswordHash, Valid: true}
	}
	if g.HeartbeatInterval != nil {
		r.HeartbeatInterval = sql.NullInt64{Int64: int64(*g.HeartbeatInterval), Valid: true}
	}
	if r.OnboardingState == "" {
		r.OnboardingState = string(schema.OnboardingPending)
	}
	return r
}

func (r stationRow) toStation() (ChargeStation, error) {
	caps := make([]schema.Capability, len(r.Capabilities))
	for i, c := range r.Capabilities {
		caps[i] = schema.Capability(c)
	}
	cs := ChargeStation{
		ID: r.ID, NetworkID: r.NetworkID, LocationID: r.LocationID, Name: database.StringPtr[string](r.Name),
		DeployState: schema.DeployState(r.DeployState), InstallationDate: database.TimePtr(r.InstallationDate),
		DefaultTariffID: r.DefaultTariffID, ChargerType: schema.ChargerType(r.ChargerType),
		Capabilities: caps, ContactlessType: database.StringPtr[schema.ContactlessType](r.ContactlessType),
		TapToStop: database.BoolPtr(r.TapToStop), StopOnParking: database.BoolPtr(r.StopOnParking),
		DefaultDirections: r.DefaultDirections.V, DefaultFloorLevel: database.StringPtr[string](r.DefaultFloorLevel),
		MaintenanceInfo: database.StringPtr[string](r.MaintenanceInfo), Remarks: database.StringPtr[string](r.Remarks),
		SecurityProfile: schema.SecurityProfile(r.SecurityProfile), PasswordHash: r.PasswordHash.String,
		PasswordVerifier: r.PasswordVerifier,
		Gateway: Gateway{
			ChargePointVendor: database.StringPtr[string](r.ChargePointVendor), ChargePointModel: database.StringPtr[string](r.ChargePointModel),
			ChargePointSerialNumber: database.StringPtr[string](r.ChargePointSerialNumber),
			ChargeBoxSerialNumber:   database.StringPtr[string](r.ChargeBoxSerialNumber), FirmwareVersion: database.StringPtr[string](r.FirmwareVersion),
			ICCID: database.StringPtr[string](r.ICCID), IMSI: database.StringPtr[string](r.IMSI), MeterType: database.StringPtr[string](r.MeterType),
			MeterSerialNumber: database.StringPtr[string](r.MeterSerialNumber), ClientIPAddress: database.StringPtr[string](r.ClientIPAddress),
			RemoteManageable:   database.BoolPtr(r.RemoteManageable),
			ConnectivityStatus: database.StringPtr[schema.ConnectivityStatus](r.ConnectivityStatus),
			ProtocolVersion:    database.StringPtr[schema.ProtocolVersion](r.ProtocolVersion), Endpoint: database.StringPtr[string](r.Endpoint),
			OnboardingState: schema.OnboardingState(r.OnboardingState), LastBootAt: database.TimePtr(r.LastBootAt),
			LastHeartbeatAt: database.TimePtr(r.LastHeartbeatAt), LastConnectionAttemptAt: database.TimePtr(r.LastAttemptAt),
			LastConnectionError:    database.StringPtr[string](r.LastConnectionError),
			SecurityProfilePending: intPtr(r.ProfilePending), SecurityProfileError: database.StringPtr[string](r.ProfileError),
			FirmwareUpdateStatus: database.StringPtr[string](r.FirmwareUpdateStatus),
			DiagnosticsStatus:    database.StringPtr[string](r.DiagnosticsStatus),
		},
		ETag: r.ETag, Created: r.Created.UTC(), LastUpdated: r.LastUpdated.UTC(), StationUpdated: r.StationUpdated.UTC(),
		RowVersion: r.RowVersion,
	}
	if r.HeartbeatInterval.Valid {
		n := int(r.HeartbeatInterval.Int64)
		cs.Gateway.HeartbeatInterval = &n
	}
	var err error
	cs.EVSEs, err = evse.DecodeRows(r.EVSEs)
	if r.ConnectivityStatus.String == string(schema.ConnectivityOffline) {
		for i := range cs.EVSEs {
			cs.EVSEs[i].StationOffline = true
		}
	}
	return cs, err
}

// Get returns station id with its EVSEs when its network is visible. Errors: ErrNotFound.
func (s *Store) Get(ctx context.Context, visible []uuid.UUID, id string) (ChargeStation, error) {
	return s.get(ctx, visible, id, false)
}

// GetForUpdate is Get with the station's row locked until the transaction ends (the store
// must be one made by WithTx). Errors: ErrNotFound.
func (s *Store) GetForUpdate(ctx context.Context, visible []uuid.UUID, id string) (ChargeStation, error) {
	return s.get(ctx, visible, id, true)
}

func (s *Store) get(ctx context.Context, visible []uuid.UUID, id string, forUpdate bool) (ChargeStation, error) {
	q := `
	SELECT ` + columns + `
	FROM charge_stations
	WHERE id = $1 AND network_id = ANY($2)`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var row stationRow
	err := sqlx.GetContext(ctx, s.q, &row, q, id, pq.Array(visible))
	if errors.Is(err, sql.ErrNoRows) {
		return ChargeStation{}, ErrNotFound
	}
	if err != nil {
		return ChargeStation{}, fmt.Errorf("get charge station %s: %w", id, database.Translate(err))
	}
	return row.toStation()
}

// Create inserts cs (without EVSEs) as it is: etag and timestamps are the caller's.
// The read-only gateway fields start empty. Errors: ErrIDTaken.
func (s *Store) Create(ctx context.Context, cs ChargeStation) error {
	cs.Gateway = Gateway{OnboardingState: schema.OnboardingPending}
	_, err := sqlx.NamedExecContext(ctx, s.q, insertStation, toRow(cs))
	if database.IsUniqueViolation(err, "charge_stations_pkey") {
		return ErrIDTaken
	}
	if err != nil {
		return fmt.Errorf("insert charge station %s: %w", cs.ID, database.Translate(err))
	}
	return nil
}

// insertStation inserts one station row, or many (sqlx repeats the VALUES list per row).
const insertStation = `
	INSERT INTO charge_stations (id, network_id, location_id, name, deploy_state, installation_date,
		default_charge_station_tariff_id, charger_type, capabilities, contactless_type, tap_to_stop,
		stop_on_parking, default_charge_station_directions, default_charge_station_floor_level,
		maintenance_info, remarks, security_profile, ocpp_password_hash, ocpp_password_verifier, onboarding_state,
		etag, created, last_updated, station_last_updated)
	VALUES (:id, :network_id, :location_id, :name, :deploy_state, :installation_date,
		:default_charge_station_tariff_id, :charger_type, :capabilities, :contactless_type, :tap_to_stop,
		:stop_on_parking, :default_charge_station_directions, :default_charge_station_floor_level,
		:maintenance_info, :remarks, :security_profile, :ocpp_password_hash, :ocpp_password_verifier, :onboarding_state,
		:etag, :created, :last_updated, :station_last_updated)`

// CreateMany inserts new stations, all in one statement (Create's, with many rows), and
// returns the ids it inserted: a station whose id is taken is left out.
func (s *Store) CreateMany(ctx context.Context, css []ChargeStation) (map[string]bool, error) {
	rows := make([]stationRow, len(css))
	for i, cs := range css {
		cs.Gateway = Gateway{OnboardingState: schema.OnboardingPending}
		rows[i] = toRow(cs)
	}
	q, args, err := sqlx.Named(insertStation+` ON CONFLICT (id) DO NOTHING RETURNING id`, rows)
	if err != nil {
		return nil, fmt.Errorf("insert %d charge stations: %w", len(css), err)
	}
	var ids []string
	if err := sqlx.SelectContext(ctx, s.q, &ids, sqlx.Rebind(sqlx.DOLLAR, q), args...); err != nil {
		return nil, fmt.Errorf("insert %d charge stations: %w", len(css), database.Translate(err))
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// Update writes the client-writable fields of cs, its network, password hash, etag and
// timestamps. The read-only gateway fields are never written here, so a report that the
// gateway records meanwhile is kept.
func (s *Store) Update(ctx context.Context, cs ChargeStation) error {
	const q = `
	UPDATE charge_stations SET
		network_id = :network_id, location_id = :location_id, name = :name, deploy_state = :deploy_state,
		installation_date = :installation_date,
		default_charge_station_tariff_id = :default_charge_station_tariff_id,
		charger_type = :charger_type, capabilities = :capabilities, contactless_type = :contactless_type,
		tap_to_stop = :tap_to_stop, stop_on_parking = :stop_on_parking,
		default_charge_station_directions = :default_charge_station_directions,
		default_charge_station_floor_level = :default_charge_station_floor_level,
		maintenance_info = :maintenance_info, remarks = :remarks, security_profile = :security_profile,
		ocpp_password_hash = :ocpp_password_hash, ocpp_password_verifier = :ocpp_password_verifier,
		-- a password set through the API ends any rotation in progress (0018)
		ocpp_password_other_hash = CASE WHEN ocpp_password_hash IS DISTINCT FROM :ocpp_password_hash THEN NULL ELSE ocpp_password_other_hash END,
		ocpp_password_other_verifier = CASE WHEN ocpp_password_hash IS DISTINCT FROM :ocpp_password_hash THEN NULL ELSE ocpp_password_other_verifier END,
		etag = :etag, last_updated = :last_updated,
		station_last_updated = :station_last_updated
	WHERE id = :id`
	if _, err := sqlx.NamedExecContext(ctx, s.q, q, toRow(cs)); err != nil {
		return fmt.Errorf("update charge station %s: %w", cs.ID, database.Translate(err))
	}
	return nil
}

// List returns a page of visible stations with their EVSEs, in (last_updated, id) order, or
// (station-only last_updated, id) when f.ExcludeEVSEsModified, and the total. The total of an
// unfiltered list comes from the kept counts (database.CountOf); one filtered by date only
// counts the smaller of the window and what lies outside it (database.CountWindow); any
// other filter counts its matches.
func (s *Store) List(ctx context.Context, visible []uuid.UUID, f Filter, p paging.Page) ([]ChargeStation, paging.Meta, error) {
	l := newListQuery(visible, f, p)
	var rows []stationRow
	more, err := database.SelectPage(ctx, s.q, &rows, columns, "charge_stations cs", &l.where, l.order, p)
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("list charge stations: %w", err)
	}
	out := make([]ChargeStation, len(rows))
	for i, r := range rows {
		if out[i], err = r.toStation(); err != nil {
			return nil, paging.Meta{}, err
		}
	}
	var last cursorKey
	if len(out) > 0 {
		cs := out[len(out)-1]
		last = cursorKey{id: cs.ID, updated: cs.LastUpdated}
		if f.ExcludeEVSEsModified {
			last.updated = cs.StationUpdated
		}
	}
	m, err := s.listMeta(ctx, l, more, last)
	return out, m, err
}

// PageEntry is a station's place in a list page (ListEntries): its id and the version of its
// row.
type PageEntry struct {
	ID         string
	RowVersion int64
}

// ListEntries is List without the stations' contents: which stations the page holds and the
// version of each one's row, for a caller that has most of them rendered already (the answer
// cache). The database reads a hundred index and heap entries, not a hundred documents, and
// only the last station's sort key is decoded (for the cursor).
func (s *Store) ListEntries(ctx context.Context, visible []uuid.UUID, f Filter, p paging.Page) ([]PageEntry, paging.Meta, error) {
	l := newListQuery(visible, f, p)
	query, args := database.PageQuery("cs.id, cs.xmin::text, "+l.order.Updated+"::text", "charge_stations cs", &l.where, l.order, p)
	rows, err := s.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, paging.Meta{}, fmt.Errorf("list charge stations: %w", database.Translate(err))
	}
	defer rows.Close()
	entries := make([]PageEntry, 0, p.Limit+1)
	var lastKey string // sort key of the page's last station
	for rows.Next() {
		var e PageEntry
		var key sql.RawBytes
		if err := rows.Scan(&e.ID, &e.RowVersion, &key); err != nil {
			return nil, paging.Meta{}, fmt.Errorf("list charge stations: %w", err)
		}
		if len(entries) == p.Limit-1 { // the page's last; the row after it only tells more follow
			lastKey = string(key)
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, paging.Meta{}, fmt.Errorf("list charge stations: %w", database.Translate(err))
	}
	more := len(entries) > p.Limit && p.Limit > 0
	var last cursorKey
	if more {
		entries = entries[:p.Limit]
		last.id = entries[len(entries)-1].ID
		if last.updated, err = pq.ParseTimestamp(time.UTC, lastKey); err != nil {
			return nil, paging.Meta{}, fmt.Errorf("list charge stations: sort key %q: %w", lastKey, err)
		}
	}
	m, err := s.listMeta(ctx, l, more, last)
	return entries, m, err
}

// GetMany returns those of stations ids whose network is visible, with their EVSEs, in no
// particular order: one statement for the stations a list page did not have rendered.
func (s *Store) GetMany(ctx context.Context, visible []uuid.UUID, ids []string) ([]ChargeStation, error) {
	var rows []stationRow
	err := sqlx.SelectContext(ctx, s.q, &rows, `SELECT `+columns+` FROM charge_stations WHERE id = ANY($1) AND network_id = ANY($2)`,
		pq.Array(ids), pq.Array(visible))
	if err != nil {
		return nil, fmt.Errorf("get charge stations: %w", database.Translate(err))
	}
	return toStations(rows)
}

// PageByID returns up to limit stations of every network whose id follows after, in id
// order, with their EVSEs: the answer cache's warm-up reads the whole registry this way,
// through the primary key, one page per statement.
func (s *Store) PageByID(ctx context.Context, after string, limit int) ([]ChargeStation, error) {
	var rows []stationRow
	err := sqlx.SelectContext(ctx, s.q, &rows, `SELECT `+columns+` FROM charge_stations WHERE id > $1 ORDER BY id LIMIT $2`,
		after, limit)
	if err != nil {
		return nil, fmt.Errorf("read charge stations after %q: %w", after, database.Translate(err))
	}
	return toStations(rows)
}

func toStations(rows []stationRow) ([]ChargeStation, error) {
	out := make([]ChargeStation, len(rows))
	for i, r := range rows {
		var err error
		if out[i], err = r.toStation(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// listQuery is what List and ListEntries share: the filter's WHERE clause, the sort order,
// and whether the total must be counted (a filtered list) or can be read from the kept counts.
type listQuery struct {
	visible  []uuid.UUID
	where    database.Where
	order    database.Order
	filtered bool
	// byDateOnly: the only filter is the date window (date_from, date_to) on order.Updated,
	// whose total CountWindow finds without counting the window; networks is the WHERE
	// clause without it.
	byDateOnly       bool
	networks         database.Where
	dateFrom, dateTo *time.Time
}

func newListQuery(visible []uuid.UUID, f Filter, p paging.Page) listQuery {
	l := listQuery{visible: visible, dateFrom: p.DateFrom, dateTo: p.DateTo}
	l.networks.AddNetworks("cs.network_id", visible)
	w := &l.where
	w.AddNetworks("cs.network_id", visible)
	l.filtered = p.DateFrom != nil || p.DateTo != nil
	l.byDateOnly = l.filtered
	if f.LocationID != nil {
		w.Add("cs.location_id = %s", *f.LocationID)
		l.filtered = true
	}
	if f.OnboardingState != nil {
		w.Add("cs.onboarding_state = %s", string(*f.OnboardingState))
		l.filtered = true
	}
	if f.ConnectivityStatus != nil {
		w.Add("cs.connectivity_status = %s", string(*f.ConnectivityStatus))
		l.filtered = true
	}
	if f.Status != nil {
		// An offline station's EVSEs read UNKNOWN, and so does the station (ChargeStation.Status).
		w.Add(`CASE WHEN cs.connectivity_status = 'Offline' THEN 'UNKNOWN'
			ELSE charge_station_status(ARRAY(SELECT e.status FROM evses e WHERE e.charge_station_id = cs.id)) END = %s`, string(*f.Status))
		l.filtered = true
	}
	if f.HasFault != nil {
		// has_fault is kept by the EVSE triggers (migration 0022). The clause is literal, not a
		// parameter, so that a prepared statement's generic plan can still use the partial
		// index of faulted stations.
		if *f.HasFault {
			w.Add("cs.has_fault")
		} else {
			w.Add("NOT cs.has_fault")
		}
		l.filtered = true
	}
	l.byDateOnly = l.byDateOnly && f.LocationID == nil && f.OnboardingState == nil && f.ConnectivityStatus == nil &&
		f.Status == nil && f.HasFault == nil
	l.order = database.Order{Updated: "cs.last_updated", ID: "cs.id"}
	if f.ExcludeEVSEsModified {
		l.order.Updated = "cs.station_last_updated"
	}
	w.Window(l.order.Updated, p.DateFrom, p.DateTo)
	return l
}

// cursorKey is the sort key of a page's last station: the column the list is ordered by, and
// the id.
type cursorKey struct {
	id      string
	updated time.Time
}

// listMeta is a page's total and, when more follow, the cursor after last.
func (s *Store) listMeta(ctx context.Context, l listQuery, more bool, last cursorKey) (paging.Meta, error) {
	var m paging.Meta
	var err error
	all := func() (int, error) { return database.CountOf(ctx, s.q, "charge_stations", l.visible) }
	switch {
	case l.byDateOnly:
		m.Total, err = database.CountWindow(ctx, s.q, "charge_stations cs", &l.networks, l.order.Updated, l.dateFrom, l.dateTo, all)
	case l.filtered:
		m.Total, err = database.Count(ctx, s.q, "charge_stations cs", &l.where)
	default:
		m.Total, err = all()
	}
	if err != nil {
		return paging.Meta{}, fmt.Errorf("count charge stations: %w", err)
	}
	if more {
		m.Next = &paging.Cursor{Updated: last.updated.UTC(), ID: last.id}
	}
	return m, nil
}

// Delete removes station id and, by cascade, its EVSEs. Errors: ErrNotFound.
func (s *Store) Delete(ctx context.Context, visible []uuid.UUID, id string) error {
	res, err := s.q.ExecContext(ctx, `DELETE FROM charge_stations WHERE id = $1 AND network_id = ANY($2)`, id, pq.Array(visible))
	if err != nil {
		return fmt.Errorf("delete charge station %s: %w", id, database.Translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// CommandTarget returns, of station id, what a charger command needs to know: its network
// and the protocol version of its current (or last) OCPP connection ("" when it never
// connected), provided its network is visible, in one indexed read. Errors: ErrNotFound.
func (s *Store) CommandTarget(ctx context.Context, visible []uuid.UUID, id string) (network uuid.UUID, proto schema.ProtocolVersion, err error) {
	var row struct {
		Network  uuid.UUID      `db:"network_id"`
		Protocol sql.NullString `db:"protocol_version"`
	}
	err = sqlx.GetContext(ctx, s.q, &row, `SELECT network_id, protocol_version FROM charge_stations WHERE id = $1 AND network_id = ANY($2)`,
		id, pq.Array(visible))
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, "", ErrNotFound
	}
	if err != nil {
		return uuid.Nil, "", fmt.Errorf("get charge station %s: %w", id, database.Translate(err))
	}
	return row.Network, schema.ProtocolVersion(row.Protocol.String), nil
}

// IDsAtLocation returns the ids of the stations at a location, in id order (locations
// names them when it refuses to delete the location).
func (s *Store) IDsAtLocation(ctx context.Context, locationID string) ([]string, error) {
	var ids []string
	if err := sqlx.SelectContext(ctx, s.q, &ids, `SELECT id FROM charge_stations WHERE location_id = $1 ORDER BY id`, locationID); err != nil {
		return nil, fmt.Errorf("list stations at location %s: %w", locationID, database.Translate(err))
	}
	return ids, nil
}

// ---- Writes for the OCPP gateway. None of them changes the etag: they record what the
// station reports, not changes made through the API.

// GatewayStation is what the OCPP gateway needs to accept a connection.
type GatewayStation struct {
	Identity         string
	SecurityProfile  schema.SecurityProfile
	PasswordHash     string // bcrypt (internal/secret); "" when no password is set
	PasswordVerifier []byte // keyed verifier (internal/secret); nil when none is kept
	// OtherPasswordHash and OtherPasswordVerifier are a second password the station may log
	// in with during a rotation (migration 0018); "" when there is none.
	OtherPasswordHash     string
	OtherPasswordVerifier []byte
	// PendingSecurityProfile is the profile the station was told to move to (0: none): a
	// login that meets it completes the upgrade (migration 0024).
	PendingSecurityProfile schema.SecurityProfile
	HasBootData            bool // a BootNotification has been accepted before (onboarded)
	OnboardingState        schema.OnboardingState
	FirmwareVersion        string // as the last BootNotification gave it
	HasConfiguration       bool   // the station's configuration has been read before
	HasOperators           bool   // the station has operators its connection is forwarded to (package proxy)
	LocationID             string // the location the station stands at
}

// LookupForGateway returns the connection data of the station with OCPP identity, whatever
// its network. Errors: ErrNotFound.
func (s *Store) LookupForGateway(ctx context.Context, identity string) (GatewayStation, error) {
	found, err := s.LookupManyForGateway(ctx, []string{identity})
	if err != nil {
		return GatewayStation{}, err
	}
	st, ok := found[identity]
	if !ok {
		return GatewayStation{}, ErrNotFound
	}
	return st, nil
}

// LookupManyForGateway returns the connection data of the stations with the given OCPP
// identities that exist, whatever their network, in one statement (the gateway looks up the
// stations of many logins at once during a reconnect storm).
func (s *Store) LookupManyForGateway(ctx context.Context, identities []string) (map[string]GatewayStation, error) {
	var rows []struct {
		Identity         string         `db:"id"`
		SecurityProfile  int            `db:"security_profile"`
		PasswordHash     sql.NullString `db:"ocpp_password_hash"`
		PasswordVerifier []byte         `db:"ocpp_password_verifier"`
		OtherHash        sql.NullString `db:"ocpp_password_other_hash"`
		OtherVerifier    []byte         `db:"ocpp_password_other_verifier"`
		ProfilePending   sql.NullInt64  `db:"security_profile_pending"`
		OnboardingState  string         `db:"onboarding_state"`
		LastBootAt       sql.NullTime   `db:"last_boot_at"`
		FirmwareVersion  sql.NullString `db:"firmware_version"`
		HasConfiguration bool           `db:"has_configuration"`
		HasOperators     bool           `db:"has_operators"`
		LocationID       string         `db:"location_id"`
	}
	// A function (migration 0034), so that its plan is made once per connection rather than
	// at nearly every call.
	err := sqlx.SelectContext(ctx, s.q, &rows, `SELECT * FROM gateway_stations($1::text[])`, pq.Array(identities))
	if err != nil {
		return nil, fmt.Errorf("look up %d charge stations: %w", len(identities), database.Translate(err))
	}
	out := make(map[string]GatewayStation, len(rows))
	for _, row := range rows {
		out[row.Identity] = GatewayStation{
			Identity: row.Identity, SecurityProfile: schema.SecurityProfile(row.SecurityProfile),
			PasswordHash: row.PasswordHash.String, PasswordVerifier: row.PasswordVerifier,
			OtherPasswordHash: row.OtherHash.String, OtherPasswordVerifier: row.OtherVerifier,
			PendingSecurityProfile: schema.SecurityProfile(row.ProfilePending.Int64), HasBootData: row.LastBootAt.Valid,
			OnboardingState: schema.OnboardingState(row.OnboardingState), FirmwareVersion: row.FirmwareVersion.String,
			HasConfiguration: row.HasConfiguration, HasOperators: row.HasOperators, LocationID: row.LocationID,
		}
	}
	return out, nil
}

// ---- Password rotation (migration 0018). hash identifies the password a call is about: the
// bcrypt hash stored for it, which no other password has.

// ErrRotationSuperseded: the password a rotation call is about is no longer the one on record
// (a newer rotation, or a password set through the API, replaced it).
var ErrRotationSuperseded = fmt.Errorf("another password change replaced this one: %w", apperr.Conflict)

// OfferPassword records a new password (hash and verifier) that station identity may log in
// with from now on, alongside its current one, before it is sent to the station.
func (s *Store) OfferPassword(ctx context.Context, identity, hash string, verifier []byte) error {
	res, err := s.q.ExecContext(ctx, `UPDATE charge_stations SET ocpp_password_other_hash = $2,
		ocpp_password_other_verifier = $3, ocpp_password_other_is_old = false
	WHERE id = $1`, identity, hash, verifier)
	return rotationResult(res, err, identity, ErrNotFound)
}

// ConfirmPassword makes the offered password with hash the station's current one (the
// station accepted it); the previous one stays accepted until the station logs in with the
// new one.
func (s *Store) ConfirmPassword(ctx context.Context, identity, hash string) error {
	res, err := s.q.ExecContext(ctx, `UPDATE charge_stations SET
		ocpp_password_hash = ocpp_password_other_hash, ocpp_password_verifier = ocpp_password_other_verifier,
		ocpp_password_other_hash = ocpp_password_hash, ocpp_password_other_verifier = ocpp_password_verifier,
		ocpp_password_other_is_old = true
	WHERE id = $1 AND ocpp_password_other_hash = $2 AND NOT ocpp_password_other_is_old`, identity, hash)
	return rotationResult(res, err, identity, ErrRotationSuperseded)
}

// WithdrawPassword forgets the offered password with hash (the station refused it).
func (s *Store) WithdrawPassword(ctx context.Context, identity, hash string) error {
	res, err := s.q.ExecContext(ctx, `UPDATE charge_stations SET ocpp_password_other_hash = NULL,
		ocpp_password_other_verifier = NULL, ocpp_password_other_is_old = false
	WHERE id = $1 AND ocpp_password_other_hash = $2 AND NOT ocpp_password_other_is_old`, identity, hash)
	return rotationResult(res, err, identity, ErrRotationSuperseded)
}

// SettleRotation is told that station identity logged in with the password whose hash is
// hash, and ends a rotation the login settles: a login with an offered password makes it the
// current one; a login with the current password after the station accepted a new one
// forgets the previous one. Anything else changes nothing.
func (s *Store) SettleRotation(ctx context.Context, identity, hash string) error {
	_, err := s.q.ExecContext(ctx, `UPDATE charge_stations SET
		ocpp_password_hash = CASE WHEN ocpp_password_other_hash = $2 THEN ocpp_password_other_hash ELSE ocpp_password_hash END,
		ocpp_password_verifier = CASE WHEN ocpp_password_other_hash = $2 THEN ocpp_password_other_verifier ELSE ocpp_password_verifier END,
		ocpp_password_other_hash = NULL, ocpp_password_other_verifier = NULL, ocpp_password_other_is_old = false
	WHERE id = $1 AND ((ocpp_password_other_hash = $2 AND NOT ocpp_password_other_is_old)
		OR (ocpp_password_hash = $2 AND ocpp_password_other_is_old))`, identity, hash)
	if err != nil {
		return fmt.Errorf("settle the password rotation of %s: %w", identity, database.Translate(err))
	}
	return nil
}

// ---- Security profile upgrade (migration 0024).

// BeginProfileUpgrade records that station identity is being moved to profile: from now on it
// may also log in with it. A station whose profile is already profile or higher is a
// field error; so is profile 1 or 2 without a password on record.
func (s *Store) BeginProfileUpgrade(ctx context.Context, identity string, profile schema.SecurityProfile) error {
	var row struct {
		Profile     int  `db:"security_profile"`
		HasPassword bool `db:"has_password"`
	}
	err := sqlx.GetContext(ctx, s.q, &row, `UPDATE charge_stations SET security_profile_pending = $2, security_profile_error = NULL
	WHERE id = $1 AND security_profile < $2 AND ($2 = 3 OR ocpp_password_hash IS NOT NULL)
	RETURNING security_profile, ocpp_password_hash IS NOT NULL AS has_password`, identity, int(profile))
	if errors.Is(err, sql.ErrNoRows) {
		var cur struct {
			Profile     int  `db:"security_profile"`
			HasPassword bool `db:"has_password"`
		}
		err := sqlx.GetContext(ctx, s.q, &cur, `SELECT security_profile, ocpp_password_hash IS NOT NULL AS has_password
		FROM charge_stations WHERE id = $1`, identity)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return fmt.Errorf("security profile of %s: %w", identity, database.Translate(err))
		case cur.Profile >= int(profile):
			return apperr.FieldErrors{{Field: "profile", Message: fmt.Sprintf("the station already has security profile %d; a profile is only raised", cur.Profile)}}
		default:
			return apperr.FieldErrors{{Field: "profile", Message: fmt.Sprintf("profile %d logs in with a password and the station has none: set ocpp_password first", profile)}}
		}
	}
	if err != nil {
		return fmt.Errorf("begin the security profile upgrade of %s: %w", identity, database.Translate(err))
	}
	return nil
}

// FailProfileUpgrade ends an upgrade to profile that the station refused; reason is kept as
// the station's security_profile_error, and the old profile keeps working.
func (s *Store) FailProfileUpgrade(ctx context.Context, identity string, profile schema.SecurityProfile, reason string) error {
	_, err := s.q.ExecContext(ctx, `UPDATE charge_stations SET security_profile_pending = NULL, security_profile_error = $3
	WHERE id = $1 AND security_profile_pending = $2`, identity, int(profile), reason)
	if err != nil {
		return fmt.Errorf("record the failed security profile upgrade of %s: %w", identity, database.Translate(err))
	}
	return nil
}

// CompleteProfileUpgrade makes profile the station's security_profile: it logged in with it.
// The station's representation changes, so its etag and last_updated move.
func (s *Store) CompleteProfileUpgrade(ctx context.Context, identity string, profile schema.SecurityProfile, at time.Time) error {
	_, err := s.q.ExecContext(ctx, `UPDATE charge_stations SET security_profile = $2, security_profile_pending = NULL,
		security_profile_error = NULL, etag = gen_random_uuid(),
		last_updated = GREATEST(last_updated, $3), station_last_updated = GREATEST(station_last_updated, $3)
	WHERE id = $1 AND security_profile_pending = $2`, identity, int(profile), at.UTC())
	if err != nil {
		return fmt.Errorf("complete the security profile upgrade of %s: %w", identity, database.Translate(err))
	}
	return nil
}

func rotationResult(res sql.Result, err error, identity string, none error) error {
	if err != nil {
		return fmt.Errorf("password rotation of %s: %w", identity, database.Translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("password rotation of %s: %w", identity, none)
	}
	return nil
}

// SetPasswordVerifier stores the keyed verifier of station identity's password, provided its
// password is still the one with hash (a password changed meanwhile keeps its own).
func (s *Store) SetPasswordVerifier(ctx context.Context, identity, hash string, verifier []byte) error {
	_, err := s.q.ExecContext(ctx, `UPDATE charge_stations SET ocpp_password_verifier = $3
	WHERE id = $1 AND ocpp_password_hash = $2`, identity, hash, verifier)
	if err != nil {
		return fmt.Errorf("store the password verifier of %s: %w", identity, database.Translate(err))
	}
	return nil
}

// Presence is a station's connection starting (Online) or ending (Offline).
type Presence struct {
	Identity string
	Online   bool
	// For a connection that starts: its protocol version, the client's address and the OCPP
	// URL it connected to.
	ProtocolVersion schema.ProtocolVersion
	ClientIPAddress string
	Endpoint        string
	At              time.Time
}

// lockStations is the first step of every statement that writes many stations' rows: it
// locks them in id order, so that two such statements (a batch of heartbeats, of
// connections, of statuses) wait for each other instead of deadlocking.
const lockStations = `locked AS (
		SELECT id FROM charge_stations WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE
	)`

// RecordPresence records connections starting and ending, of many stations in one
// statement, in slice order: a station's last entry decides whether it is Online; the
// protocol, address and endpoint come from its last connection. A disconnect older than the
// station's current connection (last_connected_at) does not turn it offline. last_updated
// moves (never backwards); the etag does not. It returns the identities it found; others are
// skipped.
func (s *Store) RecordPresence(ctx context.Context, ps []Presence) (found map[string]bool, err error) {
	return s.RecordConnections(ctx, ps, nil)
}

// LoginFailure is a refused OCPP login of a station.
type LoginFailure struct {
	Identity string
	Reason   string
	At       time.Time
}

// RecordLoginFailures sets last_connection_attempt_at and last_connection_error of many
// stations in one statement (the gateway coalesces them: one entry per station); an entry
// older than the station's last attempt is skipped. last_updated does not move. Identities
// that are no station are skipped.
func (s *Store) RecordLoginFailures(ctx context.Context, fs []LoginFailure) error {
	if len(fs) == 0 {
		return nil
	}
	ids, reasons, ats := make([]string, len(fs)), make([]string, len(fs)), make([]time.Time, len(fs))
	for i, f := range fs {
		ids[i], reasons[i], ats[i] = f.Identity, f.Reason, database.Timestamp(f.At)
	}
	q := `
	WITH ` + fmt.Sprintf(lockStations, "$1") + `
	UPDATE charge_stations cs
	SET last_connection_attempt_at = f.at, last_connection_error = f.reason
	FROM locked JOIN unnest($1::text[], $2::text[], $3::timestamptz[]) AS f(id, reason, at) USING (id)
	WHERE cs.id = locked.id AND (cs.last_connection_attempt_at IS NULL OR cs.last_connection_attempt_at <= f.at)`
	if _, err := s.q.ExecContext(ctx, q, pq.Array(ids), pq.Array(reasons), pq.Array(ats)); err != nil {
		return fmt.Errorf("record %d login failures: %w", len(fs), database.Translate(err))
	}
	return nil
}

// updated runs an UPDATE … RETURNING id and returns the ids it touched.
func (s *Store) updated(ctx context.Context, what, q string, args ...any) (map[string]bool, error) {
	var ids []string
	if err := sqlx.SelectContext(ctx, s.q, &ids, q, args...); err != nil {
		return nil, fmt.Errorf("%s: %w", what, database.Translate(err))
	}
	found := make(map[string]bool, len(ids))
	for _, id := range ids {
		found[id] = true
	}
	return found, nil
}

// BootInfo is what an accepted BootNotification tells about a station. Empty strings and nil
// pointers are stored as null.
type BootInfo struct {
	ChargePointVendor       string
	ChargePointModel        string
	ChargePointSerialNumber string
	ChargeBoxSerialNumber   string
	FirmwareVersion         string
	ICCID                   string
	IMSI                    string
	MeterType               string
	MeterSerialNumber       string
	HeartbeatInterval       int   // seconds, as handed to the station
	RemoteManageable        *bool // nil when unknown
	At                      time.Time
}

// Boot is one accepted BootNotification of a station.
type Boot struct {
	Identity string
	BootInfo
}

// RecordBoots fills the read-only boot fields of many stations in one statement, sets
// onboarding_state Onboarded and last_boot_at; a station with several boots gets the last.
// last_updated moves (never backwards); the etag does not. It returns the identities it
// found; others are skipped.
func (s *Store) RecordBoots(ctx context.Context, bs []Boot) (found map[string]bool, err error) {
	return s.RecordConnections(ctx, nil, bs)
}

// RecordConnections is RecordPresence and RecordBoots at once, in one statement that writes
// each station's row once. A reconnecting station reports both within milliseconds (its
// connection, then its BootNotification), and every write of its row is a new row version
// with an entry in each of the table's seven indexes (last_updated is indexed, so none is a
// HOT update): written once, a reconnect storm costs half. The two touch different columns
// but last_updated, which takes the latest of both. It returns the identities it found.
func (s *Store) RecordConnections(ctx context.Context, ps []Presence, bs []Boot) (found map[string]bool, err error) {
	np := len(ps)
	pIDs, protocols, ips, endpoints := make([]string, np), make([]string, np), make([]string, np), make([]string, np)
	online, pAts := make([]bool, np), make([]time.Time, np)
	for i, p := range ps {
		pIDs[i], online[i], protocols[i], ips[i], endpoints[i], pAts[i] = p.Identity, p.Online,
			string(p.ProtocolVersion), p.ClientIPAddress, p.Endpoint, database.Timestamp(p.At)
	}
	nb := len(bs)
	bIDs, vendor, model, cpSerial, cbSerial, fw, iccid, imsi, meterType, meterSerial :=
		make([]string, nb), make([]string, nb), make([]string, nb), make([]string, nb), make([]string, nb),
		make([]string, nb), make([]string, nb), make([]string, nb), make([]string, nb), make([]string, nb)
	interval, bAts := make([]int64, nb), make([]time.Time, nb)
	remote := make([]sql.NullBool, nb)
	for i, b := range bs {
		bIDs[i], vendor[i], model[i], cpSerial[i], cbSerial[i], fw[i], iccid[i], imsi[i], meterType[i], meterSerial[i] =
			b.Identity, b.ChargePointVendor, b.ChargePointModel, b.ChargePointSerialNumber, b.ChargeBoxSerialNumber,
			b.FirmwareVersion, b.ICCID, b.IMSI, b.MeterType, b.MeterSerialNumber
		interval[i], bAts[i], remote[i] = int64(b.HeartbeatInterval), database.Timestamp(b.At), database.NullBool(b.RemoteManageable)
	}
	// Presence ($1–$6): a station's last entry decides whether it is Online; the protocol,
	// address and endpoint come from its last connection. Boots ($7–$19): the last one wins.
	q := `
	WITH p AS (
		SELECT * FROM unnest($1::text[], $2::bool[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
			WITH ORDINALITY AS p(id, online, protocol, ip, endpoint, at, n)
	), b AS (
		SELECT * FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
			$14::text[], $15::text[], $16::text[], $17::int[], $18::bool[], $19::timestamptz[])
			WITH ORDINALITY AS b(id, vendor, model, cp_serial, cb_serial, fw, iccid, imsi, meter_type, meter_serial,
				interval, remote, at, n)
	), ` + fmt.Sprintf(lockStations, "$1 || $7") + `, last AS (
		SELECT DISTINCT ON (id) id, online, at FROM p ORDER BY id, n DESC
	), conn AS (
		SELECT DISTINCT ON (id) id, protocol, ip, endpoint, at FROM p WHERE online ORDER BY id, n DESC
	), latest AS (
		SELECT id, max(at) AS at FROM p GROUP BY id
	), boot AS (
		SELECT DISTINCT ON (id) * FROM b ORDER BY id, n DESC
	)
	UPDATE charge_stations cs SET
		-- A disconnect older than the station's current connection (a left session swept
		-- after the station came back) leaves it as it is.
		connectivity_status = CASE WHEN last.id IS NULL THEN cs.connectivity_status
			WHEN last.online THEN 'Online'
			WHEN conn.id IS NULL AND last.at < cs.last_connected_at THEN cs.connectivity_status
			ELSE 'Offline' END,
		last_connected_at = CASE WHEN conn.id IS NULL THEN cs.last_connected_at
			ELSE GREATEST(cs.last_connected_at, conn.at) END,
		protocol_version = coalesce(conn.protocol, cs.protocol_version),
		client_ip_address = CASE WHEN conn.id IS NULL THEN cs.client_ip_address ELSE NULLIF(conn.ip, '') END,
		endpoint = CASE WHEN conn.id IS NULL THEN cs.endpoint ELSE NULLIF(conn.endpoint, '') END,
		last_connection_attempt_at = CASE WHEN conn.id IS NULL THEN cs.last_connection_attempt_at
			ELSE GREATEST(cs.last_connection_attempt_at, conn.at) END,
		last_connection_error = CASE WHEN conn.id IS NULL OR cs.last_connection_attempt_at > conn.at
			THEN cs.last_connection_error END,

		charge_point_vendor = CASE WHEN boot.id IS NULL THEN cs.charge_point_vendor ELSE NULLIF(boot.vendor, '') END,
		charge_point_model = CASE WHEN boot.id IS NULL THEN cs.charge_point_model ELSE NULLIF(boot.model, '') END,
		charge_point_serial_number = CASE WHEN boot.id IS NULL THEN cs.charge_point_serial_number ELSE NULLIF(boot.cp_serial, '') END,
		charge_box_serial_number = CASE WHEN boot.id IS NULL THEN cs.charge_box_serial_number ELSE NULLIF(boot.cb_serial, '') END,
		firmware_version = CASE WHEN boot.id IS NULL THEN cs.firmware_version ELSE NULLIF(boot.fw, '') END,
		iccid = CASE WHEN boot.id IS NULL THEN cs.iccid ELSE NULLIF(boot.iccid, '') END,
		imsi = CASE WHEN boot.id IS NULL THEN cs.imsi ELSE NULLIF(boot.imsi, '') END,
		meter_type = CASE WHEN boot.id IS NULL THEN cs.meter_type ELSE NULLIF(boot.meter_type, '') END,
		meter_serial_number = CASE WHEN boot.id IS NULL THEN cs.meter_serial_number ELSE NULLIF(boot.meter_serial, '') END,
		heartbeat_interval = CASE WHEN boot.id IS NULL THEN cs.heartbeat_interval ELSE NULLIF(boot.interval, 0) END,
		remote_manageable = coalesce(boot.remote, cs.remote_manageable),
		onboarding_state = CASE WHEN boot.id IS NULL THEN cs.onboarding_state ELSE 'Onboarded' END,
		last_boot_at = coalesce(boot.at, cs.last_boot_at),

		-- (GREATEST skips NULLs: a station with no entry of one kind.)
		last_updated = GREATEST(cs.last_updated, latest.at, boot.at),
		station_last_updated = GREATEST(cs.station_last_updated, latest.at, boot.at)
	FROM locked LEFT JOIN last USING (id) LEFT JOIN latest USING (id) LEFT JOIN conn USING (id) LEFT JOIN boot USING (id)
	WHERE cs.id = locked.id
	RETURNING cs.id`
	return s.updated(ctx, "record connections", q, pq.Array(pIDs), pq.Array(online), pq.Array(protocols),
		pq.Array(ips), pq.Array(endpoints), pq.Array(pAts),
		pq.Array(bIDs), pq.Array(vendor), pq.Array(model), pq.Array(cpSerial),
		pq.Array(cbSerial), pq.Array(fw), pq.Array(iccid), pq.Array(imsi), pq.Array(meterType), pq.Array(meterSerial),
		pq.Array(interval), pq.Array(remote), pq.Array(bAts))
}

// RecordHeartbeats sets last_heartbeat_at of many stations in one statement (the gateway
// batches them). Heartbeats move neither last_updated nor the etag: a sync client is not
// interested in them. Unknown identities are skipped; a time older than the stored one is
// ignored.
func (s *Store) RecordHeartbeats(ctx context.Context, beats map[string]time.Time) error {
	if len(beats) == 0 {
		return nil
	}
	ids := make([]string, 0, len(beats))
	for id := range beats {
		ids = append(ids, id)
	}
	ats := make([]time.Time, len(ids))
	for i, id := range ids {
		ats[i] = database.Timestamp(beats[id])
	}
	q := `
	WITH ` + fmt.Sprintf(lockStations, "$1") + `
	UPDATE charge_stations cs
	SET last_heartbeat_at = GREATEST(cs.last_heartbeat_at, b.at)
	FROM locked JOIN unnest($1::text[], $2::timestamptz[]) AS b(id, at) USING (id)
	WHERE cs.id = locked.id`
	if _, err := s.q.ExecContext(ctx, q, pq.Array(ids), pq.Array(ats)); err != nil {
		return fmt.Errorf("record %d heartbeats: %w", len(beats), database.Translate(err))
	}
	return nil
}

func intPtr(n sql.NullInt64) *int {
	if !n.Valid {
		return nil
	}
	v := int(n.Int64)
	return &v
}

// SetFirmwareUpdateStatuses sets the firmware_update_status of stations, in one statement:
// statuses maps a station to its latest FirmwareStatusNotification. What a station reports
// changes neither its etag nor its last_updated. It returns the stations it found.
func (s *Store) SetFirmwareUpdateStatuses(ctx context.Context, statuses map[string]string) ([]string, error) {
	return s.setReported(ctx, "firmware_update_status", statuses)
}

// SetDiagnosticsStatuses sets the diagnostics_status of stations (their latest
// DiagnosticsStatusNotification or LogStatusNotification), like SetFirmwareUpdateStatuses.
func (s *Store) SetDiagnosticsStatuses(ctx context.Context, statuses map[string]string) ([]string, error) {
	return s.setReported(ctx, "diagnostics_status", statuses)
}

// setReported sets column (one of the two above, never a caller's text) of stations.
func (s *Store) setReported(ctx context.Context, column string, statuses map[string]string) ([]string, error) {
	if len(statuses) == 0 {
		return nil, nil
	}
	ids, sts := make([]string, 0, len(statuses)), make([]string, 0, len(statuses))
	for id, st := range statuses {
		ids, sts = append(ids, id), append(sts, st)
	}
	q := `
	UPDATE charge_stations c SET ` + column + ` = u.status
	FROM unnest($1::text[], $2::text[]) AS u(id, status)
	WHERE c.id = u.id
	RETURNING c.id`
	var found []string
	if err := sqlx.SelectContext(ctx, s.q, &found, q, pq.Array(ids), pq.Array(sts)); err != nil {
		return nil, fmt.Errorf("set %s of %d stations: %w", column, len(ids), database.Translate(err))
	}
	return found, nil
}
