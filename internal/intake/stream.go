package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake/csvorder"
	"github.com/ordergate/ordergate/internal/order"
)

// Streamed CSV intake: the body is read once, as it arrives, into chunked
// raw-payload storage and the CSV reader at the same time, so that a file
// of any size takes the same memory.
const (
	// PayloadChunkSize is the most bytes of a streamed body kept in one
	// stored chunk. A chunk is shorter where a batch of orders is stored:
	// the rows of every stored order are in stored chunks, even when the
	// upload breaks off afterwards.
	PayloadChunkSize = 1 << 20
	// CSVBatchSize is how many consecutive orders of one file are stored
	// in one transaction: few enough that the pages one transaction
	// changes fit SQLite's page cache (at 500, SQLite spilled pages to the
	// WAL mid-transaction and its cache grew with the database).
	CSVBatchSize = 100
	// MaxCSVErrors is how many refusals a CSVSummary lists; ErrorCount
	// counts them all.
	MaxCSVErrors = 100
)

// PayloadInfo describes a stored raw payload.
type PayloadInfo struct {
	ID          string
	SourceID    string
	DeliveryID  string
	ContentType string
	ReceivedAt  time.Time
	// Chunked is true for a body stored as it streamed in.
	Chunked bool
	// Size is the body's length in bytes and SHA256 its hex SHA-256; for a
	// chunked body both are known once it arrived whole: SHA256 is "" for
	// one whose upload broke off.
	Size   int64
	SHA256 string
}

// PayloadStore keeps raw payloads that stream in, chunk by chunk, and
// takes in the orders of one delivery in batches.
type PayloadStore interface {
	// CreatePayload stores raw, without its body, as a chunked payload and
	// sets raw.ID. ECONFLICT when the source sent raw.DeliveryID before.
	CreatePayload(ctx context.Context, raw *Raw) error
	// AppendPayload stores data as chunk seq (0, 1, 2…) of the payload id.
	// ECONFLICT when that chunk is stored already.
	AppendPayload(ctx context.Context, id string, seq int64, data []byte) error
	// FinishPayload records the size and hex SHA-256 of the whole body.
	// ENOTFOUND when there is no such chunked payload.
	FinishPayload(ctx context.Context, id string, size int64, sum string) error
	// IngestOrders takes in several orders, as IngestOrder does one, in
	// one transaction; when one fails nothing is stored and its error is
	// returned.
	IngestOrders(ctx context.Context, ins []Ingest) ([]Stored, error)
	// WriteRawPayload writes the body of the raw payload id to w, in
	// constant memory, and describes it. ENOTFOUND when there is none.
	WriteRawPayload(ctx context.Context, id string, w io.Writer) (PayloadInfo, error)
}

// RowError is one refusal of a streamed CSV file: an order whose rows are
// refused together, rows that belong to no order, or the file's end
// (unreadable from Row on).
type RowError struct {
	// Row is the first row at fault (the header is row 1).
	Row        int
	ExternalID string
	Err        *ordergate.Error
}

// CSVSummary is what the entry flow did with a streamed CSV file.
type CSVSummary struct {
	Source       *Source
	RawPayloadID string
	// Size is the number of bytes read; SHA256 the hex SHA-256 of the
	// body, "" when it did not arrive whole.
	Size   int64
	SHA256 string
	// Created, Updated and Duplicates count the orders taken in.
	Created, Updated, Duplicates int
	// RejectedRows counts the rows of the file not taken in.
	RejectedRows int
	// ErrorCount counts the refusals; Errors lists the first MaxCSVErrors.
	ErrorCount int
	Errors     []RowError
}

