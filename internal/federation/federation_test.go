package federation_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authz/authz/internal/federation"
	"github.com/authz/authz/internal/seal"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/store/postgres"
	"github.com/authz/authz/internal/testsupport/pgtest"
	"github.com/authz/authz/internal/testsupport/sqlitetest"
)

// fixture is one test's world: a store of its own, the service under test and
// an upstream provider configured in the store as "corp".
type fixture struct {
	st     store.Store
	sealer *seal.Sealer
	svc    *federation.Service
	up     *upstream
}

// eachStore runs test on SQLite and on PostgreSQL (skipped without
// AUTHZ_TEST_DATABASE_URL), in parallel, each with a fixture of its own.
func eachStore(t *testing.T, test func(t *testing.T, f *fixture)) {
	t.Helper()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			test(t, newFixture(t, backend))
		})
	}
}

func newFixture(t *testing.T, backend string) *fixture {
	t.Helper()
	sealer, err := seal.New(bytes.Repeat([]byte{7}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, backend)
	return &fixture{st: st, sealer: sealer, up: newUpstream(t),
		svc: &federation.Service{Store: st, Sealer: sealer, Issuer: "https://authz.example/", Log: slog.New(slog.DiscardHandler)}}
}

// openStore opens a migrated store of backend, closed when the test ends.
func openStore(t *testing.T, backend string) store.Store {
	t.Helper()
	// Not t.Context(): the store must outlive the test body until Cleanup.
	ctx := context.Background()
	var st interface {
		store.Store
		Migrate(context.Context) error
	}
	var err error
	switch backend {
	case "sqlite":
		return sqlitetest.Open(t)
	case "postgres":
		st, err = postgres.Open(ctx, pgtest.URL(t))
	}
	if err != nil {
		t.Fatalf("open %s: %v", backend, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", backend, err)
	}
	return st
}

// addProvider configures the upstream as "corp" with policy; edit, if not
// nil, changes the provider before it is stored.
func (f *fixture) addProvider(t *testing.T, policy string, edit func(*store.Provider)) *store.Provider {
	t.Helper()
	sealed, err := f.sealer.Seal([]byte(f.up.secret), federation.SecretAD("corp"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	p := &store.Provider{Alias: "corp", DisplayName: "Corp", IssuerURL: f.up.srv.URL, ClientID: f.up.clientID,
		SealedClientSecret: sealed, LinkPolicy: policy, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if edit != nil {
		edit(p)
	}
	if err := f.st.CreateProvider(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return p
}

// addUser creates a local user.
func (f *fixture) addUser(t *testing.T, username, email string, enabled bool) *store.User {
	t.Helper()
	now := time.Now().UTC()
	u := &store.User{ID: store.NewID(), Username: username, Email: email, Enabled: enabled, Role: store.RoleUser,
		PasswordHash: "not-used-here", CreatedAt: now, UpdatedAt: now}
	if err := f.st.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *fixture) link(t *testing.T, subject, userID string) {
	t.Helper()
	if err := f.st.CreateFederatedIdentity(context.Background(), &store.FederatedIdentity{ProviderAlias: "corp",
		Subject: subject, UserID: userID, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
}

// begin starts a login at "corp" and returns the transaction and the query
// the upstream redirects back with after answering as is says.
func (f *fixture) begin(t *testing.T, is issue) (*store.LoginTransaction, url.Values) {
	t.Helper()
	lt := &store.LoginTransaction{}
	authURL, err := f.svc.Begin(context.Background(), lt, "corp")
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return lt, f.up.authorize(t, authURL, is)
}

// login runs a whole round trip to "corp" with the upstream answering as is.
func (f *fixture) login(t *testing.T, is issue) (*federation.Result, error) {
	t.Helper()
	lt, q := f.begin(t, is)
	return f.svc.Complete(context.Background(), lt, "corp", q)
}

// linkedUser returns the user linked to subject at "corp", or "" when none is.
func (f *fixture) linkedUser(t *testing.T, subject string) string {
	t.Helper()
	fi, err := f.st.GetFederatedIdentity(context.Background(), "corp", subject)
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.UserID
}

func (f *fixture) users(t *testing.T) int {
	t.Helper()
	n, err := f.st.CountUsers(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// failure returns the *federation.Error in err, failing the test when there is
// none or when the login nevertheless returned a result.
func failure(t *testing.T, res *federation.Result, err error) *federation.Error {
	t.Helper()
	var fe *federation.Error
	if !errors.As(err, &fe) {
		t.Fatalf("want a *federation.Error, got result %+v, error %v", res, err)
	}
	if res != nil {
		t.Fatalf("a failed login returned a result: %+v", res)
	}
	return fe
}

func wantReason(t *testing.T, fe *federation.Error, part string) {
	t.Helper()
	if !strings.Contains(fe.Reason, part) {
		t.Errorf("reason %q, want it to mention %q", fe.Reason, part)
	}
}

func TestBeginAsksForCodeWithStateNonceAndPKCE(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.addProvider(t, store.LinkCreate, nil)
		ctx := context.Background()
		lt := &store.LoginTransaction{}
		raw, err := f.svc.Begin(ctx, lt, "corp")
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		challenge := sha256.Sum256([]byte(lt.UpstreamVerifier))
		for k, want := range map[string]string{
			"client_id":    f.up.clientID,
			"redirect_uri": "https://authz.example/login/upstream/corp/callback",
			"scope":        "openid profile email", // the default with no scopes configured
			"state":        lt.UpstreamState, "nonce": lt.UpstreamNonce,
			"code_challenge": base64.RawURLEncoding.EncodeToString(challenge[:]), "code_challenge_method": "S256",
		} {
			if q.Get(k) != want {
				t.Errorf("%s = %q, want %q", k, q.Get(k), want)
			}
		}
		if lt.UpstreamAlias != "corp" || lt.UpstreamState == "" || lt.UpstreamNonce == "" || lt.UpstreamVerifier == "" {
			t.Fatalf("transaction not filled: %+v", lt)
		}
		if got := f.svc.CallbackURL("corp"); got != q.Get("redirect_uri") {
			t.Errorf("CallbackURL %q differs from the redirect_uri sent", got)
		}

		// Each login has values of its own.
		lt2 := &store.LoginTransaction{}
		if _, err := f.svc.Begin(ctx, lt2, "corp"); err != nil {
			t.Fatal(err)
		}
		if lt2.UpstreamState == lt.UpstreamState || lt2.UpstreamNonce == lt.UpstreamNonce || lt2.UpstreamVerifier == lt.UpstreamVerifier {
			t.Error("two logins share state, nonce or verifier")
		}

		// Configured scopes replace the default.
		p, _ := f.st.GetProvider(ctx, "corp")
		p.Scopes = []string{"openid", "groups"}
		if err := f.st.UpdateProvider(ctx, p); err != nil {
			t.Fatal(err)
		}
		raw, err = f.svc.Begin(ctx, &store.LoginTransaction{}, "corp")
		if err != nil {
			t.Fatal(err)
		}
		if u, _ := url.Parse(raw); u.Query().Get("scope") != "openid groups" {
			t.Errorf("scope with configured scopes: %q", u.Query().Get("scope"))
		}
	})
}

func TestBeginRefusesUnavailableProviders(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		begin := func(alias string) (*store.LoginTransaction, error) {
			lt := &store.LoginTransaction{}
			_, err := f.svc.Begin(ctx, lt, alias)
			if err != nil && lt.UpstreamAlias+lt.UpstreamState != "" {
				t.Errorf("a refused Begin filled the transaction: %+v", lt)
			}
			return lt, err
		}

		_, err := begin("nope")
		fe := failure(t, nil, err)
		wantReason(t, fe, "not available")
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown provider: %v, want it to wrap store.ErrNotFound", err)
		}

		f.addProvider(t, store.LinkCreate, func(p *store.Provider) { p.Enabled = false })
		_, err = begin("corp")
		wantReason(t, failure(t, nil, err), "not available")

		// Unreachable, and an issuer that is not the one its document names
		// (go-oidc compares them exactly): both are discovery failures.
		dead := httptest.NewServer(nil)
		dead.Close()
		for alias, issuer := range map[string]string{"dead": dead.URL, "slash": f.up.srv.URL + "/"} {
			sealed, _ := f.sealer.Seal([]byte("s"), federation.SecretAD(alias))
			if err := f.st.CreateProvider(ctx, &store.Provider{Alias: alias, DisplayName: "Other", IssuerURL: issuer,
				ClientID: "c", SealedClientSecret: sealed, LinkPolicy: store.LinkCreate, Enabled: true}); err != nil {
				t.Fatal(err)
			}
			_, err = begin(alias)
			wantReason(t, failure(t, nil, err), "Other cannot be reached")
			if !errors.Is(err, federation.ErrDiscovery) {
				t.Errorf("%s: %v, want it to wrap ErrDiscovery", alias, err)
			}
		}

		// A secret sealed for another alias does not open: an operator's
		// problem, so a plain error rather than a reason for the user.
		sealed, _ := f.sealer.Seal([]byte(f.up.secret), federation.SecretAD("corp"))
		if err := f.st.CreateProvider(ctx, &store.Provider{Alias: "copied", DisplayName: "Copied", IssuerURL: f.up.srv.URL,
			ClientID: f.up.clientID, SealedClientSecret: sealed, LinkPolicy: store.LinkCreate, Enabled: true}); err != nil {
			t.Fatal(err)
		}
		_, err = begin("copied")
		var fe2 *federation.Error
		if !errors.Is(err, seal.ErrOpen) || errors.As(err, &fe2) {
			t.Errorf("secret sealed for another alias: %v", err)
		}
	})
}

func TestDiscoverAndValidateIssuerURL(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	p, err := federation.Discover(context.Background(), up.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if ep := p.Endpoint(); ep.TokenURL != up.srv.URL+"/token" || ep.AuthURL != up.srv.URL+"/authorize" {
		t.Errorf("endpoints: %+v", ep)
	}
	for _, bad := range []string{"ftp://idp.example", "/relative", "https://", "https://idp.example/?tenant=1", "https://idp.example/#x"} {
		if err := federation.ValidateIssuerURL(bad); err == nil {
			t.Errorf("ValidateIssuerURL(%q) accepted it", bad)
		}
		if _, err := federation.Discover(context.Background(), bad); !errors.Is(err, federation.ErrDiscovery) {
			t.Errorf("Discover(%q): %v, want ErrDiscovery", bad, err)
		}
	}
	for _, good := range []string{"https://idp.example", "http://127.0.0.1:8080/realms/x"} {
		if err := federation.ValidateIssuerURL(good); err != nil {
			t.Errorf("ValidateIssuerURL(%q): %v", good, err)
		}
	}
}

// TestClaimMapping covers what a user provisioned at first login gets from the
// upstream's claims.
func TestClaimMapping(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 70)
	for _, tc := range []struct {
		name   string
		edit   func(*store.Provider)
		claims map[string]any
		want   store.User // Username, Email, FirstName, LastName
	}{
		{"standard claims", nil,
			map[string]any{"preferred_username": " alice.smith ", "email": "Alice@Example.test", "email_verified": true,
				"given_name": "Alice", "family_name": " Smith", "name": "Alice Smith"},
			store.User{Username: "alice.smith", Email: "Alice@Example.test", FirstName: "Alice", LastName: "Smith"}},
		{"unverified e-mail is not kept", nil,
			map[string]any{"preferred_username": "bob", "email": "bob@example.test", "email_verified": false},
			store.User{Username: "bob"}},
		{"e-mail without email_verified is not kept", nil,
			map[string]any{"preferred_username": "bob", "email": "bob@example.test"},
			store.User{Username: "bob"}},
		{"email_verified as a string is not verified", nil,
			map[string]any{"preferred_username": "bob", "email": "bob@example.test", "email_verified": "true"},
			store.User{Username: "bob"}},
		{"sub alone: the username is made of alias and subject, name is not split", nil,
			map[string]any{"sub": "ID|42 x", "name": "Carol Jones"},
			store.User{Username: "corp-ID42x"}},
		{"a username loses characters other than letters, digits and ._-", nil,
			map[string]any{"preferred_username": "dave@corp.example (admin)"},
			store.User{Username: "davecorp.exampleadmin"}},
		{"a username of no allowed characters falls back to the subject", nil,
			map[string]any{"sub": "s-1", "preferred_username": "ÉÈ@ !"},
			store.User{Username: "corp-s-1"}},
		{"a username that is not a string falls back to the subject", nil,
			map[string]any{"sub": "s-2", "preferred_username": 42, "given_name": []string{"Eve"}},
			store.User{Username: "corp-s-2"}},
		{"a Japanese username is kept, full-width Latin becomes ASCII", nil,
			map[string]any{"preferred_username": "山田・たろう・ｙａｍａｄａ１"},
			store.User{Username: "山田たろうyamada1"}},
		{"a username is cut at 64 characters, not bytes", nil,
			map[string]any{"preferred_username": strings.Repeat("東", 70)},
			store.User{Username: strings.Repeat("東", 64)}},
		{"a username is cut at 64 characters", nil,
			map[string]any{"preferred_username": long},
			store.User{Username: long[:64]}},
		{"configured claim names replace the standard ones",
			func(p *store.Provider) {
				p.ClaimUsername, p.ClaimEmail, p.ClaimFirstName, p.ClaimLastName = "login", "mail", "first", "last"
			},
			map[string]any{"preferred_username": "std", "email": "std@example.test", "email_verified": true, "given_name": "Std",
				"login": "frank", "mail": "frank@example.test", "first": "Frank", "last": "Fisher"},
			store.User{Username: "frank", Email: "frank@example.test", FirstName: "Frank", LastName: "Fisher"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, f *fixture) {
				f.addProvider(t, store.LinkCreate, tc.edit)
				res, err := f.login(t, issue{claims: tc.claims})
				if err != nil {
					t.Fatalf("login: %v", err)
				}
				if !res.Created || res.Linked || res.Provider.Alias != "corp" {
					t.Errorf("result: created %v linked %v provider %q", res.Created, res.Linked, res.Provider.Alias)
				}
				got, err := f.st.GetUser(context.Background(), res.User.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Username != tc.want.Username || got.Email != tc.want.Email || got.FirstName != tc.want.FirstName || got.LastName != tc.want.LastName {
					t.Errorf("stored user %q %q %q %q, want %q %q %q %q", got.Username, got.Email, got.FirstName, got.LastName,
						tc.want.Username, tc.want.Email, tc.want.FirstName, tc.want.LastName)
				}
				if !got.Enabled || got.Role != store.RoleUser || got.PasswordHash != "" || got.OTPRequired {
					t.Errorf("a provisioned user is an enabled plain user with no password: %+v", got)
				}
				sub, _ := tc.claims["sub"].(string)
				if sub == "" {
					sub = "ext-1"
				}
				if f.linkedUser(t, sub) != got.ID {
					t.Errorf("subject %q is not linked to the new user", sub)
				}
			})
		})
	}
}

func TestAMRKeepsShortStrings(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.addProvider(t, store.LinkCreate, nil)
		res, err := f.login(t, issue{claims: map[string]any{"amr": []any{"pwd", 7, strings.Repeat("m", 33), "hwk"}}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.AMR, []string{"pwd", "hwk"}) {
			t.Errorf("AMR %q", res.AMR)
		}
		res, err = f.login(t, issue{claims: map[string]any{"amr": "pwd"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.AMR != nil {
			t.Errorf("AMR from a non-list claim: %q", res.AMR)
		}
	})
}

// TestReturningIdentity: a linked subject signs in as its user whatever its
// claims say now, under every policy; the claims do not rewrite the user.
func TestReturningIdentity(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{store.LinkCreate, store.LinkVerifiedMail, store.LinkExisting} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, f *fixture) {
				f.addProvider(t, policy, nil)
				local := f.addUser(t, "gina", "gina@example.test", true)
				f.link(t, "ext-1", local.ID)
				f.addUser(t, "other", "other@example.test", true)
				res, err := f.login(t, issue{claims: map[string]any{"preferred_username": "other", "email": "other@example.test",
					"email_verified": true, "given_name": "Changed"}})
				if err != nil {
					t.Fatalf("login: %v", err)
				}
				if res.User.ID != local.ID || res.Created || res.Linked {
					t.Fatalf("signed in as %q created %v linked %v, want %q", res.User.Username, res.Created, res.Linked, local.Username)
				}
				got, _ := f.st.GetUser(context.Background(), local.ID)
				if got.Username != "gina" || got.Email != "gina@example.test" || got.FirstName != "" {
					t.Errorf("the claims rewrote the user: %+v", got)
				}
				if n := f.users(t); n != 2 {
					t.Errorf("%d users, want 2", n)
				}
			})
		})
	}
}

// TestLinkingDecisions covers a subject's first login against a local user
// "vera" <vera@example.test>, per policy.
func TestLinkingDecisions(t *testing.T) {
	t.Parallel()
	const (
		linked  = "linked"
		created = "created"
	)
	for _, tc := range []struct {
		name, policy string
		claims       map[string]any
		// want is linked, created, or part of the refusal's reason.
		want     string
		conflict bool // the refusal wraps store.ErrConflict
	}{
		{"verified e-mail links", store.LinkVerifiedMail,
			map[string]any{"email": "vera@example.test", "email_verified": true}, linked, false},
		{"e-mail compared ignoring case", store.LinkVerifiedMail,
			map[string]any{"email": "VERA@Example.TEST", "email_verified": true}, linked, false},
		{"unverified e-mail never links", store.LinkVerifiedMail,
			map[string]any{"email": "vera@example.test", "email_verified": false}, "no verified e-mail", false},
		{"e-mail without email_verified never links", store.LinkVerifiedMail,
			map[string]any{"email": "vera@example.test"}, "no verified e-mail", false},
		{"verified e-mail of nobody: no account is made", store.LinkVerifiedMail,
			map[string]any{"preferred_username": "newbie", "email": "newbie@example.test", "email_verified": true}, "No account here matches", false},
		{"existing-only: a verified e-mail does not link", store.LinkExisting,
			map[string]any{"email": "vera@example.test", "email_verified": true}, "not linked", false},
		{"existing-only: no account is made", store.LinkExisting,
			map[string]any{"preferred_username": "newbie"}, "not linked", false},
		{"unknown policy refuses", "",
			map[string]any{"email": "vera@example.test", "email_verified": true}, "not linked", false},
		{"create: a new subject gets an account", store.LinkCreate,
			map[string]any{"preferred_username": "newbie", "email": "newbie@example.test", "email_verified": true}, created, false},
		{"create: a verified e-mail of a local user does not link, nor take the address", store.LinkCreate,
			map[string]any{"preferred_username": "newbie", "email": "vera@example.test", "email_verified": true}, "already exists", true},
		{"create: an unverified e-mail of a local user makes an account without it", store.LinkCreate,
			map[string]any{"preferred_username": "newbie", "email": "vera@example.test", "email_verified": false}, created, false},
		{"create: a taken username, in another case, is refused", store.LinkCreate,
			map[string]any{"preferred_username": "VERA"}, "already exists", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, f *fixture) {
				f.addProvider(t, tc.policy, nil)
				vera := f.addUser(t, "vera", "vera@example.test", true)
				res, err := f.login(t, issue{claims: tc.claims})
				switch tc.want {
				case linked:
					if err != nil {
						t.Fatalf("login: %v", err)
					}
					if res.User.ID != vera.ID || !res.Linked || res.Created || f.linkedUser(t, "ext-1") != vera.ID {
						t.Fatalf("not linked to vera: user %q linked %v created %v", res.User.Username, res.Linked, res.Created)
					}
					// The next login finds the link.
					res, err = f.login(t, issue{})
					if err != nil || res.User.ID != vera.ID || res.Linked {
						t.Fatalf("second login: %+v %v", res, err)
					}
				case created:
					if err != nil {
						t.Fatalf("login: %v", err)
					}
					if res.User.ID == vera.ID || !res.Created || res.Linked || f.linkedUser(t, "ext-1") != res.User.ID {
						t.Fatalf("no new account: user %q linked %v created %v", res.User.Username, res.Linked, res.Created)
					}
					if verified, _ := tc.claims["email_verified"].(bool); !verified && res.User.Email != "" {
						t.Errorf("an unverified address was kept: %q", res.User.Email)
					}
					if n := f.users(t); n != 2 {
						t.Errorf("%d users, want 2", n)
					}
				default:
					wantReason(t, failure(t, res, err), tc.want)
					if errors.Is(err, store.ErrConflict) != tc.conflict {
						t.Errorf("errors.Is(err, store.ErrConflict) = %v, want %v (%v)", !tc.conflict, tc.conflict, err)
					}
					if n, l := f.users(t), f.linkedUser(t, "ext-1"); n != 1 || l != "" {
						t.Errorf("a refused login left %d users and a link to %q", n, l)
					}
				}
			})
		})
	}
}

