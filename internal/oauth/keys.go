package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	jose3 "github.com/go-jose/go-jose/v3"
	jose4 "github.com/go-jose/go-jose/v4"

	"github.com/authz/authz/internal/store"
)

// Sealer seals secrets at rest; *seal.Sealer implements it.
type Sealer interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
	Open(sealed, associatedData []byte) ([]byte, error)
}

// keyReload bounds how long a replica may keep signing with a key another replica
// has rotated away, and how long a new key may stay unpublished here.
const keyReload = 30 * time.Second

// KeySet holds the ID token signing keys, loaded from the store and refreshed so
// that every replica follows a rotation made on any of them.
type KeySet struct {
	store  store.Store
	sealer Sealer

	mu       sync.Mutex
	keys     []*signingKey // newest first
	loadedAt time.Time
	// missAt is when an unknown kid last forced a reload; it bounds how often
	// anyone can make this replica reload and unseal every key.
	missAt time.Time
}

type signingKey struct {
	id       string
	alg      string
	private  crypto.Signer
	retireAt time.Time
}

// NewKeySet returns a KeySet over st.
func NewKeySet(st store.Store, sealer Sealer) *KeySet {
	return &KeySet{store: st, sealer: sealer}
}

func keyAD(id string) []byte { return []byte("signing-key:" + id) }

// Ensure creates a first key of alg when no active key exists.
func (ks *KeySet) Ensure(ctx context.Context, alg string) error {
	if err := ks.reload(ctx); err != nil {
		return err
	}
	if _, err := ks.active(); err == nil {
		return nil
	}
	_, err := ks.Rotate(ctx, alg, 0)
	return err
}

// Rotate makes a new active key of alg. Older keys stop signing but stay published
// for retireAfter, which must cover the lifetime of every token they signed.
func (ks *KeySet) Rotate(ctx context.Context, alg string, retireAfter time.Duration) (string, error) {
	priv, err := generateKey(alg)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("oauth: encode key: %w", err)
	}
	id := store.NewID()[:16]
	sealed, err := ks.sealer.Seal(der, keyAD(id))
	if err != nil {
		return "", fmt.Errorf("oauth: seal key: %w", err)
	}
	now := time.Now().UTC()
	err = store.InTx(ctx, ks.store, func(ctx context.Context) error {
		if err := ks.store.CreateSigningKey(ctx, &store.SigningKey{ID: id, Algorithm: alg, SealedKey: sealed, CreatedAt: now}); err != nil {
			return err
		}
		return ks.store.RetireSigningKeys(ctx, id, now.Add(retireAfter+keyReload))
	})
	if err != nil {
		return "", fmt.Errorf("oauth: rotate key: %w", err)
	}
	return id, ks.reload(ctx)
}

func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "RS256":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("oauth: unsupported signing algorithm %q", alg)
	}
}

func (ks *KeySet) reload(ctx context.Context) error {
	rows, err := ks.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("oauth: load signing keys: %w", err)
	}
	keys := make([]*signingKey, 0, len(rows))
	for _, r := range rows {
		k, err := ks.open(r)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	ks.mu.Lock()
	ks.keys, ks.loadedAt = keys, time.Now()
	ks.mu.Unlock()
	return nil
}

func (ks *KeySet) open(r *store.SigningKey) (*signingKey, error) {
	der, err := ks.sealer.Open(r.SealedKey, keyAD(r.ID))
	if err != nil {
		return nil, fmt.Errorf("oauth: unseal signing key %s (is the seal key the one that sealed it?): %w", r.ID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("oauth: parse signing key %s: %w", r.ID, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("oauth: signing key %s is a %T", r.ID, priv)
	}
	return &signingKey{id: r.ID, alg: r.Algorithm, private: signer, retireAt: r.RetireAt}, nil
}

// refresh reloads the keys when the cached copy is older than keyReload.
func (ks *KeySet) refresh(ctx context.Context) error {
	ks.mu.Lock()
	stale := time.Since(ks.loadedAt) > keyReload
	ks.mu.Unlock()
	if !stale {
		return nil
	}
	return ks.reload(ctx)
}

var errNoActiveKey = errors.New("oauth: no active signing key")

func (ks *KeySet) active() (*signingKey, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	for _, k := range ks.keys {
		if k.retireAt.IsZero() {
			return k, nil
		}
	}
	return nil, errNoActiveKey
}

// signingJWK is fosite's key getter: a go-jose v3 JWK, so that its kid reaches the
// ID token header.
func (ks *KeySet) signingJWK(ctx context.Context) (interface{}, error) {
	if err := ks.refresh(ctx); err != nil {
		return nil, err
	}
	k, err := ks.active()
	if err != nil {
		return nil, err
	}
	return &jose3.JSONWebKey{Key: k.private, KeyID: k.id, Algorithm: k.alg, Use: "sig"}, nil
}

// JWKS returns the public keys of every published key.
func (ks *KeySet) JWKS(ctx context.Context) (jose4.JSONWebKeySet, error) {
	if err := ks.refresh(ctx); err != nil {
		return jose4.JSONWebKeySet{}, err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	set := jose4.JSONWebKeySet{Keys: make([]jose4.JSONWebKey, 0, len(ks.keys))}
	for _, k := range ks.keys {
		set.Keys = append(set.Keys, jose4.JSONWebKey{Key: k.private.Public(), KeyID: k.id, Algorithm: k.alg, Use: "sig"})
	}
	return set, nil
}

// publicKey returns the verification key of kid, reloading once when it is
// unknown here because another replica just rotated.
func (ks *KeySet) publicKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	find := func() crypto.PublicKey {
		ks.mu.Lock()
		defer ks.mu.Unlock()
		for _, k := range ks.keys {
			if k.id == kid {
				return k.private.Public()
			}
		}
		return nil
	}
	if pk := find(); pk != nil {
		return pk, nil
	}
	ks.mu.Lock()
	recent := time.Since(ks.missAt) < 10*time.Second
	if !recent {
		ks.missAt = time.Now()
	}
	ks.mu.Unlock()
	if recent {
		return nil, fmt.Errorf("oauth: unknown key id %q", kid)
	}
	if err := ks.reload(ctx); err != nil {
		return nil, err
	}
	if pk := find(); pk != nil {
		return pk, nil
	}
	return nil, fmt.Errorf("oauth: unknown key id %q", kid)
}

// Algorithms returns the signing algorithms of the published keys.
func (ks *KeySet) Algorithms(ctx context.Context) ([]string, error) {
	if err := ks.refresh(ctx); err != nil {
		return nil, err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	var algs []string
	for _, k := range ks.keys {
		if !slices.Contains(algs, k.alg) {
			algs = append(algs, k.alg)
		}
	}
	return algs, nil
}

func nowUTC() time.Time { return time.Now().UTC() }
