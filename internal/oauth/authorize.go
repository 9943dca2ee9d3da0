package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// maxAuthorizeQuery bounds the authorization request's query (and form) size.
const maxAuthorizeQuery = 8 << 10

// authorize serves /oauth2/auth (GET and POST).
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if len(r.URL.RawQuery) > maxAuthorizeQuery {
		p.errorPage(w, r, http.StatusRequestURITooLong, "err.request_too_large", "err.authorize_too_large")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxAuthorizeQuery)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, http.StatusBadRequest, "err.bad_request", "err.authorize_unreadable")
		return
	}
	repeated := repeatedParam(r.Form)
	if repeated == "client_id" || repeated == "redirect_uri" || repeated == "request_uri" {
		// Which one counts is anybody's guess, so nothing is redirected.
		p.errorPage(w, r, http.StatusBadRequest, "err.bad_request", "err.authorize_repeated")
		return
	}
	c, ok := p.checkClientAndRedirect(w, r)
	if !ok {
		return
	}
	pushed := isPushed(r.Form)
	if err := unsupportedRequestObject(r.Form); err != nil && !pushed {
		// A pushed request's URL carries nothing else that counts (below),
		// a request object neither.
		p.authorizeError(w, r, verifiedRedirect(r.Form, c), err)
		return
	}
	if pushed {
		// RFC 9126 §4: only the pushed parameters count; anything else on
		// the URL (a prompt, another redirect_uri) is ignored, not merged.
		r.Form = url.Values{"request_uri": {r.Form.Get("request_uri")}, "client_id": {r.Form.Get("client_id")}}
		ctx = context.WithValue(ctx, redeemingClientKey{}, r.Form.Get("client_id"))
	}
	ar, err := p.newAuthorizeRequest(ctx, r)
	if err == nil && repeated != "" {
		err = errRepeated(repeated)
	}
	if err == nil {
		err = checkPKCE(ar)
	}
	if err == nil {
		err = checkState(ar)
	}
	if err == nil {
		err = checkPromptAndMaxAge(ar.GetRequestForm())
	}
	if err == nil {
		err = p.checkIDTokenHintIssuer(ctx, ar)
	}
	if err == nil && !pushed && c.RequirePAR {
		err = fosite.ErrInvalidRequest.WithHint("This client must push its authorization requests (RFC 9126) first.")
	}
	if err != nil {
		if !pushed && (ar == nil || !ar.IsRedirectURIValid()) {
			// fosite stopped before it took the redirect_uri, which
			// checkClientAndRedirect has verified: the error goes there.
			ar = verifiedRedirect(r.Form, c)
		}
		p.authorizeError(w, r, ar, err)
		return
	}
	// The pushed request is parked as a whole: its request_uri is used up.
	form := url.Values{}
	for k, v := range ar.GetRequestForm() {
		if k != "request_uri" {
			form[k] = v
		}
	}
	p.login.Start(w, r, session.LoginRequest{AuthRequest: form, ClientID: ar.GetClient().GetID(), RequestedAt: ar.GetRequestedAt()})
}

// checkClientAndRedirect answers with an error page, never a redirect, when the
// client is unknown or the redirect_uri is missing or not registered for it
// (redirectRegistered), and otherwise returns the client.
func (p *Provider) checkClientAndRedirect(w http.ResponseWriter, r *http.Request) (*store.Client, bool) {
	clientID := r.Form.Get("client_id")
	c, err := p.store.GetClient(r.Context(), clientID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.log.ErrorContext(r.Context(), "authorize: load client", "err", err)
		p.errorPage(w, r, http.StatusServiceUnavailable, "err.unavailable", "err.try_later")
		return nil, false
	}
	if err != nil || c.Disabled || clientID == "" {
		p.errorPage(w, r, http.StatusBadRequest, "err.unknown_client", "err.unknown_client_text")
		return nil, false
	}
	if isPushed(r.Form) {
		// A pushed request: its redirect_uri was checked when it was pushed,
		// and comes from the store, not from this request.
		return c, true
	}
	if !redirectRegistered(c.RedirectURIs, r.Form.Get("redirect_uri")) {
		p.errorPage(w, r, http.StatusBadRequest, "err.bad_redirect", "err.bad_redirect_text")
		return nil, false
	}
	return c, true
}