func TestDisabledUserIsRefused(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.addProvider(t, store.LinkVerifiedMail, nil)
		linked := f.addUser(t, "hal", "hal@example.test", false)
		f.link(t, "ext-1", linked.ID)
		res, err := f.login(t, issue{})
		fe := failure(t, res, err)
		wantReason(t, fe, "disabled")
		if fe.Err != nil {
			t.Errorf("nothing to log beyond the reason, got %v", fe.Err)
		}

		// Nor can one be reached through a verified e-mail.
		f.addUser(t, "ida", "ida@example.test", false)
		res, err = f.login(t, issue{claims: map[string]any{"sub": "ext-2", "email": "ida@example.test", "email_verified": true}})
		wantReason(t, failure(t, res, err), "disabled")
	})
}

// TestConcurrentFirstLogins: first logins of one new subject at the same time
// make one account; each either signs in to it or is told to try again.
func TestConcurrentFirstLogins(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.addProvider(t, store.LinkCreate, nil)
		const n = 4
		type login struct {
			lt *store.LoginTransaction
			q  url.Values
		}
		var logins [n]login
		for i := range logins {
			logins[i].lt, logins[i].q = f.begin(t, issue{claims: map[string]any{"preferred_username": "jo"}})
		}
		f.up.together = new(sync.WaitGroup)
		f.up.together.Add(n)
		var (
			wg      sync.WaitGroup
			results [n]*federation.Result
			errs    [n]error
		)
		for i := range logins {
			wg.Go(func() {
				results[i], errs[i] = f.svc.Complete(context.Background(), logins[i].lt, "corp", logins[i].q)
			})
		}
		wg.Wait()
		id := f.linkedUser(t, "ext-1")
		if f.users(t) != 1 || id == "" {
			t.Fatalf("%d users, link to %q: want one of each", f.users(t), id)
		}
		for i := range n {
			if errs[i] != nil {
				wantReason(t, failure(t, results[i], errs[i]), "at the same time")
				continue
			}
			if results[i].User.ID != id {
				t.Errorf("login %d signed in as %q, the account is %q", i, results[i].User.ID, id)
			}
		}
	})
}

