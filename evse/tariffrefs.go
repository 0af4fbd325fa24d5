package evse

import (
	"context"
	"fmt"
	"slices"

	"github.com/evroam/evroam/internal/apperr"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// TariffIndex tells which tariff ids are not tariffs of a network, and keeps the others from
// being deleted until the transaction ends; tariffs.Service implements it. Connectors'
// tariff_ids and stations' default tariff refer to tariffs of the station's own network:
// OCPI partners resolve them under the party the location is published under.
type TariffIndex interface {
	Unknown(ctx context.Context, tx *sqlx.Tx, network uuid.UUID, ids []string) ([]string, error)
}

// TariffRef is one reference to a tariff and the JSON path the request wrote it at.
type TariffRef struct {
	Field string
	ID    string
}

// ConnectorTariffRefs lists the tariff_ids of the connectors of evses, each with its path:
// path(i) is the path of EVSE i ("evses[0]", or "" for the EVSE endpoint's one EVSE).
func ConnectorTariffRefs(evses []EVSE, path func(i int) string) []TariffRef {
	var out []TariffRef
	for i, e := range evses {
		for j, c := range e.Connectors {
			for k, id := range c.TariffIDs {
				out = append(out, TariffRef{Field: apperr.JoinField(path(i), fmt.Sprintf("connectors[%d].tariff_ids[%d]", j, k)), ID: id})
			}
		}
	}
	return out
}

// CheckTariffRefs returns a field error for every reference that is not a tariff of network,
// in tx; the tariffs found cannot be deleted before tx ends. Empty ids are left to the
// validator tags.
func CheckTariffRefs(ctx context.Context, tx *sqlx.Tx, idx TariffIndex, network uuid.UUID, refs []TariffRef) (apperr.FieldErrors, error) {
	ids := make([]string, 0, len(refs))
	seen := map[string]bool{}
	for _, r := range refs {
		if r.ID != "" && !seen[r.ID] {
			seen[r.ID] = true
			ids = append(ids, r.ID)
		}
	}
	unknown, err := idx.Unknown(ctx, tx, network, ids)
	if err != nil {
		return nil, err
	}
	bad := map[string]bool{}
	for _, id := range unknown {
		bad[id] = true
	}
	var problems apperr.FieldErrors
	for _, r := range refs {
		if bad[r.ID] {
			problems.Add(r.Field, fmt.Sprintf("no tariff %q in the station's network: create it first (POST /api/v1/tariffs)", r.ID))
		}
	}
	return problems, nil
}

// AddProblems appends to problems those of more whose field is not named yet: a tariff id
// that the validator tags already refused is not reported twice.
func AddProblems(problems, more apperr.FieldErrors) apperr.FieldErrors {
	for _, p := range more {
		if !slices.ContainsFunc(problems, func(q apperr.FieldError) bool { return q.Field == p.Field }) {
			problems = append(problems, p)
		}
	}
	return problems
}
