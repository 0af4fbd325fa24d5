package locations

import (
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/schema"
	"github.com/google/uuid"
)

// Location is a place with charge stations.
type Location struct {
	ID                 string
	NetworkID          uuid.UUID
	Name               string
	Address            string
	City               string
	PostalCode         *string
	State              *string
	Country            string // ISO 3166 alpha-3
	Coordinates        schema.GeoLocation
	TimeZone           string
	ParkingType        *schema.ParkingType
	Facilities         []schema.Facility
	OpeningTimes       *schema.Hours
	Directions         []schema.DisplayText
	Operator           *schema.BusinessDetails
	Suboperator        *schema.BusinessDetails
	Owner              *schema.BusinessDetails
	ChargingWhenClosed *bool
	Publish            bool
	ETag               uuid.UUID
	Created            time.Time
	LastUpdated        time.Time
}

// Errors returned by this package.
var (
	ErrNotFound = apperr.WithCode(fmt.Errorf("location %w", apperr.NotFound), apperr.CodeUnknownLocation)
	ErrIDTaken  = fmt.Errorf("a location with this id already exists: %w", apperr.Conflict)
)

// ErrHasStations is returned when a location that still has charge stations is deleted.
type ErrHasStations struct{ StationIDs []string }

func (e ErrHasStations) Error() string {
	return fmt.Sprintf("location still has charge stations %v: move or delete them first", e.StationIDs)
}

// Unwrap makes the error a Conflict (HTTP 409).
func (e ErrHasStations) Unwrap() error { return apperr.Conflict }
