package index

import (
	"context"
	"database/sql"
	"sync"
)

// maxReadStmts bounds the reader's statement cache: queries built with a
// variable number of parameters are not worth keeping past it.
const maxReadStmts = 64

// readStmts caches statements prepared on the read pool, by query text, so
// that SQLite parses the daemon's per-photo reads (file by path, a file's
// faces, a person) once instead of at every call: at a burst of 1 000
// small photos the parser took 0.75 s of CPU.
type readStmts struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// get returns query prepared on db, or nil when it cannot be prepared or the
// cache is full (the caller then queries db directly).
func (c *readStmts) get(ctx context.Context, db *sql.DB, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st
	}
	if len(c.m) >= maxReadStmts {
		return nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = st
	return st
}

func (c *readStmts) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for q, st := range c.m {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
		delete(c.m, q)
	}
	return first
}

// reader runs queries on the read pool through the statement cache.
type reader struct{ ix *Index }

// rd returns the index's reader.
func (ix *Index) rd() reader { return reader{ix} }

func (r reader) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := r.ix.rstmts.get(ctx, r.ix.r, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return r.ix.r.QueryContext(ctx, query, args...)
}

func (r reader) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := r.ix.rstmts.get(ctx, r.ix.r, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.ix.r.QueryRowContext(ctx, query, args...)
}
