package tokens_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/tokens"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// insertPartner makes a registered OCPI partner of network (the row package ocpi writes).
func insertPartner(t *testing.T, db *sqlx.DB, network uuid.UUID) uuid.UUID {
	t.Helper()
	id := uuid.New()
	if _, err := db.Exec(`INSERT INTO ocpi_partners (id, network_id, name, initiator, state, created, last_updated)
		VALUES ($1, $2, 'eMSP', 'partner', 'REGISTERED', now(), now())`, id, network); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestRoamingTokens: a partner's token is authorised by the stations of its network and the
// networks below, not elsewhere; repeated decisions cost no database round trip; the
// Decision says whose token it is and its whitelist; a network's own token of the same uid
// wins; a change is decided at once.
func TestRoamingTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	parent, key := e.Network(uuid.Nil, "PAR")
	child, childKey := e.Network(parent.ID, "CHI")
	elsewhere, _ := e.Network(uuid.Nil, "ELS")
	apitest.InsertStation(t, e.DB, child.ID, "CS-CHILD")
	apitest.InsertStation(t, e.DB, elsewhere.ID, "CS-ELSE")
	partner := insertPartner(t, e.DB, parent.ID)
	var nets []uuid.UUID
	svc := tokens.NewService(e.DB, tokens.NewStore(e.DB), func(ns ...uuid.UUID) { nets = ns; e.auth.ForgetNetworks(ns...) }, nil)
	rt := func(uid, whitelist string, valid bool) tokens.RoamingToken {
		return tokens.RoamingToken{Token: tokens.Token{NetworkID: parent.ID, UID: uid, Type: tokens.TypeRFID, ContractID: "DE-MSP-" + uid,
			Issuer: "eMSP", Valid: valid, Whitelist: whitelist, LastUpdated: time.Now()}, PartnerID: partner, CountryCode: "DE", PartyID: "MSP"}
	}
	if err := svc.PutRoaming(t.Context(), []tokens.RoamingToken{rt("04ABCD", "ALLOWED", true), rt("NEVER1", "NEVER", true)}); err != nil {
		t.Fatal(err)
	}
	if len(nets) != 2 {
		t.Errorf("a roaming token change forgets networks %v, want the partner's and the one below it", nets)
	}
	decide := func(station, uid string) tokens.Decision {
		t.Helper()
		d, err := e.auth.Authorize(t.Context(), station, uid)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for range 2 { // from the database, then from memory
		d := decide("CS-CHILD", "04abcd")
		if d.Status != "Accepted" || d.Roaming == nil || d.Roaming.PartnerID != partner || d.Roaming.Whitelist != "ALLOWED" || d.Roaming.UID != "04ABCD" {
			t.Errorf("roaming token at a station of the scope: %+v %+v", d, d.Roaming)
		}
		if d := decide("CS-CHILD", "NEVER1"); d.Roaming == nil || d.Roaming.Whitelist != "NEVER" {
			t.Errorf("NEVER token: %+v", d)
		}
		if d := decide("CS-ELSE", "04ABCD"); d.Status != "Invalid" || d.Roaming != nil {
			t.Errorf("roaming token outside the partner's scope: %+v", d)
		}
	}
	if hits, misses := e.auth.Stats(); hits != 3 || misses != 3 {
		t.Errorf("hits %d misses %d, want 3 and 3: a whitelisted roaming token must not cost a round trip", hits, misses)
	}
	// The REST API does not show it.
	var list []map[string]any
	e.DoKey(key, "GET", "/api/v1/tokens", nil).Must(t, http.StatusOK).Decode(t, &list)
	if len(list) != 0 {
		t.Errorf("REST list shows roaming tokens: %v", list)
	}
	// A PATCH blocks it at once.
	k := tokens.RoamingKey{PartnerID: partner, CountryCode: "DE", PartyID: "MSP", UID: "04ABCD", Type: tokens.TypeRFID}
	if _, err := svc.PatchRoaming(t.Context(), k, func(t *tokens.RoamingToken) error { t.Valid = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if d := decide("CS-CHILD", "04ABCD"); d.Status != "Blocked" {
		t.Errorf("blocked roaming token: %+v", d)
	}
	// The network's own card of the same uid wins at its stations.
	e.DoKey(childKey, "POST", "/api/v1/tokens", rfid("04ABCD")).Must(t, http.StatusCreated)
	if d := decide("CS-CHILD", "04ABCD"); d.Status != "Accepted" || d.Roaming != nil {
		t.Errorf("the network's own card of the same uid: %+v, want it to win", d)
	}
}
