package storetest

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

// Bench measures the store operations of the token requests authz serves
// most, in the order fosite issues them, on the backend that newStore makes
// (called once). Every backend runs it from its own benchmarks:
//
//	func BenchmarkTokenRequests(b *testing.B) { storetest.Bench(b, newStore) }
//
// The operations run on GOMAXPROCS goroutines, as concurrent requests do.
func Bench(b *testing.B, newStore func(tb testing.TB) store.Store) {
	s := newStore(b)
	ctx := context.Background()
	c := fullClient()
	c.Disabled = false
	u := fullUser("bench")
	if err := s.CreateClient(ctx, c); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	sig := func() string { return "bench-" + strconv.FormatInt(seq.Add(1), 10) }
	b.Run("ClientCredentials", func(b *testing.B) {
		parallel(b, func() error { return clientCredentialsOps(ctx, s, c, sig()) })
	})
	b.Run("Introspect", func(b *testing.B) {
		access := benchToken(store.TokenAccess, sig(), c.ID, u.ID)
		if err := s.CreateToken(ctx, access); err != nil {
			b.Fatal(err)
		}
		parallel(b, func() error { return introspectOps(ctx, s, access.Signature) })
	})
	b.Run("Refresh", func(b *testing.B) {
		var attempts atomic.Int64
		parallel(b, func() error { return refreshOps(ctx, s, c, u, sig, &attempts) })
		b.ReportMetric(float64(attempts.Load()-int64(b.N))/float64(b.N), "retries/op")
	})
}

func parallel(b *testing.B, fn func() error) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := fn(); err != nil {
				b.Error(err) // not Fatal: this is not the benchmark's goroutine
				return
			}
		}
	})
}

func benchToken(kind, sig, clientID, subject string) *store.OAuthToken {
	now := time.Now().UTC()
	return &store.OAuthToken{
		Kind: kind, Signature: sig, RequestID: store.NewID(), RequestedAt: now, ClientID: clientID,
		Subject: subject, Scopes: []string{"openid", "profile", "offline_access"}, GrantedScopes: []string{"openid", "profile", "offline_access"},
		Audience: []string{clientID}, GrantedAudience: []string{clientID}, Form: "grant_type=authorization_code",
		Session: []byte(`{"id_token_claims":{"sub":"x","auth_time":1700000000},"extra":{}}`), Active: true,
		ExpiresAt: now.Add(time.Hour),
	}
}

// clientCredentialsOps: authenticate the client, store the access token.
func clientCredentialsOps(ctx context.Context, s store.Store, c *store.Client, sig string) error {
	if _, err := s.GetClient(ctx, c.ID); err != nil {
		return err
	}
	return s.CreateToken(ctx, benchToken(store.TokenAccess, sig, c.ID, c.ID))
}

// introspectOps: authenticate the caller, load the token and its client.
func introspectOps(ctx context.Context, s store.Store, sig string) error {
	t, err := s.GetToken(ctx, store.TokenAccess, sig)
	if err != nil {
		return err
	}
	_, err = s.GetClient(ctx, t.ClientID)
	return err
}

// refreshOps: authenticate the client, load the refresh token and its user,
// then rotate it in one READ COMMITTED transaction, as the token endpoint
// does (oauth.Storage.BeginTX; the endpoint stores the two new tokens in
// one CreateTokens at the commit, this inserts them one by one); store.InTx runs it again when it loses to a
// concurrent one (attempts counts the runs). The refresh token to rotate is
// created first, inside the measured time: one rotation creates one refresh
// token, so the store grows as it does in production.
func refreshOps(ctx context.Context, s store.Store, c *store.Client, u *store.User, sig func() string, attempts *atomic.Int64) error {
	old := benchToken(store.TokenRefresh, sig(), c.ID, u.ID)
	if err := s.CreateToken(ctx, old); err != nil {
		return err
	}
	if _, err := s.GetClient(ctx, c.ID); err != nil {
		return err
	}
	if _, err := s.GetToken(ctx, store.TokenRefresh, old.Signature); err != nil {
		return err
	}
	if _, err := s.GetUser(ctx, u.ID); err != nil {
		return err
	}
	return rotate(ctx, s, c, u, old, sig, attempts)
}

func rotate(ctx context.Context, s store.Store, c *store.Client, u *store.User, old *store.OAuthToken, sig func() string, attempts *atomic.Int64) error {
	return store.InTx(store.ReadCommitted(ctx), s, func(ctx context.Context) error {
		attempts.Add(1)
		if err := s.DeactivateToken(ctx, store.TokenRefresh, old.Signature); err != nil {
			return err
		}
		if err := s.DeleteTokensByRequest(ctx, store.TokenAccess, old.RequestID); err != nil {
			return err
		}
		if err := s.CreateToken(ctx, benchToken(store.TokenAccess, sig(), c.ID, u.ID)); err != nil {
			return err
		}
		return s.CreateToken(ctx, benchToken(store.TokenRefresh, sig(), c.ID, u.ID))
	})
}
