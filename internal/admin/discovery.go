package admin

import (
	"context"
	"strings"

	"github.com/authz/authz/internal/federation"
)

// DiscoveryResult is what testing an upstream provider's discovery found.
// Error is empty when the discovery document was fetched and matched the
// issuer URL; otherwise it says what went wrong, and the endpoints are empty.
type DiscoveryResult struct {
	IssuerURL             string   `json:"issuer_url"`
	OK                    bool     `json:"ok"`
	Error                 string   `json:"error,omitempty"`
	AuthorizationEndpoint string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint         string   `json:"token_endpoint,omitempty"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint,omitempty"`
	JWKSURI               string   `json:"jwks_uri,omitempty"`
	ScopesSupported       []string `json:"scopes_supported,omitempty"`
	SigningAlgorithms     []string `json:"id_token_signing_alg_values_supported,omitempty"`
}

// Discover fetches the discovery document of issuerURL the way sign-in will
// (federation.Discover, with its timeouts). A malformed URL is the caller's
// error; an upstream that fails is the result's.
func (s *Service) Discover(ctx context.Context, issuerURL string) (*DiscoveryResult, error) {
	issuerURL = strings.TrimSpace(issuerURL)
	if msg := checkIssuerURL(issuerURL); msg.ID != "" {
		return nil, NewError(KindInvalid, "issuer_url", msg)
	}
	res := &DiscoveryResult{IssuerURL: issuerURL}
	p, err := federation.Discover(ctx, issuerURL)
	if err != nil {
		res.Error = oneLine(err.Error())
		return res, nil
	}
	var doc struct {
		JWKSURI string   `json:"jwks_uri"`
		Scopes  []string `json:"scopes_supported"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&doc); err != nil {
		res.Error = oneLine(err.Error())
		return res, nil
	}
	ep := p.Endpoint()
	res.OK = true
	res.AuthorizationEndpoint, res.TokenEndpoint, res.UserinfoEndpoint = ep.AuthURL, ep.TokenURL, p.UserInfoEndpoint()
	res.JWKSURI, res.ScopesSupported, res.SigningAlgorithms = doc.JWKSURI, doc.Scopes, doc.Algs
	return res, nil
}

// DiscoverProvider tests the stored issuer URL of provider alias.
func (s *Service) DiscoverProvider(ctx context.Context, alias string) (*DiscoveryResult, error) {
	p, err := s.GetProvider(ctx, alias)
	if err != nil {
		return nil, err
	}
	return s.Discover(ctx, p.IssuerURL)
}

// oneLine folds a multi-line error into one line, short enough for a page.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 500 {
		s = string(r[:500]) + "…"
	}
	return s
}
