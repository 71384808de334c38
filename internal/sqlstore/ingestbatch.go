package sqlstore

import (
	"context"
	"sync"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake"
)

// maxIngestBatch is the most orders one intake transaction takes in.
const maxIngestBatch = 64

// ingestBatcher is group commit for order intake on a single writing
// connection. SQLite writes one transaction at a time, and each commit
// appends the pages it changed to the WAL: the audit head, the source
// row and the index pages every order touches are written once per
// commit. Orders that arrive while a transaction runs are taken in
// together in the next one, each under its own savepoint, so that one
// order's failure does not undo the others; every caller still waits for
// the commit that holds its order.
//
// It is not used with PostgreSQL: there several processes write at once,
// and two batches holding each other's uncommitted order keys could
// deadlock.
type ingestBatcher struct {
	db   *DB
	reqs chan *ingestReq
	quit chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

type ingestReq struct {
	ctx  context.Context
	in   intake.Ingest
	st   intake.Stored
	err  error
	done chan struct{}
}

// errClosed answers intake after Close.
var errClosed = ordergate.Errorf(ordergate.EUNAVAILABLE, "the database is closed")

func newIngestBatcher(db *DB) *ingestBatcher {
	return &ingestBatcher{db: db, reqs: make(chan *ingestReq), quit: make(chan struct{})}
}

// submit queues in for the next batch and waits for its commit.
func (b *ingestBatcher) submit(ctx context.Context, in intake.Ingest) (intake.Stored, error) {
	b.once.Do(func() {
		b.wg.Add(1)
		go b.loop()
	})
	r := &ingestReq{ctx: ctx, in: in, done: make(chan struct{})}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return intake.Stored{}, ctx.Err()
	case <-b.quit:
		return intake.Stored{}, errClosed
	}
	// Wait even if ctx ends: the batch writes into r.in.
	<-r.done
	return r.st, r.err
}

func (b *ingestBatcher) stop() {
	select {
	case <-b.quit:
	default:
		close(b.quit)
	}
	b.wg.Wait()
}

func (b *ingestBatcher) loop() {
	defer b.wg.Done()
	batch := make([]*ingestReq, 0, maxIngestBatch)
	for {
		select {
		case r := <-b.reqs:
			batch = append(batch[:0], r)
		case <-b.quit:
			return
		}
	more:
		for len(batch) < maxIngestBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		b.run(batch)
	}
}

// run takes batch in with one transaction and answers every request.
func (b *ingestBatcher) run(batch []*ingestReq) {
	// The statements do not take the requests' contexts: cancelling one
	// must not interrupt the connection while it works for the others.
	ctx := context.Background()
	rawIDs := make([]string, len(batch))
	for i, r := range batch {
		rawIDs[i] = r.in.Raw.ID
	}
	err := b.db.inTx(ctx, func(tx *Tx) error {
		for i, r := range batch {
			r.in.Raw.ID, r.st, r.err = rawIDs[i], intake.Stored{}, nil
			if err := r.ctx.Err(); err != nil {
				r.err = err
				continue
			}
			if len(batch) == 1 {
				r.st, r.err = tx.ingest(ctx, r.in)
				if r.err != nil {
					return r.err
				}
				continue
			}
			if _, err := tx.exec(ctx, `SAVEPOINT ingest`); err != nil {
				return err
			}
			if r.st, r.err = tx.ingest(ctx, r.in); r.err != nil {
				r.st = intake.Stored{}
				r.in.Raw.ID = rawIDs[i]
				if _, err := tx.exec(ctx, `ROLLBACK TO SAVEPOINT ingest`); err != nil {
					return err
				}
			}
			if _, err := tx.exec(ctx, `RELEASE SAVEPOINT ingest`); err != nil {
				return err
			}
		}
		return nil
	})
	for i, r := range batch {
		if err != nil {
			if r.err == nil {
				r.err = err
			}
			r.st = intake.Stored{}
			r.in.Raw.ID = rawIDs[i]
		}
		close(r.done)
	}
}
