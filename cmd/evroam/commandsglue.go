package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/commands"
	"github.com/evroam/evroam/files"
	"github.com/evroam/evroam/firmware"
	"github.com/evroam/evroam/internal/apperr"
	"github.com/evroam/evroam/internal/auth"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/schema"
	"github.com/evroam/evroam/stationlogs"
	"github.com/evroam/evroam/stationreports"
	"github.com/google/uuid"
)

// commandStations lets the charger commands find a station an API key may command, and its
// protocol, through the charge-station service.
type commandStations struct{ stations *chargestations.Service }

func (s commandStations) Station(ctx context.Context, p auth.Principal, identity string) (commands.Station, error) {
	proto, err := s.stations.CommandTarget(ctx, p.Networks, identity)
	if err != nil {
		return commands.Station{}, err // chargestations.ErrNotFound wraps apperr.NotFound
	}
	return commands.Station{Identity: identity, ProtocolVersion: string(proto)}, nil
}

// commandTransfers serves the DataTransfer history from the station logs, where the gateway
// records every exchange in both directions.
type commandTransfers struct{ logs *stationlogs.Store }

func (t commandTransfers) ListDataTransfers(ctx context.Context, p auth.Principal, identity string, limit int) ([]commands.DataTransfer, error) {
	ds, err := t.logs.DataTransfers(ctx, p.Networks, identity, limit)
	if errors.Is(err, stationlogs.ErrStationNotFound) {
		return nil, chargestations.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := make([]commands.DataTransfer, len(ds))
	for i, d := range ds {
		out[i] = commands.DataTransfer{ID: d.ID, DataTransfer: ocpp.DataTransfer{Identity: d.StationID, Direction: d.Direction,
			VendorID: d.VendorID, MessageID: d.MessageID, Data: d.Data, Status: d.Status, ResponseData: d.ResponseData,
			Error: d.Error, At: d.Created}}
	}
	return out, nil
}

// commandPasswords keeps the passwords a password rotation offers, through the charge-station
// service (which hashes them as it hashes ocpp_password).
type commandPasswords struct{ stations *chargestations.Service }

func (p commandPasswords) Offer(ctx context.Context, identity, password string) (string, error) {
	return p.stations.OfferPassword(ctx, identity, password)
}

func (p commandPasswords) Confirm(ctx context.Context, identity, token string) error {
	return p.stations.ConfirmPassword(ctx, identity, token)
}

func (p commandPasswords) Withdraw(ctx context.Context, identity, token string) error {
	return p.stations.WithdrawPassword(ctx, identity, token)
}

// commandProfiles records security profile upgrades through the charge-station service.
type commandProfiles struct{ stations *chargestations.Service }

func (p commandProfiles) Begin(ctx context.Context, identity string, profile int) error {
	return p.stations.BeginProfileUpgrade(ctx, identity, schema.SecurityProfile(profile))
}

func (p commandProfiles) Fail(ctx context.Context, identity string, profile int, reason string) error {
	return p.stations.FailProfileUpgrade(ctx, identity, schema.SecurityProfile(profile), reason)
}

// commandFiles gives the charger commands the signed URLs of the file store: firmware/update
// {"firmwareId"} the URL of uploaded firmware, diagnostics without a location an upload URL;
// under EVROAM_PUBLIC_URL, or where the API was reached when that is not set.
type commandFiles struct {
	firmware  *firmware.Service
	signer    *files.Signer
	publicURL string
}

func (f commandFiles) Download(ctx context.Context, p auth.Principal, id, base string, until time.Time) (commands.FirmwareDownload, error) {
	fid, err := uuid.Parse(id)
	if err != nil {
		return commands.FirmwareDownload{}, firmware.ErrNotFound
	}
	fw, err := f.firmware.Get(ctx, p, fid)
	if err != nil {
		return commands.FirmwareDownload{}, err
	}
	if f.publicURL != "" {
		base = f.publicURL
	}
	u, err := f.signer.URL(base, http.MethodGet, fw.File.ID, until)
	if errors.Is(err, files.ErrNoKey) {
		return commands.FirmwareDownload{}, fmt.Errorf("%w: %w", err, apperr.Conflict)
	}
	if err != nil {
		return commands.FirmwareDownload{}, err
	}
	d := commands.FirmwareDownload{Location: u}
	if fw.SigningCertificate != nil {
		d.SigningCertificate = *fw.SigningCertificate
	}
	if fw.Signature != nil {
		d.Signature = *fw.Signature
	}
	return d, nil
}

func (f commandFiles) UploadURL(_ context.Context, identity, base string, until time.Time) (string, error) {
	if f.publicURL != "" {
		base = f.publicURL
	}
	u, err := f.signer.UploadURL(base, uuid.New(), identity, until)
	if errors.Is(err, files.ErrNoKey) {
		return "", fmt.Errorf("%w: %w", err, apperr.Conflict)
	}
	return u, err
}

// commandCertificates records the CA certificates installed through the API in the station's
// certificate log, next to the certificates evroam signed for it.
type commandCertificates struct{ reports *stationreports.Service }

func (c commandCertificates) RecordInstalled(ctx context.Context, identity string, x commands.InstalledCertificate) error {
	return c.reports.RecordCertificate(ctx, stationlogs.Certificate{StationID: identity, CertificateType: x.CertificateType,
		SerialNumber: x.SerialNumber, Subject: x.Subject, Issuer: x.Issuer, NotBefore: x.NotBefore, NotAfter: x.NotAfter,
		Status: x.Status, Created: time.Now().UTC()})
}
