package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

var sessionTests = []test{
	{"CreateAndGet", testSessionCreateGet},
	{"ZeroFields", testSessionZeroFields},
	{"Expired", testSessionExpired},
	{"Duplicate", testSessionDuplicate},
	{"SignIn", testSessionSignIn},
	{"SignInEndsLogin", testSessionSignInEndsLogin},
	{"Delete", testSessionDelete},
	{"DeleteUserSessions", testSessionDeleteUser},
}

func testSessionCreateGet(t *testing.T, s store.Store) {
	ss := fullSession(mkUser(t, s, "alice").ID)
	complete(t, ss)
	must(t, s.CreateSession(t.Context(), ss))
	same(t, "GetSession", ss, get(s.GetSession(t.Context(), ss.ID, t0.Add(time.Hour)))(t))
}

func testSessionZeroFields(t *testing.T, s store.Store) {
	ss := &store.Session{ID: store.NewID(), UserID: mkUser(t, s, "alice").ID, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreateSession(t.Context(), ss))
	same(t, "GetSession", ss, get(s.GetSession(t.Context(), ss.ID, t0))(t))
}

func testSessionExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	ss := fullSession(mkUser(t, s, "alice").ID)
	must(t, s.CreateSession(ctx, ss))
	get(s.GetSession(ctx, ss.ID, ss.ExpiresAt.Add(-time.Second)))(t)
	_, err := s.GetSession(ctx, ss.ID, ss.ExpiresAt.Add(time.Second))
	wantErr(t, "GetSession past expiry", err, store.ErrNotFound)
}

func testSessionDuplicate(t *testing.T, s store.Store) {
	u := mkUser(t, s, "alice")
	a := fullSession(u.ID)
	must(t, s.CreateSession(t.Context(), a))
	b := fullSession(u.ID)
	b.ID = a.ID
	wantErr(t, "CreateSession same ID", s.CreateSession(t.Context(), b), store.ErrConflict)
}

// signInEvent is the type of the sign-ins' events here: the store keeps any
// type, and the suite imports only store (authz writes audit.LoginSuccess).
const signInEvent = "signin"

// testSessionSignIn: a sign-in stores its session, its user's last login
// and its event together; one with a taken session ID or a missing user
// leaves all three as they were.
func testSessionSignIn(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	// A change made since u was read must survive: only the last login moves.
	changed := clone(u)
	changed.FirstName, changed.Role = "Changed", store.RoleAdmin
	must(t, s.UpdateUser(ctx, changed))
	ss := fullSession(u.ID)
	e := &store.AuditEvent{Time: ss.CreatedAt, Type: signInEvent, ActorID: u.ID, UserID: u.ID,
		ClientID: "app", IP: "192.0.2.1", Detail: "amr=pwd,otp,mfa"}
	must(t, s.SignIn(ctx, "", ss, e))
	same(t, "GetSession", ss, get(s.GetSession(ctx, ss.ID, t0))(t))
	want := clone(changed)
	want.LastLoginAt = ss.CreatedAt
	same(t, "GetUser after SignIn", want, get(s.GetUser(ctx, u.ID))(t))
	signedIn := ss.CreatedAt.Truncate(time.Microsecond) // what a store keeps of a time
	if e.ID == 0 {
		t.Fatal("SignIn left the event's ID unset")
	}
	events, _, err := s.ListAudit(ctx, store.AuditFilter{Limit: 10})
	must(t, err)
	sameList(t, "ListAudit after SignIn", []*store.AuditEvent{e}, events)

	taken := fullSession(u.ID)
	taken.ID, taken.CreatedAt = ss.ID, ss.CreatedAt.Add(time.Hour)
	refused := &store.AuditEvent{Time: taken.CreatedAt, Type: signInEvent, UserID: u.ID}
	wantErr(t, "SignIn with a taken session ID", s.SignIn(ctx, "", taken, refused), store.ErrConflict)
	if got := get(s.GetUser(ctx, u.ID))(t).LastLoginAt; !got.Equal(signedIn) {
		t.Fatalf("a refused sign-in moved LastLoginAt to %v", got)
	}
	ghost := fullSession("ghost")
	if err := s.SignIn(ctx, "", ghost, &store.AuditEvent{Time: t0, Type: signInEvent, UserID: "ghost"}); err == nil {
		t.Fatal("SignIn of a missing user succeeded")
	}
	events, _, err = s.ListAudit(ctx, store.AuditFilter{Limit: 10})
	must(t, err)
	sameList(t, "ListAudit after two refused sign-ins", []*store.AuditEvent{e}, events)
	if refused.ID != 0 {
		t.Fatalf("a refused sign-in set its event's ID to %d", refused.ID)
	}
}

