package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/authz/authz/internal/httpjson"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/store"
)

// maxTokenBody bounds the bodies of the token, revocation and introspection
// endpoints; real requests are far smaller.
const maxTokenBody = 16 << 10

// Register adds the provider's routes to mux.
func (p *Provider) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /.well-known/openid-configuration", crossOrigin(p.discovery))
	// RFC 8414 §3: the same metadata where OAuth-only clients look for it.
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", crossOrigin(p.discovery))
	mux.HandleFunc("GET /.well-known/jwks.json", crossOrigin(p.jwks))
	mux.HandleFunc("GET /oauth2/auth", p.authorize)
	mux.HandleFunc("POST /oauth2/auth", p.authorize)
	mux.HandleFunc("POST /oauth2/token", crossOrigin(p.clientAuthenticated(p.token)))
	mux.HandleFunc("POST /oauth2/par", crossOrigin(p.clientAuthenticated(p.pushedAuthorize)))
	mux.HandleFunc("GET /userinfo", crossOrigin(p.userinfo))
	mux.HandleFunc("POST /userinfo", crossOrigin(p.limitBody(p.userinfo)))
	mux.HandleFunc("POST /oauth2/revoke", crossOrigin(p.clientAuthenticated(p.revoke)))
	mux.HandleFunc("POST /oauth2/introspect", p.clientAuthenticated(p.introspect))
	mux.HandleFunc("GET /oauth2/logout", p.logout)
	mux.HandleFunc("POST /oauth2/logout", p.logout)
	for _, path := range CrossOriginPaths {
		mux.HandleFunc("OPTIONS "+path, preflight)
	}
}

// CrossOriginPaths are the endpoints applications in browsers may call
// from another origin (crossOrigin).
var CrossOriginPaths = []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server",
	"/.well-known/jwks.json", "/oauth2/token", "/oauth2/par", "/userinfo", "/oauth2/revoke"}

