package oauth

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/sqlitetest"
)

// countingReads is a store that counts its token reads.
type countingReads struct {
	store.Store
	one, several atomic.Int32
}

func (s *countingReads) GetToken(ctx context.Context, kind, sig string) (*store.OAuthToken, error) {
	s.one.Add(1)
	return s.Store.GetToken(ctx, kind, sig)
}

func (s *countingReads) GetTokens(ctx context.Context, keys []store.TokenKey) ([]*store.OAuthToken, error) {
	s.several.Add(1)
	return s.Store.GetTokens(ctx, keys)
}

// grantStorage returns a Storage over st, which it gives a client, and a
// request of that client for alice, as a grant's records are stored with.
func grantStorage(t *testing.T, st store.Store) (*Storage, *fosite.Request) {
	t.Helper()
	s := &Storage{Store: st}
	now := time.Now().UTC()
	if err := st.CreateClient(context.Background(), &store.Client{ID: "web", Name: "Web", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	client, err := s.GetClient(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	return s, &fosite.Request{ID: "grant-1", RequestedAt: now, Client: client, Session: NewSession("alice")}
}

// A code exchange's four reads of its code, PKCE request and OpenID Connect
// session are one store call; a record written since is read from the
// store again, so a used code shows as used and a deleted record as gone.
func TestCodeGrantReadsOnce(t *testing.T) {
	t.Parallel()
	st := &countingReads{Store: sqlitetest.Open(t)}
	s, req := grantStorage(t, st)
	ctx := context.Background()
	const code, sig = "raw-code.signature", "signature"
	for _, create := range []func() error{
		func() error { return s.CreateAuthorizeCodeSession(ctx, sig, req) },
		func() error { return s.CreatePKCERequestSession(ctx, sig, req) },
		func() error { return s.CreateOpenIDConnectSession(ctx, code, req) },
	} {
		if err := create(); err != nil {
			t.Fatal(err)
		}
	}

	ctx = withCodeGrant(ctx, sig, hashCode(code))
	for i := range 2 {
		if got, err := s.GetAuthorizeCodeSession(ctx, sig, NewSession("")); err != nil || got.GetID() != "grant-1" {
			t.Fatalf("code read %d: %v, %v", i+1, got, err)
		}
	}
	if _, err := s.GetPKCERequestSession(ctx, sig, NewSession("")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetOpenIDConnectSession(ctx, code, req); err != nil {
		t.Fatal(err)
	}
	if one, several := st.one.Load(), st.several.Load(); one != 0 || several != 1 {
		t.Fatalf("four reads of the grant took %d single reads and %d batched; want 0 and 1", one, several)
	}

	if err := s.InvalidateAuthorizeCodeSession(ctx, sig); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAuthorizeCodeSession(ctx, sig, NewSession("")); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		t.Fatalf("code read after its use: %v, want ErrInvalidatedAuthorizeCode", err)
	}
	if err := s.DeletePKCERequestSession(ctx, sig); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetPKCERequestSession(ctx, sig, NewSession("")); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("PKCE read after its deletion: %v, want ErrNotFound", err)
	}
	if one := st.one.Load(); one != 2 {
		t.Fatalf("reads after writes took %d single reads, want 2", one)
	}
	// A key the exchange did not name (another code) is read as before.
	if _, err := s.GetAuthorizeCodeSession(ctx, "other", NewSession("")); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("another code: %v, want ErrNotFound", err)
	}
	if one := st.one.Load(); one != 3 {
		t.Fatalf("another code's read took %d single reads in all, want 3", one)
	}
}

// An exchange whose code names nothing stored answers every read with
// ErrNotFound from its one batched read.
func TestCodeGrantUnknownCode(t *testing.T) {
	t.Parallel()
	st := &countingReads{Store: sqlitetest.Open(t)}
	s := &Storage{Store: st}
	ctx := withCodeGrant(context.Background(), "nothing", hashCode("nothing.nothing"))
	for range 2 {
		if _, err := s.GetAuthorizeCodeSession(ctx, "nothing", NewSession("")); !errors.Is(err, fosite.ErrNotFound) {
			t.Fatalf("unknown code: %v, want ErrNotFound", err)
		}
	}
	if one, several := st.one.Load(), st.several.Load(); one != 0 || several != 1 {
		t.Fatalf("%d single reads and %d batched, want 0 and 1", one, several)
	}
}

// An authorization response's records under its new code are kept, not
// stored, until the response stores them together; other tokens are stored
// at once.
func TestCodeIssueStoresTogether(t *testing.T) {
	t.Parallel()
	st := sqlitetest.Open(t)
	s, req := grantStorage(t, st)
	ctx, issued := withCodeIssue(context.Background())
	const code, sig = "raw-code.signature", "signature"
	for _, create := range []func() error{
		func() error { return s.CreateAuthorizeCodeSession(ctx, sig, req) },
		func() error { return s.CreatePKCERequestSession(ctx, sig, req) },
		func() error { return s.CreateOpenIDConnectSession(ctx, code, req) },
		func() error { return s.CreateAccessTokenSession(ctx, "access", req) },
	} {
		if err := create(); err != nil {
			t.Fatal(err)
		}
	}
	keys := []store.TokenKey{{Kind: store.TokenCode, Signature: sig}, {Kind: store.TokenPKCE, Signature: sig}, {Kind: store.TokenOIDC, Signature: hashCode(code)}}
	stored := func() (n int) {
		tokens, err := st.GetTokens(context.Background(), keys)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range tokens {
			if tok != nil {
				n++
			}
		}
		return n
	}
	if n := stored(); n != 0 || len(issued.tokens) != 3 {
		t.Fatalf("before the response's write: %d of the code's records stored, %d kept; want 0 and 3", n, len(issued.tokens))
	}
	if _, err := st.GetToken(context.Background(), store.TokenAccess, "access"); err != nil {
		t.Fatalf("an access token is stored at once: %v", err)
	}
	if err := st.CreateTokens(ctx, issued.tokens, nil); err != nil {
		t.Fatal(err)
	}
	if n := stored(); n != 3 {
		t.Fatalf("after the response's write: %d of the code's 3 records stored", n)
	}
}

// creatingTokens is a store that counts its calls storing several tokens.
type creatingTokens struct {
	store.Store
	calls atomic.Int32
}

func (s *creatingTokens) CreateTokens(ctx context.Context, ts []*store.OAuthToken, sc *store.SessionClient) error {
	s.calls.Add(1)
	return s.Store.CreateTokens(ctx, ts, sc)
}

// The tokens a fosite transaction creates are stored at its commit, in one
// call; a transaction whose tokens cannot be stored fails its commit and
// rolls back whole, the code's use included.
func TestTransactionStoresTokensAtCommit(t *testing.T) {
	t.Parallel()
	st := &creatingTokens{Store: sqlitetest.Open(t)}
	s, req := grantStorage(t, st)
	ctx := context.Background()
	for _, sig := range []string{"code-1", "code-2"} {
		if err := s.CreateAuthorizeCodeSession(ctx, sig, req); err != nil {
			t.Fatal(err)
		}
	}
	stored := func(kind, sig string) bool {
		_, err := st.GetToken(ctx, kind, sig)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	// exchange begins a transaction exchanging code for an access and a
	// refresh token, as fosite's code flow does, and returns it uncommitted.
	exchange := func(code, access, refresh string) context.Context {
		t.Helper()
		tx, err := s.BeginTX(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{
			s.InvalidateAuthorizeCodeSession(tx, code),
			s.CreateAccessTokenSession(tx, access, req),
			s.CreateRefreshTokenSession(tx, refresh, access, req),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		return tx
	}

	tx := exchange("code-1", "access-1", "refresh-1")
	if stored(store.TokenAccess, "access-1") || st.calls.Load() != 0 {
		t.Fatal("a token was stored before the commit")
	}
	if err := s.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if !stored(store.TokenAccess, "access-1") || !stored(store.TokenRefresh, "refresh-1") || st.calls.Load() != 1 {
		t.Fatalf("after the commit: access %v, refresh %v, %d calls; want both stored in 1",
			stored(store.TokenAccess, "access-1"), stored(store.TokenRefresh, "refresh-1"), st.calls.Load())
	}

	// A second transaction creating a taken signature fails at its commit.
	tx = exchange("code-2", "access-2", "refresh-1")
	if err := s.Commit(tx); err == nil {
		t.Fatal("commit with a taken refresh signature succeeded")
	}
	if err := s.Rollback(tx); err != nil {
		t.Fatal(err)
	}
	if stored(store.TokenAccess, "access-2") {
		t.Fatal("the failed transaction's access token is stored")
	}
	if code, err := st.GetToken(ctx, store.TokenCode, "code-2"); err != nil || !code.Active {
		t.Fatalf("code of the failed transaction: %+v, %v; want it still active", code, err)
	}
}
