package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

var clientTests = []test{
	{"CreateAndGet", testClientCreateGet},
	{"ZeroFields", testClientZeroFields},
	{"Duplicate", testClientDuplicate},
	{"Update", testClientUpdate},
	{"Delete", testClientDelete},
	{"Missing", testClientMissing},
	{"List", testClientList},
}

func testClientCreateGet(t *testing.T, s store.Store) {
	c := fullClient()
	complete(t, c)
	must(t, s.CreateClient(t.Context(), c))
	same(t, "GetClient", c, get(s.GetClient(t.Context(), c.ID))(t))
}

func testClientZeroFields(t *testing.T, s store.Store) {
	c := &store.Client{ID: "bare", Name: "Bare", CreatedAt: t0}
	must(t, s.CreateClient(t.Context(), c))
	same(t, "GetClient", c, get(s.GetClient(t.Context(), c.ID))(t))
}

func testClientDuplicate(t *testing.T, s store.Store) {
	c := mkClient(t, s)
	d := fullClient()
	d.ID = c.ID
	wantErr(t, "CreateClient same ID", s.CreateClient(t.Context(), d), store.ErrConflict)
}

func testClientUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mkClient(t, s)
	upd := &store.Client{
		ID: c.ID, Name: "Wiki 2", Public: false, SecretHash: []byte("rotated"),
		RedirectURIs: []string{"https://wiki2.example.com/cb"}, PostLogoutRedirectURIs: nil,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"openid"},
		SkipConsent: false, IntrospectAny: false, Disabled: false, CreatedAt: t0.Add(99 * time.Hour), UpdatedAt: t0.Add(time.Hour),
	}
	must(t, s.UpdateClient(ctx, upd))
	want := clone(upd)
	want.CreatedAt = c.CreatedAt
	same(t, "GetClient after update", want, get(s.GetClient(ctx, c.ID))(t))
}

func testClientDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	c, keep := mkClient(t, s), mkClient(t, s)
	must(t, s.DeleteClient(ctx, c.ID))
	_, err := s.GetClient(ctx, c.ID)
	wantErr(t, "GetClient after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteClient twice", s.DeleteClient(ctx, c.ID), store.ErrNotFound)
	get(s.GetClient(ctx, keep.ID))(t)
}

func testClientMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetClient(ctx, "nope")
	wantErr(t, "GetClient", err, store.ErrNotFound)
	wantErr(t, "UpdateClient", s.UpdateClient(ctx, fullClient()), store.ErrNotFound)
	wantErr(t, "DeleteClient", s.DeleteClient(ctx, "nope"), store.ErrNotFound)
	for _, key := range hostileKeys {
		_, err := s.GetClient(ctx, key)
		wantErr(t, "GetClient of a hostile key", err, store.ErrNotFound)
		wantErr(t, "DeleteClient of a hostile key", s.DeleteClient(ctx, key), store.ErrNotFound)
	}
}

func testClientList(t *testing.T, s store.Store) {
	ctx := t.Context()
	if got := get(s.ListClients(ctx))(t); len(got) != 0 {
		t.Fatalf("ListClients on empty store: %d clients", len(got))
	}
	want := []*store.Client{mkClient(t, s), mkClient(t, s), mkClient(t, s)}
	got := get(s.ListClients(ctx))(t)
	byID := func(a, b *store.Client) int { return cmp.Compare(a.ID, b.ID) }
	slices.SortFunc(want, byID)
	slices.SortFunc(got, byID)
	sameList(t, "ListClients", want, got)
}

var consentTests = []test{
	{"PutAndGet", testConsentPutGet},
	{"PutReplaces", testConsentReplace},
	{"Missing", testConsentMissing},
}

func testConsentPutGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, c1, c2 := mkUser(t, s, "alice"), mkClient(t, s), mkClient(t, s)
	a := &store.Consent{UserID: u.ID, ClientID: c1.ID, Scopes: []string{"openid", "email"}, GrantedAt: t0}
	b := &store.Consent{UserID: u.ID, ClientID: c2.ID, Scopes: []string{"openid"}, GrantedAt: t0.Add(time.Hour)}
	complete(t, a)
	must(t, s.PutConsent(ctx, a))
	must(t, s.PutConsent(ctx, b))
	same(t, "GetConsent client 1", a, get(s.GetConsent(ctx, u.ID, c1.ID))(t))
	same(t, "GetConsent client 2", b, get(s.GetConsent(ctx, u.ID, c2.ID))(t))
}