func (p *Provider) limitBody(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxTokenBody)
		h(w, r)
	}
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	iss := p.cfg.Issuer
	algs, err := p.keys.Algorithms(r.Context())
	if err != nil {
		p.log.ErrorContext(r.Context(), "discovery: keys", "err", err)
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{
		"issuer":                                                   iss,
		"authorization_endpoint":                                   iss + "/oauth2/auth",
		"token_endpoint":                                           iss + "/oauth2/token",
		"userinfo_endpoint":                                        iss + "/userinfo",
		"jwks_uri":                                                 iss + "/.well-known/jwks.json",
		"revocation_endpoint":                                      iss + "/oauth2/revoke",
		"introspection_endpoint":                                   iss + "/oauth2/introspect",
		"end_session_endpoint":                                     iss + "/oauth2/logout",
		"pushed_authorization_request_endpoint":                    iss + "/oauth2/par",
		"backchannel_logout_supported":                             true,
		"backchannel_logout_session_supported":                     true,
		"require_pushed_authorization_requests":                    false,
		"response_types_supported":                                 []string{"code"},
		"response_modes_supported":                                 []string{"query", "fragment", "form_post"},
		"grant_types_supported":                                    []string{"authorization_code", "refresh_token", "client_credentials"},
		"subject_types_supported":                                  []string{"public"},
		"id_token_signing_alg_values_supported":                    algs,
		"scopes_supported":                                         supportedScopes,
		"token_endpoint_auth_methods_supported":                    []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"revocation_endpoint_auth_methods_supported":               []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"introspection_endpoint_auth_methods_supported":            []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported":         AssertionAlgorithms(),
		"revocation_endpoint_auth_signing_alg_values_supported":    AssertionAlgorithms(),
		"introspection_endpoint_auth_signing_alg_values_supported": AssertionAlgorithms(),
		"code_challenge_methods_supported":                         []string{"S256"},
		"claims_supported":                                         []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "at_hash", "sid", "preferred_username", "name", "given_name", "family_name", "updated_at", "email", "email_verified"},
		"prompt_values_supported":                                  []string{"none", "login", "consent"},
		"ui_locales_supported":                                     i18n.Supported(),
		"authorization_response_iss_parameter_supported":           true,
		"claims_parameter_supported":                               false,
		"request_parameter_supported":                              false,
		"request_uri_parameter_supported":                          false,
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	set, err := p.keys.JWKS(r.Context())
	if err != nil {
		p.log.ErrorContext(r.Context(), "jwks", "err", err)
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	_ = json.NewEncoder(w).Encode(set)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		p.accessError(w, r, nil, fosite.ErrInvalidRequest.WithHint("The request body could not be read."))
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "" && !slices.Contains(allowedGrantTypes, g) {
		p.accessError(w, r, nil, fosite.ErrUnsupportedGrantType)
		return
	}
	if code := r.PostForm.Get("code"); code != "" && r.PostForm.Get("grant_type") == "authorization_code" {
		ctx = withCodeGrant(ctx, p.codeSignature(ctx, code), hashCode(code))
	}
	ar, err := p.fosite.NewAccessRequest(ctx, r, NewSession(""))
	if err != nil {
		p.accessError(w, r, ar, grantNotAllowed(ar, err))
		return
	}
	// A code or refresh token of a user disabled or deleted since it was
	// issued buys nothing; client credentials have no user.
	if g := ar.GetGrantTypes(); g.ExactOne("refresh_token") || g.ExactOne("authorization_code") {
		if err := p.subjectEnabled(ctx, ar.GetSession().GetSubject()); err != nil {
			p.accessError(w, r, ar, err)
			return
		}
	}
	if ar.GetGrantTypes().ExactOne("refresh_token") {
		if err := withinGrant(r.PostForm.Get("scope"), ar.GetGrantedScopes()); err != nil {
			p.accessError(w, r, ar, err)
			return
		}
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		orderRequestID(ar)
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		grantAudience(ar)
		if s, ok := ar.GetSession().(*openid.DefaultSession); ok {
			s.Subject = ar.GetClient().GetID()
		}
	}
	resp, err := p.fosite.NewAccessResponse(ctx, ar)
	if err != nil {
		p.accessError(w, r, ar, err)
		return
	}
	writeAccessResponse(w, resp)
}

// grantNotAllowed is err, unless the request's client, authenticated, may
// not use the grant at all: then unauthorized_client (RFC 6749 §5.2), which
// fosite checks only after the scopes and, for a public client asking for
// client credentials, answers invalid_grant.
func grantNotAllowed(ar fosite.AccessRequester, err error) error {
	// fosite's request holds an empty client until one authenticates.
	if ar == nil || ar.GetClient() == nil || ar.GetClient().GetID() == "" {
		return err
	}
	for _, g := range ar.GetGrantTypes() {
		if !ar.GetClient().GetGrantTypes().Has(g) || g == "client_credentials" && ar.GetClient().IsPublic() {
			return fosite.ErrUnauthorizedClient.WithHintf("The client may not use the grant type %s.", g)
		}
	}
	return err
}

// withinGrant refuses a refresh that asks for a scope the grant does not
// hold (RFC 6749 §6: invalid_scope), which fosite would ignore. A narrower
// scope is answered with the grant's whole scope, as §3.3 allows, named in
// the answer's scope member: the refresh token keeps the grant's scope (§6),
// and fosite issues both tokens with one.
func withinGrant(requested string, granted fosite.Arguments) error {
	for _, s := range strings.Fields(requested) {
		if !granted.Has(s) {
			return fosite.ErrInvalidScope.WithHintf("The scope %s was not granted to this refresh token.", s)
		}
	}
	return nil
}

// grantAudience grants the client's audience: itself and its resource servers.
func grantAudience(ar fosite.Requester) {
	for _, a := range ar.GetClient().GetAudience() {
		ar.GrantAudience(a)
	}
}

// accessError writes an RFC 6749 token error; storage conflicts from concurrent
// use of one code or refresh token become invalid_grant, not a server error.
func (p *Provider) accessError(w http.ResponseWriter, r *http.Request, ar fosite.AccessRequester, err error) {
	if storeDown(err) {
		p.unavailable(w, r, err)
		return
	}
	if errors.Is(err, fosite.ErrSerializationFailure) || errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		err = fosite.ErrInvalidGrant.WithHint("The grant was already used.")
	}
	p.logFailure(r, "token endpoint failed", err)
	p.fosite.WriteAccessError(r.Context(), w, ar, err)
}

