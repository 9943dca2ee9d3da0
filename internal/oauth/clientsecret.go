package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"

	"github.com/ory/fosite"

	"github.com/authz/authz/internal/randtoken"
)

// SecretHasher hashes server-generated client secrets with HMAC-SHA256 under a
// server key. The secrets are 32 random bytes, so a slow password hash would add
// latency to every token request without adding any security.
type SecretHasher struct{ Key []byte }

var _ fosite.Hasher = SecretHasher{}

// Hash implements fosite.Hasher.
func (h SecretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	if len(h.Key) < 32 {
		return nil, errors.New("oauth: client secret hash key shorter than 32 bytes")
	}
	m := hmac.New(sha256.New, h.Key)
	m.Write(data)
	return m.Sum(nil), nil
}

// Compare implements fosite.Hasher in constant time.
func (h SecretHasher) Compare(ctx context.Context, hash, data []byte) error {
	want, err := h.Hash(ctx, data)
	if err != nil {
		return err
	}
	if len(hash) == 0 || !hmac.Equal(hash, want) {
		return fosite.ErrRequestUnauthorized
	}
	return nil
}

// NewClientSecret returns a fresh random secret (32 bytes, base64url) and its hash.
func (h SecretHasher) NewClientSecret() (secret string, hash []byte, err error) {
	secret = randtoken.New(32)
	hash, err = h.Hash(context.Background(), []byte(secret))
	return secret, hash, err
}
