package smsgateway

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ordergate/ordergate"
)

// Outbox is a Sender that appends each message as one JSON line to a file
// ({"at", "to", "body"}), for development and demos. The file is created
// with mode 0600: it holds live codes.
type Outbox struct {
	Path  string
	Clock ordergate.Clock

	mu sync.Mutex
}

// NewOutbox returns an Outbox writing to path.
func NewOutbox(path string, clock ordergate.Clock) *Outbox {
	return &Outbox{Path: path, Clock: clock}
}

// OutboxMessage is one line of the outbox file.
type OutboxMessage struct {
	At   time.Time `json:"at"`
	To   string    `json:"to"`
	Body string    `json:"body"`
}

// Send appends the message to the file.
func (o *Outbox) Send(ctx context.Context, to, body string) error {
	line, err := json.Marshal(OutboxMessage{At: o.Clock.Now().UTC(), To: to, Body: body})
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	f, err := os.OpenFile(o.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return &ProviderError{Code: "outbox_unwritable", Temporary: true, Err: err}
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return &ProviderError{Code: "outbox_unwritable", Temporary: true, Err: err}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}
