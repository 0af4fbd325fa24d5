// Package cluster lets several evroam nodes (evroam serve processes on one PostgreSQL
// database) share the charge stations: a station is connected to one node, and a charger
// command sent to any node reaches it. PostgreSQL is the only shared infrastructure.
//
// # Who holds which station
//
// The table station_sessions maps a station's identity to the node holding its WebSocket
// (plus a session id and the protocol version). Node.Registry wraps the gateway's
// ocpp.Registry: RecordConnect upserts the row (the newest connection wins, so a row left
// by a node that died is overwritten when the station reconnects elsewhere), and
// RecordDisconnect deletes it only if it still belongs to this node's session. These are
// the only writes, one per connect and one per disconnect: nothing is written per frame.
//
// # Claimed before recorded
//
// The claim is written in batches (many stations' claims in one statement), while the
// station is already served: its connection is not held up for it. What the outside world
// can see of a connection waits for the claim instead: Registry records the connect with the
// wrapped registry only once the claim is committed, and a BootNotification is recorded, and
// so answered, only then too (sessionRegistry.RecordBoot). So once a station's boot is
// answered, or the registry shows it Online or Onboarded, a command sent to any node finds
// this one. Before, the two went side by side, and a command sent through another node
// right after the boot could find no owner and get 409. The gateway records a connect on a
// goroutine of its own (after the connection it replaces has recorded its connect), so a
// boot can arrive before its connection's claim is even registered: the boot carries its
// connection's number (ocpp.BootInfo.Connection), and awaitClaim waits for that
// connection's claim, as long as the station is connected here and no later connection
// took its place.
//
// # A station that moved
//
// A station that reconnects through another node (after a network change, say) may leave a
// half-open socket on the node it had; its newest connection is the one that counts. The
// statement that records the claim also pg_notifies the node that held the row,
// "drop:<session id>:<identity>" on its channel (below). That node, if it still holds that
// session, lets go of the station: its gateway closes the old connection without recording a
// disconnect (ocpp.Server.Supersede: the station is online, elsewhere), and commands sent to
// it read the row and go to the new owner. Until the notification arrives (milliseconds after
// the claim's commit) a command sent to the old node can still reach the old socket, as one
// sent to any node can before the claim is recorded. A node whose listener reconnected may
// have missed notifications: it reads which of its stations another node claimed later and
// lets go of those (dropSuperseded).
//
// # Restarts without an offline flap
//
// When a node shuts down, its gateway closes every connection, but the node does not
// record the stations as disconnected: it marks their rows left (left_at; the gateway calls
// RecordLeft of ocpp.LeaveRecorder instead of RecordDisconnect). At start a node marks the
// rows of its own earlier run left the same way, which covers a crash. A left row holds the
// station nowhere (commands answer 409), and the station stays Online in the registry for
// Config.ReconnectGrace: stations come back within seconds of a restart, to this node or
// another, and their claim takes the row over. Every node sweeps rows left longer than the
// grace and records those stations' disconnects with the wrapped registry, dated when the
// row was left; the registry ignores a disconnect older than the station's current
// connection, so one that came back while being swept stays online. A rolling restart thus
// writes no connectivity change: partners see no EVSE turn UNKNOWN and back, and the
// reconnect storm costs no OCPI publication.
//
// # Forwarding a command
//
// Node.Call sends a CALL to a station. When this node holds the station (its gateway has the
// connection, and this node claimed it with no claim of another node since), the local
// ocpp.Server sends the CALL: no database read. Otherwise the node reads the owner from
// station_sessions (one indexed read); if it is this node, or there is no row yet while the
// station is connected here, the local gateway sends it; else the node forwards:
//
//  1. INSERT the request (action, payload, timeout) into command_calls and, in the same
//     statement, pg_notify the owner's channel with "req:<id>". Payloads travel in the row,
//     because NOTIFY payloads are limited to 8000 bytes.
//  2. The owner, LISTENing on its channel, claims the row (UPDATE … SET picked_at WHERE
//     picked_at IS NULL, so a request runs once), sends the CALL through its ocpp.Server
//     with what remains of the caller's timeout, writes the answer or the error (not
//     connected, timeout, CALLERROR code/description/details, schema violations) into
//     the row and pg_notifies the caller's channel with "res:<id>".
//  3. The caller, woken by the notification, deletes the row and returns the answer, or
//     the error as the same error values ocpp.Server.Call returns, so callers cannot tell
//     a forwarded call from a local one.
//
// A node started with Config.CallURL takes forwarded calls over HTTP instead (direct.go):
// it registers the URL in cluster_nodes, the caller reads it with the owner in the same
// statement and POSTs the call, signed with a key derived from EVROAM_SECRET_KEY, to the
// owner's CallHandler, which runs it on its gateway and answers in the body. That is one
// round trip on a kept-alive connection in place of the four statements and two NOTIFYs
// above, which PostgreSQL delivers one commit at a time (the p99 of a forwarded command
// went from tens of milliseconds to that of a local one). A call the URL did not take (no
// listener, a missing route, another key) cannot have run, and goes through the database;
// one that reached the owner is never sent twice.
//
// Each node LISTENs on one channel, evroam_node_<hash of its node id>, over a dedicated
// connection (lib/pq Listener). When that connection is re-established notifications
// may have been lost, so the node then serves every unclaimed request addressed to it and
// re-checks every call it is waiting for.
//
// # Failures
//
// A caller waits at most its context's deadline (the command timeout). A node that died
// never answers: its callers time out (HTTP 504) and delete their rows; once the station
// reconnects to a live node, that node's upsert takes the row over and commands work
// again. The station is not connected anywhere (no row, or a row of this very node
// without a local connection): ocpp.ErrNotConnected (HTTP 409). Rows whose caller died
// are swept after their timeout plus a grace period.
package cluster
