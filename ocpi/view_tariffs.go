package ocpi

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/database"
	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/schema"
	"github.com/google/uuid"
)

// Tariff is the OCPI 2.2.1 Tariff object as partners see it: a tariff of the registry
// (package tariffs) under the party of its network.
type Tariff struct {
	CountryCode   string                 `json:"country_code"`
	PartyID       string                 `json:"party_id"`
	ID            string                 `json:"id"`
	Currency      string                 `json:"currency"`
	Type          *schema.TariffType     `json:"type,omitempty"`
	AltText       []schema.DisplayText   `json:"tariff_alt_text,omitempty"`
	AltURL        *string                `json:"tariff_alt_url,omitempty"`
	MinPrice      *schema.Price          `json:"min_price,omitempty"`
	MaxPrice      *schema.Price          `json:"max_price,omitempty"`
	Elements      []schema.TariffElement `json:"elements"`
	StartDateTime *string                `json:"start_date_time,omitempty"`
	EndDateTime   *string                `json:"end_date_time,omitempty"`
	EnergyMix     *schema.EnergyMix      `json:"energy_mix,omitempty"`
	LastUpdated   string                 `json:"last_updated"`
}

// tariffPage is a page of a Tariffs pull.
type tariffPage struct {
	Tariffs []Tariff
	Total   int   // every tariff in scope that matches the date window
	LastSeq int64 // the position of the page's last tariff; the next page starts after it
	More    bool  // more tariffs follow
}

type tariffRow struct {
	Seq           int64                                 `db:"seq"`
	ID            string                                `db:"id"`
	CountryCode   string                                `db:"country_code"`
	PartyID       string                                `db:"party_id"`
	Currency      string                                `db:"currency"`
	Type          sql.NullString                        `db:"type"`
	AltText       database.JSON[[]schema.DisplayText]   `db:"tariff_alt_text"`
	AltURL        sql.NullString                        `db:"tariff_alt_url"`
	MinPrice      database.JSON[*schema.Price]          `db:"min_price"`
	MaxPrice      database.JSON[*schema.Price]          `db:"max_price"`
	Elements      database.JSON[[]schema.TariffElement] `db:"elements"`
	StartDateTime sql.NullTime                          `db:"start_date_time"`
	EndDateTime   sql.NullTime                          `db:"end_date_time"`
	EnergyMix     database.JSON[*schema.EnergyMix]      `db:"energy_mix"`
	LastUpdated   time.Time                             `db:"last_updated"`
}

const tariffColumns = `t.seq, t.id, n.country_code, n.party_id, t.currency, t.type, t.tariff_alt_text, t.tariff_alt_url,
	t.min_price, t.max_price, t.elements, t.start_date_time, t.end_date_time, t.energy_mix, t.last_updated`

func (r tariffRow) toTariff() Tariff {
	t := Tariff{
		CountryCode: r.CountryCode, PartyID: r.PartyID, ID: r.ID, Currency: r.Currency,
		Type: database.StringPtr[schema.TariffType](r.Type), AltText: r.AltText.V,
		AltURL: database.StringPtr[string](r.AltURL), MinPrice: r.MinPrice.V, MaxPrice: r.MaxPrice.V,
		Elements: r.Elements.V, EnergyMix: r.EnergyMix.V, LastUpdated: formatDateTime(r.LastUpdated),
	}
	if r.StartDateTime.Valid {
		s := formatDateTime(r.StartDateTime.Time)
		t.StartDateTime = &s
	}
	if r.EndDateTime.Valid {
		s := formatDateTime(r.EndDateTime.Time)
		t.EndDateTime = &s
	}
	return t
}

// Tariffs returns a page of the tariffs that a partner of network sees (its network and the
// ones below), in pull order: the order in which the tariffs were created (seq), which no
// change disturbs, filtered on last_updated by date_from (inclusive) and date_to (exclusive),
// and the total. The page starts after position after when it is not 0 (the next-page
// cursor), else at p.Offset. Tariffs are few per network, so the total is counted.
func (v *View) Tariffs(ctx context.Context, network uuid.UUID, p paging.Page, after int64) (tariffPage, error) {
	var w database.Where
	w.Add("s.ancestor_id = %s", network)
	w.Window("t.last_updated", p.DateFrom, p.DateTo)
	from := "tariffs t JOIN ocpi_network_scope s ON s.network_id = t.network_id JOIN networks n ON n.id = t.network_id"
	var out tariffPage
	var err error
	if out.Total, err = database.Count(ctx, v.db, from, &w); err != nil {
		return tariffPage{}, fmt.Errorf("count published tariffs: %w", err)
	}
	if after > 0 {
		w.Add("t.seq > %s", after)
	}
	args := append(w.Args(), p.Limit+1) // one more: whether more follow
	q := `SELECT ` + tariffColumns + ` FROM ` + from + ` WHERE ` + w.SQL() + ` ORDER BY t.seq` +
		fmt.Sprintf(" LIMIT $%d", len(args))
	if after == 0 && p.Offset > 0 {
		args = append(args, p.Offset)
		q += fmt.Sprintf(" OFFSET $%d", len(args))
	}
	var rows []tariffRow
	if err := v.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return tariffPage{}, fmt.Errorf("list published tariffs: %w", database.Translate(err))
	}
	if len(rows) > p.Limit {
		rows, out.More = rows[:p.Limit], true
	}
	out.Tariffs = make([]Tariff, len(rows))
	for i, r := range rows {
		out.Tariffs[i] = r.toTariff()
	}
	if len(rows) > 0 {
		out.LastSeq = rows[len(rows)-1].Seq
	}
	return out, nil
}

// tariff returns tariff id as it is now, under its network's party (the Pusher's way in).
// found is false when the tariff no longer exists.
func (v *View) tariff(ctx context.Context, id string) (t Tariff, found bool, err error) {
	var rows []tariffRow
	const q = `SELECT ` + tariffColumns + ` FROM tariffs t JOIN networks n ON n.id = t.network_id WHERE t.id = $1`
	if err := v.db.SelectContext(ctx, &rows, q, id); err != nil {
		return Tariff{}, false, fmt.Errorf("read tariff %s: %w", id, database.Translate(err))
	}
	if len(rows) == 0 {
		return Tariff{}, false, nil
	}
	return rows[0].toTariff(), true, nil
}