// pushedPrefix starts every request_uri the PAR endpoint issues (RFC 9126 §2.2).
const pushedPrefix = "urn:ietf:params:oauth:request_uri:"

// isPushed reports whether form refers to a pushed authorization request.
// Any other request_uri is a request object by reference (OpenID Connect
// Core §6.2), which authz does not support.
func isPushed(form url.Values) bool {
	return strings.HasPrefix(form.Get("request_uri"), pushedPrefix)
}

// unsupportedRequestObject refuses request objects, by value or by reference
// (discovery says neither is supported), before fosite would try them.
func unsupportedRequestObject(form url.Values) error {
	switch {
	case form.Has("request"):
		return fosite.ErrRequestNotSupported.WithHint("Request objects are not supported.")
	case form.Get("request_uri") != "" && !isPushed(form):
		return fosite.ErrRequestURINotSupported.WithHint("Only request_uri values from the pushed authorization request endpoint are supported.")
	}
	return nil
}

// verifiedRedirect is the request to answer an error with when fosite gave
// none with a redirect URI: form's redirect_uri, which must already be
// verified for c, with form's state and response mode.
func verifiedRedirect(form url.Values, c *store.Client) fosite.AuthorizeRequester {
	u, err := url.Parse(form.Get("redirect_uri"))
	if err != nil {
		return nil
	}
	ar := fosite.NewAuthorizeRequest()
	ar.Client = Client{c}
	ar.RedirectURI = u
	ar.Form = form
	if s := form.Get("state"); s != noState {
		ar.State = s
	}
	switch m := fosite.ResponseModeType(form.Get("response_mode")); m {
	case fosite.ResponseModeQuery, fosite.ResponseModeFragment, fosite.ResponseModeFormPost:
		ar.ResponseMode = m
	}
	return ar
}

