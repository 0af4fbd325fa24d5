package templates

import (
	"fmt"
	"time"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/schema"
	"github.com/google/uuid"
)

// Template is a hardware template.
type Template struct {
	ID            string
	NetworkID     uuid.UUID
	Name          string
	EVSETemplates []EVSETemplate
	ETag          uuid.UUID
	Created       time.Time
	LastUpdated   time.Time
}

// EVSETemplate is one EVSE of the template.
type EVSETemplate struct {
	EVSESequenceNumber int                 `json:"evse_sequence_number"`
	Capabilities       []schema.Capability `json:"capabilities"`
	ConnectorTemplates []ConnectorTemplate `json:"connector_templates"`
}

// ConnectorTemplate is one connector of an EVSE template. Standard, Format and Internal are
// always all three filled in (Internal is empty when the seed table has no name for the pair).
type ConnectorTemplate struct {
	ID               string                   `json:"id"`
	Standard         schema.ConnectorStandard `json:"standard"`
	Format           schema.ConnectorFormat   `json:"format"`
	Internal         schema.InternalConnector `json:"internal,omitempty"`
	PowerType        schema.PowerType         `json:"power_type"`
	MaxVoltage       int                      `json:"max_voltage"`
	MaxAmperage      int                      `json:"max_amperage"`
	MaxElectricPower *int                     `json:"max_electric_power,omitempty"`
}

// Errors returned by this package.
var (
	ErrNotFound = fmt.Errorf("template %w", apperr.NotFound)
	ErrIDTaken  = fmt.Errorf("template_id is already in use: %w", apperr.Conflict)
)
