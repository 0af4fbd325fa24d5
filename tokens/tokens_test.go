package tokens_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/tokens"
	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is the tokens API with the Authorizer the service tells of its writes.
type env struct {
	*apitest.Env
	auth *tokens.Authorizer
}

func newEnv(t *testing.T) env {
	var auth *tokens.Authorizer
	e := apitest.New(t, func(db *sqlx.DB, v1 *gin.RouterGroup) {
		store := tokens.NewStore(db)
		auth = tokens.NewAuthorizer(store, nil)
		auth.Enable()
		tokens.NewHandler(tokens.NewService(db, store, auth.ForgetNetworks, nil)).Routes(v1)
	})
	return env{Env: e, auth: auth}
}

type token struct {
	UID                string  `json:"uid"`
	Type               string  `json:"type"`
	ContractID         string  `json:"contract_id"`
	VisualNumber       *string `json:"visual_number"`
	Issuer             string  `json:"issuer"`
	GroupID            *string `json:"group_id"`
	Valid              bool    `json:"valid"`
	Whitelist          string  `json:"whitelist"`
	Language           *string `json:"language"`
	DefaultProfileType *string `json:"default_profile_type"`
	ExpiryDate         *string `json:"expiry_date"`
	NetworkID          string  `json:"network_id"`
	ETag               string  `json:"etag"`
	Created            string  `json:"created"`
	LastUpdated        string  `json:"last_updated"`
}

func rfid(uid string) map[string]any {
	return map[string]any{"uid": uid, "type": "RFID", "contract_id": "NL-EVR-C12345678-X", "issuer": "EV Roam",
		"valid": true, "whitelist": "ALLOWED", "group_id": "FLEET-1", "visual_number": "1234 5678", "language": "nl",
		"default_profile_type": "REGULAR"}
}

func str(s string) *string { return &s }

func TestTokenCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	var created token
	r := e.Do("POST", "/api/v1/tokens", rfid("04A1B2C3D4")).Must(t, http.StatusCreated)
	r.Decode(t, &created)
	want := token{UID: "04A1B2C3D4", Type: "RFID", ContractID: "NL-EVR-C12345678-X", VisualNumber: str("1234 5678"),
		Issuer: "EV Roam", GroupID: str("FLEET-1"), Valid: true, Whitelist: "ALLOWED", Language: str("nl"),
		DefaultProfileType: str("REGULAR"), NetworkID: e.Root.ID.String()}
	got := created
	got.ETag, got.Created, got.LastUpdated = "", "", ""
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("created token mismatch (-want +got):\n%s", diff)
	}
	if r.Header.Get("ETag") != `"`+created.ETag+`"` {
		t.Errorf("ETag header %q, body etag %q", r.Header.Get("ETag"), created.ETag)
	}

	// RFID uids match whatever the case: a reader that prints lower-case hex finds the card,
	// and a second card with the same uid in other case is a duplicate.
	var read token
	e.Do("GET", "/api/v1/tokens/04a1b2c3d4", nil).Must(t, http.StatusOK).Decode(t, &read)
	if read.UID != "04A1B2C3D4" {
		t.Errorf("GET by lower-case uid found %q", read.UID)
	}
	e.Do("POST", "/api/v1/tokens", rfid("04a1b2c3d4")).Must(t, http.StatusConflict)
	// Other types match exactly: an app user "abc" and an app user "ABC" are two tokens.
	app := rfid("user-abc")
	app["type"] = "APP_USER"
	e.Do("POST", "/api/v1/tokens", app).Must(t, http.StatusCreated)
	app["uid"] = "USER-ABC"
	e.Do("POST", "/api/v1/tokens", app).Must(t, http.StatusCreated)
	e.Do("GET", "/api/v1/tokens/User-Abc", nil).Must(t, http.StatusNotFound)

	// PUT replaces: etag required (428), a stale one refused (412), optional fields cleared.
	put := rfid("04A1B2C3D4")
	delete(put, "group_id")
	put["valid"] = false
	e.Do("PUT", "/api/v1/tokens/04A1B2C3D4", put).Must(t, http.StatusPreconditionRequired)
	put["etag"] = uuid.NewString()
	e.Do("PUT", "/api/v1/tokens/04A1B2C3D4", put).Must(t, http.StatusPreconditionFailed)
	put["etag"] = created.ETag
	var replaced token
	e.Do("PUT", "/api/v1/tokens/04A1B2C3D4", put).Must(t, http.StatusOK).Decode(t, &replaced)
	if replaced.Valid || replaced.GroupID != nil || replaced.ETag == created.ETag || replaced.Created != created.Created {
		t.Errorf("after PUT: %+v (etag before %s)", replaced, created.ETag)
	}
	// A GET body goes back as it is.
	var again token
	e.Do("PUT", "/api/v1/tokens/04A1B2C3D4", replaced).Must(t, http.StatusOK).Decode(t, &again)

	// PATCH changes the fields it names; its etag is optional but checked when given.
	e.Do("PATCH", "/api/v1/tokens/04A1B2C3D4", map[string]any{"valid": true, "etag": replaced.ETag}).Must(t, http.StatusPreconditionFailed)
	var patched token
	e.Do("PATCH", "/api/v1/tokens/04A1B2C3D4", map[string]any{"valid": true, "expiry_date": "2030-01-01T00:00:00Z"}).
		Must(t, http.StatusOK).Decode(t, &patched)
	if !patched.Valid || patched.ExpiryDate == nil || *patched.ExpiryDate != "2030-01-01T00:00:00Z" || patched.ContractID != "NL-EVR-C12345678-X" {
		t.Errorf("after PATCH: %+v", patched)
	}

	// PUT of a new uid creates it.
	e.Do("PUT", "/api/v1/tokens/NEWCARD", rfid("NEWCARD")).Must(t, http.StatusCreated)

	var list []token
	r = e.Do("GET", "/api/v1/tokens?type=RFID", nil).Must(t, http.StatusOK)
	r.Decode(t, &list)
	if len(list) != 2 || r.Header.Get("X-Total-Count") != "2" {
		t.Errorf("RFID list = %d tokens, total %s", len(list), r.Header.Get("X-Total-Count"))
	}
	e.Do("GET", "/api/v1/tokens?type=CARD", nil).Must(t, http.StatusBadRequest)
	// The unfiltered total comes from the kept counts.
	if r := e.Do("GET", "/api/v1/tokens?limit=1", nil).Must(t, http.StatusOK); r.Header.Get("X-Total-Count") != "4" || r.Header.Get("Link") == "" {
		t.Errorf("unfiltered list: total %s, Link %q; want 4 and a next page", r.Header.Get("X-Total-Count"), r.Header.Get("Link"))
	}

	e.Do("DELETE", "/api/v1/tokens/newcard", nil).Must(t, http.StatusNoContent)
	e.Do("GET", "/api/v1/tokens/NEWCARD", nil).Must(t, http.StatusNotFound)
	e.Do("DELETE", "/api/v1/tokens/NEWCARD", nil).Must(t, http.StatusNotFound)
}

func TestTokenValidationNamesEveryField(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad := map[string]any{"uid": "has space", "type": "CARD", "issuer": "", "whitelist": "SOMETIMES",
		"language": "dutch", "default_profile_type": "SLOW", "expiry_date": "tomorrow", "group_id": "", "extra": 1}
	r := e.Do("POST", "/api/v1/tokens", bad).Must(t, http.StatusUnprocessableEntity)
	for _, f := range []string{"uid", "type", "contract_id", "issuer", "valid", "whitelist", "language", "default_profile_type",
		"expiry_date", "group_id", "extra"} {
		if !slices.Contains(r.Fields(), f) {
			t.Errorf("422 does not name %s: %v", f, r.Fields())
		}
	}
	// A value of the wrong JSON type is named too.
	wrong := rfid("CARD-X")
	wrong["valid"] = "yes"
	r = e.Do("POST", "/api/v1/tokens", wrong).Must(t, http.StatusUnprocessableEntity)
	if diff := cmp.Diff([]string{"valid"}, r.Fields()); diff != "" {
		t.Errorf("wrong type: fields (-want +got):\n%s", diff)
	}
	// Tag and rule failures come together.
	bad2 := rfid("has space")
	bad2["network_id"] = uuid.NewString()
	bad2["type"] = "CARD"
	r = e.Do("POST", "/api/v1/tokens", bad2).Must(t, http.StatusUnprocessableEntity)
	if diff := cmp.Diff([]string{"type", "uid", "network_id"}, r.Fields()); diff != "" {
		t.Errorf("fields mismatch (-want +got):\n%s", diff)
	}
	e.Do("POST", "/api/v1/tokens", "{").Must(t, http.StatusBadRequest)
	// Nothing was stored.
	var n int
	e.DB.Get(&n, `SELECT count(*) FROM tokens`)
	if n != 0 {
		t.Errorf("%d tokens stored after refused writes", n)
	}
	put := rfid("CARD-1")
	put["uid"] = "CARD-2"
	r = e.Do("PUT", "/api/v1/tokens/CARD-1", put).Must(t, http.StatusUnprocessableEntity)
	if diff := cmp.Diff([]string{"uid"}, r.Fields()); diff != "" {
		t.Errorf("PUT with another uid: fields (-want +got):\n%s", diff)
	}
}

func TestTokenIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, keyA := e.Network(uuid.Nil, "AAA")
	_, keyB := e.Network(uuid.Nil, "BBB")

	e.DoKey(keyA, "POST", "/api/v1/tokens", rfid("CARD-A")).Must(t, http.StatusCreated)
	// Another network's key: the token does not exist for it, whatever the route.
	e.DoKey(keyB, "GET", "/api/v1/tokens/CARD-A", nil).Must(t, http.StatusNotFound)
	e.DoKey(keyB, "PATCH", "/api/v1/tokens/CARD-A", map[string]any{"valid": false}).Must(t, http.StatusNotFound)
	e.DoKey(keyB, "DELETE", "/api/v1/tokens/CARD-A", nil).Must(t, http.StatusNotFound)
	var list []token
	e.DoKey(keyB, "GET", "/api/v1/tokens", nil).Must(t, http.StatusOK).Decode(t, &list)
	if len(list) != 0 {
		t.Errorf("network B lists %d tokens of A", len(list))
	}
	other := rfid("X")
	other["network_id"] = a.ID
	r := e.DoKey(keyB, "POST", "/api/v1/tokens", other).Must(t, http.StatusUnprocessableEntity)
	if diff := cmp.Diff([]string{"network_id"}, r.Fields()); diff != "" {
		t.Errorf("POST into an unseen network: fields (-want +got):\n%s", diff)
	}
	r = e.DoKey(keyB, "POST", "/api/v1/tokens/bulk", map[string]any{"tokens": []any{other}}).Must(t, http.StatusUnprocessableEntity)
	if diff := cmp.Diff([]string{"tokens[0].network_id"}, r.Fields()); diff != "" {
		t.Errorf("bulk into an unseen network: fields (-want +got):\n%s", diff)
	}
	// PUT by B of a uid only A has creates B's own token, and leaves A's alone.
	e.DoKey(keyB, "PUT", "/api/v1/tokens/CARD-A", rfid("CARD-A")).Must(t, http.StatusCreated)
	// The root key sees both: the uid alone is ambiguous, network_id picks one.
	e.Do("GET", "/api/v1/tokens/CARD-A", nil).Must(t, http.StatusConflict)
	var got token
	e.Do("GET", "/api/v1/tokens/CARD-A?network_id="+a.ID.String(), nil).Must(t, http.StatusOK).Decode(t, &got)
	if got.NetworkID != a.ID.String() {
		t.Errorf("network_id picked %s, want %s", got.NetworkID, a.ID)
	}
	e.Do("GET", "/api/v1/tokens/CARD-A?network_id=nope", nil).Must(t, http.StatusBadRequest)
}

