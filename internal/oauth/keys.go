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
	"strings"
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

// keyReload is how long a replica serves the keys it read from the store
// before it reads them again: a key another replica added is published here
// at most keyReload after it was committed.
const keyReload = 30 * time.Second

// keyActivation is how long a rotated-in key waits before it signs: by then
// every replica has reloaded and publishes it (keyReload), and the rest is
// room for a slow commit and for clocks that differ between hosts. A relying
// party that fetched the JWKS from any replica in the last
// keyActivation-keyReload before the key first signs therefore knows its kid.
const keyActivation = keyReload + 30*time.Second

// KeySet holds the ID token signing keys, loaded from the store and refreshed
// every keyReload, so that every replica follows a rotation made on any of
// them. Every stored key is published; the newest whose activation time has
// passed signs.
type KeySet struct {
	// Now is the clock; nil means time.Now. Set it before the KeySet is used.
	Now func() time.Time
	// Generate makes the private key of a new signing key; nil means
	// GenerateKey. Tests that start many servers set it to reuse keys: an RSA
	// key costs tens of milliseconds, a second under the race detector.
	Generate func(alg string) (crypto.Signer, error)

	store  store.Store
	sealer Sealer

	mu sync.Mutex
	// defaultAlg signs what names no algorithm of its own (Ensure's).
	defaultAlg string
	keys       []*signingKey // newest first
	loadedAt   time.Time     // when the read that loaded keys began
	// missAt is when an unknown kid last forced a reload; it bounds how often
	// anyone can make this replica reload and unseal every key.
	missAt time.Time
}

type signingKey struct {
	id         string
	alg        string
	private    crypto.Signer
	activateAt time.Time // zero: signs at once
	retireAt   time.Time // zero: the newest key
}

// NewKeySet returns a KeySet over st.
func NewKeySet(st store.Store, sealer Sealer) *KeySet {
	return &KeySet{store: st, sealer: sealer}
}

func (ks *KeySet) now() time.Time {
	if ks.Now != nil {
		return ks.Now()
	}
	return time.Now()
}

func keyAD(id string) []byte { return []byte("signing-key:" + id) }

// SigningAlgorithms are the algorithms a server whose default is def keeps a
// current key of, def first: both it supports. RS256 because OpenID Connect
// requires every provider to offer it (Core §15.1, Discovery §3), ES256 for
// the clients that ask for it (id_token_signed_response_alg) where the
// default is RS256; a P-256 key costs nothing to keep.
func SigningAlgorithms(def string) []string {
	if def == "ES256" {
		return []string{"ES256", "RS256"}
	}
	return []string{"RS256", "ES256"}
}