// testSessionSignInEndsLogin: a sign-in deletes its login transaction; a
// second sign-in ending the same one finds it gone and writes nothing, and
// one refused for a taken session ID leaves the transaction there.
func testSessionSignInEndsLogin(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	lt, other := fullLoginTx(), fullLoginTx()
	must(t, s.CreateLoginTransaction(ctx, lt))
	must(t, s.CreateLoginTransaction(ctx, other))
	first := fullSession(u.ID)
	must(t, s.SignIn(ctx, lt.ID, first, &store.AuditEvent{Time: first.CreatedAt, Type: signInEvent, UserID: u.ID}))
	_, err := s.GetLoginTransaction(ctx, lt.ID, t0)
	wantErr(t, "GetLoginTransaction after its sign-in", err, store.ErrNotFound)
	get(s.GetSession(ctx, first.ID, t0))(t)

	again := fullSession(u.ID)
	again.CreatedAt = first.CreatedAt.Add(time.Hour)
	refused := &store.AuditEvent{Time: again.CreatedAt, Type: signInEvent, UserID: u.ID}
	wantErr(t, "SignIn of an ended login", s.SignIn(ctx, lt.ID, again, refused), store.ErrNotFound)
	_, err = s.GetSession(ctx, again.ID, t0)
	wantErr(t, "GetSession of a refused sign-in", err, store.ErrNotFound)
	if got := get(s.GetUser(ctx, u.ID))(t).LastLoginAt; !got.Equal(first.CreatedAt.Truncate(time.Microsecond)) {
		t.Errorf("a refused sign-in moved LastLoginAt to %v", got)
	}
	taken := fullSession(u.ID)
	taken.ID = first.ID
	wantErr(t, "SignIn with a taken session ID", s.SignIn(ctx, other.ID, taken, refused), store.ErrConflict)
	get(s.GetLoginTransaction(ctx, other.ID, t0))(t)
	if events, _, err := s.ListAudit(ctx, store.AuditFilter{Limit: 10}); err != nil || len(events) != 1 {
		t.Errorf("audit after one sign-in and two refused: %d events, %v; want 1", len(events), err)
	}
	if refused.ID != 0 {
		t.Errorf("a refused sign-in set its event's ID to %d", refused.ID)
	}
}

func testSessionDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	ss, keep := fullSession(u.ID), fullSession(u.ID)
	must(t, s.CreateSession(ctx, ss))
	must(t, s.CreateSession(ctx, keep))
	must(t, s.DeleteSession(ctx, ss.ID))
	_, err := s.GetSession(ctx, ss.ID, t0)
	wantErr(t, "GetSession after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteSession twice", s.DeleteSession(ctx, ss.ID), store.ErrNotFound)
	get(s.GetSession(ctx, keep.ID, t0))(t)
}

func testSessionDeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	a1, a2, b1 := fullSession(a.ID), fullSession(a.ID), fullSession(b.ID)
	for _, ss := range []*store.Session{a1, a2, b1} {
		must(t, s.CreateSession(ctx, ss))
	}
	must(t, s.DeleteUserSessions(ctx, a.ID))
	for _, id := range []string{a1.ID, a2.ID} {
		_, err := s.GetSession(ctx, id, t0)
		wantErr(t, "GetSession of signed-out user", err, store.ErrNotFound)
	}
	get(s.GetSession(ctx, b1.ID, t0))(t)
	must(t, s.DeleteUserSessions(ctx, a.ID)) // nothing left: still fine
}

