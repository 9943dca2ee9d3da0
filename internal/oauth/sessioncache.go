package oauth

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"sync"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
)

// maxCachedSessions bounds the decoded access token sessions kept: about
// 2 KB each with their key, so at most a few MB.
const maxCachedSessions = 1024

// sessionCache keeps access token sessions decoded, keyed by their stored
// JSON. A resource server introspects the same token on every call it
// serves, and decoding fosite's session with encoding/json was a tenth of
// an introspection's CPU. Only the decoding is cached: the token's row is
// still read on every use, so a revocation or expiry takes effect at once
// on every replica.
type sessionCache struct {
	mu sync.Mutex
	m  map[string]*openid.DefaultSession
}

// decode fills dst with the session stored as raw, as json.Unmarshal into a
// fresh NewSession("") would. dst receives its own copy of every map and
// slice of the session; values nested inside the Extra maps are shared and
// must not be modified (fosite and authz only read or replace them).
func (c *sessionCache) decode(raw []byte, dst *openid.DefaultSession) error {
	c.mu.Lock()
	cached, ok := c.m[string(raw)]
	c.mu.Unlock()
	if !ok {
		cached = NewSession("")
		if err := unmarshalSession(raw, cached); err != nil {
			return err
		}
		c.mu.Lock()
		if c.m == nil {
			c.m = make(map[string]*openid.DefaultSession)
		}
		if len(c.m) >= maxCachedSessions {
			// One entry goes, whichever the map's iteration starts at: a
			// random eviction, so that more tokens in use than the bound
			// still find most of theirs.
			for k := range c.m {
				delete(c.m, k)
				break
			}
		}
		c.m[string(raw)] = cached
		c.mu.Unlock()
	}
	*dst = cloneSession(cached)
	return nil
}

// cloneSession copies s down to its maps and slices.
func cloneSession(s *openid.DefaultSession) openid.DefaultSession {
	c := *s
	if s.Claims != nil {
		claims := *s.Claims
		claims.Audience = slices.Clone(s.Claims.Audience)
		claims.AuthenticationMethodsReferences = slices.Clone(s.Claims.AuthenticationMethodsReferences)
		claims.Extra = maps.Clone(s.Claims.Extra)
		c.Claims = &claims
	}
	if s.Headers != nil {
		headers := *s.Headers
		headers.Extra = maps.Clone(s.Headers.Extra)
		c.Headers = &headers
	}
	c.ExpiresAt = maps.Clone(s.ExpiresAt)
	return c
}

// unmarshalSession is json.Unmarshal of a stored session, but for the whole
// numbers among the claims: JSON gives them back as float64, which fosite's
// JWT encoder writes as 1.796642676e+09, and a relying party that declares
// updated_at an integer (OIDC Core §5.1: seconds) cannot decode it.
func unmarshalSession(raw []byte, sess fosite.Session) error {
	if err := json.Unmarshal(raw, sess); err != nil {
		return err
	}
	if ds, ok := sess.(*openid.DefaultSession); ok && ds.Claims != nil {
		for k, v := range ds.Claims.Extra {
			if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				ds.Claims.Extra[k] = int64(f)
			}
		}
	}
	return nil
}
