package ocpppeer_test

import (
	"net"
	"testing"

	"github.com/evroam/evroam/internal/ocpppeer"
)

func TestConnectRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more

	p := ocpppeer.Start(t)
	_, err = p.Connect(ocpppeer.ConnectOptions{URL: "ws://" + addr + "/ocpp", Identity: "CP-1"})
	if err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	// The peer stays usable after a failed command.
	_, err = p.Call("Heartbeat", nil)
	if pe, ok := err.(*ocpppeer.Error); !ok || pe.Message != "not connected" {
		t.Errorf("Call without a connection: %v", err)
	}
}
