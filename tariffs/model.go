package tariffs

import (
	"fmt"
	"strings"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/schema"
	"github.com/google/uuid"
)

// Tariff is a tariff of a network, with the OCPI 2.2.1 Tariff fields.
type Tariff struct {
	ID            string
	NetworkID     uuid.UUID
	Currency      string
	Type          *schema.TariffType
	AltText       []schema.DisplayText
	AltURL        *string
	MinPrice      *schema.Price
	MaxPrice      *schema.Price
	Elements      []schema.TariffElement
	StartDateTime *time.Time
	EndDateTime   *time.Time
	EnergyMix     *schema.EnergyMix
	ETag          uuid.UUID
	Created       time.Time
	LastUpdated   time.Time
}

// Reference is a place that refers to a tariff: a station's default tariff or a connector's
// tariff_ids.
type Reference struct {
	ChargeStationID string
	EVSEUID         string // empty for the station's default_charge_station_tariff_id
	ConnectorID     string
}

func (r Reference) String() string {
	if r.EVSEUID == "" {
		return "charge station " + r.ChargeStationID + " (default_charge_station_tariff_id)"
	}
	return "charge station " + r.ChargeStationID + " EVSE " + r.EVSEUID + " connector " + r.ConnectorID
}

// Errors returned by this package.
var (
	ErrNotFound = fmt.Errorf("tariff %w", apperr.NotFound)
	ErrIDTaken  = fmt.Errorf("a tariff with this id already exists: %w", apperr.Conflict)
)

// ErrInUse is returned when a tariff that stations or connectors still refer to is deleted.
// References names the first few of them (at most maxNamed), Total counts them all.
type ErrInUse struct {
	References []Reference
	Total      int
}

func (e ErrInUse) Error() string {
	parts := make([]string, len(e.References))
	for i, r := range e.References {
		parts[i] = r.String()
	}
	more := ""
	if e.Total > len(e.References) {
		more = fmt.Sprintf(" and %d more", e.Total-len(e.References))
	}
	return "the tariff is still referred to by " + strings.Join(parts, ", ") + more + ": change them first"
}

// Unwrap makes the error a Conflict (HTTP 409).
func (e ErrInUse) Unwrap() error { return apperr.Conflict }