// repeatedParam returns the first (by name) parameter of form given more
// than once, or "": RFC 6749 §3.1 forbids it, and a server that takes the
// first value while a client or proxy checked the last is open to confusion.
func repeatedParam(form url.Values) string {
	var names []string
	for k, v := range form {
		if len(v) > 1 {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return slices.Min(names)
}

// errRepeated is the invalid_request for parameter name given twice.
func errRepeated(name string) error {
	if len(name) > 40 {
		name = name[:40]
	}
	return fosite.ErrInvalidRequest.WithHintf("The '%s' parameter is included more than once.", name)
}

// minStateLength is the shortest state accepted: shorter values are guessable
// and protect nothing against CSRF.
const minStateLength = 8

// checkState requires a state of at least minStateLength characters, unless
// the client protects the request with PKCE instead (OAuth 2.1 §7.6): an
// S256 code_challenge binds the code to the client's own session.
func checkState(ar fosite.AuthorizeRequester) error {
	state := ar.GetState()
	switch {
	case state == "" && ar.GetRequestForm().Get("code_challenge") != "":
		return nil
	case len(state) < minStateLength:
		// invalid_request: RFC 6749 §4.1.2.1 has no code of its own for it.
		return fosite.ErrInvalidRequest.WithHintf("The state parameter must be at least %d characters long, or PKCE (S256) used instead.", minStateLength)
	}
	return nil
}

// checkPromptAndMaxAge refuses, before anyone signs in, a prompt or max_age
// that no sign-in could satisfy (OIDC Core §3.1.2.1): an unknown prompt
// value, none beside another value, a max_age that is no whole number of
// seconds. fosite would find the prompt only after the login.
func checkPromptAndMaxAge(form url.Values) error {
	prompt := strings.Fields(form.Get("prompt"))
	for _, v := range prompt {
		switch {
		case !slices.Contains([]string{"none", "login", "consent", "select_account"}, v):
			return fosite.ErrInvalidRequest.WithHintf("The prompt value %q is unknown.", v)
		case v == "none" && len(prompt) > 1:
			return fosite.ErrInvalidRequest.WithHint("The prompt value none must stand alone.")
		}
	}
	if v := form.Get("max_age"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
			return fosite.ErrInvalidRequest.WithHint("The max_age parameter must be a whole number of seconds.")
		}
	}
	return nil
}

// checkPKCE refuses a bad PKCE request before the user logs in, rather than
// after, where fosite's handler would find it.
func checkPKCE(ar fosite.AuthorizeRequester) error {
	form := ar.GetRequestForm()
	challenge, method := form.Get("code_challenge"), form.Get("code_challenge_method")
	switch {
	case challenge == "" && ar.GetClient().IsPublic():
		return fosite.ErrInvalidRequest.WithHint("Public clients must use PKCE (code_challenge with method S256).")
	case challenge == "" && method == "":
		return nil
	case method != "S256":
		return fosite.ErrInvalidRequest.WithHint("Only the S256 code_challenge_method is supported.")
	case len(challenge) < 43 || len(challenge) > 128:
		return fosite.ErrInvalidRequest.WithHint("The code_challenge must be 43 to 128 characters.")
	}
	return nil
}

// ResumeAuthorization implements login.Resumer: it rebuilds the parked request
// from its saved form and answers it.
func (p *Provider) ResumeAuthorization(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, sess *store.Session, u *store.User) {
	ar, err := p.rebuild(r, lt)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	p.respond(w, r, ar, sess, u, lt.RequestedAt)
}

// DenyAuthorization implements login.Resumer: it answers the parked request
// with the OAuth error for reason.
func (p *Provider) DenyAuthorization(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, reason error) {
	ar, err := p.rebuild(r, lt)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	p.authorizeError(w, r, ar, denial(reason))
}

// denial is the OAuth error of a login that ended without a signed-in user.
func denial(reason error) error {
	var up *session.UpstreamFailure
	switch {
	case errors.As(reason, &up) && up.Denied:
		return fosite.ErrAccessDenied.WithHint(up.Reason)
	case errors.As(reason, &up):
		return fosite.ErrServerError.WithHint(up.Reason)
	case errors.Is(reason, session.ErrAccessDenied):
		return fosite.ErrAccessDenied.WithHint("The user denied the request.")
	case errors.Is(reason, session.ErrLoginRequired):
		return fosite.ErrLoginRequired
	case errors.Is(reason, session.ErrConsentRequired):
		return fosite.ErrConsentRequired
	case errors.Is(reason, store.ErrUnavailable), errors.Is(reason, context.DeadlineExceeded):
		return fosite.ErrTemporarilyUnavailable.WithWrap(reason)
	}
	return fosite.ErrServerError.WithWrap(reason)
}

func (p *Provider) rebuild(r *http.Request, lt *store.LoginTransaction) (fosite.AuthorizeRequester, error) {
	ctx := r.Context()
	req := r.Clone(ctx)
	req.Method = http.MethodGet
	req.URL = &url.URL{Path: "/oauth2/auth", RawQuery: lt.AuthRequest}
	req.Form, req.PostForm, req.Body = nil, nil, http.NoBody
	return p.newAuthorizeRequest(ctx, req)
}

// noState stands in for the state of a request that has none: fosite
// insists on a state, authz decides by its own rule (checkState: PKCE may
// stand in for it), so fosite sees this one and authz takes it back out. A
// client that sends it as its own state only loses it from its own response.
const noState = "authz:no-state"

// newAuthorizeRequest is fosite's NewAuthorizeRequest with checkState's rule
// for state instead of fosite's.
func (p *Provider) newAuthorizeRequest(ctx context.Context, r *http.Request) (fosite.AuthorizeRequester, error) {
	if err := r.ParseForm(); err != nil {
		return nil, fosite.ErrInvalidRequest.WithHint("The authorization request could not be read.")
	}
	if r.Form.Get("state") == "" {
		r.Form.Set("state", noState)
	}
	ar, err := p.fosite.NewAuthorizeRequest(ctx, r)
	if a, ok := ar.(*fosite.AuthorizeRequest); ok && a.State == noState {
		a.State = ""
	}
	return ar, err
}

// respond grants what was asked, builds the ID token session of u (the user of
// sess, read by the caller in this request) and redirects back with the code.
func (p *Provider) respond(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, sess *store.Session, u *store.User, requestedAt time.Time) {
	ctx := r.Context()
	if err := p.checkIDTokenHint(ctx, ar, u); err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	orderRequestID(ar)
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	grantAudience(ar)
	fs := NewSession(u.ID)
	fs.Claims.Issuer = p.cfg.Issuer
	fs.Claims.AuthTime = sess.AuthTime.UTC()
	fs.Claims.RequestedAt = requestedAt.UTC()
	fs.Claims.AuthenticationMethodsReferences = session.PublicAMR(sess.AMR)
	addProfileClaims(fs.Claims.Extra, u, ar.GetGrantedScopes())
	if sess.Provider != "" {
		fs.Claims.Extra["idp"] = sess.Provider
	}
	// The session's client is recorded with the code, before the code goes
	// out, so that the end of the session reaches every client that holds
	// tokens of it.
	var client *store.SessionClient
	if sess.ID != "" {
		sid := session.SID(sess.ID)
		fs.Claims.Extra["sid"] = sid
		client = &store.SessionClient{SessionID: sess.ID, ClientID: ar.GetClient().GetID(),
			UserID: u.ID, SID: sid, CreatedAt: p.now(), ExpiresAt: sess.ExpiresAt}
	}
	ctx, issued := withCodeIssue(ctx)
	resp, err := p.fosite.NewAuthorizeResponse(ctx, ar, fs)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	if err := p.store.CreateTokens(ctx, issued.tokens, client); err != nil {
		p.authorizeError(w, r, ar, fosite.ErrTemporarilyUnavailable.WithWrap(err))
		return
	}
	params := resp.GetParameters()
	if ar.GetState() == "" {
		// No state was sent (PKCE instead): none goes back, not an empty one.
		params.Del("state")
	}
	params.Set("iss", p.cfg.Issuer)
	p.answer(w, r, ar, params)
}

// checkIDTokenHint checks the request's id_token_hint, if any, against u,
// the user about to be answered for: it must be an ID token of this server
// (expired or not) about u. fosite would check it against the current
// signing key only, so that after a key rotation a relying party's silent
// renewal (prompt=none with the hint, as oidc-client-ts sends it) would
// fail; it is taken out of the request once checked here against every
// published key.
func (p *Provider) checkIDTokenHint(ctx context.Context, ar fosite.AuthorizeRequester, u *store.User) error {
	form := ar.GetRequestForm()
	hint := form.Get("id_token_hint")
	if hint == "" {
		return nil
	}
	sub, err := p.idTokenHintSubject(ctx, hint)
	switch {
	case err != nil:
		return err
	case sub != u.ID:
		return fosite.ErrLoginRequired.WithHint("The signed-in user is not the one the id_token_hint names.")
	}
	form.Del("id_token_hint")
	return nil
}

// checkIDTokenHintIssuer refuses, before anyone signs in, an id_token_hint
// that is no ID token of this server: no sign-in could answer it.
// checkIDTokenHint compares its subject with the user once there is one.
func (p *Provider) checkIDTokenHintIssuer(ctx context.Context, ar fosite.AuthorizeRequester) error {
	if hint := ar.GetRequestForm().Get("id_token_hint"); hint != "" {
		_, err := p.idTokenHintSubject(ctx, hint)
		return err
	}
	return nil
}

// idTokenHintSubject returns the subject of hint, an ID token of this server
// (expired or not), or the OAuth error for one that is not.
func (p *Provider) idTokenHintSubject(ctx context.Context, hint string) (string, error) {
	_, sub, err := p.verifyIDTokenHint(ctx, hint)
	switch {
	case storeDown(err):
		return "", fosite.ErrTemporarilyUnavailable.WithWrap(err)
	case err != nil:
		return "", fosite.ErrInvalidRequest.WithHint("The id_token_hint is not an ID token of this server.").WithWrap(err)
	}
	return sub, nil
}

// answer sends params to the verified redirect URI of ar in its response
// mode: in the query (the code flow's default), in the fragment, or posted
// by the browser (form_post). fosite's own writer is not used for form_post:
// its page submits by an inline script, which the CSP refuses.
func (p *Provider) answer(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, params url.Values) {
	target := *ar.GetRedirectURI()
	target.Fragment, target.RawFragment = "", ""
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	mode := ar.GetResponseMode()
	if rt := strings.Fields(ar.GetRequestForm().Get("response_type")); mode == fosite.ResponseModeDefault && len(rt) > 0 &&
		!slices.Equal(rt, []string{"code"}) && !slices.Equal(rt, []string{"none"}) {
		// fosite picks the default mode only once it accepted the
		// response type; an error before goes where that type's answers
		// go (OAuth 2.0 Multiple Response Types §5: the fragment).
		mode = fosite.ResponseModeFragment
	}
	switch mode {
	case fosite.ResponseModeFormPost:
		// Under the pages' no-referrer the browser would post with
		// "Origin: null", which an application that checks the origin of
		// cross-site posts cannot let in; the origin alone says nothing
		// of the request.
		w.Header().Set("Referrer-Policy", "origin")
		views.Render(w, r, http.StatusOK, views.FormPost(target.String(), params), p.log)
	case fosite.ResponseModeFragment:
		http.Redirect(w, r, target.String()+"#"+params.Encode(), http.StatusSeeOther)
	default:
		q := target.Query()
		for k, v := range params {
			q[k] = v
		}
		target.RawQuery = q.Encode()
		http.Redirect(w, r, target.String(), http.StatusSeeOther)
	}
}

// authorizeError redirects an OAuth error back to a verified redirect_uri, with
// iss (RFC 9207) and state, or shows an error page when there is none to trust.
func (p *Provider) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	p.logFailure(r, "authorize failed", err)
	if ar == nil || !ar.IsRedirectURIValid() {
		p.errorPage(w, r, http.StatusBadRequest, "err.authorize_failed",
			i18n.T(r.Context(), "err.authorize_failed_text", "Error", rfc.ErrorField, "Description", rfc.GetDescription()))
		return
	}
	params := url.Values{"error": {rfc.ErrorField}, "error_description": {descriptionChars(rfc.GetDescription())}, "iss": {p.cfg.Issuer}}
	if s := ar.GetState(); s != "" {
		params.Set("state", s)
	}
	p.answer(w, r, ar, params)
}

