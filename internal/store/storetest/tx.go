package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

var txTests = []test{
	{"CommitKeeps", testTxCommit},
	{"RollbackDiscards", testTxRollback},
	{"InTxCommits", testInTxCommit},
	{"InTxRollsBackOnError", testInTxError},
	{"NestedInTxJoins", testInTxNested},
	{"ConditionalUpdatesRollBack", testTxConditional},
	{"NoTransaction", testTxNone},
	{"PingDuringTx", testPingDuringTx},
}

func testTxCommit(t *testing.T, s store.Store) {
	ctx := t.Context()
	txCtx, err := s.BeginTx(ctx)
	must(t, err)
	u := fullUser("alice")
	must(t, s.CreateUser(txCtx, u))
	c := fullClient()
	must(t, s.CreateClient(txCtx, c))
	same(t, "GetUser inside the transaction", u, get(s.GetUser(txCtx, u.ID))(t))
	must(t, s.Commit(txCtx))
	must(t, s.Rollback(txCtx)) // the usual deferred Rollback after Commit

	same(t, "GetUser after commit", u, get(s.GetUser(ctx, u.ID))(t))
	same(t, "GetClient after commit", c, get(s.GetClient(ctx, c.ID))(t))
}

func testTxRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	old := mkUser(t, s, "bob")
	ss := fullSession(old.ID)
	must(t, s.CreateSession(ctx, ss))

	txCtx, err := s.BeginTx(ctx)
	must(t, err)
	u := fullUser("alice")
	must(t, s.CreateUser(txCtx, u))
	changed := clone(old)
	changed.FirstName = "Robert"
	must(t, s.UpdateUser(txCtx, changed))
	must(t, s.DeleteSession(txCtx, ss.ID))
	must(t, s.AppendAudit(txCtx, fullAudit("user.create", t0)))
	must(t, s.Rollback(txCtx))

	_, err = s.GetUser(ctx, u.ID)
	wantErr(t, "GetUser of rolled-back create", err, store.ErrNotFound)
	same(t, "user after rolled-back update", old, get(s.GetUser(ctx, old.ID))(t))
	get(s.GetSession(ctx, ss.ID, t0))(t)
	if _, n := get2(s.ListAudit(ctx, store.AuditFilter{}))(t); n != 0 {
		t.Errorf("%d audit events survived the rollback", n)
	}
}

func testInTxCommit(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := fullUser("alice")
	must(t, store.InTx(ctx, s, func(ctx context.Context) error {
		if err := s.CreateUser(ctx, u); err != nil {
			return err
		}
		return s.CreateOTPCredential(ctx, fullOTP(u.ID))
	}))
	get(s.GetUser(ctx, u.ID))(t)
	get(s.GetOTPCredential(ctx, u.ID))(t)
}

func testInTxError(t *testing.T, s store.Store) {
	ctx := t.Context()
	boom := errors.New("boom")
	u := fullUser("alice")
	err := store.InTx(ctx, s, func(ctx context.Context) error {
		return firstErr(s.CreateUser(ctx, u), boom)
	})
	wantErr(t, "InTx", err, boom)
	_, err = s.GetUser(ctx, u.ID)
	wantErr(t, "GetUser after failed InTx", err, store.ErrNotFound)

	// The store is usable afterwards: the failed transaction let go of it.
	must(t, s.CreateUser(ctx, u))
}

func testInTxNested(t *testing.T, s store.Store) {
	ctx := t.Context()
	boom := errors.New("boom")
	outer, inner := fullUser("alice"), fullUser("bob")
	err := store.InTx(ctx, s, func(ctx context.Context) error {
		return firstErr(
			s.CreateUser(ctx, outer),
			store.InTx(ctx, s, func(ctx context.Context) error { return s.CreateUser(ctx, inner) }),
			boom)
	})
	wantErr(t, "outer InTx", err, boom)
	// The inner InTx joined the outer transaction, so its write went with it.
	for _, u := range []*store.User{outer, inner} {
		_, err := s.GetUser(ctx, u.ID)
		wantErr(t, "GetUser "+u.Username, err, store.ErrNotFound)
	}
}

func testTxConditional(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	at := newActionToken(u.ID, store.ActionReset, t0)
	must(t, s.CreateActionToken(ctx, at))
	tok, rot := fullToken(store.TokenRefresh, "sig"), fullToken(store.TokenRefresh, "rot")
	issued := fullToken(store.TokenAccess, rot.AccessSignature)
	must(t, s.CreateToken(ctx, tok))
	must(t, s.CreateToken(ctx, rot))
	must(t, s.CreateToken(ctx, issued))
	cred := fullOTP(u.ID)
	must(t, s.CreateOTPCredential(ctx, cred))

	boom := errors.New("boom")
	err := store.InTx(ctx, s, func(ctx context.Context) error {
		return firstErr(
			s.UseActionToken(ctx, at.ID, t0.Add(time.Minute)),
			s.DeactivateToken(ctx, tok.Kind, tok.Signature),
			second(s.RotateToken(ctx, rot.Kind, rot.Signature, t0, time.Time{})),
			s.AcceptOTPStep(ctx, u.ID, cred.LastStep+1, ""),
			boom)
	})
	wantErr(t, "InTx", err, boom)

	// A failed login must not burn the link, the token or the code; the
	// rotation's deletion of its access token is undone with it.
	same(t, "the rotated token's access token after the rollback", issued, get(s.GetToken(ctx, issued.Kind, issued.Signature))(t))
	must(t, s.UseActionToken(ctx, at.ID, t0.Add(time.Minute)))
	must(t, s.DeactivateToken(ctx, tok.Kind, tok.Signature))
	if graced := get(s.RotateToken(ctx, rot.Kind, rot.Signature, t0, time.Time{}))(t); graced {
		t.Error("RotateToken after the rolled-back one: graced, want rotated")
	}
	must(t, s.AcceptOTPStep(ctx, u.ID, cred.LastStep+1, ""))
}

func testTxNone(t *testing.T, s store.Store) {
	if err := s.Commit(t.Context()); err == nil {
		t.Error("Commit without a transaction succeeded")
	}
	if err := s.Rollback(t.Context()); err == nil {
		t.Error("Rollback without a transaction succeeded")
	}
}

// testPingDuringTx: a health check must not wait for a long transaction.
func testPingDuringTx(t *testing.T, s store.Store) {
	must(t, s.Ping(t.Context()))
	txCtx, err := s.BeginTx(t.Context())
	must(t, err)
	defer s.Rollback(txCtx)
	must(t, s.CreateUser(txCtx, fullUser("alice")))

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	must(t, s.Ping(ctx))
}

// firstErr returns the first non-nil of errs: inside a transaction the first
// failure is the cause, and later ones may only echo it.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// second returns the error of a method that also returns a value, for firstErr.
func second[T any](_ T, err error) error { return err }
