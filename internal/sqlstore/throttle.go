package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
)

// ThrottleState returns the lock on key.
func (db *DB) ThrottleState(ctx context.Context, key string) (auth.Lock, error) {
	var l auth.Lock
	var until int64
	err := db.queryRow(ctx, `SELECT failures, locked_until FROM throttles WHERE key = $1`, key).Scan(&l.Failures, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Lock{}, nil
	} else if err != nil {
		return auth.Lock{}, err
	}
	l.Until = fromMicros(until)
	return l, nil
}

// ThrottleFail counts a failure on key. The upsert takes the row's lock, so
// failures counted at once by several processes all count.
func (db *DB) ThrottleFail(ctx context.Context, key string, t auth.Throttle, now time.Time, evs ...audit.Event) (auth.Lock, error) {
	var l auth.Lock
	err := db.inTx(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `INSERT INTO throttles (key, failures, last_failure_at, locked_until) VALUES ($1, 1, $2, 0)
			ON CONFLICT (key) DO UPDATE SET
				failures = CASE WHEN throttles.last_failure_at < $3 THEN 1 ELSE throttles.failures + 1 END,
				last_failure_at = $2
			RETURNING failures`, key, micros(now), micros(now.Add(-t.Reset))).Scan(&l.Failures)
		if err != nil {
			return err
		}
		if wait := t.Wait(l.Failures); wait > 0 {
			l.Until = now.Add(wait)
			if _, err := tx.exec(ctx, `UPDATE throttles SET locked_until = $1 WHERE key = $2`, micros(l.Until), key); err != nil {
				return err
			}
		}
		return tx.appendAudit(ctx, evs...)
	})
	return l, err
}

// ThrottleReset forgets key's failures. Most successes follow no failure,
// so it looks before it takes the write lock.
func (db *DB) ThrottleReset(ctx context.Context, key string) error {
	var n int
	if err := db.queryRow(ctx, `SELECT count(*) FROM throttles WHERE key = $1`, key).Scan(&n); err != nil || n == 0 {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error { return tx.resetThrottle(ctx, key) })
}

// resetThrottle forgets key's failures.
func (tx *Tx) resetThrottle(ctx context.Context, key string) error {
	_, err := tx.exec(ctx, `DELETE FROM throttles WHERE key = $1`, key)
	return err
}
