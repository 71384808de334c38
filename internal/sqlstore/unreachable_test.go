package sqlstore_test

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

// TestUnreachable tells an outage from a fault: a connection the driver
// reports as lost counts as an outage even while the database answers,
// any other error only when a ping fails.
func TestUnreachable(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "ordergate.db"))
	fault := errors.New("no such column: nme")
	lost := fmt.Errorf("insert session: %w", sql.ErrConnDone)
	if db.Unreachable(ctx, fault) {
		t.Error("a failed statement on an open database counts as unreachable")
	}
	if !db.Unreachable(ctx, lost) {
		t.Error("a lost connection on an open database does not count as unreachable")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if !db.Unreachable(ctx, fault) {
		t.Error("an error from a closed database does not count as unreachable")
	}
}
