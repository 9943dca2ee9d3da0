package oauth

import (
	"context"
	"slices"

	"github.com/authz/authz/internal/store"
)

// A code exchange has fosite read three records kept under one code: the
// code (twice), its PKCE request and its OpenID Connect session. The token
// endpoint names them in the request's context (withCodeGrant), and the
// first of fosite's reads fetches all three in one store call
// (store.Store.GetTokens: one round trip on PostgreSQL instead of four).
// What a read returns is what the store held at that first read; single use
// still rests on the conditional update of InvalidateAuthorizeCodeSession,
// as it did when the reads were apart.

// The authorization response's three writes under a new code (the code,
// its PKCE request, its OpenID Connect session) are kept likewise
// (withCodeIssue) and stored together once fosite has built the response
// with the session's client (store.Store.CreateTokens): one round trip, and
// no code without its records.

type codeGrantKey struct{}

type codeIssueKey struct{}

// codeIssue collects the records an authorization response stores under its
// new code.
type codeIssue struct{ tokens []*store.OAuthToken }

// withCodeIssue returns ctx collecting the records the authorization
// response stores under its new code, and what collects them.
func withCodeIssue(ctx context.Context) (context.Context, *codeIssue) {
	ci := &codeIssue{}
	return context.WithValue(ctx, codeIssueKey{}, ci), ci
}

// collectIssued keeps t for the response's one write, and reports whether
// it did: only a code's records in a context from withCodeIssue.
func collectIssued(ctx context.Context, t *store.OAuthToken) bool {
	ci, _ := ctx.Value(codeIssueKey{}).(*codeIssue)
	if ci == nil || (t.Kind != store.TokenCode && t.Kind != store.TokenPKCE && t.Kind != store.TokenOIDC) {
		return false
	}
	ci.tokens = append(ci.tokens, t)
	return true
}

// codeGrant holds the records of one code exchange. A request is served on
// one goroutine, and fosite calls the storage on it, so it needs no lock.
type codeGrant struct {
	keys   []store.TokenKey                     // still answered from tokens; a write takes its key out
	tokens map[store.TokenKey]*store.OAuthToken // nil until the first read
}

// withCodeGrant returns ctx naming the records of the code whose signature
// is sig and whose OpenID Connect session is kept under oidcKey.
func withCodeGrant(ctx context.Context, sig, oidcKey string) context.Context {
	return context.WithValue(ctx, codeGrantKey{}, &codeGrant{keys: []store.TokenKey{
		{Kind: store.TokenCode, Signature: sig},
		{Kind: store.TokenPKCE, Signature: sig},
		{Kind: store.TokenOIDC, Signature: oidcKey},
	}})
}

// codeGrantToken returns the token under key as the exchange's first read
// found it, and true; or false when ctx names no such record, or one since
// written. A token the store does not hold is store.ErrNotFound.
func codeGrantToken(ctx context.Context, st store.Store, key store.TokenKey) (*store.OAuthToken, bool, error) {
	g, _ := ctx.Value(codeGrantKey{}).(*codeGrant)
	if g == nil || !slices.Contains(g.keys, key) {
		return nil, false, nil
	}
	if g.tokens == nil {
		tokens, err := st.GetTokens(ctx, g.keys)
		if err != nil {
			return nil, true, err
		}
		g.tokens = make(map[store.TokenKey]*store.OAuthToken, len(g.keys))
		for i, k := range g.keys {
			g.tokens[k] = tokens[i]
		}
	}
	if t := g.tokens[key]; t != nil {
		return t, true, nil
	}
	return nil, true, store.ErrNotFound
}

// forgetCodeGrantToken takes key out of what the exchange answers from its
// first read: the record is being written, so later reads go to the store.
func forgetCodeGrantToken(ctx context.Context, key store.TokenKey) {
	if g, _ := ctx.Value(codeGrantKey{}).(*codeGrant); g != nil {
		g.keys = slices.DeleteFunc(g.keys, func(k store.TokenKey) bool { return k == key })
	}
}