// TestCallbackFailures maps each way a callback can go wrong to the error
// Complete returns. None creates a user or a link, and every one spends the
// transaction's upstream state.
func TestCallbackFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		is     issue
		setup  func(f *fixture)                               // before the login begins
		tamper func(lt *store.LoginTransaction, q url.Values) // after the upstream answered
		alias  string                                         // the callback's alias, if not corp
		reason string
		// redeemed says whether the code reached the token endpoint.
		redeemed bool
		check    func(t *testing.T, err error)
	}{
		{name: "upstream refused", tamper: func(_ *store.LoginTransaction, q url.Values) {
			q.Del("code")
			q.Set("error", "access_denied")
			q.Set("error_description", "user said no")
		}, reason: "cancelled or refused", check: wantCause("access_denied", "user said no")},
		{name: "upstream failed", tamper: func(_ *store.LoginTransaction, q url.Values) {
			q.Del("code")
			q.Set("error", "temporarily_unavailable")
		}, reason: "could not sign you in", check: wantCause("temporarily_unavailable")},
		{name: "forged state", tamper: func(_ *store.LoginTransaction, q url.Values) { q.Set("state", "forged") },
			reason: "forged, reused or has expired"},
		{name: "forged state carrying an error", tamper: func(_ *store.LoginTransaction, q url.Values) {
			q.Set("state", "forged")
			q.Set("error", "access_denied")
		}, reason: "forged, reused or has expired"},
		{name: "no state", tamper: func(_ *store.LoginTransaction, q url.Values) { q.Del("state") },
			reason: "forged, reused or has expired"},
		{name: "no login under way", tamper: func(lt *store.LoginTransaction, _ url.Values) { *lt = store.LoginTransaction{} },
			reason: "forged, reused or has expired"},
		{name: "callback of another provider", alias: "other", reason: "forged, reused or has expired"},
		{name: "no code", tamper: func(_ *store.LoginTransaction, q url.Values) { q.Del("code") },
			reason: "no authorization code"},
		{name: "client secret refused", setup: func(f *fixture) { f.up.secret = "rotated-upstream" },
			reason: "did not accept", redeemed: true, check: wantOAuthError("invalid_client")},
		{name: "PKCE verifier does not match", tamper: func(lt *store.LoginTransaction, _ url.Values) {
			lt.UpstreamVerifier = oauth2.GenerateVerifier()
		}, reason: "did not accept", redeemed: true, check: wantOAuthError("invalid_grant")},
		{name: "unknown code", tamper: func(_ *store.LoginTransaction, q url.Values) { q.Set("code", "made-up") },
			reason: "did not accept", redeemed: true, check: wantOAuthError("invalid_grant")},
		{name: "no ID token", is: issue{noIDToken: true}, reason: "sent no ID token", redeemed: true},
		{name: "signed with another key", is: issue{signer: newKey(t)}, reason: "ID token is not valid", redeemed: true,
			check: notExpired},
		{name: "wrong audience", is: issue{claims: map[string]any{"aud": "someone-else"}}, reason: "ID token is not valid", redeemed: true,
			check: notExpired},
		{name: "wrong issuer", is: issue{claims: map[string]any{"iss": "https://evil.example"}}, reason: "ID token is not valid", redeemed: true,
			check: notExpired},
		{name: "expired", is: issue{claims: map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}}, reason: "ID token is not valid", redeemed: true,
			check: func(t *testing.T, err error) {
				var exp *oidc.TokenExpiredError
				if !errors.As(err, &exp) {
					t.Errorf("want a *oidc.TokenExpiredError in %v", err)
				}
			}},
		{name: "nonce of another login", is: issue{claims: map[string]any{"nonce": "other-nonce"}}, reason: "ID token is not valid", redeemed: true,
			check: notExpired},
		{name: "no nonce", is: issue{claims: map[string]any{"nonce": nil}}, reason: "ID token is not valid", redeemed: true,
			check: notExpired},
		{name: "no subject", is: issue{claims: map[string]any{"sub": nil, "preferred_username": "nobody"}}, reason: "ID token is not valid", redeemed: true},
		{name: "blank subject", is: issue{claims: map[string]any{"sub": "  ", "preferred_username": "nobody"}}, reason: "ID token is not valid", redeemed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, f *fixture) {
				f.addProvider(t, store.LinkCreate, nil)
				if tc.setup != nil {
					tc.setup(f)
				}
				lt, q := f.begin(t, tc.is)
				if tc.tamper != nil {
					tc.tamper(lt, q)
				}
				alias := "corp"
				if tc.alias != "" {
					alias = tc.alias
				}
				res, err := f.svc.Complete(context.Background(), lt, alias, q)
				fe := failure(t, res, err)
				wantReason(t, fe, tc.reason)
				if tc.check != nil {
					tc.check(t, err)
				}
				if got := f.up.calls() > 0; got != tc.redeemed {
					t.Errorf("code sent to the token endpoint: %v, want %v", got, tc.redeemed)
				}
				if f.users(t) != 0 {
					t.Error("a failed login created a user")
				}
				if lt.UpstreamState+lt.UpstreamNonce+lt.UpstreamVerifier != "" {
					t.Errorf("the upstream state outlived the callback: %+v", lt)
				}
				// The callback cannot be replayed with the same transaction.
				res, err = f.svc.Complete(context.Background(), lt, alias, q)
				wantReason(t, failure(t, res, err), "forged, reused or has expired")
			})
		})
	}
}