var loginTxTests = []test{
	{"CreateAndGet", testLoginTxCreateGet},
	{"ZeroFields", testLoginTxZeroFields},
	{"Expired", testLoginTxExpired},
	{"Duplicate", testLoginTxDuplicate},
	{"Update", testLoginTxUpdate},
	{"Delete", testLoginTxDelete},
	{"DeleteUsers", testLoginTxDeleteUsers},
	{"State", testLoginState},
	{"StateWithoutUser", testLoginStateWithoutUser},
	{"StateUserGone", testLoginStateUserGone},
	{"StateThrottle", testLoginStateThrottle},
}

// testLoginState reads a transaction with its user's records, and none of
// another user's.
func testLoginState(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	otp := fullOTP(alice.ID)
	must(t, s.CreateOTPCredential(ctx, otp))
	must(t, s.CreateOTPCredential(ctx, fullOTP(bob.ID)))
	keys := []*store.WebAuthnCredential{fullWebAuthn(alice.ID, "YubiKey", t0), fullWebAuthn(alice.ID, "Laptop", t0.Add(time.Minute))}
	for _, k := range append(keys, fullWebAuthn(bob.ID, "Phone", t0)) {
		must(t, s.CreateWebAuthnCredential(ctx, k))
	}
	lt := fullLoginTx()
	lt.UserID = alice.ID
	must(t, s.CreateLoginTransaction(ctx, lt))
	must(t, s.CreateLoginTransaction(ctx, func() *store.LoginTransaction { b := fullLoginTx(); b.UserID = bob.ID; return b }()))

	got := get(s.GetLoginState(ctx, lt.ID, "", t0))(t)
	sameList(t, "GetLoginState security keys", keys, got.SecurityKeys)
	same(t, "GetLoginState", &store.LoginState{Transaction: lt, User: alice, OTP: otp}, &store.LoginState{Transaction: got.Transaction, User: got.User, OTP: got.OTP})
	if got.Throttle != nil {
		t.Errorf("GetLoginState without a throttle key read throttle %+v", got.Throttle)
	}

	_, err := s.GetLoginState(ctx, lt.ID, "", lt.ExpiresAt.Add(time.Second))
	wantErr(t, "GetLoginState past expiry", err, store.ErrNotFound)
	_, err = s.GetLoginState(ctx, store.NewID(), "", t0)
	wantErr(t, "GetLoginState of an unknown transaction", err, store.ErrNotFound)
	// Inside a transaction it reads what the transaction sees.
	must(t, store.InTx(ctx, s, func(ctx context.Context) error {
		in := get(s.GetLoginState(ctx, lt.ID, "", t0))(t)
		sameList(t, "GetLoginState security keys in a transaction", keys, in.SecurityKeys)
		same(t, "GetLoginState user in a transaction", alice, in.User)
		return nil
	}))
}

