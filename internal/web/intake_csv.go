package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake"
)

// DefaultIntakeCSVMaxBody is the body limit of CSV intake, which streams
// the body instead of holding it: 2 GiB. Server.IntakeCSVMaxBody sets
// another.
const DefaultIntakeCSVMaxBody = 2 << 30

// csvIdleTimeout is how long a CSV upload may send nothing, and its
// answer take after the last byte, before the connection is closed: the
// server's ReadTimeout and WriteTimeout bound whole requests, which a
// large file outlasts.
const csvIdleTimeout = 60 * time.Second

// csvMaxBody is the body limit of CSV intake.
func (s *Server) csvMaxBody() int64 {
	if s.IntakeCSVMaxBody > 0 {
		return s.IntakeCSVMaxBody
	}
	return DefaultIntakeCSVMaxBody
}

// rowErrorAnswer is the JSON of one refusal of a CSV file.
type rowErrorAnswer struct {
	Row        int               `json:"row"`
	ExternalID string            `json:"external_id,omitempty"`
	Error      string            `json:"error"`
	Message    string            `json:"message"`
	Fields     map[string]string `json:"fields,omitempty"`
}

// handleIntakeCSV takes in a CSV file as a stream (intake.ReceiveCSV)
// and answers a summary:
//
//	{"orders_created", "orders_updated", "duplicates", "rejected_rows",
//	 "error_count", "errors": [{"row", "external_id", "error", "message",
//	 "fields"}] (the first 100), "raw_payload_id", "size", "sha256"}
//
// with 201 when an order was created or updated, 200 when every order
// was a duplicate, and 422 (adding "error" and "message") when none was
// taken in. A file whose header cannot be read, or holding no order, is
// a plain 422 error and stores nothing.
func (s *Server) handleIntakeCSV(w http.ResponseWriter, r *http.Request, a *orderAPI, channel string) {
	d := intake.Delivery{
		Channel:     channel,
		SourceID:    r.URL.Query().Get("source"),
		ContentType: r.Header.Get("Content-Type"),
		ClientIP:    s.ClientIP(r),
	}
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		d.APIKey = strings.TrimSpace(t)
	}
	body := &csvBody{r: r.Body, rc: http.NewResponseController(w)}
	// The import runs on a context the request's end does not cancel.
	// modernc.org/sqlite watches a cancellable context with a goroutine
	// per statement, to interrupt it, which for a file is several
	// goroutines per order: they cost CPU time and, queued behind the
	// import on a busy machine, memory for their stacks. A client that
	// goes away still ends the import: reading the body then fails.
	sum, err := a.intake.ReceiveCSV(context.WithoutCancel(r.Context()), d, body)
	if err != nil {
		outcome := "rejected"
		if ordergate.ErrorCode(err) == ordergate.EUNAUTHORIZED {
			outcome = "refused"
		}
		a.received.WithLabelValues(channel, outcome).Inc()
		s.writeError(w, r, err)
		return
	}
	a.received.WithLabelValues(channel, "created").Add(float64(sum.Created))
	a.received.WithLabelValues(channel, "updated").Add(float64(sum.Updated))
	a.received.WithLabelValues(channel, "duplicate").Add(float64(sum.Duplicates))
	a.received.WithLabelValues(channel, "rejected").Add(float64(sum.ErrorCount))
	errs := make([]rowErrorAnswer, 0, len(sum.Errors))
	for _, e := range sum.Errors {
		errs = append(errs, rowErrorAnswer{Row: e.Row, ExternalID: e.ExternalID, Error: e.Err.Code,
			Message: e.Err.Message, Fields: e.Err.Fields})
	}
	answer := map[string]any{
		"orders_created": sum.Created, "orders_updated": sum.Updated, "duplicates": sum.Duplicates,
		"rejected_rows": sum.RejectedRows, "error_count": sum.ErrorCount, "errors": errs,
		"raw_payload_id": sum.RawPayloadID, "size": sum.Size, "sha256": sum.SHA256,
	}
	status := http.StatusOK
	switch {
	case sum.Created+sum.Updated > 0:
		status = http.StatusCreated
	case sum.Duplicates == 0:
		status = http.StatusUnprocessableEntity
		answer["error"], answer["message"] = ordergate.EUNPROCESSABLE, "no order of the file was taken in"
	}
	writeJSON(w, status, answer)
}

// csvBody is a CSV upload's body. Each read moves the connection's read
// and write deadlines csvIdleTimeout ahead (at most once a second), and
// reading past the body limit fails with an *ordergate.Error.
type csvBody struct {
	r     io.Reader
	rc    *http.ResponseController
	moved time.Time
}

func (b *csvBody) Read(p []byte) (int, error) {
	if now := time.Now(); now.Sub(b.moved) >= time.Second {
		b.moved = now
		// Not every ResponseWriter has deadlines (tests); then none apply.
		_ = b.rc.SetReadDeadline(now.Add(csvIdleTimeout))
		_ = b.rc.SetWriteDeadline(now.Add(2 * csvIdleTimeout))
	}
	n, err := b.r.Read(p)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		err = ordergate.Errorf(ordergate.EINVALID, "request body too large (limit %d bytes)", tooBig.Limit)
	}
	return n, err
}
