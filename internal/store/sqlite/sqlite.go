// Package sqlite is the embedded store.Store backend, on modernc.org/sqlite
// (pure Go, no cgo). It serves a single node: one process owns the file.
//
// SQLite allows one writer at a time, so the Store keeps exactly one write
// connection and queues writers in Go, where waiting is cheap and fair,
// instead of letting them spin on SQLITE_BUSY. Reads outside a transaction go
// to a separate pool and, thanks to WAL mode, never wait for the writer.
//
// A transaction started with BeginTx travels in the context; every method
// uses it when present. While one is open, all other writers wait for it, so
// keep transactions short and never write with a context other than the one
// BeginTx returned while holding one.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/authz/authz/internal/store"
)

// Store is the SQLite implementation of store.Store.
type Store struct {
	write *sql.DB // exactly one connection; transactions BEGIN IMMEDIATE
	read  *sql.DB // query_only connections for reads outside a transaction
	// Prepared statements of each pool, by query text.
	writeStmts, readStmts *stmtCache
	ckpt                  *checkpointer
	tokens                *tokenBatcher
}

var _ store.Store = (*Store)(nil)

// busyTimeoutMS bounds how long a connection waits for a lock held by another
// process (the admin CLI, a backup) before failing with SQLITE_BUSY.
const busyTimeoutMS = 10_000

// Open opens (creating if needed) the database file at path. It does not
// migrate: call Migrate before use.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") {
		// An in-memory database would be a different one on each connection,
		// and the driver reads "?" as the start of its parameters.
		return nil, fmt.Errorf("sqlite: open %q: want a file path without '?' or '#'", path)
	}
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	write, err := openPool(ctx, path, false)
	if err != nil {
		return nil, err
	}
	read, err := openPool(ctx, path, true)
	if err != nil {
		write.Close()
		return nil, err
	}
	ckpt, err := startCheckpointer(ctx, path)
	if err != nil {
		read.Close()
		write.Close()
		return nil, err
	}
	s := &Store{write: write, read: read, writeStmts: newStmtCache(write), readStmts: newStmtCache(read), ckpt: ckpt, tokens: newTokenBatcher()}
	go s.tokens.run(s)
	return s, nil
}

// createPrivate creates the database file readable by its owner only, or
// makes an existing one so, before SQLite opens it: SQLite gives its WAL and
// shared-memory files the database file's mode, and the database holds
// password hashes and sealed secrets whatever the data directory's mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	defer f.Close()
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(name, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sqlite: restrict %s: %w", name, err)
		}
	}
	return nil
}

// openPool opens one pool and pings it, so that the write pool has switched
// the file to WAL before any reader opens it.
func openPool(ctx context.Context, path string, readOnly bool) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, readOnly))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := 1
	if readOnly {
		n = max(4, runtime.GOMAXPROCS(0))
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, classify(err))
	}
	return db, nil
}

// dsn builds the driver's connection string. Every connection gets the
// pragmas, since most of them are per connection.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(1)")
	// In WAL mode NORMAL cannot corrupt the file; at worst a power cut loses
	// the last commits, and it saves an fsync on every one.
	q.Add("_pragma", "synchronous(NORMAL)")
	// The background checkpointer copies the WAL back every 100 ms; a
	// commit checkpoints only past 10000 pages (40 MB), when it finds that
	// copy nearly done and lets the next writer start the WAL over. A WAL a
	// burst made larger is cut back then.
	q.Add("_pragma", "wal_autocheckpoint(10000)")
	q.Add("_pragma", "journal_size_limit(67108864)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		// Take the write lock at BEGIN: a deferred transaction that reads
		// first and writes later can fail with SQLITE_BUSY mid-way when
		// another process wrote in between, and busy_timeout cannot help it.
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode()
}

// Close stops the token batcher and the checkpointer and closes both pools;
// closing the last connection checkpoints what is left.
func (s *Store) Close() error {
	return errors.Join(s.tokens.close(), s.ckpt.close(), s.readStmts.close(), s.writeStmts.close(), s.read.Close(), s.write.Close())
}

// Ping checks the database through the read pool, which never waits for an
// open transaction.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// txKey is the context key of the open *sql.Tx.
type txKey struct{}

var errNoTx = errors.New("sqlite: no transaction in context")

func txFrom(ctx context.Context) *sql.Tx {
	tx, _ := ctx.Value(txKey{}).(*sql.Tx)
	return tx
}

// BeginTx starts a write transaction and returns a context carrying it.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	if txFrom(ctx) != nil {
		// A second BEGIN would wait forever for the one write connection.
		return nil, errors.New("sqlite: begin: context already carries a transaction")
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrap(err, "begin")
	}
	return store.MarkTx(context.WithValue(ctx, txKey{}, tx)), nil
}

// Commit commits the transaction carried by ctx.
func (s *Store) Commit(ctx context.Context) error {
	tx := txFrom(ctx)
	if tx == nil {
		return errNoTx
	}
	return wrap(tx.Commit(), "commit")
}

// Rollback rolls back the transaction carried by ctx; after Commit it does
// nothing, so callers may defer it.
func (s *Store) Rollback(ctx context.Context) error {
	tx := txFrom(ctx)
	if tx == nil {
		return errNoTx
	}
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return wrap(err, "rollback")
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader is where a read runs: the caller's transaction, a read snapshot
// (inSnapshot), or the read pool.
func (s *Store) reader(ctx context.Context) querier {
	if tx := txFrom(ctx); tx != nil {
		return cachedQuerier{cache: s.writeStmts, tx: tx}
	}
	tx, _ := ctx.Value(readTxKey{}).(*sql.Tx)
	return cachedQuerier{cache: s.readStmts, tx: tx}
}

type readTxKey struct{}

// inSnapshot runs fn with a context whose reads see one snapshot of the
// database (a read transaction on the read pool), unless ctx carries a
// transaction already: reads one after another otherwise each see the
// latest commit, and may see a write land between them.
// The context given to fn must not outlive it.
func (s *Store) inSnapshot(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, reading := ctx.Value(readTxKey{}).(*sql.Tx); reading || txFrom(ctx) != nil {
		return fn(ctx)
	}
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return wrap(err, "begin read")
	}
	defer func() { _ = tx.Rollback() }()
	return fn(context.WithValue(ctx, readTxKey{}, tx))
}

// writer is where a single-statement write runs: the caller's transaction,
// or the write connection in autocommit mode.
func (s *Store) writer(ctx context.Context) querier {
	return cachedQuerier{cache: s.writeStmts, tx: txFrom(ctx)}
}

// inTx runs a multi-statement write atomically: inside the caller's
// transaction when there is one, else in its own.
func (s *Store) inTx(ctx context.Context, fn func(q querier) error) error {
	if tx := txFrom(ctx); tx != nil {
		return fn(cachedQuerier{cache: s.writeStmts, tx: tx})
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return wrap(err, "begin")
	}
	if err := fn(cachedQuerier{cache: s.writeStmts, tx: tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return wrap(tx.Commit(), "commit")
}
