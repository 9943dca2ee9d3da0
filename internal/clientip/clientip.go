// Package clientip decides the address of the client behind a request, believing
// X-Forwarded-For only when the request comes from a trusted proxy.
package clientip

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds client addresses.
type Resolver struct {
	// Trusted are the proxies whose X-Forwarded-For is believed.
	Trusted []netip.Prefix
}

func (res Resolver) trusted(a netip.Addr) bool {
	for _, p := range res.Trusted {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// Resolve returns the client address of r. It walks X-Forwarded-For from the
// right, skipping trusted proxies, and stops at the first untrusted hop: anything
// left of it may be forged by the client.
func (res Resolver) Resolve(r *http.Request) netip.Addr {
	peer := remoteAddr(r)
	if !peer.IsValid() || !res.trusted(peer) {
		return peer
	}
	hops := forwardedHops(r.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return peer
		}
		a = a.Unmap()
		if !res.trusted(a) {
			return a
		}
		peer = a
	}
	return peer
}

func forwardedHops(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	return hops
}

func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

type ctxKey struct{}

// Middleware stores the resolved client address in the request context.
func (res Resolver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), ctxKey{}, res.Resolve(r))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// NewContext returns ctx carrying addr as the client address, as Middleware
// does; a string that is not an address is ignored.
func NewContext(ctx context.Context, addr string) context.Context {
	a, _ := netip.ParseAddr(addr)
	return context.WithValue(ctx, ctxKey{}, a)
}

// FromContext returns the address stored by Middleware, or "" when none.
func FromContext(ctx context.Context) string {
	a, ok := ctx.Value(ctxKey{}).(netip.Addr)
	if !ok || !a.IsValid() {
		return ""
	}
	return a.String()
}
