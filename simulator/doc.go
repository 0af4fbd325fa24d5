// Package simulator simulates OCPP 1.6J and 2.0.1 charge stations against evroam's gateway:
// `evroam simulate` for people (Run), and the load generator of `make bench` for programs
// (Station, Fleet, the scenarios and Recorder). It is a client like any real station: it
// reaches the gateway only over WebSocket and the REST API only over HTTP, and imports
// nothing of evroam's (archlint puts it in the wiring layer).
//
// # A simulated station
//
// A Station is one identity with one WebSocket connection at a time to
// ws://host/ocpp/{identity}, subprotocol ocpp1.6 or ocpp2.0.1, with HTTP Basic auth
// (user = identity) when a password is configured. On that connection:
//
//   - Its own CALLs (Call, and Boot, Heartbeat, SendStatus, StartSession, StopSession built
//     on it) go out one at a time: OCPP allows one outstanding CALL per direction, so callers
//     queue on a per-station semaphore. Message ids are a random per-process prefix and a
//     counter, so they never repeat on any connection of the identity. A CALLERROR comes back
//     as a *CallError with its code; a refused upgrade as a *HandshakeError with its status.
//   - The gateway's CALLs are answered by the Handler (DefaultHandler unless configured) on
//     the connection's reader goroutine, in wire order. What the station does because of a
//     CALL (send the triggered message, start the remotely started session, reboot after a
//     Reset) runs afterwards in Reply.Then, so the answer always goes out first.
//   - Sessions: 1.6 StatusNotification Preparing, Authorize, StartTransaction,
//     StatusNotification Charging, MeterValues every MeterValuesInterval (the energy register
//     rising at 7–11 kW, and the power), StopTransaction, Available; 2.0.1 Occupied,
//     Authorize, TransactionEvent Started / Updated / Ended with meter values and a UUID
//     transactionId the station makes, Available. A session whose connection drops is
//     abandoned, as after a power loss.
//   - Configuration: a small table of plausible settings, by 1.6 key and 2.0.1
//     component.variable, served by GetConfiguration, GetVariables and the NotifyReport that
//     follows GetBaseReport. Changes are kept; the heartbeat and meter value intervals and a
//     new password take effect.
//   - Boot: the gateway asks a station without boot data on record for a BootNotification
//     with TriggerMessage right after the upgrade, which crosses the station's own. The boots
//     of a connection share one flight, and a triggered one first waits 250 ms for the
//     station's own, so a storm of new stations sends one BootNotification each, not two.
//
// Station.Run gives a station a life: connect, boot (on the first connection, after a
// Reset, or every time with BootOnReconnect), a StatusNotification per connector, then
// heartbeats, status flips and sessions as configured, and a reconnect with jittered
// exponential backoff when the connection drops and Config.Reconnect is set. Fleet.Run does
// the same for Config.Count stations; Run adds station creation through the REST API,
// progress on a terminal and a latency table.
//
// Every payload must pass the gateway's validation against the official schemas. The tests
// run the stations against the real ocpp.Server, which answers a malformed CALL with a
// CALLERROR and refuses a malformed answer with ErrInvalidResponse, and assert neither
// happens.
//
// # Measuring
//
// The scenarios take a Fleet and return a Report:
//
//   - ConnectStorm: every unconnected station dials and boots, with at most MaxInFlight
//     being opened at once and ConnectRate new ones a second. ActionConnectBoot is dial start
//     to the BootNotification answer.
//   - ReconnectStorm: the same for stations whose boot data is on record, with or without
//     a BootNotification; ActionReconnect ends at the first answer, when the gateway has
//     registered the connection and serves it.
//   - MessageLoad: a closed loop in which S stations each send one action back to back for
//     a duration, so the throughput is what the gateway sustains with S callers waiting.
//     With a Rate it is paced instead (each station on its own schedule), and the latency,
//     counted from when each message was due, is what a message waits at that rate.
//   - HoldIdle: connect and hold, sending nothing, while the gateway's memory is measured;
//     dropped connections are counted.
//
// A Recorder keeps, per action, a fixed array of log-linear buckets (32 per power of two:
// percentiles within about 3%) updated with atomic adds, so an observation costs the same at
// any rate and memory does not grow with the count. Successes give the percentiles and the
// throughput over the wall-clock window; failures are counted by ErrorCode (the CALLERROR
// code, "Timeout", "HTTP 401", …); operations their caller cancelled are not counted. Set
// Config.Recorder to record every CALL the stations send, as Run does.
//
// # Scale
//
// The aim is 50,000 connections from one process to a gateway on 127.0.0.1.
//
//   - A connection costs the client its socket, one reader goroutine (a 4 KiB stack while
//     parked), a 512-byte read buffer and about 3 KiB of heap for the station and the
//     WebSocket: about 7 KiB per idle connection (ConnectStorm of 15,000: 7,280 bytes each,
//     heap and stacks after GC). Write buffers are pooled and held only while a frame is
//     written, and frames are built in pooled buffers. A station has no goroutine of its
//     own: Run's behaviours are runtime timers, storms and Fleet.Run open connections from
//     MaxInFlight workers, and only a running session or a Reply.Then briefly has one.
//   - One source address has about 28,000 ephemeral ports towards one destination
//     (net.ipv4.ip_local_port_range), so a fleet of more than 20,000 stations against a
//     loopback gateway dials from 127.0.0.1, 127.0.0.2, … (Linux routes all of 127/8 to lo),
//     or from Config.SourceAddrs when given.
//   - Every connection is a file descriptor on each side. Run raises RLIMIT_NOFILE to the
//     hard limit (RaiseFileLimit, which a benchmark driver should call too); the hard limit
//     itself must exceed the connection count in both processes, or twice the count when the
//     gateway runs in the same process.
//   - New connections are paced and every timer is jittered, so a fleet started at once does
//     not keep beating in step.
package simulator