// descriptionChars makes d an error_description RFC 6749 §4.1.2.1 allows:
// printable ASCII without '"' and '\'. fosite's hints quote what they name.
func descriptionChars(d string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\' || r < 0x20 || r > 0x7e:
			return ' '
		}
		return r
	}, d)
}

// errorPage renders the error page from message IDs (or text already
// translated, which i18n.T keeps).
func (p *Provider) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	ctx := r.Context()
	views.Render(w, r, status, views.ErrorPage(i18n.T(ctx, title), i18n.T(ctx, msg), "", ""), p.log)
}

// addProfileClaims adds the standard claims the granted scopes allow.
func addProfileClaims(claims map[string]interface{}, u *store.User, granted fosite.Arguments) {
	if granted.Has("profile") {
		claims["preferred_username"] = u.Username
		if name := strings.TrimSpace(u.FirstName + " " + u.LastName); name != "" {
			claims["name"] = name
		}
		if u.FirstName != "" {
			claims["given_name"] = u.FirstName
		}
		if u.LastName != "" {
			claims["family_name"] = u.LastName
		}
		claims["updated_at"] = u.UpdatedAt.Unix()
	}
	if granted.Has("email") && u.Email != "" {
		claims["email"] = u.Email
		claims["email_verified"] = true
	}
}
