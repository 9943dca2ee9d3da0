package storetest

import (
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

var expiryTests = []test{
	{"DeleteExpired", testDeleteExpired},
	{"Batch", testDeleteExpiredBatch},
}

// expirySet is one row of each expiring kind, live or dead.
type expirySet struct {
	session  *store.Session
	loginTx  *store.LoginTransaction
	token    *store.OAuthToken
	action   *store.ActionToken
	key      *store.SigningKey
	throttle string
}

// mkExpirySet stores a user named tag and one row of each expiring kind:
// sessions, login transactions, tokens and signing keys expire (retire) at
// exp, the action token at actionExp, and the throttle last failed at failAt.
func mkExpirySet(t *testing.T, s store.Store, tag string, exp, actionExp, failAt time.Time) expirySet {
	t.Helper()
	ctx := t.Context()
	u := mkUser(t, s, tag)
	e := expirySet{
		session: fullSession(u.ID), loginTx: fullLoginTx(), token: fullToken(store.TokenAccess, tag),
		action: newActionToken(u.ID, store.ActionSetup, actionExp.Add(-24*time.Hour)),
		key:    fullSigningKey(exp.Add(-72 * time.Hour)), throttle: "ip:" + tag,
	}
	e.session.ExpiresAt, e.loginTx.ExpiresAt, e.token.ExpiresAt, e.key.RetireAt = exp, exp, exp, exp
	e.action.ExpiresAt = actionExp
	must(t, s.CreateSession(ctx, e.session))
	must(t, s.CreateLoginTransaction(ctx, e.loginTx))
	must(t, s.CreateToken(ctx, e.token))
	must(t, s.CreateActionToken(ctx, e.action))
	must(t, s.CreateSigningKey(ctx, e.key))
	get(s.AddFailure(ctx, e.throttle, failAt, func(int) time.Duration { return 0 }))(t)
	return e
}

func testDeleteExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := t0.Add(90 * 24 * time.Hour)
	longAgo := now.Add(-Retention - time.Hour)
	dead := mkExpirySet(t, s, "dead", now.Add(-time.Hour), longAgo, longAgo)
	live := mkExpirySet(t, s, "live", now.Add(time.Hour), now.Add(time.Hour), now.Add(-time.Minute))
	forever := fullToken(store.TokenRefresh, "forever") // zero ExpiresAt: never expires
	forever.ExpiresAt = time.Time{}
	must(t, s.CreateToken(ctx, forever))
	signing := fullSigningKey(t0) // no RetireAt: still signs
	signing.RetireAt = time.Time{}
	must(t, s.CreateSigningKey(ctx, signing))

	n := get(s.DeleteExpired(ctx, now, 100))(t)
	if n != 6 {
		t.Errorf("DeleteExpired removed %d rows, want 6 (one of each kind)", n)
	}
	checkExpirySet(t, s, dead, false)
	checkExpirySet(t, s, live, true)
	get(s.GetToken(ctx, forever.Kind, forever.Signature))(t)
	if n := get(s.DeleteExpired(ctx, now, 100))(t); n != 0 {
		t.Errorf("second DeleteExpired removed %d rows, want 0", n)
	}
}

// checkExpirySet asserts that each row of e is present (or gone). Gets use a
// time before expiry, so a row is missing only when deleted.
func checkExpirySet(t *testing.T, s store.Store, e expirySet, present bool) {
	t.Helper()
	ctx := t.Context()
	check := func(what string, err error) {
		t.Helper()
		if present && err != nil {
			t.Errorf("live %s was deleted: %v", what, err)
		} else if !present {
			wantErr(t, "expired "+what, err, store.ErrNotFound)
		}
	}
	_, err := s.GetSession(ctx, e.session.ID, t0)
	check("session", err)
	_, err = s.GetLoginTransaction(ctx, e.loginTx.ID, t0)
	check("login transaction", err)
	_, err = s.GetToken(ctx, e.token.Kind, e.token.Signature)
	check("token", err)
	_, err = s.GetActionToken(ctx, e.action.ID)
	check("action token", err)
	check("signing key", findKey(t, s, e.key.ID))
	if th := get(s.GetThrottle(ctx, e.throttle))(t); (th.Failures == 1) != present {
		t.Errorf("throttle %s: %d failures, present = %v", e.throttle, th.Failures, present)
	}
}

func findKey(t *testing.T, s store.Store, id string) error {
	for _, k := range get(s.ListSigningKeys(t.Context()))(t) {
		if k.ID == id {
			return nil
		}
	}
	return store.ErrNotFound
}

func testDeleteExpiredBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	const rows = 5
	for range rows {
		ss := fullSession(u.ID)
		ss.ExpiresAt = t0
		must(t, s.CreateSession(ctx, ss))
	}
	live := fullSession(u.ID)
	live.ExpiresAt = t0.Add(48 * time.Hour)
	must(t, s.CreateSession(ctx, live))

	now, total := t0.Add(time.Hour), 0
	for range rows + 1 {
		n := get(s.DeleteExpired(ctx, now, 2))(t)
		if n > 2 {
			t.Fatalf("DeleteExpired(batch 2) removed %d sessions", n)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != rows {
		t.Errorf("batches removed %d sessions in all, want %d", total, rows)
	}
	get(s.GetSession(ctx, live.ID, now))(t)

	// A batch ≤ 0 means no limit.
	for range rows {
		ss := fullSession(u.ID)
		ss.ExpiresAt = t0
		must(t, s.CreateSession(ctx, ss))
	}
	if n := get(s.DeleteExpired(ctx, now, 0))(t); n != rows {
		t.Errorf("DeleteExpired(batch 0) removed %d sessions, want %d", n, rows)
	}
}
