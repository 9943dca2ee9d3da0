package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	jose4 "github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"

	"github.com/authz/authz/internal/store"
)

// private_key_jwt client authentication (RFC 7523 §2.2, OIDC Core §9): the
// client signs a short-lived JWT with its own key; authz verifies it with the
// client's registered JWKS, or the one at its jwks_uri, and records its jti
// in the store, so that a replay is refused on every replica.

// clientAssertionType is the only client_assertion_type accepted.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

const (
	// maxAssertion bounds a client assertion; real ones are under 2 KiB.
	maxAssertion = 8 << 10
	// maxAssertionLifetime bounds exp - now: an assertion is for one
	// request, and its jti is kept until it expires.
	maxAssertionLifetime = time.Hour
	// assertionSkew is how far the client's clock may run ahead of ours.
	assertionSkew = 30 * time.Second
)

// assertionAlgs are the signature algorithms accepted in client assertions:
// asymmetric only, so no shared secret is ever involved.
var assertionAlgs = []jose4.SignatureAlgorithm{
	jose4.RS256, jose4.RS384, jose4.RS512, jose4.PS256, jose4.PS384, jose4.PS512,
	jose4.ES256, jose4.ES384, jose4.ES512, jose4.EdDSA,
}

// AssertionAlgorithms names assertionAlgs, for discovery.
func AssertionAlgorithms() []string {
	out := make([]string, len(assertionAlgs))
	for i, a := range assertionAlgs {
		out[i] = string(a)
	}
	return out
}

// assertionClaims are the claims RFC 7523 §3 requires.
type assertionClaims struct {
	Issuer    string        `json:"iss"`
	Subject   string        `json:"sub"`
	Audience  jose4Audience `json:"aud"`
	Expiry    *json.Number  `json:"exp"`
	NotBefore *json.Number  `json:"nbf"`
	IssuedAt  *json.Number  `json:"iat"`
	ID        string        `json:"jti"`
}

// jose4Audience reads aud as a string or a list of strings.
type jose4Audience []string

func (a *jose4Audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor a list of strings")
	}
	*a = many
	return nil
}

func numericDate(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// assertionError is the invalid_client answer to a bad assertion, saying
// what was wrong with it: the client signed it, so this tells nobody else
// anything.
func assertionError(hint string) error { return fosite.ErrInvalidClient.WithHint(hint) }

// authenticateAssertion authenticates the client of a client_assertion in
// form, posted to the endpoint at endpointURL, and returns it.
func (p *Provider) authenticateAssertion(ctx context.Context, form map[string][]string, endpointURL string) (*store.Client, error) {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if get("client_assertion_type") != clientAssertionType {
		return nil, fosite.ErrInvalidRequest.WithHintf("The client_assertion_type must be %s.", clientAssertionType)
	}
	jws, claims, err := parseAssertion(get("client_assertion"))
	if err != nil {
		return nil, err
	}
	id := claims.Subject
	if cid := get("client_id"); id == "" || (cid != "" && cid != id) {
		return nil, assertionError("The client_assertion's sub must be the client_id.")
	}
	c, err := p.store.GetClient(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errUnauthenticated
	case err != nil:
		return nil, err
	case c.Disabled || c.TokenAuthMethod != store.AuthPrivateKeyJWT:
		return nil, errUnauthenticated
	}
	h := jws.Signatures[0].Header
	keys, err := p.clientKeys(ctx, c, h.KeyID, h.Algorithm)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(keys, func(k any) bool { _, err := jws.Verify(k); return err == nil }) {
		return nil, assertionError("The client_assertion's signature does not verify with the client's keys.")
	}
	if err := p.checkAssertionClaims(claims, id, endpointURL); err != nil {
		return nil, err
	}
	// Kept as long as the assertion passes checkAssertionClaims, skew
	// included: a jti forgotten at exp could be replayed within the skew.
	exp, _ := numericDate(claims.Expiry)
	if err := p.store.UseAssertionJTI(ctx, jtiKey(id, claims.ID), exp.Add(assertionSkew).UTC(), p.now()); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, assertionError("The client_assertion was used before; its jti must be new for every request.")
		}
		return nil, err
	}
	return c, nil
}

