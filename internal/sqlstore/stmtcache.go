package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStatements bounds the statement cache: queries built at run
// time (filters) beyond it are prepared each time.
const maxCachedStatements = 256

// stmtCache keeps prepared statements of one pool by query text. With
// SQLite (modernc) every unprepared Exec or Query compiles its SQL again,
// which was a fifth of the CPU time of order intake; a statement prepared
// once on the single writing connection is reused by every transaction.
//
// Preparing takes a connection of the pool. The writing pool has one,
// which the transaction asking holds: there a missing statement is only
// noted (deferred), run unprepared, and prepared after the transaction.
type stmtCache struct {
	pool     *sql.DB
	deferred bool
	mu       sync.Mutex
	stmts    map[string]*sql.Stmt
	wanted   map[string]bool
}

func newStmtCache(pool *sql.DB, deferred bool) *stmtCache {
	return &stmtCache{pool: pool, deferred: deferred, stmts: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// get returns the prepared statement for query (already rebound), or nil
// when it is not prepared (yet), the cache is full or the query cannot be
// prepared: the caller then runs it unprepared, which reports any error.
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.stmts[query]; ok {
		return s
	}
	if len(c.stmts)+len(c.wanted) >= maxCachedStatements {
		return nil
	}
	if c.deferred {
		c.wanted[query] = true
		return nil
	}
	s, err := c.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.stmts[query] = s
	return s
}

// prepareWanted prepares the statements get was asked for while the
// connection was busy. Call it holding no connection of the pool.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.Lock()
	if len(c.wanted) == 0 {
		c.mu.Unlock()
		return
	}
	var queries []string
	for q := range c.wanted {
		queries = append(queries, q)
	}
	clear(c.wanted)
	c.mu.Unlock()
	for _, q := range queries {
		s, err := c.pool.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, dup := c.stmts[q]; dup {
			s.Close()
		} else {
			c.stmts[q] = s
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.stmts {
		s.Close()
	}
	c.stmts = map[string]*sql.Stmt{}
}

// txStmt returns query prepared for tx, or nil when statements are not
// cached.
func (tx *Tx) txStmt(ctx context.Context, query string) *sql.Stmt {
	if tx.db.writeStmts == nil {
		return nil
	}
	if s := tx.db.writeStmts.get(ctx, query); s != nil {
		return tx.tx.StmtContext(ctx, s)
	}
	return nil
}

// readStmt returns query prepared on the reading pool, or nil.
func (db *DB) readStmt(ctx context.Context, query string) *sql.Stmt {
	if db.readStmts == nil {
		return nil
	}
	return db.readStmts.get(ctx, query)
}
