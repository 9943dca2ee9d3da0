package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

// The self-service account: recovery codes and the user's sessions.

var recoveryCodeTests = []test{
	{"ReplaceCountUse", testRecoveryReplaceCountUse},
	{"ReplaceVoidsOld", testRecoveryReplaceVoidsOld},
	{"PerUser", testRecoveryPerUser},
	{"Delete", testRecoveryDelete},
	{"ConcurrentUseOnce", testRecoveryConcurrentUse},
	{"GoWithUser", testRecoveryGoWithUser},
	{"InTransaction", testRecoveryInTx},
}

func hashes(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + store.NewID()
	}
	return out
}

func testRecoveryReplaceCountUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	if n := get(s.CountRecoveryCodes(ctx, u.ID))(t); n != 0 {
		t.Fatalf("CountRecoveryCodes before any: %d, want 0", n)
	}
	hs := hashes("h", 10)
	must(t, s.ReplaceRecoveryCodes(ctx, u.ID, hs, t0))
	if n := get(s.CountRecoveryCodes(ctx, u.ID))(t); n != 10 {
		t.Fatalf("CountRecoveryCodes: %d, want 10", n)
	}
	if left := get(s.UseRecoveryCode(ctx, u.ID, hs[3]))(t); left != 9 {
		t.Errorf("UseRecoveryCode left %d, want 9", left)
	}
	_, err := s.UseRecoveryCode(ctx, u.ID, hs[3])
	wantErr(t, "UseRecoveryCode twice", err, store.ErrNotFound)
	_, err = s.UseRecoveryCode(ctx, u.ID, "never-issued")
	wantErr(t, "UseRecoveryCode of an unknown hash", err, store.ErrNotFound)
	_, err = s.UseRecoveryCode(ctx, u.ID, "bad\x00\xff")
	wantErr(t, "UseRecoveryCode of text no row holds", err, store.ErrNotFound)
	if left := get(s.UseRecoveryCode(ctx, u.ID, hs[9]))(t); left != 8 {
		t.Errorf("UseRecoveryCode left %d, want 8", left)
	}
}

func testRecoveryReplaceVoidsOld(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	old, fresh := hashes("old", 10), hashes("new", 10)
	must(t, s.ReplaceRecoveryCodes(ctx, u.ID, old, t0))
	must(t, s.ReplaceRecoveryCodes(ctx, u.ID, fresh, t0.Add(time.Hour)))
	_, err := s.UseRecoveryCode(ctx, u.ID, old[0])
	wantErr(t, "UseRecoveryCode of a replaced set", err, store.ErrNotFound)
	if left := get(s.UseRecoveryCode(ctx, u.ID, fresh[0]))(t); left != 9 {
		t.Errorf("left %d, want 9", left)
	}
	must(t, s.ReplaceRecoveryCodes(ctx, u.ID, nil, t0))
	if n := get(s.CountRecoveryCodes(ctx, u.ID))(t); n != 0 {
		t.Errorf("CountRecoveryCodes after replacing with none: %d", n)
	}
}

func testRecoveryPerUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	ha := hashes("a", 3)
	must(t, s.ReplaceRecoveryCodes(ctx, a.ID, ha, t0))
	// The same hash on two users is no conflict: each user's set is its own.
	must(t, s.ReplaceRecoveryCodes(ctx, b.ID, ha[:1], t0))
	_, err := s.UseRecoveryCode(ctx, b.ID, ha[1])
	wantErr(t, "UseRecoveryCode of another user's code", err, store.ErrNotFound)
	if left := get(s.UseRecoveryCode(ctx, b.ID, ha[0]))(t); left != 0 {
		t.Errorf("bob left %d, want 0", left)
	}
	if n := get(s.CountRecoveryCodes(ctx, a.ID))(t); n != 3 {
		t.Errorf("alice's codes: %d, want 3 (bob's use must not touch them)", n)
	}
}

func testRecoveryDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	must(t, s.ReplaceRecoveryCodes(ctx, a.ID, hashes("a", 4), t0))
	must(t, s.ReplaceRecoveryCodes(ctx, b.ID, hashes("b", 2), t0))
	if n := get(s.DeleteRecoveryCodes(ctx, a.ID))(t); n != 4 {
		t.Errorf("DeleteRecoveryCodes: %d, want 4", n)
	}
	if n := get(s.DeleteRecoveryCodes(ctx, a.ID))(t); n != 0 {
		t.Errorf("DeleteRecoveryCodes again: %d, want 0", n)
	}
	if n := get(s.CountRecoveryCodes(ctx, b.ID))(t); n != 2 {
		t.Errorf("bob's codes after alice's were voided: %d, want 2", n)
	}
}

func testRecoveryConcurrentUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	hs := hashes("h", 2)
	must(t, s.ReplaceRecoveryCodes(ctx, u.ID, hs, t0))
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = s.UseRecoveryCode(ctx, u.ID, hs[0]) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("concurrent UseRecoveryCode: %v, want nil or ErrNotFound", err)
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent uses of one code succeeded, want exactly 1", won)
	}
}

func testRecoveryGoWithUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	must(t, s.ReplaceRecoveryCodes(ctx, u.ID, hashes("h", 3), t0))
	must(t, s.DeleteUser(ctx, u.ID))
	if n := get(s.CountRecoveryCodes(ctx, u.ID))(t); n != 0 {
		t.Errorf("codes of a deleted user: %d, want 0", n)
	}
}

func testRecoveryInTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	hs := hashes("h", 3)
	boom := errors.New("boom")
	err := store.InTx(ctx, s, func(ctx context.Context) error {
		must(t, s.ReplaceRecoveryCodes(ctx, u.ID, hs, t0))
		left, err := s.UseRecoveryCode(ctx, u.ID, hs[0])
		if err != nil || left != 2 {
			t.Errorf("UseRecoveryCode in a transaction: %d, %v", left, err)
		}
		return boom
	})
	wantErr(t, "InTx", err, boom)
	if n := get(s.CountRecoveryCodes(ctx, u.ID))(t); n != 0 {
		t.Errorf("codes of a rolled-back transaction: %d, want 0", n)
	}
}

var userSessionTests = []test{
	{"ListNewestFirst", testUserSessionsList},
	{"Touch", testUserSessionTouch},
}

func testUserSessionsList(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	older, newer, expired, bobs := fullSession(a.ID), fullSession(a.ID), fullSession(a.ID), fullSession(b.ID)
	newer.CreatedAt = older.CreatedAt.Add(time.Minute)
	expired.ExpiresAt = t0.Add(time.Minute)
	for _, ss := range []*store.Session{older, newer, expired, bobs} {
		must(t, s.CreateSession(ctx, ss))
	}
	sameList(t, "ListUserSessions", []*store.Session{newer, older}, get(s.ListUserSessions(ctx, a.ID, t0.Add(time.Hour)))(t))
	if got := get(s.ListUserSessions(ctx, "nobody", t0))(t); len(got) != 0 {
		t.Errorf("ListUserSessions of nobody: %d sessions", len(got))
	}
}

func testUserSessionTouch(t *testing.T, s store.Store) {
	ctx := t.Context()
	ss := fullSession(mkUser(t, s, "alice").ID)
	must(t, s.CreateSession(ctx, ss))
	seen := t0.Add(2 * time.Hour)
	must(t, s.TouchSession(ctx, ss.ID, seen))
	want := clone(ss)
	want.LastSeenAt = seen
	same(t, "GetSession after TouchSession", want, get(s.GetSession(ctx, ss.ID, t0))(t))
	wantErr(t, "TouchSession of a missing session", s.TouchSession(ctx, "nope", seen), store.ErrNotFound)
}
