package intake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/intake/amazon"
	"github.com/ordergate/ordergate/internal/intake/csvorder"
	"github.com/ordergate/ordergate/internal/intake/shopify"
	"github.com/ordergate/ordergate/internal/intake/woocommerce"
	"github.com/ordergate/ordergate/internal/intake/x12"
	"github.com/ordergate/ordergate/internal/order"
)

// Channels lists the channels sources may be registered for.
var Channels = []string{order.ChannelShopify, order.ChannelWooCommerce, order.ChannelAmazon, order.ChannelEDI850, order.ChannelCSV}

// Marketplace reports whether orders from channel have already been
// charged to the customer: such an order that breaks an invariant is
// kept for review instead of refused, since refusing would only make the
// channel retry.
func Marketplace(channel string) bool {
	return channel == order.ChannelShopify || channel == order.ChannelWooCommerce || channel == order.ChannelAmazon
}

// webhookChannels sign their deliveries with a shared secret.
func webhookChannel(channel string) bool {
	return channel == order.ChannelShopify || channel == order.ChannelWooCommerce
}

// Parser converts a JSON channel body into canonical orders.
type Parser func(body []byte) ([]order.Order, error)

// Sealer encrypts webhook secrets at rest; *secret.Keyring is one.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// Audit actions of intake events.
const (
	EventSourceCreated = "source.created"
	EventRefused       = "intake.refused"
)

// ErrUnauthenticated is returned for a delivery whose signature or API
// key does not match a source of its channel. Its message does not say
// which of the two was wrong.
var ErrUnauthenticated = ordergate.Errorf(ordergate.EUNAUTHORIZED, "invalid signature or API key")

// Service runs the entry flow.
type Service struct {
	Store Store
	Keys  Sealer
	Clock ordergate.Clock
	Log   *slog.Logger
	// Parsers maps each JSON channel to its parser.
	Parsers map[string]Parser
	// X12 configures the EDI 850 parser; CSV the CSV reader.
	X12 x12.Options
	CSV csvorder.Options
}

// NewService returns a Service with the shipped parsers.
func NewService(store Store, keys Sealer, clock ordergate.Clock, log *slog.Logger) *Service {
	return &Service{Store: store, Keys: keys, Clock: clock, Log: log, Parsers: map[string]Parser{
		order.ChannelShopify:     shopify.Parse,
		order.ChannelWooCommerce: woocommerce.Parse,
		order.ChannelAmazon:      amazon.Parse,
	}}
}

var sourceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// AddSource registers a source of channel named name and returns it with
// its secret, which is shown this once: the webhook secret for Shopify
// and WooCommerce (secret when given, the channel's own, else a new
// random one), a new API key "ogk_<source id>_<random>" for the others.
// EINVALID for an unknown channel or a bad name, ECONFLICT when the name
// is taken.
func (s *Service) AddSource(ctx context.Context, actor ordergate.Actor, channel, name, secret string) (*Source, string, error) {
	if !slices.Contains(Channels, channel) {
		return nil, "", ordergate.FieldError(ordergate.EINVALID, "channel", "must be one of "+strings.Join(Channels, ", "))
	}
	if !sourceName.MatchString(name) {
		return nil, "", ordergate.FieldError(ordergate.EINVALID, "name", "1 to 64 letters, digits, '.', '_' or '-'")
	}
	src := &Source{ID: "src_" + strings.ToLower(rand.Text()[:20]), Channel: channel, Name: name, CreatedAt: s.Clock.Now()}
	if webhookChannel(channel) {
		if secret == "" {
			secret = rand.Text() + rand.Text()
		}
		sealed, err := s.Keys.Seal([]byte(secret), []byte("source:"+src.ID))
		if err != nil {
			return nil, "", err
		}
		src.SealedSecret = sealed
	} else {
		if secret != "" {
			return nil, "", ordergate.FieldError(ordergate.EINVALID, "secret", "only Shopify and WooCommerce sources take a secret; API keys are generated")
		}
		secret = "ogk_" + src.ID + "_" + rand.Text()
		src.SecretHash = hashKey(secret)
	}
	ev := audit.Event{At: src.CreatedAt, Action: EventSourceCreated, Outcome: audit.OutcomeOK, Actor: actor,
		Data: map[string]any{"source_id": src.ID, "channel": channel, "name": name}}
	if err := s.Store.CreateSource(ctx, src, ev); err != nil {
		return nil, "", err
	}
	return src, secret, nil
}

func hashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// Delivery is one request to the entry flow, as the HTTP edge read it.
type Delivery struct {
	Channel string
	// SourceID optionally names the source (the ?source= parameter);
	// without it a webhook is checked against every source of the channel.
	SourceID string
	// Signature is the webhook signature header (base64 HMAC-SHA256).
	Signature string
	// APIKey is the bearer API key of an Amazon, EDI or CSV source.
	APIKey string
	// DeliveryID is the channel's delivery id header, if any.
	DeliveryID  string
	ContentType string
	Body        []byte
	ClientIP    string
}

// Outcome is what became of one order of a delivery.
type Outcome struct {
	OrderID    string          `json:"order_id"`
	Channel    string          `json:"channel"`
	ExternalID string          `json:"external_id"`
	Status     order.Status    `json:"status"`
	Created    bool            `json:"created"`
	Updated    bool            `json:"updated"`
	Warnings   []order.Warning `json:"warnings"`
}

// Rejection is an order of a delivery that was refused.
type Rejection struct {
	ExternalID string `json:"external_id,omitempty"`
	// Set is the transaction set's position in an EDI interchange.
	Set int              `json:"set,omitempty"`
	Err *ordergate.Error `json:"-"`
}

// Result is what the entry flow did with a delivery.
type Result struct {
	Source   *Source
	Orders   []Outcome
	Rejected []Rejection
	// Ack is the 997 functional acknowledgment of an EDI delivery.
	Ack []byte
}

// Receive runs a delivery through the entry flow. It returns
// ErrUnauthenticated (after recording the refusal) when the source cannot
// be authenticated, EUNPROCESSABLE when the body cannot be read at all,
// and otherwise a Result listing the orders taken in and those refused.
func (s *Service) Receive(ctx context.Context, d Delivery) (*Result, error) {
	if !slices.Contains(Channels, d.Channel) {
		return nil, ordergate.Errorf(ordergate.ENOTFOUND, "unknown channel %q", d.Channel)
	}
	src, err := s.authenticate(ctx, d)
	if err != nil {
		return nil, err
	}
	res := &Result{Source: src}
	raw := &Raw{SourceID: src.ID, DeliveryID: d.DeliveryID, ContentType: d.ContentType, Body: d.Body, ReceivedAt: s.Clock.Now()}
	actor := ordergate.Actor{Kind: ordergate.ActorSource, ID: src.ID, Name: src.Name, Auth: ordergate.AuthContext{ClientIP: d.ClientIP}}
	take := func(o *order.Order) error {
		out, rej, err := s.take(ctx, actor, src, raw, o)
		if err != nil {
			return err
		}
		if rej != nil {
			res.Rejected = append(res.Rejected, *rej)
		} else {
			res.Orders = append(res.Orders, out)
		}
		return nil
	}
	switch d.Channel {
	case order.ChannelEDI850:
		return res, s.receiveEDI(d, res, take)
	case order.ChannelCSV:
		r := csvorder.NewReader(bytes.NewReader(d.Body), s.CSV)
		for {
			o, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			var e *ordergate.Error
			if errors.As(err, &e) {
				if _, perOrder := e.Details["order_id"]; !perOrder {
					// The header or the file itself cannot be read: every
					// later call returns the same error.
					if len(res.Orders) == 0 && len(res.Rejected) == 0 {
						return nil, unprocessable(e)
					}
					res.Rejected = append(res.Rejected, Rejection{Err: unprocessable(e)})
					break
				}
				id, _ := e.Details["order_id"].(string)
				res.Rejected = append(res.Rejected, Rejection{ExternalID: id, Err: unprocessable(e)})
				continue
			} else if err != nil {
				return nil, err
			}
			if err := take(&o); err != nil {
				return nil, err
			}
		}
		return res, nil
	default:
		parse := s.Parsers[d.Channel]
		if parse == nil {
			return nil, ordergate.Errorf(ordergate.EUNAVAILABLE, "no parser for channel %s", d.Channel)
		}
		orders, err := parse(d.Body)
		if err != nil {
			return nil, unprocessable(err)
		}
		for i := range orders {
			if err := take(&orders[i]); err != nil {
				return nil, err
			}
		}
		return res, nil
	}
}

// unprocessable turns a parser's error into the 422 the entry flow
// answers for any input it cannot take, keeping the fields at fault.
func unprocessable(err error) *ordergate.Error {
	var e *ordergate.Error
	if !errors.As(err, &e) {
		return ordergate.Errorf(ordergate.EUNPROCESSABLE, "the body cannot be read")
	}
	c := *e
	c.Code = ordergate.EUNPROCESSABLE
	return &c
}