// Ensure makes alg the default and a first key of each of
// SigningAlgorithms(alg) the store holds no current (unretired) key of.
// Replicas starting at the same moment on one database may all call it: they
// take turns under the store's signing keys lock, so exactly one of them
// stores each key, and each loads that one.
func (ks *KeySet) Ensure(ctx context.Context, alg string) error {
	ks.mu.Lock()
	ks.defaultAlg = alg
	ks.mu.Unlock()
	if err := ks.reload(ctx); err != nil {
		return err
	}
	for _, a := range SigningAlgorithms(alg) {
		if err := ks.ensure(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// ensure makes a first key of alg when there is no current one. In a new
// deployment it signs at once: every replica ensures every algorithm before
// it serves, so none serves without loading it. Beside keys older than a
// reload, which replicas of an older release may be serving, it waits
// keyActivation as a rotated-in key does, until every replica publishes it,
// and it is dated before them: such a replica, which signs with the newest
// activated key of any algorithm, keeps to the key it had.
func (ks *KeySet) ensure(ctx context.Context, alg string) error {
	if ks.hasCurrent(alg) {
		return nil
	}
	k, err := ks.newKey(alg)
	if err != nil {
		return err
	}
	now := ks.now().UTC()
	// READ COMMITTED: once the lock is ours, the list shows the key of the
	// replica that held it before us, where a SERIALIZABLE snapshot taken
	// before the lock would not.
	err = store.InTx(store.ReadCommitted(ctx), ks.store, func(ctx context.Context) error {
		if err := ks.store.LockSigningKeys(ctx); err != nil {
			return err
		}
		rows, err := ks.store.ListSigningKeys(ctx)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(rows, func(r *store.SigningKey) bool { return r.RetireAt.IsZero() && r.Algorithm == alg }) {
			return nil // another replica made it first
		}
		k.CreatedAt, k.ActivateAt = now, time.Time{}
		if slices.ContainsFunc(rows, func(r *store.SigningKey) bool { return r.RetireAt.IsZero() && now.Sub(r.CreatedAt) >= keyReload }) {
			k.ActivateAt = now.Add(keyActivation)
			for _, r := range rows {
				if r.RetireAt.IsZero() && !r.CreatedAt.After(k.CreatedAt) {
					k.CreatedAt = r.CreatedAt.Add(-time.Second)
				}
			}
		}
		return ks.store.CreateSigningKey(ctx, k)
	})
	if err != nil {
		return fmt.Errorf("oauth: create first %s signing key: %w", alg, err)
	}
	return ks.reload(ctx)
}

// Rotate adds a key of alg and returns its kid and when it begins to sign.
// The key is published at once here, and within keyReload on every replica;
// it signs keyActivation after the rotation, when all of them publish it. Until then the
// current key of alg signs; it stays published for retireAfter more, which must
// cover the lifetime of every token it signed. Keys of other algorithms are
// left as they are.
func (ks *KeySet) Rotate(ctx context.Context, alg string, retireAfter time.Duration) (string, time.Time, error) {
	k, err := ks.newKey(alg)
	if err != nil {
		return "", time.Time{}, err
	}
	now := ks.now().UTC()
	k.CreatedAt, k.ActivateAt = now, now.Add(keyActivation)
	// keyReload more: a replica whose clock runs behind may sign with the old
	// key a little past the new one's activation.
	retireAt := k.ActivateAt.Add(retireAfter + keyReload)
	// Under the lock, so that two rotations, or a rotation and a first key,
	// cannot leave two current keys.
	err = store.InTx(store.ReadCommitted(ctx), ks.store, func(ctx context.Context) error {
		if err := ks.store.LockSigningKeys(ctx); err != nil {
			return err
		}
		if err := ks.store.CreateSigningKey(ctx, k); err != nil {
			return err
		}
		return ks.store.RetireSigningKeys(ctx, k.ID, retireAt)
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("oauth: rotate key: %w", err)
	}
	return k.ID, k.ActivateAt, ks.reload(ctx)
}

// newKey generates a key of alg and seals it under a fresh kid.
func (ks *KeySet) newKey(alg string) (*store.SigningKey, error) {
	generate := ks.Generate
	if generate == nil {
		generate = GenerateKey
	}
	priv, err := generate(alg)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("oauth: encode key: %w", err)
	}
	id := store.NewID()[:16]
	sealed, err := ks.sealer.Seal(der, keyAD(id))
	if err != nil {
		return nil, fmt.Errorf("oauth: seal key: %w", err)
	}
	return &store.SigningKey{ID: id, Algorithm: alg, SealedKey: sealed}, nil
}

// GenerateKey makes a random private key for the signing algorithm alg
// (RS256: RSA 2048; ES256: P-256).
func GenerateKey(alg string) (crypto.Signer, error) {
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
	at := ks.now()
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
	defer ks.mu.Unlock()
	// A read that began before the one loaded already may have missed a key
	// that one saw.
	if !at.Before(ks.loadedAt) {
		ks.keys, ks.loadedAt = keys, at
	}
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
	return &signingKey{id: r.ID, alg: r.Algorithm, private: signer, activateAt: r.ActivateAt, retireAt: r.RetireAt}, nil
}

// refresh reloads the keys when the cached copy is keyReload old, and makes
// a key of an algorithm that has none current any more (a rotation by a
// replica of an older release retires every algorithm's key).
func (ks *KeySet) refresh(ctx context.Context) error {
	ks.mu.Lock()
	stale := ks.now().Sub(ks.loadedAt) >= keyReload
	def := ks.defaultAlg
	ks.mu.Unlock()
	if !stale {
		return nil
	}
	if err := ks.reload(ctx); err != nil || def == "" {
		return err
	}
	for _, a := range SigningAlgorithms(def) {
		if err := ks.ensure(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

var errNoActiveKey = errors.New("oauth: no active signing key")

// hasCurrent reports whether a loaded key of alg is unretired: the newest
// one, which signs now or will once it activates.
func (ks *KeySet) hasCurrent(alg string) bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return slices.ContainsFunc(ks.keys, func(k *signingKey) bool { return k.retireAt.IsZero() && k.alg == alg })
}

// active returns the key that signs with alg ("" for the default): the
// newest of alg whose activation has passed. Until a key of alg signs (the
// minute after ensure made the first beside others) the default's signs,
// and failing that any key that does.
func (ks *KeySet) active(alg string) (*signingKey, error) {
	now := ks.now()
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if alg == "" {
		alg = ks.defaultAlg
	}
	for _, want := range []string{alg, ks.defaultAlg, ""} {
		for _, k := range ks.keys {
			if (want == "" || k.alg == want) && !k.activateAt.After(now) {
				return k, nil
			}
		}
	}
	return nil, errNoActiveKey
}

type signingAlgKey struct{}

// withSigningAlg makes what is signed in ctx signed with alg, a client's
// id_token_signed_response_alg; "" leaves the default.
func withSigningAlg(ctx context.Context, alg string) context.Context {
	if alg == "" {
		return ctx
	}
	return context.WithValue(ctx, signingAlgKey{}, alg)
}

func signingAlg(ctx context.Context) string {
	alg, _ := ctx.Value(signingAlgKey{}).(string)
	return alg
}

// signingJWK is fosite's key getter: a go-jose v3 JWK, so that its kid reaches the
// ID token header; of the algorithm ctx names (withSigningAlg).
func (ks *KeySet) signingJWK(ctx context.Context) (interface{}, error) {
	if err := ks.refresh(ctx); err != nil {
		return nil, err
	}
	k, err := ks.active(signingAlg(ctx))
	if err != nil {
		return nil, err
	}
	return &jose3.JSONWebKey{Key: k.private, KeyID: k.id, Algorithm: k.alg, Use: "sig"}, nil
}

// JWKS returns the public keys of every stored key, those that do not sign
// yet or any longer included.
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
	now := ks.now()
	ks.mu.Lock()
	recent := now.Sub(ks.missAt) < 10*time.Second
	if !recent {
		ks.missAt = now
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

// Algorithms returns the signing algorithms of the published keys, the
// default's first.
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
	// The default first: a relying party that takes the first listed for
	// the one it gets is right.
	slices.SortStableFunc(algs, func(a, b string) int {
		switch {
		case a == ks.defaultAlg:
			return -1
		case b == ks.defaultAlg:
			return 1
		}
		return 0
	})
	return algs, nil
}

func nowUTC() time.Time { return time.Now().UTC() }

// sign signs claims as a compact JWS with the active key of the algorithm
// ctx names (withSigningAlg), naming its kid and the media type typ
// ("at+jwt", "logout+jwt").
func (ks *KeySet) sign(ctx context.Context, claims []byte, typ string) (string, error) {
	if err := ks.refresh(ctx); err != nil {
		return "", err
	}
	k, err := ks.active(signingAlg(ctx))
	if err != nil {
		return "", err
	}
	opts := (&jose4.SignerOptions{}).WithType(jose4.ContentType(typ)).WithHeader(jose4.HeaderKey("kid"), k.id)
	signer, err := jose4.NewSigner(jose4.SigningKey{Algorithm: jose4.SignatureAlgorithm(k.alg), Key: k.private}, opts)
	if err != nil {
		return "", fmt.Errorf("oauth: signer: %w", err)
	}
	jws, err := signer.Sign(claims)
	if err != nil {
		return "", fmt.Errorf("oauth: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// verify checks that token is a compact JWS of media type typ signed by a
// published key with the algorithm of that key, and returns its payload.
func (ks *KeySet) verify(ctx context.Context, token, typ string) ([]byte, error) {
	jws, err := jose4.ParseSignedCompact(token, []jose4.SignatureAlgorithm{jose4.RS256, jose4.ES256})
	if err != nil {
		return nil, fmt.Errorf("oauth: parse JWT: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("oauth: JWT with more than one signature")
	}
	h := jws.Signatures[0].Header
	if got, _ := h.ExtraHeaders[jose4.HeaderType].(string); !strings.EqualFold(got, typ) && !strings.EqualFold(got, "application/"+typ) {
		return nil, fmt.Errorf("oauth: JWT of type %q, want %q", got, typ)
	}
	key, alg, err := ks.publicKeyAlg(ctx, h.KeyID)
	if err != nil {
		return nil, err
	}
	if h.Algorithm != alg {
		return nil, fmt.Errorf("oauth: JWT signed with %s, key %s is %s", h.Algorithm, h.KeyID, alg)
	}
	return jws.Verify(key)
}

// publicKeyAlg is publicKey with the key's algorithm.
func (ks *KeySet) publicKeyAlg(ctx context.Context, kid string) (crypto.PublicKey, string, error) {
	pk, err := ks.publicKey(ctx, kid)
	if err != nil {
		return nil, "", err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	for _, k := range ks.keys {
		if k.id == kid {
			return pk, k.alg, nil
		}
	}
	return nil, "", fmt.Errorf("oauth: unknown key id %q", kid)
}
