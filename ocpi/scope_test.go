package ocpi

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestPartnersSeeTheirOwnNetworks: two sub-client networks with a partner each. Each partner
// pulls, gets and is pushed only its own network's locations, and our credentials name only
// its party; the root network's partner sees both. Each network's admin key sees only its
// own partners: another network's (the root's included) is a 404, to read and to delete.
func TestPartnersSeeTheirOwnNetworks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	netA, keyA := e.network(&e.root, "Client A", "NL", "AAA")
	netB, keyB := e.network(&e.root, "Client B", "BE", "BBB")
	fa, fb, fr := newFakePartner(t, true), newFakePartner(t, true), newFakePartner(t, true)
	tokenA := e.registerPartnerWith(keyA, fa, "eMSP of A")
	tokenB := e.registerPartnerWith(keyB, fb, "eMSP of B")
	tokenR := e.registerPartner(fr, "eMSP of the root")
	e.startPusher()

	la := e.locationIn(keyA, "A's site")
	lb := e.locationIn(keyB, "B's site")
	e.station("SA-1", la, "Production", 1)
	e.station("SB-1", lb, "Production", 1)
	e.setStatus("SA-1", 1, "Charging", "CHARGING")
	e.setStatus("SB-1", 1, "Available", "AVAILABLE")

	for _, test := range []struct {
		name    string
		token   string
		f       *fakePartner
		see     []string // "CC/PID/location"
		roles   []string
		notSeen string
	}{
		{"A", tokenA, fa, []string{"NL/AAA/" + la}, []string{"NL*AAA"}, lb},
		{"B", tokenB, fb, []string{"BE/BBB/" + lb}, []string{"BE*BBB"}, la},
		{"Root", tokenR, fr, []string{"NL/AAA/" + la, "BE/BBB/" + lb}, []string{"NL*EVR", "NL*AAA", "BE*BBB"}, ""},
	} {
		t.Run(test.name, func(t *testing.T) {
			var got []string
			for _, l := range e.pull(test.token, "limit=100", nil) {
				got = append(got, l.CountryCode+"/"+l.PartyID+"/"+l.ID)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(test.see))
			if !slices.Equal(got, want) {
				t.Errorf("pull = %v, want %v", got, want)
			}
			res := e.ocpi("GET", "/ocpi/2.2.1/locations", test.token, nil).must(t, 200)
			if res.Header.Get("X-Total-Count") != map[bool]string{true: "2", false: "1"}[test.name == "Root"] {
				t.Errorf("X-Total-Count %s", res.Header.Get("X-Total-Count"))
			}
			if test.notSeen != "" {
				res := e.ocpi("GET", "/ocpi/2.2.1/locations/"+test.notSeen, test.token, nil).must(t, 404)
				checkEnvelope(t, res.Body, 2003)
				e.ocpi("GET", "/ocpi/2.2.1/locations?date_from=2000-01-01T00:00:00Z", test.token, nil).must(t, 200)
			}
			res = e.ocpi("GET", "/ocpi/2.2.1/credentials", test.token, nil).must(t, 200)
			mustMatchOAS(t, oasCredentialsGet, res.Body)
			var creds Credentials
			res.data(t, &creds)
			if !slices.Equal(parties(creds.Roles), test.roles) {
				t.Errorf("credentials roles %v, want %v", parties(creds.Roles), test.roles)
			}
			// Pushes: the PUT of each site in scope and its status PATCH, nothing else.
			pushes := waitPushes(t, test.f, 2*len(test.see))
			time.Sleep(200 * time.Millisecond)
			var paths []string
			for _, p := range test.f.recorded() {
				paths = append(paths, p.Method+" "+p.Path)
				checkPush(t, p, p.Method, p.Path)
			}
			for _, loc := range test.see {
				if !slices.Contains(paths, "PUT /"+loc) {
					t.Errorf("pushes %v, want a PUT of %s", paths, loc)
				}
			}
			if len(test.f.recorded()) != len(pushes) || len(pushes) != 2*len(test.see) {
				t.Errorf("pushes %v, want %d", paths, 2*len(test.see))
			}
		})
	}

	// The partner admin API, by each network's key.
	type partner struct {
		ID        uuid.UUID `json:"id"`
		NetworkID uuid.UUID `json:"network_id"`
		Name      string    `json:"name"`
	}
	list := func(key string) []partner {
		var ps []partner
		send(t, "GET", e.srv.URL+"/api/v1/ocpi/partners", "", nil, "X-API-Key: "+key).must(t, 200).data(t, &ps)
		return ps
	}
	all := list(e.key)
	if len(all) != 3 {
		t.Fatalf("the root key sees %d partners, want 3: %+v", len(all), all)
	}
	byName := map[string]partner{}
	for _, p := range all {
		byName[p.Name] = p
	}
	if byName["eMSP of A"].NetworkID != netA.ID || byName["eMSP of B"].NetworkID != netB.ID || byName["eMSP of the root"].NetworkID != e.root.ID {
		t.Errorf("partners' networks: %+v", all)
	}
	if ps := list(keyA); len(ps) != 1 || ps[0].Name != "eMSP of A" {
		t.Errorf("A's key lists %+v, want its own partner only", ps)
	}
	for _, other := range []partner{byName["eMSP of B"], byName["eMSP of the root"]} {
		send(t, "GET", e.srv.URL+"/api/v1/ocpi/partners/"+other.ID.String(), "", nil, "X-API-Key: "+keyA).must(t, 404)
		send(t, "DELETE", e.srv.URL+"/api/v1/ocpi/partners/"+other.ID.String(), "", nil, "X-API-Key: "+keyA).must(t, 404)
	}
	if len(list(e.key)) != 3 {
		t.Errorf("a sub-network's key deleted another network's partner")
	}
	e.ocpi("GET", "/ocpi/versions", tokenR, nil).must(t, 200)
	// A's key does manage its own partner.
	send(t, "GET", e.srv.URL+"/api/v1/ocpi/partners/"+byName["eMSP of A"].ID.String(), "", nil, "X-API-Key: "+keyA).must(t, 200)
	send(t, "DELETE", e.srv.URL+"/api/v1/ocpi/partners/"+byName["eMSP of A"].ID.String(), "", nil, "X-API-Key: "+keyA).must(t, 204)
	e.ocpi("GET", "/ocpi/versions", tokenA, nil).must(t, 401)
}

