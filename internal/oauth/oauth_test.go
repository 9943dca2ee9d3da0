package oauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ory/fosite"
	"github.com/ory/x/errorsx"

	"github.com/authz/authz/internal/store"
)

func TestSecretHasher(t *testing.T) {
	h := SecretHasher{Key: []byte("0123456789abcdef0123456789abcdef")}
	secret, hash, err := h.NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 43 {
		t.Errorf("a secret is 32 random bytes in base64url, got %d characters", len(secret))
	}
	ctx := context.Background()
	if err := h.Compare(ctx, hash, []byte(secret)); err != nil {
		t.Errorf("right secret: %v", err)
	}
	if err := h.Compare(ctx, hash, []byte(secret+"x")); !errors.Is(err, fosite.ErrRequestUnauthorized) {
		t.Errorf("wrong secret: %v", err)
	}
	if err := h.Compare(ctx, nil, []byte("")); err == nil {
		t.Error("an empty stored hash must never match")
	}
	other := SecretHasher{Key: []byte("another key, also 32 bytes long!")}
	if err := other.Compare(ctx, hash, []byte(secret)); err == nil {
		t.Error("the hash must depend on the server key")
	}
	if _, err := (SecretHasher{Key: []byte("short")}).Hash(ctx, []byte("x")); err == nil {
		t.Error("a short key must be refused")
	}
}

func TestValidateRedirectURI(t *testing.T) {
	good := []string{"https://app.example/cb", "http://127.0.0.1:8000/cb", "http://localhost/cb", "http://[::1]:9/cb", "https://app.example/cb?x=1"}
	bad := []string{"app.example/cb", "https://app.example/cb#frag", "http://app.example/cb", "https://*.example/cb", "ftp://x/cb", "https://user:pw@app.example/cb", "javascript:alert(1)", ""}
	for _, u := range good {
		if err := ValidateRedirectURI("redirect_uris", u); err != nil {
			t.Errorf("%q: %v", u, err)
		}
	}
	for _, u := range bad {
		var fe *FieldError
		if err := ValidateRedirectURI("redirect_uris", u); !errors.As(err, &fe) || fe.Field != "redirect_uris" {
			t.Errorf("%q must be refused with the field named, got %v", u, err)
		}
	}
}

func TestValidateClientFields(t *testing.T) {
	cb := []string{"https://a.example/cb"}
	cases := []struct {
		name      string
		public    bool
		redirects []string
		grants    []string
		scopes    []string
		field     string
	}{
		{"public with client_credentials", true, cb, []string{"client_credentials"}, nil, "grant_types"},
		{"unknown grant", false, cb, []string{"password"}, nil, "grant_types"},
		{"code without redirect", false, nil, []string{"authorization_code"}, nil, "redirect_uris"},
		{"no grants", false, cb, nil, nil, "grant_types"},
		{"bad scope", false, cb, []string{"authorization_code"}, []string{"a b"}, "scopes"},
		{"duplicate redirect", false, append(cb, cb...), []string{"authorization_code"}, nil, "redirect_uris"},
	}
	for _, c := range cases {
		var fe *FieldError
		err := ValidateClientFields("App", c.public, c.redirects, nil, c.grants, c.scopes)
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: got %v, want a %s error", c.name, err, c.field)
		}
	}
	if err := ValidateClientFields("App", false, cb, nil, []string{"authorization_code", "refresh_token"}, []string{"openid"}); err != nil {
		t.Errorf("a valid client: %v", err)
	}
}

func TestLogFailure(t *testing.T) {
	var logged bytes.Buffer
	p := &Provider{log: slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	// As fosite reports a storage error: wrapped in server_error, with a stack.
	storageErr := func(cause error) error {
		return errorsx.WithStack(fosite.ErrServerError.WithWrap(cause).WithDebug(cause.Error()))
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	live := httptest.NewRequest(http.MethodPost, "/oauth2/token", nil)

	p.logFailure(live.WithContext(gone), "token endpoint failed", storageErr(fmt.Errorf("sqlite: create token: %w", context.Canceled)))
	if logged.Len() != 0 {
		t.Errorf("a client that hung up was logged as a failure: %s", logged.String())
	}
	p.logFailure(live, "token endpoint failed", fosite.ErrInvalidGrant)
	if logged.Len() != 0 {
		t.Errorf("a client error was logged as a failure: %s", logged.String())
	}
	// A cancellation the client did not cause (the request is still live)
	// is a failure of ours.
	p.logFailure(live, "token endpoint failed", storageErr(fmt.Errorf("pool: %w", context.Canceled)))
	if !strings.Contains(logged.String(), "level=ERROR") {
		t.Errorf("a cancellation on a live request must be logged: %q", logged.String())
	}
	logged.Reset()
	p.logFailure(live, "token endpoint failed", storageErr(errors.New("disk full")))
	if !strings.Contains(logged.String(), "level=ERROR") || !strings.Contains(logged.String(), "disk full") {
		t.Errorf("a server error must be logged: %q", logged.String())
	}
}

// usersOnly is a store that knows users only.
type usersOnly struct {
	store.Store
	users map[string]*store.User
	err   error
}

func (s usersOnly) GetUser(_ context.Context, id string) (*store.User, error) {
	if s.err != nil {
		return nil, s.err
	}
	if u, ok := s.users[id]; ok {
		return u, nil
	}
	return nil, store.ErrNotFound
}

func TestSubjectEnabled(t *testing.T) {
	users := map[string]*store.User{"on": {ID: "on", Enabled: true}, "off": {ID: "off"}}
	p := &Provider{store: usersOnly{users: users}}
	ctx := context.Background()
	if err := p.subjectEnabled(ctx, "on"); err != nil {
		t.Errorf("enabled user: %v", err)
	}
	for _, id := range []string{"off", "gone"} {
		if err := p.subjectEnabled(ctx, id); !errors.Is(err, fosite.ErrInvalidGrant) {
			t.Errorf("%s: %v, want invalid_grant", id, err)
		}
	}
	// An outage must come out as 503 (storeDown), not as a refused grant.
	p.store = usersOnly{err: fmt.Errorf("get user: %w", store.ErrUnavailable)}
	err := p.subjectEnabled(ctx, "on")
	if errors.Is(err, fosite.ErrInvalidGrant) || !storeDown(err) {
		t.Errorf("store down: %v", err)
	}
	// So must a transaction lost to a concurrent one: nothing was refused.
	p.store = usersOnly{err: fmt.Errorf("get user: %w", store.ErrRetry)}
	err = p.subjectEnabled(ctx, "on")
	if errors.Is(err, fosite.ErrInvalidGrant) || !storeDown(err) {
		t.Errorf("transaction lost: %v", err)
	}
}
