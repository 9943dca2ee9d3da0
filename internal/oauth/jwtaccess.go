package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"

	"github.com/authz/authz/internal/randtoken"
	"github.com/authz/authz/internal/store"
)

// JWT access tokens (RFC 9068), per client. The token is signed with the
// current ID token key and, like an opaque token, stored under its
// signature: revocation, refresh rotation and introspection treat both
// formats alike, and a revoked JWT is inactive although its signature still
// verifies. Resource servers that only verify the JWT against the JWKS accept
// it until it expires, which is why access tokens are short-lived.

// typAccessToken is the JWT typ of access tokens (RFC 9068 §2.1).
const typAccessToken = "at+jwt"

// accessTokenStrategy issues opaque (HMAC) access tokens, or JWTs for
// clients whose AccessTokenFormat asks for them; every other token is the
// HMAC strategy's.
type accessTokenStrategy struct {
	oauth2.CoreStrategy // the HMAC strategy
	keys                *KeySet
	issuer              string
	ttl                 time.Duration
}

// accessClaims are the claims of an RFC 9068 access token.
type accessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	ID       string   `json:"jti"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	AuthTime int64    `json:"auth_time,omitempty"`
	AMR      []string `json:"amr,omitempty"`
}

// isJWT tells a JWT (three dot-separated parts) from an HMAC token
// (ory_at_key.signature).
func isJWT(token string) bool { return strings.Count(token, ".") == 2 }

// AccessTokenSignature implements oauth2.AccessTokenStrategy: a JWT's
// signature part, or the HMAC token's.
func (s *accessTokenStrategy) AccessTokenSignature(ctx context.Context, token string) string {
	if isJWT(token) {
		return token[strings.LastIndexByte(token, '.')+1:]
	}
	return s.CoreStrategy.AccessTokenSignature(ctx, token)
}

// GenerateAccessToken implements oauth2.AccessTokenStrategy.
func (s *accessTokenStrategy) GenerateAccessToken(ctx context.Context, req fosite.Requester) (string, string, error) {
	c, ok := req.GetClient().(Client)
	if !ok || c.AccessTokenFormat != store.AccessTokenJWT {
		return s.CoreStrategy.GenerateAccessToken(ctx, req)
	}
	claims, err := json.Marshal(s.claims(req, c))
	if err != nil {
		return "", "", fmt.Errorf("oauth: encode access token: %w", err)
	}
	token, err := s.keys.sign(ctx, claims, typAccessToken)
	if err != nil {
		return "", "", fosite.ErrServerError.WithWrap(err)
	}
	return token, s.AccessTokenSignature(ctx, token), nil
}

// claims builds the RFC 9068 claims of the access token of req.
func (s *accessTokenStrategy) claims(req fosite.Requester, c Client) *accessClaims {
	now := time.Now().UTC()
	exp := req.GetSession().GetExpiresAt(fosite.AccessToken)
	if exp.IsZero() {
		exp = now.Add(s.ttl)
	}
	ac := &accessClaims{
		Issuer:   s.issuer,
		Subject:  req.GetSession().GetSubject(),
		Audience: jwtAudience(c.Client, s.issuer),
		ClientID: c.ID,
		Scope:    strings.Join(req.GetGrantedScopes(), " "),
		ID:       randtoken.New(16),
		Expiry:   exp.Unix(),
		IssuedAt: now.Unix(),
	}
	if os, ok := req.GetSession().(*openid.DefaultSession); ok && os.Claims != nil && !os.Claims.AuthTime.IsZero() {
		ac.AuthTime = os.Claims.AuthTime.Unix()
		ac.AMR = os.Claims.AuthenticationMethodsReferences
	}
	return ac
}

// jwtAudience is the aud of c's JWT access tokens: its configured resource
// servers, or else authz's own userinfo endpoint, the one resource server
// every such token is good for. Never the client itself: a token whose aud
// is the client would pass that client's ID token check (RFC 9068 §5).
func jwtAudience(c *store.Client, issuer string) []string {
	if len(c.Audiences) > 0 {
		return slices.Clone(c.Audiences)
	}
	return []string{userinfoAudience(issuer)}
}

// userinfoAudience names authz's userinfo endpoint as a token audience.
func userinfoAudience(issuer string) string { return strings.TrimSuffix(issuer, "/") + "/userinfo" }

// ValidateAccessToken implements oauth2.AccessTokenStrategy. fosite calls it
// with the grant stored under the token's signature; a JWT must also be
// signed by a published key, by this issuer, unexpired, and say what the
// stored grant says.
func (s *accessTokenStrategy) ValidateAccessToken(ctx context.Context, req fosite.Requester, token string) error {
	if !isJWT(token) {
		return s.CoreStrategy.ValidateAccessToken(ctx, req, token)
	}
	payload, err := s.keys.verify(ctx, token, typAccessToken)
	if err != nil {
		return fosite.ErrTokenSignatureMismatch.WithWrap(err)
	}
	var ac accessClaims
	if err := json.Unmarshal(payload, &ac); err != nil {
		return fosite.ErrInvalidTokenFormat.WithWrap(err)
	}
	return s.checkClaims(&ac, req)
}

var errClaimMismatch = errors.New("oauth: access token claims differ from its grant")

func (s *accessTokenStrategy) checkClaims(ac *accessClaims, req fosite.Requester) error {
	switch {
	case ac.Issuer != s.issuer:
		return fosite.ErrTokenClaim.WithHint("The access token is from another issuer.")
	case time.Unix(ac.Expiry, 0).Before(time.Now()):
		return fosite.ErrTokenExpired.WithHint("The access token expired.")
	case ac.ClientID != req.GetClient().GetID() || ac.Subject != req.GetSession().GetSubject():
		return fosite.ErrTokenClaim.WithWrap(errClaimMismatch)
	}
	// The grant's audience is its resource servers as they were when it was
	// issued, or the userinfo endpoint (tokens issued before that default
	// named the client).
	for _, aud := range ac.Audience {
		if aud != ac.ClientID && aud != userinfoAudience(s.issuer) && !slices.Contains(req.GetGrantedAudience(), aud) {
			return fosite.ErrTokenClaim.WithHint("The access token is for another audience.")
		}
	}
	return nil
}
