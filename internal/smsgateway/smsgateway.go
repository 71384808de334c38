// Package smsgateway sends text messages: a client for Twilio's Messages
// API (or any gateway speaking it), Twilio Lookup v2's SIM-swap check, and
// an outbox that appends messages to a JSON lines file for development
// and demos. It knows nothing of codes or users; main wires it to auth.
package smsgateway

import (
	"context"
	"errors"
	"fmt"
)

// Sender sends one text message to an E.164 number.
type Sender interface {
	// Send delivers body to to. Its errors are *ProviderError when the
	// provider answered or could not be reached.
	Send(ctx context.Context, to, body string) error
}

// ProviderError is a failed request to the provider. Its text never holds
// the account's token or the message body.
type ProviderError struct {
	// Status is the HTTP status (0 when the provider was not reached).
	Status int
	// Code is the provider's error code (Twilio's "code", e.g. "21211"), or
	// a short name of a transport failure ("connection_failed", "timeout").
	Code string
	// Message is the provider's own explanation.
	Message string
	// MoreInfo is the provider's documentation link, when given.
	MoreInfo string
	// Temporary is true for failures worth retrying later (5xx, 429,
	// network errors).
	Temporary bool
	// Err is the underlying transport error, if any.
	Err error
}

// Error describes the failure with the provider's code.
func (e *ProviderError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("sms provider unreachable (%s): %v", e.Code, e.Err)
	}
	msg := fmt.Sprintf("sms provider: HTTP %d, code %s", e.Status, e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap returns the transport error.
func (e *ProviderError) Unwrap() error { return e.Err }

// ProviderCode returns the provider's error code; auth reads it through a
// small interface to record it in the audit log.
func (e *ProviderError) ProviderCode() string { return e.Code }

// ErrNotConfigured is returned by a provider whose settings are missing.
var ErrNotConfigured = errors.New("smsgateway: provider not configured")
