package server

import (
	"encoding/json"
	"math"
	"net/url"
	"strings"
	"testing"
)

// Allocations per request of the two endpoints issue 18 gives a CPU budget,
// through the whole handler chain on SQLite (the request and recorder of
// the test included). Garbage collection costs in proportion to what is
// allocated, and unlike time these counts do not move with the host. The
// bounds are the counts of this version, with a little room; raise them
// only for a reason worth the CPU.
const (
	maxIntrospectionAllocs     = 225 // 245 before session 12
	maxClientCredentialsAllocs = 210 // 215 before session 12
)

func TestTokenEndpointAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	a := benchApp(t, "--data-dir", t.TempDir())
	h := a.Handler()
	id, secret := benchClient(t, a)
	issue := url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}.Encode()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(benchPost(t, h, "/oauth2/token", issue, id, secret), &tok); err != nil {
		t.Fatal(err)
	}
	introspect := url.Values{"token": {tok.AccessToken}}.Encode()
	// An answer that the token is inactive would cost less.
	if body := benchPost(t, h, "/oauth2/introspect", introspect, id, secret); !strings.Contains(string(body), `"active":true`) {
		t.Fatalf("introspection: %s", body)
	}
	for _, c := range []struct {
		name, path, form string
		max              float64
	}{
		{"introspection", "/oauth2/introspect", introspect, maxIntrospectionAllocs},
		{"client credentials", "/oauth2/token", issue, maxClientCredentialsAllocs},
	} {
		// The least of three: the App's background work (the SQLite
		// checkpointer) allocates too, now and then.
		n := math.Inf(1)
		for range 3 {
			n = min(n, testing.AllocsPerRun(300, func() { benchPost(t, h, c.path, c.form, id, secret) }))
		}
		t.Logf("%s: %.0f allocations a request", c.name, n)
		if n > c.max+raceAllocs {
			t.Errorf("%s: %.0f allocations a request, more than %.0f", c.name, n, c.max+raceAllocs)
		}
	}
}