func testLoginStateWithoutUser(t *testing.T, s store.Store) {
	mkUser(t, s, "alice")
	lt := &store.LoginTransaction{ID: store.NewID(), Purpose: store.PurposeLogin, CSRF: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	must(t, s.CreateLoginTransaction(t.Context(), lt))
	got := get(s.GetLoginState(t.Context(), lt.ID, "", t0))(t)
	if got.User != nil || got.OTP != nil || len(got.SecurityKeys) > 0 {
		t.Errorf("GetLoginState before the password step = %+v, want the transaction alone", got)
	}
	same(t, "GetLoginState transaction", lt, got.Transaction)
}

func testLoginStateUserGone(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	lt := fullLoginTx()
	lt.UserID = u.ID
	must(t, s.CreateLoginTransaction(ctx, lt))
	must(t, s.DeleteUser(ctx, u.ID))
	got := get(s.GetLoginState(ctx, lt.ID, "", t0))(t)
	if got.User != nil || got.OTP != nil || len(got.SecurityKeys) > 0 {
		t.Errorf("GetLoginState of a deleted user's transaction = %+v, want no user", got)
	}
	same(t, "GetLoginState transaction", lt, got.Transaction)
}

func testLoginTxCreateGet(t *testing.T, s store.Store) {
	lt := fullLoginTx()
	complete(t, lt)
	must(t, s.CreateLoginTransaction(t.Context(), lt))
	same(t, "GetLoginTransaction", lt, get(s.GetLoginTransaction(t.Context(), lt.ID, t0))(t))
}

func testLoginTxZeroFields(t *testing.T, s store.Store) {
	lt := &store.LoginTransaction{ID: store.NewID(), Purpose: store.PurposeLogin, CSRF: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	must(t, s.CreateLoginTransaction(t.Context(), lt))
	same(t, "GetLoginTransaction", lt, get(s.GetLoginTransaction(t.Context(), lt.ID, t0))(t))
}

func testLoginTxExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	lt := fullLoginTx()
	must(t, s.CreateLoginTransaction(ctx, lt))
	get(s.GetLoginTransaction(ctx, lt.ID, lt.ExpiresAt.Add(-time.Second)))(t)
	_, err := s.GetLoginTransaction(ctx, lt.ID, lt.ExpiresAt.Add(time.Second))
	wantErr(t, "GetLoginTransaction past expiry", err, store.ErrNotFound)
}

func testLoginTxDuplicate(t *testing.T, s store.Store) {
	lt := fullLoginTx()
	must(t, s.CreateLoginTransaction(t.Context(), lt))
	d := fullLoginTx()
	d.ID = lt.ID
	wantErr(t, "CreateLoginTransaction same ID", s.CreateLoginTransaction(t.Context(), d), store.ErrConflict)
}

func testLoginTxUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	lt := &store.LoginTransaction{ID: store.NewID(), Purpose: store.PurposeLogin, CSRF: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	must(t, s.CreateLoginTransaction(ctx, lt))
	// Walking the pipeline fills in every field; clearing them must stick too.
	upd := fullLoginTx()
	upd.ID, upd.CreatedAt = lt.ID, lt.CreatedAt
	must(t, s.UpdateLoginTransaction(ctx, upd))
	same(t, "after filling in", upd, get(s.GetLoginTransaction(ctx, lt.ID, t0))(t))

	cleared := clone(upd)
	cleared.UserID, cleared.AMR, cleared.PendingOTPSecret, cleared.AuthTime = "", nil, nil, time.Time{}
	cleared.PendingRecoveryCodes = nil
	cleared.WebAuthnSession = nil
	cleared.UpstreamAlias, cleared.UpstreamState, cleared.UpstreamNonce, cleared.UpstreamVerifier = "", "", "", ""
	must(t, s.UpdateLoginTransaction(ctx, cleared))
	same(t, "after clearing", cleared, get(s.GetLoginTransaction(ctx, lt.ID, t0))(t))

	wantErr(t, "UpdateLoginTransaction of missing", s.UpdateLoginTransaction(ctx, fullLoginTx()), store.ErrNotFound)
}

func testLoginTxDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	lt, keep := fullLoginTx(), fullLoginTx()
	must(t, s.CreateLoginTransaction(ctx, lt))
	must(t, s.CreateLoginTransaction(ctx, keep))
	must(t, s.DeleteLoginTransaction(ctx, lt.ID))
	_, err := s.GetLoginTransaction(ctx, lt.ID, t0)
	wantErr(t, "GetLoginTransaction after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteLoginTransaction twice", s.DeleteLoginTransaction(ctx, lt.ID), store.ErrNotFound)
	get(s.GetLoginTransaction(ctx, keep.ID, t0))(t)
}

