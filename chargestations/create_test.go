package chargestations_test

import (
	"net/http"
	"testing"
)

func TestCreateFromTemplate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loc := e.mustLocation(e.Key)
	e.mustTemplate(e.Key, "dual-ac")

	r := e.Do(http.MethodPost, "/api/v1/chargestations", fromTemplate("CS-TPL-1", loc, "dual-ac")).Must(t, http.StatusCreated)
	created := decodeStation(t, r)
	if len(created.EVSEs) != 2 {
		t.Fatalf("evses = %d, want 2; body %s", len(created.EVSEs), r.Body)
	}
	t.Logf("%s", r.Body)
}