func testConsentReplace(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, c := mkUser(t, s, "alice"), mkClient(t, s)
	must(t, s.PutConsent(ctx, &store.Consent{UserID: u.ID, ClientID: c.ID, Scopes: []string{"openid", "email", "profile"}, GrantedAt: t0}))
	again := &store.Consent{UserID: u.ID, ClientID: c.ID, Scopes: []string{"openid"}, GrantedAt: t0.Add(time.Hour)}
	must(t, s.PutConsent(ctx, again))
	same(t, "GetConsent after second put", again, get(s.GetConsent(ctx, u.ID, c.ID))(t))
}

func testConsentMissing(t *testing.T, s store.Store) {
	u, c := mkUser(t, s, "alice"), mkClient(t, s)
	_, err := s.GetConsent(t.Context(), u.ID, c.ID)
	wantErr(t, "GetConsent", err, store.ErrNotFound)
}

var signingKeyTests = []test{
	{"CreateAndList", testKeyCreateList},
	{"Duplicate", testKeyDuplicate},
	{"Retire", testKeyRetire},
	{"ZeroActivateAt", testKeyZeroActivateAt},
	{"Lock", testKeyLock},
}

func testKeyZeroActivateAt(t *testing.T, s store.Store) {
	k := fullSigningKey(t0)
	k.ActivateAt, k.RetireAt = time.Time{}, time.Time{}
	must(t, s.CreateSigningKey(t.Context(), k))
	sameList(t, "ListSigningKeys", []*store.SigningKey{k}, get(s.ListSigningKeys(t.Context()))(t))
}

// keyLockWait is how long the lock's holder waits to see whether a second
// transaction gets past LockSigningKeys too; one that does, does so in
// milliseconds.
const keyLockWait = 200 * time.Millisecond

// testKeyLock holds the signing keys lock in one transaction while a second
// one asks for it: the second must get it only after the first committed, and
// then read the key the first added.
func testKeyLock(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.LockSigningKeys(ctx); err == nil {
		t.Error("LockSigningKeys outside a transaction succeeded")
	}
	first := fullSigningKey(t0)
	txCtx, err := s.BeginTx(store.ReadCommitted(ctx))
	must(t, err)
	defer func() { _ = s.Rollback(txCtx) }()
	must(t, s.LockSigningKeys(txCtx))

	seen := make(chan []*store.SigningKey, 1) // what the second holder read
	go func() {
		var keys []*store.SigningKey
		err := store.InTx(store.ReadCommitted(ctx), s, func(ctx context.Context) error {
			if err := s.LockSigningKeys(ctx); err != nil {
				return err
			}
			var err error
			keys, err = s.ListSigningKeys(ctx)
			return err
		})
		if err != nil {
			t.Errorf("second holder: %v", err)
		}
		seen <- keys
	}()
	select {
	case keys := <-seen:
		t.Fatalf("a second transaction got the lock while the first held it (and read %d keys)", len(keys))
	case <-time.After(keyLockWait):
	}
	must(t, s.CreateSigningKey(txCtx, first))
	must(t, s.Commit(txCtx))
	sameList(t, "keys the second holder read", []*store.SigningKey{first}, <-seen)
}

func testKeyCreateList(t *testing.T, s store.Store) {
	ctx := t.Context()
	if got := get(s.ListSigningKeys(ctx))(t); len(got) != 0 {
		t.Fatalf("ListSigningKeys on empty store: %d keys", len(got))
	}
	old, mid, cur := fullSigningKey(t0), fullSigningKey(t0.Add(time.Hour)), fullSigningKey(t0.Add(2*time.Hour))
	complete(t, old)
	mid.RetireAt = time.Time{}
	cur.RetireAt, cur.Algorithm = time.Time{}, "RS256"
	for _, k := range []*store.SigningKey{mid, cur, old} { // not in time order
		must(t, s.CreateSigningKey(ctx, k))
	}
	sameList(t, "ListSigningKeys (newest first)", []*store.SigningKey{cur, mid, old}, get(s.ListSigningKeys(ctx))(t))
}