// testLoginTxDeleteUsers ends a user's logins in flight but the one kept,
// and leaves other users' and unidentified ones alone.
func testLoginTxDeleteUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	mine, kept, theirs, anonymous := fullLoginTx(), fullLoginTx(), fullLoginTx(), fullLoginTx()
	kept.UserID = mine.UserID
	anonymous.UserID = ""
	for _, lt := range []*store.LoginTransaction{mine, kept, theirs, anonymous} {
		must(t, s.CreateLoginTransaction(ctx, lt))
	}
	must(t, s.DeleteUserLoginTransactions(ctx, mine.UserID, kept.ID))
	_, err := s.GetLoginTransaction(ctx, mine.ID, t0)
	wantErr(t, "GetLoginTransaction of an ended login", err, store.ErrNotFound)
	for _, lt := range []*store.LoginTransaction{kept, theirs, anonymous} {
		same(t, "a login left alone", lt, get(s.GetLoginTransaction(ctx, lt.ID, t0))(t))
	}
	must(t, s.DeleteUserLoginTransactions(ctx, mine.UserID, ""))
	_, err = s.GetLoginTransaction(ctx, kept.ID, t0)
	wantErr(t, "GetLoginTransaction of the kept login, none kept", err, store.ErrNotFound)
	must(t, s.DeleteUserLoginTransactions(ctx, mine.UserID, "")) // nothing left: still fine
	get(s.GetLoginTransaction(ctx, theirs.ID, t0))(t)
}

var actionTokenTests = []test{
	{"CreateAndGet", testActionCreateGet},
	{"UseOnce", testActionUseOnce},
	{"Missing", testActionMissing},
	{"NewestWins", testActionNewestWins},
	{"ExpiryIsCallers", testActionExpiry},
	{"DeleteUnused", testActionDeleteUnused},
}

func testActionDeleteUnused(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, other := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	used := newActionToken(u.ID, store.ActionReset, t0)
	must(t, s.CreateActionToken(ctx, used))
	must(t, s.UseActionToken(ctx, used.ID, t0.Add(time.Minute)))
	reset := newActionToken(u.ID, store.ActionReset, t0.Add(time.Hour))
	setup := newActionToken(u.ID, store.ActionSetup, t0.Add(time.Hour))
	bobs := newActionToken(other.ID, store.ActionReset, t0)
	for _, at := range []*store.ActionToken{reset, setup, bobs} {
		must(t, s.CreateActionToken(ctx, at))
	}
	must(t, s.DeleteUnusedActionTokens(ctx, u.ID))
	for what, at := range map[string]*store.ActionToken{"unused reset link": reset, "unused set-up link": setup} {
		_, err := s.GetActionToken(ctx, at.ID)
		wantErr(t, what, err, store.ErrNotFound)
	}
	for what, at := range map[string]*store.ActionToken{"used link": used, "other user's link": bobs} {
		if _, err := s.GetActionToken(ctx, at.ID); err != nil {
			t.Errorf("%s was deleted: %v", what, err)
		}
	}
	must(t, s.DeleteUnusedActionTokens(ctx, "nobody"))
}

func testActionCreateGet(t *testing.T, s store.Store) {
	at := newActionToken(mkUser(t, s, "alice").ID, store.ActionSetup, t0)
	must(t, s.CreateActionToken(t.Context(), at))
	same(t, "GetActionToken", at, get(s.GetActionToken(t.Context(), at.ID))(t))
}

func testActionUseOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := newActionToken(mkUser(t, s, "alice").ID, store.ActionReset, t0)
	must(t, s.CreateActionToken(ctx, at))
	usedAt := t0.Add(time.Minute)
	must(t, s.UseActionToken(ctx, at.ID, usedAt))
	wantErr(t, "UseActionToken twice", s.UseActionToken(ctx, at.ID, usedAt.Add(time.Minute)), store.ErrConflict)

	want := clone(at)
	want.UsedAt = usedAt // the first use, not overwritten by the second
	complete(t, want)
	same(t, "GetActionToken after use", want, get(s.GetActionToken(ctx, at.ID))(t))
}

func testActionMissing(t *testing.T, s store.Store) {
	_, err := s.GetActionToken(t.Context(), "nope")
	wantErr(t, "GetActionToken", err, store.ErrNotFound)
	wantErr(t, "UseActionToken", s.UseActionToken(t.Context(), "nope", t0), store.ErrNotFound)
}