// parseAssertion parses a client assertion, before its signature is
// checked: the claims say whose keys to check it with.
func parseAssertion(raw string) (*jose4.JSONWebSignature, *assertionClaims, error) {
	if raw == "" || len(raw) > maxAssertion {
		return nil, nil, fosite.ErrInvalidRequest.WithHint("The client_assertion is missing or too long.")
	}
	jws, err := jose4.ParseSignedCompact(raw, assertionAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, nil, assertionError("The client_assertion is not a JWT signed with an asymmetric algorithm.")
	}
	var claims assertionClaims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims); err != nil {
		return nil, nil, assertionError("The claims of the client_assertion cannot be read.")
	}
	return jws, &claims, nil
}

// checkAssertionClaims checks the claims of a verified assertion of client id.
func (p *Provider) checkAssertionClaims(c *assertionClaims, id, endpointURL string) error {
	now := p.now()
	exp, ok := numericDate(c.Expiry)
	switch {
	case c.Issuer != id:
		return assertionError("The client_assertion's iss must be the client_id.")
	case !ok:
		return assertionError("The client_assertion has no exp.")
	case !exp.After(now.Add(-assertionSkew)):
		return assertionError("The client_assertion has expired.")
	case exp.After(now.Add(maxAssertionLifetime)):
		return assertionError("The client_assertion's exp is too far in the future (at most one hour).")
	case c.ID == "" || len(c.ID) > 256:
		return assertionError("The client_assertion needs a jti of at most 256 characters.")
	}
	if nbf, ok := numericDate(c.NotBefore); ok && nbf.After(now.Add(assertionSkew)) {
		return assertionError("The client_assertion is not valid yet (nbf).")
	}
	if iat, ok := numericDate(c.IssuedAt); ok && iat.After(now.Add(assertionSkew)) {
		return assertionError("The client_assertion was issued in the future (iat).")
	}
	// OIDC Core §9 names the token endpoint; RFC 7523 the authorization
	// server, which its issuer identifies; a client may also name the
	// endpoint it calls.
	accepted := []string{p.cfg.Issuer, p.cfg.Issuer + "/oauth2/token", endpointURL}
	if !slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(accepted, a) }) {
		return assertionError("The client_assertion's aud must be this server's issuer or token endpoint URL.")
	}
	return nil
}

// jtiKey is the store key of a client's jti: bounded in length, and one
// client's jti cannot block another's.
func jtiKey(clientID, jti string) string {
	sum := sha256.Sum256([]byte(clientID + "\x00" + jti))
	return hex.EncodeToString(sum[:])
}

func (p *Provider) now() time.Time {
	if p.cfg.Now != nil {
		return p.cfg.Now().UTC()
	}
	return time.Now().UTC()
}