func testKeyDuplicate(t *testing.T, s store.Store) {
	k := fullSigningKey(t0)
	must(t, s.CreateSigningKey(t.Context(), k))
	d := fullSigningKey(t0.Add(time.Hour))
	d.ID = k.ID
	wantErr(t, "CreateSigningKey same kid", s.CreateSigningKey(t.Context(), d), store.ErrConflict)
}

func testKeyRetire(t *testing.T, s store.Store) {
	ctx := t.Context()
	retired := fullSigningKey(t0) // already retired: keeps its date
	a, keep := fullSigningKey(t0.Add(time.Hour)), fullSigningKey(t0.Add(2*time.Hour))
	a.RetireAt, keep.RetireAt = time.Time{}, time.Time{}
	// The current key of another algorithm stays current.
	other := fullSigningKey(t0.Add(90 * time.Minute))
	other.RetireAt, other.Algorithm = time.Time{}, "RS256"
	if keep.Algorithm == other.Algorithm {
		t.Fatal("fullSigningKey must not be RS256 for this test")
	}
	for _, k := range []*store.SigningKey{retired, a, keep, other} {
		must(t, s.CreateSigningKey(ctx, k))
	}
	at := t0.Add(72 * time.Hour)
	must(t, s.RetireSigningKeys(ctx, keep.ID, at))

	wantA := clone(a)
	wantA.RetireAt = at
	sameList(t, "keys after RetireSigningKeys", []*store.SigningKey{keep, other, wantA, retired}, get(s.ListSigningKeys(ctx))(t))
}

var tokenTests = []test{
	{"CreateAndGet", testTokenCreateGet},
	{"GetSeveral", testTokenGetSeveral},
	{"CreateSeveral", testTokenCreateSeveral},
	{"ZeroFields", testTokenZeroFields},
	{"Duplicate", testTokenDuplicate},
	{"Missing", testTokenMissing},
	{"Deactivate", testTokenDeactivate},
	{"Rotate", testTokenRotate},
	{"RotateDeletesIssuedAccess", testTokenRotateDeletesIssuedAccess},
	{"RotateGrace", testTokenRotateGrace},
	{"RotateRevoked", testTokenRotateRevoked},
	{"Delete", testTokenDelete},
	{"ByRequest", testTokenByRequest},
	{"BySubject", testTokenBySubject},
}

// testTokenBySubject: every token of one subject goes, of every kind and
// client; other subjects' stay; a subject without tokens is no error.
func testTokenBySubject(t *testing.T, s store.Store) {
	ctx := t.Context()
	var gone []*store.OAuthToken
	for i, kind := range tokenKinds {
		tok := fullToken(kind, "sub-"+store.NewID())
		tok.Subject, tok.ClientID = "leaver", fmt.Sprint("client-", i)
		must(t, s.CreateToken(ctx, tok))
		gone = append(gone, tok)
	}
	keep := fullToken(store.TokenRefresh, "keep-"+store.NewID())
	keep.Subject = "stayer"
	must(t, s.CreateToken(ctx, keep))
	must(t, s.DeleteSubjectTokens(ctx, "leaver"))
	for _, tok := range gone {
		_, err := s.GetToken(ctx, tok.Kind, tok.Signature)
		wantErr(t, "GetToken of the deleted subject", err, store.ErrNotFound)
	}
	if _, err := s.GetToken(ctx, keep.Kind, keep.Signature); err != nil {
		t.Errorf("another subject's token went: %v", err)
	}
	must(t, s.DeleteSubjectTokens(ctx, "nobody"))
}

var tokenKinds = []string{store.TokenCode, store.TokenAccess, store.TokenRefresh, store.TokenOIDC, store.TokenPKCE}

func testTokenCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	// One signature under every kind: the kind is part of the key.
	var want []*store.OAuthToken
	for _, kind := range tokenKinds {
		tok := fullToken(kind, "sig-1")
		tok.RotatedAt = t0.Add(-time.Minute) // only for the round trip: active tokens have none
		complete(t, tok)
		must(t, s.CreateToken(ctx, tok))
		want = append(want, tok)
	}
	for _, tok := range want {
		same(t, "GetToken "+tok.Kind, tok, get(s.GetToken(ctx, tok.Kind, tok.Signature))(t))
	}
}

