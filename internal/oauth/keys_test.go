package oauth

import (
	"context"
	"crypto"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	jose3 "github.com/go-jose/go-jose/v3"
	jose4 "github.com/go-jose/go-jose/v4"

	"github.com/authz/authz/internal/seal"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/store/postgres"
	"github.com/authz/authz/internal/store/sqlite"
	"github.com/authz/authz/internal/testsupport/pgtest"
)

// replicaStores opens n stores on one fresh, migrated database of backend, as
// n replicas each open their own.
func replicaStores(t *testing.T, backend string, n int) []store.Store {
	t.Helper()
	// Not t.Context(): the stores must outlive the test body until Cleanup.
	ctx := context.Background()
	var open func() (store.Store, error)
	switch backend {
	case "sqlite":
		path := filepath.Join(t.TempDir(), "keys.db")
		open = func() (store.Store, error) { return sqlite.Open(ctx, path) }
	case "postgres":
		url := pgtest.URL(t)
		open = func() (store.Store, error) { return postgres.Open(ctx, url) }
	}
	stores := make([]store.Store, n)
	for i := range stores {
		st, err := open()
		if err != nil {
			t.Fatalf("open %s store: %v", backend, err)
		}
		t.Cleanup(func() { _ = st.Close() })
		stores[i] = st
	}
	if err := stores[0].(interface{ Migrate(context.Context) error }).Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return stores
}

var backends = []string{"sqlite", "postgres"}

// sharedKeys holds one private key per algorithm for the whole test
// process: an RSA key costs a second under the race detector, and every
// KeySet keeps an RS256 key beside its default.
var sharedKeys = struct {
	sync.Mutex
	m map[string]crypto.Signer
}{m: map[string]crypto.Signer{}}

// newTestKeySet is NewKeySet with keys that share their private key per
// algorithm; each still has a kid of its own.
func newTestKeySet(st store.Store, sealer Sealer) *KeySet {
	ks := NewKeySet(st, sealer)
	ks.Generate = func(alg string) (crypto.Signer, error) {
		sharedKeys.Lock()
		defer sharedKeys.Unlock()
		if k, ok := sharedKeys.m[alg]; ok {
			return k, nil
		}
		k, err := GenerateKey(alg)
		if err == nil {
			sharedKeys.m[alg] = k
		}
		return k, err
	}
	return ks
}

// current returns the kids of the current (unretired) keys of rows by
// algorithm.
func current(rows []*store.SigningKey) map[string][]string {
	out := map[string][]string{}
	for _, r := range rows {
		if r.RetireAt.IsZero() {
			out[r.Algorithm] = append(out[r.Algorithm], r.ID)
		}
	}
	return out
}

func testSealer(t *testing.T) Sealer {
	t.Helper()
	s, err := seal.New(make([]byte, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// kids returns the key IDs ks publishes.
func kids(t *testing.T, ks *KeySet) []string {
	t.Helper()
	set, err := ks.JWKS(t.Context())
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

// signer returns the kid ks signs ID tokens with now, and its private key.
func signer(t *testing.T, ks *KeySet) (string, crypto.Signer) {
	t.Helper()
	return signerOf(t, ks, "")
}

// signerOf is signer for a client whose ID tokens are signed with alg.
func signerOf(t *testing.T, ks *KeySet, alg string) (string, crypto.Signer) {
	t.Helper()
	k, err := ks.signingJWK(withSigningAlg(t.Context(), alg))
	if err != nil {
		t.Fatalf("signing key: %v", err)
	}
	jwk, ok := k.(*jose3.JSONWebKey)
	if !ok {
		t.Fatalf("signingJWK returned %T", k)
	}
	key, ok := jwk.Key.(crypto.Signer)
	if !ok {
		t.Fatalf("signing key is a %T", jwk.Key)
	}
	return jwk.KeyID, key
}

// Replicas started at the same moment on an empty database all come up with
// the one key one of them made, and publish the same JWKS. Each round empties
// the database again.
func TestEnsureOnReplicasStartingTogether(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			stores := replicaStores(t, backend, 4)
			sealer := testSealer(t)
			for round := range 20 {
				sets := make([]*KeySet, len(stores))
				errs := make([]error, len(stores))
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i, st := range stores {
					sets[i] = newTestKeySet(st, sealer)
					wg.Go(func() {
						<-start
						errs[i] = sets[i].Ensure(context.Background(), "ES256")
					})
				}
				close(start)
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("round %d: replica %d: Ensure: %v", round, i, err)
					}
				}
				rows, err := stores[0].ListSigningKeys(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				// The default's key, and RS256's (SigningAlgorithms).
				cur := current(rows)
				if len(rows) != 2 || len(cur["ES256"]) != 1 || len(cur["RS256"]) != 1 {
					t.Fatalf("round %d: %d replicas starting together stored %d keys, current %v; want one current key of ES256 and of RS256", round, len(stores), len(rows), cur)
				}
				for i, ks := range sets {
					if got := kids(t, ks); !slices.Equal(got, []string{rows[0].ID, rows[1].ID}) {
						t.Errorf("round %d: replica %d publishes %v, want [%s %s]", round, i, got, rows[0].ID, rows[1].ID)
					}
					if kid, _ := signer(t, ks); kid != cur["ES256"][0] {
						t.Errorf("round %d: replica %d signs with %s, want the default's %s", round, i, kid, cur["ES256"][0])
					}
					if kid, _ := signerOf(t, ks, "RS256"); kid != cur["RS256"][0] {
						t.Errorf("round %d: replica %d signs RS256 with %s, want %s", round, i, kid, cur["RS256"][0])
					}
				}
				emptyKeys(t, stores[0])
			}
		})
	}
}