func TestTokenBulkUpsert(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.Do("POST", "/api/v1/tokens", rfid("CARD-0")).Must(t, http.StatusCreated)
	var batch []any
	for i := range 500 {
		b := rfid(fmt.Sprintf("card-%d", i))
		b["group_id"] = "BULK"
		batch = append(batch, b)
	}
	var res struct{ Created, Updated int }
	e.Do("POST", "/api/v1/tokens/bulk", map[string]any{"tokens": batch}).Must(t, http.StatusOK).Decode(t, &res)
	if res.Created != 499 || res.Updated != 1 {
		t.Errorf("bulk result %+v, want 499 created and 1 updated (card-0 is CARD-0)", res)
	}
	// The kept count follows the import: the replaced token is not counted twice.
	if r := e.Do("GET", "/api/v1/tokens?limit=1", nil).Must(t, http.StatusOK); r.Header.Get("X-Total-Count") != "500" {
		t.Errorf("total after the import = %s, want 500", r.Header.Get("X-Total-Count"))
	}
	var got token
	e.Do("GET", "/api/v1/tokens/CARD-0", nil).Must(t, http.StatusOK).Decode(t, &got)
	if got.UID != "card-0" || got.GroupID == nil || *got.GroupID != "BULK" {
		t.Errorf("CARD-0 after the import: %+v", got)
	}

	// Every bad token is named, with its index, and nothing is written.
	bad := []any{rfid("OK-1"), map[string]any{"uid": "B", "type": "RFID"}, rfid("ok-1")}
	r := e.Do("POST", "/api/v1/tokens/bulk", map[string]any{"tokens": bad}).Must(t, http.StatusUnprocessableEntity)
	for _, f := range []string{"tokens[1].contract_id", "tokens[1].issuer", "tokens[1].valid", "tokens[1].whitelist", "tokens[2].uid"} {
		if !slices.Contains(r.Fields(), f) {
			t.Errorf("422 does not name %s: %v", f, r.Fields())
		}
	}
	e.Do("GET", "/api/v1/tokens/OK-1", nil).Must(t, http.StatusNotFound)
	too := make([]any, tokens.MaxBulk+1)
	for i := range too {
		too[i] = rfid(fmt.Sprintf("T%d", i))
	}
	r = e.Do("POST", "/api/v1/tokens/bulk", map[string]any{"tokens": too}).Must(t, http.StatusUnprocessableEntity)
	if diff := cmp.Diff([]string{"tokens"}, r.Fields()); diff != "" {
		t.Errorf("oversize bulk: fields (-want +got):\n%s", diff)
	}
	e.Do("POST", "/api/v1/tokens/bulk", map[string]any{"tokens": []any{}}).Must(t, http.StatusUnprocessableEntity)
}

// TestAuthorizer decides on tokens presented at a station, from the database first and from
// what it kept afterwards, and forgets what the API changes.
func TestAuthorizer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	net, key := e.Network(uuid.Nil, "STA")
	apitest.InsertStation(t, e.DB, net.ID, "CS-1")
	ctx := t.Context()

	blocked := rfid("BLOCKED")
	blocked["valid"] = false
	expired := rfid("EXPIRED")
	expired["expiry_date"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, b := range []map[string]any{rfid("04A1B2"), blocked, expired} {
		e.DoKey(key, "POST", "/api/v1/tokens", b).Must(t, http.StatusCreated)
	}
	// A token of another network is unknown here.
	e.Do("POST", "/api/v1/tokens", rfid("ROOTCARD")).Must(t, http.StatusCreated)

	check := func(idToken, wantStatus, wantGroup string) {
		t.Helper()
		d, err := e.auth.Authorize(ctx, "CS-1", idToken)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != wantStatus || d.GroupID != wantGroup {
			t.Errorf("Authorize(%s) = %+v, want %s with group %q", idToken, d, wantStatus, wantGroup)
		}
	}
	for range 2 { // from the database, then from memory
		check("04a1b2", "Accepted", "FLEET-1")
		check("BLOCKED", "Blocked", "FLEET-1")
		check("EXPIRED", "Expired", "FLEET-1")
		check("UNKNOWN", "Invalid", "")
		check("ROOTCARD", "Invalid", "")
	}
	hits, misses := e.auth.Stats()
	if hits != 5 || misses != 5 {
		t.Errorf("hits %d misses %d, want 5 and 5: repeated tokens must not read the database", hits, misses)
	}
	// A change through the API is decided at once on this node.
	e.DoKey(key, "PATCH", "/api/v1/tokens/04A1B2", map[string]any{"valid": false}).Must(t, http.StatusOK)
	check("04A1B2", "Blocked", "FLEET-1")
	e.DoKey(key, "POST", "/api/v1/tokens", rfid("UNKNOWN")).Must(t, http.StatusCreated)
	check("unknown", "Accepted", "FLEET-1")
	if _, err := e.auth.Authorize(ctx, "NO-SUCH-STATION", "X"); !tokens.IsUnknownStation(err) {
		t.Errorf("unknown station: err = %v", err)
	}
}
