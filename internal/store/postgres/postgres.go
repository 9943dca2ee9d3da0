// Package postgres implements store.Store on PostgreSQL with pgx/v5 and pgxpool.
// It is the backend for production and for running several replicas on one
// database: every piece of state, including counters and one-time markers, is
// changed with single conditional statements so that replicas never race.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authz/authz/internal/store"
)

// defaultConnectTimeout bounds connection attempts when the URL sets no
// connect_timeout, so an unreachable server fails startup instead of hanging.
const defaultConnectTimeout = 10 * time.Second

// defaultMaxConns sizes the pool when the URL does not (pool_max_conns).
// pgxpool's own default, one connection per core but at least 4, starves
// under many concurrent requests: a request spends most of a query waiting on
// the network and the server, not on this process's CPU, and with a login
// flood queued behind four connections every request, even a 503 page, waits
// its turn for each of its queries. 16 per replica still lets six replicas
// share PostgreSQL's default of 100 connections.
func defaultMaxConns() int32 {
	return int32(max(16, 4*runtime.GOMAXPROCS(0)))
}

// Store is a store.Store backed by a PostgreSQL connection pool.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Option adjusts the connection pool Open makes.
type Option func(*pgxpool.Config)

// WithTracer hands every statement the store sends to t (a pgx.QueryTracer,
// and a pgx.BatchTracer too if it is one): tests count round trips with it.
func WithTracer(t pgx.QueryTracer) Option {
	return func(c *pgxpool.Config) { c.ConnConfig.Tracer = t }
}

// Open parses url (a postgres:// URL or a key=value DSN), connects and pings the
// server. The error names the server but never the password.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's parse errors redact the password already.
		return nil, fmt.Errorf("postgres: invalid database URL: %w", err)
	}
	for _, o := range opts {
		o(cfg)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", describe(cfg), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", describe(cfg), classify(err))
	}
	return &Store{pool: pool}, nil
}

// describe names the server and database for error messages without credentials.
func describe(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s:%d/%s as %s", c.Host, c.Port, c.Database, c.User)
}

// Pool exposes the connection pool so the server can export its statistics.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping reports whether the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", classify(err))
	}
	return nil
}

// Close closes every connection of the pool; it waits for acquired ones.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// querier is what both the pool and a transaction offer, so every method can run
// either on its own or inside the caller's transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type txKey struct{}

// sendBatch sends the batch build makes in the transaction ctx carries, or
// else on the pool, where PostgreSQL runs it as one implicit transaction,
// run again whole (built anew) when it loses to a concurrent one.
func (s *Store) sendBatch(ctx context.Context, build func() *pgx.Batch) error {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return tx.SendBatch(ctx, build()).Close()
	}
	return store.Retry(ctx, func() error { return retryable(s.pool.SendBatch(ctx, build()).Close()) })
}

// q returns the transaction carried by ctx, or the pool, on which each
// statement is a transaction of its own that runs again when it loses.
func (s *Store) q(ctx context.Context) querier {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return tx
	}
	return autocommit{s.pool}
}

// autocommit runs statements outside any transaction of the caller's, each
// as a transaction of its own (at the server's default isolation, normally
// READ COMMITTED), and runs one again when PostgreSQL aborts it for a
// concurrent one: READ COMMITTED knows no serialization failures, but a
// statement that locks several rows can still be a deadlock's victim. So, as the Store contract
// has it, no method outside a transaction fails with store.ErrRetry until
// store.Retry's attempts run out. Query is left alone: it serves only plain
// SELECTs, which take no row locks.
type autocommit struct{ pool *pgxpool.Pool }

// Exec implements querier.
func (a autocommit) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := store.Retry(ctx, func() error {
		var err error
		tag, err = a.pool.Exec(ctx, sql, args...)
		return retryable(err)
	})
	return tag, err
}

// Query implements querier.
func (a autocommit) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return a.pool.Query(ctx, sql, args...)
}

// QueryRow implements querier. The statement runs at Scan, as pgx's own
// rows do, which is where it can be run again.
func (a autocommit) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return retryRow{ctx: ctx, pool: a.pool, sql: sql, args: args}
}

// retryRow is autocommit's pgx.Row.
type retryRow struct {
	ctx  context.Context
	pool *pgxpool.Pool
	sql  string
	args []any
}

// Scan implements pgx.Row.
func (r retryRow) Scan(dest ...any) error {
	return store.Retry(r.ctx, func() error {
		return retryable(r.pool.QueryRow(r.ctx, r.sql, r.args...).Scan(dest...))
	})
}

// txOptions makes explicit transactions SERIALIZABLE: callers do read-modify-
// write cycles (load a user, change a field, save it) and check invariants
// ("not the last administrator") that READ COMMITTED would silently break under
// concurrency. It also gives the same semantics as the SQLite backend, whose
// writers are serialized. PostgreSQL then aborts one of two conflicting
// transactions; that surfaces as store.ErrRetry, on which store.InTx runs the
// loser again.
var txOptions = pgx.TxOptions{IsoLevel: pgx.Serializable}

// BeginTx starts a transaction and returns a context carrying it. Called with a
// context that already carries one, it starts a savepoint inside it. It is
// SERIALIZABLE (see txOptions) unless ctx comes from store.ReadCommitted.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	var (
		tx  pgx.Tx
		err error
	)
	switch outer, ok := ctx.Value(txKey{}).(pgx.Tx); {
	case ok:
		tx, err = outer.Begin(ctx)
	case store.IsReadCommitted(ctx):
		tx, err = s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	default:
		tx, err = s.pool.BeginTx(ctx, txOptions)
	}
	if err != nil {
		return ctx, fmt.Errorf("postgres: begin: %w", classify(err))
	}
	return store.MarkTx(context.WithValue(ctx, txKey{}, tx)), nil
}

// Commit commits the transaction carried by ctx.
func (s *Store) Commit(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	if !ok {
		return errors.New("postgres: commit: no transaction in context")
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", classify(err))
	}
	return nil
}

// Rollback rolls back the transaction carried by ctx. It is a no-op once the
// transaction is closed, so callers may defer it unconditionally.
func (s *Store) Rollback(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	if !ok {
		return errors.New("postgres: rollback: no transaction in context")
	}
	// A cancelled ctx must not keep the rollback from reaching the server.
	err := tx.Rollback(context.WithoutCancel(ctx))
	if err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("postgres: rollback: %w", classify(err))
	}
	return nil
}

// inTx runs fn in the caller's transaction when ctx carries one, else in a new
// transaction of its own, for methods that need several statements to be
// atomic. Its own transaction runs again when it loses to a concurrent one,
// as autocommit statements do; in the caller's, store.ErrRetry goes up to the
// caller's InTx. fn must be safe to run again.
func (s *Store) inTx(ctx context.Context, fn func(q querier) error) error {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return fn(tx)
	}
	return store.Retry(ctx, func() error {
		return retryable(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(tx) }))
	})
}
