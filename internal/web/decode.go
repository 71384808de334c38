package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
)

// decodeJSON reads one JSON object from the request body into v, refusing
// unknown fields. Its errors name the field at fault.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := mime.ParseMediaType(ct)
		if mt != "application/json" {
			return ordergate.Errorf(ordergate.EINVALID, "content type must be application/json")
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		if dec.More() {
			return ordergate.Errorf(ordergate.EINVALID, "malformed JSON: more than one value")
		}
		return nil
	case errors.As(err, &tooBig):
		return ordergate.Errorf(ordergate.EINVALID, "request body too large (limit %d bytes)", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return ordergate.Errorf(ordergate.EINVALID, "malformed JSON: empty body")
	case errors.As(err, &syntax):
		return ordergate.Errorf(ordergate.EINVALID, "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return ordergate.FieldError(ordergate.EINVALID, field, fmt.Sprintf("must be %s", typeName(typ.Type.Kind().String())))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return ordergate.FieldError(ordergate.EINVALID, field, "unknown field")
	default:
		return ordergate.Errorf(ordergate.EINVALID, "malformed JSON")
	}
}

func typeName(kind string) string {
	switch kind {
	case "int", "int64", "int32", "uint", "uint64":
		return "an integer"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	default:
		return "a " + kind
	}
}

// querySince reads the query parameter "since": an RFC 3339 time or a
// date. def when it is absent.
func querySince(v url.Values, def time.Time) (time.Time, error) {
	s := v.Get("since")
	if s == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return def, ordergate.FieldError(ordergate.EINVALID, "since", "must be an RFC 3339 time or a date such as 2026-01-31")
}

// queryLimit reads the query parameter "limit", a page size from 1 to
// max. def when it is absent.
func queryLimit(v url.Values, def, max int) (int, error) {
	s := v.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return def, ordergate.FieldError(ordergate.EINVALID, "limit", fmt.Sprintf("must be a number from 1 to %d", max))
	}
	return n, nil
}