// receiveEDI parses an X12 interchange, judges each set, takes in the
// accepted ones and writes the 997 that answers the interchange.
func (s *Service) receiveEDI(d Delivery, res *Result, take func(*order.Order) error) error {
	ic, err := x12.Parse(d.Body, s.X12)
	if err != nil {
		return unprocessable(err)
	}
	for gi := range ic.Groups {
		for si := range ic.Groups[gi].Sets {
			set := &ic.Groups[gi].Sets[si]
			if set.Accepted() {
				if vs := order.Check(&set.Order); len(vs) > 0 {
					// The parser's own checks should have caught this; an
					// EDI order that breaks an invariant is refused whole.
					set.Err = order.ViolationError(vs)
					set.Violations = append(set.Violations, x12.Violation{Segment: "SE", SetCode: "5",
						Problem: vs[0].Message, Code: ordergate.EUNPROCESSABLE})
				}
			}
			if !set.Accepted() {
				res.Rejected = append(res.Rejected, Rejection{ExternalID: set.Order.ExternalID, Set: set.Ordinal, Err: unprocessable(set.Err)})
				continue
			}
			if err := take(&set.Order); err != nil {
				return err
			}
		}
	}
	now := s.Clock.Now()
	n := int(now.Unix() % 999999999)
	res.Ack = x12.Ack(ic, x12.AckOptions{ControlNumber: n, GroupControlNumber: n, Now: now})
	return nil
}

// take validates one parsed order and stores it.
func (s *Service) take(ctx context.Context, actor ordergate.Actor, src *Source, raw *Raw, o *order.Order) (Outcome, *Rejection, error) {
	in, rej, err := s.prepare(actor, src, raw, o)
	if rej != nil || err != nil {
		return Outcome{}, rej, err
	}
	st, err := s.Store.IngestOrder(ctx, in)
	if err != nil {
		return Outcome{}, nil, err
	}
	out := Outcome{OrderID: st.Order.ID, Channel: st.Order.Channel, ExternalID: st.Order.ExternalID,
		Status: st.Order.Status, Created: st.Created, Updated: st.Updated, Warnings: st.Order.Warnings}
	if st.Created || st.Updated {
		s.Log.Info("order taken in", "event", "intake.order", "order_id", out.OrderID, "channel", out.Channel,
			"source_id", src.ID, "status", out.Status, "created", st.Created)
	}
	return out, nil, nil
}

// prepare validates one parsed order and returns what the store takes
// in, or the order's rejection.
func (s *Service) prepare(actor ordergate.Actor, src *Source, raw *Raw, o *order.Order) (Ingest, *Rejection, error) {
	o.Channel, o.Source, o.Status = src.Channel, src.Name, order.StatusReceived
	o.CreatedBy, o.ModifiedBy = src.ID, src.ID
	if o.Warnings == nil {
		o.Warnings = []order.Warning{}
	}
	if vs := order.Check(o); len(vs) > 0 {
		fatal := slices.ContainsFunc(vs, func(v order.Violation) bool {
			return v.Code == order.CodeCurrencyUnknown || v.Code == order.CodeAmountOverflow
		})
		if fatal || !Marketplace(src.Channel) {
			return Ingest{}, &Rejection{ExternalID: o.ExternalID, Err: order.ViolationError(vs)}, nil
		}
		o.Status = order.StatusNeedsReview
		for _, v := range vs {
			o.Warnings = append(o.Warnings, order.Warning{Code: v.Code, Message: v.Field + ": " + v.Message})
		}
	}
	doc, err := json.Marshal(o)
	if err != nil {
		return Ingest{}, nil, err
	}
	sum := sha256.Sum256(doc)
	now := s.Clock.Now()
	in := Ingest{
		Raw:   raw,
		Order: o,
		Hash:  hex.EncodeToString(sum[:]),
		Doc:   doc,
		Received: audit.Event{At: now, Action: order.EventReceived, Outcome: audit.OutcomeOK, Actor: actor,
			Data: map[string]any{"channel": o.Channel, "source": o.Source, "external_id": o.ExternalID,
				"delivery_id": raw.DeliveryID, "status": o.Status, "total": o.Total, "currency": o.Currency,
				"warnings": warningCodes(o.Warnings)}},
		Update: func(stored *order.Order) (audit.Event, error) {
			before := *stored
			before.Lines = slices.Clone(stored.Lines)
			before.Warnings = slices.Clone(stored.Warnings)
			merge(stored, o)
			data := map[string]any{"delivery_id": raw.DeliveryID, "changes": order.Diff(&before, stored)}
			if raw.ID != "" {
				data["raw_payload_id"] = raw.ID
			}
			return audit.Event{At: now, Action: order.EventChannelUpdate, Outcome: audit.OutcomeOK, Actor: actor, Data: data}, nil
		},
	}
	if raw.ID != "" {
		in.Received.Data["raw_payload_id"] = raw.ID
	}
	return in, nil, nil
}

