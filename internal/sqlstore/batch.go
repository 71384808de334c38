package sqlstore

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/ordergate/ordergate"
)

// maxBatch is the most writes one batched transaction takes.
const maxBatch = 64

// maxLinger is the longest a batch waits for more writes (gather).
const maxLinger = time.Millisecond

// batcher is group commit on a single writing connection. SQLite writes
// one transaction at a time, and each commit appends the pages it changed
// to the WAL: the audit head and the index pages that concurrent writes
// share are written once per commit. Writes that arrive while a
// transaction runs are done together in the next one; every caller still
// waits for the commit that holds its write. When one write fails, the
// transaction is rolled back and the others go again without it, so that
// one write's failure does not undo the others: a batched write must be
// safe to run again and must set its results afresh each time. (A
// savepoint per write would do the same, but SQLite copies every page a
// write changes into a sub-journal, a temp file once it passes 64 KiB:
// more writes than the WAL itself.)
//
// It is not used with PostgreSQL: there several processes write at once,
// and two batches holding each other's uncommitted keys could deadlock.
type batcher struct {
	db   *DB
	reqs chan *batchReq
	quit chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

type batchReq struct {
	ctx context.Context
	fn  func(ctx context.Context, tx *Tx) error
	// linger lets the batch wait for more writes before it starts.
	linger bool
	err    error
	done   chan struct{}
}

// errClosed answers batched writes after Close.
var errClosed = ordergate.Errorf(ordergate.EUNAVAILABLE, "the database is closed")

func newBatcher(db *DB) *batcher {
	return &batcher{db: db, reqs: make(chan *batchReq), quit: make(chan struct{})}
}

// inBatch runs fn in a transaction: a batched one with a single writing
// connection, else one of its own. fn gets the context to run statements
// with: a batch's statements do not take any one caller's context, since
// cancelling it must not interrupt the connection while it works for the
// others. linger lets a batch wait up to maxLinger for more writes when
// recent batches held several, trading latency for throughput (intake);
// a write someone waits on interactively passes false.
func (db *DB) inBatch(ctx context.Context, linger bool, fn func(ctx context.Context, tx *Tx) error) error {
	if db.batches == nil {
		return db.inTx(ctx, func(tx *Tx) error { return fn(ctx, tx) })
	}
	return db.batches.submit(ctx, linger, fn)
}

// submit queues fn for the next batch and waits for its commit.
func (b *batcher) submit(ctx context.Context, linger bool, fn func(ctx context.Context, tx *Tx) error) error {
	b.once.Do(func() {
		b.wg.Add(1)
		go b.loop()
	})
	r := &batchReq{ctx: ctx, fn: fn, linger: linger, done: make(chan struct{})}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.quit:
		return errClosed
	}
	// Wait even if ctx ends: the batch may be running fn.
	<-r.done
	return r.err
}

func (b *batcher) stop() {
	select {
	case <-b.quit:
	default:
		close(b.quit)
	}
	b.wg.Wait()
}

func (b *batcher) loop() {
	defer b.wg.Done()
	batch := make([]*batchReq, 0, maxBatch)
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
// up to want requests, several writers are under way at once: if every
// request so far may linger, it then waits up to maxLinger for that many,
// since every commit writes the pages of the indexes and the audit head
// again, and a write more in a commit costs only its own rows. A single
// client writing one after another never waits.
func (b *batcher) gather(batch []*batchReq, want int) []*batchReq {
	var linger *time.Timer
	for len(batch) < maxBatch {
		select {
		case r := <-b.reqs:
			batch = append(batch, r)
			continue
		default:
		}
		if len(batch) >= want || slices.ContainsFunc(batch, func(r *batchReq) bool { return !r.linger }) {
			break
		}
		if linger == nil {
			linger = time.NewTimer(maxLinger)
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

// run does batch in one transaction and answers every request. A request
// whose write fails is answered with its error and the transaction run
// again without it.
func (b *batcher) run(batch []*batchReq) {
	for len(batch) > 0 {
		failed, err := b.try(batch)
		if failed < 0 {
			for _, r := range batch {
				if err != nil && r.err == nil {
					r.err = err
				}
				close(r.done)
			}
			return
		}
		close(batch[failed].done)
		batch = slices.Delete(batch, failed, failed+1)
	}
}

// try does reqs in one transaction. When a write fails it rolls the
// transaction back and returns the request's index; otherwise -1 and the
// error of the transaction itself, if any.
func (b *batcher) try(reqs []*batchReq) (int, error) {
	ctx := context.Background()
	failed := -1
	err := b.db.inTx(ctx, func(tx *Tx) error {
		for i, r := range reqs {
			if r.err = r.ctx.Err(); r.err != nil {
				continue
			}
			if r.err = r.fn(ctx, tx); r.err != nil {
				failed = i
				return r.err
			}
		}
		return nil
	})
	return failed, err
}
