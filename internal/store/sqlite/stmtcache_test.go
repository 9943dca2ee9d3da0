package sqlite

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

// A statement first needed inside a transaction must not wait for the write
// connection the transaction holds; it is cached once the connection is free.
func TestStatementFirstUsedInTransaction(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok := benchToken()
	tok.Signature = "in-tx"
	err := store.InTx(ctx, s, func(ctx context.Context) error {
		if err := s.CreateToken(ctx, tok); err != nil {
			return err
		}
		_, err := s.GetToken(ctx, tok.Kind, tok.Signature)
		return err
	})
	if err != nil {
		t.Fatalf("transaction with uncached statements: %v", err)
	}
	for !cached(s.writeStmts, "INSERT INTO oauth_tokens") {
		if ctx.Err() != nil {
			t.Fatal("the statement first used in a transaction was never prepared")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := s.GetToken(ctx, tok.Kind, tok.Signature); err != nil {
		t.Fatal(err)
	}
	if !cached(s.readStmts, "SELECT request_id, requested_at") {
		t.Error("a read outside a transaction must be cached on the read pool")
	}
}

func cached(c *stmtCache, prefix string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for q := range c.stmts {
		if len(q) >= len(prefix) && q[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// Cached statements are shared by concurrent readers and writers, inside and
// outside transactions (run with -race).
func TestStatementCacheConcurrency(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				tok := benchToken()
				tok.Signature = strconv.Itoa(g) + "-" + strconv.Itoa(i)
				err := store.InTx(ctx, s, func(ctx context.Context) error { return s.CreateToken(ctx, tok) })
				if err == nil {
					_, err = s.GetToken(ctx, tok.Kind, tok.Signature)
				}
				if err == nil {
					err = s.DeactivateToken(ctx, tok.Kind, tok.Signature)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatalf("close with cached statements: %v", err)
	}
	if _, err := s.GetToken(ctx, store.TokenAccess, "0-0"); err == nil {
		t.Error("a closed store must fail")
	}
}

// Closing the cache stops and waits for a background prepare that waits for
// the pool's connection, so that no prepare still holds or takes a
// connection once the store closes its pools (the last connection's close
// checkpoints the database).
func TestStatementCacheCloseWaitsForBackground(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tx, err := s.write.BeginTx(ctx, nil) // holds the write pool's one connection
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	const query = "SELECT count(*) FROM users WHERE username <> 'background'"
	s.writeStmts.prepareLater(query)
	if err := s.writeStmts.close(); err != nil {
		t.Fatal(err)
	}
	s.writeStmts.mu.RLock()
	pending, stmts := len(s.writeStmts.pending), len(s.writeStmts.stmts)
	s.writeStmts.mu.RUnlock()
	if pending != 0 || stmts != 0 {
		t.Fatalf("after close: %d prepares pending, %d statements cached; want none", pending, stmts)
	}
}
