package oauth

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ory/fosite/token/jwt"

	"github.com/authz/authz/internal/seal"
	"github.com/authz/authz/internal/store/sqlite"
)

// BenchmarkSignIDToken measures what every code exchange and refresh pays to
// sign its ID token, with each algorithm authz offers, through the same
// signer fosite uses.
func BenchmarkSignIDToken(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256"} {
		b.Run(alg, func(b *testing.B) {
			ks := benchKeySet(b, alg)
			signer := &jwt.DefaultSigner{GetPrivateKey: ks.signingJWK}
			now := time.Now()
			claims := (&jwt.IDTokenClaims{
				Subject: "0123456789abcdef0123456789abcdef", Issuer: "https://login.example.com",
				Audience: []string{"wiki"}, IssuedAt: now, ExpiresAt: now.Add(time.Hour), AuthTime: now,
				Nonce: "n-0S6_WzA2Mj", AuthenticationMethodsReferences: []string{"pwd", "otp", "mfa"},
				Extra: map[string]interface{}{"preferred_username": "alice", "email": "alice@example.com"},
			}).ToMapClaims()
			headers := &jwt.Headers{Extra: map[string]interface{}{}}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := signer.Generate(ctx, claims, headers); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func benchKeySet(b *testing.B, alg string) *KeySet {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "authz.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	sealer, err := seal.New(bytes.Repeat([]byte{7}, seal.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	ks := newTestKeySet(st, sealer)
	if err := ks.Ensure(ctx, alg); err != nil {
		b.Fatal(err)
	}
	return ks
}