// testTokenGetSeveral: GetTokens answers each key as GetToken does, in the
// keys' order, with nil for a key nothing is stored under (an unknown
// signature, or a known one under another kind), also in a transaction.
func testTokenGetSeveral(t *testing.T, s store.Store) {
	ctx := t.Context()
	code, oidc := fullToken(store.TokenCode, "sig-1"), fullToken(store.TokenOIDC, "sig-2")
	code.RotatedAt, oidc.RotatedAt = t0.Add(-time.Minute), t0.Add(-time.Hour) // only for the round trip
	complete(t, code)
	complete(t, oidc)
	must(t, s.CreateToken(ctx, code))
	must(t, s.CreateToken(ctx, oidc))
	must(t, s.DeactivateToken(ctx, code.Kind, code.Signature))
	code.Active = false
	keys := []store.TokenKey{
		{Kind: store.TokenOIDC, Signature: "sig-2"},
		{Kind: store.TokenPKCE, Signature: "sig-1"},
		{Kind: store.TokenCode, Signature: "sig-1"},
		{Kind: store.TokenCode, Signature: "unknown"},
	}
	check := func(ctx context.Context, name string) {
		got, err := s.GetTokens(ctx, keys)
		must(t, err)
		if len(got) != len(keys) || got[1] != nil || got[3] != nil {
			t.Fatalf("%s: %d tokens %v, want 4 with nil for the second and fourth key", name, len(got), got)
		}
		same(t, name+" OIDC", oidc, got[0])
		same(t, name+" inactive code", code, got[2])
	}
	check(ctx, "GetTokens")
	must(t, store.InTx(ctx, s, func(ctx context.Context) error {
		check(ctx, "GetTokens in a transaction")
		return nil
	}))
	if got, err := s.GetTokens(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("GetTokens of no keys: %v, %v", got, err)
	}
}

// testTokenCreateSeveral: CreateTokens stores every token and the session's
// client; when the key of one token is taken, it stores none of them.
func testTokenCreateSeveral(t *testing.T, s store.Store) {
	ctx := t.Context()
	code, pkce := fullToken(store.TokenCode, "sev-1"), fullToken(store.TokenPKCE, "sev-1")
	for _, tok := range []*store.OAuthToken{code, pkce} {
		tok.RotatedAt = t0.Add(-time.Minute) // only for the round trip
		complete(t, tok)
	}
	sc := &store.SessionClient{SessionID: "sess-1", ClientID: code.ClientID, UserID: "u-1", SID: "sid-1",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreateTokens(ctx, []*store.OAuthToken{code, pkce}, sc))
	same(t, "GetToken of the code", code, get(s.GetToken(ctx, code.Kind, code.Signature))(t))
	same(t, "GetToken of the PKCE request", pkce, get(s.GetToken(ctx, pkce.Kind, pkce.Signature))(t))
	sameList(t, "ListSessionClients", []*store.SessionClient{sc}, get(s.ListSessionClients(ctx, sc.SessionID))(t))

	fresh, taken := fullToken(store.TokenOIDC, "sev-2"), fullToken(store.TokenCode, "sev-1")
	other := &store.SessionClient{SessionID: "sess-2", ClientID: code.ClientID, UserID: "u-1", SID: "sid-2",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	wantErr(t, "CreateTokens with a taken key", s.CreateTokens(ctx, []*store.OAuthToken{fresh, taken}, other), store.ErrConflict)
	_, err := s.GetToken(ctx, fresh.Kind, fresh.Signature)
	wantErr(t, "GetToken of a token stored beside a taken key", err, store.ErrNotFound)
	if got := get(s.ListSessionClients(ctx, other.SessionID))(t); len(got) != 0 {
		t.Errorf("session client stored beside a taken key: %+v", got)
	}
	must(t, s.CreateTokens(ctx, nil, nil))
}

func testTokenZeroFields(t *testing.T, s store.Store) {
	tok := &store.OAuthToken{Kind: store.TokenAccess, Signature: "bare", RequestID: "r", ClientID: "c"}
	must(t, s.CreateToken(t.Context(), tok))
	same(t, "GetToken", tok, get(s.GetToken(t.Context(), tok.Kind, tok.Signature))(t))
}

func testTokenDuplicate(t *testing.T, s store.Store) {
	must(t, s.CreateToken(t.Context(), fullToken(store.TokenAccess, "sig")))
	wantErr(t, "CreateToken same key", s.CreateToken(t.Context(), fullToken(store.TokenAccess, "sig")), store.ErrConflict)
}

func testTokenMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateToken(ctx, fullToken(store.TokenRefresh, "sig")))
	_, err := s.GetToken(ctx, store.TokenAccess, "sig") // right signature, wrong kind
	wantErr(t, "GetToken", err, store.ErrNotFound)
	wantErr(t, "DeactivateToken", s.DeactivateToken(ctx, store.TokenAccess, "sig"), store.ErrNotFound)
	_, err = s.RotateToken(ctx, store.TokenAccess, "sig", t0, t0.Add(-time.Hour))
	wantErr(t, "RotateToken", err, store.ErrNotFound)
	wantErr(t, "DeleteToken", s.DeleteToken(ctx, store.TokenAccess, "sig"), store.ErrNotFound)
	must(t, s.DeactivateTokensByRequest(ctx, store.TokenAccess, "no-such-request"))
	must(t, s.DeleteTokensByRequest(ctx, store.TokenAccess, "no-such-request"))
}

