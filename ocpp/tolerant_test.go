package ocpp_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/ocpp/ocpptest"
	"github.com/gorilla/websocket"
)

// rawStation is a station made of a bare WebSocket, for frames no OCPP library would send.
type rawStation struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialRawStation(t *testing.T, e *testEnv, identity, subprotocol string) *rawStation {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{subprotocol}}
	ws, _, err := d.Dial(e.url+"/"+identity, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return &rawStation{t: t, ws: ws}
}

func (r *rawStation) send(frame string) {
	r.t.Helper()
	if err := r.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawStation) read() []any {
	r.t.Helper()
	_ = r.ws.SetReadDeadline(time.Now().Add(waitTimeout))
	_, b, err := r.ws.ReadMessage()
	if err != nil {
		r.t.Fatal(err)
	}
	var f []any
	if err := json.Unmarshal(b, &f); err != nil {
		r.t.Fatalf("frame %s: %v", b, err)
	}
	return f
}

// TestTolerantReaderOfStationCalls: a station's CALL with null in optional fields and fields
// the schema does not know is taken (null = absent, unknown = ignored); a null required
// field is still refused with the occurrence violation.
func TestTolerantReaderOfStationCalls(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CP-T", 0, "", true)
	st := dialRawStation(t, e, "CP-T", "ocpp1.6")

	st.send(`[2,"s1","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Charging","info":null,"timestamp":null,"vendorId":null,"firmwareQuirk":{"x":1}}]`)
	if f := st.read(); f[0] != float64(3) || f[1] != "s1" {
		t.Fatalf("StatusNotification with nulls and an unknown field: %v, want a CALLRESULT", f)
	}
	e.reg.Wait(t, waitTimeout, "status recorded", func(r *ocpptest.Registry) bool { return len(r.Statuses) == 1 })
	e.reg.Do(func(r *ocpptest.Registry) {
		if s := r.Statuses[0]; s.OCPPStatus != "Charging" || s.Info != "" || s.VendorID != "" {
			t.Errorf("recorded %+v", s)
		}
	})

	st.send(`[2,"s2","StatusNotification",{"connectorId":null,"errorCode":"NoError","status":"Available"}]`)
	if f := st.read(); f[0] != float64(4) || f[2] != "OccurenceConstraintViolation" || !strings.Contains(f[3].(string), "connectorId") {
		t.Errorf("null required connectorId: %v, want OccurenceConstraintViolation naming connectorId", f)
	}
}

// TestTolerantReaderOfStationAnswers: ocpp-go stations answer a 2.0.1 Reset with
// "statusInfo": null; the call succeeds and the caller reads the answer without the null.
// An answer whose required field is null fails with ErrInvalidResponse naming the field.
func TestTolerantReaderOfStationAnswers(t *testing.T) {
	e := newEnv(t, ocpp.Config{})
	e.reg.AddStation("CS-T", 0, "", true)
	st := dialRawStation(t, e, "CS-T", "ocpp2.0.1")
	// The 101 answer comes before the gateway holds the connection; its connect is recorded
	// after. A Call before that would find the station not connected.
	e.reg.Wait(t, waitTimeout, "connect recorded", func(r *ocpptest.Registry) bool {
		for _, c := range r.Connects {
			if c.Identity == "CS-T" {
				return true
			}
		}
		return false
	})

	for _, test := range []struct {
		answer   string
		wantErr  bool
		wantBody string
	}{
		{`{"status":"Accepted","statusInfo":null,"customData":null}`, false, `{"status":"Accepted"}`},
		{`{"status":"Scheduled","vendorNote":"after the session"}`, false, `{"status":"Scheduled","vendorNote":"after the session"}`},
		{`{"status":null}`, true, ""},
	} {
		type result struct {
			res json.RawMessage
			err error
		}
		done := make(chan result, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			res, err := e.srv.Call(ctx, "CS-T", "Reset", map[string]any{"type": "Immediate"})
			done <- result{res, err}
		}()
		f := st.read()
		if f[0] != float64(2) || f[2] != "Reset" {
			t.Fatalf("station got %v, want a Reset CALL", f)
		}
		st.send(`[3,"` + f[1].(string) + `",` + test.answer + `]`)
		r := <-done
		switch {
		case test.wantErr:
			if !errors.Is(r.err, ocpp.ErrInvalidResponse) || !strings.Contains(r.err.Error(), "status") {
				t.Errorf("answer %s: err %v, want ErrInvalidResponse naming status", test.answer, r.err)
			}
		case r.err != nil:
			t.Errorf("answer %s: %v, want success", test.answer, r.err)
		case !compactJSONEqual(r.res, test.wantBody):
			t.Errorf("answer %s: caller read %s, want %s", test.answer, r.res, test.wantBody)
		}
	}
}
