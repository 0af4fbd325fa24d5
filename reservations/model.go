package reservations

import (
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/google/uuid"
)

// ErrNotFound: no reservation with this id.
var ErrNotFound = fmt.Errorf("reservation %w", apperr.NotFound)

// Status of a reservation.
type Status string

// Reservation statuses.
const (
	StatusActive    Status = "ACTIVE"    // the station accepted it; it holds its EVSE until its expiry
	StatusCancelled Status = "CANCELLED" // cancelled, the station accepted the cancellation
	StatusExpired   Status = "EXPIRED"   // its expiry passed
	StatusUsed      Status = "USED"      // a session started on its EVSE with its token
)

// Reservation is an EVSE kept for a token.
type Reservation struct {
	StationID          string
	ID                 int // the OCPP reservationId, unique per station
	EVSESequenceNumber int
	IDTag              string
	Expiry             time.Time
	Status             Status
	// OCPIPartnerID and OCPIReservationID name the OCPI partner that made the reservation and
	// its own reservation_id; nil and "" for one made through the REST API.
	OCPIPartnerID     *uuid.UUID
	OCPIReservationID string
	// OCPIResponseURL is the response_url of the partner's RESERVE_NOW.
	OCPIResponseURL string
	Created         time.Time
	LastUpdated     time.Time
}
