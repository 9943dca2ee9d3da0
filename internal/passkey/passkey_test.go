package passkey

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/sqlitetest"
)

const origin = "https://id.example.com"

type fixture struct {
	s   *Service
	st  store.Store
	now time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st := sqlitetest.Open(t)
	s, err := New(st, &url.URL{Scheme: "https", Host: "id.example.com"}, "authz")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: s, st: st, now: time.Now().UTC()}
	s.Now = func() time.Time { return f.now }
	return f
}

func (f *fixture) user(t testing.TB, name string) *store.User {
	t.Helper()
	u := &store.User{ID: store.NewID(), Username: name, Enabled: true, Role: store.RoleUser, CreatedAt: f.now, UpdatedAt: f.now}
	if err := f.st.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// register registers k for u under name and returns the stored credential.
func (f *fixture) register(t testing.TB, u *store.User, k *softKey, name string) *store.WebAuthnCredential {
	t.Helper()
	opts, kept, err := f.s.BeginRegistration(t.Context(), u, name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.s.FinishRegistration(t.Context(), u, kept, k.create(opts))
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	return c
}

func TestRegisterAndSignIn(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "alice")
	k := newSoftKey(t, origin, "id.example.com")
	c := f.register(t, u, k, "YubiKey")
	if c.Name != "YubiKey" || string(c.ID) != string(k.id) || !c.LastUsedAt.IsZero() {
		t.Errorf("registered %+v", c)
	}
	var opts struct {
		PublicKey struct {
			RP struct {
				ID string `json:"id"`
			} `json:"rp"`
			Attestation   string `json:"attestation"`
			Authenticator struct {
				UserVerification string `json:"userVerification"`
			} `json:"authenticatorSelection"`
		} `json:"publicKey"`
	}
	raw, _, _ := f.s.BeginRegistration(t.Context(), u, "second")
	if err := json.Unmarshal(raw, &opts); err != nil {
		t.Fatal(err)
	}
	if p := opts.PublicKey; p.RP.ID != "id.example.com" || p.Attestation != "none" || p.Authenticator.UserVerification != "preferred" {
		t.Errorf("registration options: RP ID %q, attestation %q, UV %q; want the issuer's host, none, preferred", p.RP.ID, p.Attestation, p.Authenticator.UserVerification)
	}
	if !strings.Contains(string(raw), `"excludeCredentials"`) {
		t.Errorf("registration options do not exclude the registered key: %s", raw)
	}

	f.now = f.now.Add(time.Minute)
	opts2, kept, err := f.s.BeginLogin(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	used, err := f.s.FinishLogin(t.Context(), u, kept, k.get(opts2, []byte(u.ID)))
	if err != nil {
		t.Fatalf("FinishLogin: %v", err)
	}
	if used.SignCount != 1 {
		t.Errorf("counter after the first sign-in: %d", used.SignCount)
	}
	list, _ := f.st.ListWebAuthnCredentials(t.Context(), u.ID)
	if len(list) != 1 || !list[0].LastUsedAt.Equal(f.now.Truncate(time.Microsecond)) || list[0].SignCount != 1 {
		t.Errorf("stored after use: %+v", list)
	}
}

func TestSignInRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	alice, bob := f.user(t, "alice"), f.user(t, "bob")
	k := newSoftKey(t, origin, "id.example.com")
	f.register(t, alice, k, "key")
	bobsKey := newSoftKey(t, origin, "id.example.com")
	f.register(t, bob, bobsKey, "bob's")

	begin := func() (opts, kept []byte) {
		t.Helper()
		opts, kept, err := f.s.BeginLogin(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		return opts, kept
	}
	cases := []struct {
		name   string
		answer func(opts, kept []byte) ([]byte, []byte)
		want   error
	}{
		{"wrong origin (a phishing site)", func(o, kept []byte) ([]byte, []byte) {
			phish := *k
			phish.origin = "https://id.example.com.evil.test"
			return phish.get(o, []byte(alice.ID)), kept
		}, ErrInvalid},
		{"wrong RP ID", func(o, kept []byte) ([]byte, []byte) {
			other := *k
			other.rpID = "evil.test"
			return other.get(o, []byte(alice.ID)), kept
		}, ErrInvalid},
		{"another user's credential", func(o, kept []byte) ([]byte, []byte) {
			return bobsKey.get(o, []byte(bob.ID)), kept
		}, ErrInvalid},
		{"tampered signature", func(o, kept []byte) ([]byte, []byte) {
			resp := k.get(o, []byte(alice.ID))
			var m map[string]any
			_ = json.Unmarshal(resp, &m)
			r := m["response"].(map[string]any)
			sig, _ := b64.DecodeString(r["signature"].(string))
			sig[len(sig)-1] ^= 1
			r["signature"] = b64.EncodeToString(sig)
			b, _ := json.Marshal(m)
			return b, kept
		}, ErrInvalid},
		{"another challenge", func(o, kept []byte) ([]byte, []byte) {
			return k.sign(b64.EncodeToString([]byte("a challenge the server never sent")), []byte(alice.ID)), kept
		}, ErrInvalid},
		{"a registration's ceremony", func(o, _ []byte) ([]byte, []byte) {
			_, reg, _ := f.s.BeginRegistration(ctx, alice, "x")
			return k.get(o, []byte(alice.ID)), reg
		}, ErrNoCeremony},
		{"no ceremony", func(o, _ []byte) ([]byte, []byte) { return k.get(o, []byte(alice.ID)), nil }, ErrNoCeremony},
		{"garbage ceremony", func(o, _ []byte) ([]byte, []byte) { return k.get(o, []byte(alice.ID)), []byte("{") }, ErrNoCeremony},
		{"empty response", func(_, kept []byte) ([]byte, []byte) { return nil, kept }, ErrInvalid},
		{"malformed response", func(_, kept []byte) ([]byte, []byte) { return []byte(`{"id":1}`), kept }, ErrInvalid},
		{"oversized response", func(_, kept []byte) ([]byte, []byte) {
			return []byte(`{"id":"` + strings.Repeat("A", MaxResponseBytes) + `"}`), kept
		}, ErrInvalid},
		{"expired challenge", func(o, kept []byte) ([]byte, []byte) {
			f.now = f.now.Add(f.s.ChallengeTTL + time.Second)
			return k.get(o, []byte(alice.ID)), kept
		}, ErrExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts, kept := begin()
			resp, kept := tc.answer(opts, kept)
			_, err := f.s.FinishLogin(ctx, alice, kept, resp)
			if !errors.Is(err, tc.want) {
				t.Errorf("FinishLogin: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCounterAndReplay(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u := f.user(t, "alice")
	k := newSoftKey(t, origin, "id.example.com")
	f.register(t, u, k, "key")
	k.counter = 10
	opts, kept, _ := f.s.BeginLogin(ctx, u)
	first := k.get(opts, []byte(u.ID))
	if _, err := f.s.FinishLogin(ctx, u, kept, first); err != nil {
		t.Fatal(err)
	}
	// The same assertion again, even with its challenge kept: the counter
	// decides.
	if _, err := f.s.FinishLogin(ctx, u, kept, first); !errors.Is(err, ErrCounter) {
		t.Errorf("replayed assertion: %v, want ErrCounter", err)
	}
	// A clone that signs with an older counter.
	clone := *k
	clone.counter = 3
	opts, kept, _ = f.s.BeginLogin(ctx, u)
	used, err := f.s.FinishLogin(ctx, u, kept, clone.get(opts, []byte(u.ID)))
	if !errors.Is(err, ErrCounter) || used == nil {
		t.Errorf("cloned authenticator: %v (credential %v), want ErrCounter naming it", err, used)
	}
	list, _ := f.st.ListWebAuthnCredentials(ctx, u.ID)
	if list[0].SignCount != 11 {
		t.Errorf("counter after refusals: %d, want 11", list[0].SignCount)
	}
	// The genuine key goes on.
	opts, kept, _ = f.s.BeginLogin(ctx, u)
	if _, err := f.s.FinishLogin(ctx, u, kept, k.get(opts, []byte(u.ID))); err != nil {
		t.Errorf("genuine key after a clone was refused: %v", err)
	}
}

func TestRegistrationRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u := f.user(t, "alice")
	k := newSoftKey(t, origin, "id.example.com")
	f.register(t, u, k, "key")

	opts, kept, _ := f.s.BeginRegistration(ctx, u, "again")
	if _, err := f.s.FinishRegistration(ctx, u, kept, k.create(opts)); !errors.Is(err, ErrTaken) {
		t.Errorf("the same key twice: %v, want ErrTaken", err)
	}
	other := f.user(t, "bob")
	opts, kept, _ = f.s.BeginRegistration(ctx, other, "stolen")
	if _, err := f.s.FinishRegistration(ctx, other, kept, k.create(opts)); !errors.Is(err, ErrTaken) {
		t.Errorf("alice's key for bob: %v, want ErrTaken", err)
	}
	phish := newSoftKey(t, "https://evil.test", "id.example.com")
	opts, kept, _ = f.s.BeginRegistration(ctx, u, "phish")
	if _, err := f.s.FinishRegistration(ctx, u, kept, phish.create(opts)); !errors.Is(err, ErrInvalid) {
		t.Errorf("registration from another origin: %v, want ErrInvalid", err)
	}
	_, loginKept, _ := f.s.BeginLogin(ctx, u)
	opts, _, _ = f.s.BeginRegistration(ctx, u, "x")
	if _, err := f.s.FinishRegistration(ctx, u, loginKept, newSoftKey(t, origin, "id.example.com").create(opts)); !errors.Is(err, ErrNoCeremony) {
		t.Errorf("a sign-in ceremony finishing a registration: %v, want ErrNoCeremony", err)
	}
	if _, _, err := f.s.BeginLogin(ctx, other); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("BeginLogin without credentials: %v", err)
	}
}

// FuzzFinishLogin feeds arbitrary responses to a live ceremony: never a
// panic, never a success.
func FuzzFinishLogin(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"` + b64.EncodeToString([]byte(`{"type":"webauthn.get","challenge":"AA","origin":"`+origin+`"}`)) + `","authenticatorData":"AAAA","signature":"MEUCIQ"}}`))
	f.Add([]byte("\x00\xff"))
	fx := newFixture(f)
	u := fx.user(f, "alice")
	fx.register(f, u, newSoftKey(f, origin, "id.example.com"), "key")
	f.Fuzz(func(t *testing.T, resp []byte) {
		_, kept, err := fx.s.BeginLogin(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fx.s.FinishLogin(context.Background(), u, kept, resp); err == nil {
			t.Fatal("an arbitrary response signed in")
		}
	})
}

// An IP address cannot be an RP ID: New says so, and the server then runs
// without security keys instead of failing to start.
func TestIPIssuerIsNoRelyingParty(t *testing.T) {
	for _, host := range []string{"127.0.0.1:8080", "[::1]:8443", "10.0.0.7"} {
		if _, err := New(nil, &url.URL{Scheme: "http", Host: host}, "authz"); !errors.Is(err, ErrNoDomain) {
			t.Errorf("issuer host %s: %v, want ErrNoDomain", host, err)
		}
	}
	if _, err := New(nil, &url.URL{Scheme: "http", Host: "localhost:8080"}, "authz"); err != nil {
		t.Errorf("localhost: %v", err)
	}
}
