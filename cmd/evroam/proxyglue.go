package main

import (
	"context"
	"time"

	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/proxy"
	"github.com/google/uuid"
)

// proxyRegistry is the OCPP proxy's view of storage (ocpp.ProxyRegistry) over package proxy.
// It only maps types: the rules of the links are OCPP knowledge (package ocpp), the
// operators' data is package proxy's.
type proxyRegistry struct{ svc *proxy.Service }

var _ ocpp.ProxyRegistry = proxyRegistry{}

func (p proxyRegistry) Operators(ctx context.Context, identity string) ([]ocpp.Operator, error) {
	links, err := p.svc.Links(ctx, identity)
	if err != nil {
		return nil, err
	}
	out := make([]ocpp.Operator, len(links))
	for i, l := range links {
		out[i] = ocpp.Operator{ID: l.ID.String(), Name: l.Name, URL: l.URL, Billing: l.Role == proxy.RoleBilling,
			Identity: l.Identity, Password: l.Password, Enabled: l.Enabled, Unusable: l.PasswordErr}
	}
	return out, nil
}

func (p proxyRegistry) RecordOperatorStatus(ctx context.Context, operatorID, status, lastError string, connectedAt *time.Time) error {
	id, err := uuid.Parse(operatorID)
	if err != nil {
		return err
	}
	return p.svc.Store().SetStatus(ctx, id, status, lastError, connectedAt)
}

func (p proxyRegistry) Enqueue(ctx context.Context, operatorID string, q ocpp.QueuedCall) error {
	id, err := uuid.Parse(operatorID)
	if err != nil {
		return err
	}
	_, err = p.svc.Store().Enqueue(ctx, proxy.QueuedMessage{OperatorID: id, Action: q.Action, Payload: q.Payload,
		StationTransactionID: q.StationTransactionID, Created: time.Now()})
	return err
}

func (p proxyRegistry) Queued(ctx context.Context, operatorID string, limit int) ([]ocpp.QueuedCall, error) {
	id, err := uuid.Parse(operatorID)
	if err != nil {
		return nil, err
	}
	ms, err := p.svc.Store().Queued(ctx, id, limit)
	if err != nil {
		return nil, err
	}
	out := make([]ocpp.QueuedCall, len(ms))
	for i, m := range ms {
		out[i] = ocpp.QueuedCall{ID: m.ID, Action: m.Action, Payload: m.Payload, StationTransactionID: m.StationTransactionID}
	}
	return out, nil
}

func (p proxyRegistry) Dequeue(ctx context.Context, id int64) error {
	return p.svc.Store().Dequeue(ctx, id)
}

// partyOf maps the gateway's name for itself onto the proxy's.
func partyOf(party string) string {
	if party == ocpp.PartyGateway {
		return proxy.PartyEvroam
	}
	return party
}

func (p proxyRegistry) MapTransaction(ctx context.Context, identity, stationTx, party, partyTx string) error {
	return p.svc.Store().MapTransaction(ctx, identity, stationTx, partyOf(party), partyTx)
}

func (p proxyRegistry) PartyTransaction(ctx context.Context, identity, stationTx, party string) (string, error) {
	return p.svc.Store().PartyTransaction(ctx, identity, stationTx, partyOf(party))
}

func (p proxyRegistry) StationTransaction(ctx context.Context, identity, party, partyTx string) (string, error) {
	return p.svc.Store().StationTransaction(ctx, identity, partyOf(party), partyTx)
}