func testTokenDeactivate(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok, other := fullToken(store.TokenRefresh, "sig"), fullToken(store.TokenAccess, "sig")
	must(t, s.CreateToken(ctx, tok))
	must(t, s.CreateToken(ctx, other))

	must(t, s.DeactivateToken(ctx, tok.Kind, tok.Signature))
	want := clone(tok)
	want.Active = false
	same(t, "GetToken after deactivate", want, get(s.GetToken(ctx, tok.Kind, tok.Signature))(t))
	wantErr(t, "DeactivateToken twice", s.DeactivateToken(ctx, tok.Kind, tok.Signature), store.ErrConflict)
	if !get(s.GetToken(ctx, other.Kind, other.Signature))(t).Active {
		t.Error("deactivating a refresh token deactivated the access token with the same signature")
	}

	inactive := fullToken(store.TokenAccess, "born-inactive")
	inactive.Active = false
	must(t, s.CreateToken(ctx, inactive))
	wantErr(t, "DeactivateToken of inactive token", s.DeactivateToken(ctx, inactive.Kind, inactive.Signature), store.ErrConflict)
}

func testTokenRotate(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok, other := fullToken(store.TokenRefresh, "sig"), fullToken(store.TokenAccess, "sig")
	must(t, s.CreateToken(ctx, tok))
	must(t, s.CreateToken(ctx, other))

	at := t0.Add(time.Hour)
	if graced := get(s.RotateToken(ctx, tok.Kind, tok.Signature, at, time.Time{}))(t); graced {
		t.Error("RotateToken of an active token: graced, want rotated")
	}
	want := clone(tok)
	want.Active, want.RotatedAt = false, at
	same(t, "GetToken after rotate", want, get(s.GetToken(ctx, tok.Kind, tok.Signature))(t))
	_, err := s.RotateToken(ctx, tok.Kind, tok.Signature, at.Add(time.Second), time.Time{})
	wantErr(t, "RotateToken twice without grace", err, store.ErrConflict)
	wantErr(t, "DeactivateToken after rotate", s.DeactivateToken(ctx, tok.Kind, tok.Signature), store.ErrConflict)
	same(t, "GetToken after the refused calls", want, get(s.GetToken(ctx, tok.Kind, tok.Signature))(t))
	if !get(s.GetToken(ctx, other.Kind, other.Signature))(t).Active {
		t.Error("rotating a refresh token deactivated the access token with the same signature")
	}
}

