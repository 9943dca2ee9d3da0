package password

import (
	"context"
	"testing"
)

// BenchmarkArgon2id measures one password check at the default (OWASP)
// cost, one at a time: the login rate that password hashing alone allows is
// GOMAXPROCS divided by this time. Parallel measures the same with every core
// busy, which memory bandwidth may slow down.
func BenchmarkArgon2id(b *testing.B) {
	h := NewHasher(OWASP)
	ctx := context.Background()
	hash, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("OWASP", func(b *testing.B) {
		for b.Loop() {
			if err := h.Verify(ctx, hash, "correct horse battery staple"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("OWASP-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := h.Verify(ctx, hash, "correct horse battery staple"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
