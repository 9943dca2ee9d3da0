// Package oauth is authz's OpenID provider: fosite composed over internal/store,
// the signing keys and JWKS, discovery, and the authorize, token, userinfo,
// revocation, introspection and logout endpoints.
package oauth

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
)

// Config is what the provider needs to know.
type Config struct {
	Issuer           string
	AccessTokenTTL   time.Duration
	RefreshTokenTTL  time.Duration
	AuthorizeCodeTTL time.Duration
	IDTokenTTL       time.Duration
	// HMACSecret signs opaque tokens; at least 32 bytes, shared by every replica.
	HMACSecret []byte
	// ClientSecretKey keys the hash of client secrets; at least 32 bytes.
	ClientSecretKey []byte
	// RefreshReuseGrace is how long after its rotation a refresh token still
	// buys new tokens of its grant instead of counting as reuse; 0 disables
	// it. See Storage.RotateRefreshToken.
	RefreshReuseGrace time.Duration
	// Now is the clock of the refresh reuse grace; nil means time.Now.
	// fosite keeps its own clock for token lifetimes.
	Now func() time.Time
}

// Provider serves the OpenID provider endpoints.
type Provider struct {
	cfg      Config
	fosite   fosite.OAuth2Provider
	store    store.Store
	keys     *KeySet
	hasher   SecretHasher
	sessions *session.Manager
	login    Login
	log      *slog.Logger
	// clientJWKS caches the key sets at clients' jwks_uri.
	clientJWKS *jwksCache
	// backchannel delivers back-channel logouts.
	backchannel *Backchannel
	// codeSignature is the key fosite stores an authorization code under.
	codeSignature func(ctx context.Context, code string) string
}

// Backchannel returns the provider's back-channel logout worker, which the
// server runs.
func (p *Provider) Backchannel() *Backchannel { return p.backchannel }

// Login is the login pipeline, to which the authorization endpoint hands
// every request it accepts; internal/login implements it.
type Login interface {
	// Start signs the browser's user in as req needs, then answers the
	// authorization request through the provider's ResumeAuthorization or
	// DenyAuthorization.
	Start(w http.ResponseWriter, r *http.Request, req session.LoginRequest)
}

// Supported scopes; others are refused by the client's scope list anyway.
var supportedScopes = []string{"openid", "profile", "email", "offline_access"}

// NewProvider composes fosite with the grants authz supports, and no others.
func NewProvider(cfg Config, st store.Store, keys *KeySet, sessions *session.Manager, login Login, log *slog.Logger) *Provider {
	hasher := SecretHasher{Key: cfg.ClientSecretKey}
	fc := &fosite.Config{
		AccessTokenLifespan:            cfg.AccessTokenTTL,
		RefreshTokenLifespan:           cfg.RefreshTokenTTL,
		AuthorizeCodeLifespan:          cfg.AuthorizeCodeTTL,
		IDTokenLifespan:                cfg.IDTokenTTL,
		IDTokenIssuer:                  cfg.Issuer,
		AccessTokenIssuer:              cfg.Issuer,
		TokenURL:                       cfg.Issuer + "/oauth2/token",
		GlobalSecret:                   cfg.HMACSecret,
		ClientSecretsHasher:            hasher,
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.DefaultAudienceMatchingStrategy,
		RefreshTokenScopes:             []string{"offline_access", "offline"},
		SendDebugMessagesToClients:     false,
		// OpenID Connect sets no least length for a nonce, and fosite would
		// refuse a short one only at the code exchange; checkState keeps
		// authz's own rule for state.
		MinParameterEntropy: 1,
		// RFC 9126 §2.2: a short lifetime; the request_uri is also single use.
		PushedAuthorizeRequestURIPrefix: parURIPrefix,
		PushedAuthorizeContextLifespan:  parLifetime,
	}
	storage := &Storage{Store: st, RefreshReuseGrace: cfg.RefreshReuseGrace, Now: cfg.Now}
	strategy := compose.CommonStrategy{
		CoreStrategy:               &accessTokenStrategy{CoreStrategy: compose.NewOAuth2HMACStrategy(fc), keys: keys, issuer: cfg.Issuer, ttl: cfg.AccessTokenTTL},
		OpenIDConnectTokenStrategy: clientAlgIDTokens{compose.NewOpenIDConnectStrategy(keys.signingJWK, fc)},
		Signer:                     &jwt.DefaultSigner{GetPrivateKey: keys.signingJWK},
	}
	f := compose.Compose(fc, storage, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2PKCEFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.PushedAuthorizeHandlerFactory,
	)
	fc.TokenEndpointHandlers = filterGrants(fc.TokenEndpointHandlers)
	p := &Provider{cfg: cfg, fosite: f, store: st, keys: keys, hasher: hasher, sessions: sessions, login: login, log: log,
		codeSignature: strategy.CoreStrategy.AuthorizeCodeSignature}
	p.clientJWKS = newJWKSCache(p.now)
	p.backchannel = &Backchannel{Store: st, Keys: keys, Issuer: cfg.Issuer, Log: log, Now: cfg.Now}
	fc.ClientAuthenticationStrategy = p.authenticateClient(f.(*fosite.Fosite))
	return p
}

// clientAlgIDTokens signs each ID token with its client's algorithm
// (id_token_signed_response_alg), the default's when it names none.
type clientAlgIDTokens struct {
	openid.OpenIDConnectTokenStrategy
}

// GenerateIDToken implements openid.OpenIDConnectTokenStrategy.
func (s clientAlgIDTokens) GenerateIDToken(ctx context.Context, lifespan time.Duration, req fosite.Requester) (string, error) {
	if c, ok := req.GetClient().(Client); ok {
		ctx = withSigningAlg(ctx, c.IDTokenAlg)
	}
	return s.OpenIDConnectTokenStrategy.GenerateIDToken(ctx, lifespan, req)
}

// authenticateClient is fosite's client authentication with private_key_jwt
// added: an assertion is checked here, anything else by fosite (secrets,
// public clients), which must not let a private_key_jwt client in. A request
// that names no client at all is invalid_client, as RFC 6749 §5.2 lists "no
// client authentication included" under it (fosite says invalid_request),
// so revocation answers it as introspection does.
func (p *Provider) authenticateClient(f *fosite.Fosite) fosite.ClientAuthenticationStrategy {
	return func(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
		if _, _, basic := r.BasicAuth(); !basic && form.Get("client_id") == "" && form.Get("client_assertion") == "" && form.Get("client_assertion_type") == "" {
			return nil, errUnauthenticated
		}
		if form.Get("client_assertion") != "" || form.Get("client_assertion_type") != "" {
			c, err := p.authenticateAssertion(ctx, form, p.cfg.Issuer+r.URL.Path)
			if err != nil {
				return nil, err
			}
			return Client{c}, nil
		}
		c, err := f.DefaultClientAuthenticationStrategy(ctx, r, form)
		if err != nil {
			return nil, err
		}
		if cl, ok := c.(Client); ok && cl.TokenAuthMethod == store.AuthPrivateKeyJWT {
			return nil, errUnauthenticated
		}
		return c, nil
	}
}

// Hasher returns the client secret hasher, for creating clients.
func (p *Provider) Hasher() SecretHasher { return p.hasher }

// NewSession returns an empty fosite session for subject.
func NewSession(subject string) *openid.DefaultSession {
	return &openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{Subject: subject, Extra: map[string]interface{}{}},
		Headers: &jwt.Headers{Extra: map[string]interface{}{}},
		Subject: subject,
	}
}
