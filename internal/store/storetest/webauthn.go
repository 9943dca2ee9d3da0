package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

// Security keys and passkeys (WebAuthn), and remembered browsers.

var webauthnTests = []test{
	{"CreateList", testWebAuthnCreateList},
	{"IDUnique", testWebAuthnIDUnique},
	{"UseCounter", testWebAuthnUseCounter},
	{"ConcurrentUseOnce", testWebAuthnConcurrentUse},
	{"Delete", testWebAuthnDelete},
	{"GoWithUser", testWebAuthnGoWithUser},
	{"CountSecondFactors", testCountSecondFactors},
}

func fullWebAuthn(userID, name string, created time.Time) *store.WebAuthnCredential {
	return &store.WebAuthnCredential{
		ID: []byte("cred-" + store.NewID()), UserID: userID, Name: name,
		PublicKey: []byte{0xa5, 0x01, 0x02, 0x00}, Record: []byte(`{"flags":{"userPresent":true}}`),
		SignCount: 7, CreatedAt: created, LastUsedAt: created.Add(time.Hour),
	}
}

func testWebAuthnCreateList(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	older, newer, bobs := fullWebAuthn(a.ID, "YubiKey", t0), fullWebAuthn(a.ID, "Laptop", t0.Add(time.Minute)), fullWebAuthn(b.ID, "Phone", t0)
	complete(t, older)
	for _, c := range []*store.WebAuthnCredential{newer, older, bobs} {
		must(t, s.CreateWebAuthnCredential(ctx, c))
	}
	sameList(t, "ListWebAuthnCredentials", []*store.WebAuthnCredential{older, newer}, get(s.ListWebAuthnCredentials(ctx, a.ID))(t))
	if got := get(s.ListWebAuthnCredentials(ctx, "nobody"))(t); len(got) != 0 {
		t.Errorf("ListWebAuthnCredentials of nobody: %d", len(got))
	}
	never := fullWebAuthn(b.ID, "Unused", t0.Add(time.Hour))
	never.LastUsedAt, never.Record, never.SignCount = time.Time{}, nil, 0
	must(t, s.CreateWebAuthnCredential(ctx, never))
	sameList(t, "a credential never used", []*store.WebAuthnCredential{bobs, never}, get(s.ListWebAuthnCredentials(ctx, b.ID))(t))
}

func testWebAuthnIDUnique(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	c := fullWebAuthn(a.ID, "key", t0)
	must(t, s.CreateWebAuthnCredential(ctx, c))
	again := clone(c)
	again.UserID = b.ID
	wantErr(t, "the same credential ID for another user", s.CreateWebAuthnCredential(ctx, again), store.ErrConflict)
	wantErr(t, "the same credential ID twice", s.CreateWebAuthnCredential(ctx, c), store.ErrConflict)
}

func testWebAuthnUseCounter(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	c := fullWebAuthn(a.ID, "key", t0)
	must(t, s.CreateWebAuthnCredential(ctx, c))
	at := t0.Add(2 * time.Hour)
	must(t, s.UseWebAuthnCredential(ctx, a.ID, c.ID, 8, at))
	want := clone(c)
	want.SignCount, want.LastUsedAt = 8, at
	sameList(t, "after a use", []*store.WebAuthnCredential{want}, get(s.ListWebAuthnCredentials(ctx, a.ID))(t))
	wantErr(t, "the same counter again (a replay)", s.UseWebAuthnCredential(ctx, a.ID, c.ID, 8, at), store.ErrConflict)
	wantErr(t, "a counter that went back (a clone)", s.UseWebAuthnCredential(ctx, a.ID, c.ID, 3, at), store.ErrConflict)
	wantErr(t, "a counter of 0 after 8", s.UseWebAuthnCredential(ctx, a.ID, c.ID, 0, at), store.ErrConflict)
	wantErr(t, "another user's credential", s.UseWebAuthnCredential(ctx, b.ID, c.ID, 9, at), store.ErrNotFound)
	wantErr(t, "an unknown credential", s.UseWebAuthnCredential(ctx, a.ID, []byte("nope"), 9, at), store.ErrNotFound)
	sameList(t, "after refused uses", []*store.WebAuthnCredential{want}, get(s.ListWebAuthnCredentials(ctx, a.ID))(t))

	// Authenticators that keep no counter (many passkeys) always say 0.
	zero := fullWebAuthn(a.ID, "passkey", t0.Add(time.Minute))
	zero.SignCount = 0
	must(t, s.CreateWebAuthnCredential(ctx, zero))
	must(t, s.UseWebAuthnCredential(ctx, a.ID, zero.ID, 0, at))
	must(t, s.UseWebAuthnCredential(ctx, a.ID, zero.ID, 0, at.Add(time.Minute)))
}

func testWebAuthnConcurrentUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkUser(t, s, "alice")
	c := fullWebAuthn(a.ID, "key", t0)
	must(t, s.CreateWebAuthnCredential(ctx, c))
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 8 {
		wg.Go(func() {
			if err := s.UseWebAuthnCredential(ctx, a.ID, c.ID, 9, t0); err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d concurrent uses of one counter value succeeded, want exactly 1", won)
	}
}

func testWebAuthnDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	c1, c2 := fullWebAuthn(a.ID, "one", t0), fullWebAuthn(a.ID, "two", t0.Add(time.Minute))
	must(t, s.CreateWebAuthnCredential(ctx, c1))
	must(t, s.CreateWebAuthnCredential(ctx, c2))
	wantErr(t, "deleting another user's credential", s.DeleteWebAuthnCredential(ctx, b.ID, c1.ID), store.ErrNotFound)
	must(t, s.DeleteWebAuthnCredential(ctx, a.ID, c1.ID))
	wantErr(t, "deleting it twice", s.DeleteWebAuthnCredential(ctx, a.ID, c1.ID), store.ErrNotFound)
	sameList(t, "after deleting one", []*store.WebAuthnCredential{c2}, get(s.ListWebAuthnCredentials(ctx, a.ID))(t))
	must(t, s.CreateWebAuthnCredential(ctx, fullWebAuthn(a.ID, "three", t0)))
	if n := get(s.DeleteWebAuthnCredentials(ctx, a.ID))(t); n != 2 {
		t.Errorf("DeleteWebAuthnCredentials: %d, want 2", n)
	}
	if n := get(s.DeleteWebAuthnCredentials(ctx, a.ID))(t); n != 0 {
		t.Errorf("DeleteWebAuthnCredentials again: %d, want 0", n)
	}
}

func testWebAuthnGoWithUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkUser(t, s, "alice")
	c := fullWebAuthn(a.ID, "key", t0)
	must(t, s.CreateWebAuthnCredential(ctx, c))
	must(t, s.CreateRememberedBrowser(ctx, fullRemembered(a.ID, t0)))
	must(t, s.DeleteUser(ctx, a.ID))
	if got := get(s.ListWebAuthnCredentials(ctx, a.ID))(t); len(got) != 0 {
		t.Errorf("credentials of a deleted user: %d", len(got))
	}
	if got := get(s.ListRememberedBrowsers(ctx, a.ID, t0))(t); len(got) != 0 {
		t.Errorf("remembered browsers of a deleted user: %d", len(got))
	}
	// The credential ID is free again.
	c.UserID = mkUser(t, s, "bob").ID
	must(t, s.CreateWebAuthnCredential(ctx, c))
}

func testCountSecondFactors(t *testing.T, s store.Store) {
	ctx := t.Context()
	count := func() [3]int {
		a, b, c, err := s.CountSecondFactors(ctx)
		must(t, err)
		return [3]int{a, b, c}
	}
	if got := count(); got != [3]int{} {
		t.Fatalf("CountSecondFactors of an empty store: %v", got)
	}
	totp, key, both := mkUser(t, s, "totp"), mkUser(t, s, "key"), mkUser(t, s, "both")
	mkUser(t, s, "neither")
	for _, u := range []*store.User{totp, both} {
		must(t, s.CreateOTPCredential(ctx, &store.OTPCredential{UserID: u.ID, SealedSecret: []byte("s"), CreatedAt: t0}))
	}
	for _, u := range []*store.User{key, both, both} {
		must(t, s.CreateWebAuthnCredential(ctx, fullWebAuthn(u.ID, "k", t0)))
	}
	if got := count(); got != [3]int{1, 1, 1} {
		t.Errorf("CountSecondFactors: %v, want [1 1 1] (TOTP only, WebAuthn only, both)", got)
	}
}

