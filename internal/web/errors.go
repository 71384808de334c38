package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/ordergate/ordergate"
)

// statuses maps error codes to HTTP statuses; the one place that does.
var statuses = map[string]int{
	ordergate.EINVALID:       http.StatusBadRequest,
	ordergate.EUNPROCESSABLE: http.StatusUnprocessableEntity,
	ordergate.ECONFLICT:      http.StatusConflict,
	ordergate.ENOTFOUND:      http.StatusNotFound,
	ordergate.EUNAUTHORIZED:  http.StatusUnauthorized,
	ordergate.ECREDENTIALS:   http.StatusUnauthorized,
	ordergate.ECODE:          http.StatusUnauthorized,
	ordergate.ESTEPUP:        http.StatusUnauthorized,
	ordergate.EFORBIDDEN:     http.StatusForbidden,
	ordergate.EDENIED:        http.StatusForbidden,
	ordergate.ERATELIMIT:     http.StatusTooManyRequests,
	ordergate.EUNAVAILABLE:   http.StatusServiceUnavailable,
}

// statusClientClosed is the status of a request whose client went away
// before the answer (nginx's 499, "client closed request").
const statusClientClosed = 499

// errorBody is the JSON form of every error.
type errorBody struct {
	Error      string            `json:"error"`
	Message    string            `json:"message"`
	Fields     map[string]string `json:"fields,omitempty"`
	RetryAfter int               `json:"retry_after,omitempty"`
}

// writeError answers with err as JSON. Errors that are not *ordergate.Error
// are logged and shown as "internal error", never in detail; while the
// database does not answer they are shown as EUNAVAILABLE (503) instead,
// so that clients retry a failure caused by an outage. A request that
// failed because its client went away gets a bare 499.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && errors.Is(r.Context().Err(), context.Canceled) {
		// The client went away: nobody reads the answer, and it is no
		// fault of the server's. 499 is the status proxies log for it.
		s.Log.Info("request cancelled by the client", "method", r.Method, "path", r.URL.Path)
		w.WriteHeader(statusClientClosed)
		return
	}
	var e *ordergate.Error
	if !errors.As(err, &e) {
		if s.databaseDown(r.Context(), err) {
			s.Log.Warn("database unreachable", "event", "db.unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
			e = &ordergate.Error{Code: ordergate.EUNAVAILABLE, Message: "the database is unreachable; try again shortly"}
		} else {
			s.Log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
			e = &ordergate.Error{Code: ordergate.EINTERNAL, Message: "internal error"}
		}
	}
	status, ok := statuses[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if e.Code == ordergate.ESTEPUP {
		v := `Bearer error="insufficient_user_authentication"`
		if req, ok := e.Details["required"].(map[string]any); ok && req["max_age"] != nil {
			v += fmt.Sprintf(", max_age=%v", req["max_age"])
		}
		w.Header().Set("WWW-Authenticate", v)
	}
	body := map[string]any{"error": e.Code, "message": e.Message}
	if len(e.Fields) > 0 {
		body["fields"] = e.Fields
	}
	if e.RetryAfter > 0 {
		body["retry_after"] = e.RetryAfter
	}
	for k, v := range e.Details {
		body[k] = v
	}
	writeJSON(w, status, body)
}

// databaseDown reports whether err, an unexpected error, came from a
// database that does not answer (a lost or refused connection, or a
// failed ping): the driver's errors for those take many forms, and
// writeError asks only after an unexpected error.
func (s *Server) databaseDown(ctx context.Context, err error) bool {
	return s.DB != nil && s.DB.Unreachable(ctx, err)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}
