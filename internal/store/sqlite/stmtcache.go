package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"
)

// maxCachedStmts bounds the cache. authz's queries are constant strings (the
// list filters combine into a few dozen), so the bound only guards against a
// future query built from data.
const maxCachedStmts = 512

// stmtCache keeps one prepared statement per query text and pool. Parsing
// and planning a statement costs about as much as running one of authz's
// small queries, so preparing each only once per connection saves a good part
// of the CPU a token request spends in SQLite. database/sql prepares a cached
// statement again, transparently, on each connection it runs on.
//
// The write pool has a single connection, which an open transaction holds:
// preparing on the pool from inside that transaction would wait for it
// forever. A statement first needed inside a transaction therefore runs
// unprepared once while it is prepared in the background, as soon as the
// connection is free. No lock is held while preparing, for the same reason.
// Read transactions (a login state's snapshot) take the same path: with
// every read connection held by one, a prepare on the pool would wait for
// them just as long.
type stmtCache struct {
	db      *sql.DB
	mu      sync.RWMutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool
	closed  bool

	// Background prepares: close cancels and waits for them, since
	// sql.DB.Close does not wait for a connection in use, and the pool's
	// last connection, closing, is what checkpoints the database.
	background     sync.WaitGroup
	stopBackground context.CancelFunc
	backgroundCtx  context.Context
}

func newStmtCache(db *sql.DB) *stmtCache {
	ctx, cancel := context.WithCancel(context.Background())
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{},
		backgroundCtx: ctx, stopBackground: cancel}
}

// prepareTimeout bounds a background prepare's wait for the write connection.
const prepareTimeout = 30 * time.Second

// get returns the prepared statement of query, or nil when the query should
// run unprepared this time. inTx tells that the caller holds a transaction on
// this pool's connection.
func (c *stmtCache) get(ctx context.Context, query string, inTx bool) (*sql.Stmt, error) {
	c.mu.RLock()
	st, ok := c.stmts[query]
	c.mu.RUnlock()
	if ok {
		return st, nil
	}
	if inTx {
		c.prepareLater(query)
		return nil, nil
	}
	return c.prepare(ctx, query)
}

func (c *stmtCache) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.full() {
		return nil, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if have, ok := c.stmts[query]; ok || c.closed {
		// Another caller won, or the store closed meanwhile.
		_ = st.Close()
		return have, nil
	}
	c.stmts[query] = st
	return st, nil
}

func (c *stmtCache) full() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.stmts) >= maxCachedStmts || c.closed
}

// prepareLater prepares query in the background, once.
func (c *stmtCache) prepareLater(query string) {
	c.mu.Lock()
	if c.pending[query] || c.closed {
		c.mu.Unlock()
		return
	}
	c.pending[query] = true
	c.background.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.background.Done()
		ctx, cancel := context.WithTimeout(c.backgroundCtx, prepareTimeout)
		defer cancel()
		_, _ = c.prepare(ctx, query) // on failure the query keeps running unprepared
		c.mu.Lock()
		delete(c.pending, query)
		c.mu.Unlock()
	}()
}

// close closes every statement, once no background prepare holds a
// connection any more; the pool itself stays open.
func (c *stmtCache) close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stopBackground()
	c.background.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.stmts {
		errs = append(errs, st.Close())
		delete(c.stmts, q)
	}
	return errors.Join(errs...)
}

// cachedQuerier runs queries through the cache of its pool, inside tx when
// there is one (tx must belong to the cache's pool).
type cachedQuerier struct {
	cache *stmtCache
	tx    *sql.Tx
}

var _ querier = cachedQuerier{}

// stmt returns the statement to run query with: the cached one, bound to the
// transaction if any; nil means run it unprepared.
func (q cachedQuerier) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	st, err := q.cache.get(ctx, query, q.tx != nil)
	if err != nil || st == nil || q.tx == nil {
		return st, err
	}
	// On the write pool's one connection the statement is prepared already,
	// so binding it to the transaction prepares nothing; a read transaction's
	// connection prepares it the first time only (database/sql keeps it).
	return q.tx.StmtContext(ctx, st), nil
}

func (q cachedQuerier) plain() querier {
	if q.tx != nil {
		return q.tx
	}
	return q.cache.db
}

// ExecContext implements querier.
func (q cachedQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := q.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return q.plain().ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext implements querier.
func (q cachedQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := q.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return q.plain().QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext implements querier. A failed prepare surfaces at Scan, as
// the *sql.Row's own errors do: running the query unprepared reports it.
func (q cachedQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := q.stmt(ctx, query)
	if err != nil || st == nil {
		return q.plain().QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}