// A rotation deletes the access token issued with the rotated token, and
// nothing else: not when it is graced or refused, not another grant's.
func testTokenRotateDeletesIssuedAccess(t *testing.T, s store.Store) {
	ctx := t.Context()
	refresh := fullToken(store.TokenRefresh, "r")
	issued := fullToken(store.TokenAccess, refresh.AccessSignature)
	issued.RequestID = refresh.RequestID
	sibling := fullToken(store.TokenAccess, "sibling") // same grant, another pair
	sibling.RequestID = refresh.RequestID
	for _, tok := range []*store.OAuthToken{refresh, issued, sibling} {
		must(t, s.CreateToken(ctx, tok))
	}
	at := t0.Add(time.Hour)
	get(s.RotateToken(ctx, refresh.Kind, refresh.Signature, at, at.Add(-time.Minute)))(t)
	_, err := s.GetToken(ctx, issued.Kind, issued.Signature)
	wantErr(t, "GetToken of the rotated token's access token", err, store.ErrNotFound)
	same(t, "GetToken of the grant's other access token", sibling, get(s.GetToken(ctx, sibling.Kind, sibling.Signature))(t))

	// Graced, then refused: the access token under that signature stays.
	must(t, s.CreateToken(ctx, issued))
	if graced := get(s.RotateToken(ctx, refresh.Kind, refresh.Signature, at.Add(time.Second), at.Add(-time.Minute)))(t); !graced {
		t.Fatal("second rotation within the grace: not graced")
	}
	_, err = s.RotateToken(ctx, refresh.Kind, refresh.Signature, at.Add(time.Second), time.Time{})
	wantErr(t, "RotateToken without grace", err, store.ErrConflict)
	same(t, "GetToken after a graced and a refused rotation", issued, get(s.GetToken(ctx, issued.Kind, issued.Signature))(t))

	// A token stored without its access signature takes its request's
	// access tokens, and only those.
	legacy := fullToken(store.TokenRefresh, "legacy")
	legacy.AccessSignature = ""
	mine, theirs := fullToken(store.TokenAccess, "mine"), fullToken(store.TokenAccess, "theirs")
	mine.RequestID = legacy.RequestID
	for _, tok := range []*store.OAuthToken{legacy, mine, theirs} {
		must(t, s.CreateToken(ctx, tok))
	}
	get(s.RotateToken(ctx, legacy.Kind, legacy.Signature, at, time.Time{}))(t)
	_, err = s.GetToken(ctx, mine.Kind, mine.Signature)
	wantErr(t, "GetToken of the legacy token's request's access token", err, store.ErrNotFound)
	same(t, "GetToken of another request's access token", theirs, get(s.GetToken(ctx, theirs.Kind, theirs.Signature))(t))
}

// A token rotated after graceSince may be rotated again, as often as asked,
// without moving its RotatedAt (so the grace cannot be stretched); one
// rotated at or before graceSince, or deactivated rather than rotated, may
// not.
func testTokenRotateGrace(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := fullToken(store.TokenRefresh, "sig")
	must(t, s.CreateToken(ctx, tok))
	at := t0.Add(time.Hour)
	get(s.RotateToken(ctx, tok.Kind, tok.Signature, at, at.Add(-10*time.Second)))(t)
	want := clone(tok)
	want.Active, want.RotatedAt = false, at

	for _, later := range []time.Duration{time.Second, 5 * time.Second} {
		now := at.Add(later)
		if graced := get(s.RotateToken(ctx, tok.Kind, tok.Signature, now, now.Add(-10*time.Second)))(t); !graced {
			t.Errorf("RotateToken %s after the rotation, within a 10s grace: not graced", later)
		}
		same(t, "GetToken after a graced rotation", want, get(s.GetToken(ctx, tok.Kind, tok.Signature))(t))
	}
	for name, since := range map[string]time.Time{"at the rotation": at, "after it": at.Add(time.Millisecond)} {
		_, err := s.RotateToken(ctx, tok.Kind, tok.Signature, at.Add(time.Minute), since)
		wantErr(t, "RotateToken with graceSince "+name, err, store.ErrConflict)
	}
	_, err := s.RotateToken(ctx, tok.Kind, tok.Signature, at.Add(time.Second), time.Time{})
	wantErr(t, "RotateToken with a zero graceSince", err, store.ErrConflict)

	deactivated := fullToken(store.TokenRefresh, "deactivated")
	must(t, s.CreateToken(ctx, deactivated))
	must(t, s.DeactivateToken(ctx, deactivated.Kind, deactivated.Signature))
	_, err = s.RotateToken(ctx, deactivated.Kind, deactivated.Signature, at, t0)
	wantErr(t, "RotateToken of a deactivated token", err, store.ErrConflict)

	inactive := fullToken(store.TokenRefresh, "born-inactive")
	inactive.Active = false
	must(t, s.CreateToken(ctx, inactive))
	_, err = s.RotateToken(ctx, inactive.Kind, inactive.Signature, at, t0)
	wantErr(t, "RotateToken of a token created inactive", err, store.ErrConflict)
}

