package networks_test

import (
	"net/http"
	"testing"

	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/google/uuid"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type network struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	CountryCode string  `json:"country_code"`
	PartyID     string  `json:"party_id"`
	ParentID    *string `json:"parent_id"`
}

func TestHierarchy(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, nil)

	var child network
	e.Do("POST", "/api/v1/networks", `{"name": "Client A", "country_code": "NL", "party_id": "CLA"}`).Must(t, http.StatusCreated).Decode(t, &child)
	if child.ParentID == nil || *child.ParentID != e.Root.ID.String() {
		t.Fatalf("child parent = %v, want the root %s", child.ParentID, e.Root.ID)
	}
	var grandchild network
	e.Do("POST", "/api/v1/networks", map[string]any{"name": "A's depot", "country_code": "BE", "party_id": "CLB", "parent_id": child.ID}).
		Must(t, http.StatusCreated).Decode(t, &grandchild)

	r := e.Do("POST", "/api/v1/networks", `{"name": "dup", "country_code": "NL", "party_id": "CLA"}`).Must(t, http.StatusConflict)
	if r.StatusCode != 2000 {
		t.Errorf("conflict status_code = %d", r.StatusCode)
	}
	r = e.Do("POST", "/api/v1/networks", `{"name": "", "country_code": "nl", "party_id": "TOOLONG"}`).Must(t, 422)
	if got := len(r.Errors); got != 3 {
		t.Errorf("got %d field errors, want 3: %s", got, r.Body)
	}

	// A key of the child sees the child and the grandchild, not the root; it may not create networks.
	key, err := e.Nets.CreateKey(t.Context(), uuidOf(t, child.ID), "child", false)
	if err != nil {
		t.Fatal(err)
	}
	var seen []network
	e.DoKey(key, "GET", "/api/v1/networks", nil).Must(t, http.StatusOK).Decode(t, &seen)
	if len(seen) != 2 {
		t.Errorf("child key sees %d networks, want 2 (itself and its child): %+v", len(seen), seen)
	}
	e.DoKey(key, "GET", "/api/v1/networks/"+e.Root.ID.String(), nil).Must(t, http.StatusNotFound)
	e.DoKey(key, "POST", "/api/v1/networks", `{"name": "x", "country_code": "NL", "party_id": "XXX"}`).Must(t, http.StatusForbidden)

	var renamed network
	e.Do("PATCH", "/api/v1/networks/"+child.ID, `{"name": "Client A B.V."}`).Must(t, http.StatusOK).Decode(t, &renamed)
	if renamed.Name != "Client A B.V." || renamed.PartyID != "CLA" {
		t.Errorf("PATCH result %+v", renamed)
	}
	e.Do("PATCH", "/api/v1/networks/"+child.ID, map[string]any{"parent_id": grandchild.ID}).Must(t, 422)
}

func uuidOf(t *testing.T, s string) uuid.UUID {
	t.Helper()
	u, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
