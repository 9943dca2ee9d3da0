package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/authz/authz/internal/store"
)

// TestIntrospectionAsFosite: the answer is byte for byte the one fosite's
// WriteIntrospectionResponse gives for the same token, with the same headers.
func TestIntrospectionAsFosite(t *testing.T) {
	at := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	full := func() *fosite.Request {
		s := NewSession("user-1")
		s.Username = "alice"
		s.SetExpiresAt(fosite.AccessToken, at.Add(time.Hour))
		r := &fosite.Request{ID: "req", RequestedAt: at, Client: &fosite.DefaultClient{ID: "web"},
			GrantedScope: fosite.Arguments{"openid", "profile"}, GrantedAudience: fosite.Arguments{"web", "api"},
			Session: s}
		return r
	}
	bare := func() *fosite.Request {
		return &fosite.Request{Client: &fosite.DefaultClient{ID: "svc"}, Session: &openid.DefaultSession{}}
	}
	hostile := func() *fosite.Request {
		r := full()
		r.Session.(*openid.DefaultSession).Subject = "<script>&\"\u2028"
		r.GrantedScope = fosite.Arguments{"a&b", "<c>"}
		return r
	}
	for name, r := range map[string]*fosite.Request{"full": full(), "bare": bare(), "hostile": hostile(), "inactive": nil} {
		t.Run(name, func(t *testing.T) {
			ir, ar := &fosite.IntrospectionResponse{}, fosite.Requester(nil)
			if r != nil {
				ir, ar = &fosite.IntrospectionResponse{Active: true, AccessRequester: &fosite.AccessRequest{Request: *r}}, r
			}
			want := httptest.NewRecorder()
			(&fosite.Fosite{}).WriteIntrospectionResponse(context.Background(), want, ir)
			if r != nil {
				withKind(t, want.Body, "Bearer", "access_token")
			}
			got := httptest.NewRecorder()
			writeIntrospection(got, fosite.AccessToken, ar)
			if got.Body.String() != want.Body.String() {
				t.Errorf("body\n got %s\nwant %s", got.Body, want.Body)
			}
			for _, h := range []string{"Content-Type", "Cache-Control", "Pragma"} {
				if got.Header().Get(h) != want.Header().Get(h) {
					t.Errorf("%s: got %q, want %q", h, got.Header().Get(h), want.Header().Get(h))
				}
			}
			if got.Code != want.Code {
				t.Errorf("status %d, want %d", got.Code, want.Code)
			}
		})
	}
}

// withKind adds the members that say what kind of token it is to fosite's
// answer in body, encoded as fosite encodes it.
func withKind(t *testing.T, body *bytes.Buffer, tokenType, use string) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(body.Bytes()))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	m["token_type"], m["token_use"] = tokenType, use
	body.Reset()
	if err := json.NewEncoder(body).Encode(m); err != nil {
		t.Fatal(err)
	}
}

// TestIntrospectionOfRefreshToken: a refresh token is reported with its own
// expiry, not its access token's (RFC 7662 §2.2), and as no bearer token.
func TestIntrospectionOfRefreshToken(t *testing.T) {
	at := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	s := NewSession("user-1")
	s.SetExpiresAt(fosite.AccessToken, at.Add(time.Hour))
	s.SetExpiresAt(fosite.RefreshToken, at.Add(720*time.Hour))
	r := &fosite.Request{RequestedAt: at, Client: &fosite.DefaultClient{ID: "web"}, Session: s}
	if got := introspectionOf(fosite.RefreshToken, r); got.Exp != at.Add(720*time.Hour).Unix() || got.TokenType != "" || got.TokenUse != "refresh_token" {
		t.Errorf("refresh token exp %d (want %d), token_type %q, token_use %q", got.Exp, at.Add(720*time.Hour).Unix(), got.TokenType, got.TokenUse)
	}
	if got := introspectionOf(fosite.AccessToken, r).Exp; got != at.Add(time.Hour).Unix() {
		t.Errorf("access token exp %d, want %d", got, at.Add(time.Hour).Unix())
	}
}

// TestMayIntrospect: an access token is told to its client, its audience and
// a resource server allowed every token; a refresh token to its client only.
func TestMayIntrospect(t *testing.T) {
	r := &fosite.Request{Client: &fosite.DefaultClient{ID: "web"}, GrantedAudience: fosite.Arguments{"web", "api"}, Session: NewSession("u")}
	own, audience, every, other := &store.Client{ID: "web"}, &store.Client{ID: "api"}, &store.Client{ID: "rs", IntrospectAny: true}, &store.Client{ID: "x"}
	for _, tc := range []struct {
		caller *store.Client
		use    fosite.TokenUse
		want   bool
	}{
		{own, fosite.AccessToken, true}, {audience, fosite.AccessToken, true}, {every, fosite.AccessToken, true}, {other, fosite.AccessToken, false},
		{own, fosite.RefreshToken, true}, {audience, fosite.RefreshToken, false}, {every, fosite.RefreshToken, false}, {other, fosite.RefreshToken, false},
	} {
		if got := mayIntrospect(tc.caller, tc.use, r); got != tc.want {
			t.Errorf("%s asking about a %s: %v, want %v", tc.caller.ID, tc.use, got, tc.want)
		}
	}
}
