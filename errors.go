// Package ordergate holds the vocabulary shared by every part of the order
// management system: the error type with its codes, the authenticated actor
// and its authentication context, and the clock. It imports only the
// standard library; the domain packages under internal/ build on it.
package ordergate

import (
	"errors"
	"fmt"
)

// Error codes. Domain code returns them; the web layer maps each to an HTTP
// status in one place.
const (
	ECONFLICT      = "conflict"                         // the resource exists or is in the wrong state
	EINTERNAL      = "internal"                         // anything unexpected; never shown in detail
	EINVALID       = "invalid_request"                  // malformed or invalid input
	EUNPROCESSABLE = "unprocessable"                    // well-formed input that breaks a rule
	ENOTFOUND      = "not_found"                        // no such resource (or not visible to the caller)
	EUNAUTHORIZED  = "unauthorized"                     // no valid session or credentials
	EFORBIDDEN     = "forbidden"                        // authenticated but not allowed
	ECREDENTIALS   = "invalid_credentials"              // wrong username or password, one answer for both
	ECODE          = "invalid_code"                     // wrong, used or expired one-time code
	ERATELIMIT     = "rate_limited"                     // throttled; see Error.RetryAfter
	ESTEPUP        = "insufficient_user_authentication" // needs a fresher or stronger factor
	EDENIED        = "access_denied"                    // denied by policy or risk
	EUNAVAILABLE   = "unavailable"                      // a dependency (database, provider) is down
)

// Error is the one error type the domain returns to callers that must show
// something to a user. Message is safe to show; it never holds a secret.
type Error struct {
	Code    string
	Message string
	// Fields names the inputs at fault, by JSON path, with what is wrong.
	Fields map[string]string
	// RetryAfter is set, in seconds, for ERATELIMIT.
	RetryAfter int
	// Details carries extra public fields for the answer (reasons, methods).
	Details map[string]any
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("ordergate error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID error naming one field at fault.
func FieldError(code, field, problem string) *Error {
	return &Error{Code: code, Message: field + ": " + problem, Fields: map[string]string{field: problem}}
}

// ErrorCode returns the code of err if it is, or wraps, an *Error, and
// EINTERNAL otherwise (nil gives "").
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the public message of err, or "internal error" when
// err is not an *Error.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
