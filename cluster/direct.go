package cluster

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/evroam/evroam/ocpp"
	"github.com/google/uuid"
)

// Direct calls: a node started with Config.CallURL takes the commands other nodes forward
// to it over HTTP (CallHandler), which costs one HTTP round trip on a kept-alive connection
// instead of four statements and two NOTIFYs, which PostgreSQL delivers one commit at a
// time. The node registers its URL in cluster_nodes; a caller reads it with the station's
// owner in the statement it runs anyway. A call that cannot reach the owner's URL (nothing
// listens there, the route is missing, the key differs), and so cannot have run, goes
// through the database instead; a call that reached the owner is never sent twice.
//
// Requests are signed with a key derived from EVROAM_SECRET_KEY (HMAC-SHA256 of the body),
// carry the time they were sent and an id: the owner refuses a bad signature, a request
// older than callMaxAge, and an id it has seen, so a recorded request cannot be replayed
// to send the command again.

// nodeCall is a command forwarded over HTTP.
type nodeCall struct {
	ID        uuid.UUID       `json:"id"`
	Identity  string          `json:"identity"`
	Action    string          `json:"action"`
	Payload   json.RawMessage `json:"payload"`
	TimeoutMS int64           `json:"timeout_ms"`
	SentAt    time.Time       `json:"sent_at"`
}

// answer is a forwarded call's outcome, over HTTP or in the row of command_calls: the
// station's answer, or the error as a kind with its code, message and details.
type answer struct {
	Result  json.RawMessage `json:"result,omitempty"`
	Kind    string          `json:"error_kind,omitempty"`
	Code    string          `json:"error_code,omitempty"`
	Message string          `json:"error_message,omitempty"`
	Details json.RawMessage `json:"error_details,omitempty"`
}

// answerOf turns what the local gateway's Call returned into an answer.
func answerOf(res json.RawMessage, err error) answer {
	var a answer
	if len(res) > 0 && json.Valid(res) {
		a.Result = res
	}
	var ce *ocpp.CallError
	switch {
	case err == nil:
	case errors.Is(err, ocpp.ErrNotConnected):
		a.Kind = kindNotConnected
	case errors.Is(err, ocpp.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		a.Kind = kindTimeout
	case errors.As(err, &ce):
		a.Kind, a.Code, a.Message = kindCallError, ce.Code, ce.Description
		if len(ce.Details) > 0 && json.Valid(ce.Details) {
			a.Details = ce.Details
		}
	case errors.Is(err, ocpp.ErrInvalidPayload):
		a.Kind, a.Message = kindInvalidPayload, err.Error()
	case errors.Is(err, ocpp.ErrInvalidResponse):
		a.Kind, a.Message = kindInvalidResponse, err.Error()
	default:
		a.Kind, a.Message = kindOther, err.Error()
	}
	return a
}

// outcome is the inverse of answerOf: the caller gets the same values a local Call returns.
func (a answer) outcome() (json.RawMessage, error) {
	switch a.Kind {
	case "":
		return a.Result, nil
	case kindNotConnected:
		return nil, ocpp.ErrNotConnected
	case kindTimeout:
		return nil, ocpp.ErrTimeout
	case kindCallError:
		return nil, &ocpp.CallError{Code: a.Code, Description: a.Message, Details: a.Details}
	case kindInvalidPayload:
		return nil, fmt.Errorf("%w: %s", ocpp.ErrInvalidPayload, a.Message)
	case kindInvalidResponse:
		return a.Result, fmt.Errorf("%w: %s", ocpp.ErrInvalidResponse, a.Message)
	}
	return nil, fmt.Errorf("cluster: forwarded call failed: %s", a.Message)
}

const (
	callPath        = "/internal/cluster/call"
	signatureHeader = "X-Evroam-Node-Signature"
	// callMaxAge is how old a request may be when it arrives (nodes' clocks are assumed to
	// agree within it); ids are remembered for twice as long.
	callMaxAge   = time.Minute
	callMaxBytes = 4 << 20
)

// errUnreached: the owner's URL did not take the call, so it did not run there.
var errUnreached = errors.New("cluster: the owner's call URL did not take the call")

func newCallClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil, // node to node, never through a proxy
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// forwardDirect sends the call to the owner's CallHandler. It returns errUnreached (wrapped)
// when the call cannot have run there.
func (n *Node) forwardDirect(ctx context.Context, url, identity, action string, payload any) (json.RawMessage, error) {
	raw, err := encodePayload(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ocpp.ErrInvalidPayload, err)
	}
	timeout := n.cfg.DefaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if timeout < time.Millisecond {
		return nil, ocpp.ErrTimeout
	}
	body, err := json.Marshal(nodeCall{ID: uuid.New(), Identity: identity, Action: action, Payload: raw,
		TimeoutMS: timeout.Milliseconds(), SentAt: time.Now()})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+callPath, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnreached, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(signatureHeader, hex.EncodeToString(n.cfg.CallKey.SignNodeCall(body)))
	resp, err := n.calls.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, fmt.Errorf("%w: %v", errUnreached, err)
		}
		if ctx.Err() != nil {
			return nil, ctxErr(ctx)
		}
		return nil, fmt.Errorf("cluster: forward %s to %s: %w", action, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		// Every refusal of CallHandler comes before the call runs.
		return nil, fmt.Errorf("%w: HTTP %d", errUnreached, resp.StatusCode)
	}
	var a answer
	if err := json.NewDecoder(io.LimitReader(resp.Body, callMaxBytes)).Decode(&a); err != nil {
		if ctx.Err() != nil {
			return nil, ctxErr(ctx)
		}
		return nil, fmt.Errorf("cluster: read the answer of %s from %s: %w", action, url, err)
	}
	return a.outcome()
}