// ReceiveCSV runs a CSV file through the entry flow as a stream: the
// source is authenticated first (nothing is stored for a refused one, as
// in Receive), then body is read once, tee'd into a chunked raw payload
// and the CSV reader. Valid orders are stored CSVBatchSize at a time,
// each batch after the chunks that hold its rows; refused orders are
// counted and the first MaxCSVErrors listed with their rows.
//
// It returns ErrUnauthenticated for a refused source and EUNPROCESSABLE,
// with nothing stored, when the header cannot be read or the file holds
// no order. An error of the store ends the import with that error; the
// orders already stored stay, and sending the file again stores each
// order once.
func (s *Service) ReceiveCSV(ctx context.Context, d Delivery, body io.Reader) (*CSVSummary, error) {
	if d.Channel != order.ChannelCSV {
		return nil, ordergate.Errorf(ordergate.EINVALID, "only CSV is streamed, not %q", d.Channel)
	}
	src, err := s.authenticate(ctx, d)
	if err != nil {
		return nil, err
	}
	raw := &Raw{SourceID: src.ID, DeliveryID: d.DeliveryID, ContentType: d.ContentType, Body: []byte{}, ReceivedAt: s.Clock.Now()}
	actor := ordergate.Actor{Kind: ordergate.ActorSource, ID: src.ID, Name: src.Name, Auth: ordergate.AuthContext{ClientIP: d.ClientIP}}
	in := &bodyReader{r: body}
	pw := &payloadWriter{store: s.Store, raw: raw, buf: make([]byte, 0, PayloadChunkSize+64<<10), hash: sha256.New()}
	imp := &csvImport{s: s, sum: &CSVSummary{Source: src}}
	r := csvorder.NewReader(io.TeeReader(in, pw), s.CSV)
	for {
		o, err := r.Next()
		if err := pw.flush(ctx, false); err != nil {
			return nil, err
		}
		if errors.Is(err, io.EOF) {
			break
		}
		var e *ordergate.Error
		if errors.As(err, &e) {
			if _, perOrder := e.Details["order_id"]; perOrder {
				row, _ := e.Details["row"].(int)
				id, _ := e.Details["order_id"].(string)
				imp.refuse(RowError{Row: row, ExternalID: id, Err: unprocessable(e)}, r.Rows())
				continue
			}
			// The header or the rest of the file cannot be read.
			if in.err != nil {
				e = bodyError(in.err)
			}
			if !pw.created && imp.empty() {
				return nil, unprocessable(e)
			}
			imp.refuse(RowError{Row: imp.lastRow + 1, Err: unprocessable(e)}, nil)
			break
		} else if err != nil {
			return nil, err
		}
		if err := pw.create(ctx); err != nil {
			return nil, err
		}
		lines := r.Rows()
		ing, rej, err := s.prepare(actor, src, raw, &o)
		if err != nil {
			return nil, err
		}
		if rej != nil {
			imp.refuse(RowError{Row: lines[0], ExternalID: rej.ExternalID, Err: unprocessable(rej.Err)}, lines)
			continue
		}
		imp.lastRow = lines[len(lines)-1]
		imp.batch, imp.lines = append(imp.batch, ing), append(imp.lines, lines)
		if len(imp.batch) == CSVBatchSize {
			if err := imp.flush(ctx, pw); err != nil {
				return nil, err
			}
		}
	}
	if err := imp.flush(ctx, pw); err != nil {
		return nil, err
	}
	if in.err == nil {
		// Keep the whole body even when reading stopped early (a line too
		// long): the raw payload is what arrived.
		if err := drain(ctx, in, pw); err != nil {
			return nil, err
		}
	}
	if !pw.created && imp.empty() {
		return nil, ordergate.Errorf(ordergate.EUNPROCESSABLE, "the file holds no order")
	}
	if err := pw.flush(ctx, true); err != nil {
		return nil, err
	}
	sum := imp.sum
	sum.RawPayloadID, sum.Size = raw.ID, pw.size
	if in.err == nil {
		sum.SHA256 = hex.EncodeToString(pw.hash.Sum(nil))
		if err := s.Store.FinishPayload(ctx, raw.ID, pw.size, sum.SHA256); err != nil {
			return nil, err
		}
	}
	s.Log.Info("csv file taken in", "event", "intake.csv", "source_id", src.ID, "raw_payload_id", raw.ID,
		"bytes", pw.size, "orders_created", sum.Created, "orders_updated", sum.Updated, "duplicates", sum.Duplicates,
		"rejected_rows", sum.RejectedRows, "errors", sum.ErrorCount, "client_ip", d.ClientIP)
	return sum, nil
}

// csvImport is the state of one streamed CSV file between batches.
type csvImport struct {
	s   *Service
	sum *CSVSummary
	// batch holds the orders not stored yet and lines their rows.
	batch []Ingest
	lines [][]int
	// lastRow is the last row counted, taken or refused.
	lastRow int
}

// empty reports whether nothing was taken in or refused yet.
func (c *csvImport) empty() bool {
	return len(c.batch) == 0 && c.sum.Created+c.sum.Updated+c.sum.Duplicates+c.sum.ErrorCount == 0
}

// refuse counts a refusal and the rows it covers; a row already counted
// (an unreadable row fails the order before and after it) counts once.
func (c *csvImport) refuse(e RowError, lines []int) {
	c.sum.ErrorCount++
	if len(c.sum.Errors) < MaxCSVErrors {
		c.sum.Errors = append(c.sum.Errors, e)
	}
	for _, l := range lines {
		if l > c.lastRow {
			c.sum.RejectedRows++
			c.lastRow = l
		}
	}
}

