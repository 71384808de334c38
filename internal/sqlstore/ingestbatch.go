package sqlstore

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake"
)

// maxIngestBatch is the most orders one intake transaction takes in.
const maxIngestBatch = 64

// maxIngestLinger is the longest a batch waits for more orders (gather).
const maxIngestLinger = time.Millisecond

// ingestBatcher is group commit for order intake on a single writing
// connection. SQLite writes one transaction at a time, and each commit
// appends the pages it changed to the WAL: the audit head, the source
// row and the index pages every order touches are written once per
// commit. Orders that arrive while a transaction runs are taken in
// together in the next one; every caller still waits for the commit that
// holds its order. When one order fails, the transaction is rolled back
// and the others go again without it, so that one order's failure does
// not undo the others. (A savepoint per order would do the same, but
// SQLite copies every page an order changes into a sub-journal, a temp
// file once it passes 64 KiB: more writes than the WAL itself.)
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
	ctx context.Context
	in  intake.Ingest
	// rawID is in.Raw.ID as submitted, restored when the order is not
	// stored.
	rawID string
	st    intake.Stored
	err   error
	done  chan struct{}
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
	r := &ingestReq{ctx: ctx, in: in, rawID: in.Raw.ID, done: make(chan struct{})}
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
	// recent holds the sizes of the last batches.
	var recent [16]int
	for n := 0; ; n++ {
		select {
		case r := <-b.reqs:
			batch = append(batch[:0], r)
		case <-b.quit:
			return
		}
		batch = b.gather(batch, slices.Max(recent[:]))
		recent[n%len(recent)] = len(batch)
		b.run(batch)
	}
}

// gather adds the requests waiting to batch. When recent batches held
// up to want requests, several deliveries are under way at once: it then
// waits up to maxIngestLinger for that many, since every commit writes
// the pages of the indexes, the audit head and the source again, and an
// order more in a commit costs only its own rows. A single client
// sending one delivery after another never waits.
func (b *ingestBatcher) gather(batch []*ingestReq, want int) []*ingestReq {
	var linger *time.Timer
	for len(batch) < maxIngestBatch {
		select {
		case r := <-b.reqs:
			batch = append(batch, r)
			continue
		default:
		}
		if len(batch) >= want {
			break
		}
		if linger == nil {
			linger = time.NewTimer(maxIngestLinger)
			defer linger.Stop()
		}
		select {
		case r := <-b.reqs:
			batch = append(batch, r)
		case <-linger.C:
			return batch
		case <-b.quit:
			return batch
		}
	}
	return batch
}

// run takes batch in with one transaction and answers every request.
// A request whose order fails is answered with its error and the
// transaction run again without it.
func (b *ingestBatcher) run(batch []*ingestReq) {
	for len(batch) > 0 {
		failed, err := b.try(batch)
		if failed < 0 {
			for _, r := range batch {
				if err != nil && r.err == nil {
					r.err = err
				}
				r.answer()
			}
			return
		}
		batch[failed].answer()
		batch = slices.Delete(batch, failed, failed+1)
	}
}

// try takes reqs in with one transaction. When an order fails it rolls
// the transaction back and returns the request's index; otherwise -1
// and the error of the transaction itself, if any.
func (b *ingestBatcher) try(reqs []*ingestReq) (int, error) {
	// The statements do not take the requests' contexts: cancelling one
	// must not interrupt the connection while it works for the others.
	ctx := context.Background()
	failed := -1
	err := b.db.inTx(ctx, func(tx *Tx) error {
		for i, r := range reqs {
			r.in.Raw.ID, r.st, r.err = r.rawID, intake.Stored{}, nil
			if err := r.ctx.Err(); err != nil {
				r.err = err
				continue
			}
			if r.st, r.err = tx.ingest(ctx, r.in); r.err != nil {
				failed = i
				return r.err
			}
		}
		return nil
	})
	return failed, err
}

// answer wakes the caller of r; an order not stored leaves no trace in
// its request.
func (r *ingestReq) answer() {
	if r.err != nil {
		r.st = intake.Stored{}
		r.in.Raw.ID = r.rawID
	}
	close(r.done)
}