func testActionNewestWins(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, other := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	used := newActionToken(u.ID, store.ActionReset, t0)
	must(t, s.CreateActionToken(ctx, used))
	must(t, s.UseActionToken(ctx, used.ID, t0.Add(time.Minute)))
	setup := newActionToken(u.ID, store.ActionSetup, t0)
	bobs := newActionToken(other.ID, store.ActionReset, t0)
	first := newActionToken(u.ID, store.ActionReset, t0.Add(time.Hour))
	second := newActionToken(u.ID, store.ActionReset, t0.Add(2*time.Hour))
	for _, at := range []*store.ActionToken{setup, bobs, first, second} {
		must(t, s.CreateActionToken(ctx, at))
	}

	_, err := s.GetActionToken(ctx, first.ID)
	wantErr(t, "older unused link of same user and kind", err, store.ErrNotFound)
	for what, at := range map[string]*store.ActionToken{
		"newest link": second, "used link": used, "other kind": setup, "other user": bobs,
	} {
		if _, err := s.GetActionToken(ctx, at.ID); err != nil {
			t.Errorf("%s was removed by a newer link: %v", what, err)
		}
	}
}

func testActionExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := newActionToken(mkUser(t, s, "alice").ID, store.ActionReset, t0)
	must(t, s.CreateActionToken(ctx, at))
	late := at.ExpiresAt.Add(time.Hour)
	if _, err := s.GetActionToken(ctx, at.ID); err != nil {
		t.Fatalf("GetActionToken: %v", err)
	}
	// The caller decides what an expired link means; the store just records use.
	must(t, s.UseActionToken(ctx, at.ID, late))
}

// testLoginStateThrottle: with a throttle key, GetLoginState also returns
// that key's throttle as GetThrottle does, a zero one for an unknown key,
// whether the transaction has a user yet or not, and in a transaction too.
func testLoginStateThrottle(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	withUser := fullLoginTx()
	withUser.UserID = u.ID
	anonymous := &store.LoginTransaction{ID: store.NewID(), Purpose: store.PurposeLogin, CSRF: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	for _, lt := range []*store.LoginTransaction{withUser, anonymous} {
		must(t, s.CreateLoginTransaction(ctx, lt))
	}
	get(s.AddFailure(ctx, "address:192.0.2.1", t0, func(int) time.Duration { return time.Hour }))(t)
	want := get(s.GetThrottle(ctx, "address:192.0.2.1"))(t)
	if want.Failures != 1 || want.LockedUntil.IsZero() {
		t.Fatalf("throttle after one failure = %+v", want)
	}
	for _, lt := range []*store.LoginTransaction{withUser, anonymous} {
		got := get(s.GetLoginState(ctx, lt.ID, "address:192.0.2.1", t0))(t)
		same(t, "GetLoginState throttle", want, got.Throttle)
		same(t, "GetLoginState transaction beside a throttle", lt, got.Transaction)
		got = get(s.GetLoginState(ctx, lt.ID, "address:198.51.100.7", t0))(t)
		same(t, "GetLoginState throttle of an unknown key", &store.Throttle{Key: "address:198.51.100.7"}, got.Throttle)
	}
	if got := get(s.GetLoginState(ctx, withUser.ID, "address:192.0.2.1", t0))(t); got.User == nil || got.User.ID != u.ID {
		t.Errorf("GetLoginState with a throttle key: user %+v, want %s", got.User, u.ID)
	}
	must(t, store.InTx(ctx, s, func(ctx context.Context) error {
		same(t, "GetLoginState throttle in a transaction", want, get(s.GetLoginState(ctx, withUser.ID, "address:192.0.2.1", t0))(t).Throttle)
		return nil
	}))
	_, err := s.GetLoginState(ctx, store.NewID(), "address:192.0.2.1", t0)
	wantErr(t, "GetLoginState of an unknown transaction with a throttle key", err, store.ErrNotFound)
}