var rememberedTests = []test{
	{"CreateGet", testRememberedCreateGet},
	{"ListTouch", testRememberedListTouch},
	{"Delete", testRememberedDelete},
	{"Expire", testRememberedExpire},
}

func fullRemembered(userID string, created time.Time) *store.RememberedBrowser {
	return &store.RememberedBrowser{
		ID: store.NewID(), UserID: userID, UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0", IP: "192.0.2.7",
		CreatedAt: created, ExpiresAt: created.Add(30 * 24 * time.Hour), LastUsedAt: created.Add(time.Minute),
	}
}

func testRememberedCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	b := fullRemembered(mkUser(t, s, "alice").ID, t0)
	complete(t, b)
	must(t, s.CreateRememberedBrowser(ctx, b))
	same(t, "GetRememberedBrowser", b, get(s.GetRememberedBrowser(ctx, b.ID, t0))(t))
	wantErr(t, "CreateRememberedBrowser twice", s.CreateRememberedBrowser(ctx, b), store.ErrConflict)
	_, err := s.GetRememberedBrowser(ctx, b.ID, b.ExpiresAt)
	wantErr(t, "GetRememberedBrowser at its expiry", err, store.ErrNotFound)
	_, err = s.GetRememberedBrowser(ctx, "unknown", t0)
	wantErr(t, "GetRememberedBrowser unknown", err, store.ErrNotFound)
}

func testRememberedListTouch(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, o := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	older, newer, expired, others := fullRemembered(a.ID, t0), fullRemembered(a.ID, t0.Add(time.Minute)), fullRemembered(a.ID, t0), fullRemembered(o.ID, t0)
	expired.ExpiresAt = t0.Add(time.Hour)
	for _, b := range []*store.RememberedBrowser{older, newer, expired, others} {
		must(t, s.CreateRememberedBrowser(ctx, b))
	}
	now := t0.Add(2 * time.Hour)
	sameList(t, "ListRememberedBrowsers", []*store.RememberedBrowser{newer, older}, get(s.ListRememberedBrowsers(ctx, a.ID, now))(t))
	must(t, s.TouchRememberedBrowser(ctx, older.ID, now))
	want := clone(older)
	want.LastUsedAt = now
	same(t, "after TouchRememberedBrowser", want, get(s.GetRememberedBrowser(ctx, older.ID, now))(t))
	wantErr(t, "TouchRememberedBrowser of an unknown one", s.TouchRememberedBrowser(ctx, "nope", now), store.ErrNotFound)
}

func testRememberedDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, o := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	mine1, mine2, others := fullRemembered(a.ID, t0), fullRemembered(a.ID, t0), fullRemembered(o.ID, t0)
	for _, b := range []*store.RememberedBrowser{mine1, mine2, others} {
		must(t, s.CreateRememberedBrowser(ctx, b))
	}
	if n := get(s.DeleteRememberedBrowsers(ctx, a.ID))(t); n != 2 {
		t.Errorf("DeleteRememberedBrowsers: %d, want 2", n)
	}
	_, err := s.GetRememberedBrowser(ctx, mine1.ID, t0)
	wantErr(t, "a forgotten browser", err, store.ErrNotFound)
	same(t, "another user's browser", others, get(s.GetRememberedBrowser(ctx, others.ID, t0))(t))
}

func testRememberedExpire(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkUser(t, s, "alice")
	live, dead := fullRemembered(a.ID, t0), fullRemembered(a.ID, t0)
	dead.ExpiresAt = t0.Add(time.Minute)
	must(t, s.CreateRememberedBrowser(ctx, live))
	must(t, s.CreateRememberedBrowser(ctx, dead))
	if n := get(s.DeleteExpired(ctx, t0.Add(time.Hour), 0))(t); n != 1 {
		t.Errorf("DeleteExpired removed %d rows, want 1 (the expired browser)", n)
	}
	// Gone from the table, not only hidden by the expiry check.
	if got := get(s.ListRememberedBrowsers(ctx, a.ID, t0))(t); len(got) != 1 || got[0].ID != live.ID {
		t.Errorf("after DeleteExpired: %d browsers", len(got))
	}
}
