package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake"
)

var _ intake.PayloadStore = (*DB)(nil)

// CreatePayload stores raw as a chunked payload with no content yet and
// sets raw.ID. Its body follows with AppendPayload.
func (db *DB) CreatePayload(ctx context.Context, raw *intake.Raw) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if raw.ID == "" {
			raw.ID = newSortedID("raw", tx.now)
		}
		if raw.ReceivedAt.IsZero() {
			raw.ReceivedAt = tx.now
		}
		var delivery any
		if raw.DeliveryID != "" {
			delivery = raw.DeliveryID
		}
		_, err := tx.exec(ctx, `INSERT INTO raw_payloads (id, source_id, delivery_id, content_type, body, received_at, chunked)
			VALUES ($1, $2, $3, $4, $5, $6, TRUE)`,
			raw.ID, raw.SourceID, delivery, raw.ContentType, []byte{}, micros(raw.ReceivedAt))
		if err != nil && tx.db.dialect.IsUniqueViolation(err) {
			return ordergate.FieldError(ordergate.ECONFLICT, "delivery_id", "this delivery was received before")
		}
		return err
	})
}

// AppendPayload stores data as chunk seq (0, 1, 2…) of the payload id.
// ECONFLICT when that chunk is stored already.
func (db *DB) AppendPayload(ctx context.Context, id string, seq int64, data []byte) error {
	return db.inTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO raw_payload_chunks (payload_id, seq, data) VALUES ($1, $2, $3)`, id, seq, data)
		if err != nil && tx.db.dialect.IsUniqueViolation(err) {
			return ordergate.Errorf(ordergate.ECONFLICT, "chunk %d of raw payload %s is stored already", seq, id)
		}
		return err
	})
}

// FinishPayload records the size and hex SHA-256 of the whole body of the
// payload id. ENOTFOUND when there is no such chunked payload.
func (db *DB) FinishPayload(ctx context.Context, id string, size int64, sum string) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE raw_payloads SET size = $1, sha256 = $2 WHERE id = $3 AND chunked`, size, sum, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return ordergate.Errorf(ordergate.ENOTFOUND, "raw payload not found")
		}
		return nil
	})
}

// IngestOrders takes in several orders of one delivery in one
// transaction, as IngestOrder takes in one; it fails whole, storing
// nothing, when any of them fails.
func (db *DB) IngestOrders(ctx context.Context, ins []intake.Ingest) ([]intake.Stored, error) {
	out := make([]intake.Stored, len(ins))
	rawIDs := make([]string, len(ins))
	for i := range ins {
		rawIDs[i] = ins[i].Raw.ID
	}
	err := db.inTx(ctx, func(tx *Tx) error {
		for i := range ins {
			ins[i].Raw.ID = rawIDs[i]
			st, err := tx.ingest(ctx, ins[i])
			if err != nil {
				return err
			}
			out[i] = st
		}
		return nil
	})
	if err != nil {
		for i := range ins {
			ins[i].Raw.ID = rawIDs[i]
		}
		return nil, err
	}
	return out, nil
}

// WriteRawPayload writes the body of the raw payload id to w, chunk by
// chunk for a chunked one, so that memory use does not depend on its
// size, and describes it. ENOTFOUND when there is no such payload.
func (db *DB) WriteRawPayload(ctx context.Context, id string, w io.Writer) (intake.PayloadInfo, error) {
	var (
		p        intake.PayloadInfo
		delivery sql.NullString
		received int64
		body     []byte
	)
	err := db.queryRow(ctx, `SELECT id, source_id, delivery_id, content_type, received_at, chunked, size, sha256, body
		FROM raw_payloads WHERE id = $1`, id).Scan(&p.ID, &p.SourceID, &delivery, &p.ContentType, &received,
		&p.Chunked, &p.Size, &p.SHA256, &body)
	if err != nil {
		return p, notFound(err, "raw payload")
	}
	p.DeliveryID, p.ReceivedAt = delivery.String, fromMicros(received)
	if !p.Chunked {
		sum := sha256.Sum256(body)
		p.Size, p.SHA256 = int64(len(body)), hex.EncodeToString(sum[:])
		_, err := w.Write(body)
		return p, err
	}
	for seq := int64(0); ; seq++ {
		var data []byte
		err := db.queryRow(ctx, `SELECT data FROM raw_payload_chunks WHERE payload_id = $1 AND seq = $2`, id, seq).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			return p, nil
		} else if err != nil {
			return p, fmt.Errorf("read chunk %d of raw payload %s: %w", seq, id, err)
		}
		if _, err := w.Write(data); err != nil {
			return p, err
		}
	}
}