// clientKeys finds the keys of c that may verify an assertion with header
// kid and alg: from the registered JWKS, or from jwks_uri, fetched again once
// when no key fits (the client rotated its keys). Without a kid every key
// for alg is a candidate, as a client with several keys need not name one.
func (p *Provider) clientKeys(ctx context.Context, c *store.Client, kid, alg string) ([]any, error) {
	var set *jose4.JSONWebKeySet
	switch {
	case c.JWKS != "":
		s, err := ParseClientJWKS(c.JWKS)
		if err != nil {
			return nil, assertionError("The client's registered keys cannot be read.")
		}
		set = s
	case c.JWKSURI != "":
		s, err := p.clientJWKS.get(ctx, c.JWKSURI, false)
		if err != nil {
			return nil, err
		}
		if len(findKeys(s, kid, alg)) == 0 {
			if s, err = p.clientJWKS.get(ctx, c.JWKSURI, true); err != nil {
				return nil, err
			}
		}
		set = s
	default:
		return nil, assertionError("The client has no keys registered.")
	}
	if keys := findKeys(set, kid, alg); len(keys) > 0 {
		return keys, nil
	}
	if kid != "" {
		return nil, assertionError(fmt.Sprintf("The client has no signing key with kid %q for %s.", truncate(kid, 64), truncate(alg, 16)))
	}
	return nil, assertionError("The client has no signing key for " + truncate(alg, 16) + ".")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// findKeys returns the public signing keys of set with kid (any kid when
// empty) whose declared algorithm, if any, is alg.
func findKeys(set *jose4.JSONWebKeySet, kid, alg string) []any {
	var keys []any
	for i := range set.Keys {
		k := &set.Keys[i]
		if (kid != "" && k.KeyID != kid) || (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && k.Algorithm != alg) {
			continue
		}
		if k.IsPublic() {
			keys = append(keys, k.Key)
		}
	}
	return keys
}

// ParseClientJWKS parses a client's JSON Web Key Set: public keys only, at
// least one.
func ParseClientJWKS(raw string) (*jose4.JSONWebKeySet, error) {
	var set jose4.JSONWebKeySet
	if err := json.Unmarshal([]byte(raw), &set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("the key set has no keys")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return nil, fmt.Errorf("key %q is private: register public keys only", k.KeyID)
		}
	}
	return &set, nil
}

// jwksCache fetches and caches clients' jwks_uri documents.
type jwksCache struct {
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*jwksEntry
}

type jwksEntry struct {
	set       *jose4.JSONWebKeySet
	fetchedAt time.Time
}

const (
	// jwksTTL is how long a fetched client JWKS is used.
	jwksTTL = 5 * time.Minute
	// jwksMinRefetch bounds how often an unknown kid fetches a JWKS again, so
	// that made-up kids cannot make authz hammer a client's server.
	jwksMinRefetch = 10 * time.Second
	// maxJWKS bounds a fetched JWKS document.
	maxJWKS = 256 << 10
	// maxCachedJWKS bounds the cache: it starts over past it.
	maxCachedJWKS = 1000
)

func newJWKSCache(now func() time.Time) *jwksCache {
	// Redirects are not followed: the registered URI is the one an
	// administrator checked, and a redirect could point authz's requests at
	// internal addresses.
	noRedirects := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &jwksCache{client: &http.Client{Timeout: 5 * time.Second, CheckRedirect: noRedirects}, now: now, entries: map[string]*jwksEntry{}}
}

// get returns the key set at uri, cached for jwksTTL; force fetches it again
// unless that was done within jwksMinRefetch.
func (c *jwksCache) get(ctx context.Context, uri string, force bool) (*jose4.JSONWebKeySet, error) {
	now := c.now()
	c.mu.Lock()
	e := c.entries[uri]
	c.mu.Unlock()
	if e != nil {
		age := now.Sub(e.fetchedAt)
		if age < jwksTTL && (!force || age < jwksMinRefetch) {
			return e.set, nil
		}
	}
	set, err := c.fetch(ctx, uri)
	if err != nil {
		if e != nil && now.Sub(e.fetchedAt) < jwksTTL {
			return e.set, nil // a failed refresh keeps the keys we had
		}
		return nil, fosite.ErrInvalidClient.WithHint("The client's jwks_uri could not be fetched.").WithWrap(err)
	}
	c.mu.Lock()
	if len(c.entries) >= maxCachedJWKS {
		c.entries = map[string]*jwksEntry{}
	}
	c.entries[uri] = &jwksEntry{set: set, fetchedAt: now}
	c.mu.Unlock()
	return set, nil
}

func (c *jwksCache) fetch(ctx context.Context, uri string) (*jose4.JSONWebKeySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oauth: fetch client JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oauth: fetch client JWKS: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil {
		return nil, fmt.Errorf("oauth: read client JWKS: %w", err)
	}
	if len(body) > maxJWKS {
		return nil, errors.New("oauth: client JWKS too large")
	}
	return ParseClientJWKS(string(body))
}
