package web

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake"
	"github.com/ordergate/ordergate/internal/order"
)

// intakePrefix is the path of the intake endpoint, whose body limit is
// the order API's, not the server's.
const intakePrefix = "/api/v1/intake/"

// bodyLimit is the request body limit for r.
func (s *Server) bodyLimit(r *http.Request) int64 {
	if s.orders != nil && r.URL.Path == intakePrefix+order.ChannelCSV {
		return s.csvMaxBody()
	}
	if s.orders != nil && strings.HasPrefix(r.URL.Path, intakePrefix) {
		return s.orders.maxBody
	}
	return s.MaxBody
}

// firstHeader returns the first non-empty value of the named headers.
func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// intakeAnswer is the JSON of one order taken in.
type intakeAnswer struct {
	OrderID    string          `json:"order_id"`
	Channel    string          `json:"channel"`
	ExternalID string          `json:"external_id"`
	Status     order.Status    `json:"status"`
	Warnings   []order.Warning `json:"warnings,omitempty"`
}

// rejectionAnswer is the JSON of one order refused.
type rejectionAnswer struct {
	ExternalID string            `json:"external_id,omitempty"`
	Set        int               `json:"set,omitempty"`
	Error      string            `json:"error"`
	Message    string            `json:"message"`
	Fields     map[string]string `json:"fields,omitempty"`
}

// handleIntake is the one entry point of channel deliveries. The answer:
//
//   - one order taken in: 201 {"order_id", "channel", "external_id",
//     "status", "warnings"} when new or changed, 200 with the same body
//     for a duplicate delivery;
//   - several orders (an interchange of several sets, a Shopify list): 201 or 200 as above with {"orders": [...]}, and 207
//     with "rejected": [...] when some orders were refused;
//   - nothing taken in: 422 with the first refusal's error, message and
//     fields, and "rejected" listing every refused order;
//   - EDI answers carry the 997 acknowledgment as "ack_997";
//   - CSV files are streamed and answered with a summary: handleIntakeCSV.
func (s *Server) handleIntake(w http.ResponseWriter, r *http.Request) {
	a := s.orders
	if a == nil {
		s.writeError(w, r, errOrdersOff)
		return
	}
	channel := r.PathValue("channel")
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	w = rec
	defer func() { a.observeIntake(channel, rec.status, time.Since(start)) }()
	if channel == order.ChannelCSV {
		// Streamed, never held whole; see handleIntakeCSV.
		s.handleIntakeCSV(w, r, a, channel)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.writeError(w, r, ordergate.Errorf(ordergate.EINVALID, "request body too large (limit %d bytes)", tooBig.Limit))
			return
		}
		s.writeError(w, r, ordergate.Errorf(ordergate.EINVALID, "cannot read the request body"))
		return
	}
	d := intake.Delivery{
		Channel:     channel,
		SourceID:    r.URL.Query().Get("source"),
		Signature:   firstHeader(r.Header, "X-Shopify-Hmac-Sha256", "Shopify-Hmac-Sha256", "X-WC-Webhook-Signature"),
		DeliveryID:  firstHeader(r.Header, "X-Shopify-Webhook-Id", "Shopify-Webhook-Id", "X-WC-Webhook-Delivery-ID"),
		ContentType: r.Header.Get("Content-Type"),
		Body:        body,
		ClientIP:    s.ClientIP(r),
	}
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		d.APIKey = strings.TrimSpace(t)
	}
	res, err := a.intake.Receive(r.Context(), d)
	if err != nil {
		outcome := "rejected"
		if ordergate.ErrorCode(err) == ordergate.EUNAUTHORIZED {
			outcome = "refused"
		}
		if channel != "" && ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
			a.received.WithLabelValues(channel, outcome).Inc()
		}
		s.writeError(w, r, err)
		return
	}
	s.writeIntake(w, r, a, channel, res)
}

func (s *Server) writeIntake(w http.ResponseWriter, r *http.Request, a *orderAPI, channel string, res *intake.Result) {
	var orders []intakeAnswer
	changed := false
	for _, o := range res.Orders {
		outcome := "duplicate"
		switch {
		case o.Created:
			outcome = "created"
		case o.Updated:
			outcome = "updated"
		}
		a.received.WithLabelValues(channel, outcome).Inc()
		if (o.Created || o.Updated) && o.Status == order.StatusNeedsReview {
			for _, wn := range o.Warnings {
				if strings.HasPrefix(wn.Code, "totals.") || strings.HasPrefix(wn.Code, "line.") ||
					strings.HasPrefix(wn.Code, "lines.") || strings.HasPrefix(wn.Code, "quantity.") || strings.HasPrefix(wn.Code, "amount.") {
					a.needsReview.WithLabelValues(channel, wn.Code).Inc()
				}
			}
		}
		changed = changed || o.Created || o.Updated
		orders = append(orders, intakeAnswer{OrderID: o.OrderID, Channel: o.Channel, ExternalID: o.ExternalID,
			Status: o.Status, Warnings: o.Warnings})
	}
	var rejected []rejectionAnswer
	for _, rj := range res.Rejected {
		a.received.WithLabelValues(channel, "rejected").Inc()
		rejected = append(rejected, rejectionAnswer{ExternalID: rj.ExternalID, Set: rj.Set,
			Error: rj.Err.Code, Message: rj.Err.Message, Fields: rj.Err.Fields})
	}
	status := http.StatusOK
	if changed {
		status = http.StatusCreated
	}
	var body map[string]any
	switch {
	case len(orders) == 0 && len(rejected) > 0:
		first := res.Rejected[0].Err
		status = http.StatusUnprocessableEntity
		body = map[string]any{"error": first.Code, "message": first.Message, "rejected": rejected}
		if len(first.Fields) > 0 {
			body["fields"] = first.Fields
		}
	case len(orders) == 0:
		status = http.StatusUnprocessableEntity
		body = map[string]any{"error": ordergate.EUNPROCESSABLE, "message": "the delivery holds no order"}
	case len(orders) == 1 && len(rejected) == 0:
		o := orders[0]
		body = map[string]any{"order_id": o.OrderID, "channel": o.Channel, "external_id": o.ExternalID, "status": o.Status}
		if len(o.Warnings) > 0 {
			body["warnings"] = o.Warnings
		}
	default:
		body = map[string]any{"orders": orders}
		if len(rejected) > 0 {
			status = http.StatusMultiStatus
			body["rejected"] = rejected
		}
	}
	if res.Ack != nil {
		body["ack_997"] = string(res.Ack)
	}
	writeJSON(w, status, body)
}
