package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

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
