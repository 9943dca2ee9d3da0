package oauth

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/authz/authz/internal/store"
)

func storedSession(t *testing.T, subject string) []byte {
	t.Helper()
	s := NewSession(subject)
	s.Claims.Audience = []string{"app"}
	s.Claims.AuthenticationMethodsReferences = []string{"pwd", "otp"}
	s.Claims.Extra["sid"] = "s1"
	s.Claims.Extra["groups"] = []any{"a", "b"}
	s.Headers.Extra["kid"] = "k1"
	s.SetExpiresAt(fosite.AccessToken, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// A cached decode gives what json.Unmarshal gives, on the first read and on
// every later one, and what one caller changes in its copy no other sees.
func TestSessionCacheDecodesAsJSON(t *testing.T) {
	var c sessionCache
	raw := storedSession(t, "alice")
	want := NewSession("")
	if err := json.Unmarshal(raw, want); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		got := NewSession("")
		if err := c.decode(raw, got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("read %d: %+v, want %+v", i, got, want)
		}
		// What fosite and the handlers do to a session they hold.
		got.Claims.Extra["sid"] = "changed"
		got.Claims.Audience[0] = "changed"
		got.Claims.AuthenticationMethodsReferences[0] = "changed"
		got.Headers.Extra["kid"] = "changed"
		got.SetExpiresAt(fosite.AccessToken, time.Time{})
		got.Claims.Subject = "changed"
	}
}

func TestSessionCacheBoundedAndRejectsBadJSON(t *testing.T) {
	var c sessionCache
	for i := range maxCachedSessions + 10 {
		if err := c.decode(storedSession(t, fmt.Sprint(i)), NewSession("")); err != nil {
			t.Fatal(err)
		}
	}
	// One entry goes for each new one past the bound, not all of them.
	if n := len(c.m); n != maxCachedSessions {
		t.Errorf("%d sessions cached, want the bound %d", n, maxCachedSessions)
	}
	before := len(c.m)
	if err := c.decode([]byte(`{"id_token_claims":`), NewSession("")); err == nil {
		t.Error("truncated JSON decoded")
	}
	if len(c.m) != before {
		t.Error("a session that failed to decode was cached")
	}
}

// Only access token sessions go through the cache: a refresh token's or a
// code's is decoded each time.
func TestStorageCachesAccessSessionsOnly(t *testing.T) {
	s := &Storage{}
	raw := storedSession(t, "bob")
	for _, kind := range []string{store.TokenRefresh, store.TokenCode} {
		if err := s.decodeSession(kind, raw, NewSession("")); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.accessSessions.m) != 0 {
		t.Fatal("a refresh or code session was cached")
	}
	var got openid.DefaultSession
	if err := s.decodeSession(store.TokenAccess, raw, &got); err != nil {
		t.Fatal(err)
	}
	if len(s.accessSessions.m) != 1 || got.Subject != "bob" {
		t.Errorf("access session: cached %d, subject %q", len(s.accessSessions.m), got.Subject)
	}
}