// TestCallbackIsSingleUse: a successful callback spends the transaction's
// upstream state, so replaying it fails before any upstream call.
func TestCallbackIsSingleUse(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.addProvider(t, store.LinkCreate, nil)
		lt, q := f.begin(t, issue{})
		if _, err := f.svc.Complete(context.Background(), lt, "corp", q); err != nil {
			t.Fatal(err)
		}
		if lt.UpstreamAlias != "corp" || lt.UpstreamState+lt.UpstreamNonce+lt.UpstreamVerifier != "" {
			t.Errorf("transaction after the callback: %+v", lt)
		}
		res, err := f.svc.Complete(context.Background(), lt, "corp", q)
		wantReason(t, failure(t, res, err), "forged, reused or has expired")
		if f.up.calls() != 1 {
			t.Errorf("%d token requests, want 1", f.up.calls())
		}
	})
}

// wantCause checks that the error for the log carries each of parts.
func wantCause(parts ...string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var fe *federation.Error
		errors.As(err, &fe)
		for _, p := range parts {
			if fe.Err == nil || !strings.Contains(fe.Err.Error(), p) {
				t.Errorf("cause %v does not mention %q", fe.Err, p)
			}
		}
	}
}

// wantOAuthError checks that err carries the token endpoint's error code.
func wantOAuthError(code string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != code {
			t.Errorf("want an *oauth2.RetrieveError %q in %v", code, err)
		}
	}
}