// Revoking a grant (DeactivateTokensByRequest) ends the grace of its
// rotated tokens, so none of them buys a new token afterwards; other grants
// keep theirs.
func testTokenRotateRevoked(t *testing.T, s store.Store) {
	ctx := t.Context()
	mk := func(sig, req string) *store.OAuthToken {
		tok := fullToken(store.TokenRefresh, sig)
		tok.RequestID = req
		must(t, s.CreateToken(ctx, tok))
		return tok
	}
	rotated, current, elsewhere := mk("r0", "R"), mk("r1", "R"), mk("q0", "Q")
	at := t0.Add(time.Hour)
	for _, tok := range []*store.OAuthToken{rotated, elsewhere} {
		get(s.RotateToken(ctx, tok.Kind, tok.Signature, at, time.Time{}))(t)
	}

	must(t, s.DeactivateTokensByRequest(ctx, store.TokenRefresh, "R"))
	for _, tok := range []*store.OAuthToken{rotated, current} {
		want := clone(tok)
		want.Active = false
		same(t, "GetToken "+tok.Signature+" after revocation", want, get(s.GetToken(ctx, tok.Kind, tok.Signature))(t))
		_, err := s.RotateToken(ctx, tok.Kind, tok.Signature, at.Add(time.Second), at.Add(-time.Hour))
		wantErr(t, "RotateToken of "+tok.Signature+" within the grace after revocation", err, store.ErrConflict)
	}
	if graced := get(s.RotateToken(ctx, elsewhere.Kind, elsewhere.Signature, at.Add(time.Second), at.Add(-time.Hour)))(t); !graced {
		t.Error("revoking one grant ended the grace of another")
	}
}

func testTokenDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok, keep := fullToken(store.TokenCode, "a"), fullToken(store.TokenCode, "b")
	must(t, s.CreateToken(ctx, tok))
	must(t, s.CreateToken(ctx, keep))
	must(t, s.DeleteToken(ctx, tok.Kind, tok.Signature))
	_, err := s.GetToken(ctx, tok.Kind, tok.Signature)
	wantErr(t, "GetToken after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteToken twice", s.DeleteToken(ctx, tok.Kind, tok.Signature), store.ErrNotFound)
	get(s.GetToken(ctx, keep.Kind, keep.Signature))(t)
}

func testTokenByRequest(t *testing.T, s store.Store) {
	ctx := t.Context()
	mk := func(kind, sig, req string) *store.OAuthToken {
		tok := fullToken(kind, sig)
		tok.RequestID = req
		must(t, s.CreateToken(ctx, tok))
		return tok
	}
	a1, a2 := mk(store.TokenAccess, "a1", "R"), mk(store.TokenAccess, "a2", "R")
	r1 := mk(store.TokenRefresh, "r1", "R")
	a3 := mk(store.TokenAccess, "a3", "Q")

	must(t, s.DeactivateTokensByRequest(ctx, store.TokenAccess, "R"))
	for _, c := range []struct {
		tok    *store.OAuthToken
		active bool
	}{{a1, false}, {a2, false}, {r1, true}, {a3, true}} {
		if got := get(s.GetToken(ctx, c.tok.Kind, c.tok.Signature))(t); got.Active != c.active {
			t.Errorf("%s %s: Active = %v, want %v", c.tok.Kind, c.tok.Signature, got.Active, c.active)
		}
	}

	must(t, s.DeleteTokensByRequest(ctx, store.TokenRefresh, "R"))
	_, err := s.GetToken(ctx, r1.Kind, r1.Signature)
	wantErr(t, "GetToken after DeleteTokensByRequest", err, store.ErrNotFound)
	for _, tok := range []*store.OAuthToken{a1, a2, a3} {
		get(s.GetToken(ctx, tok.Kind, tok.Signature))(t)
	}
}
