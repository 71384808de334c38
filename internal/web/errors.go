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

// domainError returns err as the domain's error, which clients may see.
// Any other error is logged and becomes EUNAVAILABLE while the database
// does not answer, so that clients retry a failure an outage caused, and
// EINTERNAL, never shown in detail, otherwise. gone reports a request that
// failed because its client went away: nobody reads the answer then, and
// it is no fault of the server's.
func (s *Server) domainError(r *http.Request, err error) (e *ordergate.Error, gone bool) {
	if errors.Is(err, context.Canceled) && errors.Is(r.Context().Err(), context.Canceled) {
		s.Log.Info("request cancelled by the client", "method", r.Method, "path", r.URL.Path)
		return nil, true
	}
	switch {
	case errors.As(err, &e):
		if e.Code == ordergate.EINTERNAL {
			s.Log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		return e, false
	case s.databaseDown(r.Context(), err):
		s.Log.Warn("database unreachable", "event", "db.unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		return &ordergate.Error{Code: ordergate.EUNAVAILABLE, Message: "the database is unreachable; try again shortly"}, false
	default:
		s.Log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		return &ordergate.Error{Code: ordergate.EINTERNAL, Message: "internal error"}, false
	}
}

// writeError answers with err as JSON, as domainError shows it; a request
// whose client went away gets a bare 499, the status proxies log for it.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, gone := s.domainError(r, err)
	if gone {
		w.WriteHeader(statusClientClosed)
		return
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
// failed ping): the driver's errors for those take many forms.
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