// flush stores the batch in one transaction, after the chunks holding
// its rows. When the batch fails for one order's sake (a conflict with a
// concurrent change), its orders are taken in one at a time so that only
// that one is refused.
func (c *csvImport) flush(ctx context.Context, pw *payloadWriter) error {
	if len(c.batch) == 0 {
		return nil
	}
	if err := pw.flush(ctx, true); err != nil {
		return err
	}
	sts, err := c.s.Store.IngestOrders(ctx, c.batch)
	if err == nil {
		for _, st := range sts {
			c.count(st)
		}
	} else if !orderError(err) {
		return err
	} else {
		for i := range c.batch {
			st, err := c.s.Store.IngestOrder(ctx, c.batch[i])
			if err != nil && !orderError(err) {
				return err
			}
			if err != nil {
				c.sum.ErrorCount++
				c.sum.RejectedRows += len(c.lines[i])
				if len(c.sum.Errors) < MaxCSVErrors {
					c.sum.Errors = append(c.sum.Errors, RowError{Row: c.lines[i][0], ExternalID: c.batch[i].Order.ExternalID,
						Err: unprocessable(err)})
				}
				continue
			}
			c.count(st)
		}
	}
	clear(c.batch)
	c.batch, c.lines = c.batch[:0], c.lines[:0]
	return nil
}

func (c *csvImport) count(st Stored) {
	switch {
	case st.Created:
		c.sum.Created++
	case st.Updated:
		c.sum.Updated++
	default:
		c.sum.Duplicates++
	}
}

// orderError reports whether err concerns one order rather than the
// store: such an order is refused and the import goes on.
func orderError(err error) bool {
	switch ordergate.ErrorCode(err) {
	case ordergate.ECONFLICT, ordergate.EINVALID, ordergate.EUNPROCESSABLE:
		return true
	}
	return false
}

// drain reads the rest of the body into the payload.
func drain(ctx context.Context, in *bodyReader, pw *payloadWriter) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := in.Read(buf)
		pw.Write(buf[:n])
		if err := pw.flush(ctx, false); err != nil {
			return err
		}
		if err != nil {
			return nil // io.EOF, or a failure in.err keeps
		}
	}
}

// bodyReader remembers the error reading the request body failed with.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// bodyError is the refusal of a file whose body could not be read to its
// end: the reader's own *ordergate.Error (the HTTP edge gives one for a
// body over the limit) or a generic one.
func bodyError(err error) *ordergate.Error {
	var e *ordergate.Error
	if errors.As(err, &e) {
		return e
	}
	return ordergate.Errorf(ordergate.EINVALID, "the body could not be read to its end")
}

// payloadWriter holds what it is written, hashed, until store writes
// it as chunks of a raw payload, creating the payload on first need.
type payloadWriter struct {
	store   PayloadStore
	raw     *Raw
	created bool
	buf     []byte
	seq     int64
	size    int64
	hash    hash.Hash
}

// Write holds p; it does not fail.
func (w *payloadWriter) Write(p []byte) (int, error) {
	w.hash.Write(p)
	w.size += int64(len(p))
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// create stores the payload's row once.
func (w *payloadWriter) create(ctx context.Context) error {
	if w.created {
		return nil
	}
	err := w.store.CreatePayload(ctx, w.raw)
	if ordergate.ErrorCode(err) == ordergate.ECONFLICT && w.raw.DeliveryID != "" {
		// The same delivery id again: this body is kept as a payload of its own.
		w.raw.DeliveryID = ""
		err = w.store.CreatePayload(ctx, w.raw)
	}
	if err != nil {
		return err
	}
	w.created = true
	return nil
}

// flush stores the bytes held as chunks of PayloadChunkSize: all of them
// when all is true, else only whole chunks.
func (w *payloadWriter) flush(ctx context.Context, all bool) error {
	if len(w.buf) < PayloadChunkSize && !all {
		return nil
	}
	if err := w.create(ctx); err != nil {
		return err
	}
	off := 0
	for len(w.buf)-off >= PayloadChunkSize || (all && off < len(w.buf)) {
		n := min(PayloadChunkSize, len(w.buf)-off)
		if err := w.store.AppendPayload(ctx, w.raw.ID, w.seq, w.buf[off:off+n]); err != nil {
			return err
		}
		w.seq++
		off += n
	}
	w.buf = w.buf[:copy(w.buf, w.buf[off:])]
	return nil
}