// logFailure logs err when fosite turns it into a server error. A client that
// hung up is no failure of ours: fosite's storage calls then fail with the
// request's context.Canceled, which is only worth a debug line.
func (p *Provider) logFailure(r *http.Request, msg string, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	switch {
	case rfc.CodeField < 500:
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		p.log.DebugContext(r.Context(), msg+": client gone", "err", err)
	default:
		p.log.ErrorContext(r.Context(), msg, "err", err, "debug", rfc.DebugField)
	}
}

// storeDown reports whether err comes from a store that cannot serve now:
// unreachable, or a transaction lost to a concurrent one (fosite runs its
// own transactions, which nothing runs again). The client did nothing wrong,
// so it must not hear invalid_client, invalid_grant or a bare 500.
func storeDown(err error) bool {
	return errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrRetry) ||
		errors.Is(err, context.DeadlineExceeded)
}

// unavailable answers 503 temporarily_unavailable with Retry-After.
func (p *Provider) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	p.log.WarnContext(r.Context(), "store unavailable", "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", "5")
	httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable", "error_description": "The server cannot reach its database. Try again shortly."})
}

func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	err := p.fosite.NewRevocationRequest(r.Context(), r)
	if err == nil && r.PostForm.Get("token") == "" {
		// fosite answers 200, as for a token it does not know; RFC 7009
		// §2.1 requires the parameter (checked after the client, which
		// hears invalid_client first).
		err = fosite.ErrInvalidRequest.WithHint("The token parameter is missing.")
	}
	if storeDown(err) {
		p.unavailable(w, r, err)
		return
	}
	if errors.Is(err, fosite.ErrUnauthorizedClient) {
		// RFC 7009 §2.1: a token issued to another client is refused, and
		// the client told so (as Keycloak does); fosite would answer 200.
		p.writeClientError(w, r, fosite.ErrUnauthorizedClient.WithHint("The token was not issued to this client."))
		return
	}
	p.fosite.WriteRevocationResponse(r.Context(), w, err)
}

// introspect serves RFC 7662 introspection to confidential clients,
// authenticated with either method discovery advertises. A token is reported
// active only to the client it was issued to, or to a client it names as
// audience: any other caller learns nothing about other clients' users.
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// fosite would also let any access token introspect other tokens; only
	// confidential clients may (RFC 7662 §4).
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "bearer ") {
		p.writeClientError(w, r, errUnauthenticated.WithHint("Authenticate as a confidential client (client_secret_basic, client_secret_post or private_key_jwt)."))
		return
	}
	caller, err := p.authenticateConfidential(ctx, r)
	if err != nil {
		p.writeClientError(w, r, err)
		return
	}
	if r.PostForm.Get("token") == "" {
		p.writeClientError(w, r, fosite.ErrInvalidRequest.WithHint("The token parameter is missing."))
		return
	}
	// The stored session replaces the one given, so an empty one will do.
	use, ar, err := p.fosite.IntrospectToken(ctx, r.PostForm.Get("token"), fosite.TokenUse(r.PostForm.Get("token_type_hint")), &openid.DefaultSession{})
	if storeDown(err) {
		p.unavailable(w, r, err)
		return
	}
	if err == nil && !mayIntrospect(caller, use, ar) {
		err = fosite.ErrInactiveToken
	}
	// A token stays active as long as its user may still sign in, as in
	// Keycloak: disabling a user must stop the resource servers too.
	if err == nil {
		err = p.userBehind(ctx, ar)
		if storeDown(err) {
			p.unavailable(w, r, err)
			return
		}
	}
	if err != nil {
		ar = nil
	}
	writeIntrospection(w, use, ar)
}

// mayIntrospect reports whether caller may learn about the token (of type
// use) of ar: it was issued to caller, names caller as an audience, or caller
// is a resource server allowed to introspect every token. A refresh token is
// reported to its own client only: it is no credential at a resource server,
// and an answer of active there would let one pass as an access token.
func mayIntrospect(caller *store.Client, use fosite.TokenUse, ar fosite.Requester) bool {
	if ar.GetClient().GetID() == caller.ID {
		return true
	}
	return use == fosite.AccessToken && (caller.IntrospectAny || slices.Contains(ar.GetGrantedAudience(), caller.ID))
}