// notExpired checks that a rejected ID token is not reported as expired, and
// that the cause is kept for the log.
func notExpired(t *testing.T, err error) {
	t.Helper()
	var exp *oidc.TokenExpiredError
	var fe *federation.Error
	if errors.As(err, &exp) || !errors.As(err, &fe) || fe.Err == nil {
		t.Errorf("want a logged cause other than expiry: %v", err)
	}
}

// voidFails is a store whose voiding of a user's links fails.
type voidFails struct{ store.Store }

func (voidFails) DeleteUnusedActionTokens(context.Context, string) error {
	return errors.New("voiding failed")
}

// TestProfileSyncIsOneWrite: a synced e-mail address and the voiding of the
// links sent to the old one happen together or not at all, so that a
// failure is retried whole at the next login.
func TestProfileSyncIsOneWrite(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.addProvider(t, store.LinkExisting, func(p *store.Provider) { p.SyncProfile = true })
		u := f.addUser(t, "hana", "hana@old.test", true)
		f.link(t, "ext-hana", u.ID)
		now := time.Now().UTC()
		link := &store.ActionToken{ID: store.NewID(), UserID: u.ID, Kind: store.ActionReset, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := f.st.CreateActionToken(ctx, link); err != nil {
			t.Fatal(err)
		}
		moved := issue{claims: map[string]any{"sub": "ext-hana", "email": "hana@new.test", "email_verified": true}}
		f.svc.Store = voidFails{f.st}
		if _, err := f.login(t, moved); err == nil {
			t.Fatal("the login went on although the old links could not be voided")
		}
		if got, _ := f.st.GetUser(ctx, u.ID); got.Email != "hana@old.test" {
			t.Errorf("after the failed sync the address is %q, want the old one kept", got.Email)
		}
		f.svc.Store = f.st
		if _, err := f.login(t, moved); err != nil {
			t.Fatalf("the next login: %v", err)
		}
		if got, _ := f.st.GetUser(ctx, u.ID); got.Email != "hana@new.test" {
			t.Errorf("after the next login the address is %q", got.Email)
		}
		if _, err := f.st.GetActionToken(ctx, link.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the link sent to the old address: %v, want it voided", err)
		}
	})
}
