package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

func batchToken(sig string) *store.OAuthToken {
	return &store.OAuthToken{Kind: store.TokenAccess, Signature: sig, RequestID: "r-" + sig, ClientID: "c",
		Session: []byte(`{}`), Active: true, ExpiresAt: time.Now().Add(time.Hour)}
}

// holdWriter takes the write connection until the returned func runs, so
// that inserts wait behind it.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	tx, err := s.BeginTx(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := s.Rollback(tx); err != nil {
			t.Error(err)
		}
	}
}

// Inserts that queue while the write connection is busy share one commit,
// and each still succeeds or fails on its own: of two with the same
// signature exactly one is a conflict, and the others are stored.
func TestTokenBatchCommitsQueuedInsertsTogether(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	// A batcher that does not run yet, so that every insert is queued when
	// it starts, as when they all arrive during another commit.
	if err := s.tokens.close(); err != nil {
		t.Fatal(err)
	}
	s.tokens = newTokenBatcher()
	var mu sync.Mutex
	var batches []int
	s.tokens.committed = func(n int) { mu.Lock(); batches = append(batches, n); mu.Unlock() }

	sigs := []string{"dup", "dup"}
	for i := range 9 {
		sigs = append(sigs, fmt.Sprintf("sig-%d", i))
	}
	errs := make([]error, len(sigs))
	var wg sync.WaitGroup
	for i, sig := range sigs {
		wg.Go(func() { errs[i] = s.CreateToken(context.Background(), batchToken(sig)) })
	}
	for deadline := time.Now().Add(10 * time.Second); len(s.tokens.queue) < len(sigs); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d inserts queued, want %d", len(s.tokens.queue), len(sigs))
		}
	}
	go s.tokens.run(s)
	wg.Wait()

	conflicts := 0
	for i, err := range errs {
		switch {
		case errors.Is(err, store.ErrConflict) && sigs[i] == "dup":
			conflicts++
		case err != nil:
			t.Errorf("insert %s: %v", sigs[i], err)
		}
	}
	if conflicts != 1 {
		t.Errorf("%d conflicts for the duplicate signature, want 1", conflicts)
	}
	for _, sig := range sigs[1:] {
		if _, err := s.GetToken(context.Background(), store.TokenAccess, sig); err != nil {
			t.Errorf("token %s not stored: %v", sig, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(batches, []int{len(sigs)}) {
		t.Errorf("batches %v, want the %d queued inserts in one", batches, len(sigs))
	}
}

// A caller that gives up while its insert waits is answered at once; an
// insert after Close fails instead of hanging or panicking.
func TestTokenBatchCancelAndClose(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	release := holdWriter(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.CreateToken(ctx, batchToken("waiting")) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled insert: %v, want context.Canceled", err)
	}
	release()

	if err := s.CreateToken(context.Background(), batchToken("before-close")); err != nil {
		t.Fatal(err)
	}
	if err := s.tokens.close(); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if err := s.CreateToken(context.Background(), batchToken("after-close")); !errors.Is(err, errClosed) {
			t.Fatalf("insert after close: %v, want errClosed", err)
		}
	}
}