// CallHandler serves the commands other nodes forward to this one (at /internal/cluster/call
// of the URL in Config.CallURL); cmd/evroam mounts it on the HTTP listener. Only nodes with
// the same EVROAM_SECRET_KEY can use it.
func (n *Node) CallHandler() http.Handler { return http.HandlerFunc(n.serveCall) }

// CallPath is where CallHandler is to be mounted.
const CallPath = callPath

func (n *Node) serveCall(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if n.cfg.CallKey == nil || n.cfg.CallURL == "" {
		http.Error(w, "this node takes no calls over HTTP", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, callMaxBytes))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	sig, err := hex.DecodeString(r.Header.Get(signatureHeader))
	if err != nil || !hmac.Equal(sig, n.cfg.CallKey.SignNodeCall(body)) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var c nodeCall
	if err := json.Unmarshal(body, &c); err != nil || c.Identity == "" || c.Action == "" || c.TimeoutMS <= 0 {
		http.Error(w, "unreadable call", http.StatusBadRequest)
		return
	}
	if age := time.Since(c.SentAt); age > callMaxAge || age < -callMaxAge {
		http.Error(w, "stale call", http.StatusUnauthorized)
		return
	}
	if !n.seen.first(c.ID, time.Now()) {
		http.Error(w, "call seen before", http.StatusConflict)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(c.TimeoutMS)*time.Millisecond)
	defer cancel()
	var res json.RawMessage
	err = ocpp.ErrNotConnected
	if l := n.localGateway(); l != nil {
		res, err = l.Call(ctx, c.Identity, c.Action, c.Payload)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answerOf(res, err))
}

// seenCalls remembers the ids of the calls served over HTTP for 2 × callMaxAge.
type seenCalls struct {
	mu   sync.Mutex
	ids  map[uuid.UUID]time.Time
	next time.Time // when to drop old ids
}

// first records id and says whether it is new.
func (s *seenCalls) first(id uuid.UUID, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = map[uuid.UUID]time.Time{}
	}
	if now.After(s.next) {
		for k, at := range s.ids {
			if now.Sub(at) > 2*callMaxAge {
				delete(s.ids, k)
			}
		}
		s.next = now.Add(callMaxAge / 4)
	}
	if _, ok := s.ids[id]; ok {
		return false
	}
	s.ids[id] = now
	return true
}