// userBehind is subjectEnabled for the user a token was issued to; a token
// issued to a client for itself (client_credentials) has none.
func (p *Provider) userBehind(ctx context.Context, ar fosite.Requester) error {
	sub := ar.GetSession().GetSubject()
	if sub == "" || sub == ar.GetClient().GetID() && ar.GetRequestForm().Get("grant_type") == "client_credentials" {
		return nil
	}
	return p.subjectEnabled(ctx, sub)
}

// userinfo returns the claims of the access token's user that its scopes allow.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token, malformed := bearerToken(r)
	if malformed != "" {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_request"`)
		httpjson.Write(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": malformed})
		return
	}
	if token == "" {
		// RFC 6750 §3.1: a request without credentials gets a challenge
		// without an error code.
		w.Header().Set("WWW-Authenticate", "Bearer")
		httpjson.Write(w, http.StatusUnauthorized, map[string]string{"error_description": "A bearer token is required."})
		return
	}
	// The token use is only a hint to fosite, which tries a refresh token
	// next: the answer's use is what keeps refresh tokens out.
	use, ar, err := p.fosite.IntrospectToken(ctx, token, fosite.AccessToken, NewSession(""))
	if storeDown(err) {
		p.unavailable(w, r, err)
		return
	}
	if err != nil || use != fosite.AccessToken {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		httpjson.Write(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The access token is not active."})
		return
	}
	if !ar.GetGrantedScopes().Has("openid") {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="openid"`)
		httpjson.Write(w, http.StatusForbidden, map[string]string{"error": "insufficient_scope", "error_description": "The token was not granted the openid scope."})
		return
	}
	u, err := p.store.GetUser(ctx, ar.GetSession().GetSubject())
	if errors.Is(err, store.ErrNotFound) || err == nil && !u.Enabled {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		httpjson.Write(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The token's user is disabled or no longer exists."})
		return
	}
	if err != nil {
		p.log.ErrorContext(ctx, "userinfo: load user", "err", err)
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return
	}
	claims := map[string]any{"sub": u.ID}
	addProfileClaims(claims, u, ar.GetGrantedScopes())
	httpjson.Write(w, http.StatusOK, claims)
}

// bearerToken returns the access token of r (RFC 6750 §2): in the
// Authorization header, or as access_token in a form body or the query; ""
// when there is none. A token sent more than one way or more than once, or
// an empty one, is a malformed request (§2, §3.1), which malformed describes:
// which copy counts must never be a choice left to the sender.
func bearerToken(r *http.Request) (token, malformed string) {
	if err := r.ParseForm(); err != nil {
		return "", "The request body could not be read."
	}
	sent := r.Form["access_token"]
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, _ := strings.Cut(h, " "); strings.EqualFold(scheme, "Bearer") {
			sent = append(sent, strings.TrimSpace(tok))
		}
	}
	switch {
	case len(sent) == 0:
		return "", ""
	case len(sent) > 1:
		return "", "The access token must be sent one way, once."
	case sent[0] == "":
		return "", "The access token is empty."
	}
	return sent[0], ""
}

// validPostLogoutURI reports whether uri is registered for the client exactly.
func validPostLogoutURI(c *store.Client, uri string) bool {
	return uri != "" && slices.Contains(c.PostLogoutRedirectURIs, uri)
}

// subjectEnabled returns nil when the user behind a grant may still use it,
// invalid_grant when the user is disabled or deleted, and the store's error
// when it cannot tell (an outage is no reason to refuse the grant for good).
func (p *Provider) subjectEnabled(ctx context.Context, userID string) error {
	u, err := p.store.GetUser(ctx, userID)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !u.Enabled:
		return fosite.ErrInvalidGrant.WithHint("The user of this grant is disabled or deleted.")
	case err != nil:
		return fosite.ErrServerError.WithWrap(err)
	}
	return nil
}
