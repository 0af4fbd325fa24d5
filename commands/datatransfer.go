package commands

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/ocpp"
	"github.com/gin-gonic/gin"
)

// ---- data-transfer

type dataTransferRequest struct {
	VendorID  string  `json:"vendorId" validate:"required,max=255"`
	MessageID string  `json:"messageId" validate:"omitempty,max=50"`
	Data      *string `json:"data"`
}

type dataTransferResponse struct {
	Message      string  `json:"message"`
	ChargeBoxID  string  `json:"chargeBoxId"`
	VendorID     string  `json:"vendorId"`
	MessageID    string  `json:"messageId,omitempty"`
	Status       string  `json:"status"`
	ResponseData *string `json:"responseData,omitempty"`
}

var dataTransferMessages = map[string]string{
	"UnknownMessageId": "Charger does not know this messageId",
	"UnknownVendorId":  "Charger does not know this vendorId",
}

// dataTransfer is the DataTransfer payload of both versions. data is a string in both:
// 2.0.1 allows any JSON, and a JSON string carries the text exactly.
type dataTransfer struct {
	VendorID  string  `json:"vendorId"`
	MessageID string  `json:"messageId,omitempty"`
	Data      *string `json:"data,omitempty"`
}

// dataTransferAnswer is the DataTransfer answer of both versions; data is any JSON in
// 2.0.1.
type dataTransferAnswer struct {
	ocpp.StatusResponse
	Data json.RawMessage `json:"data"`
}

func dataTransferCall(r *dataTransferRequest) outgoing[dataTransferAnswer] {
	return send[dataTransferAnswer]("DataTransfer", dataTransfer{VendorID: r.VendorID, MessageID: r.MessageID, Data: r.Data})
}

var dataTransferCommand = command[dataTransferRequest, dataTransferAnswer, dataTransferResponse]{
	path:    "data-transfer",
	ocpp16:  dataTransferCall,
	ocpp201: dataTransferCall,
	respond: func(st Station, r *dataTransferRequest, a dataTransferAnswer) dataTransferResponse {
		msg, ok := dataTransferMessages[a.Status]
		if !ok {
			msg = "DataTransfer " + verb(a.Status) + " by charger"
		}
		return dataTransferResponse{
			Message: withInfo(msg, a.StatusInfo), ChargeBoxID: st.Identity, VendorID: r.VendorID, MessageID: r.MessageID,
			Status: a.Status, ResponseData: dataText(a.Data),
		}
	},
}

// dataText turns DataTransfer data (a JSON string in 1.6, any JSON in 2.0.1) into the
// string the API shows: a JSON string's text, or the JSON itself; nil when absent.
func dataText(raw json.RawMessage) *string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return &s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		s = buf.String()
	} else {
		s = string(raw)
	}
	return &s
}

// ---- GET data-transfer: the history, a plain read rather than a command

const (
	defaultHistoryLimit = 20
	maxHistoryLimit     = 100
)

type dataTransferItem struct {
	ID             string  `json:"id"`
	Direction      string  `json:"direction"`
	VendorID       string  `json:"vendorId"`
	MessageID      string  `json:"messageId,omitempty"`
	Data           *string `json:"data,omitempty"`
	ResponseStatus string  `json:"responseStatus,omitempty"`
	ResponseData   *string `json:"responseData,omitempty"`
	Error          string  `json:"error,omitempty"`
	CreatedAt      string  `json:"createdAt"`
}

type dataTransferList struct {
	ChargeBoxID   string             `json:"chargeBoxId"`
	DataTransfers []dataTransferItem `json:"dataTransfers"`
	Count         int                `json:"count"`
}

func (h *Handler) listDataTransfers(c *gin.Context) error {
	limit := defaultHistoryLimit
	if s, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return web.BadQuery("limit", "must be a positive whole number")
		}
		limit = min(n, maxHistoryLimit)
	}
	st, err := h.station(c)
	if err != nil {
		return err
	}
	list, err := h.Transfers.ListDataTransfers(c.Request.Context(), web.CurrentPrincipal(c), st.Identity, limit)
	if err != nil {
		return err
	}
	out := dataTransferList{ChargeBoxID: st.Identity, DataTransfers: make([]dataTransferItem, 0, len(list)), Count: len(list)}
	for _, d := range list {
		dir := "outgoing"
		if d.Direction == ocpp.DirectionIn {
			dir = "incoming"
		}
		out.DataTransfers = append(out.DataTransfers, dataTransferItem{
			ID: "dt_" + strconv.FormatInt(d.ID, 10), Direction: dir, VendorID: d.VendorID, MessageID: d.MessageID,
			Data: dataText(d.Data), ResponseStatus: d.Status, ResponseData: dataText(d.ResponseData), Error: d.Error,
			CreatedAt: d.At.UTC().Format("2006-01-02T15:04:05.000Z"),
		})
	}
	c.JSON(http.StatusOK, out)
	return nil
}