// emptyKeys deletes every signing key: it retires them all in the past and
// lets DeleteExpired remove them.
func emptyKeys(t *testing.T, st store.Store) {
	t.Helper()
	ctx := t.Context()
	past := time.Now().Add(-time.Hour)
	// RetireSigningKeys spares the key it is given, and retires the others of
	// its algorithm: given a key retired already, it retires them all.
	for _, alg := range []string{"ES256", "RS256"} {
		gone := &store.SigningKey{ID: "gone-" + alg, Algorithm: alg, SealedKey: []byte{0}, CreatedAt: past, RetireAt: past}
		if err := st.CreateSigningKey(ctx, gone); err != nil {
			t.Fatal(err)
		}
		if err := st.RetireSigningKeys(ctx, gone.ID, past); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.DeleteExpired(ctx, time.Now(), 0); err != nil {
		t.Fatal(err)
	}
	if rows, err := st.ListSigningKeys(ctx); err != nil || len(rows) != 0 {
		t.Fatalf("keys left after emptying: %d, %v", len(rows), err)
	}
}

// Rotations made on several replicas at once leave one current key.
func TestConcurrentRotationsLeaveOneCurrentKey(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			stores := replicaStores(t, backend, 3)
			sealer := testSealer(t)
			sets := make([]*KeySet, len(stores))
			for i, st := range stores {
				sets[i] = newTestKeySet(st, sealer)
				if err := sets[i].Ensure(t.Context(), "ES256"); err != nil {
					t.Fatal(err)
				}
			}
			start := make(chan struct{})
			var wg sync.WaitGroup
			for _, ks := range sets {
				wg.Go(func() {
					<-start
					if _, _, err := ks.Rotate(context.Background(), "ES256", time.Hour); err != nil {
						t.Errorf("Rotate: %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			rows, err := stores[0].ListSigningKeys(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			// Each algorithm has one current key: the rotations of ES256 left
			// RS256's alone.
			cur := current(rows)
			if len(rows) != 2+len(sets) || len(cur["ES256"]) != 1 || len(cur["RS256"]) != 1 {
				t.Fatalf("after %d concurrent rotations: %d keys, current %v; want %d keys, one current of each algorithm", len(sets), len(rows), cur, 2+len(sets))
			}
		})
	}
}

// A key rotated in on replica a is published by a and b before either signs
// with it, and the key it replaces keeps signing until then and stays
// published after.
func TestRotationIsPublishedEverywhereBeforeItSigns(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			ctx := t.Context()
			stores := replicaStores(t, backend, 3)
			sealer := testSealer(t)
			clk := &testClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
			a, b := newTestKeySet(stores[0], sealer), newTestKeySet(stores[1], sealer)
			for _, ks := range []*KeySet{a, b} {
				ks.Now = clk.Now
				if err := ks.Ensure(ctx, "ES256"); err != nil {
					t.Fatal(err)
				}
			}
			oldKid, oldKey := signer(t, a)
			oldToken := signToken(t, oldKid, oldKey)

			// b read the keys 10 s before the rotation: it does not see the new
			// key until its cache is keyReload old.
			clk.advance(10 * time.Second)
			newKid, activateAt, err := a.Rotate(ctx, "ES256", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if want := clk.Now().Add(keyActivation); !activateAt.Equal(want) {
				t.Fatalf("Rotate: activates at %s, want %s", activateAt, want)
			}
			// A replica starting now finds the current key pending and adds none.
			c := newTestKeySet(stores[2], sealer)
			c.Now = clk.Now
			if err := c.Ensure(ctx, "ES256"); err != nil {
				t.Fatal(err)
			}
			if rows, _ := stores[2].ListSigningKeys(ctx); len(rows) != 3 {
				t.Fatalf("Ensure after a rotation: %d keys, want 3 (two of ES256, RS256's)", len(rows))
			}

			var publishedSince, firstSigned time.Time // both replicas publish newKid from publishedSince on
			end := activateAt.Add(2 * keyReload)
			for ; !clk.Now().After(end); clk.advance(time.Second) {
				now := clk.Now()
				everywhere := true
				for name, ks := range map[string]*KeySet{"a": a, "b": b} {
					published := kids(t, ks)
					if !slices.Contains(published, oldKid) {
						t.Fatalf("%s: %s no longer publishes the replaced key %s", now, name, oldKid)
					}
					everywhere = everywhere && slices.Contains(published, newKid)
					kid, _ := signer(t, ks)
					switch {
					case now.Before(activateAt) && kid != oldKid:
						t.Fatalf("%s: %s signs with %s before %s activates at %s", now, name, kid, newKid, activateAt)
					case !now.Before(activateAt) && kid != newKid:
						t.Fatalf("%s: %s signs with %s after %s activated at %s", now, name, kid, newKid, activateAt)
					}
					if kid == newKid && firstSigned.IsZero() {
						firstSigned = now
					}
				}
				switch {
				case !everywhere:
					publishedSince = time.Time{}
				case publishedSince.IsZero():
					publishedSince = now
				}
			}
			if publishedSince.IsZero() || firstSigned.IsZero() {
				t.Fatalf("new key published everywhere from %s, first signed at %s", publishedSince, firstSigned)
			}
			// A relying party that fetched the JWKS from either replica up to
			// this long before the first token signed with the key knows it.
			if lead := firstSigned.Sub(publishedSince); lead < keyActivation-keyReload {
				t.Errorf("new key published everywhere only %s before it signed, want at least %s", lead, keyActivation-keyReload)
			}

			// The token signed before the rotation still verifies with b's JWKS,
			// as does one signed with the new key on b.
			kid, key := signer(t, b)
			for _, tok := range []string{oldToken, signToken(t, kid, key)} {
				verify(t, b, tok)
			}
		})
	}
}

// signToken signs a compact JWS with key under kid, as fosite signs ID tokens.
func signToken(t *testing.T, kid string, key crypto.Signer) string {
	t.Helper()
	sig, err := jose4.NewSigner(jose4.SigningKey{Algorithm: jose4.ES256, Key: jose4.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sig.Sign([]byte(`{"sub":"u1"}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// verify checks raw against the JWKS ks publishes, as a relying party does.
func verify(t *testing.T, ks *KeySet, raw string) {
	t.Helper()
	jws, err := jose4.ParseSignedCompact(raw, []jose4.SignatureAlgorithm{jose4.ES256})
	if err != nil {
		t.Fatal(err)
	}
	set, err := ks.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys of kid %s", len(keys), kid)
	}
	if _, err := jws.Verify(keys[0].Key); err != nil {
		t.Errorf("token signed with %s does not verify: %v", kid, err)
	}
}

// A deployment of one algorithm gets the other beside it without a replica
// signing with a key others may not publish yet: the new chain's first key
// waits keyActivation, and is dated before the old key, which replicas of the
// older release (signing with the newest activated key) keep to. A chain
// that a rotation by such a replica retired is made again at a reload.
func TestSecondAlgorithmJoinsARunningDeployment(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			ctx := t.Context()
			st := replicaStores(t, backend, 1)[0]
			sealer := testSealer(t)
			clk := &testClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
			old := newTestKeySet(st, sealer)
			old.Now = clk.Now
			// What an older release made: one ES256 key, signing for an hour.
			if err := old.ensure(ctx, "ES256"); err != nil {
				t.Fatal(err)
			}
			esKid, _ := signer(t, old)
			clk.advance(time.Hour)

			ks := newTestKeySet(st, sealer)
			ks.Now = clk.Now
			if err := ks.Ensure(ctx, "ES256"); err != nil {
				t.Fatal(err)
			}
			rows, err := st.ListSigningKeys(ctx)
			if err != nil || len(rows) != 2 || rows[0].ID != esKid || rows[1].Algorithm != "RS256" {
				t.Fatalf("keys %v %v: want the ES256 key newest, then the new RS256 key", rows, err)
			}
			if want := clk.Now().Add(keyActivation); !rows[1].ActivateAt.Equal(want) {
				t.Errorf("the RS256 key activates at %s, want %s", rows[1].ActivateAt, want)
			}
			if kid, _ := signerOf(t, ks, "RS256"); kid != esKid {
				t.Errorf("before the RS256 key activates, RS256 clients get %s, want the default's %s", kid, esKid)
			}
			clk.advance(keyActivation)
			if kid, _ := signerOf(t, ks, "RS256"); kid != rows[1].ID {
				t.Errorf("after activation, RS256 clients get %s, want %s", kid, rows[1].ID)
			}
			if kid, _ := signer(t, ks); kid != esKid {
				t.Errorf("the default signs with %s, want %s", kid, esKid)
			}

			// An older release's rotation retires every current key.
			if err := st.RetireSigningKeys(ctx, esKid, clk.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			gone, err := ks.newKey("RS256")
			if err != nil {
				t.Fatal(err)
			}
			gone.CreatedAt, gone.RetireAt = clk.Now(), clk.Now()
			if err := st.CreateSigningKey(ctx, gone); err != nil {
				t.Fatal(err)
			}
			if err := st.RetireSigningKeys(ctx, gone.ID, clk.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			clk.advance(keyReload)
			if _, err := ks.JWKS(ctx); err != nil {
				t.Fatal(err)
			}
			if !ks.hasCurrent("RS256") {
				t.Error("after a reload, no current RS256 key was made again")
			}
		})
	}
}
