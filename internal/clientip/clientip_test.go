package clientip

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestResolve(t *testing.T) {
	res := Resolver{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	cases := []struct {
		name, remote, xff, want string
	}{
		{"direct client, header ignored", "203.0.113.5:1234", "1.2.3.4", "203.0.113.5"},
		{"trusted proxy", "10.0.0.2:80", "198.51.100.7", "198.51.100.7"},
		{"forged left part ignored", "10.0.0.2:80", "6.6.6.6, 198.51.100.7", "198.51.100.7"},
		{"chain of trusted proxies", "10.0.0.2:80", "198.51.100.7, 10.1.1.1", "198.51.100.7"},
		{"garbage header", "10.0.0.2:80", "not-an-ip", "10.0.0.2"},
		{"no header", "10.0.0.2:80", "", "10.0.0.2"},
		{"ipv4-mapped peer", "[::ffff:10.0.0.2]:80", "198.51.100.9", "198.51.100.9"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := res.Resolve(r).String(); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

// FuzzResolve feeds arbitrary peers and X-Forwarded-For headers: the answer is
// always the peer or one of the header's addresses, never a panic.
func FuzzResolve(f *testing.F) {
	f.Add("10.0.0.2:80", "198.51.100.7, 10.1.1.1")
	f.Add("[::1]:1", "::ffff:1.2.3.4,,")
	f.Add("garbage", "\x00")
	res := Resolver{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got := res.Resolve(r)
		if !got.IsValid() {
			return
		}
		candidates := []netip.Addr{remoteAddr(r)}
		for _, h := range forwardedHops(r.Header.Values("X-Forwarded-For")) {
			if a, err := netip.ParseAddr(h); err == nil {
				candidates = append(candidates, a.Unmap())
			}
		}
		for _, c := range candidates {
			if c == got {
				return
			}
		}
		t.Fatalf("Resolve(%q, %q) = %s, not from the request", remote, xff, got)
	})
}