// merge applies a channel's changed content to the stored order. The
// status follows the content while nobody has acted on the order yet;
// after that it stays, and a warning says the channel changed it.
func merge(stored, in *order.Order) {
	keep := *stored
	*stored = *in
	stored.ID, stored.CreatedBy, stored.CreatedAt, stored.Approvals = keep.ID, keep.CreatedBy, keep.CreatedAt, keep.Approvals
	if keep.Status != order.StatusReceived && keep.Status != order.StatusNeedsReview {
		stored.Status = keep.Status
		stored.Warnings = append(stored.Warnings, order.Warning{Code: "channel.changed_after_review",
			Message: "the channel changed the order while it was " + string(keep.Status)})
	}
}

func warningCodes(ws []order.Warning) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.Code)
	}
	return out
}

// authenticate finds the source a delivery comes from, or records the
// refusal and returns ErrUnauthenticated.
func (s *Service) authenticate(ctx context.Context, d Delivery) (*Source, error) {
	src, reason, err := s.findSource(ctx, d)
	if err != nil {
		return nil, err
	}
	if src != nil {
		return src, nil
	}
	actor := ordergate.Actor{Kind: ordergate.ActorSource, ID: d.SourceID, Auth: ordergate.AuthContext{ClientIP: d.ClientIP}}
	ev := audit.Event{At: s.Clock.Now(), Action: EventRefused, Outcome: audit.OutcomeFailed, Actor: actor,
		Data: map[string]any{"channel": d.Channel, "reason": reason, "delivery_id": d.DeliveryID}}
	known := d.SourceID
	if known != "" {
		if _, err := s.Store.SourceByID(ctx, known); err != nil {
			known = ""
		}
	}
	if err := s.Store.RecordIntakeFailure(ctx, known, ev); err != nil {
		return nil, err
	}
	s.Log.Warn("intake refused", "event", EventRefused, "channel", d.Channel, "source_id", d.SourceID,
		"reason", reason, "client_ip", d.ClientIP)
	return nil, ErrUnauthenticated
}

// findSource returns the authenticated source, or nil and why not.
func (s *Service) findSource(ctx context.Context, d Delivery) (*Source, string, error) {
	if !webhookChannel(d.Channel) {
		if d.APIKey == "" {
			return nil, "no API key", nil
		}
		rest, ok := strings.CutPrefix(d.APIKey, "ogk_")
		i := strings.LastIndexByte(rest, '_')
		if !ok || i <= 0 {
			return nil, "malformed API key", nil
		}
		id := rest[:i]
		if d.SourceID != "" && d.SourceID != id {
			return nil, "API key of another source", nil
		}
		src, err := s.Store.SourceByID(ctx, id)
		if ordergate.ErrorCode(err) == ordergate.ENOTFOUND {
			return nil, "unknown source", nil
		} else if err != nil {
			return nil, "", err
		}
		if subtle.ConstantTimeCompare([]byte(hashKey(d.APIKey)), []byte(src.SecretHash)) != 1 || src.SecretHash == "" {
			return nil, "wrong API key", nil
		}
		if src.Revoked || src.Channel != d.Channel {
			return nil, "source revoked or of another channel", nil
		}
		return src, "", nil
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(d.Signature))
	if d.Signature == "" || err != nil || len(sig) != sha256.Size {
		return nil, "missing or malformed signature", nil
	}
	var candidates []*Source
	if d.SourceID != "" {
		src, err := s.Store.SourceByID(ctx, d.SourceID)
		if ordergate.ErrorCode(err) == ordergate.ENOTFOUND {
			return nil, "unknown source", nil
		} else if err != nil {
			return nil, "", err
		}
		if !src.Revoked && src.Channel == d.Channel {
			candidates = append(candidates, src)
		}
	} else if candidates, err = s.Store.SourcesByChannel(ctx, d.Channel); err != nil {
		return nil, "", err
	}
	for _, src := range candidates {
		secret, err := s.Keys.Open(src.SealedSecret, []byte("source:"+src.ID))
		if err != nil {
			s.Log.Error("cannot open a source's webhook secret", "source_id", src.ID, "err", err)
			continue
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write(d.Body)
		if hmac.Equal(mac.Sum(nil), sig) {
			return src, "", nil
		}
	}
	return nil, "signature does not match", nil
}
