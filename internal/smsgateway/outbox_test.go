package smsgateway

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestOutbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sms-outbox.jsonl")
	o := NewOutbox(path, fixedClock{testNow})
	msgs := []OutboxMessage{{At: testNow, To: "+14155550100", Body: "one"}, {At: testNow, To: "+491701234567", Body: "two\nlines"}}
	for _, m := range msgs {
		if err := o.Send(context.Background(), m.To, m.Body); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("outbox mode = %o, want 600", got)
	}
	f, _ := os.Open(path)
	defer f.Close()
	sc := bufio.NewScanner(f)
	var got []OutboxMessage
	for sc.Scan() {
		var m OutboxMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, m)
	}
	if len(got) != len(msgs) {
		t.Fatalf("lines = %d, want %d", len(got), len(msgs))
	}
	for i := range msgs {
		if !got[i].At.Equal(msgs[i].At) || got[i].To != msgs[i].To || got[i].Body != msgs[i].Body {
			t.Errorf("line %d = %+v, want %+v", i, got[i], msgs[i])
		}
	}
}

func TestOutboxUnwritable(t *testing.T) {
	o := NewOutbox(filepath.Join(t.TempDir(), "missing", "sms-outbox.jsonl"), fixedClock{testNow})
	err := o.Send(context.Background(), "+14155550100", "x")
	pe, ok := err.(*ProviderError)
	if !ok || pe.Code != "outbox_unwritable" {
		t.Errorf("Send into a missing folder = %v, want ProviderError outbox_unwritable", err)
	}
}