// TestNewPartyAnnouncedBeforePush: when a network is added below a partner's, evroam updates
// its credentials at the partner (PUT with the roles of its scope, the new party included)
// before it pushes anything under the new party; partners without a Locations receiver are
// told too. The partner then uses the token of the update, and evroam the one it answered.
func TestNewPartyAnnouncedBeforePush(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakePartner(t, true)
	oldToken := e.registerPartner(f, "eMSP")
	pull := newFakePartner(t, false)
	e.registerPartner(pull, "pull-only eMSP")
	e.startPusher()
	root := e.location("Root site")
	e.station("NP-1", root, "Production", 1)
	waitPushes(t, f, 1)

	_, key := e.network(&e.root, "New client", "DE", "NEW")
	loc := e.locationIn(key, "New client's site")
	e.station("NP-2", loc, "Production", 1)
	got := waitPushes(t, f, 2)
	checkPush(t, got[1], "PUT", "/DE/NEW/"+loc)

	calls := f.callLog()
	update := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "PUT /ocpi/2.2.1/credentials ") })
	push := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "PUT /ocpi/2.2.1/emsp/locations/DE/NEW/") })
	if update < 0 || push < 0 || update > push {
		t.Fatalf("partner calls %q: want our credentials update before the first push under DE*NEW", calls)
	}
	f.mu.Lock()
	creds := f.credentialUpdates[0]
	newToken := f.tokenForEvr
	f.mu.Unlock()
	if !slices.Equal(parties(creds.Roles), []string{"NL*EVR", "DE*NEW"}) || creds.Token == "" || creds.URL != e.srv.URL+"/ocpi/versions" {
		t.Errorf("credentials update %+v, want roles NL*EVR, DE*NEW", creds)
	}
	// The push went with the token the partner answered (it accepts no other now): a push
	// under the root's party too.
	e.setStatus("NP-1", 1, "Charging", "CHARGING")
	got = waitPushes(t, f, 3)
	checkPush(t, got[2], "PATCH", "/NL/EVR/"+root+"/NP-1-1")
	// Our side: the token of the update works, the old one is gone.
	res := e.ocpi("GET", "/ocpi/2.2.1/credentials", newToken, nil).must(t, 200)
	var ours Credentials
	res.data(t, &ours)
	if !slices.Equal(parties(ours.Roles), []string{"NL*EVR", "DE*NEW"}) {
		t.Errorf("GET credentials roles %v", parties(ours.Roles))
	}
	e.ocpi("GET", "/ocpi/2.2.1/locations", oldToken, nil).must(t, 401)
	// The pull-only partner was told as well.
	deadline := time.Now().Add(10 * time.Second)
	for {
		pull.mu.Lock()
		n := len(pull.credentialUpdates)
		pull.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pull-only partner got %d credentials updates, want 1", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	f.mu.Lock()
	if n := len(f.credentialUpdates); n != 1 {
		t.Errorf("%d credentials updates, want 1", n)
	}
	f.mu.Unlock()
}
