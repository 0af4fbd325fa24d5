package tokens_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/tokens"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// TestAuthorizerHearsOtherNodes: a change that does not go through this node (another node's
// API, an import in SQL) reaches its kept decisions through the tokens_changed notification.
func TestAuthorizerHearsOtherNodes(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	auth := tokens.NewAuthorizer(tokens.NewStore(db), nil)
	e := apitest.NewOnDB(t, db, func(db *sqlx.DB, v1 *gin.RouterGroup) {
		tokens.NewHandler(tokens.NewService(db, tokens.NewStore(db), nil, nil)).Routes(v1) // tells no Authorizer
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); auth.ListenForChanges(ctx, url, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() { cancel(); <-done })

	net, key := e.Network(uuid.Nil, "LSN")
	apitest.InsertStation(t, db, net.ID, "CS-L")
	e.DoKey(key, "POST", "/api/v1/tokens", rfid("CARD-L")).Must(t, http.StatusCreated)

	decide := func(idToken string) string {
		t.Helper()
		d, err := auth.Authorize(t.Context(), "CS-L", idToken)
		if err != nil {
			t.Fatal(err)
		}
		return d.Status
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s", what)
			}
		}
	}
	// Once listening, repeated tokens are decided from memory.
	eventually("decisions kept", func() bool {
		decide("CARD-L")
		h, _ := auth.Stats()
		decide("CARD-L")
		h2, _ := auth.Stats()
		return h2 > h
	})
	if got := decide("NOBODY"); got != "Invalid" {
		t.Fatalf("NOBODY = %s", got)
	}

	// The API of this test tells no Authorizer: only the notification can.
	e.DoKey(key, "PATCH", "/api/v1/tokens/CARD-L", map[string]any{"valid": false}).Must(t, http.StatusOK)
	eventually("API change heard", func() bool { return decide("CARD-L") == "Blocked" })
	if _, err := db.Exec(`UPDATE tokens SET valid = true WHERE uid = 'CARD-L'`); err != nil {
		t.Fatal(err)
	}
	eventually("SQL change heard", func() bool { return decide("CARD-L") == "Accepted" })
	if _, err := db.Exec(`UPDATE networks SET accept_unknown_tokens = true WHERE id = $1`, net.ID); err != nil {
		t.Fatal(err)
	}
	eventually("network setting heard", func() bool { return decide("NOBODY") == "Accepted" })

	// A station that moves to another network (its location did) presents that network's
	// tokens from then on.
	other, otherKey := e.Network(uuid.Nil, "OTH")
	e.DoKey(otherKey, "POST", "/api/v1/tokens", rfid("CARD-O")).Must(t, http.StatusCreated)
	if got := decide("CARD-O"); got != "Accepted" { // NOBODY's network accepts unknown tokens
		t.Fatalf("CARD-O before the move = %s", got)
	}
	if _, err := db.Exec(`UPDATE networks SET accept_unknown_tokens = false WHERE id = $1`, net.ID); err != nil {
		t.Fatal(err)
	}
	eventually("setting off heard", func() bool { return decide("CARD-O") == "Invalid" })
	if _, err := db.Exec(`UPDATE locations SET network_id = $1 WHERE id = (SELECT location_id FROM charge_stations WHERE id = 'CS-L')`, other.ID); err != nil {
		t.Fatal(err)
	}
	eventually("station move heard", func() bool { return decide("CARD-O") == "Accepted" && decide("CARD-L") == "Invalid" })
}
