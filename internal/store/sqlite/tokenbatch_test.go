package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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
	// One at a time, so that the duplicate is second in the batch and the
	// inserts after it show the transaction going on past its conflict.
	for i, sig := range sigs {
		wg.Go(func() { errs[i] = s.CreateToken(context.Background(), batchToken(sig)) })
		waitQueue(t, s, func(n int) bool { return n == i+1 })
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

// waitQueue waits until the batcher's queue length satisfies ok.
func waitQueue(t *testing.T, s *Store, ok func(n int) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(len(s.tokens.queue)); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("queue stuck at %d", len(s.tokens.queue))
		}
	}
}

// A caller that gives up while its insert waits is answered at once; an
// insert after Close fails instead of hanging or panicking.
func TestTokenBatchCancelAndClose(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	if err := s.tokens.close(); err != nil {
		t.Fatal(err)
	}
	s.tokens = newTokenBatcher() // not running: the insert stays queued
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.CreateToken(ctx, batchToken("waiting")) }()
	waitQueue(t, s, func(n int) bool { return n == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled insert: %v, want context.Canceled", err)
	}
	go s.tokens.run(s)

	if err := s.CreateToken(context.Background(), batchToken("before-close")); err != nil {
		t.Fatal(err)
	}
	if err := s.tokens.close(); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if err := s.CreateToken(context.Background(), batchToken("after-close")); !errors.Is(err, errClosed) || !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("insert after close: %v, want errClosed (unavailable)", err)
		}
	}
}

// Inserts racing with Close each get an answer: stored, or the store is
// closed (unavailable), never a hang.
func TestTokenBatchInsertsDuringClose(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Go(func() { errs[i] = s.CreateToken(context.Background(), batchToken(fmt.Sprint("racing-", i))) })
	}
	if err := s.tokens.close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("insert %d: %v, want success or unavailable", i, err)
		}
		_, getErr := s.GetToken(context.Background(), store.TokenAccess, fmt.Sprint("racing-", i))
		if (err == nil) != (getErr == nil) {
			t.Errorf("insert %d answered %v, but the token read gives %v", i, err, getErr)
		}
	}
}

// Inserts whose requests are already runnable when the first insert wakes
// the batcher join its commit. On one processor nothing else runs while the
// batcher gathers unless it yields, so without yielding the first commit of
// each round holds one insert. The scheduler looks at its global queue now
// and then, so a yield does not always come back last: most rounds, not all.
// (Under load the yield costs a wait: the batcher queues behind the
// goroutines runnable on its processor, where before it ran at once.)
func TestTokenBatchWaitsForRunnableInserts(t *testing.T) {
	s := newStore(t)
	var mu sync.Mutex
	var batches []int
	s.tokens.committed = func(n int) { mu.Lock(); batches = append(batches, n); mu.Unlock() }
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

	const rounds, inserts = 20, 4
	whole := 0
	for r := range rounds {
		mu.Lock()
		batches = nil
		mu.Unlock()
		var wg sync.WaitGroup
		for i := range inserts {
			wg.Go(func() {
				if err := s.CreateToken(context.Background(), batchToken(fmt.Sprintf("runnable-%d-%d", r, i))); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		mu.Lock()
		if len(batches) > 0 && batches[0] == inserts {
			whole++
		}
		mu.Unlock()
	}
	// Under -race the scheduler runs a woken goroutine next only half the
	// time, so without the yield about half the rounds would pass: want
	// three quarters.
	if whole < rounds*3/4 {
		t.Errorf("the %d runnable inserts shared the first commit in %d of %d rounds, want three quarters", inserts, whole, rounds)
	}
}
