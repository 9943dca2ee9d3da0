package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/store/postgres"
)

func isoToken(kind, sig, requestID string) *store.OAuthToken {
	now := time.Now().UTC()
	return &store.OAuthToken{Kind: kind, Signature: sig, RequestID: requestID, RequestedAt: now, ClientID: "c",
		Subject: "u", Form: "grant_type=refresh_token", Session: []byte(`{}`), Active: true, ExpiresAt: now.Add(time.Hour)}
}

// rotateRC rotates one refresh token the way oauth.Storage does for
// fosite's refresh grant, in a store.ReadCommitted transaction: the rotation
// (which deletes the old access token), then the new pair.
func rotateRC(ctx context.Context, s store.Store, old *store.OAuthToken, next string) error {
	return store.InTx(store.ReadCommitted(ctx), s, func(ctx context.Context) error {
		if _, err := s.RotateToken(ctx, store.TokenRefresh, old.Signature, time.Now(), time.Time{}); err != nil {
			return err
		}
		if err := s.CreateToken(ctx, isoToken(store.TokenAccess, "a-"+next, old.RequestID)); err != nil {
			return err
		}
		return s.CreateToken(ctx, isoToken(store.TokenRefresh, next, old.RequestID))
	})
}

// Concurrent rotations of different grants never abort each other in
// ReadCommitted transactions, where SERIALIZABLE ones do now and then.
func TestReadCommittedRotationsDoNotConflict(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cur := isoToken(store.TokenRefresh, fmt.Sprintf("w%d-0", w), fmt.Sprintf("req-%d", w))
			if err := s.CreateToken(ctx, cur); err != nil {
				errs <- err
				return
			}
			for i := 1; i <= rounds; i++ {
				next := fmt.Sprintf("w%d-%d", w, i)
				if err := rotateRC(ctx, s, cur, next); err != nil {
					errs <- fmt.Errorf("worker %d round %d: %w", w, i, err)
					return
				}
				cur = isoToken(store.TokenRefresh, next, cur.RequestID)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// The conditional deactivation alone keeps a refresh token single-use under
// READ COMMITTED: of concurrent rotations of one token exactly one wins.
func TestReadCommittedRotationIsSingleUse(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	for round := range 10 {
		old := isoToken(store.TokenRefresh, fmt.Sprintf("shared-%d", round), fmt.Sprintf("req-%d", round))
		if err := s.CreateToken(ctx, old); err != nil {
			t.Fatal(err)
		}
		const racers = 4
		results := make([]error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i] = rotateRC(ctx, s, old, fmt.Sprintf("next-%d-%d", round, i))
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range results {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("round %d: a losing rotation failed with %v, want store.ErrConflict", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of %d concurrent rotations of one token won", round, won, racers)
		}
	}
}

// A revocation of a grant that runs while a rotation of one of its refresh
// tokens is in flight revokes the token that rotation issues too, whether
// the rotation retires the old token or is a second use within the grace:
// otherwise the grant would live on in the new token.
func TestRevocationCatchesRotationInFlight(t *testing.T) {
	for name, graced := range map[string]bool{"rotation": false, "within the grace": true} {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			ctx := t.Context()
			now := time.Now().UTC()
			if err := s.CreateToken(ctx, isoToken(store.TokenRefresh, "r0", "R")); err != nil {
				t.Fatal(err)
			}
			if graced {
				if _, err := s.RotateToken(ctx, store.TokenRefresh, "r0", now, time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
			tx, err := s.BeginTx(store.ReadCommitted(ctx))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = s.Rollback(tx) }()
			got, err := s.RotateToken(tx, store.TokenRefresh, "r0", now.Add(time.Second), now.Add(-time.Minute))
			if err != nil || got != graced {
				t.Fatalf("RotateToken in the transaction: graced %v, %v; want graced %v", got, err, graced)
			}
			if err := s.CreateToken(tx, isoToken(store.TokenRefresh, "r1", "R")); err != nil {
				t.Fatal(err)
			}

			revoked := make(chan error, 1)
			go func() { revoked <- s.DeactivateTokensByRequest(ctx, store.TokenRefresh, "R") }()
			select {
			case <-waitingOnLock(t, s):
			case err := <-revoked:
				// Not held off by the rotation: it cannot have seen r1.
				revoked <- err
			}
			if err := s.Commit(tx); err != nil {
				t.Fatal(err)
			}
			if err := <-revoked; err != nil {
				t.Fatal(err)
			}
			for _, sig := range []string{"r0", "r1"} {
				tok, err := s.GetToken(ctx, store.TokenRefresh, sig)
				if err != nil {
					t.Fatal(err)
				}
				if tok.Active || !tok.RotatedAt.IsZero() {
					t.Errorf("%s after the revocation: active %v, rotated at %v; want revoked", sig, tok.Active, tok.RotatedAt)
				}
			}
		})
	}
}

// waitingOnLock is closed once a statement of s's sessions waits for a lock:
// pgtest names them by their schema (application_name), and other tests
// share the database.
func waitingOnLock(t *testing.T, s *postgres.Store) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		for t.Context().Err() == nil {
			var n int
			err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND application_name = current_setting('application_name')
				AND wait_event_type = 'Lock'`).Scan(&n)
			if err != nil || n > 0 {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return ch
}
